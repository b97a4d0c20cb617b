//! The parts of a store's metadata that follow from the frozen encoder and the sampling: written
//! by `dist-extract run` and reproduced by `dist-train fit --online` (which has no store but
//! must resolve its model against the same fields), so both say the same thing.

use dist_clip::ClipModel;
use dist_store::{EncoderFingerprint, Preprocessing, Sampling};
use dist_video::SamplingConfig;

/// The store's record of `model`, loaded from the spec `name`.
#[must_use]
pub fn encoder_fingerprint(model: &ClipModel, name: &str) -> EncoderFingerprint {
    let fp = &model.fingerprint;
    EncoderFingerprint {
        architecture: fp.architecture.clone(),
        name: name.into(),
        image_size: fp.image_size,
        patch_size: fp.patch_size,
        width: fp.width,
        layers: fp.layers,
        heads: fp.heads,
        embed_dim: fp.embed_dim,
        weights_sha256: fp.weights_sha256.clone(),
    }
}

/// Resize, crop and pixel normalisation of frames cut with `sampling` for `model`.
#[must_use]
pub fn preprocessing(model: &ClipModel, sampling: &SamplingConfig) -> Preprocessing {
    Preprocessing {
        resize_short: sampling.resize_short() as usize,
        crop: sampling.input_size as usize,
        interpolation: "bilinear".into(),
        mean: model.fingerprint.mean,
        std: model.fingerprint.std,
    }
}

/// The sampling as the store records it.
///
/// # Errors
/// When the short-video policy cannot be serialised (never for the built-in variants).
pub fn sampling(sampling: &SamplingConfig) -> anyhow::Result<Sampling> {
    Ok(Sampling {
        t: sampling.t,
        gamma: sampling.gamma,
        strategy: "tsn".into(),
        train_views: sampling.train_views,
        test_views: sampling.test_views,
        spatial_crops: sampling.spatial_crops,
        seed: sampling.seed,
        short_video_policy: serde_json::to_value(sampling.short_video_policy)?.as_str().unwrap_or_default().to_string(),
    })
}
