//! Store creation: in place (nothing written outside STORE), by many processes at once, and after a
//! creator was killed.
//!
//! The concurrency test re-runs its own binary as the creators (`DIST_STORE_CREATOR=<store>`).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use dist_store::*;
use sha2::{Digest, Sha256};

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().to_string()).collect();
    v.sort();
    v
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap().trim().to_string()
}

/// sha256 of every metadata document of a store.
fn metadata_digest(store: &Path) -> String {
    let mut h = Sha256::new();
    for f in ["zarr.json", "text/zarr.json", "spatial/zarr.json", "spatial_scale/zarr.json", "frames/zarr.json"] {
        h.update(f.as_bytes());
        h.update(std::fs::read(store.join(f)).unwrap_or_default());
    }
    hex::encode(h.finalize())
}

#[test]
fn creation_writes_nothing_outside_the_store() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.txt"), "x").unwrap();
    let before = names(dir.path());
    let store = dir.path().join("store");
    Store::create(&store, small_meta(ElementType::Int8, 8, 4)).unwrap();
    let mut want = before.clone();
    want.push("store".into());
    assert_eq!(names(dir.path()), want);
    // Inside: the skeleton only, no lock or temporary file left.
    assert_eq!(
        names(&store),
        ["clips.parquet", "frames", "spatial", "spatial_scale", "text", "videos.parquet", "zarr.json"]
    );
    // An empty directory made beforehand (`mkdir STORE`) is used as it is.
    let made = dir.path().join("made");
    std::fs::create_dir(&made).unwrap();
    Store::create(&made, small_meta(ElementType::F16, 8, 4)).unwrap();
    want.insert(1, "made".into());
    assert_eq!(names(dir.path()), want);
    assert_eq!(metadata_digest(&made).len(), 64);
    Store::open(&made).unwrap();
}

/// A creator process: waits for the common start time, creates the store, prints its digest.
#[test]
fn child_creator() {
    let Ok(store) = std::env::var("DIST_STORE_CREATOR") else { return };
    let start_ms: u128 = std::env::var("DIST_STORE_START_MS").unwrap().parse().unwrap();
    let mut meta = small_meta(ElementType::Int8, 40, 4);
    if std::env::var("DIST_STORE_OTHER").is_ok() {
        meta.sampling.t = 4;
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    std::thread::sleep(Duration::from_millis(start_ms.saturating_sub(now) as u64));
    match Store::create(&store, meta) {
        Ok(s) => println!("CREATED {}", metadata_digest(s.root())),
        Err(StoreError::Mismatch { field, .. }) => println!("MISMATCH {field}"),
        Err(e) => println!("ERROR {e}"),
    }
}

/// Runs `same` creators with the test metadata and `other` with a different T, all at once.
fn race(store: &Path, same: usize, other: usize) -> Vec<String> {
    let exe = std::env::current_exe().unwrap();
    let start = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() + 300;
    let children: Vec<_> = (0..same + other)
        .map(|i| {
            let mut cmd = Command::new(&exe);
            cmd.args(["--exact", "child_creator", "--nocapture", "--test-threads=1"])
                .env("DIST_STORE_CREATOR", store)
                .env("DIST_STORE_START_MS", start.to_string())
                .stdout(Stdio::piped())
                .stderr(Stdio::null());
            if i >= same {
                cmd.env("DIST_STORE_OTHER", "1");
            }
            cmd.spawn().unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().unwrap();
            assert!(out.status.success());
            let text = String::from_utf8(out.stdout).unwrap();
            // libtest may print "test child_creator ... " on the same line first.
            let at = ["CREATED", "MISMATCH", "ERROR"].iter().filter_map(|m| text.find(m)).min();
            let line = at.map(|at| text[at..].lines().next().unwrap_or_default().to_string());
            line.unwrap_or_else(|| panic!("a creator printed no result:\n{text}"))
        })
        .collect()
}

#[test]
fn concurrent_creators_all_succeed_with_identical_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    let results = race(&store, 6, 0);
    let want = format!("CREATED {}", metadata_digest(&store));
    assert!(results.iter().all(|r| r == &want), "{results:?} (want all {want})");
    assert_eq!(names(dir.path()), ["store"]);
    assert!(names(&store).iter().all(|n| !n.starts_with('.')), "{:?}", names(&store));

    // With one creator of different settings, exactly one side wins; the other is refused by field.
    let store = dir.path().join("mixed");
    let results = race(&store, 4, 1);
    let created: Vec<_> = results.iter().filter(|r| r.starts_with("CREATED")).collect();
    let refused = results.iter().filter(|r| *r == "MISMATCH sampling.t").count();
    assert!(
        (created.len() == 4 && refused == 1) || (created.len() == 1 && refused == 4),
        "{results:?}"
    );
    assert!(created.iter().all(|c| **c == format!("CREATED {}", metadata_digest(&store))), "{results:?}");
    Store::open(&store).unwrap();
}

#[test]
fn a_killed_creators_lock_is_taken_over_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    // What a creator killed mid-way leaves: its lock (its pid is gone), a temporary file and a
    // truncated array metadata document.
    let mut dead = Command::new("true").spawn().unwrap();
    let pid = dead.id();
    dead.wait().unwrap();
    std::fs::create_dir_all(store.join("spatial")).unwrap();
    std::fs::write(store.join(".creating-0"), format!("{pid} {} 1700000000\n", hostname())).unwrap();
    std::fs::write(store.join(".tmp-1-0-zarr.json"), "{").unwrap();
    std::fs::write(store.join("spatial/zarr.json"), "{\"zarr_fo").unwrap();
    assert!(matches!(Store::open(&store), Err(StoreError::NotAStore(_))));
    // The default patience is a minute: taking over a dead local pid must not wait for it.
    let s = Store::create(&store, small_meta(ElementType::F16, 8, 4)).unwrap();
    write_full_shard(&s, 1);
    let reader = Store::open(&store).unwrap().reader().unwrap();
    assert_eq!(reader.read_spatial(5, &[3]).unwrap().len(), s.meta().layer_len());
    assert!(!store.join(".creating-0").exists() && !store.join(".creating-1").exists());
}

#[test]
fn a_lock_from_another_host_is_taken_over_after_the_patience() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    std::fs::write(store.join(".creating-0"), "4242 some-other-node 1700000000\n").unwrap();
    let meta = small_meta(ElementType::Bf16, 8, 4);
    Store::create_waiting(&store, meta.clone(), Duration::from_millis(100)).unwrap();
    assert_eq!(Store::open(&store).unwrap().meta(), &meta);
    assert_eq!(names(&store).iter().filter(|n| n.starts_with(".creating")).count(), 0);
}

#[test]
fn a_running_local_creator_is_reported_after_the_patience() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).unwrap();
    // This very process "holds" the lock: alive, on this host, and never finishing.
    std::fs::write(store.join(".creating-2"), format!("{} {} 1700000000\n", std::process::id(), hostname())).unwrap();
    let err = Store::create_waiting(&store, small_meta(ElementType::F16, 8, 4), Duration::from_millis(100)).unwrap_err();
    assert!(matches!(&err, StoreError::CreationStalled { .. }), "{err}");
    assert!(err.to_string().contains(".creating-2") && err.to_string().contains("still running"), "{err}");
    assert!(!store.join("zarr.json").exists());
}

#[test]
fn a_directory_with_other_files_is_not_filled() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
    let err = Store::create(dir.path(), small_meta(ElementType::F16, 8, 4)).unwrap_err();
    assert!(err.to_string().contains("notes.txt"), "{err}");
    assert_eq!(names(dir.path()), ["notes.txt"]);
}

#[test]
fn arrays_that_disagree_with_the_root_metadata_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    Store::create(&a, small_meta(ElementType::F16, 8, 4)).unwrap();
    Store::create(&b, small_meta(ElementType::F16, 12, 4)).unwrap();
    std::fs::copy(b.join("spatial/zarr.json"), a.join("spatial/zarr.json")).unwrap();
    let err = Store::open(&a).unwrap_err();
    assert!(err.to_string().contains("array /spatial: shape"), "{err}");
}
