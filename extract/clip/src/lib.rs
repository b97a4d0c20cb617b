//! The frozen CLIP towers of DiST, in burn.
//!
//! - [`load_model`] reads transformers (`CLIPModel`, `CLIPVisionModel(WithProjection)`) and open_clip /
//!   OpenAI checkpoints from safetensors, or builds a deterministic random builtin (`builtin:tiny`,
//!   `builtin:vit-b16-random`, ...). The architecture comes from the file.
//! - [`VisionTower::forward`] returns every layer's tokens (transformers' `hidden_states`), the pooled
//!   token and the image embedding; [`VisionTower::forward_layers`] stops after the deepest layer asked.
//! - [`TextTower::encode_texts`] and [`TextTower::class_embeddings`] embed text with CLIP's BPE
//!   [`Tokenizer`] (ids equal transformers' `CLIPTokenizer`).
//!
//! ```no_run
//! use burn::tensor::Device;
//! # fn main() -> Result<(), dist_clip::ClipError> {
//! let device = Device::flex();
//! let model = dist_clip::load_model("builtin:tiny", &device)?;
//! let frames = vec![0u8; 2 * 112 * 112 * 3];
//! let pixels = model.vision.pixels_from_u8(&frames, [2, 112, 112, 3])?;
//! let out = model.vision.forward(pixels)?;
//! assert_eq!(out.hidden_states.len(), 5); // 4 blocks + the embedding
//! let classes = model.text()?.class_embeddings(&["juggling", "archery"], &[dist_clip::DEFAULT_TEMPLATE])?;
//! # Ok(()) }
//! ```

mod backend;
mod builtin;
mod checkpoint;
mod config;
mod error;
mod layers;
mod model;
mod pos_embed;
mod pretrain;
mod prompts;
mod text;
mod tokenizer;
mod vision;
mod vision_file;
mod weights;

pub use backend::Backend;
pub use builtin::{builtin_config, BUILTIN_NAMES, BUILTIN_SEED};
pub use checkpoint::Layout;
pub use config::{Activation, ClipConfig, TextConfig, VisionConfig, CLIP_MEAN, CLIP_STD};
pub use error::{ClipError, Result};
pub use model::{load_model, load_model_with, load_model_with_vision_file, ClipModel, EncoderFingerprint, ModelSource};
pub use pretrain::{pretrain_vision, ImageBatch, PretrainSettings, StepReport};
pub use prompts::{l2_normalise, DEFAULT_TEMPLATE, VIDEO_TEMPLATES};
pub use text::TextTower;
pub use tokenizer::{Tokenizer, CONTEXT_LENGTH, EOT, SOT, VOCAB_SIZE};
pub use vision::{VisionOutput, VisionTower};

/// Re-exported so callers can pick a compute dtype without depending on burn's paths.
pub use burn::tensor::DType;
