//! The raw FFmpeg calls that ffmpeg-next's safe API lacks: swscale resizing only some output rows,
//! converting only a window of a frame, and choosing the YUV matrix and range (its `Scaler::run` is whole
//! frame in, whole frame out); a packet's discard flag. This is the only module of the crate with `unsafe` code; every function
//! checks the invariants its FFI calls rely on before making them.
//!
//! A window is addressed the way libavfilter's `crop` filter hands a cropped frame to swscale: the plane
//! pointers are advanced to the window's origin and the strides kept, so no pixel is copied.
#![allow(unsafe_code)]

use std::ops::Range;
use std::os::raw::c_int;

use ffmpeg_next as ffmpeg;
use ffmpeg::ffi;
use ffmpeg::format::Pixel;
use ffmpeg::frame::Video as VideoFrame;
use ffmpeg::software::scaling::Context as Scaler;

/// How a window of a frame in some pixel format can be addressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowLayout {
    /// log2 of the chroma subsampling (horizontal, vertical): window origins must be multiples of it.
    pub(crate) log2_chroma: (u32, u32),
    /// Bytes from one pixel to the next in each plane (`av_image_fill_max_pixsteps`).
    steps: [usize; 4],
    planes: usize,
}

impl WindowLayout {
    /// `None` for formats whose windows cannot be addressed by plane offsets: palettes (plane 1 is the
    /// palette), sub-byte pixels (bitstream formats), Bayer patterns, hardware frames.
    pub(crate) fn of(format: Pixel) -> Option<Self> {
        let fmt: ffi::AVPixelFormat = format.into();
        // SAFETY: av_pix_fmt_desc_get accepts any value and returns null or a pointer to a static descriptor.
        let desc = unsafe { ffi::av_pix_fmt_desc_get(fmt).as_ref() }?;
        let excluded = (ffi::AV_PIX_FMT_FLAG_PAL | ffi::AV_PIX_FMT_FLAG_BITSTREAM | ffi::AV_PIX_FMT_FLAG_HWACCEL | ffi::AV_PIX_FMT_FLAG_BAYER) as u64;
        if desc.flags & excluded != 0 {
            return None;
        }
        let mut steps: [c_int; 4] = [0; 4];
        // SAFETY: `desc` is a valid descriptor; the function writes 4 ints to `steps` and accepts a null
        // `max_pixstep_comps`.
        unsafe { ffi::av_image_fill_max_pixsteps(steps.as_mut_ptr(), std::ptr::null_mut(), desc) };
        // SAFETY: as above, any format value is accepted.
        let planes = unsafe { ffi::av_pix_fmt_count_planes(fmt) };
        let planes = usize::try_from(planes).ok().filter(|&p| (1..=4).contains(&p))?;
        Some(Self {
            log2_chroma: (u32::from(desc.log2_chroma_w), u32::from(desc.log2_chroma_h)),
            steps: steps.map(|s| usize::try_from(s).unwrap_or(0)),
            planes,
        })
    }

    /// Rounds a window origin down to the chroma grid.
    pub(crate) fn align_down(&self, x: u32, y: u32) -> (u32, u32) {
        (x >> self.log2_chroma.0 << self.log2_chroma.0, y >> self.log2_chroma.1 << self.log2_chroma.1)
    }
}

/// Checks that `frame` holds a picture of `format` and `width × height` whose first `planes` planes are present.
fn check_frame(frame: &VideoFrame, format: Pixel, width: u32, height: u32, planes: usize, what: &str) -> Result<(), String> {
    if frame.format() != format || frame.width() != width || frame.height() != height {
        return Err(format!(
            "{what} is {:?} {}x{}, the scaler expects {format:?} {width}x{height}",
            frame.format(),
            frame.width(),
            frame.height()
        ));
    }
    // SAFETY: `frame` wraps a valid AVFrame (ffmpeg-next owns it); we only read its data pointer array.
    let data = unsafe { (*frame.as_ptr()).data };
    if data.iter().take(planes).any(|p| p.is_null()) {
        return Err(format!("{what} has no pixel buffer"));
    }
    Ok(())
}

/// Allocates `dst` for the scaler's output unless it already holds a buffer of that format and size.
fn prepare_output(scaler: &Scaler, dst: &mut VideoFrame) -> Result<(), String> {
    let out = *scaler.output();
    if dst.format() != out.format || dst.width() != out.width || dst.height() != out.height || dst.planes() == 0 {
        // av_frame_get_buffer: linesizes padded to 32 bytes, plus padding after the last row.
        *dst = VideoFrame::new(out.format, out.width, out.height);
    }
    check_frame(dst, out.format, out.width, out.height, planes_of(out.format), "the output frame")
}

fn planes_of(format: Pixel) -> usize {
    // SAFETY: av_pix_fmt_count_planes accepts any format value (negative for unknown ones).
    let n = unsafe { ffi::av_pix_fmt_count_planes(format.into()) };
    usize::try_from(n).unwrap_or(1).max(1)
}

fn sws_error(call: &str, ret: c_int) -> String {
    format!("{call}: {}", ffmpeg::Error::from(ret))
}

/// Resizes all of `src` with `scaler` into `dst`, computing only the output rows `rows` (rounded out to
/// swscale's slice alignment); the other rows of `dst` keep whatever they held. `dst` is (re)allocated for
/// the scaler's output when needed. The rows computed are bit-identical to those of a whole-frame run.
pub(crate) fn scale_rows(scaler: &mut Scaler, src: &VideoFrame, dst: &mut VideoFrame, rows: Range<u32>) -> Result<(), String> {
    let (input, output) = (*scaler.input(), *scaler.output());
    check_frame(src, input.format, input.width, input.height, planes_of(input.format), "the input frame")?;
    prepare_output(scaler, dst)?;
    if rows.start >= rows.end || rows.end > output.height {
        return Err(format!("output rows {rows:?} of a {}-row frame", output.height));
    }
    // SAFETY: `scaler` wraps a valid, initialised SwsContext.
    let align = unsafe { ffi::sws_receive_slice_alignment(scaler.as_ptr()) }.max(1);
    // FFmpeg 5.x's sws_receive_slice offsets *every* plane by `start >> chroma vertical subsampling`
    // (its threaded path and later versions do it right), so with vertically subsampled output only the
    // rows after the window can be skipped, never those before it.
    let subsampled = WindowLayout::of(output.format).is_none_or(|l| l.log2_chroma.1 > 0);
    let start = if subsampled { 0 } else { rows.start / align * align };
    let end = rows.end.div_ceil(align).saturating_mul(align).min(output.height);
    let whole = start == 0 && end == output.height;
    // SAFETY: the context pointer stays valid while `scaler` is mutably borrowed, i.e. for this function.
    let ctx = unsafe { scaler.as_mut_ptr() };
    if whole || (end - start) % align != 0 {
        // SAFETY: both frames were checked above to be allocated with the context's formats and sizes, so
        // their data/linesize arrays describe `input.height` readable and `output.height` writable rows.
        let ret = unsafe {
            ffi::sws_scale(
                ctx,
                (*src.as_ptr()).data.as_ptr() as *const *const u8,
                (*src.as_ptr()).linesize.as_ptr(),
                0,
                input.height as c_int,
                (*dst.as_mut_ptr()).data.as_ptr(),
                (*dst.as_mut_ptr()).linesize.as_ptr(),
            )
        };
        return if ret < 0 { Err(sws_error("sws_scale", ret)) } else { Ok(()) };
    }
    // SAFETY: the frames match the context (checked above) and `dst` owns a buffer, so sws_frame_start only
    // takes references to both (it allocates nothing); the whole source is sent as one slice; the requested
    // rows lie within the output and are multiples of the alignment swscale asked for. sws_frame_end drops
    // the references whatever happened, so both frames are unchanged apart from the rows written.
    unsafe {
        let mut ret = ffi::sws_frame_start(ctx, dst.as_mut_ptr(), src.as_ptr());
        if ret >= 0 {
            ret = ffi::sws_send_slice(ctx, 0, input.height);
            if ret >= 0 {
                ret = ffi::sws_receive_slice(ctx, start, end - start);
            }
        }
        ffi::sws_frame_end(ctx);
        if ret < 0 { Err(sws_error("sws_receive_slice", ret)) } else { Ok(()) }
    }
}

/// Converts the window of `src` at `origin` whose size is the scaler's input size into `dst` (the scaler
/// maps `src.format()` w×h to its output format at the same size; `dst` is allocated when needed). The
/// origin must lie on the chroma grid of `layout` (from [`WindowLayout::of`]`(src.format())`).
pub(crate) fn convert_window(scaler: &mut Scaler, layout: &WindowLayout, src: &VideoFrame, origin: (u32, u32), dst: &mut VideoFrame) -> Result<(), String> {
    let input = *scaler.input();
    let (x, y) = origin;
    if layout.align_down(x, y) != (x, y) {
        return Err(format!("window origin {x},{y} is off the {:?} chroma grid", layout.log2_chroma));
    }
    if x.checked_add(input.width).is_none_or(|e| e > src.width()) || y.checked_add(input.height).is_none_or(|e| e > src.height()) {
        return Err(format!("{}x{} window at {x},{y} exceeds the {}x{} frame", input.width, input.height, src.width(), src.height()));
    }
    if WindowLayout::of(src.format()).as_ref() != Some(layout) {
        return Err(format!("window layout {layout:?} does not describe {:?}", src.format()));
    }
    check_frame(src, input.format, src.width(), src.height(), layout.planes, "the input frame")?;
    prepare_output(scaler, dst)?;
    let (x, y) = (x as usize, y as usize);
    let mut planes: [*const u8; 4] = [std::ptr::null(); 4];
    // SAFETY: `src` wraps a valid AVFrame whose first `layout.planes` planes are non-null (checked).
    let (data, linesize) = unsafe { ((*src.as_ptr()).data, (*src.as_ptr()).linesize) };
    for (p, plane) in planes.iter_mut().enumerate().take(layout.planes) {
        // Chroma planes (1, 2) are subsampled; luma and alpha (0, 3) are not. Same arithmetic as vf_crop.
        let (sx, sy) = if p == 1 || p == 2 { layout.log2_chroma } else { (0, 0) };
        let offset = (y >> sy) as isize * linesize[p] as isize + ((x * layout.steps[p]) >> sx) as isize;
        // SAFETY: x + w ≤ width, y + h ≤ height (checked) and the origin is on the chroma grid, so this is the
        // window's first sample in each plane, inside the plane's buffer. From it swscale reads the w×h picture
        // at `linesize` steps, all inside the frame, plus what its SIMD loops read past a row's end (the x86
        // yuv2rgb converters take 8 pixels at a time); as the window's rows end at or before the frame's,
        // those reads fall where a whole-frame sws_scale of this frame reads too (or one of a frame cut by
        // libavfilter's crop filter, which hands swscale pointers offset the same way): inside the buffer
        // and the padding av_frame_get_buffer and decoders allocate for it.
        *plane = unsafe { data[p].cast_const().offset(offset) };
    }
    // SAFETY: `planes`/`linesize` describe a valid w×h picture of the context's input format (above); `dst`
    // holds a buffer of the context's output format and size (checked in prepare_output).
    let ret = unsafe {
        ffi::sws_scale(
            scaler.as_mut_ptr(),
            planes.as_ptr(),
            linesize.as_ptr(),
            0,
            input.height as c_int,
            (*dst.as_mut_ptr()).data.as_ptr(),
            (*dst.as_mut_ptr()).linesize.as_ptr(),
        )
    };
    if ret < 0 { Err(sws_error("sws_scale", ret)) } else { Ok(()) }
}

/// The YUV→RGB coefficients and input range to convert a frame with, from its colour metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct YuvColour {
    /// `AVColorSpace` value, mapped as the FFmpeg CLI's scale filter does (`in_color_matrix=auto`): BT.709,
    /// FCC, SMPTE 240M, BT.2020 as flagged; unspecified, RGB, YCgCo and unknown values → BT.601.
    matrix: c_int,
    /// `Some(full)` when the frame flags its range; `None` keeps swscale's choice from the pixel format
    /// (full range for the `yuvj*` formats).
    full_range: Option<bool>,
}

impl YuvColour {
    pub(crate) fn of(frame: &VideoFrame) -> Self {
        let space = ffi::AVColorSpace::from(frame.color_space()) as c_int;
        let matrix = if !(1..=10).contains(&space) || space == ffi::AVColorSpace::AVCOL_SPC_YCGCO as c_int {
            ffi::AVColorSpace::AVCOL_SPC_BT470BG as c_int
        } else {
            space
        };
        let full_range = match ffi::AVColorRange::from(frame.color_range()) {
            ffi::AVColorRange::AVCOL_RANGE_JPEG => Some(true),
            ffi::AVColorRange::AVCOL_RANGE_MPEG => Some(false),
            _ => None,
        };
        Self { matrix, full_range }
    }
}

/// Makes `scaler` (a conversion from YUV) use `colour`'s coefficients and input range, as the FFmpeg CLI
/// does for each frame (`sws_setColorspaceDetails`; brightness, contrast, saturation and the output side
/// are kept).
pub(crate) fn set_colour(scaler: &mut Scaler, colour: YuvColour) -> Result<(), String> {
    // SAFETY: the context pointer stays valid while `scaler` is mutably borrowed, i.e. for this function.
    let ctx = unsafe { scaler.as_mut_ptr() };
    let (mut inv_table, mut table): (*mut c_int, *mut c_int) = (std::ptr::null_mut(), std::ptr::null_mut());
    let (mut src_range, mut dst_range, mut brightness, mut contrast, mut saturation) = (0, 0, 0, 0, 0);
    // SAFETY: `ctx` is a valid SwsContext; every out-pointer points to a live local of the right type.
    let ret = unsafe {
        ffi::sws_getColorspaceDetails(ctx, &mut inv_table, &mut src_range, &mut table, &mut dst_range, &mut brightness, &mut contrast, &mut saturation)
    };
    if ret < 0 {
        // Not a conversion from YUV (e.g. RGB24 input): nothing to set.
        return Ok(());
    }
    // SAFETY: sws_getCoefficients accepts any value and returns a pointer to a static 4-int table.
    let coefficients = unsafe { ffi::sws_getCoefficients(colour.matrix) };
    let src_range = colour.full_range.map_or(src_range, c_int::from);
    // SAFETY: `coefficients` is a static table of 4 ints, which swscale copies; as the CLI's scale filter
    // does, the output table is the same one (it only matters for YUV output).
    let ret = unsafe { ffi::sws_setColorspaceDetails(ctx, coefficients, src_range, coefficients, dst_range, brightness, contrast, saturation) };
    if ret < 0 { Err(sws_error("sws_setColorspaceDetails", ret)) } else { Ok(()) }
}

/// Whether the demuxer flagged `packet` to be decoded but not shown (`AV_PKT_FLAG_DISCARD`): the samples an
/// MP4/MOV edit list cuts from the start, kept because later frames reference them. ffmpeg-next's
/// `Packet::flags` drops this bit.
pub(crate) fn packet_discarded(packet: &ffmpeg::Packet) -> bool {
    // SAFETY: `packet` wraps a valid AVPacket owned by ffmpeg-next; we read one int field.
    let flags = unsafe { (*ffmpeg::packet::Ref::as_ptr(packet)).flags };
    flags & ffi::AV_PKT_FLAG_DISCARD != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use ffmpeg::software::scaling::Flags;

    fn noise(format: Pixel, w: u32, h: u32) -> VideoFrame {
        let mut f = VideoFrame::new(format, w, h);
        let mut st = 12345u64;
        for p in 0..f.planes() {
            for b in f.data_mut(p) {
                st = st.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                *b = (st >> 33) as u8;
            }
        }
        f
    }

    /// Bytes `0..w·bytes` of each row in `rows` of plane `p`.
    fn plane_rows(f: &VideoFrame, p: usize, rows: Range<usize>, bytes: usize) -> Vec<u8> {
        let s = f.stride(p);
        rows.flat_map(|r| f.data(p)[r * s..r * s + bytes].to_vec()).collect()
    }

    #[test]
    fn scaled_rows_equal_those_of_a_whole_frame_run() {
        for format in [Pixel::YUV420P, Pixel::YUV422P, Pixel::YUV444P, Pixel::YUV420P10LE, Pixel::GRAY8] {
            for (sw, sh, dw, dh, rows) in [(33, 85, 32, 82, 24..56), (640, 360, 300, 250, 7..201), (85, 33, 90, 40, 1..40)] {
                let src = noise(format, sw, sh);
                let mut sc = Scaler::get(format, sw, sh, format, dw, dh, Flags::BILINEAR).unwrap();
                let (mut full, mut part) = (VideoFrame::empty(), VideoFrame::empty());
                sc.run(&src, &mut full).unwrap();
                scale_rows(&mut sc, &src, &mut part, rows.clone()).unwrap();
                let layout = WindowLayout::of(format).unwrap();
                for p in 0..full.planes() {
                    let (sx, sy) = if p == 0 { (0, 0) } else { layout.log2_chroma };
                    let r = (rows.start as usize >> sy)..(rows.end as usize).div_ceil(1 << sy);
                    let bytes = (dw as usize).div_ceil(1 << sx) * layout.steps[p];
                    assert!(plane_rows(&full, p, r.clone(), bytes) == plane_rows(&part, p, r, bytes), "{format:?} {sw}x{sh} -> {dw}x{dh} rows {rows:?} plane {p}");
                }
            }
        }
    }

    #[test]
    fn bad_windows_are_refused() {
        let src = noise(Pixel::YUV420P, 64, 48);
        let layout = WindowLayout::of(Pixel::YUV420P).unwrap();
        let mut conv = Scaler::get(Pixel::YUV420P, 32, 32, Pixel::RGB24, 32, 32, Flags::BILINEAR).unwrap();
        let mut out = VideoFrame::empty();
        assert!(convert_window(&mut conv, &layout, &src, (32, 16), &mut out).is_ok());
        assert!(convert_window(&mut conv, &layout, &src, (33, 16), &mut out).unwrap_err().contains("chroma grid"));
        assert!(convert_window(&mut conv, &layout, &src, (34, 16), &mut out).unwrap_err().contains("exceeds"));
        assert!(convert_window(&mut conv, &layout, &src, (0, 18), &mut out).unwrap_err().contains("exceeds"));
        let other = noise(Pixel::YUV444P, 64, 48);
        assert!(convert_window(&mut conv, &layout, &other, (0, 0), &mut out).is_err());
        assert!(WindowLayout::of(Pixel::PAL8).is_none());
        assert!(WindowLayout::of(Pixel::MonoBlack).is_none());
        let mut sc = Scaler::get(Pixel::YUV420P, 64, 48, Pixel::YUV420P, 32, 24, Flags::BILINEAR).unwrap();
        assert!(scale_rows(&mut sc, &src, &mut out, 0..25).is_err());
        assert!(scale_rows(&mut sc, &other, &mut out, 0..2).is_err());
    }
}
