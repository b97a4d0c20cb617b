//! Contrastive pretraining of a builtin's vision tower against its own frozen text tower.
//!
//! A random ViT's class token says almost nothing about what a frame shows (a linear probe of the
//! random `builtin:tiny` got 19% on the synthetic benchmark), so a demo on it would only show
//! chance. Real CLIP learnt its image features by pulling each image's embedding towards the text
//! embedding of its caption; this does the same on captioned synthetic stills, LiT-style but with
//! the text side locked except for its final projection: the text transformer stays the seeded
//! random one, so the weights that have to be shipped are the vision tower's and one `[C, E]`
//! matrix. The projection is trained because the random tower's caption embeddings are nearly
//! parallel (cosine 0.94-0.98 between two shapes of one colour): against such targets the vision
//! tower learnt colour and hardly any shape. `dist-extract pretrain-tiny` runs it and writes the
//! file that `builtin:tiny` embeds (`extract/clip/assets/`).

use burn::module::{Module, Param};
use burn::optim::{AdamWConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{DType, Device, ElementConversion, Int, Tensor, TensorData};

use crate::error::{ClipError, Result};
use crate::model::ClipModel;
use crate::prompts::l2_normalise;
use crate::vision::VisionTower;
use crate::vision_file;

/// The recipe.
#[derive(Debug, Clone, PartialEq)]
pub struct PretrainSettings {
    /// Optimiser steps.
    pub steps: usize,
    /// Images per step.
    pub batch_size: usize,
    /// Peak AdamW learning rate (linear warm-up, then cosine to 0).
    pub lr: f64,
    /// Warm-up steps.
    pub warmup_steps: usize,
    /// AdamW weight decay.
    pub weight_decay: f64,
    /// Multiplier of the cosine similarities (CLIP's learnt temperature ends near 100).
    pub logit_scale: f64,
    /// Seed of burn's device RNG (the data's randomness is the caller's).
    pub seed: u64,
}

impl Default for PretrainSettings {
    fn default() -> Self {
        Self {
            steps: 1500,
            batch_size: 64,
            lr: 1e-3,
            warmup_steps: 100,
            weight_decay: 0.05,
            logit_scale: 50.0,
            seed: 0,
        }
    }
}

/// What the optimiser updates: the vision tower and the text tower's projection.
#[derive(Module, Debug)]
struct Trainee {
    vision: VisionTower,
    /// `[C_text, E]`, from the text tower's.
    text_projection: Param<Tensor<2>>,
}

/// What one step reports.
#[derive(Debug, Clone, Copy)]
pub struct StepReport {
    /// 1-based step.
    pub step: usize,
    /// Cross-entropy of the caption softmax.
    pub loss: f32,
    /// Fraction of the batch whose own caption scored highest.
    pub accuracy: f32,
    /// Learning rate used.
    pub lr: f64,
}

/// A batch of captioned images: u8 RGB `[B, H, W, 3]` row-major and one caption index per image.
pub type ImageBatch = (Vec<u8>, Vec<usize>);

fn learning_rate(s: &PretrainSettings, step: usize) -> f64 {
    if step < s.warmup_steps {
        return s.lr * (step + 1) as f64 / s.warmup_steps as f64;
    }
    let progress = (step - s.warmup_steps) as f64 / (s.steps - s.warmup_steps).max(1) as f64;
    s.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
}

/// Trains `model`'s vision tower and text projection so that each image's embedding scores its
/// own caption highest among `captions` (the text features from `model`'s frozen text
/// transformer), and returns the trained weights as a file [`crate::load_model`] understands for
/// builtins (see `vision_file`).
///
/// `next_batch(step)` yields the images of a step (its size is `settings.batch_size`, each
/// `image_size` square); `on_step` sees every step's loss and accuracy.
///
/// # Errors
/// [`ClipError::NoTextTower`] for a vision-only model; [`ClipError::InvalidInput`] for a batch of
/// the wrong shape, a caption index out of range or a non-finite loss.
pub fn pretrain_vision(
    model: &ClipModel,
    captions: &[String],
    settings: &PretrainSettings,
    next_batch: &mut dyn FnMut(usize) -> ImageBatch,
    on_step: &mut dyn FnMut(StepReport),
) -> Result<Vec<u8>> {
    let device = Device::flex().autodiff();
    device.seed(settings.seed);
    let names: Vec<&str> = captions.iter().map(String::as_str).collect();
    // [K, C_text] pooled caption features: constants; the projection on top is trained.
    let text_tower = model.text()?;
    let text_features = Tensor::<2>::from_data(text_tower.pooled_texts(&names)?.into_data(), &device).detach();
    let host = model.vision.host_weights();
    let (mean, std) = model.vision.normalisation();
    let config = model.vision.config().clone();
    let mut trainee = Trainee {
        vision: VisionTower::new(config.clone(), &host, (mean, std), &device, DType::F32),
        text_projection: Param::from_tensor(Tensor::from_data(text_tower.projection().into_data(), &device)),
    };
    let mut optim = AdamWConfig::new()
        .with_weight_decay(settings.weight_decay as f32)
        .init();
    let side = config.image_size;
    for step in 0..settings.steps {
        let (frames, labels) = next_batch(step);
        let b = labels.len();
        if let Some(&bad) = labels.iter().find(|&&l| l >= captions.len()) {
            return Err(ClipError::InvalidInput(format!("caption index {bad} >= {} captions", captions.len())));
        }
        let pixels = trainee.vision.pixels_from_u8(&frames, [b, side, side, 3])?;
        let embeds = trainee.vision.forward(pixels)?.image_embeds; // [B, E]
        let text = l2_normalise(text_features.clone().matmul(trainee.text_projection.val())); // [K, E]
        let logits = l2_normalise(embeds).matmul(text.transpose()) * settings.logit_scale; // [B, K]
        let targets: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
        let targets = Tensor::<2, Int>::from_data(TensorData::new(targets, [b, 1]), &device);
        let log_probs = log_softmax(logits.clone(), 1);
        let loss = log_probs.gather(1, targets.clone()).mean().neg();
        let loss_value: f32 = loss.clone().into_scalar::<f32>().elem();
        if !loss_value.is_finite() {
            return Err(ClipError::InvalidInput(format!("pretraining loss is {loss_value} at step {step}")));
        }
        let hits: i64 = logits
            .argmax(1)
            .equal(targets)
            .int()
            .sum()
            .into_scalar::<i64>()
            .elem();
        let lr = learning_rate(settings, step);
        let grads = GradientsParams::from_grads(loss.backward(), &trainee);
        trainee = optim.step(lr, trainee, grads);
        on_step(StepReport { step: step + 1, loss: loss_value, accuracy: hits as f32 / b as f32, lr });
    }
    let trained = trainee.valid();
    let text_projection = crate::layers::download(&trained.text_projection);
    Ok(vision_file::encode(&trained.vision.host_weights(), Some(&text_projection)))
}
