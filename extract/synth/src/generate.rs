//! The generator job: plan, render and encode in parallel, write the metadata.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;
use serde::Serialize;

use crate::config::{SynthArgs, SynthConfig};
use crate::dataset::{plan, ClipRecord, Group};
use crate::encode::{init_ffmpeg, write_clip};
use crate::error::{Error, Result};
use crate::family::class_table;
use crate::manifest::write_metadata;
use crate::split::Split;

/// What a generator run produced.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    /// The output directory.
    pub out: PathBuf,
    /// Number of classes.
    pub classes: usize,
    /// Number of video files written.
    pub clips: usize,
    /// Clips per split, in [`Split::ALL`] order.
    pub per_split: [usize; 3],
    /// Wall time of rendering and encoding, in seconds.
    pub seconds: f64,
}

impl Summary {
    /// Rendered and encoded clips per second of wall time.
    pub fn clips_per_second(&self) -> f64 {
        self.clips as f64 / self.seconds.max(1e-9)
    }
}

/// Validates `args` and runs [`generate`].
///
/// # Errors
/// See [`SynthConfig::from_args`] and [`generate`].
pub fn run(args: &SynthArgs) -> Result<Summary> {
    generate(&SynthConfig::from_args(args)?)
}

/// Renders and encodes every clip of `cfg` into `cfg.out`, then writes the metadata files.
///
/// # Errors
/// [`Error::InvalidConfig`] for a bad configuration, [`Error::Io`] if the output directory cannot be
/// created, and the first encoding error ([`Error::Ffmpeg`] etc.) of any clip.
pub fn generate(cfg: &SynthConfig) -> Result<Summary> {
    cfg.validate()?;
    init_ffmpeg();
    let classes = class_table(&cfg.families);
    let groups = plan(&classes, cfg.clips_per_class, &cfg.split, cfg.seed, cfg.encode.codec);
    let records: Vec<ClipRecord> = groups.iter().flat_map(|g| g.clips.iter().cloned()).collect();
    for family in &cfg.families {
        let dir = cfg.out.join(family.name());
        std::fs::create_dir_all(&dir).map_err(|e| Error::io("create directory", dir, e))?;
    }
    tracing::info!(
        out = %cfg.out.display(),
        classes = classes.len(),
        clips = records.len(),
        codec = %cfg.encode.codec,
        size = cfg.scene.size,
        frames = cfg.scene.frames,
        "generating synthetic time-reversal benchmark"
    );

    let start = Instant::now();
    let progress = Progress::new(records.len());
    let encode_all = || groups.par_iter().try_for_each(|group| encode_group(&cfg.out, group, cfg, &progress));
    match cfg.jobs {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| Error::config("jobs", e.to_string()))?
            .install(encode_all)?,
        None => encode_all()?,
    }
    progress.finish();
    let seconds = start.elapsed().as_secs_f64();

    write_metadata(&cfg.out, cfg, &classes, &records)?;
    let per_split = Split::ALL.map(|s| records.iter().filter(|r| r.split == s).count());
    let summary = Summary { out: cfg.out.clone(), classes: classes.len(), clips: records.len(), per_split, seconds };
    tracing::info!(
        clips = summary.clips,
        seconds = format!("{:.1}", summary.seconds),
        clips_per_second = format!("{:.1}", summary.clips_per_second()),
        "done"
    );
    Ok(summary)
}

/// Renders one group's base clip and writes it (and, for paired families, its reversal).
fn encode_group(out: &Path, group: &Group, cfg: &SynthConfig, progress: &Progress) -> Result<()> {
    for (record, clip) in group.clips.iter().zip(group.render_clips(&cfg.scene, cfg.seed)) {
        write_clip(&out.join(&record.path), &clip, &cfg.encode)?;
        progress.inc();
    }
    Ok(())
}

/// A progress bar on a terminal; a log line every 10% otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    done: AtomicUsize,
    total: usize,
}

impl Progress {
    fn new(total: usize) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} clips {per_sec} eta {eta}") {
                bar.set_style(style);
            }
            bar
        });
        Self { bar, done: AtomicUsize::new(0), total }
    }

    fn inc(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        match &self.bar {
            Some(bar) => bar.inc(1),
            None if done * 10 / self.total.max(1) != (done - 1) * 10 / self.total.max(1) => {
                tracing::info!(done, total = self.total, "clips written");
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
