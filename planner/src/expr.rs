//! User-written SQL fragments (`expr`, `check`, `where`, policy texts). Wesley does not
//! parse SQL, but it lexes every fragment with [`crate::lex`] under
//! [`lex::Policy::Fragment`], so that it cannot end its statement or smuggle in anything
//! else: unbalanced parentheses or quotes, `;`, comment openers, psql meta-commands (`\`),
//! psql variable references (`:name`), dollar quotes and a number glued to `e'` are
//! rejected with the offset of the offending character and a message for the schema's
//! author. The same tokens tell which functions a default calls (for volatility) and which
//! tables a policy reads (`FROM x`, `JOIN x`).

use crate::lex;

/// PostgreSQL's function volatility classes, ordered from the least to the most volatile
/// (so `max` combines them), as far as Wesley can tell from an expression's text: see
/// [`volatility`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Volatility {
    /// Same result for the same arguments, forever (`lower`, `abs`, a literal).
    Immutable,
    /// Same result within one statement (`now()`, `current_setting`, `CURRENT_USER`).
    Stable,
    /// May differ on every call (`gen_random_uuid()`, `clock_timestamp()`, and every
    /// function Wesley does not know).
    Volatile,
}

/// Why a fragment was refused, worded for the schema's author.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    /// Where, in characters from the fragment's start (the SDL locates it in the file).
    pub offset: usize,
    /// What is wrong, e.g. "`;` would end the statement".
    pub message: String,
    /// What to write instead.
    pub help: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// Bare word, lowercased (`select`, `auth`, `now`).
    Word(String),
    /// `"Quoted"` identifier, exact.
    QuotedIdent(String),
    Str,
    Number,
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    offset: usize,
    /// Byte range in the fragment.
    bytes: (usize, usize),
}

/// What the lexer learned from a safe fragment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExprInfo {
    /// Called functions, lowercased, possibly schema-qualified (`auth.uid`).
    pub functions: Vec<String>,
    /// `FROM`/`JOIN` targets: name (lowercased unless quoted), char offset, quoted.
    pub relations: Vec<(String, usize, bool)>,
    /// Contains a sub-`SELECT`.
    pub has_subquery: bool,
}

fn err(offset: usize, message: impl Into<String>, help: impl Into<String>) -> ExprError {
    ExprError {
        offset,
        message: message.into(),
        help: help.into(),
    }
}

/// The fragment's tokens, with character offsets; [`lex::Policy::Fragment`] decides what
/// is refused.
fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let toks = lex::tokens(src, lex::Policy::Fragment).map_err(|e| refusal(src, e))?;
    let mut out = Vec::with_capacity(toks.len());
    // Offsets in characters, counted as the tokens go.
    let (mut byte, mut chars) = (0, 0);
    for t in toks {
        chars += src[byte..t.start].chars().count();
        byte = t.start;
        let text = &src[t.start..t.end];
        let tok = match t.kind {
            lex::TokenKind::Word => Tok::Word(text.to_lowercase()),
            lex::TokenKind::QuotedIdent => {
                Tok::QuotedIdent(text[1..text.len() - 1].replace("\"\"", "\""))
            }
            lex::TokenKind::String => Tok::Str,
            lex::TokenKind::Number => Tok::Number,
            lex::TokenKind::Punct(c) => Tok::Punct(c),
            // Refused under the fragment policy: never seen here.
            lex::TokenKind::DollarBody | lex::TokenKind::Param | lex::TokenKind::Semicolon => {
                Tok::Punct(text.chars().next().unwrap_or(' '))
            }
        };
        out.push(Token {
            tok,
            offset: chars,
            bytes: (t.start, t.end),
        });
    }
    Ok(out)
}

/// What a refusal means to someone writing a fragment in the SDL, and what to do; the
/// offset becomes a character offset.
fn refusal(src: &str, e: lex::Error) -> ExprError {
    use lex::{Fault, Unclosed};
    let offset = src[..e.offset].chars().count();
    let (message, help) = match e.fault {
        Fault::Semicolon => (
            "`;` would end the statement",
            "write a single expression without `;`",
        ),
        Fault::MetaCommand => (
            "a backslash outside a string could start a psql meta-command",
            "remove the backslash; inside '...' strings it is an ordinary character",
        ),
        Fault::Dollar => (
            "dollar quotes and positional parameters are not allowed here",
            "use a standard '...' string literal",
        ),
        Fault::LineComment => (
            "`--` starts a comment that would hide the rest of the statement",
            "remove the comment from the expression",
        ),
        Fault::BlockComment | Fault::Unterminated(Unclosed::BlockComment) => (
            "`/*` starts a comment that could hide the rest of the statement",
            "remove the comment from the expression",
        ),
        Fault::Variable => (
            "`:name` would be replaced by a psql variable",
            "use a `::` cast, or put a space after `:` (in an array slice write `a[1 : 2]`)",
        ),
        Fault::UnopenedParen => (
            "unbalanced `)`: it closes a parenthesis that was never opened",
            "remove it or add the matching `(`",
        ),
        Fault::UnclosedParen | Fault::UnclosedParenAtSemicolon => {
            ("unbalanced `(`: it is never closed", "add the matching `)`")
        }
        Fault::Unterminated(Unclosed::QuotedIdent) => (
            "unterminated quoted identifier",
            "close the identifier with a double quote",
        ),
        Fault::Unterminated(Unclosed::String | Unclosed::DollarBody) => (
            "unterminated string literal",
            "close the string with a single quote (write '' for a quote inside it)",
        ),
        Fault::Ambiguous => (
            "a number followed directly by `e'` is read differently by different versions of psql",
            "put a space between the number and the string",
        ),
    };
    err(offset, message, help)
}

/// Words that are followed by `(` without being function calls.
const SYNTAX_WORDS: &[&str] = &[
    "all", "and", "any", "array", "as", "between", "case", "cast", "distinct", "else", "end",
    "exists", "filter", "from", "in", "is", "join", "like", "ilike", "not", "on", "or", "over",
    "row", "select", "similar", "some", "then", "using", "values", "when", "where", "with",
];

/// Checks that `src` is one self-contained SQL expression and reports what it uses.
pub fn check(src: &str) -> Result<ExprInfo, ExprError> {
    if src.trim().is_empty() {
        return Err(err(0, "the expression is empty", "write an SQL expression"));
    }
    let toks = lex(src)?;
    let mut info = ExprInfo::default();
    // For each open parenthesis: the word before it (`extract(` etc. use FROM as syntax).
    let mut parens: Vec<Option<String>> = Vec::new();
    for (k, t) in toks.iter().enumerate() {
        let next = toks.get(k + 1).map(|t| &t.tok);
        match &t.tok {
            Tok::Punct('(') => {
                let before = k.checked_sub(1).and_then(|j| match &toks[j].tok {
                    Tok::Word(w) => Some(w.clone()),
                    _ => None,
                });
                parens.push(before);
            }
            Tok::Punct(')') => {
                parens.pop();
            }
            _ => {}
        }
        let in_syntax_call = matches!(
            parens.last().and_then(|w| w.as_deref()),
            Some("extract" | "substring" | "trim" | "overlay" | "position")
        );
        if let Tok::Word(w) = &t.tok {
            if w == "select" {
                info.has_subquery = true;
            }
            if (w == "from" || w == "join") && k + 1 < toks.len() && !in_syntax_call {
                if let Some(rel) = relation_at(&toks, k + 1) {
                    info.relations.push(rel);
                }
            }
            if next == Some(&Tok::Punct('(')) && !SYNTAX_WORDS.contains(&w.as_str()) {
                // Qualified call `a.b(`: join with the preceding `a.`.
                let qualified = if k >= 2
                    && toks[k - 1].tok == Tok::Punct('.')
                    && matches!(toks[k - 2].tok, Tok::Word(_))
                {
                    if let Tok::Word(s) = &toks[k - 2].tok {
                        format!("{s}.{w}")
                    } else {
                        w.clone()
                    }
                } else {
                    w.clone()
                };
                info.functions.push(qualified);
            }
        }
    }
    Ok(info)
}

fn relation_at(toks: &[Token], k: usize) -> Option<(String, usize, bool)> {
    let name_of = |t: &Tok| match t {
        Tok::Word(w) => Some(w.clone()),
        Tok::QuotedIdent(q) => Some(q.clone()),
        _ => None,
    };
    let quoted = matches!(toks[k].tok, Tok::QuotedIdent(_));
    let first = name_of(&toks[k].tok)?;
    if !quoted && (first == "select" || first == "lateral") {
        return None;
    }
    if toks.get(k + 1).map(|t| &t.tok) == Some(&Tok::Punct('.')) {
        if let Some(second) = toks.get(k + 2).and_then(|t| name_of(&t.tok)) {
            return Some((format!("{first}.{second}"), toks[k].offset, quoted));
        }
    }
    Some((first, toks[k].offset, quoted))
}

const STABLE_FUNCS: &[&str] = &[
    "now",
    "transaction_timestamp",
    "statement_timestamp",
    "current_setting",
    "to_char",
    "to_timestamp",
    "date_trunc",
    "age",
    "current_schema",
    "current_database",
    "version",
];
const IMMUTABLE_FUNCS: &[&str] = &[
    "abs",
    "btrim",
    "ceil",
    "char_length",
    "character_length",
    "coalesce",
    "concat_ws",
    "floor",
    "greatest",
    "jsonb_build_object",
    "jsonb_build_array",
    "json_build_object",
    "least",
    "length",
    "lower",
    "ltrim",
    "md5",
    "mod",
    "nullif",
    "octet_length",
    "position",
    "power",
    "replace",
    "round",
    "rtrim",
    "sqrt",
    "substr",
    "substring",
    "trim",
    "trunc",
    "upper",
    "array_length",
    "cardinality",
    "left",
    "right",
    "split_part",
    "lpad",
    "rpad",
    "make_interval",
    "interval",
    "timestamptz",
    "timestamp",
    "numeric",
    "int4",
    "int8",
    "text",
];
const STABLE_WORDS: &[&str] = &[
    "current_timestamp",
    "current_date",
    "current_time",
    "localtime",
    "localtimestamp",
    "current_user",
    "session_user",
    "current_role",
    "user",
];

/// The identifiers an expression mentions (bare words lowercased, quoted ones exact),
/// for finding which columns it depends on. Empty when the text does not lex.
pub fn identifiers(src: &str) -> Vec<String> {
    let Ok(toks) = lex(src) else {
        return Vec::new();
    };
    toks.into_iter()
        .filter_map(|t| match t.tok {
            Tok::Word(w) => Some(w),
            Tok::QuotedIdent(q) => Some(q),
            _ => None,
        })
        .collect()
}

/// Words that are SQL syntax inside an expression, never a column reference (for
/// [`column_refs`]). A column that happens to be spelled like one of them is simply not
/// checked.
const EXPR_KEYWORDS: &[&str] = &[
    "all",
    "and",
    "any",
    "array",
    "as",
    "asc",
    "at",
    "between",
    "both",
    "by",
    "case",
    "cast",
    "collate",
    "current_catalog",
    "current_date",
    "current_role",
    "current_schema",
    "current_time",
    "current_timestamp",
    "current_user",
    "default",
    "desc",
    "distinct",
    "else",
    "end",
    "escape",
    "exists",
    "false",
    "filter",
    "first",
    "for",
    "from",
    "ilike",
    "in",
    "is",
    "isnull",
    "last",
    "leading",
    "like",
    "localtime",
    "localtimestamp",
    "normalized",
    "not",
    "notnull",
    "null",
    "nulls",
    "of",
    "on",
    "or",
    "order",
    "over",
    "overlaps",
    "partition",
    "placing",
    "session_user",
    "similar",
    "some",
    "symmetric",
    "then",
    "time",
    "to",
    "trailing",
    "true",
    "unknown",
    "user",
    "using",
    "variadic",
    "when",
    "with",
    "within",
    "without",
    "zone",
];

/// Words that continue a type name after its first word (`double precision`, `timestamp
/// with time zone`, `character varying`).
const TYPE_WORDS: &[&str] = &["precision", "varying", "with", "without", "time", "zone"];

/// The words of an expression that name columns, as PostgreSQL would resolve them
/// (unquoted ones lowercased, quoted ones exact), each with its character offset. Function
/// names (a word before `(`), keywords, type names (after `::` or `AS`, and before a string
/// literal: `interval '1 day'`), qualified names (`a.b`), the field of `extract(... FROM
/// ...)` and the collation after `COLLATE` are not column references. Empty when the text
/// does not lex.
pub fn column_refs(src: &str) -> Vec<(String, usize)> {
    let Ok(toks) = lex(src) else {
        return Vec::new();
    };
    column_ref_tokens(&toks)
        .into_iter()
        .filter_map(|k| match &toks[k].tok {
            Tok::Word(w) => Some((w.clone(), toks[k].offset)),
            Tok::QuotedIdent(q) => Some((q.clone(), toks[k].offset)),
            _ => None,
        })
        .collect()
}

/// `src` with each column reference ([`column_refs`]) for which `write` gives a text
/// written as that text, the rest as it is; `None` when the text does not lex.
fn splice_column_refs(src: &str, write: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let toks = lex(src).ok()?;
    let mut out = String::with_capacity(src.len());
    let mut at = 0;
    for k in column_ref_tokens(&toks) {
        let name = match &toks[k].tok {
            Tok::Word(w) => w,
            Tok::QuotedIdent(q) => q,
            _ => continue,
        };
        let Some(text) = write(name) else { continue };
        out.push_str(&src[at..toks[k].bytes.0]);
        out.push_str(&text);
        at = toks[k].bytes.1;
    }
    out.push_str(&src[at..]);
    Some(out)
}

/// `src` with each column reference (as [`column_refs`] finds them) that `to` renames
/// written with its new name (bare when that reads back as the same name, else quoted).
/// Unchanged when the text does not lex.
pub fn rename_columns(src: &str, to: &dyn Fn(&str) -> Option<String>) -> String {
    let written = splice_column_refs(src, &|old| {
        let new = to(old)?;
        let bare = new
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && new
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !crate::naming::is_reserved(&new);
        Some(if bare { new } else { crate::sql::ident(&new) })
    });
    written.unwrap_or_else(|| src.to_string())
}

/// `src` with every column reference ([`column_refs`]) written as the quoted identifier
/// `rename` gives for it, the rest as it is: two expressions over the same columns, one
/// written before and one after some of them were renamed, compare equal after this.
/// `None` when the text does not lex.
pub fn with_columns_quoted(src: &str, rename: impl Fn(&str) -> String) -> Option<String> {
    splice_column_refs(src, &|name| Some(crate::sql::ident(&rename(name))))
}

/// Functions PostgreSQL does not count as immutable in any of their forms that a generated
/// column's expression might call (it refuses them: "generation expression is not
/// immutable"). Functions immutable in some forms (`date_trunc` of a `timestamp`) are not
/// listed: the server decides those.
const NOT_IMMUTABLE: &[&str] = &[
    "clock_timestamp",
    "concat",
    "concat_ws",
    "current_database",
    "current_schema",
    "current_setting",
    "format",
    "gen_random_uuid",
    "nextval",
    "now",
    "random",
    "statement_timestamp",
    "timeofday",
    "to_char",
    "transaction_timestamp",
    "txid_current",
    "uuid_generate_v4",
    "version",
];

/// The first function or word of a (safe) expression that PostgreSQL does not count as
/// immutable, as far as Wesley knows ([`NOT_IMMUTABLE`], and words such as `CURRENT_DATE`),
/// with its character offset. Functions Wesley does not know pass: the server has the last
/// word.
pub fn not_immutable(src: &str) -> Option<(String, usize)> {
    let toks = lex(src).ok()?;
    toks.iter().enumerate().find_map(|(k, t)| {
        let Tok::Word(w) = &t.tok else { return None };
        let called = toks.get(k + 1).map(|t| &t.tok) == Some(&Tok::Punct('('));
        let known =
            (called && NOT_IMMUTABLE.contains(&w.as_str())) || STABLE_WORDS.contains(&w.as_str());
        known.then(|| (w.clone(), t.offset))
    })
}

/// Indices of the tokens of [`column_refs`].
fn column_ref_tokens(toks: &[Token]) -> Vec<usize> {
    let name = |t: &Tok| match t {
        Tok::Word(w) => Some(w.clone()),
        Tok::QuotedIdent(q) => Some(q.clone()),
        _ => None,
    };
    let mut out = Vec::new();
    let mut k = 0;
    // The next name is a type (after `::` or `AS`), or skipped (after `COLLATE`, first in
    // `extract(`).
    let (mut type_next, mut skip_next) = (false, false);
    while k < toks.len() {
        let tok = &toks[k].tok;
        let next = toks.get(k + 1).map(|t| &t.tok);
        let prev = k.checked_sub(1).map(|j| &toks[j].tok);
        if *tok == Tok::Punct(':') && next == Some(&Tok::Punct(':')) {
            type_next = true;
            k += 2;
            continue;
        }
        let Some(word) = name(tok) else {
            if *tok == Tok::Punct('(') && prev == Some(&Tok::Word("extract".into())) {
                skip_next = true;
            }
            k += 1;
            continue;
        };
        if type_next {
            // The type: words (qualified with `.`), then `(...)` modifiers and `[]`.
            type_next = false;
            k += 1;
            loop {
                match toks.get(k).map(|t| &t.tok) {
                    Some(Tok::Punct('.'))
                        if toks.get(k + 1).is_some_and(|t| name(&t.tok).is_some()) =>
                    {
                        k += 2
                    }
                    Some(Tok::Word(w)) if TYPE_WORDS.contains(&w.as_str()) => k += 1,
                    Some(Tok::Punct('(')) => {
                        let mut depth = 0;
                        while let Some(t) = toks.get(k) {
                            match t.tok {
                                Tok::Punct('(') => depth += 1,
                                Tok::Punct(')') => depth -= 1,
                                _ => {}
                            }
                            k += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                    }
                    Some(Tok::Punct('[' | ']')) => k += 1,
                    _ => break,
                }
            }
            continue;
        }
        let quoted = matches!(tok, Tok::QuotedIdent(_));
        let skip = std::mem::take(&mut skip_next)
            || prev == Some(&Tok::Punct('.'))
            || next == Some(&Tok::Punct('.'))
            || next == Some(&Tok::Punct('('))
            || (!quoted && next == Some(&Tok::Str))
            || (!quoted && EXPR_KEYWORDS.contains(&word.as_str()));
        if !quoted && (word == "as") {
            type_next = true;
        }
        if !quoted && word == "collate" {
            skip_next = true;
        }
        if !skip {
            out.push(k);
        }
        k += 1;
    }
    out
}

/// The words of an expression outside any parentheses, lowercased (quoted identifiers
/// exact), with their character offsets. Empty when the text does not lex.
pub fn top_level_words(src: &str) -> Vec<(String, usize)> {
    let Ok(toks) = lex(src) else {
        return Vec::new();
    };
    let mut depth = 0usize;
    let mut out = Vec::new();
    for t in toks {
        match t.tok {
            Tok::Punct('(') => depth += 1,
            Tok::Punct(')') => depth = depth.saturating_sub(1),
            Tok::Word(w) if depth == 0 => out.push((w, t.offset)),
            _ => {}
        }
    }
    out
}

/// The first word outside parentheses that would give an index key an ordering, collation
/// or operator class instead of being part of its expression (`DESC`, `NULLS`,
/// `COLLATE`, `ASC`), lowercased, with its character offset.
pub fn index_key_option(src: &str) -> Option<(String, usize)> {
    top_level_words(src)
        .into_iter()
        .find(|(w, _)| ["asc", "desc", "nulls", "collate"].contains(&w.as_str()))
}

/// The identifier an expression is when it is nothing else (`email`, `"Email"`, `(email)`),
/// lowercased unless quoted: PostgreSQL indexes such an "expression" as the column.
pub fn lone_identifier(src: &str) -> Option<String> {
    let toks = lex(src).ok()?;
    let mut inner: &[Token] = &toks;
    while inner.len() >= 2
        && inner[0].tok == Tok::Punct('(')
        && inner[inner.len() - 1].tok == Tok::Punct(')')
    {
        inner = &inner[1..inner.len() - 1];
    }
    match inner {
        [Token {
            tok: Tok::Word(w), ..
        }] if !EXPR_KEYWORDS.contains(&w.as_str()) => Some(w.clone()),
        [Token {
            tok: Tok::QuotedIdent(q),
            ..
        }] => Some(q.clone()),
        _ => None,
    }
}

/// The words of an expression for a derived name: words, quoted identifiers, the contents
/// of string literals and numbers, lowercased, with every run of characters that are not
/// letters or digits made one `_` (`lower(email)` → `lower_email`, `(data->>'kind')` →
/// `data_kind`). `expr` when nothing is left.
pub fn name_words(src: &str) -> String {
    let Ok(toks) = lex::tokens(src, lex::Policy::Fragment) else {
        return "expr".into();
    };
    let mut out = String::new();
    for t in toks {
        let text = &src[t.start..t.end];
        let text = match t.kind {
            lex::TokenKind::Word | lex::TokenKind::Number => text,
            lex::TokenKind::QuotedIdent => &text[1..text.len() - 1],
            lex::TokenKind::String => text
                .trim_start_matches(['E', 'e'])
                .trim_start_matches('\'')
                .trim_end_matches('\''),
            _ => continue,
        };
        for c in text.chars().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
        }
        if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
    }
    let words = out.trim_matches('_');
    if words.is_empty() {
        "expr".into()
    } else {
        words.to_string()
    }
}

/// How volatile a (safe) default expression is. Functions Wesley does not know are taken
/// as volatile: a wrong "volatile" only makes a plan longer, a wrong "stable" would make
/// `ADD COLUMN` rewrite the table.
pub fn volatility(src: &str) -> Volatility {
    let toks = match lex(src) {
        Ok(t) => t,
        Err(_) => return Volatility::Volatile,
    };
    let info = match check(src) {
        Ok(i) => i,
        Err(_) => return Volatility::Volatile,
    };
    let mut v = Volatility::Immutable;
    for f in &info.functions {
        let class = if STABLE_FUNCS.contains(&f.as_str()) {
            Volatility::Stable
        } else if IMMUTABLE_FUNCS.contains(&f.as_str()) {
            Volatility::Immutable
        } else {
            Volatility::Volatile
        };
        v = v.max(class);
    }
    if info.has_subquery {
        v = Volatility::Volatile;
    }
    for t in &toks {
        if let Tok::Word(w) = &t.tok {
            if STABLE_WORDS.contains(&w.as_str()) {
                v = v.max(Volatility::Stable);
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_column_references_skip_syntax() {
        let refs =
            |s: &str| -> Vec<String> { column_refs(s).into_iter().map(|(n, _)| n).collect() };
        assert_eq!(refs("price * quantity"), ["price", "quantity"]);
        assert_eq!(refs("lower(Email) || ' ' || \"Name\""), ["email", "Name"]);
        assert_eq!(
            refs("CASE WHEN a IS NOT NULL THEN a::numeric(10, 2) ELSE 0 END"),
            ["a", "a"]
        );
        assert_eq!(refs("CAST(b AS double precision) + 1"), ["b"]);
        assert_eq!(refs("a::int AND b > 0"), ["a", "b"]);
        assert_eq!(refs("a::timestamp with time zone"), ["a"]);
        assert_eq!(refs("extract(year from born) + interval '1 day'"), ["born"]);
        assert_eq!(refs("x COLLATE \"C\""), ["x"]);
        assert_eq!(refs("public.f(total)"), ["total"]);
        assert_eq!(column_refs("a + bogus")[1], ("bogus".to_string(), 4));
        let renamed = |s: &str| {
            with_columns_quoted(s, |c| {
                if c == "qty" {
                    "quantity".into()
                } else {
                    c.into()
                }
            })
        };
        assert_eq!(
            renamed("price * Qty + lower(x)::int").as_deref(),
            Some("\"price\" * \"quantity\" + lower(\"x\")::int")
        );
        assert_eq!(renamed("price * \"quantity\""), renamed("price * qty"));
    }

    #[test]
    fn not_immutable_names_known_functions() {
        assert_eq!(not_immutable("a * 2"), None);
        assert_eq!(not_immutable("lower(a)"), None);
        assert_eq!(not_immutable("a + now()"), Some(("now".into(), 4)));
        assert_eq!(
            not_immutable("CURRENT_DATE - d"),
            Some(("current_date".into(), 0))
        );
        assert_eq!(not_immutable("concat(a, b)"), Some(("concat".into(), 0)));
        assert_eq!(not_immutable("my_func(a)"), None);
        assert_eq!(not_immutable("date_trunc('day', local_ts)"), None);
    }

    #[test]
    fn accepts_ordinary_expressions() {
        for ok in [
            "now()",
            "gen_random_uuid()",
            "'it''s'",
            "char_length(password_hash) = 60",
            "auth.uid() = user_id",
            "now() + interval '7 days'",
            "a::text = 'x;--/*\\'",
            "E'a\\'b' = x",
            "\"weird;name\" > 0",
            "a[1 : 2] = b",
        ] {
            assert!(check(ok).is_ok(), "{ok}: {:?}", check(ok));
        }
    }

    #[test]
    fn refuses_escapes_with_offsets() {
        for (bad, off) in [
            ("1); DROP TABLE x; --", 1),
            ("true; DROP TABLE users", 4),
            ("x = 1 -- hi", 6),
            ("x /* c */", 2),
            ("\\! rm -rf /", 0),
            ("'open", 0),
            ("(a = b", 0),
            ("$$x$$", 0),
            ("a = :evil", 4),
            ("a[1:2] = b", 3),
            ("x = :{?y}", 4),
            ("\"open", 0),
            ("", 0),
        ] {
            let e = check(bad).expect_err(bad);
            assert_eq!(e.offset, off, "{bad}: {e:?}");
        }
    }

    /// Refused since fragments share psql's lexer: versions of psql disagree on where
    /// `1e'...'` ends, and psql's variable names take any non-ASCII character.
    #[test]
    fn refuses_what_psql_reads_differently() {
        for (bad, off, message) in [
            (
                "1e'\\'' \\! id'",
                0,
                "read differently by different versions of psql",
            ),
            (
                "x = 2E'y'",
                4,
                "read differently by different versions of psql",
            ),
            ("a = :€v", 4, "psql variable"),
            ("a) OR (b", 1, "unbalanced `)`"),
            ("x = E'open\\'", 4, "unterminated string literal"),
        ] {
            let e = check(bad).expect_err(bad);
            assert_eq!(e.offset, off, "{bad}: {e:?}");
            assert!(e.message.contains(message), "{bad}: {e:?}");
        }
        assert!(check("1 e'x' = 1e5").is_ok());
    }

    #[test]
    fn column_references() {
        let refs =
            |s: &str| -> Vec<String> { column_refs(s).into_iter().map(|(w, _)| w).collect() };
        assert_eq!(refs("lower(email)"), vec!["email"]);
        assert_eq!(refs("(data->>'kind')"), vec!["data"]);
        assert_eq!(refs("Lower(\"Email\") || Name"), vec!["Email", "name"]);
        assert_eq!(
            refs("date_trunc('day', created_at AT TIME ZONE 'UTC')"),
            vec!["created_at"]
        );
        assert_eq!(refs("extract(epoch FROM seen)"), vec!["seen"]);
        assert_eq!(
            refs("a::double precision + b::numeric(10, 2)[]"),
            vec!["a", "b"]
        );
        assert_eq!(refs("x::timestamp with time zone AND y"), vec!["x", "y"]);
        assert_eq!(
            refs("CAST(a AS public.money_t) > interval '1 day'"),
            vec!["a"]
        );
        assert_eq!(
            refs("coalesce(deleted_at, 'infinity') IS NOT NULL AND n COLLATE \"C\" > ''"),
            vec!["deleted_at", "n"]
        );
        assert_eq!(refs("pg_catalog.lower(t.name)"), Vec::<String>::new());
        assert_eq!(refs("CASE WHEN kind = 'a' THEN 1 ELSE 2 END"), vec!["kind"]);
    }

    #[test]
    fn renames_column_references() {
        let to = |c: &str| match c {
            "email" => Some("email_address".to_string()),
            "name" => Some("Name".to_string()),
            _ => None,
        };
        assert_eq!(
            rename_columns("lower(email) || email.x || name", &to),
            "lower(email_address) || email.x || \"Name\""
        );
        assert_eq!(
            rename_columns("lower(\"email\")", &to),
            "lower(email_address)"
        );
    }

    #[test]
    fn lone_identifiers_and_name_words() {
        assert_eq!(lone_identifier("email"), Some("email".into()));
        assert_eq!(lone_identifier("((Email))"), Some("email".into()));
        assert_eq!(lone_identifier("\"Email\""), Some("Email".into()));
        assert_eq!(lone_identifier("lower(email)"), None);
        assert_eq!(lone_identifier("(a) + (b)"), None);
        assert_eq!(lone_identifier("true"), None);
        assert_eq!(name_words("lower(email)"), "lower_email");
        assert_eq!(name_words("(data->>'kind')"), "data_kind");
        assert_eq!(name_words("LOWER( \"Email\" )"), "lower_email");
        assert_eq!(name_words("(a + 1)"), "a_1");
        assert_eq!(name_words("(1)"), "1");
        assert_eq!(name_words("('' || '')"), "expr");
        let top: Vec<String> = top_level_words("lower(x DESC) desc")
            .into_iter()
            .map(|(w, _)| w)
            .collect();
        assert_eq!(top, vec!["lower", "desc"]);
    }

    #[test]
    fn volatility_classes() {
        assert_eq!(volatility("'light'"), Volatility::Immutable);
        assert_eq!(volatility("0"), Volatility::Immutable);
        assert_eq!(volatility("now()"), Volatility::Stable);
        assert_eq!(volatility("CURRENT_TIMESTAMP"), Volatility::Stable);
        assert_eq!(volatility("now() + interval '7 days'"), Volatility::Stable);
        assert_eq!(volatility("gen_random_uuid()"), Volatility::Volatile);
        assert_eq!(volatility("clock_timestamp()"), Volatility::Volatile);
        assert_eq!(volatility("auth.uid()"), Volatility::Volatile);
        assert_eq!(volatility("lower('X')"), Volatility::Immutable);
    }

    #[test]
    fn from_inside_extract_is_not_a_relation() {
        let i = check("extract(year FROM created_at) = 2024 AND trim(both ' ' FROM name) <> ''")
            .unwrap();
        assert!(i.relations.is_empty(), "{:?}", i.relations);
        let i = check("id IN (SELECT x FROM t WHERE extract(day FROM at) > 1)").unwrap();
        assert_eq!(
            i.relations.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
            vec!["t"]
        );
    }

    #[test]
    fn finds_relations_and_functions() {
        let i =
            check("auth.uid() IN (SELECT id FROM organization_admins oa JOIN \"Team\" t ON true)")
                .unwrap();
        assert_eq!(i.functions, vec!["auth.uid"]);
        assert!(i.has_subquery);
        let names: Vec<_> = i.relations.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(names, vec!["organization_admins", "Team"]);
    }
}
