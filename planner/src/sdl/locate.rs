//! Finding positions graphql-parser does not record: where a directive argument's value
//! starts, and where a character inside a string value is, so that errors in SQL
//! fragments point at the offending character.

use crate::diag::Pos;

/// Source text with an index of line starts, so that positions convert to offsets in
/// time proportional to one line, not to the file.
pub struct Source<'a> {
    pub text: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Source<'a> {
    pub fn new(text: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(text.match_indices('\n').map(|(i, _)| i + 1));
        Source { text, line_starts }
    }

    /// The text of a one-based line, without its line break.
    pub fn line(&self, line: usize) -> Option<&'a str> {
        let start = *self.line_starts.get(line.checked_sub(1)?)?;
        let rest = &self.text[start..];
        Some(&rest[..rest.find('\n').unwrap_or(rest.len())])
    }

    /// Byte offset of a one-based line/column (columns in characters).
    fn offset_of(&self, pos: Pos) -> usize {
        let Some(&start) = self.line_starts.get(pos.line.saturating_sub(1)) else {
            return self.text.len();
        };
        let line = &self.text[start..];
        let line = &line[..line.find('\n').unwrap_or(line.len())];
        start
            + line
                .char_indices()
                .nth(pos.column.saturating_sub(1))
                .map(|(i, _)| i)
                .unwrap_or(line.len())
    }

    fn pos_of(&self, offset: usize) -> Pos {
        let line = self.line_starts.partition_point(|&s| s <= offset).max(1);
        let start = self.line_starts[line - 1];
        let column = self.text[start..offset.min(self.text.len())]
            .chars()
            .count()
            + 1;
        Pos::new(line, column)
    }
}

/// Position of the value of argument `name` of the directive starting at `dir`, or `dir`
/// itself when it cannot be found.
pub fn arg_value(src: &Source<'_>, dir: Pos, name: &str) -> Pos {
    arg_value_offset(src, dir, name)
        .map(|o| src.pos_of(o))
        .unwrap_or(dir)
}

/// Scans the directive's argument list only (up to its closing parenthesis).
fn arg_value_offset(src: &Source<'_>, dir: Pos, name: &str) -> Option<usize> {
    let start = src.offset_of(dir);
    let rest = &src.text[start..];
    let open = rest.find('(')?;
    let base = start + open + 1;
    let args = &src.text[base..];
    let bytes = args.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                if args[i..].starts_with("\"\"\"") {
                    i += 3 + args[i + 3..].find("\"\"\"")? + 3;
                } else {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
            }
            b')' => return None,
            b'#' => {
                i += args[i..].find('\n').unwrap_or(args.len() - i);
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let end = i + args[i..]
                    .bytes()
                    .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
                    .count();
                let word = &args[i..end];
                let after = args[end..].trim_start();
                if word == name && after.starts_with(':') {
                    let colon = args.len() - after.len();
                    let value_start = colon
                        + 1
                        + (args[colon + 1..].len() - args[colon + 1..].trim_start().len());
                    return Some(base + value_start);
                }
                i = end;
            }
            _ => i += 1,
        }
    }
    None
}

/// Position of character `char_offset` of the string value of argument `name`. Finds the
/// text around that character in the raw source (block strings are dedented by the
/// parser, so offsets cannot simply be added); falls back to the value's start.
pub fn in_string(src: &Source<'_>, dir: Pos, name: &str, value: &str, char_offset: usize) -> Pos {
    let Some(vstart) = arg_value_offset(src, dir, name) else {
        return dir;
    };
    near(src, vstart, value, char_offset)
}

/// Position of character `char_offset` of string `value`, item `index` (from 0) of the
/// list that is the value of argument `name`; falls back to the list's start.
pub fn in_list_item(
    src: &Source<'_>,
    dir: Pos,
    name: &str,
    index: usize,
    value: &str,
    char_offset: usize,
) -> Pos {
    let Some(vstart) = arg_value_offset(src, dir, name) else {
        return dir;
    };
    let bytes = src.text.as_bytes();
    let (mut i, mut seen) = (vstart, 0);
    if bytes.get(i) == Some(&b'[') {
        while i < bytes.len() && bytes[i] != b']' {
            if bytes[i] == b'"' {
                if seen == index {
                    return near(src, i, value, char_offset);
                }
                seen += 1;
                if src.text[i..].starts_with("\"\"\"") {
                    match src.text[i + 3..].find("\"\"\"") {
                        Some(end) => i += 3 + end + 3,
                        None => break,
                    }
                    continue;
                }
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            i += 1;
        }
    }
    src.pos_of(vstart)
}

/// Position of character `char_offset` of `value`, a string whose literal starts at byte
/// `vstart`: the text around that character found in the raw source.
fn near(src: &Source<'_>, vstart: usize, value: &str, char_offset: usize) -> Pos {
    let needle: String = value
        .chars()
        .skip(char_offset)
        .take_while(|c| *c != '\n')
        .take(24)
        .collect();
    if !needle.is_empty() {
        let window = &src.text[vstart..];
        let window = &window[..window.len().min(value.len() * 2 + 64)];
        let window = &window[..(0..=window.len())
            .rev()
            .find(|&k| window.is_char_boundary(k))
            .unwrap_or(0)];
        if let Some(found) = window.find(&needle) {
            return src.pos_of(vstart + found);
        }
    }
    src.pos_of(vstart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_argument_values() {
        let src = Source::new("type A @wes_rls(select: \"a ) b\", insert: \"x; y\") { a: Int }");
        assert_eq!(arg_value(&src, Pos::new(1, 8), "insert"), Pos::new(1, 42));
        assert_eq!(
            in_string(&src, Pos::new(1, 8), "insert", "x; y", 1),
            Pos::new(1, 44)
        );
        assert_eq!(arg_value(&src, Pos::new(1, 8), "delete"), Pos::new(1, 8));
        let multi = Source::new(
            "type A @wes_rls(\n  select: \"\"\"\n  a ) b\n\"\"\",\n  insert: \"x\") { a: Int }",
        );
        assert_eq!(arg_value(&multi, Pos::new(1, 8), "insert"), Pos::new(5, 11));
        let list = Source::new("type A @wes_index(keys: [\"a\", \"lower(b)\"]) { a: Int }");
        assert_eq!(
            in_list_item(&list, Pos::new(1, 8), "keys", 1, "lower(b)", 6),
            Pos::new(1, 38)
        );
    }
}
