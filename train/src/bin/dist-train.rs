//! `dist-train`: command-line entry point; parsing and dispatch only.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use dist_train::commands::eval::{self, EvalArgs};
use dist_train::commands::fit::{self, FitArgs};
use dist_train::commands::forward::{self, ForwardArgs};
use dist_train::commands::predict::{self, PredictArgs};

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
    /// Train DiST (or an ablation) on a feature store; resumable with --resume.
    Fit(FitArgs),
    /// Multi-view evaluation of a run on a split; zero-shot with --labels.
    Eval(EvalArgs),
    /// Top classes of one video end to end: decode, frozen CLIP encoder, the run's trained branches.
    Predict(PredictArgs),
}

fn main() -> ExitCode {
    // Freed activations are reused in place rather than unmapped and faulted in again.
    dist_kernels::retain_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let result = match Cli::parse().command {
        Command::Forward(args) => forward::run(&args).map(|_| ()).map_err(anyhow::Error::from),
        Command::Fit(args) => fit::run(&args),
        Command::Eval(args) => eval::run(&args),
        Command::Predict(args) => predict::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("dist-train: {err:#}");
            ExitCode::FAILURE
        }
    }
}
