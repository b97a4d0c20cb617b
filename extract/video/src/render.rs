//! Turning one decoded frame into one view's S×S RGB image: crop box, resize, rotation, flip.
//!
//! The crop box (display pixels) is resized to S×S as if the *whole* frame were scaled with swscale by
//! `S / box_w` horizontally and `S / box_h` vertically (rounded to whole pixels) and the S×S window at the
//! scaled box position cut out; the integer rounding shifts the window by at most half an output pixel.
//! Rotation and flip are applied in the final copy.
//!
//! When the source is not already RGB24 the swscale work is done in two passes: resize in the source's own
//! pixel format (swscale's fast planar scalers), then convert to RGB24 at the small size (its fast unscaled
//! converters); this is about twice as fast as one combined scale-and-convert pass, whose RGB24 output path
//! is not vectorised. Only what the window needs is computed ([`crate::raw_ffi`]): the resize pass
//! produces just the window's rows (all columns: swscale cannot cut columns without changing its filter
//! phases), and the conversion covers just the window, widened to the chroma grid and by two chroma samples. The result is identical
//! to converting the whole scaled frame. If swscale cannot write the source format, one combined
//! whole-frame pass is used.
//!
//! Resize filter: swscale `SWS_BILINEAR`, which for downscaling widens the triangle filter to the scale
//! factor (an anti-aliased bilinear, like PIL's); it is not torch's `F.interpolate(antialias=False)`.
//! YUV is converted with the coefficients and range each frame is flagged with, as the FFmpeg CLI does
//! (BT.709 for HD content flagged so; BT.601 when unflagged; full range for `pc`-flagged or `yuvj*` frames).

use ffmpeg_next as ffmpeg;
use ffmpeg::format::Pixel;
use ffmpeg::frame::Video as VideoFrame;
use ffmpeg::software::scaling::{Context as Scaler, Flags};

use crate::sampling::CropBox;
use crate::raw_ffi::{convert_window, scale_rows, set_colour, WindowLayout, YuvColour};

/// Largest side of the intermediate scaled frame; bounds memory for tiny crop boxes of huge frames.
const MAX_SCALED_SIDE: u32 = 16384;

/// Renders frames for one view. Keeps its scalers between frames; rebuilds them if the stream changes size
/// or pixel format mid-way.
pub(crate) struct ViewRenderer {
    crop: CropBox,
    flip: bool,
    size: u32,
    rotation: u32,
    /// Display size the crop box refers to (the probed size).
    display: (u32, u32),
    pipeline: Option<(ScalerKey, Pipeline)>,
    /// RGB24 pixels of the rectangle of the scaled frame (coded orientation) that starts at `rgb_origin`.
    rgb: VideoFrame,
    rgb_origin: (u32, u32),
    /// Convert the whole scaled frame rather than the window (the reference the window path is tested against).
    whole_frame: bool,
}

/// The swscale passes from a decoded frame to RGB24.
enum Pipeline {
    /// One combined resize-and-convert pass of the whole frame (RGB24 sources, formats swscale cannot write).
    Direct(Scaler),
    /// Resize in the source format into `mid`, then convert (a window of) it to RGB24.
    TwoStage {
        resize: Scaler,
        /// `None` for formats whose windows cannot be addressed (then the whole frame is converted).
        window: Option<WindowLayout>,
        /// The conversion scaler, for the input size it was built for.
        convert: Option<((u32, u32), Scaler)>,
        mid: VideoFrame,
    },
}

impl Pipeline {
    fn new(key: ScalerKey) -> Result<Self, String> {
        let err = |e: ffmpeg::Error| format!("no swscale conversion {:?} {}x{} -> rgb24: {e}", key.format, key.width, key.height);
        let direct = || {
            let mut scaler = Scaler::get(key.format, key.width, key.height, Pixel::RGB24, key.out_width, key.out_height, Flags::BILINEAR).map_err(err)?;
            set_colour(&mut scaler, key.colour)?;
            Ok(Pipeline::Direct(scaler))
        };
        if key.format == Pixel::RGB24 {
            return direct();
        }
        // Probe the conversion once at the full scaled size, so a format swscale cannot write falls back here.
        let resize = Scaler::get(key.format, key.width, key.height, key.format, key.out_width, key.out_height, Flags::BILINEAR);
        let convert = Scaler::get(key.format, key.out_width, key.out_height, Pixel::RGB24, key.out_width, key.out_height, Flags::BILINEAR);
        match (resize, convert) {
            (Ok(resize), Ok(mut convert)) => {
                set_colour(&mut convert, key.colour)?;
                Ok(Pipeline::TwoStage {
                    resize,
                    window: WindowLayout::of(key.format),
                    convert: Some(((key.out_width, key.out_height), convert)),
                    mid: VideoFrame::empty(),
                })
            }
            _ => direct(),
        }
    }
}

/// The conversion scaler for a `w×h` input of `key.format`, rebuilt when the size changes.
fn converter<'a>(slot: &'a mut Option<((u32, u32), Scaler)>, key: &ScalerKey, w: u32, h: u32) -> Result<&'a mut Scaler, String> {
    if slot.as_ref().map(|(k, _)| *k) != Some((w, h)) {
        let format = key.format;
        let mut s = Scaler::get(format, w, h, Pixel::RGB24, w, h, Flags::BILINEAR)
            .map_err(|e| format!("no swscale conversion {format:?} {w}x{h} -> rgb24: {e}"))?;
        set_colour(&mut s, key.colour)?;
        *slot = Some(((w, h), s));
    }
    Ok(&mut slot.as_mut().expect("set above").1)
}

/// The span `[a, e)` of a scaled frame of `full` pixels to convert along one axis so that the pixels
/// `[r, r + s)` come out exactly as from a whole-frame conversion, for an axis with chroma subsampling
/// `log2`. swscale's generic converter interpolates subsampled chroma, so the span keeps two chroma samples
/// of margin, starts on the chroma grid and has a whole number of chroma samples (the chroma-to-luma ratio
/// of its filter is then exactly that of the whole frame); its length is a multiple of `unit` if possible.
fn window_span(r: u32, s: u32, full: u32, log2: u32, unit: u32) -> (u32, u32) {
    let grid = 1 << log2;
    if !full.is_multiple_of(grid) {
        // The frame ends in a partial chroma sample, so its chroma-to-luma ratio is not 1/grid: only the
        // whole axis reproduces it.
        return (0, full);
    }
    let margin = if log2 > 0 { 2 << log2 } else { 0 };
    let a = r.saturating_sub(margin) / grid * grid;
    let unit = unit.max(grid);
    let e = a + (r + s + margin - a).div_ceil(unit) * unit;
    if e <= full {
        return (a, e);
    }
    if !(full - a).is_multiple_of(unit) && a >= grid {
        return (a - grid, full);
    }
    (a, full)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScalerKey {
    format: Pixel,
    width: u32,
    height: u32,
    out_width: u32,
    out_height: u32,
    /// Frames carry their colour metadata; a change (rare) rebuilds the scalers.
    colour: YuvColour,
}

/// Where the S×S window lies in the scaled frame.
struct Layout {
    /// Scaled frame size in coded orientation (what swscale produces).
    coded: (u32, u32),
    /// Window offset in display orientation.
    offset: (u32, u32),
}

impl Layout {
    /// Top-left corner, in coded orientation, of the S×S window (the coded pixels the display window shows).
    fn coded_origin(&self, s: u32, rotation: u32) -> (u32, u32) {
        let ((cw, ch), (ox, oy)) = (self.coded, self.offset);
        match rotation {
            90 => (oy, ch - ox - s),
            180 => (cw - ox - s, ch - oy - s),
            270 => (cw - oy - s, ox),
            _ => (ox, oy),
        }
    }
}

impl ViewRenderer {
    pub(crate) fn new(crop: CropBox, flip: bool, size: u32, rotation: u32, display: (u32, u32)) -> Self {
        Self { crop, flip, size, rotation, display, pipeline: None, rgb: VideoFrame::empty(), rgb_origin: (0, 0), whole_frame: false }
    }

    fn layout(&self, frame_w: u32, frame_h: u32) -> Result<Layout, String> {
        let (dw, dh) = if self.rotation % 180 == 90 { (frame_h, frame_w) } else { (frame_w, frame_h) };
        // The box refers to the probed display size; rescale it if this frame differs (resolution change).
        let sx = dw as f64 / self.display.0.max(1) as f64;
        let sy = dh as f64 / self.display.1.max(1) as f64;
        let (bx, by) = (self.crop.x as f64 * sx, self.crop.y as f64 * sy);
        let (bw, bh) = ((self.crop.w as f64 * sx).max(1.0), (self.crop.h as f64 * sy).max(1.0));
        let s = self.size as f64;
        let tw = ((dw as f64 * s / bw).round() as u32).max(self.size);
        let th = ((dh as f64 * s / bh).round() as u32).max(self.size);
        if tw > MAX_SCALED_SIDE || th > MAX_SCALED_SIDE {
            return Err(format!("crop box {:?} of a {dw}x{dh} frame needs a {tw}x{th} intermediate frame", self.crop));
        }
        let ox = ((bx * s / bw).round() as u32).min(tw - self.size);
        let oy = ((by * s / bh).round() as u32).min(th - self.size);
        let coded = if self.rotation % 180 == 90 { (th, tw) } else { (tw, th) };
        Ok(Layout { coded, offset: (ox, oy) })
    }

    /// Writes the view of `frame` into `out` (`S·S·3` bytes, row-major RGB).
    pub(crate) fn render(&mut self, frame: &VideoFrame, out: &mut [u8]) -> Result<(), String> {
        let layout = self.layout(frame.width(), frame.height())?;
        let key = ScalerKey {
            format: frame.format(),
            width: frame.width(),
            height: frame.height(),
            out_width: layout.coded.0,
            out_height: layout.coded.1,
            colour: YuvColour::of(frame),
        };
        if self.pipeline.as_ref().map(|(k, _)| *k) != Some(key) {
            self.pipeline = Some((key, Pipeline::new(key)?));
            self.rgb = VideoFrame::empty();
        }
        let (s, (cw, ch)) = (self.size, layout.coded);
        let swscale = |e: ffmpeg::Error| format!("swscale: {e}");
        match self.pipeline.as_mut().map(|(_, p)| p) {
            Some(Pipeline::Direct(scaler)) => {
                scaler.run(frame, &mut self.rgb).map_err(swscale)?;
                self.rgb_origin = (0, 0);
            }
            Some(Pipeline::TwoStage { resize, window: Some(window), convert, mid }) if !self.whole_frame => {
                let (rx, ry) = layout.coded_origin(s, self.rotation);
                let (ax, ex) = window_span(rx, s, cw, window.log2_chroma.0, 1);
                // An even height keeps swscale's fast unscaled 4:2:x converters (they refuse odd heights).
                let (ay, ey) = window_span(ry, s, ch, window.log2_chroma.1, 2);
                let (w, h) = (ex - ax, ey - ay);
                scale_rows(resize, frame, mid, ay..ay + h)?;
                convert_window(converter(convert, &key, w, h)?, window, mid, (ax, ay), &mut self.rgb)?;
                self.rgb_origin = (ax, ay);
            }
            Some(Pipeline::TwoStage { resize, convert, mid, .. }) => {
                resize.run(frame, mid).map_err(swscale)?;
                converter(convert, &key, cw, ch)?.run(mid, &mut self.rgb).map_err(swscale)?;
                self.rgb_origin = (0, 0);
            }
            None => unreachable!("pipeline set above"),
        }
        self.copy_window(&layout, out);
        Ok(())
    }

    /// Copies the S×S window out of the RGB rectangle, rotating to display orientation and flipping.
    fn copy_window(&self, layout: &Layout, out: &mut [u8]) {
        let s = self.size as usize;
        let stride = self.rgb.stride(0);
        let data = self.rgb.data(0);
        let (cw, ch) = (layout.coded.0 as usize, layout.coded.1 as usize);
        let (ox, oy) = (layout.offset.0 as usize, layout.offset.1 as usize);
        let (rx, ry) = (self.rgb_origin.0 as usize, self.rgb_origin.1 as usize);
        if self.rotation == 0 && !self.flip {
            for r in 0..s {
                let src = (oy + r - ry) * stride + (ox - rx) * 3;
                out[r * s * 3..(r + 1) * s * 3].copy_from_slice(&data[src..src + s * 3]);
            }
            return;
        }
        for r in 0..s {
            for c in 0..s {
                let x = ox + if self.flip { s - 1 - c } else { c };
                let y = oy + r;
                // Display pixel (x, y) of the frame rotated clockwise by `rotation`, in coded coordinates.
                let (cx, cy) = match self.rotation {
                    90 => (y, ch - 1 - x),
                    180 => (cw - 1 - x, ch - 1 - y),
                    270 => (cw - 1 - y, x),
                    _ => (x, y),
                };
                let src = (cy - ry) * stride + (cx - rx) * 3;
                let dst = (r * s + c) * 3;
                out[dst..dst + 3].copy_from_slice(&data[src..src + 3]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_resize_short_then_centre_crop() {
        // 320x240, box = central 240 square, S = 224: resize to 299x224 (298.67 rounded), window at x = 37.
        let r = ViewRenderer::new(CropBox { x: 40, y: 0, w: 240, h: 240 }, false, 224, 0, (320, 240));
        let l = r.layout(320, 240).unwrap();
        assert_eq!((l.coded, l.offset), ((299, 224), (37, 0)));
        // The same display box on a frame stored rotated by 90 degrees: swscale output is 224 wide, 299 high.
        let r = ViewRenderer::new(CropBox { x: 40, y: 0, w: 240, h: 240 }, false, 224, 90, (320, 240));
        let l = r.layout(240, 320).unwrap();
        assert_eq!((l.coded, l.offset), ((224, 299), (37, 0)));
    }

    /// A frame of `format` filled with noise (10-bit formats: values below 1024), the hardest content for
    /// comparing two scaling paths.
    fn noise_frame(format: Pixel, w: u32, h: u32, seed: u64) -> VideoFrame {
        let mut frame = VideoFrame::new(format, w, h);
        let high_bit_depth = format!("{format:?}").contains("10");
        let mut state = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        for p in 0..frame.planes() {
            for (i, b) in frame.data_mut(p).iter_mut().enumerate() {
                state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let v = (state >> 33) as u8;
                // Little-endian 16-bit samples: keep the high byte within 10 bits.
                *b = if high_bit_depth && i % 2 == 1 { v & 3 } else { v };
            }
        }
        frame
    }

    #[test]
    fn window_path_equals_whole_frame_conversion() {
        let formats = [Pixel::YUV420P, Pixel::YUVJ420P, Pixel::YUV422P, Pixel::YUV444P, Pixel::YUV420P10LE, Pixel::YUV444P10LE, Pixel::NV12, Pixel::GRAY8];
        // (frame w, h, crop box, S): odd sizes, odd box origins, boxes at the frame edges, upscaling.
        let cases = [
            (320, 240, CropBox { x: 40, y: 0, w: 240, h: 240 }, 224),
            (641, 359, CropBox { x: 137, y: 51, w: 301, h: 255 }, 224),
            (85, 33, CropBox { x: 27, y: 0, w: 33, h: 33 }, 32),
            (640, 360, CropBox { x: 0, y: 3, w: 211, h: 357 }, 37),
            (100, 200, CropBox { x: 59, y: 149, w: 41, h: 51 }, 64),
        ];
        let mut n = 0;
        for (fi, &format) in formats.iter().enumerate() {
            for (ci, &(w, h, crop, s)) in cases.iter().enumerate() {
                for (rotation, flip) in [(0, false), (0, true), (90, false), (180, true), (270, false)] {
                    // The box is in display pixels: a frame stored rotated by 90/270 is h×w.
                    let (fw, fh) = if rotation % 180 == 90 { (h, w) } else { (w, h) };
                    let frame = noise_frame(format, fw, fh, (fi * 100 + ci) as u64);
                    let len = (s * s * 3) as usize;
                    let (mut windowed, mut whole) = (vec![0; len], vec![1; len]);
                    let mut r = ViewRenderer::new(crop, flip, s, rotation, (w, h));
                    r.render(&frame, &mut windowed).unwrap();
                    // Twice: the second frame reuses the buffers of the first.
                    r.render(&frame, &mut windowed).unwrap();
                    let mut reference = ViewRenderer::new(crop, flip, s, rotation, (w, h));
                    reference.whole_frame = true;
                    reference.render(&frame, &mut whole).unwrap();
                    assert!(matches!(r.pipeline, Some((_, Pipeline::TwoStage { window: Some(_), .. }))), "{format:?} took the window path");
                    // swscale converts 4:2:0 and 4:2:2 of odd height with its generic scaler (interpolated
                    // chroma) instead of the unscaled converter (chroma repeated): compare like with like.
                    let fast_unscaled = matches!(format, Pixel::YUV420P | Pixel::YUVJ420P | Pixel::YUV422P);
                    if fast_unscaled && r.rgb.height() % 2 != reference.rgb.height() % 2 {
                        continue;
                    }
                    let worst = windowed.iter().zip(&whole).map(|(a, b)| a.abs_diff(*b)).max().unwrap();
                    assert_eq!(worst, 0, "{format:?} {w}x{h} {crop:?} S={s} rotation {rotation} flip {flip}");
                    n += 1;
                }
            }
        }
        // Most comparisons are exact ones (the skipped are the odd-height 4:2:0/4:2:2 ones).
        assert!(n >= formats.len() * cases.len() * 4, "{n} exact comparisons");
    }

    #[test]
    fn tiny_boxes_of_big_frames_are_refused() {
        let r = ViewRenderer::new(CropBox { x: 0, y: 0, w: 1, h: 1 }, false, 224, 0, (4000, 4000));
        assert!(r.layout(4000, 4000).is_err());
    }
}
