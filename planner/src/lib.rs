//! Wesley's planner: the pure core. It turns GraphQL SDL with `@wes_*` directives into a
//! validated PostgreSQL schema model, generates DDL for it, and computes its canonical
//! hash. It never does IO: it takes text and returns values, and builds for
//! `wasm32-unknown-unknown`.

pub mod canon;
pub mod ddl;
pub mod diag;
pub mod expr;
pub mod lex;
pub mod model;
pub mod naming;
pub mod plan;
pub mod planfile;
pub mod policy;
pub mod render;
pub mod sdl;
pub mod session;
pub mod sql;
/// Synthetic schemas for benchmarks and property tests; the `synth` feature, so the
/// browser build never downloads it.
#[cfg(feature = "synth")]
pub mod synth;
pub mod timeout;
pub mod types;
pub mod typescript;
#[cfg(target_arch = "wasm32")]
mod wasm;

pub use diag::{Diagnostic, Severity};
pub use model::Schema;

/// The planner's version, recorded in plan files.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
