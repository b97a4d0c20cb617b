//! Where the training loop's batches come from: a feature store ([`StoreSource`], the cached mode)
//! or raw videos through the frozen encoder ([`super::online::OnlineSource`], `fit --online`). The
//! loop in [`super::fit`] only sees this trait, so both modes share it.

use burn::tensor::{Device, TensorData};
use dist_store::{Expect, LabelSet, Reader, Store, StoreMeta};

use super::data::{epoch_order, videos_of_split, Batch, Batches, VideoClips};
use crate::model::{ContrastiveHead, DistConfig};

/// Batches on the device, or the error that ends the epoch.
pub type BatchIter<'a> = Box<dyn Iterator<Item = anyhow::Result<Batch>> + 'a>;

/// A labelled video: id and class index.
pub type LabelledVideo = (String, usize);

/// A source of training and validation batches.
pub trait BatchSource {
    /// Encoder, geometry and sampling of the clips: the store's metadata, or the one an online run's
    /// clips would have in a store (recorded in `run.json` so `predict` cuts videos the same way).
    fn meta(&self) -> &StoreMeta;
    /// The labelled training videos.
    fn train_videos(&self) -> &[LabelledVideo];
    /// The labelled validation videos (may be empty).
    fn val_videos(&self) -> &[LabelledVideo];
    /// Training epoch `epoch`: one view of every training video, in an order (and, online, with
    /// augmentations) fixed by `seed` and `epoch`. `Batch.labels` are class indices.
    fn train_epoch(&self, epoch: usize, seed: u64, batch_size: usize, device: &Device) -> BatchIter<'_>;
    /// Every test view of every validation video. `Batch.labels` index [`Self::val_videos`].
    fn val_batches(&self, batch_size: usize, device: &Device) -> BatchIter<'_>;
    /// Distinct videos skipped so far as unreadable (online mode; a store has none).
    fn skipped_videos(&self) -> usize {
        0
    }
}

/// The class names and, for the contrastive head, their text embeddings `[K, dim]` row-major.
#[derive(Debug, Clone)]
pub struct ClassTargets {
    pub classes: Vec<String>,
    pub embeddings: Option<(Vec<f32>, usize)>,
}

impl ClassTargets {
    pub fn of_label_set(set: &LabelSet, with_embeddings: bool) -> Self {
        Self { classes: set.classes.clone(), embeddings: with_embeddings.then(|| (set.embeddings.clone(), set.dim)) }
    }

    /// `scale · cos(video, text)` on `device`; `None` without embeddings (linear head).
    pub fn head(&self, embed_dim: usize, scale: f64, device: &Device) -> anyhow::Result<Option<ContrastiveHead>> {
        let Some((emb, dim)) = &self.embeddings else { return Ok(None) };
        anyhow::ensure!(*dim == embed_dim, "the class text embeddings are {dim}-d, the model projects to {embed_dim}");
        let k = self.classes.len();
        Ok(Some(ContrastiveHead::new(burn::tensor::Tensor::from_data(TensorData::new(emb.clone(), [k, *dim]), device), scale)))
    }
}

/// The cached mode: clips read from a feature store with the store's prefetching reader.
pub struct StoreSource {
    store: Store,
    reader: Reader,
    train: Vec<VideoClips>,
    val: Vec<VideoClips>,
    train_ids: Vec<LabelledVideo>,
    val_ids: Vec<LabelledVideo>,
    layers: Vec<usize>,
    frames: bool,
    threads: usize,
    prefetch: usize,
}

impl StoreSource {
    /// Opens `store` for a model, checking the layers it taps are stored; `val_split` may be absent.
    pub fn open(path: &std::path::Path, model: &DistConfig, val_split: &str, threads: usize, prefetch: usize) -> anyhow::Result<Self> {
        let layers = model.selected_layers()?;
        let store = Store::open_expecting(path, &Expect::new().layers(&layers))?;
        let reader = store.reader()?;
        let train = videos_of_split(&reader, "train");
        let val = videos_of_split(&reader, val_split);
        anyhow::ensure!(!train.is_empty(), "the store has no labelled training clips");
        let ids = |v: &[VideoClips]| v.iter().map(|v| (v.video_id.clone(), v.label)).collect();
        Ok(Self {
            train_ids: ids(&train),
            val_ids: ids(&val),
            store,
            reader,
            train,
            val,
            layers,
            frames: model.has_temporal(),
            threads,
            prefetch,
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }
}

impl BatchSource for StoreSource {
    fn meta(&self) -> &StoreMeta {
        self.store.meta()
    }

    fn train_videos(&self) -> &[LabelledVideo] {
        &self.train_ids
    }

    fn val_videos(&self) -> &[LabelledVideo] {
        &self.val_ids
    }

    fn train_epoch(&self, epoch: usize, seed: u64, batch_size: usize, device: &Device) -> BatchIter<'_> {
        let order = epoch_order(&self.train, seed, epoch);
        let batches = Batches::new(&self.reader, &order, &self.layers, self.frames, batch_size, self.threads, self.prefetch, device);
        Box::new(batches.map(|b| b.map_err(anyhow::Error::from)))
    }

    fn val_batches(&self, batch_size: usize, device: &Device) -> BatchIter<'_> {
        let batches = eval_batches(&self.reader, &self.val, &self.layers, self.frames, batch_size, device);
        Box::new(batches.map(|b| b.map_err(anyhow::Error::from)))
    }
}

/// All stored views of `videos`, with `Batch.labels` the index of the clip's video in `videos`.
pub fn eval_batches(reader: &Reader, videos: &[VideoClips], layers: &[usize], frames: bool, batch_size: usize, device: &Device) -> Batches {
    let order: Vec<(u64, usize)> =
        videos.iter().enumerate().flat_map(|(vi, v)| v.clips.iter().map(move |&c| (c, vi))).collect();
    Batches::new(reader, &order, layers, frames, batch_size, 2, 4 * batch_size, device)
}
