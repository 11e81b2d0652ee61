//! The planner in the browser: a thin wasm-bindgen adapter, compiled only for `wasm32`.
//!
//! It is the only module that knows about JavaScript. Every function takes text and
//! returns plain data converted with `serde-wasm-bindgen` (JSON-compatible: `None` becomes
//! `null`, maps become objects). User mistakes come back as diagnostics with line and
//! column, never as exceptions; an exception means a bad argument (an unparsable plan
//! file, an invalid timeout). A panic is a bug: the hook installed at start-up logs it and
//! keeps its message for [`take_panic`], so the page can report it as an error.
//!
//! Built by `scripts/build-wasm` (settings in `wasm-pack.toml`) into `pkg/`.

use crate::diag::Diagnostic;
use crate::plan::HazardKind;
use crate::planfile::{self, PlanFile};
use crate::policy::{self, HazardPolicy};
use crate::render::{self, markdown, sql, text};
use crate::session::{Parsed, Session};
use crate::typescript::{self, Dates};
use crate::{ddl, plan, sdl};
use serde::Serialize;
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Mutex;
use wasm_bindgen::prelude::*;

/// The message of the last panic, until [`take_panic`] reads it.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

#[wasm_bindgen(start)]
fn start() {
    std::panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
        console_error_panic_hook::hook(info);
    }));
}

/// The message of the last panic (a planner bug), once; `undefined` when there was none.
/// A panic aborts the call that hit it: JavaScript sees a `RuntimeError` (unreachable).
#[wasm_bindgen(js_name = takePanic)]
pub fn take_panic() -> Option<String> {
    LAST_PANIC.lock().ok().and_then(|mut last| last.take())
}

/// The planner's version, as recorded in plan files.
#[wasm_bindgen]
pub fn version() -> String {
    crate::VERSION.to_string()
}

/// The plan file format this planner writes (`wesley.plan/v1`).
#[wasm_bindgen(js_name = planFormat)]
pub fn plan_format() -> String {
    planfile::FORMAT.to_string()
}

#[derive(Serialize)]
struct Generated {
    /// The DDL, or `null` when the schema has errors.
    ddl: Option<String>,
    diagnostics: Vec<Diagnostic>,
}

/// DDL for an empty database: `{ ddl: string | null, diagnostics: Diagnostic[] }`.
/// `file` is the name diagnostics refer to.
#[wasm_bindgen]
pub fn generate(file: &str, source: &str) -> Result<JsValue, JsError> {
    let (schema, diagnostics) = sdl::parse(file, source);
    to_js(&Generated {
        ddl: schema.as_ref().map(ddl::generate),
        diagnostics,
    })
}

#[derive(Serialize)]
struct TypeScript {
    /// The declarations, or `null` when the schema has errors.
    typescript: Option<String>,
    diagnostics: Vec<Diagnostic>,
}

/// TypeScript types for node-postgres, exactly what `wesley generate --format typescript`
/// writes: `{ typescript: string | null, diagnostics: Diagnostic[] }`. `dates` is
/// `--ts-dates`: `"date"` or `"string"`; anything else throws.
#[wasm_bindgen(js_name = generateTypescript)]
pub fn generate_typescript(file: &str, source: &str, dates: &str) -> Result<JsValue, JsError> {
    let dates = Dates::parse(dates)
        .ok_or_else(|| JsError::new(&format!("dates must be `date` or `string`, not `{dates}`")))?;
    let (schema, diagnostics) = sdl::parse(file, source);
    to_js(&TypeScript {
        typescript: schema
            .as_ref()
            .map(|s| typescript::generate(s, &typescript::Options { dates })),
        diagnostics,
    })
}

#[derive(Serialize)]
struct Planned {
    /// Exactly the text `wesley plan --format json` prints, or `null` when a schema has
    /// errors. [`plan`] adds the same file as an object, `plan`, parsed from this text by
    /// the JavaScript engine: much faster than converting the structs field by field.
    json: Option<String>,
    /// The diagnostics of both schemas (their `file` tells which), then the planner's.
    diagnostics: Vec<Diagnostic>,
    /// True when there is a plan without error diagnostics. The plan file is not run
    /// through `planfile::validate` here (it costs as much as planning again, on every
    /// keystroke); [`validate_plan`] and [`plan_json`] do that before anything is exported.
    applicable: bool,
}

/// Plans the migration from `old` to `new` (SDL texts; a blank text is an empty
/// database). Returns `{ plan, json, diagnostics, applicable }`: `plan` is the plan file
/// object (`null` when a schema has errors), the rest is described in `Planned`.
#[wasm_bindgen]
pub fn plan(old_file: &str, old: &str, new_file: &str, new: &str) -> Result<JsValue, JsError> {
    let planned = plan_both(old_file, old, new_file, new);
    let object = to_js(&planned)?;
    let file = match &planned.json {
        Some(json) => {
            js_sys::JSON::parse(json).map_err(|_| JsError::new("unreadable plan JSON"))?
        }
        None => JsValue::NULL,
    };
    with_field(object, "plan", file)
}

#[derive(Serialize)]
struct Previewed {
    /// The diagnostics of both schemas (their `file` tells which), then the planner's.
    diagnostics: Vec<Diagnostic>,
    /// True when there is a plan without error diagnostics (as in `Planned`).
    applicable: bool,
    /// The verdict `wesley plan` gives with its defaults (no `--allow`, no `--deny`), as
    /// [`verdict`] returns it; `null` when a schema has errors.
    verdict: Option<VerdictInfo>,
}

/// What the playground shows while someone types: [`plan`] without the plan file. Returns
/// `{ plan, diagnostics, applicable, verdict }`: `plan` is the plan file's steps, rollback,
/// waves, critical path, tables and diagnostics (`planfile::Preview`, exactly as [`plan`]'s
/// `plan` has them), `null` when a schema has errors. The two schemas' canonical forms,
/// hashes and texts are not computed: [`plan_json`] builds the file for an export.
#[wasm_bindgen]
pub fn preview(old_file: &str, old: &str, new_file: &str, new: &str) -> Result<JsValue, JsError> {
    let previewed =
        SESSION.with(|session| session.borrow_mut().preview(old_file, old, new_file, new));
    let (shown, verdict) = match previewed.plan {
        Some((preview, verdict)) => {
            // As in `plan`: the engine parses JSON text much faster than the structs convert.
            let text = serde_json::to_string(&preview).map_err(|e| JsError::new(&e.to_string()))?;
            let shown =
                js_sys::JSON::parse(&text).map_err(|_| JsError::new("unreadable preview JSON"))?;
            (shown, Some(verdict_info(&verdict)))
        }
        None => (JsValue::NULL, None),
    };
    let object = to_js(&Previewed {
        diagnostics: previewed.diagnostics,
        applicable: previewed.applicable,
        verdict,
    })?;
    with_field(object, "plan", shown)
}

fn with_field(object: JsValue, name: &str, value: JsValue) -> Result<JsValue, JsError> {
    js_sys::Reflect::set(&object, &JsValue::from_str(name), &value)
        .map_err(|_| JsError::new(&format!("cannot set `{name}`")))?;
    Ok(object)
}

/// The plan file as JSON text, byte for byte what `wesley plan --format json` prints.
/// Throws with the reasons when a schema or the plan has errors, or when `wesley apply`
/// would refuse the file: the command writes no plan file then either.
#[wasm_bindgen(js_name = planJson)]
pub fn plan_json(old_file: &str, old: &str, new_file: &str, new: &str) -> Result<String, JsError> {
    let planned = plan_both(old_file, old, new_file, new);
    let mut reasons: Vec<String> = planned
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let (file, line, column) = d.location();
            format!("{file}:{line}:{column}: error[{}]: {}", d.code, d.message)
        })
        .collect();
    if let Some(json) = &planned.json {
        reasons.extend(refusals(json));
    }
    match planned.json {
        Some(json) if planned.applicable && reasons.is_empty() => Ok(json),
        _ => Err(JsError::new(&reasons.join("\n"))),
    }
}

/// Why `wesley apply` would refuse this plan file (JSON text), like `wesley plan` checks
/// before writing one: an empty array for a file that may be applied.
#[wasm_bindgen(js_name = validatePlan)]
pub fn validate_plan(plan_json: &str) -> Vec<String> {
    refusals(plan_json)
}

fn refusals(plan_json: &str) -> Vec<String> {
    match planfile::parse(plan_json) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

fn plan_both(old_file: &str, old_text: &str, new_file: &str, new_text: &str) -> Planned {
    let old = parsed(old_file, old_text);
    let new = parsed(new_file, new_text);
    let mut diagnostics: Vec<Diagnostic> = old.1.iter().chain(&new.1).cloned().collect();
    let (Some(old_schema), Some(new_schema)) = (&old.0, &new.0) else {
        return Planned {
            json: None,
            diagnostics,
            applicable: false,
        };
    };
    let p = plan::plan(old_schema, new_schema);
    diagnostics.extend(p.diagnostics.iter().cloned());
    // With both texts, exactly as `wesley plan --from OLD --to NEW --format json` writes it.
    let file = planfile::with_sdl(planfile::to_plan_file(&p), Some(old_text), Some(new_text));
    Planned {
        json: Some(planfile::to_json(&file)),
        diagnostics,
        applicable: !p.has_errors(),
    }
}

thread_local! {
    /// The last few parses: while someone types in one editor the other schema does not
    /// change, and parsing is most of the cost of planning.
    static SESSION: RefCell<Session> = RefCell::new(Session::new());
}

fn parsed(file: &str, source: &str) -> Rc<Parsed> {
    SESSION.with(|session| session.borrow_mut().parse(file, source))
}

/// The plan file (JSON text) as a psql script, like `wesley plan --format sql`. Timeouts
/// are written like the command's options (`5s`, `1min`, `0`); omitted ones take its
/// defaults.
#[wasm_bindgen(js_name = renderSql)]
pub fn render_sql(
    plan_json: &str,
    lock_timeout: Option<String>,
    statement_timeout: Option<String>,
) -> Result<String, JsError> {
    let file = read_plan(plan_json)?;
    let lock = sql::Timeout::parse(lock_timeout.as_deref().unwrap_or("5s"))
        .map_err(|e| JsError::new(&format!("lock timeout: {e}")))?;
    let statement = sql::Timeout::parse(statement_timeout.as_deref().unwrap_or("1min"))
        .map_err(|e| JsError::new(&format!("statement timeout: {e}")))?;
    let opts =
        sql::SqlOptions::new(lock, statement, sql::Timeout::NONE).map_err(|e| JsError::new(&e))?;
    Ok(sql::render(&file, &opts))
}

/// The plan file (JSON text) as a pull-request comment, like `wesley plan --format
/// markdown`. `allow` and `deny` are hazard kinds, as `--allow` and `--deny` take them.
#[wasm_bindgen(js_name = renderMarkdown)]
pub fn render_markdown(
    plan_json: &str,
    allow: Vec<String>,
    deny: Vec<String>,
) -> Result<String, JsError> {
    let file = read_plan(plan_json)?;
    let policy = policy(&allow, &deny)?;
    Ok(markdown::render(
        &file,
        &markdown::MarkdownOptions { policy },
    ))
}

/// The plan file (JSON text) as plain text, like `wesley plan` in a terminal (no colour).
#[wasm_bindgen(js_name = renderText)]
pub fn render_text(
    plan_json: &str,
    allow: Vec<String>,
    deny: Vec<String>,
) -> Result<String, JsError> {
    let file = read_plan(plan_json)?;
    let policy = policy(&allow, &deny)?;
    Ok(text::render(
        &file,
        &text::TextOptions {
            color: false,
            policy,
        },
    ))
}

#[derive(Serialize)]
struct VerdictInfo {
    /// `error`, `refused`, `review` or `ok`.
    level: &'static str,
    /// The one-line verdict `wesley plan` prints.
    summary: String,
    /// True when `wesley plan` would exit non-zero (errors, or refusals not allowed).
    blocks: bool,
}

/// The verdict of `wesley plan` on this plan file (JSON text) under `--allow`/`--deny`:
/// `{ level, summary, blocks }`.
#[wasm_bindgen]
pub fn verdict(plan_json: &str, allow: Vec<String>, deny: Vec<String>) -> Result<JsValue, JsError> {
    let file = read_plan(plan_json)?;
    let v = render::verdict(&file, &policy(&allow, &deny)?);
    to_js(&verdict_info(&v))
}

fn verdict_info(v: &render::Verdict) -> VerdictInfo {
    let level = match v {
        render::Verdict::Errors(_) => "error",
        render::Verdict::Refused { .. } => "refused",
        render::Verdict::Review { .. } => "review",
        render::Verdict::Safe { .. } | render::Verdict::NoChanges => "ok",
    };
    VerdictInfo {
        level,
        summary: v.summary(),
        blocks: v.blocks(),
    }
}

#[derive(Serialize)]
struct HazardInfo {
    kind: &'static str,
    description: &'static str,
    advice: &'static str,
}

/// Every hazard kind with what it means and what to do about it:
/// `[{ kind, description, advice }]`.
#[wasm_bindgen]
pub fn hazards() -> Result<JsValue, JsError> {
    let all: Vec<HazardInfo> = HazardKind::ALL
        .iter()
        .map(|&k| HazardInfo {
            kind: k.as_str(),
            description: k.describe(),
            advice: render::advice(k),
        })
        .collect();
    to_js(&all)
}

fn read_plan(plan_json: &str) -> Result<PlanFile, JsError> {
    // Rendering never fails, even for a file that was not validated; the page exports
    // only plans that `validate_plan` accepts.
    serde_json::from_str(plan_json)
        .map_err(|e| JsError::new(&format!("not a {} plan file: {e}", planfile::FORMAT)))
}

fn policy(allow: &[String], deny: &[String]) -> Result<HazardPolicy, JsError> {
    let kinds = |flag: &str, names: &[String]| {
        policy::parse_kinds(flag, names).map_err(|e| JsError::new(&e))
    };
    HazardPolicy::new(kinds("--allow", allow)?, kinds("--deny", deny)?)
        .map_err(|e| JsError::new(&e))
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}
