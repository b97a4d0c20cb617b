//! `dist-train fit --online` on a tiny synthetic set (videos FFmpeg makes at test time, the
//! random-weight `builtin:tiny-random` CLIP): it learns, writes a run's outputs, skips a corrupt video,
//! reproduces its metrics with a fixed seed, resumes a killed run to the same metrics, and draws
//! fresh (but seeded) augmentation every epoch.
//! The learning run uses the linear head: the random text tower's class embeddings are close to one
//! another (cosine about 0.8), so contrastive targets learn too slowly for a test this short.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

mod common;

use arrow::array::{Array, Float64Array, UInt64Array};
use burn::tensor::Device;
use dist_extract::commands::manifest_args::ManifestArgs;
use dist_train::frozen::FrozenEncoder;
use dist_train::trainer::online::{self, OnlineSource};
use dist_train::trainer::source::BatchSource;
use dist_train::trainer::{HeadKind, OnlineSpec};
use dist_video::SamplingConfig;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const BIN: &str = env!("CARGO_BIN_EXE_dist-train");
const CLASSES: [&str; 3] = ["pattern", "fractal", "gradient"];
/// Training epochs; 9 readable videos in batches of 3 make 3 steps each.
const EPOCHS: usize = 6;

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-nostdin", "-loglevel", "error", "-y"]).args(args).output().expect("ffmpeg CLI");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Three visually distinct classes, three training and one validation video each, plus one
/// corrupt training file.
fn dataset(dir: &Path) {
    std::fs::create_dir_all(dir.join("v")).unwrap();
    let (mut train, mut val) = (String::new(), String::new());
    for i in 0..12 {
        let class = i % 3;
        let (w, h) = (128 + 16 * (i % 2), 112);
        let src = match class {
            0 => format!("testsrc2=size={w}x{h}:rate=25:duration=0.8"),
            1 => format!("mandelbrot=size={w}x{h}:rate=25:start_scale={}", 1.0 + i as f64 / 4.0),
            _ => format!("gradients=size={w}x{h}:rate=25:seed={i}:duration=0.8"),
        };
        let name = format!("v/vid{i}.mp4");
        ffmpeg(&["-f", "lavfi", "-i", &src, "-t", "0.8", "-c:v", "libx264", "-pix_fmt", "yuv420p", &dir.join(&name).to_string_lossy()]);
        let line = format!("{name} {class}\n");
        if i < 9 { train.push_str(&line) } else { val.push_str(&line) }
    }
    std::fs::write(dir.join("v/broken.mp4"), b"\x00\x00\x00\x18ftypmp42 this is not a video").unwrap();
    train.push_str("v/broken.mp4 0\n");
    std::fs::write(dir.join("train.txt"), train).unwrap();
    std::fs::write(dir.join("val.txt"), val).unwrap();
    std::fs::write(dir.join("classes.txt"), CLASSES.join("\n")).unwrap();
    std::fs::write(
        dir.join("cfg.toml"),
        format!("[model]\nintegration_dim = 64\ntemporal_dim = 16\npooling_layers = 1\n\
         [train]\nepochs = {EPOCHS}\nbatch_size = 3\nbase_lr = 0.05\nwarmup_epochs = 1\nlabel_smoothing = 0.0\nhead = \"linear\"\nmixup_alpha = 0.0\ncutmix_alpha = 0.0\n\
         eval_every = 0\nseed = 3\n"),
    )
    .unwrap();
}

/// The `dist-train fit --online` command of the test's dataset.
fn fit_online_command(dir: &Path, run: &Path) -> Command {
    let p = |name: &str| dir.join(name).to_string_lossy().to_string();
    let mut cmd = Command::new(BIN);
    cmd.args(["fit", "--online", "--model", "builtin:tiny-random", "--t", "4", "--test-views", "2"])
        .args(["--manifest", &format!("train={}", p("train.txt")), "--manifest", &format!("val={}", p("val.txt"))])
        .args(["--classes", &p("classes.txt"), "--config", &p("cfg.toml"), "--out", &run.to_string_lossy()]);
    cmd
}

fn fit_online(dir: &Path, run: &Path, extra: &[&str]) {
    let out = fit_online_command(dir, run).args(extra).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "fit --online failed:\n{stderr}");
    assert!(stderr.contains("skipping video") && stderr.contains("broken"), "no warning about the corrupt video:\n{stderr}");
}

/// (step, loss) of the training rows and the final top-1 of metrics.parquet.
fn metrics(run: &Path) -> (Vec<(u64, f64)>, Vec<f64>) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(run.join("metrics.parquet")).unwrap()).unwrap().build().unwrap();
    let (mut losses, mut top1) = (Vec::new(), Vec::new());
    for batch in reader {
        let batch = batch.unwrap();
        let col = |n: &str| batch.column_by_name(n).unwrap().clone();
        let step = col("step");
        let step = step.as_any().downcast_ref::<UInt64Array>().unwrap();
        let loss = col("loss");
        let loss = loss.as_any().downcast_ref::<Float64Array>().unwrap();
        let t1 = col("top1");
        let t1 = t1.as_any().downcast_ref::<Float64Array>().unwrap();
        for r in 0..batch.num_rows() {
            if loss.is_valid(r) && loss.value(r).is_finite() {
                losses.push((step.value(r), loss.value(r)));
            } else {
                top1.push(t1.value(r));
            }
        }
    }
    (losses, top1)
}

#[test]
fn online_fit_learns_writes_outputs_skips_bad_videos_and_reproduces() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let (run_a, run_b) = (dir.join("run-a"), dir.join("run-b"));
    fit_online(dir, &run_a, &[]);

    for f in ["config.toml", "metrics.parquet", "model.safetensors", "run.json", "curves.png", "checkpoints/latest"] {
        assert!(run_a.join(f).is_file(), "missing {f}");
    }
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(run_a.join("run.json")).unwrap()).unwrap();
    assert_eq!(info["train_videos"], 10, "{info}");
    assert_eq!(info["val_videos"], 3, "{info}");
    assert_eq!(info["skipped_videos"], 1, "{info}");
    assert!(info.get("store").is_none(), "{info}");
    assert_eq!(info["online"]["model"], "builtin:tiny-random", "{info}");
    assert_eq!(info["store_meta"]["sampling"]["t"], 4, "{info}");
    assert_eq!(info["timing"]["steps"], 3 * EPOCHS, "{info}");

    let (losses, top1) = metrics(&run_a);
    assert_eq!(losses.len(), 3 * EPOCHS);
    assert_eq!(top1.len(), 1, "validation only at the end (eval_every = 0)");
    let first: f64 = losses[..3].iter().map(|l| l.1).sum::<f64>() / 3.0;
    let last: f64 = losses[3 * EPOCHS - 3..].iter().map(|l| l.1).sum::<f64>() / 3.0;
    let chance = (CLASSES.len() as f64).ln();
    assert!(
        last < 0.8 * first && last < 0.8 * chance,
        "the loss did not decrease: first epoch {first:.4}, last {last:.4}, chance {chance:.4} ({losses:?})"
    );

    fit_online(dir, &run_b, &[]);
    assert_eq!(metrics(&run_a), metrics(&run_b), "the same seed gave other metrics");

    // Killed (SIGKILL) right after its first checkpoint, then resumed: the views of the remaining
    // epochs are drawn afresh from (seed, epoch), so the metrics equal the uninterrupted run's.
    let run_c = dir.join("run-c");
    common::kill_after_first_checkpoint(fit_online_command(dir, &run_c), &run_c);
    fit_online(dir, &run_c, &["--resume"]);
    assert_eq!(metrics(&run_a), metrics(&run_c), "the resumed online run gave other metrics");

    // predict takes the run's sampling and class targets from run.json, no store.
    let out = Command::new(BIN)
        .args(["predict", "--run", &run_a.to_string_lossy(), "--model", "builtin:tiny-random", "--json"])
        .args(["--video", &dir.join("v/vid10.mp4").to_string_lossy()])
        .output()
        .unwrap();
    assert!(out.status.success(), "predict: {}", String::from_utf8_lossy(&out.stderr));
    let p: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(p["views"], 2, "{p}");
}

/// The dense pixels of every video's view in an epoch, by video index.
fn epoch_views(source: &OnlineSource, epoch: usize, seed: u64) -> BTreeMap<u64, Vec<f32>> {
    let mut views = BTreeMap::new();
    for batch in source.train_epoch(epoch, seed, 4, &Device::flex()) {
        let batch = batch.unwrap();
        let pixels = batch.frames.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
        let per_clip = pixels.len() / batch.clips.len();
        for (i, &video) in batch.clips.iter().enumerate() {
            views.insert(video, pixels[i * per_clip..(i + 1) * per_clip].to_vec());
        }
    }
    views
}

#[test]
fn online_views_are_fresh_every_epoch_and_seeded() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let spec = OnlineSpec {
        model: "builtin:tiny-random".into(),
        data: ManifestArgs {
            manifest: vec![format!("train={}", dir.join("train.txt").display())],
            classes: Some(dir.join("classes.txt")),
            root: None,
            format: None,
        },
        sampling: SamplingConfig { t: 2, gamma: 2, ..SamplingConfig::default() },
        size_from_model: true,
        templates: vec![],
    };
    let (clip, meta, sampling) = online::load(&spec, dist_clip::Backend::Cpu).unwrap();
    // The contrastive head's targets: one CLIP text embedding per class name.
    let targets = online::class_targets(&spec, &clip, HeadKind::Contrastive).unwrap();
    let (emb, dim) = targets.embeddings.as_ref().unwrap();
    assert_eq!((targets.classes.len(), *dim, emb.len()), (3, clip.fingerprint.embed_dim, 3 * dim));
    let encoder = FrozenEncoder::new(clip, vec![4], meta).unwrap();
    let source = OnlineSource::new(&spec, encoder, sampling, CLASSES.len(), "val", true, 2, 4).unwrap();
    assert!(source.val_videos().is_empty());

    let e0 = epoch_views(&source, 0, 1);
    assert_eq!(e0.len(), 9, "the 9 readable training videos");
    assert_eq!(source.skipped_videos(), 1);
    assert_eq!(epoch_views(&source, 0, 1), e0, "the same epoch and seed must give the same views");
    // Another epoch, or another seed, re-draws every video's offsets, crop and flip.
    for other in [epoch_views(&source, 1, 1), epoch_views(&source, 0, 2)] {
        for (video, pixels) in &other {
            assert_ne!(pixels, &e0[video], "video {video} got the same view again");
        }
    }
}
