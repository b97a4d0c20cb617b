//! Benchmark of the trainer, cached versus online, in one run (issue 8): a ViT-B/16-shaped model
//! (`builtin:vit-b16-random`, 224 px, T = 8, γ = 2) trained for one epoch on the same synthetic
//! videos with the same config and batch, once from a feature store extracted from them and once
//! `--online` (decode + frozen encoder in the loop); plus the store loader alone. Each mode runs in
//! its own child process, so peak RSS is per mode.
//!
//! `cargo run --release -p dist-train --bin bench-train -- [--videos 8] [--batch 2] [--config configs/train/vit-b16-ssv2.toml]`
//!
//! Per mode it prints the median step split into data (waiting for the batch: store read, or decode
//! plus frozen forward) and train (mix, forward, backward, AdamW), and peak RSS.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use burn::tensor::Device;
use clap::{Parser, ValueEnum};
use dist_extract::commands::manifest_args::ManifestArgs;
use dist_train::bench::peak_rss_mib;
use dist_train::trainer::source::{BatchSource, StoreSource};
use dist_train::trainer::{fit, fit_online, OnlineSpec, TrainConfig};
use dist_video::SamplingConfig;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Cached,
    Online,
    /// The store loader alone (no training): its clips/s.
    Loader,
}

#[derive(Parser, Debug)]
struct Args {
    /// Work directory (videos, store, runs); default a fresh one under /tmp.
    #[arg(long)]
    work: Option<PathBuf>,
    /// Training videos (one epoch = videos / batch steps).
    #[arg(long, default_value_t = 8)]
    videos: usize,
    #[arg(long, default_value_t = 2)]
    batch: usize,
    #[arg(long, default_value = "configs/train/vit-b16-ssv2.toml")]
    config: PathBuf,
    #[arg(long, default_value = "builtin:vit-b16-random")]
    model: String,
    /// Epochs the loader-only mode reads the store for.
    #[arg(long, default_value_t = 4)]
    loader_epochs: usize,
    /// Internal: run one mode in this process and print its figures as JSON.
    #[arg(long, value_enum)]
    child: Option<Mode>,
}

/// What a child reports.
#[derive(Debug, Serialize, Deserialize)]
struct Figures {
    steps: u64,
    clips: u64,
    median_data_s: f64,
    median_train_s: f64,
    data_s: f64,
    train_s: f64,
    peak_rss_mib: f64,
}

fn ffmpeg(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ffmpeg").args(["-nostdin", "-loglevel", "error", "-y"]).args(args).output()?;
    anyhow::ensure!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    Ok(())
}

/// Synthetic 320×240, 2 s videos of two classes, a manifest and class names; then a store.
fn prepare(work: &Path, args: &Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(work.join("v"))?;
    let mut manifest = String::new();
    for i in 0..args.videos {
        let src = if i % 2 == 0 { "testsrc2=size=320x240:rate=25:duration=2" } else { "mandelbrot=size=320x240:rate=25" };
        let name = format!("v/vid{i}.mp4");
        ffmpeg(&["-f", "lavfi", "-i", src, "-t", "2", "-c:v", "libx264", "-pix_fmt", "yuv420p", &work.join(&name).to_string_lossy()])?;
        manifest.push_str(&format!("{name} {}\n", i % 2));
    }
    std::fs::write(work.join("train.txt"), manifest)?;
    std::fs::write(work.join("classes.txt"), "pattern\nfractal\n")?;
    let t0 = Instant::now();
    let cli = [
        "dist-extract",
        "run",
        "--manifest",
        &format!("train={}", work.join("train.txt").display()),
        "--classes",
        &work.join("classes.txt").to_string_lossy(),
        "--model",
        &args.model,
        "--out",
        &work.join("store").to_string_lossy(),
        "--t",
        "8",
        "--gamma",
        "2",
        "--size",
        "224",
        "--train-views",
        "1",
        "--test-views",
        "1",
    ]
    .map(String::from);
    <dist_extract::cli::Cli as clap::Parser>::try_parse_from(cli)?.run()?;
    eprintln!("store extracted in {:.1} s", t0.elapsed().as_secs_f64());
    Ok(())
}

fn train_config(args: &Args) -> anyhow::Result<TrainConfig> {
    let mut cfg = TrainConfig::from_file(&args.config)?;
    cfg.train.epochs = 1;
    cfg.train.batch_size = args.batch;
    cfg.train.val_split = "none".into();
    Ok(cfg)
}

fn child(work: &Path, mode: Mode, args: &Args) -> anyhow::Result<Figures> {
    let cfg = train_config(args)?;
    let store = work.join("store");
    let info = match mode {
        Mode::Cached => fit(&store, &work.join("run-cached"), &cfg, false)?,
        Mode::Online => {
            let spec = OnlineSpec {
                model: args.model.clone(),
                data: ManifestArgs {
                    manifest: vec![format!("train={}", work.join("train.txt").display())],
                    classes: Some(work.join("classes.txt")),
                    root: None,
                    format: None,
                },
                sampling: SamplingConfig { t: 8, gamma: 2, input_size: 224, ..SamplingConfig::default() },
                size_from_model: false,
                templates: vec![],
            };
            fit_online(&spec, &work.join("run-online"), &cfg, false)?
        }
        Mode::Loader => {
            let meta = dist_store::Store::open(&store)?.meta().clone();
            let model = cfg.model_for(&meta)?;
            let source = StoreSource::open(&store, &model, "none", cfg.train.loader_threads, cfg.train.prefetch)?;
            let device = Device::flex();
            let (t0, mut clips, mut steps) = (Instant::now(), 0u64, 0u64);
            for epoch in 0..args.loader_epochs {
                for b in source.train_epoch(epoch, 0, args.batch, &device) {
                    clips += b?.labels.len() as u64;
                    steps += 1;
                }
            }
            let s = t0.elapsed().as_secs_f64();
            return Ok(Figures {
                steps,
                clips,
                median_data_s: s / steps as f64,
                median_train_s: 0.0,
                data_s: s,
                train_s: 0.0,
                peak_rss_mib: peak_rss_mib(),
            });
        }
    };
    let t = info.timing.ok_or_else(|| anyhow::anyhow!("no steps were timed"))?;
    Ok(Figures {
        steps: t.steps,
        clips: t.clips,
        median_data_s: t.median_data_seconds,
        median_train_s: t.median_train_seconds,
        data_s: t.data_seconds,
        train_s: t.train_seconds,
        peak_rss_mib: peak_rss_mib(),
    })
}

fn main() -> anyhow::Result<()> {
    // Freed activations are reused in place rather than unmapped and faulted in again.
    dist_kernels::retain_freed_memory();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    if let (Some(mode), Some(work)) = (args.child, &args.work) {
        println!("{}", serde_json::to_string(&child(work, mode, &args)?)?);
        return Ok(());
    }
    let work = match &args.work {
        Some(w) => w.clone(),
        None => std::env::temp_dir().join(format!("bench-train-{}", std::process::id())),
    };
    if !work.join("store").exists() {
        prepare(&work, &args)?;
    }
    let exe = std::env::current_exe()?;
    let mut results = Vec::new();
    for mode in [Mode::Loader, Mode::Cached, Mode::Online] {
        let name = format!("{mode:?}").to_lowercase();
        let out = Command::new(&exe)
            .args(["--work", &work.to_string_lossy(), "--child", &name, "--config", &args.config.to_string_lossy()])
            .args(["--videos", &args.videos.to_string(), "--batch", &args.batch.to_string(), "--model", &args.model])
            .args(["--loader-epochs", &args.loader_epochs.to_string()])
            .output()?;
        anyhow::ensure!(out.status.success(), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let f: Figures = serde_json::from_slice(&out.stdout)?;
        eprintln!("{name}: {f:?}");
        results.push((name, f));
    }
    println!("batch {} clips, {} videos, model {}, config {}", args.batch, args.videos, args.model, args.config.display());
    println!("{:<8} {:>6} {:>14} {:>14} {:>12} {:>10} {:>10}", "mode", "steps", "data s/step", "train s/step", "step s", "clips/s", "peak MiB");
    for (name, f) in &results {
        let step = f.median_data_s + f.median_train_s;
        println!(
            "{name:<8} {:>6} {:>14.3} {:>14.3} {:>12.3} {:>10.2} {:>10.0}",
            f.steps,
            f.median_data_s,
            f.median_train_s,
            step,
            f.clips as f64 / (f.data_s + f.train_s),
            f.peak_rss_mib
        );
    }
    let get = |n: &str| results.iter().find(|r| r.0 == n).map(|r| &r.1).expect("mode ran");
    let (loader, cached, online) = (get("loader"), get("cached"), get("online"));
    let step = |f: &Figures| f.median_data_s + f.median_train_s;
    println!("online / cached median step time: {:.2}x", step(online) / step(cached));
    println!(
        "loader {:.2} clips/s vs trainer (cached, train part only) {:.2} clips/s: {:.1}x the trainer's need",
        loader.clips as f64 / loader.data_s,
        cached.clips as f64 / cached.train_s,
        (loader.clips as f64 / loader.data_s) / (cached.clips as f64 / cached.train_s)
    );
    Ok(())
}
