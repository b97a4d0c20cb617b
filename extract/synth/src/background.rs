//! Static backgrounds: a flat grey, or a smooth colour value-noise texture.

use rand::Rng;

/// A background image, identical on every frame of a clip (and so on both senses).
#[derive(Debug, Clone)]
pub(crate) struct Background {
    size: usize,
    base: [f32; 3],
    /// Value-noise octaves: (cells per side, amplitude, lattice colours of `(cells + 1)^2` points).
    octaves: Vec<(usize, f32, Vec<[f32; 3]>)>,
}

impl Background {
    /// A dark grey in [0.10, 0.35], plus two texture octaves (4 and 8 cells per side) when `texture`.
    pub(crate) fn sample<R: Rng>(size: usize, texture: bool, rng: &mut R) -> Self {
        let grey = rng.random_range(0.10..0.35);
        let octaves = if texture {
            [(4, 0.14), (8, 0.07)]
                .into_iter()
                .map(|(cells, amp)| {
                    let lattice = (0..(cells + 1) * (cells + 1))
                        .map(|_| [0; 3].map(|_: u8| rng.random_range(-1.0f32..1.0)))
                        .collect();
                    (cells, amp, lattice)
                })
                .collect()
        } else {
            Vec::new()
        };
        Self { size, base: [grey; 3], octaves }
    }

    /// The image, row-major, one RGB triple per pixel.
    pub(crate) fn pixels(&self) -> Vec<[f32; 3]> {
        let mut px = vec![self.base; self.size * self.size];
        for (cells, amp, lattice) in &self.octaves {
            let n = cells + 1;
            let scale = *cells as f32 / self.size as f32;
            for y in 0..self.size {
                let (y0, fy) = cell((y as f32 + 0.5) * scale, *cells);
                for x in 0..self.size {
                    let (x0, fx) = cell((x as f32 + 0.5) * scale, *cells);
                    let at = |dx: usize, dy: usize| lattice[(y0 + dy) * n + x0 + dx];
                    let (a, b, c, d) = (at(0, 0), at(1, 0), at(0, 1), at(1, 1));
                    let p = &mut px[y * self.size + x];
                    for ch in 0..3 {
                        let top = a[ch] + (b[ch] - a[ch]) * fx;
                        let bottom = c[ch] + (d[ch] - c[ch]) * fx;
                        p[ch] += amp * (top + (bottom - top) * fy);
                    }
                }
            }
        }
        px
    }
}

/// Lattice cell and smoothstep-eased fraction of coordinate `v` (in cell units).
fn cell(v: f32, cells: usize) -> (usize, f32) {
    let i = (v.floor() as usize).min(cells - 1);
    let f = (v - i as f32).clamp(0.0, 1.0);
    (i, f * f * (3.0 - 2.0 * f))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    #[test]
    fn flat_is_uniform_and_texture_varies_smoothly() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let flat = Background::sample(32, false, &mut rng).pixels();
        assert!(flat.iter().all(|p| *p == flat[0] && p[0] == p[1]));
        let tex = Background::sample(64, true, &mut rng).pixels();
        let max_step = tex.windows(2).map(|w| (w[0][0] - w[1][0]).abs()).fold(0.0, f32::max);
        let spread = tex.iter().map(|p| p[0]).fold(f32::MIN, f32::max) - tex.iter().map(|p| p[0]).fold(f32::MAX, f32::min);
        assert!(spread > 0.05, "texture too flat: {spread}");
        // Row wrap-around jumps are allowed; the texture itself must change little per pixel.
        assert!(max_step < spread, "step {max_step} spread {spread}");
    }
}
