//! Diagnostics: user mistakes in SDL, and changes a plan cannot make safely, reported as
//! plain data: a [`Code`] from a closed list (which fixes the severity), an optional
//! [`Span`] in a source file, a message and help text. Nothing here panics or fails;
//! rendering is a pure function of the diagnostic and the source.

use serde::Serialize;
use std::fmt::{self, Write as _};

/// How serious a diagnostic is. Errors make the input unusable; warnings never change an
/// exit code. Serialized (and [`Severity::as_str`]) as `error` or `warning`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The input cannot be used: no model, no plan to apply.
    Error,
    /// Worth knowing; changes nothing.
    Warning,
}

impl Severity {
    /// `error` or `warning`: the spelling of headers, of plan files and of the browser's
    /// diagnostics.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// Declares [`Code`]: each code once, with its severity and its one-line title. The titles
/// are the "Meaning" column of the summary table in docs/diagnostics.md (a test compares
/// them).
macro_rules! codes {
    ($($code:ident $severity:ident $title:literal,)*) => {
        /// Every diagnostic code Wesley reports, documented in docs/diagnostics.md. A code
        /// is never reused for another meaning. `E` codes are errors and `W` codes
        /// warnings. E0001 to E0062 and W0100 to W0105 come from the SDL, E0101 and up and
        /// W0110 and up from planning (they have no span).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $(
                #[doc = $title]
                $code,
            )*
        }

        impl Code {
            /// Every code, in the order of docs/diagnostics.md.
            pub const ALL: &'static [Code] = &[$(Code::$code),*];

            /// The stable spelling, e.g. `E0034`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Code::$code => stringify!($code),)*
                }
            }

            /// Whether the code is an error or a warning (the letter says the same).
            pub fn severity(self) -> Severity {
                match self {
                    $(Code::$code => Severity::$severity,)*
                }
            }

            /// What the code is about, in a few words (docs/diagnostics.md's summary).
            pub fn title(self) -> &'static str {
                match self {
                    $(Code::$code => $title,)*
                }
            }
        }
    };
}

codes! {
    E0001 Error "invalid GraphQL syntax",
    E0002 Error "`@@directive` is not GraphQL",
    E0003 Error "positional directive argument",
    E0004 Error "`extend` is not supported",
    E0010 Error "a type is defined twice",
    E0011 Error "two types map to the same table",
    E0012 Error "two fields map to the same column",
    E0013 Error "name collision (reserved, not currently reported)",
    E0014 Error "name longer than 63 bytes",
    E0015 Error "empty name",
    E0016 Error "description PostgreSQL cannot store as a comment",
    E0020 Error "unknown field type",
    E0021 Error "invalid `@wes_type`",
    E0022 Error "object-typed field that is not a relation, or relation on a scalar",
    E0023 Error "list of lists",
    E0024 Error "invalid identity or serial column",
    E0025 Error "invalid generated column",
    E0030 Error "invalid primary key",
    E0031 Error "unknown column in `columns:`",
    E0032 Error "foreign key to an unknown type",
    E0033 Error "foreign key to an unknown field",
    E0034 Error "foreign key between incompatible types",
    E0035 Error "foreign key to a column that is not unique",
    E0040 Error "bad or missing directive argument",
    E0041 Error "default does not fit the column",
    E0042 Error "null default on a non-null field",
    E0043 Error "unknown argument on a key, constraint or index",
    E0044 Error "invalid expression index",
    E0050 Error "unsafe SQL fragment",
    E0051 Error "subquery where PostgreSQL allows none",
    E0060 Error "`@wes_tenant`/`@wes_owner` names an unknown column",
    E0061 Error "two objects share a PostgreSQL name",
    E0062 Error "policy reads an unknown or unquoted table",
    E0063 Error "two values of one enum share a `@wes_uid`",
    W0100 Warning "unknown directive",
    W0101 Warning "reserved word as table or column name",
    W0102 Warning "table without a primary key",
    W0103 Warning "index duplicates a key's index",
    W0104 Warning "argument or directive ignored",
    W0105 Warning "RLS enabled without any policy",
    E0101 Error "new NOT NULL column without a default on an existing table",
    E0102 Error "enum loses or reorders values",
    E0103 Error "column type change that cannot be done online",
    E0104 Error "the plan's steps depend on each other in a cycle",
    E0105 Error "backfill of a table without a primary key",
    E0106 Error "identity or serial change that cannot be done online",
    E0107 Error "generated column change that cannot be done online",
    E0108 Error "key change that foreign keys depend on",
    W0110 Warning "`@wes_convert` written for another change is ignored",
    W0111 Warning "an extension no longer declared stays installed",
    W0112 Warning "generated column added to an existing table rewrites it",
}

impl Code {
    /// The code spelled `s` (`E0034`), if there is one.
    pub fn parse(s: &str) -> Option<Code> {
        Code::ALL.iter().copied().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Code {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Code {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// A one-based line/column position in a source file (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
pub struct Pos {
    /// One-based line, counted at `\n`.
    pub line: usize,
    /// One-based column, in characters (not bytes).
    pub column: usize,
}

impl Pos {
    /// The position at one-based `line` and `column` (in characters).
    pub fn new(line: usize, column: usize) -> Self {
        Pos { line, column }
    }
}

/// Where in a source file a diagnostic points: the file as the caller named it (what
/// [`crate::sdl::parse`] was given) and a one-based line and column, the column counted in
/// characters. Lines are counted at `\n` in the text the parser saw (a `\r\n` file counts
/// like its `\n` form).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    /// The file's name as the caller gave it (`schema.graphql`, `-` for standard input).
    pub file: String,
    /// One-based line, at least 1.
    pub line: usize,
    /// One-based column in characters, at least 1.
    pub column: usize,
}

impl Span {
    /// The span at `pos` in `file`; a line or column of 0 (unknown) becomes 1.
    pub fn new(file: &str, pos: Pos) -> Self {
        Span {
            file: file.to_string(),
            line: pos.line.max(1),
            column: pos.column.max(1),
        }
    }
}

/// One finding about an input file or a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable code, e.g. [`Code::E0034`]; it fixes the severity.
    pub code: Code,
    /// Where in a source file; `None` for what is about no place in a file (planning).
    pub span: Option<Span>,
    /// What is wrong, in one sentence without a final period; names are in backticks.
    pub message: String,
    /// What to do about it, written as an imperative sentence.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic with code `code`, at `span` (or at no place in a file), without help.
    pub fn new(code: Code, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            span,
            message: message.into(),
            help: None,
        }
    }

    /// A diagnostic at position `pos` of `file` (see [`Span::new`]).
    pub fn at(code: Code, file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic::new(code, Some(Span::new(file, pos)), message)
    }

    /// The same diagnostic with help text.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The code's severity.
    pub fn severity(&self) -> Severity {
        self.code.severity()
    }

    /// True for an error (the input cannot be used).
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }

    /// File, line and column as the wire formats carry them (the plan file's
    /// `diagnostics`, the browser's): without a span, an empty file name at 1:1.
    pub fn location(&self) -> (&str, usize, usize) {
        match &self.span {
            Some(s) => (&s.file, s.line, s.column),
            None => ("", 1, 1),
        }
    }

    /// Renders the diagnostic as plain text, the form the golden files record: a header,
    /// `--> file:line:column`, the source line and a caret, then the help. `source` is the
    /// text of the span's file; pass `None` when it is not at hand (the source line is
    /// left out). The `wesley` binary renders the same facts with `annotate-snippets`.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}[{}]: {}",
            self.severity().as_str(),
            self.code,
            self.message
        );
        let Some(span) = &self.span else {
            // Not about a place in a file (e.g. a planning diagnostic).
            if let Some(help) = &self.help {
                let _ = writeln!(out, "  = help: {help}");
            }
            return out;
        };
        let _ = writeln!(out, "  --> {}:{}:{}", span.file, span.line, span.column);
        if let Some(text) = source.and_then(|s| s.lines().nth(span.line - 1)) {
            let gutter = span.line.to_string().len();
            let text = text.replace('\t', " ");
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{} | {}", span.line, text);
            let caret_pad = span.column.saturating_sub(1).min(text.chars().count());
            let _ = writeln!(out, "{:gutter$} | {:caret_pad$}^", "", "");
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// The wire form (the browser's diagnostics, through `serde-wasm-bindgen`): `code`,
/// `severity`, `file`, `line`, `column`, `message`, `help`, with [`Diagnostic::location`]
/// for the place.
impl Serialize for Diagnostic {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire<'a> {
            code: &'static str,
            severity: Severity,
            file: &'a str,
            line: usize,
            column: usize,
            message: &'a str,
            help: Option<&'a str>,
        }
        let (file, line, column) = self.location();
        Wire {
            code: self.code.as_str(),
            severity: self.severity(),
            file,
            line,
            column,
            message: &self.message,
            help: self.help.as_deref(),
        }
        .serialize(serializer)
    }
}

/// True when any diagnostic in the list is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// Sorts diagnostics by file position (those without a span first, as if at 1:1 of an
/// unnamed file), then code and message, so output is deterministic.
pub fn sort(diags: &mut [Diagnostic]) {
    fn key(d: &Diagnostic) -> (&str, usize, usize, &str, &str) {
        let (file, line, column) = d.location();
        (file, line, column, d.code.as_str(), &d.message)
    }
    diags.sort_by(|a, b| key(a).cmp(&key(b)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_column() {
        let d = Diagnostic::at(Code::E0001, "s.graphql", Pos::new(2, 5), "bad thing")
            .with_help("do the good thing");
        let got = d.render(Some("type A {\n  a: Foo\n}\n"));
        expect_test::expect![[r#"
            error[E0001]: bad thing
              --> s.graphql:2:5
              |
            2 |   a: Foo
              |     ^
              = help: do the good thing
        "#]]
        .assert_eq(&got);
    }

    #[test]
    fn without_a_span_there_is_no_location() {
        let d = Diagnostic::new(Code::W0110, None, "ignored").with_help("remove it");
        expect_test::expect![[r#"
            warning[W0110]: ignored
              = help: remove it
        "#]]
        .assert_eq(&d.render(Some("type A {}\n")));
        assert_eq!(d.location(), ("", 1, 1));
    }

    #[test]
    fn serializes_flat_as_before() {
        let located = Diagnostic::at(Code::E0034, "s.graphql", Pos::new(7, 0), "m");
        assert_eq!(
            serde_json::to_string(&located).unwrap(),
            r#"{"code":"E0034","severity":"error","file":"s.graphql","line":7,"column":1,"message":"m","help":null}"#
        );
        let plan = Diagnostic::new(Code::W0110, None, "m").with_help("h");
        assert_eq!(
            serde_json::to_string(&plan).unwrap(),
            r#"{"code":"W0110","severity":"warning","file":"","line":1,"column":1,"message":"m","help":"h"}"#
        );
    }

    #[test]
    fn codes_are_spelled_by_their_severity() {
        for &c in Code::ALL {
            let letter = match c.severity() {
                Severity::Error => 'E',
                Severity::Warning => 'W',
            };
            assert!(c.as_str().starts_with(letter), "{c}");
            assert_eq!(Code::parse(c.as_str()), Some(c));
        }
        assert_eq!(Code::parse("E9999"), None);
    }

    /// docs/diagnostics.md's summary table lists every code once, with the severity and
    /// title the code has here, and nothing else.
    #[test]
    fn summary_table_matches_the_codes() {
        let doc = include_str!("../../docs/diagnostics.md");
        let rows: Vec<(String, String, String)> = doc
            .lines()
            .filter_map(|l| {
                let rest = l.strip_prefix("| [")?;
                let (code, rest) = rest.split_once(']')?;
                let cells: Vec<&str> = rest.split(" | ").collect();
                Some((
                    code.to_string(),
                    cells.get(1)?.trim().to_string(),
                    cells.get(2)?.trim_end_matches(" |").trim().to_string(),
                ))
            })
            .collect();
        let expected: Vec<(String, String, String)> = Code::ALL
            .iter()
            .map(|c| {
                (
                    c.as_str().to_string(),
                    c.severity().as_str().to_string(),
                    c.title().to_string(),
                )
            })
            .collect();
        assert_eq!(rows, expected);
    }
}
