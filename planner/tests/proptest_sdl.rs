//! Property tests of the SDL front end: it never panics, whatever the input; every error
//! is located; and the canonical hash and generated DDL depend only on the schema, not on
//! the order it is written in.

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config;
use sha2::Digest;
use wesley_planner::synth::{self, SynthOptions};
use wesley_planner::{canon, ddl, sdl, Diagnostic};

/// No regression files: failures print their minimal input instead. `PROPTEST_CASES`
/// overrides the number of cases.
fn config(cases: u32) -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(cases);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

/// A small hand-written schema using most of the dialect.
const HAND_WRITTEN: &str = r#"
# Hand-written schema for mutation tests.
enum Role { OWNER ADMIN MEMBER }

scalar Email @wes_type(sql: "varchar(254)")

type Org @wes_table @wes_rls(select: "true") {
  id: ID! @wes_pk
  name: String! @wes_unique
  createdAt: DateTime! @wes_default(expr: "now()")
}

"""A person."""
type User @wes_table(name: "users") @wes_tenant(by: "org_id") @wes_index(columns: ["orgId", "email"]) {
  id: ID! @wes_pk
  orgId: ID! @wes_fk(ref: "Org.id", onDelete: CASCADE)
  email: Email! @wes_unique
  handle: String @wes_type(sql: "varchar(64)")
  role: Role! @wes_default(value: MEMBER)
  age: Int @wes_check(expr: "age >= 0")
  balance: Decimal @wes_default(value: "0.00")
  tags: [String!] @wes_default(value: "{}")
  settings: JSON
  active: Boolean! @wes_default(value: true)
  org: Org
}

type Membership @wes_table @wes_pk(columns: ["userId", "orgId"]) @wes_unique(columns: ["orgId", "userId"]) {
  userId: ID! @wes_fk(ref: "User.id")
  orgId: ID! @wes_fk(ref: "Org.id", onDelete: CASCADE)
  since: Date @wes_index(where: "since IS NOT NULL")
  score: BigInt @wes_index(using: "brin")
}
"#;

/// Tokens of (mostly) GraphQL and of Wesley's dialect, plus oddities.
fn token() -> impl Strategy<Value = String> {
    let fixed: Vec<&'static str> = vec![
        "type",
        "enum",
        "scalar",
        "input",
        "interface",
        "union",
        "extend",
        "schema",
        "directive",
        "{",
        "}",
        "(",
        ")",
        "[",
        "]",
        ":",
        "!",
        "=",
        "|",
        "&",
        ",",
        "...",
        "@",
        "@@",
        "\"",
        "\"\"\"",
        "\\",
        "#",
        "\n",
        "\r",
        "\r\n",
        "\t",
        " ",
        "@wes_table",
        "@wes_pk",
        "@wes_unique",
        "@wes_index",
        "@wes_fk",
        "@wes_default",
        "@wes_check",
        "@wes_rls",
        "@wes_tenant",
        "@wes_type",
        "@wes_column",
        "@wes_owner",
        "@primaryKey",
        "@uid",
        "@weight",
        "@hasMany",
        "ref:",
        "columns:",
        "value:",
        "expr:",
        "sql:",
        "by:",
        "select:",
        "where:",
        "using:",
        "name:",
        "onDelete:",
        "CASCADE",
        "SET_NULL",
        "ID",
        "ID!",
        "String",
        "Int",
        "BigInt",
        "Float",
        "Decimal",
        "Boolean",
        "DateTime",
        "Date",
        "Time",
        "JSON",
        "UUID",
        "true",
        "false",
        "null",
        "0",
        "-1",
        "1.5",
        "1e400",
        "99999999999999999999",
        "\"T.id\"",
        "\"now()\"",
        "\"varchar(64)\"",
        "\"a; DROP TABLE x\"",
        "\"x -- y\"",
        "\"$$\"",
        "\"(select 1)\"",
        "[\"a\", \"b\"]",
        "é",
        "名前",
        "🦀",
        "\u{feff}",
        "\u{0}",
        "\u{2028}",
        "\u{301}",
        "\u{ffff}",
    ];
    prop_oneof![
        4 => prop::sample::select(fixed).prop_map(str::to_string),
        2 => "[A-Za-z_][A-Za-z0-9_]{0,10}",
        1 => "\\PC{1,4}",
        1 => "[ \t\n]{1,3}",
    ]
}

/// Token soup joined by single spaces or nothing.
fn soup() -> impl Strategy<Value = String> {
    prop::collection::vec((token(), any::<bool>()), 0..80).prop_map(|toks| {
        let mut s = String::new();
        for (t, space) in toks {
            s.push_str(&t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

fn check_located(src: &str, diags: &[Diagnostic]) -> Result<(), TestCaseError> {
    // graphql-parser and the prescan count lines at `\n`; `\r` alone does not start one.
    let lines = src.split('\n').count();
    for d in diags {
        let Some(span) = &d.span else {
            return Err(TestCaseError::fail(format!("unlocated diagnostic {d:?}")));
        };
        prop_assert!(span.line >= 1 && span.column >= 1, "bad position {d:?}");
        prop_assert!(
            span.line <= lines,
            "line {} past the end ({lines} lines): {d:?}",
            span.line
        );
        if d.is_error() {
            prop_assert!(d.help.is_some(), "error without help: {d:?}");
        }
    }
    Ok(())
}

/// Parses and checks the properties every input must have.
fn parse_checked(src: &str) -> Result<(), TestCaseError> {
    let (model, diags) = sdl::parse("prop.graphql", src);
    check_located(src, &diags)?;
    let has_error = diags.iter().any(Diagnostic::is_error);
    prop_assert_eq!(
        model.is_some(),
        !has_error,
        "model iff no errors: {:#?}",
        diags
    );
    if let Some(model) = model {
        // A model, however odd, can be printed and hashed.
        let _ = ddl::generate(&model);
        let _ = canon::schema_hash(&model);
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(Index, usize),
    Duplicate(Index, usize, Index),
    Insert(Index, String),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), 1usize..40).prop_map(|(i, n)| Mutation::Delete(i, n)),
        (any::<Index>(), 1usize..60, any::<Index>())
            .prop_map(|(i, n, at)| Mutation::Duplicate(i, n, at)),
        (any::<Index>(), token()).prop_map(|(i, t)| Mutation::Insert(i, t)),
    ]
}

fn apply(src: &str, muts: &[Mutation]) -> String {
    let mut chars: Vec<char> = src.chars().collect();
    for m in muts {
        let len = chars.len();
        match m {
            Mutation::Delete(i, n) => {
                if len == 0 {
                    continue;
                }
                let start = i.index(len);
                let end = (start + n).min(len);
                chars.drain(start..end);
            }
            Mutation::Duplicate(i, n, at) => {
                if len == 0 {
                    continue;
                }
                let start = i.index(len);
                let end = (start + n).min(len);
                let piece: Vec<char> = chars[start..end].to_vec();
                let at = at.index(len + 1);
                chars.splice(at..at, piece);
            }
            Mutation::Insert(i, t) => {
                let at = i.index(len + 1);
                chars.splice(at..at, t.chars());
            }
        }
    }
    chars.into_iter().collect()
}

fn small_synth() -> impl Strategy<Value = SynthOptions> {
    (1usize..6, 1usize..12, 0usize..4, 0usize..3, any::<u64>()).prop_map(
        |(tables, columns_per_table, indexes_per_table, fks_per_table, seed)| SynthOptions {
            tables,
            columns_per_table,
            indexes_per_table,
            fks_per_table,
            seed,
        },
    )
}

fn base_schema() -> impl Strategy<Value = String> {
    prop_oneof![
        1 => Just(HAND_WRITTEN.to_string()),
        2 => small_synth().prop_map(|o| synth::schema(&o)),
    ]
}

#[test]
fn hand_written_schema_is_valid() {
    let (model, diags) = sdl::parse("hand.graphql", HAND_WRITTEN);
    assert!(model.is_some(), "{diags:#?}");
}

proptest! {
    #![proptest_config(config(1024))]

    #[test]
    fn random_text_never_panics(src in prop_oneof![3 => soup(), 1 => any::<String>()]) {
        parse_checked(&src)?;
    }
}

proptest! {
    #![proptest_config(config(384))]

    #[test]
    fn mutated_sdl_never_panics(
        base in base_schema(),
        muts in prop::collection::vec(mutation(), 1..6),
    ) {
        let src = apply(&base, &muts);
        parse_checked(&src)?;
    }
}

proptest! {
    #![proptest_config(config(48))]

    /// `CanonSchema::hashes` (one serialisation for the schema hash and every table's)
    /// gives exactly `hash()` and each table's `hash()`, with and without extensions.
    #[test]
    fn one_pass_hashes_equal_the_separate_ones(base in base_schema(), ext in any::<bool>()) {
        let (model, diags) = sdl::parse("base.graphql", &base);
        let model = model.ok_or_else(|| TestCaseError::fail(format!("{diags:#?}")))?;
        let mut c = canon::canonical(&model);
        if ext {
            c.extensions.push("citext".into());
        } else {
            c.extensions.clear();
        }
        let (hash, tables) = c.hashes();
        prop_assert_eq!(&hash, &c.hash());
        // The bytes hashed are exactly serde_json's for the whole schema.
        let json = serde_json::to_vec(&c).expect("JSON");
        prop_assert_eq!(&hash, &format!("sha256:{}", hex::encode(sha2::Sha256::digest(&json))));
        prop_assert_eq!(canon::schema_hash(&model), canon::canonical(&model).hash());
        // A stream of tables, each normalised on its own (as a live catalog is read), in
        // canonical order, hashes like the whole.
        let mut streamed = canon::SchemaHasher::new(&c.enums);
        for t in &c.tables {
            let mut t = t.clone();
            t.columns.reverse();
            t.indexes.reverse();
            t.normalize();
            streamed.add(&t);
        }
        prop_assert_eq!(streamed.finish(&c.extensions), hash);
        prop_assert_eq!(tables.len(), c.tables.len());
        for t in &c.tables {
            prop_assert_eq!(tables.get(&t.name), Some(&t.hash()));
        }
    }
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn order_does_not_change_hash_or_ddl(
        tables in 1usize..14,
        columns_per_table in 1usize..16,
        indexes_per_table in 0usize..5,
        fks_per_table in 0usize..4,
        seed in any::<u64>(),
        shuffle_seed in any::<u64>(),
    ) {
        let opts = SynthOptions { tables, columns_per_table, indexes_per_table, fks_per_table, seed };
        let src = synth::schema(&opts);
        let (model, diags) = sdl::parse("synth.graphql", &src);
        prop_assert!(diags.is_empty(), "{:#?}\n{}", diags, src);
        let model = model.expect("no errors, so a model");
        prop_assert_eq!(model.tables.len(), tables);

        let other = synth::shuffled(&opts, shuffle_seed);
        let (shuffled_model, diags) = sdl::parse("shuffled.graphql", &other);
        prop_assert!(diags.is_empty(), "{:#?}\n{}", diags, other);
        let shuffled_model = shuffled_model.expect("no errors, so a model");
        prop_assert_eq!(canon::canonical(&shuffled_model), canon::canonical(&model));
        prop_assert_eq!(canon::schema_hash(&shuffled_model), canon::schema_hash(&model));

        // Generation is a function of the model, and parsing of the text.
        let sql = ddl::generate(&model);
        prop_assert_eq!(&sql, &ddl::generate(&model.clone()));
        let (again, _) = sdl::parse("synth.graphql", &src);
        prop_assert_eq!(&sql, &ddl::generate(&again.expect("same text, same model")));
        prop_assert_eq!(synth::schema(&opts), src);
    }
}

#[test]
fn crlf_comments_count_as_one_line() {
    let src =
        "# a comment\r\n# another\r\ntype A @wes_table {\r\n  id: ID! @wes_pk\r\n  x: Foo\r\n}\r\n";
    let (model, diags) = sdl::parse("crlf.graphql", src);
    assert!(model.is_none());
    let d = diags.iter().find(|d| d.is_error()).expect("unknown type");
    assert_eq!(d.location(), ("crlf.graphql", 5, 3), "{d:?}");
}
