//! The store's one error type.

use std::path::PathBuf;

/// Everything that can go wrong creating, writing or reading a feature store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// A filesystem operation failed.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The directory exists but is not a dist feature store.
    #[error("{0}: not a dist feature store (no zarr.json with a \"dist\" attribute)")]
    NotAStore(PathBuf),
    /// The store was written by an incompatible format version.
    #[error("{path}: store format version {found}, this build reads version {supported}")]
    Version {
        path: PathBuf,
        found: u32,
        supported: u32,
    },
    /// What the caller expects of the store differs from what it records.
    #[error("store {path}: {field} is {found}, expected {expected}")]
    Mismatch {
        path: PathBuf,
        field: String,
        expected: String,
        found: String,
    },
    /// Another process has been creating the store for too long and is still running.
    #[error(
        "{path}: another process ({holder}) has been creating this store for {waited_s} s without finishing \
         and is still running; stop it if it hangs, or remove {lock} if that pid is not a store creator"
    )]
    CreationStalled {
        path: PathBuf,
        holder: String,
        lock: PathBuf,
        waited_s: u64,
    },
    /// A Zarr operation failed.
    #[error("zarr {what}: {message}")]
    Zarr { what: String, message: String },
    /// A Parquet/Arrow table could not be written or read.
    #[error("table {path}: {message}")]
    Table { path: PathBuf, message: String },
    /// A caller passed data of the wrong size or an index out of range.
    #[error("{0}")]
    Invalid(String),
    /// A label set is missing.
    #[error("store has no label set {name:?} (has: {available})")]
    NoLabelSet { name: String, available: String },
    /// A clip index was asked for that no committed shard holds.
    #[error("clip {0} is not in the store (never written, failed, or its shard is not committed)")]
    MissingClip(u64),
}

/// Result alias of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

pub(crate) fn io_err(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> StoreError {
    let path = path.into();
    move |source| StoreError::Io { path, source }
}

pub(crate) fn zarr_err<E: std::fmt::Display>(what: impl Into<String>) -> impl FnOnce(E) -> StoreError {
    let what = what.into();
    move |e| StoreError::Zarr { what, message: e.to_string() }
}
