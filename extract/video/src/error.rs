//! The crate's single error type.
//!
//! Every failure names the file it concerns and says why, so that an extraction batch can record the
//! reason in `videos.parquet` (through [`VideoError::kind`], a short stable code, and `Display`, the human
//! reason) and go on with the next video.

use std::path::PathBuf;

/// Everything that can go wrong while reading manifests, probing, or decoding a video.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VideoError {
    /// The file does not exist.
    #[error("{}: file not found", path.display())]
    MissingFile { path: PathBuf },

    /// The file exists but could not be read (permissions, a directory, an I/O error).
    #[error("{}: cannot read: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },

    /// The file has zero bytes.
    #[error("{}: empty file (0 bytes)", path.display())]
    EmptyFile { path: PathBuf },

    /// FFmpeg does not recognise the file as any container it can read.
    #[error("{}: not a video FFmpeg can read: {reason}", path.display())]
    NotAVideo { path: PathBuf, reason: String },

    /// The container opened but holds no video stream (e.g. an audio-only file).
    #[error("{}: no video stream: {reason}", path.display())]
    NoVideoStream { path: PathBuf, reason: String },

    /// The video stream's codec has no decoder in this FFmpeg build.
    #[error("{}: unsupported codec: {reason}", path.display())]
    UnsupportedCodec { path: PathBuf, reason: String },

    /// The video stream holds no frames at all.
    #[error("{}: the video stream has zero frames", path.display())]
    ZeroFrames { path: PathBuf },

    /// The file ends before the container says it should (an interrupted download or recording).
    #[error("{}: truncated file: {reason}", path.display())]
    Truncated { path: PathBuf, reason: String },

    /// The decoder reported an error in the part of the bitstream that had to be decoded.
    #[error("{}: corrupt bitstream: {reason}", path.display())]
    CorruptBitstream { path: PathBuf, reason: String },

    /// The video exceeds a configured limit (frame size, file size).
    #[error("{}: too large: {reason}", path.display())]
    TooLarge { path: PathBuf, reason: String },

    /// Probing or decoding took longer than `DecodeLimits::max_decode_seconds`.
    #[error("{}: decoding exceeded the time limit of {limit_s} s", path.display())]
    DecodeTimeout { path: PathBuf, limit_s: f64 },

    /// Any other FFmpeg failure (scaler setup, decoder open).
    #[error("{}: ffmpeg: {reason}", path.display())]
    Ffmpeg { path: PathBuf, reason: String },

    /// One line (or record) of an annotation file is malformed. `line` is 1-based.
    #[error("{}:{line}: {reason}", path.display())]
    BadManifestLine { path: PathBuf, line: usize, reason: String },

    /// An annotation file as a whole is unusable (unreadable, wrong header, not JSON).
    #[error("{}: bad manifest: {reason}", path.display())]
    BadManifest { path: PathBuf, reason: String },

    /// A class list is malformed (duplicate names, empty names, bad labels.json).
    #[error("{}:{line}: bad class list: {reason}", path.display())]
    BadClassList { path: PathBuf, line: usize, reason: String },

    /// A sampling configuration that cannot be honoured (e.g. `t = 0`).
    #[error("invalid sampling config: {reason}")]
    InvalidConfig { reason: String },

    /// View plans that do not fit the video they are applied to.
    #[error("{}: invalid view plan: {reason}", path.display())]
    InvalidPlan { path: PathBuf, reason: String },
}

impl VideoError {
    /// A short, stable code for tables (`videos.parquet`'s `error_kind` column).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingFile { .. } => "missing_file",
            Self::Io { .. } => "io",
            Self::EmptyFile { .. } => "empty_file",
            Self::NotAVideo { .. } => "not_a_video",
            Self::NoVideoStream { .. } => "no_video_stream",
            Self::UnsupportedCodec { .. } => "unsupported_codec",
            Self::ZeroFrames { .. } => "zero_frames",
            Self::Truncated { .. } => "truncated",
            Self::CorruptBitstream { .. } => "corrupt_bitstream",
            Self::TooLarge { .. } => "too_large",
            Self::DecodeTimeout { .. } => "decode_timeout",
            Self::Ffmpeg { .. } => "ffmpeg",
            Self::BadManifestLine { .. } => "bad_manifest_line",
            Self::BadManifest { .. } => "bad_manifest",
            Self::BadClassList { .. } => "bad_class_list",
            Self::InvalidConfig { .. } => "invalid_config",
            Self::InvalidPlan { .. } => "invalid_plan",
        }
    }

    /// Maps an `std::io::Error` on `path` to `MissingFile` or `Io`.
    pub(crate) fn from_io(path: &std::path::Path, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::NotFound {
            Self::MissingFile { path: path.to_path_buf() }
        } else {
            Self::Io { path: path.to_path_buf(), source }
        }
    }
}
