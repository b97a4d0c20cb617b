//! Turning one decoded frame into one view's S×S RGB image: crop box, resize, rotation, flip.
//!
//! The crop box (display pixels) is resized to S×S by scaling the *whole* frame with swscale, straight
//! from its native pixel format to RGB24, by `S / box_w` horizontally and `S / box_h` vertically (rounded
//! to whole pixels), then copying the S×S window at the scaled box position. One swscale pass thus does
//! colour conversion (10-bit, 4:4:4, odd sizes included), the resize and the crop; the integer rounding
//! shifts the window by at most half an output pixel. Rotation and flip are applied in that final copy.
//!
//! The swscale work is split in two passes when the source is not already RGB24: resize in the source's
//! own pixel format (swscale's fast planar scalers), then convert the small frame to RGB24 (its fast
//! unscaled converters). This is about twice as fast as one combined scale-and-convert pass, whose RGB24
//! output path is not vectorised; if swscale cannot write the source format, one combined pass is used.
//!
//! Resize filter: swscale `SWS_BILINEAR`, which for downscaling widens the triangle filter to the scale
//! factor (an anti-aliased bilinear, like PIL's); it is not torch's `F.interpolate(antialias=False)`.
//! YUV is converted with swscale's defaults (BT.601 coefficients unless the format says full range).

use ffmpeg_next as ffmpeg;
use ffmpeg::format::Pixel;
use ffmpeg::frame::Video as VideoFrame;
use ffmpeg::software::scaling::{Context as Scaler, Flags};

use crate::sampling::CropBox;

/// Largest side of the intermediate scaled frame; bounds memory for tiny crop boxes of huge frames.
const MAX_SCALED_SIDE: u32 = 16384;

/// Renders frames for one view. Keeps its scaler between frames; rebuilds it if the stream changes size
/// or pixel format mid-way.
pub(crate) struct ViewRenderer {
    crop: CropBox,
    flip: bool,
    size: u32,
    rotation: u32,
    /// Display size the crop box refers to (the probed size).
    display: (u32, u32),
    pipeline: Option<(ScalerKey, Pipeline)>,
    scaled: VideoFrame,
}

/// The swscale passes from a decoded frame to the scaled RGB24 frame.
enum Pipeline {
    /// One combined resize-and-convert pass (RGB24 sources, or formats swscale cannot write).
    Direct(Scaler),
    /// Resize in the source format into `mid`, then convert to RGB24 at the same size.
    TwoStage { resize: Scaler, convert: Scaler, mid: VideoFrame },
}

impl Pipeline {
    fn new(key: ScalerKey) -> Result<Self, String> {
        let err = |e: ffmpeg::Error| format!("no swscale conversion {:?} {}x{} -> rgb24: {e}", key.format, key.width, key.height);
        let direct = || {
            Scaler::get(key.format, key.width, key.height, Pixel::RGB24, key.out_width, key.out_height, Flags::BILINEAR)
                .map(Pipeline::Direct)
                .map_err(err)
        };
        if key.format == Pixel::RGB24 {
            return direct();
        }
        let resize = Scaler::get(key.format, key.width, key.height, key.format, key.out_width, key.out_height, Flags::BILINEAR);
        let convert = Scaler::get(key.format, key.out_width, key.out_height, Pixel::RGB24, key.out_width, key.out_height, Flags::BILINEAR);
        match (resize, convert) {
            (Ok(resize), Ok(convert)) => Ok(Pipeline::TwoStage { resize, convert, mid: VideoFrame::empty() }),
            _ => direct(),
        }
    }

    fn run(&mut self, frame: &VideoFrame, out: &mut VideoFrame) -> Result<(), ffmpeg::Error> {
        match self {
            Pipeline::Direct(scaler) => scaler.run(frame, out),
            Pipeline::TwoStage { resize, convert, mid } => {
                resize.run(frame, mid)?;
                convert.run(mid, out)
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ScalerKey {
    format: Pixel,
    width: u32,
    height: u32,
    out_width: u32,
    out_height: u32,
}

/// Where the S×S window lies in the scaled frame.
struct Layout {
    /// Scaled frame size in coded orientation (what swscale produces).
    coded: (u32, u32),
    /// Window offset in display orientation.
    offset: (u32, u32),
}

impl ViewRenderer {
    pub(crate) fn new(crop: CropBox, flip: bool, size: u32, rotation: u32, display: (u32, u32)) -> Self {
        Self { crop, flip, size, rotation, display, pipeline: None, scaled: VideoFrame::empty() }
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
        };
        if self.pipeline.as_ref().map(|(k, _)| *k) != Some(key) {
            self.pipeline = Some((key, Pipeline::new(key)?));
            self.scaled = VideoFrame::empty();
        }
        if let Some((_, pipeline)) = self.pipeline.as_mut() {
            pipeline.run(frame, &mut self.scaled).map_err(|e| format!("swscale: {e}"))?;
        }
        self.copy_window(&layout, out);
        Ok(())
    }

    /// Copies the S×S window out of the scaled frame, rotating to display orientation and flipping.
    fn copy_window(&self, layout: &Layout, out: &mut [u8]) {
        let s = self.size as usize;
        let stride = self.scaled.stride(0);
        let data = self.scaled.data(0);
        let (cw, ch) = (layout.coded.0 as usize, layout.coded.1 as usize);
        let (ox, oy) = (layout.offset.0 as usize, layout.offset.1 as usize);
        if self.rotation == 0 && !self.flip {
            for r in 0..s {
                let src = (oy + r) * stride + ox * 3;
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
                let src = cy * stride + cx * 3;
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

    #[test]
    fn tiny_boxes_of_big_frames_are_refused() {
        let r = ViewRenderer::new(CropBox { x: 0, y: 0, w: 1, h: 1 }, false, 224, 0, (4000, 4000));
        assert!(r.layout(4000, 4000).is_err());
    }
}
