//! Checkpoint-independent host weights: what every layout (Hugging Face, open_clip, builtin random) is
//! translated into before anything goes to a device.
//!
//! Linear weights are stored `[in, out]` (already transposed from PyTorch's `[out, in]`) so the forward
//! is a plain `x @ W`; the attention's q, k, v projections are packed into one `[C, 3C]` matrix so a
//! block runs one GEMM for all three.

use sha2::{Digest, Sha256};

use crate::config::ClipConfig;

/// A dense row-major f32 array on the host.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HostTensor {
    pub(crate) shape: Vec<usize>,
    pub(crate) data: Vec<f32>,
}

impl HostTensor {
    pub(crate) fn new(shape: Vec<usize>, data: Vec<f32>) -> Self {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Self { shape, data }
    }

    /// `[rows, cols]` to `[cols, rows]`.
    pub(crate) fn transposed(&self) -> Self {
        let [rows, cols] = [self.shape[0], self.shape[1]];
        let mut out = vec![0.0; self.data.len()];
        for (r, row) in self.data.chunks_exact(cols).enumerate() {
            for (c, &v) in row.iter().enumerate() {
                out[c * rows + r] = v;
            }
        }
        Self::new(vec![cols, rows], out)
    }
}

/// A LayerNorm's affine parameters, `[C]` each.
#[derive(Debug, Clone)]
pub(crate) struct NormWeights {
    pub(crate) weight: HostTensor,
    pub(crate) bias: HostTensor,
}

/// A linear layer: weight `[in, out]`, optional bias `[out]`.
#[derive(Debug, Clone)]
pub(crate) struct LinearWeights {
    pub(crate) weight: HostTensor,
    pub(crate) bias: Option<HostTensor>,
}

/// One pre-LN residual block: `x + attn(ln_1 x)`, then `x + mlp(ln_2 x)`.
#[derive(Debug, Clone)]
pub(crate) struct BlockWeights {
    pub(crate) ln_1: NormWeights,
    /// Packed `[C, 3C]` (columns: q, then k, then v), bias `[3C]`.
    pub(crate) qkv: LinearWeights,
    pub(crate) out_proj: LinearWeights,
    pub(crate) ln_2: NormWeights,
    /// `[C, M]`.
    pub(crate) fc1: LinearWeights,
    /// `[M, C]`.
    pub(crate) fc2: LinearWeights,
}

/// The image tower.
#[derive(Debug, Clone)]
pub(crate) struct VisionWeights {
    /// The patch conv as a matrix `[3 * p * p, C]`, rows ordered (channel, ky, kx) like the conv kernel.
    pub(crate) patch: HostTensor,
    /// `[C]`.
    pub(crate) class_embedding: HostTensor,
    /// `[grid * grid + 1, C]`, CLS first, then patches row-major.
    pub(crate) positions: HostTensor,
    pub(crate) ln_pre: NormWeights,
    pub(crate) blocks: Vec<BlockWeights>,
    pub(crate) ln_post: NormWeights,
    /// `[C, E]`, absent for transformers' `CLIPVisionModel`.
    pub(crate) projection: Option<HostTensor>,
}

/// The text tower.
#[derive(Debug, Clone)]
pub(crate) struct TextWeights {
    /// `[V, C]`.
    pub(crate) token_embedding: HostTensor,
    /// `[context, C]`.
    pub(crate) positions: HostTensor,
    pub(crate) blocks: Vec<BlockWeights>,
    pub(crate) ln_final: NormWeights,
    /// `[C, E]`.
    pub(crate) projection: HostTensor,
}

/// A whole checkpoint in canonical form.
#[derive(Debug, Clone)]
pub(crate) struct ClipWeights {
    pub(crate) config: ClipConfig,
    pub(crate) vision: VisionWeights,
    pub(crate) text: Option<TextWeights>,
    /// `ln(1 / temperature)` as stored (CLIP's `logit_scale` parameter, before `exp`).
    pub(crate) logit_scale: f32,
    pub(crate) mean: [f32; 3],
    pub(crate) std: [f32; 3],
}

impl ClipWeights {
    /// sha256 over every tensor's little-endian f32 bytes in a fixed order, for weights that have no file.
    pub(crate) fn content_sha256(&self) -> String {
        let mut hasher = Sha256::new();
        let mut feed = |t: &HostTensor| {
            for dim in &t.shape {
                hasher.update((*dim as u64).to_le_bytes());
            }
            hasher.update(bytemuck::cast_slice::<f32, u8>(&t.data));
        };
        let feed_blocks = |blocks: &[BlockWeights], feed: &mut dyn FnMut(&HostTensor)| {
            for b in blocks {
                for t in [&b.ln_1.weight, &b.ln_1.bias, &b.ln_2.weight, &b.ln_2.bias] {
                    feed(t);
                }
                for l in [&b.qkv, &b.out_proj, &b.fc1, &b.fc2] {
                    feed(&l.weight);
                    if let Some(bias) = &l.bias {
                        feed(bias);
                    }
                }
            }
        };
        let v = &self.vision;
        for t in [
            &v.patch,
            &v.class_embedding,
            &v.positions,
            &v.ln_pre.weight,
            &v.ln_pre.bias,
        ] {
            feed(t);
        }
        feed_blocks(&v.blocks, &mut feed);
        for t in [&v.ln_post.weight, &v.ln_post.bias] {
            feed(t);
        }
        if let Some(p) = &v.projection {
            feed(p);
        }
        if let Some(t) = &self.text {
            feed(&t.token_embedding);
            feed(&t.positions);
            feed_blocks(&t.blocks, &mut feed);
            feed(&t.ln_final.weight);
            feed(&t.ln_final.bias);
            feed(&t.projection);
        }
        hex::encode(hasher.finalize())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose_moves_rows_to_columns() {
        let t = HostTensor::new(vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let tt = t.transposed();
        assert_eq!(tt.shape, vec![3, 2]);
        assert_eq!(tt.data, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
        assert_eq!(tt.transposed(), t);
    }
}
