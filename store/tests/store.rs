//! Round trips, metadata checks and crash safety of the feature store.

mod common;

use common::*;
use dist_store::*;

#[test]
fn every_element_type_round_trips() {
    for (compression, element) in every_layout() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store");
        let store = Store::create(&path, small_meta_compressed(element, compression, 10, 4)).unwrap();
        for shard in 0..store.meta().num_shards() {
            write_full_shard(&store, shard);
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(store.meta().compression, compression);
        let reader = store.reader().unwrap();
        assert!(reader.reads_directly(), "{compression} {element}: the direct read path applies");
        assert_eq!(reader.clips().len(), 10);
        let meta = store.meta();
        for clip in 0..10 {
            let want = clip_spatial(meta, clip);
            let got = reader.read_spatial(clip, &[3, 4]).unwrap();
            assert_eq!(got.len(), want.len());
            let width = meta.width();
            // Exactly the stored element values (compression is lossless), ...
            assert_eq!(got, Encoded::encode(element, &want, width).decode(width), "{compression} {element} clip {clip}");
            // ... which are within the element type's documented error.
            for (row, (w, g)) in want.chunks(width).zip(got.chunks(width)).enumerate() {
                let max = w.iter().fold(0f32, |m, v| m.max(v.abs()));
                for (a, b) in w.iter().zip(g) {
                    let tol = match element {
                        ElementType::F32 => 0.0,
                        ElementType::F16 => a.abs() * 2f32.powi(-11) + 6e-8,
                        ElementType::Bf16 => a.abs() * 2f32.powi(-8),
                        // The documented int8 bound: max |x| / 254 per token.
                        ElementType::Int8 => max / 254.0 * 1.0001,
                    };
                    assert!((a - b).abs() <= tol, "{compression} {element} clip {clip} row {row}: {a} vs {b}");
                }
            }
            assert_eq!(reader.read_frames(clip).unwrap(), clip_frames(meta, clip), "{compression} {element} frames of clip {clip}");
            assert_eq!(reader.record(clip).unwrap(), &clip_record(clip));
        }
        // A layer subset reads just that layer, in the requested order.
        let all = reader.read_spatial(5, &[3, 4]).unwrap();
        let l4 = reader.read_spatial(5, &[4]).unwrap();
        assert_eq!(&all[meta.layer_len()..], &l4[..]);
        let swapped = reader.read_spatial(5, &[4, 3]).unwrap();
        assert_eq!(&swapped[..meta.layer_len()], &l4[..]);
        assert!(matches!(reader.read_spatial(5, &[2]), Err(StoreError::Mismatch { .. })));
        assert_eq!(store.videos().unwrap().len(), 5);
        // The arrays' inner codec chains: [bytes, zstd], or [bytes] alone.
        let arrays: &[&str] = if element == ElementType::Int8 { &["spatial", "spatial_scale", "frames"] } else { &["spatial", "frames"] };
        for array in arrays {
            assert_eq!(inner_codecs(&path.join(array)), codec_chain(compression), "{compression} {element}: {array}");
        }
    }
}

/// The names of the inner codecs of the sharded array at `dir`, from its `zarr.json`.
fn inner_codecs(dir: &std::path::Path) -> Vec<String> {
    codecs_at(dir, "/codecs/0/configuration/codecs")
}

/// The names of the codecs listed at `pointer` in the `zarr.json` of the array at `dir`.
fn codecs_at(dir: &std::path::Path, pointer: &str) -> Vec<String> {
    let meta: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("zarr.json")).unwrap()).unwrap();
    let codecs = meta.pointer(pointer).and_then(|c| c.as_array()).unwrap_or_else(|| panic!("{pointer} in {meta}"));
    codecs.iter().map(|c| c["name"].as_str().unwrap().to_string()).collect()
}

/// The codec names `compression` gives an array's (inner) chunks.
fn codec_chain(compression: Compression) -> Vec<String> {
    match compression {
        Compression::Zstd => vec!["bytes".into(), "zstd".into()],
        Compression::None => vec!["bytes".into()],
    }
}

#[test]
fn uncompressed_stores_hold_the_raw_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s"), small_meta_compressed(ElementType::F16, Compression::None, 8, 4)).unwrap();
    for shard in 0..2 {
        write_full_shard(&store, shard);
    }
    let meta = store.meta();
    let (layers, layer_bytes) = (meta.layers.len(), meta.layer_len() * 2);
    // Each shard file: its 4 x 2 inner chunks of raw f16 values, then the index (16 bytes per chunk
    // and a crc32c).
    let shard = std::fs::read(store.root().join("spatial/c/1/0/0/0/0")).unwrap();
    assert_eq!(shard.len(), 4 * layers * layer_bytes + 16 * 4 * layers + 4);
    // Inner chunks in C order: clip 4's first layer comes first, as little-endian f16.
    let Encoded::F16(values) = Encoded::encode(ElementType::F16, &clip_spatial(meta, 4), meta.width()) else { unreachable!() };
    let raw: Vec<u8> = values[..meta.layer_len()].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(&shard[..layer_bytes], &raw[..]);
    assert_eq!(dir_size(&store.root().join("spatial")), 2 * shard.len() as u64);
}

#[test]
fn compression_is_recorded_validated_and_defaults_to_zstd() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let meta = small_meta_compressed(ElementType::F16, Compression::None, 4, 2);
    let store = Store::create(&path, meta.clone()).unwrap();
    write_full_shard(&store, 0);
    let root = path.join("zarr.json");
    let group: serde_json::Value = serde_json::from_slice(&std::fs::read(&root).unwrap()).unwrap();
    assert_eq!(group["attributes"]["dist"]["compression"], "none");

    // Opening it with another compression is refused, naming the field.
    let err = Store::create(&path, StoreMeta { compression: Compression::Zstd, ..meta.clone() }).unwrap_err();
    assert!(matches!(&err, StoreError::Mismatch { field, .. } if field == "compression"), "{err}");

    // An unknown value is refused, naming the field.
    let mut bad = group.clone();
    bad["attributes"]["dist"]["compression"] = "lz4".into();
    std::fs::write(&root, serde_json::to_vec(&bad).unwrap()).unwrap();
    let err = Store::open(&path).unwrap_err();
    assert!(err.to_string().contains("compression: unknown value \"lz4\""), "{err}");
    assert!("lz4".parse::<Compression>().unwrap_err().to_string().contains("compression"));
    assert_eq!("None".parse::<Compression>().unwrap(), Compression::None);

    // A store written before the field existed is zstd: its metadata has no "compression".
    let old = dir.path().join("old");
    let store = Store::create(&old, small_meta(ElementType::F16, 4, 2)).unwrap();
    write_full_shard(&store, 0);
    let root = old.join("zarr.json");
    let mut group: serde_json::Value = serde_json::from_slice(&std::fs::read(&root).unwrap()).unwrap();
    assert!(group["attributes"]["dist"].as_object_mut().unwrap().remove("compression").is_some());
    std::fs::write(&root, serde_json::to_vec(&group).unwrap()).unwrap();
    let store = Store::open(&old).unwrap();
    assert_eq!(store.meta().compression, Compression::Zstd);
    let m = store.meta();
    let want = Encoded::encode(ElementType::F16, &clip_spatial(m, 1), m.width()).decode(m.width());
    assert_eq!(store.reader().unwrap().read_spatial(1, &[3, 4]).unwrap(), want);

    // zstd level 0 is zstd's default level, a valid compressed store, not "no compression".
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("l0"), StoreMeta { zstd_level: 0, ..small_meta(ElementType::F16, 4, 2) }).unwrap();
    assert_eq!(inner_codecs(&store.root().join("spatial")), codec_chain(Compression::Zstd));
    // Levels zstd does not have are refused, naming the field; they do not matter uncompressed.
    let err = Store::create(dir.path().join("l99"), StoreMeta { zstd_level: 99, ..small_meta(ElementType::F16, 4, 2) }).unwrap_err();
    assert!(err.to_string().contains("zstd_level 99"), "{err}");
    let none = small_meta_compressed(ElementType::F16, Compression::None, 4, 2);
    Store::create(dir.path().join("n99"), StoreMeta { zstd_level: 99, ..none }).unwrap();
}

#[test]
fn int8_is_at_most_a_quarter_of_raw_f32() {
    // ViT-B width; the data has a few large channels per token, like real ViT residual streams.
    let mut meta = small_meta(ElementType::Int8, 8, 8);
    meta.encoder.width = 768;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s"), meta.clone()).unwrap();
    write_full_shard(&store, 0);
    let on_disk = dir_size(&store.root().join("spatial")) + dir_size(&store.root().join("spatial_scale"));
    // The same values as fp32 .npy files (header ignored): 4 bytes each.
    let raw_f32 = 8 * meta.layers.len() as u64 * meta.layer_len() as u64 * 4;
    assert!(on_disk * 4 <= raw_f32, "int8 {on_disk} bytes vs raw f32 {raw_f32}");
}

fn dir_size(p: &std::path::Path) -> u64 {
    if !p.exists() {
        return 0;
    }
    std::fs::read_dir(p)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            if e.metadata().unwrap().is_dir() {
                dir_size(&e.path())
            } else if e.file_name() == "zarr.json" {
                0 // metadata, not data
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

#[test]
fn mismatched_expectations_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let meta = small_meta(ElementType::F16, 4, 2);
    Store::create(&path, meta.clone()).unwrap();

    let mut other = meta.encoder.clone();
    other.weights_sha256 = "1234".into();
    let err = Store::open_expecting(&path, &Expect::new().encoder(&other)).unwrap_err();
    assert!(matches!(&err, StoreError::Mismatch { field, .. } if field == "encoder.weights_sha256"), "{err}");
    assert!(err.to_string().contains("encoder.weights_sha256"), "{err}");

    let mut s = meta.sampling.clone();
    s.gamma = 4;
    let err = Store::open_expecting(&path, &Expect::new().sampling(&s)).unwrap_err();
    assert!(matches!(&err, StoreError::Mismatch { field, .. } if field == "sampling.gamma"), "{err}");

    let mut p = meta.preprocessing.clone();
    p.mean[1] = 0.5;
    let err = Store::open_expecting(&path, &Expect::new().preprocessing(&p)).unwrap_err();
    assert!(matches!(&err, StoreError::Mismatch { field, .. } if field == "preprocessing.mean"), "{err}");

    let err = Store::open_expecting(&path, &Expect::new().layers(&[2, 3])).unwrap_err();
    assert!(matches!(&err, StoreError::Mismatch { field, .. } if field == "layers"), "{err}");

    let err = Store::open_expecting(&path, &Expect::new().field("element_type", ElementType::Int8)).unwrap_err();
    assert!(matches!(&err, StoreError::Mismatch { field, .. } if field == "element_type"), "{err}");

    // What matches opens.
    Store::open_expecting(
        &path,
        &Expect::new().encoder(&meta.encoder).sampling(&meta.sampling).preprocessing(&meta.preprocessing).layers(&[4]),
    )
    .unwrap();

    // Re-creating with the same metadata opens the store; with other metadata it is refused.
    Store::create(&path, meta.clone()).unwrap();
    let mut changed = meta.clone();
    changed.sampling.t = 4;
    let err = Store::create(&path, changed).unwrap_err();
    assert!(matches!(&err, StoreError::Mismatch { field, .. } if field == "sampling.t"), "{err}");
}

#[test]
fn uncommitted_shards_are_invisible_and_rewritable() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s"), small_meta(ElementType::F16, 8, 4)).unwrap();
    let meta = store.meta().clone();
    write_full_shard(&store, 1);
    // Shard 0's writer is dropped without commit: nothing of it is visible.
    let mut w = store.shard_writer(0).unwrap();
    w.add_clip(clip_record(0), &clip_spatial(&meta, 0), &clip_frames(&meta, 0)).unwrap();
    drop(w);
    let reader = store.reader().unwrap();
    assert_eq!(reader.clips().iter().map(|c| c.clip).collect::<Vec<_>>(), vec![4, 5, 6, 7]);
    assert!(matches!(reader.read_spatial(0, &[3]), Err(StoreError::MissingClip(0))));
    // A shard whose videos all failed commits with no data.
    let mut w = store.shard_writer(0).unwrap();
    w.add_video(VideoRecord::failed("bad", "bad.mp4", "train", None, 9, "not_a_video", "no stream"));
    w.commit().unwrap();
    let videos = store.videos().unwrap();
    assert_eq!(videos.iter().filter(|v| v.status == VideoStatus::Failed).count(), 1);
    assert_eq!(videos.iter().find(|v| v.video_id == "bad").unwrap().error, "no stream");
    // Wrong sizes are refused with a message.
    let mut w = store.shard_writer(0).unwrap();
    let err = w.add_clip(clip_record(0), &[0.0; 3], &clip_frames(&meta, 0)).unwrap_err();
    assert!(err.to_string().contains("spatial has 3 values"), "{err}");
    assert!(w.add_clip(clip_record(5), &clip_spatial(&meta, 5), &clip_frames(&meta, 5)).is_err());
}

#[test]
fn label_sets_round_trip() {
    for compression in Compression::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path().join("s"), small_meta_compressed(ElementType::F16, compression, 2, 2)).unwrap();
        let set = LabelSet {
            name: "train".into(),
            classes: vec!["a dog".into(), "a cat".into(), "zebra".into()],
            embeddings: (0..18).map(|i| i as f32 * 0.25).collect(),
            dim: 6,
            info: serde_json::json!({"templates": ["a video of {}."]}),
        };
        store.write_label_set(&set).unwrap();
        let mut zs = set.clone();
        zs.name = "zeroshot".into();
        zs.classes.truncate(1);
        zs.embeddings.truncate(6);
        store.write_label_set(&zs).unwrap();
        assert_eq!(store.label_sets().unwrap(), vec!["train", "zeroshot"]);
        assert_eq!(store.label_set("train").unwrap(), set);
        assert_eq!(store.label_set("zeroshot").unwrap(), zs);
        assert_eq!(codecs_at(&store.root().join("text/train"), "/codecs"), codec_chain(compression));
        let err = store.label_set("nope").unwrap_err();
        assert!(err.to_string().contains("train, zeroshot"), "{err}");
    }
}

#[test]
fn prefetch_yields_in_order_with_bounded_lookahead() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::create(dir.path().join("s"), small_meta(ElementType::Bf16, 12, 4)).unwrap();
    for s in 0..3 {
        write_full_shard(&store, s);
    }
    let reader = store.reader().unwrap();
    let order = vec![7, 3, 11, 0, 5, 5, 2];
    let got: Vec<_> = reader.prefetch(order.clone(), vec![4], true, 2, 3).map(|s| s.unwrap()).collect();
    assert_eq!(got.iter().map(|s| s.record.clip).collect::<Vec<_>>(), order);
    for s in &got {
        assert_eq!(s.spatial, reader.read_spatial(s.record.clip, &[4]).unwrap());
        assert_eq!(s.frames, reader.read_frames(s.record.clip).unwrap());
    }
    // Dropping a prefetcher early stops its threads.
    let mut p = reader.prefetch((0..12).collect(), vec![3], false, 1, 2);
    p.next().unwrap().unwrap();
    drop(p);
}

#[test]
fn tensors_have_the_documented_shapes() {
    let meta = small_meta(ElementType::F32, 2, 2);
    let device = burn::tensor::Device::flex();
    let a = clip_spatial(&meta, 0);
    let b = clip_spatial(&meta, 1);
    let taps = spatial_taps(&[&a, &b], 2, &meta, &device);
    assert_eq!(taps.len(), 2);
    assert_eq!(taps[1].dims(), [2 * 2, 5, 8]);
    let v: Vec<f32> = taps[1].clone().into_data().try_into_vec().unwrap();
    assert_eq!(&v[..meta.layer_len()], &a[meta.layer_len()..]);
    assert_eq!(&v[meta.layer_len()..], &b[meta.layer_len()..]);
    let f = clip_frames(&meta, 0);
    let video = dense_video(&[&f], &meta, &device);
    assert_eq!(video.dims(), [1, 3, 4, 32, 32]);
    let v: Vec<f32> = video.into_data().try_into_vec().unwrap();
    let want = (f[3 * 5 + 1] as f32 / 255.0 - CLIP_MEAN[1]) / CLIP_STD[1];
    assert!((v[32 * 32 * 4 + 5] - want).abs() < 1e-6);
}

#[test]
fn direct_reads_equal_zarrs_reads() {
    for (compression, element) in every_layout() {
        let dir = tempfile::tempdir().unwrap();
        let mut meta = small_meta_compressed(element, compression, 10, 4);
        meta.layers = vec![1, 2, 4];
        let store = Store::create(dir.path().join("s"), meta.clone()).unwrap();
        write_full_shard(&store, 0);
        // Shard 1: clip 5 is all zeros (its inner chunks are not stored: they read as the fill
        // value), clip 7 is never added.
        let mut w = store.shard_writer(1).unwrap();
        w.add_clip(clip_record(4), &clip_spatial(&meta, 4), &clip_frames(&meta, 4)).unwrap();
        w.add_clip(clip_record(5), &vec![0.0; meta.layers.len() * meta.layer_len()], &vec![0; meta.frames_len()]).unwrap();
        w.add_clip(clip_record(6), &clip_spatial(&meta, 6), &clip_frames(&meta, 6)).unwrap();
        w.commit().unwrap();
        let direct = store.reader().unwrap();
        let zarrs = direct.clone().via_zarrs();
        assert!(direct.reads_directly() && !zarrs.reads_directly(), "{compression} {element}");
        for clip in [0, 3, 4, 5, 6] {
            for layers in [vec![1, 2, 4], vec![4], vec![4, 1], vec![2, 2]] {
                let got = direct.read_spatial(clip, &layers).unwrap();
                let want = zarrs.read_spatial(clip, &layers).unwrap();
                assert_eq!(got, want, "{compression} {element} clip {clip} layers {layers:?}");
            }
            assert_eq!(direct.read_frames(clip).unwrap(), zarrs.read_frames(clip).unwrap(), "{compression} {element} frames {clip}");
        }
        assert!(direct.read_spatial(5, &[1, 2, 4]).unwrap().iter().all(|&v| v == 0.0));
        // Reads from inside rayon tasks (whose threads also decode) give the same values.
        use rayon::prelude::*;
        let parallel: Vec<Vec<f32>> = [0u64, 3, 4, 6].par_iter().map(|&c| direct.read_spatial(c, &[1, 2, 4]).unwrap()).collect();
        for (c, got) in [0u64, 3, 4, 6].iter().zip(parallel) {
            assert_eq!(got, zarrs.read_spatial(*c, &[1, 2, 4]).unwrap(), "{compression} {element} clip {c} read in a rayon task");
        }
        assert!(matches!(direct.read_spatial(7, &[1]), Err(StoreError::MissingClip(7))));
    }
}

#[test]
fn a_damaged_shard_index_is_reported() {
    for compression in Compression::ALL {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::create(dir.path().join("s"), small_meta_compressed(ElementType::F16, compression, 4, 4)).unwrap();
        write_full_shard(&store, 0);
        let shard = store.root().join("spatial/c/0/0/0/0/0");
        let mut bytes = std::fs::read(&shard).unwrap();
        let n = bytes.len();
        bytes[n - 10] ^= 0x40; // inside the index, before its checksum
        std::fs::write(&shard, bytes).unwrap();
        let err = store.reader().unwrap().read_spatial(1, &[3]).unwrap_err();
        assert!(err.to_string().contains("checksum"), "{compression}: {err}");
    }
}
