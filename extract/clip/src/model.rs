//! The loaded model: both towers plus the fingerprint the feature store records.

use std::path::Path;

use burn::tensor::{DType, Device};
use serde::{Deserialize, Serialize};

use crate::builtin::{builtin_config, builtin_weights, random_weights, BUILTIN_NAMES, BUILTIN_SEED};
use crate::checkpoint::{load_path, Layout};
use crate::config::ClipConfig;
use crate::error::{ClipError, Result};
use crate::text::TextTower;
use crate::vision::VisionTower;
use crate::weights::ClipWeights;

/// What identifies the frozen encoder whose features a store holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderFingerprint {
    /// `ViT-B/16`, `ViT-L/14-336`, or `ViT-w{C}-l{L}-h{H}/{p}@{size}` for other shapes.
    pub architecture: String,
    /// Trained input side in pixels.
    pub image_size: usize,
    /// Patch side in pixels.
    pub patch_size: usize,
    /// Token width C.
    pub width: usize,
    /// Residual blocks L.
    pub layers: usize,
    /// Attention heads.
    pub heads: usize,
    /// Width of `image_embeds`.
    pub embed_dim: usize,
    /// Pixel mean (RGB).
    pub mean: [f32; 3],
    /// Pixel std (RGB).
    pub std: [f32; 3],
    /// sha256 of the weight file's bytes; for builtins, of the generated weights (every tensor's shape and
    /// little-endian f32 bytes in a fixed order), so a change of the generator changes the fingerprint.
    pub weights_sha256: String,
}

/// Where a model came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelSource {
    /// `builtin:<name>`.
    Builtin(String),
    /// A checkpoint file and its layout.
    Checkpoint {
        /// The weight file or directory as given.
        path: String,
        /// Its naming scheme.
        layout: Layout,
    },
}

/// A frozen CLIP: the vision tower, the text tower when the checkpoint has one, and its fingerprint.
#[derive(Debug, Clone)]
pub struct ClipModel {
    /// The image tower.
    pub vision: VisionTower,
    /// The text tower (`None` for vision-only checkpoints).
    pub text: Option<TextTower>,
    /// What the feature store records about this encoder.
    pub fingerprint: EncoderFingerprint,
    /// CLIP's `logit_scale` parameter as stored: the log of the logit multiplier (`exp` ≈ 100 for
    /// OpenAI's weights).
    pub logit_scale: f32,
    /// Both towers' architecture.
    pub config: ClipConfig,
    /// Where the weights came from.
    pub source: ModelSource,
}

impl ClipModel {
    /// The text tower, or [`ClipError::NoTextTower`].
    ///
    /// # Errors
    /// When the checkpoint was vision-only.
    pub fn text(&self) -> Result<&TextTower> {
        self.text.as_ref().ok_or(ClipError::NoTextTower)
    }

    fn from_weights(
        weights: &ClipWeights,
        sha256: String,
        source: ModelSource,
        device: &Device,
        dtype: DType,
    ) -> Self {
        let config = weights.config.clone();
        let v = &config.vision;
        let fingerprint = EncoderFingerprint {
            architecture: config.architecture_name(),
            image_size: v.image_size,
            patch_size: v.patch_size,
            width: v.width,
            layers: v.layers,
            heads: v.heads,
            embed_dim: v.output_dim(),
            mean: weights.mean,
            std: weights.std,
            weights_sha256: sha256,
        };
        let vision = VisionTower::new(
            v.clone(),
            &weights.vision,
            (weights.mean, weights.std),
            device,
            dtype,
        );
        let text = match (&config.text, &weights.text) {
            (Some(c), Some(w)) => Some(TextTower::new(c.clone(), w, device, dtype)),
            _ => None,
        };
        Self {
            vision,
            text,
            fingerprint,
            logit_scale: weights.logit_scale,
            config,
            source,
        }
    }
}

/// Loads builtin `spec` (`builtin:<name>`) in f32 with its vision tower read from `vision_file`, a
/// file written by [`crate::pretrain_vision`]: how `dist-extract pretrain-tiny` checks a freshly
/// pretrained tower before it is embedded as `builtin:tiny`.
///
/// # Errors
/// [`ClipError::UnknownSpec`] for a spec that is not a builtin; [`ClipError::Io`] and the shape
/// errors of the file.
pub fn load_model_with_vision_file(spec: &str, vision_file: &Path, device: &Device) -> Result<ClipModel> {
    let name = spec.strip_prefix("builtin:").unwrap_or_default();
    let config = builtin_config(name).ok_or_else(|| ClipError::UnknownSpec {
        spec: spec.to_string(),
        reason: "a vision file can only replace a builtin's vision tower".into(),
    })?;
    // The vision tower is replaced whole, so start from the random weights (not the embedded file).
    let mut weights = random_weights(&config, BUILTIN_SEED);
    let bytes = std::fs::read(vision_file).map_err(|source| ClipError::Io { path: vision_file.to_path_buf(), source })?;
    crate::vision_file::apply(vision_file, bytes, &mut weights)?;
    let sha = weights.content_sha256();
    let source = ModelSource::Builtin(format!("{name}+{}", vision_file.display()));
    Ok(ClipModel::from_weights(&weights, sha, source, device, DType::F32))
}

/// Loads a model in f32. See [`load_model_with`].
///
/// # Errors
/// As [`load_model_with`].
pub fn load_model(spec: &str, device: &Device) -> Result<ClipModel> {
    load_model_with(spec, device, DType::F32)
}

/// Loads a model and puts its weights on `device` in `dtype` (`F32`; `F16`/`BF16` where the backend has
/// them: burn-flex has both, wgpu only f16).
///
/// `spec` is `builtin:<name>` (`tiny`, `vit-b32-random`, `vit-b16-random`, `vit-l14-random`,
/// `vit-l14-336-random`), a directory holding `config.json` + `model.safetensors` (transformers'
/// `CLIPModel`, `CLIPVisionModel`, `CLIPVisionModelWithProjection`), or a `.safetensors` file in either
/// the transformers or the open_clip/OpenAI layout (detected from the tensor names). The architecture
/// comes from the tensors' shapes, with heads and activation from a `config.json` /
/// `open_clip_config.json` beside the file when there is one.
///
/// # Errors
/// [`ClipError::UnknownSpec`] for an unknown builtin or a path that does not exist;
/// [`ClipError::NotACheckpoint`], [`ClipError::MissingTensor`], [`ClipError::ShapeMismatch`],
/// [`ClipError::UnsupportedDtype`], [`ClipError::InvalidConfig`] and [`ClipError::Io`] for files;
/// [`ClipError::Backend`] when `device` cannot compute in `dtype` (bf16 on wgpu).
pub fn load_model_with(spec: &str, device: &Device, dtype: DType) -> Result<ClipModel> {
    crate::backend::check_dtype(device, dtype, &format!("{device:?}"))?;
    if let Some(name) = spec.strip_prefix("builtin:") {
        let config = builtin_config(name).ok_or_else(|| ClipError::UnknownSpec {
            spec: spec.to_string(),
            reason: format!(
                "builtins are {}",
                BUILTIN_NAMES.map(|n| format!("builtin:{n}")).join(", ")
            ),
        })?;
        let weights = builtin_weights(name, &config)?;
        let sha = weights.content_sha256();
        return Ok(ClipModel::from_weights(
            &weights,
            sha,
            ModelSource::Builtin(name.to_string()),
            device,
            dtype,
        ));
    }
    let path = Path::new(spec);
    if !path.exists() {
        return Err(ClipError::UnknownSpec {
            spec: spec.to_string(),
            reason: "no such file or directory (expected builtin:<name>, a Hugging Face model directory or a \
                     .safetensors file)"
                .into(),
        });
    }
    let loaded = load_path(path)?;
    let source = ModelSource::Checkpoint {
        path: spec.to_string(),
        layout: loaded.layout,
    };
    Ok(ClipModel::from_weights(
        &loaded.weights,
        loaded.sha256,
        source,
        device,
        dtype,
    ))
}
