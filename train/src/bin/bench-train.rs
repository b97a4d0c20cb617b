//! Benchmark of the trainer, cached versus online, in one run (issue 8): a ViT-B/16-shaped model
//! (`builtin:vit-b16-random`, 224 px, T = 8, γ = 2) trained for one epoch on the same synthetic
//! videos with the same config and batch, once from a feature store extracted from them and once
//! `--online` (decode + frozen encoder in the loop); plus the store loader alone. Each mode runs in
//! its own child process, so peak RSS is per mode.
//!
//! `cargo run --release -p dist-train --bin bench-train -- [--videos 8] [--batch 2] [--config configs/train/vit-b16-ssv2.toml]`
//!
//! The cached and the online run take turns step by step: each child stops at every step boundary
//! (`FitOptions::step_hook`) and is frozen (SIGSTOP) while the other runs its step, so each pair
//! of steps meets the same machine state, and a shared machine whose speed drifts from minute to
//! minute still gives a stable ratio. The loader runs alone first.
//!
//! Per mode it prints the median step split into data (waiting for the batch: store read, or decode
//! plus frozen forward) and train (mix, forward, backward, AdamW), and peak RSS; then the median
//! and range over steps of the online / cached ratio of adjacent steps.
//!
//! `--against OTHER` compares two builds instead: the cached training of this binary and of
//! `OTHER` (another build of `bench-train`, say the previous commit's), step by step in turn the
//! same way. On a machine whose speed drifts, sequential runs of two builds do not compare.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

use burn::tensor::Device;
use clap::{Parser, ValueEnum};
use dist_extract::commands::manifest_args::ManifestArgs;
use dist_train::bench::peak_rss_mib;
use dist_train::trainer::source::{BatchSource, StoreSource};
use dist_train::trainer::{fit, fit_online, FitOptions, OnlineSpec, TrainConfig};
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
    /// Internal: the child waits for "go" on stdin at every step boundary.
    #[arg(long)]
    gated: bool,
    /// Compare the cached training of this build with that of OTHER (another build of
    /// bench-train), step by step in turn, instead of cached with online.
    #[arg(long, value_name = "OTHER")]
    against: Option<PathBuf>,
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
    /// Whole steps, boundary to boundary (gated children only).
    step_s: Vec<f64>,
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

/// The step hook of a gated child: reports the boundary on stdout, waits for "go" on stdin, and
/// records the time from the previous boundary's "go" to this boundary.
struct Gate {
    /// When the current step started, and the finished steps' durations.
    state: Mutex<(Option<Instant>, Vec<f64>)>,
}

impl Gate {
    fn wait(&self, step: u64) {
        let reached = Instant::now();
        let mut state = self.state.lock().expect("gate lock");
        if let Some(start) = state.0.take() {
            state.1.push(reached.duration_since(start).as_secs_f64());
        }
        println!("ready {step}");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        state.0 = Some(Instant::now());
    }
}

fn child(work: &Path, mode: Mode, args: &Args) -> anyhow::Result<Figures> {
    let cfg = train_config(args)?;
    let store = work.join("store");
    let gate = Gate { state: Mutex::new((None, Vec::new())) };
    let hook = |step: u64| gate.wait(step);
    let options = FitOptions { resume: false, step_hook: args.gated.then_some(&hook as &(dyn Fn(u64) + Sync)) };
    let info = match mode {
        Mode::Cached => fit(&store, &work.join("run-cached"), &cfg, options)?,
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
            fit_online(&spec, &work.join("run-online"), &cfg, options)?
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
                step_s: Vec::new(),
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
        step_s: gate.state.into_inner().expect("gate lock").1,
    })
}

/// A child process of this binary running one mode.
struct ModeRun {
    name: String,
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl ModeRun {
    fn spawn(exe: &Path, work: &Path, mode: Mode, args: &Args, gated: bool) -> anyhow::Result<Self> {
        let mode_arg = format!("{mode:?}").to_lowercase();
        let name = format!("{} {mode_arg}", exe.display());
        let mut child = Command::new(exe)
            .args(["--work", &work.to_string_lossy(), "--child", &mode_arg, "--config", &args.config.to_string_lossy()])
            .args(["--videos", &args.videos.to_string(), "--batch", &args.batch.to_string(), "--model", &args.model])
            .args(["--loader-epochs", &args.loader_epochs.to_string()])
            .args(gated.then_some("--gated"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = BufReader::new(child.stdout.take().expect("piped stdout"));
        Ok(Self { name, child, stdin, stdout })
    }

    /// The child's next line: a step boundary (`None`), or its figures once it has finished.
    fn next(&mut self) -> anyhow::Result<Option<Figures>> {
        let mut line = String::new();
        self.stdout.read_line(&mut line)?;
        if line.starts_with("ready ") {
            return Ok(None);
        }
        let status = self.child.wait()?;
        anyhow::ensure!(status.success() && !line.is_empty(), "{} run failed ({status}); its errors are above", self.name);
        let figures: Figures = serde_json::from_str(&line)?;
        eprintln!("{}: {figures:?}", self.name);
        Ok(Some(figures))
    }

    /// Freezes (`-STOP`) or resumes (`-CONT`) the whole child, its loader threads included.
    fn signal(&self, signal: &str) -> anyhow::Result<()> {
        let status = Command::new("kill").args([signal, &self.child.id().to_string()]).status()?;
        anyhow::ensure!(status.success(), "kill {signal} {} failed", self.child.id());
        Ok(())
    }

    /// Lets the child run one step (or, after its last, to the end).
    fn step(&mut self) -> anyhow::Result<Option<Figures>> {
        self.signal("-CONT")?;
        writeln!(self.stdin, "go")?;
        self.stdin.flush()?;
        let done = self.next()?;
        if done.is_none() {
            self.signal("-STOP")?;
        }
        Ok(done)
    }
}

/// Runs `(binary, mode)` children step by step in turn, each frozen while another steps; their
/// figures in order.
fn in_turns(work: &Path, modes: &[(PathBuf, Mode)], args: &Args) -> anyhow::Result<Vec<Figures>> {
    let mut runs = Vec::new();
    for (exe, mode) in modes {
        let mut run = ModeRun::spawn(exe, work, *mode, args, true)?;
        anyhow::ensure!(run.next()?.is_none(), "{} finished before its first step", run.name);
        run.signal("-STOP")?;
        runs.push(run);
    }
    let mut figures: Vec<Option<Figures>> = modes.iter().map(|_| None).collect();
    while figures.iter().any(Option::is_none) {
        for (run, done) in runs.iter_mut().zip(figures.iter_mut()).filter(|(_, done)| done.is_none()) {
            *done = run.step()?;
        }
    }
    Ok(figures.into_iter().flatten().collect())
}

/// The median and range of `numerator[i] / denominator[i]` over the pairs of adjacent steps.
fn print_adjacent_ratios(what: &str, numerator: &[f64], denominator: &[f64]) {
    let mut ratios: Vec<f64> = numerator.iter().zip(denominator).map(|(a, b)| a / b).collect();
    ratios.sort_by(f64::total_cmp);
    if let (Some(low), Some(high)) = (ratios.first(), ratios.last()) {
        println!("{what}, adjacent steps: median {:.3}x, range {low:.2}x-{high:.2}x over {} pairs", ratios[ratios.len() / 2], ratios.len());
    }
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
    let this = std::env::current_exe()?;
    if let Some(other) = &args.against {
        let runs = in_turns(&work, &[(this.clone(), Mode::Cached), (other.clone(), Mode::Cached)], &args)?;
        for (exe, f) in [&this, other].iter().zip(&runs) {
            println!("{}: median train step {:.3} s over {} steps", exe.display(), f.median_train_s, f.steps);
        }
        print_adjacent_ratios("this / other", &runs[0].step_s, &runs[1].step_s);
        return Ok(());
    }
    let mut loader = ModeRun::spawn(&this, &work, Mode::Loader, &args, false)?;
    let loader = loader.next()?.ok_or_else(|| anyhow::anyhow!("the loader run reported no figures"))?;
    let mut paired = in_turns(&work, &[(this.clone(), Mode::Cached), (this, Mode::Online)], &args)?.into_iter();
    let (cached, online) = (paired.next().expect("two runs"), paired.next().expect("two runs"));
    let results = [("loader", &loader), ("cached", &cached), ("online", &online)];
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
    let step = |f: &Figures| f.median_data_s + f.median_train_s;
    println!("online / cached median step time: {:.2}x", step(&online) / step(&cached));
    print_adjacent_ratios("online / cached", &online.step_s, &cached.step_s);
    println!(
        "loader {:.2} clips/s vs trainer (cached, train part only) {:.2} clips/s: {:.1}x the trainer's need",
        loader.clips as f64 / loader.data_s,
        cached.clips as f64 / cached.train_s,
        (loader.clips as f64 / loader.data_s) / (cached.clips as f64 / cached.train_s)
    );
    Ok(())
}
