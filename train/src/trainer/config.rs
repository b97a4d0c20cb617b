//! `dist-train fit` settings: a TOML file (`configs/train/*.toml`) with a `[model]` table (any
//! [`DistConfig`] field; the encoder shapes come from the store) and a `[train]` table (the recipe).

use std::path::Path;

use dist_store::StoreMeta;
use serde::{Deserialize, Serialize};

use crate::model::DistConfig;

/// Which head turns the video embedding into class scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum HeadKind {
    /// Cosine similarity with the frozen text embeddings of the class names, times `logit_scale`.
    #[default]
    Contrastive,
    /// A trainable linear classifier `[K, E]` (+ bias) on the video embedding; no text side, so no
    /// zero-shot.
    Linear,
}

/// The training recipe (paper Appendix B / spec §11 defaults).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSettings {
    pub epochs: usize,
    /// Clips per step.
    pub batch_size: usize,
    /// Learning rate at a batch of `lr_reference_batch`; scaled linearly with the batch.
    pub base_lr: f64,
    pub lr_reference_batch: usize,
    pub warmup_epochs: f64,
    /// Start of the linear warm-up, as a fraction of the peak learning rate.
    pub warmup_start_factor: f64,
    /// AdamW weight decay on ≥2-D weights (none on biases, norms, class tokens, position tables).
    pub weight_decay: f64,
    pub label_smoothing: f64,
    /// Mixup Beta(α, α); 0 disables it.
    pub mixup_alpha: f64,
    /// CutMix Beta(α, α); 0 disables it.
    pub cutmix_alpha: f64,
    /// Probability that a batch is mixed at all.
    pub mix_prob: f64,
    /// Probability of CutMix rather than Mixup when both are enabled.
    pub switch_prob: f64,
    pub head: HeadKind,
    /// Multiplier of the cosine similarities (contrastive head) (CLIP's exp(logit_scale), 100 for OpenAI CLIP).
    pub logit_scale: f64,
    /// Label set of the store naming the classes; its text embeddings are the class targets of the
    /// contrastive head (the linear head uses only the names).
    pub label_set: String,
    /// Split used for validation during training (skipped when the store has none).
    pub val_split: String,
    /// Validate every this many epochs (0: only at the end).
    pub eval_every: usize,
    pub seed: u64,
    /// Loader threads and how many clips they may read ahead.
    pub loader_threads: usize,
    pub prefetch: usize,
    /// Backend the model trains on: `cpu` (burn-flex) or `wgpu` (a build with `--features wgpu`).
    pub device: dist_clip::Backend,
    /// Devices of that backend each step's batch is split over (data parallelism on one
    /// machine; `trainer::parallel`). On `cpu`, replicas that share the CPU's threads out.
    /// Absent: [`TrainSettings::devices`] chooses.
    pub devices: Option<usize>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            epochs: 36,
            batch_size: 8,
            base_lr: 3.2e-4,
            lr_reference_batch: 256,
            warmup_epochs: 6.0,
            warmup_start_factor: 0.0,
            weight_decay: 1e-4,
            label_smoothing: 0.1,
            mixup_alpha: 0.8,
            cutmix_alpha: 1.0,
            mix_prob: 1.0,
            switch_prob: 0.5,
            head: HeadKind::Contrastive,
            logit_scale: 100.0,
            label_set: "train".into(),
            val_split: "val".into(),
            eval_every: 4,
            seed: 0,
            loader_threads: 2,
            prefetch: 32,
            device: dist_clip::Backend::Cpu,
            devices: None,
        }
    }
}

impl TrainSettings {
    /// How many replicas a step runs: `devices` when set; else 1 on a GPU, and on the CPU 2 when
    /// it has at least 2 threads (one replica fills the cores where the other waits:
    /// `trainer::parallel`).
    pub fn devices(&self) -> usize {
        self.devices.unwrap_or(match self.device {
            dist_clip::Backend::Cpu => rayon::current_num_threads().clamp(1, 2),
            dist_clip::Backend::Wgpu => 1,
        })
    }

    /// Peak learning rate for this batch size.
    pub fn peak_lr(&self) -> f64 {
        self.base_lr * self.batch_size as f64 / self.lr_reference_batch as f64
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// `DistConfig` fields to override (the design space and ablation switches).
    pub model: toml::Table,
    pub train: TrainSettings,
}

impl TrainConfig {
    pub fn from_file(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }

    /// The model for a store: the store's encoder shapes and sampling, then the file's overrides.
    /// Shape fields the file sets must agree with the store (the error names both).
    pub fn model_for(&self, meta: &StoreMeta) -> anyhow::Result<DistConfig> {
        let mut base = DistConfig::for_encoder(
            meta.encoder.width,
            meta.encoder.patch_size,
            meta.encoder.layers,
            meta.encoder.embed_dim,
            meta.sampling.t,
        );
        base.gamma = meta.sampling.gamma;
        base.patches = meta.tokens() - 1;
        let store_fields: [(&str, usize, &str); 7] = [
            ("width", base.width, "encoder.width"),
            ("patch_size", base.patch_size, "encoder.patch_size"),
            ("encoder_layers", base.encoder_layers, "encoder.layers"),
            ("embed_dim", base.embed_dim, "encoder.embed_dim"),
            ("frames", base.frames, "sampling.t"),
            ("gamma", base.gamma, "sampling.gamma"),
            ("patches", base.patches, "(preprocessing.crop / encoder.patch_size)²"),
        ];
        for (field, store_value, store_field) in store_fields {
            if let Some(v) = self.model.get(field) {
                let v = v.as_integer().unwrap_or(-1);
                anyhow::ensure!(
                    v == store_value as i64,
                    "config model.{field} = {v} does not fit the store: its {store_field} is {store_value}"
                );
            }
        }
        let mut table = toml::Table::try_from(&base)?;
        for (k, v) in &self.model {
            table.insert(k.clone(), v.clone());
        }
        let cfg: DistConfig = table.try_into()?;
        cfg.validate()?;
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_pool(threads: usize, s: &TrainSettings) -> usize {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap().install(|| s.devices())
    }

    #[test]
    fn replicas_are_two_on_a_multicore_cpu_unless_set() {
        let cpu = TrainSettings::default();
        assert_eq!(in_pool(1, &cpu), 1, "one thread: nothing to share out");
        assert_eq!(in_pool(2, &cpu), 2);
        assert_eq!(in_pool(16, &cpu), 2);
        let gpu = TrainSettings { device: dist_clip::Backend::Wgpu, ..TrainSettings::default() };
        assert_eq!(in_pool(16, &gpu), 1, "one GPU unless told");
        let set = TrainSettings { devices: Some(3), ..TrainSettings::default() };
        assert_eq!(in_pool(2, &set), 3);
    }
}
