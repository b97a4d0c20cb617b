//! The dataset plan: which clips exist, their labels, paths and splits, and how each is rendered.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::encode::Codec;
use crate::family::{ClassInfo, Family};
use crate::scene::{render, Clip, SceneConfig};
use crate::split::{assign, Split, SplitFractions};
use crate::tracks::sample_tracks;

/// One base clip to render. A paired family's group yields two files (the clip and its reversal,
/// always in the same split); a control group yields one.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// The family.
    pub family: Family,
    /// Control shape index (0 for paired families).
    pub variant: usize,
    /// Index of the group within its family and variant, `0..clips_per_class`.
    pub index: usize,
    /// The split both of its clips belong to.
    pub split: Split,
    /// The files this group produces: `[sense 0, sense 1]` for paired families, one for control.
    pub clips: Vec<ClipRecord>,
}

/// One video file of the benchmark.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClipRecord {
    /// Path relative to the output directory, with `/` separators.
    pub path: String,
    /// Class index.
    pub label: usize,
    /// The split.
    pub split: Split,
    /// The family.
    pub family: Family,
    /// 0 for the base clip, 1 for its reversal, `None` for control.
    pub sense: Option<u8>,
    /// Identifier shared by a clip and its reversal, e.g. `translate/00012`.
    pub pair: String,
}

/// Lays out `clips_per_class` clips for every class of `classes`, with stratified splits.
pub fn plan(classes: &[ClassInfo], clips_per_class: usize, fractions: &SplitFractions, seed: u64, codec: Codec) -> Vec<Group> {
    let ext = codec.extension();
    let mut groups = Vec::new();
    // One entry per (family, variant): paired families have one stratum holding both senses.
    let mut strata: Vec<(Family, usize)> = classes.iter().map(|c| (c.family, c.variant)).collect();
    strata.dedup();
    for (family, variant) in strata {
        let labels: Vec<&ClassInfo> = classes.iter().filter(|c| c.family == family && c.variant == variant).collect();
        let splits = assign(clips_per_class, fractions, seed, stream(family, variant, 0));
        for (index, split) in splits.into_iter().enumerate() {
            let clips = labels
                .iter()
                .map(|class| {
                    let (path, pair) = match class.sense {
                        Some(sense) => (format!("{family}/{index:05}_s{sense}.{ext}"), format!("{family}/{index:05}")),
                        None => {
                            let shape = crate::shape::ShapeKind::CONTROL[variant].name();
                            (format!("{family}/{shape}_{index:05}.{ext}"), format!("{family}/{shape}_{index:05}"))
                        }
                    };
                    ClipRecord { path, label: class.index, split, family, sense: class.sense, pair }
                })
                .collect();
            groups.push(Group { family, variant, index, split, clips });
        }
    }
    groups
}

impl Group {
    /// Renders the group's base clip (sense 0, or the control clip) with its own random stream.
    ///
    /// The clip is a pure function of `(seed, family, variant, index, scene)`: independent of thread
    /// scheduling, of the split, and of which other families are generated.
    pub fn render(&self, scene: &SceneConfig, seed: u64) -> Clip {
        render_base(self.family, self.variant, self.index, scene, seed)
    }

    /// Renders the clip of every entry of [`Group::clips`], in that order: the base clip for sense 0
    /// and control, its exact reversal for sense 1.
    pub fn render_clips(&self, scene: &SceneConfig, seed: u64) -> Vec<Clip> {
        let base = self.render(scene, seed);
        self.clips.iter().map(|r| if r.sense == Some(1) { base.reversed() } else { base.clone() }).collect()
    }
}

/// Renders base clip `index` of `family` (`variant` = control shape index), as [`Group::render`].
pub fn render_base(family: Family, variant: usize, index: usize, scene: &SceneConfig, seed: u64) -> Clip {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream(family, variant, index));
    let tracks = sample_tracks(family, variant, scene, &mut rng);
    render(scene, &tracks, &mut rng)
}

/// Random stream of one base clip; split shuffles use streams >= 2^63 (see `split`).
fn stream(family: Family, variant: usize, index: usize) -> u64 {
    (family.id() << 40) | ((variant as u64) << 32) | index as u64
}
