//! `wesley rehearse`: a dress rehearsal on a throwaway local PostgreSQL cluster. Builds
//! the old schema, loads sample rows (or `--seed FILE`), applies the plan step by step,
//! checks the result hashes like the new schema, prints a report, and removes the cluster.

use super::source::{parse_and_report, SourceFile};
use crate::cluster::{Cluster, ClusterOptions};
use crate::exit;
use crate::introspect::{parse_canonical, CANONICAL_QUERY};
use anyhow::Context;
use std::path::PathBuf;
use std::time::Instant;
use wesley_planner::model::Schema;
use wesley_planner::{canon, ddl, plan};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The schema the database has now (omit for an empty database).
    #[arg(long)]
    pub from: Option<PathBuf>,
    /// The schema to migrate to.
    #[arg(long, required_unless_present = "plan")]
    pub to: Option<PathBuf>,
    /// A plan file to rehearse instead of planning `--from` → `--to` (e.g. one exported
    /// from the playground). `--from` must be the schema it starts from.
    #[arg(long, conflicts_with = "to", required_unless_present = "to")]
    pub plan: Option<PathBuf>,
    /// SQL that loads rows into the old schema (default: generated sample rows).
    #[arg(long)]
    pub seed: Option<PathBuf>,
    /// SQL run on the empty database before the old schema is built: extensions,
    /// functions or roles the schemas rely on. Every role a policy of either schema names
    /// is created (NOLOGIN) before it anyway.
    #[arg(long, value_name = "FILE.sql")]
    pub setup: Option<PathBuf>,
    /// Sample rows per table when no `--seed` is given.
    #[arg(long, default_value_t = 1000)]
    pub rows: usize,
    /// Keep the cluster's directory afterwards (its path is printed).
    #[arg(long)]
    pub keep: bool,
    /// Steps run at once by the executor.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// The psql program.
    #[arg(long, default_value = "psql")]
    pub psql: String,
}

fn load(path: &std::path::Path) -> anyhow::Result<Option<Schema>> {
    let src = SourceFile::read(path)?;
    Ok(parse_and_report(&src))
}

/// Runs `wesley rehearse`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let old = match &args.from {
        Some(p) => match load(p)? {
            Some(s) => s,
            None => return Ok(exit::INVALID),
        },
        None => Schema::default(),
    };
    // The plan file exactly as `wesley plan --format json` writes it (or as given), applied
    // by the real executor (ledger, advisory lock, retries, checkpoints).
    let mut new_schema: Option<Schema> = None;
    let (file, target) = match (&args.plan, &args.to) {
        (Some(path), _) => {
            let Some(file) = super::apply::load_plan(path) else {
                return Ok(exit::INVALID);
            };
            let old_hash = canon::schema_hash(&old);
            if file.from().schema_hash != old_hash {
                eprintln!("error: {} starts from schema {}, but the --from schema hashes to {old_hash}; pass the schema the plan was made from", path.display(), file.from().schema_hash);
                return Ok(exit::INVALID);
            }
            (file, path.display().to_string())
        }
        (None, Some(to)) => {
            let Some(new) = load(to)? else {
                return Ok(exit::INVALID);
            };
            let p = plan::plan(&old, &new);
            new_schema = Some(new.clone());
            if p.has_errors() {
                super::source::report(&p.diagnostics, "");
                return Ok(exit::INVALID);
            }
            let text =
                wesley_planner::planfile::to_json(&wesley_planner::planfile::to_plan_file(&p));
            match wesley_planner::planfile::parse(&text) {
                Ok(f) => (f, to.display().to_string()),
                Err(errs) => anyhow::bail!(
                    "the plan file does not validate: {}",
                    errs.iter()
                        .map(|e| e.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            }
        }
        (None, None) => {
            eprintln!("error: give --to SCHEMA or --plan PLAN.json");
            return Ok(exit::INVALID);
        }
    };
    let to_hash = file.to().schema_hash.clone();
    let to_extensions = file.to().extensions().to_vec();

    let started = Instant::now();
    println!("Starting a throwaway PostgreSQL cluster...");
    let cluster = Cluster::start(&ClusterOptions {
        keep: args.keep,
        ..ClusterOptions::default()
    })
    .context("starting a throwaway PostgreSQL cluster")?;
    println!(
        "  socket {} ({:.1} s)",
        cluster.socket_dir().display(),
        started.elapsed().as_secs_f64()
    );
    let db = "rehearsal";
    cluster.create_database(db)?;

    // Roles the policies name exist on a real server; on this one they are made up.
    let roles = policy_roles(&old, new_schema.as_ref(), file.to());
    if !roles.is_empty() {
        let sql: String = roles.iter().map(|r| create_role(r)).collect();
        cluster
            .psql(db, &sql)
            .context("creating the roles the schemas' policies name")?;
        println!(
            "Created {} role(s) the policies name: {}",
            roles.len(),
            roles.iter().cloned().collect::<Vec<_>>().join(", ")
        );
    }
    if let Some(f) = &args.setup {
        let sql = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        cluster
            .psql(db, &sql)
            .with_context(|| format!("running the setup file {}", f.display()))?;
        println!("Ran {}", f.display());
    }

    let t = Instant::now();
    cluster
        .psql(db, &ddl::generate(&old))
        .context("building the old schema")?;
    println!(
        "Built the old schema: {} tables ({} ms)",
        old.tables.len(),
        t.elapsed().as_millis()
    );
    let seed = match &args.seed {
        Some(f) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        None => crate::seed::seed_sql(&old, args.rows),
    };
    if !old.tables.is_empty() {
        let t = Instant::now();
        cluster
            .psql(db, &seed)
            .context("loading rows into the old schema")?;
        match &args.seed {
            Some(f) => println!("Loaded {} ({} ms)", f.display(), t.elapsed().as_millis()),
            None => println!(
                "Loaded {} sample rows into each table ({} ms)",
                args.rows,
                t.elapsed().as_millis()
            ),
        }
    }

    println!(
        "\nApplying {} steps with the executor ({} job(s)):",
        file.steps.len(),
        args.jobs
    );
    let conn =
        crate::apply::connect::ConnInfo::parse(&cluster.url(db)).map_err(anyhow::Error::msg)?;
    let checkpoint_dir =
        std::env::temp_dir().join(format!("wesley-rehearse-{}", std::process::id()));
    // `wesley apply`'s defaults, every hazard allowed (the rehearsal exists to run them),
    // and a short wait for the advisory lock on a cluster no one else uses.
    let mut run = super::apply::RunArgs::defaults();
    run.jobs = args.jobs;
    run.psql.clone_from(&args.psql);
    run.checkpoint_dir.clone_from(&checkpoint_dir);
    run.lock_wait = std::time::Duration::from_secs(5);
    let mut opts = run
        .options(conn, false, false)
        .map_err(anyhow::Error::msg)?;
    opts.policy =
        wesley_planner::policy::HazardPolicy::allowing(wesley_planner::plan::HazardKind::ALL);
    let reporter = crate::apply::events::Reporter::new(false, file.steps.len() as u64);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let outcome = rt.block_on(crate::apply::apply(file, opts, reporter));
    let _ = std::fs::remove_dir_all(&checkpoint_dir);
    match outcome {
        crate::apply::Outcome::Done | crate::apply::Outcome::AlreadyApplied => {}
        other => {
            let code = super::apply::report(other, false);
            println!("Rehearsal failed.");
            return Ok(code);
        }
    }

    let live = parse_canonical(&cluster.psql(db, CANONICAL_QUERY)?)?.as_expected_by(&to_extensions);
    println!();
    if live.hash() == to_hash {
        println!(
            "Result: the database now matches {} (schema hash {}).",
            target,
            live.hash()
        );
        println!(
            "Rehearsal passed in {:.1} s.",
            started.elapsed().as_secs_f64()
        );
        if args.keep {
            println!("Cluster kept at {}", cluster.socket_dir().display());
        }
        Ok(exit::OK)
    } else {
        println!(
            "Result: the database does NOT match {}:\n  live {}\n  want {}",
            target,
            live.hash(),
            to_hash
        );
        Ok(exit::FAILED)
    }
}

/// Every role a policy names, in the old schema, the new one (when planned here) and the
/// tables the plan file describes.
fn policy_roles(
    old: &Schema,
    new: Option<&Schema>,
    to: &wesley_planner::planfile::SchemaRef,
) -> std::collections::BTreeSet<String> {
    let mut out = std::collections::BTreeSet::new();
    for s in std::iter::once(old).chain(new) {
        for t in &s.tables {
            for p in &t.policies {
                out.extend(p.roles.iter().cloned());
            }
        }
    }
    for t in to.canonical.iter().flat_map(|c| &c.tables) {
        for p in &t.policies {
            out.extend(p.roles.iter().cloned());
        }
    }
    out
}

/// `CREATE ROLE name NOLOGIN`, skipped when the role exists. Roles belong to
/// the cluster, so two rehearsals racing to create one see either
/// `duplicate_object` (42710) or `unique_violation` (23505) on
/// `pg_authid_rolname_index`; both mean "it exists".
fn create_role(name: &str) -> String {
    let stmt = format!("CREATE ROLE {} NOLOGIN", wesley_planner::sql::ident(name));
    let tag = wesley_planner::planfile::psql::dollar_tag(&[&stmt]);
    format!("DO {tag} BEGIN {stmt}; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END {tag};\n")
}
