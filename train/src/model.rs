//! The DiST model (issue 7): temporal encoder, integration branch, AdaPooling head, in burn,
//! faithful to the official code (`alibaba-mmai-research/DiST`, `models/module_zoo/branches/dist.py`).

mod ada_pooling;
mod checkpoint;
mod config;
mod dist;
mod head;
mod integration_block;
mod lateral;
mod nn;
mod params;
mod stem;
mod temporal_block;

pub use ada_pooling::{AdaPoolingLayer, CrossAttentionBlock};
pub use checkpoint::{dist_tensors, infer_config, InputShapes};
pub use config::{DistConfig, DownsampleKind, LayerSelection, PoolingKind, TemporalBlockKind, UpsampleKind};
pub use dist::DistModel;
pub use head::{l2_normalize, mixup_targets, smoothed_one_hot, soft_target_cross_entropy, ContrastiveHead, LinearHead};
pub use integration_block::{IntegrationBlock, TemporalFfn};
pub use lateral::{Downsampler, TemporalToIntegration, Upsampler};
pub use nn::{quick_gelu, Conv3d, LayerNorm, Linear, Mlp, MultiheadAttention};
pub use params::{uses_weight_decay, ParamInfo, OFFICIAL_PREFIX};
pub use temporal_block::TemporalBlock;
