//! The crate's single error type.

use std::path::PathBuf;

/// Everything that can go wrong in `dist-train`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A model configuration that cannot be built (or has no sensible meaning).
    #[error("invalid model config: `{field}`: {reason}")]
    InvalidConfig { field: &'static str, reason: String },

    /// A forward input whose shape disagrees with the model or with the other inputs.
    #[error("input `{name}` has shape {got:?}, expected {expected}")]
    InputShape { name: String, got: Vec<usize>, expected: String },

    /// A weight file lacks a tensor the model needs.
    #[error("{path}: missing tensor `{key}`")]
    MissingTensor { path: PathBuf, key: String },

    /// A weight file holds a tensor of the wrong shape.
    #[error("{path}: tensor `{key}` has shape {got:?}, the model expects {expected:?}")]
    TensorShape { path: PathBuf, key: String, got: Vec<usize>, expected: Vec<usize> },

    /// A tensor stored in a dtype we do not read.
    #[error("{path}: tensor `{key}` has dtype {dtype}, expected F32, F16 or BF16")]
    TensorDtype { path: PathBuf, key: String, dtype: String },

    /// A weight file holds tensors the model has no place for.
    #[error("{path}: {count} tensor(s) the model has no place for, e.g. `{first}`")]
    UnexpectedTensors { path: PathBuf, count: usize, first: String },

    /// The model configuration could not be derived from a weight file.
    #[error("{path}: cannot infer {what}: {reason}")]
    Infer { path: PathBuf, what: &'static str, reason: String },

    /// A malformed safetensors file.
    #[error("{path}: {source}")]
    Safetensors { path: PathBuf, source: safetensors::SafeTensorError },

    /// A malformed `.npy` file.
    #[error("{path}: {reason}")]
    Npy { path: PathBuf, reason: String },

    /// A TOML config that does not parse into the expected structure.
    #[error("{path}: {source}")]
    Toml { path: PathBuf, source: toml::de::Error },

    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig { field, reason: reason.into() }
    }

    pub(crate) fn input(name: impl Into<String>, got: &[usize], expected: impl Into<String>) -> Self {
        Self::InputShape { name: name.into(), got: got.to_vec(), expected: expected.into() }
    }
}
