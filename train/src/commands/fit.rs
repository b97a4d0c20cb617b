//! `dist-train fit`: train DiST (or an ablation) on a feature store.

use std::path::PathBuf;

use clap::Args;

use crate::trainer::{fit, TrainConfig};

/// Train on a feature store's training clips, validating periodically.
///
/// Writes into RUN: `config.toml` (resolved), `checkpoints/` (resumable), `metrics.parquet` (step,
/// epoch, loss, lr, top-1, top-5, clips/s), `model.safetensors` (official key layout), `run.json`
/// and `curves.png`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The feature store (made by `dist-extract run`).
    #[arg(long)]
    pub store: PathBuf,
    /// TOML with `[model]` (DiST design space / ablation) and `[train]` (recipe) tables.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run directory.
    #[arg(long)]
    pub out: PathBuf,
    /// Continue from the newest checkpoint in RUN (model, optimiser, schedule, loader position).
    #[arg(long)]
    pub resume: bool,
    /// Override `train.epochs`.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override `train.batch_size`.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Override `train.base_lr` (the learning rate at a batch of 256).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Override `train.seed`.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Override `train.label_set`.
    #[arg(long)]
    pub label_set: Option<String>,
}

pub fn run(args: &FitArgs) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(p) => TrainConfig::from_file(p)?,
        None => TrainConfig::default(),
    };
    let t = &mut cfg.train;
    if let Some(v) = args.epochs {
        t.epochs = v;
    }
    if let Some(v) = args.batch_size {
        t.batch_size = v;
    }
    if let Some(v) = args.lr {
        t.base_lr = v;
    }
    if let Some(v) = args.seed {
        t.seed = v;
    }
    if let Some(v) = &args.label_set {
        t.label_set = v.clone();
    }
    let info = fit(&args.store, &args.out, &cfg, args.resume)?;
    match (info.final_top1, info.final_top5) {
        (Some(t1), Some(t5)) => println!(
            "trained on {} videos in {:.0} s: validation top-1 {:.2}%, top-5 {:.2}% ({} videos); run in {}",
            info.train_videos,
            info.seconds,
            100.0 * t1,
            100.0 * t5,
            info.val_videos,
            args.out.display()
        ),
        _ => println!("trained on {} videos in {:.0} s; run in {}", info.train_videos, info.seconds, args.out.display()),
    }
    Ok(())
}
