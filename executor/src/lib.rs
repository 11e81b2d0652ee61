//! The `wesley` command: everything that touches the outside world (files, processes,
//! PostgreSQL). The pure planning logic lives in `wesley-planner`.

pub mod apply;
pub mod catalog;
pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod duration;
pub mod error;
pub mod exit;
pub mod introspect;
pub mod live;
pub mod output;
pub mod sdl_writer;
pub mod seed;
pub mod spool;
pub mod usage;
