//! Test helpers: small store metadata and deterministic clip data.
#![allow(dead_code)]

use dist_store::*;

/// A small store: 2 stored layers, T=2, γ=2, crop 32 / patch 16 (5 tokens), C=8.
pub fn small_meta(element: ElementType, num_clips: u64, clips_per_shard: u64) -> StoreMeta {
    StoreMeta {
        format_version: FORMAT_VERSION,
        encoder: EncoderFingerprint {
            architecture: "clip-vit".into(),
            name: "test".into(),
            image_size: 32,
            patch_size: 16,
            width: 8,
            layers: 4,
            heads: 2,
            embed_dim: 6,
            weights_sha256: "00ff".into(),
        },
        preprocessing: Preprocessing {
            resize_short: 32,
            crop: 32,
            interpolation: "bilinear".into(),
            mean: CLIP_MEAN,
            std: CLIP_STD,
        },
        sampling: Sampling {
            t: 2,
            gamma: 2,
            strategy: "tsn".into(),
            train_views: 2,
            test_views: 3,
            spatial_crops: 1,
            seed: 7,
            short_video_policy: "repeat-last".into(),
        },
        layers: vec![3, 4],
        element_type: element,
        num_clips,
        clips_per_shard,
        compression: Compression::Zstd,
        zstd_level: 3,
        created_by: "dist-store tests".into(),
        planned_videos: 0,
    }
}

/// [`small_meta`] with the given compression.
pub fn small_meta_compressed(element: ElementType, compression: Compression, num_clips: u64, clips_per_shard: u64) -> StoreMeta {
    StoreMeta { compression, ..small_meta(element, num_clips, clips_per_shard) }
}

/// Every (compression, element type) pair, the stores the round-trip tests write.
pub fn every_layout() -> impl Iterator<Item = (Compression, ElementType)> {
    Compression::ALL.into_iter().flat_map(|c| ElementType::ALL.into_iter().map(move |e| (c, e)))
}

/// splitmix64: cheap deterministic pseudo-random numbers.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// Token values of one clip, roughly N(0, 2) with some large outliers, like ViT residual streams.
pub fn clip_spatial(meta: &StoreMeta, clip: u64) -> Vec<f32> {
    let n = meta.layers.len() * meta.layer_len();
    (0..n as u64)
        .map(|i| {
            let r = mix(clip * 1_000_003 + i);
            let u = (r >> 11) as f32 / (1u64 << 53) as f32;
            let v = (u - 0.5) * 7.0;
            if r % 97 == 0 { v * 20.0 } else { v }
        })
        .collect()
}

pub fn clip_frames(meta: &StoreMeta, clip: u64) -> Vec<u8> {
    (0..meta.frames_len() as u64).map(|i| (mix(clip ^ (i << 20)) & 0xff) as u8).collect()
}

pub fn clip_record(clip: u64) -> ClipRecord {
    ClipRecord {
        clip,
        video_id: format!("v{}", clip / 2),
        split: if clip % 3 == 0 { "test".into() } else { "train".into() },
        label: Some((clip % 5) as i64),
        view: (clip % 2) as u32,
        spatial_crop: 0,
        sparse_indices: vec![clip, clip + 2],
        dense_indices: vec![clip, clip + 1, clip + 2, clip + 3],
        dense_pts: vec![0.0, 0.04, 0.08, 0.12],
        crop: [1, 2, 30, 30],
        flip: clip % 2 == 1,
    }
}

pub fn video_record(id: &str) -> VideoRecord {
    VideoRecord {
        video_id: id.into(),
        path: format!("videos/{id}.mp4"),
        split: "train".into(),
        label: Some(1),
        manifest_line: 3,
        bytes: 1234,
        sha256: "ab".repeat(32),
        container: "mov,mp4".into(),
        codec: "h264".into(),
        width: 320,
        height: 240,
        fps: 25.0,
        duration_s: 2.0,
        frame_count: 50,
        decoder: "h264 (libavcodec 59.37.100)".into(),
        status: VideoStatus::Ok,
        error_kind: String::new(),
        error: String::new(),
        shard: 0,
    }
}

/// Writes and commits `shard` with every clip slot filled, and one video row per 2 clips.
pub fn write_full_shard(store: &Store, shard: u64) {
    let meta = store.meta().clone();
    let mut w = store.shard_writer(shard).unwrap();
    for clip in store.shard_clips(shard) {
        w.add_clip(clip_record(clip), &clip_spatial(&meta, clip), &clip_frames(&meta, clip)).unwrap();
        if clip % 2 == 0 {
            w.add_video(video_record(&format!("v{}", clip / 2)));
        }
    }
    w.commit().unwrap();
}
