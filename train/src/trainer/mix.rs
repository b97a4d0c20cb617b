//! Mixup and CutMix on cached features.
//!
//! The frozen ViT's pixels are fixed in the store, so mixing happens where the model reads: Mixup
//! blends the taps and the dense frames of each clip with those of its partner (the batch reversed)
//! with one λ per batch; CutMix pastes a box, snapped to the ViT patch grid, from the partner into the
//! dense frames **and** into the same patch tokens of every tap (CLS tokens are not cut), and λ is
//! the kept area. Targets are mixed with the same λ.

use dist_kernels::blend_with_reversed;
use rand::Rng;
use rand_distr::{Beta, Distribution};

use super::config::TrainSettings;
use super::data::Batch;

/// What was done to a batch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Mix {
    None,
    Mixup(f64),
    /// λ and the box in patch units: (row, col, rows, cols).
    CutMix(f64, [usize; 4]),
}

impl Mix {
    pub fn lambda(&self) -> f64 {
        match *self {
            Mix::None => 1.0,
            Mix::Mixup(l) | Mix::CutMix(l, _) => l,
        }
    }
}

/// Draws the mix of one batch; `side` is the patch grid side (H / P).
pub fn draw(rng: &mut impl Rng, s: &TrainSettings, side: usize) -> Mix {
    let mixup = s.mixup_alpha > 0.0;
    let cutmix = s.cutmix_alpha > 0.0;
    if !(mixup || cutmix) || rng.random::<f64>() >= s.mix_prob {
        return Mix::None;
    }
    let use_cutmix = cutmix && (!mixup || rng.random::<f64>() < s.switch_prob);
    if use_cutmix {
        let lam = Beta::new(s.cutmix_alpha, s.cutmix_alpha).expect("alpha > 0").sample(rng);
        let cut = (1.0 - lam).sqrt();
        let (rows, cols) = (((side as f64) * cut).round() as usize, ((side as f64) * cut).round() as usize);
        let cy = rng.random_range(0..side);
        let cx = rng.random_range(0..side);
        let y0 = cy.saturating_sub(rows / 2);
        let x0 = cx.saturating_sub(cols / 2);
        let y1 = (cy + rows.div_ceil(2)).min(side);
        let x1 = (cx + cols.div_ceil(2)).min(side);
        let area = (y1 - y0) * (x1 - x0);
        if area == 0 {
            return Mix::None;
        }
        Mix::CutMix(1.0 - area as f64 / (side * side) as f64, [y0, x0, y1 - y0, x1 - x0])
    } else {
        Mix::Mixup(Beta::new(s.mixup_alpha, s.mixup_alpha).expect("alpha > 0").sample(rng))
    }
}

/// Applies `mix` to the batch: each clip blended with its partner (the batch reversed), one pass
/// per tensor ([`blend_with_reversed`]).
pub fn apply(batch: Batch, mix: Mix, patch: usize, frames_used: bool) -> Batch {
    let b = batch.labels.len();
    let Some([_, n, c]) = batch.taps.first().map(|t| t.dims()) else { return batch };
    let frame_values = batch.frames.shape().num_elements() / b.max(1);
    // How much of its own clip each token (of every tap) and each pixel (of the frames) keeps.
    let (token_keep, token_inner, pixel_keep, pixel_inner) = match mix {
        Mix::None => return batch,
        Mix::Mixup(lam) => (vec![lam as f32], n * c, vec![lam as f32], frame_values),
        Mix::CutMix(_, [y0, x0, rows, cols]) => {
            let side = ((n - 1) as f64).sqrt().round() as usize;
            let mut tokens = vec![1f32; n];
            for y in y0..y0 + rows {
                for x in x0..x0 + cols {
                    tokens[1 + y * side + x] = 0.0;
                }
            }
            let [_, _, _, h, w] = batch.frames.dims();
            let mut pixels = vec![1f32; h * w];
            for y in y0 * patch..((y0 + rows) * patch).min(h) {
                for x in x0 * patch..((x0 + cols) * patch).min(w) {
                    pixels[y * w + x] = 0.0;
                }
            }
            (tokens, c, pixels, 1)
        }
    };
    let Batch { taps, frames, labels, clips } = batch;
    Batch {
        taps: taps.into_iter().map(|tap| blend_with_reversed(tap, b, &token_keep, token_inner)).collect(),
        frames: if frames_used { blend_with_reversed(frames, b, &pixel_keep, pixel_inner) } else { frames },
        labels,
        clips,
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;

    /// Two clips of one frame on a 2x2 patch grid (patch 2, so 4x4 frames); clip 0 all zeros,
    /// clip 1 all ones: what each token and pixel holds after the mix says where it came from.
    fn batch(device: &Device) -> Batch {
        let tap: Vec<f32> = (0..2 * 5 * 3).map(|i| if i < 15 { 0.0 } else { 1.0 }).collect();
        let frames: Vec<f32> = (0..2 * 3 * 16).map(|i| if i < 48 { 0.0 } else { 1.0 }).collect();
        Batch {
            taps: vec![Tensor::from_data(TensorData::new(tap, [2, 5, 3]), device)],
            frames: Tensor::from_data(TensorData::new(frames, [2, 3, 1, 4, 4]), device),
            labels: vec![0, 1],
            clips: vec![0, 1],
        }
    }

    fn values<const D: usize>(t: &Tensor<D>) -> Vec<f32> {
        t.clone().into_data().try_to_vec::<f32>().unwrap()
    }

    #[test]
    fn cutmix_pastes_the_partners_box_into_tokens_and_pixels() {
        let device = Device::flex();
        // The top-right patch (row 0, column 1): token 2, pixels rows 0-1 x columns 2-3.
        let mixed = apply(batch(&device), Mix::CutMix(0.75, [0, 1, 1, 1]), 2, true);
        let tokens: Vec<f32> = values(&mixed.taps[0]).chunks(3).map(|t| t[0]).collect();
        assert_eq!(tokens, vec![0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0], "CLS never cut; token 2 swapped");
        let frames = values(&mixed.frames);
        let clip0_channel0: Vec<f32> = frames[..16].to_vec();
        let expect: Vec<f32> = (0..16).map(|i| if i / 4 < 2 && i % 4 >= 2 { 1.0 } else { 0.0 }).collect();
        assert_eq!(clip0_channel0, expect, "the box's pixels come from the partner");
        assert!(frames[48..].iter().zip(&frames[..48]).all(|(a, b)| a + b == 1.0), "clip 1 is clip 0's complement");
    }

    #[test]
    fn mixup_blends_everything_and_none_leaves_the_batch() {
        let device = Device::flex();
        let mixed = apply(batch(&device), Mix::Mixup(0.25), 2, true);
        assert!(values(&mixed.taps[0])[..15].iter().all(|&v| v == 0.75), "clip 0 takes 0.75 of clip 1");
        assert!(values(&mixed.frames)[48..].iter().all(|&v| v == 0.25), "clip 1 keeps 0.25 of itself");
        let untouched = apply(batch(&device), Mix::Mixup(0.25), 2, false);
        assert_eq!(values(&untouched.frames), values(&batch(&device).frames), "frames left alone when unused");
        assert_eq!(values(&apply(batch(&device), Mix::None, 2, true).taps[0]), values(&batch(&device).taps[0]));
    }
}
