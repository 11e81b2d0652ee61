//! `wesley plan --from OLD.graphql --to NEW.graphql [--format text|json|sql|markdown]
//! [-o FILE] [--allow HAZARD,...] [--lock-timeout 5s] [--statement-timeout 1min]`, or
//! `wesley plan --database-url URL --to NEW.graphql` to plan from what a database has now
//! (see [`crate::live::current`]: the schema of its last applied plan while it still
//! matches, else the database introspected).
//!
//! Exit codes: 0 when the plan has no hazards outside `--allow`; 2 for invalid input (SDL
//! errors, a change that cannot be planned safely, bad options); 3 when the plan has
//! hazards not allowed (the plan is still written, and the hazards are listed on stderr).
//! A plan with errors is still written as text or Markdown, for people, but never as
//! `json` or `sql`, which could be applied.

use super::source::{self as source_file, SourceFile};
use crate::apply::connect::ConnInfo;
use crate::exit;
use anyhow::Context;
use std::io::IsTerminal;
use std::path::PathBuf;
use wesley_planner::plan::{self, HazardKind};
use wesley_planner::planfile;
use wesley_planner::policy::HazardPolicy;
use wesley_planner::render::{self, markdown, sql, text};
use wesley_planner::{sdl, Diagnostic, Schema};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// The schema the database has now; omit it for an empty database.
    #[arg(long, value_name = "OLD.graphql", conflicts_with = "database_url")]
    pub from: Option<PathBuf>,
    /// Plan from what this database has now instead of `--from` (read only; never taken
    /// from DATABASE_URL).
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// The schema the database should have (`-` reads standard input).
    #[arg(long, value_name = "NEW.graphql")]
    pub to: PathBuf,
    /// `text` for a terminal, `json` for the plan file, `sql` for a psql script that runs
    /// the plan, `markdown` for a pull-request comment.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Write to this file instead of standard output.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Refusal hazards to accept once reviewed, comma-separated (e.g.
    /// `deletes_data,breaks_clients`); see docs/hazards.md.
    #[arg(long, value_name = "HAZARD,...", value_delimiter = ',')]
    pub allow: Vec<String>,
    /// Review hazards to treat as refusals, comma-separated (e.g. `long_running`).
    #[arg(long, value_name = "HAZARD,...", value_delimiter = ',')]
    pub deny: Vec<String>,
    /// How long a step may wait for a lock before giving up (`sql` format).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub lock_timeout: String,
    /// How long an ordinary step may run; backfill, validate and concurrent steps have no
    /// limit (`sql` format).
    #[arg(long, value_name = "DURATION", default_value = "1min")]
    pub statement_timeout: String,
}

/// `--format`: how `wesley plan` prints the plan.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// For a terminal
    Text,
    /// The plan file (docs/plan-format.md), for `wesley apply`
    Json,
    /// One psql script with the phases, timeouts and batches
    Sql,
    /// For a pull-request comment
    Markdown,
}

/// The arguments, checked before any file is read.
struct Config {
    policy: HazardPolicy,
    sql: sql::SqlOptions,
}

fn config(args: &Args) -> Result<Config, String> {
    let policy = super::apply::hazard_policy(&args.allow, &args.deny)?;
    let lock =
        sql::Timeout::parse(&args.lock_timeout).map_err(|e| format!("--lock-timeout: {e}"))?;
    let statement = sql::Timeout::parse(&args.statement_timeout)
        .map_err(|e| format!("--statement-timeout: {e}"))?;
    let sql = sql::SqlOptions::new(lock, statement, sql::Timeout::NONE)?;
    Ok(Config { policy, sql })
}

/// Runs `wesley plan`; the result is the exit code ([`crate::exit`]), and an `Err` is
/// reported by `main` with exit code 1.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let cfg = match config(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(exit::INVALID);
        }
    };
    if args.to.as_os_str() == "-" && args.from.as_ref().is_some_and(|f| f.as_os_str() == "-") {
        eprintln!("error: only one of --from and --to can read standard input");
        return Ok(exit::INVALID);
    }
    let mut old_src = args.from.as_deref().map(SourceFile::read).transpose()?;
    let new_src = SourceFile::read(&args.to)?;
    let mut live_model = None;
    if let Some(url) = &args.database_url {
        let conn = match ConnInfo::parse(url) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("error: --database-url: {e}");
                return Ok(exit::INVALID);
            }
        };
        match current_schema(&conn) {
            Ok(cur) => {
                eprintln!("{}", cur.describe());
                old_src = Some(SourceFile {
                    name: format!("{conn}"),
                    text: cur.sdl,
                });
                live_model = Some(cur.model);
            }
            Err(e) => {
                eprintln!("error: {}", conn.redact(&format!("{e:#}")));
                return Ok(exit::FAILED);
            }
        }
    }
    // Parse both (at the same time: two cores are common), so the diagnostics of both
    // files are shown at once, the old file's first.
    let (old, new) = std::thread::scope(|s| {
        let old = s.spawn(|| match (&old_src, live_model) {
            (_, Some(model)) => (Some(model), Vec::new()),
            (Some(src), None) => sdl::parse(&src.name, &src.text),
            (None, None) => (Some(Schema::default()), Vec::new()),
        });
        let new = sdl::parse(&new_src.name, &new_src.text);
        (old.join(), new)
    });
    let old = match old {
        Ok(parsed) => parsed,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    source_file::report(&old.1, old_src.as_ref().map_or("", |s| s.text.as_str()));
    source_file::report(&new.1, &new_src.text);
    let (old, new) = (old.0, new.0);
    let (Some(old), Some(new)) = (old, new) else {
        return Ok(exit::INVALID);
    };

    let plan = plan::plan(&old, &new);
    // The two models are not needed any more, and the process ends soon: freeing every
    // string of a large schema one by one takes longer than planning parts of it.
    std::mem::forget((old, new));
    let file = planfile::with_sdl(
        planfile::to_plan_file(&plan),
        old_src.as_ref().map(|s| s.text.as_str()),
        Some(&new_src.text),
    );
    report(&plan.diagnostics);
    // The SDL texts are the ones just parsed: the file is checked in full but for parsing
    // them again.
    let refused = planfile::validate_own(&file);
    for e in &refused {
        eprintln!("error: the plan would be refused when applied: {e}");
    }
    let errors = plan.has_errors() || !refused.is_empty();

    let to_stdout = args.output.as_ref().is_none_or(|p| p.as_os_str() == "-");
    let text = match args.format {
        Format::Json => planfile::to_json(&file),
        Format::Sql => sql::render(&file, &cfg.sql),
        Format::Markdown => markdown::render(
            &file,
            &markdown::MarkdownOptions {
                policy: cfg.policy.clone(),
            },
        ),
        Format::Text => text::render(
            &file,
            &text::TextOptions {
                color: to_stdout
                    && std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none(),
                policy: cfg.policy.clone(),
            },
        ),
    };
    if errors {
        if matches!(args.format, Format::Text | Format::Markdown) {
            crate::output::write(args.output.as_deref(), &text).context("writing output")?;
        } else {
            eprintln!(
                "the plan has errors; no {} was written",
                match args.format {
                    Format::Json => "plan file",
                    _ => "script",
                }
            );
        }
        return Ok(exit::INVALID);
    }
    crate::output::write(args.output.as_deref(), &text).context("writing output")?;

    let not_allowed = render::blocking(&file, &cfg.policy);
    if not_allowed.is_empty() {
        return Ok(exit::OK);
    }
    eprintln!(
        "refused: {} {} a decision:",
        render::plural(not_allowed.len(), "hazard"),
        if not_allowed.len() == 1 {
            "needs"
        } else {
            "need"
        }
    );
    let mut kinds: Vec<HazardKind> = Vec::new();
    let mut unknown: Vec<&str> = Vec::new();
    for (_, hazard) in &not_allowed {
        match hazard.kind() {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            None if !unknown.contains(&hazard.kind.as_str()) => unknown.push(&hazard.kind),
            _ => {}
        }
    }
    kinds.sort();
    let names: Vec<&str> = kinds.iter().map(|k| k.as_str()).collect();
    for name in names.iter().chain(&unknown) {
        let n = not_allowed.iter().filter(|(_, h)| h.kind == *name).count();
        eprintln!("  {name:<15} in {}", render::plural(n, "step"));
    }
    eprintln!(
        "review them, then accept them with --allow {}",
        names.join(",")
    );
    Ok(exit::REFUSED)
}

/// The schema a database has now ([`crate::live::current`]), on a runtime of its own.
///
/// # Errors
/// The database cannot be read ([`crate::live::IntrospectError`]), or no runtime starts.
pub fn current_schema(conn: &ConnInfo) -> anyhow::Result<crate::live::Current> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let c = conn.connect().await?;
        Ok(crate::live::current(&c).await?)
    })
}

/// Prints the planner's diagnostics. They are about the plan as a whole, so unlike SDL
/// diagnostics they have no source line to show.
pub fn report(diags: &[Diagnostic]) {
    let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    for d in diags {
        let (sev, code) = if d.is_error() {
            ("error", "31")
        } else {
            ("warning", "33")
        };
        let head = format!("{sev}[{}]", d.code);
        if color {
            eprintln!("\x1b[1;{code}m{head}\x1b[0m: {}", d.message);
        } else {
            eprintln!("{head}: {}", d.message);
        }
        if let Some(help) = &d.help {
            eprintln!("  = help: {help}");
        }
    }
}
