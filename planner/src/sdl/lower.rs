//! Lowering: from the GraphQL document to the validated [`Schema`]. Collects every
//! problem it can find in one pass instead of stopping at the first.

use super::codes;
use super::directives::{arg, canonical_directive, kind_of, Dir, DirectiveKind as K, Val};
use super::locate;
use crate::diag::{Diagnostic, Pos};
use crate::expr;
use crate::model::*;
use crate::naming::{self, derived_name, snake_case, MAX_IDENT_BYTES};
use crate::sql;
use crate::types::{self, BaseType, SqlType};
use graphql_parser::schema::{
    Definition, Document, Field, ObjectType, Type, TypeDefinition, Value,
};
use std::collections::{BTreeMap, BTreeSet};

type Obj<'a> = ObjectType<'a, String>;
type Fld<'a> = Field<'a, String>;

fn p(pos: graphql_parser::Pos) -> Pos {
    Pos::new(pos.line, pos.column)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum DefKind {
    Object,
    Enum,
    Scalar,
    Interface,
    Union,
    Input,
}

struct Ctx<'s> {
    file: &'s str,
    src: &'s locate::Source<'s>,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(
        &mut self,
        code: &'static str,
        pos: Pos,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::error(code, self.file, pos, msg).with_help(help));
    }
    fn warn(
        &mut self,
        code: &'static str,
        pos: Pos,
        msg: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diags
            .push(Diagnostic::warning(code, self.file, pos, msg).with_help(help));
    }
    fn check_ident(&mut self, name: &str, what: &str, pos: Pos) -> bool {
        if name.is_empty() || name.contains('\0') {
            self.err(
                codes::INVALID_NAME,
                pos,
                format!("{what} name is empty or contains a NUL character"),
                "give it a non-empty name",
            );
            return false;
        }
        if name.len() > MAX_IDENT_BYTES {
            self.err(
                codes::NAME_TOO_LONG,
                pos,
                format!(
                    "{what} name `{name}` is {} bytes long; PostgreSQL keeps only the first 63",
                    name.len()
                ),
                "choose a shorter name (or set one with `name:`)",
            );
            return false;
        }
        true
    }
    /// Validates an SQL fragment given as argument `arg_name` of directive `d`.
    fn sql_fragment(
        &mut self,
        d: &Dir<'_>,
        arg_name: &str,
        text: &str,
        allow_subquery: bool,
        what: &str,
    ) -> Option<expr::ExprInfo> {
        match expr::check(text) {
            Ok(info) => {
                if info.has_subquery && !allow_subquery {
                    let pos = locate::arg_value(self.src, p(d.position), arg_name);
                    self.err(codes::SUBQUERY, pos, format!("{what} cannot contain a subquery (`SELECT`)"), "PostgreSQL allows subqueries only in policies; compute the value another way");
                    return None;
                }
                Some(info)
            }
            Err(e) => {
                let pos = locate::in_string(self.src, p(d.position), arg_name, text, e.offset);
                self.err(
                    codes::UNSAFE_EXPR,
                    pos,
                    format!("unsafe SQL in {what}: {}", e.message),
                    e.help,
                );
                None
            }
        }
    }
}

/// An explicit `name:` argument checked against PostgreSQL's identifier limit, or the
/// derived name.
fn explicit_name(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    what: &str,
    derived: impl FnOnce() -> String,
) -> String {
    match str_arg(cx, d, &["name"]) {
        Some(n) => {
            let pos = locate::arg_value(cx.src, p(d.position), "name");
            cx.check_ident(&n, what, pos);
            n
        }
        None => derived(),
    }
}

/// Warns about arguments that only mean something on the type-level form.
fn field_level_only(cx: &mut Ctx<'_>, d: &Dir<'_>) {
    if let Some((n, _)) = arg(d, &["columns", "fields"]) {
        let pos = locate::arg_value(cx.src, p(d.position), n);
        cx.warn(
            codes::IGNORED,
            pos,
            format!(
                "`{n}:` is ignored on a field: `@{}` applies to this field's column",
                d.name
            ),
            format!(
                "put `@{}({n}: [...])` on the type to cover several columns",
                d.name
            ),
        );
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Site {
    Type,
    Field,
}

/// The directive's kind when it is known and meaningful where it stands (its arguments
/// checked); otherwise a warning and `None`.
fn usable_directive(cx: &mut Ctx<'_>, d: &Dir<'_>, kind: Option<K>, site: Site) -> Option<K> {
    let Some(k) = kind else {
        cx.warn(
            codes::UNKNOWN_DIRECTIVE,
            p(d.position),
            format!("unknown directive `@{}` is ignored", d.name),
            "check the spelling; Wesley's directives are listed in docs/dialect.md",
        );
        return None;
    };
    check_args(cx, d, k);
    let (fits, here, there) = match site {
        Site::Type => (on_object(k), "a type", "a field"),
        Site::Field => (on_field(k), "a field", "the type"),
    };
    if !fits {
        cx.warn(
            codes::IGNORED,
            p(d.position),
            format!("`@{}` has no meaning on {here} and is ignored", d.name),
            format!("put it on {there}"),
        );
        return None;
    }
    Some(k)
}

/// Arguments each directive accepts (others get a warning, to catch typos).
fn known_args(k: K) -> &'static [&'static str] {
    match k {
        K::Table => &["name", "schema"],
        K::Column => &["name"],
        K::Type => &["sql"],
        K::Pk => &["columns", "fields", "name"],
        K::Unique => &["columns", "fields", "name"],
        K::Fk => &[
            "ref",
            "onDelete",
            "onUpdate",
            "on_delete",
            "on_update",
            "name",
        ],
        K::Index => &["columns", "fields", "name", "using", "where", "unique"],
        K::Check => &["expr", "name"],
        K::Default => &["value", "expr"],
        K::Convert => &["from", "using"],
        K::Rls => &[
            "enabled",
            "select",
            "insert",
            "update",
            "delete",
            "using",
            "check",
            "roles",
            "selectRoles",
            "insertRoles",
            "updateRoles",
            "deleteRoles",
            "name",
        ],
        K::Tenant => &["by", "column", "setting"],
        K::Owner => &["column", "by", "setting"],
        K::Uid => &["value", "id"],
        K::Weight => &["value"],
        K::Sensitive | K::Pii | K::Critical => &[],
        K::HasMany | K::HasOne | K::BelongsTo => {
            &["type", "field", "via", "ref", "foreignKey", "by"]
        }
    }
}

fn on_object(k: K) -> bool {
    matches!(
        k,
        K::Table
            | K::Pk
            | K::Unique
            | K::Index
            | K::Check
            | K::Rls
            | K::Tenant
            | K::Owner
            | K::Uid
            | K::Sensitive
            | K::Pii
            | K::Weight
            | K::Critical
    )
}

fn on_field(k: K) -> bool {
    !matches!(k, K::Table | K::Rls | K::Tenant | K::Owner)
}

/// A table in the making: its GraphQL object and what lowering learned about it.
struct Draft<'d, 'a> {
    obj: &'d Obj<'a>,
    table: Table,
    /// field name → column name, for resolving `columns:` arguments.
    field_cols: BTreeMap<String, String>,
    /// Foreign keys waiting for every table to exist: (column, directive).
    fks: Vec<(String, &'d Dir<'a>)>,
}

pub fn lower(file: &str, src: &str, doc: &Document<'_, String>) -> (Schema, Vec<Diagnostic>) {
    let source = locate::Source::new(src);
    let mut cx = Ctx {
        file,
        src: &source,
        diags: Vec::new(),
    };

    // Pass 1: every named definition.
    let mut kinds: BTreeMap<String, (DefKind, Pos)> = BTreeMap::new();
    let mut objects: Vec<&Obj<'_>> = Vec::new();
    let mut enums: BTreeMap<String, &graphql_parser::schema::EnumType<'_, String>> =
        BTreeMap::new();
    let mut scalars: BTreeMap<String, (Option<SqlType>, Pos)> = BTreeMap::new();
    for def in &doc.definitions {
        let (name, kind, pos) = match def {
            Definition::TypeDefinition(td) => match td {
                TypeDefinition::Object(o) => {
                    objects.push(o);
                    (o.name.clone(), DefKind::Object, p(o.position))
                }
                TypeDefinition::Enum(e) => {
                    enums.insert(e.name.clone(), e);
                    (e.name.clone(), DefKind::Enum, p(e.position))
                }
                TypeDefinition::Scalar(s) => {
                    let mut ty = None;
                    for d in &s.directives {
                        if canonical_directive(&d.name) == Some(K::Type) {
                            ty = sql_type_arg(&mut cx, d);
                        }
                    }
                    scalars.insert(s.name.clone(), (ty, p(s.position)));
                    (s.name.clone(), DefKind::Scalar, p(s.position))
                }
                TypeDefinition::Interface(i) => (i.name.clone(), DefKind::Interface, p(i.position)),
                TypeDefinition::Union(u) => (u.name.clone(), DefKind::Union, p(u.position)),
                TypeDefinition::InputObject(i) => (i.name.clone(), DefKind::Input, p(i.position)),
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
                    codes::UNSUPPORTED_DEFINITION,
                    pos,
                    "`extend` definitions are not supported",
                    "move the fields and directives into the type's own definition",
                );
                continue;
            }
            Definition::SchemaDefinition(_) | Definition::DirectiveDefinition(_) => continue,
        };
        if let Some((_, first)) = kinds.get(&name) {
            let first = *first;
            cx.err(
                codes::DUPLICATE_TYPE,
                pos,
                format!(
                    "type `{name}` is defined twice (first at line {})",
                    first.line
                ),
                "rename or remove one of the definitions",
            );
            continue;
        }
        kinds.insert(name, (kind, pos));
    }

    // Which objects are tables, and their SQL names.
    let mut table_names: BTreeMap<String, (String, String)> = BTreeMap::new();
    let mut seen_tables: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut table_objs: Vec<&Obj<'_>> = Vec::new();
    for o in &objects {
        if kinds.get(&o.name).map(|k| k.1) != Some(p(o.position)) {
            continue; // a duplicate definition, already reported
        }
        let Some(td) = o
            .directives
            .iter()
            .find(|d| canonical_directive(&d.name) == Some(K::Table))
        else {
            continue;
        };
        let name = str_arg(&mut cx, td, &["name"]).unwrap_or_else(|| snake_case(&o.name));
        let schema = str_arg(&mut cx, td, &["schema"]).unwrap_or_else(|| "public".to_string());
        let ok_name = cx.check_ident(&name, "table", p(o.position));
        let ok_schema = cx.check_ident(&schema, "schema", p(td.position));
        if !(ok_name && ok_schema) {
            continue;
        }
        if let Some(other) = seen_tables.get(&(schema.clone(), name.clone())) {
            cx.err(
                codes::DUPLICATE_TABLE,
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
                codes::RESERVED_WORD,
                p(o.position),
                format!("table name `{name}` is a reserved word in PostgreSQL"),
                format!("Wesley always quotes it; hand-written SQL must write `\"{name}\"` too"),
            );
        }
        seen_tables.insert((schema.clone(), name.clone()), o.name.clone());
        table_names.insert(o.name.clone(), (schema, name));
        table_objs.push(o);
    }

    // Pass 2: columns, keys, constraints, indexes, policies of each table.
    let mut used_enums: BTreeMap<String, EnumType> = BTreeMap::new();
    let mut drafts: Vec<Draft<'_, '_>> = Vec::new();
    for o in table_objs {
        let (schema, name) = table_names[&o.name].clone();
        let draft = lower_table(
            &mut cx,
            o,
            schema,
            name,
            &kinds,
            &scalars,
            &enums,
            &table_names,
            &mut used_enums,
        );
        drafts.push(draft);
    }

    // Pass 3: foreign keys, now that every table's columns are known. Targets are found by
    // GraphQL type name, or by table name (plain or schema-qualified).
    let by_type: BTreeMap<&str, usize> = drafts
        .iter()
        .enumerate()
        .map(|(i, d)| (d.obj.name.as_str(), i))
        .collect();
    let mut by_table: BTreeMap<String, usize> = BTreeMap::new();
    for (i, d) in drafts.iter().enumerate().rev() {
        by_table.insert(d.table.name.clone(), i);
        by_table.insert(format!("{}.{}", d.table.schema, d.table.name), i);
    }
    let fk_results: Vec<Vec<ForeignKey>> = drafts
        .iter()
        .map(|d| resolve_fks(&mut cx, d, &drafts, &by_type, &by_table))
        .collect();
    for (d, fks) in drafts.iter_mut().zip(fk_results) {
        d.table.foreign_keys = fks;
    }

    // Policy texts may name tables: check those exist.
    let all_tables: BTreeSet<String> = drafts.iter().map(|d| d.table.name.clone()).collect();
    for d in &drafts {
        check_policy_relations(&mut cx, d, &all_tables, &table_names);
    }

    let mut tables: Vec<Table> = drafts.into_iter().map(|d| d.table).collect();
    for t in &mut tables {
        t.uniques.sort_by(|a, b| a.name.cmp(&b.name));
        t.foreign_keys.sort_by(|a, b| a.name.cmp(&b.name));
        t.checks.sort_by(|a, b| a.name.cmp(&b.name));
        t.indexes.sort_by(|a, b| a.name.cmp(&b.name));
        t.policies.sort_by(|a, b| a.name.cmp(&b.name));
    }
    tables.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    let mut enum_list: Vec<EnumType> = used_enums.into_values().collect();
    enum_list.sort_by(|a, b| (&a.schema, &a.name).cmp(&(&b.schema, &b.name)));
    let schema = Schema {
        enums: enum_list,
        tables,
    };
    check_name_collisions(&mut cx, &schema, &kinds);
    (schema, cx.diags)
}

#[allow(clippy::too_many_arguments)]
fn lower_table<'d, 'a>(
    cx: &mut Ctx<'_>,
    o: &'d Obj<'a>,
    schema: String,
    name: String,
    kinds: &BTreeMap<String, (DefKind, Pos)>,
    scalars: &BTreeMap<String, (Option<SqlType>, Pos)>,
    enums: &BTreeMap<String, &graphql_parser::schema::EnumType<'_, String>>,
    table_names: &BTreeMap<String, (String, String)>,
    used_enums: &mut BTreeMap<String, EnumType>,
) -> Draft<'d, 'a> {
    let mut table = Table {
        schema: schema.clone(),
        name: name.clone(),
        graphql_name: o.name.clone(),
        meta: Meta::default(),
        columns: Vec::new(),
        primary_key: None,
        uniques: Vec::new(),
        foreign_keys: Vec::new(),
        checks: Vec::new(),
        indexes: Vec::new(),
        rls_enabled: false,
        policies: Vec::new(),
    };
    let mut field_cols: BTreeMap<String, String> = BTreeMap::new();
    let mut col_pos: BTreeMap<String, (Pos, String)> = BTreeMap::new();
    let mut fks = Vec::new();
    let mut pk_fields: Vec<String> = Vec::new();
    let mut pk_pos = None;

    // Columns first, so that type-level directives can refer to any of them.
    for f in &o.fields {
        let Some(col) = lower_field(
            cx,
            f,
            &schema,
            kinds,
            scalars,
            enums,
            table_names,
            used_enums,
        ) else {
            continue;
        };
        if !cx.check_ident(&col.name, "column", p(f.position)) {
            continue;
        }
        if let Some((first, field)) = col_pos.get(&col.name) {
            let msg = if *field == f.name {
                format!(
                    "field `{}` is defined twice in `{}` (first at line {})",
                    f.name, o.name, first.line
                )
            } else {
                format!(
                    "fields `{field}` and `{}` both map to column `{}`",
                    f.name, col.name
                )
            };
            cx.err(
                codes::DUPLICATE_COLUMN,
                p(f.position),
                msg,
                "rename one of them, or set a column name with `@wes_column(name: \"...\")`",
            );
            continue;
        }
        if naming::is_reserved(&col.name) {
            cx.warn(
                codes::RESERVED_WORD,
                p(f.position),
                format!(
                    "column name `{}` is a reserved word in PostgreSQL",
                    col.name
                ),
                format!(
                    "Wesley always quotes it; hand-written SQL must write `\"{}\"` too",
                    col.name
                ),
            );
        }
        col_pos.insert(col.name.clone(), (p(f.position), f.name.clone()));
        field_cols.insert(f.name.clone(), col.name.clone());
        table.columns.push(col);
    }

    // Field-level keys, constraints and indexes.
    let mut field_pk_name: Option<String> = None;
    for f in &o.fields {
        let Some(col_name) = field_cols.get(&f.name).cloned() else {
            continue;
        };
        for d in &f.directives {
            match canonical_directive(&d.name) {
                Some(K::Pk) => {
                    field_level_only(cx, d);
                    pk_fields.push(col_name.clone());
                    pk_pos.get_or_insert(p(d.position));
                    if arg(d, &["name"]).is_some() {
                        field_pk_name = Some(explicit_name(cx, d, "primary key", String::new));
                    }
                }
                Some(K::Unique) => {
                    field_level_only(cx, d);
                    let cname = explicit_name(cx, d, "constraint", || {
                        derived_name(&name, &[&col_name], "key")
                    });
                    table.uniques.push(Unique {
                        name: cname,
                        columns: vec![col_name.clone()],
                    });
                }
                Some(K::Index) => {
                    field_level_only(cx, d);
                    if let Some(idx) = index_from(cx, d, &name, vec![col_name.clone()], &table) {
                        table.indexes.push(idx);
                    }
                }
                Some(K::Check) => {
                    if let Some(c) = check_from(cx, d, &name, Some(&col_name)) {
                        table.checks.push(c);
                    }
                }
                Some(K::Fk) => fks.push((col_name.clone(), d)),
                _ => {}
            }
        }
    }

    // Type-level directives.
    let mut type_pk: Option<(Vec<String>, Pos, Option<String>)> = None;
    let mut rls: Option<&Dir<'_>> = None;
    let mut tenant: Option<&Dir<'_>> = None;
    let mut owner: Option<&Dir<'_>> = None;
    for d in &o.directives {
        let Some(k) = usable_directive(cx, d, canonical_directive(&d.name), Site::Type) else {
            continue;
        };
        match k {
            K::Pk => {
                if let Some(cols) = columns_arg(cx, d, &field_cols, &o.name, true) {
                    let pk_name = arg(d, &["name"])
                        .is_some()
                        .then(|| explicit_name(cx, d, "primary key", String::new));
                    type_pk = Some((cols, p(d.position), pk_name));
                }
            }
            K::Unique => {
                if let Some(cols) = columns_arg(cx, d, &field_cols, &o.name, true) {
                    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
                    let cname =
                        explicit_name(cx, d, "constraint", || derived_name(&name, &refs, "key"));
                    table.uniques.push(Unique {
                        name: cname,
                        columns: cols,
                    });
                }
            }
            K::Index => {
                if let Some(cols) = columns_arg(cx, d, &field_cols, &o.name, true) {
                    if let Some(idx) = index_from(cx, d, &name, cols, &table) {
                        table.indexes.push(idx);
                    }
                }
            }
            K::Check => {
                if let Some(c) = check_from(cx, d, &name, None) {
                    table.checks.push(c);
                }
            }
            K::Rls => rls = Some(d),
            K::Tenant => tenant = Some(d),
            K::Owner => owner = Some(d),
            K::Uid | K::Sensitive | K::Pii | K::Weight | K::Critical => {
                apply_meta(cx, &mut table.meta, d, k)
            }
            _ => {}
        }
    }

    // Primary key.
    match (type_pk, pk_fields.is_empty()) {
        (Some((_, pos, _)), false) => cx.err(
            codes::PRIMARY_KEY,
            pos,
            format!(
                "`{}` declares its primary key both on the type and on fields",
                o.name
            ),
            "keep one: `@wes_pk` on each key field, or `@wes_pk(columns: [...])` on the type",
        ),
        (Some((cols, pos, pk_name)), true) => {
            table.primary_key = Some(make_pk(cx, &mut table, cols, pos, pk_name))
        }
        (None, false) => {
            table.primary_key = Some(make_pk(
                cx,
                &mut table,
                pk_fields,
                pk_pos.unwrap_or_default(),
                field_pk_name.clone().filter(|n| !n.is_empty()),
            ))
        }
        (None, true) => cx.warn(
            codes::NO_PRIMARY_KEY,
            p(o.position),
            format!("table `{name}` has no primary key"),
            "mark its key field with `@wes_pk`; plans need a key to backfill in batches",
        ),
    }

    // Redundant indexes.
    let keyed: Vec<Vec<String>> = table
        .primary_key
        .iter()
        .map(|k| k.columns.clone())
        .chain(table.uniques.iter().map(|u| u.columns.clone()))
        .collect();
    for idx in &table.indexes {
        if idx.predicate.is_none()
            && idx.method == IndexMethod::Btree
            && keyed.contains(&idx.columns)
        {
            let pos = o
                .fields
                .iter()
                .find(|f| field_cols.get(&f.name) == idx.columns.first())
                .map(|f| p(f.position))
                .unwrap_or(p(o.position));
            cx.warn(codes::REDUNDANT_INDEX, pos, format!("index `{}` duplicates the index of a primary key or unique constraint on the same columns", idx.name), "remove `@wes_index`: the constraint's index already serves these lookups");
        }
    }

    lower_rls(cx, &mut table, o, rls, tenant, owner, &field_cols);
    Draft {
        obj: o,
        table,
        field_cols,
        fks,
    }
}

fn make_pk(
    cx: &mut Ctx<'_>,
    table: &mut Table,
    cols: Vec<String>,
    pos: Pos,
    name: Option<String>,
) -> PrimaryKey {
    for c in &cols {
        if let Some(col) = table.columns.iter().find(|x| &x.name == c) {
            if col.nullable {
                cx.err(
                    codes::PRIMARY_KEY,
                    pos,
                    format!("primary key column `{c}` is nullable"),
                    format!("make field `{}` non-null with `!`", col.graphql_name),
                );
            }
        }
    }
    let mut seen = BTreeSet::new();
    let cols: Vec<String> = cols
        .into_iter()
        .filter(|c| seen.insert(c.clone()))
        .collect();
    PrimaryKey {
        name: name.unwrap_or_else(|| naming::fit(&format!("{}_pkey", table.name))),
        columns: cols,
    }
}

#[allow(clippy::too_many_arguments)]
fn lower_field(
    cx: &mut Ctx<'_>,
    f: &Fld<'_>,
    schema: &str,
    kinds: &BTreeMap<String, (DefKind, Pos)>,
    scalars: &BTreeMap<String, (Option<SqlType>, Pos)>,
    enums: &BTreeMap<String, &graphql_parser::schema::EnumType<'_, String>>,
    table_names: &BTreeMap<String, (String, String)>,
    used_enums: &mut BTreeMap<String, EnumType>,
) -> Option<Column> {
    let _ = schema;
    // Unwrap `!` and `[...]`.
    let mut nullable = true;
    let mut array = false;
    let mut t = &f.field_type;
    if let Type::NonNullType(inner) = t {
        nullable = false;
        t = inner;
    }
    if let Type::ListType(inner) = t {
        array = true;
        t = inner;
        if let Type::NonNullType(x) = t {
            t = x;
        }
        if let Type::ListType(_) = t {
            cx.err(
                codes::NESTED_LIST,
                p(f.position),
                format!("field `{}` is a list of lists", f.name),
                "use a single list, or `JSON` for nested data",
            );
            return None;
        }
    }
    let Type::NamedType(type_name) = t else {
        return None;
    };

    let kinds_of_dirs: Vec<Option<K>> = f
        .directives
        .iter()
        .map(|d| canonical_directive(&d.name))
        .collect();
    let is_relation = kinds_of_dirs
        .iter()
        .any(|k| matches!(k, Some(K::HasMany | K::HasOne | K::BelongsTo)));
    let def_kind = kinds.get(type_name).map(|k| k.0);
    let is_object_like = matches!(
        def_kind,
        Some(DefKind::Object | DefKind::Interface | DefKind::Union | DefKind::Input)
    );
    if is_object_like || table_names.contains_key(type_name) {
        if table_names.contains_key(type_name) || is_relation {
            // A virtual relation: no column. Column directives here would do nothing.
            for d in &f.directives {
                match canonical_directive(&d.name) {
                    None => cx.warn(codes::UNKNOWN_DIRECTIVE, p(d.position), format!("unknown directive `@{}` is ignored", d.name), "check the spelling; Wesley's directives are listed in docs/dialect.md"),
                    Some(K::HasMany | K::HasOne | K::BelongsTo | K::Uid | K::Sensitive | K::Pii | K::Weight | K::Critical) => {}
                    Some(_) => cx.warn(
                        codes::IGNORED,
                        p(d.position),
                        format!("`@{}` is ignored on `{}`, a relation field without a column", d.name, f.name),
                        "put it on the scalar field that holds the key (e.g. `authorId: ID! @wes_fk(ref: \"Author.id\")`)",
                    ),
                }
            }
            return None;
        }
        cx.err(codes::OBJECT_FIELD, p(f.position), format!("field `{}` has type `{type_name}`, which is neither a table nor a scalar", f.name), format!("add `@wes_table` to `{type_name}`, mark the field as a relation with `@hasMany`/`@hasOne`/`@belongsTo`, or store it as `JSON`"));
        return None;
    }
    if is_relation {
        cx.err(
            codes::OBJECT_FIELD,
            p(f.position),
            format!(
                "field `{}` is marked as a relation but has the scalar type `{type_name}`",
                f.name
            ),
            "relations point at table types; remove the relation directive to make it a column",
        );
        return None;
    }

    // Directives on the field.
    let mut col_name = snake_case(&f.name);
    let mut explicit_type: Option<SqlType> = None;
    let mut meta = Meta::default();
    let mut convert_dir = None;
    for (d, k) in f.directives.iter().zip(&kinds_of_dirs) {
        let Some(k) = usable_directive(cx, d, *k, Site::Field) else {
            continue;
        };
        match k {
            K::Column => {
                if let Some(n) = str_arg(cx, d, &["name"]) {
                    col_name = n;
                }
            }
            K::Type => explicit_type = sql_type_arg(cx, d),
            K::Convert => convert_dir = Some(d),
            K::Uid | K::Sensitive | K::Pii | K::Weight | K::Critical => {
                apply_meta(cx, &mut meta, d, k)
            }
            _ => {}
        }
    }

    let base: BaseType = if let Some(ty) = &explicit_type {
        ty.base.clone()
    } else if let Some(b) =
        types::builtin_scalar(type_name).filter(|_| def_kind != Some(DefKind::Enum))
    {
        match scalars.get(type_name) {
            Some((Some(custom), _)) => custom.base.clone(),
            _ => b,
        }
    } else if let Some(e) = enums.get(type_name) {
        let sql_name = snake_case(type_name);
        if !cx.check_ident(&sql_name, "enum", p(f.position)) {
            return None;
        }
        used_enums
            .entry(type_name.clone())
            .or_insert_with(|| EnumType {
                schema: "public".into(),
                name: sql_name.clone(),
                graphql_name: type_name.clone(),
                values: e.values.iter().map(|v| v.name.clone()).collect(),
            });
        BaseType::Enum {
            schema: "public".into(),
            name: sql_name,
        }
    } else if let Some((Some(custom), _)) = scalars.get(type_name) {
        if custom.array && array {
            cx.err(
                codes::NESTED_LIST,
                p(f.position),
                format!(
                    "field `{}` is a list of `{type_name}`, which is already an array type",
                    f.name
                ),
                format!("use `{type_name}` without `[...]`, or give the scalar a non-array type"),
            );
            return None;
        }
        if custom.array {
            array = true;
        }
        custom.base.clone()
    } else {
        let known: Vec<&str> = types::BUILTIN_SCALARS.iter().map(|s| s.0).collect();
        let declared = scalars.get(type_name).map(|s| s.1);
        let help = match declared {
            Some(at) => format!("the scalar is declared at line {} without a PostgreSQL type: write `scalar {type_name} @wes_type(sql: \"...\")`, or use one of {}", at.line, known.join(", ")),
            None => format!("use one of {}, an enum, a `@wes_table` type, or declare `scalar {type_name} @wes_type(sql: \"...\")`", known.join(", ")),
        };
        cx.err(
            codes::UNKNOWN_SCALAR,
            p(f.position),
            format!("field `{}` has unknown type `{type_name}`", f.name),
            help,
        );
        return None;
    };
    if explicit_type.as_ref().is_some_and(|t| t.array) {
        array = true;
    }
    let ty = SqlType { base, array };

    // Default.
    let mut default = None;
    for (d, k) in f.directives.iter().zip(&kinds_of_dirs) {
        if *k == Some(K::Default) {
            default = default_from(cx, d, &ty, nullable, &f.name, enums);
        }
    }
    if let (false, Some(e), Some(Default::Literal(lit))) =
        (ty.array, enums.get(type_name), &default)
    {
        let v = lit.trim_matches('\'').replace("''", "'");
        if !e.values.iter().any(|x| x.name == v) {
            let names: Vec<&str> = e.values.iter().map(|x| x.name.as_str()).collect();
            cx.err(
                codes::BAD_DEFAULT,
                p(f.position),
                format!(
                    "default `{v}` of field `{}` is not a value of enum `{type_name}`",
                    f.name
                ),
                format!("use one of: {}", names.join(", ")),
            );
            default = None;
        }
    }

    let convert = convert_dir.and_then(|d| convert_from(cx, d, &col_name));
    Some(Column {
        name: col_name,
        graphql_name: f.name.clone(),
        ty,
        nullable,
        default,
        meta,
        convert,
    })
}

/// `@wes_convert(from:, using:)`: both required; `using` is a checked SQL fragment.
fn convert_from(cx: &mut Ctx<'_>, d: &Dir<'_>, column: &str) -> Option<Convert> {
    let from = str_arg(cx, d, &["from"]);
    let using = str_arg(cx, d, &["using"]);
    let (Some(from), Some(using)) = (from, using) else {
        if arg(d, &["from"]).is_none() || arg(d, &["using"]).is_none() {
            cx.err(
                codes::BAD_ARGUMENT,
                p(d.position),
                format!("`@{}` needs both `from:` and `using:`", d.name),
                format!("write `@{}(from: \"<the column's type now>\", using: \"<SQL over {column}>\")`", d.name),
            );
        }
        return None;
    };
    if from.trim().is_empty() {
        let pos = locate::arg_value(cx.src, p(d.position), "from");
        cx.err(
            codes::BAD_ARGUMENT,
            pos,
            "`from:` is empty",
            "name the type the column has before the change, e.g. `from: \"varchar(40)\"`",
        );
        return None;
    }
    cx.sql_fragment(d, "using", &using, false, "a conversion expression")?;
    Some(Convert { from, using })
}

fn check_args(cx: &mut Ctx<'_>, d: &Dir<'_>, k: K) {
    let known = known_args(k);
    for (n, _) in &d.arguments {
        if !known.contains(&n.as_str()) {
            let pos = locate::arg_value(cx.src, p(d.position), n);
            cx.warn(
                codes::IGNORED,
                pos,
                format!(
                    "argument `{n}` of `@{}` is not known and is ignored",
                    d.name
                ),
                format!(
                    "`@{}` accepts: {}",
                    d.name,
                    if known.is_empty() {
                        "no arguments".to_string()
                    } else {
                        known.join(", ")
                    }
                ),
            );
        }
    }
}

fn apply_meta(cx: &mut Ctx<'_>, meta: &mut Meta, d: &Dir<'_>, k: K) {
    match k {
        K::Uid => meta.uid = str_arg(cx, d, &["value", "id"]),
        K::Sensitive => meta.sensitive = true,
        K::Pii => meta.pii = true,
        K::Critical => meta.critical = true,
        K::Weight => match arg(d, &["value"]) {
            Some((_, Value::Int(n))) => meta.weight = n.as_i64(),
            Some((n, v)) => {
                let pos = locate::arg_value(cx.src, p(d.position), n);
                cx.err(
                    codes::BAD_ARGUMENT,
                    pos,
                    format!(
                        "`@{}(value:)` takes a whole number, not {}",
                        d.name,
                        kind_of(v)
                    ),
                    "write e.g. `@wes_weight(value: 5)`",
                );
            }
            None => {}
        },
        _ => {}
    }
}

/// A string argument; reports a wrong kind of value.
fn str_arg(cx: &mut Ctx<'_>, d: &Dir<'_>, names: &[&str]) -> Option<String> {
    match arg(d, names)? {
        (_, Value::String(s)) => Some(s.clone()),
        (n, v) => {
            let pos = locate::arg_value(cx.src, p(d.position), n);
            cx.err(
                codes::BAD_ARGUMENT,
                pos,
                format!(
                    "argument `{n}` of `@{}` must be a string, not {}",
                    d.name,
                    kind_of(v)
                ),
                format!("write `{n}: \"...\"`"),
            );
            None
        }
    }
}

fn bool_arg(cx: &mut Ctx<'_>, d: &Dir<'_>, names: &[&str]) -> Option<bool> {
    match arg(d, names)? {
        (_, Value::Boolean(b)) => Some(*b),
        (n, v) => {
            let pos = locate::arg_value(cx.src, p(d.position), n);
            cx.err(
                codes::BAD_ARGUMENT,
                pos,
                format!(
                    "argument `{n}` of `@{}` must be true or false, not {}",
                    d.name,
                    kind_of(v)
                ),
                format!("write `{n}: true` or `{n}: false`"),
            );
            None
        }
    }
}

fn string_list_arg(cx: &mut Ctx<'_>, d: &Dir<'_>, names: &[&str]) -> Option<Vec<String>> {
    let (n, v) = arg(d, names)?;
    let bad = |cx: &mut Ctx<'_>, v: &Val<'_>| {
        let pos = locate::arg_value(cx.src, p(d.position), n);
        cx.err(
            codes::BAD_ARGUMENT,
            pos,
            format!(
                "argument `{n}` of `@{}` must be a list of strings, not {}",
                d.name,
                kind_of(v)
            ),
            format!("write `{n}: [\"a\", \"b\"]`"),
        );
    };
    match v {
        Value::List(items) => {
            let mut out = Vec::new();
            for it in items {
                match it {
                    Value::String(s) => out.push(s.clone()),
                    Value::Enum(s) => out.push(s.clone()),
                    other => {
                        bad(cx, other);
                        return None;
                    }
                }
            }
            Some(out)
        }
        Value::String(s) => Some(vec![s.clone()]),
        other => {
            bad(cx, other);
            None
        }
    }
}

fn sql_type_arg(cx: &mut Ctx<'_>, d: &Dir<'_>) -> Option<SqlType> {
    let text = str_arg(cx, d, &["sql"])?;
    match types::parse_sql_type(&text) {
        Ok(t) => Some(t),
        Err(why) => {
            let pos = locate::arg_value(cx.src, p(d.position), "sql");
            cx.err(
                codes::INVALID_SQL_TYPE,
                pos,
                format!("invalid `@wes_type`: {why}"),
                format!("use one of: {}", types::KNOWN_SQL_TYPES),
            );
            None
        }
    }
}

/// Resolves a `columns:`/`fields:` argument: each entry may be a field or a column name.
fn columns_arg(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    field_cols: &BTreeMap<String, String>,
    type_name: &str,
    required: bool,
) -> Option<Vec<String>> {
    let Some(list) = string_list_arg(cx, d, &["columns", "fields"]) else {
        if required && arg(d, &["columns", "fields"]).is_none() {
            cx.err(
                codes::BAD_ARGUMENT,
                p(d.position),
                format!("`@{}` on a type needs `columns: [...]`", d.name),
                format!("write `@{}(columns: [\"a\", \"b\"])`", d.name),
            );
        }
        return None;
    };
    if list.is_empty() {
        let pos = locate::arg_value(cx.src, p(d.position), "columns");
        cx.err(
            codes::BAD_ARGUMENT,
            pos,
            format!("`@{}` names no columns", d.name),
            "list at least one column",
        );
        return None;
    }
    let mut out = Vec::new();
    let mut ok = true;
    for name in list {
        match resolve_column(field_cols, &name) {
            Some(c) => out.push(c),
            None => {
                ok = false;
                let argname = if arg(d, &["columns"]).is_some() {
                    "columns"
                } else {
                    "fields"
                };
                let pos = locate::arg_value(cx.src, p(d.position), argname);
                let known: Vec<&str> = field_cols.keys().map(String::as_str).collect();
                cx.err(
                    codes::UNKNOWN_COLUMN,
                    pos,
                    format!("`{type_name}` has no field or column `{name}`"),
                    format!("use one of: {}", known.join(", ")),
                );
            }
        }
    }
    ok.then_some(out)
}

fn resolve_column(field_cols: &BTreeMap<String, String>, name: &str) -> Option<String> {
    if let Some(c) = field_cols.get(name) {
        return Some(c.clone());
    }
    field_cols.values().find(|c| c.as_str() == name).cloned()
}

fn index_from(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    table: &str,
    cols: Vec<String>,
    t: &Table,
) -> Option<Index> {
    let _ = t;
    let method = match str_arg(cx, d, &["using"]) {
        None => IndexMethod::Btree,
        Some(m) => match IndexMethod::parse(&m) {
            Some(m) => m,
            None => {
                let pos = locate::arg_value(cx.src, p(d.position), "using");
                cx.err(
                    codes::BAD_ARGUMENT,
                    pos,
                    format!("unknown index method `{m}`"),
                    "use one of: btree, hash, gin, gist, brin",
                );
                return None;
            }
        },
    };
    let unique = bool_arg(cx, d, &["unique"]).unwrap_or(false);
    if unique && method != IndexMethod::Btree {
        cx.err(
            codes::BAD_ARGUMENT,
            p(d.position),
            format!("a unique index must use btree, not {}", method.sql()),
            "remove `using:` or `unique:`",
        );
        return None;
    }
    if method == IndexMethod::Hash && cols.len() > 1 {
        cx.err(
            codes::BAD_ARGUMENT,
            p(d.position),
            "hash indexes cover a single column",
            "use btree for several columns",
        );
        return None;
    }
    let predicate = match str_arg(cx, d, &["where"]) {
        Some(w) => {
            cx.sql_fragment(d, "where", &w, false, "an index predicate")?;
            Some(w.trim().to_string())
        }
        None => None,
    };
    let refs: Vec<&str> = cols.iter().map(String::as_str).collect();
    let name = match str_arg(cx, d, &["name"]) {
        Some(n) => {
            if !cx.check_ident(&n, "index", p(d.position)) {
                return None;
            }
            n
        }
        None => derived_name(table, &refs, "idx"),
    };
    Some(Index {
        name,
        columns: cols,
        method,
        unique,
        predicate,
    })
}

fn check_from(cx: &mut Ctx<'_>, d: &Dir<'_>, table: &str, col: Option<&str>) -> Option<Check> {
    let Some(e) = str_arg(cx, d, &["expr"]) else {
        if arg(d, &["expr"]).is_none() {
            cx.err(
                codes::BAD_ARGUMENT,
                p(d.position),
                format!("`@{}` needs `expr:`", d.name),
                "write `@wes_check(expr: \"price >= 0\")`",
            );
        }
        return None;
    };
    cx.sql_fragment(d, "expr", &e, false, "a check constraint")?;
    let name = match str_arg(cx, d, &["name"]) {
        Some(n) => {
            if !cx.check_ident(&n, "constraint", p(d.position)) {
                return None;
            }
            n
        }
        None => match col {
            Some(c) => derived_name(table, &[c], "check"),
            None => derived_name(table, &[&naming::short_hash(e.trim())], "check"),
        },
    };
    Some(Check {
        name,
        expr: e.trim().to_string(),
    })
}

/// SQL functions and keywords that a `@wes_default(value: "...")` string means as an
/// expression rather than as a string literal (compared case-insensitively).
pub const VALUE_EXPRESSIONS: &[&str] = &[
    "now()",
    "current_timestamp",
    "current_date",
    "current_time",
    "localtimestamp",
    "localtime",
    "transaction_timestamp()",
    "statement_timestamp()",
    "clock_timestamp()",
    "gen_random_uuid()",
    "uuid_generate_v4()",
    "current_user",
    "session_user",
];

fn default_from(
    cx: &mut Ctx<'_>,
    d: &Dir<'_>,
    ty: &SqlType,
    nullable: bool,
    field: &str,
    enums: &BTreeMap<String, &graphql_parser::schema::EnumType<'_, String>>,
) -> Option<Default> {
    let _ = enums;
    let value = arg(d, &["value"]);
    let exprv = arg(d, &["expr"]);
    let vpos = |cx: &Ctx<'_>, n: &str| locate::arg_value(cx.src, p(d.position), n);
    if value.is_some() && exprv.is_some() {
        cx.err(
            codes::BAD_ARGUMENT,
            p(d.position),
            "`@wes_default` takes either `value:` or `expr:`, not both",
            "keep one of them",
        );
        return None;
    }
    if exprv.is_some() {
        let e = str_arg(cx, d, &["expr"])?;
        cx.sql_fragment(d, "expr", &e, false, "a default expression")?;
        let e = e.trim().to_string();
        if e.eq_ignore_ascii_case("null") {
            if !nullable {
                cx.err(
                    codes::NULL_DEFAULT_NOT_NULL,
                    vpos(cx, "expr"),
                    format!("field `{field}` is non-null but its default is null"),
                    "remove the default, or make the field nullable",
                );
            }
            return None;
        }
        return Some(Default::Expr(e));
    }
    let Some((_, v)) = value else {
        cx.err(
            codes::BAD_ARGUMENT,
            p(d.position),
            "`@wes_default` needs `value:` or `expr:`",
            "write `@wes_default(value: 0)` or `@wes_default(expr: \"now()\")`",
        );
        return None;
    };
    let mismatch = |cx: &mut Ctx<'_>, what: &str| {
        cx.err(
            codes::BAD_DEFAULT,
            vpos(cx, "value"),
            format!("default {what} does not fit column type `{ty}` of field `{field}`"),
            "give a value of the column's type, or an SQL expression with `expr:`",
        );
    };
    if ty.array {
        return match v {
            Value::String(s) => Some(Default::Literal(sql::literal(s))),
            Value::Null => {
                if !nullable {
                    cx.err(
                        codes::NULL_DEFAULT_NOT_NULL,
                        vpos(cx, "value"),
                        format!("field `{field}` is non-null but its default is null"),
                        "remove the default, or make the field nullable",
                    );
                }
                None
            }
            _ => {
                mismatch(cx, "value");
                None
            }
        };
    }
    match v {
        Value::Null => {
            if !nullable {
                cx.err(
                    codes::NULL_DEFAULT_NOT_NULL,
                    vpos(cx, "value"),
                    format!("field `{field}` is non-null but its default is null"),
                    "remove the default, or make the field nullable",
                );
            }
            None
        }
        Value::Boolean(b) => {
            if ty.base == BaseType::Boolean {
                Some(Default::Literal(b.to_string()))
            } else if ty.base.is_textual() {
                Some(Default::Literal(sql::literal(&b.to_string())))
            } else {
                mismatch(cx, &format!("`{b}`"));
                None
            }
        }
        Value::Int(n) => {
            let s = n.as_i64().unwrap_or_default().to_string();
            number_default(cx, ty, &s, d, field)
        }
        Value::Float(f) => {
            if ty.base.is_integer() {
                mismatch(cx, &format!("`{f}`"));
                return None;
            }
            // f64 would round long decimals: use the number as written in the source.
            let pos = locate::arg_value(cx.src, p(d.position), "value");
            let raw = raw_number_at(cx.src, pos).unwrap_or_else(|| f.to_string());
            number_default(cx, ty, &raw, d, field)
        }
        Value::Enum(e) => enum_or_string_default(cx, ty, e, d, field),
        Value::String(s) => {
            let trimmed = s.trim();
            if VALUE_EXPRESSIONS
                .iter()
                .any(|k| k.eq_ignore_ascii_case(trimmed))
            {
                let e = trimmed.to_ascii_lowercase();
                if !value_expression_fits(&e, &ty.base) {
                    mismatch(cx, &format!("`{s}`"));
                    return None;
                }
                return Some(Default::Expr(e));
            }
            let is_time = matches!(
                ty.base,
                BaseType::Timestamp { .. }
                    | BaseType::TimestampTz { .. }
                    | BaseType::Date
                    | BaseType::Time { .. }
                    | BaseType::TimeTz { .. }
            );
            if is_time
                && matches!(
                    trimmed.to_ascii_lowercase().as_str(),
                    "now" | "today" | "tomorrow" | "yesterday"
                )
            {
                cx.err(
                    codes::BAD_DEFAULT,
                    vpos(cx, "value"),
                    format!("default `{s}` of field `{field}` would be evaluated once, when the table is created, and then stay fixed"),
                    "write `@wes_default(expr: \"now()\")` to get the time of each insert",
                );
                return None;
            }
            if ty.base.is_numeric() {
                return number_default(cx, ty, trimmed, d, field);
            }
            if ty.base == BaseType::Boolean {
                return match trimmed.to_ascii_lowercase().as_str() {
                    "true" => Some(Default::Literal("true".into())),
                    "false" => Some(Default::Literal("false".into())),
                    _ => {
                        mismatch(cx, &format!("`{s}`"));
                        None
                    }
                };
            }
            enum_or_string_default(cx, ty, s, d, field)
        }
        other => {
            mismatch(cx, kind_of(other));
            None
        }
    }
}

/// Whether a `value:` string that names an SQL function can produce the column's type.
fn value_expression_fits(e: &str, base: &BaseType) -> bool {
    let time = matches!(
        base,
        BaseType::Timestamp { .. }
            | BaseType::TimestampTz { .. }
            | BaseType::Date
            | BaseType::Time { .. }
            | BaseType::TimeTz { .. }
    );
    match e {
        "gen_random_uuid()" | "uuid_generate_v4()" => {
            matches!(base, BaseType::Uuid) || base.is_textual()
        }
        "current_user" | "session_user" => base.is_textual(),
        _ => time || base.is_textual(),
    }
}

/// The number literal starting at `pos` in the source, as written.
fn raw_number_at(src: &locate::Source<'_>, pos: Pos) -> Option<String> {
    let line = src.line(pos.line)?;
    let rest: String = line.chars().skip(pos.column.checked_sub(1)?).collect();
    let num: String = rest
        .chars()
        .take_while(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
        .collect();
    (!num.is_empty() && num.parse::<f64>().is_ok()).then_some(num)
}

fn number_default(
    cx: &mut Ctx<'_>,
    ty: &SqlType,
    s: &str,
    d: &Dir<'_>,
    field: &str,
) -> Option<Default> {
    if ty.base.is_textual() {
        return Some(Default::Literal(sql::literal(s)));
    }
    if !ty.base.is_numeric() {
        let pos = locate::arg_value(cx.src, p(d.position), "value");
        cx.err(
            codes::BAD_DEFAULT,
            pos,
            format!("default `{s}` does not fit column type `{ty}` of field `{field}`"),
            "give a value of the column's type, or an SQL expression with `expr:`",
        );
        return None;
    }
    let valid = if ty.base.is_integer() {
        s.parse::<i64>().is_ok()
    } else {
        ty.base.is_numeric() && s.parse::<f64>().is_ok_and(f64::is_finite)
    };
    if !valid {
        let pos = locate::arg_value(cx.src, p(d.position), "value");
        cx.err(
            codes::BAD_DEFAULT,
            pos,
            format!("default `{s}` does not fit column type `{ty}` of field `{field}`"),
            "give a number of the column's type, or an SQL expression with `expr:`",
        );
        return None;
    }
    Some(Default::Literal(s.to_string()))
}

fn enum_or_string_default(
    cx: &mut Ctx<'_>,
    ty: &SqlType,
    s: &str,
    d: &Dir<'_>,
    field: &str,
) -> Option<Default> {
    match &ty.base {
        BaseType::Enum { .. } => {
            // Enum values are validated against the enum when the schema is assembled.
            Some(Default::Literal(sql::literal(s)))
        }
        b if b.is_numeric() || *b == BaseType::Boolean => {
            let pos = locate::arg_value(cx.src, p(d.position), "value");
            cx.err(
                codes::BAD_DEFAULT,
                pos,
                format!("default `{s}` does not fit column type `{ty}` of field `{field}`"),
                "give a value of the column's type",
            );
            None
        }
        _ => Some(Default::Literal(sql::literal(s))),
    }
}

/// A list of role names. `public` (any case) means every role and is stored as an empty
/// list; `current_user`-style pseudo-roles are refused, because policies must name roles.
fn role_list(cx: &mut Ctx<'_>, d: &Dir<'_>, name: &str) -> Option<Vec<String>> {
    let list = string_list_arg(cx, d, &[name])?;
    let mut out = Vec::new();
    for r in list {
        let lower = r.to_ascii_lowercase();
        if lower == "public" {
            return Some(Vec::new());
        }
        if matches!(
            lower.as_str(),
            "current_user" | "current_role" | "session_user"
        ) {
            let pos = locate::arg_value(cx.src, p(d.position), name);
            cx.err(
                codes::BAD_ARGUMENT,
                pos,
                format!("`{r}` is not a role name; policies must name roles"),
                "list the roles the policy applies to, or `public` for every role",
            );
            continue;
        }
        if cx.check_ident(&r, "role", p(d.position)) {
            out.push(r);
        }
    }
    out.sort();
    out.dedup();
    Some(out)
}

fn lower_rls(
    cx: &mut Ctx<'_>,
    table: &mut Table,
    o: &Obj<'_>,
    rls: Option<&Dir<'_>>,
    tenant: Option<&Dir<'_>>,
    owner: Option<&Dir<'_>>,
    field_cols: &BTreeMap<String, String>,
) {
    let tname = table.name.clone();
    let mut policies: Vec<Policy> = Vec::new();
    let mut enabled = false;
    let errors_before = cx.diags.iter().filter(|d| d.is_error()).count();
    let explicitly_disabled =
        rls.is_some_and(|d| matches!(arg(d, &["enabled"]), Some((_, Value::Boolean(false)))));
    if let Some(d) = rls {
        enabled = bool_arg(cx, d, &["enabled"]).unwrap_or(true);
        let all_roles = role_list(cx, d, "roles").unwrap_or_default();
        let base = str_arg(cx, d, &["name"]).unwrap_or_else(|| tname.clone());
        let ops = [
            ("select", "selectRoles", PolicyCommand::Select),
            ("insert", "insertRoles", PolicyCommand::Insert),
            ("update", "updateRoles", PolicyCommand::Update),
            ("delete", "deleteRoles", PolicyCommand::Delete),
        ];
        for (argname, roles_arg, cmd) in ops {
            let Some(text) = str_arg(cx, d, &[argname]) else {
                continue;
            };
            if cx
                .sql_fragment(d, argname, &text, true, &format!("the {argname} policy"))
                .is_none()
            {
                continue;
            }
            let roles = role_list(cx, d, roles_arg).unwrap_or_else(|| all_roles.clone());
            let text = text.trim().to_string();
            let (using, check) = match cmd {
                PolicyCommand::Insert => (None, Some(text)),
                PolicyCommand::Update => (Some(text.clone()), Some(text)),
                _ => (Some(text), None),
            };
            policies.push(Policy {
                name: derived_name(&base, &[argname], "policy"),
                command: cmd,
                restrictive: false,
                roles,
                using,
                check,
            });
        }
        let using = str_arg(cx, d, &["using"]);
        let check = str_arg(cx, d, &["check"]);
        if using.is_some() || check.is_some() {
            let u = using.filter(|u| {
                cx.sql_fragment(d, "using", u, true, "the policy's USING")
                    .is_some()
            });
            let c = check.filter(|c| {
                cx.sql_fragment(d, "check", c, true, "the policy's WITH CHECK")
                    .is_some()
            });
            policies.push(Policy {
                name: derived_name(&base, &["all"], "policy"),
                command: PolicyCommand::All,
                restrictive: false,
                roles: all_roles.clone(),
                using: u.map(|s| s.trim().to_string()),
                check: c.map(|s| s.trim().to_string()),
            });
        }
    }
    let setting_policy = |cx: &mut Ctx<'_>,
                          d: &Dir<'_>,
                          args: &[&str],
                          default_setting: &str,
                          suffix: &str|
     -> Option<(String, Policy)> {
        let col_arg = arg(d, args).map(|a| a.0.to_string());
        let Some(col) = str_arg(cx, d, args) else {
            cx.err(
                codes::BAD_ARGUMENT,
                p(d.position),
                format!("`@{}` needs `{}:` naming a column", d.name, args[0]),
                format!("write `@{}({}: \"org_id\")`", d.name, args[0]),
            );
            return None;
        };
        let Some(cname) = resolve_column(field_cols, &col) else {
            let pos =
                locate::arg_value(cx.src, p(d.position), col_arg.as_deref().unwrap_or(args[0]));
            let known: Vec<&str> = field_cols.keys().map(String::as_str).collect();
            cx.err(
                codes::RLS_COLUMN,
                pos,
                format!(
                    "`@{}` names column `{col}`, which `{}` does not have",
                    d.name, o.name
                ),
                format!("use one of: {}", known.join(", ")),
            );
            return None;
        };
        let setting = str_arg(cx, d, &["setting"]).unwrap_or_else(|| default_setting.to_string());
        let ty = table
            .columns
            .iter()
            .find(|c| c.name == cname)
            .map(|c| c.ty.to_sql())
            .unwrap_or_else(|| "text".into());
        let e = format!(
            "{} = NULLIF(current_setting({}, true), '')::{}",
            sql::ident(&cname),
            sql::literal(&setting),
            ty
        );
        Some((
            cname.clone(),
            Policy {
                name: derived_name(&tname, &[suffix], "policy"),
                command: PolicyCommand::All,
                restrictive: false,
                roles: vec![],
                using: Some(e.clone()),
                check: Some(e),
            },
        ))
    };
    let mut tenant_policy = None;
    if let Some(d) = tenant {
        enabled = true;
        tenant_policy = setting_policy(cx, d, &["by", "column"], "app.tenant_id", "tenant");
    }
    if let Some(d) = owner {
        enabled = true;
        if let Some((_, pol)) = setting_policy(cx, d, &["column", "by"], "app.user_id", "owner") {
            policies.push(pol);
        }
    }
    if let Some((_, mut pol)) = tenant_policy {
        // Tenant isolation always applies: alone it grants access within the tenant; with
        // other policies it is AND-ed with them.
        pol.restrictive = !policies.is_empty();
        policies.push(pol);
    }
    if explicitly_disabled && (tenant.is_some() || owner.is_some()) {
        enabled = false;
        let pos = rls.map(|d| p(d.position)).unwrap_or(p(o.position));
        cx.warn(
            codes::IGNORED,
            pos,
            format!("`@wes_rls(enabled: false)` keeps row-level security off on `{tname}`: its tenant/owner policies exist but have no effect"),
            "remove `enabled: false` to enforce them, or remove `@wes_tenant`/`@wes_owner`",
        );
    }
    let rls_errors = cx.diags.iter().filter(|d| d.is_error()).count() > errors_before;
    if enabled && policies.is_empty() && !rls_errors {
        let pos = rls.map(|d| p(d.position)).unwrap_or(p(o.position));
        cx.warn(codes::RLS_NO_POLICIES, pos, format!("row-level security is enabled on `{tname}` without any policy: every row is hidden from roles that do not own the table"), "add `select:`/`insert:`/`update:`/`delete:` policies, `@wes_tenant` or `@wes_owner`");
    }
    table.rls_enabled = enabled;
    table.policies = policies;
}

fn resolve_fks(
    cx: &mut Ctx<'_>,
    d: &Draft<'_, '_>,
    all: &[Draft<'_, '_>],
    by_type: &BTreeMap<&str, usize>,
    by_table: &BTreeMap<String, usize>,
) -> Vec<ForeignKey> {
    let mut out = Vec::new();
    for (col, dir) in &d.fks {
        let Some(r) = str_arg(cx, dir, &["ref"]) else {
            if arg(dir, &["ref"]).is_none() {
                cx.err(
                    codes::BAD_ARGUMENT,
                    p(dir.position),
                    format!("`@{}` needs `ref: \"Type.field\"`", dir.name),
                    "write e.g. `@wes_fk(ref: \"User.id\")`",
                );
            }
            continue;
        };
        // Located only when reporting: locating scans the source from its start.
        let rpos = |cx: &Ctx<'_>| locate::arg_value(cx.src, p(dir.position), "ref");
        let (type_part, field_part) = match r.rsplit_once('.') {
            Some((t, f)) => (t.to_string(), Some(f.to_string())),
            None => (r.clone(), None),
        };
        let target = by_type
            .get(type_part.as_str())
            .or_else(|| by_table.get(type_part.as_str()))
            .map(|&i| &all[i]);
        let Some(target) = target else {
            let known: Vec<&str> = all.iter().map(|t| t.obj.name.as_str()).collect();
            cx.err(
                codes::FK_UNKNOWN_TYPE,
                rpos(cx),
                format!("foreign key refers to `{type_part}`, which is not a `@wes_table` type"),
                format!("use one of: {}", known.join(", ")),
            );
            continue;
        };
        let ref_col = match &field_part {
            Some(f) => resolve_column(&target.field_cols, f),
            None => match &target.table.primary_key {
                Some(pk) if pk.columns.len() == 1 => Some(pk.columns[0].clone()),
                _ => None,
            },
        };
        let Some(ref_col) = ref_col else {
            let known: Vec<&str> = target.field_cols.keys().map(String::as_str).collect();
            let message = match &field_part {
                Some(f) => format!("foreign key refers to `{}.{f}`, which does not exist", target.obj.name),
                None => format!("foreign key refers to `{}` without a field, but it has no single-column primary key", target.obj.name),
            };
            cx.err(
                codes::FK_UNKNOWN_FIELD,
                rpos(cx),
                message,
                format!(
                    "use `{}.<field>` with one of: {}",
                    target.obj.name,
                    known.join(", ")
                ),
            );
            continue;
        };
        let src_col = d.table.column(col).expect("fk column exists");
        let dst_col = target
            .table
            .column(&ref_col)
            .expect("resolved column exists");
        if !src_col.ty.fk_compatible(&dst_col.ty) {
            cx.err(
                codes::FK_TYPE_MISMATCH,
                rpos(cx),
                format!(
                    "foreign key column `{}` is `{}` but `{}.{}` is `{}`",
                    col, src_col.ty, target.table.name, ref_col, dst_col.ty
                ),
                format!(
                    "give `{}` the type of the column it references",
                    src_col.graphql_name
                ),
            );
            continue;
        }
        let unique = target
            .table
            .primary_key
            .as_ref()
            .is_some_and(|k| k.columns == [ref_col.clone()])
            || target
                .table
                .uniques
                .iter()
                .any(|u| u.columns == [ref_col.clone()])
            || target
                .table
                .indexes
                .iter()
                .any(|i| i.unique && i.predicate.is_none() && i.columns == [ref_col.clone()]);
        if !unique {
            cx.err(
                codes::FK_NOT_UNIQUE,
                rpos(cx),
                format!(
                    "foreign key refers to `{}.{}`, which is neither a primary key nor unique",
                    target.table.name, ref_col
                ),
                format!(
                    "mark `{}.{}` with `@wes_unique`, or reference the primary key",
                    target.obj.name, dst_col.graphql_name
                ),
            );
            continue;
        }
        let action = |cx: &mut Ctx<'_>, names: &[&str]| -> FkAction {
            match arg(dir, names) {
                None => FkAction::NoAction,
                Some((n, v)) => {
                    let text = match v {
                        Value::String(s) | Value::Enum(s) => s.clone(),
                        _ => String::new(),
                    };
                    FkAction::parse(&text).unwrap_or_else(|| {
                        let pos = locate::arg_value(cx.src, p(dir.position), n);
                        cx.err(codes::BAD_ARGUMENT, pos, format!("`{n}` must be one of CASCADE, RESTRICT, SET_NULL, SET_DEFAULT, NO_ACTION"), format!("write e.g. `{n}: CASCADE`"));
                        FkAction::NoAction
                    })
                }
            }
        };
        let on_delete = action(cx, &["onDelete", "on_delete"]);
        let on_update = action(cx, &["onUpdate", "on_update"]);
        let name = explicit_name(cx, dir, "constraint", || {
            derived_name(&d.table.name, &[col], "fkey")
        });
        out.push(ForeignKey {
            name,
            columns: vec![col.clone()],
            ref_schema: target.table.schema.clone(),
            ref_table: target.table.name.clone(),
            ref_columns: vec![ref_col],
            on_delete,
            on_update,
        });
    }
    out
}

fn check_policy_relations(
    cx: &mut Ctx<'_>,
    d: &Draft<'_, '_>,
    tables: &BTreeSet<String>,
    table_names: &BTreeMap<String, (String, String)>,
) {
    let Some(dir) = d
        .obj
        .directives
        .iter()
        .find(|x| canonical_directive(&x.name) == Some(K::Rls))
    else {
        return;
    };
    for (argname, _) in &dir.arguments {
        let Some((_, Value::String(text))) = arg(dir, &[argname.as_str()]) else {
            continue;
        };
        let Ok(info) = expr::check(text) else {
            continue;
        };
        for (rel, off, quoted) in info.relations {
            if rel.contains('.') {
                continue;
            }
            if tables.contains(&rel) {
                if !quoted && naming::is_reserved(&rel) {
                    let pos = locate::in_string(cx.src, p(dir.position), argname, text, off);
                    cx.err(codes::POLICY_UNKNOWN_TABLE, pos, format!("table `{rel}` is a reserved word and must be quoted in SQL"), format!("write `{}` (escape the quotes inside the GraphQL string: `\\\"{rel}\\\"`)", sql::ident(&rel)));
                }
                continue;
            }
            let raw: String = text
                .chars()
                .skip(off)
                .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == '"')
                .collect();
            let help = if let Some((_, t)) = table_names.get(raw.trim_matches('"')) {
                format!(
                    "`{raw}` is the GraphQL type; its table is `{t}`, written `{}` in SQL",
                    sql::ident(t)
                )
            } else if let Some(close) = closest(&rel, tables) {
                format!("did you mean `{close}`?")
            } else {
                "name a table defined in this schema, or qualify it with its schema".to_string()
            };
            let pos = locate::in_string(cx.src, p(dir.position), argname, text, off);
            cx.err(
                codes::POLICY_UNKNOWN_TABLE,
                pos,
                format!("policy refers to table `{rel}`, which this schema does not define"),
                help,
            );
        }
    }
}

fn closest<'t>(name: &str, tables: &'t BTreeSet<String>) -> Option<&'t str> {
    tables
        .iter()
        .map(|t| (edit_distance(name, t), t))
        .filter(|(d, t)| *d <= 3.max(t.len() / 4))
        .min()
        .map(|(_, t)| t.as_str())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for i in 1..=a.len() {
        let mut cur = vec![i; b.len() + 1];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            cur[j] = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Names that share one PostgreSQL namespace must differ: relations (tables, indexes,
/// including those behind primary keys and unique constraints) and types (tables and
/// enums) per schema; constraints per table. Also checks enum defaults.
fn check_name_collisions(
    cx: &mut Ctx<'_>,
    schema: &Schema,
    kinds: &BTreeMap<String, (DefKind, Pos)>,
) {
    let pos_of_type = |name: &str| kinds.get(name).map(|k| k.1).unwrap_or_default();
    let mut relations: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut claim = |cx: &mut Ctx<'_>, schema: &str, name: &str, what: String, pos: Pos| {
        let key = (schema.to_string(), name.to_string());
        if let Some(prev) = relations.get(&key) {
            cx.err(
                codes::DUPLICATE_NAME,
                pos,
                format!("{what} is named `{name}`, like {prev}"),
                "PostgreSQL needs distinct names here: set another name with `name:`",
            );
        } else {
            relations.insert(key, what);
        }
    };
    for e in &schema.enums {
        claim(
            cx,
            &e.schema,
            &e.name,
            format!("enum `{}`", e.graphql_name),
            pos_of_type(&e.graphql_name),
        );
    }
    for t in &schema.tables {
        let pos = pos_of_type(&t.graphql_name);
        claim(cx, &t.schema, &t.name, format!("table `{}`", t.name), pos);
        if let Some(pk) = &t.primary_key {
            claim(
                cx,
                &t.schema,
                &pk.name,
                format!("the primary key of `{}`", t.name),
                pos,
            );
        }
        for u in &t.uniques {
            claim(
                cx,
                &t.schema,
                &u.name,
                format!("unique constraint on `{}`", t.name),
                pos,
            );
        }
        for i in &t.indexes {
            claim(
                cx,
                &t.schema,
                &i.name,
                format!("index on `{}`", t.name),
                pos,
            );
        }
        let mut cons: BTreeSet<&str> = BTreeSet::new();
        let names = t
            .primary_key
            .iter()
            .map(|k| k.name.as_str())
            .chain(t.uniques.iter().map(|u| u.name.as_str()))
            .chain(t.foreign_keys.iter().map(|f| f.name.as_str()))
            .chain(t.checks.iter().map(|c| c.name.as_str()));
        for n in names {
            if !cons.insert(n) {
                cx.err(
                    codes::DUPLICATE_NAME,
                    pos,
                    format!("two constraints of `{}` are named `{n}`", t.name),
                    "give them distinct names with `name:`",
                );
            }
        }
        let mut pols: BTreeSet<&str> = BTreeSet::new();
        for pol in &t.policies {
            if !pols.insert(&pol.name) {
                cx.err(
                    codes::DUPLICATE_NAME,
                    pos,
                    format!("two policies of `{}` are named `{}`", t.name, pol.name),
                    "give them distinct names",
                );
            }
        }
    }
}
