//! Write/read throughput of `spatial` for ViT-B/16-shaped clips (12 layers x 8 x 197 x 768) per
//! element type, beside `dd` writing and reading the same number of bytes on the same disk.
//!
//! Usage: `bench-store [DIR] [CLIPS]` (default: a temp dir under ./bench-out, 16 clips).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dist_store::*;
use rayon::prelude::*;

fn meta(element: ElementType, clips: u64) -> StoreMeta {
    StoreMeta {
        format_version: FORMAT_VERSION,
        encoder: EncoderFingerprint {
            architecture: "clip-vit".into(),
            name: "bench".into(),
            image_size: 224,
            patch_size: 16,
            width: 768,
            layers: 12,
            heads: 12,
            embed_dim: 512,
            weights_sha256: "bench".into(),
        },
        preprocessing: Preprocessing { resize_short: 224, crop: 224, interpolation: "bilinear".into(), mean: CLIP_MEAN, std: CLIP_STD },
        sampling: Sampling {
            t: 8,
            gamma: 2,
            strategy: "tsn".into(),
            train_views: 1,
            test_views: 1,
            spatial_crops: 1,
            seed: 0,
            short_video_policy: "repeat-last".into(),
        },
        layers: (1..=12).collect(),
        element_type: element,
        num_clips: clips,
        clips_per_shard: 4,
        zstd_level: 1,
        created_by: "bench-store".into(),
        planned_videos: 0,
    }
}

/// ViT-like residual stream values: roughly normal, with a few large channels per token.
fn clip_values(len: usize, clip: u64) -> Vec<f32> {
    let mut state = clip.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 40) as f32 / (1u64 << 24) as f32;
            let g = (u - 0.5) * 3.4; // spread similar to a unit Gaussian
            if i % 768 == 12 || i % 768 == 505 { g * 40.0 } else { g }
        })
        .collect()
}

fn mb(bytes: f64, secs: f64) -> f64 {
    bytes / secs / 1e6
}

fn dd(dir: &Path, bytes: u64) -> (f64, f64) {
    let file = dir.join("dd.bin");
    let count = (bytes / (1 << 20)).max(1);
    let t = Instant::now();
    let ok = Command::new("dd")
        .args(["if=/dev/zero", &format!("of={}", file.display()), "bs=1M", &format!("count={count}"), "conv=fdatasync"])
        .output()
        .expect("dd runs");
    assert!(ok.status.success());
    let write = t.elapsed().as_secs_f64();
    drop_cache(dir);
    let t = Instant::now();
    let out = Command::new("dd").args([&format!("if={}", file.display()), "of=/dev/null", "bs=1M"]).output().expect("dd runs");
    assert!(out.status.success());
    let read = t.elapsed().as_secs_f64();
    let _ = std::fs::remove_file(&file);
    (mb((count << 20) as f64, write), mb((count << 20) as f64, read))
}

/// Evicts every file under `dir` from the page cache (GNU dd `iflag=nocache`, i.e.
/// posix_fadvise DONTNEED), so the next read comes from the disk.
fn drop_cache(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            drop_cache(&p);
        } else {
            let _ = Command::new("dd").args([&format!("if={}", p.display()), "iflag=nocache", "count=0"]).output();
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let base = args.get(1).map(PathBuf::from).unwrap_or_else(|| PathBuf::from("bench-out/store"));
    let clips: u64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(16);
    std::fs::create_dir_all(&base).unwrap();
    let clip_len = 12 * 8 * 197 * 768;
    let raw_clip = (clip_len * 4) as f64;
    println!("bench-store: {clips} clips of [12, 8, 197, 768] (fp32 .npy equivalent: {:.1} MB/clip), dir {}", raw_clip / 1e6, base.display());
    let (dd_write, dd_read) = dd(&base, (raw_clip * clips as f64 / 4.0) as u64);
    println!("dd: write {dd_write:.0} MB/s (conv=fdatasync), read {dd_read:.0} MB/s (cold: page cache dropped)");
    println!("| element | bytes/clip on disk | vs fp32 .npy | write MB/s (on-disk) | write clips/s | cold read, all layers, MB/s (on-disk) | read clips/s | cold read, layers 9-12, clips/s |");
    println!("|---|---|---|---|---|---|---|---|");
    let values: Vec<Vec<f32>> = (0..4).map(|c| clip_values(clip_len, c)).collect();
    for element in ElementType::ALL {
        let dir = base.join(element.as_str());
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::create(&dir, meta(element, clips)).unwrap();
        let frames = vec![0u8; store.meta().frames_len()];
        let t = Instant::now();
        (0..store.meta().num_shards()).into_par_iter().for_each(|shard| {
            let mut w = store.shard_writer(shard).unwrap();
            for clip in store.shard_clips(shard) {
                let rec = ClipRecord {
                    clip,
                    video_id: format!("v{clip}"),
                    split: "train".into(),
                    label: Some(0),
                    view: 0,
                    spatial_crop: 0,
                    sparse_indices: vec![0; 8],
                    dense_indices: vec![0; 16],
                    dense_pts: vec![0.0; 16],
                    crop: [0, 0, 224, 224],
                    flip: false,
                };
                w.add_clip(rec, &values[(clip % 4) as usize], &frames).unwrap();
            }
            w.commit().unwrap();
        });
        let write_s = t.elapsed().as_secs_f64();
        let spatial_bytes = dir_bytes(&dir.join("spatial")) + dir_bytes(&dir.join("spatial_scale"));
        let per_clip = spatial_bytes as f64 / clips as f64;
        let reader = store.reader().unwrap();
        drop_cache(&dir);
        let t = Instant::now();
        for clip in 0..clips {
            std::hint::black_box(reader.read_spatial(clip, &store.meta().layers).unwrap());
        }
        let read_s = t.elapsed().as_secs_f64();
        drop_cache(&dir);
        let t = Instant::now();
        for clip in 0..clips {
            std::hint::black_box(reader.read_spatial(clip, &[9, 10, 11, 12]).unwrap());
        }
        let subset_s = t.elapsed().as_secs_f64();
        println!(
            "| {element} | {:.2} MB | {:.3} | {:.0} | {:.1} | {:.0} | {:.1} | {:.1} |",
            per_clip / 1e6,
            per_clip / raw_clip,
            mb(spatial_bytes as f64, write_s),
            clips as f64 / write_s,
            mb(spatial_bytes as f64, read_s),
            clips as f64 / read_s,
            clips as f64 / subset_s,
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}

fn dir_bytes(p: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(p) else { return 0 };
    entries
        .map(|e| {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() { dir_bytes(&e.path()) } else { m.len() }
        })
        .sum()
}
