//! User-written SQL fragments (`expr`, `check`, `where`, policy texts). Wesley does not
//! parse SQL, but it lexes every fragment so that it cannot end its statement or smuggle in
//! anything else: unbalanced parentheses or quotes, `;`, comment openers, psql
//! meta-commands (`\`), psql variable references (`:name`) and dollar quotes are rejected
//! with the offset of the offending character. The same lexer tells which functions a
//! default calls (for volatility) and which tables a policy reads (`FROM x`, `JOIN x`).

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

/// Why a fragment was refused; `offset` counts characters from its start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExprError {
    pub offset: usize,
    pub message: String,
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

fn lex(src: &str) -> Result<Vec<Token>, ExprError> {
    let chars: Vec<char> = src.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    let mut depth: Vec<usize> = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        let start = i;
        match c {
            c if c.is_whitespace() => i += 1,
            '\'' => {
                i = skip_string(&chars, i, false)?;
                out.push(Token {
                    tok: Tok::Str,
                    offset: start,
                });
            }
            'e' | 'E' if chars.get(i + 1) == Some(&'\'') => {
                i = skip_string(&chars, i + 1, true)?;
                out.push(Token {
                    tok: Tok::Str,
                    offset: start,
                });
            }
            '"' => {
                let mut name = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(err(
                                start,
                                "unterminated quoted identifier",
                                "close the identifier with a double quote",
                            ))
                        }
                        Some('"') if chars.get(i + 1) == Some(&'"') => {
                            name.push('"');
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            name.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token {
                    tok: Tok::QuotedIdent(name),
                    offset: start,
                });
            }
            ';' => {
                return Err(err(
                    i,
                    "`;` would end the statement",
                    "write a single expression without `;`",
                ))
            }
            '\\' => {
                return Err(err(
                    i,
                    "a backslash outside a string could start a psql meta-command",
                    "remove the backslash; inside '...' strings it is an ordinary character",
                ))
            }
            '$' => {
                return Err(err(
                    i,
                    "dollar quotes and positional parameters are not allowed here",
                    "use a standard '...' string literal",
                ))
            }
            '-' if chars.get(i + 1) == Some(&'-') => {
                return Err(err(
                    i,
                    "`--` starts a comment that would hide the rest of the statement",
                    "remove the comment from the expression",
                ))
            }
            '/' if chars.get(i + 1) == Some(&'*') => {
                return Err(err(
                    i,
                    "`/*` starts a comment that could hide the rest of the statement",
                    "remove the comment from the expression",
                ))
            }
            ':' if chars.get(i + 1) == Some(&':') => {
                out.push(Token {
                    tok: Tok::Punct(':'),
                    offset: i,
                });
                out.push(Token {
                    tok: Tok::Punct(':'),
                    offset: i + 1,
                });
                i += 2;
            }
            ':' if chars.get(i + 1).is_some_and(|n| n.is_alphanumeric() || matches!(n, '_' | '\'' | '"' | '{')) => {
                return Err(err(
                    i,
                    "`:name` would be replaced by a psql variable",
                    "use a `::` cast, or put a space after `:` (in an array slice write `a[1 : 2]`)",
                ))
            }
            '(' => {
                depth.push(i);
                out.push(Token {
                    tok: Tok::Punct('('),
                    offset: i,
                });
                i += 1;
            }
            ')' => {
                if depth.pop().is_none() {
                    return Err(err(
                        i,
                        "unbalanced `)`: it closes a parenthesis that was never opened",
                        "remove it or add the matching `(`",
                    ));
                }
                out.push(Token {
                    tok: Tok::Punct(')'),
                    offset: i,
                });
                i += 1;
            }
            c if c.is_ascii_digit() => {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
                out.push(Token {
                    tok: Tok::Number,
                    offset: start,
                });
            }
            c if c.is_alphabetic() || c == '_' => {
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
                {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect::<String>().to_lowercase();
                out.push(Token {
                    tok: Tok::Word(word),
                    offset: start,
                });
            }
            c => {
                out.push(Token {
                    tok: Tok::Punct(c),
                    offset: i,
                });
                i += 1;
            }
        }
    }
    if let Some(open) = depth.pop() {
        return Err(err(
            open,
            "unbalanced `(`: it is never closed",
            "add the matching `)`",
        ));
    }
    Ok(out)
}

fn skip_string(chars: &[char], quote: usize, backslash_escapes: bool) -> Result<usize, ExprError> {
    let mut i = quote + 1;
    loop {
        match chars.get(i) {
            None => {
                return Err(err(
                    quote,
                    "unterminated string literal",
                    "close the string with a single quote (write '' for a quote inside it)",
                ))
            }
            Some('\\') if backslash_escapes => i += 2,
            Some('\'') if chars.get(i + 1) == Some(&'\'') => i += 2,
            Some('\'') => return Ok(i + 1),
            Some(_) => i += 1,
        }
    }
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
