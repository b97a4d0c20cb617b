//! dist-extract: everything frozen. Decode videos, run the CLIP towers once, fill a dist feature store.
//!
//! The library holds the command-line interface ([`cli`]) and one module per subcommand
//! ([`commands`]); the `dist-extract` binary only parses arguments and calls [`cli::Cli::run`].

pub mod cli;
pub mod commands;
pub mod job;
