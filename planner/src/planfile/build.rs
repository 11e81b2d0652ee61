//! From the internal [`Plan`] to the plan file, by hand: the wire format never follows
//! internal types by accident.

use super::dto::*;
use super::{plan_hash, tables, FORMAT, VERIFIED_ON};
use crate::canon::{CanonSchema, TableExpressions};
use crate::diag::Diagnostic;
use crate::plan::{Plan, Step, Steps};
use std::collections::{BTreeMap, BTreeSet};

/// Converts an internal plan into a plan file, with its `plan_hash`.
pub fn to_plan_file(plan: &Plan) -> PlanFile {
    let body = preview(
        &plan.steps,
        &plan.rollback,
        &plan.waves,
        &plan.critical_path,
        &plan.new_tables,
        &plan.diagnostics,
    );
    let touched: BTreeSet<String> = body.steps.iter().flat_map(|s| s.touches.clone()).collect();
    let mut file = PlanFile {
        format: FORMAT.to_string(),
        planner_version: crate::VERSION.to_string(),
        verified_on: verified_on(plan),
        from: schema_ref(
            &plan.from_hash,
            &plan.from_table_hashes,
            &plan.from,
            &plan.from_exprs,
            &touched,
        ),
        to: schema_ref(
            &plan.to_hash,
            &plan.to_table_hashes,
            &plan.to,
            &plan.to_exprs,
            &touched,
        ),
        plan_hash: String::new(),
        tables: body.tables,
        steps: body.steps,
        rollback: body.rollback,
        waves: body.waves,
        critical_path: body.critical_path,
        diagnostics: body.diagnostics,
    };
    file.plan_hash = plan_hash(&file);
    file
}

/// The [`Preview`] of planned steps: exactly those fields of the plan file
/// [`to_plan_file`] writes for the same plan.
pub fn to_preview(s: &Steps) -> Preview {
    preview(
        &s.steps,
        &s.rollback,
        &s.waves,
        &s.critical_path,
        &s.new_tables,
        &s.diagnostics,
    )
}

/// The plan file's fields that depend on the steps alone.
fn preview(
    steps: &[Step],
    rollback: &[Step],
    waves: &[Vec<String>],
    critical_path: &[String],
    new_tables: &[String],
    diagnostics: &[Diagnostic],
) -> Preview {
    let steps: Vec<PlanStep> = steps.iter().map(step).collect();
    let new_tables: BTreeSet<String> = new_tables.iter().cloned().collect();
    Preview {
        tables: tables::summarize(&steps, &new_tables),
        steps,
        rollback: rollback.iter().map(step).collect(),
        waves: waves.to_vec(),
        critical_path: critical_path.to_vec(),
        diagnostics: diagnostics.iter().map(diagnostic).collect(),
    }
}

/// The versions of [`VERIFIED_ON`] both schemas can exist on: a plan whose schemas use
/// `NULLS NOT DISTINCT` is not verified on (and `wesley apply` refuses) PostgreSQL 14.
fn verified_on(plan: &Plan) -> Vec<u32> {
    let min = plan.from.min_server_major().max(plan.to.min_server_major());
    VERIFIED_ON.iter().copied().filter(|v| *v >= min).collect()
}

/// The same plan file carrying the SDL texts its schemas were planned from (`from.sdl`,
/// `to.sdl`), with its `plan_hash` recomputed. The texts must be the ones the plan's models
/// were parsed from; [`super::validate`] checks that each describes its schema hash.
pub fn with_sdl(mut file: PlanFile, from: Option<&str>, to: Option<&str>) -> PlanFile {
    file.from.sdl = from.map(str::to_string);
    file.to.sdl = to.map(str::to_string);
    file.plan_hash = plan_hash(&file);
    file
}

/// The plan file as JSON text: pretty-printed, two-space indentation, trailing newline.
pub fn to_json(file: &PlanFile) -> String {
    let mut text = serde_json::to_string_pretty(file).unwrap_or_default();
    text.push('\n');
    text
}

fn schema_ref(
    hash: &str,
    table_hashes: &BTreeMap<String, String>,
    full: &CanonSchema,
    exprs: &[TableExpressions],
    touched: &BTreeSet<String>,
) -> SchemaRef {
    SchemaRef {
        schema_hash: hash.to_string(),
        table_hashes: Some(table_hashes.clone()),
        canonical: Some(CanonSchema {
            enums: full.enums.clone(),
            tables: full
                .tables
                .iter()
                .filter(|t| touched.contains(&t.name))
                .cloned()
                .collect(),
            extensions: full.extensions.clone(),
        }),
        expressions: (!exprs.is_empty()).then(|| exprs.to_vec()),
        sdl: None,
    }
}

fn step(s: &Step) -> PlanStep {
    PlanStep {
        id: s.id.clone(),
        phase: s.phase.as_str().to_string(),
        kind: s.kind.as_str().to_string(),
        table: s.table.as_ref().map(|(schema, t)| format!("{schema}.{t}")),
        summary: s.summary.clone(),
        sql: s.sql.clone(),
        transactional: s.transactional,
        timeout: s.timeout.as_str().to_string(),
        cost: s.cost,
        index: s.index.as_ref().map(|i| PlanIndex {
            schema: i.schema.clone(),
            name: i.name.clone(),
        }),
        touches: s.touches(),
        depends_on: s.depends_on.clone(),
        locks: s
            .locks
            .iter()
            .map(|l| PlanLock {
                relation: l.relation.clone(),
                mode: l.mode.as_str().to_string(),
                blocks_reads: l.blocks_reads,
                blocks_writes: l.blocks_writes,
            })
            .collect(),
        rewrite: s.rewrite,
        scan: s.scan,
        hazards: s
            .hazards
            .iter()
            .map(|h| PlanHazard {
                kind: h.kind.as_str().to_string(),
                severity: h.severity.as_str().to_string(),
                message: h.message.clone(),
            })
            .collect(),
        backfill: s.backfill.as_ref().map(|b| PlanBackfill {
            schema: b.schema.clone(),
            table: b.table.clone(),
            key: b.key.clone(),
            set: b.set.clone(),
            predicate: b.predicate.clone(),
            batch_size: b.batch_size,
        }),
        undo: s.undoes.is_none().then(|| PlanUndo {
            kind: s.undo.kind().as_str().to_string(),
            note: s.undo.note().map(str::to_string),
        }),
        undoes: s.undoes.clone(),
    }
}

fn diagnostic(d: &Diagnostic) -> PlanDiagnostic {
    let (file, line, column) = d.location();
    PlanDiagnostic {
        code: d.code.to_string(),
        severity: d.severity().as_str().to_string(),
        file: file.to_string(),
        line,
        column,
        message: d.message.clone(),
        help: d.help.clone(),
    }
}
