//! Finding positions graphql-parser does not record: where a directive argument's value
//! starts, and where a character inside a string value is, so that errors in SQL
//! fragments point at the offending character.

use crate::diag::Pos;

/// Byte offset of a one-based line/column (columns in characters).
fn offset_of(src: &str, pos: Pos) -> usize {
    let mut line = 1;
    let mut col = 1;
    for (i, ch) in src.char_indices() {
        if line == pos.line && col == pos.column {
            return i;
        }
        if ch == '\n' {
            if line == pos.line {
                return i;
            }
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    src.len()
}

fn pos_of(src: &str, offset: usize) -> Pos {
    let mut line = 1;
    let mut col = 1;
    for (i, ch) in src.char_indices() {
        if i >= offset {
            break;
        }
        if ch == '\n' {
            line += 1;
            col = 1;
        } else {
            col += 1;
        }
    }
    Pos::new(line, col)
}

/// Position of the value of argument `name` of the directive starting at `dir`, or `dir`
/// itself when it cannot be found.
pub fn arg_value(src: &str, dir: Pos, name: &str) -> Pos {
    arg_value_offset(src, dir, name)
        .map(|o| pos_of(src, o))
        .unwrap_or(dir)
}

fn arg_value_offset(src: &str, dir: Pos, name: &str) -> Option<usize> {
    let start = offset_of(src, dir);
    let rest = &src[start..];
    let open = rest.find('(')?;
    // Only look inside this directive's parentheses: stop at the first `)` outside strings.
    let bytes: Vec<(usize, char)> = rest[open + 1..].char_indices().collect();
    let mut k = 0;
    while k < bytes.len() {
        let (i, ch) = bytes[k];
        match ch {
            '"' => {
                let triple = rest[open + 1 + i..].starts_with("\"\"\"");
                let close = if triple {
                    rest[open + 1 + i + 3..].find("\"\"\"").map(|c| c + i + 6)
                } else {
                    let mut j = i + 1;
                    let s = &rest[open + 1..];
                    let mut end = None;
                    while j < s.len() {
                        let c = s[j..].chars().next()?;
                        if c == '\\' {
                            j += 2;
                            continue;
                        }
                        if c == '"' {
                            end = Some(j + 1);
                            break;
                        }
                        j += c.len_utf8();
                    }
                    end
                }?;
                while k < bytes.len() && bytes[k].0 < close {
                    k += 1;
                }
                continue;
            }
            ')' => return None,
            c if c.is_ascii_alphabetic() || c == '_' => {
                let s = &rest[open + 1 + i..];
                let word: String = s
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let after = s[word.len()..].trim_start();
                if word == name && after.starts_with(':') {
                    let colon = s.len() - after.len();
                    let value = s[colon + 1..].len() - s[colon + 1..].trim_start().len();
                    return Some(start + open + 1 + i + colon + 1 + value);
                }
                k += word.chars().count();
                continue;
            }
            _ => {}
        }
        k += 1;
    }
    None
}

/// Position of character `char_offset` of the string value of argument `name`. Finds the
/// text around that character in the raw source (block strings are dedented by the
/// parser, so offsets cannot simply be added); falls back to the value's start.
pub fn in_string(src: &str, dir: Pos, name: &str, value: &str, char_offset: usize) -> Pos {
    let Some(vstart) = arg_value_offset(src, dir, name) else {
        return dir;
    };
    let needle: String = value
        .chars()
        .skip(char_offset)
        .take_while(|c| *c != '\n')
        .take(24)
        .collect();
    if !needle.is_empty() {
        if let Some(found) = src[vstart..].find(&needle) {
            return pos_of(src, vstart + found);
        }
    }
    pos_of(src, vstart)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_argument_values() {
        let src = "type A @wes_rls(select: \"a ) b\", insert: \"x; y\") { a: Int }";
        assert_eq!(arg_value(src, Pos::new(1, 8), "insert"), Pos::new(1, 42));
        assert_eq!(
            in_string(src, Pos::new(1, 8), "insert", "x; y", 1),
            Pos::new(1, 44)
        );
        assert_eq!(arg_value(src, Pos::new(1, 8), "delete"), Pos::new(1, 8));
    }
}
