//! The data path: the store's clips grouped by video, the per-epoch order (one of the K stored
//! training views of each video, shuffled, deterministic per seed and epoch), and batches assembled
//! from a bounded background prefetcher into the tensors the model takes.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor};
use dist_store::{dense_video, spatial_taps, ClipSample, Reader, StoreMeta};
use rand::seq::{IndexedRandom, SliceRandom};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The stored clips (views) of one video.
#[derive(Debug, Clone)]
pub struct VideoClips {
    pub video_id: String,
    pub label: usize,
    pub clips: Vec<u64>,
}

/// Videos of `split` that have a label, with their clips, in clip order.
pub fn videos_of_split(reader: &Reader, split: &str) -> Vec<VideoClips> {
    let mut by_video: BTreeMap<(u64, String), VideoClips> = BTreeMap::new();
    let mut first_clip: BTreeMap<String, u64> = BTreeMap::new();
    for rec in reader.clips().iter().filter(|c| c.split == split) {
        let Some(label) = rec.label else { continue };
        let first = *first_clip.entry(rec.video_id.clone()).or_insert(rec.clip);
        by_video
            .entry((first, rec.video_id.clone()))
            .or_insert_with(|| VideoClips { video_id: rec.video_id.clone(), label: label as usize, clips: Vec::new() })
            .clips
            .push(rec.clip);
    }
    by_video.into_values().collect()
}

/// splitmix64, to derive independent seeds.
pub fn mix_seed(a: u64, b: u64) -> u64 {
    let mut z = a ^ b.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The clips of one training epoch: one stored view per video (so every epoch can see another
/// augmentation of it), in a shuffled order; the same for the same seed and epoch.
pub fn epoch_order(videos: &[VideoClips], seed: u64, epoch: usize) -> Vec<(u64, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(seed, epoch as u64));
    let mut order: Vec<(u64, usize)> = videos
        .iter()
        .map(|v| (*v.clips.choose(&mut rng).expect("videos have clips"), v.label))
        .collect();
    order.shuffle(&mut rng);
    order
}

/// One batch on the device.
pub struct Batch {
    /// One per model layer, `[B·T, N+1, C]`.
    pub taps: Vec<Tensor<3>>,
    /// `[B, 3, γT, H, W]` CLIP-normalised, or `[B, 1, 1, 1, 1]` zeros when the model reads no frames.
    pub frames: Tensor<5>,
    pub labels: Vec<usize>,
    /// The store's clip ids (online: the manifest video index).
    pub clips: Vec<u64>,
}

/// Assembles batches of `batch_size` from `order`, reading ahead in background threads.
pub struct Batches {
    prefetch: dist_store::Prefetch,
    labels: Vec<usize>,
    pos: usize,
    batch_size: usize,
    layers: usize,
    frames: bool,
    meta: StoreMeta,
    device: Device,
}

impl Batches {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        reader: &Reader,
        order: &[(u64, usize)],
        layers: &[usize],
        frames: bool,
        batch_size: usize,
        threads: usize,
        prefetch: usize,
        device: &Device,
    ) -> Self {
        let clips: Vec<u64> = order.iter().map(|o| o.0).collect();
        Self {
            prefetch: reader.prefetch(clips, layers.to_vec(), frames, prefetch, threads),
            labels: order.iter().map(|o| o.1).collect(),
            pos: 0,
            batch_size,
            layers: layers.len(),
            frames,
            meta: reader.store().meta().clone(),
            device: device.clone(),
        }
    }
}

impl Iterator for Batches {
    type Item = dist_store::Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut samples: Vec<ClipSample> = Vec::with_capacity(self.batch_size);
        for s in self.prefetch.by_ref().take(self.batch_size) {
            match s {
                Ok(s) => samples.push(s),
                Err(e) => return Some(Err(e)),
            }
        }
        if samples.is_empty() {
            return None;
        }
        let n = samples.len();
        let labels = self.labels[self.pos..self.pos + n].to_vec();
        self.pos += n;
        let spatial: Vec<&[f32]> = samples.iter().map(|s| s.spatial.as_slice()).collect();
        let taps = spatial_taps(&spatial, self.layers, &self.meta, &self.device);
        let frames = if self.frames {
            let f: Vec<&[u8]> = samples.iter().map(|s| s.frames.as_slice()).collect();
            dense_video(&f, &self.meta, &self.device)
        } else {
            Tensor::zeros([n, 1, 1, 1, 1], &self.device)
        };
        Some(Ok(Batch { taps, frames, labels, clips: samples.iter().map(|s| s.record.clip).collect() }))
    }
}
