//! [`DistConfig`]: every knob of the DiST design space, with the official code's defaults
//! (ViT-B/16 "8+16f", SSV2: 2 AdaPooling layers), loadable from TOML.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How a T-Block mixes space and time (paper Tab. 1c).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum TemporalBlockKind {
    /// R(2+1)D as in the official code: LN, 3x1x1 conv, QuickGELU, 1x3x3 conv, residual, QuickGELU.
    #[default]
    R2plus1d,
    /// R(2+1)D in the order of the paper's Fig. 4a: the 1x3x3 conv first, then the 3x1x1 conv.
    R2plus1dSpatialFirst,
    /// C3D: one full kT x 3 x 3 conv in place of the factorised pair (LN, conv, residual, QuickGELU).
    C3d,
    /// Joint space-time transformer block over all γT·H'·W' tokens of a clip.
    Transformer,
}

/// How Ψ brings the temporal encoder from γT to T frames (paper Tab. 2a).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DownsampleKind {
    /// Learned temporal conv, kernel = stride = γ (DConv, the official default).
    #[default]
    Dconv,
    /// Average over each group of γ frames, then a linear βC → αC.
    AvgPool,
    /// Max over each group of γ frames, then a linear βC → αC.
    MaxPool,
}

/// How Φ brings the integration branch from T to γT frames (paper Tab. 2b).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum UpsampleKind {
    /// Linear αC → βC, then nearest interpolation in time (the official default).
    #[default]
    Nearest,
    /// Linear αC → βC, then linear interpolation in time (PyTorch trilinear, align_corners=False).
    Trilinear,
    /// Transposed temporal conv, kernel = stride = γ, αC → βC ("DeConv").
    TransposedConv,
}

/// How the integrated tokens F become one video token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum PoolingKind {
    /// The official "AdaPooling": `pooling_layers` cross-attention layers (per-frame query, then a
    /// video query over the frame tokens).
    #[default]
    Ada,
    /// Global average of F over frames and tokens.
    Mean,
    /// Position-weighted sum (`pooling_weights`, `[N+1, A]`, not in the official code): a learned
    /// weight per token position and channel, initialised to 1/√(N+1), over the frame average of
    /// F. An average over positions cancels what only the conjunction of a motion and its place
    /// tells apart, such as the sense of a rotation (rightwards above the hub, leftwards below);
    /// AdaPooling can select places but starts uniform and learns to only through a product of
    /// small weights (docs/demo.md).
    Weighted,
}

/// Which frozen ViT blocks feed the model.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum LayerSelection {
    /// `"all"` or `"last:N"`.
    Named(String),
    /// Explicit 1-based block numbers, e.g. `[9, 10, 11, 12]`.
    Explicit(Vec<usize>),
}

impl Default for LayerSelection {
    fn default() -> Self {
        Self::Named("all".into())
    }
}

impl LayerSelection {
    /// The selected blocks as 1-based block numbers (= the store's `hidden_states` indices, and
    /// the official `SELECTED_LAYERS` plus one).
    ///
    /// # Errors
    /// An unknown name, an empty list, a block beyond `encoder_layers`, or a list that is not
    /// strictly increasing.
    pub fn resolve(&self, encoder_layers: usize) -> Result<Vec<usize>> {
        let layers: Vec<usize> = match self {
            Self::Named(name) if name == "all" => (1..=encoder_layers).collect(),
            Self::Named(name) => {
                let n = name
                    .strip_prefix("last:")
                    .and_then(|n| n.parse::<usize>().ok())
                    .ok_or_else(|| {
                        Error::config("layers", format!("`{name}` is neither \"all\", \"last:N\" nor a list"))
                    })?;
                if n == 0 || n > encoder_layers {
                    return Err(Error::config("layers", format!("last:{n} with {encoder_layers} encoder layers")));
                }
                (encoder_layers - n + 1..=encoder_layers).collect()
            }
            Self::Explicit(list) => list.clone(),
        };
        if layers.is_empty() {
            return Err(Error::config("layers", "no layer selected"));
        }
        if let Some(&bad) = layers.iter().find(|&&l| l == 0 || l > encoder_layers) {
            return Err(Error::config(
                "layers",
                format!("block {bad} is outside 1..={encoder_layers} (blocks are numbered from 1)"),
            ));
        }
        if layers.windows(2).any(|w| w[0] >= w[1]) {
            return Err(Error::config("layers", format!("{layers:?} is not strictly increasing")));
        }
        Ok(layers)
    }
}

/// The whole DiST head: shapes of the frozen encoder it sits on, the design space of the paper
/// and the ablation switches. Defaults are the official ViT-B/16 "8+16f" SSV2 model.
///
/// Widths are absolute (`integration_dim` A = αC, `temporal_dim` D = βC), as in the official
/// configs (`DIST.INTEGRATION_DIM`, `DIST.TEMPORAL_DIM`): ViT-L/14 keeps A=384, D=96.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DistConfig {
    /// C, the frozen ViT width (768 for B/16).
    pub width: usize,
    /// P, the ViT patch size; the 3D stem's spatial kernel and stride equal it.
    pub patch_size: usize,
    /// Number of blocks of the frozen ViT (12 for B/16).
    pub encoder_layers: usize,
    /// E, the joint image-text embedding size (512 for B/16).
    pub embed_dim: usize,
    /// T, sparse frames seen by the frozen ViT.
    pub frames: usize,
    /// γ, dense frames per sparse frame (the temporal encoder sees γT frames).
    pub gamma: usize,
    /// The frozen blocks whose outputs feed the model, one T-Block and I-Block each.
    pub layers: LayerSelection,
    /// A = αC, width of the integration branch.
    pub integration_dim: usize,
    /// D = βC, width of the temporal encoder.
    pub temporal_dim: usize,
    /// Temporal kernel of the 3D stem (official `T_PATCH_SIZE` 5; padding kernel/2).
    pub stem_temporal_kernel: usize,
    /// Temporal kernel of the T-Block and of the I-Block's temporal FFN (`TEMPORAL_KERNEL_SIZE`).
    pub temporal_kernel: usize,
    /// Hidden width of the T-Block convs relative to D (`TEMPORAL_CONV_MLP_RATIO`).
    pub temporal_mlp_ratio: f64,
    /// Hidden width of the I-Block FFN relative to A (`INTEGRATION_MLP_RATIO`, 1 not 4).
    pub integration_mlp_ratio: f64,
    /// Hidden width of the I-Block temporal FFN relative to A (`INTEGRATION_TEMPORAL_MLP_RATIO`).
    pub integration_temporal_mlp_ratio: f64,
    /// T-Block design.
    pub temporal_block: TemporalBlockKind,
    /// Attention heads of the transformer T-Block (must divide D).
    pub temporal_block_heads: usize,
    /// Ψ design.
    pub downsample: DownsampleKind,
    /// Φ design.
    pub upsample: UpsampleKind,
    /// Pooling of the integrated tokens.
    pub pooling: PoolingKind,
    /// N, patch tokens per frame ((input size / P)²); sizes `pooling = "weighted"`'s table.
    /// Set from the store.
    pub patches: usize,
    /// AdaPooling depth K (`ADA_POOLING_LAYERS`: 2 for SSV2, 4 for K400).
    pub pooling_layers: usize,
    /// AdaPooling attention heads; `None` = A/64 as in the official code (head size 64).
    pub pooling_heads: Option<usize>,
    /// Hidden width of the AdaPooling MLPs relative to A (4 in the official code).
    pub pooling_mlp_ratio: usize,
    /// Ablation (Tab. 1a): the temporal encoder (stem, T-Blocks, Φ, Ψ) exists.
    pub temporal_encoder: bool,
    /// Ablation (Tab. 1a): the integration branch (FC_in, I-Blocks) exists.
    pub integration: bool,
    /// Ablation (Tab. 1b): Φ, integration → temporal, is used.
    pub integration_to_temporal: bool,
    /// Ablation (Tab. 1b): Ψ, temporal → integration, is used.
    pub temporal_to_integration: bool,
    /// Late fusion of the last temporal state into F through an extra Ψ (`temporal_output`).
    /// Not in the official code; it is the temporal encoder's only path to the output when the
    /// integration branch or Ψ is ablated, and such configs require it.
    pub temporal_output_fusion: bool,
}

impl Default for DistConfig {
    fn default() -> Self {
        Self {
            width: 768,
            patch_size: 16,
            encoder_layers: 12,
            embed_dim: 512,
            frames: 8,
            gamma: 2,
            layers: LayerSelection::default(),
            integration_dim: 384,
            temporal_dim: 96,
            stem_temporal_kernel: 5,
            temporal_kernel: 3,
            temporal_mlp_ratio: 1.0,
            integration_mlp_ratio: 1.0,
            integration_temporal_mlp_ratio: 0.25,
            temporal_block: TemporalBlockKind::default(),
            temporal_block_heads: 3,
            downsample: DownsampleKind::default(),
            upsample: UpsampleKind::default(),
            pooling: PoolingKind::default(),
            patches: 196,
            pooling_layers: 2,
            pooling_heads: None,
            pooling_mlp_ratio: 4,
            temporal_encoder: true,
            integration: true,
            integration_to_temporal: true,
            temporal_to_integration: true,
            temporal_output_fusion: false,
        }
    }
}

/// `int(dim * ratio)` as Python computes it, robust to ratios like 0.1 that are not exact in
/// binary.
pub(crate) fn scaled(dim: usize, ratio: f64) -> usize {
    (dim as f64 * ratio + 1e-9).floor() as usize
}

impl DistConfig {
    /// The official defaults on a given frozen encoder (from the store's encoder fingerprint and
    /// sampling): width C, patch P, number of blocks, joint embedding size E and T sparse frames.
    /// All blocks are selected; A=384, D=96, γ=2, K=2 as in the official configs.
    #[must_use]
    pub fn for_encoder(width: usize, patch_size: usize, encoder_layers: usize, embed_dim: usize, frames: usize) -> Self {
        Self { width, patch_size, encoder_layers, embed_dim, frames, ..Self::default() }
    }

    /// Reads a TOML preset (fields not given keep their defaults).
    ///
    /// # Errors
    /// Unreadable file, unknown fields, wrong types, or a config that fails [`Self::validate`].
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io { path: path.into(), source })?;
        let config: Self = toml::from_str(&text).map_err(|source| Error::Toml { path: path.into(), source })?;
        config.validate()?;
        Ok(config)
    }

    /// The config as TOML.
    #[must_use]
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("DistConfig always serialises")
    }

    /// The selected frozen blocks, 1-based.
    ///
    /// # Errors
    /// See [`LayerSelection::resolve`].
    pub fn selected_layers(&self) -> Result<Vec<usize>> {
        self.layers.resolve(self.encoder_layers)
    }

    /// γT, frames of the temporal encoder.
    #[must_use]
    pub fn dense_frames(&self) -> usize {
        self.frames * self.gamma
    }

    /// Whether the temporal encoder exists.
    #[must_use]
    pub fn has_temporal(&self) -> bool {
        self.temporal_encoder
    }

    /// Whether Φ (integration → temporal) is built: both branches exist and it is switched on.
    #[must_use]
    pub fn has_phi(&self) -> bool {
        self.temporal_encoder && self.integration && self.integration_to_temporal
    }

    /// Whether the per-layer Ψ (temporal → integration) is built.
    #[must_use]
    pub fn has_psi(&self) -> bool {
        self.temporal_encoder && self.integration && self.temporal_to_integration
    }

    /// Whether the extra late-fusion Ψ on the last temporal state is built.
    #[must_use]
    pub fn has_output_fusion(&self) -> bool {
        self.temporal_encoder && self.temporal_output_fusion
    }

    /// Whether integrated tokens F exist (otherwise the model is the spatial-only baseline:
    /// frozen CLS averaged over frames, projected).
    #[must_use]
    pub fn has_tokens(&self) -> bool {
        self.integration || self.has_output_fusion()
    }

    /// AdaPooling heads: explicit, or A/64 as in the official code.
    #[must_use]
    pub fn resolved_pooling_heads(&self) -> usize {
        self.pooling_heads.unwrap_or(self.integration_dim / 64)
    }

    /// Checks that the config describes a buildable model in which every trainable part
    /// reaches the output.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first offending field.
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [
            ("width", self.width),
            ("patch_size", self.patch_size),
            ("encoder_layers", self.encoder_layers),
            ("embed_dim", self.embed_dim),
            ("frames", self.frames),
            ("gamma", self.gamma),
            ("integration_dim", self.integration_dim),
            ("temporal_dim", self.temporal_dim),
            ("patches", self.patches),
        ] {
            if value == 0 {
                return Err(Error::config(field, "must be at least 1"));
            }
        }
        self.selected_layers()?;
        for (field, k) in [("stem_temporal_kernel", self.stem_temporal_kernel), ("temporal_kernel", self.temporal_kernel)] {
            if k % 2 == 0 {
                return Err(Error::config(field, format!("{k} is not odd (padding k/2 must keep the frame count)")));
            }
        }
        for (field, base, ratio) in [
            ("temporal_mlp_ratio", self.temporal_dim, self.temporal_mlp_ratio),
            ("integration_mlp_ratio", self.integration_dim, self.integration_mlp_ratio),
            ("integration_temporal_mlp_ratio", self.integration_dim, self.integration_temporal_mlp_ratio),
        ] {
            if !(ratio > 0.0) || scaled(base, ratio) == 0 {
                return Err(Error::config(field, format!("{ratio} gives a hidden width of 0")));
            }
        }
        if self.temporal_encoder
            && self.temporal_block == TemporalBlockKind::Transformer
            && (self.temporal_block_heads == 0 || self.temporal_dim % self.temporal_block_heads != 0)
        {
            return Err(Error::config(
                "temporal_block_heads",
                format!("{} heads do not divide temporal_dim {}", self.temporal_block_heads, self.temporal_dim),
            ));
        }
        if self.has_tokens() && self.pooling == PoolingKind::Ada {
            if self.pooling_layers == 0 {
                return Err(Error::config("pooling_layers", "AdaPooling needs at least one layer (or pooling = \"mean\")"));
            }
            let heads = self.resolved_pooling_heads();
            if heads == 0 {
                return Err(Error::config(
                    "pooling_heads",
                    format!(
                        "integration_dim {} < 64 gives A/64 = 0 AdaPooling heads (the official code crashes here); \
                         set pooling_heads explicitly",
                        self.integration_dim
                    ),
                ));
            }
            if self.integration_dim % heads != 0 {
                return Err(Error::config(
                    "pooling_heads",
                    format!("{heads} heads do not divide integration_dim {}", self.integration_dim),
                ));
            }
            if self.pooling_mlp_ratio == 0 {
                return Err(Error::config("pooling_mlp_ratio", "must be at least 1"));
            }
        }
        if self.temporal_encoder && !self.has_psi() && !self.temporal_output_fusion {
            return Err(Error::config(
                "temporal_output_fusion",
                "the temporal encoder has no path to the output (no integration branch or Ψ switched off); \
                 set temporal_output_fusion = true or temporal_encoder = false",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_selection_forms() {
        assert_eq!(LayerSelection::Named("all".into()).resolve(4).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(LayerSelection::Named("last:2".into()).resolve(4).unwrap(), vec![3, 4]);
        assert_eq!(LayerSelection::Explicit(vec![1, 3]).resolve(4).unwrap(), vec![1, 3]);
        assert!(LayerSelection::Explicit(vec![3, 1]).resolve(4).is_err());
        assert!(LayerSelection::Explicit(vec![0]).resolve(4).is_err());
        assert!(LayerSelection::Explicit(vec![5]).resolve(4).is_err());
        assert!(LayerSelection::Named("first:2".into()).resolve(4).is_err());
    }

    #[test]
    fn toml_round_trip_and_unknown_fields() {
        let config = DistConfig { pooling_layers: 4, layers: LayerSelection::Explicit(vec![9, 10, 11, 12]), ..DistConfig::default() };
        let back: DistConfig = toml::from_str(&config.to_toml()).unwrap();
        assert_eq!(back, config);
        assert!(toml::from_str::<DistConfig>("pooling_layer = 4").is_err());
        let partial: DistConfig = toml::from_str("temporal_block = \"c3d\"\nlayers = \"last:4\"").unwrap();
        assert_eq!(partial.temporal_block, TemporalBlockKind::C3d);
        assert_eq!(partial.selected_layers().unwrap(), vec![9, 10, 11, 12]);
    }

    #[test]
    fn validation_names_the_field() {
        let small = DistConfig { integration_dim: 32, ..DistConfig::default() };
        let err = small.validate().unwrap_err().to_string();
        assert!(err.contains("pooling_heads"), "{err}");
        assert!(DistConfig { integration_dim: 32, pooling_heads: Some(2), ..DistConfig::default() }.validate().is_ok());
        let dead = DistConfig { temporal_to_integration: false, ..DistConfig::default() };
        assert!(dead.validate().unwrap_err().to_string().contains("temporal_output_fusion"));
        assert!(DistConfig { temporal_kernel: 2, ..DistConfig::default() }.validate().is_err());
        assert_eq!(DistConfig::default().resolved_pooling_heads(), 6);
        assert_eq!(scaled(384, 0.25), 96);
    }
}
