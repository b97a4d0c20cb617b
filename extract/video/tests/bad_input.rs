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

#[test]
fn truncated_files() {
    let dir = tempfile::tempdir().unwrap();
    // An MP4 whose index (moov) sits at the end: cut before it, as an interrupted recording.
    let full = make_bits_clip(dir.path(), "full.mp4", 100, None, &["-c:v", "libx264", "-g", "25"]);
    let data = std::fs::read(&full).unwrap();
    let cut = dir.path().join("cut_no_index.mp4");
    std::fs::write(&cut, &data[..data.len() / 2]).unwrap();
    let err = expect_kind(open_video(&cut, &DecodeLimits::default()), "truncated", &cut);
    assert!(err.to_string().contains("moov"), "{err}");
    // An MP4 with its index first (faststart): the index promises frames the file no longer holds.
    let fast = make_bits_clip(dir.path(), "fast.mp4", 100, None, &["-c:v", "libx264", "-g", "25", "-movflags", "+faststart"]);
    let data = std::fs::read(&fast).unwrap();
    let cut = dir.path().join("cut_faststart.mp4");
    std::fs::write(&cut, &data[..data.len() * 6 / 10]).unwrap();
    expect_kind(open_video(&cut, &DecodeLimits::default()), "truncated", &cut);
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
