//! `dist-extract run`: fill a feature store from a dataset's manifests, resumable and shardable.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args as ClapArgs;
use dist_store::{default_clips_per_shard, Compression, ElementType, Store, StoreMeta};

use crate::commands::common::ModelArgs;
use crate::commands::manifest_args::{manifest_required, ManifestArgs};
use crate::job::{self, parse_layers, ExtractConfig, Plan, Progress, ShardSelection};

/// Extract a dataset into a feature store.
///
/// Re-running the same command resumes: finished shards are kept, unfinished ones are redone. Several
/// processes may fill one store at once with `--shard i/n` (or Slurm / Kubernetes job-array variables).
#[derive(Debug, ClapArgs)]
#[command(group = manifest_required())]
pub struct Args {
    #[command(flatten)]
    pub data: ManifestArgs,
    #[command(flatten)]
    pub model: ModelArgs,
    /// The store directory (created if missing; resumed if it exists).
    #[arg(long)]
    pub out: PathBuf,
    /// TOML job settings (configs/extract/*.toml); the flags below override it.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// T: sparse frames per clip.
    #[arg(long)]
    pub t: Option<usize>,
    /// γ: dense frames per sparse frame.
    #[arg(long)]
    pub gamma: Option<usize>,
    /// Side of the stored frames and the encoder input (default: the model's image size).
    #[arg(long)]
    pub size: Option<u32>,
    /// Random views per training video.
    #[arg(long)]
    pub train_views: Option<usize>,
    /// Temporal clips per val/test video.
    #[arg(long)]
    pub test_views: Option<usize>,
    /// Spatial crops per val/test clip (1 or 3).
    #[arg(long)]
    pub spatial_crops: Option<usize>,
    /// Layers to store: all, a range (5-12) or a list (9,10,11,12).
    #[arg(long)]
    pub layers: Option<String>,
    /// Stored element type: f32, f16, bf16 or int8.
    #[arg(long)]
    pub element_type: Option<ElementType>,
    /// Compression of the stored arrays: zstd or none (more bytes, faster reads on fast disks).
    #[arg(long)]
    pub compression: Option<Compression>,
    /// Clips per encoder batch.
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Clips per Zarr shard (default: ~256 MB of data per shard).
    #[arg(long)]
    pub clips_per_shard: Option<u64>,
    /// Seed of the random training views.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Videos decoded in parallel (0: one per core).
    #[arg(long)]
    pub decode_threads: Option<usize>,
    /// This process's part of the job, `i/n`; default from SLURM_ARRAY_TASK_ID/COUNT or
    /// JOB_COMPLETION_INDEX + DIST_SHARD_COUNT, else the whole job.
    #[arg(long)]
    pub shard: Option<String>,
    /// Only redo the shards holding videos recorded as failed (after fixing or re-encoding them).
    #[arg(long)]
    pub retry_failed: bool,
    /// Prompt templates of the `train` label set: `ensemble`, a file, or literals with {} (repeatable).
    #[arg(long)]
    pub templates: Vec<String>,
}

impl Args {
    fn config(&self) -> anyhow::Result<ExtractConfig> {
        let mut cfg = match &self.config {
            Some(p) => toml::from_str(&std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?)
                .with_context(|| format!("parsing {}", p.display()))?,
            None => ExtractConfig::default(),
        };
        let s = &mut cfg.sampling;
        macro_rules! set {
            ($dst:expr, $src:expr) => {
                if let Some(v) = $src.clone() {
                    $dst = v;
                }
            };
        }
        set!(s.t, self.t);
        set!(s.gamma, self.gamma);
        set!(s.train_views, self.train_views);
        set!(s.test_views, self.test_views);
        set!(s.spatial_crops, self.spatial_crops);
        set!(s.seed, self.seed);
        set!(cfg.layers, self.layers);
        set!(cfg.element_type, self.element_type);
        set!(cfg.compression, self.compression);
        set!(cfg.batch_size, self.batch_size);
        set!(cfg.decode_threads, self.decode_threads);
        if let Some(n) = self.clips_per_shard {
            cfg.clips_per_shard = Some(n);
        }
        if let Some(size) = self.size {
            cfg.sampling.input_size = size;
        }
        Ok(cfg)
    }

    pub fn run(self) -> anyhow::Result<()> {
        let mut cfg = self.config()?;
        let model = self.model.load()?;
        if self.size.is_none() && self.config.is_none() {
            cfg.sampling.input_size = model.fingerprint.image_size as u32;
        }
        let layers = parse_layers(&cfg.layers, model.fingerprint.layers)?;
        let classes = self.data.class_list()?;
        let entries = self.data.entries(classes.as_ref())?;
        anyhow::ensure!(!entries.is_empty(), "the manifests list no videos");

        let fp = &model.fingerprint;
        let size = cfg.sampling.input_size as usize;
        let tokens = (size / fp.patch_size).pow(2) + 1;
        let clip_bytes = layers.len() * cfg.sampling.t * tokens * fp.width * cfg.element_type.size()
            + cfg.sampling.t * cfg.sampling.gamma * size * size * 3;
        let per_shard = cfg.clips_per_shard.unwrap_or_else(|| default_clips_per_shard(clip_bytes, 256 << 20));
        let plan = Plan::new(entries, &cfg.sampling, per_shard);
        let meta = StoreMeta {
            format_version: dist_store::FORMAT_VERSION,
            encoder: job::meta::encoder_fingerprint(&model, &self.model.model),
            preprocessing: job::meta::preprocessing(&model, &cfg.sampling),
            sampling: job::meta::sampling(&cfg.sampling)?,
            layers,
            element_type: cfg.element_type,
            num_clips: plan.num_clips(),
            clips_per_shard: plan.clips_per_shard,
            compression: cfg.compression,
            zstd_level: cfg.zstd_level,
            created_by: format!("dist-extract {}", env!("CARGO_PKG_VERSION")),
            planned_videos: plan.videos.len() as u64,
        };
        let store = Store::create(&self.out, meta)
            .with_context(|| format!("creating or resuming the store {}", self.out.display()))?;

        let selection = match &self.shard {
            Some(s) => ShardSelection::parse(s)?,
            None => ShardSelection::from_env(|k| std::env::var(k).ok())?.unwrap_or(ShardSelection::ALL),
        };
        let committed = store.committed_shards()?;
        let todo: Vec<u64> = if self.retry_failed {
            let failed: std::collections::BTreeSet<u64> =
                store.videos()?.iter().filter(|v| v.status == dist_store::VideoStatus::Failed).map(|v| v.shard).collect();
            failed.into_iter().filter(|&s| selection.owns(s)).collect()
        } else {
            (0..plan.num_shards).filter(|&s| selection.owns(s) && !committed.contains(&s)).collect()
        };

        if let Some(classes) = &classes {
            if selection.index == 0 && !store.label_sets()?.contains(&"train".to_string()) {
                let templates = job::labels::resolve_templates(&self.templates)?;
                job::labels::write_label_set(&store, &model, "train", classes.names(), &templates)?;
            }
        }

        let videos: u64 = todo.iter().map(|&s| plan.shard_videos(s).count() as u64).sum();
        tracing::info!(
            store = %self.out.display(),
            shards = todo.len(),
            skipped = committed.len(),
            videos,
            "extracting (shard {}/{})",
            selection.index,
            selection.count
        );
        let progress = Progress::new(videos);
        let summary = job::pipeline::run(&store, &plan, &model.vision, &cfg, &todo, &progress)?;
        progress.finish();
        let secs = summary.wall.as_secs_f64().max(1e-9);
        println!(
            "extracted {} shards: {} videos ok, {} failed, {} clips in {:.1} s ({:.2} videos/s, {:.1} frames/s); \
             busy: decode {:.1} s, encode {:.1} s, write {:.1} s",
            summary.shards,
            summary.videos_ok,
            summary.videos_failed,
            summary.clips,
            secs,
            (summary.videos_ok + summary.videos_failed) as f64 / secs,
            summary.frames as f64 / secs,
            summary.decode.as_secs_f64(),
            summary.encode.as_secs_f64(),
            summary.write.as_secs_f64(),
        );
        if summary.videos_failed > 0 {
            println!("{} videos failed: `dist-extract status {}` lists them with reasons", summary.videos_failed, self.out.display());
        }
        Ok(())
    }
}
