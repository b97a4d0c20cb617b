//! Creating and opening a store directory, and its committed state.
//!
//! Layout of a store directory:
//! ```text
//! STORE/
//!   zarr.json                 group; attributes {"dist": StoreMeta}; written last at creation
//!   spatial/ frames/ [spatial_scale/]   sharded Zarr arrays (see arrays.rs)
//!   text/zarr.json            group of label sets; text/<name>/ is a [classes, D] f32 array
//!   videos.parquet/shard-NNNNNNNN.parquet   one part per committed shard (the commit marker)
//!   clips.parquet/shard-NNNNNNNN.parquet
//! ```

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use zarrs::filesystem::FilesystemStore;
use zarrs::group::Group;

use crate::arrays::Arrays;
use crate::create::ensure_created;
use crate::error::{io_err, zarr_err, Result, StoreError};
use crate::meta::{Expect, StoreMeta, FORMAT_VERSION};
use crate::tables::{
    clips_from_batch, part_name, part_shard, read_part, table_dir, videos_from_batch, ClipRecord, VideoRecord,
};

pub(crate) const META_KEY: &str = "dist";

/// An open feature store. Cheap to clone; safe to share between threads.
#[derive(Clone)]
pub struct Store {
    pub(crate) root: PathBuf,
    pub(crate) meta: Arc<StoreMeta>,
    pub(crate) arrays: Arc<Arrays>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("root", &self.root).field("meta", &self.meta).finish()
    }
}

fn fs_store(path: &Path) -> Result<Arc<FilesystemStore>> {
    Ok(Arc::new(FilesystemStore::new(path).map_err(zarr_err(format!("open {}", path.display())))?))
}

impl Store {
    /// Creates a store at `path`, or opens it when it already exists with the same metadata.
    ///
    /// Creation happens inside `path` and writes nothing outside it. It is safe against a kill at any
    /// moment and against many processes creating the same store at once (the shards of a Slurm
    /// array): they all end up with the same store, and one with different metadata is refused,
    /// naming the field. A store is complete exactly when its root `zarr.json` exists; see
    /// `create.rs` for the lock protocol. Waits up to [`crate::CREATE_PATIENCE`] for a stalled
    /// creator; [`Store::create_waiting`] sets that bound.
    pub fn create(path: impl AsRef<Path>, meta: StoreMeta) -> Result<Self> {
        Self::create_waiting(path, meta, crate::create::PATIENCE)
    }

    /// [`Store::create`] with how long to watch another creator make no progress before taking over
    /// its lock (holder on another host, or pid gone) or failing with
    /// [`StoreError::CreationStalled`] (holder still running on this host).
    pub fn create_waiting(path: impl AsRef<Path>, meta: StoreMeta, patience: Duration) -> Result<Self> {
        let path = path.as_ref();
        meta.validate()?;
        ensure_created(path, &meta, patience)?;
        Self::open_matching(path, &meta)
    }

    fn open_matching(path: &Path, meta: &StoreMeta) -> Result<Self> {
        let store = Self::open(path)?;
        Expect::new()
            .encoder(&meta.encoder)
            .preprocessing(&meta.preprocessing)
            .sampling(&meta.sampling)
            .field("layers", &meta.layers)
            .field("element_type", meta.element_type)
            .field("compression", meta.compression)
            .field("num_clips", meta.num_clips)
            .field("clips_per_shard", meta.clips_per_shard)
            .check(&store.meta, path)?;
        Ok(store)
    }

    /// Opens an existing store.
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let root = path.as_ref().to_path_buf();
        if !root.join("zarr.json").is_file() {
            return Err(StoreError::NotAStore(root));
        }
        let zarr = fs_store(&root)?;
        let group = Group::open(zarr.clone(), "/").map_err(zarr_err(format!("open {}", root.display())))?;
        let value = group.attributes().get(META_KEY).cloned().ok_or_else(|| StoreError::NotAStore(root.clone()))?;
        if let Some(found) = value.get("format_version").and_then(|v| v.as_u64()) {
            if found as u32 != FORMAT_VERSION {
                return Err(StoreError::Version { path: root, found: found as u32, supported: FORMAT_VERSION });
            }
        }
        let meta: StoreMeta = serde_json::from_value(value)
            .map_err(|e| StoreError::Invalid(format!("{}: unreadable store metadata: {e}", root.display())))?;
        let arrays = Arrays::open(&zarr, &meta, &root).map_err(|e| match e {
            StoreError::Invalid(m) => StoreError::Invalid(format!("{}: {m}", root.display())),
            e => e,
        })?;
        Ok(Self { root, meta: Arc::new(meta), arrays: Arc::new(arrays) })
    }

    /// Opens a store and checks that it is what the caller expects (see [`Expect`]).
    pub fn open_expecting(path: impl AsRef<Path>, expect: &Expect) -> Result<Self> {
        let store = Self::open(path)?;
        expect.check(&store.meta, &store.root)?;
        Ok(store)
    }

    pub fn meta(&self) -> &StoreMeta {
        &self.meta
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Shards whose table parts are written: their clips are complete and readable.
    pub fn committed_shards(&self) -> Result<BTreeSet<u64>> {
        let dir = table_dir(&self.root, "videos");
        let mut shards = BTreeSet::new();
        for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))? {
            let entry = entry.map_err(io_err(&dir))?;
            if let Some(shard) = part_shard(&entry.file_name().to_string_lossy()) {
                shards.insert(shard);
            }
        }
        Ok(shards)
    }

    /// All rows of `videos.parquet` (the union of committed parts), in shard order.
    pub fn videos(&self) -> Result<Vec<VideoRecord>> {
        let mut rows = Vec::new();
        for shard in self.committed_shards()? {
            for batch in read_part(&table_dir(&self.root, "videos").join(part_name(shard)))? {
                rows.extend(videos_from_batch(&batch));
            }
        }
        Ok(rows)
    }

    /// All rows of `clips.parquet` of committed shards, sorted by clip index.
    pub fn clips(&self) -> Result<Vec<ClipRecord>> {
        let mut rows = Vec::new();
        for shard in self.committed_shards()? {
            for batch in read_part(&table_dir(&self.root, "clips").join(part_name(shard)))? {
                rows.extend(clips_from_batch(&batch));
            }
        }
        rows.sort_by_key(|r| r.clip);
        Ok(rows)
    }

    /// Bytes on disk of every file under the store.
    pub fn disk_bytes(&self) -> Result<u64> {
        fn walk(dir: &Path) -> std::io::Result<u64> {
            let mut total = 0;
            for entry in std::fs::read_dir(dir)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                total += if meta.is_dir() { walk(&entry.path())? } else { meta.len() };
            }
            Ok(total)
        }
        walk(&self.root).map_err(io_err(&self.root))
    }
}
