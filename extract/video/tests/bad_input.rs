//! Each class of bad input gives its typed error naming the file, never a panic or a hang.

mod common;

use std::path::Path;

use common::*;
use dist_video::{decode_views, open_video, DecodeLimits, SamplingConfig, VideoError, VideoReader};

fn expect_kind(result: Result<impl std::fmt::Debug, VideoError>, kind: &str, path: &Path) -> VideoError {
    let err = result.expect_err("must fail");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains(&path.display().to_string()), "message must name the file: {err}");
    err
}

#[test]
fn missing_file() {
    let p = Path::new("/nonexistent/dir/video.mp4");
    expect_kind(open_video(p, &DecodeLimits::default()), "missing_file", p);
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("empty.mp4");
    std::fs::write(&p, b"").unwrap();
    expect_kind(open_video(&p, &DecodeLimits::default()), "empty_file", &p);
}

#[test]
fn directory_is_an_io_error() {
    let dir = tempfile::tempdir().unwrap();
    expect_kind(open_video(dir.path(), &DecodeLimits::default()), "io", dir.path());
}

#[test]
fn random_bytes_named_mp4() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("random.mp4");
    // A fixed xorshift stream: "random" but reproducible.
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let bytes: Vec<u8> = (0..50_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    std::fs::write(&p, bytes).unwrap();
    expect_kind(open_video(&p, &DecodeLimits::default()), "not_a_video", &p);
}

/// Writes the first `num/den` of `full` to `dir/cut_<name>`.
fn cut(dir: &Path, full: &Path, num: usize, den: usize) -> std::path::PathBuf {
    let data = std::fs::read(full).unwrap();
    let p = dir.join(format!("cut{num}of{den}_{}", full.file_name().unwrap().to_string_lossy()));
    std::fs::write(&p, &data[..data.len() * num / den]).unwrap();
    p
}

#[test]
fn truncated_mp4_and_mov() {
    let dir = tempfile::tempdir().unwrap();
    // An MP4 whose index (moov) sits at the end: cut before it, as an interrupted recording.
    let full = make_bits_clip(dir.path(), "full.mp4", 100, None, &["-c:v", "libx264", "-g", "25"]);
    let cut_file = cut(dir.path(), &full, 1, 2);
    let err = expect_kind(open_video(&cut_file, &DecodeLimits::default()), "truncated", &cut_file);
    assert!(err.to_string().contains("moov"), "{err}");
    // Index first (faststart): the sample table promises frames the file no longer holds.
    for name in ["fast.mp4", "fast.mov"] {
        let fast = make_bits_clip(dir.path(), name, 100, None, &["-c:v", "libx264", "-g", "25", "-movflags", "+faststart"]);
        assert_eq!(open_video(&fast, &DecodeLimits::default()).unwrap().frame_count, 100);
        for (num, den) in [(6, 10), (99, 100)] {
            let cut_file = cut(dir.path(), &fast, num, den);
            let err = expect_kind(open_video(&cut_file, &DecodeLimits::default()), "truncated", &cut_file);
            assert!(err.to_string().contains("mdat") && err.to_string().contains("100"), "{err}");
        }
    }
}

/// Containers whose demuxer reads a cut file to the cut and reports a plain end of file: each cut must
/// still be a `truncated` error naming the frames read, while the uncut file opens with all its frames.
#[test]
fn truncated_matroska_webm_avi_ogg_mpeg_ps_flv_wmv() {
    let dir = tempfile::tempdir().unwrap();
    let with_audio = ["-f", "lavfi", "-i", "sine=frequency=440:duration=4", "-shortest"];
    let cases: [(&str, &[&str]); 8] = [
        ("wmv2.wmv", &["-c:v", "wmv2"]),
        ("h264.mkv", &["-c:v", "libx264", "-g", "25"]),
        ("vp8.webm", &["-c:v", "libvpx", "-g", "25", "-b:v", "1M"]),
        ("mjpeg.avi", &["-c:v", "mjpeg", "-q:v", "3"]),
        ("mpeg4.avi", &["-c:v", "mpeg4", "-g", "25"]),
        ("theora.ogg", &["-c:v", "libtheora", "-q:v", "8", "-g", "25"]),
        ("mpeg2.mpg", &["-c:v", "mpeg2video", "-g", "12", "-q:v", "3", "-f", "mpeg"]),
        ("h264.flv", &["-c:v", "libx264", "-g", "25"]),
    ];
    for (name, encode) in cases {
        for audio in [false, true] {
            let mut args: Vec<&str> = if audio { with_audio.to_vec() } else { Vec::new() };
            args.extend_from_slice(encode);
            let name = if audio { format!("av_{name}") } else { name.to_string() };
            let full = make_bits_clip(dir.path(), &name, 100, None, &args);
            let info = open_video(&full, &DecodeLimits::default()).unwrap_or_else(|e| panic!("uncut {name}: {e}"));
            assert_eq!(info.frame_count, 100, "{name}");
            for (num, den) in [(1, 2), (9, 10)] {
                let cut_file = cut(dir.path(), &full, num, den);
                let result = open_video(&cut_file, &DecodeLimits::default());
                assert!(result.is_err(), "{}: not detected: {result:?}", cut_file.display());
                let err = expect_kind(result, "truncated", &cut_file);
                assert!(err.to_string().contains("frames could be read"), "{err}");
            }
        }
    }
}

/// An AVI written to a pipe never gets its sizes filled in; cut inside a frame, the demuxer's corrupt flag on
/// the partial last packet tells.
#[test]
fn streamed_avi_cut_inside_a_frame() {
    let dir = tempfile::tempdir().unwrap();
    let full = dir.path().join("streamed.avi");
    let src = bits_source(100, "25");
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-f", "lavfi", "-i", &src, "-c:v", "mjpeg", "-f", "avi", "pipe:1"])
        .output()
        .unwrap();
    assert!(out.status.success() && out.stdout[4..8] == [0xff; 4], "a streamed AVI has no RIFF size");
    std::fs::write(&full, &out.stdout).unwrap();
    assert_eq!(open_video(&full, &DecodeLimits::default()).unwrap().frame_count, 100);
    let cut_file = cut(dir.path(), &full, 1, 2);
    let err = expect_kind(open_video(&cut_file, &DecodeLimits::default()), "truncated", &cut_file);
    assert!(err.to_string().contains("cut short"), "{err}");
}

/// An Ogg file cut exactly at a page boundary holds only whole pages; the missing end-of-stream page
/// still gives it away.
#[test]
fn ogg_cut_at_a_page_boundary() {
    let dir = tempfile::tempdir().unwrap();
    let full = make_bits_clip(dir.path(), "t.ogg", 100, None, &["-c:v", "libtheora", "-q:v", "8", "-g", "25"]);
    let data = std::fs::read(&full).unwrap();
    let page_at = (1..data.len() / 2).rev().find(|&i| data[i..].starts_with(b"OggS")).expect("a page in the first half");
    let p = dir.path().join("page_cut.ogg");
    std::fs::write(&p, &data[..page_at]).unwrap();
    let err = expect_kind(open_video(&p, &DecodeLimits::default()), "truncated", &p);
    assert!(err.to_string().contains("end-of-stream"), "{err}");
}

#[test]
fn audio_only_file() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("audio.m4a");
    ffmpeg(&["-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", p.to_str().unwrap()]);
    let err = expect_kind(open_video(&p, &DecodeLimits::default()), "no_video_stream", &p);
    assert!(err.to_string().contains("audio"), "{err}");
}

#[test]
fn zero_frames() {
    let dir = tempfile::tempdir().unwrap();
    // AVI writes its stream headers up front, so a video stream with no frames survives muxing.
    let p = dir.path().join("zero.avi");
    ffmpeg(&["-f", "lavfi", "-i", "testsrc=s=64x48:r=25", "-frames:v", "0", "-c:v", "mjpeg", p.to_str().unwrap()]);
    expect_kind(open_video(&p, &DecodeLimits::default()), "zero_frames", &p);
}

#[test]
fn corrupt_bitstream_in_the_middle() {
    let dir = tempfile::tempdir().unwrap();
    let good = make_bits_clip(dir.path(), "good.mp4", 100, None, &["-c:v", "libx264", "-g", "25", "-movflags", "+faststart"]);
    let mut data = std::fs::read(&good).unwrap();
    let (mid, len) = (data.len() / 2, data.len() / 20);
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    for b in &mut data[mid..mid + len] {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let p = dir.path().join("corrupt.mp4");
    std::fs::write(&p, data).unwrap();
    // The container is intact, so probing succeeds; decoding through the damage fails.
    let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
    let all: Vec<u64> = (0..reader.info().frame_count).collect();
    let plan = whole_frame_plan(&all, BITS_W, BITS_H);
    expect_kind(reader.decode_views(&[plan], &cfg_for(all.len(), 16)), "corrupt_bitstream", &p);
    // The first frame, before the damage, still decodes: only the decoded range matters.
    let plan = whole_frame_plan(&[0], BITS_W, BITS_H);
    let clips = reader.decode_views(&[plan], &cfg_for(1, 64)).unwrap();
    assert_eq!(read_bits(&clips[0], 0), 0);
}

#[test]
fn frames_too_large_for_the_limit() {
    let dir = tempfile::tempdir().unwrap();
    // One 10000x4000 frame (40 Mpixel): over the default 8K limit, though the file is small.
    let p = dir.path().join("huge.avi");
    ffmpeg(&["-f", "lavfi", "-i", "color=black:s=10000x4000:d=0.04", "-frames:v", "1", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", p.to_str().unwrap()]);
    let err = expect_kind(open_video(&p, &DecodeLimits::default()), "too_large", &p);
    assert!(err.to_string().contains("10000x4000"), "{err}");
    // And a limit on file size.
    let limits = DecodeLimits { max_file_bytes: Some(1000), ..DecodeLimits::default() };
    expect_kind(open_video(&p, &limits), "too_large", &p);
}

#[test]
fn decode_time_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let p = make_bits_clip(dir.path(), "t.mp4", 50, None, &["-c:v", "libx264"]);
    let limits = DecodeLimits { max_decode_seconds: 0.0, ..DecodeLimits::default() };
    expect_kind(open_video(&p, &limits), "decode_timeout", &p);
    let cfg = SamplingConfig { limits, ..SamplingConfig::default() };
    expect_kind(decode_views(&p, &[], &cfg), "decode_timeout", &p);
}

#[test]
fn plans_that_do_not_fit_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = make_bits_clip(dir.path(), "p.mp4", 10, None, &["-c:v", "libx264"]);
    let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
    let beyond = whole_frame_plan(&[3, 10], BITS_W, BITS_H);
    expect_kind(reader.decode_views(&[beyond], &cfg_for(2, 32)), "invalid_plan", &p);
    let too_wide = whole_frame_plan(&[3, 4], BITS_W + 1, BITS_H);
    expect_kind(reader.decode_views(&[too_wide], &cfg_for(2, 32)), "invalid_plan", &p);
    let wrong_len = whole_frame_plan(&[3], BITS_W, BITS_H);
    expect_kind(reader.decode_views(&[wrong_len], &cfg_for(2, 32)), "invalid_plan", &p);
}
