//! `plan_hash` (see the module documentation of `planfile`).

use super::dto::{PlanDiagnostic, PlanFile, PlanStep, SchemaRef};
use serde::Serialize;

/// The part of a plan file `plan_hash` covers, in this order.
#[derive(Serialize)]
struct Hashed<'a> {
    from: &'a SchemaRef,
    to: &'a SchemaRef,
    steps: &'a [PlanStep],
    rollback: &'a [PlanStep],
    diagnostics: &'a [PlanDiagnostic],
}

/// Computes the `plan_hash` of a plan file's content (ignoring its current `plan_hash`):
/// `sha256:` and 64 lowercase hex digits.
pub fn plan_hash(file: &PlanFile) -> String {
    let hashed = Hashed {
        from: &file.from,
        to: &file.to,
        steps: &file.steps,
        rollback: &file.rollback,
        diagnostics: &file.diagnostics,
    };
    crate::canon::sha256_json(&hashed)
}
