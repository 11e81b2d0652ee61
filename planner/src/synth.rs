//! Synthetic SDL schemas for tests and benchmarks.
//!
//! [`schema`] writes a valid schema of any size: tables `T0000`, `T0001`, … each with a
//! primary key (`id: ID! @wes_pk`, or now and then an `Int!` one, plain, serial or
//! identity), a mix of scalar types (nullable and not), defaults, identity and serial
//! columns, enum columns (some enums with `@wes_uid` on their values), check constraints,
//! unique constraints (some `nullsNotDistinct`), foreign keys to earlier tables (some over
//! two columns, to an earlier table's composite unique constraint), field-level,
//! type-level and expression indexes, generated columns (`lower(...)` of a text column, or
//! whether a column is set; some indexed), descriptions (comments), now and then the
//! extensions `citext` and `pg_trgm` with `citext` columns, and tenant row-level security.
//! A schema uses `nullsNotDistinct` only now and then, so most also apply on PostgreSQL 14.
//! [`shuffled`] writes the same schema with its definitions, fields and directives in
//! another order (and some comments and descriptions added), so it must hash alike.
//!
//! Everything here is pure and deterministic: the output depends only on the options,
//! through a small internal SplitMix64 generator.

use crate::naming::snake_case;

/// What [`schema`] generates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SynthOptions {
    /// Number of tables.
    pub tables: usize,
    /// Columns per table, counting `id` and the foreign-key columns (at least
    /// `1 + fks_per_table` are generated; a foreign key over two columns, and a generated
    /// column, come on top).
    pub columns_per_table: usize,
    /// Indexes per table (fewer when a table has too few indexable columns).
    pub indexes_per_table: usize,
    /// Foreign-key columns per table, each referring to an earlier table (the first table
    /// refers to itself).
    pub fks_per_table: usize,
    /// Seed of everything chosen at random.
    pub seed: u64,
}

impl SynthOptions {
    /// `tables` tables of 10 columns, 2 indexes and 1 foreign key each, seed 1.
    pub fn new(tables: usize) -> Self {
        SynthOptions {
            tables,
            columns_per_table: 10,
            indexes_per_table: 2,
            fks_per_table: 1,
            seed: 1,
        }
    }
}

impl Default for SynthOptions {
    fn default() -> Self {
        SynthOptions::new(10)
    }
}

/// The SDL of a synthetic schema.
pub fn schema(opts: &SynthOptions) -> String {
    render(&build(opts), None)
}

/// The same schema as [`schema`] with definitions, fields, and the directives of each
/// type and field in an order chosen by `shuffle_seed`. Enum values keep their order
/// (it is part of the schema).
pub fn shuffled(src_opts: &SynthOptions, shuffle_seed: u64) -> String {
    let mut defs = build(src_opts);
    let mut rng = Rng::new(shuffle_seed ^ 0x5348_5546_464c_4544);
    for def in &mut defs {
        if let Def::Table {
            directives, fields, ..
        } = def
        {
            rng.shuffle(directives);
            rng.shuffle(fields);
            for f in fields.iter_mut() {
                rng.shuffle(&mut f.directives);
            }
        }
    }
    rng.shuffle(&mut defs);
    render(&defs, Some(&mut rng))
}

/// A schema pair around foreign-key cycles: 2 to 5 tables referencing each other in a
/// ring (`T0 → T1 → … → T0`), some with a self-reference, one table outside the ring that
/// references it; and a next version that, table by table, drops it, renames it, renames
/// a column, changes the type of a plain column or of a foreign-key column, drops its
/// self-reference, or keeps it. Every table and column carries `@wes_uid`, so renames are
/// planned as renames. Deterministic for a seed; for property tests.
pub fn cycle_pair(seed: u64) -> (String, String) {
    let mut rng = Rng::new(seed ^ 0xc1c1_e5ee_d000_0001);
    let n = 2 + rng.below(4);
    let self_ref: Vec<bool> = (0..n).map(|_| rng.chance(1, 2)).collect();
    // What happens to each ring table: 0 keep, 1 drop, 2 rename table, 3 rename column,
    // 4 change a plain column's type, 5 change the ring key's type, 6 drop the self-reference.
    let fate: Vec<usize> = (0..n).map(|_| rng.below(7)).collect();
    let dropped = |i: usize| fate[i] == 1;
    let name = |i: usize, new: bool| {
        if new && fate[i] == 2 {
            format!("Renamed{i}")
        } else {
            format!("Ring{i}")
        }
    };
    let table = |i: usize, new: bool| -> String {
        let next = (i + 1) % n;
        let mut f = vec!["  id: Int! @wes_pk @wes_uid(value: \"id\")".to_string()];
        // The ring key: it goes when the table it points at goes.
        if !(new && dropped(next)) {
            let ty = if new && fate[i] == 5 { "BigInt" } else { "Int" };
            f.push(format!(
                "  nextId: {ty} @wes_fk(ref: \"{}.id\") @wes_uid(value: \"next\")",
                name(next, new)
            ));
        }
        if self_ref[i] && !(new && fate[i] == 6) {
            f.push(format!(
                "  parentId: Int @wes_fk(ref: \"{}.id\", onDelete: SET_NULL) @wes_uid(value: \"parent\")",
                name(i, new)
            ));
        }
        let val = if new && fate[i] == 3 { "amount" } else { "val" };
        let val_ty = if new && fate[i] == 4 { "BigInt" } else { "Int" };
        f.push(format!("  {val}: {val_ty} @wes_uid(value: \"val\")"));
        let label_ty = if new && fate[i] == 4 {
            " @wes_type(sql: \"varchar(64)\")"
        } else {
            ""
        };
        f.push(format!(
            "  label: String{label_ty} @wes_uid(value: \"label\")"
        ));
        format!(
            "type {} @wes_table @wes_uid(value: \"ring{i}\") {{\n{}\n}}\n",
            name(i, new),
            f.join("\n")
        )
    };
    let outside = |new: bool| -> String {
        let field = if new && dropped(0) {
            String::new()
        } else {
            format!(
                "\n  ringId: Int @wes_fk(ref: \"{}.id\", onDelete: CASCADE) @wes_uid(value: \"ring\")",
                name(0, new)
            )
        };
        format!("type Outside @wes_table @wes_uid(value: \"outside\") {{\n  id: Int! @wes_pk @wes_uid(value: \"id\"){field}\n}}\n")
    };
    let render = |new: bool| -> String {
        let mut out = String::new();
        for i in 0..n {
            if new && dropped(i) {
                continue;
            }
            out.push_str(&table(i, new));
            out.push('\n');
        }
        out.push_str(&outside(new));
        out
    };
    (render(false), render(true))
}

/// SplitMix64: tiny, fast and good enough to pick shapes.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Rng(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// True with probability `num / den`.
    fn chance(&mut self, num: usize, den: usize) -> bool {
        self.below(den) < num
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

struct FieldDef {
    name: String,
    ty: String,
    directives: Vec<String>,
    /// The column's comment.
    description: Option<String>,
}

enum Def {
    /// `schema @wes_extensions(names: [...]) { query: Query }`.
    Extensions(Vec<String>),
    Enum {
        name: String,
        values: Vec<String>,
        /// Whether each value carries `@wes_uid(value: "<enum>.<position>")`, so that a
        /// next version can rename it.
        uids: bool,
    },
    Table {
        name: String,
        directives: Vec<String>,
        fields: Vec<FieldDef>,
        /// The table's comment.
        description: Option<String>,
    },
}

/// The kinds of ordinary (non-key, non-reference) columns.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Varchar,
    Citext,
    Int,
    BigInt,
    Float,
    Decimal,
    Boolean,
    DateTime,
    Date,
    Time,
    Json,
    TextArray,
    IntArray,
    Uuid,
    Enum,
}

const KINDS: &[Kind] = &[
    Kind::Text,
    Kind::Text,
    Kind::Varchar,
    Kind::Int,
    Kind::Int,
    Kind::BigInt,
    Kind::Float,
    Kind::Decimal,
    Kind::Boolean,
    Kind::DateTime,
    Kind::DateTime,
    Kind::Date,
    Kind::Time,
    Kind::Json,
    Kind::TextArray,
    Kind::IntArray,
    Kind::Uuid,
    Kind::Enum,
    Kind::Enum,
];

const ENUM_VALUES: &[&str] = &[
    "LOW", "MEDIUM", "HIGH", "URGENT", "BLOCKED", "DONE", "ARCHIVED",
];

/// What a whole schema uses or not.
struct Features {
    /// `@wes_extensions(names: ["citext", "pg_trgm"])`, and some text columns `citext`.
    extensions: bool,
    /// `nullsNotDistinct: true` on some unique constraints (PostgreSQL 15 or later).
    nulls_not_distinct: bool,
}

/// A column as planned, before it is written as a field.
struct Col {
    field: String,
    column: String,
    kind: Option<Kind>,
    unique: bool,
    indexed: Option<String>,
    directives: Vec<String>,
    ty: String,
    /// Part of a foreign key over several columns (declared on the type).
    in_type_fk: bool,
}

impl Col {
    fn new(field: &str, kind: Option<Kind>, ty: &str, directives: Vec<String>) -> Self {
        Col {
            field: field.to_string(),
            column: snake_case(field),
            kind,
            unique: false,
            indexed: None,
            directives,
            ty: ty.to_string(),
            in_type_fk: false,
        }
    }

    /// Whether a plain btree index on this column makes sense.
    fn indexable(&self) -> bool {
        !self.in_type_fk
            && !matches!(
                self.kind,
                Some(Kind::Json | Kind::TextArray | Kind::IntArray)
            )
    }
}

/// Whether a column's directives give it a sequence (identity or serial), which a
/// generation expression may not use (PostgreSQL refuses it).
fn has_sequence(directives: &[String]) -> bool {
    directives
        .iter()
        .any(|d| d.starts_with("@wes_identity") || d.starts_with("@wes_serial"))
}

/// A composite unique constraint that a foreign key over several columns may reference:
/// its table and, per column, the field, its type as a nullable field and its
/// `@wes_type` (a referencing column must be of the same type family).
struct CompositeTarget {
    table: String,
    columns: Vec<(String, String, Option<String>)>,
}

impl CompositeTarget {
    /// Nullable fields `<prefix>0`, `<prefix>1`, ... of the types of the target's columns,
    /// and the type's `@wes_fk` from them to it (`extra`: more arguments, such as
    /// `", onDelete: CASCADE"`).
    fn reference(&self, prefix: &str, extra: &str) -> (Vec<FieldDef>, String) {
        let fields: Vec<FieldDef> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, ty, sql))| FieldDef {
                name: format!("{prefix}{i}"),
                ty: ty.clone(),
                directives: sql.iter().cloned().collect(),
                description: None,
            })
            .collect();
        let quote = |names: Vec<&String>| -> String {
            let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            list.join(", ")
        };
        let fk = format!(
            "@wes_fk(columns: [{}], ref: \"{}\", refColumns: [{}]{extra})",
            quote(fields.iter().map(|f| &f.name).collect()),
            self.table,
            quote(self.columns.iter().map(|(f, _, _)| f).collect())
        );
        (fields, fk)
    }
}

/// The names in the first `[...]` of a directive (`columns: ["a", "b"]`).
fn quoted_list(directive: &str) -> Vec<String> {
    let Some(inner) = directive
        .split_once('[')
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(inner, _)| inner)
    else {
        return Vec::new();
    };
    inner
        .split(',')
        .map(|x| x.trim().trim_matches('"').to_string())
        .filter(|x| !x.is_empty())
        .collect()
}

/// The composite unique constraints of the tables in `defs`.
fn composite_targets(defs: &[Def]) -> Vec<CompositeTarget> {
    let mut out = Vec::new();
    for d in defs {
        let Def::Table {
            name,
            directives,
            fields,
            ..
        } = d
        else {
            continue;
        };
        for dir in directives
            .iter()
            .filter(|x| x.starts_with("@wes_unique(columns:"))
        {
            let columns: Option<Vec<_>> = quoted_list(dir)
                .into_iter()
                .map(|n| {
                    let f = fields.iter().find(|f| f.name == n)?;
                    let ty = f.ty.trim_end_matches('!').to_string();
                    let sql = f
                        .directives
                        .iter()
                        .find(|x| x.starts_with("@wes_type"))
                        .cloned();
                    Some((n, ty, sql))
                })
                .collect();
            if let Some(columns) = columns {
                out.push(CompositeTarget {
                    table: name.clone(),
                    columns,
                });
            }
        }
    }
    out
}

/// The type of the `id` key of table `table` in `defs` (`ID!` or `Int!`).
fn key_type<'a>(defs: &'a [Def], table: &str) -> Option<&'a str> {
    defs.iter().find_map(|d| match d {
        Def::Table { name, fields, .. } if name == table => fields
            .iter()
            .find(|f| f.name == "id")
            .map(|f| f.ty.as_str()),
        _ => None,
    })
}

fn build(opts: &SynthOptions) -> Vec<Def> {
    let mut rng = Rng::new(opts.seed);
    let mut defs = Vec::new();
    let n_enums = if opts.tables == 0 {
        0
    } else {
        opts.tables.div_ceil(4).min(100)
    };
    let width = 4.max(opts.tables.saturating_sub(1).to_string().len());
    let mut enum_values: Vec<Vec<String>> = Vec::new();
    for e in 0..n_enums {
        let n = 2 + rng.below(ENUM_VALUES.len() - 1);
        let values: Vec<String> = ENUM_VALUES[..n].iter().map(|v| v.to_string()).collect();
        enum_values.push(values.clone());
        defs.push(Def::Enum {
            name: format!("E{e:03}"),
            values,
            uids: rng.chance(1, 2),
        });
    }
    // A schema in four uses the extensions, one in four NULLS NOT DISTINCT (so most
    // schemas still apply on PostgreSQL 14).
    let features = Features {
        extensions: opts.tables > 0 && rng.chance(1, 4),
        nulls_not_distinct: rng.chance(1, 4),
    };
    if features.extensions {
        defs.push(Def::Extensions(vec!["citext".into(), "pg_trgm".into()]));
    }
    for t in 0..opts.tables {
        let table = build_table(&mut rng, opts, t, width, &enum_values, &features, &defs);
        defs.push(table);
    }
    defs
}

fn build_table(
    rng: &mut Rng,
    opts: &SynthOptions,
    t: usize,
    width: usize,
    enums: &[Vec<String>],
    features: &Features,
    earlier: &[Def],
) -> Def {
    let name = format!("T{t:0width$}");
    let table_sql = snake_case(&name);
    let mut type_dirs = vec!["@wes_table".to_string()];
    let mut cols: Vec<Col> = Vec::new();
    // The key: a UUID, or now and then an `Int!` (plain, serial or identity) that a next
    // version can widen to `BigInt!`.
    let int_key = rng.chance(1, 3);
    let mut key = Col::new("id", Some(Kind::Uuid), "ID!", vec!["@wes_pk".into()]);
    key.unique = true;
    if int_key {
        key.kind = Some(Kind::Int);
        key.ty = "Int!".into();
        match rng.below(4) {
            0 => key.directives.push("@wes_serial".into()),
            1 => key.directives.push("@wes_identity".into()),
            _ => {}
        }
    }
    cols.push(key);

    let n_scalar = opts
        .columns_per_table
        .saturating_sub(1 + opts.fks_per_table);
    let tenant = rng.chance(1, 8) && n_scalar > 0;
    let mut has_unique = false;
    for j in 0..n_scalar {
        if tenant && j == 0 {
            cols.push(Col::new("orgId", Some(Kind::Uuid), "ID!", Vec::new()));
            continue;
        }
        let mut kind = *rng.pick(KINDS);
        if features.extensions && kind == Kind::Text && rng.chance(1, 2) {
            kind = Kind::Citext;
        }
        let nullable = rng.chance(1, 3);
        let with_default = rng.chance(1, 3);
        let (suffix, scalar) = match kind {
            Kind::Text => ("Title", "String".to_string()),
            Kind::Varchar => ("Code", "String".to_string()),
            Kind::Citext => ("Email", "String".to_string()),
            Kind::Int => ("Qty", "Int".to_string()),
            Kind::BigInt => ("Total", "BigInt".to_string()),
            Kind::Float => ("Ratio", "Float".to_string()),
            Kind::Decimal => ("Amount", "Decimal".to_string()),
            Kind::Boolean => ("Active", "Boolean".to_string()),
            Kind::DateTime => ("CreatedAt", "DateTime".to_string()),
            Kind::Date => ("Day", "Date".to_string()),
            Kind::Time => ("OpensAt", "Time".to_string()),
            Kind::Json => ("Data", "JSON".to_string()),
            Kind::TextArray => ("Tags", "[String!]".to_string()),
            Kind::IntArray => ("Scores", "[Int]".to_string()),
            Kind::Uuid => ("Token", "UUID".to_string()),
            Kind::Enum => ("Level", format!("E{:03}", rng.below(enums.len().max(1)))),
        };
        let field = format!("c{j}{suffix}");
        let column = snake_case(&field);
        let mut dirs = Vec::new();
        match kind {
            Kind::Varchar => dirs.push("@wes_type(sql: \"varchar(64)\")".to_string()),
            Kind::Citext => dirs.push("@wes_type(sql: \"citext\")".to_string()),
            _ => {}
        }
        if with_default {
            let d = match kind {
                Kind::Text | Kind::Citext => "@wes_default(value: \"n/a\")".to_string(),
                Kind::Varchar => "@wes_default(value: \"X-0\")".to_string(),
                Kind::Int => "@wes_default(value: 0)".to_string(),
                Kind::BigInt => "@wes_default(value: 100)".to_string(),
                Kind::Float => "@wes_default(value: 1.5)".to_string(),
                Kind::Decimal => "@wes_default(value: \"0.00\")".to_string(),
                Kind::Boolean => format!("@wes_default(value: {})", rng.chance(1, 2)),
                Kind::DateTime => "@wes_default(expr: \"now()\")".to_string(),
                Kind::Date => "@wes_default(expr: \"current_date\")".to_string(),
                Kind::Time => "@wes_default(value: \"09:00:00\")".to_string(),
                Kind::Json => "@wes_default(value: \"{}\")".to_string(),
                Kind::TextArray | Kind::IntArray => "@wes_default(value: \"{}\")".to_string(),
                Kind::Uuid => "@wes_default(expr: \"gen_random_uuid()\")".to_string(),
                Kind::Enum => {
                    let idx: usize = scalar[1..].parse().unwrap_or(0);
                    let values = &enums[idx.min(enums.len() - 1)];
                    format!("@wes_default(value: {})", rng.pick(values))
                }
            };
            dirs.push(d);
        }
        // Some non-null integers without a default take their values from a sequence.
        if !nullable
            && !with_default
            && matches!(kind, Kind::Int | Kind::BigInt)
            && rng.chance(1, 3)
        {
            dirs.push(
                match rng.below(4) {
                    0 => "@wes_identity",
                    1 => "@wes_identity(generated: ALWAYS)",
                    2 => "@wes_identity(start: 1000, increment: 10)",
                    _ => "@wes_serial",
                }
                .to_string(),
            );
        }
        if kind == Kind::Int && rng.chance(1, 3) {
            dirs.push(format!("@wes_check(expr: \"{column} >= 0\")"));
        }
        let unique = !has_unique
            && matches!(kind, Kind::Text | Kind::Varchar | Kind::Citext)
            && rng.chance(1, 3);
        if unique {
            has_unique = true;
            dirs.push(if features.nulls_not_distinct && rng.chance(1, 2) {
                "@wes_unique(nullsNotDistinct: true)".into()
            } else {
                "@wes_unique".into()
            });
        }
        let ty = if nullable {
            scalar
        } else {
            format!("{scalar}!")
        };
        let mut col = Col::new(&field, Some(kind), &ty, dirs);
        col.unique = unique;
        cols.push(col);
    }

    let targets = composite_targets(earlier);
    for k in 0..opts.fks_per_table {
        // Now and then the first reference is over two columns, to an earlier table's
        // composite unique constraint.
        if k == 0 && !targets.is_empty() && rng.chance(1, 3) {
            let target = rng.pick(&targets);
            let action = if rng.chance(1, 2) {
                ", onDelete: CASCADE"
            } else {
                ""
            };
            let (parts, fk) = target.reference(&format!("ref{k}Part"), action);
            for f in parts {
                let mut col = Col::new(&f.name, None, &f.ty, f.directives);
                col.in_type_fk = true;
                cols.push(col);
            }
            type_dirs.push(fk);
            continue;
        }
        let target = if t == 0 { 0 } else { rng.below(t) };
        let target_name = format!("T{target:0width$}");
        let int_target = if t == 0 {
            int_key
        } else {
            key_type(earlier, &target_name) == Some("Int!")
        };
        let nullable = rng.chance(1, 2);
        let field = format!("ref{k}Id");
        let mut fk = format!("@wes_fk(ref: \"{target_name}.id\"");
        match rng.below(5) {
            0 => fk.push_str(", onDelete: CASCADE"),
            1 => fk.push_str(", onDelete: RESTRICT"),
            2 if nullable => fk.push_str(", onDelete: SET_NULL"),
            3 => fk.push_str(", onDelete: CASCADE, onUpdate: CASCADE"),
            _ => {}
        }
        fk.push(')');
        let base = if int_target { "Int" } else { "ID" };
        let ty = if nullable {
            base.to_string()
        } else {
            format!("{base}!")
        };
        cols.push(Col::new(&field, None, &ty, vec![fk]));
    }

    // Indexes: even ones on a single column (on the field), odd ones on two columns (on
    // the type), every column set distinct and none equal to a key's.
    let mut taken: Vec<Vec<usize>> = cols
        .iter()
        .enumerate()
        .filter(|(_, c)| c.unique)
        .map(|(i, _)| vec![i])
        .collect();
    let candidates: Vec<usize> = (1..cols.len()).filter(|&i| cols[i].indexable()).collect();
    for k in 0..opts.indexes_per_table {
        let single = k % 2 == 0 || candidates.len() < 2;
        let mut chosen = None;
        for _ in 0..8 {
            if candidates.is_empty() {
                break;
            }
            let set = if single {
                vec![*rng.pick(&candidates)]
            } else {
                let a = *rng.pick(&candidates);
                let b = *rng.pick(&candidates);
                if a == b {
                    continue;
                }
                vec![a, b]
            };
            if !taken.contains(&set) {
                chosen = Some(set);
                break;
            }
        }
        let Some(set) = chosen else { continue };
        taken.push(set.clone());
        if let [i] = set[..] {
            let c = &mut cols[i];
            let d = match (c.kind, rng.below(6)) {
                (None | Some(Kind::Int | Kind::BigInt | Kind::Text | Kind::Uuid), 0) => {
                    "@wes_index(using: \"hash\")".to_string()
                }
                (Some(Kind::Int | Kind::BigInt), 1) => {
                    format!("@wes_index(where: \"{} > 0\")", c.column)
                }
                (Some(Kind::DateTime | Kind::Date), 1) => "@wes_index(using: \"brin\")".to_string(),
                _ => "@wes_index".to_string(),
            };
            c.indexed = Some(d);
        } else {
            // Columns may be named by field or by column.
            let names: Vec<String> = set
                .iter()
                .map(|&i| {
                    if rng.chance(1, 2) {
                        cols[i].field.clone()
                    } else {
                        cols[i].column.clone()
                    }
                })
                .collect();
            let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
            type_dirs.push(format!("@wes_index(columns: [{}])", list.join(", ")));
        }
    }

    // A JSON column gets a GIN index now and then (on top of the requested ones).
    if let Some(c) = cols
        .iter_mut()
        .find(|c| c.kind == Some(Kind::Json) && c.indexed.is_none())
    {
        if rng.chance(1, 2) {
            c.indexed = Some("@wes_index(using: \"gin\")".into());
        }
    }

    // A composite unique constraint now and then.
    // Its last column is one whose values can all differ (not a boolean or an enum), so
    // that rows can be seeded (`wesley::seed`).
    if candidates.len() >= 3 && rng.chance(1, 6) {
        let a = candidates[0];
        let b = candidates
            .iter()
            .copied()
            .rfind(|&i| !matches!(cols[i].kind, Some(Kind::Boolean | Kind::Enum)))
            .unwrap_or(a);
        if a != b && !taken.contains(&vec![a, b]) {
            let nnd = if features.nulls_not_distinct && rng.chance(1, 2) {
                ", nullsNotDistinct: true"
            } else {
                ""
            };
            type_dirs.push(format!(
                "@wes_unique(columns: [\"{}\", \"{}\"]{nnd})",
                cols[a].field, cols[b].field
            ));
        }
    }

    // An expression index on a text column now and then: `lower(col)` alone (with a
    // derived or a given name), or after another column.
    let texts: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| matches!(cols[i].kind, Some(Kind::Text | Kind::Varchar)))
        .collect();
    if !texts.is_empty() && rng.chance(1, 4) {
        let i = *rng.pick(&texts);
        let column = cols[i].column.clone();
        let other = *rng.pick(&candidates);
        match rng.below(3) {
            0 => type_dirs.push(format!("@wes_index(expr: \"lower({column})\")")),
            1 => type_dirs.push(format!(
                "@wes_index(expr: \"lower({column})\", name: \"{table_sql}_{column}_folded\")"
            )),
            // The other column may be the same one.
            _ => type_dirs.push(format!(
                "@wes_index(keys: [\"{}\", \"lower({column})\"])",
                cols[other].field
            )),
        }
    }

    if tenant {
        type_dirs.push("@wes_tenant(by: \"org_id\")".into());
        if rng.chance(1, 2) {
            type_dirs.push("@wes_rls(select: \"true\", insert: \"org_id IS NOT NULL\")".into());
        }
    }

    // A generated column now and then, computed from an ordinary column: `lower(...)` of
    // a text column, or whether a column is set.
    let sources: Vec<usize> = candidates
        .iter()
        .copied()
        .filter(|&i| cols[i].kind.is_some() && !has_sequence(&cols[i].directives))
        .collect();
    if !sources.is_empty() && rng.chance(1, 4) {
        let i = *rng.pick(&sources);
        let column = cols[i].column.clone();
        let mut col = if matches!(cols[i].kind, Some(Kind::Text | Kind::Varchar)) {
            Col::new(
                "derivedFolded",
                None,
                "String",
                vec![format!("@wes_generated(expr: \"lower({column})\")")],
            )
        } else {
            Col::new(
                "derivedPresent",
                None,
                "Boolean!",
                vec![format!("@wes_generated(expr: \"{column} IS NOT NULL\")")],
            )
        };
        if rng.chance(1, 3) {
            col.indexed = Some("@wes_index".into());
        }
        cols.push(col);
    }

    // Descriptions, which become comments: some with a quote to escape.
    let description = rng
        .chance(1, 5)
        .then(|| format!("Rows of {name}, a synthetic table."));
    let fields = cols
        .into_iter()
        .map(|c| {
            let mut directives = c.directives;
            directives.extend(c.indexed);
            FieldDef {
                description: rng
                    .chance(1, 10)
                    .then(|| format!("It's the {} column.", c.column)),
                name: c.field,
                ty: c.ty,
                directives,
            }
        })
        .collect();
    Def::Table {
        name,
        directives: type_dirs,
        fields,
        description,
    }
}

/// The next version of `schema(opts)`: about `percent` % of the tables change (a column
/// added, a NOT NULL column with a default added, an index added, a column dropped, an
/// `Int` widened to `BigInt`, a foreign key over two columns added or dropped, an
/// expression index added or changed, a generated column added, or the table's
/// description set), now and then an
/// `Int!` primary key becomes `BigInt!` with the columns that reference it (each of which
/// stays `Int` or becomes `BigInt`), an enum value with a `@wes_uid` is renamed, and one
/// new table references an existing one. The result is always valid and plannable, for
/// property tests and planning benchmarks.
pub fn evolve(opts: &SynthOptions, change_seed: u64, percent: u32) -> String {
    let mut defs = build(opts);
    let mut rng = Rng::new(change_seed ^ 0x5eed_c4a5_9e11_0001);
    // Fields that foreign keys point at must keep their name and type.
    let mut referenced: Vec<String> = Vec::new();
    for d in &defs {
        if let Def::Table { fields, .. } = d {
            for f in fields {
                for dir in &f.directives {
                    if let Some(r) = dir
                        .split("ref: \"")
                        .nth(1)
                        .and_then(|x| x.split('"').next())
                    {
                        referenced.push(r.to_string());
                    }
                }
            }
        }
    }
    let targets = composite_targets(&defs);
    let first_table = defs.iter().find_map(|d| match d {
        Def::Table { name, .. } => Some(name.clone()),
        _ => None,
    });
    // The tables a widened key involves change nothing else.
    let involved = if rng.chance(1, 2) {
        widen_key(&mut defs, &mut rng, first_table.as_deref())
    } else {
        Vec::new()
    };
    for (n, d) in defs.iter_mut().enumerate() {
        let Def::Table {
            name,
            directives,
            fields,
            description,
        } = d
        else {
            continue;
        };
        if !rng.chance(percent.min(100) as usize, 100) || involved.contains(name) {
            continue;
        }
        // Generation expressions, whose columns keep their name and type.
        let generation: Vec<String> = fields
            .iter()
            .flat_map(|f| f.directives.iter())
            .filter(|d| d.starts_with("@wes_generated"))
            .cloned()
            .collect();
        let plain: Vec<usize> = (0..fields.len())
            .filter(|&i| {
                let f = &fields[i];
                let column = snake_case(&f.name);
                !mentioned(directives, &f.name)
                    && !generation.iter().any(|g| g.contains(&column))
                    && !referenced.contains(&format!("{name}.{}", f.name))
                    && f.directives.iter().all(|x| {
                        !x.starts_with("@wes_pk")
                            && !x.starts_with("@wes_fk")
                            && !x.starts_with("@wes_unique")
                            && !x.starts_with("@wes_index")
                            && !x.starts_with("@wes_check")
                            && !x.starts_with("@wes_identity")
                            && !x.starts_with("@wes_serial")
                            && !x.starts_with("@wes_generated")
                    })
            })
            .collect();
        match rng.below(9) {
            0 => fields.push(FieldDef {
                name: format!("added{n}"),
                ty: "String".into(),
                directives: vec![],
                description: None,
            }),
            1 => fields.push(FieldDef {
                name: format!("flag{n}"),
                ty: "Boolean!".into(),
                directives: vec!["@wes_default(value: false)".into()],
                description: None,
            }),
            2 => {
                if let Some(&i) = plain
                    .iter()
                    .find(|&&i| !fields[i].ty.starts_with('[') && !fields[i].ty.starts_with("JSON"))
                {
                    fields[i].directives.push("@wes_index".into());
                }
            }
            3 => {
                if let Some(&i) = plain.first() {
                    fields.remove(i);
                }
            }
            4 => {
                if let Some(&i) = plain.iter().find(|&&i| {
                    (fields[i].ty == "Int" || fields[i].ty == "Int!")
                        && fields[i]
                            .directives
                            .iter()
                            .all(|x| !x.starts_with("@wes_default"))
                }) {
                    fields[i].ty = fields[i].ty.replace("Int", "BigInt");
                }
            }
            5 => {
                // A foreign key over two columns dropped (its columns stay), or added
                // with two new columns.
                if let Some(pos) = directives
                    .iter()
                    .position(|x| x.starts_with("@wes_fk(columns:"))
                {
                    directives.remove(pos);
                } else {
                    let others: Vec<&CompositeTarget> =
                        targets.iter().filter(|t| t.table != *name).collect();
                    if !others.is_empty() {
                        let target = *rng.pick(&others);
                        let (parts, fk) = target.reference(&format!("linked{n}Part"), "");
                        fields.extend(parts);
                        directives.push(fk);
                    }
                }
            }
            6 => {
                // An expression index changed (a new derived name, or rebuilt under its
                // given name), or one added on a text column.
                if let Some(dir) = directives.iter_mut().find(|x| {
                    x.starts_with("@wes_index(expr:") || x.starts_with("@wes_index(keys:")
                }) {
                    *dir = dir.replace("lower(", "upper(");
                } else if let Some(&i) = plain.iter().find(|&&i| {
                    fields[i].ty.starts_with("String")
                        && fields[i].directives.iter().all(|x| !x.contains("citext"))
                }) {
                    directives.push(format!(
                        "@wes_index(expr: \"lower({})\")",
                        snake_case(&fields[i].name)
                    ));
                }
            }
            7 => {
                // A generated column added (it rewrites the table: W0112).
                if let Some(&i) = plain.first() {
                    let expr = format!("{} IS NOT NULL", snake_case(&fields[i].name));
                    fields.push(FieldDef {
                        name: format!("computed{n}"),
                        ty: "Boolean!".into(),
                        directives: vec![format!("@wes_generated(expr: \"{expr}\")")],
                        description: None,
                    });
                }
            }
            _ => {
                *description = Some(match description {
                    Some(_) => format!("Rows of {name}, described again."),
                    None => format!("Rows of {name}, now described."),
                });
            }
        }
    }
    rename_enum_value(&mut defs, &mut rng);
    if let Some(target) = first_table {
        let ty = if key_type(&defs, &target) == Some("Int!") {
            "Int"
        } else {
            "ID"
        };
        defs.push(Def::Table {
            name: "Evolved".into(),
            directives: vec!["@wes_table".into()],
            fields: vec![
                FieldDef {
                    name: "id".into(),
                    ty: "ID!".into(),
                    directives: vec!["@wes_pk".into()],
                    description: None,
                },
                FieldDef {
                    name: "targetId".into(),
                    ty: ty.into(),
                    directives: vec![
                        format!("@wes_fk(ref: \"{target}.id\")"),
                        "@wes_index".into(),
                    ],
                    description: None,
                },
                FieldDef {
                    name: "note".into(),
                    ty: "String".into(),
                    directives: vec![],
                    description: None,
                },
            ],
            description: None,
        });
    }
    render(&defs, None)
}

/// Whether a type-level directive names the field (by field or column name).
fn mentioned(type_directives: &[String], field: &str) -> bool {
    let column = snake_case(field);
    type_directives
        .iter()
        .any(|x| x.contains(field) || x.contains(&column))
}

/// Widens one `Int!` primary key to `BigInt!` (not that of `first`, which the new table
/// of [`evolve`] references), with the columns that reference it: each stays `Int` or
/// becomes `BigInt`. Only a key whose referencing columns a shadow column can stand in
/// for is chosen (none in an index or constraint over several columns or a partial
/// index). Returns the tables involved (none when no key qualifies).
fn widen_key(defs: &mut [Def], rng: &mut Rng, first: Option<&str>) -> Vec<String> {
    let simple = |type_dirs: &[String], f: &FieldDef| {
        !mentioned(type_dirs, &f.name)
            && f.directives
                .iter()
                .all(|x| !x.contains("where:") && !x.starts_with("@wes_pk"))
    };
    let mut eligible = Vec::new();
    for d in defs.iter() {
        let Def::Table { name, .. } = d else {
            continue;
        };
        if Some(name.as_str()) == first || key_type(defs, name) != Some("Int!") {
            continue;
        }
        // The key itself in an index or constraint of the type keeps it from changing.
        let own = defs.iter().any(|o| {
            matches!(o, Def::Table { name: n, directives, .. }
                if n == name && directives.iter().any(|x| x.contains("\"id\"")))
        });
        if own {
            continue;
        }
        let needle = format!("ref: \"{name}.id\"");
        let ok = defs.iter().all(|o| match o {
            Def::Table {
                directives, fields, ..
            } => fields
                .iter()
                .filter(|f| f.directives.iter().any(|x| x.contains(&needle)))
                .all(|f| simple(directives, f)),
            _ => true,
        });
        if ok {
            eligible.push(name.clone());
        }
    }
    if eligible.is_empty() {
        return Vec::new();
    }
    let key = rng.pick(&eligible).clone();
    let needle = format!("ref: \"{key}.id\"");
    let mut involved = vec![key.clone()];
    for d in defs.iter_mut() {
        let Def::Table { name, fields, .. } = d else {
            continue;
        };
        for f in fields.iter_mut() {
            if *name == key && f.name == "id" {
                f.ty = "BigInt!".into();
            } else if f.directives.iter().any(|x| x.contains(&needle)) {
                if !involved.contains(name) {
                    involved.push(name.clone());
                }
                if rng.chance(1, 2) {
                    f.ty = f.ty.replace("Int", "BigInt");
                }
            }
        }
    }
    involved
}

/// Now and then renames a value of an enum whose values carry `@wes_uid` (the uid stays,
/// so the plan renames the label in place). A value that a default names is left alone.
fn rename_enum_value(defs: &mut [Def], rng: &mut Rng) {
    let defaults: Vec<String> = defs
        .iter()
        .flat_map(|d| match d {
            Def::Table { fields, .. } => fields
                .iter()
                .flat_map(|f| f.directives.iter())
                .filter(|x| x.starts_with("@wes_default(value: "))
                .cloned()
                .collect(),
            _ => Vec::new(),
        })
        .collect();
    let mut choices = Vec::new();
    for (d, def) in defs.iter().enumerate() {
        if let Def::Enum {
            values, uids: true, ..
        } = def
        {
            for (i, v) in values.iter().enumerate() {
                if !defaults.contains(&format!("@wes_default(value: {v})")) {
                    choices.push((d, i));
                }
            }
        }
    }
    if choices.is_empty() || !rng.chance(1, 2) {
        return;
    }
    let (d, i) = *rng.pick(&choices);
    if let Def::Enum { values, .. } = &mut defs[d] {
        values[i] = format!("{}_RENAMED", values[i]);
    }
}

fn render(defs: &[Def], mut noise: Option<&mut Rng>) -> String {
    let mut out = String::with_capacity(defs.len() * 600);
    out.push_str("# Synthetic schema generated by wesley_planner::synth.\n");
    for def in defs {
        out.push('\n');
        if let Some(rng) = noise.as_deref_mut() {
            // A description on a table type is its comment: only an enum's changes nothing.
            if rng.chance(1, 4) && matches!(def, Def::Enum { .. }) {
                out.push_str("\"\"\"A description that changes nothing.\"\"\"\n");
            } else if rng.chance(1, 4) {
                out.push_str("# a comment\n");
            }
        }
        match def {
            Def::Extensions(names) => {
                let list: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
                out.push_str(&format!(
                    "schema @wes_extensions(names: [{}]) {{\n  query: Query\n}}\n",
                    list.join(", ")
                ));
            }
            Def::Enum { name, values, uids } => {
                out.push_str("enum ");
                out.push_str(name);
                out.push_str(" {\n");
                for (i, v) in values.iter().enumerate() {
                    out.push_str("  ");
                    out.push_str(v);
                    if *uids {
                        out.push_str(&format!(" @wes_uid(value: \"{name}.{i}\")"));
                    }
                    out.push('\n');
                }
                out.push_str("}\n");
            }
            Def::Table {
                name,
                directives,
                fields,
                description,
            } => {
                if let Some(d) = description {
                    out.push_str(&format!("\"\"\"{d}\"\"\"\n"));
                }
                out.push_str("type ");
                out.push_str(name);
                for d in directives {
                    out.push(' ');
                    out.push_str(d);
                }
                out.push_str(" {\n");
                for f in fields {
                    out.push_str("  ");
                    if let Some(rng) = noise.as_deref_mut() {
                        if rng.chance(1, 8) {
                            out.push_str("# field note\n  ");
                        }
                    }
                    if let Some(d) = &f.description {
                        out.push_str(&format!("\"{d}\"\n  "));
                    }
                    out.push_str(&f.name);
                    out.push_str(": ");
                    out.push_str(&f.ty);
                    for d in &f.directives {
                        out.push(' ');
                        out.push_str(d);
                    }
                    out.push('\n');
                }
                out.push_str("}\n");
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{canon, ddl, sdl};

    #[test]
    fn cycle_pairs_parse_and_plan_without_cycles() {
        for seed in 0..200 {
            let (old, new) = cycle_pair(seed);
            let o = parse_ok(&old);
            let n = parse_ok(&new);
            let p = crate::plan::plan(&o, &n);
            assert!(
                p.diagnostics.is_empty(),
                "seed {seed}: {:#?}\n{old}\n{new}",
                p.diagnostics
            );
        }
    }

    #[test]
    fn evolved_schemas_parse_and_plan() {
        // Small schemas like the property test on PostgreSQL (`plan_apply.rs`), and some
        // large ones.
        let runs: u64 = std::env::var("WESLEY_SYNTH_RUNS")
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(400);
        for seed in 0..runs {
            let tables = if seed % 10 == 0 {
                30
            } else {
                2 + seed as usize % 6
            };
            let opts = SynthOptions {
                seed: seed.wrapping_mul(7919),
                ..SynthOptions::new(tables)
            };
            let old = parse_ok(&schema(&opts));
            let src = evolve(&opts, seed ^ 0x2545, 20 + (seed as u32 * 13) % 60);
            let (new, diags) = sdl::parse("evolved.graphql", &src);
            let new = new.unwrap_or_else(|| panic!("seed {seed}: {diags:#?}\n{src}"));
            assert!(diags.is_empty(), "seed {seed}: {diags:#?}\n{src}");
            let p = crate::plan::plan(&old, &new);
            assert!(!p.has_errors(), "seed {seed}: {:#?}\n{src}", p.diagnostics);
            assert!(!p.steps.is_empty());
        }
    }

    /// Every feature the generator knows appears in some schema of a few seeds.
    #[test]
    fn schemas_use_every_feature() {
        let models: Vec<crate::Schema> = (0..40)
            .map(|seed| {
                parse_ok(&schema(&SynthOptions {
                    seed,
                    ..SynthOptions::new(12)
                }))
            })
            .collect();
        let tables = || models.iter().flat_map(|m| m.tables.iter());
        let columns = || tables().flat_map(|t| t.columns.iter());
        let canon: Vec<_> = models.iter().map(canon::canonical).collect();
        assert!(canon.iter().any(|c| c.extensions == ["citext", "pg_trgm"]));
        assert!(canon.iter().any(|c| c.min_server_major() > 14));
        assert!(
            canon.iter().filter(|c| c.min_server_major() <= 14).count() > 20,
            "most schemas apply on PostgreSQL 14"
        );
        assert!(columns().any(|c| c.ty.base == crate::types::BaseType::Citext));
        assert!(tables().any(|t| t.uniques.iter().any(|u| u.nulls_not_distinct)));
        assert!(tables().any(|t| t.foreign_keys.iter().any(|f| f.columns.len() == 2)));
        assert!(tables().any(|t| t
            .indexes
            .iter()
            .any(|i| i.keys.len() == 1 && i.keys[0].column().is_none())));
        assert!(tables().any(|t| t
            .indexes
            .iter()
            .any(|i| i.keys.len() == 2 && i.keys.iter().any(|k| k.column().is_none()))));
        assert!(models
            .iter()
            .any(|m| m.enums.iter().any(|e| !e.uids.is_empty())));
        let int_key = |t: &&crate::model::Table| {
            t.column("id")
                .is_some_and(|c| c.ty.base == crate::types::BaseType::Integer)
        };
        assert!(tables()
            .filter(int_key)
            .any(|t| t.column("id").unwrap().serial.is_some()));
        assert!(tables()
            .filter(int_key)
            .any(|t| t.column("id").unwrap().identity.is_some()));
        assert!(tables().any(|t| t.comment.is_some()));
        let generated = |text: &str| {
            columns().any(|c| c.generated.as_deref().is_some_and(|e| e.contains(text)))
        };
        assert!(generated("lower("));
        assert!(generated("IS NOT NULL"));
        assert!(tables().any(|t| t.indexes.iter().any(|i| i.keys
            == [crate::model::IndexKey::Column("derived_present".into())]
            || i.keys == [crate::model::IndexKey::Column("derived_folded".into())])));
        assert!(columns().any(|c| c.comment.as_deref().is_some_and(|x| x.contains('\''))));
    }

    /// The evolved versions of a few seeds exercise every change kind `evolve` knows.
    #[test]
    fn evolved_schemas_cover_every_change_kind() {
        use crate::plan::StepKind;
        let mut steps = Vec::new();
        for seed in 0..30 {
            let opts = SynthOptions {
                seed,
                ..SynthOptions::new(12)
            };
            let old = parse_ok(&schema(&opts));
            let new = parse_ok(&evolve(&opts, seed, 50));
            let p = crate::plan::plan(&old, &new);
            assert!(!p.has_errors(), "seed {seed}: {:#?}", p.diagnostics);
            steps.extend(p.steps.into_iter().map(|s| (s.kind, s.sql)));
        }
        let has = |kind: StepKind, text: &str| {
            steps
                .iter()
                .any(|(k, sql)| *k == kind && sql.contains(text))
        };
        assert!(has(StepKind::RenameEnumValue, "_RENAMED"));
        // An `Int!` key widened with its foreign keys: the key's shadow column.
        assert!(has(StepKind::AddShadowColumn, "\"id_new\" bigint"));
        assert!(has(StepKind::SwapColumns, "PRIMARY KEY"));
        assert!(has(StepKind::AddForeignKey, "FOREIGN KEY (\"linked"));
        assert!(has(StepKind::DropForeignKey, "_part1_fkey"));
        assert!(has(StepKind::CreateIndex, "(lower("));
        assert!(has(StepKind::CreateIndex, "(upper("));
        assert!(has(StepKind::SetComment, "COMMENT ON TABLE"));
        assert!(has(StepKind::AddColumn, "GENERATED ALWAYS AS"));
    }

    fn parse_ok(src: &str) -> crate::Schema {
        let (model, diags) = sdl::parse("synth.graphql", src);
        assert!(
            diags.is_empty(),
            "diagnostics: {diags:#?}\n--- SDL ---\n{src}"
        );
        model.expect("a model")
    }

    #[test]
    fn output_parses_without_diagnostics() {
        for seed in 0..40 {
            for (tables, cols, idx, fks) in
                [(1, 1, 0, 0), (3, 4, 3, 2), (12, 10, 2, 1), (20, 16, 5, 3)]
            {
                let opts = SynthOptions {
                    tables,
                    columns_per_table: cols,
                    indexes_per_table: idx,
                    fks_per_table: fks,
                    seed,
                };
                let model = parse_ok(&schema(&opts));
                assert_eq!(model.tables.len(), tables);
                for t in &model.tables {
                    // A foreign key over two columns takes the place of a one-column one.
                    let wide = t
                        .foreign_keys
                        .iter()
                        .filter(|f| f.columns.len() > 1)
                        .count();
                    // A generated column comes on top.
                    let generated = t.columns.iter().filter(|c| c.generated.is_some()).count();
                    assert!(generated <= 1, "{}", t.name);
                    assert_eq!(
                        t.columns.len(),
                        cols.max(1 + fks) + wide + generated,
                        "{}",
                        t.name
                    );
                    assert_eq!(t.foreign_keys.len(), fks, "{}", t.name);
                    assert!(t.primary_key.is_some());
                }
            }
        }
    }

    #[test]
    fn shuffled_hashes_alike() {
        for seed in 0..20 {
            let opts = SynthOptions {
                seed,
                ..SynthOptions::new(15)
            };
            let original = schema(&opts);
            let hash = canon::schema_hash(&parse_ok(&original));
            for shuffle_seed in 0..5 {
                let other = shuffled(&opts, shuffle_seed);
                assert_ne!(other, original);
                assert_eq!(
                    canon::schema_hash(&parse_ok(&other)),
                    hash,
                    "seed {seed}, shuffle {shuffle_seed}"
                );
            }
        }
    }

    #[test]
    fn deterministic() {
        let opts = SynthOptions {
            seed: 7,
            ..SynthOptions::new(30)
        };
        assert_eq!(schema(&opts), schema(&opts));
        assert_eq!(shuffled(&opts, 3), shuffled(&opts, 3));
        assert_ne!(
            schema(&opts),
            schema(&SynthOptions {
                seed: 8,
                ..opts.clone()
            })
        );
        let model = parse_ok(&schema(&opts));
        assert_eq!(
            ddl::generate(&model),
            ddl::generate(&parse_ok(&schema(&opts)))
        );
    }

    #[test]
    fn hundred_tables() {
        let model = parse_ok(&schema(&SynthOptions::new(100)));
        assert_eq!(model.tables.len(), 100);
        assert_eq!(model.tables[0].name, "t0000");
        assert_eq!(model.tables[99].name, "t0099");
        let indexes: usize = model.tables.iter().map(|t| t.indexes.len()).sum();
        assert!(indexes >= 150, "{indexes} indexes");
        assert!(!model.enums.is_empty());
        assert!(model.tables.iter().any(|t| t.rls_enabled));
        assert!(model.tables.iter().any(|t| !t.uniques.is_empty()));
        assert!(model.tables.iter().any(|t| !t.checks.is_empty()));
    }

    #[test]
    fn empty_schema() {
        let model = parse_ok(&schema(&SynthOptions::new(0)));
        assert!(model.tables.is_empty());
    }
}
