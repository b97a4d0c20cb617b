//! Training and evaluation on a feature store, or online on raw videos (issue 8).

pub mod adamw;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod eval;
pub mod fit;
pub mod metrics;
pub mod mix;
pub mod network;
pub mod online;
pub mod parallel;
pub mod plot;
pub mod schedule;
pub mod source;

pub use config::{HeadKind, TrainConfig, TrainSettings};
pub use fit::{fit, fit_online, load_run, FitOptions, ResolvedConfig, RunInfo};
pub use online::OnlineSpec;
pub use network::Network;

/// A progress bar on a terminal; hidden otherwise (the trainer then logs through `tracing`).
pub fn progress_bar(total: u64, position: u64) -> indicatif::ProgressBar {
    let bar = if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        indicatif::ProgressBar::new(total)
    } else {
        indicatif::ProgressBar::hidden()
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  [{elapsed_precise}, ETA {eta}]")
            .expect("valid template"),
    );
    bar.set_position(position);
    bar
}
