//! `dist-train fit`: the training loop on cached features.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::module::{Module, ParamGroup};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::{Device, ElementConversion, Tensor, TensorData};
use dist_store::{Expect, LabelSet, Store, StoreMeta};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::checkpoint::{self, TrainState};
use super::config::{HeadKind, TrainConfig, TrainSettings};
use super::data::{epoch_order, mix_seed, videos_of_split, Batches};
use super::eval::evaluate;
use super::metrics::{write_metrics, MetricRow};
use super::mix;
use super::network::Network;
use super::schedule::learning_rate;
use crate::model::{mixup_targets, soft_target_cross_entropy, ContrastiveHead, DistConfig};
use crate::tensor_io::StoredDtype;

/// What a finished run records beside its weights (`RUN/run.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    pub store: PathBuf,
    pub label_set: String,
    pub classes: Vec<String>,
    pub layers: Vec<usize>,
    pub train_videos: usize,
    pub val_videos: usize,
    pub final_top1: Option<f64>,
    pub final_top5: Option<f64>,
    pub seconds: f64,
    /// The store's metadata (encoder fingerprint, sampling, geometry), so `predict` can cut and
    /// encode a new video as the store's clips were without the store. Absent in older runs.
    #[serde(default)]
    pub store_meta: Option<StoreMeta>,
}

impl RunInfo {
    /// The training store's metadata: recorded in the run, else read from the store.
    pub fn store_meta(&self) -> anyhow::Result<StoreMeta> {
        match &self.store_meta {
            Some(m) => Ok(m.clone()),
            None => Ok(Store::open(&self.store).with_context(|| format!("opening the run's store {}", self.store.display()))?.meta().clone()),
        }
    }

    /// The label set the run trained with, read from its store.
    pub fn label_set_of_store(&self) -> anyhow::Result<LabelSet> {
        let store = Store::open(&self.store).with_context(|| format!("opening the run's store {}", self.store.display()))?;
        Ok(store.label_set(&self.label_set)?)
    }
}

/// The resolved config written to `RUN/config.toml`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResolvedConfig {
    pub model: DistConfig,
    pub train: super::config::TrainSettings,
}

/// Opens the store a config will train on, checking the layers it needs are stored.
pub fn open_store(path: &Path, model: &DistConfig) -> anyhow::Result<Store> {
    let layers = model.selected_layers()?;
    Ok(Store::open_expecting(path, &Expect::new().layers(&layers))?)
}

/// The class names of the configured label set and, for the contrastive head, its text targets.
fn class_targets(store: &Store, s: &TrainSettings, embed_dim: usize, device: &Device) -> anyhow::Result<(Option<ContrastiveHead>, Vec<String>)> {
    let name = &s.label_set;
    let set = store.label_set(name)?;
    if s.head == HeadKind::Linear {
        return Ok((None, set.classes));
    }
    Ok((Some(text_head(&set, embed_dim, s.logit_scale, device)?), set.classes))
}

/// `scale · cos(video, text)` against a label set's embeddings.
pub fn text_head(set: &LabelSet, embed_dim: usize, scale: f64, device: &Device) -> anyhow::Result<ContrastiveHead> {
    anyhow::ensure!(
        set.dim == embed_dim,
        "label set {:?} has {}-d embeddings, the model projects to {embed_dim}",
        set.name,
        set.dim
    );
    let k = set.classes.len();
    Ok(ContrastiveHead::new(Tensor::from_data(TensorData::new(set.embeddings.clone(), [k, embed_dim]), device), scale))
}

/// Trains a model on `store` into `run`; with `resume`, continues from the newest checkpoint.
pub fn fit(store_path: &Path, run: &Path, cfg: &TrainConfig, resume: bool) -> anyhow::Result<RunInfo> {
    let start = Instant::now();
    let s = &cfg.train;
    let meta_store = Store::open(store_path).with_context(|| format!("opening {}", store_path.display()))?;
    let model_cfg = cfg.model_for(meta_store.meta())?;
    let store = open_store(store_path, &model_cfg)?;
    let layers = model_cfg.selected_layers()?;
    let frames_used = model_cfg.has_temporal();
    let reader = store.reader()?;
    let train = videos_of_split(&reader, "train");
    let val = videos_of_split(&reader, &s.val_split);
    anyhow::ensure!(!train.is_empty(), "the store has no labelled training clips");
    std::fs::create_dir_all(run)?;
    let resolved = ResolvedConfig { model: model_cfg.clone(), train: s.clone() };
    std::fs::write(run.join("config.toml"), toml::to_string(&resolved)?)?;

    let device = Device::flex().autodiff();
    let plain = Device::flex();
    device.seed(s.seed);
    let (text, classes) = class_targets(&store, s, model_cfg.embed_dim, &device)?;
    let (text_plain, _) = class_targets(&store, s, model_cfg.embed_dim, &plain)?;
    if let Some(bad) = train.iter().chain(&val).find(|v| v.label >= classes.len()) {
        anyhow::bail!("video {} has label {} but label set {:?} has {} classes", bad.video_id, bad.label, s.label_set, classes.len());
    }
    let mut model = Network::init(&model_cfg, s.head, classes.len(), &device)?;
    let mut state = TrainState {
        epochs_done: 0,
        step: 0,
        metrics: Vec::new(),
        param_ids: model.named_params().iter().map(|p| p.id.val()).collect(),
    };
    let resume_from = if resume { checkpoint::latest(run)? } else { None };
    if let Some(dir) = &resume_from {
        (model, state) = checkpoint::load_model(dir, model)?;
    }
    // Built after the resume restored the saved parameter ids: the no-decay group lists ids, and
    // the reloaded optimiser state routes each parameter to its group by id.
    let adam = |wd: f64| AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(wd as f32);
    let mut optim =
        adam(s.weight_decay).init().with_group(ParamGroup::from_ids(model.no_weight_decay_ids()), adam(0.0).build(), None);
    if let Some(dir) = &resume_from {
        optim = checkpoint::load_optimizer(dir, optim)?;
        tracing::info!(epochs_done = state.epochs_done, step = state.step, "resumed from {}", dir.display());
    }

    let steps_per_epoch = train.len().div_ceil(s.batch_size);
    let total = (s.epochs * steps_per_epoch) as u64;
    let bar = crate::trainer::progress_bar(total, state.step);
    let side = model_cfg_side(&store);
    for epoch in state.epochs_done..s.epochs {
        let order = epoch_order(&train, s.seed, epoch);
        let t0 = Instant::now();
        let mut clips_seen = 0usize;
        for batch in Batches::new(&reader, &order, &layers, frames_used, s.batch_size, s.loader_threads, s.prefetch, &device) {
            let mut batch = batch?;
            let step = state.step;
            let e = step as f64 / steps_per_epoch as f64;
            let lr = learning_rate(s.peak_lr(), e, s.epochs as f64, s.warmup_epochs, s.warmup_start_factor);
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(s.seed ^ 0x6d69_7875_70, step));
            let m = mix::draw(&mut rng, s, side);
            mix::apply(&mut batch, m, store.meta().encoder.patch_size, frames_used, &device);
            let targets = mixup_targets(&batch.labels, classes.len(), m.lambda(), s.label_smoothing, &device);
            let logits = model.logits(model.dist.forward(&batch.taps, batch.frames)?, text.as_ref())?;
            let loss = soft_target_cross_entropy(logits, targets);
            let loss_value: f64 = loss.clone().into_scalar::<f32>().elem();
            anyhow::ensure!(loss_value.is_finite(), "loss is {loss_value} at step {step}");
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
            clips_seen += batch.labels.len();
            state.step += 1;
            state.metrics.push(MetricRow {
                step: state.step,
                epoch: state.step as f64 / steps_per_epoch as f64,
                loss: loss_value,
                lr,
                top1: f64::NAN,
                top5: f64::NAN,
                clips_per_s: clips_seen as f64 / t0.elapsed().as_secs_f64(),
            });
            bar.set_position(state.step);
            bar.set_message(format!("epoch {} loss {loss_value:.4} lr {lr:.2e}", epoch + 1));
        }
        state.epochs_done = epoch + 1;
        let last = epoch + 1 == s.epochs;
        if !val.is_empty() && (last || (s.eval_every > 0 && (epoch + 1) % s.eval_every == 0)) {
            let valid = model.valid();
            let ev = evaluate(&valid.dist, &|v| valid.logits(v, text_plain.as_ref()), &reader, &val, &layers, frames_used, s.batch_size, &plain)?;
            tracing::info!(epoch = epoch + 1, top1 = ev.top1(), top5 = ev.top5(), "validation on {} videos", ev.videos.len());
            state.metrics.push(MetricRow {
                step: state.step,
                epoch: state.epochs_done as f64,
                loss: f64::NAN,
                lr: f64::NAN,
                top1: ev.top1(),
                top5: ev.top5(),
                clips_per_s: f64::NAN,
            });
        }
        checkpoint::save(run, &model, &optim, &state)?;
        write_metrics(&run.join("metrics.parquet"), &state.metrics)?;
    }
    bar.finish_and_clear();
    model.save_safetensors(&run.join("model.safetensors"), StoredDtype::F32)?;
    write_metrics(&run.join("metrics.parquet"), &state.metrics)?;
    let last_eval = state.metrics.iter().rev().find(|r| r.top1.is_finite());
    let info = RunInfo {
        store: store_path.canonicalize().unwrap_or_else(|_| store_path.to_path_buf()),
        label_set: s.label_set.clone(),
        classes,
        layers,
        train_videos: train.len(),
        val_videos: val.len(),
        final_top1: last_eval.map(|r| r.top1),
        final_top5: last_eval.map(|r| r.top5),
        seconds: start.elapsed().as_secs_f64(),
        store_meta: Some(store.meta().clone()),
    };
    std::fs::write(run.join("run.json"), serde_json::to_vec_pretty(&info)?)?;
    if let Err(e) = super::plot::training_curves(&run.join("curves.png"), &state.metrics) {
        tracing::warn!("could not draw curves.png: {e:#}");
    }
    Ok(info)
}

fn model_cfg_side(store: &Store) -> usize {
    store.meta().preprocessing.crop / store.meta().encoder.patch_size
}

/// Loads a finished run's model (on a plain device) for evaluation.
pub fn load_run(run: &Path, device: &Device) -> anyhow::Result<(Network, ResolvedConfig, RunInfo)> {
    let cfg: ResolvedConfig = toml::from_str(&std::fs::read_to_string(run.join("config.toml")).with_context(|| format!("{}: not a run", run.display()))?)?;
    let info: RunInfo = serde_json::from_slice(&std::fs::read(run.join("run.json")).with_context(|| format!("{}: not a finished run", run.display()))?)?;
    let model = Network::init(&cfg.model, cfg.train.head, info.classes.len(), device)?.load_safetensors(&run.join("model.safetensors"))?;
    Ok((model, cfg, info))
}
