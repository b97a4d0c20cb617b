//! `dist-train`: command-line entry point; parsing and dispatch only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dist_train::commands::forward::{self, ForwardArgs};

#[derive(Parser)]
#[command(name = "dist-train", version, about = "DiST on frozen CLIP features: model, training, evaluation")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the DiST head on given taps and frames; write `video_embeds` (and `logits`).
    Forward(ForwardArgs),
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Forward(args) => forward::run(&args).map(|_| ()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dist-train: {err}");
            ExitCode::FAILURE
        }
    }
}
