//! Helpers shared by the integration tests: clips made with the `ffmpeg` CLI at test time, and decoding
//! of frames whose index is drawn into their pixels.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use dist_video::{CropBox, DecodeStats, DecodedClip, SamplingConfig, VideoReader, ViewPlan};

/// Runs `ffmpeg -nostdin -v error -y <args>` and panics with its stderr when it fails.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-nostdin", "-hide_banner", "-v", "error", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI must be installed (apt-get install ffmpeg)");
    assert!(out.status.success(), "ffmpeg {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// Frame width of the "bits" clips: 8 columns of 32 pixels, column i white when bit i of the frame
/// number is set. Any codec keeps such a coarse pattern, so a decoded frame tells its own index.
pub const BITS_W: u32 = 256;
pub const BITS_H: u32 = 64;

/// The lavfi source of a bits clip with `frames` frames at `rate` fps.
pub fn bits_source(frames: u32, rate: &str) -> String {
    format!(
        "nullsrc=s={BITS_W}x{BITS_H}:r={rate},trim=end_frame={frames},format=gray,\
         geq=lum='255*mod(floor(N/pow(2\\,floor(X/32)))\\,2)'"
    )
}

/// Encodes a bits clip into `dir/name` with the given encoder arguments (and optional extra filter).
pub fn make_bits_clip(dir: &Path, name: &str, frames: u32, filter: Option<&str>, encode: &[&str]) -> PathBuf {
    let path = dir.join(name);
    let mut src = bits_source(frames, "25");
    if let Some(f) = filter {
        src = format!("{src},{f}");
    }
    let mut args = vec!["-f", "lavfi", "-i", src.as_str()];
    args.extend_from_slice(encode);
    let p = path.to_str().unwrap().to_string();
    args.push(&p);
    ffmpeg(&args);
    path
}

/// A plan over `indices` with the whole frame as crop, for decoding specific frames.
pub fn whole_frame_plan(indices: &[u64], width: u32, height: u32) -> ViewPlan {
    ViewPlan {
        view_index: 0,
        temporal_index: 0,
        spatial_crop_index: 0,
        dense_indices: indices.to_vec(),
        sparse_positions: (0..indices.len()).collect(),
        crop: CropBox { x: 0, y: 0, w: width, h: height },
        flip: false,
    }
}

/// A config that decodes `n` frames per view at `size`×`size` with γ = 1.
pub fn cfg_for(n: usize, size: u32) -> SamplingConfig {
    SamplingConfig { t: n, gamma: 1, input_size: size, ..SamplingConfig::default() }
}

/// Decodes frames `indices` of a bits clip (whole frame squeezed to 64×64) and returns the clip.
pub fn decode_bits(path: &Path, indices: &[u64]) -> (VideoReader, DecodedClip, DecodeStats) {
    let reader = VideoReader::open(path, &Default::default()).unwrap_or_else(|e| panic!("{e}"));
    let (w, h) = (reader.info().width, reader.info().height);
    let plan = whole_frame_plan(indices, w, h);
    let (mut clips, stats) =
        reader.decode_views_with_stats(&[plan], &cfg_for(indices.len(), 64)).unwrap_or_else(|e| panic!("{e}"));
    (reader, clips.remove(0), stats)
}

/// Reads the frame number drawn into dense frame `i` of a 64×64 bits clip.
pub fn read_bits(clip: &DecodedClip, i: usize) -> u64 {
    let f = clip.frame(i);
    (0..8).map(|b| {
        let x = b * 8 + 4;
        let px = f[(32 * 64 + x) * 3] as u64;
        u64::from(px > 128) << b
    })
    .sum()
}

/// ffprobe's presentation timestamps (seconds) of every decoded frame, in output order.
pub fn ffprobe_pts(path: &Path) -> Vec<f64> {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time", "-of", "csv=p=0"])
        .arg(path)
        .output()
        .expect("ffprobe must be installed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty()) // frames with side data add a blank line
        .map(|l| l.trim().trim_end_matches(',').parse::<f64>().unwrap_or(f64::NAN))
        .collect()
}

/// Checks that decoding `indices` of a bits clip gives those very frames, with ffprobe's timestamps.
pub fn assert_frame_accurate(path: &Path, indices: &[u64]) -> DecodeStats {
    let reference = ffprobe_pts(path);
    let (reader, clip, stats) = decode_bits(path, indices);
    assert_eq!(reader.info().frame_count as usize, reference.len(), "{}: frame count vs ffprobe", path.display());
    for (i, &k) in indices.iter().enumerate() {
        assert_eq!(read_bits(&clip, i), k, "{}: dense frame {i} should show frame {k}", path.display());
        assert_eq!(clip.source_indices[i], k);
        let (ours, theirs) = (clip.pts_seconds[i], reference[k as usize]);
        let same = (ours - theirs).abs() < 1e-6 || (ours.is_nan() && theirs.is_nan());
        assert!(same, "{}: frame {k} pts {ours} vs ffprobe {theirs}", path.display());
    }
    stats
}
