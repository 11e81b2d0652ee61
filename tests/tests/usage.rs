//! `wesley usage` and the check before a drop, on a PostgreSQL cluster with
//! pg_stat_statements preloaded: the statement corpus (tests/data/usage/corpus.sql) is
//! run, read back normalised, parsed and resolved, and compared with what PostgreSQL
//! itself says (with a column or table dropped, does the statement still prepare?); a
//! drop of a column a recorded statement names is refused naming it, a drop of an
//! unnamed one runs; `*` lowers the confidence; without the extension nothing is claimed.

use std::collections::BTreeSet;
use std::fmt::Write;
use std::sync::OnceLock;
use wesley::cluster::{Cluster, ClusterOptions};
use wesley::usage::catalog::{Catalog, TableName};
use wesley::usage::refs::{analyse, Parsed};
use wesley_e2e::exec::{database_in, database_with, load_schema, Work};
use wesley_e2e::{workspace_root, TestDb};
use wesley_planner::sql::{ident, qualified};

fn pgss_cluster() -> &'static Cluster {
    static C: OnceLock<Cluster> = OnceLock::new();
    C.get_or_init(|| {
        Cluster::start(&ClusterOptions {
            settings: vec!["shared_preload_libraries = 'pg_stat_statements'".into()],
            ..ClusterOptions::default()
        })
        .unwrap_or_else(|e| panic!("cluster with pg_stat_statements: {e}"))
    })
}

fn data(name: &str) -> std::path::PathBuf {
    workspace_root().join("tests/data/usage").join(name)
}

/// The corpus's statements, in order.
fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(data("corpus.sql")).unwrap();
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in text.lines() {
        if line.starts_with("--") || line.trim().is_empty() {
            continue;
        }
        cur.push_str(line);
        cur.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(cur.trim().trim_end_matches(';').trim().to_string());
            cur.clear();
        }
    }
    out
}

fn client(db: &TestDb, rt: &tokio::runtime::Runtime) -> tokio_postgres::Client {
    rt.block_on(
        wesley::apply::connect::ConnInfo::parse(&db.url)
            .unwrap()
            .connect(),
    )
    .unwrap()
}

/// Statements PostgreSQL can PREPARE: the oracle asks it about those.
fn preparable(sql: &str) -> bool {
    let first = sql.split_whitespace().next().unwrap_or("").to_uppercase();
    [
        "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "WITH", "VALUES", "TABLE",
    ]
    .contains(&first.as_str())
}

/// For one dropped object, how each statement fares: `Ok(result columns)` or the
/// SQLSTATE of the error.
type Outcomes = Vec<Option<Result<i64, String>>>;

fn prepare_all(
    rt: &tokio::runtime::Runtime,
    c: &tokio_postgres::Client,
    drop: Option<&str>,
    stmts: &[String],
) -> Outcomes {
    rt.block_on(async {
        c.batch_execute("BEGIN").await.unwrap();
        if let Some(d) = drop {
            c.batch_execute(d).await.unwrap();
        }
        let mut out = Vec::new();
        for s in stmts {
            if !preparable(s) {
                out.push(None);
                continue;
            }
            c.batch_execute("SAVEPOINT o").await.unwrap();
            match c.prepare(s).await {
                Ok(st) => {
                    c.batch_execute("RELEASE SAVEPOINT o").await.unwrap();
                    out.push(Some(Ok(st.columns().len() as i64)));
                }
                Err(e) => {
                    let code = e.code().map(|c| c.code().to_string()).unwrap_or_default();
                    c.batch_execute("ROLLBACK TO SAVEPOINT o").await.unwrap();
                    out.push(Some(Err(code)));
                }
            }
        }
        c.batch_execute("ROLLBACK").await.unwrap();
        out
    })
}

fn names(set: &BTreeSet<(TableName, String)>) -> String {
    set.iter()
        .map(|(t, c)| format!("{}.{c}", t.name))
        .collect::<Vec<_>>()
        .join(" ")
}

fn tables(set: &BTreeSet<TableName>) -> String {
    set.iter()
        .map(|t| t.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn corpus_references_agree_with_postgresql() {
    let work = Work::new();
    let schema_path = data("schema.graphql");
    let seed = std::fs::read_to_string(data("seed.sql")).unwrap();
    let db = database_in(pgss_cluster(), "usage_corpus", &work, &schema_path, &seed);
    db.psql("CREATE EXTENSION pg_stat_statements");
    let catalog = Catalog::from_model(&load_schema(&schema_path));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stmts = corpus();
    assert!(stmts.len() > 120, "{} statements", stmts.len());

    // The oracle first, on the seeded database: what breaks when each column or table is
    // dropped. Statements that fail as they are (none should) are left out.
    let c = client(&db, &rt);
    let base = prepare_all(&rt, &c, None, &stmts);
    for (s, b) in stmts.iter().zip(&base) {
        assert!(
            !matches!(b, Some(Err(_))),
            "PostgreSQL cannot prepare {s}: {b:?}"
        );
    }
    let n = stmts.len();
    let mut named: Vec<BTreeSet<(TableName, String)>> = vec![BTreeSet::new(); n];
    let mut starred: Vec<BTreeSet<TableName>> = vec![BTreeSet::new(); n];
    let mut reached: Vec<BTreeSet<TableName>> = vec![BTreeSet::new(); n];
    for (t, cols) in catalog.tables() {
        for col in cols {
            let drop = format!(
                "ALTER TABLE {} DROP COLUMN {} CASCADE",
                qualified(&t.schema, &t.name),
                ident(col)
            );
            for (i, o) in prepare_all(&rt, &c, Some(&drop), &stmts).iter().enumerate() {
                match (o, &base[i]) {
                    (Some(Err(code)), _) if code == "42703" => {
                        named[i].insert((t.clone(), col.clone()));
                    }
                    (Some(Err(_)), _) => {
                        starred[i].insert(t.clone());
                    }
                    (Some(Ok(k)), Some(Ok(b))) if k != b => {
                        starred[i].insert(t.clone());
                    }
                    _ => {}
                }
            }
        }
        let drop = format!("DROP TABLE {} CASCADE", qualified(&t.schema, &t.name));
        for (i, o) in prepare_all(&rt, &c, Some(&drop), &stmts).iter().enumerate() {
            if matches!(o, Some(Err(code)) if code == "42P01") {
                reached[i].insert(t.clone());
            }
        }
    }

    // Then the workload, one statement at a time, each read back as pg_stat_statements
    // normalised it.
    let mut normalised = Vec::new();
    rt.block_on(async {
        for s in &stmts {
            c.batch_execute(RESET_THIS_DATABASE)
                .await
                .unwrap();
            if s.starts_with("COPY") {
                // COPY ... TO STDOUT streams: psql reads it (the statistics are the server's).
                db.psql(&format!("{s};"));
            } else {
                c.batch_execute(s)
                    .await
                    .unwrap_or_else(|e| panic!("{s}: {e}"));
            }
            let rows = c
                .query("SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%pg_stat_statements_reset%'", &[])
                .await
                .unwrap();
            assert_eq!(rows.len(), 1, "one entry for {s}");
            normalised.push(rows[0].get::<_, String>(0));
        }
    });

    let mut out = String::new();
    let mut missed = Vec::new();
    for i in 0..n {
        let q = &normalised[i];
        let _ = writeln!(out, "{q}");
        let Parsed::Statement { refs, .. } = analyse(q, &catalog) else {
            missed.push(format!("not parsed: {q}"));
            let _ = writeln!(out, "  NOT PARSED\n");
            continue;
        };
        let _ = writeln!(out, "  columns: {}", names(&refs.columns));
        if !refs.stars.is_empty() {
            let _ = writeln!(out, "  every column of: {}", tables(&refs.stars));
        }
        let _ = writeln!(out, "  tables: {}", tables(&refs.tables));
        if base[i].is_none() {
            let _ = writeln!(out, "  (PostgreSQL cannot PREPARE it: not checked)\n");
            continue;
        }
        // A column PostgreSQL needs that was not found is a miss (an unused claim that is
        // wrong); one found that PostgreSQL does not need is an over-report (safe).
        let miss_cols: BTreeSet<_> = named[i].difference(&refs.columns).cloned().collect();
        let extra_cols: BTreeSet<_> = refs.columns.difference(&named[i]).cloned().collect();
        let miss_stars: BTreeSet<_> = starred[i]
            .iter()
            .filter(|t| !refs.stars.contains(t) && !named[i].iter().any(|(n, _)| n == *t))
            .cloned()
            .collect();
        let miss_tables: BTreeSet<_> = reached[i].difference(&refs.tables).cloned().collect();
        let extra_tables: BTreeSet<_> = refs.tables.difference(&reached[i]).cloned().collect();
        if miss_cols.is_empty() && miss_stars.is_empty() && miss_tables.is_empty() {
            let _ = writeln!(out, "  PostgreSQL agrees");
        } else {
            missed.push(q.clone());
            let _ = writeln!(
                out,
                "  MISSED: columns {} | every column of {} | tables {}",
                names(&miss_cols),
                tables(&miss_stars),
                tables(&miss_tables)
            );
        }
        if !extra_cols.is_empty() || !extra_tables.is_empty() {
            let _ = writeln!(
                out,
                "  over-reported (PostgreSQL would not fail): columns {} | tables {}",
                names(&extra_cols),
                tables(&extra_tables)
            );
        }
        let _ = writeln!(out);
    }
    expect_test::expect_file!["../data/usage/corpus.out"].assert_eq(&out);
    assert!(
        missed.is_empty(),
        "references PostgreSQL needs were missed:\n{}",
        missed.join("\n")
    );
}

const V1: &str = r#"
type Member @wes_table {
  id: Int! @wes_pk
  email: String!
  legacyFlags: Int
  nickname: String @wes_index
}
type Tag @wes_table {
  id: Int! @wes_pk
  name: String!
  note: String
}
"#;

/// V1 without `legacyFlags`.
const NO_FLAGS: &str = r#"
type Member @wes_table {
  id: Int! @wes_pk
  email: String!
  nickname: String @wes_index
}
type Tag @wes_table {
  id: Int! @wes_pk
  name: String!
  note: String
}
"#;

/// V1 without `nickname`.
const NO_NICKNAME: &str = r#"
type Member @wes_table {
  id: Int! @wes_pk
  email: String!
  legacyFlags: Int
}
type Tag @wes_table {
  id: Int! @wes_pk
  name: String!
  note: String
}
"#;

const SEED: &str = "INSERT INTO member (id, email, legacy_flags, nickname) VALUES (1, 'a@example.com', 0, 'a'), (2, 'b@example.com', 1, 'b'); INSERT INTO tag (id, name) VALUES (1, 'x');";

/// Resets the statistics of the current database only: the tests share one cluster and
/// run in parallel, and a reset without arguments would wipe every test's workload.
const RESET_THIS_DATABASE: &str = "SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)";

/// A database of V1 with pg_stat_statements, its statistics reset, then `workload` run.
fn with_workload(work: &Work, prefix: &str, workload: &str) -> TestDb {
    let v1 = work.write("v1.graphql", V1);
    let db = database_in(pgss_cluster(), prefix, work, &v1, SEED);
    db.psql("CREATE EXTENSION pg_stat_statements");
    db.psql(RESET_THIS_DATABASE);
    db.psql(workload);
    db
}

fn apply_allowing(
    work: &Work,
    plan: &std::path::Path,
    db: &TestDb,
    allow: &str,
) -> wesley_e2e::exec::Run {
    let checkpoints = work.checkpoint_dir().display().to_string();
    work.wesley(&[
        "apply",
        &plan.display().to_string(),
        "--database-url",
        &db.url,
        "--allow",
        allow,
        "--checkpoint-dir",
        &checkpoints,
    ])
}

fn has_column(db: &TestDb, table: &str, column: &str) -> bool {
    db.psql(&format!("SELECT count(*) FROM information_schema.columns WHERE table_name = '{table}' AND column_name = '{column}'")).trim() == "1"
}

#[test]
fn a_drop_of_a_column_still_in_use_is_refused_naming_the_statement() {
    let work = Work::new();
    let workload = "SELECT id, legacy_flags FROM member WHERE id = 1;\n".repeat(5);
    let db = with_workload(&work, "usage_refused", &workload);
    let (plan, _) = work.plan_sdl(V1, NO_FLAGS, "drop_flags");

    let run = apply_allowing(&work, &plan, &db, "deletes_data,breaks_clients");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(3), "{out}");
    assert!(out.contains("still_in_use"), "{out}");
    assert!(
        out.contains("column public.member.legacy_flags is still used"),
        "{out}"
    );
    assert!(
        out.contains("`SELECT id, legacy_flags FROM member WHERE id = $1` (5 calls)"),
        "{out}"
    );
    assert!(out.contains("--allow still_in_use"), "{out}");
    assert!(has_column(&db, "member", "legacy_flags"), "nothing may run");

    let run = apply_allowing(
        &work,
        &plan,
        &db,
        "deletes_data,breaks_clients,still_in_use",
    );
    let out = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "{out}");
    assert!(out.contains("accepted with --allow still_in_use"), "{out}");
    assert!(!has_column(&db, "member", "legacy_flags"));
}

#[test]
fn a_drop_of_a_column_no_statement_names_runs() {
    let work = Work::new();
    let db = with_workload(
        &work,
        "usage_unused",
        "SELECT id, email, legacy_flags FROM member WHERE id = 1;",
    );
    let (plan, _) = work.plan_sdl(V1, NO_NICKNAME, "drop_nickname");
    let run = apply_allowing(&work, &plan, &db, "deletes_data,breaks_clients");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "{out}");
    // The statistics are seconds old: the check says so rather than vouching for it.
    assert!(
        out.contains("column public.member.nickname: no statement recorded since"),
        "{out}"
    );
    assert!(out.contains("confidence low"), "{out}");
    assert!(
        out.contains("less than the minimum window of 7 days"),
        "{out}"
    );
    assert!(!has_column(&db, "member", "nickname"));
}

fn usage_json(work: &Work, db: &TestDb, extra: &[&str]) -> serde_json::Value {
    let schema = work.write("v1.graphql", V1).display().to_string();
    let mut args = vec![
        "usage",
        "--schema",
        &schema,
        "--database-url",
        &db.url,
        "--json",
    ];
    args.extend_from_slice(extra);
    let run = work.wesley(&args);
    assert_eq!(run.code, Some(0), "{}{}", run.stdout, run.stderr);
    serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

fn column<'a>(report: &'a serde_json::Value, table: &str, column: &str) -> &'a serde_json::Value {
    report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .and_then(|t| {
            t["columns"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["column"] == column)
        })
        .unwrap_or_else(|| panic!("{table}.{column} in {report:#}"))
}

#[test]
fn select_star_lowers_the_confidence() {
    let work = Work::new();
    let db = with_workload(
        &work,
        "usage_star",
        "SELECT id, email FROM member WHERE id = 1; SELECT * FROM tag WHERE id = 1;",
    );
    let r = usage_json(&work, &db, &["--min-window", "0"]);
    assert_eq!(r["available"], true);
    // Named: used, with the statement.
    let email = column(&r, "public.member", "email");
    assert!(email["unused"].is_null(), "{email:#}");
    assert_eq!(
        email["statements"][0]["query"],
        "SELECT id, email FROM member WHERE id = $1"
    );
    // Never named, no `*` on member: high.
    assert_eq!(
        column(&r, "public.member", "legacy_flags")["unused"]["confidence"],
        "high"
    );
    // Never named, but `SELECT *` reads every column of tag: low, saying why.
    let note = &column(&r, "public.tag", "note")["unused"];
    assert_eq!(note["confidence"], "low", "{note:#}");
    assert!(
        note["reasons"][0]["text"]
            .as_str()
            .unwrap()
            .contains("SELECT * FROM tag WHERE id = $1"),
        "{note:#}"
    );
    // The index on nickname was never scanned; the primary keys enforce a constraint.
    let idx = r["unused_indexes"].as_array().unwrap();
    assert!(
        idx.iter()
            .any(|i| i["index"] == "member_nickname_idx" && i["enforces"] == false),
        "{idx:?}"
    );
    for i in idx
        .iter()
        .filter(|i| i["index"].as_str().unwrap().ends_with("_pkey"))
    {
        assert_eq!(i["enforces"], true, "{i}");
    }
    // The default window (7 days) makes every claim low on statistics this young.
    let r = usage_json(&work, &db, &[]);
    assert_eq!(
        column(&r, "public.member", "legacy_flags")["unused"]["confidence"],
        "low"
    );
}

#[test]
fn without_pg_stat_statements_nothing_is_claimed() {
    // The shared test cluster does not preload pg_stat_statements.
    let work = Work::new();
    let v1 = work.write("v1.graphql", V1);
    let db = database_with("usage_none", &work, &v1, SEED);
    let schema = v1.display().to_string();
    let usage =
        |work: &Work| work.wesley(&["usage", "--schema", &schema, "--database-url", &db.url]);
    let run = usage(&work);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr
            .contains("the pg_stat_statements extension is not installed"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Nothing is reported unused"),
        "{}",
        run.stderr
    );
    assert!(!run.stdout.contains("unused"), "{}", run.stdout);

    db.psql("CREATE EXTENSION pg_stat_statements");
    let run = usage(&work);
    assert_eq!(run.code, Some(1), "{}{}", run.stdout, run.stderr);
    assert!(run.stderr.contains("not loaded"), "{}", run.stderr);

    let (plan, _) = work.plan_sdl(V1, NO_FLAGS, "drop_flags");
    let run = apply_allowing(&work, &plan, &db, "deletes_data,breaks_clients");
    let out = format!("{}{}", run.stdout, run.stderr);
    assert_eq!(run.code, Some(0), "{out}");
    assert!(
        out.contains("could not check whether the objects this plan drops are still used"),
        "{out}"
    );
    assert!(out.contains("Nothing is known about their use"), "{out}");
    assert!(!out.contains("no statement recorded since"), "{out}");
}
