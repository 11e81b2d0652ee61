//! Reading SDL files and reporting their diagnostics the way a compiler does.

use anyhow::Context;
use std::io::IsTerminal;
use std::path::Path;
use wesley_planner::{sdl, Diagnostic, Schema};

/// An SDL file read from disk (or `-` for standard input).
pub struct SourceFile {
    pub name: String,
    pub text: String,
}

impl SourceFile {
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

pub fn report(diags: &[Diagnostic], text: &str) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for d in diags {
        let rendered = d.render(Some(text));
        if color {
            let (c, rest) = rendered.split_once(':').unwrap_or((&rendered, ""));
            let code = if d.is_error() { "31" } else { "33" };
            eprint!("\x1b[1;{code}m{c}\x1b[0m:{rest}");
        } else {
            eprint!("{rendered}");
        }
    }
    let errors = diags.iter().filter(|d| d.is_error()).count();
    if errors > 0 {
        eprintln!("{errors} error(s); nothing was generated");
    }
}
