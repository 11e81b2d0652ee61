//! Column type changes. PostgreSQL changes some types without a rewrite (measured:
//! varchar(n)→varchar(m≥n), varchar→text, text→varchar without a limit, numeric(p,s)→
//! numeric(p'≥p,s), numeric(p,s)→numeric): one brief `ALTER COLUMN ... TYPE`. Every other
//! change rewrites the table under ACCESS EXCLUSIVE, so it goes through a shadow column:
//!
//! 1. expand: add `<col>_new` of the new type; a trigger keeps it in sync on INSERT/UPDATE;
//! 2. backfill: copy existing rows in batches with the cast;
//! 3. validate: prove no row was missed; rebuild indexes, unique and foreign keys of the
//!    column on the shadow (CONCURRENTLY / NOT VALID + VALIDATE);
//! 4. switch: one short transaction swaps the names, drops the trigger, moves defaults,
//!    NOT NULL, index and constraint names;
//! 5. contract: drop the old column.

use super::*;
use crate::model::{BaseTypeExt as _, Column, Index, Table};
use crate::naming;
use crate::sql::{ident, qualified};
use crate::types::{BaseType, SqlType};

/// True when PostgreSQL 15 changes `from` into `to` without rewriting the table.
pub fn in_place(from: &SqlType, to: &SqlType) -> bool {
    if from.array != to.array {
        return false;
    }
    use BaseType::*;
    match (&from.base, &to.base) {
        (Varchar { length: Some(n) }, Varchar { length: Some(m) }) => m >= n,
        (Varchar { .. }, Varchar { length: None }) => true,
        (Varchar { .. }, Text) => true,
        (Text, Varchar { length: None }) => true,
        (
            Numeric {
                precision: Some(p),
                scale: s,
            },
            Numeric {
                precision: Some(q),
                scale: t,
            },
        ) => q >= p && s == t,
        (
            Numeric {
                precision: Some(_), ..
            },
            Numeric {
                precision: None, ..
            },
        ) => true,
        _ => false,
    }
}

pub fn plan(cx: &mut Ctx<'_>, old_t: &Table, t: &Table, old: &Column, new: &Column) {
    if in_place(&old.ty, &new.ty) {
        let spec = cx
            .step(
                sid(StepKind::AlterColumnType, t, Some(&new.name)),
                Phase::Expand,
                StepKind::AlterColumnType,
                Some(t),
                format!(
                    "Change {}.{} from {} to {} (no rewrite)",
                    t.display_name(),
                    new.name,
                    old.ty,
                    new.ty
                ),
                stmts(&[format!(
                    "ALTER TABLE {} ALTER COLUMN {} TYPE {}",
                    t.qualified(),
                    ident(&new.name),
                    new.ty.to_sql()
                )]),
            )
            .lock(t, LockMode::AccessExclusive)
            .requires(c_key(t, &new.name));
        cx.push(spec);
        follow_up(cx, t, old, new);
        return;
    }
    if let Some(why) = unsupported(cx, old_t, old) {
        cx.error(
            codes::UNSUPPORTED_TYPE_CHANGE,
            format!("cannot change {}.{} from {} to {} online: {why}", t.display_name(), new.name, old.ty, new.ty),
            "split the change: first remove what depends on the column, change its type, then add them back".to_string(),
        );
        return;
    }
    let Some(pk) = t.primary_key.clone() else {
        cx.error(
            codes::NO_KEY_FOR_BACKFILL,
            format!("changing {}.{} from {} to {} copies every row, but {} has no primary key to walk it in batches", t.display_name(), new.name, old.ty, new.ty, t.display_name()),
            "give the table a primary key (`@wes_pk`) first".to_string(),
        );
        return;
    };
    shadow(cx, old_t, t, old, new, &pk.columns);
}

/// Defaults and nullability that change together with an in-place type change.
fn follow_up(cx: &mut Ctx<'_>, t: &Table, old: &Column, new: &Column) {
    if old.default != new.default {
        match &new.default {
            Some(_) => super::defaults::set(cx, t, new),
            None => super::defaults::drop(cx, t, new),
        }
    }
    if old.nullable && !new.nullable {
        super::not_null::set(cx, t, old, new);
    } else if !old.nullable && new.nullable {
        super::not_null::drop(cx, t, new);
    }
}

/// Why the shadow-column strategy cannot handle this column, if it cannot.
fn unsupported(cx: &Ctx<'_>, t: &Table, c: &Column) -> Option<String> {
    if t.primary_key
        .as_ref()
        .is_some_and(|k| k.columns.contains(&c.name))
    {
        return Some("it is part of the primary key".into());
    }
    for o in &cx.old.tables {
        for f in &o.foreign_keys {
            if f.ref_schema == t.schema && f.ref_table == t.name && f.ref_columns.contains(&c.name)
            {
                return Some(format!(
                    "foreign key {} on {} references it",
                    f.name,
                    o.display_name()
                ));
            }
        }
    }
    let multi = |cols: &Vec<String>| cols.len() > 1 && cols.contains(&c.name);
    if t.uniques.iter().any(|u| multi(&u.columns))
        || t.indexes.iter().any(|i| multi(&i.columns))
        || t.foreign_keys.iter().any(|f| multi(&f.columns))
    {
        return Some("it is part of a multi-column index or constraint".into());
    }
    if t.indexes
        .iter()
        .any(|i| i.columns == [c.name.clone()] && i.predicate.is_some())
    {
        return Some("it has a partial index".into());
    }
    let mentions = |e: &str| crate::expr::identifiers(e).contains(&c.name);
    if t.checks.iter().any(|k| mentions(&k.expr)) {
        return Some("a check constraint mentions it".into());
    }
    if t.policies
        .iter()
        .any(|p| p.using.iter().chain(p.check.iter()).any(|e| mentions(e)))
    {
        return Some("a row-level security policy mentions it".into());
    }
    None
}

/// A dollar-quote tag that does not occur in `body`.
fn dollar_tag(body: &str) -> String {
    let mut n = 0;
    loop {
        let tag = if n == 0 {
            "$wesley$".to_string()
        } else {
            format!("$wesley{n}$")
        };
        if !body.contains(&tag) {
            return tag;
        }
        n += 1;
    }
}

fn shadow(cx: &mut Ctx<'_>, old_t: &Table, t: &Table, old: &Column, new: &Column, key: &[String]) {
    let col = &new.name;
    let taken = |n: &str| {
        old_t.columns.iter().any(|c| c.name == n) || t.columns.iter().any(|c| c.name == n)
    };
    let mut shadow_name = naming::fit(&format!("{col}_new"));
    let mut old_name = naming::fit(&format!("{col}_old"));
    let mut n = 2;
    while taken(&shadow_name) || taken(&old_name) {
        shadow_name = naming::fit(&format!("{col}_new{n}"));
        old_name = naming::fit(&format!("{col}_old{n}"));
        n += 1;
    }
    let func = naming::fit(&format!("wesley_sync_{}_{}", t.name, col));
    // Converts one value, or gives NULL when it does not convert: the trigger must never
    // refuse an application write, and the check step reports what did not convert.
    let conv = naming::fit(&format!("wesley_cast_{}_{}", t.name, col));
    let conv_q = qualified(&t.schema, &conv);
    let cast = format!("{conv_q}({})", ident(&old.name));
    let trigger = naming::fit(&format!("wesley_sync_{col}"));
    let tname = t.display_name();

    // 1. Shadow column.
    let mut add = cx
        .step(
            sid(StepKind::AddShadowColumn, t, Some(&shadow_name)),
            Phase::Expand,
            StepKind::AddShadowColumn,
            Some(t),
            format!(
                "Add shadow column {tname}.{shadow_name} {} (instant)",
                new.ty
            ),
            stmts(&[format!(
                "ALTER TABLE {} ADD COLUMN {} {}",
                t.qualified(),
                ident(&shadow_name),
                new.ty.to_sql()
            )]),
        )
        .lock(t, LockMode::AccessExclusive);
    if let Some(k) = new.ty.base.enum_key() {
        add = add.requires(k);
    }
    let add_id = cx.push(add);

    // 2. Sync trigger.
    let body = format!(
        "BEGIN\n  NEW.{} := {conv_q}(NEW.{});\n  RETURN NEW;\nEND\n",
        ident(&shadow_name),
        ident(&old.name)
    );
    let conv_body = format!(
        "BEGIN\n  RETURN v::{};\nEXCEPTION WHEN others THEN\n  RETURN NULL;\nEND\n",
        new.ty.to_sql()
    );
    let tag = dollar_tag(&format!("{body}{conv_body}"));
    let trig = cx
        .step(sid(StepKind::CreateSyncTrigger, t, Some(col)), Phase::Expand, StepKind::CreateSyncTrigger, Some(t), format!("Keep {shadow_name} in sync with {col} on every insert and update"), stmts(&[
            format!("CREATE FUNCTION {conv_q}(v {}) RETURNS {} LANGUAGE plpgsql STABLE AS {tag}\n{conv_body}{tag}", old.ty.to_sql(), new.ty.to_sql()),
            format!("CREATE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {tag}\n{body}{tag}", qualified(&t.schema, &func)),
            format!("CREATE TRIGGER {} BEFORE INSERT OR UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {}()", ident(&trigger), t.qualified(), qualified(&t.schema, &func)),
        ]))
        .lock(t, LockMode::ShareRowExclusive)
        .hazard(HazardKind::BlocksWrites, format!("Creating the sync trigger takes SHARE ROW EXCLUSIVE on {tname} for an instant; afterwards every write to {tname} also converts {col}, which costs a little. A value that does not convert is never refused: it leaves {shadow_name} NULL, and the check step reports it."))
        .after(&add_id);
    let trig_id = cx.push(trig);

    // 3. Backfill.
    let set = format!("{} = {cast}", ident(&shadow_name));
    let predicate = format!(
        "{} IS NULL AND {} IS NOT NULL",
        ident(&shadow_name),
        ident(&old.name)
    );
    let fill = cx
        .step(sid(StepKind::Backfill, t, Some(&shadow_name)), Phase::Backfill, StepKind::Backfill, Some(t), format!("Copy {col} into {shadow_name} as {} in batches of {DEFAULT_BATCH_SIZE}", new.ty), stmts(&[format!("UPDATE {} SET {set} WHERE {predicate}", t.qualified())]))
        .lock(t, LockMode::RowExclusive)
        .scan()
        .hazard(HazardKind::NeedsBackfill, format!("Every row of {tname} is updated to fill {shadow_name}, in batches of {DEFAULT_BATCH_SIZE} rows, each its own short transaction: writes continue, but it takes time proportional to the table's size and creates dead rows for VACUUM. Values that do not convert to {} stay NULL and are reported by the next step.", new.ty))
        .backfill(Backfill { schema: t.schema.clone(), table: t.name.clone(), key: key.to_vec(), set, predicate: predicate.clone(), batch_size: DEFAULT_BATCH_SIZE })
        .after(&trig_id);
    let fill_id = cx.push(fill);

    // 4. Validate: nothing missed, then rebuild what hangs on the column.
    let check_sql = format!(
        "DO {tag}\nBEGIN\n  IF EXISTS (SELECT 1 FROM {tq} WHERE {predicate}) THEN\n    RAISE EXCEPTION 'wesley: % rows of % have values in % that do not convert to %', (SELECT count(*) FROM {tq} WHERE {predicate}), {tl}, {cl}, {yl}\n      USING HINT = {hint};\n  END IF;\nEND\n{tag}",
        tq = t.qualified(),
        tl = crate::sql::literal(&tname),
        cl = crate::sql::literal(&old.name),
        yl = crate::sql::literal(&new.ty.to_string()),
        hint = crate::sql::literal(&format!("find them with: SELECT * FROM {} WHERE {predicate}; fix the values, then resume", t.qualified())),
        tag = dollar_tag(&predicate)
    );
    let verify = cx
        .step(sid(StepKind::CheckBackfill, t, Some(&shadow_name)), Phase::Validate, StepKind::CheckBackfill, Some(t), format!("Check that every row of {tname} has {shadow_name} filled"), stmts(&[check_sql]))
        .lock(t, LockMode::AccessShare)
        .scan()
        .hazard(HazardKind::LongRunning, format!("Reads all of {tname} once to prove the copy is complete; reads and writes continue."))
        .after(&fill_id);
    let verify_id = cx.push(verify);
    // NOT NULL on the shadow: the NOT VALID check comes only once every row is proven
    // converted: it is enforced on every UPDATE, so earlier it could refuse writes.
    let nn_name = naming::fit(&format!("{}_{}_not_null", t.name, shadow_name));
    let mut nn_id = None;
    if !new.nullable {
        let s = cx
            .step(
                sid(StepKind::AddNotNullCheck, t, Some(&shadow_name)),
                Phase::Validate,
                StepKind::AddNotNullCheck,
                Some(t),
                format!("Add CHECK ({shadow_name} IS NOT NULL) NOT VALID on {tname}"),
                stmts(&[format!(
                    "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({} IS NOT NULL) NOT VALID",
                    t.qualified(),
                    ident(&nn_name),
                    ident(&shadow_name)
                )]),
            )
            .lock(t, LockMode::AccessExclusive)
            .after(&verify_id);
        nn_id = Some(cx.push(s));
    }

    let mut ready: Vec<String> = vec![verify_id.clone()];
    if let Some(n) = &nn_id {
        let v = cx
            .step(
                sid(StepKind::ValidateConstraint, t, Some(&nn_name)),
                Phase::Validate,
                StepKind::ValidateConstraint,
                Some(t),
                format!("Validate that no row of {tname} has {shadow_name} NULL"),
                stmts(&[format!(
                    "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                    t.qualified(),
                    ident(&nn_name)
                )]),
            )
            .lock(t, LockMode::ShareUpdateExclusive)
            .scan()
            .hazard(
                HazardKind::LongRunning,
                format!("Validating reads all of {tname}; reads and writes continue."),
            )
            .after(n)
            .after(&verify_id);
        ready.push(cx.push(v));
    }
    let mut switch_sql = vec![
        format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            t.qualified(),
            ident(&old.name),
            ident(&old_name)
        ),
        format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            t.qualified(),
            ident(&shadow_name),
            ident(col)
        ),
        format!("DROP TRIGGER {} ON {}", ident(&trigger), t.qualified()),
        format!("DROP FUNCTION {}()", qualified(&t.schema, &func)),
        format!("DROP FUNCTION {conv_q}({})", old.ty.to_sql()),
    ];
    let mut extra_locks: Vec<(String, String)> = Vec::new();
    if !old.nullable {
        switch_sql.push(format!(
            "ALTER TABLE {} ALTER COLUMN {} DROP NOT NULL",
            t.qualified(),
            ident(&old_name)
        ));
    }
    if let Some(d) = &new.default {
        switch_sql.push(format!(
            "ALTER TABLE {} ALTER COLUMN {} SET DEFAULT {}",
            t.qualified(),
            ident(col),
            d.sql()
        ));
    }
    if !new.nullable {
        switch_sql.push(format!(
            "ALTER TABLE {} ALTER COLUMN {} SET NOT NULL",
            t.qualified(),
            ident(col)
        ));
        switch_sql.push(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            t.qualified(),
            ident(&nn_name)
        ));
    }
    // Indexes of the column (single-column, non-partial): built on the shadow, renamed.
    for i in old_t
        .indexes
        .iter()
        .filter(|i| i.columns == [old.name.clone()])
    {
        let Some(target) = t.indexes.iter().find(|x| x.name == i.name) else {
            continue;
        };
        let tmp = Index {
            name: naming::fit(&format!("{}_new", target.name)),
            columns: vec![shadow_name.clone()],
            ..target.clone()
        };
        let b = cx
            .step(
                sid(StepKind::CreateIndex, t, Some(&tmp.name)),
                Phase::Validate,
                StepKind::CreateIndex,
                Some(t),
                format!(
                    "Build index {} on {tname} ({shadow_name}) concurrently",
                    tmp.name
                ),
                stmts(&[crate::ddl::create_index(t, &tmp, true)]),
            )
            .non_transactional()
            .lock(t, LockMode::ShareUpdateExclusive)
            .scan()
            .hazard(
                HazardKind::LongRunning,
                format!(
                    "Building index {} reads {tname} twice without blocking reads or writes.",
                    tmp.name
                ),
            )
            .after(&verify_id);
        ready.push(cx.push(b));
        switch_sql.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(&t.schema, &i.name),
            ident(&naming::fit(&format!("{}_old", i.name)))
        ));
        switch_sql.push(format!(
            "ALTER INDEX {} RENAME TO {}",
            qualified(&t.schema, &tmp.name),
            ident(&target.name)
        ));
    }
    // Single-column unique constraints: unique index on the shadow, attached at the switch.
    for u in old_t
        .uniques
        .iter()
        .filter(|u| u.columns == [old.name.clone()])
    {
        if !t.uniques.iter().any(|x| x.name == u.name) {
            continue;
        }
        let tmp = naming::fit(&format!("{}_new", u.name));
        let b = super::unique::build_unique_index(
            cx,
            t,
            &tmp,
            std::slice::from_ref(&shadow_name),
            Phase::Validate,
        );
        if let Some(last) = cx.specs.last_mut() {
            last.requires.clear();
            last.after.push(verify_id.clone());
        }
        ready.push(b);
        switch_sql.push(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            t.qualified(),
            ident(&u.name)
        ));
        switch_sql.push(format!(
            "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE USING INDEX {}",
            t.qualified(),
            ident(&u.name),
            ident(&tmp)
        ));
    }
    // Single-column foreign keys from the column: re-created on the shadow NOT VALID,
    // validated, and renamed at the switch.
    for f in old_t
        .foreign_keys
        .iter()
        .filter(|f| f.columns == [old.name.clone()])
    {
        let Some(target) = t.foreign_keys.iter().find(|x| x.name == f.name) else {
            continue;
        };
        let tmp = crate::model::ForeignKey {
            name: naming::fit(&format!("{}_new", target.name)),
            columns: vec![shadow_name.clone()],
            ..target.clone()
        };
        let add_fk = cx
            .step(
                sid(StepKind::AddForeignKey, t, Some(&tmp.name)),
                Phase::Validate,
                StepKind::AddForeignKey,
                Some(t),
                format!(
                    "Add foreign key {} on {tname} ({shadow_name}) NOT VALID",
                    tmp.name
                ),
                stmts(&[crate::ddl::add_foreign_key(t, &tmp, true)]),
            )
            .lock(t, LockMode::ShareRowExclusive)
            .lock_rel(&tmp.ref_schema, &tmp.ref_table, LockMode::ShareRowExclusive)
            .after(&verify_id);
        let add_fk = cx.push(add_fk);
        let v = cx
            .step(
                sid(StepKind::ValidateConstraint, t, Some(&tmp.name)),
                Phase::Validate,
                StepKind::ValidateConstraint,
                Some(t),
                format!("Validate foreign key {} on {tname}", tmp.name),
                stmts(&[format!(
                    "ALTER TABLE {} VALIDATE CONSTRAINT {}",
                    t.qualified(),
                    ident(&tmp.name)
                )]),
            )
            .lock(t, LockMode::ShareUpdateExclusive)
            .lock_rel(&tmp.ref_schema, &tmp.ref_table, LockMode::RowShare)
            .scan()
            .hazard(
                HazardKind::LongRunning,
                format!(
                    "Validating foreign key {} reads all of {tname}; reads and writes continue.",
                    tmp.name
                ),
            )
            .after(&add_fk);
        ready.push(cx.push(v));
        switch_sql.push(format!(
            "ALTER TABLE {} DROP CONSTRAINT {}",
            t.qualified(),
            ident(&f.name)
        ));
        switch_sql.push(format!(
            "ALTER TABLE {} RENAME CONSTRAINT {} TO {}",
            t.qualified(),
            ident(&tmp.name),
            ident(&target.name)
        ));
        extra_locks.push((f.ref_schema.clone(), f.ref_table.clone()));
    }

    // 5. Switch.
    let mut sw = cx
        .step(sid(StepKind::SwapColumns, t, Some(col)), Phase::Switch, StepKind::SwapColumns, Some(t), format!("Swap {col} and {shadow_name} on {tname} in one short transaction ({} → {})", old.ty, new.ty), stmts(&switch_sql))
        .lock(t, LockMode::AccessExclusive)
        .hazard(HazardKind::BreaksClients, format!("From this step on, {tname}.{col} has type {} instead of {}: code that depends on the old type must be ready. The old values stay in {old_name} until the contract phase.", new.ty, old.ty))
        .provides(c_key(t, col));
    for (s, r) in &extra_locks {
        sw = sw.lock_rel(s, r, LockMode::AccessExclusive);
    }
    for r in &ready {
        sw = sw.after(r);
    }
    let sw_id = cx.push(sw);

    // 6. Contract.
    let mut drop = cx
        .step(sid(StepKind::DropColumn, t, Some(&old_name)), Phase::Contract, StepKind::DropColumn, Some(t), format!("Drop the old column {tname}.{old_name} ({})", old.ty), stmts(&[format!("ALTER TABLE {} DROP COLUMN {}", t.qualified(), ident(&old_name))]))
        .lock(t, LockMode::AccessExclusive)
        .hazard(HazardKind::DeletesData, format!("Drops {tname}.{old_name}, the old {} copy of {col}; its values live on in {col} as {}. Keep it until you are sure the conversion lost nothing you need.", old.ty, new.ty))
        .after(&sw_id);
    if let Some(k) = old.ty.base.enum_key() {
        drop = drop.requires(k);
    }
    cx.push(drop);
}
