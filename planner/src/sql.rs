//! SQL text helpers: identifier quoting and literal escaping. Every identifier Wesley
//! writes goes through [`ident`], every string literal through [`literal`].

/// Quotes an identifier for PostgreSQL: always double-quoted, embedded quotes doubled.
/// `user` → `"user"`, `Weird"Name` → `"Weird""Name"`.
pub fn ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for ch in name.chars() {
        if ch == '"' {
            out.push('"');
        }
        out.push(ch);
    }
    out.push('"');
    out
}

/// A schema-qualified name: `"public"."user"`.
pub fn qualified(schema: &str, name: &str) -> String {
    format!("{}.{}", ident(schema), ident(name))
}

/// Quotes a string literal: `it's` → `'it''s'`. Backslashes need no escaping because
/// `standard_conforming_strings` is on (the default since PostgreSQL 9.1); Wesley never
/// emits `E''` strings.
pub fn literal(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for ch in value.chars() {
        if ch == '\'' {
            out.push('\'');
        }
        out.push(ch);
    }
    out.push('\'');
    out
}

/// A comma-separated list of quoted identifiers.
pub fn ident_list<S: AsRef<str>>(names: &[S]) -> String {
    names
        .iter()
        .map(|n| ident(n.as_ref()))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(ident("user"), "\"user\"");
        assert_eq!(ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(literal("it's"), "'it''s'");
        assert_eq!(literal("a\\b"), "'a\\b'");
        assert_eq!(qualified("public", "Order"), "\"public\".\"Order\"");
    }
}
