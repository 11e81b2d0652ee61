//! Property test against a real PostgreSQL: for random small synthetic schemas, the
//! generated DDL applies to an empty database, and the catalog read back equals the
//! model's canonical form (so it hashes alike). One shared cluster, one fresh database
//! per case. A schema that needs a newer server (`nullsNotDistinct` on PostgreSQL 14) is
//! checked to be refused instead.

use proptest::prelude::*;
use proptest::test_runner::Config;
use wesley::introspect::{parse_canonical, CANONICAL_QUERY};
use wesley_e2e::fresh_db;
use wesley_planner::synth::{self, SynthOptions};
use wesley_planner::{canon, ddl, sdl};

/// 24 cases (or `PROPTEST_CASES`); no regression files, failures print their input.
fn config() -> Config {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(24);
    Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    }
}

fn options() -> impl Strategy<Value = SynthOptions> {
    (
        1usize..=8,
        1usize..=14,
        0usize..=4,
        0usize..=3,
        any::<u64>(),
    )
        .prop_map(
            |(tables, columns_per_table, indexes_per_table, fks_per_table, seed)| SynthOptions {
                tables,
                columns_per_table,
                indexes_per_table,
                fks_per_table,
                seed,
            },
        )
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn generated_ddl_applies_and_catalog_matches_model(opts in options(), shuffle_seed in any::<u64>()) {
        let src = synth::schema(&opts);
        let (model, diags) = sdl::parse("synth.graphql", &src);
        let model = match model {
            Some(m) => m,
            None => panic!("synthetic schema rejected: {diags:#?}\n--- SDL ---\n{src}"),
        };
        let (shuffled, _) = sdl::parse("shuffled.graphql", &synth::shuffled(&opts, shuffle_seed));
        let shuffled = shuffled.expect("the shuffled schema parses too");
        prop_assert_eq!(canon::schema_hash(&shuffled), canon::schema_hash(&model));

        let sql = ddl::generate(&model);
        let db = fresh_db("prop_apply");
        if db.refuses_as_too_old(&[&model]) {
            // A schema with `nullsNotDistinct` on PostgreSQL 14: its DDL was refused
            // clearly (checked by the harness), so there is no catalog to compare.
            return Ok(());
        }
        if let Err(e) = db.try_psql(&sql) {
            panic!("PostgreSQL rejected the generated DDL ({opts:?}):\n{e}\n--- DDL ---\n{sql}\n--- SDL ---\n{src}");
        }
        let json = db.psql(&format!("{CANONICAL_QUERY};"));
        let live = parse_canonical(&json).expect("the canonical query returns canonical JSON");
        let expected = canon::canonical(&model);
        prop_assert_eq!(&live, &expected, "catalog differs from the model ({:?})\n--- SDL ---\n{}", opts, src);
        prop_assert_eq!(live.hash(), canon::schema_hash(&model));
    }
}
