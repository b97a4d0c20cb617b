//! Captioned still images: the pretraining data of the built-in tiny CLIP (`dist-extract
//! pretrain-tiny`), so that its image features describe what a frame shows the way a real CLIP's do.
//!
//! A still is one object (one of [`STILL_SHAPES`] in one of [`STILL_COLOURS`]) at a random position,
//! size and rotation, over the benchmark's backgrounds, with optional small diamond distractors and
//! pixel noise. Its caption, `"a photo of a {colour} {shape}."`, names only the object. A still has
//! no time, so nothing an encoder learns from stills can tell a clip from its reversal.

use rand::Rng;

use crate::background::Background;
use crate::canvas::{Canvas, Frame, Rgb};
use crate::scene::standard_normal;
use crate::shape::{Placed, ShapeKind, Vec2};

/// The captioned object shapes (the diamond is kept for distractors).
pub const STILL_SHAPES: [ShapeKind; 5] =
    [ShapeKind::Disc, ShapeKind::Square, ShapeKind::Triangle, ShapeKind::Cross, ShapeKind::Hand];

/// Colour names and their hue (turns); a still's hue is drawn within 1/24 turn of it.
pub const STILL_COLOURS: [(&str, f32); 6] = [
    ("red", 0.0),
    ("yellow", 1.0 / 6.0),
    ("green", 2.0 / 6.0),
    ("cyan", 3.0 / 6.0),
    ("blue", 4.0 / 6.0),
    ("magenta", 5.0 / 6.0),
];

/// The caption of every (shape, colour) pair; a still's label indexes this list
/// (`shape_index * STILL_COLOURS.len() + colour_index`).
#[must_use]
pub fn still_captions() -> Vec<String> {
    STILL_SHAPES
        .iter()
        .flat_map(|shape| STILL_COLOURS.iter().map(move |(colour, _)| format!("a photo of a {colour} {}.", shape.name())))
        .collect()
}

/// How stills vary.
#[derive(Debug, Clone, PartialEq)]
pub struct StillConfig {
    /// Image side in pixels.
    pub size: usize,
    /// Object radius range, as fractions of `size` (covers the benchmark's objects, from the small
    /// end of approach/recede to its large end).
    pub radius: (f32, f32),
    /// Pixel noise std is drawn uniformly from `[0, max_noise]`.
    pub max_noise: f32,
    /// Up to this many distractors.
    pub max_distractors: usize,
    /// Probability of a textured background.
    pub texture_prob: f64,
}

impl Default for StillConfig {
    fn default() -> Self {
        Self { size: 112, radius: (0.06, 0.34), max_noise: 0.08, max_distractors: 2, texture_prob: 0.5 }
    }
}

/// Renders one still and returns it with its caption index (see [`still_captions`]).
pub fn render_still<R: Rng>(cfg: &StillConfig, rng: &mut R) -> (Frame, usize) {
    let s = cfg.size as f32;
    let shape_index = rng.random_range(0..STILL_SHAPES.len());
    let colour_index = rng.random_range(0..STILL_COLOURS.len());
    let texture = rng.random_bool(cfg.texture_prob);
    let background = Background::sample(cfg.size, texture, rng).pixels();
    let mut canvas = Canvas::from_background(cfg.size, &background);
    for _ in 0..rng.random_range(0..=cfg.max_distractors) {
        let diamond = Placed {
            kind: ShapeKind::Diamond,
            center: Vec2::new(rng.random_range(0.0..s), rng.random_range(0.0..s)),
            radius: rng.random_range(0.035..0.05) * s,
            angle: 0.0,
        };
        canvas.draw(&diamond, crate::scene::random_color(rng));
    }
    let radius = rng.random_range(cfg.radius.0..cfg.radius.1) * s;
    // Keep most of the object in the frame: its centre at least 0.6 radius from every edge.
    let margin = (0.6 * radius).min(s / 2.0 - 1.0);
    let object = Placed {
        kind: STILL_SHAPES[shape_index],
        center: Vec2::new(rng.random_range(margin..s - margin), rng.random_range(margin..s - margin)),
        radius,
        angle: rng.random_range(0.0..std::f32::consts::TAU),
    };
    let hue = STILL_COLOURS[colour_index].1 + rng.random_range(-1.0 / 24.0..1.0 / 24.0);
    canvas.draw(&object, Rgb::from_hsv(hue, rng.random_range(0.5..0.9), rng.random_range(0.75..1.0)));
    let noise = rng.random_range(0.0..=cfg.max_noise);
    if noise > 0.0 {
        canvas.add_noise(|| noise * standard_normal(rng));
    }
    (canvas.to_frame(), shape_index * STILL_COLOURS.len() + colour_index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn captions_cover_every_pair_and_labels_index_them() {
        let captions = still_captions();
        assert_eq!(captions.len(), STILL_SHAPES.len() * STILL_COLOURS.len());
        assert_eq!(captions[0], "a photo of a red disc.");
        assert_eq!(captions[STILL_COLOURS.len() + 4], "a photo of a blue square.");
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let cfg = StillConfig::default();
        let mut seen = vec![false; captions.len()];
        for _ in 0..400 {
            let (frame, label) = render_still(&cfg, &mut rng);
            assert_eq!((frame.width, frame.height, frame.rgb.len()), (112, 112, 112 * 112 * 3));
            seen[label] = true;
        }
        assert!(seen.iter().all(|&s| s), "400 stills should hit all 30 captions");
    }

    #[test]
    fn stills_are_reproducible_from_the_seed() {
        let cfg = StillConfig::default();
        let a = render_still(&cfg, &mut ChaCha8Rng::seed_from_u64(9));
        let b = render_still(&cfg, &mut ChaCha8Rng::seed_from_u64(9));
        assert_eq!(a, b);
    }
}
