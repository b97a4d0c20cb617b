//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while loading or running the CLIP towers.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClipError {
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a checkpoint this crate can read (not safetensors, not a CLIP state dict).
    #[error("{path} is not a CLIP checkpoint: {reason}")]
    NotACheckpoint {
        /// The file.
        path: PathBuf,
        /// What was found instead.
        reason: String,
    },
    /// The model spec names nothing this crate knows.
    #[error("unknown model spec {spec:?}: {reason}")]
    UnknownSpec {
        /// The spec as given.
        spec: String,
        /// Why it was not understood, with the accepted forms.
        reason: String,
    },
    /// A tensor the architecture needs is absent from the checkpoint.
    #[error("{path}: tensor {tensor:?} is missing (a partial or truncated checkpoint?)")]
    MissingTensor {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name in the checkpoint's own layout.
        tensor: String,
    },
    /// A tensor has a shape that does not fit the architecture inferred from the rest of the file.
    #[error("{path}: tensor {tensor:?} has shape {actual:?}, expected {expected:?}")]
    ShapeMismatch {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name in the checkpoint's own layout.
        tensor: String,
        /// The shape the architecture needs.
        expected: Vec<usize>,
        /// The shape found in the file.
        actual: Vec<usize>,
    },
    /// A tensor is stored in a dtype that is not a float format.
    #[error("{path}: tensor {tensor:?} has dtype {dtype}, expected f32, f16, bf16 or f64")]
    UnsupportedDtype {
        /// The checkpoint file.
        path: PathBuf,
        /// The tensor's name.
        tensor: String,
        /// The dtype found.
        dtype: String,
    },
    /// A `config.json` / `open_clip_config.json` beside the weights could not be used.
    #[error("{path}: invalid model config: {reason}")]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// An input tensor or frame buffer has the wrong shape.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A requested hidden-state layer does not exist.
    #[error("layer {layer} requested but the tower has hidden states 0..={max}")]
    LayerOutOfRange {
        /// The requested index.
        layer: usize,
        /// The largest valid index (the number of blocks).
        max: usize,
    },
    /// The model has no text tower (a vision-only checkpoint) but text was asked for.
    #[error("the model has no text tower (vision-only checkpoint)")]
    NoTextTower,
    /// The requested backend is not compiled into this binary, or cannot compute in the requested dtype.
    #[error("backend {backend}: {reason}")]
    Backend {
        /// The backend as named on the command line (`cpu`, `wgpu`).
        backend: String,
        /// What is missing, and how to get it.
        reason: String,
    },
    /// The embedded BPE vocabulary could not be read (a broken build).
    #[error("the embedded CLIP BPE vocabulary is corrupt: {0}")]
    Vocabulary(String),
}

/// Result with [`ClipError`] as the default error.
pub type Result<T, E = ClipError> = std::result::Result<T, E>;
