//! TSN segment-based frame indices (official code: `dataset/base/base_dataset.py`,
//! `_segment_based_sampling`).
//!
//! The video's `len` frames are cut into `n = γT` equal segments with bounds `len·i/n`. A training view takes
//! one uniformly random position per segment; val/test clip `k` of `K` takes `start + seg·(k+1)/K` (the
//! segment midpoint when `K = 1`), so the last clip sits at the segment ends. Positions are clamped to
//! `[0, len-1]` and rounded half-to-even (as `torch.round`).

use rand::Rng;

use super::config::ShortVideoPolicy;

/// How a view's positions inside the segments are chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemporalMode {
    /// One uniform random position per segment (training).
    Random,
    /// Clip `clip` of `clips` evenly spaced deterministic clips (val/test).
    Fixed { clip: usize, clips: usize },
}

/// The `n` frame indices of one view of a `len`-frame video.
///
/// Videos with fewer than `n` frames follow `policy`; `len = 0` gives no indices.
pub fn tsn_indices<R: Rng + ?Sized>(
    len: u64,
    n: usize,
    mode: TemporalMode,
    policy: ShortVideoPolicy,
    rng: &mut R,
) -> Vec<u64> {
    if len == 0 || n == 0 {
        return Vec::new();
    }
    if len < n as u64 {
        match policy {
            ShortVideoPolicy::Stretch => {}
            ShortVideoPolicy::RepeatLast => return (0..n as u64).map(|i| i.min(len - 1)).collect(),
            ShortVideoPolicy::Loop => return (0..n as u64).map(|i| i % len).collect(),
        }
    }
    let lenf = len as f64;
    let bound = |i: usize| lenf * i as f64 / n as f64;
    (0..n)
        .map(|i| {
            let (lo, hi) = (bound(i), bound(i + 1));
            let pos = match mode {
                TemporalMode::Random => lo + (hi - lo) * rng.random::<f64>(),
                TemporalMode::Fixed { clips: 0 | 1, .. } => (lo + hi) / 2.0,
                TemporalMode::Fixed { clip, clips } => lo + (hi - lo) * (clip + 1) as f64 / clips as f64,
            };
            pos.clamp(0.0, lenf - 1.0).round_ties_even() as u64
        })
        .collect()
}

/// Which dense positions are the sparse frames: `0, γ, 2γ, …, γ(T-1)` (the official ViT takes
/// `dense[:, ::γ]`). With TSN over γT segments this is the first of every γ consecutive segments, i.e. "T
/// segments with γ dense frames each, the sparse frame being the first of them".
pub fn sparse_positions(t: usize, gamma: usize) -> Vec<usize> {
    (0..t).map(|i| i * gamma).collect()
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn rng() -> ChaCha8Rng {
        ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn test_clips_match_the_official_formula() {
        // len 160, 16 segments of 10 frames: clip k sits at 10·i + 10·(k+1)/3.
        let idx = |clip| tsn_indices(160, 16, TemporalMode::Fixed { clip, clips: 3 }, ShortVideoPolicy::Stretch, &mut rng());
        assert_eq!(&idx(0)[..3], &[3, 13, 23]); // 3.33 -> 3
        assert_eq!(&idx(1)[..3], &[7, 17, 27]); // 6.67 -> 7
        assert_eq!(&idx(2)[..3], &[10, 20, 30]);
        assert_eq!(idx(2)[15], 159); // 160 clamped to len-1
        let mid = tsn_indices(160, 16, TemporalMode::Fixed { clip: 0, clips: 1 }, ShortVideoPolicy::Stretch, &mut rng());
        assert_eq!(&mid[..3], &[5, 15, 25]);
    }

    #[test]
    fn random_indices_stay_in_their_segment() {
        let mut r = rng();
        for len in [16u64, 17, 100, 1001] {
            for _ in 0..50 {
                let idx = tsn_indices(len, 16, TemporalMode::Random, ShortVideoPolicy::Stretch, &mut r);
                for (i, &k) in idx.iter().enumerate() {
                    let (lo, hi) = (len as f64 * i as f64 / 16.0, len as f64 * (i + 1) as f64 / 16.0);
                    assert!((k as f64) >= lo.floor() && (k as f64) <= hi.ceil().min(len as f64 - 1.0), "{len} {idx:?}");
                }
                assert!(idx.windows(2).all(|w| w[0] <= w[1]));
            }
        }
    }

    #[test]
    fn short_video_policies() {
        let f = |p| tsn_indices(5, 8, TemporalMode::Fixed { clip: 0, clips: 1 }, p, &mut rng());
        assert_eq!(f(ShortVideoPolicy::RepeatLast), [0, 1, 2, 3, 4, 4, 4, 4]);
        assert_eq!(f(ShortVideoPolicy::Loop), [0, 1, 2, 3, 4, 0, 1, 2]);
        let s = f(ShortVideoPolicy::Stretch);
        assert_eq!(s.len(), 8);
        assert!(s.windows(2).all(|w| w[0] <= w[1]) && *s.last().unwrap() <= 4 && s.contains(&0));
        assert!(tsn_indices(0, 8, TemporalMode::Random, ShortVideoPolicy::Loop, &mut rng()).is_empty());
    }

    #[test]
    fn sparse_positions_are_every_gamma_th() {
        assert_eq!(sparse_positions(8, 2), [0, 2, 4, 6, 8, 10, 12, 14]);
        assert_eq!(sparse_positions(3, 1), [0, 1, 2]);
    }
}
