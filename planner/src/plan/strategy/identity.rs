//! Identity and serial columns on existing tables. Every step is one short transaction
//! under ACCESS EXCLUSIVE on the table (measured: `ADD GENERATED ... AS IDENTITY` on an
//! existing NOT NULL column neither rewrites nor scans; its new sequence is locked too).
//!
//! - identity added to a plain column: `ADD GENERATED ... AS IDENTITY`, then `setval` of
//!   the new sequence past the largest value (the smallest when it counts down) in the
//!   same transaction, so no insert can take a value the table already holds. Reading
//!   that value is one index probe, so an index of the old table must lead with the
//!   column (else error E0106: a scan under ACCESS EXCLUSIVE). A nullable column first
//!   becomes NOT NULL through the validated check (`not_null`), which this step waits for.
//! - serial to identity: drop the default, disown the old sequence, add the identity,
//!   give it the old sequence's next value, drop the old sequence: one transaction, so
//!   no insert ever sees the column without a way to fill it.
//! - identity altered: `SET GENERATED`, `SET INCREMENT BY`, `SET START WITH`; the
//!   sequence's current value is never restarted (a new start only matters to a later
//!   `RESTART` without a value).
//! - identity dropped, serial made plain: contract, like a dropped default. The
//!   column's new default (and, for an identity, its new nullability) is set in the same
//!   step: PostgreSQL refuses both on an identity column, and a serial column's default
//!   is the serial's own. Adding an identity drops a plain default first, likewise.
//! - a serial column's sequence renamed to the name the schema gives it (after a table
//!   rename, or a changed `sequence:`): `ALTER SEQUENCE ... RENAME TO`, which locks only
//!   the sequence.
//! - no online path (error E0106): an unindexed column made identity, identity back to serial, serial added to an existing
//!   column, a new identity or serial column on an existing table (PostgreSQL fills it
//!   by rewriting the table), and a type change of a sequence-backed column.

use super::*;
use crate::model::{Column, Identity, IndexKey, IndexMethod};
use crate::sql::{ident, literal, qualified};

/// `pg_get_serial_sequence('"schema"."table"', 'column')`: the sequence of an identity or
/// serial column, found by the server.
pub(super) fn sequence_of(t: &Table, column: &str) -> String {
    format!(
        "pg_get_serial_sequence({}, {})",
        literal(&t.qualified()),
        literal(column)
    )
}

/// `ALTER COLUMN "c" ADD GENERATED ... AS IDENTITY (...)`.
pub(super) fn add_identity_sql(t: &Table, column: &str, id: &Identity) -> String {
    format!(
        "ALTER TABLE {} ALTER COLUMN {} ADD {}",
        t.qualified(),
        ident(column),
        id.sql()
    )
}

/// What `GENERATED ALWAYS` does to code that writes the column: every insert that
/// supplies it fails at once, so it is refused by default (like a dropped default of a
/// NOT NULL column, the other way round).
fn refuses_values(t: &Table, c: &Column) -> String {
    format!("From this step on, inserts into {} that supply {} fail (SQLSTATE 428C9) unless they say OVERRIDING SYSTEM VALUE, and updates can only set it to DEFAULT.", t.display_name(), c.name)
}

/// Whether the old table has a B-tree index (or key) that leads with the column, so
/// that its largest and smallest values are one index probe away.
fn indexed(cx: &Ctx<'_>, t: &Table, old: &Column) -> bool {
    // The old table, also across a rename.
    let now = (t.schema.clone(), t.name.clone());
    let Some(o) = cx
        .old
        .tables
        .iter()
        .find(|o| cx.renames.table(&o.schema, &o.name) == now)
    else {
        return false;
    };
    let leads = |cols: &[String]| cols.first() == Some(&old.name);
    o.primary_key.as_ref().is_some_and(|k| leads(&k.columns))
        || o.uniques.iter().any(|u| leads(&u.columns))
        || o.indexes.iter().any(|i| {
            i.method == IndexMethod::Btree
                && i.predicate.is_none()
                && i.keys.first().and_then(IndexKey::column) == Some(old.name.as_str())
        })
}

pub fn plan(cx: &mut Ctx<'_>, t: &Table, old: &Column, c: &Column) {
    match (&old.identity, &old.serial, &c.identity, &c.serial) {
        (None, None, Some(id), None) => add(cx, t, old, c, id),
        (None, Some(seq), Some(id), None) => from_serial(cx, t, c, seq, id),
        (Some(a), None, Some(b), None) => alter_identity(cx, t, c, a, b),
        (Some(_), None, None, None) => drop_identity(cx, t, c),
        (None, Some(seq), None, None) => drop_serial(cx, t, c, seq),
        (None, Some(from), None, Some(to)) => rename_sequence(cx, t, c, from, to),
        _ => {
            let what = if old.identity.is_some() {
                "an identity column cannot become a serial column"
            } else {
                "an existing column cannot become a serial column"
            };
            cx.error(
                codes::UNSUPPORTED_SEQUENCE_CHANGE,
                format!("{}.{}: {what}", t.display_name(), c.name),
                format!("use `@wes_identity` on `{}` instead of `@wes_serial`: new sequence-backed columns are identity columns", c.graphql_name),
            );
        }
    }
}

/// Identity added to an existing plain column.
fn add(cx: &mut Ctx<'_>, t: &Table, old: &Column, c: &Column, id: &Identity) {
    let (agg, beyond) = if id.increment > 0 {
        ("max", "<")
    } else {
        ("min", ">")
    };
    let seq = sequence_of(t, &c.name);
    let setval = format!(
        "SELECT CASE WHEN v IS NULL OR v {beyond} {start} THEN setval({seq}, {start}, false) ELSE setval({seq}, v) END FROM (SELECT {agg}({col}) AS v FROM {tbl}) AS wesley_last",
        start = id.start,
        col = ident(&c.name),
        tbl = t.qualified()
    );
    let mut spec = cx
        .on(
            t,
            StepKind::AddIdentity,
            Some(&c.name),
            Phase::Switch,
            format!(
                "Make {}.{} {} and move its sequence past the values it holds",
                t.display_name(),
                c.name,
                id.sql()
            ),
            stmts(
                &old.default
                    .is_some()
                    .then(|| alter(t, Alter::DropDefault(&c.name)))
                    .into_iter()
                    .chain([add_identity_sql(t, &c.name, id), setval])
                    .collect::<Vec<_>>(),
            ),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &c.name));
    // Back: the identity (and its sequence) dropped, the old default set again; the values
    // it handed out stay.
    let mut back = vec![format!(
        "ALTER TABLE {} ALTER COLUMN {} DROP IDENTITY IF EXISTS",
        t.qualified(),
        ident(&c.name)
    )];
    if let Some(d) = &old.default {
        back.push(alter(t, Alter::SetDefault(&c.name, d.sql())));
    }
    spec = spec.undo_by(
        cx.on(
            t,
            StepKind::DropIdentity,
            Some(&c.name),
            Phase::Expand,
            format!("Drop the identity of {}.{} again", t.display_name(), c.name),
            stmts(&back),
        )
        .lock(t, LockMode::AccessExclusive)
        .review(
            HazardKind::BreaksClients,
            format!(
                "Inserts into {} that omit {} no longer take it from a sequence.",
                t.display_name(),
                c.name
            ),
        ),
    );
    if old.nullable {
        spec = spec.requires(format!("notnull:{}.{}.{}", t.schema, t.name, c.name));
    }
    if !indexed(cx, t, old) {
        cx.error(
            codes::UNSUPPORTED_SEQUENCE_CHANGE,
            format!("{}.{} becomes an identity column, but no index of {} leads with it: finding its {agg}imum value would read the whole table under ACCESS EXCLUSIVE", t.display_name(), c.name, t.display_name()),
            format!("index `{}` first (`@wes_index`, or a key), in an earlier change: Wesley builds it CONCURRENTLY; then add `@wes_identity`", c.graphql_name),
        );
        return;
    }
    let spec = if id.always {
        spec.hazard(HazardKind::BreaksClients, refuses_values(t, c))
    } else {
        spec.review(HazardKind::BreaksClients, format!("Inserts into {} that omit {} take it from the sequence from this step on. Code that still supplies its own values can collide with the sequence's later values (SQLSTATE 23505 where the column is unique): supply none once this step has run.", t.display_name(), c.name))
    };
    cx.push(spec);
}

/// A serial column made identity, keeping the old sequence's next value.
fn from_serial(cx: &mut Ctx<'_>, t: &Table, c: &Column, seq: &str, id: &Identity) {
    let old_seq = qualified(&t.schema, seq);
    let sql = [
        alter(t, Alter::DropDefault(&c.name)),
        format!("ALTER SEQUENCE {old_seq} OWNED BY NONE"),
        add_identity_sql(t, &c.name, id),
        format!(
            "SELECT setval({}, nextval({}), false)",
            sequence_of(t, &c.name),
            literal(&old_seq)
        ),
        format!("DROP SEQUENCE {old_seq}"),
    ];
    let mut spec = cx
        .on(
            t,
            StepKind::SerialToIdentity,
            Some(&c.name),
            Phase::Switch,
            format!(
                "Make serial column {}.{} {}, continuing from the next value of {}",
                t.display_name(),
                c.name,
                id.sql(),
                seq
            ),
            stmts(&sql),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &c.name));
    if id.always {
        spec = spec.hazard(HazardKind::BreaksClients, refuses_values(t, c));
    }
    spec = spec.undo_refuses(format!("the serial sequence {seq} of {}.{} is dropped and the identity's takes over: going back is a new plan (identity to serial is not planned either way)", t.display_name(), c.name));
    spec = spec.review(HazardKind::BreaksClients, format!("The sequence {seq} is dropped: code that calls nextval/currval on it by name fails (SQLSTATE 42P01); pg_get_serial_sequence({}, {}) names the new one.", literal(&t.qualified()), literal(&c.name)));
    cx.push(spec);
}

/// Generation, increment or start of an identity changed.
fn alter_identity(cx: &mut Ctx<'_>, t: &Table, c: &Column, a: &Identity, b: &Identity) {
    let mut actions = Vec::new();
    if a.always != b.always {
        actions.push(format!("SET GENERATED {}", b.generated()));
    }
    if a.increment != b.increment {
        actions.push(format!("SET INCREMENT BY {}", b.increment));
    }
    if a.start != b.start {
        actions.push(format!("SET START WITH {}", b.start));
    }
    let sql = format!(
        "ALTER TABLE {} ALTER COLUMN {} {}",
        t.qualified(),
        ident(&c.name),
        actions.join(" ")
    );
    let mut spec = cx
        .on(
            t,
            StepKind::AlterIdentity,
            Some(&c.name),
            Phase::Switch,
            format!(
                "Alter identity {}.{}: {} (the sequence's current value is kept)",
                t.display_name(),
                c.name,
                actions.join(", ")
            ),
            stmts(&[sql]),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &c.name));
    let mut back = Vec::new();
    if a.always != b.always {
        back.push(format!("SET GENERATED {}", a.generated()));
    }
    if a.increment != b.increment {
        back.push(format!("SET INCREMENT BY {}", a.increment));
    }
    if a.start != b.start {
        back.push(format!("SET START WITH {}", a.start));
    }
    spec = spec.undo_by(
        cx.on(
            t,
            StepKind::AlterIdentity,
            Some(&c.name),
            Phase::Expand,
            format!(
                "Alter identity {}.{} back: {}",
                t.display_name(),
                c.name,
                back.join(", ")
            ),
            stmts(&[format!(
                "ALTER TABLE {} ALTER COLUMN {} {}",
                t.qualified(),
                ident(&c.name),
                back.join(" ")
            )]),
        )
        .lock(t, LockMode::AccessExclusive),
    );
    if b.always && !a.always {
        spec = spec.hazard(HazardKind::BreaksClients, refuses_values(t, c));
    }
    if (a.increment > 0) != (b.increment > 0) {
        spec = spec.review(HazardKind::BreaksClients, format!("{}.{} now counts the other way from its current value: new values can meet ones the table already holds (SQLSTATE 23505 where the column is unique).", t.display_name(), c.name));
    }
    cx.push(spec);
}

/// What inserts that omit column `c` get once its sequence is gone (`instead` is what
/// they got before): a review for a default or NULL, a refusal when they fail.
fn without_sequence(spec: StepSpec, t: &Table, c: &Column, instead: &str) -> StepSpec {
    let (tn, col) = (t.display_name(), &c.name);
    match (&c.default, c.nullable) {
        (Some(d), _) => spec.review(HazardKind::BreaksClients, format!("Inserts into {tn} that omit {col} store {} instead of {instead} from this step on.", d.sql())),
        (None, true) => spec.review(HazardKind::BreaksClients, format!("Inserts into {tn} that omit {col} store NULL instead of {instead} from this step on.")),
        (None, false) => spec.hazard(HazardKind::BreaksClients, format!("{tn}.{col} is NOT NULL: from this step on, every insert that omits it fails (SQLSTATE 23502) instead of taking {instead}. Deploy code that always sets {col} before applying this step.")),
    }
}

/// Identity dropped; the column's new default and nullability come with it (PostgreSQL
/// refuses both while it is an identity column).
fn drop_identity(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    let mut sql = vec![format!(
        "ALTER TABLE {} ALTER COLUMN {} DROP IDENTITY IF EXISTS",
        t.qualified(),
        ident(&c.name)
    )];
    if let Some(d) = &c.default {
        sql.push(alter(t, Alter::SetDefault(&c.name, d.sql())));
    }
    if c.nullable {
        sql.push(alter(t, Alter::DropNotNull(&c.name)));
    }
    let spec = cx
        .on(
            t,
            StepKind::DropIdentity,
            Some(&c.name),
            Phase::Contract,
            format!(
                "Drop the identity of {}.{} and its sequence",
                t.display_name(),
                c.name
            ),
            stmts(&sql),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &c.name));
    let spec = without_sequence(spec, t, c, "the sequence's next value");
    cx.push(spec);
}

/// A serial column made plain: its default is dropped (or replaced by the new one) and
/// its sequence goes.
fn drop_serial(cx: &mut Ctx<'_>, t: &Table, c: &Column, seq: &str) {
    let default = match &c.default {
        Some(d) => alter(t, Alter::SetDefault(&c.name, d.sql())),
        None => alter(t, Alter::DropDefault(&c.name)),
    };
    let spec = cx
        .on(
            t,
            StepKind::DropSerial,
            Some(&c.name),
            Phase::Contract,
            match &c.default {
                Some(d) => format!("Replace the default of serial column {}.{} with {} and drop its sequence {seq}", t.display_name(), c.name, d.sql()),
                None => format!("Drop the default of serial column {}.{} and its sequence {seq}", t.display_name(), c.name),
            },
            stmts(&[
                default,
                format!("DROP SEQUENCE {}", qualified(&t.schema, seq)),
            ]),
        )
        .lock(t, LockMode::AccessExclusive)
        .requires(c_key(t, &c.name));
    let spec = without_sequence(spec, t, c, &format!("the next value of {seq}"));
    cx.push(spec);
}

/// A serial column's sequence renamed to the name the schema gives it: PostgreSQL does
/// not rename it with its table, and `serial` names it after the table.
fn rename_sequence(cx: &mut Ctx<'_>, t: &Table, c: &Column, from: &str, to: &str) {
    let spec = cx
        .on(
            t,
            StepKind::RenameSequence,
            Some(&c.name),
            Phase::Expand,
            format!("Rename sequence {from} of serial column {}.{} to {to}", t.display_name(), c.name),
            stmts(&[format!(
                "ALTER SEQUENCE {} RENAME TO {}",
                qualified(&t.schema, from),
                ident(to)
            )]),
        )
        .requires(c_key(t, &c.name))
        .hazard(HazardKind::BreaksClients, format!("Code that calls the sequence {from} by name (nextval, currval, setval) fails from this step on (SQLSTATE 42P01); the column's default follows the rename."))
        .undo_by(
            cx.on(
                t,
                StepKind::RenameSequence,
                Some(&c.name),
                Phase::Expand,
                format!("Rename sequence {to} of {}.{} back to {from}", t.display_name(), c.name),
                stmts(&[format!(
                    "ALTER SEQUENCE {} RENAME TO {}",
                    qualified(&t.schema, to),
                    ident(from)
                )]),
            )
            .review(HazardKind::BreaksClients, format!("Code that calls the sequence {to} by name fails again.")),
        );
    cx.push(spec);
}

/// A new identity or serial column on an existing table: PostgreSQL fills it for every
/// row by rewriting the table under ACCESS EXCLUSIVE, so it is refused with the way round.
pub fn refuse_new_column(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    cx.error(
        codes::UNSUPPORTED_SEQUENCE_CHANGE,
        format!("new column {}.{} is an identity or serial column, which PostgreSQL fills by rewriting all of {} under ACCESS EXCLUSIVE", t.display_name(), c.name, t.display_name()),
        format!("add `{}` as a plain nullable integer first and fill it; a later change can make it `!` and `@wes_identity` without a rewrite", c.graphql_name),
    );
}

/// A type change of an identity or serial column.
pub fn refuse_type_change(cx: &mut Ctx<'_>, t: &Table, c: &Column) {
    cx.error(
        codes::UNSUPPORTED_SEQUENCE_CHANGE,
        format!("{}.{} is an identity or serial column: Wesley cannot change its type online yet", t.display_name(), c.name),
        format!("drop `@wes_identity`/`@wes_serial` from `{}` in one change, change the type in the next, and add `@wes_identity` back in a third", c.graphql_name),
    );
}

#[cfg(test)]
mod tests {
    use crate::diag::Code;
    use crate::plan::{self, StepKind};

    fn plan_of(old: &str, new: &str) -> plan::Plan {
        let parse = |s: &str| {
            let (m, d) = crate::sdl::parse("t.graphql", s);
            m.unwrap_or_else(|| panic!("{d:#?}"))
        };
        plan::plan(&parse(old), &parse(new))
    }

    fn errors(p: &plan::Plan) -> Vec<String> {
        p.diagnostics
            .iter()
            .filter(|d| d.code == Code::E0106)
            .map(|d| d.message.clone())
            .collect()
    }

    #[test]
    fn changes_without_an_online_path_are_e0106() {
        let base = "type T @wes_table { id: Int! @wes_pk n: Int! }";
        for (new, says) in [
            // No index leads with `n`: max(n) would scan under ACCESS EXCLUSIVE.
            (
                "type T @wes_table { id: Int! @wes_pk n: Int! @wes_identity }",
                "no index",
            ),
            (
                "type T @wes_table { id: Int! @wes_pk n: Int! @wes_serial }",
                "cannot become a serial",
            ),
            (
                "type T @wes_table { id: Int! @wes_pk n: Int! m: Int! @wes_identity }",
                "rewriting",
            ),
            (
                "type T @wes_table { id: Int! @wes_pk n: Int! m: BigInt! @wes_serial }",
                "rewriting",
            ),
            (
                "type T @wes_table { id: BigInt! @wes_pk @wes_identity n: Int! }",
                "becomes, or stops being, an identity",
            ),
            (
                "type T @wes_table { id: Int! @wes_pk n: BigInt! @wes_identity }",
                "cannot change its type",
            ),
        ] {
            let p = plan_of(base, new);
            let e = errors(&p);
            assert!(e.len() == 1 && e[0].contains(says), "{new}: {e:?}");
        }
        let p = plan_of(
            "type T @wes_table { id: Int! @wes_pk @wes_identity }",
            "type T @wes_table { id: Int! @wes_pk @wes_serial }",
        );
        assert!(errors(&p)[0].contains("identity column cannot become a serial"));
    }

    #[test]
    fn an_index_in_the_old_table_makes_adding_identity_plannable() {
        let p = plan_of(
            "type T @wes_table { id: Int! @wes_pk n: Int! @wes_index }",
            "type T @wes_table { id: Int! @wes_pk n: Int! @wes_index @wes_identity(increment: 2) }",
        );
        assert!(errors(&p).is_empty(), "{:?}", p.diagnostics);
        let kinds: Vec<StepKind> = p.steps.iter().map(|s| s.kind).collect();
        assert_eq!(kinds, [StepKind::AddIdentity]);
        assert!(!p.steps[0].scan && !p.steps[0].rewrite);
    }

    #[test]
    fn the_index_is_found_across_renames() {
        let p = plan_of(
            "type T @wes_table @wes_uid(value: \"t\") { id: Int! @wes_pk n: Int! @wes_index @wes_uid(value: \"n\") }",
            "type U @wes_table @wes_uid(value: \"t\") { id: Int! @wes_pk m: Int! @wes_index @wes_identity @wes_uid(value: \"n\") }",
        );
        assert!(errors(&p).is_empty(), "{:?}", p.diagnostics);
        let add = p.steps.iter().find(|s| s.kind == StepKind::AddIdentity);
        assert!(add.is_some_and(|s| s.sql.contains("\"public\".\"u\" ALTER COLUMN \"m\"")));
    }

    #[test]
    fn the_same_identity_spelled_two_ways_is_no_change() {
        let p = plan_of(
            "type T @wes_table { id: Int! @wes_pk @wes_identity }",
            "type T @wes_table { id: Int! @wes_pk @wes_identity(generated: \"BY DEFAULT\", start: 1, increment: 1) }",
        );
        assert!(p.steps.is_empty(), "{:?}", p.steps);
    }
}
