//! `fit --online`: the frozen encoder inside the training loop, as the paper trains. Videos are
//! decoded in background threads (dist-video, ordered and bounded), each epoch with fresh seeded
//! augmentation (TSN offsets, random-resized crop, flip); the CLIP vision tower (dist-clip) runs on
//! the trainer's thread as part of fetching a batch. Unreadable videos are skipped with a warning and
//! counted, never fatal.

use std::collections::{BTreeSet, VecDeque};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex};

use anyhow::Context;
use burn::tensor::Device;
use dist_clip::ClipModel;
use dist_extract::commands::manifest_args::ManifestArgs;
use dist_extract::job::meta;
use dist_store::{ElementType, StoreMeta};
use dist_video::{DecodedClip, SamplingConfig, Split};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::data::{mix_seed, Batch};
use super::source::{BatchIter, BatchSource, ClassTargets, LabelledVideo};
use super::HeadKind;
use crate::frozen::FrozenEncoder;

/// What an online run reads: the frozen model, the manifests, how clips are cut.
#[derive(Debug, Clone)]
pub struct OnlineSpec {
    /// `--model`: builtin:NAME, a Hugging Face directory or a .safetensors file.
    pub model: String,
    pub data: ManifestArgs,
    /// The extraction config's `[sampling]` (T, γ, size, crop scale, flip, test views, seed).
    pub sampling: SamplingConfig,
    /// Take `sampling.input_size` from the model (no config file or `--size` gave it).
    pub size_from_model: bool,
    /// Prompt templates of the class names (contrastive head), as `dist-extract run --templates`.
    pub templates: Vec<String>,
}

/// A manifest video.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    path: PathBuf,
    label: usize,
}

/// The training and validation videos of the manifests, the frozen encoder, the sampling.
pub struct OnlineSource {
    encoder: Arc<FrozenEncoder>,
    sampling: SamplingConfig,
    train: Arc<Vec<Entry>>,
    val: Arc<Vec<Entry>>,
    train_ids: Vec<LabelledVideo>,
    val_ids: Vec<LabelledVideo>,
    frames: bool,
    threads: usize,
    prefetch: usize,
    skipped: Arc<Mutex<BTreeSet<String>>>,
}

/// The metadata a store extracted from `clip` with `sampling` would have (every block "stored",
/// f32): what the model config is resolved against and what `predict` later cuts videos with.
pub fn online_meta(clip: &ClipModel, name: &str, sampling: &SamplingConfig) -> anyhow::Result<StoreMeta> {
    let fp = &clip.fingerprint;
    Ok(StoreMeta {
        format_version: dist_store::FORMAT_VERSION,
        encoder: meta::encoder_fingerprint(clip, name),
        preprocessing: meta::preprocessing(clip, sampling),
        sampling: meta::sampling(sampling)?,
        layers: (1..=fp.layers).collect(),
        element_type: ElementType::F32,
        num_clips: 0,
        clips_per_shard: 1,
        zstd_level: 0,
        compression: dist_store::Compression::Zstd,
        created_by: format!("dist-train {} fit --online", env!("CARGO_PKG_VERSION")),
        planned_videos: 0,
    })
}

/// Loads the model and resolves the sampling: the model, its clips' metadata, the sampling.
pub fn load(spec: &OnlineSpec, backend: dist_clip::Backend) -> anyhow::Result<(ClipModel, StoreMeta, SamplingConfig)> {
    let device = backend.device(burn::tensor::DType::F32)?;
    let clip = dist_clip::load_model(&spec.model, &device).with_context(|| format!("loading model {:?}", spec.model))?;
    let mut sampling = spec.sampling.clone();
    if spec.size_from_model {
        sampling.input_size = clip.fingerprint.image_size as u32;
    }
    // Many videos decode at once: one FFmpeg thread each.
    sampling.limits.threads = 1;
    sampling.validate()?;
    let meta = online_meta(&clip, &spec.model, &sampling)?;
    Ok((clip, meta, sampling))
}

/// The class names (`--classes`, else `0..K` from the manifests' labels for a linear head) and, for
/// the contrastive head, their CLIP text embeddings.
pub fn class_targets(spec: &OnlineSpec, clip: &ClipModel, head: HeadKind) -> anyhow::Result<ClassTargets> {
    let list = spec.data.class_list()?;
    let classes: Vec<String> = match &list {
        Some(l) => l.names().to_vec(),
        None => {
            anyhow::ensure!(
                head == HeadKind::Linear,
                "--classes is required for the contrastive head: its targets are the CLIP text embeddings of the class names"
            );
            let k = spec.data.entries(None)?.iter().filter_map(|(e, _)| e.label).max().map_or(0, |m| m + 1);
            (0..k).map(|i| i.to_string()).collect()
        }
    };
    anyhow::ensure!(!classes.is_empty(), "no classes: the manifests give no labels and --classes none");
    if head == HeadKind::Linear {
        return Ok(ClassTargets { classes, embeddings: None });
    }
    let templates = dist_extract::job::labels::resolve_templates(&spec.templates)?;
    let names: Vec<&str> = classes.iter().map(String::as_str).collect();
    let tmpl: Vec<&str> = templates.iter().map(String::as_str).collect();
    let emb = clip.text().context("the contrastive head needs the model's text tower")?.class_embeddings(&names, &tmpl)?;
    let [_, dim] = emb.dims();
    let emb = emb.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(ClassTargets { classes, embeddings: Some((emb, dim)) })
}

impl OnlineSource {
    /// The manifests' labelled `train` videos and `val_split` videos (absent: no validation).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        spec: &OnlineSpec,
        encoder: FrozenEncoder,
        sampling: SamplingConfig,
        classes: usize,
        val_split: &str,
        frames: bool,
        threads: usize,
        prefetch: usize,
    ) -> anyhow::Result<Self> {
        let list = spec.data.class_list()?;
        let val_split: Option<Split> = val_split.parse().ok();
        let (mut train, mut val, mut unlabelled) = (Vec::new(), Vec::new(), 0usize);
        for (e, split) in spec.data.entries(list.as_ref())? {
            let Some(label) = e.label else {
                unlabelled += 1;
                continue;
            };
            anyhow::ensure!(label < classes, "video {} ({}) has label {label} but there are {classes} classes", e.video_id, e.path.display());
            let entry = Entry { id: e.video_id, path: e.path, label };
            if split == Split::Train {
                train.push(entry);
            } else if Some(split) == val_split {
                val.push(entry);
            }
        }
        if unlabelled > 0 {
            tracing::warn!("{unlabelled} manifest videos have no label and are not used");
        }
        anyhow::ensure!(!train.is_empty(), "the manifests list no labelled training videos (give one as --manifest train=FILE)");
        let ids = |v: &[Entry]| v.iter().map(|e| (e.id.clone(), e.label)).collect();
        Ok(Self {
            train_ids: ids(&train),
            val_ids: ids(&val),
            encoder: Arc::new(encoder),
            sampling,
            train: Arc::new(train),
            val: Arc::new(val),
            frames,
            threads: threads.max(1),
            prefetch: prefetch.max(1),
            skipped: Default::default(),
        })
    }

    /// Decodes `order` (indices into `videos`) in the background and encodes batches of their clips;
    /// `label` gives a clip's `Batch.labels` entry from its video's index.
    #[allow(clippy::too_many_arguments)]
    fn batches(
        &self,
        videos: Arc<Vec<Entry>>,
        order: Vec<usize>,
        split: Split,
        sampling: SamplingConfig,
        label: fn(&Entry, usize) -> usize,
        batch_size: usize,
        device: &Device,
    ) -> BatchIter<'_> {
        let vids = videos.clone();
        let decoded = ordered_map(order, self.threads, self.prefetch, move |i: usize| {
            let e = &vids[i];
            (i, FrozenEncoder::decode(&e.path, &e.id, split, &sampling))
        });
        Box::new(ClipBatches {
            decoded: Box::new(decoded),
            videos,
            label,
            pending: VecDeque::new(),
            batch_size: batch_size.max(1),
            source: self,
            device: device.clone(),
        })
    }
}

impl BatchSource for OnlineSource {
    fn meta(&self) -> &StoreMeta {
        &self.encoder.meta
    }

    fn train_videos(&self) -> &[LabelledVideo] {
        &self.train_ids
    }

    fn val_videos(&self) -> &[LabelledVideo] {
        &self.val_ids
    }

    /// A fresh view of every video per epoch: its own TSN offsets, crop and flip, drawn from
    /// (sampling seed, training seed, epoch, video id).
    fn train_epoch(&self, epoch: usize, seed: u64, batch_size: usize, device: &Device) -> BatchIter<'_> {
        let mut order: Vec<usize> = (0..self.train.len()).collect();
        order.shuffle(&mut ChaCha8Rng::seed_from_u64(mix_seed(seed, epoch as u64)));
        let mut sampling = self.sampling.clone();
        sampling.train_views = 1;
        sampling.seed = mix_seed(mix_seed(self.sampling.seed, seed), epoch as u64 + 1);
        self.batches(self.train.clone(), order, Split::Train, sampling, |e, _| e.label, batch_size, device)
    }

    fn val_batches(&self, batch_size: usize, device: &Device) -> BatchIter<'_> {
        let order = (0..self.val.len()).collect();
        self.batches(self.val.clone(), order, Split::Test, self.sampling.clone(), |_, i| i, batch_size, device)
    }

    fn skipped_videos(&self) -> usize {
        self.skipped.lock().map_or(0, |s| s.len())
    }
}

/// Decoded videos → encoded batches of `batch_size` clips (a video's views may straddle batches).
struct ClipBatches<'a> {
    decoded: Box<dyn Iterator<Item = (usize, anyhow::Result<Vec<DecodedClip>>)>>,
    videos: Arc<Vec<Entry>>,
    label: fn(&Entry, usize) -> usize,
    /// Decoded clips not yet batched: clip, `Batch.labels` entry, video index.
    pending: VecDeque<(DecodedClip, usize, u64)>,
    batch_size: usize,
    source: &'a OnlineSource,
    device: Device,
}

impl Iterator for ClipBatches<'_> {
    type Item = anyhow::Result<Batch>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.pending.len() < self.batch_size {
            let Some((i, result)) = self.decoded.next() else { break };
            let e = &self.videos[i];
            match result {
                Ok(clips) => self.pending.extend(clips.into_iter().map(|c| (c, (self.label)(e, i), i as u64))),
                Err(err) => {
                    let mut skipped = self.source.skipped.lock().expect("skip list lock");
                    if skipped.insert(e.path.display().to_string()) {
                        tracing::warn!("skipping video {} ({}): {err:#}", e.id, e.path.display());
                    }
                }
            }
        }
        if self.pending.is_empty() {
            return None;
        }
        let n = self.pending.len().min(self.batch_size);
        let chunk: Vec<_> = self.pending.drain(..n).collect();
        let refs: Vec<&DecodedClip> = chunk.iter().map(|c| &c.0).collect();
        Some(self.source.encoder.encode(&refs, self.source.frames, &self.device).map(|(taps, frames)| Batch {
            taps,
            frames,
            labels: chunk.iter().map(|c| c.1).collect(),
            clips: chunk.iter().map(|c| c.2).collect(),
        }))
    }
}

/// `f` over `items` on `threads` background threads, at most `depth` ahead of the consumer, results
/// in input order.
fn ordered_map<T, R>(items: Vec<T>, threads: usize, depth: usize, f: impl Fn(T) -> R + Send + Sync + 'static) -> impl Iterator<Item = R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("online-decode-{i}")).build();
    let pool = Arc::new(pool.expect("decode thread pool"));
    let f = Arc::new(f);
    let mut items = items.into_iter();
    let mut window: VecDeque<mpsc::Receiver<R>> = VecDeque::new();
    let spawn = move |window: &mut VecDeque<mpsc::Receiver<R>>, items: &mut std::vec::IntoIter<T>| {
        if let Some(item) = items.next() {
            let (tx, rx) = mpsc::sync_channel(1);
            let f = f.clone();
            pool.spawn_fifo(move || {
                let _ = tx.send(f(item));
            });
            window.push_back(rx);
        }
    };
    for _ in 0..depth {
        spawn(&mut window, &mut items);
    }
    std::iter::from_fn(move || {
        let rx = window.pop_front()?;
        spawn(&mut window, &mut items);
        Some(rx.recv().expect("a background decode thread panicked"))
    })
}
