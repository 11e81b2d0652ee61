//! `@wes_extensions(names: [...])` on the `schema` definition: the PostgreSQL extensions
//! the schema needs, created (`CREATE EXTENSION IF NOT EXISTS`) before anything uses them.
//! Names are identifiers (checked like other names, always quoted in SQL); whether the
//! server has the extension is for the server to say. `plpgsql` (always installed) and a
//! name listed twice are ignored with W0104; another Wesley directive on `schema` means
//! nothing there (W0104). Directives Wesley does not know are left alone, as on types that
//! are not tables.

use super::arguments::{check_args, string_list_arg};
use super::{p, Ctx};
use crate::diag::Code;
use crate::sdl::directives::{arg, canonical_directive, DirectiveKind as K};
use crate::sdl::locate;
use graphql_parser::schema::{Definition, Document};

/// The extensions the document's `schema` definitions declare, sorted, each once.
pub(super) fn declared<'a>(cx: &mut Ctx<'_>, doc: &Document<'a, &'a str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for def in &doc.definitions {
        let Definition::SchemaDefinition(s) = def else {
            continue;
        };
        for d in &s.directives {
            match canonical_directive(d.name) {
                None => {}
                Some(K::Extensions) => {
                    check_args(cx, d, K::Extensions);
                    let Some(names) = string_list_arg(cx, d, &["names"]) else {
                        if arg(d, &["names"]).is_none() {
                            cx.err(
                                Code::E0040,
                                p(d.position),
                                format!("`@{}` needs `names: [...]`", d.name),
                                "write `@wes_extensions(names: [\"citext\", \"pg_trgm\"])`",
                            );
                        }
                        continue;
                    };
                    let pos = locate::arg_value(cx.src, p(d.position), "names");
                    for n in names {
                        if !cx.check_ident(&n, "extension", pos) {
                            continue;
                        }
                        if n == "plpgsql" {
                            cx.warn(
                                Code::W0104,
                                pos,
                                "extension `plpgsql` is always installed; it is ignored",
                                "remove `plpgsql` from `names:`",
                            );
                        } else if out.contains(&n) {
                            cx.warn(
                                Code::W0104,
                                pos,
                                format!("extension `{n}` is listed twice; the second is ignored"),
                                format!("list `{n}` once"),
                            );
                        } else {
                            out.push(n);
                        }
                    }
                }
                Some(_) => cx.warn(
                    Code::W0104,
                    p(d.position),
                    format!(
                        "`@{}` has no meaning on the `schema` definition and is ignored",
                        d.name
                    ),
                    "put it on a `@wes_table` type or one of its fields",
                ),
            }
        }
    }
    out.sort();
    out
}
