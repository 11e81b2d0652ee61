//! One module per subcommand.

pub mod apply;
pub mod drift;
pub mod generate;
pub mod introspect;
pub mod plan;
pub mod rehearse;
pub mod source;
pub mod status;
pub mod usage;
pub mod watch;
