//! One module per subcommand: each has a clap `Args` struct and `Args::run`.
//!
//! Commands are the program's edge, so they report `anyhow` errors with context; the libraries they
//! call (dist-clip, dist-video, dist-store) keep their own typed errors.

pub mod encode_frames;
pub mod encode_text;
pub mod inspect_model;
pub mod manifest_args;
pub mod pretrain_tiny;
pub mod run;
pub mod scan;
pub mod status;
pub mod synth;
pub mod text;
mod common;
