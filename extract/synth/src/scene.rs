//! Scene settings, object tracks and the renderer that turns them into a [`Clip`].

use rand::Rng;

use crate::background::Background;
use crate::canvas::{Canvas, Frame, Rgb};
use crate::error::{Error, Result};
use crate::shape::{Placed, ShapeKind, Vec2};

/// What every clip looks like, independent of its family. Applied identically to both senses.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SceneConfig {
    /// Frame width and height in pixels (square frames; even, for 4:2:0 chroma).
    pub size: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Standard deviation of i.i.d. Gaussian pixel noise, in [0, 1] intensity units.
    pub noise: f32,
    /// Number of small distractor objects moving in random directions.
    pub distractors: usize,
    /// Static value-noise background texture instead of a flat grey.
    pub texture: bool,
}

impl Default for SceneConfig {
    fn default() -> Self {
        Self { size: 112, frames: 16, noise: 0.0, distractors: 0, texture: false }
    }
}

impl SceneConfig {
    /// Checks the ranges the families rely on.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the offending field.
    pub fn validate(&self) -> Result<()> {
        if self.size < 32 || !self.size.is_multiple_of(2) || self.size > 4096 {
            return Err(Error::config("size", format!("{} is not an even number in [32, 4096]", self.size)));
        }
        if !(4..=1024).contains(&self.frames) {
            return Err(Error::config("frames", format!("{} is not in [4, 1024] (event_order needs 4)", self.frames)));
        }
        if !(0.0..=1.0).contains(&self.noise) {
            return Err(Error::config("noise", format!("{} is not in [0, 1]", self.noise)));
        }
        if self.distractors > 64 {
            return Err(Error::config("distractors", format!("{} is more than 64", self.distractors)));
        }
        Ok(())
    }
}

/// Position, scale and rotation of an object at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Pose {
    pub(crate) center: Vec2,
    pub(crate) radius: f32,
    pub(crate) angle: f32,
}

/// One object moving linearly from pose `from` (first frame) to `to` (last frame), drawn only on
/// the frames in `visible`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Track {
    pub(crate) kind: ShapeKind,
    pub(crate) color: Rgb,
    pub(crate) from: Pose,
    pub(crate) to: Pose,
    pub(crate) visible: std::ops::Range<usize>,
}

impl Track {
    /// An object visible on all frames.
    pub(crate) fn moving(kind: ShapeKind, color: Rgb, from: Pose, to: Pose, frames: usize) -> Self {
        Self { kind, color, from, to, visible: 0..frames }
    }

    /// Where the object is on frame `t` of `frames`, if visible.
    fn at(&self, t: usize, frames: usize) -> Option<Placed> {
        if !self.visible.contains(&t) {
            return None;
        }
        let u = t as f32 / (frames - 1) as f32;
        Some(Placed {
            kind: self.kind,
            center: self.from.center.lerp(self.to.center, u),
            radius: self.from.radius + (self.to.radius - self.from.radius) * u,
            angle: self.from.angle + (self.to.angle - self.from.angle) * u,
        })
    }
}

/// A rendered clip: `frames` RGB frames of `size x size`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clip {
    /// The frames in display order.
    pub frames: Vec<Frame>,
}

impl Clip {
    /// The exact time reversal: the same frames in the opposite order.
    pub fn reversed(&self) -> Clip {
        Clip { frames: self.frames.iter().rev().cloned().collect() }
    }

    /// Mean over frames of each byte (pixel channel): what an order-blind average sees.
    ///
    /// # Shapes
    /// Returns `height * width * 3` values, in [`Frame::rgb`] layout.
    pub fn mean_frame(&self) -> Vec<f64> {
        let mut sum = vec![0u64; self.frames.first().map_or(0, |f| f.rgb.len())];
        for frame in &self.frames {
            for (s, &v) in sum.iter_mut().zip(&frame.rgb) {
                *s += u64::from(v);
            }
        }
        let n = self.frames.len().max(1) as f64;
        sum.into_iter().map(|s| s as f64 / n).collect()
    }
}

/// Draws background, `distractors` and then the family's `tracks` (on top) on every frame, then noise.
///
/// Everything random is drawn from `rng` in a fixed order, so a clip is a pure function of the seed.
pub(crate) fn render<R: Rng>(scene: &SceneConfig, tracks: &[Track], rng: &mut R) -> Clip {
    let background = Background::sample(scene.size, scene.texture, rng).pixels();
    let distractors: Vec<Track> = (0..scene.distractors).map(|_| distractor(scene, rng)).collect();
    let frames = (0..scene.frames)
        .map(|t| {
            let mut canvas = Canvas::from_background(scene.size, &background);
            for track in distractors.iter().chain(tracks) {
                if let Some(placed) = track.at(t, scene.frames) {
                    canvas.draw(&placed, track.color);
                }
            }
            if scene.noise > 0.0 {
                canvas.add_noise(|| scene.noise * standard_normal(rng));
            }
            canvas.to_frame()
        })
        .collect();
    Clip { frames }
}

/// A small diamond crossing part of the frame in a uniformly random direction.
fn distractor<R: Rng>(scene: &SceneConfig, rng: &mut R) -> Track {
    let s = scene.size as f32;
    let start = Vec2::new(rng.random_range(0.0..s), rng.random_range(0.0..s));
    let dir = rng.random_range(0.0..std::f32::consts::TAU);
    let len = rng.random_range(0.2..0.5) * s;
    let end = Vec2::new(start.x + len * dir.cos(), start.y + len * dir.sin());
    let radius = rng.random_range(0.035..0.05) * s;
    let color = random_color(rng);
    let pose = |center| Pose { center, radius, angle: 0.0 };
    Track::moving(ShapeKind::Diamond, color, pose(start), pose(end), scene.frames)
}

/// A saturated, bright colour of random hue (objects stand out from the darker background).
pub(crate) fn random_color<R: Rng>(rng: &mut R) -> Rgb {
    Rgb::from_hsv(rng.random_range(0.0..1.0), rng.random_range(0.5..0.9), rng.random_range(0.75..1.0))
}

/// A standard normal sample (Box-Muller; `rand` 0.9 has no normal distribution without `rand_distr`).
pub(crate) fn standard_normal<R: Rng>(rng: &mut R) -> f32 {
    let u1: f32 = 1.0 - rng.random::<f32>(); // (0, 1]: ln is finite
    let u2: f32 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn normal_samples_have_unit_variance() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let xs: Vec<f32> = (0..100_000).map(|_| standard_normal(&mut rng)).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / xs.len() as f32;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02, "mean {mean} var {var}");
    }

    #[test]
    fn rejects_bad_scene() {
        let odd = SceneConfig { size: 111, ..SceneConfig::default() };
        assert!(matches!(odd.validate(), Err(Error::InvalidConfig { field: "size", .. })));
        let short = SceneConfig { frames: 3, ..SceneConfig::default() };
        assert!(matches!(short.validate(), Err(Error::InvalidConfig { field: "frames", .. })));
    }
}
