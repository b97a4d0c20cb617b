//! `dist-extract scan`: decode every frame the sampling would take, without the encoder, and list the
//! unusable videos with their reasons.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args as ClapArgs;
use dist_video::{plan_views, video_seed, SamplingConfig, VideoReader};
use rayon::prelude::*;

use crate::commands::manifest_args::{manifest_required, ManifestArgs};

/// Find the videos of a manifest that cannot be used, and why.
///
/// Writes a tab-separated list (`line`, `video_id`, `path`, `kind`, `reason`) of the unusable videos to
/// `--out` (default: standard output); the exit code is 0 when the scan ran, whatever it found.
#[derive(Debug, ClapArgs)]
#[command(group = manifest_required())]
pub struct Args {
    #[command(flatten)]
    pub data: ManifestArgs,
    /// TOML job settings (only `[sampling]` is used).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Where to write the list (default: standard output).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Args {
    pub fn run(self) -> anyhow::Result<()> {
        let sampling: SamplingConfig = match &self.config {
            Some(p) => {
                let cfg: crate::job::ExtractConfig = toml::from_str(&std::fs::read_to_string(p)?)
                    .with_context(|| format!("parsing {}", p.display()))?;
                cfg.sampling
            }
            None => SamplingConfig::default(),
        };
        let classes = self.data.class_list()?;
        let entries = self.data.entries(classes.as_ref())?;
        let progress = crate::job::Progress::new(entries.len() as u64);
        let bad: Vec<_> = entries
            .par_iter()
            .filter_map(|(e, split)| {
                let result = VideoReader::open(&e.path, &sampling.limits).and_then(|r| {
                    let plans = plan_views(r.info(), *split, &sampling, video_seed(&e.video_id));
                    r.decode_views(&plans, &sampling).map(|_| ())
                });
                progress.video_done();
                result.err().map(|err| (e, err))
            })
            .collect();
        progress.finish();
        let mut out: Box<dyn Write> = match &self.out {
            Some(p) => Box::new(std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?),
            None => Box::new(std::io::stdout().lock()),
        };
        writeln!(out, "line\tvideo_id\tpath\tkind\treason")?;
        for (e, err) in &bad {
            let reason = err.to_string().replace(['\t', '\n'], " ");
            writeln!(out, "{}\t{}\t{}\t{}\t{reason}", e.line, e.video_id, e.path.display(), err.kind())?;
        }
        eprintln!("scanned {} videos: {} unusable", entries.len(), bad.len());
        Ok(())
    }
}
