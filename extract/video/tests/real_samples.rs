//! The committed real sample files (tests/data/videos, from Debian packages) probe and decode.

mod common;

use std::path::PathBuf;

use common::*;
use dist_video::{decode_views, plan_views, video_seed, DecodeLimits, SamplingConfig, Split, VideoReader};

fn sample(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/videos").join(name)
}

#[test]
fn every_sample_probes_like_ffprobe_and_decodes_test_and_train_views() {
    let cases = [
        // name, codec, width, height, frames
        ("sage_example.avi", "mpeg4", 84, 33, 2),
        ("sage_example.flv", "flv1", 84, 33, 2),
        ("sage_example.mkv", "h264", 84, 33, 2),
        ("sage_example.mov", "h264", 84, 33, 2),
        ("sage_example.mp4", "h264", 84, 33, 2),
        ("sage_example.ogv", "theora", 84, 33, 2),
        ("sage_example.webm", "vp8", 84, 33, 2),
        ("sage_example.wmv", "msmpeg4v3", 84, 33, 2),
        ("traitsui_test.mp4", "h264", 320, 240, 2),
        ("mrpt_dummy_video.avi", "ffv1", 320, 240, 10),
    ];
    let cfg = SamplingConfig { input_size: 32, ..SamplingConfig::default() };
    for (name, codec, w, h, frames) in cases {
        let p = sample(name);
        let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap_or_else(|e| panic!("{e}"));
        let info = reader.info();
        assert_eq!((info.codec.as_str(), info.width, info.height, info.frame_count), (codec, w, h, frames), "{name}");
        assert_eq!(info.frame_count as usize, ffprobe_pts(&p).len(), "{name}: frames decoded by ffprobe");
        assert_eq!(info.bytes, std::fs::metadata(&p).unwrap().len());
        assert_eq!(info.sha256.len(), 64);
        assert!(!info.decoder.is_empty() && info.libavcodec_version.split('.').count() == 3);
        for split in [Split::Test, Split::Train] {
            let plans = plan_views(info, split, &cfg, video_seed(name));
            let clips = reader.decode_views(&plans, &cfg).unwrap_or_else(|e| panic!("{name} {split}: {e}"));
            assert_eq!(clips.len(), if split == Split::Test { 3 } else { 2 });
            for c in &clips {
                assert_eq!(c.frames.len(), 16 * 32 * 32 * 3);
                assert_eq!(c.source_indices, c.plan.dense_indices, "{name}");
                assert_eq!(c.sparse().len(), 8 * 32 * 32 * 3);
            }
        }
    }
}

#[test]
fn sage_plot_is_the_same_picture_in_every_container() {
    // The eight sage files encode the same two frames; the lossless-ish decodes must broadly agree.
    let cfg = SamplingConfig { t: 2, gamma: 1, input_size: 32, test_views: 1, ..SamplingConfig::default() };
    let reference = {
        let p = sample("sage_example.mp4");
        let info = dist_video::open_video(&p, &cfg.limits).unwrap();
        decode_views(&p, &plan_views(&info, Split::Test, &cfg, 0), &cfg).unwrap().1.remove(0)
    };
    for ext in ["avi", "flv", "mkv", "mov", "ogv", "webm", "wmv"] {
        let p = sample(&format!("sage_example.{ext}"));
        let info = dist_video::open_video(&p, &cfg.limits).unwrap();
        let clip = decode_views(&p, &plan_views(&info, Split::Test, &cfg, 0), &cfg).unwrap().1.remove(0);
        let mean = clip.frames.iter().zip(&reference.frames).map(|(&a, &b)| (a as f64 - b as f64).abs()).sum::<f64>()
            / clip.frames.len() as f64;
        assert!(mean < 12.0, "{ext}: mean abs difference {mean} from the mp4 decode");
    }
}

#[test]
fn fuzz_seed_with_a_missing_picture_is_handled() {
    // afl's small_movie.mp4 has 12 packets but only 11 decodable pictures ("missing picture in access
    // unit"). Either every planned frame gets a picture (the missing one replaced by its predecessor and
    // recorded as such), or the decoder's complaint comes back as a typed error: never a panic.
    let p = sample("afl_small_movie.mp4");
    let reader = VideoReader::open(&p, &DecodeLimits::default()).unwrap();
    assert_eq!((reader.info().width, reader.info().height, reader.info().frame_count), (48, 144, 12));
    let all: Vec<u64> = (0..12).collect();
    let plan = whole_frame_plan(&all, 48, 144);
    match reader.decode_views(&[plan], &cfg_for(12, 16)) {
        Ok(clips) => {
            let used = &clips[0].source_indices;
            assert!(used.iter().zip(&all).all(|(u, k)| u <= k), "{used:?}");
            assert!(used.windows(2).all(|w| w[0] <= w[1]));
        }
        Err(e) => assert_eq!(e.kind(), "corrupt_bitstream", "{e}"),
    }
}
