//! One module per subcommand.

pub mod generate;
pub mod plan;
pub mod rehearse;
pub mod source;
