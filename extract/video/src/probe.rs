//! Probing: what a video is (recorded in `videos.parquet`) and where its frames are.
//!
//! Probing demuxes the whole video stream once, without decoding, to learn every frame's presentation
//! timestamp and which frames are keyframes. Frame `k` is then the frame with the k-th smallest timestamp,
//! which is exactly "the k-th frame in presentation order", also with B-frames (decode order differs) and
//! variable frame rate (timestamps are not `k/fps`). Containers that do not give every packet a timestamp
//! (AVI with packed B-frames, some MPEG-PS) or that repeat timestamps are indexed in decode-output order
//! instead: frame `k` is the k-th frame the decoder returns, and such videos are decoded from the start.

use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use serde::{Deserialize, Serialize};

use crate::error::VideoError;
use crate::ffmpeg_io::{check_and_hash, libavcodec_version, open_input, Deadline};
use crate::raw_ffi::packet_discarded;
use crate::rotation::rotation_degrees;
use crate::sampling::DecodeLimits;
use crate::truncation;

/// How frame indices map to the stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FrameIndexMode {
    /// Every packet has a distinct timestamp: frame k has the k-th smallest one; seeking is possible.
    Pts,
    /// Timestamps are missing or repeated: frame k is the decoder's k-th output; decoding starts at 0.
    DecodeOrder,
}

/// What `videos.parquet` records about a video.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VideoInfo {
    pub path: PathBuf,
    /// File size in bytes.
    pub bytes: u64,
    /// SHA-256 of the file content, lower-case hex.
    pub sha256: String,
    /// FFmpeg's demuxer name, e.g. `"mov,mp4,m4a,3gp,3g2,mj2"`.
    pub container: String,
    /// Codec name, e.g. `"h264"`.
    pub codec: String,
    /// Display width and height: after applying `rotation`.
    pub width: u32,
    pub height: u32,
    /// Coded (stored) size, before rotation.
    pub coded_width: u32,
    pub coded_height: u32,
    /// Clockwise rotation applied for display, from the stream's display matrix: 0, 90, 180 or 270.
    pub rotation: u32,
    /// Average frame rate from the container (informational only: timestamps come from the stream).
    pub fps: f64,
    /// Duration in seconds (stream, else container, else the span of timestamps).
    pub duration_s: f64,
    /// Presentation time of frame 0 in seconds.
    pub start_time_s: f64,
    /// Number of frames (packets of the video stream).
    pub frame_count: u64,
    pub keyframe_count: u64,
    /// Pixel format of the decoded frames, e.g. `"yuv420p"`, `"yuv444p10le"`.
    pub pixel_format: String,
    /// The libavcodec decoder used, e.g. `"h264"` or `"libdav1d"`.
    pub decoder: String,
    /// libavcodec version, e.g. `"59.37.100"`.
    pub libavcodec_version: String,
    /// Index of the video stream in the container.
    pub stream_index: usize,
    pub frame_index: FrameIndexMode,
}

/// Where the frames are: the sorted presentation timestamps and the keyframes among them.
#[derive(Debug, Clone)]
pub(crate) struct FrameIndex {
    pub(crate) mode: FrameIndexMode,
    /// Sorted, distinct presentation timestamps (stream time base); empty in `DecodeOrder` mode.
    pub(crate) pts: Vec<i64>,
    /// Presentation indices of the keyframes, sorted (`Pts` mode).
    pub(crate) keyframes: Vec<u64>,
    pub(crate) time_base: ffmpeg::Rational,
    pub(crate) count: u64,
}

impl FrameIndex {
    /// The presentation index of timestamp `pts`, if it is a frame's.
    pub(crate) fn position(&self, pts: i64) -> Option<u64> {
        self.pts.binary_search(&pts).ok().map(|i| i as u64)
    }

    /// The last keyframe at or before presentation index `k`.
    pub(crate) fn keyframe_before(&self, k: u64) -> Option<u64> {
        match self.keyframes.binary_search(&k) {
            Ok(i) => Some(self.keyframes[i]),
            Err(0) => None,
            Err(i) => Some(self.keyframes[i - 1]),
        }
    }

    pub(crate) fn seconds(&self, ts: i64) -> f64 {
        ts as f64 * f64::from(self.time_base)
    }
}

/// A probed video: its info and its frame index.
#[derive(Debug, Clone)]
pub(crate) struct Probe {
    pub(crate) info: VideoInfo,
    pub(crate) index: FrameIndex,
}

/// Probes a video: file checks, SHA-256, container and stream metadata, and the frame index (a demux pass
/// without decoding).
///
/// # Errors
/// One [`VideoError`] variant per failure class: missing or empty file, not a video, no video stream,
/// unsupported codec, too large, zero frames, truncated, timeout.
pub fn open_video(path: &Path, limits: &DecodeLimits) -> Result<VideoInfo, VideoError> {
    probe(path, limits).map(|p| p.info)
}

pub(crate) fn probe(path: &Path, limits: &DecodeLimits) -> Result<Probe, VideoError> {
    let deadline = Deadline::start(limits.max_decode_seconds);
    let (bytes, sha256) = check_and_hash(path, limits, &deadline)?;
    let (mut input, si) = open_input(path, &deadline)?;
    let p = PathBuf::from(path);

    let (params, time_base, stream_frames, stream_duration, avg_rate, real_rate, rotation) = {
        let s = input.stream(si).ok_or_else(|| VideoError::Ffmpeg { path: p.clone(), reason: format!("stream {si} vanished") })?;
        (s.parameters(), s.time_base(), s.frames(), s.duration(), s.avg_frame_rate(), s.rate(), rotation_degrees(&s))
    };
    let codec_id = params.id();
    let decoder_codec = ffmpeg::codec::decoder::find(codec_id).ok_or_else(|| VideoError::UnsupportedCodec {
        path: p.clone(),
        reason: format!("no decoder for codec {:?} in this FFmpeg build", codec_id.name()),
    })?;
    let ctx = ffmpeg::codec::context::Context::from_parameters(params)
        .map_err(|e| VideoError::Ffmpeg { path: p.clone(), reason: format!("codec parameters: {e}") })?;
    let decoder = ctx
        .decoder()
        .video()
        .map_err(|e| VideoError::UnsupportedCodec { path: p.clone(), reason: format!("cannot open the {} decoder: {e}", decoder_codec.name()) })?;
    let (coded_width, coded_height) = (decoder.width(), decoder.height());
    let pixel_format = decoder.format().descriptor().map(|d| d.name().to_string()).unwrap_or_else(|| "unknown".into());
    let pixels = coded_width as u64 * coded_height as u64;
    if pixels > limits.max_pixels {
        return Err(VideoError::TooLarge {
            path: p,
            reason: format!("{coded_width}x{coded_height} frames ({pixels} pixels) exceed the limit of {} pixels", limits.max_pixels),
        });
    }
    if coded_width == 0 || coded_height == 0 {
        tracing::debug!(path = %path.display(), "stream header gives no frame size");
    }

    let scan = scan_packets(&mut input, si, path, &deadline)?;
    // Packets, for comparing with what the container declares; frames, for the index.
    let packets = scan.packets.len() as u64;
    let count = scan.frames().count() as u64;
    let container = input.format().name().to_string();
    let rate = |r: ffmpeg::Rational| (r.numerator() > 0 && r.denominator() > 0).then(|| f64::from(r));
    let fps = rate(avg_rate).or_else(|| rate(real_rate)).unwrap_or(0.0);
    let container_duration = input.duration();
    // A cut file: its container structure declares more bytes than there are, or the demuxer flagged the
    // last packet as cut short. Checked before "zero frames", as a file cut inside its first frame is
    // truncated rather than empty.
    let shortfall = truncation::structural_shortfall(path, &container, bytes).map_err(|e| VideoError::from_io(path, e))?;
    let shortfall = shortfall.or_else(|| {
        scan.corrupt_at_end.then(|| "the demuxer flagged the last packet as cut short".to_string())
    });
    if let Some(why) = shortfall {
        let declared = declared_frames(stream_frames, container_duration, fps);
        return Err(VideoError::Truncated { path: p, reason: format!("{why}; {packets} frames could be read{declared}") });
    }
    if count == 0 {
        return Err(VideoError::ZeroFrames { path: p });
    }
    // The container's own count promises more frames than the file holds: the data was cut after the
    // header was written. Only MP4/MOV sample tables are exact; other headers (AVI's frame count, e.g.
    // with VP9 hidden frames) can legitimately differ, so there a shortfall counts only with demux errors.
    let exact_count = input.format().name().starts_with("mov,mp4");
    if stream_frames > 0 && (packets as i64) < stream_frames && (exact_count || scan.demux_errors > 0) {
        return Err(VideoError::Truncated {
            path: p,
            reason: format!(
                "the container declares {stream_frames} frames but only {packets} could be read ({} demuxer errors)",
                scan.demux_errors
            ),
        });
    }
    let index = build_index(&scan, time_base);
    let (width, height) = if rotation % 180 == 90 { (coded_height, coded_width) } else { (coded_width, coded_height) };
    let tb = f64::from(time_base);
    let span_s = match index.pts.as_slice() {
        [first, .., last] => (last - first) as f64 * tb,
        _ => 0.0,
    };
    let duration_s = if stream_duration > 0 {
        stream_duration as f64 * tb
    } else if container_duration > 0 {
        container_duration as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE)
    } else {
        span_s + if fps > 0.0 { 1.0 / fps } else { 0.0 }
    };
    let start_time_s = index.pts.first().map(|&t| t as f64 * tb).or_else(|| scan.first_ts().map(|t| t as f64 * tb)).unwrap_or(0.0);

    let info = VideoInfo {
        path: p,
        bytes,
        sha256,
        container,
        codec: codec_id.name().to_string(),
        width,
        height,
        coded_width,
        coded_height,
        rotation,
        fps,
        duration_s,
        start_time_s,
        frame_count: count,
        keyframe_count: scan.frames().filter(|p| p.key).count() as u64,
        pixel_format,
        decoder: decoder_codec.name().to_string(),
        libavcodec_version: libavcodec_version(),
        stream_index: si,
        frame_index: index.mode,
    };
    tracing::debug!(path = %path.display(), frames = count, mode = ?index.mode, "probed");
    Ok(Probe { info, index })
}

/// ", the container declares N (D s at F fps)" for a truncation message, or "" when it declares nothing.
fn declared_frames(stream_frames: i64, container_duration: i64, fps: f64) -> String {
    let secs = (container_duration > 0).then(|| container_duration as f64 / f64::from(ffmpeg::ffi::AV_TIME_BASE));
    match (stream_frames > 0, secs) {
        (true, _) => format!(", the container declares {stream_frames}"),
        (false, Some(d)) if fps > 0.0 => format!(", the container declares {d:.2} s (about {:.0} frames at {fps:.3} fps)", d * fps),
        (false, Some(d)) => format!(", the container declares {d:.2} s"),
        (false, None) => String::new(),
    }
}

/// One video packet as the demux pass saw it.
#[derive(Debug, Clone, Copy)]
struct ScannedPacket {
    pts: Option<i64>,
    key: bool,
    /// Decoded but never shown (cut by an MP4/MOV edit list): not a frame of the video.
    discard: bool,
}

/// What the demux pass saw of the video stream.
struct PacketScan {
    /// Every video packet, in decode order.
    packets: Vec<ScannedPacket>,
    demux_errors: usize,
    /// The last packets read (of any stream) carry FFmpeg's corrupt flag: the demuxer got fewer bytes than
    /// the packet's declared size, i.e. the file ends inside it.
    corrupt_at_end: bool,
}

impl PacketScan {
    fn first_ts(&self) -> Option<i64> {
        self.frames().filter_map(|p| p.pts).min()
    }

    /// The packets that are frames of the video (what the decoder outputs and the FFmpeg CLI shows).
    fn frames(&self) -> impl Iterator<Item = &ScannedPacket> {
        self.packets.iter().filter(|p| !p.discard)
    }
}

/// How many packets may follow the corrupt one at the end of a cut file (set from what FFmpeg 5.1's
/// parsers flush at the end of the MPEG-PS test files).
const TRAILING_AFTER_CORRUPT: usize = 2;

fn scan_packets(
    input: &mut ffmpeg::format::context::Input,
    si: usize,
    path: &Path,
    deadline: &Deadline,
) -> Result<PacketScan, VideoError> {
    let mut scan = PacketScan { packets: Vec::new(), demux_errors: 0, corrupt_at_end: false };
    // Packets since the last corrupt one; parsers may still flush a few packets from buffered data after it.
    let mut since_corrupt: Option<usize> = None;
    let mut consecutive_errors = 0;
    loop {
        let mut packet = ffmpeg::Packet::empty();
        match packet.read(input) {
            Ok(()) => {
                consecutive_errors = 0;
                since_corrupt = if packet.is_corrupt() { Some(0) } else { since_corrupt.map(|n| n + 1) };
                tracing::trace!(stream = packet.stream(), corrupt = packet.is_corrupt(), pts = ?packet.pts(), "scan");
                if packet.stream() == si {
                    scan.packets.push(ScannedPacket { pts: packet.pts(), key: packet.is_key(), discard: packet_discarded(&packet) });
                }
            }
            Err(ffmpeg::Error::Eof) => {
                scan.corrupt_at_end = since_corrupt.is_some_and(|n| n <= TRAILING_AFTER_CORRUPT);
                break;
            }
            Err(ffmpeg::Error::Exit) => return Err(deadline.error(path)),
            // The demuxer can resync after damaged data; give up after a long run of failures, which a
            // truncated or garbage file produces.
            Err(ffmpeg::Error::InvalidData) => {
                scan.demux_errors += 1;
                consecutive_errors += 1;
                if consecutive_errors > 1000 {
                    break;
                }
            }
            Err(e) => {
                if scan.packets.is_empty() {
                    return Err(VideoError::Ffmpeg { path: path.to_path_buf(), reason: format!("reading packets: {e}") });
                }
                return Err(VideoError::Truncated {
                    path: path.to_path_buf(),
                    reason: format!("reading stopped after {} frames: {e}", scan.packets.len()),
                });
            }
        }
        deadline.check(path)?;
    }
    Ok(scan)
}

fn build_index(scan: &PacketScan, time_base: ffmpeg::Rational) -> FrameIndex {
    let count = scan.frames().count() as u64;
    let all_pts: Option<Vec<(i64, bool)>> = scan.frames().map(|p| p.pts.map(|t| (t, p.key))).collect();
    if let Some(mut pairs) = all_pts {
        pairs.sort_unstable();
        if pairs.windows(2).all(|w| w[0].0 < w[1].0) {
            let keyframes = pairs.iter().enumerate().filter(|(_, (_, k))| *k).map(|(i, _)| i as u64).collect();
            return FrameIndex { mode: FrameIndexMode::Pts, pts: pairs.into_iter().map(|(p, _)| p).collect(), keyframes, time_base, count };
        }
    }
    FrameIndex { mode: FrameIndexMode::DecodeOrder, pts: Vec::new(), keyframes: Vec::new(), time_base, count }
}
