//! Name mapping: GraphQL names to snake_case SQL names, and the deterministic naming
//! convention for constraints and indexes (always within PostgreSQL's 63-byte limit).

use sha2::{Digest, Sha256};

/// PostgreSQL truncates identifiers longer than this many bytes.
pub const MAX_IDENT_BYTES: usize = 63;

/// `OrderItem` → `order_item`, `createdAt` → `created_at`, `HTTPServer` → `http_server`,
/// `already_snake` stays, `userID` → `user_id`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = if i > 0 { Some(chars[i - 1]) } else { None };
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None => false,
                Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_ascii_digit() => true,
                Some(p) if p.is_uppercase() => next.is_some_and(|n| n.is_lowercase()),
                _ => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Builds a constraint or index name from parts and a suffix, e.g.
/// `derived_name("order_item", &["order_id", "product_id"], "key")` →
/// `order_item_order_id_product_id_key`. Names longer than 63 bytes are cut and given an
/// 8-hex-digit hash of the full name, so two long names never collide after truncation.
pub fn derived_name(table: &str, parts: &[&str], suffix: &str) -> String {
    let mut full = String::from(table);
    for p in parts {
        full.push('_');
        full.push_str(p);
    }
    full.push('_');
    full.push_str(suffix);
    fit(&full)
}

/// Shortens a name to at most 63 bytes, keeping it unique with a short hash of the whole.
pub fn fit(full: &str) -> String {
    if full.len() <= MAX_IDENT_BYTES {
        return full.to_string();
    }
    let digest = Sha256::digest(full.as_bytes());
    let tag = hex::encode(&digest[..4]);
    let keep = MAX_IDENT_BYTES - tag.len() - 1;
    let mut cut = keep;
    while !full.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}_{}", &full[..cut], tag)
}

/// The name PostgreSQL derives from two names and a label (`makeObjectName`), as it
/// names the sequence of a `serial` column (`<table>_<column>_seq`): the longer of the
/// two names is shortened, a byte at a time, until the whole fits in 63 bytes, and cut
/// at a character boundary. (PostgreSQL appends a number when the name is taken.)
pub fn pg_object_name(name1: &str, name2: &str, label: &str) -> String {
    let overhead = 1 + label.len() + 1;
    let avail = MAX_IDENT_BYTES.saturating_sub(overhead);
    let (mut n1, mut n2) = (name1.len(), name2.len());
    while n1 + n2 > avail {
        if n1 > n2 {
            n1 -= 1;
        } else {
            n2 -= 1;
        }
    }
    let clip = |s: &str, mut n: usize| {
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        s[..n].to_string()
    };
    format!("{}_{}_{label}", clip(name1, n1), clip(name2, n2))
}

/// An 8-hex-digit tag of some text, for naming anonymous constraints by their content.
pub fn short_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    hex::encode(&digest[..4])
}

/// PostgreSQL's reserved key words (those that cannot be a table or column name unquoted).
const RESERVED: &[&str] = &[
    "all",
    "analyse",
    "analyze",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "asymmetric",
    "authorization",
    "binary",
    "both",
    "case",
    "cast",
    "check",
    "collate",
    "collation",
    "column",
    "concurrently",
    "constraint",
    "create",
    "cross",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "deferrable",
    "desc",
    "distinct",
    "do",
    "else",
    "end",
    "except",
    "false",
    "fetch",
    "for",
    "foreign",
    "freeze",
    "from",
    "full",
    "grant",
    "group",
    "having",
    "ilike",
    "in",
    "initially",
    "inner",
    "intersect",
    "into",
    "is",
    "isnull",
    "join",
    "lateral",
    "leading",
    "left",
    "like",
    "limit",
    "localtime",
    "localtimestamp",
    "natural",
    "not",
    "notnull",
    "null",
    "offset",
    "on",
    "only",
    "or",
    "order",
    "outer",
    "overlaps",
    "placing",
    "primary",
    "references",
    "returning",
    "right",
    "select",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "system_user",
    "table",
    "tablesample",
    "then",
    "to",
    "trailing",
    "true",
    "union",
    "unique",
    "user",
    "using",
    "variadic",
    "verbose",
    "when",
    "where",
    "window",
    "with",
];

/// True for PostgreSQL reserved words such as `user`, `order`, `group`.
pub fn is_reserved(name: &str) -> bool {
    RESERVED.binary_search(&name).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake() {
        for (i, o) in [
            ("OrderItem", "order_item"),
            ("User", "user"),
            ("createdAt", "created_at"),
            ("HTTPServer", "http_server"),
            ("userID", "user_id"),
            ("already_snake", "already_snake"),
            ("orgId", "org_id"),
            ("sha256Sum", "sha256_sum"),
            ("A", "a"),
        ] {
            assert_eq!(snake_case(i), o, "{i}");
        }
    }

    #[test]
    fn reserved_list_is_sorted() {
        let mut sorted = RESERVED.to_vec();
        sorted.sort();
        assert_eq!(sorted, RESERVED);
        assert!(is_reserved("user"));
        assert!(!is_reserved("users"));
    }

    #[test]
    fn serial_sequence_names_shorten_like_postgresql() {
        assert_eq!(pg_object_name("item", "id", "seq"), "item_id_seq");
        // The longer name loses a byte at a time; on a tie the second one does.
        let n = pg_object_name(&"t".repeat(40), &"a".repeat(30), "seq");
        assert_eq!(n, format!("{}_{}_seq", "t".repeat(29), "a".repeat(29)));
        assert_eq!(n.len(), 63);
        // Never inside a character.
        let n = pg_object_name(&"é".repeat(40), "id", "seq");
        assert!(n.len() <= 63 && n.ends_with("_id_seq"), "{n}");
    }

    #[test]
    fn long_names_fit_and_stay_distinct() {
        let a = derived_name(&"t".repeat(40), &[&"a".repeat(30)], "key");
        let b = derived_name(&"t".repeat(40), &[&"a".repeat(31)], "key");
        assert!(a.len() <= 63 && b.len() <= 63);
        assert_ne!(a, b);
        assert_eq!(derived_name("user", &["email"], "key"), "user_email_key");
    }
}
