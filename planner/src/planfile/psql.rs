//! Plan-file SQL as psql reads it: a step's statements must hold nothing psql would act on
//! by itself, meta-commands (`\!`, `\o`, `\i`, `\copy`, `\gexec`, ...) and variable
//! interpolation (`:name`, `:'name'`, `:"name"`, `:{?name}`). When a script is streamed to
//! psql, those run on the machine executing it, whatever the database allows, so a plan
//! file may contain none of them.
//!
//! The rules are [`crate::lex`]'s, the lexer the SDL's fragments go through too: steps are
//! read under [`Policy::PsqlScript`] (`'...'`, `E'...'`, `"..."`, `$tag$...$tag$` and
//! comments are opaque; unterminated text, unbalanced parentheses and a number glued to
//! `e'` are refused), backfill fragments and expressions under [`Policy::Fragment`] (also
//! no `;`, no comments, no `$`). This module words the refusals for plan files, counts a
//! script's statements and splits it where psql sends each one.

use crate::lex::{self, Policy, TokenKind};

/// What is wrong with a piece of SQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Problem {
    /// A backslash outside quotes and comments: a psql meta-command.
    MetaCommand,
    /// `:name`, `:'name'`, `:"name"` or `:{?name}` outside quotes and comments.
    Variable,
    /// A string, identifier, dollar body or block comment that never ends.
    Unterminated,
    /// A `(` without `)` or a `)` without `(`.
    Parenthesis,
    /// `;` in a fragment (fragments are pieces of one statement).
    Semicolon,
    /// A comment in a fragment (it could hide the rest of the statement built around it).
    Comment,
    /// Text that versions of psql read differently (`1e'...'`).
    Ambiguous,
    /// A dollar quote or positional parameter in a fragment.
    Dollar,
}

/// Why a piece of SQL was refused, worded for whoever reads a plan file's validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    /// Byte offset into the SQL (the validation turns it into a line and column).
    pub offset: usize,
    /// The kind of refusal.
    pub problem: Problem,
    /// What psql would do, quoting the text where it helps.
    pub message: String,
}

/// What the lexer learned about a script it accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scan {
    /// One entry per statement that contains code, in order: its first word, lowercased
    /// (empty when the statement starts with something other than a word).
    pub statements: Vec<String>,
    /// False when code follows the last `;` (the last statement is not terminated).
    pub terminated: bool,
    /// The byte offset just after each `;` at which psql sends what it has read.
    pub ends: Vec<usize>,
}

/// Checks a sequence of whole statements (a step's `sql`).
pub fn scan_script(text: &str) -> Result<Scan, LexError> {
    walk(text, Policy::PsqlScript)
}

/// Splits a script into the pieces psql sends one by one: each piece ends just after a
/// `;` that ends a statement (quotes, comments, dollar bodies and parentheses taken
/// into account), and the pieces put together are the script. Text after the last `;`
/// that holds code is an error: psql would wait for more.
pub fn split_statements(text: &str) -> Result<Vec<&str>, LexError> {
    let scan = walk(text, Policy::PsqlScript)?;
    if !scan.terminated {
        return Err(LexError {
            offset: scan.ends.last().copied().unwrap_or(0),
            problem: Problem::Unterminated,
            message: "the last statement is not ended by `;`".into(),
        });
    }
    let mut out = Vec::with_capacity(scan.ends.len() + 1);
    let mut start = 0;
    for &end in &scan.ends {
        out.push(&text[start..end]);
        start = end;
    }
    if start < text.len() {
        out.push(&text[start..]);
    }
    Ok(out)
}

/// Checks a fragment of one statement (a backfill's `set` list or `predicate`, an
/// expression of `from`/`to`): on top of the script rules, no `;`, no comments and no `$`
/// token (dollar quotes, positional parameters), as for the SDL's fragments.
pub fn scan_fragment(text: &str) -> Result<(), LexError> {
    walk(text, Policy::Fragment).map(|_| ())
}

/// A dollar-quote tag (`$wesley$`, `$wesley2$`, ...) that occurs in none of `texts`.
pub fn dollar_tag(texts: &[&str]) -> String {
    let mut n = 0;
    loop {
        let tag = if n == 0 {
            "$wesley$".to_string()
        } else {
            format!("$wesley{n}$")
        };
        if !texts.iter().any(|t| t.contains(&tag)) {
            return tag;
        }
        n += 1;
    }
}

/// The refusal worded for plan files (the offset stays in bytes).
fn refusal(text: &str, e: lex::Error) -> LexError {
    use lex::{Fault, Unclosed};
    let at = e.offset;
    let (problem, message) = match e.fault {
        Fault::MetaCommand => (
            Problem::MetaCommand,
            format!(
                "backslash outside quotes: psql would run `{}` as a meta-command on the machine executing the script",
                lex::excerpt(text, at)
            ),
        ),
        Fault::Variable => (
            Problem::Variable,
            format!(
                "`{}` outside quotes: psql would replace it with the value of a psql variable (write a space after `:` in an array slice)",
                lex::excerpt(text, at)
            ),
        ),
        Fault::Unterminated(what) => (
            Problem::Unterminated,
            match what {
                Unclosed::String => "string is never closed".to_string(),
                Unclosed::QuotedIdent => "quoted identifier is never closed".to_string(),
                Unclosed::DollarBody => {
                    // The tag runs from this `$` to the next one.
                    let tag_len = text[at + 1..].find('$').map_or(1, |n| n + 2);
                    let tag = &text[at..at + tag_len];
                    format!("dollar-quoted body opened with {tag} is never closed")
                }
                Unclosed::BlockComment => "`/*` comment is never closed".to_string(),
            },
        ),
        Fault::UnopenedParen => (
            Problem::Parenthesis,
            "`)` closes a parenthesis that was never opened".into(),
        ),
        Fault::UnclosedParen => (Problem::Parenthesis, "`(` is never closed".into()),
        Fault::UnclosedParenAtSemicolon => (
            Problem::Parenthesis,
            "`(` is not closed before `;`: psql would not end the statement there".into(),
        ),
        Fault::Semicolon => (
            Problem::Semicolon,
            "`;` would end the statement built around this fragment".into(),
        ),
        Fault::LineComment => (
            Problem::Comment,
            "`--` starts a comment that would hide the rest of the statement built around this fragment".into(),
        ),
        Fault::BlockComment => (
            Problem::Comment,
            "comments are not allowed in a fragment of a statement".into(),
        ),
        Fault::Dollar => (
            Problem::Dollar,
            "dollar quotes and positional parameters are not allowed in a fragment of a statement".into(),
        ),
        Fault::Ambiguous => (
            Problem::Ambiguous,
            format!(
                "`{}`: versions of psql disagree on where this string ends; put a space before it",
                lex::excerpt(text, at)
            ),
        ),
    };
    LexError {
        offset: at,
        problem,
        message,
    }
}

/// Statements, first words and ends from the tokens of a script.
fn walk(text: &str, policy: Policy) -> Result<Scan, LexError> {
    let tokens = lex::tokens(text, policy).map_err(|e| refusal(text, e))?;
    let mut scan = Scan::default();
    let mut in_statement = false;
    for t in tokens {
        if t.kind == TokenKind::Semicolon {
            in_statement = false;
            scan.ends.push(t.end);
        } else if !in_statement {
            in_statement = true;
            scan.statements.push(match t.kind {
                TokenKind::Word => text[t.start..t.end].to_lowercase(),
                _ => String::new(),
            });
        }
    }
    scan.terminated = !in_statement;
    Ok(scan)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(sql: &str) -> Option<Problem> {
        scan_script(sql).err().map(|e| e.problem)
    }

    #[test]
    fn splits_where_psql_sends() {
        let sql = "BEGIN;\nSELECT ';', $x$ a; b $x$, (1); -- c;\nDO $$ x; $$ ;\n/* ; */ COMMIT;\n";
        let parts = split_statements(sql).unwrap();
        assert_eq!(
            parts,
            vec![
                "BEGIN;",
                "\nSELECT ';', $x$ a; b $x$, (1);",
                " -- c;\nDO $$ x; $$ ;",
                "\n/* ; */ COMMIT;",
                "\n"
            ]
        );
        assert_eq!(parts.concat(), sql);
        assert!(split_statements("SELECT 1; SELECT 2").is_err());
        assert_eq!(split_statements("").unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn accepts_ordinary_sql() {
        for sql in [
            "ALTER TABLE \"public\".\"user\" ADD COLUMN \"nick\" text;\n",
            "SELECT 'it''s \\! fine', '\\o /tmp/x', \"we\"\"ird\\\";\n",
            "SELECT E'\\'\\\\', e'\\x41';\n",
            "SELECT x::int, '{1,2}'::int[], ARRAY[1,2][1: 2];\n",
            "SELECT $1, a$b$c, 1.5e3;\n",
            "DO $wesley$\nBEGIN\n\\! not a command here\n:foo\nEND\n$wesley$;\n",
            "DO $$ SELECT ':x' $$;\n",
            "-- a comment with \\! and :var\nSELECT 1; /* \\o /* nested */ :x */\n",
            "SELECT U&'\\0041', B'101', X'1F';\n",
        ] {
            assert_eq!(scan_script(sql).err(), None, "{sql}");
        }
    }

    #[test]
    fn refuses_meta_commands_and_variables() {
        assert_eq!(
            problem("SELECT 1;\n\\! rm -rf /\n"),
            Some(Problem::MetaCommand)
        );
        assert_eq!(problem("SELECT 1 \\gexec\n"), Some(Problem::MetaCommand));
        assert_eq!(problem("\\copy t from 'x'\n"), Some(Problem::MetaCommand));
        assert_eq!(problem("SELECT :foo;\n"), Some(Problem::Variable));
        assert_eq!(problem("SELECT :'foo';\n"), Some(Problem::Variable));
        assert_eq!(problem("SELECT :\"foo\";\n"), Some(Problem::Variable));
        assert_eq!(problem("SELECT :{?foo};\n"), Some(Problem::Variable));
        assert_eq!(problem("SELECT a[1:2];\n"), Some(Problem::Variable));
        // A standard string ends at the first lone quote: what follows is code again.
        assert_eq!(problem("SELECT '\\' \\! id\n"), Some(Problem::MetaCommand));
        // A line comment ends at a carriage return, as in psql.
        assert_eq!(problem("-- x\r\\! id\n"), Some(Problem::MetaCommand));
        // A dollar body ends at its own tag only.
        assert_eq!(
            problem("DO $a$ x $b$ y $a$; \\! id\n"),
            Some(Problem::MetaCommand)
        );
    }

    #[test]
    fn refuses_unterminated_text() {
        assert_eq!(problem("SELECT 'abc;\n"), Some(Problem::Unterminated));
        assert_eq!(problem("SELECT E'abc\\';\n"), Some(Problem::Unterminated));
        assert_eq!(problem("SELECT \"abc;\n"), Some(Problem::Unterminated));
        assert_eq!(problem("DO $x$ abc $y$;\n"), Some(Problem::Unterminated));
        assert_eq!(problem("/* /* */ x;\n"), Some(Problem::Unterminated));
        assert_eq!(
            problem("SELECT 1e'\\'' \\! id';\n"),
            Some(Problem::Ambiguous)
        );
        assert_eq!(problem("SELECT 1 e'x', 1e5;\n"), None);
        assert_eq!(problem("SELECT (1;\n"), Some(Problem::Parenthesis));
        assert_eq!(problem("SELECT 1);\n"), Some(Problem::Parenthesis));
    }

    #[test]
    fn counts_statements_and_first_words() {
        let s =
            scan_script("-- c\nALTER TABLE x ADD y int;\n;\n (SELECT 1); DO $$ ; $$;\n").unwrap();
        assert_eq!(s.statements, ["alter", "", "do"]);
        assert!(s.terminated);
        let s = scan_script("SELECT 1; SELECT 2 -- x\n").unwrap();
        assert_eq!(s.statements, ["select", "select"]);
        assert!(!s.terminated);
    }

    #[test]
    fn fragments() {
        assert_eq!(scan_fragment("\"a\" = \"b\"::bigint"), Ok(()));
        assert_eq!(scan_fragment("\"a\" = ';'"), Ok(()));
        let p = |f: &str| scan_fragment(f).err().map(|e| e.problem);
        assert_eq!(p("a = 1; DROP TABLE x"), Some(Problem::Semicolon));
        assert_eq!(p("true -- x"), Some(Problem::Comment));
        assert_eq!(p("true /* x */"), Some(Problem::Comment));
        assert_eq!(p("x) OR (true"), Some(Problem::Parenthesis));
        assert_eq!(p("a = :v"), Some(Problem::Variable));
        // Like the SDL's fragments: no dollar quotes, no positional parameters.
        assert_eq!(p("a = $1"), Some(Problem::Dollar));
        assert_eq!(p("a = $x$;$x$"), Some(Problem::Dollar));
        assert_eq!(p("a = 'it''s $1' AND \"$\" = b$c"), None);
    }

    #[test]
    fn offsets_are_bytes() {
        let e = scan_script("SELECT 'é'; \\x").unwrap_err();
        assert_eq!(e.offset, "SELECT 'é'; ".len());
    }
}
