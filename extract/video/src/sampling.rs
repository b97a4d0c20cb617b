//! Which frames and which pixels each view of a video sees (the paper's Appendix B, the official code's
//! `segment_based` sampling).
//!
//! A view is γT dense frames picked by TSN sampling over the whole video plus one crop box and a flip flag,
//! all decided here from a seed, before anything is decoded, so the decisions can be recorded with the
//! features (`clips.parquet`). The T sparse frames for the frozen ViT are the dense frames at positions
//! `0, γ, 2γ, …`: they are not decoded separately, so sparse and dense frames are aligned by construction.

mod config;
mod plan;
mod spatial;
mod temporal;

pub use config::{DecodeLimits, SamplingConfig, ShortVideoPolicy};
pub use plan::{plan_views, video_seed, ViewPlan};
pub use spatial::CropBox;
pub use temporal::{sparse_positions, tsn_indices, TemporalMode};
