//! A writer killed with SIGKILL at a random moment leaves a store that reopens, whose every visible
//! clip reads back exactly, and that can be written to completion afterwards.
//!
//! The test re-runs its own binary as the child writer (`DIST_STORE_CHILD=<dir>`).

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use dist_store::*;

fn crash_meta() -> StoreMeta {
    let mut meta = small_meta(ElementType::Int8, 48, 4);
    meta.encoder.width = 96;
    meta.encoder.image_size = 64;
    meta.preprocessing.crop = 64;
    meta.preprocessing.resize_short = 64;
    meta
}

/// The child: rewrites every shard over and over until killed.
#[test]
fn child_writer() {
    let Ok(dir) = std::env::var("DIST_STORE_CHILD") else { return };
    let store = Store::create(std::path::Path::new(&dir).join("store"), crash_meta()).unwrap();
    eprintln!("child ready");
    loop {
        for shard in 0..store.meta().num_shards() {
            write_full_shard(&store, shard);
        }
    }
}

fn check_visible(store: &Store) -> usize {
    let reader = store.reader().unwrap();
    let meta = store.meta();
    for rec in reader.clips() {
        let got = reader.read_spatial(rec.clip, &meta.layers).unwrap();
        let want = clip_spatial(meta, rec.clip);
        let (q, s) = quantize_int8(&want, meta.width());
        assert_eq!(got, dequantize_int8(&q, &s, meta.width()), "clip {} differs after the kill", rec.clip);
        assert_eq!(reader.read_frames(rec.clip).unwrap(), clip_frames(meta, rec.clip));
        assert_eq!(rec, &clip_record(rec.clip));
    }
    reader.clips().len()
}

#[test]
fn killed_writer_leaves_a_consistent_store() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    for (round, delay_ms) in [150u64, 420, 777].into_iter().enumerate() {
        let mut child = Command::new(&exe)
            .args(["--exact", "child_writer", "--nocapture", "--test-threads=1"])
            .env("DIST_STORE_CHILD", dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let path = dir.path().join("store");
        if !path.join("zarr.json").exists() {
            // Killed before creation finished: what is there is not (yet) a store.
            assert!(matches!(Store::open(&path), Err(StoreError::NotAStore(_))));
            continue;
        }
        let store = Store::open(&path).unwrap();
        let visible = check_visible(&store);
        eprintln!("round {round}: {visible} clips visible after SIGKILL at {delay_ms} ms");
    }
    // Writing continues where the killed writer stopped.
    let store = Store::create(dir.path().join("store"), crash_meta()).unwrap();
    for shard in 0..store.meta().num_shards() {
        if !store.committed_shards().unwrap().contains(&shard) {
            write_full_shard(&store, shard);
        }
    }
    assert_eq!(check_visible(&store), 48);
    // No temporary files are left visible as parts.
    assert_eq!(store.committed_shards().unwrap().len(), 12);
}
