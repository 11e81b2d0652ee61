//! Reading SDL files and reporting their diagnostics the way a compiler does: drawn by
//! `annotate-snippets` (the header with severity and code, `--> file:line:column`, the
//! source line with a caret, the help), coloured with `anstyle` and written through
//! `anstream`, which drops the colour when standard error is not a terminal, or when
//! `NO_COLOR` is set (`CLICOLOR_FORCE` forces it).

use annotate_snippets::renderer::DecorStyle;
use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use anstyle::{AnsiColor, Effects};
use anyhow::Context;
use std::io::Write as _;
use std::path::Path;
use wesley_planner::diag::Severity;
use wesley_planner::{sdl, Diagnostic, Schema};

/// An SDL file read from disk (or `-` for standard input).
pub struct SourceFile {
    /// The path as given on the command line (`-` for standard input); diagnostics name
    /// the file by it.
    pub name: String,
    /// The whole text, as read (UTF-8).
    pub text: String,
}

impl SourceFile {
    /// Reads `path`, or standard input when it is `-`. Fails when the file cannot be read
    /// or is not UTF-8.
    pub fn read(path: &Path) -> anyhow::Result<SourceFile> {
        let name = path.display().to_string();
        let text = if name == "-" {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .context("reading standard input")?;
            s
        } else {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {name}"))?
        };
        Ok(SourceFile { name, text })
    }
}

/// Parses the file and prints its diagnostics to stderr. `None` when it has errors.
pub fn parse_and_report(src: &SourceFile) -> Option<Schema> {
    let (schema, diags) = sdl::parse(&src.name, &src.text);
    report(&diags, &src.text);
    schema
}

/// Prints `diags` to standard error, then `N error(s); nothing was generated` when there
/// are errors. `text` is the source their spans point into (`""` when they have none, as
/// for a plan's diagnostics).
pub fn report(diags: &[Diagnostic], text: &str) {
    let renderer = Renderer::styled()
        .error(AnsiColor::Red.on_default().effects(Effects::BOLD))
        .warning(AnsiColor::Yellow.on_default().effects(Effects::BOLD));
    let mut out = render(diags, text, &renderer);
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        out.push_str(&format!("{errors} error(s); nothing was generated\n"));
    }
    // One write: the diagnostics of one file stay together when stderr is shared.
    let _ = anstream::stderr().write_all(out.as_bytes());
}

/// The diagnostics as `renderer` draws them, one after the other, each ending with a
/// newline. Long source lines are shown whole.
fn render(diags: &[Diagnostic], text: &str, renderer: &Renderer) -> String {
    let renderer = renderer
        .clone()
        .decor_style(DecorStyle::Ascii)
        .term_width(usize::MAX / 2);
    let mut out = String::new();
    for d in diags {
        out.push_str(&renderer.render(&[group(d, text)]));
        out.push('\n');
    }
    out
}

/// One diagnostic as annotate-snippets' report: the title (severity, code, message), the
/// source line with a caret at the span (or only `--> file:line:column` when the line is
/// not in `text`), and the help.
fn group<'a>(d: &'a Diagnostic, text: &'a str) -> Group<'a> {
    let level = match d.severity() {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let mut group = Group::with_title(level.primary_title(&d.message).id(d.code.as_str()));
    if let Some(span) = &d.span {
        group = match offset_of(text, span.line, span.column) {
            Some(at) => group.element(
                Snippet::source(text)
                    .path(span.file.as_str())
                    .annotation(AnnotationKind::Primary.span(at..at)),
            ),
            None => group.element(
                Origin::path(span.file.as_str())
                    .line(span.line)
                    .char_column(span.column),
            ),
        };
    }
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    group
}

/// The byte offset of one-based `line` and `column` (in characters) in `text`, the column
/// kept within the line; `None` when the text has no such line.
fn offset_of(text: &str, line: usize, column: usize) -> Option<usize> {
    let start = if line == 1 {
        0
    } else {
        text.match_indices('\n').nth(line.checked_sub(2)?)?.0 + 1
    };
    let rest = &text[start..];
    if rest.is_empty() && line > 1 {
        return None;
    }
    let line_text = &rest[..rest.find('\n').unwrap_or(rest.len())];
    let line_text = line_text.strip_suffix('\r').unwrap_or(line_text);
    let within = line_text
        .char_indices()
        .nth(column.saturating_sub(1))
        .map_or(line_text.len(), |(i, _)| i);
    Some(start + within)
}

#[cfg(test)]
mod tests {
    use super::*;
    use wesley_planner::diag::{Code, Pos};

    fn plain(diags: &[Diagnostic], text: &str) -> String {
        render(diags, text, &Renderer::plain())
    }

    #[test]
    fn renders_like_a_compiler() {
        let text = "type Post @wes_table {\n  id: ID! @wes_pk\n  authorId: Int! @wes_fk(ref: \"Author.id\")\n}\n";
        let d = Diagnostic::at(
            Code::E0034,
            "schema.graphql",
            Pos::new(3, 31),
            "foreign key column `author_id` is `integer` but `author.id` is `uuid`",
        )
        .with_help("give `authorId` the type of the column it references");
        assert_eq!(
            plain(&[d], text),
            r#"error[E0034]: foreign key column `author_id` is `integer` but `author.id` is `uuid`
 --> schema.graphql:3:31
  |
3 |   authorId: Int! @wes_fk(ref: "Author.id")
  |                               ^
  |
  = help: give `authorId` the type of the column it references
"#
        );
    }

    #[test]
    fn carets_count_characters_and_tabs() {
        let text = "type A @wes_table {\r\n\tid: ID! @wes_pk\r\n\tnäme: Föö\r\n}\r\n";
        let d = Diagnostic::at(Code::E0020, "a.graphql", Pos::new(3, 8), "unknown type")
            .with_help("fix it");
        assert_eq!(
            plain(&[d], text),
            r#"error[E0020]: unknown type
 --> a.graphql:3:8
  |
3 |     näme: Föö
  |           ^
  |
  = help: fix it
"#
        );
    }

    #[test]
    fn without_the_line_or_a_span_there_is_no_snippet() {
        let past_the_end =
            Diagnostic::at(Code::E0001, "a.graphql", Pos::new(3, 1), "end").with_help("close it");
        let plan = Diagnostic::new(Code::W0110, None, "ignored").with_help("remove it");
        assert_eq!(
            plain(&[past_the_end, plan], "type A {\n  id: ID!\n"),
            r#"error[E0001]: end
--> a.graphql:3:1
 = help: close it
warning[W0110]: ignored
 |
 = help: remove it
"#
        );
    }

    #[test]
    fn long_lines_are_shown_whole() {
        let text = format!(
            "type A @wes_table @wes_rls(select: \"{}\") {{}}\n",
            "x".repeat(300)
        );
        let d = Diagnostic::at(Code::W0105, "a.graphql", Pos::new(1, 320), "late");
        assert!(plain(&[d], &text).contains(text.trim_end()));
    }

    /// Colour is all `anstream` removes for NO_COLOR or a file: without it, the output is
    /// the plain rendering, byte for byte.
    #[test]
    fn styled_output_without_colour_is_the_plain_output() {
        let text = "type A @wes_table {\n  x: Foo\n}\n";
        let diags = [
            Diagnostic::at(Code::W0102, "a.graphql", Pos::new(1, 1), "no key").with_help("add one"),
            Diagnostic::at(Code::E0020, "a.graphql", Pos::new(2, 3), "unknown").with_help("fix"),
        ];
        let styled = render(&diags, text, &Renderer::styled());
        assert!(styled.contains('\x1b'), "{styled:?}");
        assert_eq!(
            anstream::adapter::strip_str(&styled).to_string(),
            plain(&diags, text)
        );
    }
}
