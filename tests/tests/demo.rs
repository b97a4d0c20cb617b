//! `scripts/demo.sh --quick` end to end, and the results issue 9 expects of it (docs/demo.md):
//! DiST tells a clip from its time reversal, the frame-order-blind spatial-only model cannot, and
//! both recognise the spatial control shapes.
//!
//! Uses the `dist-extract` and `dist-train` binaries of the profile the test was built with
//! (`cargo test --workspace` builds them; `make test` runs exactly that).
//! The longest test of `make test`: ~15 min on 2 cores with the debug binaries (dependencies at
//! opt-level 3; the figures equal the release binaries' to the digit), ~11 min in release.

use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ sits in the repository").to_path_buf()
}

/// `target/<profile>/`: the test executable lives in its `deps/`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/<test>").to_path_buf();
    for bin in ["dist-extract", "dist-train"] {
        assert!(dir.join(bin).exists(), "{} is missing: run `cargo test --workspace` (or `make test`)", dir.join(bin).display());
    }
    dir
}

fn python() -> String {
    std::env::var("DIST_PYTHON").unwrap_or_else(|_| repo().join(".venv/bin/python").display().to_string())
}

fn get(results: &serde_json::Value, model: &str, path: &[&str]) -> f64 {
    let mut v = &results["models"][model];
    for key in path {
        v = &v[*key];
    }
    v.as_f64().unwrap_or_else(|| panic!("results.json has no number at {model}.{}", path.join(".")))
}

/// Runs `scripts/demo.sh --quick` once per test binary and returns its `results.json`.
fn quick_demo_results() -> &'static serde_json::Value {
    static RESULTS: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    RESULTS.get_or_init(|| {
        let out = tempfile::tempdir().unwrap();
        let demo_out = out.path().join("demo");
        let status = Command::new("bash")
            .arg(repo().join("scripts/demo.sh"))
            .args(["--quick", "--out"])
            .arg(&demo_out)
            .env("DEMO_BIN", bin_dir())
            .env("DIST_PYTHON", python())
            .status()
            .unwrap();
        assert!(status.success(), "scripts/demo.sh --quick failed: {status}");
        for file in ["results.json", "curves.png", "accuracy.png"] {
            assert!(demo_out.join(file).is_file(), "demo wrote no {file}");
        }
        serde_json::from_slice(&std::fs::read(demo_out.join("results.json")).unwrap()).unwrap()
    })
}

#[test]
fn quick_demo_tells_the_senses_apart_where_an_order_blind_model_cannot() {
    let results = quick_demo_results();
    for family in ["translate", "rotate", "approach"] {
        let dist = get(results, "dist", &["sense", family]);
        assert!(dist >= 0.95, "full DiST tells {family} from its reversal only {:.1}% of the time", 100.0 * dist);
    }
    for family in ["translate", "rotate", "approach", "event_order"] {
        let spatial = get(results, "spatial_only", &["sense", family]);
        assert!((0.40..=0.60).contains(&spatial), "spatial-only {family} sense {:.1}% is not chance", 100.0 * spatial);
    }
    let top1 = |m: &str| get(results, m, &["top1"]);
    assert!(top1("dist") >= top1("integration_only"), "Table 1a: full DiST below integration-only");
    // Beyond issue 9's ordering: full DiST is not worse than temporal-only. Both saturate near 100%
    // on this benchmark, where one test video is within seed and rounding noise, so one is allowed.
    let one_video = 1.0 / get(results, "dist", &["test_videos"]);
    assert!(
        top1("dist") + one_video + 1e-9 >= top1("temporal_only"),
        "Table 1a: full DiST more than one test video below temporal-only ({:.1}% vs {:.1}%)",
        100.0 * top1("dist"),
        100.0 * top1("temporal_only")
    );
    assert!(top1("temporal_only") > top1("spatial_only"), "Table 1a: temporal-only not above spatial-only");
    assert!(top1("integration_only") > top1("spatial_only"), "Table 1a: integration-only not above spatial-only");
}

#[test]
fn quick_demo_recognises_the_control_shapes() {
    let results = quick_demo_results();
    for model in ["dist", "spatial_only"] {
        let control = get(results, model, &["control_top1"]);
        assert!(control >= 0.95, "{model} recognises the control shapes only {:.1}% of the time", 100.0 * control);
    }
}
