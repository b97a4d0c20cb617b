//! The dist feature store: the contract between `dist-extract` (which fills it once) and
//! `dist-train` (which reads it for every run).
//!
//! A store is one directory holding a Zarr v3 group (sharded arrays of the frozen encoder's per-layer
//! tokens and the aligned dense frames, zstd-compressed unless the store's `compression` is `none`,
//! and label sets of text embeddings) and Parquet tables of videos and clips. Its group attributes
//! record everything both stages must agree on; [`Store::open_expecting`] checks them. See
//! `docs/store-format.md`.

mod arrays;
mod create;
mod direct;
mod element;
mod error;
mod fsutil;
mod meta;
mod reader;
mod store;
mod tables;
mod tensor;
mod text;
mod writer;

pub use create::PATIENCE as CREATE_PATIENCE;
pub use element::{dequantize_int8, dequantize_int8_into, quantize_int8, ElementType, Encoded};
pub use error::{Result, StoreError};
pub use meta::{Compression, EncoderFingerprint, Expect, Preprocessing, Sampling, StoreMeta, FORMAT_VERSION};
pub use reader::{ClipSample, Prefetch, Reader};
pub use store::Store;
pub use tables::{ClipRecord, VideoRecord, VideoStatus};
pub use tensor::{dense_video, spatial_taps};
pub use text::LabelSet;
pub use writer::ShardWriter;

/// CLIP's pixel mean and std (RGB, on [0,1] pixels).
pub const CLIP_MEAN: [f32; 3] = [0.481_454_66, 0.457_827_5, 0.408_210_73];
pub const CLIP_STD: [f32; 3] = [0.268_629_54, 0.261_302_58, 0.275_777_11];

/// Chooses clips per shard so one shard holds about `target_bytes` of uncompressed data
/// (bounded to 1..=256), the default trade-off between file count and writer memory.
pub fn default_clips_per_shard(meta_clip_bytes: usize, target_bytes: usize) -> u64 {
    (target_bytes / meta_clip_bytes.max(1)).clamp(1, 256) as u64
}
