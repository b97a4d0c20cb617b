//! A floating-point RGB canvas that shapes are composited on, quantised to 8-bit [`Frame`]s at the end.

use crate::shape::{Placed, Vec2};

/// A linear RGB colour with channels in [0, 1].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rgb(pub [f32; 3]);

impl Rgb {
    /// A colour from hue (turns, [0, 1)), saturation and value.
    pub fn from_hsv(h: f32, s: f32, v: f32) -> Self {
        let h6 = h.rem_euclid(1.0) * 6.0;
        let c = v * s;
        let x = c * (1.0 - (h6 % 2.0 - 1.0).abs());
        let (r, g, b) = match h6 as u32 {
            0 => (c, x, 0.0),
            1 => (x, c, 0.0),
            2 => (0.0, c, x),
            3 => (0.0, x, c),
            4 => (x, 0.0, c),
            _ => (c, 0.0, x),
        };
        let m = v - c;
        Self([r + m, g + m, b + m])
    }
}

/// One 8-bit RGB video frame, row-major, 3 bytes per pixel (FFmpeg's `rgb24`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Frame {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes.
    pub rgb: Vec<u8>,
}

impl Frame {
    /// Per-channel mean of the frame, in [0, 255].
    pub fn mean_rgb(&self) -> [f64; 3] {
        let mut sum = [0u64; 3];
        for px in self.rgb.chunks_exact(3) {
            for c in 0..3 {
                sum[c] += u64::from(px[c]);
            }
        }
        let n = (self.width * self.height).max(1) as f64;
        sum.map(|s| s as f64 / n)
    }
}

/// A `size x size` RGB canvas with f32 channels.
#[derive(Debug, Clone)]
pub(crate) struct Canvas {
    size: usize,
    px: Vec<[f32; 3]>,
}

impl Canvas {
    /// A canvas filled with `background` (one colour per pixel, row-major).
    pub(crate) fn from_background(size: usize, background: &[[f32; 3]]) -> Self {
        debug_assert_eq!(background.len(), size * size);
        Self { size, px: background.to_vec() }
    }

    /// Composites `shape` in `color` with coverage `clamp(0.5 - sdf, 0, 1)` (a one-pixel-wide edge ramp).
    pub(crate) fn draw(&mut self, shape: &Placed, color: Rgb) {
        let reach = shape.bound() + 1.0;
        let lo = |c: f32| ((c - reach).floor().max(0.0)) as usize;
        let hi = |c: f32| ((c + reach).ceil().max(0.0) as usize).min(self.size);
        for y in lo(shape.center.y)..hi(shape.center.y) {
            for x in lo(shape.center.x)..hi(shape.center.x) {
                let d = shape.sdf(Vec2::new(x as f32 + 0.5, y as f32 + 0.5));
                let cover = (0.5 - d).clamp(0.0, 1.0);
                if cover > 0.0 {
                    for (v, target) in self.px[y * self.size + x].iter_mut().zip(color.0) {
                        *v += (target - *v) * cover;
                    }
                }
            }
        }
    }

    /// Adds `noise()` to every channel of every pixel (called in a fixed order, so it is reproducible).
    pub(crate) fn add_noise(&mut self, mut noise: impl FnMut() -> f32) {
        for p in &mut self.px {
            for v in p.iter_mut() {
                *v += noise();
            }
        }
    }

    /// Clamps to [0, 1] and rounds to 8 bits.
    pub(crate) fn to_frame(&self) -> Frame {
        let rgb = self
            .px
            .iter()
            .flat_map(|p| p.map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8))
            .collect();
        Frame { width: self.size, height: self.size, rgb }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shape::ShapeKind;

    #[test]
    fn hsv_primaries() {
        assert_eq!(Rgb::from_hsv(0.0, 1.0, 1.0).0, [1.0, 0.0, 0.0]);
        assert_eq!(Rgb::from_hsv(1.0 / 3.0, 1.0, 1.0).0, [0.0, 1.0, 0.0]);
        assert_eq!(Rgb::from_hsv(0.5, 0.0, 0.5).0, [0.5, 0.5, 0.5]);
    }

    #[test]
    fn disc_area_is_close_to_pi_r_squared() {
        let mut canvas = Canvas::from_background(64, &vec![[0.0; 3]; 64 * 64]);
        let disc = Placed { kind: ShapeKind::Disc, center: Vec2::new(30.3, 33.7), radius: 10.0, angle: 0.0 };
        canvas.draw(&disc, Rgb([1.0, 1.0, 1.0]));
        let area: f32 = canvas.px.iter().map(|p| p[0]).sum();
        assert!((area - std::f32::consts::PI * 100.0).abs() < 1.0, "area {area}");
    }
}
