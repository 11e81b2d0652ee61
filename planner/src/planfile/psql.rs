//! A small SQL lexer that finds what psql would act on by itself: meta-commands (`\!`,
//! `\o`, `\i`, `\copy`, `\gexec`, ...) and variable interpolation (`:name`, `:'name'`,
//! `:"name"`, `:{?name}`). When a script is streamed to psql, those run on the machine
//! executing it, whatever the database allows, so a plan file may contain none of them.
//!
//! It follows psql's own lexer (`psqlscan.l`) closely enough to tell code from text:
//! `'...'` strings (with `''`), `E'...'` strings (backslash escapes), `"..."` identifiers,
//! dollar-quoted `$tag$...$tag$` bodies, `--` comments (ended by a newline or a carriage
//! return) and nested `/* */` comments are skipped; psql interprets nothing inside them.
//! `::` is a cast, not a variable. Plain strings are read with `standard_conforming_strings`
//! on (backslashes are ordinary characters), which is PostgreSQL's default and which the
//! SQL renderer sets before anything else runs.
//!
//! Unterminated strings, identifiers, dollar bodies and comments are refused too: glued to
//! the next step in a script, they would turn that step's text inside out. So are
//! unbalanced parentheses (psql does not end a statement at `;` inside parentheses), and a
//! number glued to `e'` (psql 14 and older read `1e'...'` as 1 followed by an `E'...'`
//! string, psql 15 as a plain string).

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
}

/// Why a piece of SQL was refused; `offset` is a byte offset into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexError {
    pub offset: usize,
    pub problem: Problem,
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
    walk(text, false)
}

/// Splits a script into the pieces psql sends one by one: each piece ends just after a
/// `;` that ends a statement (quotes, comments, dollar bodies and parentheses taken
/// into account), and the pieces put together are the script. Text after the last `;`
/// that holds code is an error: psql would wait for more.
pub fn split_statements(text: &str) -> Result<Vec<&str>, LexError> {
    let scan = walk(text, false)?;
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

/// Checks a fragment of one statement (a backfill's `set` list or `predicate`): on top of
/// the script rules, no `;` and no comments.
pub fn scan_fragment(text: &str) -> Result<(), LexError> {
    walk(text, true).map(|_| ())
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

fn is_ident_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || !c.is_ascii()
}

fn is_ident_cont(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit() || c == '$'
}

/// psql's `variable_char`.
fn is_var_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || !c.is_ascii()
}

/// A dollar-quote tag character (no `$`).
fn is_tag_char(c: char) -> bool {
    is_ident_start(c) || c.is_ascii_digit()
}

struct Lexer<'a> {
    text: &'a str,
    cs: Vec<(usize, char)>,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.cs.get(i).map(|&(_, c)| c)
    }

    fn off(&self, i: usize) -> usize {
        self.cs.get(i).map_or(self.text.len(), |&(o, _)| o)
    }

    /// The char index of byte offset `o` (which is on a char boundary).
    fn index_of(&self, o: usize) -> usize {
        self.cs.partition_point(|&(b, _)| b < o)
    }

    /// A short excerpt starting at char `i`, up to the end of the line.
    fn excerpt(&self, i: usize) -> String {
        let rest = &self.text[self.off(i)..];
        let line = rest.split(['\n', '\r']).next().unwrap_or("");
        let mut out: String = line.chars().take(24).collect();
        if line.chars().count() > 24 {
            out.push_str("...");
        }
        out
    }

    fn error(&self, i: usize, problem: Problem, message: String) -> LexError {
        LexError {
            offset: self.off(i),
            problem,
            message,
        }
    }

    /// Skips a quoted run that started just before `i`; returns the index after the closing
    /// quote. `backslash` is true for `E'...'` strings.
    fn skip_quoted(&self, mut i: usize, quote: char, backslash: bool) -> Option<usize> {
        loop {
            match self.at(i)? {
                '\\' if backslash => i += 2,
                c if c == quote => {
                    if self.at(i + 1) == Some(quote) {
                        i += 2;
                    } else {
                        return Some(i + 1);
                    }
                }
                _ => i += 1,
            }
        }
    }

    /// The index after an opening dollar-quote tag that starts at `i`, if one does.
    fn dollar_open(&self, i: usize) -> Option<usize> {
        let mut j = i + 1;
        match self.at(j)? {
            '$' => return Some(j + 1),
            c if is_ident_start(c) => j += 1,
            _ => return None,
        }
        while let Some(c) = self.at(j) {
            if c == '$' {
                return Some(j + 1);
            }
            if !is_tag_char(c) {
                return None;
            }
            j += 1;
        }
        None
    }
}

fn walk(text: &str, fragment: bool) -> Result<Scan, LexError> {
    let lx = Lexer {
        text,
        cs: text.char_indices().collect(),
    };
    let mut scan = Scan::default();
    let mut in_statement = false;
    let mut parens: Vec<usize> = Vec::new();
    let mut i = 0;
    while let Some(c) = lx.at(i) {
        let start = i;
        // The first word of a statement, when this token starts one.
        let mut word: Option<String> = None;
        match c {
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            '-' if lx.at(i + 1) == Some('-') => {
                if fragment {
                    return Err(lx.error(i, Problem::Comment, "`--` starts a comment that would hide the rest of the statement built around this fragment".into()));
                }
                while lx.at(i).is_some_and(|c| c != '\n' && c != '\r') {
                    i += 1;
                }
                continue;
            }
            '/' if lx.at(i + 1) == Some('*') => {
                if fragment {
                    return Err(lx.error(
                        i,
                        Problem::Comment,
                        "comments are not allowed in a fragment of a statement".into(),
                    ));
                }
                let mut depth = 0usize;
                loop {
                    match (lx.at(i), lx.at(i + 1)) {
                        (Some('/'), Some('*')) => {
                            depth += 1;
                            i += 2;
                        }
                        (Some('*'), Some('/')) => {
                            depth -= 1;
                            i += 2;
                            if depth == 0 {
                                break;
                            }
                        }
                        (Some(_), _) => i += 1,
                        (None, _) => {
                            return Err(lx.error(
                                start,
                                Problem::Unterminated,
                                "`/*` comment is never closed".into(),
                            ))
                        }
                    }
                }
                continue;
            }
            '\'' => {
                i = lx.skip_quoted(i + 1, '\'', false).ok_or_else(|| {
                    lx.error(start, Problem::Unterminated, "string is never closed".into())
                })?;
            }
            '"' => {
                i = lx.skip_quoted(i + 1, '"', false).ok_or_else(|| {
                    lx.error(
                        start,
                        Problem::Unterminated,
                        "quoted identifier is never closed".into(),
                    )
                })?;
            }
            '$' => {
                if let Some(body) = lx.dollar_open(i) {
                    let tag = &text[lx.off(i)..lx.off(body)];
                    let from = lx.off(body);
                    let Some(found) = text[from..].find(tag) else {
                        return Err(lx.error(
                            start,
                            Problem::Unterminated,
                            format!("dollar-quoted body opened with {tag} is never closed"),
                        ));
                    };
                    i = lx.index_of(from + found + tag.len());
                } else {
                    i += 1;
                    while lx.at(i).is_some_and(|c| c.is_ascii_digit()) {
                        i += 1;
                    }
                }
            }
            '\\' => {
                return Err(lx.error(
                    i,
                    Problem::MetaCommand,
                    format!(
                        "backslash outside quotes: psql would run `{}` as a meta-command on the machine executing the script",
                        lx.excerpt(i)
                    ),
                ))
            }
            ':' if lx.at(i + 1) == Some(':') => i += 2,
            ':' if lx
                .at(i + 1)
                .is_some_and(|n| is_var_char(n) || matches!(n, '\'' | '"' | '{')) =>
            {
                return Err(lx.error(
                    i,
                    Problem::Variable,
                    format!(
                        "`{}` outside quotes: psql would replace it with the value of a psql variable (write a space after `:` in an array slice)",
                        lx.excerpt(i)
                    ),
                ))
            }
            ';' => {
                if fragment {
                    return Err(lx.error(
                        i,
                        Problem::Semicolon,
                        "`;` would end the statement built around this fragment".into(),
                    ));
                }
                if let Some(&open) = parens.last() {
                    return Err(lx.error(open, Problem::Parenthesis, "`(` is not closed before `;`: psql would not end the statement there".into()));
                }
                in_statement = false;
                i += 1;
                scan.ends.push(lx.off(i));
                continue;
            }
            '(' => {
                parens.push(i);
                i += 1;
            }
            ')' => {
                if parens.pop().is_none() {
                    return Err(lx.error(
                        i,
                        Problem::Parenthesis,
                        "`)` closes a parenthesis that was never opened".into(),
                    ));
                }
                i += 1;
            }
            c if is_ident_start(c) => {
                let mut j = i + 1;
                while lx.at(j).is_some_and(is_ident_cont) {
                    j += 1;
                }
                let w = text[lx.off(i)..lx.off(j)].to_lowercase();
                if w == "e" && lx.at(j) == Some('\'') {
                    j = lx.skip_quoted(j + 1, '\'', true).ok_or_else(|| {
                        lx.error(start, Problem::Unterminated, "string is never closed".into())
                    })?;
                }
                word = Some(w);
                i = j;
            }
            c if c.is_ascii_digit() => {
                while lx
                    .at(i)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                {
                    i += 1;
                }
                // psql 15 reads `1e'x'` as junk followed by a plain string; psql 14 and
                // older as the number 1 followed by an E'...' string (with escapes).
                if matches!(lx.at(i - 1), Some('e' | 'E')) && lx.at(i) == Some('\'') {
                    return Err(lx.error(
                        start,
                        Problem::Ambiguous,
                        format!(
                            "`{}`: versions of psql disagree on where this string ends; put a space before it",
                            lx.excerpt(start)
                        ),
                    ));
                }
            }
            _ => i += 1,
        }
        if !in_statement {
            in_statement = true;
            scan.statements.push(word.unwrap_or_default());
        }
    }
    if let Some(&open) = parens.last() {
        return Err(lx.error(open, Problem::Parenthesis, "`(` is never closed".into()));
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
    }

    #[test]
    fn offsets_are_bytes() {
        let e = scan_script("SELECT 'é'; \\x").unwrap_err();
        assert_eq!(e.offset, "SELECT 'é'; ".len());
    }
}
