//! Frames/s of a ViT-B/16-shaped vision tower (random weights, every hidden state returned) on
//! burn-flex, beside PyTorch (`extract/clip/bench/torch_vit.py`, when a Python with torch is given) in
//! the same run, and the fraction of the machine's measured sgemm rate.
//!
//! ```text
//! cargo run --release -p dist-clip --bin clip-bench -- --batch 8 --batch 32 --iters 3 \
//!     --python /work/torch-venv/bin/python
//! ```
//! Options: `--batch N` (repeatable, default 8 and 32), `--iters N` (timed runs after one warm-up; the best
//! is reported), `--model SPEC` (default `builtin:vit-b16-random`), `--python PATH` (omit to skip torch),
//! `--gemm N` (side of the square sgemm, default 2048), `--dtype f32|f16|bf16`.

use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use burn::tensor::{DType, Device, Distribution, Tensor};
use dist_clip::{load_model_with, VisionConfig};

struct Options {
    batches: Vec<usize>,
    iters: usize,
    model: String,
    python: Option<String>,
    gemm: usize,
    dtype: DType,
}

fn parse() -> Result<Options, String> {
    let mut o = Options {
        batches: Vec::new(),
        iters: 3,
        model: "builtin:vit-b16-random".into(),
        python: None,
        gemm: 2048,
        dtype: DType::F32,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        let number = |v: String| v.parse::<usize>().map_err(|e| format!("{flag}: {e}"));
        match flag.as_str() {
            "--batch" => o.batches.push(number(value()?)?),
            "--iters" => o.iters = number(value()?)?.max(1),
            "--model" => o.model = value()?,
            "--python" => o.python = Some(value()?),
            "--gemm" => o.gemm = number(value()?)?,
            "--dtype" => {
                o.dtype = match value()?.as_str() {
                    "f32" => DType::F32,
                    "f16" => DType::F16,
                    "bf16" => DType::BF16,
                    other => return Err(format!("unknown dtype {other}")),
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    if o.batches.is_empty() {
        o.batches = vec![8, 32];
    }
    Ok(o)
}

/// Best and median seconds of `iters` runs after one warm-up.
fn time(iters: usize, mut f: impl FnMut()) -> (f64, f64) {
    f();
    let mut times: Vec<f64> = (0..iters)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    (times[0], times[times.len() / 2])
}

/// Multiply-adds x 2 of one frame through patch embedding and every block (LayerNorms and
/// activations not counted).
#[allow(clippy::cast_precision_loss)]
fn flops_per_frame(v: &VisionConfig) -> f64 {
    let n = (v.grid() * v.grid() + 1) as f64;
    let (c, m, p) = (v.width as f64, v.mlp_dim as f64, v.patch_size as f64);
    let patch = 2.0 * (n - 1.0) * 3.0 * p * p * c;
    let block = 2.0 * n * (3.0 * c * c + c * c + 2.0 * c * m) + 4.0 * n * n * c;
    patch + v.layers as f64 * block
}

fn torch(python: &str, batch: usize, iters: usize, gemm: usize) -> Vec<serde_json::Value> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("bench/torch_vit.py");
    let output = Command::new(python)
        .arg(&script)
        .args([
            "--batch",
            &batch.to_string(),
            "--iters",
            &iters.to_string(),
            "--gemm",
            &gemm.to_string(),
        ])
        .output();
    match output {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
        Ok(out) => {
            eprintln!("torch run failed: {}", String::from_utf8_lossy(&out.stderr));
            Vec::new()
        }
        Err(e) => {
            eprintln!("cannot run {python}: {e}");
            Vec::new()
        }
    }
}

#[allow(clippy::cast_precision_loss)]
fn main() {
    // Freed activations are reused in place rather than unmapped and faulted in again.
    dist_kernels::retain_freed_memory();
    let options = match parse() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("clip-bench: {e}");
            std::process::exit(2);
        }
    };
    let device = Device::flex();
    let n = options.gemm;
    let a = Tensor::<2>::random([n, n], Distribution::Normal(0.0, 1.0), &device);
    let b = Tensor::<2>::random([n, n], Distribution::Normal(0.0, 1.0), &device);
    let (gemm_best, _) = time(options.iters, || {
        let _ = dist_kernels::matmul(a.clone(), b.clone()).into_data();
    });
    let peak = 2.0 * (n as f64).powi(3) / gemm_best / 1e9;
    println!(
        "machine: {} threads (rayon); dist-kernels sgemm {n}x{n}: {peak:.1} GFLOP/s",
        rayon::current_num_threads()
    );

    let model = load_model_with(&options.model, &device, options.dtype).expect("model loads");
    let v = model.vision.config().clone();
    let flops = flops_per_frame(&v);
    println!(
        "model: {} ({}), {:?}, {:.2} GFLOP/frame, all {} hidden states returned",
        options.model,
        model.fingerprint.architecture,
        options.dtype,
        flops / 1e9,
        v.layers + 1
    );
    println!("| batch | burn-flex frames/s | % of sgemm | torch frames/s | torch % of its sgemm | burn / torch |");
    println!("|---|---|---|---|---|---|");
    for &batch in &options.batches {
        let frames: Vec<u8> = (0..batch * v.image_size * v.image_size * 3)
            .map(|i| (i * 31 % 256) as u8)
            .collect();
        let pixels = model
            .vision
            .pixels_from_u8(&frames, [batch, v.image_size, v.image_size, 3])
            .expect("pixels");
        let (best, _) = time(options.iters, || {
            let out = model.vision.forward(pixels.clone()).expect("forward");
            let _ = out.image_embeds.into_data();
        });
        let fps = batch as f64 / best;
        let share = fps * flops / 1e9 / peak * 100.0;
        let measured = options
            .python
            .as_deref()
            .map(|py| torch(py, batch, options.iters, n))
            .unwrap_or_default();
        let torch_fps = measured
            .iter()
            .find(|m| m["what"] == "vit_b16")
            .and_then(|m| m["frames_per_s"].as_f64());
        let torch_peak = measured
            .iter()
            .find(|m| m["what"] == "sgemm")
            .and_then(|m| m["gflops"].as_f64());
        let (t_fps, t_share, ratio) = match (torch_fps, torch_peak) {
            (Some(f), Some(p)) => (
                format!("{f:.2}"),
                format!("{:.0}% (sgemm {p:.1} GFLOP/s)", f * flops / 1e9 / p * 100.0),
                format!("{:.2}x", fps / f),
            ),
            _ => ("-".into(), "-".into(), "-".into()),
        };
        println!("| {batch} | {fps:.2} | {share:.0}% | {t_fps} | {t_share} | {ratio} |");
    }
}
