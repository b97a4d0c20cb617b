//! Classification heads on the video embedding and the soft-target loss (spec §8, §1 mixup).

use burn::module::Module;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

use super::nn::Linear;

/// L2-normalises along the last axis.
///
/// # Shapes
/// - x: `[B, E]` → `[B, E]`
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().square().sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

/// CLIP-style head: `scale · cos(video, text)` against frozen class-text embeddings.
#[derive(Debug, Clone)]
pub struct ContrastiveHead {
    /// `[K, E]`, L2-normalised, no gradient.
    text: Tensor<2>,
    scale: f64,
}

impl ContrastiveHead {
    /// OpenAI CLIP's `logit_scale.exp()`.
    pub const CLIP_LOGIT_SCALE: f64 = 100.0;

    /// `text`: `[K, E]` class-text embeddings (normalised here, detached).
    #[must_use]
    pub fn new(text: Tensor<2>, scale: f64) -> Self {
        Self { text: l2_normalize(text.detach()), scale }
    }

    /// The same head with its text embeddings on `device`.
    #[must_use]
    pub fn to_device(&self, device: &Device) -> Self {
        Self { text: self.text.clone().to_device(device), scale: self.scale }
    }

    /// # Shapes
    /// - video: `[B, E]` → logits `[B, K]`
    pub fn logits(&self, video: Tensor<2>) -> Tensor<2> {
        l2_normalize(video).matmul(self.text.clone().transpose()) * self.scale
    }
}

/// A plain trainable linear classifier (`classifier.weight [K, E]`, `classifier.bias [K]`).
#[derive(Module, Debug)]
pub struct LinearHead {
    pub classifier: Linear,
}

impl LinearHead {
    /// N(0, 0.02) weight, zero bias.
    pub fn new(embed_dim: usize, classes: usize, device: &Device) -> Self {
        Self { classifier: Linear::new(embed_dim, classes, device) }
    }

    /// # Shapes
    /// - video: `[B, E]` → logits `[B, K]`
    pub fn logits(&self, video: Tensor<2>) -> Tensor<2> {
        self.classifier.forward(video)
    }
}

/// `mean_b Σ_k −target · log_softmax(logits)` (timm `SoftTargetCrossEntropy`).
///
/// # Shapes
/// - logits, targets: `[B, K]` → scalar `[1]`
pub fn soft_target_cross_entropy(logits: Tensor<2>, targets: Tensor<2>) -> Tensor<1> {
    (targets.neg() * log_softmax(logits, 1)).sum_dim(1).mean()
}

/// Label-smoothed one-hot targets as timm builds them: `off = s/K`, `on = 1 − s + off`.
///
/// # Shapes
/// - output: `[labels.len(), classes]`
///
/// # Panics
/// When a label is `>= classes` (a caller bug: labels come from the dataset's label map).
#[must_use]
pub fn smoothed_one_hot(labels: &[usize], classes: usize, smoothing: f64, device: &Device) -> Tensor<2> {
    let off = (smoothing / classes as f64) as f32;
    let on = (1.0 - smoothing) as f32 + off;
    let mut data = vec![off; labels.len() * classes];
    for (row, &label) in labels.iter().enumerate() {
        assert!(label < classes, "label {label} >= {classes} classes");
        data[row * classes + label] = on;
    }
    Tensor::from_data(TensorData::new(data, [labels.len(), classes]), device)
}

/// Mixup/CutMix targets (timm `mixup_target`): the batch is paired with its reverse,
/// `λ · y + (1 − λ) · y.flip(0)`, each smoothed.
///
/// # Shapes
/// - output: `[labels.len(), classes]`
#[must_use]
pub fn mixup_targets(labels: &[usize], classes: usize, lambda: f64, smoothing: f64, device: &Device) -> Tensor<2> {
    let y = smoothed_one_hot(labels, classes, smoothing, device);
    y.clone() * lambda + y.flip([0]) * (1.0 - lambda)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec().unwrap()
    }

    #[test]
    fn smoothing_and_mixup() {
        let device = Device::flex();
        let y = values(smoothed_one_hot(&[1, 0], 2, 0.1, &device));
        assert_eq!(y, vec![0.05, 0.95, 0.95, 0.05]);
        let m = values(mixup_targets(&[1, 0], 2, 0.7, 0.0, &device));
        let expect = [0.3, 0.7, 0.7, 0.3];
        assert!(m.iter().zip(expect).all(|(a, b)| (a - b).abs() < 1e-6), "{m:?}");
    }

    #[test]
    fn cross_entropy_of_uniform_logits_is_log_k() {
        let device = Device::flex();
        let logits = Tensor::<2>::zeros([3, 4], &device);
        let loss: f32 = soft_target_cross_entropy(logits, smoothed_one_hot(&[0, 1, 2], 4, 0.0, &device)).into_scalar();
        assert!((loss - 4f32.ln()).abs() < 1e-5);
    }

    #[test]
    fn contrastive_logits_are_scaled_cosines() {
        let device = Device::flex();
        let text = Tensor::<2>::from_data(TensorData::new(vec![2.0f32, 0.0, 0.0, 3.0], [2, 2]), &device);
        let video = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 1.0], [1, 2]), &device);
        let logits = values(ContrastiveHead::new(text, 100.0).logits(video));
        let c = 100.0 / 2f32.sqrt();
        assert!((logits[0] - c).abs() < 1e-3 && (logits[1] - c).abs() < 1e-3, "{logits:?}");
    }
}
