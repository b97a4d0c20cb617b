//! `dist-train fit`: train DiST (or an ablation) on a feature store.

use std::path::PathBuf;

use clap::Args;

use anyhow::Context;
use dist_extract::commands::manifest_args::ManifestArgs;
use dist_extract::job::ExtractConfig;

use crate::trainer::{fit, fit_online, FitOptions, OnlineSpec, TrainConfig};

/// Train on a feature store's training clips, validating periodically; or, with --online, on the
/// videos of manifests through the frozen CLIP encoder with fresh augmentation every epoch.
///
/// Writes into RUN: `config.toml` (resolved), `checkpoints/` (resumable), `metrics.parquet` (step,
/// epoch, loss, lr, top-1, top-5, clips/s), `model.safetensors` (official key layout), `run.json`
/// and `curves.png`.
#[derive(Debug, Args)]
pub struct FitArgs {
    /// The feature store (made by `dist-extract run`).
    #[arg(long, required_unless_present = "online", conflicts_with = "online")]
    pub store: Option<PathBuf>,
    /// Train on raw videos (--manifest) with the frozen encoder (--model) in the loop, as the paper
    /// does: fresh TSN offsets, crop and flip every epoch; no store needed, but every step pays the
    /// frozen forward pass and the decoding.
    #[arg(long, requires_all = ["model", "manifest"])]
    pub online: bool,
    /// --online: the frozen CLIP (builtin:NAME, a Hugging Face model directory, a .safetensors file).
    #[arg(long, short)]
    pub model: Option<String>,
    /// --online: the videos, as `dist-extract run` takes them; the `train.val_split` split
    /// validates, and `--classes` is required for the contrastive head.
    #[command(flatten, next_help_heading = "Videos (--online)")]
    pub data: ManifestArgs,
    /// --online: an extraction config (configs/extract/*.toml) whose `[sampling]` cuts the clips.
    #[arg(long)]
    pub extract_config: Option<PathBuf>,
    /// --online: T, sparse frames per clip (overrides the extraction config).
    #[arg(long)]
    pub t: Option<usize>,
    /// --online: γ, dense frames per sparse frame.
    #[arg(long)]
    pub gamma: Option<usize>,
    /// --online: side of the frames and the encoder input (default: the model's image size).
    #[arg(long)]
    pub size: Option<u32>,
    /// --online: temporal clips per validation video.
    #[arg(long)]
    pub test_views: Option<usize>,
    /// --online: spatial crops per validation clip (1 or 3).
    #[arg(long)]
    pub spatial_crops: Option<usize>,
    /// --online: probability of a horizontal flip of a training view.
    #[arg(long)]
    pub flip_prob: Option<f64>,
    /// --online: seed of the augmentation, mixed with train.seed and the epoch.
    #[arg(long)]
    pub sampling_seed: Option<u64>,
    /// --online: prompt templates of the class names (`ensemble`, a file, or literals with {}).
    #[arg(long)]
    pub templates: Vec<String>,
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
    /// Backend: cpu (burn-flex) or wgpu (a GPU; needs a build with `--features wgpu`). Overrides
    /// `[train] device`.
    #[arg(long, env = "DIST_DEVICE")]
    pub device: Option<dist_clip::Backend>,
    /// Data parallelism: split every batch over this many devices of the backend (GPUs 0..N-1 on
    /// wgpu; on cpu, replicas that share the cores out). Overrides `[train] devices`. Default: 1
    /// on wgpu, 2 on a CPU with at least 2 threads.
    #[arg(long)]
    pub devices: Option<usize>,
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
    if let Some(v) = args.device {
        t.device = v;
    }
    if let Some(v) = args.devices {
        t.devices = Some(v);
    }
    let options = FitOptions { resume: args.resume, ..FitOptions::default() };
    let info = match &args.store {
        Some(store) => fit(store, &args.out, &cfg, options)?,
        None => fit_online(&online_spec(args)?, &args.out, &cfg, options)?,
    };
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

/// The online inputs: the extraction config's sampling with the flags on top.
fn online_spec(args: &FitArgs) -> anyhow::Result<OnlineSpec> {
    let extract: ExtractConfig = match &args.extract_config {
        Some(p) => toml::from_str(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
            .with_context(|| format!("parsing {}", p.display()))?,
        None => ExtractConfig::default(),
    };
    let mut sampling = extract.sampling;
    let set = |dst: &mut usize, v: Option<usize>| {
        if let Some(v) = v {
            *dst = v;
        }
    };
    set(&mut sampling.t, args.t);
    set(&mut sampling.gamma, args.gamma);
    set(&mut sampling.test_views, args.test_views);
    set(&mut sampling.spatial_crops, args.spatial_crops);
    if let Some(v) = args.flip_prob {
        sampling.flip_prob = v;
    }
    if let Some(v) = args.sampling_seed {
        sampling.seed = v;
    }
    if let Some(v) = args.size {
        sampling.input_size = v;
    }
    Ok(OnlineSpec {
        model: args.model.clone().context("--online needs --model")?,
        data: args.data.clone(),
        sampling,
        size_from_model: args.size.is_none() && args.extract_config.is_none(),
        templates: args.templates.clone(),
    })
}
