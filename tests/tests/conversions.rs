//! Value conversions of shadow-column type changes, on a real PostgreSQL.
//!
//! * `every_pair_converts_exactly_or_reports`: every (from, to) pair of a representative
//!   set of types that the planner accepts gets its conversion function created and
//!   probed (so a missing cast fails here, not in a trigger), and is run on sample values
//!   of the old type. The outcome of every pair and value, the converted text or
//!   `REPORTED` (the function gives NULL, so the check step reports the row), is compared
//!   with `tests/data/conversions.out`, reviewed value by value: a value that converts
//!   exactly must come through unchanged, one that would change must be reported.
//! * The remaining tests run whole plans through the real executor paths (trigger,
//!   batched backfill, check, switch) for the kinds of lossy conversion, and check that a
//!   plan with a value that does not convert stops at the check and never switches.

use expect_test::expect_file;
use std::fmt::Write as _;
use wesley_e2e::exec::{database_with, Run, Work};
use wesley_e2e::{fresh_db, TestDb};
use wesley_planner::plan::convert;
use wesley_planner::sql::literal;
use wesley_planner::types::{parse_sql_type, BaseType, SqlType};

/// Types, as written in `@wes_type(sql:)` (enums by name), and sample values of each, as
/// SQL literals of that type.
const TYPES: &[(&str, &[&str])] = &[
    ("smallint", &["7", "-32768"]),
    ("integer", &["7", "40000", "2147483647"]),
    ("bigint", &["7", "9007199254740993"]),
    ("real", &["1.5", "0.1"]),
    ("double precision", &["1.5", "0.1", "1e20", "0.123456789"]),
    ("numeric", &["1.5", "1.005", "123456.789"]),
    ("numeric(6,2)", &["1.50", "9999.99"]),
    ("money", &["1.50"]),
    ("text", &[]),
    ("varchar(8)", &[]),
    ("char(4)", &[]),
    ("boolean", &["true", "false"]),
    ("date", &["2024-01-02"]),
    ("time", &["10:11:12.5"]),
    ("time(0)", &["10:11:12"]),
    ("timetz", &["10:11:12+02", "10:11:12+00"]),
    (
        "timestamp",
        &["2024-01-02 00:00:00", "2024-01-02 10:11:12.5"],
    ),
    ("timestamp(0)", &["2024-01-02 10:11:12"]),
    (
        "timestamptz",
        &["2024-01-02 00:00:00+00", "2024-01-02 10:11:12.5+02"],
    ),
    ("interval", &["1 day 02:03:04.5", "10:00:00"]),
    ("interval(0)", &["10:00:00"]),
    ("uuid", &["a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"]),
    ("jsonb", &["{\"a\": 1}"]),
    ("json", &["{\"a\":1, \"a\":2}"]),
    ("bytea", &["\\x4142"]),
    ("inet", &["10.1.2.3/8", "10.0.0.0/8"]),
    ("cidr", &["10.0.0.0/8"]),
    ("bit(4)", &["1010"]),
    ("varbit(8)", &["10", "10101010"]),
    ("slot", &["A", "LAST"]),
    ("slot_v2", &["A"]),
];

fn sql_type(name: &str) -> SqlType {
    match name {
        "slot" | "slot_v2" => SqlType::scalar(BaseType::Enum {
            schema: "public".into(),
            name: name.into(),
        }),
        other => parse_sql_type(other).unwrap_or_else(|e| panic!("{other}: {e}")),
    }
}

/// Text that parses as a value of the target type only by rounding it to the target's
/// precision (on top of the target's own samples).
const TEXT_ROUNDED: &[(&str, &[&str])] = &[
    ("numeric(6,2)", &["1.005"]),
    ("time(0)", &["10:11:12.5"]),
    ("timestamp(0)", &["2024-01-02 10:11:12.5"]),
    ("interval(0)", &["10:00:00.5"]),
    ("integer", &["1.5"]),
];

/// Sample values of `from` for a conversion to `to`: its own samples, or for a text type
/// the text of the target's samples, text that parses only by rounding, and text that is
/// not a value of the target.
fn samples(from: &str, to: &str) -> Vec<String> {
    let own = TYPES.iter().find(|(n, _)| *n == from).unwrap().1;
    if !own.is_empty() {
        return own.iter().map(|s| s.to_string()).collect();
    }
    let mut v: Vec<String> = TYPES
        .iter()
        .find(|(n, _)| *n == to)
        .unwrap()
        .1
        .iter()
        .map(|s| s.to_string())
        .collect();
    if v.is_empty() {
        v = vec!["abc".into(), "abcdefghij".into(), "ab ".into()];
    }
    if let Some((_, extra)) = TEXT_ROUNDED.iter().find(|(n, _)| *n == to) {
        v.extend(extra.iter().map(|s| s.to_string()));
    }
    v.push("not a value".into());
    // A sample must be a value of the old type as it is: no text longer than its limit.
    let limit = match sql_type(from).base {
        BaseType::Varchar { length: Some(n) } | BaseType::Char { length: Some(n) } => n as usize,
        _ => usize::MAX,
    };
    v.retain(|s| s.chars().count() <= limit);
    v
}

#[test]
fn every_pair_converts_exactly_or_reports() {
    let db = fresh_db("conversions");
    db.psql("CREATE TYPE public.slot AS ENUM ('A', 'B', 'LAST'); CREATE TYPE public.slot_v2 AS ENUM ('A', 'B');");
    let mut setup = String::new();
    let mut queries = String::new();
    let mut cases: Vec<(String, String, String)> = Vec::new();
    let mut refused: Vec<String> = Vec::new();
    let mut n = 0;
    for (from, _) in TYPES {
        for (to, _) in TYPES {
            let (a, b) = (sql_type(from), sql_type(to));
            if a == b {
                continue;
            }
            n += 1;
            let name = format!("conv_{n}");
            let (create, probe) = match convert::function(&name, &a, &b, None, "$w$") {
                Ok(f) => f,
                Err(why) => {
                    refused.push(format!("{from} -> {to}: {why}"));
                    continue;
                }
            };
            let _ = writeln!(setup, "{create};\n{probe};");
            for v in samples(from, to) {
                let value = format!("{}::{}", literal(&v), a.to_sql());
                let _ = writeln!(
                    queries,
                    "SELECT {}, coalesce({name}({value})::text, 'REPORTED');",
                    literal(&format!("{from} -> {to}: {v}"))
                );
                cases.push((from.to_string(), to.to_string(), v));
            }
        }
    }
    // Creating and probing every function: a conversion PostgreSQL cannot do fails here.
    db.psql(&setup);
    // Each sample is converted in a session whose settings differ from the defaults: the
    // conversion functions must not depend on them.
    let out = db.psql(&format!(
        "SET TimeZone = 'Asia/Kolkata'; SET DateStyle = 'SQL, DMY'; SET extra_float_digits = 3; SET IntervalStyle = 'sql_standard';\n{queries}"
    ));
    let mut golden = String::from(
        "# Every (from, to) pair the planner accepts among tests/tests/conversions.rs's types,\n# with each sample value of the old type and what the conversion gives: the new value's\n# text, or REPORTED (the row is reported by the check step and the switch never runs).\n",
    );
    for line in out.lines().filter(|l| l.contains('|')) {
        let (case, result) = line.split_once('|').unwrap();
        let _ = writeln!(golden, "{case} => {result}");
    }
    assert_eq!(
        golden.lines().count() - 3,
        cases.len(),
        "one result per sample"
    );
    golden.push_str("\n# Pairs the planner refuses without @wes_convert:\n");
    for r in &refused {
        let _ = writeln!(golden, "{r}");
    }
    expect_file!["../data/conversions.out"].assert_eq(&golden);
}

/// Applies `new` over `old` (seeded with `seed`) with `wesley apply`, every hazard allowed.
fn apply_pair(prefix: &str, old: &str, new: &str, seed: &str) -> (Work, TestDb, Run) {
    let work = Work::new();
    let o = work.write("old.graphql", old);
    let n = work.write("new.graphql", new);
    let db = database_with(prefix, &work, &o, seed);
    let (plan, _) = work.plan(&o, &n, "plan.json");
    let run = work.apply(&plan, &db, &[]);
    (work, db, run)
}

fn applied_steps(db: &TestDb) -> Vec<String> {
    db.psql("SELECT step_id FROM wesley.applied_steps ORDER BY step_id")
        .lines()
        .map(str::to_string)
        .collect()
}

const CFG_OLD: &str = "type Cfg @wes_table {\n  id: Int! @wes_pk\n  hash: String! @wes_type(sql: \"varchar(40)\")\n}\n";
const CFG_NEW: &str = "type Cfg @wes_table {\n  id: Int! @wes_pk\n  hash: String! @wes_type(sql: \"varchar(32)\")\n}\n";

/// The reported bug: narrowing `varchar(40)` to `varchar(32)` truncated a 40-character
/// value in the cast, passed the check and dropped the only full copy. Now the check
/// reports the row, the switch never runs, the full value is still there, and once the
/// value is fixed the same command finishes.
#[test]
fn narrowing_a_varchar_stops_at_the_check_and_keeps_the_data() {
    let long = "a".repeat(40);
    let seed =
        format!("INSERT INTO public.cfg VALUES (1, 'short'), (2, '{long}'), (3, 'also short');");
    let (work, db, run) = apply_pair("conv_varchar", CFG_OLD, CFG_NEW, &seed);
    run.expect_code(1, "a value that does not fit");
    assert!(
        run.stderr.contains("1 rows of public.cfg have values in hash that do not convert exactly to character varying(32)"),
        "the failure names the rows:\n{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("SELECT \"hash\" FROM \"public\".\"cfg\" WHERE"),
        "the failure gives a query that finds them:\n{}",
        run.stderr
    );
    let steps = applied_steps(&db);
    assert!(
        !steps.iter().any(|s| s.starts_with("swap_columns:")),
        "the switch must not run: {steps:?}"
    );
    assert!(
        !steps.iter().any(|s| s.starts_with("drop_column:")),
        "{steps:?}"
    );
    assert_eq!(
        db.psql("SELECT hash FROM public.cfg WHERE id = 2").trim(),
        long,
        "the full value is still in the old column"
    );
    // Writes keep working meanwhile, and the trigger converts them exactly.
    db.psql("INSERT INTO public.cfg VALUES (4, 'new row');");
    assert_eq!(
        db.psql("SELECT hash_new FROM public.cfg WHERE id = 4")
            .trim(),
        "new row"
    );
    // Fix the value, resume: the plan finishes and every value is intact.
    db.psql(&format!(
        "UPDATE public.cfg SET hash = '{}' WHERE id = 2",
        "b".repeat(32)
    ));
    let plan = work.path("plan.json");
    work.apply(&plan, &db, &[])
        .expect_code(0, "resume after fixing the value");
    assert_eq!(
        db.psql("SELECT string_agg(id || '=' || hash, ',' ORDER BY id) FROM public.cfg")
            .trim(),
        format!("1=short,2={},3=also short,4=new row", "b".repeat(32))
    );
}

/// `@wes_convert` says how to narrow on purpose: the conversion is used, and dropping the
/// old values is `deletes_data`, since they hold what the conversion did not keep.
#[test]
fn an_explicit_conversion_truncates_on_purpose() {
    let new = "type Cfg @wes_table {\n  id: Int! @wes_pk\n  hash: String! @wes_type(sql: \"varchar(32)\") @wes_convert(from: \"varchar(40)\", using: \"left(hash, 32)\")\n}\n";
    let long = "c".repeat(40);
    let seed = format!("INSERT INTO public.cfg VALUES (1, '{long}');");
    let (work, db, run) = apply_pair("conv_explicit", CFG_OLD, new, &seed);
    run.expect_code(0, "an explicit conversion");
    assert_eq!(
        db.psql("SELECT hash FROM public.cfg WHERE id = 1").trim(),
        "c".repeat(32)
    );
    let text = std::fs::read_to_string(work.path("plan.json")).unwrap();
    let plan = wesley_planner::planfile::parse_file(&text).unwrap();
    let drop = plan
        .steps
        .iter()
        .find(|s| s.id == "drop_column:public.cfg.hash_old")
        .expect("the old copy is dropped in the contract phase");
    assert!(
        drop.hazards
            .iter()
            .any(|h| h.kind == "deletes_data" && h.severity == "refuse"),
        "{drop:#?}"
    );
}

/// The other reported bug: an enum list changed to a new enum reported every row as not
/// converting (PostgreSQL has no enum-to-enum cast, and every error was swallowed). Now
/// values convert through their labels; only rows holding a value the new enum lacks are
/// reported.
#[test]
fn enum_lists_convert_through_their_labels() {
    let old = "enum Slot { A B LAST }\n\ntype Box @wes_table {\n  id: Int! @wes_pk\n  slots: [Slot!]!\n}\n";
    let new = "enum Slot { A B LAST }\n\nenum SlotV2 { A B }\n\ntype Box @wes_table {\n  id: Int! @wes_pk\n  slots: [SlotV2!]!\n}\n";
    let seed = "INSERT INTO public.box VALUES (1, '{A,B}'), (2, '{}'), (3, '{B,LAST}');";
    let (work, db, run) = apply_pair("conv_enum", old, new, seed);
    run.expect_code(1, "a row holds LAST");
    assert!(
        run.stderr.contains("1 rows of public.box"),
        "only the row with LAST is reported:\n{}",
        run.stderr
    );
    assert_eq!(
        db.psql("SELECT string_agg(id || ':' || coalesce(slots_new::text, 'NULL'), ' ' ORDER BY id) FROM public.box").trim(),
        "1:{A,B} 2:{} 3:NULL"
    );
    db.psql("UPDATE public.box SET slots = '{B}' WHERE id = 3;");
    let plan = work.path("plan.json");
    work.apply(&plan, &db, &[]).expect_code(0, "resume");
    assert_eq!(
        db.psql("SELECT string_agg(id || ':' || slots::text, ' ' ORDER BY id) FROM public.box")
            .trim(),
        "1:{A,B} 2:{} 3:{B}"
    );
    assert_eq!(
        db.psql("SELECT pg_typeof(slots)::text FROM public.box LIMIT 1")
            .trim(),
        "slot_v2[]"
    );
}

/// Errors that are not about a value (here a function that does not exist in an explicit
/// conversion) are not swallowed: the step fails with PostgreSQL's message before the
/// trigger exists, so application writes are never refused.
#[test]
fn a_broken_conversion_fails_with_the_servers_message_and_no_trigger() {
    let new = "type Cfg @wes_table {\n  id: Int! @wes_pk\n  hash: String! @wes_type(sql: \"varchar(32)\") @wes_convert(from: \"varchar(40)\", using: \"no_such_function(hash)\")\n}\n";
    let seed = "INSERT INTO public.cfg VALUES (1, 'x');";
    let (_work, db, run) = apply_pair("conv_broken", CFG_OLD, new, seed);
    run.expect_code(1, "a conversion calling a missing function");
    assert!(
        run.stderr.contains("no_such_function") && run.stderr.contains("42883"),
        "PostgreSQL's error, with its SQLSTATE:\n{}",
        run.stderr
    );
    assert_eq!(
        db.psql("SELECT count(*) FROM pg_trigger WHERE tgrelid = 'public.cfg'::regclass AND NOT tgisinternal").trim(),
        "0"
    );
    db.psql("INSERT INTO public.cfg VALUES (2, 'still writable');");
}

/// Kinds of silent change on a real table through the whole plan: timestamptz to date,
/// double to real, numeric scale, float to integer, interval and time precision, bit
/// and char narrowing. Each pair has one value that converts exactly (it must survive)
/// and one that does not (the plan must stop at the check).
#[test]
fn lossy_kinds_stop_at_the_check() {
    let cases: &[(&str, &str, &str, &str, &str)] = &[
        // (old type, new type, exact value, its converted text, lossy value)
        (
            "timestamptz",
            "date",
            "2024-03-04 00:00:00+00",
            "2024-03-04",
            "2024-03-04 10:00:00+00",
        ),
        (
            "timestamp",
            "date",
            "2024-03-04 00:00:00",
            "2024-03-04",
            "2024-03-04 00:00:01",
        ),
        (
            "timestamptz",
            "timestamp",
            "2024-03-04 10:00:00+02",
            "2024-03-04 08:00:00",
            "!",
        ),
        ("double precision", "real", "0.5", "0.5", "0.1"),
        ("numeric(10,3)", "numeric(10,2)", "1.250", "1.25", "1.255"),
        ("double precision", "integer", "3", "3", "3.5"),
        ("double precision", "numeric(6,2)", "2.25", "2.25", "2.255"),
        (
            "interval",
            "interval(0)",
            "00:00:05",
            "00:00:05",
            "00:00:05.5",
        ),
        ("time(6)", "time(0)", "10:00:00", "10:00:00", "10:00:00.25"),
        ("bit(8)", "bit(4)", "!", "", "10101010"),
        ("char(5)", "char(3)", "ab", "ab", "abcd"),
        ("text", "varchar(3)", "abc", "abc", "abcd"),
        ("text", "integer", "42", "42", "4x2"),
    ];
    for (i, (from, to, exact, converted, lossy)) in cases.iter().enumerate() {
        let old = format!("type T @wes_table {{\n  id: Int! @wes_pk\n  v: String @wes_type(sql: \"{from}\")\n}}\n");
        let new = format!(
            "type T @wes_table {{\n  id: Int! @wes_pk\n  v: String @wes_type(sql: \"{to}\")\n}}\n"
        );
        let mut seed = String::from("SET TimeZone = 'America/New_York';\n");
        if *exact != "!" {
            seed.push_str(&format!(
                "INSERT INTO public.t VALUES (1, {});\n",
                literal(exact)
            ));
        }
        let (work, db, run) = apply_pair(&format!("conv_kind_{i}"), &old, &new, &seed);
        if *exact != "!" {
            run.expect_code(0, &format!("{from} -> {to}: {exact}"));
            assert_eq!(
                db.psql("SELECT v::text FROM public.t WHERE id = 1")
                    .trim_end_matches('\n'),
                *converted,
                "{from} -> {to}: {exact}"
            );
        }
        if *lossy == "!" {
            continue;
        }
        // The same change on a table with a value that would change: stopped at the check.
        let db = database_with(
            &format!("conv_lossy_{i}"),
            &work,
            &work.path("old.graphql"),
            &format!("INSERT INTO public.t VALUES (2, {});\n", literal(lossy)),
        );
        let run = work.apply(&work.path("plan.json"), &db, &[]);
        run.expect_code(1, &format!("{from} -> {to}: {lossy} must be reported"));
        assert!(
            run.stderr.contains("1 rows of public.t"),
            "{from} -> {to}:\n{}",
            run.stderr
        );
        assert!(
            !applied_steps(&db)
                .iter()
                .any(|s| s.starts_with("swap_columns:")),
            "{from} -> {to}: the switch ran"
        );
        assert_eq!(
            db.psql("SELECT v::text FROM public.t WHERE id = 2").trim(),
            db.psql(&format!("SELECT {}::{from}::text", literal(lossy)))
                .trim(),
            "{from} -> {to}: the old value is unchanged"
        );
    }
}
