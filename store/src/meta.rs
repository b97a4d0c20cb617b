//! What a store records about how its features were made (the group attributes under `"dist"`),
//! and the check that a reader's expectations hold.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::element::ElementType;
use crate::error::{Result, StoreError};

/// The store format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// Identifies the frozen encoder exactly: same fingerprint, same features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderFingerprint {
    /// e.g. `clip-vit` (OpenAI CLIP ViT, QuickGELU).
    pub architecture: String,
    /// Human-readable model name or source (`builtin:tiny`, a checkpoint path's file name, ...).
    pub name: String,
    pub image_size: usize,
    pub patch_size: usize,
    /// C, the ViT width.
    pub width: usize,
    /// Number of transformer blocks.
    pub layers: usize,
    pub heads: usize,
    /// E, the joint image-text embedding size.
    pub embed_dim: usize,
    /// sha256 of the weights (hex).
    pub weights_sha256: String,
}

/// Pixel preprocessing between the decoded video and the stored frames / encoder input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// Short side is resized to this before cropping (test views).
    pub resize_short: usize,
    /// Square crop size = stored frame size = encoder input size.
    pub crop: usize,
    /// Resampling filter used for resizing.
    pub interpolation: String,
    /// Per-channel mean (RGB, on [0,1] pixels) applied where frames enter a model.
    pub mean: [f32; 3],
    pub std: [f32; 3],
}

/// How clips were cut from videos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sampling {
    /// T, sparse frames per clip seen by the frozen encoder.
    pub t: usize,
    /// γ, dense frames per sparse frame (the temporal encoder sees γT frames).
    pub gamma: usize,
    /// e.g. `tsn`.
    pub strategy: String,
    pub train_views: usize,
    pub test_views: usize,
    pub spatial_crops: usize,
    /// Seed of the random training views.
    pub seed: u64,
    /// What happens to videos shorter than γT frames.
    pub short_video_policy: String,
}

/// How the inner chunks of a store's arrays are encoded (the bytes-to-bytes codec of their chain).
///
/// Recorded in the metadata as `"compression": "zstd"` or `"none"`; stores written before the field
/// existed are zstd. Any other value is refused, naming the field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", try_from = "String")]
pub enum Compression {
    /// Inner codecs `[bytes(little), zstd(zstd_level)]`.
    #[default]
    Zstd,
    /// Inner codecs `[bytes(little)]`: the element bytes as they are, read without decoding.
    None,
}

impl Compression {
    pub const ALL: [Compression; 2] = [Self::Zstd, Self::None];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Zstd => "zstd",
            Self::None => "none",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Compression {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "zstd" => Ok(Self::Zstd),
            "none" => Ok(Self::None),
            _ => Err(StoreError::Invalid(format!("compression: unknown value {s:?} (expected \"zstd\" or \"none\")"))),
        }
    }
}

impl TryFrom<String> for Compression {
    type Error = StoreError;
    fn try_from(s: String) -> Result<Self> {
        s.parse()
    }
}

/// Everything recorded in the store's group attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoreMeta {
    pub format_version: u32,
    pub encoder: EncoderFingerprint,
    pub preprocessing: Preprocessing,
    pub sampling: Sampling,
    /// Which hidden states are stored, as indices into the encoder's `hidden_states`
    /// (0 = after the pre-LayerNorm, l = output of block l), in storage order.
    pub layers: Vec<usize>,
    pub element_type: ElementType,
    /// Length of the clip axis (capacity; not every index need hold a clip).
    pub num_clips: u64,
    /// Clips per Zarr shard: the unit one writer owns and writes at once.
    pub clips_per_shard: u64,
    /// How every array's inner chunks are encoded: zstd (the default, also for stores written
    /// before this field existed) or none (raw element bytes: more bytes, faster reads).
    #[serde(default)]
    pub compression: Compression,
    /// zstd level of all arrays when `compression` is zstd (0 is zstd's default level, 3, not "no
    /// compression": that is `compression = none`); ignored when it is none.
    pub zstd_level: i32,
    /// The program that created the store.
    pub created_by: String,
    /// Source videos the creating job planned (0 when unknown); `status` reports pending ones from it.
    #[serde(default)]
    pub planned_videos: u64,
}

impl StoreMeta {
    /// Tokens per frame, N+1.
    pub fn tokens(&self) -> usize {
        let side = self.preprocessing.crop / self.encoder.patch_size;
        side * side + 1
    }

    /// C.
    pub fn width(&self) -> usize {
        self.encoder.width
    }

    /// γT.
    pub fn dense_frames(&self) -> usize {
        self.sampling.t * self.sampling.gamma
    }

    /// Elements of one clip and one layer: T x (N+1) x C.
    pub fn layer_len(&self) -> usize {
        self.sampling.t * self.tokens() * self.width()
    }

    /// Bytes of one stored frame block: γT x H x W x 3.
    pub fn frames_len(&self) -> usize {
        self.dense_frames() * self.preprocessing.crop * self.preprocessing.crop * 3
    }

    pub fn num_shards(&self) -> u64 {
        self.num_clips.div_ceil(self.clips_per_shard)
    }

    /// Position of hidden-state index `layer` in the stored layer axis.
    pub fn layer_position(&self, layer: usize) -> Option<usize> {
        self.layers.iter().position(|&l| l == layer)
    }

    /// Checks internal consistency before a store is created.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(StoreError::Invalid(m));
        if self.layers.is_empty() {
            return bad("no layers to store".into());
        }
        if let Some(&l) = self.layers.iter().find(|&&l| l > self.encoder.layers) {
            return bad(format!("layer {l} does not exist: the encoder has {} blocks", self.encoder.layers));
        }
        let mut sorted = self.layers.clone();
        sorted.dedup();
        if sorted.len() != self.layers.len() {
            return bad(format!("layers {:?} contain duplicates", self.layers));
        }
        if self.encoder.patch_size == 0 || self.preprocessing.crop % self.encoder.patch_size != 0 {
            return bad(format!(
                "crop {} is not a multiple of the patch size {}",
                self.preprocessing.crop, self.encoder.patch_size
            ));
        }
        if self.sampling.t == 0 || self.sampling.gamma == 0 {
            return bad("T and gamma must be at least 1".into());
        }
        if self.clips_per_shard == 0 {
            return bad("clips_per_shard must be at least 1".into());
        }
        let levels = zstd::compression_level_range();
        if self.compression == Compression::Zstd && !levels.contains(&self.zstd_level) {
            return bad(format!(
                "zstd_level {} is outside zstd's levels {}..={} (0 = zstd's default; for no compression set \
                 compression = \"none\")",
                self.zstd_level,
                levels.start(),
                levels.end()
            ));
        }
        Ok(())
    }
}

/// What a reader requires of a store; checked by [`crate::Store::open_expecting`].
///
/// Each requirement names a field path in the store's metadata (as written in `zarr.json`, e.g.
/// `sampling.gamma`, `encoder.weights_sha256`), so a mismatch error says exactly which field differs.
#[derive(Debug, Clone, Default)]
pub struct Expect {
    fields: Vec<(String, Value)>,
    layers: Option<Vec<usize>>,
}

impl Expect {
    pub fn new() -> Self {
        Self::default()
    }

    /// Requires the metadata field at dotted `path` to equal `value`.
    pub fn field(mut self, path: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).expect("expectation values serialise to JSON");
        self.fields.push((path.to_string(), value));
        self
    }

    /// Requires the whole encoder fingerprint to match, field by field.
    pub fn encoder(self, fp: &EncoderFingerprint) -> Self {
        self.object("encoder", fp)
    }

    pub fn preprocessing(self, p: &Preprocessing) -> Self {
        self.object("preprocessing", p)
    }

    pub fn sampling(self, s: &Sampling) -> Self {
        self.object("sampling", s)
    }

    /// Requires these hidden-state layers to be stored (others may be stored too).
    pub fn layers(mut self, layers: &[usize]) -> Self {
        self.layers = Some(layers.to_vec());
        self
    }

    fn object(mut self, prefix: &str, value: &impl Serialize) -> Self {
        if let Value::Object(map) = serde_json::to_value(value).expect("metadata serialises") {
            for (k, v) in map {
                self.fields.push((format!("{prefix}.{k}"), v));
            }
        }
        self
    }

    /// Checks `meta` against every requirement; the first mismatch is returned, naming its field.
    pub fn check(&self, meta: &StoreMeta, path: &Path) -> Result<()> {
        let actual = serde_json::to_value(meta).expect("metadata serialises");
        let mismatch = |field: &str, expected: String, found: String| StoreError::Mismatch {
            path: path.to_path_buf(),
            field: field.to_string(),
            expected,
            found,
        };
        for (field, expected) in &self.fields {
            let found = field.split('.').try_fold(&actual, |v, k| v.get(k));
            match found {
                Some(found) if values_equal(found, expected) => {}
                Some(found) => return Err(mismatch(field, expected.to_string(), found.to_string())),
                None => return Err(mismatch(field, expected.to_string(), "absent".into())),
            }
        }
        if let Some(layers) = &self.layers {
            let missing: Vec<usize> = layers.iter().copied().filter(|l| !meta.layers.contains(l)).collect();
            if !missing.is_empty() {
                return Err(mismatch(
                    "layers",
                    format!("to include {layers:?}"),
                    format!("{:?} (missing {missing:?})", meta.layers),
                ));
            }
        }
        Ok(())
    }
}

/// JSON equality that treats 0.1f32-as-f64 and 0.1 as equal (f32 fields round-trip through JSON).
fn values_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x as f32) == (y as f32),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| values_equal(v, w)))
        }
        _ => a == b,
    }
}
