//! The exit codes every `wesley` command shares (documented in the README). Scripts and CI
//! match on them, so they never change meaning.

/// Success: the command did what it was asked (for `apply`: done, or already applied).
pub const OK: u8 = 0;
/// Failure: for `apply`, the database is left at a recorded step and a rerun resumes there.
pub const FAILED: u8 = 1;
/// Invalid input: a schema with errors, a plan file that fails validation, bad arguments.
pub const INVALID: u8 = 2;
/// Refused: hazards the policy does not allow, drift, or another run holding the lock.
pub const REFUSED: u8 = 3;
