//! Helpers for the executor tests (`tests/tests/executor_*.rs`): run the real `wesley`
//! binary against a test database, follow its `--json` events, kill it at chosen points,
//! and check the ledger and the catalog afterwards.

use crate::{seed, wesley_bin, TestDb};
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use wesley::introspect::{parse_canonical, CANONICAL_QUERY};
use wesley_planner::model::Schema;
use wesley_planner::planfile::{self, PlanFile};
use wesley_planner::sdl;
use wesley_planner::sql::{ident, qualified};

/// Every hazard kind, for `--allow`.
pub const ALL_HAZARDS: &str = "deletes_data,breaks_clients,blocks_reads,blocks_writes,table_rewrite,long_running,authz_change,needs_backfill,still_in_use";

/// The directory of the golden plan cases.
pub fn plan_cases_dir() -> PathBuf {
    crate::workspace_root().join("planner/tests/data/plan")
}

/// Every golden plan case directory, sorted.
pub fn plan_cases() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(plan_cases_dir())
        .expect("golden plan cases")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    out
}

/// Parses an SDL file; panics when it is invalid.
pub fn load_schema(path: &Path) -> Schema {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    sdl::parse(&path.display().to_string(), &text)
        .0
        .unwrap_or_else(|| panic!("{} is invalid", path.display()))
}

/// A `wesley` command with a clean environment (no `DATABASE_URL`, none of libpq's `PG*`
/// connection variables) running in `cwd`.
pub fn wesley_cmd(cwd: &Path) -> Command {
    let mut cmd = Command::new(wesley_bin());
    cmd.env_remove("DATABASE_URL");
    for v in wesley::apply::conninfo::KEYWORDS
        .iter()
        .filter_map(|k| k.env)
    {
        cmd.env_remove(v);
    }
    cmd.current_dir(cwd);
    cmd
}

/// The outcome of one `wesley` process.
#[derive(Debug, Clone)]
pub struct Run {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from_output(o: Output) -> Run {
        Run {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// The `--json` events on stdout.
    pub fn events(&self) -> Vec<Value> {
        parse_events(&self.stdout)
    }

    /// Panics with both outputs unless the exit code is `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32, what: &str) -> &Run {
        assert_eq!(
            self.code,
            Some(code),
            "{what}: expected exit {code}\n--- stdout\n{}\n--- stderr\n{}",
            tail(&self.stdout),
            tail(&self.stderr)
        );
        self
    }
}

/// The last 60 lines of a long output.
pub fn tail(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

/// One JSON object per line; other lines are ignored.
pub fn parse_events(stdout: &str) -> Vec<Value> {
    stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.get("event").is_some())
        .collect()
}

/// `event` field of an event.
pub fn kind(e: &Value) -> &str {
    e["event"].as_str().unwrap_or("")
}

/// `step` field of an event.
pub fn step_of(e: &Value) -> &str {
    e["step"].as_str().unwrap_or("")
}

/// A scratch directory for one test: plan files, checkpoint directory, working dir.
pub struct Work {
    pub dir: tempfile::TempDir,
}

impl Default for Work {
    fn default() -> Self {
        Self::new()
    }
}

impl Work {
    pub fn new() -> Work {
        Work {
            dir: tempfile::Builder::new()
                .prefix("wesley-exec-")
                .tempdir()
                .expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn checkpoint_dir(&self) -> PathBuf {
        self.path("checkpoints")
    }

    /// Writes `text` to `name` in the scratch directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.path(name);
        std::fs::write(&p, text).expect("write scratch file");
        p
    }

    /// Runs `wesley <args>` in the scratch directory and waits.
    pub fn wesley(&self, args: &[&str]) -> Run {
        let out = wesley_cmd(self.dir.path())
            .args(args)
            .output()
            .expect("run wesley");
        Run::from_output(out)
    }

    /// `wesley plan --from OLD --to NEW --format json -o <name>`: exit 0 or 3 (hazards
    /// not allowed, the file is still written). Returns the path and the parsed plan.
    pub fn plan(&self, old: &Path, new: &Path, name: &str) -> (PathBuf, PlanFile) {
        let out = self.path(name);
        let run = self.wesley(&[
            "plan",
            "--from",
            &old.display().to_string(),
            "--to",
            &new.display().to_string(),
            "--format",
            "json",
            "-o",
            &out.display().to_string(),
        ]);
        assert!(
            matches!(run.code, Some(0 | 3)),
            "wesley plan {} → {} exited {:?}\n{}",
            old.display(),
            new.display(),
            run.code,
            run.stderr
        );
        let text = std::fs::read_to_string(&out).expect("plan file written");
        let plan = planfile::parse_file(&text)
            .unwrap_or_else(|e| panic!("wesley plan wrote an invalid plan file: {e:?}"));
        (out, plan)
    }

    /// `wesley plan` between two SDL texts.
    pub fn plan_sdl(&self, old: &str, new: &str, name: &str) -> (PathBuf, PlanFile) {
        let o = self.write(&format!("{name}.old.graphql"), old);
        let n = self.write(&format!("{name}.new.graphql"), new);
        self.plan(&o, &n, &format!("{name}.json"))
    }

    /// The arguments of `wesley apply PLAN` against `db` with every hazard allowed and
    /// the scratch checkpoint directory, then `extra`.
    pub fn apply_args(&self, plan: &Path, db: &TestDb, extra: &[&str]) -> Vec<String> {
        self.run_args("apply", plan, db, extra)
    }

    /// Like [`Work::apply_args`] for `wesley <command>` (`apply` or `rollback`).
    pub fn run_args(&self, command: &str, plan: &Path, db: &TestDb, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = vec![
            command.into(),
            plan.display().to_string(),
            "--database-url".into(),
            db.url.clone(),
            "--allow".into(),
            ALL_HAZARDS.into(),
            "--checkpoint-dir".into(),
            self.checkpoint_dir().display().to_string(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }

    /// `wesley drift --schema SCHEMA --database-url <db>`: its exit code, and stdout and
    /// stderr together.
    pub fn drift(&self, schema: &Path, db: &TestDb) -> (Option<i32>, String) {
        let run = self.wesley(&[
            "drift",
            "--schema",
            &schema.display().to_string(),
            "--database-url",
            &db.url,
        ]);
        (run.code, format!("{}{}", run.stdout, run.stderr))
    }

    /// `wesley apply` to completion.
    pub fn apply(&self, plan: &Path, db: &TestDb, extra: &[&str]) -> Run {
        let args = self.apply_args(plan, db, extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.wesley(&refs)
    }

    /// `wesley rollback` to completion, every hazard allowed.
    pub fn rollback(&self, plan: &Path, db: &TestDb, extra: &[&str]) -> Run {
        let args = self.run_args("rollback", plan, db, extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.wesley(&refs)
    }

    /// Starts `wesley apply ... --json` with piped output.
    pub fn spawn_apply(&self, plan: &Path, db: &TestDb, extra: &[&str]) -> Child {
        self.spawn("apply", plan, db, extra)
    }

    /// Starts `wesley <command> ... --json` with piped output.
    pub fn spawn(&self, command: &str, plan: &Path, db: &TestDb, extra: &[&str]) -> Child {
        let mut args = self.run_args(command, plan, db, extra);
        if !args.iter().any(|a| a == "--json") {
            args.push("--json".into());
        }
        wesley_cmd(self.dir.path())
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn wesley")
    }

    /// Runs `wesley apply --json` and hands each event (with the events so far) to
    /// `kill_when`; when it returns true the process is killed with SIGKILL at once (the
    /// events it had already written are still read). Returns the run and whether it was
    /// killed.
    pub fn apply_killing(
        &self,
        plan: &Path,
        db: &TestDb,
        extra: &[&str],
        kill_when: impl FnMut(&Value, &[Value]) -> bool,
    ) -> (Run, bool) {
        self.killing("apply", plan, db, extra, kill_when)
    }

    /// [`Work::apply_killing`] for `wesley <command>` (`apply` or `rollback`).
    pub fn killing(
        &self,
        command: &str,
        plan: &Path,
        db: &TestDb,
        extra: &[&str],
        mut kill_when: impl FnMut(&Value, &[Value]) -> bool,
    ) -> (Run, bool) {
        let mut child = self.spawn(command, plan, db, extra);
        let stderr = drain(child.stderr.take().expect("stderr"));
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut seen: Vec<Value> = Vec::new();
        let mut text = String::new();
        let mut killed = false;
        for line in stdout.lines() {
            let Ok(line) = line else { break };
            text.push_str(&line);
            text.push('\n');
            let Ok(ev) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            seen.push(ev.clone());
            if !killed && kill_when(&ev, &seen) {
                let _ = child.kill();
                killed = true;
            }
        }
        let status = child.wait().expect("wait for wesley");
        let stderr = stderr.join().unwrap_or_default();
        (
            Run {
                code: status.code(),
                stdout: text,
                stderr,
            },
            killed,
        )
    }
}

/// Reads a pipe to the end on a thread.
pub fn drain(mut r: impl Read + Send + 'static) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

/// Waits for a child with piped stdout/stderr and collects its output.
pub fn finish(child: Child) -> Run {
    Run::from_output(child.wait_with_output().expect("wait for wesley"))
}

/// Whether the shared cluster is older than golden case `dir` needs (PostgreSQL 14 has no
/// `NULLS NOT DISTINCT`). When it is, checks that the case is refused clearly: the DDL of
/// the schema that needs more fails at `NULLS`, and, when the old schema can be built,
/// `wesley apply` of the plan refuses the server before changing anything. The caller
/// then has nothing more to check on this server.
pub fn case_refused_as_too_old(dir: &Path) -> bool {
    let (old_path, new_path) = (dir.join("old.graphql"), dir.join("new.graphql"));
    let (old, new) = (load_schema(&old_path), load_schema(&new_path));
    let probe = crate::fresh_db("too_old_case");
    if !probe.refuses_as_too_old(&[&old, &new]) {
        return false;
    }
    let major = probe.server_major();
    if wesley_planner::canon::canonical(&old).min_server_major() <= major {
        let work = Work::new();
        let db = database_with("too_old_apply", &work, &old_path, "");
        let before = live_hash(&db);
        let (plan, _) = work.plan(&old_path, &new_path, "plan.json");
        let run = work.apply(&plan, &db, &[]);
        run.expect_code(
            3,
            &format!("{}: apply on PostgreSQL {major}", dir.display()),
        );
        assert!(
            run.stderr.contains("this plan needs PostgreSQL")
                || run.stdout.contains("this plan needs PostgreSQL"),
            "{}: the refusal must say why:\n{}{}",
            dir.display(),
            run.stdout,
            run.stderr
        );
        assert_eq!(
            live_hash(&db),
            before,
            "{}: refused, yet changed",
            dir.display()
        );
    }
    true
}

/// A fresh database with `old` built by `wesley generate` and seeded.
pub fn database_with(prefix: &str, work: &Work, old: &Path, seed_sql: &str) -> TestDb {
    database_in(crate::cluster(), prefix, work, old, seed_sql)
}

/// Like [`database_with`], in a cluster of the test's own.
pub fn database_in(
    cluster: &'static wesley::cluster::Cluster,
    prefix: &str,
    work: &Work,
    old: &Path,
    seed_sql: &str,
) -> TestDb {
    let db = crate::fresh_db_in(cluster, prefix);
    let ddl = work.wesley(&["generate", &old.display().to_string()]);
    ddl.expect_code(0, "wesley generate");
    db.try_psql(&ddl.stdout)
        .unwrap_or_else(|e| panic!("old schema {}: {e}", old.display()));
    if !seed_sql.is_empty() {
        db.try_psql(seed_sql)
            .unwrap_or_else(|e| panic!("seed for {}: {e}", old.display()));
    }
    db
}

/// The seed of a golden case: its `seed.sql`, else `seed_sql(old, rows)`.
pub fn case_seed(dir: &Path, rows: usize) -> String {
    std::fs::read_to_string(dir.join("seed.sql"))
        .unwrap_or_else(|_| seed::seed_sql(&load_schema(&dir.join("old.graphql")), rows))
}

/// Rows for the `type_change_shadow` golden case, like its own seed.sql with `rows`
/// products: every `org_ref` converts to uuid, every `rating` fits numeric(4,2).
pub fn shadow_seed(rows: usize) -> String {
    format!(
        "INSERT INTO \"public\".\"org\" (\"id\") SELECT gen_random_uuid() FROM generate_series(1, 5);\n\
         INSERT INTO \"public\".\"product\" (\"id\", \"price_cents\", \"sku\", \"org_ref\", \"rating\") \
         SELECT gen_random_uuid(), g * 100, 'SKU-' || g, CASE WHEN g % 4 = 0 THEN NULL ELSE gen_random_uuid()::text END, (g % 5) + 0.25 \
         FROM generate_series(1, {rows}) g;\n"
    )
}

/// The canonical hash of the live database.
pub fn live_hash(db: &TestDb) -> String {
    parse_canonical(db.psql(CANONICAL_QUERY).trim())
        .expect("canonical form of the live database")
        .hash()
}

/// The canonical hash of the live database as a plan's schema sees it (only the
/// extensions that schema lists count), as `wesley apply` compares it.
pub fn live_hash_as(db: &TestDb, schema: &planfile::SchemaRef) -> String {
    parse_canonical(db.psql(CANONICAL_QUERY).trim())
        .expect("canonical form of the live database")
        .as_expected_by(schema.extensions())
        .hash()
}

/// Checks the ledger: every step of `plan` recorded exactly once, nothing else.
#[track_caller]
pub fn assert_ledger_complete(db: &TestDb, plan: &PlanFile, what: &str) {
    let hash = wesley_planner::sql::literal(&plan.plan_hash);
    let dups = db.psql(&format!(
        "SELECT step_id, count(*) FROM wesley.applied_steps WHERE plan_hash = {hash} GROUP BY 1 HAVING count(*) > 1"
    ));
    assert_eq!(dups.trim(), "", "{what}: steps recorded more than once");
    let ids: Vec<String> = db
        .psql(&format!(
            "SELECT step_id FROM wesley.applied_steps WHERE plan_hash = {hash} ORDER BY 1"
        ))
        .lines()
        .map(str::to_string)
        .collect();
    let mut want: Vec<String> = plan.steps.iter().map(|s| s.id.clone()).collect();
    want.sort();
    assert_eq!(
        ids, want,
        "{what}: ledger rows differ from the plan's steps"
    );
    let all = db.psql("SELECT count(*) FROM wesley.applied_steps");
    assert_eq!(
        all.trim(),
        plan.steps.len().to_string(),
        "{what}: ledger holds rows of other plans"
    );
}

/// Number of indexes left INVALID.
pub fn invalid_indexes(db: &TestDb) -> i64 {
    db.psql("SELECT count(*) FROM pg_index WHERE NOT indisvalid")
        .trim()
        .parse()
        .expect("count")
}

/// Whether the `wesley` ledger schema exists.
pub fn has_ledger(db: &TestDb) -> bool {
    db.psql("SELECT count(*) FROM pg_namespace WHERE nspname = 'wesley'")
        .trim()
        == "1"
}

/// Ledger and run rows as text, to compare before and after a no-op run.
pub fn ledger_snapshot(db: &TestDb) -> String {
    db.psql(
        "SELECT plan_hash, step_id, sql_checksum, attempt, started_at, finished_at FROM wesley.applied_steps ORDER BY 1, 2;\n\
         SELECT plan_hash, status, steps, started_at, updated_at, stopped_hash, last_error FROM wesley.runs ORDER BY 1;\n\
         SELECT * FROM wesley.backfill_progress ORDER BY 1, 2;",
    )
}

/// A digest of the values of `cols` (as text) in every row of a table.
pub fn digest(db: &TestDb, schema: &str, table: &str, cols: &[String]) -> String {
    if cols.is_empty() {
        return db.psql(&format!(
            "SELECT count(*) FROM {}",
            qualified(schema, table)
        ));
    }
    let list: Vec<String> = cols.iter().map(|c| format!("{}::text", ident(c))).collect();
    db.psql(&format!(
        "SELECT count(*) || ':' || coalesce(md5(string_agg(r, '|' ORDER BY r)), '') FROM (SELECT concat_ws(',', {}) AS r FROM {}) s",
        list.join(", "),
        qualified(schema, table)
    ))
}

/// Columns present in both versions with the same name whose values keep their text
/// form: the same type, or a change between integer widths or between text types.
pub fn kept_columns(old: &Schema, new: &Schema) -> Vec<(String, String, Vec<String>)> {
    let relabelled = |c: &wesley_planner::model::Column| relabelled(old, new, c);
    let family = |t: &str| -> String {
        let t = t.to_ascii_lowercase();
        if matches!(t.as_str(), "smallint" | "integer" | "bigint") {
            "int".into()
        } else if t == "text" || t.starts_with("character varying") || t.starts_with("varchar") {
            "text".into()
        } else {
            t
        }
    };
    let mut out = Vec::new();
    for t in &old.tables {
        let Some(n) = new.table(&t.schema, &t.name) else {
            continue;
        };
        let cols = t
            .columns
            .iter()
            .filter(|c| {
                !relabelled(c)
                    && n.column(&c.name).is_some_and(|x| {
                        x.ty == c.ty || family(&x.ty.to_string()) == family(&c.ty.to_string())
                    })
            })
            .map(|c| c.name.clone())
            .collect();
        out.push((t.schema.clone(), t.name.clone(), cols));
    }
    out
}

/// Digests of every kept column of every table (see [`kept_columns`]).
pub fn kept_digests(db: &TestDb, kept: &[(String, String, Vec<String>)]) -> Vec<String> {
    kept.iter().map(|(s, t, c)| digest(db, s, t, c)).collect()
}

/// Polls `query` (tuples-only output) until it returns `want` or `timeout` passes.
pub fn wait_for(db: &TestDb, query: &str, want: &str, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if db.try_psql(query).is_ok_and(|o| o.trim() == want) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Runs `check` on every case directory on two worker threads (the machine has two
/// cores, and psql and PostgreSQL do most of the work), catching panics: one line
/// `case: message` per case that failed.
pub fn each_case(cases: &[PathBuf], check: impl Fn(&Path) + Sync) -> Vec<String> {
    let queue = std::sync::Mutex::new(cases.to_vec());
    let failures = std::sync::Mutex::new(Vec::<String>::new());
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| loop {
                let Some(dir) = queue.lock().unwrap().pop() else {
                    break;
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&dir)));
                if let Err(e) = result {
                    let message = e
                        .downcast_ref::<String>()
                        .cloned()
                        .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                        .unwrap_or_else(|| "panic".into());
                    failures.lock().unwrap().push(format!(
                        "{}: {message}",
                        dir.file_name().unwrap_or_default().to_string_lossy()
                    ));
                }
            });
        }
    });
    failures.into_inner().unwrap()
}

/// The inverse steps `wesley rollback` runs after the steps `ran` of plan `p`, in order:
/// chosen by the plan file's own rule ([`planfile::ValidPlan::rollback_plan`]), as the
/// internal steps (for their lock annotations). `None` when the rollback is refused, which
/// must be because a step whose undo is `refuses` ran (checked here).
pub fn inverses_to_run<'a>(
    p: &'a wesley_planner::plan::Plan,
    ran: &std::collections::BTreeSet<String>,
) -> Option<Vec<&'a wesley_planner::plan::Step>> {
    let valid = planfile::ValidPlan::from_file(planfile::to_plan_file(p))
        .unwrap_or_else(|e| panic!("the plan file does not validate: {e:?}"));
    let refusing = p
        .steps
        .iter()
        .any(|s| ran.contains(&s.id) && matches!(s.undo, wesley_planner::plan::Undo::Refuses(_)));
    let chosen = match valid.rollback_plan(ran) {
        Ok(c) => c,
        Err(e) => {
            assert!(
                refusing,
                "the rollback is refused, but no step that refuses it ran: {e}"
            );
            return None;
        }
    };
    assert!(
        !refusing,
        "a step that refuses rollback ran, but it was not refused"
    );
    Some(
        chosen
            .plan
            .steps
            .iter()
            .map(|v| {
                p.rollback
                    .iter()
                    .find(|s| s.id == v.id)
                    .expect("an inverse step of the plan")
            })
            .collect(),
    )
}

/// Whether column `c` of `old` has an enum type whose labels `new` renames (some old label
/// is gone): its stored values read differently by design (PostgreSQL keeps them by OID).
pub fn relabelled(old: &Schema, new: &Schema, c: &wesley_planner::model::Column) -> bool {
    let wesley_planner::types::BaseType::Enum { schema, name } = &c.ty.base else {
        return false;
    };
    match (old.enum_type(schema, name), new.enum_type(schema, name)) {
        (Some(o), Some(n)) => o.values.iter().any(|v| !n.values.contains(v)),
        _ => false,
    }
}

/// The phases before contract that plan `p` has steps in, in order: where a rollback
/// test applies up to (`wesley apply --until`).
pub fn phases_before_contract(p: &wesley_planner::plan::Plan) -> Vec<wesley_planner::plan::Phase> {
    let set: std::collections::BTreeSet<_> = p
        .steps
        .iter()
        .map(|s| s.phase)
        .filter(|&ph| ph != wesley_planner::plan::Phase::Contract)
        .collect();
    set.into_iter().collect()
}

/// The steps `wesley apply --until until` runs, in order: those of the phases up to
/// `until`, but not one whose dependency waits.
pub fn steps_until(
    p: &wesley_planner::plan::Plan,
    until: wesley_planner::plan::Phase,
) -> Vec<&wesley_planner::plan::Step> {
    let mut ran = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for step in &p.steps {
        if step.phase <= until && step.depends_on.iter().all(|d| ran.contains(d.as_str())) {
            ran.insert(step.id.as_str());
            out.push(step);
        }
    }
    out
}
