//! The Wesley SDL dialect: GraphQL SDL with `@wes_*` directives, parsed with
//! `graphql-parser` and lowered into a validated [`Schema`]. Parsing never fails: it
//! returns the model (when there are no errors) and every diagnostic found.

mod directives;
mod locate;
mod lower;
mod prescan;

use crate::diag::{self, Diagnostic, Pos};
use crate::model::Schema;

pub use directives::{canonical_directive, DirectiveKind};

/// Diagnostic codes used by the SDL front end (documented in docs/diagnostics.md).
pub mod codes {
    pub const SYNTAX: &str = "E0001";
    pub const DOUBLE_AT: &str = "E0002";
    pub const POSITIONAL_ARG: &str = "E0003";
    pub const UNSUPPORTED_DEFINITION: &str = "E0004";
    pub const DUPLICATE_TYPE: &str = "E0010";
    pub const DUPLICATE_TABLE: &str = "E0011";
    pub const DUPLICATE_COLUMN: &str = "E0012";
    pub const NAME_COLLISION: &str = "E0013";
    pub const NAME_TOO_LONG: &str = "E0014";
    pub const INVALID_NAME: &str = "E0015";
    pub const UNKNOWN_SCALAR: &str = "E0020";
    pub const INVALID_SQL_TYPE: &str = "E0021";
    pub const OBJECT_FIELD: &str = "E0022";
    pub const NESTED_LIST: &str = "E0023";
    pub const PRIMARY_KEY: &str = "E0030";
    pub const UNKNOWN_COLUMN: &str = "E0031";
    pub const FK_UNKNOWN_TYPE: &str = "E0032";
    pub const FK_UNKNOWN_FIELD: &str = "E0033";
    pub const FK_TYPE_MISMATCH: &str = "E0034";
    pub const FK_NOT_UNIQUE: &str = "E0035";
    pub const BAD_ARGUMENT: &str = "E0040";
    pub const BAD_DEFAULT: &str = "E0041";
    pub const NULL_DEFAULT_NOT_NULL: &str = "E0042";
    pub const UNSAFE_EXPR: &str = "E0050";
    pub const SUBQUERY: &str = "E0051";
    pub const RLS_COLUMN: &str = "E0060";
    pub const DUPLICATE_NAME: &str = "E0061";
    pub const POLICY_UNKNOWN_TABLE: &str = "E0062";
    pub const UNKNOWN_DIRECTIVE: &str = "W0100";
    pub const RESERVED_WORD: &str = "W0101";
    pub const NO_PRIMARY_KEY: &str = "W0102";
    pub const REDUNDANT_INDEX: &str = "W0103";
    pub const IGNORED: &str = "W0104";
    pub const RLS_NO_POLICIES: &str = "W0105";
}

/// Parses and validates one SDL file. `file` is the name used in diagnostics. The model is
/// returned only when there are no errors; warnings come with it.
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
    let doc = match graphql_parser::parse_schema::<String>(src) {
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
    Diagnostic::error(codes::SYNTAX, file, pos, format!("invalid GraphQL: {text}")).with_help(help)
}

#[cfg(test)]
mod tests;
