//! A plan as one psql script that applies it correctly by itself.
//!
//! * `\set ON_ERROR_STOP on` comes first: the first failing statement stops the script
//!   (it is the only meta-command in the script; plan files cannot contain any). Then
//!   `standard_conforming_strings` is set on, so psql and the server read strings the way
//!   the plan file was validated.
//! * Each transactional step is its own transaction, with `SET LOCAL lock_timeout` and
//!   `SET LOCAL statement_timeout`; a step waiting for a lock gives up instead of making
//!   every later query on the table queue behind it.
//! * A non-transactional step (a concurrent index build) runs alone, with session-level
//!   timeouts that are `RESET` right after.
//! * A backfill runs in batches, each committed on its own, walking the primary key: a
//!   `DO` block that commits after every batch (PostgreSQL 11 and later), outside any
//!   transaction block, as the plan's backfill description asks. Running the step's
//!   single UPDATE instead would lock every row it touches until the end.
//!
//! Backfill, validation and concurrent steps take time proportional to table size, so by
//! default they run without a statement timeout; other steps get one minute.

use super::{clean, lock_name, phase_title, plural};
use crate::plan::{Phase, StepKind, TimeoutClass};
use crate::planfile::psql::dollar_tag;
use crate::planfile::{PlanBackfill, PlanFile, PlanStep};
use crate::sql::{ident, qualified};
use std::fmt::Write as _;

pub use crate::timeout::Timeout;

/// Timeouts for the script. Build with [`SqlOptions::new`], which checks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqlOptions {
    lock_timeout: Timeout,
    statement_timeout: Timeout,
    long_statement_timeout: Timeout,
}

impl Default for SqlOptions {
    /// lock_timeout 5s; statement_timeout 1min; no statement timeout for long steps.
    fn default() -> Self {
        SqlOptions {
            lock_timeout: Timeout::from_secs(5),
            statement_timeout: Timeout::from_secs(60),
            long_statement_timeout: Timeout::NONE,
        }
    }
}

impl SqlOptions {
    /// `statement_timeout` applies to instant steps and to each batch of a backfill;
    /// `long_statement_timeout` to long steps (timeout class `long`: a scan, a rewrite, a
    /// step outside a transaction), as [`TimeoutClass::statement_timeout`] maps them for
    /// `wesley apply` too. A lock timeout must be shorter than a statement timeout
    /// (otherwise it never fires) unless one of them is zero (no limit).
    pub fn new(
        lock_timeout: Timeout,
        statement_timeout: Timeout,
        long_statement_timeout: Timeout,
    ) -> Result<SqlOptions, String> {
        for (name, t) in [
            ("statement timeout", statement_timeout),
            ("long statement timeout", long_statement_timeout),
        ] {
            if !lock_timeout.is_none() && !t.is_none() && lock_timeout >= t {
                return Err(format!(
                    "the lock timeout ({lock_timeout}) must be shorter than the {name} ({t})"
                ));
            }
        }
        Ok(SqlOptions {
            lock_timeout,
            statement_timeout,
            long_statement_timeout,
        })
    }

    /// `lock_timeout` of every step.
    pub fn lock_timeout(&self) -> Timeout {
        self.lock_timeout
    }

    /// `statement_timeout` of instant steps and of each backfill batch.
    pub fn statement_timeout(&self) -> Timeout {
        self.statement_timeout
    }

    /// `statement_timeout` of steps that scan or rewrite a table.
    pub fn long_statement_timeout(&self) -> Timeout {
        self.long_statement_timeout
    }

    /// The statement timeout a step runs with, from the timeout class the plan file gives
    /// it (the executor reads the same class): instant steps get the statement timeout,
    /// long ones the long statement timeout; a backfill, one `DO` loop here, none. An
    /// unknown class (a file that was not validated) gets the long timeout.
    pub fn statement_timeout_for(&self, step: &PlanStep) -> Timeout {
        step.timeout()
            .unwrap_or(TimeoutClass::Long)
            .statement_timeout(self.statement_timeout, self.long_statement_timeout)
    }
}

/// Renders the plan as a psql script.
pub fn render(file: &PlanFile, opts: &SqlOptions) -> String {
    let mut o = String::new();
    o.push_str("\\set ON_ERROR_STOP on\n");
    o.push_str("SET standard_conforming_strings = on;\n\n");
    let _ = writeln!(
        o,
        "-- Wesley migration plan ({}, planner {})",
        clean(&file.format),
        clean(&file.planner_version)
    );
    let _ = writeln!(o, "-- from       {}", clean(&file.from.schema_hash));
    let _ = writeln!(o, "-- to         {}", clean(&file.to.schema_hash));
    let _ = writeln!(o, "-- plan_hash  {}", clean(&file.plan_hash));
    let _ = writeln!(o, "--");
    let _ = writeln!(
        o,
        "-- {}. Run with `psql -X -d DATABASE -f FILE`, not with --single-transaction:",
        plural(file.steps.len(), "step")
    );
    o.push_str("-- index builds and batched backfills must run outside a transaction block.\n");
    o.push_str("-- Each step commits on its own. On the first error the script stops and the\n");
    o.push_str("-- steps before it stay applied; a failed concurrent index build leaves an\n");
    o.push_str("-- INVALID index behind, to drop before trying again.\n");
    let _ = writeln!(
        o,
        "-- lock_timeout {}; statement_timeout {} ({} for backfill, validate and concurrent steps).",
        opts.lock_timeout,
        opts.statement_timeout,
        describe(opts.long_statement_timeout)
    );
    if file.has_errors() {
        o.push_str("--\n-- This plan has errors and must not be applied:\n");
        for d in file.diagnostics.iter().filter(|d| d.is_error()) {
            let _ = writeln!(o, "--   {}: {}", clean(&d.code), clean(&d.message));
        }
        let tag = dollar_tag(&[]);
        let _ = writeln!(
            o,
            "DO {tag} BEGIN RAISE EXCEPTION 'wesley: this plan has errors and must not be applied'; END {tag};"
        );
    }
    if file.steps.is_empty() {
        o.push_str("\n-- Nothing to do: the schemas are equivalent.\n");
    }
    let total = file.steps.len();
    for (phase, steps) in super::phase_runs(file) {
        let title = Phase::parse(phase).map(phase_title).unwrap_or("");
        let _ = writeln!(o, "\n-- ==== {}: {} ====", clean(phase), title);
        for (n, s) in steps {
            step(&mut o, s, n, total, opts);
        }
    }
    o
}

fn describe(t: Timeout) -> String {
    if t.is_none() {
        "none".to_string()
    } else {
        t.to_string()
    }
}

fn step(o: &mut String, s: &PlanStep, n: usize, total: usize, opts: &SqlOptions) {
    let _ = writeln!(o, "\n-- step {}: {}", clean(&s.id), clean(&s.summary));
    let locks: Vec<String> = s
        .locks
        .iter()
        .map(|l| format!("{} on {}", lock_name(&l.mode), clean(&l.relation)))
        .collect();
    let _ = write!(o, "-- {n}/{total}");
    if !locks.is_empty() {
        let _ = write!(o, "; locks {}", locks.join(", "));
    }
    o.push('\n');
    for h in &s.hazards {
        let _ = writeln!(o, "-- hazard {}: {}", clean(&h.kind), clean(&h.message));
    }
    let timeout = opts.statement_timeout_for(s);
    let mut sql = statement_lint_notes(s);
    if !sql.ends_with('\n') {
        sql.push('\n');
    }
    match &s.backfill {
        Some(b) => {
            let _ = writeln!(
                o,
                "-- in batches of {} rows, each committed on its own",
                b.batch_size
            );
            session(o, opts, timeout, &backfill(b));
        }
        None if !s.transactional => {
            o.push_str("-- outside a transaction block\n");
            session(o, opts, timeout, &sql);
        }
        None => {
            o.push_str("BEGIN;\n");
            let _ = writeln!(
                o,
                "SET LOCAL lock_timeout = {};",
                opts.lock_timeout.to_sql()
            );
            let _ = writeln!(o, "SET LOCAL statement_timeout = {};", timeout.to_sql());
            if let Some(note) = lint_note(s) {
                o.push_str(note);
            }
            o.push_str(&sql);
            o.push_str("COMMIT;\n");
        }
    }
}

/// A comment that tells SQL linters (squawk) why a statement they would flag is safe
/// here, placed right before the step's statement. Kept to facts the step's kind proves:
/// an `alter_column_type` step is only planned for type changes PostgreSQL makes without
/// a rewrite (measured), and a foreign key added without `NOT VALID` only between two
/// tables the plan creates, which are empty. The one rewrite squawk would flag that is not
/// safe, a generated column added to an existing table, is a refused hazard unless allowed.
fn lint_note(s: &PlanStep) -> Option<&'static str> {
    match s.kind() {
        Some(StepKind::AlterColumnType) => Some(
            "-- squawk-ignore changing-column-type -- binary-coercible: no rewrite, no scan (measured on PostgreSQL)\n",
        ),
        // Not safe, but declared: a generated column has no online path, and the step's
        // `table_rewrite` hazard refuses the plan unless it is allowed.
        Some(StepKind::AddColumn) if s.rewrite => Some(
            "-- squawk-ignore adding-field-with-default -- a generated column: this rewrite is the step's table_rewrite hazard, refused unless allowed\n",
        ),
        Some(StepKind::AddForeignKey) if !s.sql.contains(" NOT VALID") => Some(
            "-- squawk-ignore constraint-missing-not-valid, adding-foreign-key-constraint -- both tables are new and empty: the check is instant\n",
        ),
        _ => None,
    }
}

/// The step's SQL with a linter comment before each statement that squawk would flag
/// inside it although it is safe there: a key's type switch (`swap_columns`) drops the old
/// unique index with a plain `DROP INDEX` after its `LOCK TABLE ... IN ACCESS EXCLUSIVE
/// MODE`, so the drop waits for no lock and takes no time.
fn statement_lint_notes(s: &PlanStep) -> String {
    const NOTE: &str = "-- squawk-ignore require-concurrent-index-deletion -- the switch already holds ACCESS EXCLUSIVE on the table: the drop is instant\n";
    if s.kind() != Some(StepKind::SwapColumns) {
        return s.sql.clone();
    }
    let mut out = String::with_capacity(s.sql.len());
    for line in s.sql.split_inclusive('\n') {
        if line.starts_with("DROP INDEX \"") {
            out.push_str(NOTE);
        }
        out.push_str(line);
    }
    out
}

/// Runs `sql` outside a transaction block with session-level timeouts, reset afterwards.
fn session(o: &mut String, opts: &SqlOptions, timeout: Timeout, sql: &str) {
    let _ = writeln!(o, "SET lock_timeout = {};", opts.lock_timeout.to_sql());
    let _ = writeln!(o, "SET statement_timeout = {};", timeout.to_sql());
    o.push_str(sql);
    o.push_str("RESET statement_timeout;\nRESET lock_timeout;\n");
}

/// A `DO` block that walks the primary key in batches of `batch_size` rows, updates the
/// rows of each batch that still need it, and commits after each batch. Each batch is the
/// key range [`lo`, `hi`), where `hi` is the first key of the next batch, so every range
/// condition is a plain comparison an index on the key serves.
fn backfill(b: &PlanBackfill) -> String {
    let table = qualified(&b.schema, &b.table);
    let tag = dollar_tag(&[&b.set, &b.predicate]);
    let keys: Vec<String> = b.key.iter().map(|k| ident(k)).collect();
    let n = keys.len();
    let lo: Vec<String> = (1..=n).map(|i| format!("wesley_lo{i}")).collect();
    let hi: Vec<String> = (1..=n).map(|i| format!("wesley_hi{i}")).collect();
    let row = |v: &[String]| format!("({})", v.join(", "));
    let (k, lo_row, hi_row) = (row(&keys), row(&lo), row(&hi));
    let key_list = keys.join(", ");
    let update = |range: &str| {
        format!(
            "UPDATE {table} SET {}\n      WHERE ({}) AND {range};",
            b.set, b.predicate
        )
    };
    let mut o = String::new();
    let _ = writeln!(o, "DO {tag}");
    o.push_str("DECLARE\n");
    for (var, key) in lo.iter().chain(&hi).zip(keys.iter().chain(&keys)) {
        let _ = writeln!(o, "  {var} {table}.{key}%TYPE;");
    }
    o.push_str("BEGIN\n");
    let _ = writeln!(
        o,
        "  SELECT {key_list} INTO {} FROM {table} ORDER BY {key_list} LIMIT 1;",
        lo.join(", ")
    );
    o.push_str("  IF NOT FOUND THEN\n    RETURN;\n  END IF;\n  LOOP\n");
    let _ = writeln!(
        o,
        "    SELECT {key_list} INTO {} FROM {table}\n      WHERE {k} >= {lo_row} ORDER BY {key_list} OFFSET {} LIMIT 1;",
        hi.join(", "),
        b.batch_size
    );
    o.push_str("    IF NOT FOUND THEN\n");
    let _ = writeln!(
        o,
        "      {}",
        update(&format!("{k} >= {lo_row}")).replace("\n      ", "\n        ")
    );
    o.push_str("      COMMIT;\n      EXIT;\n    END IF;\n");
    let _ = writeln!(
        o,
        "    {}",
        update(&format!("{k} >= {lo_row} AND {k} < {hi_row}"))
    );
    o.push_str("    COMMIT;\n");
    for (l, h) in lo.iter().zip(&hi) {
        let _ = writeln!(o, "    {l} := {h};");
    }
    o.push_str("  END LOOP;\nEND\n");
    let _ = writeln!(o, "{tag};");
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::fixture;

    #[test]
    fn timeouts() {
        let p = |s: &str| Timeout::parse(s).map(|t| t.to_string());
        assert_eq!(p("5s"), Ok("5s".into()));
        assert_eq!(p("1m"), Ok("1min".into()));
        assert_eq!(p("90s"), Ok("90s".into()));
        assert_eq!(p("120s"), Ok("2min".into()));
        assert_eq!(p("1500ms"), Ok("1500ms".into()));
        assert_eq!(p("1.5s"), Ok("1500ms".into()));
        assert_eq!(p("0"), Ok("0".into()));
        assert!(p("5").is_err());
        assert!(p("5 parsecs").is_err());
        assert!(p("-1s").is_err());
        assert!(p("99999999h").is_err());
        assert_eq!(Timeout::from_secs(5).to_sql(), "'5s'");
        assert_eq!(Timeout::NONE.to_sql(), "0");
        let t = Timeout::from_secs;
        assert!(SqlOptions::new(t(5), t(60), Timeout::NONE).is_ok());
        assert!(SqlOptions::new(Timeout::NONE, t(60), Timeout::NONE).is_ok());
        assert!(SqlOptions::new(t(60), t(60), Timeout::NONE).is_err());
        assert!(SqlOptions::new(t(5), t(60), t(2)).is_err());
    }

    #[test]
    fn script() {
        let got = render(&fixture::sample(), &SqlOptions::default());
        expect_test::expect![[r#"
            \set ON_ERROR_STOP on
            SET standard_conforming_strings = on;

            -- Wesley migration plan (wesley.plan/v3, planner 0.1.0)
            -- from       sha256:696c598a497205ebf91fc9b7d5a0d6e00727e9c11fbc33194529975a0732a5a4
            -- to         sha256:8434751da777364fc303d6f624b18baf305661af775cea3a47d206b929fe95e7
            -- plan_hash  sha256:3d9ee65466bac4e19d70182cf066cc85f6145fc7fcc92ac8f88728aa5a9cf250
            --
            -- 4 steps. Run with `psql -X -d DATABASE -f FILE`, not with --single-transaction:
            -- index builds and batched backfills must run outside a transaction block.
            -- Each step commits on its own. On the first error the script stops and the
            -- steps before it stay applied; a failed concurrent index build leaves an
            -- INVALID index behind, to drop before trying again.
            -- lock_timeout 5s; statement_timeout 1min (none for backfill, validate and concurrent steps).

            -- ==== expand: additive changes the running application tolerates ====

            -- step create_table:public.team: Create table public.team (2 columns, 0 indexes)
            -- 1/4; locks ACCESS EXCLUSIVE on public.team
            BEGIN;
            SET LOCAL lock_timeout = '5s';
            SET LOCAL statement_timeout = '1min';
            CREATE TABLE "public"."team" (
              "id" uuid NOT NULL,
              "title" text NOT NULL,
              CONSTRAINT "team_pkey" PRIMARY KEY ("id")
            );
            COMMIT;

            -- step add_column:public.user.nick: Add column public.user.nick text
            -- 2/4; locks ACCESS EXCLUSIVE on public.user
            BEGIN;
            SET LOCAL lock_timeout = '5s';
            SET LOCAL statement_timeout = '1min';
            ALTER TABLE "public"."user" ADD COLUMN "nick" text;
            COMMIT;

            -- step create_index:public.user.user_nick_idx: Build index user_nick_idx on public.user (nick) concurrently
            -- 3/4; locks SHARE UPDATE EXCLUSIVE on public.user
            -- hazard long_running: Building index user_nick_idx reads public.user twice without blocking reads or writes; it takes time and I/O proportional to the table's size. An interrupted build leaves an INVALID index, which `wesley apply` drops and rebuilds.
            -- outside a transaction block
            SET lock_timeout = '5s';
            SET statement_timeout = 0;
            CREATE INDEX CONCURRENTLY "user_nick_idx" ON "public"."user" USING btree ("nick");
            RESET statement_timeout;
            RESET lock_timeout;

            -- ==== contract: what the new schema no longer has is removed ====

            -- step drop_column:public.user.legacy: Drop column public.user.legacy
            -- 4/4; locks ACCESS EXCLUSIVE on public.user
            -- hazard deletes_data: Dropping column public.user.legacy deletes its data for good. Deploy code that no longer reads or writes it first, and take a backup if the data may be needed.
            -- hazard breaks_clients: From this step on, queries that name public.user.legacy fail (SQLSTATE 42703), and `SELECT *` returns one column less.
            BEGIN;
            SET LOCAL lock_timeout = '5s';
            SET LOCAL statement_timeout = '1min';
            ALTER TABLE "public"."user" DROP COLUMN "legacy";
            COMMIT;
        "#]].assert_eq(&got);
    }

    #[test]
    fn batched_backfill() {
        let old = "type Product @wes_table @wes_pk(columns: [\"shop\", \"sku\"]) {\n  shop: ID!\n  sku: String!\n  price: Int\n}\n";
        let new = old.replace("price: Int", "price: BigInt");
        let f = fixture::file(old, &new);
        let got = render(&f, &SqlOptions::default());
        let start = got.find("-- step backfill:").expect("a backfill step");
        let end = got[start..].find("RESET lock_timeout;\n").unwrap() + start;
        expect_test::expect![[r#"
            -- step backfill:public.product.price_new: Copy price into price_new as bigint in batches of 1000
            -- 3/6; locks ROW EXCLUSIVE on public.product
            -- hazard needs_backfill: Every row of public.product is updated to fill price_new, in batches of 1000 rows, each its own short transaction: writes continue, but it takes time proportional to the table's size and creates dead rows for VACUUM. Values that do not convert to bigint exactly stay NULL and are reported by the next step.
            -- in batches of 1000 rows, each committed on its own
            SET lock_timeout = '5s';
            SET statement_timeout = 0;
            DO $wesley$
            DECLARE
              wesley_lo1 "public"."product"."shop"%TYPE;
              wesley_lo2 "public"."product"."sku"%TYPE;
              wesley_hi1 "public"."product"."shop"%TYPE;
              wesley_hi2 "public"."product"."sku"%TYPE;
            BEGIN
              SELECT "shop", "sku" INTO wesley_lo1, wesley_lo2 FROM "public"."product" ORDER BY "shop", "sku" LIMIT 1;
              IF NOT FOUND THEN
                RETURN;
              END IF;
              LOOP
                SELECT "shop", "sku" INTO wesley_hi1, wesley_hi2 FROM "public"."product"
                  WHERE ("shop", "sku") >= (wesley_lo1, wesley_lo2) ORDER BY "shop", "sku" OFFSET 1000 LIMIT 1;
                IF NOT FOUND THEN
                  UPDATE "public"."product" SET "price_new" = "public"."wesley_cast_product_price"("price")
                    WHERE ("price_new" IS NULL AND "price" IS NOT NULL) AND ("shop", "sku") >= (wesley_lo1, wesley_lo2);
                  COMMIT;
                  EXIT;
                END IF;
                UPDATE "public"."product" SET "price_new" = "public"."wesley_cast_product_price"("price")
                  WHERE ("price_new" IS NULL AND "price" IS NOT NULL) AND ("shop", "sku") >= (wesley_lo1, wesley_lo2) AND ("shop", "sku") < (wesley_hi1, wesley_hi2);
                COMMIT;
                wesley_lo1 := wesley_hi1;
                wesley_lo2 := wesley_hi2;
              END LOOP;
            END
            $wesley$;
            RESET statement_timeout;
        "#]].assert_eq(&got[start..end]);
    }

    #[test]
    fn plan_with_errors_refuses_to_run() {
        let mut f = fixture::sample();
        f.diagnostics.push(crate::planfile::PlanDiagnostic {
            code: "E0101".into(),
            severity: "error".into(),
            file: "plan".into(),
            line: 1,
            column: 1,
            message: "cannot add NOT NULL column\nwithout a default".into(),
            help: None,
        });
        let got = render(&f, &SqlOptions::default());
        assert!(got.contains("--   E0101: cannot add NOT NULL column without a default\nDO $wesley$ BEGIN RAISE EXCEPTION"), "{got}");
    }

    #[test]
    fn only_meta_command_is_ours() {
        let mut f = fixture::sample();
        f.steps[0].summary = "evil\n\\! id".into();
        f.steps[0].id = "x\r\\! id".into();
        let got = render(&f, &SqlOptions::default());
        let metas: Vec<&str> = got
            .lines()
            .filter(|l| l.trim_start().starts_with('\\'))
            .collect();
        assert_eq!(metas, ["\\set ON_ERROR_STOP on"]);
        assert!(!got.contains('\r'));
    }
}
