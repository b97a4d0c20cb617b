//! Multi-view evaluation: softmax probabilities summed over the stored views of each video, then
//! top-1 / top-5 per video, per-class accuracy and the confusion matrix.

use burn::tensor::activation::softmax;
use burn::tensor::Tensor;

use super::source::{BatchIter, LabelledVideo};
use crate::model::DistModel;

/// Scores of every video of a split.
#[derive(Debug, Clone)]
pub struct Evaluation {
    /// Per video: id, true label, summed probabilities over classes.
    pub videos: Vec<(String, usize, Vec<f32>)>,
    pub classes: usize,
}

impl Evaluation {
    /// Indices of the `k` best classes of a video, best first.
    pub fn top_k(probs: &[f32], k: usize) -> Vec<usize> {
        let mut idx: Vec<usize> = (0..probs.len()).collect();
        idx.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]).then(a.cmp(&b)));
        idx.truncate(k);
        idx
    }

    pub fn top1(&self) -> f64 {
        self.accuracy(1)
    }

    pub fn top5(&self) -> f64 {
        self.accuracy(5)
    }

    fn accuracy(&self, k: usize) -> f64 {
        if self.videos.is_empty() {
            return f64::NAN;
        }
        let hits = self.videos.iter().filter(|(_, y, p)| Self::top_k(p, k).contains(y)).count();
        hits as f64 / self.videos.len() as f64
    }

    /// Accuracy of each class (NaN for classes without videos).
    pub fn per_class(&self) -> Vec<f64> {
        let mut hit = vec![0usize; self.classes];
        let mut total = vec![0usize; self.classes];
        for (_, y, p) in &self.videos {
            total[*y] += 1;
            if Self::top_k(p, 1)[0] == *y {
                hit[*y] += 1;
            }
        }
        hit.iter().zip(&total).map(|(&h, &t)| if t == 0 { f64::NAN } else { h as f64 / t as f64 }).collect()
    }

    /// `confusion[true][predicted]` counts.
    pub fn confusion(&self) -> Vec<Vec<u64>> {
        let mut m = vec![vec![0u64; self.classes]; self.classes];
        for (_, y, p) in &self.videos {
            m[*y][Self::top_k(p, 1)[0]] += 1;
        }
        m
    }
}

/// Evaluates `videos` from `batches` (their test views, `Batch.labels` indexing `videos`) with a
/// model on a plain (non-autodiff) device. Videos without a view (unreadable) are left out.
///
/// `logits` maps video embeddings `[B, E]` to class scores `[B, K]`.
pub fn evaluate(
    model: &DistModel,
    logits: &dyn Fn(Tensor<2>) -> anyhow::Result<Tensor<2>>,
    batches: BatchIter<'_>,
    videos: &[LabelledVideo],
) -> anyhow::Result<Evaluation> {
    let mut sums: Vec<Option<Vec<f32>>> = vec![None; videos.len()];
    let mut classes = 0;
    for batch in batches {
        let batch = batch?;
        let video = model.forward(&batch.taps, batch.frames)?;
        let probs = softmax(logits(video)?, 1);
        let [b, k] = probs.dims();
        classes = k;
        let probs: Vec<f32> = probs.into_data().convert::<f32>().try_into_vec().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        for (row, &vi) in batch.labels.iter().enumerate().take(b) {
            let p = &probs[row * k..(row + 1) * k];
            match &mut sums[vi] {
                Some(s) => s.iter_mut().zip(p).for_each(|(a, b)| *a += b),
                None => sums[vi] = Some(p.to_vec()),
            }
        }
    }
    Ok(Evaluation {
        videos: videos.iter().zip(sums).filter_map(|((id, label), s)| s.map(|s| (id.clone(), *label, s))).collect(),
        classes,
    })
}
