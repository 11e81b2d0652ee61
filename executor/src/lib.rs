//! The `wesley` command: everything that touches the outside world (files, processes,
//! PostgreSQL). The pure planning logic lives in `wesley-planner`.

pub mod apply;
pub mod cli;
pub mod cluster;
pub mod cmd;
pub mod duration;
pub mod introspect;
pub mod output;
pub mod seed;
pub mod usage;
