//! Benchmark of the DiST model on one ViT-B/16-shaped batch (default B=8, T=8, γ=2, 224 px):
//! forward and forward+backward time and peak RSS on burn-flex, each mode in its own process
//! (so peak RSS is per mode), optionally beside the PyTorch module (`train/bench/torch_dist.py`).
//!
//! `cargo run --release -p dist-train --bin bench-model -- [--python /work/torch-venv/bin/python]`

use std::process::Command;
use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use clap::{Parser, ValueEnum};
use dist_train::bench::peak_rss_mib;
use dist_train::model::DistConfig;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// Run `forward` and `train` in child processes (and PyTorch with `--python`).
    All,
    /// Inference only (no autodiff).
    Forward,
    /// Forward + backward of `sum(out²)` on an autodiff device.
    Train,
}

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, value_enum, default_value_t = Mode::All)]
    mode: Mode,
    #[arg(long, default_value_t = 8)]
    batch: usize,
    #[arg(long, default_value_t = 8)]
    frames: usize,
    #[arg(long, default_value_t = 2)]
    gamma: usize,
    #[arg(long, default_value_t = 224)]
    image: usize,
    /// Timed repetitions after one warm-up.
    #[arg(long, default_value_t = 3)]
    reps: usize,
    /// Python with torch, to time `train/bench/torch_dist.py` in the same run.
    #[arg(long)]
    python: Option<String>,
}

fn run_mode(args: &Args) {
    let device = if args.mode == Mode::Train { Device::flex().autodiff() } else { Device::flex() };
    device.seed(0);
    let config = DistConfig { frames: args.frames, gamma: args.gamma, ..DistConfig::default() };
    let model = config.init(&device).expect("default config is valid");
    let grid = args.image / config.patch_size;
    let taps: Vec<Tensor<3>> = (0..config.selected_layers().unwrap().len())
        .map(|_| {
            Tensor::random([args.batch * args.frames, grid * grid + 1, config.width], Distribution::Normal(0.0, 1.0), &device)
        })
        .collect();
    let frames = Tensor::random(
        [args.batch, 3, args.frames * args.gamma, args.image, args.image],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let mut times = Vec::new();
    for rep in 0..=args.reps {
        let start = Instant::now();
        let out = model.forward(&taps, frames.clone()).expect("shapes are consistent");
        if args.mode == Mode::Train {
            let grads = out.powi_scalar(2).sum().backward();
            drop(grads);
        } else {
            let _ = out.into_data();
        }
        device.sync().expect("flex sync");
        if rep > 0 {
            times.push(start.elapsed().as_secs_f64());
        }
    }
    let best = times.iter().copied().fold(f64::INFINITY, f64::min);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!(
        "burn-flex {:<8} B={} T={} γ={} {}px: best {:.3} s, mean {:.3} s over {} reps, peak RSS {:.0} MiB",
        format!("{:?}", args.mode).to_lowercase(),
        args.batch,
        args.frames,
        args.gamma,
        args.image,
        best,
        mean,
        args.reps,
        peak_rss_mib()
    );
}

fn main() {
    // Freed activations are reused in place rather than unmapped and faulted in again.
    dist_kernels::retain_freed_memory();
    let args = Args::parse();
    if args.mode != Mode::All {
        run_mode(&args);
        return;
    }
    let exe = std::env::current_exe().expect("own path");
    let common = |cmd: &mut Command| {
        cmd.args(["--batch", &args.batch.to_string(), "--frames", &args.frames.to_string()])
            .args(["--gamma", &args.gamma.to_string(), "--image", &args.image.to_string()])
            .args(["--reps", &args.reps.to_string()]);
    };
    for mode in ["forward", "train"] {
        let mut cmd = Command::new(&exe);
        cmd.args(["--mode", mode]);
        common(&mut cmd);
        let status = cmd.status().expect("spawn bench child");
        assert!(status.success(), "{mode} run failed");
    }
    if let Some(python) = &args.python {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/bench/torch_dist.py");
        for mode in ["forward", "train"] {
            let mut cmd = Command::new(python);
            cmd.arg(script).args(["--mode", mode]);
            common(&mut cmd);
            let status = cmd.status().expect("spawn python");
            assert!(status.success(), "torch {mode} run failed");
        }
    }
}
