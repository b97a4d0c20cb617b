//! "AdaPooling" (`adapooling_nets.{k}`): per layer, a learned query per frame cross-attends to
//! that frame's integrated tokens, then a video query cross-attends to the frame queries
//! (plus a temporal position embedding). Spec §7.

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};

use super::config::DistConfig;
use super::nn::{normal, LayerNorm, Mlp, MultiheadAttention, INIT_STD};

/// `CrossAttentionBlockGenral`: one shared LayerNorm on query, key and value; returns the
/// attention output only (the residual is added by the caller).
#[derive(Module, Debug)]
pub struct CrossAttentionBlock {
    pub attn: MultiheadAttention,
    pub ln_1: LayerNorm,
}

impl CrossAttentionBlock {
    fn new(dim: usize, heads: usize, device: &Device) -> Self {
        Self { attn: MultiheadAttention::new(dim, heads, device), ln_1: LayerNorm::new(dim, device) }
    }

    /// # Shapes
    /// - query: `[B, Nq, A]`, context: `[B, Nk, A]` → `[B, Nq, A]`
    pub fn forward(&self, query: Tensor<3>, context: Tensor<3>) -> Tensor<3> {
        let kv = self.ln_1.forward(context);
        self.attn.forward(self.ln_1.forward(query), kv.clone(), kv)
    }
}

/// One `SpatialTemporalAdaPoolingNetwork`.
#[derive(Module, Debug)]
pub struct AdaPoolingLayer {
    pub temporal_transformer: CrossAttentionBlock,
    /// `[1, T, A]`.
    pub positional_embedding: Param<Tensor<3>>,
    pub output_map_cls_token: Mlp,
    pub ln_out_temp_cls_token: LayerNorm,
    pub spatial_transformer: CrossAttentionBlock,
    pub output_map_spatial_cls_token: Mlp,
    pub ln_out_spat_cls_token: LayerNorm,
}

impl AdaPoolingLayer {
    pub(crate) fn new(config: &DistConfig, device: &Device) -> Self {
        let a = config.integration_dim;
        let heads = config.resolved_pooling_heads();
        let hidden = a * config.pooling_mlp_ratio;
        Self {
            temporal_transformer: CrossAttentionBlock::new(a, heads, device),
            positional_embedding: normal([1, config.frames, a], INIT_STD, device),
            output_map_cls_token: Mlp::new(a, hidden, device),
            ln_out_temp_cls_token: LayerNorm::new(a, device),
            spatial_transformer: CrossAttentionBlock::new(a, heads, device),
            output_map_spatial_cls_token: Mlp::new(a, hidden, device),
            ln_out_spat_cls_token: LayerNorm::new(a, device),
        }
    }

    /// # Shapes
    /// - tokens F: `[B·T, N+1, A]`; video query: `[B, 1, A]`; frame queries: `[B·T, 1, A]`
    /// - returns the updated (video query, frame queries), same shapes
    pub fn forward(&self, tokens: Tensor<3>, video: Tensor<3>, frames: Tensor<3>) -> (Tensor<3>, Tensor<3>) {
        let [b, _, a] = video.dims();
        let t = frames.dims()[0] / b;
        let frames = frames.clone() + self.spatial_transformer.forward(frames, tokens);
        let frames = frames.clone() + self.output_map_spatial_cls_token.forward(self.ln_out_spat_cls_token.forward(frames));
        let per_frame = frames.clone().reshape([b, t, a]) + self.positional_embedding.val();
        let video = video.clone() + self.temporal_transformer.forward(video, per_frame);
        let video = video.clone() + self.output_map_cls_token.forward(self.ln_out_temp_cls_token.forward(video));
        (video, frames)
    }
}
