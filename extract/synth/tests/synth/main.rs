//! Integration tests of `dist-synth`, in one test binary (FFmpeg linking is slow).

mod decode; // test helper: decode a written file back to RGB frames with ffmpeg-next
mod files; // written videos: frame count, size, timing, lossless round trip, reproducibility
mod manifest; // split lists, classes.txt, families.json, clips.csv: consistency and determinism
mod reversal; // the benchmark's contract: exact reversal, order-blind chance, order-aware separation

use std::path::Path;

use dist_synth::{Codec, EncodeConfig, Family, SceneConfig, SplitFractions, SynthConfig};

/// A small generator configuration writing into `out`.
pub fn config(out: &Path, codec: Codec, clips_per_class: usize, seed: u64, scene: SceneConfig) -> SynthConfig {
    SynthConfig {
        out: out.to_owned(),
        clips_per_class,
        seed,
        families: Family::ALL.to_vec(),
        scene,
        encode: EncodeConfig { codec, ..EncodeConfig::default() },
        split: SplitFractions::default(),
        jobs: None,
    }
}

/// The rendered clip a record's file must contain.
pub fn expected_clip(record: &dist_synth::ClipRecord, group: &dist_synth::Group, cfg: &SynthConfig) -> dist_synth::Clip {
    let k = group.clips.iter().position(|r| r == record).expect("record of this group");
    group.render_clips(&cfg.scene, cfg.seed).swap_remove(k)
}
