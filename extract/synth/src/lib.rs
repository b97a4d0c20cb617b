//! `dist-synth`: the synthetic time-reversal video benchmark.
//!
//! Every motion class is paired with its exact time reversal: sense 1 of a family *is* sense 0 with
//! its frames in the opposite order, so both senses contain the same multiset of frames and any
//! frame-order-blind model (mean or max pooling of per-frame features, whatever the encoder) is at
//! chance on the sense by construction. A spatial control task (4 shapes, label = shape) checks that
//! a single frame is enough where it should be.
//!
//! ```no_run
//! # fn main() -> Result<(), dist_synth::Error> {
//! use dist_synth::{generate, SynthConfig, Family, SceneConfig, EncodeConfig, SplitFractions};
//! let cfg = SynthConfig {
//!     out: "synth-out".into(),
//!     clips_per_class: 10,
//!     seed: 1,
//!     families: Family::ALL.to_vec(),
//!     scene: SceneConfig::default(),
//!     encode: EncodeConfig::default(),
//!     split: SplitFractions::default(),
//!     jobs: None,
//! };
//! let summary = generate(&cfg)?;
//! println!("{} clips in {:.1} s", summary.clips, summary.seconds);
//! # Ok(()) }
//! ```
//!
//! See `docs/synth.md` for the families, the class order and the output layout.

mod background;
mod canvas;
mod config;
mod dataset;
mod encode;
mod error;
mod family;
mod generate;
mod manifest;
mod scene;
mod shape;
mod split;
mod stills;
mod tracks;

pub use canvas::Frame;
pub use config::{SynthArgs, SynthConfig};
pub use dataset::{plan, render_base, ClipRecord, Group};
pub use encode::{init_ffmpeg, write_clip, Codec, EncodeConfig};
pub use error::{Error, Result};
pub use family::{class_table, ClassInfo, Family};
pub use generate::{generate, run, Summary};
pub use manifest::write_metadata;
pub use scene::{Clip, SceneConfig};
pub use shape::ShapeKind;
pub use split::{assign, Split, SplitFractions};
pub use stills::{render_still, still_captions, StillConfig, STILL_COLOURS, STILL_SHAPES};
