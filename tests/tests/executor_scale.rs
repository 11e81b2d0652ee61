//! Reading the catalog stays fast on a database with many tables and columns: `wesley
//! drift`, and both forms of the introspection query (`LIVE_QUERY`, a row per table, which
//! `wesley drift` and `wesley apply` stream before and after every plan, and
//! `CANONICAL_QUERY`, the whole in one reply), on 600 tables of 30 columns with keys, a
//! unique constraint, a foreign key and an index each. The query once looked key columns up in a CTE of every column of the
//! database, once per key: quadratic, about 6 s here instead of 0.2 s.

use std::time::{Duration, Instant};
use wesley::introspect::{CANONICAL_QUERY, LIVE_QUERY};
use wesley_e2e::exec::Work;
use wesley_e2e::fresh_db;

#[test]
fn catalog_introspection_is_fast_on_many_tables() {
    let db = fresh_db("scale");
    let tables = 600;
    let mut sql = String::from("BEGIN;\n");
    for t in 0..tables {
        let cols: Vec<String> = (0..28).map(|c| format!("c{c} int")).collect();
        let fk = if t == 0 {
            String::new()
        } else {
            format!(" REFERENCES t{}(id)", t - 1)
        };
        sql.push_str(&format!(
            "CREATE TABLE t{t} (id int PRIMARY KEY, r int{fk}, {}, UNIQUE (c0, c1));\nCREATE INDEX ON t{t} (c2, c3);\n",
            cols.join(", ")
        ));
    }
    sql.push_str("COMMIT;\n");
    db.psql(&sql);

    let work = Work::new();
    let schema = work.write(
        "one.graphql",
        "type T0 @wes_table {\n  id: Int! @wes_pk\n}\n",
    );
    let started = Instant::now();
    let run = work.wesley(&[
        "drift",
        "--schema",
        &schema.display().to_string(),
        "--database-url",
        &db.url,
    ]);
    let took = started.elapsed();
    run.expect_code(3, "wesley drift on a database with more tables");
    assert!(
        run.stdout
            .contains("table public.t599 exists but is not expected"),
        "{}",
        run.stdout.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    // The queries alone (the rest of `wesley drift` is JSON and hashing in a debug build).
    for (what, sql) in [
        ("CANONICAL_QUERY", CANONICAL_QUERY),
        ("LIVE_QUERY", LIVE_QUERY),
    ] {
        let started = Instant::now();
        let out = db.psql(sql);
        let query = started.elapsed();
        assert!(out.len() > 100_000, "{what}");
        eprintln!("{tables} tables: wesley drift {took:?}, {what} {query:?}");
        assert!(
            query < Duration::from_millis(1500),
            "reading the catalog of {tables} tables with {what} took {query:?} (wesley drift: {took:?})"
        );
    }
}
