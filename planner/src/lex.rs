//! The one SQL lexer behind both guards on SQL that reaches PostgreSQL through psql:
//! user-written fragments in the SDL (`@wes_check(expr:)`, defaults, predicates, policies:
//! [`crate::expr`]) and plan files streamed to psql ([`crate::planfile::psql`]). Both guard
//! a security boundary, so both read SQL the way psql's own lexer (`psqlscan.l`) does, and a
//! fix here reaches both. What each accepts differs only by [`Policy`].
//!
//! Both policies refuse, outside quotes and comments:
//! - a backslash: psql runs what follows as a meta-command (`\!`, `\o`, `\copy`, `\gexec`)
//!   on the machine executing the script, whatever the database allows;
//! - `:name`, `:'name'`, `:"name"`, `:{?name}`: psql replaces them with the value of a psql
//!   variable (`::` is a cast);
//! - a string, quoted identifier, dollar body or block comment that never ends, and
//!   unbalanced parentheses: glued to the SQL that follows, they would turn its text inside
//!   out (and psql does not end a statement at `;` inside parentheses);
//! - a number glued to `e'` (`1e'...'`): psql 14 and older read it as 1 followed by an
//!   `E'...'` string with backslash escapes, psql 15 as a plain string, so the versions
//!   disagree on where the string ends.
//!
//! [`Policy::Fragment`] (a piece of one statement that Wesley puts inside its own SQL)
//! also refuses `;`, comments, and every `$` that starts a token (dollar quotes and
//! positional parameters). [`Policy::PsqlScript`] (whole statements) accepts them: `;`
//! ends a statement, comments are skipped, `$tag$...$tag$` bodies are opaque.
//!
//! Strings: `'...'` (with `''`) are read with `standard_conforming_strings` on (a
//! backslash is an ordinary character), PostgreSQL's default, which the SQL rendering sets
//! before anything else runs; `E'...'` strings take backslash escapes. `--` comments end at
//! a newline or a carriage return; `/* */` comments nest.

/// Which SQL the text is, and so what the lexer accepts (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// A piece of one statement: no `;`, no comments, no `$` tokens.
    Fragment,
    /// Whole statements, as psql reads a script.
    PsqlScript,
}

/// What a token is. Tokens never include whitespace or comments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// A keyword or bare identifier, as written: a letter, `_` or any non-ASCII character,
    /// then those, ASCII digits and `$`.
    Word,
    /// `"..."`, quotes included (`""` inside stands for one `"`).
    QuotedIdent,
    /// `'...'` or `E'...'`, quotes (and the `E`) included. `U&'...'`, `B'...'` and
    /// `X'...'` are a word followed by a string.
    String,
    /// `$tag$ ... $tag$` (only under [`Policy::PsqlScript`]).
    DollarBody,
    /// `$` and the digits after it, a positional parameter (only under
    /// [`Policy::PsqlScript`]).
    Param,
    /// A digit, then ASCII letters, digits, `_` and `.` (`1`, `1.5e3`, `0x1F`).
    Number,
    /// A `;` that ends a statement (only under [`Policy::PsqlScript`]).
    Semicolon,
    /// Any other single character (`(`, `)`, `.`, `,`, `:`, operators); `::` is two.
    Punct(char),
}

/// One token: its kind and where it is, as byte offsets into the text (`start..end`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Token {
    /// What it is.
    pub kind: TokenKind,
    /// Byte offset of the first character.
    pub start: usize,
    /// Byte offset just after the last character.
    pub end: usize,
}

/// What never ends, in [`Fault::Unterminated`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unclosed {
    /// `'...` or `E'...`.
    String,
    /// `"...`.
    QuotedIdent,
    /// `$tag$...` without its closing tag.
    DollarBody,
    /// `/* ...` (nested comments count).
    BlockComment,
}

/// Why a text was refused. Each front end words its own message from this.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A backslash outside quotes and comments: a psql meta-command.
    MetaCommand,
    /// `:name`, `:'name'`, `:"name"` or `:{?name}` outside quotes and comments.
    Variable,
    /// A quoted run or block comment that never ends.
    Unterminated(Unclosed),
    /// A `)` that closes no `(`.
    UnopenedParen,
    /// A `(` that is never closed.
    UnclosedParen,
    /// A `(` still open at a `;` (psql would not end the statement there).
    UnclosedParenAtSemicolon,
    /// `;` in a fragment.
    Semicolon,
    /// `--` in a fragment.
    LineComment,
    /// `/*` in a fragment.
    BlockComment,
    /// `$` starting a token in a fragment: a dollar quote or a positional parameter.
    Dollar,
    /// A number glued to `e'`, which versions of psql read differently.
    Ambiguous,
}

/// A refusal: the fault, at byte offset `offset` of the text. The offset is that of the
/// offending character, or of the start of what never ends (the `E` of `E'...`, the first
/// `$` of a dollar tag), or of the unclosed `(`, or of the number before `e'`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Error {
    /// Byte offset into the text.
    pub offset: usize,
    /// What is wrong there.
    pub fault: Fault,
}

/// Lexes `text` under `policy`: its tokens in order, or the first reason to refuse it.
pub fn tokens(text: &str, policy: Policy) -> Result<Vec<Token>, Error> {
    Lexer {
        text,
        cs: text.char_indices().collect(),
        policy,
    }
    .run()
}

/// A short excerpt of `text` from byte offset `offset` to the end of its line, at most 24
/// characters (then `...`), for messages that quote what psql would act on.
pub fn excerpt(text: &str, offset: usize) -> String {
    let rest = text.get(offset..).unwrap_or("");
    let line = rest.split(['\n', '\r']).next().unwrap_or("");
    let mut out: String = line.chars().take(24).collect();
    if line.chars().count() > 24 {
        out.push_str("...");
    }
    out
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
    /// The characters with their byte offsets; indexes below count characters.
    cs: Vec<(usize, char)>,
    policy: Policy,
}

impl Lexer<'_> {
    fn at(&self, i: usize) -> Option<char> {
        self.cs.get(i).map(|&(_, c)| c)
    }

    /// Byte offset of char `i` (the text's length past the end).
    fn off(&self, i: usize) -> usize {
        self.cs.get(i).map_or(self.text.len(), |&(o, _)| o)
    }

    /// The char index of byte offset `o` (which is on a char boundary).
    fn index_of(&self, o: usize) -> usize {
        self.cs.partition_point(|&(b, _)| b < o)
    }

    fn fail(&self, i: usize, fault: Fault) -> Error {
        Error {
            offset: self.off(i),
            fault,
        }
    }

    /// Skips a quoted run whose opening quote is just before `i`; returns the index after
    /// the closing quote. `backslash` is true for `E'...'` strings.
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

    fn run(&self) -> Result<Vec<Token>, Error> {
        let fragment = self.policy == Policy::Fragment;
        let mut out = Vec::new();
        let mut parens: Vec<usize> = Vec::new();
        let mut i = 0;
        while let Some(c) = self.at(i) {
            let mut start = i;
            let kind = match c {
                c if c.is_whitespace() => {
                    i += 1;
                    continue;
                }
                '-' if self.at(i + 1) == Some('-') => {
                    if fragment {
                        return Err(self.fail(i, Fault::LineComment));
                    }
                    while self.at(i).is_some_and(|c| c != '\n' && c != '\r') {
                        i += 1;
                    }
                    continue;
                }
                '/' if self.at(i + 1) == Some('*') => {
                    if fragment {
                        return Err(self.fail(i, Fault::BlockComment));
                    }
                    let mut depth = 0usize;
                    loop {
                        match (self.at(i), self.at(i + 1)) {
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
                                let unclosed = Fault::Unterminated(Unclosed::BlockComment);
                                return Err(self.fail(start, unclosed));
                            }
                        }
                    }
                    continue;
                }
                '\'' => {
                    i = self
                        .skip_quoted(i + 1, '\'', false)
                        .ok_or_else(|| self.fail(start, Fault::Unterminated(Unclosed::String)))?;
                    TokenKind::String
                }
                '"' => {
                    i = self.skip_quoted(i + 1, '"', false).ok_or_else(|| {
                        self.fail(start, Fault::Unterminated(Unclosed::QuotedIdent))
                    })?;
                    TokenKind::QuotedIdent
                }
                '$' if fragment => return Err(self.fail(i, Fault::Dollar)),
                '$' => {
                    if let Some(body) = self.dollar_open(i) {
                        let tag = &self.text[self.off(i)..self.off(body)];
                        let from = self.off(body);
                        let Some(found) = self.text[from..].find(tag) else {
                            let unclosed = Fault::Unterminated(Unclosed::DollarBody);
                            return Err(self.fail(start, unclosed));
                        };
                        i = self.index_of(from + found + tag.len());
                        TokenKind::DollarBody
                    } else {
                        i += 1;
                        while self.at(i).is_some_and(|c| c.is_ascii_digit()) {
                            i += 1;
                        }
                        TokenKind::Param
                    }
                }
                '\\' => return Err(self.fail(i, Fault::MetaCommand)),
                ':' if self.at(i + 1) == Some(':') => {
                    // A cast: two tokens, so that `:` never starts a variable here.
                    out.push(Token {
                        kind: TokenKind::Punct(':'),
                        start: self.off(i),
                        end: self.off(i + 1),
                    });
                    start = i + 1;
                    i += 2;
                    TokenKind::Punct(':')
                }
                ':' if self
                    .at(i + 1)
                    .is_some_and(|n| is_var_char(n) || matches!(n, '\'' | '"' | '{')) =>
                {
                    return Err(self.fail(i, Fault::Variable))
                }
                ';' => {
                    if fragment {
                        return Err(self.fail(i, Fault::Semicolon));
                    }
                    if let Some(&open) = parens.last() {
                        return Err(self.fail(open, Fault::UnclosedParenAtSemicolon));
                    }
                    i += 1;
                    TokenKind::Semicolon
                }
                '(' => {
                    parens.push(i);
                    i += 1;
                    TokenKind::Punct('(')
                }
                ')' => {
                    if parens.pop().is_none() {
                        return Err(self.fail(i, Fault::UnopenedParen));
                    }
                    i += 1;
                    TokenKind::Punct(')')
                }
                c if is_ident_start(c) => {
                    i += 1;
                    while self.at(i).is_some_and(is_ident_cont) {
                        i += 1;
                    }
                    if i == start + 1 && matches!(c, 'e' | 'E') && self.at(i) == Some('\'') {
                        i = self.skip_quoted(i + 1, '\'', true).ok_or_else(|| {
                            self.fail(start, Fault::Unterminated(Unclosed::String))
                        })?;
                        TokenKind::String
                    } else {
                        TokenKind::Word
                    }
                }
                c if c.is_ascii_digit() => {
                    while self
                        .at(i)
                        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                    {
                        i += 1;
                    }
                    // psql 15 reads `1e'x'` as junk followed by a plain string; psql 14 and
                    // older as the number 1 followed by an E'...' string (with escapes).
                    if matches!(self.at(i - 1), Some('e' | 'E')) && self.at(i) == Some('\'') {
                        return Err(self.fail(start, Fault::Ambiguous));
                    }
                    TokenKind::Number
                }
                c => {
                    i += 1;
                    TokenKind::Punct(c)
                }
            };
            out.push(Token {
                kind,
                start: self.off(start),
                end: self.off(i),
            });
        }
        if let Some(&open) = parens.last() {
            return Err(self.fail(open, Fault::UnclosedParen));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::Fault::*;
    use super::*;

    fn fault(text: &str, policy: Policy) -> Option<(usize, Fault)> {
        tokens(text, policy).err().map(|e| (e.offset, e.fault))
    }

    /// What both guards refused before they shared this lexer is refused under both
    /// policies, at the same place.
    #[test]
    fn both_policies_refuse_what_psql_would_act_on() {
        for (text, offset, expected) in [
            ("a = 1 \\! rm -rf /", 6, MetaCommand),
            ("\\copy t from 'x'", 0, MetaCommand),
            ("x \\gexec", 2, MetaCommand),
            // A standard string ends at the first lone quote: what follows is code again.
            ("'\\' \\! id", 4, MetaCommand),
            ("a = :v", 4, Variable),
            ("a = :'v'", 4, Variable),
            ("a = :\"v\"", 4, Variable),
            ("a = :{?v}", 4, Variable),
            ("a[1:2]", 3, Variable),
            ("a:::b", 3, Variable),
            // psql's variable names take any non-ASCII character.
            ("a = :€v", 4, Variable),
            ("'open", 0, Unterminated(Unclosed::String)),
            ("x = E'open\\'", 4, Unterminated(Unclosed::String)),
            ("\"open", 0, Unterminated(Unclosed::QuotedIdent)),
            ("(a = b", 0, UnclosedParen),
            ("((a) = b", 0, UnclosedParen),
            ("a) OR (b", 1, UnopenedParen),
            ("1e'\\'' \\! id'", 0, Ambiguous),
            ("x = 2E'y'", 4, Ambiguous),
            ("'é' \\x", "'é' ".len(), MetaCommand),
        ] {
            for policy in [Policy::Fragment, Policy::PsqlScript] {
                assert_eq!(
                    fault(text, policy),
                    Some((offset, expected)),
                    "{text:?} under {policy:?}"
                );
            }
        }
    }

    /// A fragment also may not end its statement, hide the rest of it, or open a dollar
    /// quote; a script may.
    #[test]
    fn only_fragments_refuse_semicolons_comments_and_dollars() {
        for (text, offset, expected) in [
            ("true; DROP TABLE users", 4, Semicolon),
            ("a = ';' ; b", 8, Semicolon),
            ("x = 1 -- hi", 6, LineComment),
            ("x /* c */", 2, BlockComment),
            ("$$x$$", 0, Dollar),
            ("a = $1", 4, Dollar),
            ("f($x$ ; $x$)", 2, Dollar),
        ] {
            assert_eq!(
                fault(text, Policy::Fragment),
                Some((offset, expected)),
                "{text:?}"
            );
            assert_eq!(fault(text, Policy::PsqlScript), None, "{text:?}");
        }
    }

    #[test]
    fn scripts_refuse_what_never_ends() {
        for (text, offset, expected) in [
            ("DO $x$ abc $y$;", 3, Unterminated(Unclosed::DollarBody)),
            ("/* /* */ x;", 0, Unterminated(Unclosed::BlockComment)),
            ("SELECT (1;", 7, UnclosedParenAtSemicolon),
        ] {
            assert_eq!(
                fault(text, Policy::PsqlScript),
                Some((offset, expected)),
                "{text:?}"
            );
        }
    }

    #[test]
    fn what_is_opaque_is_not_code() {
        for ok in [
            "'it''s \\! fine'",
            "'\\o /tmp/x' = \"we\"\"ird\\\"",
            "E'\\'\\\\' = e'\\x41'",
            "x::int = '{1,2}'::int[]",
            "ARRAY[1,2][1 : 2]",
            "U&'\\0041' || B'101' || X'1F'",
            "a$b$c = 1.5e3 AND 1 e'x' = 1e5",
        ] {
            for policy in [Policy::Fragment, Policy::PsqlScript] {
                assert_eq!(fault(ok, policy), None, "{ok:?} under {policy:?}");
            }
        }
        let script = "DO $w$ \\! x; :y $w$; -- \\! :z\r/* :a /* \\b */ */ SELECT $1;";
        assert_eq!(fault(script, Policy::PsqlScript), None);
    }

    #[test]
    fn tokens_with_byte_offsets() {
        let text = "é::int = E'x' AND \"Q\".b >= $1; $t$;$t$";
        let got: Vec<(TokenKind, &str)> = tokens(text, Policy::PsqlScript)
            .unwrap()
            .iter()
            .map(|t| (t.kind, &text[t.start..t.end]))
            .collect();
        use TokenKind::*;
        assert_eq!(
            got,
            [
                (Word, "é"),
                (Punct(':'), ":"),
                (Punct(':'), ":"),
                (Word, "int"),
                (Punct('='), "="),
                (String, "E'x'"),
                (Word, "AND"),
                (QuotedIdent, "\"Q\""),
                (Punct('.'), "."),
                (Word, "b"),
                (Punct('>'), ">"),
                (Punct('='), "="),
                (Param, "$1"),
                (Semicolon, ";"),
                (DollarBody, "$t$;$t$"),
            ]
        );
    }
}
