//! A type change of a single-column key that foreign keys reference (a primary key, a
//! unique constraint or a unique index), and of the foreign keys that reference it
//! (`int` → `bigint` before the 2^31 wrap, `text` → `uuid`), while writes continue.
//! PostgreSQL's own `ALTER COLUMN ... TYPE` rewrites every table involved under ACCESS
//! EXCLUSIVE; this plan never holds that lock for longer than an instant:
//!
//! 1. expand: a shadow column (`type_change::ShadowColumn`) on the key, and on every
//!    referencing column whose type changes too, each kept in sync by its trigger;
//! 2. backfill: each shadow in key-range batches;
//! 3. validate: every value proven converted; a NOT NULL key's shadow made NOT NULL
//!    through a validated check; a unique index built concurrently on it; each foreign
//!    key built again `NOT VALID` against the shadow key (a foreign key may reference the
//!    columns of a unique index, measured on PostgreSQL 14 to 18) and validated;
//! 4. switch: one short transaction over every table involved drops the old foreign
//!    keys and the old key, swaps each column with its shadow, attaches the primary key
//!    or unique constraint `USING INDEX` (instant: the index is unique, and a primary
//!    key's column is NOT NULL) or gives the unique index the old name, and gives the new
//!    foreign keys the old names;
//! 5. contract: the old columns are dropped.
//!
//! A referencing column that keeps its type (an `int` column referencing a key that
//! becomes `bigint`) keeps its column: only its foreign key is built again. After the
//! switch, values written to the new columns are not copied back, so a rollback refuses
//! from then on.
//!
//! Refused (E0103), with what to do instead: a key over several columns, a foreign key
//! over several columns that includes it, a rename or a changed foreign key or key in
//! the same plan, a new foreign key to it, a referencing table that is dropped, and
//! whatever keeps a shadow column from standing in (`type_change::unsupported`).

use super::foreign_key::referenced_first;
use super::type_change::{blocks_shadow, conversion_for, unsupported, via_shadow, ShadowColumn};
use super::*;
use crate::model::{Column, ForeignKey, Index, IndexKey, PrimaryKey, Unique};
use crate::naming;

/// The single-column key of a column that a foreign key may reference, as PostgreSQL
/// requires one (a primary key, a unique constraint, or a unique index without
/// predicate; see `sdl::lower::foreign_keys`, error E0035).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key<'a> {
    Primary(&'a PrimaryKey),
    Unique(&'a Unique),
    Index(&'a Index),
}

impl<'a> Key<'a> {
    /// The key on exactly column `c` of `t`: its primary key first, then a unique
    /// constraint, then a unique index.
    fn of(t: &'a Table, c: &str) -> Option<Key<'a>> {
        let one = |cols: &[String]| cols.len() == 1 && cols[0] == c;
        if let Some(k) = t.primary_key.as_ref().filter(|k| one(&k.columns)) {
            return Some(Key::Primary(k));
        }
        if let Some(u) = t.uniques.iter().find(|u| one(&u.columns)) {
            return Some(Key::Unique(u));
        }
        t.indexes
            .iter()
            .find(|i| i.referencable_columns().is_some_and(|k| one(&k)))
            .map(Key::Index)
    }

    /// The constraint's or index's name.
    fn name(&self) -> &'a str {
        match self {
            Key::Primary(k) => &k.name,
            Key::Unique(u) => &u.name,
            Key::Index(i) => &i.name,
        }
    }

    /// `primary key`, `unique key`: what the messages call it.
    fn label(&self) -> &'static str {
        match self {
            Key::Primary(_) => "primary key",
            Key::Unique(_) | Key::Index(_) => "unique key",
        }
    }
}

/// Whether a foreign key of the old schema references column `c` of the old table `t`.
fn referenced(cx: &Ctx<'_>, t: &Table, c: &str) -> bool {
    cx.old.tables.iter().any(|o| {
        o.foreign_keys.iter().any(|f| {
            f.ref_schema == t.schema
                && f.ref_table == t.name
                && f.ref_columns.iter().any(|r| r == c)
        })
    })
}

/// Whether the type change of `c` of the old table `old_t` (new table `t`) is planned
/// here ([`plan`]): `c` is the whole primary key, or a unique key that foreign keys
/// reference (an unreferenced unique column changes through its own shadow column).
pub fn is_key(cx: &Ctx<'_>, old_t: &Table, t: &Table, c: &Column) -> bool {
    let primary = |t: &Table| matches!(Key::of(t, &c.name), Some(Key::Primary(_)));
    primary(old_t)
        || primary(t)
        || (Key::of(old_t, &c.name).is_some() && referenced(cx, old_t, &c.name))
}

/// The key columns, in the old model, whose type changes through a shadow column, that
/// single-column foreign key `f` references.
fn changing_key<'a>(cx: &Ctx<'a>, f: &ForeignKey) -> Option<(&'a Table, &'a Column)> {
    let old: &'a Schema = cx.old;
    let new: &'a Schema = cx.new;
    let [col] = f.ref_columns.as_slice() else {
        return None;
    };
    let ot = old.table(&f.ref_schema, &f.ref_table)?;
    let nt = new.table(&f.ref_schema, &f.ref_table)?;
    let oc = ot.column(col)?;
    let nc = nt.column(col)?;
    (is_key(cx, ot, nt, oc) && via_shadow(cx, oc, nc)).then_some((ot, oc))
}

/// Whether the type change of `old` (on the old table `old_t`) is planned with the type
/// change of the primary key its foreign key references, by [`plan`] for that key.
pub fn planned_with_its_key(cx: &Ctx<'_>, old_t: &Table, old: &Column, new: &Column) -> bool {
    via_shadow(cx, old, new)
        && old_t
            .foreign_keys
            .iter()
            .any(|f| f.columns == [old.name.clone()] && changing_key(cx, f).is_some())
}

/// A foreign key that references the key, and its column: a shadow when its type changes
/// too, else the column as it is.
struct Referrer<'a> {
    t: &'a Table,
    fk: &'a ForeignKey,
    shadow: Option<ShadowColumn<'a>>,
}

impl Referrer<'_> {
    /// The column the new foreign key is built on.
    fn column(&self) -> &str {
        match &self.shadow {
            Some(s) => s.shadow_name(),
            None => &self.fk.columns[0],
        }
    }

    /// `<fk>_new`: the foreign key against the shadow key until the switch.
    fn tmp_name(&self) -> String {
        naming::fit(&format!("{}_new", self.fk.name))
    }
}

/// Plans the type change of `old` → `new`, a key of `t` (old table `old_t`; see
/// [`is_key`]), with every foreign key that references it; or reports why it cannot be
/// done online (E0103, E0106).
pub fn plan<'s: 'a, 'a>(
    cx: &mut Ctx<'s>,
    old_t: &'a Table,
    t: &'a Table,
    old: &'a Column,
    new: &'a Column,
    using: Option<crate::plan::convert::Using<'a>>,
) {
    let tname = t.display_name();
    let label = Key::of(old_t, &old.name)
        .or(Key::of(t, &new.name))
        .map_or("key", |k| k.label());
    let refuse = |cx: &mut Ctx<'_>, why: String, help: &str| {
        cx.error(
            codes::UNSUPPORTED_TYPE_CHANGE,
            format!(
                "cannot change the {label} {tname}.{} from {} to {} online: {why}",
                new.name, old.ty, new.ty
            ),
            help.to_string(),
        )
    };
    let (Some(old_key), Some(key)) = (Key::of(old_t, &old.name), Key::of(t, &new.name)) else {
        return refuse(
            cx,
            format!("the {label} is added or removed in the same change"),
            &format!("change the {label} and its type in separate changes"),
        );
    };
    if old_key != key || old_t.name != t.name || old_t.schema != t.schema || old.name != new.name {
        return refuse(
            cx,
            "the table, the column or the key is also renamed or changed".into(),
            "rename first, in a change of its own, then change the type",
        );
    }
    let Some(walk) = t.primary_key.as_ref().map(|k| k.columns.clone()) else {
        return cx.error(
            codes::NO_KEY_FOR_BACKFILL,
            format!("changing {tname}.{} from {} to {} copies every row, but {tname} has no primary key to walk it in batches", new.name, old.ty, new.ty),
            "give it a primary key (`@wes_pk`) first".to_string(),
        );
    };
    if let Some(why) = blocks_shadow(old_t, old) {
        return refuse(cx, why, "split the change: first remove what depends on the column, change its type, then add them back");
    }
    let old_schema: &'s Schema = cx.old;
    let new_schema: &'s Schema = cx.new;
    let refers = |f: &ForeignKey| {
        f.ref_schema == t.schema && f.ref_table == t.name && f.ref_columns.contains(&old.name)
    };
    let mut referrers = Vec::new();
    for o in &old_schema.tables {
        for f in o.foreign_keys.iter().filter(|f| refers(f)) {
            let on = o.display_name();
            if f.columns.len() != 1 {
                return refuse(cx, format!("foreign key {} on {on} spans several columns", f.name), "drop that foreign key in one change, change the type in the next, and add it back in a third");
            }
            let n = new_schema.table(&o.schema, &o.name);
            let nf = n.and_then(|n| n.foreign_keys.iter().find(|x| x.name == f.name));
            let (Some(n), Some(nf)) = (n, nf) else {
                return refuse(cx, format!("foreign key {} on {on} references it and is dropped, or its table renamed, in the same change", f.name), "drop or rename first, in a change of its own, then change the type");
            };
            let (Some(oc), Some(nc)) = (o.column(&f.columns[0]), n.column(&f.columns[0])) else {
                return refuse(cx, format!("the column of foreign key {} on {on} is renamed or dropped in the same change", f.name), "rename or drop it first, in a change of its own");
            };
            if nf != f {
                return refuse(
                    cx,
                    format!("foreign key {} on {on} also changes", f.name),
                    "change the foreign key in a change of its own",
                );
            }
            let shadow = if via_shadow(cx, oc, nc) {
                if let Some(why) = referrer_blocked(cx, o, oc, f) {
                    return refuse(
                        cx,
                        format!("its referencing column {on}.{}: {why}", oc.name),
                        "change that column's type in a change of its own first, if it can be",
                    );
                }
                if oc.is_sequence_backed() || nc.is_sequence_backed() {
                    return refuse(
                        cx,
                        format!(
                            "its referencing column {on}.{} is an identity or serial column",
                            oc.name
                        ),
                        "change that column in a change of its own",
                    );
                }
                let Some(pk) = n.primary_key.clone() else {
                    return refuse(
                        cx,
                        format!("{on} has no primary key to walk its backfill in batches"),
                        "give it a primary key (`@wes_pk`) first",
                    );
                };
                let using = conversion_for(cx, n, oc, nc);
                let s =
                    ShadowColumn::new(o, n, oc, nc, pk.columns, using).without_foreign_key(&f.name);
                if !s.converts(cx) {
                    return;
                }
                Some(s)
            } else {
                None
            };
            referrers.push(Referrer {
                t: n,
                fk: nf,
                shadow,
            });
        }
    }
    // A foreign key this plan adds would reference the old key until the switch drops it.
    for n in &new_schema.tables {
        for f in n.foreign_keys.iter().filter(|f| refers(f)) {
            if !referrers
                .iter()
                .any(|r| r.t.schema == n.schema && r.t.name == n.name && r.fk.name == f.name)
            {
                return refuse(
                    cx,
                    format!(
                        "foreign key {} on {} is new and references it",
                        f.name,
                        n.display_name()
                    ),
                    "add that foreign key in a later change, once the type has changed",
                );
            }
        }
    }
    let head = ShadowColumn::new(old_t, t, old, new, walk, using);
    let head = match key {
        Key::Primary(_) => head,
        Key::Unique(_) | Key::Index(_) => head.without_key(key.name()),
    };
    let moves = match sequence_moves(t, old, new, head.shadow_name()) {
        Ok(m) => m,
        Err(why) => {
            return cx.error(
                codes::UNSUPPORTED_SEQUENCE_CHANGE,
                format!(
                    "cannot change the {label} {tname}.{} from {} to {} online: {why}",
                    new.name, old.ty, new.ty
                ),
                format!("change the type of `{}` in one change and its `@wes_identity`/`@wes_serial` in another", new.graphql_name),
            )
        }
    };
    let head = head.before_swap(moves);
    if !head.converts(cx) {
        return;
    }
    let sequence = match (&old.identity, &old.serial) {
        (Some(_), _) => Some(format!(" The identity of {tname}.{} gets a new sequence that continues from the old one's next value: code that calls nextval or currval on the old sequence by name fails (SQLSTATE 42P01); pg_get_serial_sequence({}, {}) names the new one.", new.name, crate::sql::literal(&t.qualified()), crate::sql::literal(&new.name))),
        (None, Some(seq)) => Some(format!(" The sequence {seq} moves to the new column and now counts in {}.", new.ty)),
        (None, None) => None,
    };
    KeyChange {
        t,
        key,
        head,
        referrers,
        sequence,
    }
    .plan(cx);
}

/// The statements of the switch that move the key's sequence from the old column to the
/// shadow `shadow`, once the shadow is NOT NULL and before the names are swapped; or why
/// there are none.
///
/// - identity: the shadow gets its own identity, which continues from the old sequence's
///   next value, and the old column's identity (and its sequence) is dropped. The new
///   sequence is named by PostgreSQL after the shadow (`<table>_<col>_new_seq`).
/// - serial: the old column's default is dropped, the sequence moves to the shadow
///   (`OWNED BY`, so dropping the old column later keeps it) and is widened to the new
///   integer type (`AS`), and the shadow gets the `nextval` default.
fn sequence_moves(
    t: &Table,
    old: &Column,
    new: &Column,
    shadow: &str,
) -> Result<Vec<String>, &'static str> {
    use super::identity::{add_identity_sql, sequence_of};
    use crate::sql::{ident, literal, qualified};
    match (&old.identity, &old.serial, &new.identity, &new.serial) {
        (None, None, None, None) => Ok(Vec::new()),
        (Some(_), None, Some(id), None) => Ok(vec![
            add_identity_sql(t, shadow, id),
            format!(
                "SELECT setval({}, nextval({}), false)",
                sequence_of(t, shadow),
                sequence_of(t, &old.name)
            ),
            format!(
                "ALTER TABLE {} ALTER COLUMN {} DROP IDENTITY",
                t.qualified(),
                ident(&old.name)
            ),
        ]),
        (None, Some(a), None, Some(b)) if a == b => {
            let seq = qualified(&t.schema, a);
            let mut sql = vec![
                alter(t, Alter::DropDefault(&old.name)),
                format!(
                    "ALTER SEQUENCE {seq} OWNED BY {}.{}",
                    t.qualified(),
                    ident(shadow)
                ),
            ];
            if new.ty.base.is_integer() && !new.ty.array {
                sql.push(format!("ALTER SEQUENCE {seq} AS {}", new.ty.to_sql()));
            }
            let next = format!("nextval({}::regclass)", literal(&seq));
            sql.push(alter(t, Alter::SetDefault(shadow, &next)));
            Ok(sql)
        }
        (None, Some(_), None, Some(_)) => Err("its serial sequence is also renamed"),
        _ => Err("it also becomes, or stops being, an identity or serial column"),
    }
}

/// Why a referencing column that changes type cannot go through a shadow column, apart
/// from its foreign key to the key (rebuilt here).
fn referrer_blocked(cx: &Ctx<'_>, o: &Table, c: &Column, f: &ForeignKey) -> Option<String> {
    let others = o
        .foreign_keys
        .iter()
        .any(|x| x.name != f.name && x.columns.contains(&c.name));
    if others {
        return Some("another foreign key includes it".into());
    }
    unsupported(cx, o, c)
}

/// What a referencing integer column that keeps a narrower type than the key's new one
/// means for writes, if it is narrower: once the key holds larger values, rows that
/// reference them cannot be written.
fn narrower(
    r: &Referrer<'_>,
    key: &crate::types::SqlType,
    tname: &str,
    col: &str,
) -> Option<String> {
    use crate::types::BaseType::*;
    let c = r.t.column(&r.fk.columns[0])?;
    let max = |b: &crate::types::BaseType| match b {
        SmallInt => Some(32_767_i64),
        Integer => Some(2_147_483_647),
        BigInt => Some(i64::MAX),
        _ => None,
    };
    let (have, want) = (max(&c.ty.base)?, max(&key.base)?);
    (have < want).then(|| {
        format!(
            "{}.{} stays {}: once {tname}.{col} holds values above {have}, rows that reference them cannot be written there (SQLSTATE 22003). Widen it in this change, or before the ids get there.",
            r.t.display_name(),
            c.name,
            c.ty
        )
    })
}

/// `a` and `b` are the same table.
fn same(a: &Table, b: &Table) -> bool {
    a.schema == b.schema && a.name == b.name
}

struct KeyChange<'a> {
    t: &'a Table,
    key: Key<'a>,
    head: ShadowColumn<'a>,
    referrers: Vec<Referrer<'a>>,
    /// What the switch does to the key's identity or serial sequence, for its hazard.
    sequence: Option<String>,
}

impl KeyChange<'_> {
    fn plan(&self, cx: &mut Ctx<'_>) {
        let t = self.t;
        let tname = t.display_name();
        let head = self.head.prepare(cx);
        let shadows: Vec<_> = self
            .referrers
            .iter()
            .map(|r| r.shadow.as_ref().map(|s| s.prepare(cx)))
            .collect();
        let mut ready = head.ready.clone();
        // The new key's index, built on the shadow. The old key already enforces it.
        let index = naming::fit(&format!("{}_new", self.key.name()));
        let shadow_name = self.head.shadow_name().to_string();
        let shadow = std::slice::from_ref(&shadow_name);
        let mut build = match self.key {
            Key::Primary(_) => {
                super::unique::unique_index_step(cx, t, &index, shadow, false, Phase::Validate)
            }
            Key::Unique(u) => super::unique::unique_index_step(
                cx,
                t,
                &index,
                shadow,
                u.nulls_not_distinct,
                Phase::Validate,
            ),
            Key::Index(i) => {
                let tmp = Index {
                    name: index.clone(),
                    keys: vec![IndexKey::Column(shadow_name.clone())],
                    ..i.clone()
                };
                super::index::build_step(cx, t, &tmp, Phase::Validate)
            }
        }
        .after(&head.checked);
        build
            .step
            .hazards
            .retain(|h| h.kind != HazardKind::BreaksClients);
        let built = cx.push(build);
        ready.push(built.clone());
        // Each foreign key again, against the shadow key.
        let mut fk_drops = Vec::new();
        let mut fk_renames = Vec::new();
        let mut locked: Vec<(String, String)> = Vec::new();
        for (r, prepared) in self.referrers.iter().zip(&shadows) {
            let rt = r.t;
            let tmp = ForeignKey {
                name: r.tmp_name(),
                columns: vec![r.column().to_string()],
                ref_columns: vec![self.head.shadow_name().to_string()],
                ..r.fk.clone()
            };
            // Both tables are locked alike (measured), once when the key is on its own table.
            let both = |spec: StepSpec, mode: LockMode| {
                let spec = spec.lock(rt, mode);
                if same(rt, t) {
                    spec
                } else {
                    spec.lock_rel(&t.schema, &t.name, mode)
                }
            };
            let drop = cx.on(
                rt,
                StepKind::DropForeignKey,
                Some(&tmp.name),
                Phase::Contract,
                format!(
                    "Drop foreign key {} on {}, if it is still there",
                    tmp.name,
                    rt.display_name()
                ),
                stmts(&referenced_first(
                    rt,
                    &tmp,
                    LockMode::AccessExclusive,
                    alter(rt, Alter::DropConstraintIfExists(&tmp.name)),
                )),
            );
            let add = cx.on(
                rt,
                StepKind::AddForeignKey,
                Some(&tmp.name),
                Phase::Validate,
                format!(
                    "Add foreign key {} {}({}) → {tname}({}) NOT VALID (instant)",
                    tmp.name,
                    rt.display_name(),
                    tmp.columns[0],
                    tmp.ref_columns[0]
                ),
                stmts(&referenced_first(
                    rt,
                    &tmp,
                    LockMode::ShareRowExclusive,
                    crate::ddl::add_foreign_key(rt, &tmp, true),
                )),
            );
            let mut add = both(add, LockMode::ShareRowExclusive)
                .after(&built)
                .undo_by(both(drop, LockMode::AccessExclusive));
            if let Some(p) = prepared {
                add = add.after(&p.checked);
                ready.extend(p.ready.iter().cloned());
            }
            let add = cx.push(add);
            let mut v = cx
                .on(
                    rt,
                    StepKind::ValidateConstraint,
                    Some(&tmp.name),
                    Phase::Validate,
                    format!("Validate foreign key {} on {}", tmp.name, rt.display_name()),
                    stmts(&[alter(rt, Alter::ValidateConstraint(&tmp.name))]),
                )
                .lock(rt, LockMode::ShareUpdateExclusive);
            if !same(rt, t) {
                v = v.lock_rel(&t.schema, &t.name, LockMode::RowShare);
            }
            let v = v
                .scan()
                .hazard(HazardKind::LongRunning, format!("Validating foreign key {} reads all of {} and looks up {tname}: reads and writes continue.", tmp.name, rt.display_name()))
                .after(&add)
                .undo_nothing();
            ready.push(cx.push(v));
            fk_drops.push(alter(rt, Alter::DropConstraint(&r.fk.name)));
            fk_renames.push(alter(
                rt,
                Alter::RenameConstraint {
                    from: &tmp.name,
                    to: &r.fk.name,
                },
            ));
            locked.push((rt.schema.clone(), rt.name.clone()));
        }
        locked.extend(head.extra_locks.iter().cloned());
        for p in shadows.iter().flatten() {
            locked.extend(p.extra_locks.iter().cloned());
        }
        locked.retain(|(s, r)| (s, r) != (&t.schema, &t.name));
        locked.sort();
        locked.dedup();
        // One transaction: every table locked first, the key's own table first (dropping
        // a foreign key locks the referencing table before it: the opposite order of a
        // write that changes the key's table and then a referencing one, so each would
        // wait for the other until the lock timeout, on every attempt); then old keys
        // out, columns swapped, new keys in under the old names.
        let tables: Vec<String> = std::iter::once(t.qualified())
            .chain(locked.iter().map(|(s, r)| crate::sql::qualified(s, r)))
            .collect();
        let mut sql = vec![format!(
            "LOCK TABLE {} IN ACCESS EXCLUSIVE MODE",
            tables.join(", ")
        )];
        sql.extend(fk_drops);
        let name = self.key.name();
        sql.push(match self.key {
            Key::Primary(_) | Key::Unique(_) => alter(t, Alter::DropConstraint(name)),
            // Dropped, not kept on the old column until the contract: nothing fills the
            // old column after the switch, and a NULLS NOT DISTINCT index would let only
            // one row with it NULL in.
            Key::Index(_) => crate::ddl::drop_index(&t.schema, name),
        });
        sql.extend(head.switch_sql.iter().cloned());
        sql.push(match self.key {
            Key::Primary(_) => alter(
                t,
                Alter::AddPrimaryKeyUsingIndex {
                    name,
                    index: &index,
                },
            ),
            Key::Unique(_) => alter(
                t,
                Alter::AddUniqueUsingIndex {
                    name,
                    index: &index,
                },
            ),
            Key::Index(_) => crate::ddl::rename_index(&t.schema, &index, name),
        });
        for p in shadows.iter().flatten() {
            sql.extend(p.switch_sql.iter().cloned());
        }
        sql.extend(fk_renames);
        let columns: Vec<String> = std::iter::once(format!("{tname}.{}", self.head_column()))
            .chain(
                self.referrers
                    .iter()
                    .filter(|r| r.shadow.is_some())
                    .map(|r| format!("{}.{}", r.t.display_name(), r.fk.columns[0])),
            )
            .collect();
        let mut sw = cx
            .on(t, StepKind::SwapColumns, Some(self.head_column()), Phase::Switch, format!("Swap the {} {tname}.{} ({} → {}) and the foreign keys that reference it in one short transaction", self.key.label(), self.head_column(), self.head_old_type(), self.head_new_type()), stmts(&sql))
            .lock(t, LockMode::AccessExclusive)
            .hazard(HazardKind::BreaksClients, format!("From this step on, {} have their new types and are each the last column of their table: code written for the old types must be ready for the new ones, `SELECT *` returns the columns in a new order, and `INSERT ... VALUES` without a column list puts values in the wrong columns. The old values stay in the `_old` columns until the contract phase.{}", columns.join(", "), self.sequence.as_deref().unwrap_or("")))
            .provides(c_key(t, self.head_column()))
            .undo_refuses(format!("after the switch, values written to {} are not copied back to the old columns: roll back before the switch, or plan the type back forward", columns.join(", ")));
        for (s, r) in &locked {
            sw = sw.lock_rel(s, r, LockMode::AccessExclusive);
        }
        for r in &self.referrers {
            if r.shadow.is_some() {
                sw = sw.provides(c_key(r.t, &r.fk.columns[0]));
            } else if let Some(note) = narrower(r, self.head.new_type(), &tname, self.head_column())
            {
                sw = sw.review(HazardKind::BreaksClients, note);
            }
        }
        for id in &ready {
            sw = sw.after(id);
        }
        let switched = cx.push(sw);
        self.head.contract(cx, &switched, false);
        for s in self.referrers.iter().filter_map(|r| r.shadow.as_ref()) {
            s.contract(cx, &switched, false);
        }
    }

    fn head_column(&self) -> &str {
        self.head.column_name()
    }

    fn head_old_type(&self) -> String {
        self.head.old_type().to_string()
    }

    fn head_new_type(&self) -> String {
        self.head.new_type().to_string()
    }
}
