//! The frozen side on raw videos, for `predict` and `fit --online`: views decoded with dist-video,
//! the CLIP vision tower of dist-clip on their sparse frames. It gives the tensors a store's clips
//! give (the same decode, sampling and encoder as `dist-extract run`), without the store.

use std::path::Path;

use anyhow::Context;
use burn::tensor::{Device, Tensor};
use dist_clip::ClipModel;
use dist_store::{dense_video, StoreMeta};
use dist_video::{plan_views, video_seed, DecodedClip, SamplingConfig, ShortVideoPolicy, Split, VideoReader};

/// The sampling a store was extracted with, as dist-video settings (what the store records:
/// T, γ, views, crops, seed, short-video policy, crop side, short-side resize; the random-crop
/// scale/ratio and flip probability are not recorded and take dist-video's defaults).
pub fn sampling_of(meta: &StoreMeta) -> anyhow::Result<SamplingConfig> {
    let s = &meta.sampling;
    let short_video_policy: ShortVideoPolicy = serde_json::from_value(serde_json::Value::String(s.short_video_policy.clone()))
        .with_context(|| format!("store sampling.short_video_policy {:?}", s.short_video_policy))?;
    let cfg = SamplingConfig {
        t: s.t,
        gamma: s.gamma,
        input_size: meta.preprocessing.crop as u32,
        resize_short: Some(meta.preprocessing.resize_short as u32),
        train_views: s.train_views,
        test_views: s.test_views,
        spatial_crops: s.spatial_crops,
        seed: s.seed,
        short_video_policy,
        ..SamplingConfig::default()
    };
    cfg.validate()?;
    Ok(cfg)
}

/// A frozen CLIP encoder with the layers and sampling a model reads.
pub struct FrozenEncoder {
    pub clip: ClipModel,
    /// Hidden states the DiST model taps (`hidden_states` indices), in its order.
    pub layers: Vec<usize>,
    /// Geometry and normalisation of the clips (a store's, or the one an online run would have).
    pub meta: StoreMeta,
}

impl FrozenEncoder {
    /// Checks that `clip` is the encoder `meta` describes (same weights), so its features are the
    /// ones the DiST branches were trained on.
    pub fn new(clip: ClipModel, layers: Vec<usize>, meta: StoreMeta) -> anyhow::Result<Self> {
        let (want, got) = (&meta.encoder, &clip.fingerprint);
        anyhow::ensure!(
            want.weights_sha256 == got.weights_sha256,
            "the model's weights (sha256 {}, {}) are not the encoder the run was trained on ({}, sha256 {})",
            got.weights_sha256,
            got.architecture,
            want.name,
            want.weights_sha256
        );
        Ok(Self { clip, layers, meta })
    }

    /// Decodes the views `sampling` plans for one video of `split` (training views draw their TSN
    /// offsets, crop and flip from `sampling.seed` and the video id).
    pub fn decode(path: &Path, video_id: &str, split: Split, sampling: &SamplingConfig) -> anyhow::Result<Vec<DecodedClip>> {
        let reader = VideoReader::open(path, &sampling.limits).with_context(|| format!("opening {}", path.display()))?;
        let plans = plan_views(reader.info(), split, sampling, video_seed(video_id));
        anyhow::ensure!(!plans.is_empty(), "{}: no frames to sample", path.display());
        reader.decode_views(&plans, sampling).with_context(|| format!("decoding {}", path.display()))
    }

    /// The model inputs of decoded clips, on `device`.
    ///
    /// # Shapes
    /// - clips: each `[γT, S, S, 3]` u8 with T sparse frames
    /// - returns taps `layers` × `[B·T, N+1, C]` and the dense video `[B, 3, γT, S, S]`
    ///   (`[B, 1, 1, 1, 1]` zeros when `frames` is false: the model has no temporal encoder)
    pub fn encode(&self, clips: &[&DecodedClip], frames: bool, device: &Device) -> anyhow::Result<(Vec<Tensor<3>>, Tensor<5>)> {
        anyhow::ensure!(!clips.is_empty(), "no clips to encode");
        let (t, size) = (self.meta.sampling.t, self.meta.preprocessing.crop);
        let mut sparse = Vec::with_capacity(clips.len() * t * size * size * 3);
        for c in clips {
            anyhow::ensure!(c.size as usize == size && c.plan.sparse_positions.len() == t, "clip geometry differs from the model's");
            sparse.extend(c.sparse());
        }
        let vision = &self.clip.vision;
        let pixels = vision.pixels_from_u8(&sparse, [clips.len() * t, size, size, 3])?;
        let taps = vision
            .forward_layers(pixels, &self.layers)?
            .into_iter()
            .map(|h| Tensor::from_data(h.into_data(), device))
            .collect();
        let video = if frames {
            let dense: Vec<&[u8]> = clips.iter().map(|c| c.frames.as_slice()).collect();
            dense_video(&dense, &self.meta, device)
        } else {
            Tensor::zeros([clips.len(), 1, 1, 1, 1], device)
        };
        Ok((taps, video))
    }
}
