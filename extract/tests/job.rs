//! `dist-extract run/status/scan/text` end to end on videos FFmpeg makes at test time: resume after
//! SIGKILL, 4 concurrent shard processes, bad input, retry of failed videos.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_dist-extract");

fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg").args(["-nostdin", "-loglevel", "error", "-y"]).args(args).output().expect("ffmpeg CLI");
    assert!(out.status.success(), "ffmpeg {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// `n` short H.264 videos of different lengths, plus broken files, and manifests.
fn dataset(dir: &Path, n: usize) {
    std::fs::create_dir_all(dir.join("v")).unwrap();
    let mut train = String::new();
    let mut test = String::new();
    for i in 0..n {
        let name = format!("v/vid{i}.mp4");
        let src = format!("testsrc2=size={}x{}:rate=25:duration={}", 96 + 8 * (i % 3), 72, 0.6 + 0.2 * (i % 4) as f64);
        ffmpeg(&["-f", "lavfi", "-i", &src, "-c:v", "libx264", "-pix_fmt", "yuv420p", &dir.join(&name).to_string_lossy()]);
        let line = format!("{name} {}\n", i % 2);
        if i % 3 == 2 { test.push_str(&line) } else { train.push_str(&line) }
    }
    std::fs::write(dir.join("v/bad.mp4"), b"this is not a video").unwrap();
    train.push_str("v/bad.mp4 1\nv/missing.mp4 0\n");
    std::fs::write(dir.join("train.txt"), train).unwrap();
    std::fs::write(dir.join("test.txt"), test).unwrap();
    std::fs::write(dir.join("classes.txt"), "ascending\ndescending\n").unwrap();
}

fn run_args(dir: &Path, store: &Path) -> Vec<String> {
    [
        "run",
        "--manifest",
        &format!("train={}", dir.join("train.txt").display()),
        "--manifest",
        &format!("test={}", dir.join("test.txt").display()),
        "--classes",
        &dir.join("classes.txt").to_string_lossy(),
        "--model",
        "builtin:tiny",
        "--out",
        &store.to_string_lossy(),
        "--clips-per-shard",
        "3",
        "--t",
        "4",
        "--train-views",
        "2",
        "--test-views",
        "2",
        "--element-type",
        "int8",
        "--decode-threads",
        "1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn extract(args: &[String]) -> Output {
    let out = Command::new(BIN).args(args).env_remove("SLURM_ARRAY_TASK_ID").env_remove("JOB_COMPLETION_INDEX").output().unwrap();
    assert!(out.status.success(), "dist-extract {args:?} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    out
}

/// Every file of a store (relative path -> bytes), temporary files excluded.
fn tree(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(p.strip_prefix(root).unwrap().to_path_buf(), std::fs::read(&p).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn assert_same_store(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(ta.keys().collect::<Vec<_>>(), tb.keys().collect::<Vec<_>>(), "different files");
    for (k, v) in &ta {
        assert!(v == &tb[k], "{} differs", k.display());
    }
}

fn status(store: &Path) -> String {
    String::from_utf8(extract(&["status".into(), store.to_string_lossy().into(), "--shards".into()]).stdout).unwrap()
}

#[test]
fn killed_run_resumes_to_the_same_store() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data, 14);
    let before: Vec<_> = tree(&data).into_keys().collect();

    let reference = tmp.path().join("reference");
    extract(&run_args(&data, &reference));
    let st = status(&reference);
    assert!(st.contains("14 done, 2 failed, 0 pending"), "{st}");
    assert!(st.contains("not_a_video") && st.contains("missing_file"), "{st}");

    // SIGKILL a run as soon as its first shard is committed, then resume it with the same command.
    let store = tmp.path().join("killed");
    let committed = |store: &Path| {
        std::fs::read_dir(store.join("videos.parquet"))
            .map(|d| d.filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with("shard-")).count())
            .unwrap_or(0)
    };
    let mut child = Command::new(BIN).args(run_args(&data, &store)).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
    while committed(&store) == 0 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let total = std::fs::read_dir(reference.join("videos.parquet")).unwrap().count();
    let done = committed(&store);
    assert!(done > 0 && done < total, "the kill did not land mid-job ({done} of {total} shards committed)");
    // The result must equal the uninterrupted run byte for byte.
    extract(&run_args(&data, &store));
    assert_same_store(&reference, &store);
    // Manifests and videos are only read.
    assert_eq!(tree(&data).into_keys().collect::<Vec<_>>(), before);
}

#[test]
fn four_concurrent_shards_equal_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data, 10);
    let single = tmp.path().join("single");
    extract(&run_args(&data, &single));

    let shared = tmp.path().join("shared");
    let children: Vec<_> = (0..4)
        .map(|i| {
            // Two through --shard, two through job-array variables.
            let mut cmd = Command::new(BIN);
            cmd.args(run_args(&data, &shared)).stdout(Stdio::null()).stderr(Stdio::piped());
            match i {
                0 | 1 => {
                    cmd.args(["--shard", &format!("{i}/4")]);
                }
                2 => {
                    cmd.env("SLURM_ARRAY_TASK_ID", "3").env("SLURM_ARRAY_TASK_COUNT", "4").env("SLURM_ARRAY_TASK_MIN", "1");
                }
                _ => {
                    cmd.env("JOB_COMPLETION_INDEX", "3").env("DIST_SHARD_COUNT", "4");
                }
            }
            cmd.spawn().unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    assert_same_store(&single, &shared);
}

#[test]
fn failed_videos_are_recorded_and_can_be_retried() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data, 3);
    let store = tmp.path().join("store");
    let out = extract(&run_args(&data, &store));
    assert!(String::from_utf8_lossy(&out.stdout).contains("2 failed"));

    // scan lists the same two videos, with reasons, without a model.
    let scan = extract(&[
        "scan".into(),
        "--manifest".into(),
        data.join("train.txt").to_string_lossy().into(),
        "--classes".into(),
        data.join("classes.txt").to_string_lossy().into(),
    ]);
    let list = String::from_utf8(scan.stdout).unwrap();
    assert_eq!(list.lines().count(), 3, "{list}");
    assert!(list.contains("bad\t") && list.contains("not_a_video") && list.contains("missing_file"), "{list}");

    // The user fixes the broken file and retries only the failures.
    std::fs::copy(data.join("v/vid0.mp4"), data.join("v/bad.mp4")).unwrap();
    let out = extract(&[run_args(&data, &store), vec!["--retry-failed".into()]].concat());
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 failed"), "{}", String::from_utf8_lossy(&out.stdout));
    let st = status(&store);
    assert!(st.contains("4 done, 1 failed"), "{st}");
    assert!(!st.contains("not_a_video"), "{st}");

    // A zero-shot label set is added to the existing store.
    std::fs::write(data.join("zs.txt"), "rising\nfalling\nstill\n").unwrap();
    extract(&[
        "text".into(),
        "--model".into(),
        "builtin:tiny".into(),
        "--classes".into(),
        data.join("zs.txt").to_string_lossy().into(),
        "--out".into(),
        store.to_string_lossy().into(),
        "--name".into(),
        "zeroshot".into(),
        "--templates".into(),
        "ensemble".into(),
    ]);
    assert!(status(&store).contains("label sets: train, zeroshot"));
}

#[test]
fn malformed_manifest_lines_are_reported_with_their_line() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    dataset(&data, 1);
    std::fs::write(data.join("train.txt"), "v/vid0.mp4 0\nv/vid0.mp4 zero one two\n").unwrap();
    let out = Command::new(BIN).args(run_args(&data, &tmp.path().join("s"))).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("train.txt") && err.contains('2'), "{err}");
    assert!(!tmp.path().join("s").exists(), "nothing is written when the job cannot run");
}
