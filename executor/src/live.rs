//! The schema a live database has, as SDL the planner can read: either the target schema
//! of the last plan applied to it (recorded in the ledger, when the database still matches
//! it) or the database introspected ([`crate::catalog`] + [`crate::sdl_writer`]). Used by
//! `wesley introspect`, `wesley plan --database-url` and `wesley watch`.

use crate::apply::{drift, exprs, ledger};
use crate::error::DbError;
use crate::{catalog, sdl_writer};
use tokio_postgres::Client;
use wesley_planner::canon::{self, CanonSchema};
use wesley_planner::{sdl, Schema};

/// Why a database could not be described in SDL.
#[derive(Debug, thiserror::Error)]
pub enum IntrospectError {
    /// Reading the catalog or the ledger failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The SDL written for the database does not parse with the planner: a bug of
    /// [`crate::sdl_writer`], reported with the planner's diagnostics and the text.
    #[error("the SDL written for this database does not parse; please report this:\n{diagnostics}\n{sdl}")]
    WrittenSdlInvalid {
        /// The planner's diagnostics.
        diagnostics: String,
        /// The text written.
        sdl: String,
    },
}

/// A database described in SDL by introspection.
#[derive(Debug, Clone)]
pub struct Introspected {
    /// The whole file: header, then the SDL.
    pub text: String,
    /// The file read back by the planner.
    pub model: Schema,
    /// What the file leaves out.
    pub notes: Vec<String>,
    /// How the file, read back, still differs from the database.
    pub differences: Vec<String>,
}

/// Keeps the tables and enums of `schemas` (all when empty).
fn only(mut c: CanonSchema, schemas: &[String]) -> CanonSchema {
    if schemas.is_empty() {
        return c;
    }
    let keep = |name: &str| {
        schemas.iter().any(|s| {
            name.strip_prefix(s.as_str())
                .is_some_and(|r| r.starts_with('.'))
        })
    };
    c.tables.retain(|t| keep(&t.name));
    c.enums.retain(|e| keep(&e.name));
    c
}

/// Introspects `schemas` (empty: every schema but the system ones and `wesley`), then
/// reads the file back with the planner and compares it with the database, so that
/// whatever the file still misses is said too. An SDL that the planner rejects is an
/// error (a bug of the writer), with the diagnostics.
pub async fn introspect(c: &Client, schemas: &[String]) -> Result<Introspected, IntrospectError> {
    let cat = catalog::read(c, schemas).await?;
    let written = sdl_writer::write(&cat);
    let (model, diags) = sdl::parse("introspected.graphql", &written.body);
    let Some(model) = model else {
        let errors: Vec<String> = diags
            .iter()
            .filter(|d| d.is_error())
            .map(|d| d.render(Some(&written.body)))
            .collect();
        return Err(IntrospectError::WrittenSdlInvalid {
            diagnostics: errors.join("\n"),
            sdl: written.body,
        });
    };
    let want = canon::canonical(&model);
    let live = only(drift::live(c).await?, schemas).as_expected_by(&want.extensions);
    let mut differences = if live.hash() == want.hash() {
        Vec::new()
    } else {
        drift::describe(&want, &live)
    };
    if live.hash() != want.hash() && differences.is_empty() {
        differences.push(format!(
            "the database hashes to {} and the file to {}",
            live.hash(),
            want.hash()
        ));
    }
    differences.extend(exprs::differences(c, &canon::expressions(&model)).await?);
    let text = sdl_writer::render(&cat.database, &cat.schemas, &written, &differences);
    Ok(Introspected {
        text,
        model,
        notes: written.notes.into_iter().map(|n| n.0).collect(),
        differences,
    })
}

/// Where the schema a plan starts from came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The target schema of the last plan applied, recorded in the ledger.
    Ledger {
        /// That plan's hash.
        plan_hash: String,
    },
    /// The database introspected, with what the SDL leaves out and how it differs.
    Introspected {
        /// Why not the ledger's (no history, changed since, nothing recorded).
        why: String,
        /// What the SDL leaves out.
        notes: Vec<String>,
        /// How the SDL, read back, still differs from the database.
        differences: Vec<String>,
    },
}

/// The schema a live database has now, as SDL text and model.
#[derive(Debug, Clone)]
pub struct Current {
    /// The SDL text.
    pub sdl: String,
    /// Its model.
    pub model: Schema,
    /// Where it came from.
    pub origin: Origin,
}

impl Current {
    /// One line saying where the schema came from, for people.
    pub fn describe(&self) -> String {
        match &self.origin {
            Origin::Ledger { plan_hash } => format!(
                "planning from the target schema of the last plan applied to the database ({plan_hash})"
            ),
            Origin::Introspected { why, notes, differences } => {
                let mut s = format!("planning from the database's introspected schema: {why}");
                if !notes.is_empty() {
                    s.push_str(&format!(
                        "\n  {} object(s) are not in the dialect (see `wesley introspect`)",
                        notes.len()
                    ));
                }
                for d in differences {
                    s.push_str(&format!("\n  the introspected schema still differs: {d}"));
                }
                s
            }
        }
    }
}

/// The schema `c` has now: the SDL of the last applied plan when the database still
/// matches it exactly (hash and expressions), else the database introspected.
pub async fn current(c: &Client) -> Result<Current, IntrospectError> {
    let why = match ledger::last_done(c).await? {
        None => "it has no Wesley history".to_string(),
        Some(run) => match &run.to_sdl {
            None => format!(
                "the last plan applied ({}) did not record its schema",
                run.plan_hash
            ),
            Some(text) => {
                let live = drift::read(c, &|_, _| false).await?;
                let (model, _) = sdl::parse("ledger.graphql", text);
                match model {
                    None => format!(
                        "the schema recorded by the last plan applied ({}) no longer parses",
                        run.plan_hash
                    ),
                    Some(model) if canon::schema_hash(&model) != live.hash(&model.extensions()) => {
                        format!(
                            "it has changed since the last plan applied ({})",
                            run.plan_hash
                        )
                    }
                    Some(model) => {
                        let diffs = exprs::differences(c, &canon::expressions(&model)).await?;
                        if diffs.is_empty() {
                            return Ok(Current {
                                sdl: text.clone(),
                                model,
                                origin: Origin::Ledger {
                                    plan_hash: run.plan_hash,
                                },
                            });
                        }
                        format!(
                            "its expressions changed since the last plan applied ({}): {}",
                            run.plan_hash,
                            diffs.join("; ")
                        )
                    }
                }
            }
        },
    };
    let got = introspect(c, &[]).await?;
    Ok(Current {
        sdl: got.text,
        model: got.model,
        origin: Origin::Introspected {
            why,
            notes: got.notes,
            differences: got.differences,
        },
    })
}
