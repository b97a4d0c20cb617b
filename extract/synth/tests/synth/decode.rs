//! Decodes a video file back to packed RGB frames, independently of the generator's encode path.

use std::path::Path;

use dist_synth::Frame;
use ffmpeg_next as ffmpeg;
use ffmpeg::format::Pixel;
use ffmpeg::software::scaling;

/// What a decoded file contained.
pub struct Decoded {
    pub frames: Vec<Frame>,
    /// Presentation timestamps in seconds, in decode output order.
    pub pts_seconds: Vec<f64>,
    pub codec: String,
    pub pixel: Pixel,
    pub avg_frame_rate: f64,
}

pub fn decode(path: &Path) -> Decoded {
    dist_synth::init_ffmpeg();
    let mut input = ffmpeg::format::input(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    let stream = input.streams().best(ffmpeg::media::Type::Video).expect("a video stream");
    let index = stream.index();
    let time_base = f64::from(stream.time_base());
    let avg_frame_rate = f64::from(stream.avg_frame_rate());
    let mut decoder = ffmpeg::codec::context::Context::from_parameters(stream.parameters())
        .unwrap()
        .decoder()
        .video()
        .unwrap();
    let codec = decoder.codec().map(|c| c.name().to_owned()).unwrap_or_default();
    let pixel = decoder.format();
    let (w, h) = (decoder.width(), decoder.height());
    let mut scaler = scaling::Context::get(pixel, w, h, Pixel::RGB24, w, h, scaling::Flags::BICUBIC | scaling::Flags::ACCURATE_RND)
        .unwrap();
    let mut out = Decoded { frames: Vec::new(), pts_seconds: Vec::new(), codec, pixel, avg_frame_rate };
    let mut receive = |decoder: &mut ffmpeg::decoder::Video, out: &mut Decoded| {
        let mut frame = ffmpeg::frame::Video::empty();
        while decoder.receive_frame(&mut frame).is_ok() {
            out.pts_seconds.push(frame.pts().unwrap_or(-1) as f64 * time_base);
            out.frames.push(to_rgb(&frame, &mut scaler));
        }
    };
    for (s, packet) in input.packets() {
        if s.index() == index {
            decoder.send_packet(&packet).unwrap();
            receive(&mut decoder, &mut out);
        }
    }
    decoder.send_eof().unwrap();
    receive(&mut decoder, &mut out);
    out
}

/// BGR0 (FFV1) is unpacked by hand so the lossless check does not depend on swscale exactness.
fn to_rgb(frame: &ffmpeg::frame::Video, scaler: &mut scaling::Context) -> Frame {
    let (w, h) = (frame.width() as usize, frame.height() as usize);
    let mut rgb = Vec::with_capacity(w * h * 3);
    if frame.format() == Pixel::BGRZ {
        let stride = frame.stride(0);
        for y in 0..h {
            for px in frame.data(0)[y * stride..y * stride + w * 4].chunks_exact(4) {
                rgb.extend_from_slice(&[px[2], px[1], px[0]]);
            }
        }
    } else {
        let mut converted = ffmpeg::frame::Video::empty();
        scaler.run(frame, &mut converted).unwrap();
        let stride = converted.stride(0);
        for y in 0..h {
            rgb.extend_from_slice(&converted.data(0)[y * stride..y * stride + w * 3]);
        }
    }
    Frame { width: w, height: h, rgb }
}

/// Peak signal-to-noise ratio between two frames of the same size, in dB.
pub fn psnr(a: &Frame, b: &Frame) -> f64 {
    let mse = a.rgb.iter().zip(&b.rgb).map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2)).sum::<f64>() / a.rgb.len() as f64;
    10.0 * (255.0f64.powi(2) / mse.max(1e-12)).log10()
}
