//! Numerical parity with the official PyTorch module: the fixtures of
//! `train/fixtures/make_fixtures.py` (a faithful re-creation of `dist.py`, weights stored as F16).

use std::path::{Path, PathBuf};
use std::process::Command;

use burn::tensor::{Device, Tensor};
use dist_train::model::{dist_tensors, infer_config, ContrastiveHead, InputShapes};
use dist_train::tensor_io::{read_npy, read_safetensors, HostTensor};

use super::common::values;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/dist_small").join(name)
}

fn assert_close(what: &str, got: &[f32], want: &[f32], tol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let worst = got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= tol, "{what}: max |diff| {worst} > {tol}");
}

fn expected(name: &str) -> HostTensor {
    read_safetensors(&fixture("expected.safetensors")).unwrap().remove(name).unwrap()
}

#[test]
fn forward_matches_the_official_pytorch_module() {
    let device = Device::flex();
    let path = fixture("weights.safetensors");
    let weights = dist_tensors(read_safetensors(&path).unwrap());
    let taps_file = read_safetensors(&fixture("taps.safetensors")).unwrap();
    let frames = read_npy(&fixture("frames.npy")).unwrap();
    let shapes = InputShapes {
        taps: Some(taps_file["taps.1"].shape.clone().try_into().unwrap()),
        frames: Some(frames.shape.clone().try_into().unwrap()),
    };
    let config = infer_config(&path, &weights, shapes).unwrap();
    assert_eq!(
        (config.width, config.integration_dim, config.temporal_dim, config.frames, config.gamma, config.pooling_layers),
        (64, 128, 32, 4, 2, 2)
    );
    assert_eq!((config.patch_size, config.stem_temporal_kernel, config.embed_dim), (8, 5, 32));
    assert_eq!(config.resolved_pooling_heads(), 2);

    let model = config.init(&device).unwrap().load_tensors(&path, weights).unwrap();
    let taps: Vec<Tensor<3>> =
        (1..=3).map(|l| taps_file[&format!("taps.{l}")].to_tensor::<3>("taps", &device).unwrap()).collect();
    let video = model.forward(&taps, frames.to_tensor::<5>("frames", &device).unwrap()).unwrap();
    assert_close("video_embeds", &values(&video), &expected("video_embeds").data, 1e-4);

    let text = read_safetensors(&fixture("text.safetensors")).unwrap()["text_embeds"].to_tensor::<2>("text", &device).unwrap();
    let logits = ContrastiveHead::new(text, 100.0).logits(video);
    assert_close("logits", &values(&logits), &expected("logits").data, 1e-3);
}

#[test]
fn cli_forward_matches_the_official_pytorch_module() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.safetensors");
    let status = Command::new(env!("CARGO_BIN_EXE_dist-train"))
        .arg("forward")
        .arg("--weights")
        .arg(fixture("weights.safetensors"))
        .arg("--taps")
        .arg(fixture("taps.safetensors"))
        .arg("--frames")
        .arg(fixture("frames.npy"))
        .arg("--text")
        .arg(fixture("text.safetensors"))
        .arg("--out")
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let got = read_safetensors(&out).unwrap();
    assert_close("video_embeds", &got["video_embeds"].data, &expected("video_embeds").data, 1e-4);
    assert_close("logits", &got["logits"].data, &expected("logits").data, 1e-3);
    assert_eq!(got["logits"].shape, vec![2, 5]);

    // A missing input is a clean error, not a panic.
    let output = Command::new(env!("CARGO_BIN_EXE_dist-train"))
        .args(["forward", "--weights"])
        .arg(fixture("weights.safetensors"))
        .arg("--taps")
        .arg(fixture("taps.safetensors"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--frames is required"));
}
