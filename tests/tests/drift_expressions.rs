//! Drift in what the schema hash does not cover: SQL expressions (defaults, generation
//! expressions, check bodies, partial-index predicates, policy USING and WITH CHECK) and a
//! policy's roles and command. A database changed by hand in any of them (or a generated
//! column made plain) must be reported by `wesley drift` and refused by `wesley apply`,
//! with the object named; the untouched database matches.

use wesley_e2e::exec::{database_with, Work};
use wesley_e2e::TestDb;

const SCHEMA: &str = r#"
type Doc @wes_table
  @wes_rls(using: "owner = current_user", check: "owner = current_user AND score >= 0", name: "doc", roles: ["wesley_drift_reader"])
  @wes_index(columns: ["status"], where: "status <> 'archived'", name: "doc_live_idx") {
  id: Int! @wes_pk
  owner: String! @wes_default(expr: "current_user")
  status: String! @wes_default(value: "draft") @wes_check(expr: "status IN ('draft', 'live', 'archived')", name: "doc_status_check")
  score: Int @wes_check(expr: "score >= 0", name: "doc_score_check")
  scoreTwice: Int @wes_generated(expr: "score * 2")
}
"#;

/// The same schema with one more column: a plan from SCHEMA to it must refuse to start
/// on a drifted database.
const NEXT: &str = r#"
type Doc @wes_table
  @wes_rls(using: "owner = current_user", check: "owner = current_user AND score >= 0", name: "doc", roles: ["wesley_drift_reader"])
  @wes_index(columns: ["status"], where: "status <> 'archived'", name: "doc_live_idx") {
  id: Int! @wes_pk
  owner: String! @wes_default(expr: "current_user")
  status: String! @wes_default(value: "draft") @wes_check(expr: "status IN ('draft', 'live', 'archived')", name: "doc_status_check")
  score: Int @wes_check(expr: "score >= 0", name: "doc_score_check")
  scoreTwice: Int @wes_generated(expr: "score * 2")
  note: String
}
"#;

fn setup(work: &Work, prefix: &str) -> TestDb {
    let schema = work.write("schema.graphql", SCHEMA);
    let db = wesley_e2e::fresh_db(&format!("{prefix}_roles"));
    // Roles belong to the cluster: create the one the schema names, once.
    db.psql("DO $$ BEGIN CREATE ROLE wesley_drift_reader NOLOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;");
    database_with(prefix, work, &schema, "")
}

fn drift(work: &Work, db: &TestDb) -> (Option<i32>, String) {
    work.drift(&work.path("schema.graphql"), db)
}

#[test]
fn a_matching_database_matches() {
    let work = Work::new();
    let db = setup(&work, "dx_match");
    let (code, out) = drift(&work, &db);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn every_hand_made_change_of_an_expression_is_drift() {
    // (what is changed, SQL that changes it, words the report must contain)
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "policy USING",
            "ALTER POLICY doc_all_policy ON public.doc USING (true)",
            &["policy doc_all_policy on public.doc USING"],
        ),
        (
            "policy WITH CHECK",
            "ALTER POLICY doc_all_policy ON public.doc WITH CHECK (owner = current_user)",
            &["policy doc_all_policy on public.doc WITH CHECK"],
        ),
        (
            "check body",
            "ALTER TABLE public.doc DROP CONSTRAINT doc_score_check, ADD CONSTRAINT doc_score_check CHECK (score >= -1)",
            &["check doc_score_check on public.doc"],
        ),
        (
            "partial index predicate",
            "DROP INDEX public.doc_live_idx; CREATE INDEX doc_live_idx ON public.doc USING btree (status) WHERE status <> 'draft'",
            &["index predicate doc_live_idx on public.doc"],
        ),
        (
            "default expression",
            "ALTER TABLE public.doc ALTER COLUMN owner SET DEFAULT session_user",
            &["default owner on public.doc"],
        ),
        (
            "generation expression",
            "ALTER TABLE public.doc DROP COLUMN score_twice, ADD COLUMN score_twice integer GENERATED ALWAYS AS (score * 3) STORED",
            &["generated score_twice on public.doc"],
        ),
        (
            "generated column made plain",
            "ALTER TABLE public.doc ALTER COLUMN score_twice DROP EXPRESSION",
            &["column public.doc.score_twice is not a generated column"],
        ),
        (
            "policy roles",
            "ALTER POLICY doc_all_policy ON public.doc TO PUBLIC",
            &["policy doc_all_policy on public.doc", "PUBLIC"],
        ),
        (
            "policy command",
            "DROP POLICY doc_all_policy ON public.doc; CREATE POLICY doc_all_policy ON public.doc FOR SELECT TO wesley_drift_reader USING (owner = current_user)",
            &["policy doc_all_policy on public.doc", "SELECT"],
        ),
    ];
    for (i, (what, sql, words)) in cases.iter().enumerate() {
        let work = Work::new();
        let db = setup(&work, &format!("dx_{i}"));
        db.psql(sql);
        let (code, out) = drift(&work, &db);
        assert_eq!(code, Some(3), "{what}: wesley drift must report it:\n{out}");
        for w in *words {
            assert!(out.contains(w), "{what}: the report must say {w:?}:\n{out}");
        }
        // A plan that starts from the schema refuses to run on this database.
        let (plan, _) = work.plan(
            &work.path("schema.graphql"),
            &work.write("next.graphql", NEXT),
            "plan.json",
        );
        let run = work.apply(&plan, &db, &[]);
        run.expect_code(3, &format!("{what}: apply on a drifted database"));
        assert!(
            run.stderr.contains("drift")
                && words
                    .iter()
                    .all(|w| run.stdout.contains(w) || run.stderr.contains(w)),
            "{what}: apply must name the difference:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        assert_eq!(
            db.psql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'doc' AND column_name = 'note'").trim(),
            "0",
            "{what}: nothing ran"
        );
    }
}

/// `exprs::differences` of `expected` on `db`, through the library.
fn differences(db: &TestDb, expected: &[wesley_planner::canon::TableExpressions]) -> Vec<String> {
    differences_on(db, expected, 1)
}

/// `exprs::differences_on` `lanes` connections of `expected` on `db`; checks that no
/// connection is left in a transaction.
fn differences_on(
    db: &TestDb,
    expected: &[wesley_planner::canon::TableExpressions],
    lanes: usize,
) -> Vec<String> {
    db.with_client(|conn, first| async move {
        let mut clients = vec![first];
        for _ in 1..lanes {
            clients.push(conn.connect_pinned(None).await.expect("connect").0);
        }
        let refs: Vec<&tokio_postgres::Client> = clients.iter().collect();
        let found = wesley::apply::exprs::differences_on(&refs, expected)
            .await
            .expect("differences");
        let open = clients[0]
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
                &[],
            )
            .await
            .expect("pg_stat_activity");
        assert_eq!(open.get::<_, i64>(0), 0, "a connection was left in a transaction");
        found
    })
}

/// `exprs::alongside` of `expected` on `db`, beside a read (`SELECT 1` on the caller's
/// connection), its own connections opened with the settings of `lanes_url`.
fn alongside(
    db: &TestDb,
    lanes_url: &str,
    expected: &[wesley_planner::canon::TableExpressions],
) -> (i32, Vec<String>) {
    db.with_client(|_, client| async move {
        use wesley::apply::connect::ConnInfo;
        let lanes = ConnInfo::resolve(Some(lanes_url)).expect("lanes conn");
        let read = async {
            client
                .query_one("SELECT 1", &[])
                .await
                .expect("read")
                .get(0)
        };
        let none = wesley::apply::exprs::Known::default();
        let (read, found) = wesley::apply::exprs::alongside(
            &lanes,
            Some("wesley-test"),
            &client,
            expected,
            &none,
            read,
        )
        .await;
        (read, found.expect("differences").0)
    })
}

/// Expressions normalised by one check and reused by a later one: a table that drifted
/// in between is still reported (confirmed on the table alone), one that did not is not,
/// and a table whose expected expressions changed is normalised afresh.
#[test]
fn reused_normalised_expressions_still_find_drift() {
    use wesley_planner::canon::{NamedExpr, TableExpressions};
    let db = wesley_e2e::fresh_db("drift_expr_known");
    db.psql(
        "CREATE TABLE public.a (x int DEFAULT 1, CONSTRAINT a_x CHECK (x > 0));
         CREATE TABLE public.b (y text DEFAULT 'n');
         CREATE TABLE public.c (z int DEFAULT 5);
         CREATE TABLE public.d (w int DEFAULT 7);",
    );
    let named = |name: &str, text: &str| NamedExpr {
        name: name.into(),
        text: text.into(),
    };
    let table = |t: &str, defaults, checks| TableExpressions {
        table: t.into(),
        defaults,
        generated: vec![],
        checks,
        index_predicates: vec![],
        policies: vec![],
        index_keys: vec![],
    };
    let expected = vec![
        table(
            "public.a",
            vec![named("x", "1")],
            vec![named("a_x", "x > 0")],
        ),
        table("public.b", vec![named("y", "'n'")], vec![]),
        table("public.c", vec![named("z", "5")], vec![]),
        table("public.d", vec![named("w", "7")], vec![]),
    ];
    db.with_client(|_, c| async move {
        let none = wesley::apply::exprs::Known::default();
        let (found, known) = wesley::apply::exprs::differences_known(&[&c], &expected, &none)
            .await
            .expect("first check");
        assert!(found.is_empty(), "{found:#?}");
        assert_eq!(known.len(), 4, "every table matched, every one is known");
        c.batch_execute(
            "ALTER TABLE public.a DROP CONSTRAINT a_x, ADD CONSTRAINT a_x CHECK (x > 1);
             ALTER TABLE public.b ALTER COLUMN y SET DEFAULT 'm'",
        )
        .await
        .expect("drift");
        // c now expects 6: the form known for 5 no longer applies.
        let mut expected = expected;
        expected[2].defaults[0].text = "6".into();
        let (found, _) = wesley::apply::exprs::differences_known(&[&c], &expected, &known)
            .await
            .expect("second check");
        assert_eq!(
            found,
            vec![
                "check a_x on public.a is ((x > 1)) instead of ((x > 0))".to_string(),
                "default y on public.b is ('m'::text) instead of ('n'::text)".to_string(),
                "default z on public.c is (5) instead of (6)".to_string(),
            ]
        );
    });
}

#[test]
fn an_expression_the_server_refuses_is_named_and_the_next_ones_still_compared() {
    use wesley_planner::canon::{NamedExpr, TableExpressions};
    let db = wesley_e2e::fresh_db("drift_expr_refused");
    db.psql("CREATE TABLE public.t (a int DEFAULT 1, b int DEFAULT 2);");
    let named = |name: &str, text: &str| NamedExpr {
        name: name.into(),
        text: text.into(),
    };
    let expected = vec![TableExpressions {
        table: "public.t".into(),
        defaults: vec![named("a", "no_such_function()"), named("b", "3")],
        generated: vec![],
        checks: vec![],
        index_predicates: vec![],
        policies: vec![],
        index_keys: vec![],
    }];
    let found = differences(&db, &expected);
    assert!(
        found
            .iter()
            .any(|d| d
                .starts_with("default a on public.t: the schema's expression does not compile")),
        "{found:#?}"
    );
    assert!(
        found
            .iter()
            .any(|d| d == "default b on public.t is (2) instead of (3)"),
        "{found:#?}"
    );
    assert_eq!(found.len(), 2, "{found:#?}");
}

/// Tables are compared in batches, one transaction each: tables with defaults only on one
/// temporary table, the others on copies named like them. Tables of the same name in two
/// schemas, more tables than one batch, defaults of several types, a missing table and
/// expressions the server refuses in the middle must each be reported for their own table,
/// in the order given.
#[test]
fn many_tables_of_the_same_names_in_two_schemas_are_each_compared() {
    use wesley_planner::canon::{NamedExpr, TableExpressions};
    let db = wesley_e2e::fresh_db("drift_expr_many");
    let n = 120;
    // Odd tables have a check too; even ones only defaults (an int and a text one).
    let mut ddl = String::from("CREATE SCHEMA a; CREATE SCHEMA b;\n");
    for i in 0..n {
        for s in ["a", "b"] {
            // b.t7 and a.t8 have drifted: their default is one more than the schema's.
            let default = if (s, i) == ("b", 7) || (s, i) == ("a", 8) {
                i + 1
            } else {
                i
            };
            let check = if i % 2 == 1 {
                format!(", CONSTRAINT t{i}_x CHECK (x >= {i})")
            } else {
                String::new()
            };
            ddl.push_str(&format!(
                "CREATE TABLE {s}.t{i} (x int DEFAULT {default}, y varchar(20) DEFAULT 'n/a'{check});\n"
            ));
        }
    }
    db.psql(&ddl);
    let named = |name: &str, text: &str| NamedExpr {
        name: name.into(),
        text: text.into(),
    };
    let table = |s: &str, i: usize| TableExpressions {
        table: format!("{s}.t{i}"),
        defaults: vec![named("x", &i.to_string()), named("y", "'n/a'")],
        generated: vec![],
        checks: if i % 2 == 1 {
            vec![named(&format!("t{i}_x"), &format!("x >= {i}"))]
        } else {
            vec![]
        },
        index_predicates: vec![],
        policies: vec![],
        index_keys: vec![],
    };
    let mut expected = Vec::new();
    for i in 0..n {
        expected.push(table("a", i));
        expected.push(table("b", i));
    }
    // A table that is not there (skipped), and two whose expression cannot compile: one
    // with a check (b.t50), one with defaults only (a.t52).
    expected.insert(60, table("a", n + 5));
    let refused = ["b.t50", "a.t52"];
    for e in &mut expected {
        if refused.contains(&e.table.as_str()) {
            e.defaults[0].text = "no_such_function()".into();
        }
    }
    let found = differences(&db, &expected);
    // Shared among connections, the batches give the same sentences in the same order.
    for lanes in [2, 3] {
        assert_eq!(
            differences_on(&db, &expected, lanes),
            found,
            "{lanes} connections"
        );
    }
    // Beside a catalog read: on connections of its own, or on the caller's when none
    // opens (settings that reach no server).
    for url in [
        db.url.clone(),
        "postgresql://postgres@127.0.0.1:1/x?connect_timeout=2".into(),
    ] {
        let (read, beside) = alongside(&db, &url, &expected);
        assert_eq!(read, 1, "{url}");
        assert_eq!(beside, found, "{url}");
    }
    assert_eq!(found.len(), 4, "{found:#?}");
    assert_eq!(found[0], "default x on b.t7 is (8) instead of (7)");
    assert_eq!(found[1], "default x on a.t8 is (9) instead of (8)");
    for (k, table) in refused.iter().enumerate() {
        assert!(
            found[2 + k].starts_with(&format!(
                "default x on {table}: the schema's expression does not compile"
            )),
            "{found:#?}"
        );
    }
}

/// A policy that names another table of the same batch, with its schema: while the
/// batch's temporary copies exist, the server prints that name differently (the copy
/// hides the table), so a difference found in a batch is confirmed on the table alone.
/// A matching database has no differences.
#[test]
fn a_policy_naming_another_table_of_the_batch_matches() {
    use wesley_planner::canon::{NamedExpr, PolicyExpr, TableExpressions};
    let db = wesley_e2e::fresh_db("drift_expr_other_table");
    db.psql(
        "CREATE TABLE public.memberships (a_id int, role text DEFAULT 'member');
         CREATE TABLE public.a (id int DEFAULT 0);
         ALTER TABLE public.a ENABLE ROW LEVEL SECURITY;
         CREATE POLICY a_members ON public.a USING (EXISTS (SELECT 1 FROM public.memberships m WHERE m.a_id = a.id));",
    );
    let empty = |table: &str| TableExpressions {
        table: table.into(),
        defaults: vec![],
        generated: vec![],
        checks: vec![],
        index_predicates: vec![],
        policies: vec![],
        index_keys: vec![],
    };
    let named = |name: &str, text: &str| NamedExpr {
        name: name.into(),
        text: text.into(),
    };
    let mut a = empty("public.a");
    a.defaults.push(named("id", "0"));
    a.policies.push(PolicyExpr {
        name: "a_members".into(),
        using: Some("EXISTS (SELECT 1 FROM public.memberships m WHERE m.a_id = a.id)".into()),
        check: None,
    });
    // A check too, so that the table is copied in the same round as `a` (not absent
    // live: only expressions on both sides are compared).
    let mut m = empty("public.memberships");
    m.checks.push(named("memberships_role_check", "role <> ''"));
    m.defaults.push(named("role", "'member'"));
    let found = differences(&db, &[a, m]);
    assert!(found.is_empty(), "{found:#?}");
}
