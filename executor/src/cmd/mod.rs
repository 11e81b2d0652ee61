//! One module per subcommand.

pub mod generate;
pub mod rehearse;
pub mod source;
