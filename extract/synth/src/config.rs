//! Command-line arguments ([`SynthArgs`], reusable as a `dist-extract synth` subcommand) and the
//! validated generator configuration ([`SynthConfig`]).

use std::path::PathBuf;

use serde::Serialize;

use crate::encode::{Codec, EncodeConfig};
use crate::error::{Error, Result};
use crate::family::Family;
use crate::scene::SceneConfig;
use crate::split::SplitFractions;

/// Generate the synthetic time-reversal benchmark: each motion class paired with its exact time
/// reversal, plus a 4-shape spatial control task.
#[derive(Debug, Clone, clap::Args)]
pub struct SynthArgs {
    /// Output directory (created if missing; existing files with the same names are overwritten).
    #[arg(long)]
    pub out: PathBuf,
    /// Clips per class (a paired family renders this many base clips and their reversals).
    #[arg(long)]
    pub clips_per_class: usize,
    /// Random seed: same seed and arguments give byte-identical frames.
    #[arg(long)]
    pub seed: u64,
    /// Frame width and height in pixels (even).
    #[arg(long, default_value_t = 112)]
    pub size: usize,
    /// Frames per clip.
    #[arg(long, default_value_t = 16)]
    pub frames: usize,
    /// Frame rate of the written files.
    #[arg(long, default_value_t = 8)]
    pub fps: u32,
    /// Standard deviation of per-pixel Gaussian noise, in [0, 1] intensity units.
    #[arg(long, default_value_t = 0.0)]
    pub noise: f32,
    /// Number of small distractor objects moving in random directions.
    #[arg(long, default_value_t = 0)]
    pub distractors: usize,
    /// Static textured background instead of a flat grey.
    #[arg(long)]
    pub texture: bool,
    /// Codec: `h264` (libx264 in mp4, lossy) or `ffv1` (lossless, in mkv; for exact-chance checks).
    #[arg(long, default_value = "h264", value_parser = parse_codec)]
    pub codec: Codec,
    /// x264 constant rate factor (h264 only).
    #[arg(long, default_value_t = 18)]
    pub crf: u8,
    /// H.264 only: all I-frames at constant QP (the --crf value), so a clip and its reversal decode
    /// to exactly the same frames in opposite order (exact chance through a lossy codec).
    #[arg(long)]
    pub intra_only: bool,
    /// Families to generate, comma-separated: translate, rotate, approach, event_order, control.
    #[arg(long, value_delimiter = ',', default_value = "translate,rotate,approach,event_order,control", value_parser = parse_family)]
    pub families: Vec<Family>,
    /// Train, val and test fractions of every class.
    #[arg(long, default_value = "0.6,0.2,0.2", value_parser = parse_split)]
    pub split: SplitFractions,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
}

fn parse_codec(s: &str) -> Result<Codec, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_family(s: &str) -> Result<Family, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

fn parse_split(s: &str) -> Result<SplitFractions, String> {
    s.parse().map_err(|e: Error| e.to_string())
}

/// The validated generator configuration, also saved as `synth.json` in the output directory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthConfig {
    /// Output directory (not saved in `synth.json`, so the file only depends on the settings).
    #[serde(skip)]
    pub out: PathBuf,
    /// Clips per class.
    pub clips_per_class: usize,
    /// Random seed.
    pub seed: u64,
    /// Selected families, in canonical order, without duplicates.
    pub families: Vec<Family>,
    /// Frame size, length, noise, distractors, texture.
    pub scene: SceneConfig,
    /// Codec, frame rate, quality.
    pub encode: EncodeConfig,
    /// Split fractions.
    pub split: SplitFractions,
    /// Worker threads (`None`: all cores).
    #[serde(skip)]
    pub jobs: Option<usize>,
}

impl SynthConfig {
    /// Validates `args`.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first field out of range.
    pub fn from_args(args: &SynthArgs) -> Result<Self> {
        let mut families: Vec<Family> = Family::ALL.into_iter().filter(|f| args.families.contains(f)).collect();
        families.dedup();
        let cfg = Self {
            out: args.out.clone(),
            clips_per_class: args.clips_per_class,
            seed: args.seed,
            families,
            scene: SceneConfig {
                size: args.size,
                frames: args.frames,
                noise: args.noise,
                distractors: args.distractors,
                texture: args.texture,
            },
            encode: EncodeConfig {
                codec: args.codec,
                fps: args.fps,
                crf: args.crf,
                intra_only: args.intra_only,
                ..EncodeConfig::default()
            },
            split: args.split,
            jobs: args.jobs,
        };
        cfg.validate()?;
        Ok(cfg)
    }

    /// Checks every field.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the first field out of range.
    pub fn validate(&self) -> Result<()> {
        if self.clips_per_class == 0 || self.clips_per_class > 1_000_000 {
            return Err(Error::config("clips_per_class", format!("{} is not in [1, 1000000]", self.clips_per_class)));
        }
        if self.families.is_empty() {
            return Err(Error::config("families", "no family selected"));
        }
        if self.jobs == Some(0) {
            return Err(Error::config("jobs", "must be at least 1"));
        }
        self.scene.validate()?;
        self.encode.validate()?;
        self.split.validate()
    }
}
