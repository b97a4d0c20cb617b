//! Train/val/test assignment: stratified, by seed, and never separating a clip from its reversal.

use std::fmt;
use std::str::FromStr;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::error::{Error, Result};

/// One of the three dataset splits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Training clips (`train.txt`).
    Train,
    /// Validation clips (`val.txt`).
    Val,
    /// Held-out test clips (`test.txt`).
    Test,
}

impl Split {
    /// All splits, in manifest order.
    pub const ALL: [Split; 3] = [Self::Train, Self::Val, Self::Test];

    /// Name of the split (and stem of its manifest file).
    pub fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
            Self::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Fractions of each stratum that go to train, val and test; they sum to 1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SplitFractions(pub [f64; 3]);

impl Default for SplitFractions {
    fn default() -> Self {
        Self([0.6, 0.2, 0.2])
    }
}

impl FromStr for SplitFractions {
    type Err = Error;

    /// Parses `train,val,test`, e.g. `0.6,0.2,0.2`.
    fn from_str(s: &str) -> Result<Self> {
        let parts: Vec<f64> = s
            .split(',')
            .map(|p| p.trim().parse::<f64>())
            .collect::<Result<_, _>>()
            .map_err(|e| Error::config("split", format!("`{s}` is not three comma-separated numbers: {e}")))?;
        let fractions: [f64; 3] = parts
            .try_into()
            .map_err(|p: Vec<f64>| Error::config("split", format!("`{s}` has {} parts, expected 3", p.len())))?;
        let out = Self(fractions);
        out.validate()?;
        Ok(out)
    }
}

impl SplitFractions {
    /// Checks that the fractions are in [0, 1] and sum to 1.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] for field `split`.
    pub fn validate(&self) -> Result<()> {
        let sum: f64 = self.0.iter().sum();
        if self.0.iter().any(|f| !(0.0..=1.0).contains(f)) || (sum - 1.0).abs() > 1e-6 {
            return Err(Error::config("split", format!("{:?} must be three fractions in [0, 1] summing to 1", self.0)));
        }
        Ok(())
    }

    /// How many of `n` items go to each split: train and val rounded, test takes the rest.
    pub fn counts(&self, n: usize) -> [usize; 3] {
        let train = ((n as f64) * self.0[0]).round() as usize;
        let val = (((n as f64) * self.0[1]).round() as usize).min(n - train.min(n));
        let train = train.min(n);
        [train, val, n - train - val]
    }
}

/// Splits the `n` groups of one stratum: returns the split of each group index.
///
/// The groups are shuffled with a random stream of `seed` that depends only on `stratum`, then cut
/// by [`SplitFractions::counts`], so every stratum (a paired family, or one control class) is
/// split in the same proportions and the assignment does not depend on which other strata exist.
pub fn assign(n: usize, fractions: &SplitFractions, seed: u64, stratum: u64) -> Vec<Split> {
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(SPLIT_STREAM | stratum);
    order.shuffle(&mut rng);
    let [train, val, _] = fractions.counts(n);
    let mut out = vec![Split::Test; n];
    for (rank, &group) in order.iter().enumerate() {
        out[group] = if rank < train {
            Split::Train
        } else if rank < train + val {
            Split::Val
        } else {
            Split::Test
        };
    }
    out
}

/// Random streams at and above this value are reserved for split shuffles (rendering uses lower ones).
const SPLIT_STREAM: u64 = 1 << 63;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        assert_eq!("0.5, 0.25,0.25".parse::<SplitFractions>().unwrap().0, [0.5, 0.25, 0.25]);
        assert!("0.5,0.5".parse::<SplitFractions>().is_err());
        assert!("0.6,0.3,0.3".parse::<SplitFractions>().is_err());
        assert!("a,b,c".parse::<SplitFractions>().is_err());
    }

    #[test]
    fn counts_add_up() {
        let f = SplitFractions::default();
        for n in 0..50 {
            let c = f.counts(n);
            assert_eq!(c.iter().sum::<usize>(), n);
        }
        assert_eq!(f.counts(10), [6, 2, 2]);
        assert_eq!(SplitFractions([1.0, 0.0, 0.0]).counts(7), [7, 0, 0]);
    }

    #[test]
    fn assignment_is_seeded_and_proportional() {
        let f = SplitFractions::default();
        let a = assign(20, &f, 5, 1);
        assert_eq!(a, assign(20, &f, 5, 1));
        assert_ne!(a, assign(20, &f, 6, 1));
        assert_eq!(a.iter().filter(|s| **s == Split::Train).count(), 12);
        assert_eq!(a.iter().filter(|s| **s == Split::Test).count(), 4);
    }
}
