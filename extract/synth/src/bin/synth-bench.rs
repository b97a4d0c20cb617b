//! Generation speed of the synthetic benchmark, side by side in one run:
//! rendering only, rendering + H.264 (mp4), + intra-only H.264, + FFV1 (mkv), on 1 thread and on all.
//!
//! `cargo run --release -p dist-synth --bin synth-bench -- [clips] [size] [frames]`
//! (defaults: 240 clips, 112 px, 16 frames; all families, seed 0, no noise).

use std::time::Instant;

use anyhow::{Context, Result};
use rayon::prelude::*;

use dist_synth::{class_table, generate, plan, Codec, EncodeConfig, Family, SceneConfig, SplitFractions, SynthConfig};

fn main() -> Result<()> {
    let arg = |i: usize, default: usize| -> Result<usize> {
        std::env::args().nth(i).map_or(Ok(default), |s| s.parse().with_context(|| format!("argument {i}: `{s}`")))
    };
    let (clips, size, frames) = (arg(1, 240)?, arg(2, 112)?, arg(3, 16)?);
    let classes = class_table(&Family::ALL);
    let per_class = clips.div_ceil(classes.len()).max(1);
    let scene = SceneConfig { size, frames, ..SceneConfig::default() };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("synth-bench: {} clips ({per_class} per class) of {size}x{size}x{frames}, {cores} cores", per_class * classes.len());
    println!("{:<22} {:>8} {:>10} {:>10} {:>10}", "stage", "threads", "seconds", "clips/s", "KiB/clip");

    let tmp = std::env::temp_dir().join(format!("synth-bench-{}", std::process::id()));
    for threads in [1, cores] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
        let groups = plan(&classes, per_class, &SplitFractions::default(), 0, Codec::H264);
        let start = Instant::now();
        let frames_rendered: usize = pool.install(|| {
            groups
                .par_iter()
                .map(|g| g.render_clips(&scene, 0).iter().map(|c| c.frames.len()).sum::<usize>())
                .sum()
        });
        report("render only", threads, frames_rendered / frames, start.elapsed().as_secs_f64(), None);

        for (codec, intra_only) in [(Codec::H264, false), (Codec::H264, true), (Codec::Ffv1, false)] {
            let cfg = SynthConfig {
                out: tmp.join(format!("{codec}-{intra_only}-{threads}")),
                clips_per_class: per_class,
                seed: 0,
                families: Family::ALL.to_vec(),
                scene: scene.clone(),
                encode: EncodeConfig { codec, intra_only, ..EncodeConfig::default() },
                split: SplitFractions::default(),
                jobs: Some(threads),
            };
            let summary = generate(&cfg)?;
            let bytes = dir_bytes(&cfg.out)?;
            let stage = format!("render + {codec}{}", if intra_only { " intra" } else { "" });
            report(&stage, threads, summary.clips, summary.seconds, Some(bytes));
        }
    }
    std::fs::remove_dir_all(&tmp).with_context(|| format!("removing {}", tmp.display()))?;
    Ok(())
}

/// Total size of the video files under `dir`.
fn dir_bytes(dir: &std::path::Path) -> Result<u64> {
    let mut total = 0;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            total += dir_bytes(&path)?;
        } else if matches!(path.extension().and_then(|e| e.to_str()), Some("mp4" | "mkv")) {
            total += std::fs::metadata(&path)?.len();
        }
    }
    Ok(total)
}

fn report(stage: &str, threads: usize, clips: usize, seconds: f64, bytes: Option<u64>) {
    let size = bytes.map_or(String::from("-"), |b| format!("{:.1}", b as f64 / 1024.0 / clips as f64));
    println!("{stage:<22} {threads:>8} {seconds:>10.2} {:>10.1} {size:>10}", clips as f64 / seconds);
}
