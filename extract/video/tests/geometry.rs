//! Pixels: rotation, flips, crops and resizing, checked against the ffmpeg CLI.

mod common;

use std::path::Path;
use std::process::Command;

use common::*;
use dist_video::{plan_views, CropBox, DecodeLimits, SamplingConfig, Split, VideoReader};

/// The ffmpeg CLI's RGB24 output for frame 0 of `path` after the filter chain `vf` (auto-rotation on).
/// Its automatic conversions use swscale's bilinear filter, like ours (the CLI's default, bicubic,
/// interpolates subsampled chroma differently when converting formats without a fast unscaled path).
fn cli_frame(path: &Path, vf: Option<&str>) -> Vec<u8> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-i"]).arg(path).args(["-sws_flags", "bilinear"]);
    if let Some(vf) = vf {
        cmd.args(["-vf", vf]);
    }
    let out = cmd.args(["-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

#[test]
fn rotation_metadata_is_honoured_like_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    // Coded 64x32 with only the top-left quadrant white.
    let plain = dir.path().join("plain.mp4");
    ffmpeg(&[
        "-f", "lavfi", "-i", "color=black:s=64x32:d=0.4:r=25,drawbox=x=0:y=0:w=32:h=16:color=white:t=fill",
        "-c:v", "libx264", plain.to_str().unwrap(),
    ]);
    for tag in ["90", "180", "270"] {
        let p = dir.path().join(format!("rot{tag}.mp4"));
        ffmpeg(&["-i", plain.to_str().unwrap(), "-c", "copy", "-metadata:s:v:0", &format!("rotate={tag}"), p.to_str().unwrap()]);
        let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
        let info = reader.info();
        assert_ne!(info.rotation, 0, "{tag}");
        let (w, h) = (info.width, info.height);
        if info.rotation == 180 { assert_eq!((w, h), (64, 32)) } else { assert_eq!((w, h), (32, 64)) }
        let cli = cli_frame(&p, None); // the CLI auto-rotates: w x h
        assert_eq!(cli.len() as u32, w * h * 3);
        let plan = whole_frame_plan(&[0], w, h);
        let clip = reader.decode_views(&[plan], &cfg_for(1, 32)).unwrap().remove(0);
        for (qx, qy) in [(1, 1), (3, 1), (1, 3), (3, 3)] {
            let theirs = cli[(((h * qy / 4) * w + w * qx / 4) * 3) as usize] > 128;
            let ours = clip.frame(0)[((8 * qy * 32 + 8 * qx) * 3) as usize] > 128;
            assert_eq!(ours, theirs, "rotate={tag} (rotation {}): quadrant ({qx},{qy})", info.rotation);
        }
    }
}

#[test]
fn flip_mirrors_the_view() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("half.mkv");
    ffmpeg(&["-f", "lavfi", "-i", "color=black:s=64x64:d=0.2:r=25,drawbox=x=0:y=0:w=32:h=64:color=white:t=fill", "-c:v", "ffv1", p.to_str().unwrap()]);
    let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
    let mut plan = whole_frame_plan(&[0], 64, 64);
    let plain = reader.decode_views(&[plan.clone()], &cfg_for(1, 32)).unwrap().remove(0);
    plan.flip = true;
    let flipped = reader.decode_views(&[plan], &cfg_for(1, 32)).unwrap().remove(0);
    let px = |c: &dist_video::DecodedClip, x: usize| c.frame(0)[(16 * 32 + x) * 3];
    assert!(px(&plain, 4) > 200 && px(&plain, 28) < 50);
    assert!(px(&flipped, 4) < 50 && px(&flipped, 28) > 200);
}

#[test]
fn test_view_matches_cli_scale_then_crop_on_odd_84x33() {
    // sage's 84x33 H.264 4:4:4 file: the centre view at S = 32 resizes to 81x32 (84·32/33 rounded) and
    // crops 32x32 at x = round(25·32/33) = 24: the same swscale bilinear resize through the CLI must agree.
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/videos/sage_example.mp4");
    let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
    assert_eq!((reader.info().width, reader.info().height, reader.info().pixel_format.as_str()), (84, 33, "yuv444p"));
    let cfg = SamplingConfig { t: 1, gamma: 1, input_size: 32, test_views: 1, ..SamplingConfig::default() };
    let plans = plan_views(reader.info(), Split::Test, &cfg, 0);
    assert_eq!(plans[0].crop, CropBox { x: 25, y: 0, w: 33, h: 33 });
    assert_eq!(plans[0].dense_indices, [1]); // midpoint of the one segment of 2 frames, rounded to even
    let ours = reader.decode_views(&plans, &cfg).unwrap().remove(0);
    let cli = {
        let all = Command::new("ffmpeg")
            .args(["-nostdin", "-v", "error", "-i"])
            .arg(&p)
            .args(["-vf", "scale=81:32:flags=bilinear,crop=32:32:24:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
            .output()
            .unwrap()
            .stdout;
        all[32 * 32 * 3..].to_vec() // frame 1
    };
    assert_eq!(cli.len(), ours.frame(0).len());
    let diffs: Vec<i32> = ours.frame(0).iter().zip(&cli).map(|(&a, &b)| (a as i32 - b as i32).abs()).collect();
    let mean = diffs.iter().sum::<i32>() as f64 / diffs.len() as f64;
    assert!(*diffs.iter().max().unwrap() <= 3 && mean < 0.5, "max {} mean {mean}", diffs.iter().max().unwrap());
}

#[test]
fn train_views_render_their_crop_box() {
    // A horizontal gradient: the mean column value of a view tells where its crop box lies.
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("grad.mkv");
    ffmpeg(&["-f", "lavfi", "-i", "nullsrc=s=320x240:r=25:d=1,format=gray,geq=lum='X*255/319'", "-c:v", "ffv1", p.to_str().unwrap()]);
    let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
    let cfg = SamplingConfig { t: 2, gamma: 2, input_size: 48, train_views: 6, ..SamplingConfig::default() };
    let plans = plan_views(reader.info(), Split::Train, &cfg, 42);
    let clips = reader.decode_views(&plans, &cfg).unwrap();
    for c in &clips {
        let b = c.plan.crop;
        assert!(b.fits(320, 240));
        let left = c.frame(0)[(24 * 48) * 3] as f64; // output column 0
        let right = c.frame(0)[(24 * 48 + 47) * 3] as f64; // output column 47
        let (l, r) = if c.plan.flip { (right, left) } else { (left, right) };
        let expect_l = b.x as f64 * 255.0 / 319.0;
        let expect_r = (b.x + b.w - 1) as f64 * 255.0 / 319.0;
        assert!((l - expect_l).abs() < 6.0 && (r - expect_r).abs() < 6.0, "{b:?} flip {}: {l} {r}", c.plan.flip);
        assert_eq!(c.source_indices, c.plan.dense_indices);
    }
}

/// Largest absolute difference of two equally long byte buffers.
fn max_diff(a: &[u8], b: &[u8]) -> u8 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| x.abs_diff(*y)).max().unwrap_or(0)
}

#[test]
fn yuv_matrix_and_range_follow_the_frame_flags_like_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let src = "testsrc2=s=64x64:d=0.2:r=25"; // saturated colours, where the matrices differ most
    let bt709 = ["-vf", "scale=out_color_matrix=bt709", "-colorspace", "bt709", "-color_primaries", "bt709", "-color_trc", "bt709"];
    let cases: [(&str, Vec<&str>); 5] = [
        ("bt709.mp4", [&bt709[..], &["-c:v", "libx264", "-pix_fmt", "yuv420p"]].concat()),
        ("bt709_10bit.mkv", [&bt709[..], &["-c:v", "libx264", "-pix_fmt", "yuv420p10le"]].concat()),
        ("unflagged.mp4", vec!["-c:v", "libx264", "-pix_fmt", "yuv420p"]),
        // yuv420p frames flagged full range (VP9 signals the range; the decoder keeps yuv420p).
        ("full_range.webm", vec!["-vf", "scale=out_range=pc", "-color_range", "pc", "-c:v", "libvpx-vp9", "-pix_fmt", "yuv420p"]),
        ("yuvj.avi", vec!["-c:v", "mjpeg", "-pix_fmt", "yuvj420p"]),
    ];
    for (name, args) in cases {
        let p = dir.path().join(name);
        let mut all = vec!["-f", "lavfi", "-i", src];
        all.extend(args);
        all.push(p.to_str().unwrap());
        ffmpeg(&all);
        let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
        // The whole 64x64 frame at S = 64: no resize, only the YUV -> RGB conversion.
        let clip = reader.decode_views(&[whole_frame_plan(&[0], 64, 64)], &cfg_for(1, 64)).unwrap().remove(0);
        let cli = cli_frame(&p, None);
        let d = max_diff(clip.frame(0), &cli);
        assert!(d <= 2, "{name}: max difference {d} from the CLI's rgb24");
        // The test can fail: the other matrix (or range) gives clearly different pixels.
        let other = match name {
            "bt709.mp4" | "bt709_10bit.mkv" => "scale=in_color_matrix=bt601",
            "unflagged.mp4" => "scale=in_color_matrix=bt709",
            _ => "scale=in_range=tv",
        };
        let wrong = max_diff(clip.frame(0), &cli_frame(&p, Some(other)));
        assert!(wrong > 10, "{name}: {other} differs by only {wrong}");
    }
}
