//! A quick lexical pass over the raw SDL that finds the prototype's non-GraphQL spellings
//! (`@@primaryKey(...)`, positional directive arguments such as `@uid("x")`) and reports
//! each with its position and the right spelling, before graphql-parser would stop at the
//! first one with a generic message.

use crate::diag::{Code, Diagnostic, Pos};

struct Cursor<'a> {
    chars: Vec<char>,
    i: usize,
    line: usize,
    col: usize,
    _src: &'a str,
}

impl<'a> Cursor<'a> {
    fn new(src: &'a str) -> Self {
        Cursor {
            chars: src.chars().collect(),
            i: 0,
            line: 1,
            col: 1,
            _src: src,
        }
    }
    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }
    fn pos(&self) -> Pos {
        Pos::new(self.line, self.col)
    }
    fn bump(&mut self) -> Option<char> {
        let c = self.chars.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }
    /// Skips whitespace, commas and `#` comments.
    fn skip_trivia(&mut self) {
        while let Some(c) = self.peek(0) {
            if c.is_whitespace() || c == ',' || c == '\u{feff}' {
                self.bump();
            } else if c == '#' {
                while let Some(c) = self.peek(0) {
                    if c == '\n' {
                        break;
                    }
                    self.bump();
                }
            } else {
                break;
            }
        }
    }
    /// Skips a string or block string starting at the cursor; false if unterminated.
    fn skip_string(&mut self) -> bool {
        if self.peek(0) == Some('"') && self.peek(1) == Some('"') && self.peek(2) == Some('"') {
            for _ in 0..3 {
                self.bump();
            }
            loop {
                match self.peek(0) {
                    None => return false,
                    Some('\\') if self.peek(1) == Some('"') => {
                        self.bump();
                        self.bump();
                    }
                    Some('"') if self.peek(1) == Some('"') && self.peek(2) == Some('"') => {
                        for _ in 0..3 {
                            self.bump();
                        }
                        return true;
                    }
                    Some(_) => {
                        self.bump();
                    }
                }
            }
        }
        self.bump();
        loop {
            match self.peek(0) {
                None | Some('\n') => return false,
                Some('\\') => {
                    self.bump();
                    self.bump();
                }
                Some('"') => {
                    self.bump();
                    return true;
                }
                Some(_) => {
                    self.bump();
                }
            }
        }
    }
    fn name(&mut self) -> String {
        let mut s = String::new();
        while let Some(c) = self.peek(0) {
            if c.is_ascii_alphanumeric() || c == '_' {
                s.push(c);
                self.bump();
            } else {
                break;
            }
        }
        s
    }
}

/// True when the text holds no definitions at all (only whitespace and comments).
pub fn is_blank(src: &str) -> bool {
    let mut c = Cursor::new(src);
    c.skip_trivia();
    c.peek(0).is_none()
}

/// Every `@@directive` (E0002) and positional directive argument (E0003) in `src`, each
/// at its position in `file`. Skips strings and comments; finds nothing in valid SDL.
pub fn scan(file: &str, src: &str) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let mut c = Cursor::new(src);
    loop {
        c.skip_trivia();
        let Some(ch) = c.peek(0) else { break };
        match ch {
            '"' => {
                // Unterminated strings are left to graphql-parser, which locates them.
                if !c.skip_string() {
                    break;
                }
            }
            '@' if c.peek(1) == Some('@') => {
                let at = c.pos();
                c.bump();
                c.bump();
                let name = c.name();
                let (fix, what) = match name.as_str() {
                    "primaryKey" | "id" | "pk" => {
                        ("@wes_pk(columns: [...])", "a composite primary key")
                    }
                    "unique" => (
                        "@wes_unique(columns: [...])",
                        "a composite unique constraint",
                    ),
                    "index" => ("@wes_index(columns: [...])", "a composite index"),
                    _ => ("@wes_<name>(...)", "a type-level directive"),
                };
                out.push(
                    Diagnostic::at(
                        Code::E0002,
                        file,
                        at,
                        format!("`@@{name}` is not GraphQL: directives take a single `@`"),
                    )
                    .with_help(format!(
                        "declare {what} on the type itself, after its name: `type T {fix} {{ ... }}` (`fields:` is accepted as a synonym of `columns:`)"
                    )),
                );
            }
            '@' => {
                c.bump();
                let name = c.name();
                c.skip_trivia();
                if c.peek(0) == Some('(') {
                    c.bump();
                    c.skip_trivia();
                    let arg_pos = c.pos();
                    let first = c.peek(0);
                    let is_named = match first {
                        Some(ch) if ch.is_ascii_alphabetic() || ch == '_' => {
                            let save = (c.i, c.line, c.col);
                            let _ = c.name();
                            c.skip_trivia();
                            let named = c.peek(0) == Some(':');
                            (c.i, c.line, c.col) = save;
                            named
                        }
                        Some(')') => true,
                        _ => false,
                    };
                    if !is_named {
                        let arg = suggested_arg(&name);
                        out.push(
                            Diagnostic::at(
                                Code::E0003,
                                file,
                                arg_pos,
                                format!("`@{name}` has a positional argument; GraphQL arguments must be named"),
                            )
                            .with_help(format!("write `@{name}({arg}: ...)`")),
                        );
                    }
                }
            }
            _ => {
                c.bump();
            }
        }
    }
    out
}

fn suggested_arg(directive: &str) -> &'static str {
    let base = directive
        .strip_prefix("wes_")
        .or_else(|| directive.strip_prefix("wesley_"))
        .unwrap_or(directive);
    match base {
        "fk" | "foreignKey" | "belongsTo" => "ref",
        "check" | "default" => "expr",
        "type" => "sql",
        "table" | "column" => "name",
        "tenant" => "by",
        "owner" => "column",
        "index" | "unique" | "pk" | "primaryKey" => "columns",
        _ => "value",
    }
}
