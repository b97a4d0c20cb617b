//! The one error type of `dist-synth`.

use std::path::PathBuf;

/// Everything that can go wrong while configuring, rendering, encoding or writing the benchmark.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A generator setting is out of its valid range.
    #[error("invalid setting `{field}`: {reason}")]
    InvalidConfig {
        /// The command-line / config field name.
        field: &'static str,
        /// Why the value was rejected.
        reason: String,
    },
    /// A family name that is not one of the known families.
    #[error("unknown family `{0}` (expected one of: translate, rotate, approach, event_order, control)")]
    UnknownFamily(String),
    /// A codec name that is not supported.
    #[error("unknown codec `{0}` (expected h264 or ffv1)")]
    UnknownCodec(String),
    /// The FFmpeg build lacks an encoder we need.
    #[error("FFmpeg has no `{0}` encoder (install an FFmpeg built with it)")]
    MissingEncoder(&'static str),
    /// An FFmpeg call failed while writing a video file.
    #[error("ffmpeg failed to {action} `{path}`: {source}")]
    Ffmpeg {
        /// What we were doing ("open the muxer", "encode frame 3", ...).
        action: String,
        /// The video file being written.
        path: PathBuf,
        /// The FFmpeg error.
        #[source]
        source: ffmpeg_next::Error,
    },
    /// A clip handed to the encoder does not have the frame size it was configured for.
    #[error("frame {frame} of `{path}` is {got}, expected {expected}")]
    FrameSize {
        /// The video file being written.
        path: PathBuf,
        /// Frame index in the clip.
        frame: usize,
        /// Size of the offending frame as `WxH`.
        got: String,
        /// Expected `WxH`.
        expected: String,
    },
    /// A file-system operation failed.
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        /// What we were doing ("create directory", "write", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// JSON serialisation of a metadata file failed.
    #[error("cannot serialise `{path}`: {source}")]
    Json {
        /// The JSON file being written.
        path: PathBuf,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
}

/// Result with [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn config(field: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidConfig { field, reason: reason.into() }
    }

    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io { action, path: path.into(), source }
    }
}
