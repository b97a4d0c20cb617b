//! Writes clips as real video files through FFmpeg's libraries (libavcodec / libavformat).
//!
//! Timestamps: the encoder time base is `1/fps` and frame `i` gets `pts = i`, so the file is constant
//! frame rate and decodes to exactly the rendered frame count. Reproducibility: one encoder thread,
//! fully initialised input frames, x264's macroblock-tree rate control off, and the muxer's
//! `bitexact` flag (no random Matroska segment UID, no creation time), so the same clip gives a
//! byte-identical file with the same FFmpeg and x264 builds.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Once;

use ffmpeg_next as ffmpeg;
use ffmpeg::codec::{self, threading};
use ffmpeg::format::Pixel;
use ffmpeg::util::{color, frame};
use ffmpeg::{Dictionary, Packet, Rational};

use crate::canvas::Frame;
use crate::error::{Error, Result};
use crate::scene::Clip;

/// Which codec (and container) to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Codec {
    /// libx264 H.264, 4:2:0, in MP4 (`.mp4`): what real datasets look like. Lossy, and inter-frame
    /// prediction makes the artefacts depend on frame order, so it is not for exact-chance checks.
    #[default]
    H264,
    /// FFV1 (lossless intra-only) with packed `bgr0` pixels in Matroska (`.mkv`): decodes to exactly
    /// the rendered RGB frames, for exact-chance checks.
    Ffv1,
}

impl Codec {
    /// File extension of the container used for this codec.
    pub fn extension(self) -> &'static str {
        match self {
            Self::H264 => "mp4",
            Self::Ffv1 => "mkv",
        }
    }
}

impl fmt::Display for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::H264 => "h264",
            Self::Ffv1 => "ffv1",
        })
    }
}

impl FromStr for Codec {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "h264" | "x264" | "libx264" => Ok(Self::H264),
            "ffv1" => Ok(Self::Ffv1),
            _ => Err(Error::UnknownCodec(s.to_owned())),
        }
    }
}

/// How clips are encoded.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct EncodeConfig {
    /// Codec and container.
    pub codec: Codec,
    /// Frames per second (constant).
    pub fps: u32,
    /// x264 constant rate factor (ignored by FFV1); lower is better quality.
    pub crf: u8,
    /// x264 preset (ignored by FFV1).
    pub preset: String,
    /// H.264 only: every frame an I-frame, at constant QP `crf` instead of constant rate factor.
    /// Each frame's coding then depends only on its own content, so a clip and its reversal
    /// decode to the same multiset of frames even through the lossy codec.
    pub intra_only: bool,
}

impl Default for EncodeConfig {
    fn default() -> Self {
        Self { codec: Codec::H264, fps: 8, crf: 18, preset: "medium".to_owned(), intra_only: false }
    }
}

impl EncodeConfig {
    /// Checks the ranges.
    ///
    /// # Errors
    /// [`Error::InvalidConfig`] naming the offending field.
    pub fn validate(&self) -> Result<()> {
        if !(1..=240).contains(&self.fps) {
            return Err(Error::config("fps", format!("{} is not in [1, 240]", self.fps)));
        }
        if self.crf > 51 {
            return Err(Error::config("crf", format!("{} is not in [0, 51]", self.crf)));
        }
        Ok(())
    }
}

/// Initialises FFmpeg once and keeps libx264's per-file statistics out of the logs.
pub fn init_ffmpeg() {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        // `init` only registers codecs; it cannot fail with the FFmpeg versions ffmpeg-next 9 supports.
        let _ = ffmpeg::init();
        ffmpeg::util::log::set_level(ffmpeg::util::log::Level::Error);
    });
}

/// Encodes `clip` into `path` (the container is chosen from the extension: use [`Codec::extension`]).
///
/// # Errors
/// [`Error::MissingEncoder`] if FFmpeg lacks the encoder, [`Error::FrameSize`] if a frame's size
/// differs from the first frame's or is odd for H.264, [`Error::Ffmpeg`] for any libav failure.
pub fn write_clip(path: &Path, clip: &Clip, cfg: &EncodeConfig) -> Result<()> {
    init_ffmpeg();
    let first = clip.frames.first().ok_or_else(|| Error::config("frames", "cannot encode an empty clip"))?;
    let (width, height) = (first.width, first.height);
    for (i, f) in clip.frames.iter().enumerate() {
        let odd = cfg.codec == Codec::H264 && (!f.width.is_multiple_of(2) || !f.height.is_multiple_of(2));
        if f.width != width || f.height != height || odd || f.rgb.len() != f.width * f.height * 3 {
            return Err(Error::FrameSize {
                path: path.to_owned(),
                frame: i,
                got: format!("{}x{} ({} bytes)", f.width, f.height, f.rgb.len()),
                expected: format!("{width}x{height} (even for h264)"),
            });
        }
    }
    let fail = |action: &str| {
        let action = action.to_owned();
        move |source| Error::Ffmpeg { action, path: path.to_owned(), source }
    };

    let (encoder_name, pixel) = match cfg.codec {
        Codec::H264 => ("libx264", Pixel::YUV420P),
        Codec::Ffv1 => ("ffv1", Pixel::BGRZ),
    };
    let codec = ffmpeg::encoder::find_by_name(encoder_name).ok_or(Error::MissingEncoder(encoder_name))?;
    let time_base = Rational::new(1, cfg.fps as i32);
    let rate = Rational::new(cfg.fps as i32, 1);

    let mut octx = ffmpeg::format::output(path).map_err(fail("open the muxer for"))?;
    let global_header = octx.format().flags().contains(ffmpeg::format::Flags::GLOBAL_HEADER);

    let mut context = codec::context::Context::new_with_codec(codec);
    context.set_threading(threading::Config::count(1));
    let mut enc = context.encoder().video().map_err(fail("create a video encoder for"))?;
    enc.set_width(width as u32);
    enc.set_height(height as u32);
    enc.set_format(pixel);
    enc.set_time_base(time_base);
    enc.set_frame_rate(Some(rate));
    if cfg.codec == Codec::H264 {
        // `convert` produces BT.601 limited-range YUV: say so in the stream.
        enc.set_colorspace(color::Space::SMPTE170M);
        enc.set_color_range(color::Range::MPEG);
    }
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut options = Dictionary::new();
    if cfg.codec == Codec::H264 {
        options.set("preset", &cfg.preset);
        if cfg.intra_only {
            enc.set_gop(1);
            options.set("qp", &cfg.crf.to_string());
        } else {
            options.set("crf", &cfg.crf.to_string());
        }
        // With x264's macroblock-tree rate control on, identical frames gave different files
        // depending on what the process had encoded before (history-dependent state, presumably
        // uninitialised memory). Off, output is reproducible; 16-frame clips gain little from it.
        options.set("mbtree", "0");
    }
    let mut enc = enc.open_with(options).map_err(fail("open the encoder for"))?;

    {
        let mut stream = octx.add_stream(codec).map_err(fail("add a stream to"))?;
        stream.set_parameters(&enc);
        stream.set_time_base(time_base);
        stream.set_avg_frame_rate(rate);
        stream.set_rate(rate);
    }
    let mut header_options = Dictionary::new();
    header_options.set("fflags", "+bitexact");
    octx.write_header_with(header_options).map_err(fail("write the header of"))?;
    let stream_time_base = octx.stream(0).map_or(time_base, |s| s.time_base());

    let drain = |enc: &mut ffmpeg::encoder::Video, octx: &mut ffmpeg::format::context::Output| -> Result<()> {
        let mut packet = Packet::empty();
        while enc.receive_packet(&mut packet).is_ok() {
            packet.set_stream(0);
            packet.rescale_ts(time_base, stream_time_base);
            packet.write_interleaved(octx).map_err(fail("write a packet to"))?;
        }
        Ok(())
    };
    for (i, f) in clip.frames.iter().enumerate() {
        let mut out = convert(f, pixel);
        out.set_pts(Some(i as i64));
        enc.send_frame(&out).map_err(|e| fail(&format!("encode frame {i} of"))(e))?;
        drain(&mut enc, &mut octx)?;
    }
    enc.send_eof().map_err(fail("flush the encoder of"))?;
    drain(&mut enc, &mut octx)?;
    octx.write_trailer().map_err(fail("finish"))?;
    Ok(())
}

/// Converts a packed RGB [`Frame`] into a new frame in the encoder's pixel format.
///
/// Both conversions are done by hand rather than by swscale: they are a few lines, exactly
/// specified, and bit-reproducible (see `zeroed`).
fn convert(f: &Frame, pixel: Pixel) -> frame::Video {
    let mut out = zeroed(pixel, f.width as u32, f.height as u32);
    let row = f.width * 3;
    if pixel == Pixel::BGRZ {
        let stride = out.stride(0);
        let data = out.data_mut(0);
        for (y, src) in f.rgb.chunks_exact(row).enumerate() {
            let dst = &mut data[y * stride..y * stride + f.width * 4];
            for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                d.copy_from_slice(&[s[2], s[1], s[0], 0]);
            }
        }
        return out;
    }
    // YUV 4:2:0, BT.601 limited range: luma per pixel, chroma from the mean RGB of each 2x2 block.
    let px = |x: usize, y: usize| {
        let i = y * row + x * 3;
        [f.rgb[i], f.rgb[i + 1], f.rgb[i + 2]].map(f32::from)
    };
    let stride = out.stride(0);
    let luma = out.data_mut(0);
    for y in 0..f.height {
        for x in 0..f.width {
            let [r, g, b] = px(x, y);
            luma[y * stride + x] = to_u8(16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0);
        }
    }
    let (cb_stride, cr_stride) = (out.stride(1), out.stride(2));
    for cy in 0..f.height / 2 {
        for cx in 0..f.width / 2 {
            let mut m = [0.0f32; 3];
            for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                let p = px(2 * cx + dx, 2 * cy + dy);
                for c in 0..3 {
                    m[c] += p[c] / 4.0;
                }
            }
            let [r, g, b] = m;
            out.data_mut(1)[cy * cb_stride + cx] = to_u8(128.0 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255.0);
            out.data_mut(2)[cy * cr_stride + cx] = to_u8(128.0 + (112.0 * r - 93.786 * g - 18.214 * b) / 255.0);
        }
    }
    out.set_color_space(color::Space::SMPTE170M);
    out.set_color_range(color::Range::MPEG);
    out
}

fn to_u8(v: f32) -> u8 {
    v.round().clamp(0.0, 255.0) as u8
}

/// A frame whose row padding is zero. `av_frame_get_buffer` leaves the padding uninitialised and
/// the encoder may read some of it: keep the input fully defined.
fn zeroed(pixel: Pixel, width: u32, height: u32) -> frame::Video {
    let mut f = frame::Video::new(pixel, width, height);
    for plane in 0..f.planes() {
        f.data_mut(plane).fill(0);
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_codecs() {
        assert_eq!("H264".parse::<Codec>().unwrap(), Codec::H264);
        assert_eq!("ffv1".parse::<Codec>().unwrap(), Codec::Ffv1);
        assert!(matches!("vp9".parse::<Codec>(), Err(Error::UnknownCodec(s)) if s == "vp9"));
    }

    #[test]
    fn rejects_odd_frames_for_h264() {
        let dir = tempfile::tempdir().unwrap();
        let clip = Clip { frames: vec![Frame { width: 33, height: 32, rgb: vec![0; 33 * 32 * 3] }; 4] };
        let err = write_clip(&dir.path().join("x.mp4"), &clip, &EncodeConfig::default()).unwrap_err();
        assert!(matches!(err, Error::FrameSize { frame: 0, .. }), "{err}");
    }
}
