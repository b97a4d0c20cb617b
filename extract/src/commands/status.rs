//! `dist-extract status`: what a store holds and what is still to do.

use std::path::PathBuf;

use clap::Args as ClapArgs;
use dist_store::{Store, VideoStatus};

/// Report videos done/failed/pending, clips, bytes per shard, and the failures with their reasons.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// The store directory.
    pub store: PathBuf,
    /// Also list every shard.
    #[arg(long)]
    pub shards: bool,
}

impl Args {
    pub fn run(self) -> anyhow::Result<()> {
        let store = Store::open(&self.store)?;
        let meta = store.meta();
        let videos = store.videos()?;
        let clips = store.clips()?;
        let committed = store.committed_shards()?;
        let ok = videos.iter().filter(|v| v.status == VideoStatus::Ok).count();
        let failed = videos.len() - ok;
        let pending = (meta.planned_videos as usize).saturating_sub(videos.len());
        println!("store {}", self.store.display());
        println!(
            "  encoder {} ({}), layers {:?}, {} elements, T={} γ={} {}px",
            meta.encoder.architecture,
            meta.encoder.name,
            meta.layers,
            meta.element_type,
            meta.sampling.t,
            meta.sampling.gamma,
            meta.preprocessing.crop
        );
        println!("  videos: {ok} done, {failed} failed, {pending} pending (of {} planned)", meta.planned_videos);
        println!("  clips: {} stored; shards: {} of {} committed", clips.len(), committed.len(), meta.num_shards());
        println!("  bytes on disk: {}", store.disk_bytes()?);
        println!("  label sets: {}", store.label_sets()?.join(", "));
        if self.shards {
            println!("  shard  videos  failed  clips  bytes");
            for &s in &committed {
                let vs: Vec<_> = videos.iter().filter(|v| v.shard == s).collect();
                let range = store.shard_clips(s);
                let n = clips.iter().filter(|c| range.contains(&c.clip)).count();
                let bytes: u64 = ["spatial", "spatial_scale", "frames"]
                    .iter()
                    .filter_map(|a| std::fs::metadata(store.root().join(a).join(format!("c/{s}/0/0/0/0"))).ok())
                    .map(|m| m.len())
                    .sum();
                let f = vs.iter().filter(|v| v.status == VideoStatus::Failed).count();
                println!("  {s:>5}  {:>6}  {f:>6}  {n:>5}  {bytes}", vs.len());
            }
        }
        if failed > 0 {
            println!("failed videos:");
            for v in videos.iter().filter(|v| v.status == VideoStatus::Failed) {
                println!("  line {}\t{}\t{}\t{}", v.manifest_line, v.path, v.error_kind, v.error);
            }
        }
        Ok(())
    }
}
