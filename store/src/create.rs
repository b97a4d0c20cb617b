//! Creating a store in place: safe against a kill at any moment and against many processes (the
//! tasks of a Slurm array or Kubernetes indexed job, on a shared filesystem) creating the same store
//! at once, and writing nothing outside the store directory.
//!
//! Protocol, all inside `STORE/`:
//! 1. `STORE/` is created if absent (with its missing parents). If it exists without a root
//!    `zarr.json` it must be empty or hold only what an unfinished creation leaves (lock files,
//!    `.tmp-*` files, skeleton entries); anything else is refused, so a wrong path is never filled.
//! 2. A creator takes the lock `STORE/.creating-G` by creating it exclusively (`O_EXCL`), G the lock
//!    generation (0 for the first creator), and records in it `pid host unix-time`.
//! 3. The lock holder writes the skeleton: the `text` group, the arrays' `zarr.json`, the table
//!    directories, and **last** the root `zarr.json`. Every file goes through a temporary file inside
//!    its directory, fsync and rename. So a store whose root `zarr.json` exists is complete.
//! 4. It then removes the lock files (a creator killed before that leaves a harmless lock behind).
//!
//! Everyone else waits for the root `zarr.json`. The lock of generation G is **stale**, and the
//! waiter takes over by creating generation G+1 (again exclusively, so exactly one waiter wins):
//! - at once, when its holder ran on this host and that pid is no longer running;
//! - after the patience ([`PATIENCE`] by default) without progress, when the holder is on another host (or its record is
//!   unreadable), whose liveness cannot be checked from here.
//!
//! A holder on this host that is still running after the patience is reported as
//! [`StoreError::CreationStalled`] instead. Taking over is safe because the skeleton is a pure
//! function of the store metadata: a second writer of the same metadata writes the same bytes, with
//! atomic renames. If two creators with *different* metadata ever overlap (only possible after a
//! takeover from a live but stalled creator), [`crate::Store::open`] refuses the result, naming the
//! array whose layout disagrees with the root metadata.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use zarrs::filesystem::FilesystemStore;
use zarrs::group::{GroupBuilder, GroupMetadata, GroupMetadataOptions};

use crate::arrays::array_metadata_files;
use crate::error::{io_err, zarr_err, Result, StoreError};
use crate::fsutil::{sync_dir, write_bytes_atomically};
use crate::meta::StoreMeta;
use crate::store::META_KEY;
use crate::tables::table_dir;

/// How long [`crate::Store::create`] watches one lock generation make no progress before acting on
/// it (creation itself takes well under a second).
pub const PATIENCE: Duration = Duration::from_secs(60);

const LOCK_PREFIX: &str = ".creating-";

/// Entries an unfinished creation may leave in `STORE/` besides lock and temporary files.
const SKELETON: [&str; 6] = ["spatial", "spatial_scale", "frames", "text", "videos.parquet", "clips.parquet"];

/// Makes sure the store at `path` exists and is complete (root `zarr.json` written), creating it
/// with `meta` if nobody has. Does not check that an existing store has `meta`: the caller does.
pub(crate) fn ensure_created(path: &Path, meta: &StoreMeta, patience: Duration) -> Result<()> {
    let root_json = path.join("zarr.json");
    if root_json.is_file() {
        return Ok(());
    }
    std::fs::create_dir_all(path).map_err(io_err(path))?;
    check_only_creation_leftovers(path)?;
    let mut watched: Option<(u64, Instant)> = None;
    let mut poll = Duration::from_millis(10);
    loop {
        if root_json.is_file() {
            return Ok(());
        }
        let generation = match highest_lock(path)? {
            None => 0,
            Some(g) => {
                let since = match watched {
                    Some((w, since)) if w == g => since,
                    _ => {
                        watched = Some((g, Instant::now()));
                        Instant::now()
                    }
                };
                let holder = Holder::read(&lock_path(path, g));
                let waited = since.elapsed();
                match holder.as_ref().map(Holder::liveness) {
                    Some(Liveness::Dead) => g + 1,
                    _ if waited < patience => {
                        std::thread::sleep(poll);
                        poll = (poll * 2).min(Duration::from_millis(200));
                        continue;
                    }
                    Some(Liveness::Running) => {
                        return Err(StoreError::CreationStalled {
                            path: path.to_path_buf(),
                            holder: holder.map(|h| h.to_string()).unwrap_or_default(),
                            lock: lock_path(path, g),
                            waited_s: waited.as_secs(),
                        });
                    }
                    Some(Liveness::Unknown) | None => g + 1,
                }
            }
        };
        if take_lock(path, generation)? {
            if generation > 0 {
                tracing::warn!(store = %path.display(), generation, "taking over a stale store creation");
            }
            if !root_json.is_file() {
                if let Err(e) = write_skeleton(path, meta) {
                    // Let the next creator (maybe this process again) start at once.
                    let _ = std::fs::remove_file(lock_path(path, generation));
                    return Err(e);
                }
            }
            remove_locks(path);
            return Ok(());
        }
        // Another process took this generation first: watch it.
    }
}

/// Refuses to create a store inside a directory that holds anything else.
fn check_only_creation_leftovers(path: &Path) -> Result<()> {
    for entry in std::fs::read_dir(path).map_err(io_err(path))? {
        let name = entry.map_err(io_err(path))?.file_name().to_string_lossy().to_string();
        let ours = name.starts_with(LOCK_PREFIX) || name.starts_with(".tmp-") || SKELETON.contains(&name.as_str());
        if !ours {
            return Err(StoreError::Invalid(format!(
                "{}: exists, is not a dist feature store (no zarr.json) and is not empty (holds {name:?}): \
                 refusing to create a store in it",
                path.display()
            )));
        }
    }
    Ok(())
}

fn lock_path(path: &Path, generation: u64) -> PathBuf {
    path.join(format!("{LOCK_PREFIX}{generation}"))
}

fn locks(path: &Path) -> Result<Vec<u64>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(path).map_err(io_err(path))? {
        let name = entry.map_err(io_err(path))?.file_name().to_string_lossy().to_string();
        if let Some(g) = name.strip_prefix(LOCK_PREFIX).and_then(|g| g.parse().ok()) {
            out.push(g);
        }
    }
    Ok(out)
}

fn highest_lock(path: &Path) -> Result<Option<u64>> {
    Ok(locks(path)?.into_iter().max())
}

fn remove_locks(path: &Path) {
    for g in locks(path).unwrap_or_default() {
        let _ = std::fs::remove_file(lock_path(path, g));
    }
    sync_dir(path);
}

/// Creates lock `generation` exclusively; `false` if someone else holds it.
fn take_lock(path: &Path, generation: u64) -> Result<bool> {
    let lock = lock_path(path, generation);
    match std::fs::OpenOptions::new().write(true).create_new(true).open(&lock) {
        Ok(mut file) => {
            let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
            writeln!(file, "{} {} {now}", std::process::id(), hostname()).map_err(io_err(&lock))?;
            file.sync_all().map_err(io_err(&lock))?;
            sync_dir(path);
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(StoreError::Io { path: lock, source: e }),
    }
}

/// Writes the skeleton of a new store; see the module docs for the order.
fn write_skeleton(path: &Path, meta: &StoreMeta) -> Result<()> {
    let zarr = Arc::new(FilesystemStore::new(path).map_err(zarr_err(format!("open {}", path.display())))?);
    let text = GroupBuilder::new().build(zarr.clone(), "/text").map_err(zarr_err("create text group"))?;
    write_file(path, "text/zarr.json", &group_json(text.metadata_opt(&GroupMetadataOptions::default())))?;
    for (rel, json) in array_metadata_files(&zarr, meta)? {
        write_file(path, &rel, &json)?;
    }
    for table in ["videos", "clips"] {
        let d = table_dir(path, table);
        std::fs::create_dir_all(&d).map_err(io_err(&d))?;
    }
    sync_dir(path);
    let mut root = GroupBuilder::new().build(zarr, "/").map_err(zarr_err("create root group"))?;
    root.attributes_mut().insert(META_KEY.into(), serde_json::to_value(meta).expect("metadata serialises"));
    write_file(path, "zarr.json", &group_json(root.metadata_opt(&GroupMetadataOptions::default())))
}

fn group_json(metadata: GroupMetadata) -> Vec<u8> {
    match metadata {
        GroupMetadata::V3(m) => serde_json::to_vec_pretty(&m).expect("group metadata serialises"),
        GroupMetadata::V2(_) => unreachable!("groups are built as Zarr v3"),
    }
}

fn write_file(root: &Path, rel: &str, bytes: &[u8]) -> Result<()> {
    let file = root.join(rel);
    let dir = file.parent().expect("file paths have a parent");
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    write_bytes_atomically(&file, bytes)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty() && !h.contains(char::is_whitespace))
        .unwrap_or_else(|| "unknown".into())
}

/// Who holds a creation lock, as recorded in it.
struct Holder {
    pid: u32,
    host: String,
    since_unix: u64,
}

enum Liveness {
    Running,
    Dead,
    /// On another host, or this system cannot tell.
    Unknown,
}

impl Holder {
    /// `None` while the file is missing, empty (just created) or unreadable.
    fn read(lock: &Path) -> Option<Self> {
        let text = std::fs::read_to_string(lock).ok()?;
        let mut fields = text.split_whitespace();
        let holder = Self {
            pid: fields.next()?.parse().ok()?,
            host: fields.next()?.to_string(),
            since_unix: fields.next()?.parse().ok()?,
        };
        Some(holder)
    }

    fn liveness(&self) -> Liveness {
        if self.host == "unknown" || self.host != hostname() || !Path::new("/proc/self").exists() {
            Liveness::Unknown
        } else if Path::new(&format!("/proc/{}", self.pid)).exists() {
            Liveness::Running
        } else {
            Liveness::Dead
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "pid {} on host {} (since unix time {})", self.pid, self.host, self.since_unix)
    }
}
