//! `plan_hash` (see the module documentation of `planfile`).

use super::dto::{PlanDiagnostic, PlanFile, PlanStep, SchemaRef};
use serde::Serialize;
use sha2::{Digest, Sha256};

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
    let json = serde_json::to_string(&hashed).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(json.as_bytes())))
}
