//! A key's type change (a primary key, a unique constraint or a unique index) with the
//! foreign keys that reference it, applied by
//! `wesley apply` to seeded rows across several tables (the golden cases
//! `primary_key_type_referenced`, `primary_key_type_identity_uuid` and
//! `unique_key_type_referenced`): every row still
//! points at the same parent, the keys keep their names and actions and are validated,
//! serial and identity numbering continues where it was, and writes between the phases
//! (with `--until`) are kept. `plan_apply.rs` checks the same cases' locks against
//! `pg_locks`.

use std::path::{Path, PathBuf};
use wesley_e2e::exec::{case_seed, database_with, plan_cases_dir, Work};
use wesley_e2e::TestDb;

/// Each child row with the parent it points at, in a form that compares across the type
/// change (`::text`), and the foreign keys with their actions and validity.
fn snapshot(db: &TestDb, pairs: &[(&str, &str)]) -> String {
    let mut out = String::new();
    for (table, column) in pairs {
        out.push_str(&db.psql(&format!(
            "SELECT string_agg(id::text || '>' || coalesce({column}::text, '-'), ',' ORDER BY id::text) FROM public.{table}"
        )));
    }
    out.push_str(&db.psql(
        "SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated, '; ' ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'p')",
    ));
    out
}

fn column_types(db: &TestDb) -> String {
    db.psql("SELECT string_agg(attrelid::regclass || '.' || attname || ' ' || format_type(atttypid, atttypmod), ', ' ORDER BY attrelid::regclass::text, attname) FROM pg_attribute WHERE attrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'public'::regnamespace AND relkind = 'r') AND attnum > 0 AND NOT attisdropped")
}

/// Golden plan case `case` on a fresh database (named after `prefix`) built from its old
/// schema and seed, and its plan file: the work area, the database, the case's
/// directory and the plan's path.
fn prepare_case(case: &str, prefix: &str) -> (Work, TestDb, PathBuf, PathBuf) {
    let dir = plan_cases_dir().join(case);
    let work = Work::new();
    let db = database_with(prefix, &work, &dir.join("old.graphql"), &case_seed(&dir, 0));
    let (plan, _) = work.plan(
        &dir.join("old.graphql"),
        &dir.join("new.graphql"),
        "plan.json",
    );
    (work, db, dir, plan)
}

fn apply_case(case: &str, prefix: &str, until: Option<&str>) -> (Work, TestDb, PathBuf) {
    let (work, db, _, plan) = prepare_case(case, prefix);
    let mut extra = vec!["--allow", "breaks_clients"];
    if let Some(phase) = until {
        extra.extend(["--until", phase]);
    }
    work.apply(&plan, &db, &extra).expect_code(0, "apply");
    (work, db, plan)
}

/// Applies `plan` in three runs, with `during` run after the backfill phase (rows in the
/// old shape) and `after_switch` after the switch (rows in the new shape).
fn apply_with_writes(
    work: &Work,
    plan: &Path,
    db: &TestDb,
    during: &[&str],
    after_switch: &[&str],
) {
    for (until, writes) in [("backfill", during), ("switch", after_switch)] {
        work.apply(plan, db, &["--allow", "breaks_clients", "--until", until])
            .expect_code(0, &format!("apply --until {until}"));
        for sql in writes {
            db.psql(sql);
        }
    }
    work.apply(plan, db, &["--allow", "breaks_clients"])
        .expect_code(0, "apply");
}

#[test]
fn serial_keys_and_their_references_keep_every_row_and_keep_counting() {
    let pairs = [
        ("account", "parent_id"),
        ("membership", "account_id"),
        ("audit_entry", "account_id"),
    ];
    let (work, db, dir, plan) = prepare_case("primary_key_type_referenced", "keytype_serial");
    let before = snapshot(&db, &pairs);
    // Rows written between the phases, in the old shape and then in the new one.
    apply_with_writes(
        &work,
        &plan,
        &db,
        &[
            "INSERT INTO account (name) VALUES ('written during the backfill phase')",
            "INSERT INTO membership (id, account_id, role) VALUES (1001, 51, 'member')",
        ],
        &["INSERT INTO account (name, parent_id) VALUES ('written after the switch', 51)"],
    );

    let types = column_types(&db);
    for c in [
        "account.id bigint",
        "account.parent_id bigint",
        "membership.account_id bigint",
        "audit_entry.account_id integer",
    ] {
        assert!(types.contains(c), "{c} in {types}");
    }
    assert!(!types.contains("_old"), "old columns are dropped: {types}");
    // The serial moved to the new column, was widened, and counts on past the rows
    // written before and after the switch.
    assert_eq!(
        db.psql("SELECT pg_get_serial_sequence('public.account', 'id'), (SELECT data_type FROM information_schema.sequences WHERE sequence_name = 'account_id_seq')").trim(),
        "public.account_id_seq|bigint"
    );
    let next: i64 = db
        .psql("INSERT INTO account (name) VALUES ('after the plan') RETURNING id")
        .trim()
        .parse()
        .expect("an id");
    assert_eq!(
        next, 53,
        "50 seeded by setval, 51 and 52 written during the plan"
    );
    // A value the old key could not hold, referenced; and the keys still refuse.
    db.psql("INSERT INTO account (id, name, parent_id) VALUES (3000000000, 'past 2^31', 53)");
    db.psql("INSERT INTO membership (id, account_id, role) VALUES (1003, 3000000000, 'owner')");
    let err = db
        .try_psql("INSERT INTO membership (id, account_id, role) VALUES (1002, 999999, 'x')")
        .expect_err("a membership of no account is refused");
    assert!(
        err.contains("23503") || err.contains("foreign key"),
        "{err}"
    );
    // Every row written before the plan points where it did; written rows are there.
    let after = snapshot(&db, &pairs);
    let old_rows: Vec<&str> = before.lines().take(3).collect();
    let new_rows: Vec<&str> = after.lines().take(3).collect();
    for (o, n) in old_rows.iter().zip(&new_rows) {
        for pair in o.split(',') {
            assert!(n.split(',').any(|p| p == pair), "{pair} is kept");
        }
    }
    assert!(new_rows[1].contains("1001>51"), "{}", new_rows[1]);
    assert!(new_rows[1].contains("1003>3000000000"), "{}", new_rows[1]);
    // The keys keep their names, actions and validity.
    let keys = after.lines().last().unwrap_or_default().to_string();
    for k in [
        "account_pkey PRIMARY KEY (id) t",
        "membership_account_id_fkey FOREIGN KEY (account_id) REFERENCES account(id) ON DELETE CASCADE t",
        "audit_entry_account_id_fkey FOREIGN KEY (account_id) REFERENCES account(id) ON DELETE SET NULL t",
        "account_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES account(id) t",
    ] {
        assert!(keys.contains(k), "{k} in {keys}");
    }
    // ON DELETE actions still act.
    db.psql(
        "UPDATE account SET parent_id = NULL WHERE parent_id = 7; DELETE FROM account WHERE id = 7",
    );
    assert_eq!(
        db.psql("SELECT (SELECT count(*) FROM membership WHERE account_id = 7) || ' ' || (SELECT count(*) FROM audit_entry WHERE account_id = 7)").trim(),
        "0 0",
        "ON DELETE CASCADE and SET NULL act through the new keys"
    );
    let (code, out) = work.drift(&dir.join("new.graphql"), &db);
    assert_eq!(code, Some(0), "no drift: {out}");
}

#[test]
fn identity_and_text_keys_become_bigint_and_uuid() {
    let pairs = [("post_tag", "tag_id"), ("attachment", "document_id")];
    let (work, db, dir, plan) = prepare_case("primary_key_type_identity_uuid", "keytype_identity");
    let before = snapshot(&db, &pairs);
    let db2 = db;
    work.apply(&plan, &db2, &["--allow", "breaks_clients"])
        .expect_code(0, "apply");
    let types = column_types(&db2);
    for c in [
        "tag.id bigint",
        "post_tag.tag_id bigint",
        "document.id uuid",
        "attachment.document_id uuid",
    ] {
        assert!(types.contains(c), "{c} in {types}");
    }
    // The identity continues from the old sequence's next value.
    assert_eq!(
        db2.psql("INSERT INTO tag (label) VALUES ('after') RETURNING id")
            .trim(),
        "31"
    );
    assert_eq!(
        db2.psql("SELECT attidentity FROM pg_attribute WHERE attrelid = 'public.tag'::regclass AND attname = 'id'").trim(),
        "d"
    );
    let after = snapshot(&db2, &pairs);
    assert_eq!(
        before.lines().take(2).collect::<Vec<_>>(),
        after.lines().take(2).collect::<Vec<_>>(),
        "every row points at the same parent"
    );
    let (code, out) = work.drift(&dir.join("new.graphql"), &db2);
    assert_eq!(code, Some(0), "no drift: {out}");
}

#[test]
fn rollback_before_the_switch_restores_the_old_keys_and_after_it_refuses() {
    let (work, db, plan) = apply_case(
        "primary_key_type_referenced",
        "keytype_rb",
        Some("validate"),
    );
    work.rollback(&plan, &db, &["--allow", "deletes_data"])
        .expect_code(0, "rollback before the switch");
    let types = column_types(&db);
    assert!(types.contains("account.id integer"), "{types}");
    assert!(!types.contains("_new"), "shadows are gone: {types}");
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_constraint WHERE conname LIKE '%\\_new' ")
            .trim(),
        "0"
    );
    work.apply(
        &plan,
        &db,
        &["--allow", "breaks_clients", "--until", "switch"],
    )
    .expect_code(0, "apply again, to the switch");
    let refused = work.rollback(&plan, &db, &["--allow", "deletes_data"]);
    assert_ne!(refused.code, Some(0), "rollback after the switch refuses");
    assert!(
        refused.stderr.contains("not copied back"),
        "says why: {}",
        refused.stderr
    );
}

#[test]
fn a_write_that_fills_a_shadow_itself_is_converted_all_the_same() {
    // Only the backfill's own batches (run under `wesley.backfill`) may skip the sync
    // trigger's conversion: a client that writes a whole row back, shadow included, must
    // not leave the shadow at a stale value.
    let (_work, db, _) = apply_case(
        "primary_key_type_referenced",
        "keytype_stale",
        Some("expand"),
    );
    db.psql("UPDATE membership SET account_id = 5, account_id_new = 3 WHERE id = 1");
    assert_eq!(
        db.psql("SELECT account_id || ' ' || account_id_new FROM membership WHERE id = 1")
            .trim(),
        "5 5"
    );
    // Under the setting, the batch's own fill is left as the batch wrote it.
    db.psql("BEGIN; SET LOCAL wesley.backfill = 'on'; UPDATE membership SET account_id_new = account_id::bigint WHERE id = 3 AND account_id_new IS NULL; COMMIT;");
    assert_eq!(
        db.psql("SELECT count(*) FROM membership WHERE account_id_new IS DISTINCT FROM account_id::bigint AND id IN (1, 3)").trim(),
        "0"
    );
}

#[test]
fn unique_keys_that_foreign_keys_reference_change_type_with_them() {
    // `unique_key_type_referenced`: a unique constraint (int → bigint) and a nullable
    // column with a unique index (text → uuid), each referenced by foreign keys.
    let pairs = [
        ("payment", "account_number"),
        ("payment", "device_serial"),
        ("transfer", "account_number"),
    ];
    let keys = |db: &TestDb| {
        db.psql("SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid) || ' ' || convalidated, '; ' ORDER BY conname) FROM pg_constraint WHERE connamespace = 'public'::regnamespace AND contype IN ('f', 'u')")
            + &db.psql("SELECT string_agg(indexname || ' ' || indexdef, '; ' ORDER BY indexname) FROM pg_indexes WHERE schemaname = 'public' AND tablename = 'device'")
    };
    let (work, db, dir, plan) = prepare_case("unique_key_type_referenced", "keytype_unique");
    let before = snapshot(&db, &pairs);
    // Rows written between the phases, in the old shape and then in the new one.
    apply_with_writes(
        &work,
        &plan,
        &db,
        &[
            "INSERT INTO account (id, number, name) VALUES (gen_random_uuid(), 5000, 'during the plan')",
            "INSERT INTO device (id, serial) VALUES (gen_random_uuid(), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
            "INSERT INTO payment (id, account_number, device_serial, amount) VALUES ('00000000-0000-0000-0000-000000000001', 5000, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 1)",
        ],
        &[
            "INSERT INTO account (id, number, name) VALUES (gen_random_uuid(), 3000000000, 'past 2^31')",
            "INSERT INTO payment (id, account_number, amount) VALUES ('00000000-0000-0000-0000-000000000002', 3000000000, 2)",
        ],
    );

    let types = column_types(&db);
    for c in [
        "account.number bigint",
        "payment.account_number bigint",
        "transfer.account_number integer",
        "device.serial uuid",
        "payment.device_serial uuid",
    ] {
        assert!(types.contains(c), "{c} in {types}");
    }
    assert!(!types.contains("_old"), "old columns are dropped: {types}");
    // Every row written before the plan points where it did.
    let after = snapshot(&db, &pairs);
    for (o, n) in before.lines().take(3).zip(after.lines().take(3)) {
        for pair in o.split(',') {
            assert!(n.split(',').any(|p| p == pair), "{pair} is kept");
        }
    }
    assert!(
        after.contains("00000000-0000-0000-0000-000000000002>3000000000"),
        "{after}"
    );
    // The keys keep their names, actions and validity; the unique index its name.
    let k = keys(&db);
    for want in [
        "account_number_key UNIQUE (number) t",
        "payment_account_number_fkey FOREIGN KEY (account_number) REFERENCES account(number) ON DELETE CASCADE t",
        "payment_device_serial_fkey FOREIGN KEY (device_serial) REFERENCES device(serial) ON DELETE SET NULL t",
        "transfer_account_number_fkey FOREIGN KEY (account_number) REFERENCES account(number) t",
        "device_serial_idx CREATE UNIQUE INDEX device_serial_idx ON public.device USING btree (serial)",
    ] {
        assert!(k.contains(want), "{want} in {k}");
    }
    // The keys still refuse orphans and duplicates, and their actions act.
    for (sql, refusal) in [
        ("INSERT INTO payment (id, account_number, amount) VALUES (gen_random_uuid(), 999999, 1)", "violates foreign key constraint"),
        ("INSERT INTO account (id, number, name) VALUES (gen_random_uuid(), 5000, 'twice')", "duplicate key value violates unique constraint"),
        ("INSERT INTO device (id, serial) VALUES (gen_random_uuid(), 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')", "duplicate key value violates unique constraint"),
    ] {
        let err = db.try_psql(sql).expect_err(sql);
        assert!(err.contains(refusal), "{sql}: {err}");
    }
    db.psql("DELETE FROM device WHERE serial = 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'");
    assert_eq!(
        db.psql("SELECT count(*) FROM payment WHERE id = '00000000-0000-0000-0000-000000000001' AND device_serial IS NULL").trim(),
        "1",
        "ON DELETE SET NULL acts through the new unique index"
    );
    db.psql(
        "DELETE FROM transfer WHERE account_number = 5000; DELETE FROM account WHERE number = 5000",
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM payment WHERE account_number = 5000")
            .trim(),
        "0",
        "ON DELETE CASCADE acts through the new key"
    );
    let (code, out) = work.drift(&dir.join("new.graphql"), &db);
    assert_eq!(code, Some(0), "no drift: {out}");
}

#[test]
fn a_nulls_not_distinct_unique_index_lets_rows_in_after_the_switch() {
    // The old index is dropped at the switch: kept on the old column until the contract,
    // it would hold only one row with that column NULL, and nothing fills it any more.
    let (work, db, dir, plan) =
        prepare_case("unique_index_nulls_not_distinct_key_type", "keytype_nnd");
    apply_with_writes(
        &work,
        &plan,
        &db,
        &[],
        &[
            "INSERT INTO device (id, serial) VALUES (gen_random_uuid(), 'b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
            "INSERT INTO device (id, serial) VALUES (gen_random_uuid(), 'c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11')",
        ],
    );
    let err = db
        .try_psql("INSERT INTO device (id) VALUES (gen_random_uuid())")
        .expect_err("a second NULL serial is refused: the new index is NULLS NOT DISTINCT");
    assert!(err.contains("duplicate key value"), "{err}");
    let (code, out) = work.drift(&dir.join("new.graphql"), &db);
    assert_eq!(code, Some(0), "no drift: {out}");
}
