//! `wesley status [PLAN.json]`: applied, pending and failed steps. With a connection
//! (`--database-url`, `DATABASE_URL` or `--connect`) it reads the ledger in the database;
//! otherwise the local checkpoint file.

use crate::apply::ledger;
use crate::exit;
use std::path::PathBuf;
use wesley_planner::planfile::ROLLBACK_PREFIX;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The plan file; without it, list the runs recorded in the database.
    pub plan: Option<PathBuf>,
    /// Connection URL or `key=value` string (default: $DATABASE_URL, then the PG* variables).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Read the ledger using the PG* variables even without a URL.
    #[arg(long)]
    pub connect: bool,
    /// Where `wesley apply` keeps checkpoint files.
    #[arg(long, default_value = ".wesley")]
    pub checkpoint_dir: PathBuf,
    /// Without a connection: print the plan's checkpoint file (JSON) as it is.
    #[arg(long)]
    pub json: bool,
}

/// Runs `wesley status`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let plan = match &args.plan {
        Some(p) => match super::apply::load_plan(p) {
            Some(x) => Some(x),
            None => return Ok(exit::INVALID),
        },
        None => None,
    };
    if args.database_url.is_none() && !args.connect {
        let Some(plan) = plan else {
            eprintln!(
                "error: give a plan file, or a connection (--database-url) to list recorded runs"
            );
            return Ok(exit::INVALID);
        };
        let path = args
            .checkpoint_dir
            .join(crate::apply::checkpoint::file_name(plan.plan_hash()));
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(_) => {
                println!("No checkpoint for plan {} in {} (never applied from here). Pass --database-url to read the database's ledger.", plan.plan_hash(), args.checkpoint_dir.display());
                return Ok(exit::OK);
            }
        };
        if args.json {
            print!("{text}");
            return Ok(exit::OK);
        }
        let doc: serde_json::Value = serde_json::from_str(&text)?;
        println!(
            "Plan {} on {} — {} ({} of {} steps applied; checkpoint {})",
            plan.plan_hash(),
            doc["database"].as_str().unwrap_or("?"),
            doc["status"].as_str().unwrap_or("?"),
            doc["applied"],
            doc["total"],
            path.display()
        );
        for s in doc["steps"].as_array().into_iter().flatten() {
            println!(
                "  {:<8} [{}] {}",
                s["status"].as_str().unwrap_or("?"),
                s["phase"].as_str().unwrap_or("?"),
                s["id"].as_str().unwrap_or("?")
            );
        }
        return Ok(exit::OK);
    }
    let reader = match super::Reader::connect(args.database_url.as_deref()) {
        Ok(r) => r,
        Err(code) => return Ok(code),
    };
    let (c, conn) = (&reader.client, &reader.conn);
    reader.rt.block_on(async move {
        if !ledger::exists(c).await.map_err(anyhow::Error::msg)? {
            println!("No Wesley ledger in {conn}: no plan was ever applied there.");
            return Ok(exit::OK);
        }
        let runs = ledger::runs(c).await.map_err(anyhow::Error::msg)?;
        match plan {
            None => {
                for r in runs {
                    println!(
                        "{} {:<8} {} of {} steps{}{}",
                        r.plan_hash,
                        r.status,
                        r.done,
                        r.steps,
                        r.restore_point
                            .map(|(n, lsn)| format!(", restore point {n} at {lsn}"))
                            .unwrap_or_default(),
                        r.last_error.map(|e| format!(" — {e}")).unwrap_or_default()
                    );
                }
            }
            Some(plan) => {
                let applied = ledger::applied(c, plan.plan_hash())
                    .await
                    .map_err(anyhow::Error::msg)?;
                let run = runs.iter().find(|r| r.plan_hash == plan.plan_hash());
                let status = run.map(|r| r.status.as_str()).unwrap_or("not started");
                println!(
                    "Plan {} on {conn} — {status} ({} of {} steps applied)",
                    plan.plan_hash(),
                    applied.len(),
                    plan.steps.len()
                );
                let mut first_pending = true;
                for s in &plan.steps {
                    let st = match applied.get(&s.id) {
                        Some((_, at)) => format!("applied {at}"),
                        None if first_pending && status == "failed" => {
                            first_pending = false;
                            "failed".into()
                        }
                        None => "pending".into(),
                    };
                    println!("  [{}] {} — {st}", s.phase, s.id);
                }
                let undo_hash = format!("{ROLLBACK_PREFIX}{}", plan.plan_hash());
                if let Some(undo) = runs.iter().find(|r| r.plan_hash == undo_hash) {
                    let undone = ledger::applied(c, &undo_hash)
                        .await
                        .map_err(anyhow::Error::msg)?;
                    if undo.status == "done" {
                        println!("Rolled back with `wesley rollback` ({} inverse steps).", undo.steps);
                    } else {
                        println!(
                            "Rollback ({}) — {} ({} of {} inverse steps run)",
                            undo_hash, undo.status, undone.len(), undo.steps
                        );
                        for s in plan.rollback.iter().filter(|s| undone.contains_key(&s.id)) {
                            println!("  undone {} — {}", s.id, undone[&s.id].1);
                        }
                    }
                    if let Some(e) = &undo.last_error {
                        println!("Last rollback error: {e}");
                    }
                }
                if let Some((name, lsn)) = run.and_then(|r| r.restore_point.clone()) {
                    println!("Restore point before contract: {name} at LSN {lsn} (recovery_target_name = '{name}')");
                }
                if let Some(e) = run.and_then(|r| r.last_error.clone()) {
                    println!("Last error: {e}");
                }
            }
        }
        Ok(exit::OK)
    })
}
