//! Crop boxes, in display pixels of the source frame (after rotation).

use rand::Rng;
use serde::{Deserialize, Serialize};

/// A rectangle of the source frame, in pixels after rotation: `x, y` top-left, `w × h` size. It is resized
/// to the S×S output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CropBox {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
}

impl CropBox {
    /// True when the box lies inside a `width × height` frame and is not empty.
    pub fn fits(&self, width: u32, height: u32) -> bool {
        self.w > 0 && self.h > 0 && self.x as u64 + self.w as u64 <= width as u64 && self.y as u64 + self.h as u64 <= height as u64
    }
}

/// torchvision's `RandomResizedCrop.get_params`: up to 10 tries of a random area fraction in `scale` and a
/// log-uniform aspect ratio in `ratio`; failing that, the largest centred box with a clamped ratio.
pub fn random_resized_crop<R: Rng + ?Sized>(width: u32, height: u32, scale: [f64; 2], ratio: [f64; 2], rng: &mut R) -> CropBox {
    let (wf, hf) = (width as f64, height as f64);
    let area = wf * hf;
    let (lr0, lr1) = (ratio[0].ln(), ratio[1].ln());
    for _ in 0..10 {
        let target = area * uniform(rng, scale[0], scale[1]);
        let aspect = uniform(rng, lr0, lr1).exp();
        let w = (target * aspect).sqrt().round_ties_even();
        let h = (target / aspect).sqrt().round_ties_even();
        if w > 0.0 && w <= wf && h > 0.0 && h <= hf {
            let (w, h) = (w as u32, h as u32);
            let y = rng.random_range(0..=height - h);
            let x = rng.random_range(0..=width - w);
            return CropBox { x, y, w, h };
        }
    }
    let in_ratio = wf / hf;
    let (w, h) = if in_ratio < ratio[0] {
        (width, ((wf / ratio[0]).round_ties_even() as u32).clamp(1, height))
    } else if in_ratio > ratio[1] {
        (((hf * ratio[1]).round_ties_even() as u32).clamp(1, width), height)
    } else {
        (width, height)
    };
    CropBox { x: (width - w) / 2, y: (height - h) / 2, w, h }
}

/// The val/test crop: the source square that "resize the short side to `resize_short`, then crop
/// `input_size`" keeps. With `crops == 3`, `index` 0, 1, 2 moves it to the start, centre and end of the
/// long side (the SlowFast/mmaction three-crop); with one crop it is centred.
pub fn test_crop(width: u32, height: u32, input_size: u32, resize_short: u32, index: usize, crops: usize) -> CropBox {
    let short = width.min(height).max(1);
    let side = ((input_size as f64 * short as f64 / resize_short.max(1) as f64).round() as u32).clamp(1, short);
    let along = |len: u32| match (crops, index) {
        (3, 0) => 0,
        (3, 2) => len - side,
        _ => (len - side) / 2,
    };
    let centred = |len: u32| (len - side) / 2;
    if width >= height {
        CropBox { x: along(width), y: centred(height), w: side, h: side }
    } else {
        CropBox { x: centred(width), y: along(height), w: side, h: side }
    }
}

fn uniform<R: Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    #[test]
    fn random_boxes_fit_and_respect_scale_and_ratio() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for (w, h) in [(320, 240), (84, 33), (33, 84), (1920, 1080), (1, 1), (2, 1000)] {
            for _ in 0..200 {
                let b = random_resized_crop(w, h, [0.4, 1.0], [0.75, 4.0 / 3.0], &mut rng);
                assert!(b.fits(w, h), "{b:?} in {w}x{h}");
            }
        }
        let mut areas = Vec::new();
        for _ in 0..500 {
            let b = random_resized_crop(1000, 1000, [0.4, 1.0], [0.75, 4.0 / 3.0], &mut rng);
            let r = b.w as f64 / b.h as f64;
            assert!((0.74..=1.35).contains(&r), "{b:?}");
            areas.push(b.w as f64 * b.h as f64 / 1e6);
        }
        let (lo, hi) = areas.iter().fold((1.0f64, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
        assert!((0.39..0.45).contains(&lo) && hi > 0.95 && hi <= 1.0, "{lo} {hi}");
    }

    #[test]
    fn test_crops() {
        assert_eq!(test_crop(320, 240, 224, 224, 0, 1), CropBox { x: 40, y: 0, w: 240, h: 240 });
        assert_eq!(test_crop(320, 240, 224, 256, 0, 1), CropBox { x: 55, y: 15, w: 210, h: 210 });
        assert_eq!(test_crop(320, 240, 224, 224, 0, 3).x, 0);
        assert_eq!(test_crop(320, 240, 224, 224, 2, 3).x, 80);
        assert_eq!(test_crop(33, 84, 224, 224, 2, 3), CropBox { x: 0, y: 51, w: 33, h: 33 });
    }
}
