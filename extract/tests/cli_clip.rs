//! `dist-extract inspect-model / encode-frames / encode-text` end to end, against the dist-clip parity
//! fixtures (outputs of transformers, see `extract/clip/fixtures/make_fixtures.py`).

use std::path::{Path, PathBuf};
use std::process::Command;

use safetensors::SafeTensors;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("clip/fixtures")
}

fn dist_extract(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dist-extract")).args(args).output().unwrap()
}

/// name -> (dtype, shape, little-endian bytes).
fn read_all(path: &Path) -> Vec<(String, safetensors::Dtype, Vec<usize>, Vec<u8>)> {
    let bytes = std::fs::read(path).unwrap();
    let st = SafeTensors::deserialize(&bytes).unwrap();
    let mut all: Vec<_> =
        st.tensors().into_iter().map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec())).collect();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

fn f32s(bytes: &[u8]) -> Vec<f32> {
    bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

fn max_diff(a: &[u8], b: &[u8]) -> f32 {
    f32s(a).iter().zip(f32s(b)).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

#[test]
fn encode_frames_matches_transformers() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frames.safetensors");
    let model = fixtures().join("hf_clip");
    let frames = fixtures().join("frames.npy");
    let run = dist_extract(&[
        "encode-frames", "--model", model.to_str().unwrap(), "--frames", frames.to_str().unwrap(),
        "--out", out.to_str().unwrap(), "--batch", "3",
    ]);
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let expected: std::collections::HashMap<_, _> = read_all(&fixtures().join("hf_clip/expected.safetensors"))
        .into_iter()
        .map(|(n, _, s, b)| (n, (s, b)))
        .collect();
    let written = read_all(&out);
    let names: Vec<&str> = written.iter().map(|w| w.0.as_str()).collect();
    assert_eq!(
        names,
        ["hidden_states.0", "hidden_states.1", "hidden_states.2", "hidden_states.3", "image_embeds", "pooled"]
    );
    for (name, dtype, shape, bytes) in &written {
        assert_eq!(*dtype, safetensors::Dtype::F32);
        let (want_shape, want) = &expected[name];
        assert_eq!(shape, want_shape, "{name}");
        let diff = max_diff(bytes, want);
        assert!(diff <= 1e-4, "{name}: max |diff| {diff:e}");
    }
}

#[test]
fn encode_text_matches_transformers_tokenizer_and_text_tower() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("text.safetensors");
    let model = fixtures().join("hf_clip_fullvocab");
    let texts: Vec<String> =
        serde_json::from_str(&std::fs::read_to_string(model.join("texts.json")).unwrap()).unwrap();
    let mut args = vec!["encode-text".to_string(), "--model".into(), model.to_str().unwrap().into()];
    for t in &texts {
        args.push("--text".into());
        args.push(t.clone());
    }
    args.extend(["--out".into(), out.to_str().unwrap().into()]);
    let run = dist_extract(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let expected = read_all(&model.join("expected.safetensors"));
    let written = read_all(&out);
    assert_eq!(written.len(), 2);
    let (ids, want_ids) = (&written[0], &expected[0]);
    assert_eq!((ids.0.as_str(), ids.1, &ids.2), ("input_ids", safetensors::Dtype::I64, &vec![texts.len(), 77]));
    assert_eq!(ids.3, want_ids.3, "input_ids differ from transformers' CLIPTokenizer");
    let (embeds, want) = (&written[1], &expected[1]);
    assert_eq!((embeds.0.as_str(), &embeds.2), ("text_embeds", &want.2));
    let diff = max_diff(&embeds.3, &want.3);
    assert!(diff <= 1e-4, "text_embeds: max |diff| {diff:e}");
}

#[test]
fn inspect_model_prints_architecture_and_errors_name_the_file() {
    let run = dist_extract(&["inspect-model", "--model", "builtin:vit-b16-random"]);
    assert!(run.status.success());
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(stdout.contains("ViT-B/16") && stdout.contains("86.19 M parameters"), "{stdout}");

    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.safetensors");
    std::fs::write(&junk, "not weights").unwrap();
    let run = dist_extract(&["inspect-model", "--model", junk.to_str().unwrap()]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("notes.safetensors") && stderr.contains("not a CLIP checkpoint"), "{stderr}");
}

#[test]
fn a_backend_that_cannot_run_fails_before_loading_with_what_to_do() {
    let run = dist_extract(&["inspect-model", "--model", "builtin:tiny", "--device", "cuda"]);
    assert_eq!(run.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("cpu, wgpu"), "{stderr}");

    // Without the feature wgpu is missing; with it, bf16 is what wgpu cannot do.
    let run = dist_extract(&["inspect-model", "--model", "builtin:tiny", "--device", "wgpu", "--dtype", "bf16"]);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    let expected = if cfg!(feature = "wgpu") { "bf16" } else { "--features wgpu" };
    assert!(stderr.contains("backend wgpu") && stderr.contains(expected), "{stderr}");
}
