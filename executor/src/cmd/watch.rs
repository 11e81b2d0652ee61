//! `wesley watch --schema schema.graphql --database-url URL [--apply] [--allow HAZARD,...]`:
//! the development loop. Watches the schema file (the `notify` crate, debounced) and on
//! every save plans from what the database has now ([`crate::live::current`]) to the file;
//! prints the plan, or with `--apply` applies it through the normal executor (ledger,
//! advisory lock, timeouts, retries). A file with errors gets its diagnostics and the
//! watch goes on; a plan with hazards the policy refuses is not applied (the same policy
//! as `wesley plan`, with `--allow` and `--deny`).
//!
//! Only the database named by `--database-url` is ever touched: neither `DATABASE_URL`
//! nor the `PG*` variables that choose a server or database (`PGHOST`, `PGHOSTADDR`,
//! `PGPORT`, `PGDATABASE`, `PGUSER`, `PGSERVICE`) are read, and the URL must name the
//! database itself. Credentials and TLS settings (`PGPASSWORD`, `PGSSLMODE`, ...) still
//! apply.
//!
//! Every pass ends with one line on standard output starting with `watch: ` (`up to date`,
//! `planned`, `applied`, `refused`, `invalid`, `failed`), so scripts can follow it.

use super::source::{parse_and_report, SourceFile};
use crate::apply::conninfo::{self, Env, ProcessEnv};
use crate::apply::{self, connect::ConnInfo, events::Reporter, Outcome};
use crate::duration;
use crate::error::SettingsError;
use crate::exit;
use notify_debouncer_mini::{new_debouncer, notify::RecursiveMode, DebounceEventResult};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;
use wesley_planner::plan;
use wesley_planner::planfile;
use wesley_planner::policy::HazardPolicy;
use wesley_planner::render::{self, text};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The schema file to watch.
    #[arg(long)]
    pub schema: PathBuf,
    /// The database to plan against (and apply to, with `--apply`). Required: watch never
    /// falls back to DATABASE_URL or the PG* variables.
    #[arg(long, value_name = "URL")]
    pub database_url: String,
    /// Apply each plan through the executor instead of only printing it.
    #[arg(long)]
    pub apply: bool,
    /// How long to wait after a change for more changes before planning.
    #[arg(long, default_value = "200ms", value_parser = duration::parse)]
    pub debounce: Duration,
    /// How `--apply` runs each plan, and the hazards a plan may have (the same flags and
    /// defaults as `wesley apply`).
    #[command(flatten)]
    pub run: super::apply::RunArgs,
}

/// The process environment without what could pick another server or database.
struct ExplicitOnly;

/// Variables that choose where to connect; `watch` reads none of them.
const ROUTING: &[&str] = &[
    "DATABASE_URL",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGSERVICE",
    "PGSERVICEFILE",
];

impl Env for ExplicitOnly {
    fn var(&self, name: &str) -> Option<String> {
        if ROUTING.contains(&name) {
            None
        } else {
            ProcessEnv.var(name)
        }
    }
}

/// The connection of `--database-url`, completed from the environment only where that
/// cannot change which database it is.
///
/// # Errors
/// A URL that does not parse, names no database, or names a service.
pub fn explicit_conn(url: &str) -> Result<ConnInfo, SettingsError> {
    let given = conninfo::parse(url)?;
    if given.get("dbname").is_none_or(|d| d.is_empty()) {
        return Err("--database-url must name the database (e.g. postgresql://host/dbname)".into());
    }
    if given.contains_key("service") {
        return Err("--database-url must not use a service: name the host and database".into());
    }
    ConnInfo::from_params(given, &ExplicitOnly)
}

struct Watch {
    args: Args,
    conn: ConnInfo,
    policy: HazardPolicy,
    rt: tokio::runtime::Runtime,
    /// The text of the last pass: a save that changes nothing (or the second event of one
    /// save, when its events span two debounce windows) plans nothing.
    last: std::cell::RefCell<Option<String>>,
}

/// Runs `wesley watch`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let policy = match args.run.check().and_then(|()| args.run.policy()) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let conn = match explicit_conn(&args.database_url) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    let file = std::path::absolute(&args.schema)?;
    let Some(dir) = file.parent().map(Path::to_path_buf) else {
        eprintln!("error: {} has no directory", file.display());
        return Ok(exit::INVALID);
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let w = Watch {
        args,
        conn,
        policy,
        rt,
        last: std::cell::RefCell::new(None),
    };

    let (tx, rx) = std::sync::mpsc::channel::<DebounceEventResult>();
    let mut debouncer = new_debouncer(w.args.debounce, tx)?;
    // The directory, not the file: editors save by writing a new file and renaming it
    // over the old one, which ends a watch on the file itself.
    debouncer
        .watcher()
        .watch(&dir, RecursiveMode::NonRecursive)?;
    println!(
        "watching {} for {}{}",
        w.args.schema.display(),
        w.conn,
        if w.args.apply { " (applying)" } else { "" }
    );
    w.pass();
    for batch in rx {
        match batch {
            Ok(events) => {
                if events.iter().any(|e| same_file(&e.path, &file)) {
                    w.pass();
                }
            }
            Err(e) => eprintln!("warning: file watch: {e}"),
        }
    }
    Ok(exit::OK)
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b
        || a.file_name() == b.file_name()
            && a.parent().map(std::fs::canonicalize).and_then(Result::ok)
                == b.parent().map(std::fs::canonicalize).and_then(Result::ok)
}

impl Watch {
    /// One pass: read, plan from the database, print or apply. Ends with a `watch: ` line.
    /// Reads the file once it has stopped changing: an editor may truncate it, then write
    /// it, and a pass must not plan from what is in between.
    fn read_settled(&self) -> anyhow::Result<SourceFile> {
        let mut src = SourceFile::read(&self.args.schema)?;
        for _ in 0..20 {
            std::thread::sleep(self.args.debounce.max(Duration::from_millis(50)));
            let again = SourceFile::read(&self.args.schema)?;
            if again.text == src.text {
                break;
            }
            src = again;
        }
        Ok(src)
    }

    fn pass(&self) {
        let src = match self.read_settled() {
            Ok(s) => s,
            Err(e) => {
                *self.last.borrow_mut() = None;
                println!("watch: invalid: {e:#}");
                return;
            }
        };
        if self.last.borrow().as_deref() == Some(src.text.as_str()) {
            return;
        }
        *self.last.borrow_mut() = Some(src.text.clone());
        let status = self.plan_and_apply(src);
        println!("watch: {status}");
    }

    fn plan_and_apply(&self, src: SourceFile) -> String {
        // An editor that truncates before it writes can be read in between; an empty
        // schema would drop every table.
        if src.text.trim().is_empty() {
            return format!("invalid: {} is empty; nothing planned", src.name);
        }
        let Some(new) = parse_and_report(&src) else {
            return format!("invalid: {} has errors; still watching", src.name);
        };
        let current = self.rt.block_on(async {
            let c = self.conn.connect().await?;
            crate::live::current(&c).await
        });
        let current = match current {
            Ok(c) => c,
            Err(e) => return format!("failed: {}", self.conn.redact(&e.to_string())),
        };
        let p = plan::plan(&current.model, &new);
        let file = planfile::with_sdl(
            planfile::to_plan_file(&p),
            Some(&current.sdl),
            Some(&src.text),
        );
        if p.has_errors() {
            super::plan::report(&p.diagnostics);
            return "invalid: the change cannot be planned; still watching".into();
        }
        if file.steps.is_empty() {
            return format!("up to date: {} matches {}", self.conn, src.name);
        }
        eprintln!("{}", current.describe());
        let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        print!(
            "{}",
            text::render(
                &file,
                &text::TextOptions {
                    color,
                    policy: self.policy.clone(),
                }
            )
        );
        let blocking = render::blocking(&file, &self.policy);
        if !blocking.is_empty() {
            let mut kinds: Vec<&str> = blocking.iter().map(|(_, h)| h.kind.as_str()).collect();
            kinds.sort_unstable();
            kinds.dedup();
            return format!(
                "refused: {} need a decision; review them, then run with --allow {}",
                render::plural(blocking.len(), "hazard"),
                kinds.join(",")
            );
        }
        if !self.args.apply {
            return format!("planned: {}", render::plural(file.steps.len(), "step"));
        }
        let valid = match planfile::parse(&planfile::to_json(&file)) {
            Ok(v) => v,
            Err(errs) => {
                return format!(
                    "invalid: the plan would be refused: {}",
                    errs.iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join("; ")
                )
            }
        };
        let hash = file.plan_hash.clone();
        let opts = match self.args.run.options(self.conn.clone(), false, false) {
            Ok(o) => o,
            Err(e) => return format!("invalid: {e}"),
        };
        let reporter = Reporter::new(false, valid.steps.len() as u64);
        match self.rt.block_on(apply::apply(valid, opts, reporter)) {
            Outcome::Done | Outcome::AlreadyApplied => format!("applied: {hash}"),
            // Watch never passes --until.
            Outcome::DryRun | Outcome::Paused { .. } => "planned".into(),
            Outcome::Failed { message, .. } => format!("failed: {}", message.replace('\n', " ")),
            Outcome::Refused { message, .. } => {
                format!("refused: {}", message.replace('\n', " "))
            }
        }
    }
}
