//! Frame accuracy across codecs and containers, with clips made by the ffmpeg CLI at test time: the
//! decoded k-th frame must show the number k and carry ffprobe's timestamp, after seeking, with B-frames,
//! variable frame rate, 10-bit and 4:4:4 input.

mod common;

use common::*;
use dist_video::{FrameIndexMode, VideoReader};

/// Frames picked to force seeks backwards-free jumps across GOPs, a repeat, and the last frame.
const PICKS: [u64; 7] = [0, 5, 17, 18, 18, 40, 59];

fn check(name: &str, encode: &[&str]) -> dist_video::DecodeStats {
    let dir = tempfile::tempdir().unwrap();
    let path = make_bits_clip(dir.path(), name, 60, None, encode);
    assert_frame_accurate(&path, &PICKS)
}

#[test]
fn h264_420_with_b_frames_in_mp4() {
    let stats = check("h264.mp4", &["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "12", "-bf", "3", "-crf", "18"]);
    assert!(stats.seeks >= 1, "{stats:?}");
}

#[test]
fn h264_444_in_mov() {
    check("h264_444.mov", &["-c:v", "libx264", "-pix_fmt", "yuv444p", "-g", "12", "-bf", "2"]);
}

#[test]
fn h264_10bit_in_mkv() {
    check("h264_10bit.mkv", &["-c:v", "libx264", "-pix_fmt", "yuv420p10le", "-g", "12"]);
}

#[test]
fn hevc_in_mkv() {
    check("hevc.mkv", &["-c:v", "libx265", "-x265-params", "log-level=error:keyint=12", "-pix_fmt", "yuv420p"]);
}

#[test]
fn vp8_in_webm() {
    check("vp8.webm", &["-c:v", "libvpx", "-g", "12", "-b:v", "1M"]);
}

#[test]
fn vp9_in_webm() {
    check("vp9.webm", &["-c:v", "libvpx-vp9", "-g", "12", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"]);
}

#[test]
fn av1_in_mkv() {
    check("av1.mkv", &["-c:v", "libaom-av1", "-cpu-used", "8", "-g", "12", "-crf", "30"]);
}

#[test]
fn mpeg4_part2_with_b_frames_in_avi_uses_decode_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_bits_clip(dir.path(), "mpeg4.avi", 60, None, &["-c:v", "mpeg4", "-bf", "2", "-g", "12", "-q:v", "3"]);
    assert_eq!(VideoReader::open(&path, &Default::default()).unwrap().info().frame_index, FrameIndexMode::DecodeOrder);
    assert_frame_accurate(&path, &PICKS);
}

#[test]
fn mpeg2_in_mpeg_ps() {
    check("mpeg2.mpg", &["-c:v", "mpeg2video", "-bf", "2", "-g", "12", "-q:v", "3", "-f", "mpeg"]);
}

#[test]
fn mjpeg_in_avi() {
    check("mjpeg.avi", &["-c:v", "mjpeg", "-q:v", "3"]);
}

#[test]
fn theora_in_ogg() {
    check("theora.ogg", &["-c:v", "libtheora", "-q:v", "8", "-g", "12"]);
}

#[test]
fn ffv1_in_mkv() {
    check("ffv1.mkv", &["-c:v", "ffv1"]);
}

#[test]
fn variable_frame_rate_timestamps_come_from_the_stream() {
    let dir = tempfile::tempdir().unwrap();
    // Frame n is shown at (n + n²/40)/25 s, quantised to the 1/25 s time base: gaps grow from 1 to 4 frames.
    let path = make_bits_clip(
        dir.path(),
        "vfr.mkv",
        60,
        Some("setpts='(N+N*N/40)/25/TB'"),
        &["-fps_mode", "passthrough", "-c:v", "libx264", "-bf", "2", "-g", "10"],
    );
    assert_frame_accurate(&path, &PICKS);
    let (_, clip, _) = decode_bits(&path, &[10, 59]);
    // setpts truncates the expression to an integer pts.
    let expected = |n: f64| (n + n * n / 40.0).floor() / 25.0;
    assert!((clip.pts_seconds[0] - expected(10.0)).abs() < 1e-6, "{:?}", clip.pts_seconds);
    assert!((clip.pts_seconds[1] - expected(59.0)).abs() < 1e-6, "{:?}", clip.pts_seconds);
}

#[test]
fn sparse_picks_decode_far_fewer_frames_than_the_video() {
    let dir = tempfile::tempdir().unwrap();
    let path = make_bits_clip(dir.path(), "long.mp4", 240, None, &["-c:v", "libx264", "-g", "12", "-bf", "2"]);
    let picks: Vec<u64> = (0..8).map(|i| i * 30 + 3).collect();
    let stats = assert_frame_accurate(&path, &picks);
    assert!(stats.seeks >= 4 && stats.frames_decoded < 120, "{stats:?}");
    // Every frame, in order, from one sequential pass.
    let all: Vec<u64> = (0..240).collect();
    let stats = assert_frame_accurate(&path, &all);
    assert_eq!((stats.seeks, stats.passes), (0, 1), "{stats:?}");
}

/// The frame numbers of a bits clip as the ffmpeg CLI outputs them (`-f rawvideo -pix_fmt gray`).
fn cli_bits(path: &std::path::Path) -> Vec<u64> {
    let out = std::process::Command::new("ffmpeg")
        .args(["-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "rawvideo", "-pix_fmt", "gray", "-"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let len = (BITS_W * BITS_H) as usize;
    out.stdout
        .chunks_exact(len)
        .map(|f| (0..8).map(|b| u64::from(f[32 * BITS_W as usize + 32 * b + 16] > 128) << b).sum())
        .collect()
}

#[test]
fn mp4_edit_list_frames_are_the_ones_the_cli_outputs() {
    let dir = tempfile::tempdir().unwrap();
    let src = make_bits_clip(dir.path(), "src.mp4", 60, None, &["-c:v", "libx264", "-bf", "2", "-g", "10"]);
    // A stream copy from 0.5 s keeps the GOP that starts at 0.4 s and writes an edit list that hides the
    // frames before 0.5 s: they are demuxed (flagged discard) and decoded, but not shown.
    let cut = dir.path().join("edit_list.mp4");
    ffmpeg(&["-ss", "0.5", "-i", src.to_str().unwrap(), "-c", "copy", cut.to_str().unwrap()]);
    let shown = cli_bits(&cut);
    let pts = ffprobe_pts(&cut);
    assert_eq!(shown.len(), pts.len());
    let reader = VideoReader::open(&cut, &Default::default()).unwrap();
    let n = reader.info().frame_count;
    assert_eq!(n as usize, shown.len(), "frame count vs the CLI's output");
    assert!(shown[0] > 10 && shown.len() < 50, "the edit list hides frames: {shown:?}");
    // Every frame in order, then a few picks with seeking: frame k is the CLI's k-th, with ffprobe's pts.
    for picks in [(0..n).collect::<Vec<_>>(), vec![0, 1, 9, n - 1]] {
        let (_, clip, _) = decode_bits(&cut, &picks);
        for (i, &k) in picks.iter().enumerate() {
            assert_eq!(read_bits(&clip, i), shown[k as usize], "frame {k}");
            assert_eq!(clip.source_indices[i], k);
            assert!((clip.pts_seconds[i] - pts[k as usize]).abs() < 1e-6, "frame {k}: pts {} vs ffprobe {}", clip.pts_seconds[i], pts[k as usize]);
        }
    }
    assert!(pts[0].abs() < 1e-6, "the first shown frame is at 0 s: {pts:?}");
    // An edit list that delays the start (an empty edit) keeps every frame, shifted.
    let delayed = dir.path().join("delayed.mp4");
    ffmpeg(&["-itsoffset", "0.4", "-i", src.to_str().unwrap(), "-c", "copy", delayed.to_str().unwrap()]);
    assert_eq!(cli_bits(&delayed), (0..60).collect::<Vec<_>>());
    assert_frame_accurate(&delayed, &PICKS);
    assert!((ffprobe_pts(&delayed)[0] - 0.4).abs() < 1e-6);
}
