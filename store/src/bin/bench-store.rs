//! Write/read throughput of `spatial` for ViT-B/16-shaped clips (12 layers x 8 x 197 x 768) per
//! element type and compression (zstd, none), beside `dd` writing and reading the same number of
//! bytes on the same disk.
//!
//! Every read pass starts from a cold page cache (each file evicted with `posix_fadvise(DONTNEED)`,
//! checked with `fincore`). Reads are timed through zarrs' generic decoder (`Reader::via_zarrs`, the
//! reader before the direct path) and the direct path, one reader thread, and through
//! `Reader::prefetch` (2 threads, what the trainer uses). A second table splits one clip's read into
//! its parts, each timed alone on data in memory: the disk at `dd`'s speed, zstd decoding (1 thread
//! and all threads; none for uncompressed stores), the conversion to f32 and the page faults of a
//! fresh f32 output; and the cold direct read into one reused output buffer
//! (`Reader::read_spatial_into`).
//!
//! Usage: `bench-store [DIR] [CLIPS] [--compression zstd|none|both]` (default: bench-out/store, 16
//! clips, both: each element type's zstd and uncompressed stores side by side in one run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dist_store::*;
use half::slice::HalfFloatSliceExt;
use rayon::prelude::*;

fn meta(element: ElementType, compression: Compression, clips: u64) -> StoreMeta {
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
        compression,
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

/// Bytes of `dir`'s files still in the page cache (`fincore`); `None` if fincore is unavailable.
fn resident(dir: &Path) -> Option<u64> {
    let mut files = Vec::new();
    fn walk(d: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
            if e.path().is_dir() { walk(&e.path(), out) } else { out.push(e.path()) }
        }
    }
    walk(dir, &mut files);
    let out = Command::new("fincore").args(["--bytes", "--noheadings", "--raw", "--output", "RES"]).args(&files).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse::<u64>().ok()).sum())
}

/// Drops `dir` from the page cache, checks it worked, then times `pass`.
fn cold(dir: &Path, pass: impl FnOnce()) -> f64 {
    drop_cache(dir);
    if let Some(r) = resident(dir) {
        assert!(r < 1 << 20, "{r} bytes of {} still cached after the drop", dir.display());
    }
    let t = Instant::now();
    pass();
    t.elapsed().as_secs_f64()
}

fn read_all(reader: &Reader, clips: u64, layers: &[usize]) {
    for clip in 0..clips {
        std::hint::black_box(reader.read_spatial(clip, layers).unwrap());
    }
}

/// One clip's inner chunks (one per layer) as stored: element bytes, zstd-compressed.
fn compressed_layers(element: ElementType, clip: &[f32], layer_len: usize, level: i32) -> Vec<Vec<u8>> {
    clip.chunks(layer_len)
        .map(|layer| {
            let bytes: Vec<u8> = match Encoded::encode(element, layer, 768) {
                Encoded::F32(v) => bytemuck::cast_slice(&v).to_vec(),
                Encoded::F16(v) => bytemuck::cast_slice(&v).to_vec(),
                Encoded::Bf16(v) => bytemuck::cast_slice(&v).to_vec(),
                Encoded::Int8 { values, .. } => bytemuck::cast_slice(&values).to_vec(),
            };
            zstd::bulk::compress(&bytes, level).unwrap()
        })
        .collect()
}

/// Seconds per clip to zstd-decode `layers` (into buffers allocated beforehand) sequentially, or in
/// parallel over layers.
fn zstd_decode_s(layers: &[Vec<u8>], raw_len: usize, parallel: bool) -> f64 {
    let mut outs: Vec<Vec<u8>> = layers.iter().map(|_| vec![1u8; raw_len]).collect();
    let decode = |z: &Vec<u8>, o: &mut Vec<u8>| assert_eq!(zstd::bulk::decompress_to_buffer(z, o.as_mut_slice()).unwrap(), raw_len);
    let reps = 5;
    let t = Instant::now();
    for _ in 0..reps {
        if parallel {
            layers.par_iter().zip(outs.par_iter_mut()).for_each(|(z, o)| decode(z, o));
        } else {
            layers.iter().zip(outs.iter_mut()).for_each(|(z, o)| decode(z, o));
        }
    }
    t.elapsed().as_secs_f64() / reps as f64
}

/// Seconds per clip (1 thread) to convert decoded values to f32.
fn convert_s(element: ElementType, clip: &[f32]) -> f64 {
    let encoded = Encoded::encode(element, clip, 768);
    let mut out = vec![0f32; clip.len()];
    let reps = 5;
    let t = Instant::now();
    for _ in 0..reps {
        match &encoded {
            Encoded::F32(v) => out.copy_from_slice(v),
            Encoded::F16(v) => v.convert_to_f32_slice(&mut out),
            Encoded::Bf16(v) => v.convert_to_f32_slice(&mut out),
            Encoded::Int8 { values, scales } => dequantize_int8_into(values, scales, 768, &mut out),
        }
        std::hint::black_box(&out);
    }
    t.elapsed().as_secs_f64() / reps as f64
}

/// Seconds to allocate a fresh f32 output of `len` values and touch every page of it once, as each
/// read does (the kernel maps and zeroes a page on first touch).
fn fresh_output_s(len: usize) -> f64 {
    let reps = 5;
    let t = Instant::now();
    for _ in 0..reps {
        let mut v = vec![0f32; len];
        for x in v.iter_mut().step_by(1024) {
            *x = 1.0;
        }
        std::hint::black_box(&v);
    }
    t.elapsed().as_secs_f64() / reps as f64
}

/// The positional arguments and the compressions of `--compression zstd|none|both` (or `=`).
fn parse_args() -> (Vec<String>, Vec<Compression>) {
    let mut positional = Vec::new();
    let mut compressions = Compression::ALL.to_vec();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let value = match arg.strip_prefix("--compression") {
            Some("") => args.next().unwrap_or_default(),
            Some(v) if v.starts_with('=') => v[1..].to_string(),
            _ => {
                positional.push(arg);
                continue;
            }
        };
        compressions = match value.as_str() {
            "both" => Compression::ALL.to_vec(),
            v => vec![v.parse().unwrap_or_else(|e| panic!("--compression: {e}; or both"))],
        };
    }
    (positional, compressions)
}

fn main() {
    let (args, compressions) = parse_args();
    let base = args.first().map(PathBuf::from).unwrap_or_else(|| PathBuf::from("bench-out/store"));
    let clips: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(16);
    std::fs::create_dir_all(&base).unwrap();
    let layer_len = 8 * 197 * 768;
    let clip_len = 12 * layer_len;
    let raw_clip = (clip_len * 4) as f64;
    let threads = rayon::current_num_threads();
    println!("bench-store: {clips} clips of [12, 8, 197, 768] (fp32 .npy equivalent: {:.1} MB/clip), dir {}, {threads} rayon threads", raw_clip / 1e6, base.display());
    let (dd_write, dd_read) = dd(&base, (raw_clip * clips as f64 / 4.0) as u64);
    println!("dd: write {dd_write:.0} MB/s (conv=fdatasync), read {dd_read:.0} MB/s (cold: page cache dropped)");
    let values: Vec<Vec<f32>> = (0..4).map(|c| clip_values(clip_len, c)).collect();
    let mut table1 = vec![
        "| element | compression | bytes/clip on disk | vs fp32 .npy | write MB/s (on-disk) | cold read all layers, MB/s on-disk (% of dd): zarrs | direct | direct, prefetch 2 threads | direct, reused output | cold read layers 9-12, clips/s: zarrs | direct | warm read (page cache), direct, MB/s |".to_string(),
        "|---|---|---|---|---|---|---|---|---|---|---|---|".to_string(),
    ];
    let mut table2 = vec![
        format!("| element | compression | disk at dd speed | zstd decode, 1 thread | zstd decode, {threads} threads | convert to f32, 1 thread | fresh f32 output (page faults) | direct read, cold | direct read, cold, reused output | direct read, warm | zarrs read, cold |"),
        "|---|---|---|---|---|---|---|---|---|---|---|".to_string(),
    ];
    let all: Vec<usize> = (1..=12).collect();
    for (element, compression) in ElementType::ALL.into_iter().flat_map(|e| compressions.iter().map(move |&c| (e, c))) {
        let dir = base.join(format!("{element}-{compression}"));
        let _ = std::fs::remove_dir_all(&dir);
        let store = Store::create(&dir, meta(element, compression, clips)).unwrap();
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
        let spatial_dir = dir.join("spatial");
        let spatial_bytes = dir_bytes(&spatial_dir) + dir_bytes(&dir.join("spatial_scale"));
        let per_clip = spatial_bytes as f64 / clips as f64;
        let direct = store.reader().unwrap();
        let zarrs = direct.clone().via_zarrs();
        assert!(direct.reads_directly(), "{element} {compression}: the direct path applies");
        // The direct path must read what zarrs reads.
        assert_eq!(direct.read_spatial(1, &all).unwrap(), zarrs.read_spatial(1, &all).unwrap());
        let zarrs_s = cold(&dir, || read_all(&zarrs, clips, &all));
        let direct_s = cold(&dir, || read_all(&direct, clips, &all));
        let prefetch_s = cold(&dir, || {
            for s in direct.prefetch((0..clips).collect(), all.clone(), false, 4, 2) {
                std::hint::black_box(s.unwrap());
            }
        });
        let reuse_s = cold(&dir, || {
            let mut buf = Vec::new();
            for clip in 0..clips {
                direct.read_spatial_into(clip, &all, &mut buf).unwrap();
                std::hint::black_box(&buf);
            }
        });
        let zarrs_sub_s = cold(&dir, || read_all(&zarrs, clips, &[9, 10, 11, 12]));
        let direct_sub_s = cold(&dir, || read_all(&direct, clips, &[9, 10, 11, 12]));
        read_all(&direct, clips, &all); // fills the page cache
        let t = Instant::now();
        read_all(&direct, clips, &all);
        let warm_s = t.elapsed().as_secs_f64();
        let rate = |s: f64| format!("{:.0} ({:.0}%)", mb(spatial_bytes as f64, s), 100.0 * mb(spatial_bytes as f64, s) / dd_read);
        table1.push(format!(
            "| {element} | {compression} | {:.2} MB | {:.3} | {:.0} | {} | {} | {} | {} | {:.1} | {:.1} | {:.0} |",
            per_clip / 1e6,
            per_clip / raw_clip,
            mb(spatial_bytes as f64, write_s),
            rate(zarrs_s),
            rate(direct_s),
            rate(prefetch_s),
            rate(reuse_s),
            clips as f64 / zarrs_sub_s,
            clips as f64 / direct_sub_s,
            mb(spatial_bytes as f64, warm_s),
        ));
        let raw_layer = layer_len * element.size();
        let ms = |s: f64| format!("{:.1}", s * 1e3);
        let (zstd_1, zstd_n) = match compression {
            Compression::Zstd => {
                let layers = compressed_layers(element, &values[0], layer_len, store.meta().zstd_level);
                (ms(zstd_decode_s(&layers, raw_layer, false)), ms(zstd_decode_s(&layers, raw_layer, true)))
            }
            Compression::None => ("-".into(), "-".into()),
        };
        table2.push(format!(
            "| {element} | {compression} | {} | {zstd_1} | {zstd_n} | {} | {} | {} | {} | {} | {} |",
            ms(per_clip / (dd_read * 1e6)),
            ms(convert_s(element, &values[0])),
            ms(fresh_output_s(clip_len)),
            ms(direct_s / clips as f64),
            ms(reuse_s / clips as f64),
            ms(warm_s / clips as f64),
            ms(zarrs_s / clips as f64),
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
    println!("{}", table1.join("\n"));
    println!("\nms per clip (all 12 layers):\n{}", table2.join("\n"));
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
