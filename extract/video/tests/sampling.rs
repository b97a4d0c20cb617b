//! View planning properties, and short videos decoded end to end under each policy.

mod common;

use common::*;
use dist_video::{plan_views, DecodeLimits, FrameIndexMode, SamplingConfig, ShortVideoPolicy, Split, VideoInfo, VideoReader};

fn info(frames: u64, w: u32, h: u32) -> VideoInfo {
    VideoInfo {
        path: "v.mp4".into(),
        bytes: 1,
        sha256: String::new(),
        container: "mp4".into(),
        codec: "h264".into(),
        width: w,
        height: h,
        coded_width: w,
        coded_height: h,
        rotation: 0,
        fps: 25.0,
        duration_s: frames as f64 / 25.0,
        start_time_s: 0.0,
        frame_count: frames,
        keyframe_count: 1,
        pixel_format: "yuv420p".into(),
        decoder: "h264".into(),
        libavcodec_version: "59.37.100".into(),
        stream_index: 0,
        frame_index: FrameIndexMode::Pts,
    }
}

#[test]
fn train_plans_are_deterministic_per_seed_and_stable_when_adding_views() {
    let v = info(300, 640, 360);
    let cfg = SamplingConfig::default();
    let a = plan_views(&v, Split::Train, &cfg, 7);
    assert_eq!(a, plan_views(&v, Split::Train, &cfg, 7));
    assert_ne!(a, plan_views(&v, Split::Train, &cfg, 8));
    assert_ne!(a, plan_views(&v, Split::Train, &SamplingConfig { seed: 1, ..cfg.clone() }, 7));
    let more = plan_views(&v, Split::Train, &SamplingConfig { train_views: 5, ..cfg.clone() }, 7);
    assert_eq!(&more[..2], &a[..]);
    assert_ne!(a[0].dense_indices, a[1].dense_indices, "views draw different offsets");
    for p in &more {
        assert_eq!(p.dense_indices.len(), 16);
        assert_eq!(p.sparse_positions, [0, 2, 4, 6, 8, 10, 12, 14]);
        assert!(p.crop.fits(640, 360), "{:?}", p.crop);
        let area = (p.crop.w * p.crop.h) as f64 / (640.0 * 360.0);
        assert!((0.39..=1.0).contains(&area), "{:?}", p.crop);
    }
}

#[test]
fn flips_follow_flip_prob() {
    let v = info(100, 320, 240);
    let cfg = SamplingConfig { train_views: 1, ..SamplingConfig::default() };
    let flips = (0..2000).filter(|&s| plan_views(&v, Split::Train, &cfg, s)[0].flip).count();
    assert!((900..1100).contains(&flips), "{flips} of 2000");
    let never = SamplingConfig { flip_prob: 0.0, ..cfg.clone() };
    assert!((0..200).all(|s| !plan_views(&v, Split::Train, &never, s)[0].flip));
}

#[test]
fn test_views_are_fixed_clips_times_crops() {
    let v = info(160, 320, 240);
    let cfg = SamplingConfig::default();
    let plans = plan_views(&v, Split::Test, &cfg, 1);
    assert_eq!(plans, plan_views(&v, Split::Val, &cfg, 99), "val/test ignore the seed");
    assert_eq!(plans.len(), 3);
    // 16 segments of 10 frames; clip k at 10·i + 10·(k+1)/3.
    assert_eq!(&plans[0].dense_indices[..2], &[3, 13]);
    assert_eq!(&plans[2].dense_indices[..2], &[10, 20]);
    assert!(plans.iter().all(|p| !p.flip && p.crop == dist_video::CropBox { x: 40, y: 0, w: 240, h: 240 }));
    let three = plan_views(&v, Split::Test, &SamplingConfig { spatial_crops: 3, ..cfg }, 1);
    assert_eq!(three.len(), 9);
    let xs: Vec<u32> = three[..3].iter().map(|p| p.crop.x).collect();
    assert_eq!(xs, [0, 40, 80]);
    assert_eq!((three[4].temporal_index, three[4].spatial_crop_index, three[4].view_index), (1, 1, 4));
}

#[test]
fn short_videos_follow_the_policy_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let p = make_bits_clip(dir.path(), "short.mp4", 5, None, &["-c:v", "libx264", "-bf", "2"]);
    let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
    assert_eq!(reader.info().frame_count, 5);
    let expected: [(ShortVideoPolicy, Vec<u64>); 2] = [
        (ShortVideoPolicy::RepeatLast, vec![0, 1, 2, 3, 4, 4, 4, 4]),
        (ShortVideoPolicy::Loop, vec![0, 1, 2, 3, 4, 0, 1, 2]),
    ];
    let base = SamplingConfig { t: 4, gamma: 2, input_size: 64, test_views: 1, ..SamplingConfig::default() };
    for (policy, want) in expected {
        let cfg = SamplingConfig { short_video_policy: policy, ..base.clone() };
        let mut plans = plan_views(reader.info(), Split::Test, &cfg, 0);
        assert_eq!(plans[0].dense_indices, want);
        plans[0].crop = dist_video::CropBox { x: 0, y: 0, w: BITS_W, h: BITS_H };
        let clip = reader.decode_views(&plans, &cfg).unwrap().remove(0);
        let shown: Vec<u64> = (0..8).map(|i| read_bits(&clip, i)).collect();
        assert_eq!(shown, want, "{policy:?}");
    }
    // Stretch (the official behaviour): each frame repeated in order.
    let cfg = SamplingConfig { short_video_policy: ShortVideoPolicy::Stretch, ..base };
    let plans = plan_views(reader.info(), Split::Test, &cfg, 0);
    // Segment midpoints 5(2i+1)/16 = 0.31, 0.94, 1.56, 2.19, 2.81, 3.44, 4.06, 4.69 (clamped to 4).
    assert_eq!(plans[0].dense_indices, [0, 1, 2, 2, 3, 3, 4, 4]);
}

#[test]
fn sparse_frames_are_the_dense_frames_at_every_gamma_th_position() {
    let dir = tempfile::tempdir().unwrap();
    let p = make_bits_clip(dir.path(), "s.mp4", 64, None, &["-c:v", "libx264", "-g", "8"]);
    let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
    let cfg = SamplingConfig { t: 4, gamma: 2, input_size: 64, train_views: 3, ..SamplingConfig::default() };
    let mut plans = plan_views(reader.info(), Split::Train, &cfg, 3);
    for p in &mut plans {
        p.crop = dist_video::CropBox { x: 0, y: 0, w: BITS_W, h: BITS_H };
        p.flip = false;
    }
    for clip in reader.decode_views(&plans, &cfg).unwrap() {
        let shown: Vec<u64> = (0..8).map(|i| read_bits(&clip, i)).collect();
        assert_eq!(shown, clip.plan.dense_indices);
        let sparse = clip.sparse();
        let n = clip.frame_len();
        for (j, &pos) in clip.plan.sparse_positions.iter().enumerate() {
            assert_eq!(&sparse[j * n..(j + 1) * n], clip.frame(pos));
        }
        assert_eq!(clip.plan.sparse_indices(), (0..4).map(|i| clip.plan.dense_indices[2 * i]).collect::<Vec<_>>());
    }
}
