//! Outputs equal the reference implementations' (fixtures made by `fixtures/make_fixtures.py` with
//! transformers 5.24 and open_clip 3.3; every LayerNorm weight and bias perturbed) within 1e-4.

use dist_clip::{load_model, Layout, ModelSource};

use super::util::{assert_close, device, fixture, read_expected, read_npy};

const TOL: f32 = 1e-4;

fn frames(name: &str) -> (Vec<u8>, [usize; 4]) {
    let (shape, data) = read_npy::<u8>(name);
    (data, [shape[0], shape[1], shape[2], shape[3]])
}

fn text_ids() -> Vec<Vec<i64>> {
    let (shape, data) = read_npy::<i64>("text_ids.npy");
    data.chunks(shape[1]).map(<[i64]>::to_vec).collect()
}

/// Every hidden state, the pooled token and the image embedding of `model_path` against `expected`.
fn check_vision(model_path: &str, expected_file: &str, frames_file: &str, prefix: &str) {
    let model = load_model(fixture(model_path).to_str().unwrap(), &device()).unwrap();
    let expected = read_expected(expected_file);
    let (data, shape) = frames(frames_file);
    let pixels = model.vision.pixels_from_u8(&data, shape).unwrap();
    if let Some(reference) = expected.get("pixel_values").filter(|_| prefix.is_empty()) {
        assert_close("pixel_values", &pixels, reference, 1e-6);
    }
    let out = model.vision.forward(pixels).unwrap();
    assert_eq!(out.hidden_states.len(), model.config.vision.layers + 1);
    let mut worst = 0.0f32;
    for (i, h) in out.hidden_states.iter().enumerate() {
        worst = worst.max(assert_close(
            &format!("hidden_states.{i}"),
            h,
            &expected[&format!("{prefix}hidden_states.{i}")],
            TOL,
        ));
    }
    worst = worst.max(assert_close(
        "pooled",
        &out.pooled,
        &expected[&format!("{prefix}pooled")],
        TOL,
    ));
    worst = worst.max(assert_close(
        "image_embeds",
        &out.image_embeds,
        &expected[&format!("{prefix}image_embeds")],
        TOL,
    ));
    eprintln!("{model_path} {prefix} on {:?}: worst |diff| {worst:e}", model.vision.device());
}

#[test]
fn hf_clip_model_vision_matches_transformers() {
    check_vision("hf_clip", "hf_clip/expected.safetensors", "frames.npy", "");
}

#[test]
fn hf_clip_model_text_matches_transformers() {
    let model = load_model(fixture("hf_clip").to_str().unwrap(), &device()).unwrap();
    assert_eq!(
        model.source,
        ModelSource::Checkpoint {
            path: fixture("hf_clip").to_str().unwrap().into(),
            layout: Layout::HuggingFace
        }
    );
    let expected = read_expected("hf_clip/expected.safetensors");
    let embeds = model.text().unwrap().encode_ids(&text_ids()).unwrap();
    assert_close("text_embeds", &embeds, &expected["text_embeds"], TOL);
    assert!((model.logit_scale - 2.5).abs() < 1e-6);
}

#[test]
fn position_table_interpolation_matches_transformers() {
    // 48x48 input on a model trained at 32x32: the 4x4 position grid is resampled bicubically to 6x6
    // (transformers' interpolate_pos_encoding=True).
    check_vision(
        "hf_clip",
        "hf_clip/expected.safetensors",
        "frames_48.npy",
        "interp.",
    );
}

#[test]
fn hf_vision_model_with_projection_matches_transformers() {
    check_vision(
        "hf_vision_proj",
        "hf_vision_proj/expected.safetensors",
        "frames.npy",
        "",
    );
    let model = load_model(fixture("hf_vision_proj").to_str().unwrap(), &device()).unwrap();
    assert!(model.text.is_none());
    assert_eq!(model.fingerprint.embed_dim, 24);
}

#[test]
fn open_clip_state_dict_matches_open_clip() {
    let path = "open_clip/model.safetensors";
    check_vision(path, "open_clip/expected.safetensors", "frames.npy", "");
    let model = load_model(fixture(path).to_str().unwrap(), &device()).unwrap();
    let expected = read_expected("open_clip/expected.safetensors");
    let embeds = model.text().unwrap().encode_ids(&text_ids()).unwrap();
    assert_close("text_embeds", &embeds, &expected["text_embeds"], TOL);
}

/// `fixtures/make_pickle_fixtures.py` re-saved two of the safetensors fixtures with `torch.save`: the
/// same weights must give the same outputs, and the fingerprint is the pickle file's own sha256.
#[test]
fn pytorch_pickles_load_like_their_safetensors() {
    use sha2::Digest;
    // transformers' `pytorch_model.bin` in a model directory.
    check_vision("hf_clip_pickle", "hf_clip/expected.safetensors", "frames.npy", "");
    let model = load_model(fixture("hf_clip_pickle").to_str().unwrap(), &device()).unwrap();
    let expected = read_expected("hf_clip/expected.safetensors");
    let embeds = model.text().unwrap().encode_ids(&text_ids()).unwrap();
    assert_close("text_embeds", &embeds, &expected["text_embeds"], TOL);
    let bytes = std::fs::read(fixture("hf_clip_pickle/pytorch_model.bin")).unwrap();
    assert_eq!(model.fingerprint.weights_sha256, hex::encode(sha2::Sha256::digest(&bytes)));
    // An open_clip training checkpoint: weights under "state_dict", DataParallel's "module." prefix.
    check_vision("open_clip/model_state_dict.pth", "open_clip/expected.safetensors", "frames.npy", "");
    let model = load_model(fixture("open_clip/model_state_dict.pth").to_str().unwrap(), &device()).unwrap();
    assert!(matches!(model.source, ModelSource::Checkpoint { layout: Layout::OpenClip, .. }), "{:?}", model.source);
}

#[test]
fn forward_layers_returns_the_same_states_and_stops_early() {
    let model = load_model(fixture("hf_clip").to_str().unwrap(), &device()).unwrap();
    let expected = read_expected("hf_clip/expected.safetensors");
    let (data, shape) = frames("frames.npy");
    let pixels = model.vision.pixels_from_u8(&data, shape).unwrap();
    let states = model
        .vision
        .forward_layers(pixels.clone(), &[2, 0])
        .unwrap();
    assert_eq!(states.len(), 2);
    assert_close("layer 2", &states[0], &expected["hidden_states.2"], TOL);
    assert_close("layer 0", &states[1], &expected["hidden_states.0"], TOL);
    let err = model.vision.forward_layers(pixels, &[4]).unwrap_err();
    assert!(
        matches!(
            err,
            dist_clip::ClipError::LayerOutOfRange { layer: 4, max: 3 }
        ),
        "{err}"
    );
}

#[test]
fn fingerprint_hashes_the_weight_file() {
    use sha2::Digest;
    let model = load_model(fixture("hf_clip").to_str().unwrap(), &device()).unwrap();
    let bytes = std::fs::read(fixture("hf_clip/model.safetensors")).unwrap();
    assert_eq!(
        model.fingerprint.weights_sha256,
        hex::encode(sha2::Sha256::digest(&bytes))
    );
    assert_eq!(model.fingerprint.image_size, 32);
    assert_eq!(model.fingerprint.patch_size, 8);
    assert_eq!(
        (
            model.fingerprint.width,
            model.fingerprint.layers,
            model.fingerprint.heads
        ),
        (32, 3, 4)
    );
}
