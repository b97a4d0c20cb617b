//! The `dist-extract` command line. Adding a subcommand is one variant here plus one module under
//! [`crate::commands`] with an `Args` struct and its `run`.

use clap::{Parser, Subcommand};

use crate::commands;

/// Everything frozen: decode videos, run the CLIP towers once, fill a dist feature store.
#[derive(Debug, Parser)]
#[command(name = "dist-extract", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a CLIP model's architecture, parameter counts and fingerprint.
    InspectModel(commands::inspect_model::Args),
    /// Run the vision tower on u8 frames from a .npy file and write every layer's tokens (safetensors).
    EncodeFrames(commands::encode_frames::Args),
    /// Tokenize and embed texts with the text tower (safetensors with input_ids and text_embeds).
    EncodeText(commands::encode_text::Args),
    /// Extract a dataset into a feature store (resumable; shardable across processes and machines).
    Run(commands::run::Args),
    /// Add a label set (class names and text embeddings) to a store.
    Text(commands::text::Args),
    /// Decode what the sampling would take and list the unusable videos with reasons.
    Scan(commands::scan::Args),
    /// Report a store's videos done/failed/pending, clips, bytes, and the failures.
    Status(commands::status::Args),
    /// Generate the synthetic time-reversal benchmark (videos, manifests, class names).
    Synth(commands::synth::Args),
    /// Pretrain the built-in tiny CLIP's vision tower on captioned synthetic stills.
    PretrainTiny(commands::pretrain_tiny::Args),
}

impl Cli {
    /// Runs the chosen subcommand.
    ///
    /// # Errors
    /// Whatever the subcommand reports, with context naming the file or model involved.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::InspectModel(args) => args.run(),
            Command::EncodeFrames(args) => args.run(),
            Command::EncodeText(args) => args.run(),
            Command::Run(args) => args.run(),
            Command::Text(args) => args.run(),
            Command::Scan(args) => args.run(),
            Command::Status(args) => args.run(),
            Command::Synth(args) => commands::synth::run(&args),
            Command::PretrainTiny(args) => args.run(),
        }
    }
}
