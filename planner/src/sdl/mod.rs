//! The Wesley SDL dialect: GraphQL SDL with `@wes_*` directives, parsed with
//! `graphql-parser` and lowered into a validated [`Schema`]. Parsing never fails: it
//! returns the model (when there are no errors) and every diagnostic found.

mod directives;
mod locate;
mod lower;
mod prescan;

use crate::diag::{self, Code, Diagnostic, Pos};
use crate::model::Schema;

pub use directives::{canonical_directive, DirectiveKind};

/// Parses and validates one SDL file. `file` is the name used in diagnostics' spans; every
/// diagnostic has one. The model is returned only when there are no errors; warnings come
/// with it. Diagnostics are sorted by position (see [`diag::sort`]).
pub fn parse(file: &str, src: &str) -> (Option<Schema>, Vec<Diagnostic>) {
    // graphql-parser counts the `\r\n` ending a `#` comment as two lines, which would put
    // every later diagnostic of a CRLF file too low; with `\n` alone all positions agree.
    let normalized;
    let src = if src.contains("\r\n") {
        normalized = src.replace("\r\n", "\n");
        normalized.as_str()
    } else {
        src
    };
    let mut diags = prescan::scan(file, src);
    if diag::has_errors(&diags) {
        diag::sort(&mut diags);
        return (None, diags);
    }
    if prescan::is_blank(src) {
        return (Some(Schema::default()), diags);
    }
    let doc = match graphql_parser::parse_schema::<&str>(src) {
        Ok(doc) => doc,
        Err(e) => {
            diags.push(parse_error(file, &e.to_string()));
            return (None, diags);
        }
    };
    let (schema, mut more) = lower::lower(file, src, &doc);
    diags.append(&mut more);
    diag::sort(&mut diags);
    if diag::has_errors(&diags) {
        (None, diags)
    } else {
        (Some(schema), diags)
    }
}

/// Turns graphql-parser's message ("Parse error at L:C\nUnexpected ...\nExpected ...")
/// into a located diagnostic with a hint.
fn parse_error(file: &str, msg: &str) -> Diagnostic {
    let mut pos = Pos::new(1, 1);
    let mut rest = Vec::new();
    for line in msg.lines() {
        let line = line.trim();
        if let Some(at) = line
            .strip_prefix("schema parse error: ")
            .unwrap_or(line)
            .strip_prefix("Parse error at ")
        {
            if let Some((l, c)) = at.split_once(':') {
                pos = Pos::new(l.trim().parse().unwrap_or(1), c.trim().parse().unwrap_or(1));
            }
        } else if !line.is_empty() {
            rest.push(line.to_string());
        }
    }
    let text = rest.join("; ");
    let help = if text.contains("unterminated string") {
        "close the string with a matching `\"` (use `\"\"\"` for text over several lines)"
    } else if text.contains("end of input") {
        "a closing `}` or `)` is probably missing"
    } else if text.contains("Expected Name") {
        "directives are written `@name` or `@name(arg: value)`; check for a stray character here"
    } else {
        "fix the GraphQL syntax at this position"
    };
    Diagnostic::at(Code::E0001, file, pos, format!("invalid GraphQL: {text}")).with_help(help)
}

#[cfg(test)]
mod tests;
