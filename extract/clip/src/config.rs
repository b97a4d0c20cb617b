//! Architecture descriptions of the two towers, with the OpenAI presets.
//!
//! A checkpoint's architecture is inferred from its tensor shapes (see `checkpoint`); these structs
//! are what that inference produces and what the builtin random models are generated from.

use serde::{Deserialize, Serialize};

/// CLIP's pixel mean (RGB), applied after scaling u8 values to `[0, 1]`.
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
/// CLIP's pixel standard deviation (RGB).
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_1];

/// The MLP non-linearity of the residual blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// `x * sigmoid(1.702 x)`: OpenAI's CLIP weights.
    QuickGelu,
    /// Exact (erf) GELU: most open_clip / LAION weights.
    Gelu,
}

impl Activation {
    /// Parses transformers' `hidden_act` names.
    #[must_use]
    pub fn from_hf_name(name: &str) -> Option<Self> {
        match name {
            "quick_gelu" => Some(Self::QuickGelu),
            "gelu" => Some(Self::Gelu),
            _ => None,
        }
    }
}

/// The vision transformer's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisionConfig {
    /// Side of the square input the position table was trained for.
    pub image_size: usize,
    /// Side of a square patch (the conv stride).
    pub patch_size: usize,
    /// Token width C.
    pub width: usize,
    /// Number of residual blocks L.
    pub layers: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Hidden width of the MLP (4C for every OpenAI model).
    pub mlp_dim: usize,
    /// Width E of the joint embedding; `None` when the checkpoint has no projection
    /// (transformers `CLIPVisionModel`), in which case `image_embeds` is the pooled output.
    pub embed_dim: Option<usize>,
    /// MLP non-linearity.
    pub activation: Activation,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
}

impl VisionConfig {
    /// Patches per side at the trained resolution.
    #[must_use]
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Width of `image_embeds`.
    #[must_use]
    pub fn output_dim(&self) -> usize {
        self.embed_dim.unwrap_or(self.width)
    }

    /// An OpenAI-style vision tower: heads = width / 64, MLP = 4 x width, QuickGELU.
    #[must_use]
    pub fn openai(
        image_size: usize,
        patch_size: usize,
        width: usize,
        layers: usize,
        embed: usize,
    ) -> Self {
        Self {
            image_size,
            patch_size,
            width,
            layers,
            heads: (width / 64).max(1),
            mlp_dim: 4 * width,
            embed_dim: Some(embed),
            activation: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
        }
    }
}

/// The causal text transformer's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    /// Token vocabulary size (49408 for CLIP's BPE).
    pub vocab_size: usize,
    /// Positions in the table (77).
    pub context_length: usize,
    /// Token width.
    pub width: usize,
    /// Number of residual blocks.
    pub layers: usize,
    /// Attention heads per block.
    pub heads: usize,
    /// Hidden width of the MLP.
    pub mlp_dim: usize,
    /// Width E of the joint embedding.
    pub embed_dim: usize,
    /// MLP non-linearity.
    pub activation: Activation,
    /// LayerNorm epsilon.
    pub layer_norm_eps: f64,
    /// The end-of-text id whose position is pooled (49407; the largest id of the vocabulary).
    pub eot_token_id: usize,
}

impl TextConfig {
    /// OpenAI's text tower: vocab 49408, context 77, heads = width / 64, MLP = 4 x width.
    #[must_use]
    pub fn openai(width: usize, layers: usize, embed: usize) -> Self {
        Self {
            vocab_size: 49408,
            context_length: 77,
            width,
            layers,
            heads: (width / 64).max(1),
            mlp_dim: 4 * width,
            embed_dim: embed,
            activation: Activation::QuickGelu,
            layer_norm_eps: 1e-5,
            eot_token_id: 49407,
        }
    }
}

/// Both towers, as one checkpoint describes them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipConfig {
    /// The image tower.
    pub vision: VisionConfig,
    /// The text tower, absent in vision-only checkpoints.
    pub text: Option<TextConfig>,
}

impl ClipConfig {
    /// OpenAI ViT-B/32 (<https://huggingface.co/openai/clip-vit-base-patch32/blob/main/config.json>).
    #[must_use]
    pub fn vit_b32() -> Self {
        Self {
            vision: VisionConfig::openai(224, 32, 768, 12, 512),
            text: Some(TextConfig::openai(512, 12, 512)),
        }
    }

    /// OpenAI ViT-B/16 (<https://huggingface.co/openai/clip-vit-base-patch16/blob/main/config.json>).
    #[must_use]
    pub fn vit_b16() -> Self {
        Self {
            vision: VisionConfig::openai(224, 16, 768, 12, 512),
            text: Some(TextConfig::openai(512, 12, 512)),
        }
    }

    /// OpenAI ViT-L/14 (<https://huggingface.co/openai/clip-vit-large-patch14/blob/main/config.json>).
    #[must_use]
    pub fn vit_l14() -> Self {
        Self {
            vision: VisionConfig::openai(224, 14, 1024, 24, 768),
            text: Some(TextConfig::openai(768, 12, 768)),
        }
    }

    /// OpenAI ViT-L/14 at 336 px (<https://huggingface.co/openai/clip-vit-large-patch14-336/blob/main/config.json>).
    #[must_use]
    pub fn vit_l14_336() -> Self {
        Self {
            vision: VisionConfig::openai(336, 14, 1024, 24, 768),
            text: Some(TextConfig::openai(768, 12, 768)),
        }
    }

    /// A small model for demos and tests: image 112, patch 16 (7x7 grid), width 128, 4 layers, 4 heads
    /// (head width 32), embed 128; text width 128, 2 layers, 4 heads, the real vocabulary and context.
    #[must_use]
    pub fn tiny() -> Self {
        let mut vision = VisionConfig::openai(112, 16, 128, 4, 128);
        vision.heads = 4;
        let mut text = TextConfig::openai(128, 2, 128);
        text.heads = 4;
        Self {
            vision,
            text: Some(text),
        }
    }

    /// A readable architecture name: the OpenAI name when the shape is one of theirs.
    #[must_use]
    pub fn architecture_name(&self) -> String {
        let v = &self.vision;
        let base = match (v.patch_size, v.width, v.layers) {
            (32, 768, 12) => Some("ViT-B/32"),
            (16, 768, 12) => Some("ViT-B/16"),
            (14, 1024, 24) => Some("ViT-L/14"),
            _ => None,
        };
        match base {
            Some(name) if v.image_size == 224 => name.to_string(),
            Some(name) => format!("{name}-{}", v.image_size),
            None => format!(
                "ViT-w{}-l{}-h{}/{}@{}",
                v.width, v.layers, v.heads, v.patch_size, v.image_size
            ),
        }
    }
}
