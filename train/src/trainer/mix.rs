//! Mixup and CutMix on cached features.
//!
//! The frozen ViT's pixels are fixed in the store, so mixing happens where the model reads: Mixup
//! blends the taps and the dense frames of each clip with those of its partner (the batch reversed)
//! with one λ per batch; CutMix pastes a box, snapped to the ViT patch grid, from the partner into the
//! dense frames **and** into the same patch tokens of every tap (CLS tokens are not cut), and λ is
//! the kept area. Targets are mixed with the same λ.

use burn::tensor::{Device, Tensor, TensorData};
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

/// Reverses the clip order of a `[B·T, ...]` tap.
fn partner_tap(tap: &Tensor<3>, batch: usize) -> Tensor<3> {
    let [bt, n, c] = tap.dims();
    tap.clone().reshape([batch, bt / batch, n, c]).flip([0]).reshape([bt, n, c])
}

/// Applies `mix` to the batch in place.
pub fn apply(batch: &mut Batch, mix: Mix, patch: usize, frames_used: bool, device: &Device) {
    let b = batch.labels.len();
    match mix {
        Mix::None => {}
        Mix::Mixup(lam) => {
            for tap in batch.taps.iter_mut() {
                *tap = tap.clone() * lam + partner_tap(tap, b) * (1.0 - lam);
            }
            if frames_used {
                batch.frames = batch.frames.clone() * lam + batch.frames.clone().flip([0]) * (1.0 - lam);
            }
        }
        Mix::CutMix(_, [y0, x0, rows, cols]) => {
            let [_, n, _] = batch.taps[0].dims();
            let side = ((n - 1) as f64).sqrt().round() as usize;
            let mut token_mask = vec![0f32; n];
            for y in y0..y0 + rows {
                for x in x0..x0 + cols {
                    token_mask[1 + y * side + x] = 1.0;
                }
            }
            let m: Tensor<3> = Tensor::from_data(TensorData::new(token_mask, [1, n, 1]), device);
            for tap in batch.taps.iter_mut() {
                let other = partner_tap(tap, b);
                *tap = tap.clone() * (m.clone().neg() + 1.0) + other * m.clone();
            }
            if frames_used {
                let [_, _, _, h, w] = batch.frames.dims();
                let mut pix = vec![0f32; h * w];
                for y in y0 * patch..((y0 + rows) * patch).min(h) {
                    for x in x0 * patch..((x0 + cols) * patch).min(w) {
                        pix[y * w + x] = 1.0;
                    }
                }
                let m: Tensor<5> = Tensor::from_data(TensorData::new(pix, [1, 1, 1, h, w]), device);
                let other = batch.frames.clone().flip([0]);
                batch.frames = batch.frames.clone() * (m.clone().neg() + 1.0) + other * m;
            }
        }
    }
}
