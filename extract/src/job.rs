//! The extraction job behind `dist-extract run`: plan, pipeline, progress.

pub mod config;
pub mod labels;
pub mod meta;
pub mod pipeline;
pub mod plan;
pub mod progress;

pub use config::{parse_layers, ExtractConfig};
pub use pipeline::Summary;
pub use plan::{Plan, PlannedVideo, ShardSelection};
pub use progress::Progress;
