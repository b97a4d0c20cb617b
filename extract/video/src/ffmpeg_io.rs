//! Opening inputs with FFmpeg: library initialisation, the time bound, and the mapping of open failures to
//! [`VideoError`] variants.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::{Duration, Instant};

use ffmpeg_next as ffmpeg;
use ffmpeg::format::context::Input;
use ffmpeg::media;

use crate::error::VideoError;
use crate::sampling::DecodeLimits;

/// Initialises FFmpeg once per process and keeps its own stderr logging to errors only: every failure
/// that matters comes back as a typed [`VideoError`], and warnings about concealed damage in files would
/// otherwise flood the logs of a large batch.
pub(crate) fn init() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if let Err(e) = ffmpeg::init() {
            tracing::error!("ffmpeg init failed: {e}");
        }
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    });
}

/// The libavcodec version the binary runs against, e.g. `"59.37.100"`.
pub fn libavcodec_version() -> String {
    let v = ffmpeg::codec::version();
    format!("{}.{}.{}", v >> 16, (v >> 8) & 0xff, v & 0xff)
}

/// A wall-clock bound, shared by our loops and FFmpeg's interrupt callback.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    end: Instant,
    pub(crate) limit_s: f64,
}

impl Deadline {
    pub(crate) fn start(limit_s: f64) -> Self {
        let secs = if limit_s.is_finite() { limit_s.max(0.0) } else { 1e9 };
        let end = Instant::now().checked_add(Duration::from_secs_f64(secs.min(1e9))).unwrap_or_else(Instant::now);
        Self { end, limit_s }
    }

    pub(crate) fn expired(&self) -> bool {
        Instant::now() >= self.end
    }

    pub(crate) fn check(&self, path: &Path) -> Result<(), VideoError> {
        if self.expired() { Err(self.error(path)) } else { Ok(()) }
    }

    pub(crate) fn error(&self, path: &Path) -> VideoError {
        VideoError::DecodeTimeout { path: path.to_path_buf(), limit_s: self.limit_s }
    }
}

/// Size and SHA-256 of a file, after the checks that need no FFmpeg (missing, directory, empty, too big).
pub(crate) fn check_and_hash(path: &Path, limits: &DecodeLimits, deadline: &Deadline) -> Result<(u64, String), VideoError> {
    use sha2::{Digest, Sha256};
    let meta = std::fs::metadata(path).map_err(|e| VideoError::from_io(path, e))?;
    if meta.is_dir() {
        let source = std::io::Error::other("is a directory");
        return Err(VideoError::Io { path: path.to_path_buf(), source });
    }
    let bytes = meta.len();
    if bytes == 0 {
        return Err(VideoError::EmptyFile { path: path.to_path_buf() });
    }
    if let Some(max) = limits.max_file_bytes.filter(|&m| bytes > m) {
        return Err(VideoError::TooLarge { path: path.to_path_buf(), reason: format!("{bytes} bytes exceeds the limit of {max}") });
    }
    let mut file = std::fs::File::open(path).map_err(|e| VideoError::from_io(path, e))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf).map_err(|e| VideoError::from_io(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        deadline.check(path)?;
    }
    Ok((bytes, hex::encode(hasher.finalize())))
}

/// Opens `path` with FFmpeg under `deadline` and picks its main video stream (cover images excluded).
pub(crate) fn open_input(path: &Path, deadline: &Deadline) -> Result<(Input, usize), VideoError> {
    init();
    let d = *deadline;
    let input = ffmpeg::format::input_with_interrupt(path, move || d.expired()).map_err(|e| open_error(path, e, deadline))?;
    let mut found = None;
    let mut others = Vec::new();
    for s in input.streams() {
        let params = s.parameters();
        let medium = params.medium();
        let cover = s.disposition().contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC);
        if medium == media::Type::Video && !cover {
            found.get_or_insert(s.index());
        } else {
            let what = if cover { "cover image".to_string() } else { format!("{medium:?}").to_lowercase() };
            others.push(format!("{what} ({})", params.id().name()));
        }
    }
    // Prefer FFmpeg's notion of the best stream when it is a real video stream.
    let best = input
        .streams()
        .best(media::Type::Video)
        .filter(|s| !s.disposition().contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC))
        .map(|s| s.index());
    match best.or(found) {
        Some(index) => Ok((input, index)),
        None => {
            let reason = if others.is_empty() { "the container has no streams".to_string() } else { format!("streams: {}", others.join(", ")) };
            Err(VideoError::NoVideoStream { path: path.to_path_buf(), reason })
        }
    }
}

fn open_error(path: &Path, e: ffmpeg::Error, deadline: &Deadline) -> VideoError {
    let p = PathBuf::from(path);
    match e {
        ffmpeg::Error::Exit => deadline.error(path),
        ffmpeg::Error::InvalidData if is_iso_bmff(path) => VideoError::Truncated {
            path: p,
            reason: "an MP4/MOV file without a readable `moov` index (an unfinished recording or a cut download)".into(),
        },
        e => VideoError::NotAVideo { path: p, reason: e.to_string() },
    }
}

/// True when the file starts like an ISO base media file (MP4/MOV/3GP): a box of type `ftyp`.
fn is_iso_bmff(path: &Path) -> bool {
    let mut head = [0u8; 8];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut head)).is_ok() && &head[4..8] == b"ftyp"
}
