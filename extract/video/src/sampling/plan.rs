//! View plans: everything decided about a view before decoding.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::config::SamplingConfig;
use super::spatial::{random_resized_crop, test_crop, CropBox};
use super::temporal::{sparse_positions, tsn_indices, TemporalMode};
use crate::probe::VideoInfo;
use crate::split::Split;

/// One view of one video: which source frames, which pixels, flipped or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewPlan {
    /// Position of this view in the video's plan list.
    pub view_index: usize,
    /// Temporal clip number: the view number for training, clip `k` of `test_views` for val/test.
    pub temporal_index: usize,
    /// Spatial crop number for val/test (0..spatial_crops; 0 is the only crop, or the start crop of three);
    /// 0 for training views.
    pub spatial_crop_index: usize,
    /// The γT source frame indices (presentation order, 0-based), non-decreasing.
    pub dense_indices: Vec<u64>,
    /// Positions in `dense_indices` of the T sparse frames: `0, γ, 2γ, …`.
    pub sparse_positions: Vec<usize>,
    /// The source rectangle (display pixels, after rotation) resized to the S×S output.
    pub crop: CropBox,
    /// Horizontal flip after cropping.
    pub flip: bool,
}

impl ViewPlan {
    /// The source frame indices of the sparse frames.
    pub fn sparse_indices(&self) -> Vec<u64> {
        self.sparse_positions.iter().map(|&p| self.dense_indices[p]).collect()
    }
}

/// Plans the views of one video.
///
/// * `Train`: `train_views` views, each with its own random TSN offsets, random-resized crop and flip.
/// * `Val` / `Test`: `test_views` temporal clips × `spatial_crops` crops (temporal-major order), no flip.
///
/// The result depends only on `info` (frame count and display size), `split`, `cfg` and `video_seed`:
/// view `v` draws from a ChaCha8 stream seeded by `(cfg.seed, video_seed, v)`, so adding views never
/// changes earlier ones. A video without frames gets no views.
pub fn plan_views(info: &VideoInfo, split: Split, cfg: &SamplingConfig, video_seed: u64) -> Vec<ViewPlan> {
    if info.frame_count == 0 || info.width == 0 || info.height == 0 {
        return Vec::new();
    }
    let n = cfg.dense_frames();
    let sparse = sparse_positions(cfg.t, cfg.gamma);
    let policy = cfg.short_video_policy;
    match split {
        Split::Train => (0..cfg.train_views)
            .map(|v| {
                let mut rng = ChaCha8Rng::seed_from_u64(view_seed(cfg.seed, video_seed, v as u64));
                let dense_indices = tsn_indices(info.frame_count, n, TemporalMode::Random, policy, &mut rng);
                let crop = random_resized_crop(info.width, info.height, cfg.scale, cfg.ratio, &mut rng);
                let flip = rng.random::<f64>() < cfg.flip_prob;
                ViewPlan {
                    view_index: v,
                    temporal_index: v,
                    spatial_crop_index: 0,
                    dense_indices,
                    sparse_positions: sparse.clone(),
                    crop,
                    flip,
                }
            })
            .collect(),
        Split::Val | Split::Test => {
            let crops = cfg.spatial_crops.max(1);
            let mut rng = ChaCha8Rng::seed_from_u64(0); // unused by fixed modes
            (0..cfg.test_views)
                .flat_map(|k| (0..crops).map(move |s| (k, s)))
                .enumerate()
                .map(|(v, (k, s))| ViewPlan {
                    view_index: v,
                    temporal_index: k,
                    spatial_crop_index: s,
                    dense_indices: tsn_indices(
                        info.frame_count,
                        n,
                        TemporalMode::Fixed { clip: k, clips: cfg.test_views },
                        policy,
                        &mut rng,
                    ),
                    sparse_positions: sparse.clone(),
                    crop: test_crop(info.width, info.height, cfg.input_size, cfg.resize_short(), s, crops),
                    flip: false,
                })
                .collect()
        }
    }
}

/// A per-video seed derived from a stable id (e.g. the manifest's `video_id`): the first 8 bytes of its
/// SHA-256, so it does not depend on the Rust version or the platform.
pub fn video_seed(video_id: &str) -> u64 {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(video_id.as_bytes());
    u64::from_le_bytes(d[..8].try_into().unwrap_or_default())
}

fn view_seed(global: u64, video: u64, view: u64) -> u64 {
    splitmix64(splitmix64(splitmix64(global) ^ video) ^ view)
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
