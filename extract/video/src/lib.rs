//! Video ingestion for dist: the annotation files users already have, FFmpeg decoding, TSN sampling, and
//! aligned sparse/dense frames for DiST.
//!
//! ```no_run
//! use dist_video::{plan_views, video_seed, Split, SamplingConfig, VideoReader};
//! # fn main() -> Result<(), dist_video::VideoError> {
//! let cfg = SamplingConfig::default(); // T = 8, γ = 2, 224×224, 3 test clips
//! let reader = VideoReader::open("clip.mp4".as_ref(), &cfg.limits)?;
//! let plans = plan_views(reader.info(), Split::Test, &cfg, video_seed("clip"));
//! let clips = reader.decode_views(&plans, &cfg)?;
//! assert_eq!(clips[0].frames.len(), 16 * 224 * 224 * 3); // γT dense frames, u8 RGB
//! let sparse = clips[0].sparse(); // the T frames for the frozen ViT: dense frames 0, 2, 4, …
//! # Ok(()) }
//! ```

mod classes;
mod decode;
mod error;
mod ffmpeg_io;
mod manifest;
mod probe;
mod render;
mod rotation;
mod sampling;
mod split;
mod raw_ffi;
mod truncation;

pub use classes::ClassList;
pub use decode::{decode_views, DecodeStats, DecodedClip, VideoReader};
pub use error::VideoError;
pub use ffmpeg_io::libavcodec_version;
pub use manifest::{read_manifest, Manifest, ManifestEntry, ManifestFormat};
pub use probe::{open_video, FrameIndexMode, VideoInfo};
pub use sampling::{
    plan_views, sparse_positions, tsn_indices, video_seed, CropBox, DecodeLimits, SamplingConfig, ShortVideoPolicy,
    TemporalMode, ViewPlan,
};
pub use split::{Split, UnknownSplit};
