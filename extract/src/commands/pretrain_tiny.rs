//! `dist-extract pretrain-tiny`: regenerates `builtin:tiny`'s pretrained vision tower.
//!
//! Starts from `builtin:tiny-random` and trains its vision tower contrastively on captioned
//! synthetic stills (dist-synth's `render_still`: one coloured shape, random pose, the benchmark's
//! backgrounds, distractors and noise) against the frozen random text tower, then checks the
//! result on held-out stills (zero-shot caption accuracy) before writing the file.

use std::path::PathBuf;

use anyhow::Context;
use burn::tensor::Device;
use clap::Parser;
use dist_clip::{pretrain_vision, ImageBatch, PretrainSettings};
use dist_synth::{render_still, still_captions, StillConfig};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

/// Pretrain the built-in tiny CLIP's vision tower on captioned synthetic stills.
///
/// Writes the file `builtin:tiny` embeds (rebuild afterwards to ship it:
/// `extract/clip/assets/tiny-vision.safetensors`). Takes a few minutes on 2 cores.
#[derive(Debug, Parser)]
pub struct Args {
    /// Where to write the vision weights (safetensors, f16).
    #[arg(long, default_value = "extract/clip/assets/tiny-vision.safetensors")]
    pub out: PathBuf,
    /// Optimiser steps.
    #[arg(long, default_value_t = PretrainSettings::default().steps)]
    pub steps: usize,
    /// Stills per step.
    #[arg(long, default_value_t = PretrainSettings::default().batch_size)]
    pub batch_size: usize,
    /// Peak learning rate.
    #[arg(long, default_value_t = PretrainSettings::default().lr)]
    pub lr: f64,
    /// Multiplier of the cosine similarities in the caption softmax.
    #[arg(long, default_value_t = PretrainSettings::default().logit_scale)]
    pub logit_scale: f64,
    /// Linear warm-up steps.
    #[arg(long, default_value_t = PretrainSettings::default().warmup_steps)]
    pub warmup_steps: usize,
    /// Smallest object radius of a still, as a fraction of the image side.
    #[arg(long, default_value_t = StillConfig::default().radius.0)]
    pub min_radius: f32,
    /// Largest pixel-noise std of a still (each draws its own in [0, this]).
    #[arg(long, default_value_t = StillConfig::default().max_noise)]
    pub max_noise: f32,
    /// Most distractors in a still.
    #[arg(long, default_value_t = StillConfig::default().max_distractors)]
    pub max_distractors: usize,
    /// Probability that a still has a textured background.
    #[arg(long, default_value_t = StillConfig::default().texture_prob)]
    pub texture_prob: f64,
    /// Continue from this vision file (one this command wrote) instead of the random tower.
    #[arg(long)]
    pub init: Option<PathBuf>,
    /// Seed of the stills and of the optimiser.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Held-out stills for the final zero-shot check.
    #[arg(long, default_value_t = 1000)]
    pub eval_stills: usize,
}

/// `count` stills, each a pure function of `(seed, stream, index)`, rendered in parallel.
fn stills(cfg: &StillConfig, seed: u64, stream: u64, first: usize, count: usize) -> ImageBatch {
    let rendered: Vec<_> = (first..first + count)
        .into_par_iter()
        .map(|i| {
            // seed_from_u64 expands its input with a PCG, so neighbouring inputs give unrelated streams.
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (stream << 48) ^ i as u64);
            render_still(cfg, &mut rng)
        })
        .collect();
    let labels = rendered.iter().map(|(_, l)| *l).collect();
    (rendered.into_iter().flat_map(|(f, _)| f.rgb).collect(), labels)
}

impl Args {
    /// Runs the pretraining and writes the file.
    ///
    /// # Errors
    /// When the model cannot be built, the loss diverges or the file cannot be written.
    pub fn run(self) -> anyhow::Result<()> {
        let device = Device::flex();
        let model = match &self.init {
            Some(file) => dist_clip::load_model_with_vision_file("builtin:tiny-random", file, &device)?,
            None => dist_clip::load_model("builtin:tiny-random", &device)?,
        };
        let captions = still_captions();
        let defaults = StillConfig::default();
        let still_cfg = StillConfig {
            size: model.config.vision.image_size,
            radius: (self.min_radius, defaults.radius.1),
            max_noise: self.max_noise,
            max_distractors: self.max_distractors,
            texture_prob: self.texture_prob,
        };
        let settings = PretrainSettings {
            steps: self.steps,
            batch_size: self.batch_size,
            lr: self.lr,
            seed: self.seed,
            logit_scale: self.logit_scale,
            warmup_steps: self.warmup_steps,
            ..PretrainSettings::default()
        };
        let bar = indicatif::ProgressBar::new(self.steps as u64);
        bar.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg} [{elapsed} < {eta}]")?);
        let mut recent = Vec::new();
        let bytes = pretrain_vision(
            &model,
            &captions,
            &settings,
            &mut |step| stills(&still_cfg, self.seed, 0, step * self.batch_size, self.batch_size),
            &mut |r| {
                recent.push(r.accuracy);
                let last: Vec<f32> = recent.iter().rev().take(20).copied().collect();
                let acc = last.iter().sum::<f32>() / last.len() as f32;
                bar.set_position(r.step as u64);
                bar.set_message(format!("loss {:.3} acc(20) {:.2} lr {:.1e}", r.loss, acc, r.lr));
                if r.step % 100 == 0 {
                    tracing::info!(step = r.step, loss = r.loss, train_accuracy = acc, "pretraining");
                }
            },
        )?;
        bar.finish_and_clear();
        if let Some(dir) = self.out.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&self.out, &bytes).with_context(|| format!("writing {}", self.out.display()))?;
        let accuracy = zero_shot_accuracy(&self.out, &captions, &still_cfg, self.seed, self.eval_stills)?;
        println!(
            "wrote {} ({} bytes); zero-shot caption accuracy on {} held-out stills: {:.1}% (chance {:.1}%)",
            self.out.display(),
            bytes.len(),
            self.eval_stills,
            100.0 * accuracy,
            100.0 / captions.len() as f64
        );
        Ok(())
    }
}

/// Top-1 accuracy of matching held-out stills (stream 1, never trained on) to their captions with
/// the freshly written vision tower and the random text tower.
fn zero_shot_accuracy(file: &std::path::Path, captions: &[String], cfg: &StillConfig, seed: u64, n: usize) -> anyhow::Result<f64> {
    let device = Device::flex();
    let model = dist_clip::load_model_with_vision_file("builtin:tiny-random", file, &device)?;
    let names: Vec<&str> = captions.iter().map(String::as_str).collect();
    let text = model.text()?.class_embeddings(&names, &["{}"])?;
    let side = cfg.size;
    let mut hits = 0usize;
    for first in (0..n).step_by(100) {
        let count = 100.min(n - first);
        let (frames, labels) = stills(cfg, seed, 1, first, count);
        let pixels = model.vision.pixels_from_u8(&frames, [count, side, side, 3])?;
        let embeds = dist_clip::l2_normalise(model.vision.forward(pixels)?.image_embeds);
        let best = embeds.matmul(text.clone().transpose()).argmax(1).into_data().convert::<i64>().try_into_vec::<i64>()
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        hits += best.iter().zip(&labels).filter(|(b, l)| **b as usize == **l).count();
    }
    Ok(hits as f64 / n.max(1) as f64)
}
