//! `dist-train fit/eval` on a small synthetic store: it learns, a fixed seed reproduces, and a
//! killed run resumed with --resume ends with the same metrics as an uninterrupted one.

use std::path::Path;
use std::process::Command;

use dist_store::*;

mod common;

const BIN: &str = env!("CARGO_BIN_EXE_dist-train");
const CLASSES: usize = 4;
const WIDTH: usize = 32;

fn meta(num_clips: u64) -> StoreMeta {
    StoreMeta {
        format_version: FORMAT_VERSION,
        encoder: EncoderFingerprint {
            architecture: "test".into(),
            name: "test".into(),
            image_size: 32,
            patch_size: 16,
            width: WIDTH,
            layers: 2,
            heads: 1,
            embed_dim: 8,
            weights_sha256: "t".into(),
        },
        preprocessing: Preprocessing { resize_short: 32, crop: 32, interpolation: "bilinear".into(), mean: CLIP_MEAN, std: CLIP_STD },
        sampling: Sampling {
            t: 4,
            gamma: 2,
            strategy: "tsn".into(),
            train_views: 2,
            test_views: 2,
            spatial_crops: 1,
            seed: 0,
            short_video_policy: "stretch".into(),
        },
        layers: vec![1, 2],
        element_type: ElementType::F16,
        num_clips,
        clips_per_shard: 8,
        zstd_level: 1,
        compression: dist_store::Compression::Zstd,
        created_by: "test".into(),
        planned_videos: 0,
    }
}

fn noise(seed: u64, i: u64) -> f32 {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 31)).wrapping_mul(0x94D0_49BB_1331_11EB);
    ((z >> 40) as f32 / (1u64 << 24) as f32) - 0.5
}

/// A store whose tokens carry a class-specific direction plus noise: learnable from the taps.
fn make_store(dir: &Path) -> Store {
    let videos_per_split = [("train", 24usize), ("val", 8)];
    let total: usize = videos_per_split.iter().map(|v| v.1 * 2).sum();
    let store = Store::create(dir.join("store"), meta(total as u64)).unwrap();
    let m = store.meta().clone();
    let mut clip = 0u64;
    let mut writers = std::collections::BTreeMap::new();
    for (split, n) in videos_per_split {
        for v in 0..n {
            let label = v % CLASSES;
            for view in 0..2u32 {
                let spatial: Vec<f32> = (0..m.layers.len() * m.layer_len())
                    .map(|i| {
                        let ch = i % WIDTH;
                        let signal = if ch % CLASSES == label { 1.5 } else { 0.0 };
                        signal + noise(clip, i as u64)
                    })
                    .collect();
                let frames: Vec<u8> = (0..m.frames_len()).map(|i| (noise(clip + 99, i as u64) * 200.0 + 128.0) as u8).collect();
                let rec = ClipRecord {
                    clip,
                    video_id: format!("{split}{v}"),
                    split: split.into(),
                    label: Some(label as i64),
                    view,
                    spatial_crop: 0,
                    sparse_indices: vec![0, 2, 4, 6],
                    dense_indices: (0..8).collect(),
                    dense_pts: (0..8).map(|i| i as f64 / 8.0).collect(),
                    crop: [0, 0, 32, 32],
                    flip: false,
                };
                let shard = clip / m.clips_per_shard;
                let w = writers.entry(shard).or_insert_with(|| store.shard_writer(shard).unwrap());
                w.add_clip(rec, &spatial, &frames).unwrap();
                clip += 1;
            }
        }
    }
    for (_, w) in writers {
        w.commit().unwrap();
    }
    let text: Vec<f32> = (0..CLASSES * 8).map(|i| noise(7, i as u64)).collect();
    store
        .write_label_set(&LabelSet {
            name: "train".into(),
            classes: (0..CLASSES).map(|c| format!("class {c}")).collect(),
            embeddings: text,
            dim: 8,
            info: serde_json::Value::Null,
        })
        .unwrap();
    store
}

fn config(dir: &Path, epochs: usize) -> std::path::PathBuf {
    config_with(dir, epochs, "")
}

/// The test config with extra `[train]` lines.
fn config_with(dir: &Path, epochs: usize, train_extra: &str) -> std::path::PathBuf {
    let path = dir.join("cfg.toml");
    std::fs::write(
        &path,
        format!(
            "[model]\nintegration_dim = 64\ntemporal_dim = 16\npooling_layers = 1\n\
             [train]\nepochs = {epochs}\nbatch_size = 4\nbase_lr = 0.5\nwarmup_epochs = 1\nlogit_scale = 10.0\n\
             mixup_alpha = 0.8\ncutmix_alpha = 1.0\nmix_prob = 0.5\neval_every = 2\nseed = 3\n{train_extra}"
        ),
    )
    .unwrap();
    path
}

fn fit(store: &Path, cfg: &Path, out: &Path, extra: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(["fit", "--store", &store.to_string_lossy(), "--config", &cfg.to_string_lossy(), "--out", &out.to_string_lossy()])
        .args(extra)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The metrics rows of a run's last checkpoint without the timing column (clips/s).
fn metrics(run: &Path) -> Vec<serde_json::Value> {
    let latest = std::fs::read_to_string(run.join("checkpoints/latest")).unwrap();
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("checkpoints").join(latest.trim()).join("state.json")).unwrap()).unwrap();
    state["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.as_object_mut().unwrap().remove("clips_per_s");
            r
        })
        .collect()
}

/// Equal metrics: exactly, or within `rel` relative difference per number.
fn assert_same_metrics(a: &Path, b: &Path, what: &str, rel: f64) {
    let (ma, mb) = (metrics(a), metrics(b));
    assert_eq!(ma.len(), mb.len(), "{what}: different number of metric rows");
    for (i, (x, y)) in ma.iter().zip(&mb).enumerate() {
        let close = x.as_object().unwrap().iter().all(|(k, v)| match (v.as_f64(), y[k].as_f64()) {
            (Some(p), Some(q)) => (p - q).abs() <= rel * p.abs().max(q.abs()),
            _ => v == &y[k],
        });
        assert!(close, "{what}: row {i} differs: {x} vs {y}");
    }
}

#[test]
fn learns_reproduces_and_resumes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = make_store(tmp.path());
    let cfg = config(tmp.path(), 8);
    let a = tmp.path().join("a");
    let out = fit(store.root(), &cfg, &a, &[]);
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(a.join("run.json")).unwrap()).unwrap();
    let top1 = info["final_top1"].as_f64().unwrap();
    assert!(top1 >= 0.75, "validation top-1 {top1} (chance 0.25): {out}");
    for f in ["model.safetensors", "config.toml", "metrics.parquet", "checkpoints/latest"] {
        assert!(a.join(f).exists(), "{f} missing");
    }

    // Same seed, same metrics.
    let b = tmp.path().join("b");
    fit(store.root(), &cfg, &b, &[]);
    assert_same_metrics(&a, &b, "a fixed seed must reproduce the metrics", 0.0);

    // Killed (SIGKILL) right after its first checkpoint, resumed: same final metrics as the
    // uninterrupted run.
    let c = tmp.path().join("c");
    let mut fit_c = Command::new(BIN);
    fit_c.args(["fit", "--store", &store.root().to_string_lossy(), "--config", &cfg.to_string_lossy(), "--out", &c.to_string_lossy()]);
    common::kill_after_first_checkpoint(fit_c, &c);
    fit(store.root(), &cfg, &c, &["--resume"]);
    assert_same_metrics(&a, &c, "resumed run", 0.0);
}

#[test]
fn eval_writes_predictions_and_refuses_missing_layers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = make_store(tmp.path());
    let cfg = config(tmp.path(), 2);
    let run = tmp.path().join("run");
    fit(store.root(), &cfg, &run, &[]);
    let out = Command::new(BIN)
        .args(["eval", "--store", &store.root().to_string_lossy(), "--run", &run.to_string_lossy(), "--split", "val"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for f in ["metrics.json", "predictions.parquet", "per_class.parquet", "confusion.parquet"] {
        assert!(run.join("eval-val").join(f).exists(), "{f} missing");
    }
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("eval-val/metrics.json")).unwrap()).unwrap();
    assert_eq!(m["videos"], 8);
    assert_eq!(m["per_class"].as_array().unwrap().len(), CLASSES);

    // A config asking for a layer the store does not hold is refused, naming the field.
    std::fs::write(tmp.path().join("bad.toml"), "[model]\nlayers = [1, 2, 3]\n").unwrap();
    let out = Command::new(BIN)
        .args(["fit", "--store", &store.root().to_string_lossy(), "--config", &tmp.path().join("bad.toml").to_string_lossy(), "--out", &tmp.path().join("bad").to_string_lossy()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("layers"), "{err}");
}

#[test]
fn linear_head_learns_saves_and_evaluates() {
    let tmp = tempfile::tempdir().unwrap();
    let store = make_store(tmp.path());
    let cfg = config_with(tmp.path(), 8, "head = \"linear\"\n");
    let run = tmp.path().join("run");
    let out = fit(store.root(), &cfg, &run, &[]);
    let info: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("run.json")).unwrap()).unwrap();
    let top1 = info["final_top1"].as_f64().unwrap();
    assert!(top1 >= 0.75, "linear head: validation top-1 {top1} (chance 0.25): {out}");

    // The classifier is saved beside the official DiST keys, in the final weights and checkpoints.
    for file in [run.join("model.safetensors"), run.join("checkpoints/epoch-0008/model.safetensors")] {
        let bytes = std::fs::read(&file).unwrap();
        let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(st.tensor("classifier.weight").unwrap().shape(), [CLASSES, 8], "{}", file.display());
        assert_eq!(st.tensor("classifier.bias").unwrap().shape(), [CLASSES], "{}", file.display());
    }

    // eval scores with the classifier and agrees with fit's last validation.
    let eval = |extra: &[&str]| {
        Command::new(BIN)
            .args(["eval", "--store", &store.root().to_string_lossy(), "--run", &run.to_string_lossy(), "--split", "val"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = eval(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(run.join("eval-val/metrics.json")).unwrap()).unwrap();
    assert_eq!(m["top1"].as_f64().unwrap(), top1, "eval and fit's validation disagree");

    // No text side: zero-shot is refused, saying why.
    let out = eval(&["--labels", "train"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("linear head") && err.contains("zero-shot"), "{err}");
}

/// `--devices 3` cuts every batch of 4 into shards of 2, 1 and 1 clips, each run by its own
/// replica (on cpu: in its own share of the threads) and weighted by its share: the run follows
/// the single-replica one up to the order of float sums.
#[test]
fn data_parallel_replicas_follow_the_single_device_run() {
    let tmp = tempfile::tempdir().unwrap();
    let store = make_store(tmp.path());
    let cfg = config(tmp.path(), 2);
    let (one, three) = (tmp.path().join("one"), tmp.path().join("three"));
    fit(store.root(), &cfg, &one, &["--devices", "1"]);
    fit(store.root(), &cfg, &three, &["--devices", "3"]);
    assert_same_metrics(&one, &three, "three replicas against one device", 1e-3);
    let resolved = std::fs::read_to_string(three.join("config.toml")).unwrap();
    assert!(resolved.contains("devices = 3"), "{resolved}");
}
