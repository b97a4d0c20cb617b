//! The deterministic plan of a job: which video's clips go to which clip indices and shards.
//!
//! Videos are packed in manifest order into shards of `clips_per_shard` clips without splitting a
//! video, so a shard (the store's unit of writing) is owned by exactly one worker and holds whole
//! videos. The plan depends only on the manifests and the config, so every process of a sharded job
//! and every resumed run computes the same one.

use dist_video::{ManifestEntry, SamplingConfig, Split};

/// One video of the plan.
#[derive(Debug, Clone)]
pub struct PlannedVideo {
    pub entry: ManifestEntry,
    pub split: Split,
    /// Clips cut from it (views x spatial crops).
    pub clips: u64,
    pub shard: u64,
    /// Index of its first clip along the store's clip axis.
    pub first_clip: u64,
}

/// The whole job's layout.
#[derive(Debug, Clone)]
pub struct Plan {
    pub videos: Vec<PlannedVideo>,
    pub clips_per_shard: u64,
    pub num_shards: u64,
}

impl Plan {
    /// Packs `entries` (in order) into shards.
    pub fn new(entries: Vec<(ManifestEntry, Split)>, sampling: &SamplingConfig, clips_per_shard: u64) -> Self {
        let max_clips = clips_for(Split::Train, sampling).max(clips_for(Split::Test, sampling));
        let clips_per_shard = clips_per_shard.max(max_clips);
        let mut videos = Vec::with_capacity(entries.len());
        let (mut shard, mut used) = (0u64, 0u64);
        for (entry, split) in entries {
            let clips = clips_for(split, sampling);
            if used + clips > clips_per_shard {
                shard += 1;
                used = 0;
            }
            videos.push(PlannedVideo { entry, split, clips, shard, first_clip: shard * clips_per_shard + used });
            used += clips;
        }
        let num_shards = if videos.is_empty() { 0 } else { shard + 1 };
        Self { videos, clips_per_shard, num_shards }
    }

    pub fn num_clips(&self) -> u64 {
        self.num_shards * self.clips_per_shard
    }

    /// The videos of one shard, in order.
    pub fn shard_videos(&self, shard: u64) -> impl Iterator<Item = &PlannedVideo> {
        self.videos.iter().filter(move |v| v.shard == shard)
    }
}

/// Clips per video of a split: K random views for training, views x crops for val/test.
pub fn clips_for(split: Split, s: &SamplingConfig) -> u64 {
    match split {
        Split::Train => s.train_views as u64,
        Split::Val | Split::Test => (s.test_views * s.spatial_crops) as u64,
    }
}

/// Which shards this process owns: `index`, `index + count`, ... (round robin balances long and
/// short videos across workers).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardSelection {
    pub index: u64,
    pub count: u64,
}

impl ShardSelection {
    pub const ALL: Self = Self { index: 0, count: 1 };

    pub fn owns(&self, shard: u64) -> bool {
        shard % self.count == self.index
    }

    /// Parses `i/n` (0-based i).
    pub fn parse(s: &str) -> anyhow::Result<Self> {
        let (i, n) = s.split_once('/').ok_or_else(|| anyhow::anyhow!("--shard {s:?}: expected i/n, e.g. 0/4"))?;
        let (index, count): (u64, u64) = (i.trim().parse()?, n.trim().parse()?);
        anyhow::ensure!(count > 0 && index < count, "--shard {s:?}: need 0 <= i < n");
        Ok(Self { index, count })
    }

    /// From a Slurm job array (`SLURM_ARRAY_TASK_ID`, `SLURM_ARRAY_TASK_COUNT`, `SLURM_ARRAY_TASK_MIN`)
    /// or a Kubernetes Indexed Job (`JOB_COMPLETION_INDEX` with the count in `DIST_SHARD_COUNT`).
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> anyhow::Result<Option<Self>> {
        let num = |name: &str| -> anyhow::Result<Option<u64>> {
            get(name).map(|v| v.trim().parse::<u64>().map_err(|e| anyhow::anyhow!("{name}={v:?}: {e}"))).transpose()
        };
        if let (Some(id), Some(count)) = (num("SLURM_ARRAY_TASK_ID")?, num("SLURM_ARRAY_TASK_COUNT")?) {
            let min = num("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let index = id.checked_sub(min).ok_or_else(|| anyhow::anyhow!("SLURM_ARRAY_TASK_ID {id} < MIN {min}"))?;
            anyhow::ensure!(count > 0 && index < count, "Slurm array task {index} of {count}: ids must be contiguous");
            return Ok(Some(Self { index, count }));
        }
        if let Some(index) = num("JOB_COMPLETION_INDEX")? {
            let count = num("DIST_SHARD_COUNT")?.ok_or_else(|| {
                anyhow::anyhow!("JOB_COMPLETION_INDEX is set: also set DIST_SHARD_COUNT to the Job's completions")
            })?;
            anyhow::ensure!(count > 0 && index < count, "JOB_COMPLETION_INDEX {index} not below DIST_SHARD_COUNT {count}");
            return Ok(Some(Self { index, count }));
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn entry(i: usize) -> ManifestEntry {
        ManifestEntry { line: i + 1, video_id: format!("v{i}"), path: format!("v{i}.mp4").into(), label: Some(0), num_frames: None, split: None }
    }

    #[test]
    fn videos_never_straddle_shards() {
        let s = SamplingConfig { train_views: 2, test_views: 3, ..Default::default() };
        let entries = (0..7).map(|i| (entry(i), if i % 2 == 0 { Split::Train } else { Split::Test })).collect();
        let plan = Plan::new(entries, &s, 5);
        for v in &plan.videos {
            let start = v.shard * plan.clips_per_shard;
            assert!(v.first_clip >= start && v.first_clip + v.clips <= start + plan.clips_per_shard, "{v:?}");
        }
        let mut seen = std::collections::HashSet::new();
        for v in &plan.videos {
            for c in v.first_clip..v.first_clip + v.clips {
                assert!(seen.insert(c), "clip {c} planned twice");
            }
        }
        // A shard smaller than one video's clips grows to fit it.
        assert_eq!(Plan::new(vec![(entry(0), Split::Test)], &s, 1).clips_per_shard, 3);
    }

    #[test]
    fn shard_selection_from_env() {
        let env = |pairs: &[(&str, &str)]| {
            let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            move |k: &str| m.get(k).cloned()
        };
        assert_eq!(ShardSelection::from_env(env(&[])).unwrap(), None);
        let s = ShardSelection::from_env(env(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_COUNT", "4"), ("SLURM_ARRAY_TASK_MIN", "1")]));
        assert_eq!(s.unwrap(), Some(ShardSelection { index: 2, count: 4 }));
        let s = ShardSelection::from_env(env(&[("JOB_COMPLETION_INDEX", "1"), ("DIST_SHARD_COUNT", "2")]));
        assert_eq!(s.unwrap(), Some(ShardSelection { index: 1, count: 2 }));
        assert!(ShardSelection::from_env(env(&[("JOB_COMPLETION_INDEX", "1")])).is_err());
        assert_eq!(ShardSelection::parse("1/3").unwrap(), ShardSelection { index: 1, count: 3 });
        assert!(ShardSelection::parse("3/3").is_err());
        let sel = ShardSelection { index: 1, count: 3 };
        assert!(sel.owns(4) && !sel.owns(3));
    }
}
