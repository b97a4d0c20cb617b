//! The `dist-train` subcommands, one module each; the binary only parses and dispatches.

pub mod eval;
pub mod fit;
pub mod forward;
pub mod predict;
