//! T-Blocks of the temporal encoder (paper Fig. 4a, Tab. 1c). The temporal state is kept
//! channels-last, `[B, γT, H', W', D]`.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use dist_kernels::add;

use super::config::{scaled, DistConfig, TemporalBlockKind};
use super::nn::{quick_gelu, Conv3d, LayerNorm, Mlp, MultiheadAttention};

/// One T-Block; the variant follows [`DistConfig::temporal_block`].
#[derive(Module, Debug)]
pub enum TemporalBlock {
    /// R(2+1)D, in either order (the kernel shapes of `c_fc1`/`c_fc2` decide the order).
    Factorised(FactorisedBlock),
    /// One full kT x 3 x 3 convolution.
    C3d(C3dBlock),
    /// Joint space-time transformer block.
    Transformer(TransformerBlock),
}

/// `temporal_nets.{l}` of the official code: `Z' = QuickGELU(Z + c_fc2(QuickGELU(c_fc1(LN(Z)))))`.
#[derive(Module, Debug)]
pub struct FactorisedBlock {
    pub ln: LayerNorm,
    pub temporal_net: FactorisedConvs,
}

/// The two convolutions of a factorised block.
#[derive(Module, Debug)]
pub struct FactorisedConvs {
    /// `[D', D, kT, 1, 1]` (temporal first, official) or `[D', D, 1, 3, 3]` (spatial first).
    pub c_fc1: Conv3d,
    /// `[D, D', 1, 3, 3]` (temporal first, official) or `[D, D', kT, 1, 1]` (spatial first).
    pub c_fc2: Conv3d,
}

/// C3D block: `Z' = QuickGELU(Z + c_fc(LN(Z)))`, `c_fc` a kT x 3 x 3 conv. With one full 3D conv
/// in place of the (2+1)D pair the ViT-B/16 model costs +5.1 GMACs per clip, the paper's
/// 168.2 vs 163.1 GFLOPs (Tab. 1c).
#[derive(Module, Debug)]
pub struct C3dBlock {
    pub ln: LayerNorm,
    pub temporal_net: C3dConv,
}

/// The convolution of a C3D block.
#[derive(Module, Debug)]
pub struct C3dConv {
    /// `[D, D, kT, 3, 3]`.
    pub c_fc: Conv3d,
}

/// Pre-LN transformer block over all γT·H'·W' tokens of a clip:
/// `x = x + MHA(LN₁ x); x = x + MLP(LN₂ x)` (MLP hidden = D · `temporal_mlp_ratio`).
/// It has no positional embedding of its own: positions reach it through Φ, whose tokens carry
/// CLIP's position embeddings.
#[derive(Module, Debug)]
pub struct TransformerBlock {
    pub ln_1: LayerNorm,
    pub attn: MultiheadAttention,
    pub ln_2: LayerNorm,
    pub mlp: Mlp,
}

impl TemporalBlock {
    pub(crate) fn new(config: &DistConfig, device: &Device) -> Self {
        let d = config.temporal_dim;
        let hidden = scaled(d, config.temporal_mlp_ratio);
        let k = config.temporal_kernel;
        match config.temporal_block {
            TemporalBlockKind::R2plus1d => Self::Factorised(FactorisedBlock {
                ln: LayerNorm::new(d, device),
                temporal_net: FactorisedConvs {
                    c_fc1: Conv3d::new(d, hidden, [k, 1, 1], device),
                    c_fc2: Conv3d::new(hidden, d, [1, 3, 3], device),
                },
            }),
            TemporalBlockKind::R2plus1dSpatialFirst => Self::Factorised(FactorisedBlock {
                ln: LayerNorm::new(d, device),
                temporal_net: FactorisedConvs {
                    c_fc1: Conv3d::new(d, hidden, [1, 3, 3], device),
                    c_fc2: Conv3d::new(hidden, d, [k, 1, 1], device),
                },
            }),
            TemporalBlockKind::C3d => Self::C3d(C3dBlock {
                ln: LayerNorm::new(d, device),
                temporal_net: C3dConv { c_fc: Conv3d::new(d, d, [k, 3, 3], device) },
            }),
            TemporalBlockKind::Transformer => Self::Transformer(TransformerBlock {
                ln_1: LayerNorm::new(d, device),
                attn: MultiheadAttention::new(d, config.temporal_block_heads, device),
                ln_2: LayerNorm::new(d, device),
                mlp: Mlp::new(d, hidden, device),
            }),
        }
    }

    /// # Shapes
    /// - z: `[B, γT, H', W', D]` → `[B, γT, H', W', D]`
    pub fn forward(&self, z: Tensor<5>) -> Tensor<5> {
        match self {
            Self::Factorised(block) => {
                let h = block.temporal_net.c_fc1.forward_same(block.ln.forward(z.clone()));
                let h = block.temporal_net.c_fc2.forward_same(quick_gelu(h));
                quick_gelu(add(z, h))
            }
            Self::C3d(block) => {
                let h = block.temporal_net.c_fc.forward_same(block.ln.forward(z.clone()));
                quick_gelu(add(z, h))
            }
            Self::Transformer(block) => {
                let dims = z.dims();
                let [b, td, gh, gw, d] = dims;
                let x = z.reshape([b, td * gh * gw, d]);
                let h = block.ln_1.forward(x.clone());
                let x = x + block.attn.forward(h.clone(), h.clone(), h);
                let x = x.clone() + block.mlp.forward(block.ln_2.forward(x));
                x.reshape(dims)
            }
        }
    }
}
