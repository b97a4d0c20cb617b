//! `dist-synth`: command-line wrapper around [`dist_synth::run`].

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use tracing_subscriber::EnvFilter;

/// Generate the synthetic time-reversal video benchmark.
#[derive(Debug, Parser)]
#[command(name = "dist-synth", version)]
struct Cli {
    #[command(flatten)]
    args: dist_synth::SynthArgs,
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = Cli::parse();
    match dist_synth::run(&cli.args) {
        Ok(summary) => {
            println!(
                "wrote {} clips of {} classes to {} (train/val/test {}/{}/{}) in {:.1} s ({:.1} clips/s)",
                summary.clips,
                summary.classes,
                summary.out.display(),
                summary.per_split[0],
                summary.per_split[1],
                summary.per_split[2],
                summary.seconds,
                summary.clips_per_second()
            );
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("dist-synth: {err}");
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                eprintln!("  caused by: {cause}");
                source = cause.source();
            }
            ExitCode::FAILURE
        }
    }
}
