//! Diffing two models into a closed list of changes. Tables and columns match by name, or
//! by `@wes_uid` when both sides carry one (so a rename is a rename, not drop + add).
//! Constraints, indexes and policies match by name; a changed definition is a drop plus
//! an add (or an in-place alteration where PostgreSQL has one). The order of the result
//! is deterministic and does not depend on declaration order.

use crate::model::*;

/// One difference between the old and the new model. Variants carry whole tables so that
/// strategies need no lookups; the list is short-lived, so their size does not matter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Change {
    /// A schema other than `public` that the new model uses (its name).
    CreateSchema(String),
    /// An extension the new schema declares or a column type needs (its name, e.g.
    /// `citext`).
    CreateExtension(String),
    /// An extension the new schema no longer declares or needs: never dropped (it stays
    /// installed and is no longer compared), only reported (W0111).
    KeepExtension(String),
    /// A new enum type.
    CreateEnum(EnumType),
    /// Values appended or inserted; each with its neighbour in the new order.
    AddEnumValues {
        /// As it was.
        old: EnumType,
        /// As it becomes.
        new: EnumType,
    },
    /// Labels renamed, paired by `@wes_uid` on the enum's values (from, to), in the old
    /// order; an `AddEnumValues` of the same enum (as renamed) may follow.
    RenameEnumValues {
        /// The enum as it was.
        old: EnumType,
        /// Old label, new label.
        renames: Vec<(String, String)>,
    },
    /// Values removed or reordered: PostgreSQL cannot do this in place.
    RewriteEnum {
        /// As it was.
        old: EnumType,
        /// As it becomes.
        new: EnumType,
    },
    /// An enum type no longer in the model.
    DropEnum(EnumType),
    /// A new table.
    CreateTable(Table),
    /// A table no longer in the model.
    DropTable(Table),
    /// A table paired by `@wes_uid` under another name.
    RenameTable {
        /// As it was.
        old: Table,
        /// As it becomes.
        new: Table,
    },
    /// A new column on an existing table.
    AddColumn {
        /// The table it is on.
        table: Table,
        /// The column.
        column: Column,
    },
    /// A column no longer in its table.
    DropColumn {
        /// The table it is on.
        table: Table,
        /// The column.
        column: Column,
    },
    /// A column paired by `@wes_uid` under another name.
    RenameColumn {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Column,
        /// As it becomes.
        new: Column,
    },
    /// A column whose type changed (the type strategy also handles its nullability
    /// and default).
    ChangeColumnType {
        /// The table as it was (names before renames).
        old_table: Table,
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Column,
        /// As it becomes.
        new: Column,
    },
    /// A column that becomes NOT NULL.
    SetNotNull {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Column,
        /// The column as it becomes.
        column: Column,
    },
    /// A column that becomes nullable.
    DropNotNull {
        /// The table it is on.
        table: Table,
        /// The column.
        column: Column,
    },
    /// A default added or changed (`old` is the column as it was).
    SetDefault {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Column,
        /// The column as it becomes.
        column: Column,
    },
    /// A default removed (`old` is the column as it was, with its default).
    DropDefault {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Column,
        /// The column as it becomes.
        column: Column,
    },
    /// A column's identity or serial-ness changed: identity added, dropped or altered,
    /// a serial column made identity or plain, or its sequence's name changed (`old` is
    /// the column as it was). It also
    /// carries the column's change of default, and of nullability when the identity
    /// goes (PostgreSQL refuses both on an identity column).
    ChangeIdentity {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Column,
        /// The column as it becomes.
        column: Column,
    },
    /// A column whose generation expression (`@wes_generated`) was added, removed or
    /// changed (`old` is the column as it was). An expression that only follows a rename of
    /// the columns it uses is no change: PostgreSQL renames them in it by itself.
    ChangeGenerated {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Column,
        /// The column as it becomes.
        column: Column,
    },
    /// A primary key on a table that had none.
    AddPrimaryKey {
        /// The table it is on.
        table: Table,
        /// The primary key.
        key: PrimaryKey,
    },
    /// A primary key removed.
    DropPrimaryKey {
        /// The table it is on.
        table: Table,
        /// The primary key.
        key: PrimaryKey,
    },
    /// A primary key whose name or columns changed.
    ReplacePrimaryKey {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: PrimaryKey,
        /// As it becomes.
        new: PrimaryKey,
    },
    /// A new unique constraint.
    AddUnique {
        /// The table it is on.
        table: Table,
        /// The unique constraint.
        unique: Unique,
    },
    /// A unique constraint removed.
    DropUnique {
        /// The table it is on.
        table: Table,
        /// The unique constraint.
        unique: Unique,
    },
    /// A new foreign key.
    AddForeignKey {
        /// The table it is on.
        table: Table,
        /// The foreign key.
        fk: ForeignKey,
        /// The referencing table is created by this plan (nothing writes to it yet).
        new_table: bool,
    },
    /// A foreign key removed.
    DropForeignKey {
        /// The table it is on.
        table: Table,
        /// The foreign key.
        fk: ForeignKey,
    },
    /// A new CHECK constraint.
    AddCheck {
        /// The table it is on.
        table: Table,
        /// The check.
        check: Check,
    },
    /// A CHECK constraint removed.
    DropCheck {
        /// The table it is on.
        table: Table,
        /// The check.
        check: Check,
    },
    /// A new index.
    AddIndex {
        /// The table it is on.
        table: Table,
        /// The index.
        index: Index,
    },
    /// An index removed.
    DropIndex {
        /// The table it is on.
        table: Table,
        /// The index.
        index: Index,
    },
    /// An index with the same name and another definition.
    ReplaceIndex {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Index,
        /// As it becomes.
        new: Index,
    },
    /// Row-level security turned on.
    EnableRls(Table),
    /// Row-level security turned off.
    DisableRls(Table),
    /// A new policy.
    AddPolicy {
        /// The table it is on.
        table: Table,
        /// The policy.
        policy: Policy,
    },
    /// A policy removed.
    DropPolicy {
        /// The table it is on.
        table: Table,
        /// The policy.
        policy: Policy,
    },
    /// A policy whose roles or expressions changed (PostgreSQL alters it in place).
    AlterPolicy {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Policy,
        /// As it becomes.
        new: Policy,
    },
    /// A unique constraint with the same name and other columns.
    ReplaceUnique {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Unique,
        /// As it becomes.
        new: Unique,
    },
    /// A CHECK constraint with the same name and another expression.
    ReplaceCheck {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: Check,
        /// As it becomes.
        new: Check,
    },
    /// A foreign key with the same name and another definition.
    ReplaceForeignKey {
        /// The table it is on.
        table: Table,
        /// As it was.
        old: ForeignKey,
        /// As it becomes.
        new: ForeignKey,
    },
    /// A constraint with the same definition under a new name.
    RenameConstraint {
        /// The table it is on.
        table: Table,
        /// The name it had.
        old_name: String,
        /// The name it gets.
        new_name: String,
    },
    /// An index with the same definition under a new name.
    RenameIndex {
        /// The table it is on.
        table: Table,
        /// The name it had.
        old_name: String,
        /// The name it gets.
        new_name: String,
    },
    /// A policy with the same definition under a new name.
    RenamePolicy {
        /// The table it is on.
        table: Table,
        /// The name it had.
        old_name: String,
        /// The name it gets.
        new_name: String,
    },
    /// The table's comment added, changed or removed: `table.comment` is the new one
    /// (`None` removes it).
    SetTableComment {
        /// The table, with its new comment.
        table: Table,
        /// The comment it had (rollback sets it back).
        old: Option<String>,
    },
    /// A column's comment added, changed or removed: `column.comment` is the new one
    /// (`None` removes it). Also for an added column that has a comment.
    SetColumnComment {
        /// The table it is on.
        table: Table,
        /// The column.
        column: Column,
        /// The comment it had (rollback sets it back).
        old: Option<String>,
    },
}

/// How to express each outcome of pairing one kind of object as a change.
struct Emit<'f, T> {
    replace: &'f dyn Fn(&T, &T) -> Change,
    rename: &'f dyn Fn(String, String) -> Change,
    drop: &'f dyn Fn(&T) -> Change,
    add: &'f dyn Fn(&T) -> Change,
}

/// Diffs one kind of named object: same name but another definition → replace; same
/// definition under a new name → rename; the rest dropped or added.
fn diff_named<T>(
    out: &mut Vec<Change>,
    old: &[T],
    new: &[T],
    name: impl Fn(&T) -> &String,
    same: impl Fn(&T, &T) -> bool,
    emit: Emit<'_, T>,
) {
    let p = pair(old, new, &name, &same);
    for (a, b) in p.same_name {
        if !same(a, b) {
            out.push((emit.replace)(a, b));
        }
    }
    for (a, b) in p.renamed {
        out.push((emit.rename)(name(a).clone(), name(b).clone()));
    }
    out.extend(p.dropped.into_iter().map(|x| (emit.drop)(x)));
    out.extend(p.added.into_iter().map(|x| (emit.add)(x)));
}

/// Objects of one kind paired between two versions of a table.
struct Pairing<'a, T> {
    same_name: Vec<(&'a T, &'a T)>,
    renamed: Vec<(&'a T, &'a T)>,
    dropped: Vec<&'a T>,
    added: Vec<&'a T>,
}

fn pair<'a, T>(
    old: &'a [T],
    new: &'a [T],
    name: impl Fn(&T) -> &String,
    same: impl Fn(&T, &T) -> bool,
) -> Pairing<'a, T> {
    let mut p = Pairing {
        same_name: vec![],
        renamed: vec![],
        dropped: vec![],
        added: vec![],
    };
    let mut old_used = vec![false; old.len()];
    let mut new_left = Vec::new();
    for b in new {
        match old.iter().position(|a| name(a) == name(b)) {
            Some(i) => {
                old_used[i] = true;
                p.same_name.push((&old[i], b));
            }
            None => new_left.push(b),
        }
    }
    for b in new_left {
        let hit = old
            .iter()
            .enumerate()
            .find(|(i, a)| !old_used[*i] && !new.iter().any(|x| name(x) == name(a)) && same(a, b));
        match hit {
            Some((i, a)) => {
                old_used[i] = true;
                p.renamed.push((a, b));
            }
            None => p.added.push(b),
        }
    }
    for (i, a) in old.iter().enumerate() {
        if !old_used[i] {
            p.dropped.push(a);
        }
    }
    p
}

/// Pairs old and new tables: by uid when both have one, else by (schema, name).
pub(crate) fn match_tables<'a>(
    old: &'a Schema,
    new: &'a Schema,
) -> Vec<(Option<&'a Table>, Option<&'a Table>)> {
    use std::collections::BTreeMap;
    let by_uid: BTreeMap<&str, usize> = old
        .tables
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some((t.meta.uid.as_deref()?, i)))
        .collect();
    let by_name: BTreeMap<(&str, &str), usize> = old
        .tables
        .iter()
        .enumerate()
        .map(|(i, t)| ((t.schema.as_str(), t.name.as_str()), i))
        .collect();
    let mut pairs = Vec::with_capacity(new.tables.len());
    let mut used_old = vec![false; old.tables.len()];
    for n in &new.tables {
        let uid_hit = n.meta.uid.as_deref().and_then(|u| by_uid.get(u).copied());
        let name_hit = || {
            by_name
                .get(&(n.schema.as_str(), n.name.as_str()))
                .copied()
                .filter(|&i| {
                    let o = &old.tables[i];
                    o.meta.uid.is_none() || n.meta.uid.is_none() || o.meta.uid == n.meta.uid
                })
        };
        match uid_hit.or_else(name_hit).filter(|i| !used_old[*i]) {
            Some(i) => {
                used_old[i] = true;
                pairs.push((Some(&old.tables[i]), Some(n)));
            }
            None => pairs.push((None, Some(n))),
        }
    }
    for (i, o) in old.tables.iter().enumerate() {
        if !used_old[i] {
            pairs.push((Some(o), None));
        }
    }
    pairs
}

fn match_columns<'a>(
    old: &'a Table,
    new: &'a Table,
) -> Vec<(Option<&'a Column>, Option<&'a Column>)> {
    let mut pairs = Vec::new();
    let mut used = vec![false; old.columns.len()];
    for n in &new.columns {
        let by_uid = n.meta.uid.as_ref().and_then(|u| {
            old.columns
                .iter()
                .position(|o| o.meta.uid.as_ref() == Some(u))
        });
        let by_name = || {
            old.columns.iter().position(|o| {
                o.name == n.name
                    && (o.meta.uid.is_none() || n.meta.uid.is_none() || o.meta.uid == n.meta.uid)
            })
        };
        match by_uid.or_else(by_name).filter(|i| !used[*i]) {
            Some(i) => {
                used[i] = true;
                pairs.push((Some(&old.columns[i]), Some(n)));
            }
            None => pairs.push((None, Some(n))),
        }
    }
    for (i, o) in old.columns.iter().enumerate() {
        if !used[i] {
            pairs.push((Some(o), None));
        }
    }
    pairs
}

/// How old names map to new ones, for tables paired across a rename and their columns:
/// objects of the old schema are read in the new schema's names before they are compared,
/// and the drops planned for them name tables and columns as they are called when the drop
/// runs (renames happen in the expand phase, drops in contract).
pub struct Renames {
    tables: std::collections::BTreeMap<(String, String), (String, String)>,
    columns: std::collections::BTreeMap<(String, String, String), String>,
    /// Renamed enum labels by enum (schema, name): (old label, new label).
    enum_values: std::collections::BTreeMap<(String, String), Vec<(String, String)>>,
}

/// Labels of enum `o` renamed in `n`, paired by `@wes_uid` on the values, in the old
/// order: a label whose uid moved to another label, never onto a label `o` still has
/// (PostgreSQL renames one at a time; a swap is a reorder).
pub(crate) fn enum_value_renames(o: &EnumType, n: &EnumType) -> Vec<(String, String)> {
    o.values
        .iter()
        .filter_map(|label| {
            let uid = o.uids.get(label)?;
            let (to, _) = n.uids.iter().find(|(_, u)| *u == uid)?;
            (to != label && !o.values.contains(to)).then(|| (label.clone(), to.clone()))
        })
        .collect()
}

impl Renames {
    pub(crate) fn new(old: &Schema, new: &Schema) -> Renames {
        let mut tables = std::collections::BTreeMap::new();
        let mut columns = std::collections::BTreeMap::new();
        // Only what is renamed: a lookup of anything else gives the name back.
        for (o, n) in match_tables(old, new) {
            let (Some(o), Some(n)) = (o, n) else { continue };
            if (&o.schema, &o.name) != (&n.schema, &n.name) {
                tables.insert(
                    (o.schema.clone(), o.name.clone()),
                    (n.schema.clone(), n.name.clone()),
                );
            }
            for (oc, nc) in match_columns(o, n) {
                if let (Some(oc), Some(nc)) = (oc, nc) {
                    if oc.name != nc.name {
                        columns.insert(
                            (o.schema.clone(), o.name.clone(), oc.name.clone()),
                            nc.name.clone(),
                        );
                    }
                }
            }
        }
        let enum_values = new
            .enums
            .iter()
            .filter_map(|n| {
                let o = old.enum_type(&n.schema, &n.name)?;
                let r = enum_value_renames(o, n);
                (!r.is_empty()).then(|| ((n.schema.clone(), n.name.clone()), r))
            })
            .collect();
        Renames {
            tables,
            columns,
            enum_values,
        }
    }

    /// Whether default `b` of a column of type `ty` is default `a` with an enum label
    /// renamed: the stored default follows the rename by itself (PostgreSQL keeps enum
    /// values by OID), so there is nothing to change.
    fn same_default_renamed(
        &self,
        ty: &crate::types::SqlType,
        a: Option<&crate::model::Default>,
        b: Option<&crate::model::Default>,
    ) -> bool {
        use crate::model::Default::Literal;
        let (crate::types::BaseType::Enum { schema, name }, Some(Literal(a)), Some(Literal(b))) =
            (&ty.base, a, b)
        else {
            return false;
        };
        self.enum_values
            .get(&(schema.clone(), name.clone()))
            .is_some_and(|r| {
                r.iter().any(|(from, to)| {
                    *a == crate::sql::literal(from) && *b == crate::sql::literal(to)
                })
            })
    }

    /// Whether generation expression `b` is `a` (of a column of old table `o`), or `a`
    /// with the columns it uses renamed as the plan renames them.
    fn same_generated(&self, o: &Table, a: Option<&str>, b: Option<&str>) -> bool {
        match (a, b) {
            (None, None) => true,
            (Some(a), Some(b)) => {
                a == b
                    || crate::expr::with_columns_quoted(a, |c| self.column(&o.schema, &o.name, c))
                        == crate::expr::with_columns_quoted(b, str::to_string)
            }
            _ => false,
        }
    }

    /// The table's name in the new schema (itself when it is dropped or unchanged).
    pub(crate) fn table(&self, schema: &str, name: &str) -> (String, String) {
        self.tables
            .get(&(schema.to_string(), name.to_string()))
            .cloned()
            .unwrap_or((schema.to_string(), name.to_string()))
    }

    /// A column of an old table, by its name in the new schema.
    pub(crate) fn column(&self, schema: &str, table: &str, column: &str) -> String {
        self.columns
            .get(&(schema.to_string(), table.to_string(), column.to_string()))
            .cloned()
            .unwrap_or_else(|| column.to_string())
    }

    fn columns_of(&self, t: &Table, cols: &[String]) -> Vec<String> {
        cols.iter()
            .map(|c| self.column(&t.schema, &t.name, c))
            .collect()
    }

    /// An old index key in the new schema's names: a column renamed, or an expression
    /// with the columns it mentions renamed (PostgreSQL follows a rename inside a stored
    /// expression, so the index stays what it was).
    fn key_of(&self, t: &Table, k: &IndexKey) -> IndexKey {
        match k {
            IndexKey::Column(c) => IndexKey::Column(self.column(&t.schema, &t.name, c)),
            IndexKey::Expr { expr } => IndexKey::Expr {
                expr: crate::expr::rename_columns(expr, &|c| {
                    t.column(c)?;
                    let to = self.column(&t.schema, &t.name, c);
                    (to != c).then_some(to)
                }),
            },
        }
    }

    /// An old table's keys, constraints and indexes in the new schema's names.
    fn objects(&self, t: &Table) -> Table {
        Table {
            primary_key: t.primary_key.as_ref().map(|k| PrimaryKey {
                name: k.name.clone(),
                columns: self.columns_of(t, &k.columns),
            }),
            uniques: t
                .uniques
                .iter()
                .map(|u| Unique {
                    columns: self.columns_of(t, &u.columns),
                    ..u.clone()
                })
                .collect(),
            indexes: t
                .indexes
                .iter()
                .map(|i| Index {
                    keys: i.keys.iter().map(|k| self.key_of(t, k)).collect(),
                    ..i.clone()
                })
                .collect(),
            foreign_keys: t
                .foreign_keys
                .iter()
                .map(|f| {
                    let (ref_schema, ref_table) = self.table(&f.ref_schema, &f.ref_table);
                    ForeignKey {
                        columns: self.columns_of(t, &f.columns),
                        ref_columns: f
                            .ref_columns
                            .iter()
                            .map(|c| self.column(&f.ref_schema, &f.ref_table, c))
                            .collect(),
                        ref_schema,
                        ref_table,
                        ..f.clone()
                    }
                })
                .collect(),
            ..t.clone()
        }
    }
}

fn same_fk(a: &ForeignKey, b: &ForeignKey) -> bool {
    a.columns == b.columns
        && a.ref_schema == b.ref_schema
        && a.ref_table == b.ref_table
        && a.ref_columns == b.ref_columns
        && a.on_delete == b.on_delete
        && a.on_update == b.on_update
}

/// Every difference between `old` and `new`, in a deterministic order (see the module
/// documentation for how objects are paired). Equal models give an empty list.
pub fn diff(old: &Schema, new: &Schema) -> Vec<Change> {
    let mut out = Vec::new();
    let old_schemas = old.extra_schemas();
    for s in new.extra_schemas() {
        if !old_schemas.contains(&s) {
            out.push(Change::CreateSchema(s));
        }
    }
    let (old_ext, new_ext) = (old.extensions(), new.extensions());
    for e in &new_ext {
        if !old_ext.contains(e) {
            out.push(Change::CreateExtension(e.clone()));
        }
    }
    for e in old_ext {
        if !new_ext.contains(&e) {
            out.push(Change::KeepExtension(e));
        }
    }

    // Enums.
    for n in &new.enums {
        match old.enum_type(&n.schema, &n.name) {
            None => out.push(Change::CreateEnum(n.clone())),
            Some(o) if o.values == n.values => {}
            Some(o) => {
                // Labels whose uid moved to another label are renamed first (never onto a
                // label the enum still has: PostgreSQL renames one at a time).
                let renames = enum_value_renames(o, n);
                let mut renamed = o.clone();
                for (from, to) in &renames {
                    for v in &mut renamed.values {
                        if v == from {
                            *v = to.clone();
                        }
                    }
                }
                if !renames.is_empty() {
                    out.push(Change::RenameEnumValues {
                        old: o.clone(),
                        renames,
                    });
                }
                // Appending or inserting keeps every old value in its relative order.
                let kept: Vec<&String> = n
                    .values
                    .iter()
                    .filter(|v| renamed.values.contains(v))
                    .collect();
                let in_order = kept.len() == renamed.values.len()
                    && kept.iter().zip(&renamed.values).all(|(a, b)| *a == b);
                if renamed.values == n.values {
                    // Only renamed.
                } else if in_order {
                    out.push(Change::AddEnumValues {
                        old: renamed,
                        new: n.clone(),
                    });
                } else {
                    out.push(Change::RewriteEnum {
                        old: o.clone(),
                        new: n.clone(),
                    });
                }
            }
        }
    }
    for o in &old.enums {
        if new.enum_type(&o.schema, &o.name).is_none() {
            out.push(Change::DropEnum(o.clone()));
        }
    }

    let pairs = match_tables(old, new);
    let renames = Renames::new(old, new);

    for (o, n) in &pairs {
        match (o, n) {
            (None, Some(n)) => {
                out.push(Change::CreateTable((*n).clone()));
                for fk in &n.foreign_keys {
                    out.push(Change::AddForeignKey {
                        table: (*n).clone(),
                        fk: fk.clone(),
                        new_table: true,
                    });
                }
                for p in &n.policies {
                    out.push(Change::AddPolicy {
                        table: (*n).clone(),
                        policy: p.clone(),
                    });
                }
                if n.rls_enabled {
                    out.push(Change::EnableRls((*n).clone()));
                }
            }
            (Some(o), None) => out.push(Change::DropTable((*o).clone())),
            (Some(o), Some(n)) => diff_table(&mut out, o, n, &renames),
            (None, None) => {}
        }
    }
    out
}

fn diff_table(out: &mut Vec<Change>, o: &Table, n: &Table, renames: &Renames) {
    if o.schema != n.schema || o.name != n.name {
        out.push(Change::RenameTable {
            old: o.clone(),
            new: n.clone(),
        });
    }
    if o.comment != n.comment {
        out.push(Change::SetTableComment {
            table: n.clone(),
            old: o.comment.clone(),
        });
    }
    for (oc, nc) in match_columns(o, n) {
        match (oc, nc) {
            (None, Some(c)) => {
                out.push(Change::AddColumn {
                    table: n.clone(),
                    column: c.clone(),
                });
                if c.comment.is_some() {
                    out.push(Change::SetColumnComment {
                        table: n.clone(),
                        column: c.clone(),
                        old: None,
                    });
                }
            }
            // Named as the table is called when the drop runs (after any rename).
            (Some(c), None) => out.push(Change::DropColumn {
                table: n.clone(),
                column: c.clone(),
            }),
            (Some(a), Some(b)) => {
                if a.name != b.name {
                    out.push(Change::RenameColumn {
                        table: n.clone(),
                        old: a.clone(),
                        new: b.clone(),
                    });
                }
                // A change of type carries the comment (`type_change`).
                if a.comment != b.comment && a.ty == b.ty {
                    out.push(Change::SetColumnComment {
                        table: n.clone(),
                        column: b.clone(),
                        old: a.comment.clone(),
                    });
                }
                if a.ty != b.ty {
                    out.push(Change::ChangeColumnType {
                        old_table: o.clone(),
                        table: n.clone(),
                        old: a.clone(),
                        new: b.clone(),
                    });
                    continue; // the type strategy handles nullability and default too
                }
                if !renames.same_generated(o, a.generated.as_deref(), b.generated.as_deref()) {
                    out.push(Change::ChangeGenerated {
                        table: n.clone(),
                        old: a.clone(),
                        column: b.clone(),
                    });
                }
                // A change of identity or serial-ness carries the default, and a dropped
                // identity the nullability: PostgreSQL refuses both on an identity column,
                // and a serial column's default is its own (`strategy::identity`).
                let sequence = a.identity != b.identity || a.serial != b.serial;
                if a.default != b.default
                    && !sequence
                    && !renames.same_default_renamed(&b.ty, a.default.as_ref(), b.default.as_ref())
                {
                    match &b.default {
                        Some(_) => out.push(Change::SetDefault {
                            table: n.clone(),
                            old: a.clone(),
                            column: b.clone(),
                        }),
                        None => out.push(Change::DropDefault {
                            table: n.clone(),
                            old: a.clone(),
                            column: b.clone(),
                        }),
                    }
                }
                if sequence {
                    out.push(Change::ChangeIdentity {
                        table: n.clone(),
                        old: a.clone(),
                        column: b.clone(),
                    });
                }
                if a.nullable && !b.nullable {
                    out.push(Change::SetNotNull {
                        table: n.clone(),
                        old: a.clone(),
                        column: b.clone(),
                    });
                } else if !a.nullable && b.nullable && !(sequence && a.identity.is_some()) {
                    out.push(Change::DropNotNull {
                        table: n.clone(),
                        column: b.clone(),
                    });
                }
            }
            (None, None) => {}
        }
    }

    // Keys, constraints and indexes of the old table, in the new schema's names.
    let om = renames.objects(o);
    let o = &om;

    // Primary key.
    let old_pk = o.primary_key.clone();
    match (&old_pk, &n.primary_key) {
        (None, Some(k)) => out.push(Change::AddPrimaryKey {
            table: n.clone(),
            key: k.clone(),
        }),
        (Some(k), None) => out.push(Change::DropPrimaryKey {
            table: n.clone(),
            key: k.clone(),
        }),
        (Some(a), Some(b)) if a.columns != b.columns => out.push(Change::ReplacePrimaryKey {
            table: n.clone(),
            old: a.clone(),
            new: b.clone(),
        }),
        (Some(a), Some(b)) if a.name != b.name => out.push(Change::RenameConstraint {
            table: n.clone(),
            old_name: a.name.clone(),
            new_name: b.name.clone(),
        }),
        _ => {}
    }

    // Uniques, checks, indexes, foreign keys, policies: paired by name first, then by
    // definition (a derived name that changed with a rename is a rename, not a rebuild).
    let t = || n.clone();

    let same_unique = |a: &Unique, b: &Unique| {
        a.columns == b.columns && a.nulls_not_distinct == b.nulls_not_distinct
    };
    diff_named(
        out,
        &o.uniques,
        &n.uniques,
        |u| &u.name,
        same_unique,
        Emit {
            replace: &|a, b| Change::ReplaceUnique {
                table: t(),
                old: a.clone(),
                new: b.clone(),
            },
            rename: &|a, b| Change::RenameConstraint {
                table: t(),
                old_name: a,
                new_name: b,
            },
            drop: &|x| Change::DropUnique {
                table: t(),
                unique: x.clone(),
            },
            add: &|x| Change::AddUnique {
                table: t(),
                unique: x.clone(),
            },
        },
    );
    diff_named(
        out,
        &o.checks,
        &n.checks,
        |c| &c.name,
        |a, b| a.expr == b.expr,
        Emit {
            replace: &|a, b| Change::ReplaceCheck {
                table: t(),
                old: a.clone(),
                new: b.clone(),
            },
            rename: &|a, b| Change::RenameConstraint {
                table: t(),
                old_name: a,
                new_name: b,
            },
            drop: &|x| Change::DropCheck {
                table: t(),
                check: x.clone(),
            },
            add: &|x| Change::AddCheck {
                table: t(),
                check: x.clone(),
            },
        },
    );
    let same_index = |a: &Index, b: &Index| {
        Index {
            name: b.name.clone(),
            ..a.clone()
        } == *b
    };
    diff_named(
        out,
        &o.indexes,
        &n.indexes,
        |i| &i.name,
        same_index,
        Emit {
            replace: &|a, b| Change::ReplaceIndex {
                table: t(),
                old: a.clone(),
                new: b.clone(),
            },
            rename: &|a, b| Change::RenameIndex {
                table: t(),
                old_name: a,
                new_name: b,
            },
            drop: &|x| Change::DropIndex {
                table: t(),
                index: x.clone(),
            },
            add: &|x| Change::AddIndex {
                table: t(),
                index: x.clone(),
            },
        },
    );
    let same_key = |a: &ForeignKey, b: &ForeignKey| same_fk(a, b);
    diff_named(
        out,
        &o.foreign_keys,
        &n.foreign_keys,
        |f| &f.name,
        same_key,
        Emit {
            replace: &|a, b| Change::ReplaceForeignKey {
                table: t(),
                old: a.clone(),
                new: b.clone(),
            },
            rename: &|a, b| Change::RenameConstraint {
                table: t(),
                old_name: a,
                new_name: b,
            },
            drop: &|x| Change::DropForeignKey {
                table: t(),
                fk: x.clone(),
            },
            add: &|x| Change::AddForeignKey {
                table: t(),
                fk: x.clone(),
                new_table: false,
            },
        },
    );
    let same_policy = |a: &Policy, b: &Policy| {
        Policy {
            name: b.name.clone(),
            ..a.clone()
        } == *b
    };
    diff_named(
        out,
        &o.policies,
        &n.policies,
        |x| &x.name,
        same_policy,
        Emit {
            replace: &|a, b| Change::AlterPolicy {
                table: t(),
                old: a.clone(),
                new: b.clone(),
            },
            rename: &|a, b| Change::RenamePolicy {
                table: t(),
                old_name: a,
                new_name: b,
            },
            drop: &|x| Change::DropPolicy {
                table: t(),
                policy: x.clone(),
            },
            add: &|x| Change::AddPolicy {
                table: t(),
                policy: x.clone(),
            },
        },
    );

    match (o.rls_enabled, n.rls_enabled) {
        (false, true) => out.push(Change::EnableRls(n.clone())),
        (true, false) => out.push(Change::DisableRls(n.clone())),
        _ => {}
    }
}
