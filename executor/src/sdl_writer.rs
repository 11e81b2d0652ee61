//! Writes Wesley SDL that describes a live database ([`crate::catalog::Catalog`]): the
//! heart of `wesley introspect`. Pure: it takes the catalog as data and returns text and
//! the list of what it could not express.
//!
//! Names: a table becomes a type named in PascalCase, a column a field in camelCase. Where
//! the dialect's snake_case of that name would not give back the database's name exactly,
//! `@wes_table(name:)` or `@wes_column(name:)` says it; constraint, index and policy names
//! are written whenever they differ from the names the dialect derives. Column lists name
//! fields. Order is stable: enums, then tables, by schema and name; fields in column order;
//! directives in a fixed order. Comments on tables and columns become their descriptions.
//!
//! Nothing is dropped silently: every object the dialect cannot express becomes a
//! [`Note`], which `wesley introspect` lists at the top of the file and on stderr; a column
//! the file cannot describe is also left in its type as a comment.

use crate::catalog::{self, Catalog};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use wesley_planner::naming::{derived_name, snake_case};
use wesley_planner::types::parse_sql_type;

/// One thing in the database that the written SDL does not describe (or describes only
/// in part), as a sentence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note(pub String);

/// The SDL body (without the header) and what it leaves out.
#[derive(Debug, Clone)]
pub struct Written {
    /// The SDL.
    pub body: String,
    /// Objects the dialect cannot express, for the header and stderr.
    pub notes: Vec<Note>,
}

/// GraphQL names that are not free for types: the built-in scalars.
const BUILTIN: &[&str] = &[
    "ID", "UUID", "String", "Int", "BigInt", "Float", "Decimal", "Boolean", "DateTime", "Date",
    "Time", "JSON",
];

/// Built-in scalars by the canonical SQL type they map to.
const SCALAR_OF: &[(&str, &str)] = &[
    ("uuid", "ID"),
    ("text", "String"),
    ("integer", "Int"),
    ("bigint", "BigInt"),
    ("double precision", "Float"),
    ("numeric", "Decimal"),
    ("boolean", "Boolean"),
    ("timestamp with time zone", "DateTime"),
    ("date", "Date"),
    ("time without time zone", "Time"),
    ("jsonb", "JSON"),
];

/// `order_item` → `OrderItem`; `OrderItems` stays; anything but ASCII letters and digits
/// separates words.
pub fn pascal_case(name: &str) -> String {
    let mut out = String::new();
    for part in name.split(|c: char| !c.is_ascii_alphanumeric()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// `created_at` → `createdAt`, `URLPath` → `urlPath`, `ID` → `id`, `userID` stays.
pub fn camel_case(name: &str) -> String {
    let mut out = String::new();
    for part in name
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
    {
        if out.is_empty() {
            let chars: Vec<char> = part.chars().collect();
            let run = chars.iter().take_while(|c| c.is_ascii_uppercase()).count();
            let lower = if run == chars.len() || run <= 1 {
                run
            } else {
                run - 1
            };
            for (i, c) in chars.iter().enumerate() {
                out.push(if i < lower {
                    c.to_ascii_lowercase()
                } else {
                    *c
                });
            }
        } else {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert(0, 'f');
    }
    out
}

/// A GraphQL string literal.
pub fn gql_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn gql_list(items: &[String]) -> String {
    format!(
        "[{}]",
        items
            .iter()
            .map(|s| gql_str(s))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn is_enum_value_name(v: &str) -> bool {
    let mut chars = v.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !matches!(v, "true" | "false" | "null")
        && !v.starts_with("__")
}

fn qualified(schema: &str, name: &str) -> String {
    format!("{schema}.{name}")
}

/// Whether an SQL fragment from the catalog can be written where the dialect takes one
/// (`subquery`: whether a subquery is allowed there).
fn fragment_ok(text: &str, subquery: bool) -> bool {
    match wesley_planner::expr::check(text) {
        Ok(info) => subquery || !info.has_subquery,
        Err(_) => false,
    }
}

/// An index expression as the server prints it is one the dialect accepts: a fragment
/// without subquery, ordering or collation, whose column references are all written
/// (`field_of` finds their fields).
fn index_expression_ok(text: &str, field_of: &dyn Fn(&str) -> Option<String>) -> bool {
    fragment_ok(text, false)
        && wesley_planner::expr::index_key_option(text).is_none()
        && wesley_planner::expr::lone_identifier(text).is_none()
        && wesley_planner::expr::column_refs(text)
            .iter()
            .all(|(c, _)| field_of(c).is_some())
}

/// `@wes_generated(expr:)` for stored generated column `c` of `t`, or why the dialect
/// cannot say it: the expression must be a fragment it accepts over columns of `t` that are
/// not generated (what the planner checks), and the column must not be in the primary key.
/// The server prints the expression in parentheses; a pair around all of it is left out.
fn generated_directive(c: &catalog::Column, t: &catalog::Table) -> Result<String, String> {
    let text = c.default.as_deref().unwrap_or_default().trim();
    let inner = text
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .filter(|x| fragment_ok(x, false));
    let text = inner.unwrap_or(text);
    if !fragment_ok(text, false) {
        return Err("an expression the dialect does not accept".into());
    }
    if t.constraints
        .iter()
        .any(|k| k.kind == "p" && k.columns.contains(&c.name))
    {
        return Err("part of the primary key, which the dialect does not allow".into());
    }
    for (name, _) in wesley_planner::expr::column_refs(text) {
        match t.columns.iter().find(|x| x.name == name) {
            Some(x) if x.generated.is_empty() => {}
            _ => return Err(format!("its expression names `{name}`, which the dialect would not read as a column of the table")),
        }
    }
    if let Some((name, _)) = wesley_planner::expr::not_immutable(text) {
        return Err(format!(
            "its expression uses `{name}`, which the dialect refuses there"
        ));
    }
    Ok(format!("@wes_generated(expr: {})", gql_str(text)))
}

/// A written enum: GraphQL name by `schema.name`.
struct Names {
    enums: BTreeMap<String, String>,
    /// `schema.table` → GraphQL type name.
    tables: BTreeMap<String, String>,
    /// `schema.table` → column name → field name.
    fields: BTreeMap<String, BTreeMap<String, String>>,
}

/// The SDL describing `cat`: PascalCase types, camelCase fields, explicit names wherever
/// the derived ones would differ, and a note for everything it leaves out.
pub fn write(cat: &Catalog) -> Written {
    let mut notes: Vec<Note> = Vec::new();
    let mut taken: BTreeSet<String> = BUILTIN.iter().map(|s| s.to_string()).collect();
    let mut names = Names {
        enums: BTreeMap::new(),
        tables: BTreeMap::new(),
        fields: BTreeMap::new(),
    };

    // Enums the dialect can name: public, snake_case of the PascalCase name, labels that
    // are GraphQL names.
    let used: BTreeSet<String> = cat
        .tables
        .iter()
        .flat_map(|t| t.columns.iter())
        .filter_map(|c| {
            Some(qualified(
                c.enum_schema.as_deref()?,
                c.enum_name.as_deref()?,
            ))
        })
        .collect();
    let mut written_enums: Vec<(&catalog::Enum, String)> = Vec::new();
    for e in &cat.enums {
        let q = qualified(&e.schema, &e.name);
        let gql = pascal_case(&e.name);
        if !used.contains(&q) {
            notes.push(Note(format!(
                "enum {q}: no column uses it, and the dialect creates only the enums columns use"
            )));
            continue;
        }
        let why = if e.schema != "public" {
            Some("the dialect creates enums in schema public only".to_string())
        } else if snake_case(&gql) != e.name {
            Some(format!(
                "the dialect names enums in snake_case (`{gql}` would be `{}`)",
                snake_case(&gql)
            ))
        } else if let Some(v) = e.values.iter().find(|v| !is_enum_value_name(v)) {
            Some(format!("its value {v:?} is not a GraphQL name"))
        } else if taken.contains(&gql) {
            Some(format!("`{gql}` is a built-in scalar"))
        } else {
            None
        };
        if let Some(why) = why {
            notes.push(Note(format!(
                "enum {q}: {why}; the columns of this type are left out"
            )));
            continue;
        }
        if let Some(c) = &e.comment {
            notes.push(Note(format!("comment on enum {q}: {c:?}")));
        }
        taken.insert(gql.clone());
        names.enums.insert(q, gql.clone());
        written_enums.push((e, gql));
    }

    // Type names, then field names.
    for t in &cat.tables {
        let q = qualified(&t.schema, &t.name);
        let mut gql = pascal_case(&t.name);
        if taken.contains(&gql) || gql.starts_with("__") {
            gql = pascal_case(&format!("{}_{}", t.schema, t.name));
        }
        let base = gql.clone();
        let mut n = 2;
        while taken.contains(&gql) {
            gql = format!("{base}{n}");
            n += 1;
        }
        taken.insert(gql.clone());
        names.tables.insert(q.clone(), gql);
        let mut fields: BTreeMap<String, String> = BTreeMap::new();
        let mut used_fields: BTreeSet<String> = BTreeSet::new();
        for c in &t.columns {
            let mut f = camel_case(&c.name);
            if f.starts_with("__") {
                f = format!("f{}", f.trim_start_matches('_'));
            }
            let base = f.clone();
            let mut n = 2;
            while used_fields.contains(&f) {
                f = format!("{base}{n}");
                n += 1;
            }
            used_fields.insert(f.clone());
            fields.insert(c.name.clone(), f);
        }
        names.fields.insert(q, fields);
    }

    let mut body = String::new();
    for (e, gql) in &written_enums {
        let _ = writeln!(body, "enum {gql} {{");
        for v in &e.values {
            let _ = writeln!(body, "  {v}");
        }
        body.push_str("}\n\n");
    }
    for t in &cat.tables {
        write_table(&mut body, &mut notes, cat, t, &names);
    }
    for o in &cat.others {
        let detail = o
            .detail
            .as_deref()
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        notes.push(Note(format!("{} {}{detail}", o.kind, o.name)));
    }
    // Installed extensions become `@wes_extensions` on the `schema` definition (GraphQL
    // wants a root type there; Wesley reads only the directive), except `citext` when a
    // column's type already needs it.
    let uses_citext = cat
        .tables
        .iter()
        .flat_map(|t| t.columns.iter())
        .any(|c| c.ty.trim_end_matches("[]") == "citext");
    let declared: Vec<String> = cat
        .extensions
        .iter()
        .filter(|x| !(x.as_str() == "citext" && uses_citext))
        .cloned()
        .collect();
    if !declared.is_empty() {
        body.insert_str(
            0,
            &format!(
                "schema @wes_extensions(names: {}) {{\n  query: Query\n}}\n\n",
                gql_list(&declared)
            ),
        );
    }
    while body.ends_with("\n\n") {
        body.pop();
    }
    Written { body, notes }
}

/// A field's GraphQL type and its `@wes_type`, or why the column cannot be written.
fn column_type(c: &catalog::Column, names: &Names) -> Result<(String, Option<String>), String> {
    let wrap = |inner: String| {
        let inner = if c.array { format!("[{inner}]") } else { inner };
        if c.not_null {
            format!("{inner}!")
        } else {
            inner
        }
    };
    if let (Some(s), Some(n)) = (&c.enum_schema, &c.enum_name) {
        let q = qualified(s, n);
        return match names.enums.get(&q) {
            Some(gql) => Ok((wrap(gql.clone()), None)),
            None => Err(format!(
                "its type is enum {q}, which the file cannot declare"
            )),
        };
    }
    let kind = if c.array {
        c.elem_typtype.as_deref().unwrap_or("")
    } else {
        c.typtype.as_str()
    };
    let base = if c.array {
        c.ty.strip_suffix("[]").unwrap_or(&c.ty)
    } else {
        c.ty.as_str()
    };
    let what = match kind {
        "b" => None,
        "d" => Some("a domain"),
        "c" => Some("a composite type"),
        "r" => Some("a range type"),
        "m" => Some("a multirange type"),
        _ => Some("a type the dialect does not know"),
    };
    if let Some(what) = what {
        return Err(format!("its type {} is {what}", c.ty));
    }
    match parse_sql_type(base) {
        Ok(t) if !t.array && t.canonical() == base => {}
        _ => return Err(format!("its type {} is not in the dialect", c.ty)),
    }
    if let Some((_, scalar)) = SCALAR_OF.iter().find(|(sql, _)| *sql == base) {
        return Ok((wrap(scalar.to_string()), None));
    }
    let hint = if base.starts_with("smallint") {
        "Int"
    } else if base.starts_with("real") {
        "Float"
    } else if base.starts_with("numeric") {
        "Decimal"
    } else if base.starts_with("timestamp") {
        "DateTime"
    } else if base.starts_with("time") {
        "Time"
    } else {
        "String"
    };
    Ok((wrap(hint.to_string()), Some(base.to_string())))
}

/// `@wes_identity(...)` for an identity column, `@wes_serial` for a column whose default
/// is `nextval` of a sequence it owns in the table's schema (with `true`: its default is
/// the directive's), or `None` (a note says what is not written). `q` is the table's
/// qualified name for notes.
fn sequence_directive(
    c: &catalog::Column,
    table: &str,
    q: &str,
    note: &mut dyn FnMut(String),
) -> Option<(String, bool)> {
    let seq = c.owned_sequence.as_ref();
    let options_note = |note: &mut dyn FnMut(String), s: &catalog::OwnedSequence| {
        if !s.plain {
            note(format!(
                "sequence {} of {q}.{}: options the dialect does not write (its type, CACHE, CYCLE, MINVALUE or MAXVALUE); a database generated from this file gets PostgreSQL's defaults",
                s.name, c.name
            ));
        }
    };
    if c.identity == "a" || c.identity == "d" {
        let mut args = Vec::new();
        if c.identity == "a" {
            args.push("generated: ALWAYS".to_string());
        }
        if let Some(s) = seq {
            let increment = s.increment;
            let default_start = wesley_planner::model::Identity::default_start(increment);
            let in_range = if increment > 0 {
                s.start >= 1
            } else {
                s.start <= -1
            };
            if s.start != default_start && in_range {
                args.push(format!("start: {}", s.start));
            } else if !in_range {
                note(format!(
                    "identity {q}.{} starts at {}, outside the dialect's range for increment {increment}; written without `start:`",
                    c.name, s.start
                ));
            }
            if increment != 1 {
                args.push(format!("increment: {increment}"));
            }
            options_note(note, s);
        }
        let d = if args.is_empty() {
            "@wes_identity".to_string()
        } else {
            format!("@wes_identity({})", args.join(", "))
        };
        return Some((d, false));
    }
    let s = seq?;
    let integer = !c.array && matches!(c.ty.as_str(), "smallint" | "integer" | "bigint");
    if !(s.nextval_default && s.same_schema && integer && c.not_null && c.generated.is_empty()) {
        return None;
    }
    options_note(note, s);
    if s.start != 1 || s.increment != 1 {
        note(format!(
            "sequence {} of serial column {q}.{} starts at {} and increments by {}; a database generated from this file gets 1 and 1",
            s.name, c.name, s.start, s.increment
        ));
    }
    let derived = wesley_planner::naming::pg_object_name(table, &c.name, "seq");
    let d = if s.name == derived {
        "@wes_serial".to_string()
    } else {
        format!("@wes_serial(sequence: {})", gql_str(&s.name))
    };
    Some((d, true))
}

/// `@wes_default(...)` for a default as the server prints it.
fn default_directive(text: &str, c: &catalog::Column, names: &Names) -> Option<String> {
    let t = text.trim();
    let base = c.ty.as_str();
    if !c.array {
        if matches!(base, "integer" | "bigint" | "smallint")
            && !t.is_empty()
            && t.chars().all(|ch| ch.is_ascii_digit())
            && t.len() < 19
        {
            return Some(format!("@wes_default(value: {t})"));
        }
        if base == "boolean" && (t == "true" || t == "false") {
            return Some(format!("@wes_default(value: {t})"));
        }
        // 'literal'::type, where type is the column's own.
        if let Some(rest) = t.strip_prefix('\'') {
            if let Some((lit, cast)) = rest.rsplit_once("'::") {
                let plain = !lit.contains('\\') && !lit.replace("''", "").contains('\'');
                let value = lit.replace("''", "'");
                let textual = matches!(base, "text" | "character varying")
                    || base.starts_with("character varying(")
                    || base == "citext";
                if plain && textual && cast == base {
                    return Some(format!("@wes_default(value: {})", gql_str(&value)));
                }
                if plain && c.enum_name.is_some() && is_enum_value_name(&value) {
                    let name = c.enum_name.as_deref().unwrap_or_default();
                    let q = qualified(c.enum_schema.as_deref().unwrap_or_default(), name);
                    if names.enums.contains_key(&q)
                        && (cast == name || cast == format!("\"{name}\""))
                    {
                        return Some(format!("@wes_default(value: {value})"));
                    }
                }
            }
        }
    }
    fragment_ok(t, false).then(|| format!("@wes_default(expr: {})", gql_str(t)))
}

fn action(code: &str) -> Option<&'static str> {
    match code {
        "r" => Some("RESTRICT"),
        "c" => Some("CASCADE"),
        "n" => Some("SET_NULL"),
        "d" => Some("SET_DEFAULT"),
        _ => None,
    }
}

/// `(col = (NULLIF(current_setting('app.x'::text, true), ''::text))::type)`, as the server
/// prints the policies of `@wes_tenant` and `@wes_owner`: the column and the setting.
fn setting_policy(expr: &str) -> Option<(String, String)> {
    let inner = expr.strip_prefix('(')?.strip_suffix(')')?;
    let (col, rest) = inner.split_once(" = (NULLIF(current_setting('")?;
    let (setting, rest) = rest.split_once("'::text, true), ''::text))::")?;
    if rest.is_empty() || setting.replace("''", "").contains('\'') {
        return None;
    }
    let col = match col.strip_prefix('"').and_then(|c| c.strip_suffix('"')) {
        Some(q) => q.replace("\"\"", "\""),
        None => col.to_string(),
    };
    Some((col, setting.replace("''", "'")))
}

#[derive(Default)]
struct TableOut {
    field_dirs: BTreeMap<String, Vec<String>>,
}

fn write_table(
    body: &mut String,
    notes: &mut Vec<Note>,
    cat: &Catalog,
    t: &catalog::Table,
    names: &Names,
) {
    let q = qualified(&t.schema, &t.name);
    let gql = &names.tables[&q];
    let fields = &names.fields[&q];
    let mut out = TableOut::default();
    let mut note = |s: String| notes.push(Note(s));

    // Table-level facts outside the dialect.
    if let Some(key) = &t.partition_key {
        note(format!(
            "partitioning of {q} (PARTITION BY {key}): written as a plain table"
        ));
    }
    if let Some(of) = &t.partition_of {
        note(format!(
            "{q} is a partition of {of}: written as a plain table"
        ));
    }
    if !t.inherits.is_empty() {
        note(format!(
            "table inheritance: {q} inherits from {}; written as a plain table",
            t.inherits.join(", ")
        ));
    }
    if t.persistence == "u" {
        note(format!("{q} is UNLOGGED"));
    }
    if let Some(o) = &t.options {
        note(format!("storage options of {q}: {}", o.join(", ")));
    }
    if t.force_rls {
        note(format!("FORCE ROW LEVEL SECURITY on {q}"));
    }
    if let Some(acl) = &t.acl {
        note(format!("grants on {q}: {}", acl.join(", ")));
    }

    let mut lines: Vec<(String, Vec<String>)> = Vec::new();
    let mut written: BTreeSet<String> = BTreeSet::new();
    let mut comments: BTreeMap<String, String> = BTreeMap::new();
    // Columns written with `@wes_serial`: their `nextval` default is the directive's.
    let mut serial: BTreeSet<String> = BTreeSet::new();
    for c in &t.columns {
        let field = &fields[&c.name];
        match column_type(c, names) {
            Err(why) => {
                note(format!("column {q}.{}: {why}; left out", c.name));
                if let Some(cm) = &c.comment {
                    note(format!("comment on column {q}.{}: {cm:?}", c.name));
                }
                comments.insert(
                    c.name.clone(),
                    format!("  # not in the dialect: column {} {}", c.name, c.ty),
                );
                continue;
            }
            Ok((ty, sql)) => {
                let mut dirs = Vec::new();
                if snake_case(field) != c.name {
                    dirs.push(format!("@wes_column(name: {})", gql_str(&c.name)));
                }
                if let Some(sql) = sql {
                    dirs.push(format!("@wes_type(sql: {})", gql_str(&sql)));
                }
                if c.generated == "s" {
                    match generated_directive(c, t) {
                        Ok(d) => dirs.push(d),
                        Err(why) => note(format!(
                            "generated column {q}.{} (GENERATED ALWAYS AS {} STORED): {why}; written as a plain column",
                            c.name,
                            c.default.as_deref().unwrap_or("?")
                        )),
                    }
                }
                if let Some((d, is_serial)) = sequence_directive(c, &t.name, &q, &mut note) {
                    dirs.push(d);
                    if is_serial {
                        serial.insert(c.name.clone());
                    }
                }
                // The comment becomes the field's description, written as a quoted
                // string (a block string's indentation rules could change it).
                let desc = c
                    .comment
                    .as_deref()
                    .map(|cm| format!("  {}\n", gql_str(cm)))
                    .unwrap_or_default();
                lines.push((format!("{desc}  {field}: {ty}"), dirs));
                written.insert(c.name.clone());
            }
        }
        if let Some(coll) = &c.collation {
            note(format!("collation of {q}.{}: COLLATE {coll:?}", c.name));
        }
        if let Some(acl) = &c.acl {
            note(format!(
                "column grants on {q}.{}: {}",
                c.name,
                acl.join(", ")
            ));
        }
        let identity = c.identity == "a" || c.identity == "d";
        if let (Some(seq), false, false) = (&c.sequence, identity, serial.contains(&c.name)) {
            note(format!(
                "sequence {seq}, owned by {q}.{} (serial): the column keeps its default, but the dialect does not create sequences; create it before `wesley generate` of this file runs elsewhere",
                c.name
            ));
        }
        if !matches!(c.generated.as_str(), "" | "s") {
            note(format!(
                "virtual generated column {q}.{} (GENERATED ALWAYS AS {}): the dialect has only stored ones; written as a plain column",
                c.name,
                c.default.as_deref().unwrap_or("?")
            ));
        }
    }
    let field_of =
        |col: &str| -> Option<String> { written.contains(col).then(|| fields[col].clone()) };
    let all_fields =
        |cols: &[String]| -> Option<Vec<String>> { cols.iter().map(|c| field_of(c)).collect() };

    // Defaults.
    for c in &t.columns {
        // A generation expression is no default: it may name other columns.
        let (Some(d), Some(f), "") = (&c.default, field_of(&c.name), c.generated.as_str()) else {
            continue;
        };
        if serial.contains(&c.name) {
            continue;
        }
        match default_directive(d, c, names) {
            Some(dir) => out.field_dirs.entry(f).or_default().push(dir),
            None => note(format!(
                "default of {q}.{} ({d}): not an expression the dialect accepts; left out",
                c.name
            )),
        }
    }

    // Constraints.
    let mut pk_dirs = Vec::new();
    let mut uniq_dirs = Vec::new();
    let mut fk_dirs: Vec<(String, String)> = Vec::new();
    let mut type_fk_dirs: Vec<String> = Vec::new();
    let mut check_dirs = Vec::new();
    for k in &t.constraints {
        let what = format!("constraint {} on {q}", k.name);
        if let Some(cm) = &k.comment {
            note(format!("comment on {what}: {cm:?}"));
        }
        if !k.enforced {
            note(format!(
                "{what} is NOT ENFORCED; left out: {}",
                k.definition
            ));
            continue;
        }
        let extras = |note: &mut dyn FnMut(String)| {
            if k.deferrable {
                note(format!("{what} is DEFERRABLE; written as not deferrable"));
            }
            if k.index_extras == Some(true) {
                note(format!("{what} has index options (INCLUDE or storage parameters) the dialect does not write: {}", k.definition));
            }
        };
        match k.kind.as_str() {
            "p" | "u" => {
                let Some(cols) = all_fields(&k.columns) else {
                    note(format!(
                        "{what} ({}): a column it uses is left out; left out",
                        k.definition
                    ));
                    continue;
                };
                extras(&mut note);
                let is_pk = k.kind == "p";
                let refs: Vec<&str> = k.columns.iter().map(String::as_str).collect();
                let derived = if is_pk {
                    derived_name(&t.name, &[], "pkey")
                } else {
                    derived_name(&t.name, &refs, "key")
                };
                let dname = if is_pk { "@wes_pk" } else { "@wes_unique" };
                let named = k.name != derived;
                let nnd = k.nulls_not_distinct && !is_pk;
                if cols.len() == 1 && (!is_pk || !named) {
                    let mut args = Vec::new();
                    if named {
                        args.push(format!("name: {}", gql_str(&k.name)));
                    }
                    if nnd {
                        args.push("nullsNotDistinct: true".to_string());
                    }
                    let d = if args.is_empty() {
                        dname.to_string()
                    } else {
                        format!("{dname}({})", args.join(", "))
                    };
                    out.field_dirs.entry(cols[0].clone()).or_default().push(d);
                } else {
                    let mut d = format!("{dname}(columns: {}", gql_list(&cols));
                    if named {
                        let _ = write!(d, ", name: {}", gql_str(&k.name));
                    }
                    if nnd {
                        d.push_str(", nullsNotDistinct: true");
                    }
                    d.push(')');
                    if is_pk {
                        pk_dirs.push(d);
                    } else {
                        uniq_dirs.push(d);
                    }
                }
            }
            "f" => {
                let target = qualified(
                    k.ref_schema.as_deref().unwrap_or_default(),
                    k.ref_table.as_deref().unwrap_or_default(),
                );
                // One column: on its field, `ref: "Type.field"`. Several: on the type,
                // `columns:`, `ref: "Type"` and `refColumns:`.
                let placed = if k.columns.len() == 1 {
                    let tf = cat
                        .tables
                        .iter()
                        .find(|x| qualified(&x.schema, &x.name) == target)
                        .and_then(|x| {
                            let col = &k.ref_columns[0];
                            column_type(x.columns.iter().find(|c| &c.name == col)?, names).ok()?;
                            names.fields[&target].get(col).cloned()
                        });
                    match (field_of(&k.columns[0]), names.tables.get(&target), tf) {
                        (Some(f), Some(ty), Some(tf)) => Some((
                            Some(f),
                            format!("@wes_fk(ref: {}", gql_str(&format!("{ty}.{tf}"))),
                        )),
                        _ => None,
                    }
                } else {
                    let fields: Option<Vec<String>> =
                        k.columns.iter().map(|c| field_of(c)).collect();
                    let target_fields: Option<Vec<String>> = names
                        .fields
                        .get(&target)
                        .and_then(|m| k.ref_columns.iter().map(|c| m.get(c).cloned()).collect());
                    match (fields, names.tables.get(&target), target_fields) {
                        (Some(fields), Some(ty), Some(target_fields)) => Some((
                            None,
                            format!(
                                "@wes_fk(columns: {}, ref: {}, refColumns: {}",
                                gql_list(&fields),
                                gql_str(ty),
                                gql_list(&target_fields)
                            ),
                        )),
                        _ => None,
                    }
                };
                let Some((field, mut d)) = placed else {
                    note(format!(
                        "{what} ({}): {} not in the file; left out",
                        k.definition,
                        if k.columns.len() == 1 {
                            "its column or its target is"
                        } else {
                            "its columns or its target are"
                        }
                    ));
                    continue;
                };
                if k.match_type == "f" {
                    note(format!("{what} is MATCH FULL; written as MATCH SIMPLE"));
                }
                if !k.validated {
                    note(format!(
                        "{what} is NOT VALID; written as a valid foreign key"
                    ));
                }
                if k.definition.contains("SET NULL (") || k.definition.contains("SET DEFAULT (") {
                    note(format!(
                        "{what} sets only some columns on delete ({}); written for all",
                        k.definition
                    ));
                }
                extras(&mut note);
                if let Some(a) = action(&k.on_delete) {
                    let _ = write!(d, ", onDelete: {a}");
                }
                if let Some(a) = action(&k.on_update) {
                    let _ = write!(d, ", onUpdate: {a}");
                }
                let cols: Vec<&str> = k.columns.iter().map(String::as_str).collect();
                if k.name != derived_name(&t.name, &cols, "fkey") {
                    let _ = write!(d, ", name: {}", gql_str(&k.name));
                }
                d.push(')');
                match field {
                    Some(f) => fk_dirs.push((f, d)),
                    None => type_fk_dirs.push(d),
                }
            }
            "c" => {
                let expr = k.expr.clone().unwrap_or_default();
                if !fragment_ok(&expr, false) {
                    note(format!(
                        "{what} ({}): not an expression the dialect accepts; left out",
                        k.definition
                    ));
                    continue;
                }
                if !k.validated {
                    note(format!("{what} is NOT VALID; written as a valid check"));
                }
                if k.no_inherit {
                    note(format!("{what} is NO INHERIT"));
                }
                let single = (k.columns.len() == 1)
                    .then(|| field_of(&k.columns[0]))
                    .flatten()
                    .filter(|_| k.name == derived_name(&t.name, &[k.columns[0].as_str()], "check"));
                match single {
                    Some(f) => out
                        .field_dirs
                        .entry(f)
                        .or_default()
                        .push(format!("@wes_check(expr: {})", gql_str(&expr))),
                    None => check_dirs.push(format!(
                        "@wes_check(expr: {}, name: {})",
                        gql_str(&expr),
                        gql_str(&k.name)
                    )),
                }
            }
            "x" => note(format!(
                "exclusion constraint {} on {q}: {}",
                k.name, k.definition
            )),
            "t" => note(format!("constraint trigger {} on {q}", k.name)),
            other => note(format!("{what} of kind {other:?}: {}", k.definition)),
        }
    }
    for (f, d) in fk_dirs {
        out.field_dirs.entry(f).or_default().push(d);
    }

    // Indexes.
    let mut index_dirs = Vec::new();
    for i in &t.indexes {
        let what = format!("index {} on {q}", i.name);
        if let Some(cm) = &i.comment {
            note(format!("comment on {what}: {cm:?}"));
        }
        let why = if !i.valid {
            Some("it is invalid (a failed CREATE INDEX CONCURRENTLY)".to_string())
        } else if i.include {
            Some("it has INCLUDE columns".to_string())
        } else if !i.plain {
            Some("it has an operator class, collation or sort order of its own".to_string())
        } else if i.options.is_some() {
            Some("it has storage parameters".to_string())
        } else if i.nulls_not_distinct && !i.unique {
            Some("it is NULLS NOT DISTINCT without being unique".to_string())
        } else if wesley_planner::model::IndexMethod::parse(&i.method).is_none() {
            Some(format!("its method {} is not in the dialect", i.method))
        } else if i
            .predicate
            .as_deref()
            .is_some_and(|p| !fragment_ok(p, false))
        {
            Some("its predicate is not an expression the dialect accepts".to_string())
        } else {
            None
        };
        let cols: Vec<String> = i.columns.iter().flatten().cloned().collect();
        let fcols = all_fields(&cols);
        // The keys that are expressions, as the server prints them.
        let exprs: Vec<&String> = i
            .columns
            .iter()
            .zip(&i.keys)
            .filter_map(|(c, k)| c.is_none().then_some(k))
            .collect();
        let why = why
            .or_else(|| {
                fcols
                    .is_none()
                    .then(|| "a column it uses is left out".to_string())
            })
            .or_else(|| {
                (i.keys.len() != i.columns.len()
                    || exprs.iter().any(|e| !index_expression_ok(e, &field_of)))
                .then(|| "an index expression the dialect does not accept".to_string())
            });
        if let Some(why) = why {
            note(format!("{what}: {why}; left out: {}", i.definition));
            continue;
        }
        let fcols = fcols.unwrap_or_default();
        // Each key: its column's name, or its expression's words, for the derived name;
        // the field, or the expression, for `keys:`.
        let (parts, items): (Vec<String>, Vec<String>) = i
            .columns
            .iter()
            .zip(&i.keys)
            .map(|(c, k)| match c {
                Some(c) => (c.clone(), field_of(c).unwrap_or_default()),
                None => (wesley_planner::expr::name_words(k), k.clone()),
            })
            .unzip();
        let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
        let mut args: Vec<String> = Vec::new();
        if i.name != derived_name(&t.name, &refs, "idx") {
            args.push(format!("name: {}", gql_str(&i.name)));
        }
        if i.method != "btree" {
            args.push(format!("using: {}", gql_str(&i.method)));
        }
        if let Some(p) = &i.predicate {
            args.push(format!("where: {}", gql_str(p)));
        }
        if i.unique {
            args.push("unique: true".into());
        }
        if i.unique && i.nulls_not_distinct {
            args.push("nullsNotDistinct: true".into());
        }
        if !exprs.is_empty() {
            let keys = match items.as_slice() {
                [one] => format!("expr: {}", gql_str(one)),
                _ => format!("keys: {}", gql_list(&items)),
            };
            args.insert(0, keys);
            index_dirs.push(format!("@wes_index({})", args.join(", ")));
        } else if fcols.len() == 1 {
            let d = if args.is_empty() {
                "@wes_index".to_string()
            } else {
                format!("@wes_index({})", args.join(", "))
            };
            out.field_dirs.entry(fcols[0].clone()).or_default().push(d);
        } else {
            args.insert(0, format!("columns: {}", gql_list(&fcols)));
            index_dirs.push(format!("@wes_index({})", args.join(", ")));
        }
    }

    // Row-level security.
    let rls_dirs = rls_directives(t, &q, fields, &written, &mut note);

    for tr in &t.triggers {
        note(format!("trigger {} on {q}: {}", tr.name, tr.definition));
    }
    for r in &t.rules {
        note(format!("rule {} on {q}: {}", r.name, r.definition));
    }
    for s in &t.statistics {
        note(format!("extended statistics {s} on {q}"));
    }

    // The type.
    let mut head = vec![{
        let mut args = Vec::new();
        if snake_case(gql) != t.name {
            args.push(format!("name: {}", gql_str(&t.name)));
        }
        if t.schema != "public" {
            args.push(format!("schema: {}", gql_str(&t.schema)));
        }
        if args.is_empty() {
            "@wes_table".to_string()
        } else {
            format!("@wes_table({})", args.join(", "))
        }
    }];
    head.extend(pk_dirs);
    head.extend(uniq_dirs);
    head.extend(type_fk_dirs);
    head.extend(check_dirs);
    head.extend(index_dirs);
    head.extend(rls_dirs);
    if let Some(c) = &t.comment {
        let _ = writeln!(body, "{}", gql_str(c));
    }
    let _ = write!(body, "type {gql} {}", head[0]);
    for d in &head[1..] {
        let _ = write!(body, "\n  {d}");
    }
    body.push_str(" {\n");
    let mut li = lines.into_iter();
    for c in &t.columns {
        if let Some(comment) = comments.get(&c.name) {
            let _ = writeln!(body, "{comment}");
            continue;
        }
        let Some((line, mut dirs)) = li.next() else {
            break;
        };
        let field = &fields[&c.name];
        let mut more = out.field_dirs.remove(field).unwrap_or_default();
        // Keys, then references, indexes, checks, and the default last.
        more.sort_by_key(|d| {
            [
                "@wes_pk",
                "@wes_unique",
                "@wes_fk",
                "@wes_index",
                "@wes_check",
                "@wes_default",
            ]
            .iter()
            .position(|p| d.starts_with(p))
        });
        dirs.extend(more);
        let _ = write!(body, "{line}");
        for d in dirs {
            let _ = write!(body, " {d}");
        }
        body.push('\n');
    }
    body.push_str("}\n\n");
}

fn rls_directives(
    t: &catalog::Table,
    q: &str,
    fields: &BTreeMap<String, String>,
    written: &BTreeSet<String>,
    note: &mut dyn FnMut(String),
) -> Vec<String> {
    let mut dirs = Vec::new();
    let mut rest: Vec<&catalog::Policy> = Vec::new();
    let mut tenant: Option<(&catalog::Policy, String)> = None;
    let mut owner: Option<String> = None;
    let setting_dir =
        |p: &catalog::Policy, suffix: &str, default: &str, arg: &str| -> Option<String> {
            if p.name != derived_name(&t.name, &[suffix], "policy")
                || p.command != "*"
                || !p.roles.is_empty()
                || p.using.is_none()
                || p.using != p.check
            {
                return None;
            }
            let (col, setting) = setting_policy(p.using.as_deref()?)?;
            if !written.contains(&col) {
                return None;
            }
            let mut d = format!("{arg}: {}", gql_str(&fields[&col]));
            if setting != default {
                let _ = write!(d, ", setting: {}", gql_str(&setting));
            }
            Some(d)
        };
    for p in &t.policies {
        if tenant.is_none() {
            if let Some(d) = setting_dir(p, "tenant", "app.tenant_id", "by") {
                tenant = Some((p, format!("@wes_tenant({d})")));
                continue;
            }
        }
        if owner.is_none() && p.permissive {
            if let Some(d) = setting_dir(p, "owner", "app.user_id", "column") {
                owner = Some(format!("@wes_owner({d})"));
                continue;
            }
        }
        rest.push(p);
    }

    // The rest as one @wes_rls: permissive, named <base>_<command>_policy with one base,
    // in the shapes its arguments make.
    let word = |cmd: &str| match cmd {
        "r" => "select",
        "a" => "insert",
        "w" => "update",
        "d" => "delete",
        _ => "all",
    };
    let base_of = |p: &catalog::Policy| -> Option<String> {
        let w = word(&p.command);
        let base = p.name.strip_suffix(&format!("_{w}_policy"))?;
        (derived_name(base, &[w], "policy") == p.name).then(|| base.to_string())
    };
    let shape_ok = |p: &catalog::Policy| match p.command.as_str() {
        "r" | "d" => p.using.is_some() && p.check.is_none(),
        "a" => p.using.is_none() && p.check.is_some(),
        "w" => p.using.is_some() && p.using == p.check,
        _ => p.using.is_some() || p.check.is_some(),
    } && p
        .using
        .iter()
        .chain(p.check.iter())
        .all(|e| fragment_ok(e, true));
    let chosen_base = rest
        .iter()
        .filter(|p| p.permissive && shape_ok(p))
        .filter_map(|p| base_of(p))
        .find(|b| *b == t.name)
        .or_else(|| {
            rest.iter()
                .filter(|p| p.permissive && shape_ok(p))
                .find_map(|p| base_of(p))
        });
    let mut generic: Vec<&catalog::Policy> = Vec::new();
    let mut seen_cmds: BTreeSet<String> = BTreeSet::new();
    for p in &rest {
        let fits = p.permissive
            && shape_ok(p)
            && base_of(p).is_some()
            && base_of(p) == chosen_base
            && seen_cmds.insert(p.command.clone());
        if fits {
            generic.push(p);
        } else {
            note(format!(
                "policy {:?} on {q} ({} FOR {}{}{}{}): the dialect cannot write a policy of this name or shape; left out",
                p.name,
                if p.permissive { "PERMISSIVE" } else { "RESTRICTIVE" },
                word(&p.command).to_uppercase(),
                if p.roles.is_empty() { " TO PUBLIC".to_string() } else { format!(" TO {}", p.roles.join(", ")) },
                p.using.as_deref().map(|u| format!(" USING {u}")).unwrap_or_default(),
                p.check.as_deref().map(|c| format!(" WITH CHECK {c}")).unwrap_or_default(),
            ));
        }
    }
    // A tenant policy is restrictive exactly when the table has other policies.
    let others = !generic.is_empty() || owner.is_some();
    if let Some((p, d)) = tenant.take() {
        if p.permissive != others {
            dirs.push(d);
        } else {
            note(format!(
                "policy {:?} on {q}: a {} tenant policy next to {} other policies, which the dialect does not write; left out",
                p.name,
                if p.permissive { "permissive" } else { "restrictive" },
                if others { "" } else { "no" }
            ));
        }
    }
    dirs.extend(owner);
    let mut args: Vec<String> = Vec::new();
    if !t.rls && (!generic.is_empty() || !dirs.is_empty()) {
        args.push("enabled: false".into());
    }
    if !generic.is_empty() {
        let roles: Vec<String> = generic
            .iter()
            .find(|p| p.command == "*")
            .or(generic.first())
            .map(|p| p.roles.clone())
            .unwrap_or_default();
        for p in &generic {
            let w = word(&p.command);
            let text = if p.command == "a" {
                p.check.clone()
            } else {
                p.using.clone()
            }
            .unwrap_or_default();
            if p.command == "*" {
                if let Some(u) = &p.using {
                    args.push(format!("using: {}", gql_str(u)));
                }
                if let Some(c) = &p.check {
                    args.push(format!("check: {}", gql_str(c)));
                }
            } else {
                args.push(format!("{w}: {}", gql_str(&text)));
                if p.roles != roles {
                    args.push(format!("{w}Roles: {}", gql_list(&p.roles)));
                }
            }
        }
        if !roles.is_empty() {
            args.push(format!("roles: {}", gql_list(&roles)));
        }
        if chosen_base.as_deref() != Some(t.name.as_str()) {
            args.push(format!(
                "name: {}",
                gql_str(chosen_base.as_deref().unwrap_or_default())
            ));
        }
    }
    if !args.is_empty() {
        dirs.push(format!("@wes_rls({})", args.join(", ")));
    } else if t.rls && dirs.is_empty() {
        dirs.push("@wes_rls".into());
    }
    dirs
}

/// The whole file: a header naming the database and listing what the file leaves out
/// (`notes`) and how it still differs from the database (`differences`, from reading the
/// file back), then the body.
pub fn render(
    database: &str,
    schemas: &[String],
    written: &Written,
    differences: &[String],
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Wesley schema of database {database:?} (schemas: {}), written by `wesley introspect`.",
        schemas.join(", ")
    );
    s.push_str("# Review it before you commit it: it describes the database as it is now.\n");
    if !written.notes.is_empty() {
        let _ = writeln!(
            s,
            "#\n# Not in the dialect ({}): Wesley neither creates, changes nor drops these.",
            written.notes.len()
        );
        for n in &written.notes {
            let _ = writeln!(s, "#   - {}", n.0.replace('\n', " "));
        }
    }
    if !differences.is_empty() {
        let _ = writeln!(
            s,
            "#\n# So this file differs from the database ({}): `wesley drift` reports these.",
            differences.len()
        );
        for d in differences {
            let _ = writeln!(s, "#   - {}", d.replace('\n', " "));
        }
    }
    s.push('\n');
    s.push_str(&written.body);
    if !written.body.is_empty() && !written.body.ends_with('\n') {
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_map_back() {
        for (sql, gql) in [
            ("order_item", "OrderItem"),
            ("user", "User"),
            ("OrderItems", "OrderItems"),
            ("2fa", "T2fa"),
        ] {
            assert_eq!(pascal_case(sql), gql);
        }
        for (sql, gql) in [
            ("created_at", "createdAt"),
            ("ID", "id"),
            ("URLPath", "urlPath"),
            ("userID", "userID"),
            ("firstName", "firstName"),
            ("select", "select"),
            ("a b-c", "aBC"),
        ] {
            assert_eq!(camel_case(sql), gql);
        }
        // Names that map back need no directive.
        assert_eq!(snake_case(&pascal_case("order_item")), "order_item");
        assert_eq!(snake_case(&camel_case("created_at")), "created_at");
        assert_ne!(snake_case(&camel_case("ID")), "ID");
    }

    #[test]
    fn tenant_policy_text() {
        assert_eq!(
            setting_policy(
                "(org_id = (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid)"
            ),
            Some(("org_id".into(), "app.tenant_id".into()))
        );
        assert_eq!(
            setting_policy(
                "(\"Org\" = (NULLIF(current_setting('x.y'::text, true), ''::text))::integer)"
            ),
            Some(("Org".into(), "x.y".into()))
        );
        assert_eq!(setting_policy("(org_id = current_setting('a'))"), None);
    }

    #[test]
    fn strings() {
        assert_eq!(gql_str("a \"b\" \\ c\n"), "\"a \\\"b\\\" \\\\ c\\n\"");
    }
}
