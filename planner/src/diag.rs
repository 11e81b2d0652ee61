//! Diagnostics: user mistakes in SDL (and, later, in plans) reported as plain data with a
//! stable code, a severity, a source span, a message and help text. Nothing here panics
//! or fails; rendering to a terminal is a pure function of the diagnostic and the source.

use serde::Serialize;
use std::fmt::Write as _;

/// How serious a diagnostic is. Errors make the input unusable; warnings never change an
/// exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// A one-based line/column position in a source file (columns count characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl Pos {
    pub fn new(line: usize, column: usize) -> Self {
        Pos { line, column }
    }
}

/// One finding about an input file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Stable code, e.g. `E0201`. Documented in docs/diagnostics.md; never reused.
    pub code: &'static str,
    pub severity: Severity,
    /// The file the position refers to, as the caller named it.
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// What to do about it, written as an imperative sentence.
    pub help: Option<String>,
}

impl Diagnostic {
    pub fn error(code: &'static str, file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            severity: Severity::Error,
            file: file.to_string(),
            line: pos.line.max(1),
            column: pos.column.max(1),
            message: message.into(),
            help: None,
        }
    }

    pub fn warning(code: &'static str, file: &str, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, file, pos, message)
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// Renders the diagnostic like a compiler does: a header, the source line and a caret.
    /// `source` is the text of `self.file`; pass `None` when it is not at hand.
    pub fn render(&self, source: Option<&str>) -> String {
        let mut out = String::new();
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let _ = writeln!(out, "{sev}[{}]: {}", self.code, self.message);
        if self.file.is_empty() {
            // Not about a place in a file (e.g. a planning diagnostic).
            if let Some(help) = &self.help {
                let _ = writeln!(out, "  = help: {help}");
            }
            return out;
        }
        let _ = writeln!(out, "  --> {}:{}:{}", self.file, self.line, self.column);
        if let Some(text) = source.and_then(|s| s.lines().nth(self.line - 1)) {
            let gutter = self.line.to_string().len();
            let text = text.replace('\t', " ");
            let _ = writeln!(out, "{:gutter$} |", "");
            let _ = writeln!(out, "{} | {}", self.line, text);
            let caret_pad = self.column.saturating_sub(1).min(text.chars().count());
            let _ = writeln!(out, "{:gutter$} | {:caret_pad$}^", "", "");
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "  = help: {help}");
        }
        out
    }
}

/// True when any diagnostic in the list is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(Diagnostic::is_error)
}

/// Sorts diagnostics by file position, then code, so output is deterministic.
pub fn sort(diags: &mut [Diagnostic]) {
    diags.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code, &a.message)
            .cmp(&(&b.file, b.line, b.column, b.code, &b.message))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_under_column() {
        let d = Diagnostic::error("E0001", "s.graphql", Pos::new(2, 5), "bad thing")
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
}
