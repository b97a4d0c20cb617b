//! Builtin random models: deterministic, right shapes, usable in reduced precision.

use burn::tensor::DType;
use dist_clip::{load_model, load_model_with, DEFAULT_TEMPLATE, VIDEO_TEMPLATES};

use super::util::{device, to_vec};

#[test]
fn tiny_is_deterministic_with_documented_shapes() {
    let a = load_model("builtin:tiny", &device()).unwrap();
    let b = load_model("builtin:tiny", &device()).unwrap();
    assert_eq!(a.fingerprint, b.fingerprint);
    assert_eq!(a.fingerprint.weights_sha256.len(), 64);
    assert_eq!(
        (
            a.fingerprint.image_size,
            a.fingerprint.patch_size,
            a.fingerprint.width,
            a.fingerprint.layers,
            a.fingerprint.heads
        ),
        (112, 16, 128, 4, 4)
    );
    let frames: Vec<u8> = (0..3 * 112 * 112 * 3)
        .map(|i| (i * 7 % 251) as u8)
        .collect();
    let pixels = a.vision.pixels_from_u8(&frames, [3, 112, 112, 3]).unwrap();
    let out_a = a.vision.forward(pixels.clone()).unwrap();
    let out_b = b.vision.forward(pixels).unwrap();
    assert_eq!(out_a.hidden_states.len(), 5);
    assert_eq!(out_a.hidden_states[4].dims(), [3, 50, 128]);
    assert_eq!(out_a.image_embeds.dims(), [3, 128]);
    assert_eq!(to_vec(&out_a.image_embeds), to_vec(&out_b.image_embeds));
}

#[test]
fn reduced_precision_stays_close_to_f32() {
    let frames: Vec<u8> = (0..2 * 112 * 112 * 3)
        .map(|i| (i * 13 % 256) as u8)
        .collect();
    let reference = load_model("builtin:tiny", &device()).unwrap();
    let pixels = reference
        .vision
        .pixels_from_u8(&frames, [2, 112, 112, 3])
        .unwrap();
    let (_, want) = to_vec(
        &reference
            .vision
            .forward(pixels.clone())
            .unwrap()
            .hidden_states[4],
    );
    let scale = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    for (dtype, tol) in [(DType::F16, 0.01), (DType::BF16, 0.05)] {
        if !device().supports_dtype(dtype) {
            // wgpu has no bf16: refused with an error, not a panic in the shader compiler.
            let err = load_model_with("builtin:tiny", &device(), dtype).err().expect("refused");
            assert!(err.to_string().contains("cannot compute in"), "{err}");
            continue;
        }
        let model = load_model_with("builtin:tiny", &device(), dtype).unwrap();
        assert_eq!(model.vision.compute_dtype(), dtype);
        let out = model.vision.forward(pixels.clone()).unwrap();
        let (_, got) = to_vec(&out.hidden_states[4]);
        let max = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            max <= tol * scale,
            "{dtype:?}: max |diff| {max} vs scale {scale}"
        );
    }
}

#[test]
fn class_embeddings_are_unit_rows_and_ensemble_differs_from_single() {
    let model = load_model("builtin:tiny", &device()).unwrap();
    let text = model.text().unwrap();
    let names = ["playing violin", "juggling balls", "archery"];
    let single = text.class_embeddings(&names, &[DEFAULT_TEMPLATE]).unwrap();
    let ensemble = text.class_embeddings(&names, &VIDEO_TEMPLATES).unwrap();
    assert_eq!(single.dims(), [3, 128]);
    for t in [&single, &ensemble] {
        let (_, data) = to_vec(t);
        for row in data.chunks(128) {
            let norm: f32 = row.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-4, "norm {norm}");
        }
    }
    assert_ne!(to_vec(&single).1, to_vec(&ensemble).1);
    // One template is the normalised encode_texts output.
    let direct = dist_clip::l2_normalise(text.encode_texts(&["a video of archery."]).unwrap());
    let (_, d) = to_vec(&direct);
    let (_, s) = to_vec(&single);
    assert!(d.iter().zip(&s[256..]).all(|(a, b)| (a - b).abs() < 1e-5));
    assert!(text.class_embeddings(&names, &["no placeholder"]).is_err());
}
