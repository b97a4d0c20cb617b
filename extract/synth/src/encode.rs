//! Writes clips as real video files through FFmpeg's libraries (libavcodec / libavformat).
//!
//! Timestamps: the encoder time base is `1/fps` and frame `i` gets `pts = i`, so the file is constant
//! frame rate and decodes to exactly the rendered frame count. Reproducibility: one encoder thread
//! and the muxer's `bitexact` flag (no random Matroska segment UID, no creation time), so the same
//! clip gives a byte-identical file with the same FFmpeg build.

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Once;

use ffmpeg_next as ffmpeg;
use ffmpeg::codec::{self, threading};
use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;
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
}

impl Default for EncodeConfig {
    fn default() -> Self {
        Self { codec: Codec::H264, fps: 8, crf: 18, preset: "medium".to_owned() }
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
        let odd = cfg.codec == Codec::H264 && (f.width % 2 != 0 || f.height % 2 != 0);
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
        // swscale's RGB -> YUV conversion below is BT.601 limited range: say so in the stream.
        enc.set_colorspace(color::Space::SMPTE170M);
        enc.set_color_range(color::Range::MPEG);
    }
    if global_header {
        enc.set_flags(codec::Flags::GLOBAL_HEADER);
    }
    let mut options = Dictionary::new();
    if cfg.codec == Codec::H264 {
        options.set("preset", &cfg.preset);
        options.set("crf", &cfg.crf.to_string());
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

    let mut converter = FrameConverter::new(pixel, width, height).map_err(fail("create a pixel converter for"))?;
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
        let mut out = converter.convert(f).map_err(fail("convert a frame for"))?;
        out.set_pts(Some(i as i64));
        enc.send_frame(&out).map_err(|e| fail(&format!("encode frame {i} of"))(e))?;
        drain(&mut enc, &mut octx)?;
    }
    enc.send_eof().map_err(fail("flush the encoder of"))?;
    drain(&mut enc, &mut octx)?;
    octx.write_trailer().map_err(fail("finish"))?;
    Ok(())
}

/// Turns packed RGB [`Frame`]s into the encoder's pixel format.
enum FrameConverter {
    /// swscale RGB24 -> YUV 4:2:0.
    Scaled { scaler: scaling::Context, rgb: frame::Video, pixel: Pixel },
    /// Lossless repacking RGB -> BGR0 by hand (swscale is not guaranteed to be bit-exact).
    Bgr0,
}

impl FrameConverter {
    fn new(pixel: Pixel, width: usize, height: usize) -> Result<Self, ffmpeg::Error> {
        if pixel == Pixel::BGRZ {
            return Ok(Self::Bgr0);
        }
        let (w, h) = (width as u32, height as u32);
        let flags = scaling::Flags::BICUBIC | scaling::Flags::ACCURATE_RND | scaling::Flags::FULL_CHR_H_INP;
        let scaler = scaling::Context::get(Pixel::RGB24, w, h, pixel, w, h, flags)?;
        Ok(Self::Scaled { scaler, rgb: frame::Video::new(Pixel::RGB24, w, h), pixel })
    }

    fn convert(&mut self, f: &Frame) -> Result<frame::Video, ffmpeg::Error> {
        let row = f.width * 3;
        match self {
            Self::Bgr0 => {
                let mut out = frame::Video::new(Pixel::BGRZ, f.width as u32, f.height as u32);
                let stride = out.stride(0);
                let data = out.data_mut(0);
                for (y, src) in f.rgb.chunks_exact(row).enumerate() {
                    let dst = &mut data[y * stride..y * stride + f.width * 4];
                    for (d, s) in dst.chunks_exact_mut(4).zip(src.chunks_exact(3)) {
                        d.copy_from_slice(&[s[2], s[1], s[0], 0]);
                    }
                }
                Ok(out)
            }
            Self::Scaled { scaler, rgb, pixel } => {
                let stride = rgb.stride(0);
                let data = rgb.data_mut(0);
                for (y, src) in f.rgb.chunks_exact(row).enumerate() {
                    data[y * stride..y * stride + row].copy_from_slice(src);
                }
                let mut out = frame::Video::new(*pixel, f.width as u32, f.height as u32);
                scaler.run(rgb, &mut out)?;
                out.set_color_space(color::Space::SMPTE170M);
                out.set_color_range(color::Range::MPEG);
                Ok(out)
            }
        }
    }
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
