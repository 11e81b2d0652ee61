//! Definitions: the first pass. Collects every named definition (types, enums, scalars
//! with their `@wes_type`, interfaces, unions, inputs; E0004 `extend`, E0010 defined
//! twice), then decides which object types are tables and their SQL names (E0011 two types
//! for one table, W0101 reserved words).

use super::arguments::{sql_type_arg, str_arg};
use super::{p, Ctx, Obj};
use crate::diag::{Code, Pos};
use crate::naming::{self, snake_case};
use crate::sdl::directives::{canonical_directive, DirectiveKind as K};
use crate::types::SqlType;
use graphql_parser::schema::{Definition, Document, EnumType, TypeDefinition};
use std::collections::BTreeMap;

/// The kind of a named definition.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum DefKind {
    Object,
    Enum,
    Scalar,
    Interface,
    Union,
    Input,
}

/// What the first pass learned about the document.
pub(super) struct Definitions<'d, 'a> {
    /// Every definition's name → its kind and position (the first one when it is
    /// defined twice).
    pub kinds: BTreeMap<String, (DefKind, Pos)>,
    /// Enums by GraphQL name.
    pub enums: BTreeMap<String, &'d EnumType<'a, &'a str>>,
    /// Scalars by GraphQL name → their `@wes_type` (when given and valid) and position.
    pub scalars: BTreeMap<String, (Option<SqlType>, Pos)>,
    /// GraphQL type name → (schema, table) of every table.
    pub table_names: BTreeMap<String, (String, String)>,
    /// The object types that are tables, in document order.
    pub table_objs: Vec<&'d Obj<'a>>,
}

/// The first pass: collects the document's definitions and names its tables.
pub(super) fn collect<'d, 'a>(
    cx: &mut Ctx<'_>,
    doc: &'d Document<'a, &'a str>,
) -> Definitions<'d, 'a> {
    // Pass 1: every named definition.
    let mut kinds: BTreeMap<String, (DefKind, Pos)> = BTreeMap::new();
    let mut objects: Vec<&Obj<'_>> = Vec::new();
    let mut enums: BTreeMap<String, &EnumType<'_, &str>> = BTreeMap::new();
    let mut scalars: BTreeMap<String, (Option<SqlType>, Pos)> = BTreeMap::new();
    for def in &doc.definitions {
        let (name, kind, pos) = match def {
            Definition::TypeDefinition(td) => match td {
                TypeDefinition::Object(o) => {
                    objects.push(o);
                    (o.name, DefKind::Object, p(o.position))
                }
                TypeDefinition::Enum(e) => {
                    enums.insert(e.name.to_string(), e);
                    (e.name, DefKind::Enum, p(e.position))
                }
                TypeDefinition::Scalar(s) => {
                    let mut ty = None;
                    for d in &s.directives {
                        if canonical_directive(d.name) == Some(K::Type) {
                            ty = sql_type_arg(cx, d);
                        }
                    }
                    scalars.insert(s.name.to_string(), (ty, p(s.position)));
                    (s.name, DefKind::Scalar, p(s.position))
                }
                TypeDefinition::Interface(i) => (i.name, DefKind::Interface, p(i.position)),
                TypeDefinition::Union(u) => (u.name, DefKind::Union, p(u.position)),
                TypeDefinition::InputObject(i) => (i.name, DefKind::Input, p(i.position)),
            },
            Definition::TypeExtension(ext) => {
                let pos = match ext {
                    graphql_parser::schema::TypeExtension::Object(o) => p(o.position),
                    graphql_parser::schema::TypeExtension::Scalar(o) => p(o.position),
                    graphql_parser::schema::TypeExtension::Interface(o) => p(o.position),
                    graphql_parser::schema::TypeExtension::Union(o) => p(o.position),
                    graphql_parser::schema::TypeExtension::Enum(o) => p(o.position),
                    graphql_parser::schema::TypeExtension::InputObject(o) => p(o.position),
                };
                cx.err(
                    Code::E0004,
                    pos,
                    "`extend` definitions are not supported",
                    "move the fields and directives into the type's own definition",
                );
                continue;
            }
            Definition::SchemaDefinition(_) | Definition::DirectiveDefinition(_) => continue,
        };
        if let Some((_, first)) = kinds.get(name) {
            let first = *first;
            cx.err(
                Code::E0010,
                pos,
                format!(
                    "type `{name}` is defined twice (first at line {})",
                    first.line
                ),
                "rename or remove one of the definitions",
            );
            continue;
        }
        kinds.insert(name.to_string(), (kind, pos));
    }

    // Which objects are tables, and their SQL names.
    let mut table_names: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut seen_tables: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut table_objs: Vec<&Obj<'_>> = Vec::new();
    for &o in &objects {
        if kinds.get(o.name).map(|k| k.1) != Some(p(o.position)) {
            continue; // a duplicate definition, already reported
        }
        let Some(td) = o
            .directives
            .iter()
            .find(|d| canonical_directive(d.name) == Some(K::Table))
        else {
            continue;
        };
        let name = str_arg(cx, td, &["name"]).unwrap_or_else(|| snake_case(o.name));
        let schema = str_arg(cx, td, &["schema"]).unwrap_or_else(|| "public".to_string());
        let ok_name = cx.check_ident(&name, "table", p(o.position));
        let ok_schema = cx.check_ident(&schema, "schema", p(td.position));
        if !(ok_name && ok_schema) {
            continue;
        }
        if let Some(other) = seen_tables.get(&(schema.clone(), name.clone())) {
            cx.err(
                Code::E0011,
                p(o.position),
                format!(
                    "types `{other}` and `{}` both map to table `{schema}.{name}`",
                    o.name
                ),
                "give one of them another name with `@wes_table(name: \"...\")`",
            );
            continue;
        }
        if naming::is_reserved(&name) {
            cx.warn(
                Code::W0101,
                p(o.position),
                format!("table name `{name}` is a reserved word in PostgreSQL"),
                format!("Wesley always quotes it; hand-written SQL must write `\"{name}\"` too"),
            );
        }
        seen_tables.insert((schema.clone(), name.clone()), o.name.to_string());
        table_names.insert(o.name.to_string(), (schema, name));
        table_objs.push(o);
    }

    Definitions {
        kinds,
        enums,
        scalars,
        table_names,
        table_objs,
    }
}
