//! `dist-train fit`: the training loop, on cached features ([`StoreSource`]) or `--online` on raw
//! videos through the frozen encoder ([`OnlineSource`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use burn::module::{Module, ParamGroup};
use burn::optim::ModuleOptimizer;
use burn::tensor::{Device, Tensor, TensorData};
use dist_store::{Expect, LabelSet, Store, StoreMeta};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::adamw::FusedAdamW;
use super::checkpoint::{self, TrainState};
use super::config::{HeadKind, TrainConfig, TrainSettings};
use super::data::mix_seed;
use super::eval::evaluate;
use super::metrics::{write_metrics, MetricRow};
use super::mix;
use super::network::Network;
use super::online::{self, OnlineSource, OnlineSpec};
use super::parallel::Replicas;
use super::schedule::learning_rate;
use super::source::{BatchSource, ClassTargets, StoreSource};
use crate::frozen::FrozenEncoder;
use crate::model::{mixup_targets, ContrastiveHead, DistConfig};
use crate::tensor_io::StoredDtype;

/// What a finished run records beside its weights (`RUN/run.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunInfo {
    /// The feature store of a cached run (absent for `--online` runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<PathBuf>,
    /// `--online`: the manifests (`SPLIT=FILE`), the frozen model and the class-name templates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub online: Option<OnlineInfo>,
    pub label_set: String,
    pub classes: Vec<String>,
    pub layers: Vec<usize>,
    pub train_videos: usize,
    pub val_videos: usize,
    /// Videos skipped as unreadable (online mode).
    #[serde(default)]
    pub skipped_videos: usize,
    pub final_top1: Option<f64>,
    pub final_top5: Option<f64>,
    pub seconds: f64,
    /// Where the time of this process's training steps went.
    #[serde(default)]
    pub timing: Option<StepTiming>,
    /// The store's metadata (encoder fingerprint, sampling, geometry; for an online run the ones its
    /// clips would have in a store), so `predict` can cut and encode a new video as the training clips
    /// were. Absent in older runs.
    #[serde(default)]
    pub store_meta: Option<StoreMeta>,
}

/// The inputs of an online run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnlineInfo {
    pub manifests: Vec<String>,
    pub model: String,
    pub templates: Vec<String>,
}

/// Training-step timing of one `fit` process (a resumed run counts its own steps only).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct StepTiming {
    pub steps: u64,
    pub clips: u64,
    /// Waiting for batches: reading a store, or (online) decoding plus the frozen encoder.
    pub data_seconds: f64,
    /// Mixing, forward, backward and the optimiser step.
    pub train_seconds: f64,
    /// Medians over steps of the same two parts.
    pub median_data_seconds: f64,
    pub median_train_seconds: f64,
}

impl StepTiming {
    fn from_steps(steps: &[(f64, f64, usize)]) -> Self {
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
        };
        Self {
            steps: steps.len() as u64,
            clips: steps.iter().map(|s| s.2 as u64).sum(),
            data_seconds: steps.iter().map(|s| s.0).sum(),
            train_seconds: steps.iter().map(|s| s.1).sum(),
            median_data_seconds: median(steps.iter().map(|s| s.0).collect()),
            median_train_seconds: median(steps.iter().map(|s| s.1).collect()),
        }
    }
}

impl RunInfo {
    fn store_path(&self) -> anyhow::Result<&Path> {
        self.store.as_deref().ok_or_else(|| anyhow::anyhow!("the run was trained --online, without a feature store"))
    }

    /// The training store's metadata: recorded in the run, else read from the store.
    pub fn store_meta(&self) -> anyhow::Result<StoreMeta> {
        match &self.store_meta {
            Some(m) => Ok(m.clone()),
            None => {
                let path = self.store_path()?;
                Ok(Store::open(path).with_context(|| format!("opening the run's store {}", path.display()))?.meta().clone())
            }
        }
    }

    /// The label set the run trained with, read from its store.
    pub fn label_set_of_store(&self) -> anyhow::Result<LabelSet> {
        let path = self.store_path()?;
        let store = Store::open(path).with_context(|| format!("opening the run's store {}", path.display()))?;
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

/// How a `fit` call runs, beside its config.
#[derive(Clone, Copy, Default)]
pub struct FitOptions<'a> {
    /// Continue from the newest checkpoint of the run directory.
    pub resume: bool,
    /// Called with the step index before every training step fetches its batch, and once more
    /// after an epoch's last step: `bench-train` pauses here to run two trainings step by step
    /// in turn. Time spent in it is not counted in the step timing.
    pub step_hook: Option<&'a (dyn Fn(u64) + Sync)>,
}

impl std::fmt::Debug for FitOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitOptions").field("resume", &self.resume).field("step_hook", &self.step_hook.is_some()).finish()
    }
}

/// Trains a model on `store` into `run`; with `options.resume`, continues from the newest checkpoint.
pub fn fit(store_path: &Path, run: &Path, cfg: &TrainConfig, options: FitOptions<'_>) -> anyhow::Result<RunInfo> {
    let s = &cfg.train;
    let meta = Store::open(store_path).with_context(|| format!("opening {}", store_path.display()))?.meta().clone();
    let model_cfg = cfg.model_for(&meta)?;
    let source = StoreSource::open(store_path, &model_cfg, &s.val_split, s.loader_threads, s.prefetch)?;
    let targets = ClassTargets::of_label_set(&source.store().label_set(&s.label_set)?, s.head == HeadKind::Contrastive);
    let origin = Origin { store: Some(store_path.canonicalize().unwrap_or_else(|_| store_path.to_path_buf())), online: None };
    train(&source, &targets, &model_cfg, cfg, run, options, origin)
}

/// `fit --online`: trains on the manifests' videos, running the frozen encoder of `spec.model` on
/// freshly augmented views every epoch; the same run outputs as [`fit`].
pub fn fit_online(spec: &OnlineSpec, run: &Path, cfg: &TrainConfig, options: FitOptions<'_>) -> anyhow::Result<RunInfo> {
    let s = &cfg.train;
    let (clip, meta, sampling) = online::load(spec, s.device)?;
    let model_cfg = cfg.model_for(&meta)?;
    let targets = online::class_targets(spec, &clip, s.head)?;
    let encoder = FrozenEncoder::new(clip, model_cfg.selected_layers()?, meta)?;
    let source = OnlineSource::new(
        spec,
        encoder,
        sampling,
        targets.classes.len(),
        &s.val_split,
        model_cfg.has_temporal(),
        s.loader_threads,
        s.prefetch,
    )?;
    let online = OnlineInfo { manifests: spec.data.manifest.clone(), model: spec.model.clone(), templates: spec.templates.clone() };
    train(&source, &targets, &model_cfg, cfg, run, options, Origin { store: None, online: Some(online) })
}

/// Where the clips came from, for `run.json`.
struct Origin {
    store: Option<PathBuf>,
    online: Option<OnlineInfo>,
}

/// The training loop over a batch source: schedule, Mixup/CutMix, AdamW, periodic validation,
/// a checkpoint and the metrics table after every epoch, then the final weights, `run.json` and
/// the curves.
fn train(
    source: &dyn BatchSource,
    targets: &ClassTargets,
    model_cfg: &DistConfig,
    cfg: &TrainConfig,
    run: &Path,
    options: FitOptions<'_>,
    origin: Origin,
) -> anyhow::Result<RunInfo> {
    let start = Instant::now();
    let s = &cfg.train;
    let meta = source.meta().clone();
    let layers = model_cfg.selected_layers()?;
    let frames_used = model_cfg.has_temporal();
    let (train_videos, val) = (source.train_videos(), source.val_videos());
    anyhow::ensure!(!train_videos.is_empty(), "no labelled training videos");
    std::fs::create_dir_all(run)?;
    // The replica count is resolved once and recorded, so the run says what it used.
    let devices = s.devices();
    let train_settings = TrainSettings { devices: Some(devices), ..s.clone() };
    let resolved = ResolvedConfig { model: model_cfg.clone(), train: train_settings };
    std::fs::write(run.join("config.toml"), toml::to_string(&resolved)?)?;

    let plain_devices = s.device.devices(devices, burn::tensor::DType::F32)?;
    let plain = plain_devices[0].clone();
    let device = plain.clone().autodiff();
    device.seed(s.seed);
    let classes = targets.classes.clone();
    let text = targets.head(model_cfg.embed_dim, s.logit_scale, &device)?;
    let text_plain = targets.head(model_cfg.embed_dim, s.logit_scale, &plain)?;
    if let Some((id, label)) = train_videos.iter().chain(val).find(|v| v.1 >= classes.len()) {
        anyhow::bail!("video {id} has label {label} but label set {:?} has {} classes", s.label_set, classes.len());
    }
    let mut model = Network::init(model_cfg, s.head, classes.len(), &device)?;
    let mut state = TrainState {
        epochs_done: 0,
        step: 0,
        metrics: Vec::new(),
        param_ids: model.named_params().iter().map(|p| p.id.val()).collect(),
    };
    let resume_from = if options.resume { checkpoint::latest(run)? } else { None };
    if let Some(dir) = &resume_from {
        (model, state) = checkpoint::load_model(dir, model)?;
    }
    // Built after the resume restored the saved parameter ids: the no-decay group lists ids, and
    // the reloaded optimiser state routes each parameter to its group by id.
    let adam = |wd: f64| FusedAdamW::new(1e-8, wd as f32);
    let mut optim = ModuleOptimizer::from(adam(s.weight_decay)).with_group(
        ParamGroup::from_ids(model.no_weight_decay_ids()),
        adam(0.0),
        None,
    );
    if let Some(dir) = &resume_from {
        optim = checkpoint::load_optimizer(dir, optim)?;
        tracing::info!(epochs_done = state.epochs_done, step = state.step, "resumed from {}", dir.display());
    }

    let cpu = s.device == dist_clip::Backend::Cpu;
    let replicas = Replicas::new(plain_devices.iter().map(|d| d.clone().autodiff()).collect(), text.as_ref(), cpu)?;
    if replicas.len() > 1 {
        tracing::info!(devices = replicas.len(), backend = %s.device, "data parallel: each batch split over the devices");
    }
    let steps_per_epoch = train_videos.len().div_ceil(s.batch_size);
    let total = (s.epochs * steps_per_epoch) as u64;
    let bar = crate::trainer::progress_bar(total, state.step);
    let side = meta.preprocessing.crop / meta.encoder.patch_size;
    // Per step: seconds waiting for the batch, seconds training on it, clips.
    let mut step_times: Vec<(f64, f64, usize)> = Vec::new();
    for epoch in state.epochs_done..s.epochs {
        let t0 = Instant::now();
        let mut clips_seen = 0usize;
        let mut batches = source.train_epoch(epoch, s.seed, s.batch_size, &device);
        loop {
            if let Some(hook) = options.step_hook {
                hook(state.step);
            }
            let t_data = Instant::now();
            let Some(batch) = batches.next() else { break };
            let batch = batch?;
            let (data_s, t_train) = (t_data.elapsed().as_secs_f64(), Instant::now());
            let step = state.step;
            let e = step as f64 / steps_per_epoch as f64;
            let lr = learning_rate(s.peak_lr(), e, s.epochs as f64, s.warmup_epochs, s.warmup_start_factor);
            let mut rng = ChaCha8Rng::seed_from_u64(mix_seed(s.seed ^ 0x6d69_7875_70, step));
            let m = mix::draw(&mut rng, s, side);
            let batch = mix::apply(batch, m, meta.encoder.patch_size, frames_used);
            let targets = mixup_targets(&batch.labels, classes.len(), m.lambda(), s.label_smoothing, &device);
            let clips = batch.labels.len();
            let (loss_value, grads) = replicas.loss_and_grads(&model, batch, targets)?;
            anyhow::ensure!(loss_value.is_finite(), "loss is {loss_value} at step {step}");
            model = optim.step(lr, model, grads);
            clips_seen += clips;
            step_times.push((data_s, t_train.elapsed().as_secs_f64(), clips));
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
        drop(batches);
        anyhow::ensure!(clips_seen > 0, "epoch {}: no training clip could be read", epoch + 1);
        state.epochs_done = epoch + 1;
        let last = epoch + 1 == s.epochs;
        if !val.is_empty() && (last || (s.eval_every > 0 && (epoch + 1) % s.eval_every == 0)) {
            let valid = model.valid();
            let ev = evaluate(&valid.dist, &|v| valid.logits(v, text_plain.as_ref()), source.val_batches(s.batch_size, &plain), val)?;
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
    let skipped_videos = source.skipped_videos();
    if skipped_videos > 0 {
        tracing::warn!("{skipped_videos} unreadable videos were skipped (listed in the warnings above)");
    }
    let last_eval = state.metrics.iter().rev().find(|r| r.top1.is_finite());
    let info = RunInfo {
        store: origin.store,
        online: origin.online,
        label_set: s.label_set.clone(),
        classes,
        layers,
        train_videos: train_videos.len(),
        val_videos: val.len(),
        skipped_videos,
        final_top1: last_eval.map(|r| r.top1),
        final_top5: last_eval.map(|r| r.top5),
        seconds: start.elapsed().as_secs_f64(),
        timing: (!step_times.is_empty()).then(|| StepTiming::from_steps(&step_times)),
        store_meta: Some(meta),
    };
    std::fs::write(run.join("run.json"), serde_json::to_vec_pretty(&info)?)?;
    if let Err(e) = super::plot::training_curves(&run.join("curves.png"), &state.metrics) {
        tracing::warn!("could not draw curves.png: {e:#}");
    }
    Ok(info)
}

/// Loads a finished run's model (on a plain device) for evaluation.
pub fn load_run(run: &Path, device: &Device) -> anyhow::Result<(Network, ResolvedConfig, RunInfo)> {
    let cfg: ResolvedConfig = toml::from_str(&std::fs::read_to_string(run.join("config.toml")).with_context(|| format!("{}: not a run", run.display()))?)?;
    let info: RunInfo = serde_json::from_slice(&std::fs::read(run.join("run.json")).with_context(|| format!("{}: not a finished run", run.display()))?)?;
    let model = Network::init(&cfg.model, cfg.train.head, info.classes.len(), device)?.load_safetensors(&run.join("model.safetensors"))?;
    Ok((model, cfg, info))
}
