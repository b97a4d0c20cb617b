//! Sampling and decoding settings.

use serde::{Deserialize, Serialize};

use crate::error::VideoError;

/// What to do with videos that have fewer than γT frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ShortVideoPolicy {
    /// Apply the TSN formula unchanged: segments shorter than a frame repeat frames, spread over the clip
    /// (each frame shown about γT/len times, in order). This is what the official code does.
    #[default]
    Stretch,
    /// Frames `0..len` in order, then the last frame repeated to fill γT.
    RepeatLast,
    /// Frames `0..len`, `0..len`, … cut at γT.
    Loop,
}

/// Bounds that keep one bad or huge video from taking the batch down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeLimits {
    /// Largest frame (width × height of the coded picture) accepted. Default 8192×4320 (8K).
    pub max_pixels: u64,
    /// Largest file accepted, in bytes. Default: no limit.
    pub max_file_bytes: Option<u64>,
    /// Wall-clock bound on probing, and separately on decoding, one video; checked between packets and
    /// inside FFmpeg's I/O through its interrupt callback. Default 300 s.
    pub max_decode_seconds: f64,
    /// Decoder threads per video; 0 lets FFmpeg choose (one per core). Use 1 when many videos are decoded
    /// in parallel.
    pub threads: usize,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self { max_pixels: 8192 * 4320, max_file_bytes: None, max_decode_seconds: 300.0, threads: 0 }
    }
}

/// How views are cut from a video. Defaults follow the paper's ViT-B/16 "8+16f" setting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SamplingConfig {
    /// T: sparse frames per view (the frozen ViT's input). Default 8.
    pub t: usize,
    /// γ: dense frames per sparse frame; a view has γT dense frames. Default 2.
    pub gamma: usize,
    /// S: side of the square output frames, the model's input size. Default 224.
    pub input_size: u32,
    /// Short side the frame is resized to before the centre/three-crop of val/test views; `None` means
    /// `input_size` (the official test transform: short side 224, centre crop 224).
    pub resize_short: Option<u32>,
    /// K: random views per training video. Default 2.
    pub train_views: usize,
    /// Temporal clips per val/test video. Default 3.
    pub test_views: usize,
    /// Spatial crops per val/test clip: 1 (centre) or 3 (start, centre, end of the long side). Default 1.
    pub spatial_crops: usize,
    /// Random-resized-crop area range, as a fraction of the frame. Default [0.4, 1.0].
    pub scale: [f64; 2],
    /// Random-resized-crop aspect-ratio range (w/h). Default [3/4, 4/3].
    pub ratio: [f64; 2],
    /// Probability of a horizontal flip of a training view. Default 0.5.
    pub flip_prob: f64,
    pub short_video_policy: ShortVideoPolicy,
    /// Global seed, mixed with each video's seed. Default 0.
    pub seed: u64,
    pub limits: DecodeLimits,
}

impl Default for SamplingConfig {
    fn default() -> Self {
        Self {
            t: 8,
            gamma: 2,
            input_size: 224,
            resize_short: None,
            train_views: 2,
            test_views: 3,
            spatial_crops: 1,
            scale: [0.4, 1.0],
            ratio: [3.0 / 4.0, 4.0 / 3.0],
            flip_prob: 0.5,
            short_video_policy: ShortVideoPolicy::Stretch,
            seed: 0,
            limits: DecodeLimits::default(),
        }
    }
}

impl SamplingConfig {
    /// γT, the dense frames per view.
    pub fn dense_frames(&self) -> usize {
        self.t * self.gamma
    }

    /// The short side for val/test resizing.
    pub fn resize_short(&self) -> u32 {
        self.resize_short.unwrap_or(self.input_size)
    }

    /// Checks that the settings can be honoured.
    ///
    /// # Errors
    /// `InvalidConfig` naming the offending field.
    pub fn validate(&self) -> Result<(), VideoError> {
        let bad = |reason: String| Err(VideoError::InvalidConfig { reason });
        if self.t == 0 || self.gamma == 0 {
            return bad(format!("t ({}) and gamma ({}) must be at least 1", self.t, self.gamma));
        }
        if self.input_size == 0 || self.input_size > 4096 {
            return bad(format!("input_size {} must be in 1..=4096", self.input_size));
        }
        if self.resize_short() < self.input_size {
            return bad(format!("resize_short {} is smaller than input_size {}", self.resize_short(), self.input_size));
        }
        if self.train_views == 0 || self.test_views == 0 {
            return bad("train_views and test_views must be at least 1".into());
        }
        if !matches!(self.spatial_crops, 1 | 3) {
            return bad(format!("spatial_crops must be 1 or 3, not {}", self.spatial_crops));
        }
        let [s0, s1] = self.scale;
        if !(0.0 < s0 && s0 <= s1 && s1 <= 1.0) {
            return bad(format!("scale {:?} must satisfy 0 < min <= max <= 1", self.scale));
        }
        let [r0, r1] = self.ratio;
        if !(0.0 < r0 && r0 <= r1 && r1.is_finite()) {
            return bad(format!("ratio {:?} must satisfy 0 < min <= max", self.ratio));
        }
        if !(0.0..=1.0).contains(&self.flip_prob) {
            return bad(format!("flip_prob {} must be in [0, 1]", self.flip_prob));
        }
        // NaN fails this test too.
        if self.limits.max_decode_seconds.is_nan() || self.limits.max_decode_seconds < 0.0 {
            return bad(format!("limits.max_decode_seconds {} must be >= 0", self.limits.max_decode_seconds));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_deserialize_from_partial_toml_like_json() {
        SamplingConfig::default().validate().unwrap();
        let cfg: SamplingConfig = serde_json::from_str(r#"{"t": 4, "short_video_policy": "repeat-last"}"#).unwrap();
        assert_eq!((cfg.t, cfg.gamma, cfg.short_video_policy), (4, 2, ShortVideoPolicy::RepeatLast));
        assert_eq!(cfg.limits, DecodeLimits::default());
    }

    #[test]
    fn invalid_settings_are_rejected() {
        let cfgs = [
            SamplingConfig { t: 0, ..Default::default() },
            SamplingConfig { spatial_crops: 2, ..Default::default() },
            SamplingConfig { resize_short: Some(200), ..Default::default() },
            SamplingConfig { scale: [0.5, 0.2], ..Default::default() },
            SamplingConfig { flip_prob: 1.5, ..Default::default() },
        ];
        for cfg in cfgs {
            assert!(matches!(cfg.validate(), Err(VideoError::InvalidConfig { .. })), "{cfg:?}");
        }
    }
}
