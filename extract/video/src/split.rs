//! Dataset splits.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which part of a dataset a video belongs to. It decides the sampling: random views for `Train`,
/// deterministic views for `Val` and `Test`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Val,
    Test,
}

impl Split {
    /// The canonical lower-case name (`"train"`, `"val"`, `"test"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::Val => "val",
            Self::Test => "test",
        }
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error of [`Split::from_str`]: the text that is not a split name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown split {0:?} (expected train, val/validate/validation or test)")]
pub struct UnknownSplit(pub String);

impl FromStr for Split {
    type Err = UnknownSplit;

    /// Accepts the names used by the supported annotation formats, case-insensitively: Kinetics CSVs
    /// say `validate`, mmaction2 lists say `val`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "train" | "training" => Ok(Self::Train),
            "val" | "valid" | "validate" | "validation" => Ok(Self::Val),
            "test" | "testing" => Ok(Self::Test),
            _ => Err(UnknownSplit(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_aliases() {
        for s in [Split::Train, Split::Val, Split::Test] {
            assert_eq!(s.as_str().parse::<Split>().unwrap(), s);
        }
        assert_eq!("validate".parse::<Split>().unwrap(), Split::Val);
        assert_eq!(" Train ".parse::<Split>().unwrap(), Split::Train);
        assert!("dev".parse::<Split>().is_err());
    }
}
