//! The canonical form read from a live database (`wesley::introspect`) is the same on
//! every PostgreSQL version for the same state, including states only some versions can
//! reach. Run against other versions with `WESLEY_PG_BINDIR` (`scripts/test-pg-matrix`).

use wesley::introspect::{parse_canonical, CANONICAL_QUERY, LIVE_QUERY};
use wesley_e2e::{fresh_db, TestDb};
use wesley_planner::canon::{CanonSchema, CanonTable};

fn canonical(db: &TestDb) -> CanonSchema {
    parse_canonical(&db.psql(CANONICAL_QUERY)).expect("canonical JSON")
}

fn table<'a>(c: &'a CanonSchema, name: &str) -> &'a CanonTable {
    c.tables
        .iter()
        .find(|t| t.name == name)
        .unwrap_or_else(|| panic!("no table {name} in {c:#?}"))
}

/// `(column, not_null)` for every column of `table`.
fn not_null(c: &CanonSchema, name: &str) -> Vec<(String, bool)> {
    table(c, name)
        .columns
        .iter()
        .map(|col| (col.name.clone(), col.not_null))
        .collect()
}

fn server_version_num(db: &TestDb) -> u32 {
    db.psql("SHOW server_version_num;")
        .trim()
        .parse()
        .expect("server_version_num")
}

/// PostgreSQL 18 records every NOT NULL as a `pg_constraint` row (`contype = 'n'`), named
/// `<table>_<column>_not_null`, or `..._not_null1` when a check already has that name, as
/// Wesley's helper check does while it sets NOT NULL. None of them is a check, and the
/// table reads the same as one created with the NOT NULL columns directly.
#[test]
fn not_null_constraints_are_not_checks() {
    let migrated = fresh_db("nn_migrated");
    migrated.psql(
        "CREATE TABLE item (id uuid PRIMARY KEY, name text NOT NULL, qty int, note text);\n\
         INSERT INTO item VALUES (gen_random_uuid(), 'a', 1, NULL);\n\
         ALTER TABLE item ADD CONSTRAINT item_qty_not_null CHECK (qty IS NOT NULL) NOT VALID;\n\
         ALTER TABLE item VALIDATE CONSTRAINT item_qty_not_null;\n\
         ALTER TABLE item ALTER COLUMN qty SET NOT NULL;\n\
         ALTER TABLE item DROP CONSTRAINT item_qty_not_null;\n\
         ALTER TABLE item ADD CONSTRAINT item_note_not_null CHECK (note IS NOT NULL) NOT VALID;\n",
    );
    let fresh = fresh_db("nn_fresh");
    fresh.psql(
        "CREATE TABLE item (id uuid PRIMARY KEY, name text NOT NULL, qty int NOT NULL, note text,\n\
           CONSTRAINT item_note_not_null CHECK (note IS NOT NULL) NOT VALID);\n",
    );

    if server_version_num(&migrated) >= 180000 {
        // The state this test is about: NOT NULL constraints, one with a number appended.
        assert_eq!(
            migrated.psql(
                "SELECT string_agg(conname, ',' ORDER BY conname) FROM pg_constraint \
                 WHERE conrelid = 'item'::regclass AND contype = 'n';"
            ),
            "item_id_not_null,item_name_not_null,item_qty_not_null1\n"
        );
    }
    let live = canonical(&migrated);
    let t = table(&live, "public.item");
    assert_eq!(t.checks, ["item_note_not_null"]);
    assert_eq!(
        not_null(&live, "public.item"),
        [
            ("id".to_owned(), true),
            ("name".to_owned(), true),
            ("note".to_owned(), false),
            ("qty".to_owned(), true)
        ]
    );
    assert_eq!(
        t.primary_key.as_ref().map(|k| k.name.as_str()),
        Some("item_pkey")
    );
    assert!(t.indexes.is_empty(), "{:#?}", t.indexes);
    assert_eq!(live, canonical(&fresh));
}

/// A NOT NULL that existing rows may still violate is not NOT NULL. PostgreSQL 18 can add
/// one (`NOT NULL col NOT VALID`) and then sets `attnotnull` already; before 18 the same
/// state is a NOT VALID `CHECK (col IS NOT NULL)`. Either way the column reads as
/// nullable until the constraint is validated.
#[test]
fn a_not_null_not_yet_validated_reads_as_nullable() {
    let db = fresh_db("nn_not_valid");
    db.psql(
        "CREATE TABLE item (id int PRIMARY KEY, note text);\n\
         INSERT INTO item VALUES (1, NULL);\n",
    );
    let v18 = server_version_num(&db) >= 180000;
    if v18 {
        db.psql("ALTER TABLE item ADD CONSTRAINT item_note_required NOT NULL note NOT VALID;");
        // What the introspection query must see through.
        assert_eq!(
            db.psql("SELECT attnotnull FROM pg_attribute WHERE attrelid = 'item'::regclass AND attname = 'note';"),
            "t\n"
        );
    } else {
        db.psql("ALTER TABLE item ADD CONSTRAINT item_note_required CHECK (note IS NOT NULL) NOT VALID;");
    }
    let live = canonical(&db);
    assert_eq!(
        not_null(&live, "public.item"),
        [("id".to_owned(), true), ("note".to_owned(), false)]
    );
    let checks: &[&str] = if v18 { &[] } else { &["item_note_required"] };
    assert_eq!(table(&live, "public.item").checks, checks);

    db.psql(
        "UPDATE item SET note = '';\n\
         ALTER TABLE item VALIDATE CONSTRAINT item_note_required;\n",
    );
    if !v18 {
        // What the validated check lets Wesley do without a scan.
        db.psql(
            "ALTER TABLE item ALTER COLUMN note SET NOT NULL;\n\
             ALTER TABLE item DROP CONSTRAINT item_note_required;\n",
        );
    }
    let live = canonical(&db);
    assert_eq!(
        not_null(&live, "public.item"),
        [("id".to_owned(), true), ("note".to_owned(), true)]
    );
    assert!(table(&live, "public.item").checks.is_empty());
}

/// PostgreSQL 18 can keep a check or foreign key `NOT ENFORCED`: it constrains nothing,
/// so the canonical form leaves it out (a schema that declares it sees it missing).
/// Earlier versions refuse the syntax, so no such state exists there.
#[test]
fn not_enforced_constraints_are_left_out() {
    let db = fresh_db("not_enforced");
    db.psql(
        "CREATE TABLE parent (id int PRIMARY KEY);\n\
         CREATE TABLE child (id int PRIMARY KEY, parent_id int, qty int);\n",
    );
    let add = "ALTER TABLE child ADD CONSTRAINT child_qty_check CHECK (qty > 0) NOT ENFORCED;\n\
               ALTER TABLE child ADD CONSTRAINT child_parent_id_fkey FOREIGN KEY (parent_id) REFERENCES parent (id) NOT ENFORCED;\n";
    if server_version_num(&db) < 180000 {
        let err = db
            .try_psql(add)
            .expect_err("NOT ENFORCED before PostgreSQL 18");
        assert!(
            err.contains("syntax error") || err.contains("not supported"),
            "{err}"
        );
        return;
    }
    db.psql(add);
    let live = canonical(&db);
    let child = table(&live, "public.child");
    assert!(child.checks.is_empty(), "{:#?}", child.checks);
    assert!(child.foreign_keys.is_empty(), "{:#?}", child.foreign_keys);

    db.psql("ALTER TABLE child ALTER CONSTRAINT child_parent_id_fkey ENFORCED;");
    let live = canonical(&db);
    let fks: Vec<&str> = table(&live, "public.child")
        .foreign_keys
        .iter()
        .map(|k| k.name.as_str())
        .collect();
    assert_eq!(fks, ["child_parent_id_fkey"]);
}

/// A run reads the catalog table by table (`drift::read`): its schema hash, table hashes
/// and tables equal those of the whole-catalog query, for schema and table names whose
/// `ORDER BY nspname, relname` order is not the byte-wise order of `schema.table`
/// (`a-b.t` sorts before `a.t` byte-wise, after it by schema), upper case and non-ASCII
/// names, enums, extensions counted or not, and a `keep` that asks for one table.
#[test]
fn a_catalog_read_table_by_table_equals_the_whole() {
    let db = fresh_db("introspect_stream");
    db.psql(
        r#"CREATE SCHEMA a; CREATE SCHEMA "a-b"; CREATE SCHEMA a_b; CREATE SCHEMA "Z";
        CREATE TYPE a.mood AS ENUM ('ok', 'sad');
        CREATE EXTENSION IF NOT EXISTS citext;
        CREATE TABLE a.t (id int PRIMARY KEY, m a.mood, z text UNIQUE, b int CHECK (b > 0));
        CREATE TABLE "a-b".t (id int PRIMARY KEY REFERENCES a.t (id));
        CREATE TABLE a_b.t (id int, "Upper" text);
        CREATE TABLE "Z"."T" (x int);
        CREATE TABLE a."é" (x int);
        CREATE TABLE a.tt (x int); CREATE INDEX ON a.tt (x);
        CREATE TABLE public.p (x int);"#,
    );
    let whole = canonical(&db);
    assert_eq!(whole.tables.len(), 7, "{whole:#?}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (live, schema, streamed) = rt.block_on(async {
        let conn = wesley::apply::connect::ConnInfo::resolve(Some(&db.url)).expect("conn");
        let (client, _) = conn.connect_pinned(None).await.expect("connect");
        let live = wesley::apply::drift::read(&client, &|name, _| name == "a-b.t")
            .await
            .expect("read");
        let schema = wesley::apply::drift::live(&client).await.expect("live");
        (live, schema, live_query_names(&client).await)
    });
    assert_eq!(schema, whole, "the streamed whole form");
    let want: Vec<&str> = whole.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(
        streamed, want,
        "LIVE_QUERY's own order (no fallback needed)"
    );
    for extensions in [vec![], vec!["citext".to_string()]] {
        assert_eq!(
            live.hash(&extensions),
            whole.as_expected_by(&extensions).hash(),
            "expecting {extensions:?}"
        );
    }
    let names: Vec<&str> = live.tables().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, want);
    for (l, t) in live.tables().iter().zip(&whole.tables) {
        assert_eq!(
            live.table_hash(&t.name),
            Some(t.hash().as_str()),
            "{}",
            t.name
        );
        let columns: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(l.columns, columns, "{}", t.name);
    }
    assert_eq!(live.table_hash("a.missing"), None);
    let kept: Vec<&str> = live.kept().iter().map(|t| t.name.as_str()).collect();
    assert_eq!(kept, ["a-b.t"]);
}

/// The table names of [`LIVE_QUERY`]'s rows, in the order the server sends them (its
/// first row is the schema without tables).
async fn live_query_names(client: &tokio_postgres::Client) -> Vec<String> {
    let rows = client.query(LIVE_QUERY, &[]).await.expect("LIVE_QUERY");
    rows.iter()
        .skip(1)
        .map(|r| {
            let t: CanonTable = serde_json::from_str(r.get(0)).expect("a table's JSON");
            t.name
        })
        .collect()
}

/// In a database whose encoding orders names otherwise than UTF-8 does (WIN1252 puts `€`,
/// byte 0x80, before `é`, 0xE9; in UTF-8 `é` comes first), the table-by-table read still
/// comes in canonical order, and hashes as the whole does.
#[test]
fn a_catalog_in_another_encoding_is_read_in_canonical_order() {
    let utf8 = fresh_db("introspect_win1252");
    let name = format!("{}_w", utf8.name);
    utf8.psql(&format!(
        "CREATE DATABASE {name} ENCODING 'WIN1252' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0;"
    ));
    let url = utf8.url.replace(&utf8.name, &name);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let conn = wesley::apply::connect::ConnInfo::resolve(Some(&url)).expect("conn");
        let (client, _) = conn.connect_pinned(None).await.expect("connect");
        client
            .batch_execute(r#"CREATE TABLE public."€" (x int); CREATE TABLE public."é" (y int PRIMARY KEY);"#)
            .await
            .expect("tables");
        let server_order: Vec<String> = client
            .query(
                "SELECT relname::text FROM pg_class WHERE relname IN ('€', 'é') ORDER BY relname COLLATE \"C\"",
                &[],
            )
            .await
            .expect("order")
            .iter()
            .map(|r| r.get(0))
            .collect();
        assert_eq!(server_order, ["€", "é"], "the server orders them otherwise than UTF-8");
        let text: String = client
            .query_one(CANONICAL_QUERY, &[])
            .await
            .expect("whole")
            .get(0);
        let whole = parse_canonical(&text).expect("canonical JSON");
        let live = wesley::apply::drift::read(&client, &|_, _| false)
            .await
            .expect("read");
        let names: Vec<&str> = live.tables().iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["public.é", "public.€"]);
        assert_eq!(live_query_names(&client).await, names, "LIVE_QUERY's own order");
        assert_eq!(live.hash(&[]), whole.as_expected_by(&[]).hash());
        assert_eq!(
            wesley::apply::drift::live(&client).await.expect("live"),
            whole
        );
    });
}

/// Catalog reads run with JIT off, in a transaction that ends with them: the setting is
/// off inside, back as it was after, and a failed read leaves no transaction open.
#[test]
fn catalog_reads_run_without_jit_and_leave_nothing_behind() {
    use wesley::introspect::without_jit;
    let db = fresh_db("introspect_no_jit");
    db.with_client(|_, c| async move {
        let show = || async {
            let row = c.query_one("SHOW jit", &[]).await?;
            Ok::<String, wesley::error::DbError>(row.get(0))
        };
        c.batch_execute("SET jit = on").await.expect("jit on");
        assert_eq!(without_jit(&c, show).await.expect("inside"), "off");
        assert_eq!(show().await.expect("after"), "on");
        let failed: Result<String, _> = without_jit(&c, || async {
            c.query_one("SELECT no_such_column FROM pg_class", &[])
                .await?;
            Ok(String::new())
        })
        .await;
        assert_eq!(failed.unwrap_err().sqlstate(), Some("42703"));
        // Outside any transaction again: a read-only transaction would refuse this.
        c.batch_execute("CREATE TABLE after_the_read (a int)")
            .await
            .expect("no transaction left open");
    });
}
