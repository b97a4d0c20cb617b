//! `dist-train predict` end to end: a tiny store extracted with builtin:tiny from videos FFmpeg makes
//! at test time, one epoch of fit, then predict on a test video agrees with eval on the same views.

use std::path::Path;
use std::process::Command;

use arrow::array::{Array, Float64Array, ListArray, StringArray};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const BIN: &str = env!("CARGO_BIN_EXE_dist-train");
const CLASSES: [&str; 6] = ["circles", "squares", "waves", "bars", "dots", "stripes"];

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-nostdin", "-loglevel", "error", "-y"]).args(args).output().expect("ffmpeg CLI");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// Six training videos (one per class) and two test videos, with manifests and class names.
fn dataset(dir: &Path) {
    std::fs::create_dir_all(dir.join("v")).unwrap();
    let (mut train, mut test) = (String::new(), String::new());
    for i in 0..8 {
        let name = format!("v/vid{i}.mp4");
        let src = format!("testsrc2=size={}x{}:rate=25:duration={}", 112 + 16 * (i % 3), 112, 0.6 + 0.2 * (i % 4) as f64);
        ffmpeg(&["-f", "lavfi", "-i", &src, "-c:v", "libx264", "-pix_fmt", "yuv420p", &dir.join(&name).to_string_lossy()]);
        let line = format!("{name} {}\n", i % CLASSES.len());
        if i < 6 { train.push_str(&line) } else { test.push_str(&line) }
    }
    std::fs::write(dir.join("train.txt"), train).unwrap();
    std::fs::write(dir.join("test.txt"), test).unwrap();
    std::fs::write(dir.join("classes.txt"), CLASSES.join("\n")).unwrap();
}

fn dist_train(args: &[&str]) -> String {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(out.status.success(), "dist-train {args:?}:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// eval's top-5 labels and scores of the video whose id contains `stem`.
fn eval_prediction(path: &Path, stem: &str) -> (Vec<String>, Vec<f64>) {
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap().build().unwrap();
    for batch in reader {
        let batch = batch.unwrap();
        let ids = batch.column_by_name("video_id").unwrap().as_any().downcast_ref::<StringArray>().unwrap();
        let labels = batch.column_by_name("top5_labels").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
        let scores = batch.column_by_name("top5_scores").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
        let every = batch.column_by_name("scores").unwrap().as_any().downcast_ref::<ListArray>().unwrap();
        for row in 0..batch.num_rows() {
            if ids.value(row).contains(stem) {
                // `scores` holds every class's share: they sum to 1 and its best five are the top 5.
                let all = every.value(row);
                let mut all: Vec<f64> = all.as_any().downcast_ref::<Float64Array>().unwrap().values().to_vec();
                assert!((all.iter().sum::<f64>() - 1.0).abs() < 1e-6, "{all:?}");
                all.sort_by(|a, b| b.total_cmp(a));
                let top = scores.value(row);
                let top = top.as_any().downcast_ref::<Float64Array>().unwrap();
                assert!(all.iter().zip(top.values()).all(|(a, b)| (a - b).abs() < 1e-12), "{all:?} vs {top:?}");
                let l = labels.value(row);
                let l = l.as_any().downcast_ref::<StringArray>().unwrap();
                let s = scores.value(row);
                let s = s.as_any().downcast_ref::<Float64Array>().unwrap();
                return ((0..l.len()).map(|i| l.value(i).to_string()).collect(), (0..s.len()).map(|i| s.value(i)).collect());
            }
        }
    }
    panic!("no prediction for {stem} in {}", path.display());
}

#[test]
fn predict_one_video_matches_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    dataset(dir);
    let store = dir.join("store");
    let arg = |p: &Path| p.to_string_lossy().to_string();
    let extract = [
        "dist-extract".to_string(),
        "run".into(),
        "--manifest".into(),
        format!("train={}", dir.join("train.txt").display()),
        "--manifest".into(),
        format!("test={}", dir.join("test.txt").display()),
        "--classes".into(),
        arg(&dir.join("classes.txt")),
        "--model".into(),
        "builtin:tiny".into(),
        "--out".into(),
        arg(&store),
        "--t".into(),
        "4".into(),
        "--train-views".into(),
        "1".into(),
        "--test-views".into(),
        "2".into(),
        // f32 features: eval on the store and predict on the video then see the same numbers.
        "--element-type".into(),
        "f32".into(),
        "--decode-threads".into(),
        "1".into(),
    ];
    <dist_extract::cli::Cli as clap::Parser>::try_parse_from(&extract).unwrap().run().unwrap();

    let cfg = dir.join("cfg.toml");
    std::fs::write(
        &cfg,
        "[model]\nintegration_dim = 64\ntemporal_dim = 16\npooling_layers = 1\n\
         [train]\nepochs = 1\nbatch_size = 2\nbase_lr = 1.0\nwarmup_epochs = 0\nval_split = \"none\"\n",
    )
    .unwrap();
    let run = dir.join("run");
    dist_train(&["fit", "--store", &arg(&store), "--config", &arg(&cfg), "--out", &arg(&run)]);
    dist_train(&["eval", "--store", &arg(&store), "--run", &arg(&run), "--split", "test"]);

    let video = dir.join("v/vid7.mp4");
    let out = dist_train(&["predict", "--run", &arg(&run), "--model", "builtin:tiny", "--video", &arg(&video), "--json"]);
    let p: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(p["views"], 2, "{p}");
    let top = p["top"].as_array().unwrap();
    assert_eq!(top.len(), 5, "{p}");
    assert!(top.iter().all(|r| CLASSES.contains(&r["class"].as_str().unwrap())), "{p}");
    let probs: Vec<f64> = top.iter().map(|r| r["prob"].as_f64().unwrap()).collect();
    assert!(probs.windows(2).all(|w| w[0] >= w[1]), "not ranked: {probs:?}");
    assert!(probs.iter().sum::<f64>() <= 1.0 + 1e-6, "{probs:?}");

    let (labels, scores) = eval_prediction(&run.join("eval-test/predictions.parquet"), "vid7");
    assert_eq!(top[0]["class"].as_str().unwrap(), labels[0], "predict {p} vs eval {labels:?} {scores:?}");
    assert!((probs[0] - scores[0]).abs() < 1e-4, "top-1 probability: predict {} vs eval {}", probs[0], scores[0]);

    // The human table prints the same top class.
    let table = dist_train(&["predict", "--run", &arg(&run), "--model", "builtin:tiny", "--video", &arg(&video)]);
    assert!(table.lines().nth(2).unwrap().contains(&labels[0]), "{table}");
}
