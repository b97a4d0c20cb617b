//! Writing one shard: the unit of safe, resumable, concurrent writing.
//!
//! A [`ShardWriter`] buffers the clips of one shard (in the store's element type), then
//! [`ShardWriter::commit`] writes each array's whole shard in one store operation (fsynced by the
//! filesystem store), then `clips.parquet/shard-N.parquet`, then `videos.parquet/shard-N.parquet`,
//! each atomically. The videos part is the commit marker: a shard without it is invisible to readers
//! and is rewritten from scratch on resume, so a killed writer never leaves a half-written clip that
//! reads as valid. Different shards never share a file, so any number of processes can write
//! different shards of one store at once.
//!
//! Memory: a writer holds one shard, `clips_per_shard` x (layers x T x (N+1) x C x element size +
//! γT x H x W x 3) bytes, plus the encoded shard while it is written.

use half::{bf16, f16};

use crate::element::{quantize_int8, ElementType};
use crate::error::{io_err, zarr_err, Result, StoreError};
use crate::store::Store;
use crate::tables::{clips_batch, part_name, table_dir, videos_batch, write_part, ClipRecord, VideoRecord};

/// The shard's `spatial` buffer in the store's element type.
enum SpatialBuf {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
    Int8 { values: Vec<i8>, scales: Vec<f32> },
}

/// Buffers and commits one shard. See the module docs.
pub struct ShardWriter {
    store: Store,
    shard: u64,
    spatial: Option<SpatialBuf>,
    frames: Option<Vec<u8>>,
    clips: Vec<ClipRecord>,
    videos: Vec<VideoRecord>,
}

impl Store {
    /// Starts writing `shard`. Nothing is visible until [`ShardWriter::commit`].
    pub fn shard_writer(&self, shard: u64) -> Result<ShardWriter> {
        if shard >= self.meta.num_shards() {
            return Err(StoreError::Invalid(format!("shard {shard} out of range (store has {})", self.meta.num_shards())));
        }
        Ok(ShardWriter { store: self.clone(), shard, spatial: None, frames: None, clips: Vec::new(), videos: Vec::new() })
    }

    /// Clip indices `[start, end)` that belong to `shard`.
    pub fn shard_clips(&self, shard: u64) -> std::ops::Range<u64> {
        let s = self.meta.clips_per_shard;
        shard * s..((shard + 1) * s).min(self.meta.num_clips)
    }
}

impl ShardWriter {
    pub fn shard(&self) -> u64 {
        self.shard
    }

    /// Adds one clip.
    ///
    /// # Shapes
    /// - `spatial`: f32 `[layers, T, N+1, C]`, the stored layers in the store's order
    /// - `frames`: u8 `[γT, H, W, 3]`
    pub fn add_clip(&mut self, record: ClipRecord, spatial: &[f32], frames: &[u8]) -> Result<()> {
        let meta = self.store.meta.clone();
        let range = self.store.shard_clips(self.shard);
        if !range.contains(&record.clip) {
            return Err(StoreError::Invalid(format!("clip {} is not in shard {} ({range:?})", record.clip, self.shard)));
        }
        if self.clips.iter().any(|c| c.clip == record.clip) {
            return Err(StoreError::Invalid(format!("clip {} added twice", record.clip)));
        }
        let clip_len = meta.layers.len() * meta.layer_len();
        if spatial.len() != clip_len {
            return Err(StoreError::Invalid(format!(
                "clip {}: spatial has {} values, expected layers {} x T {} x tokens {} x C {} = {clip_len}",
                record.clip, spatial.len(), meta.layers.len(), meta.sampling.t, meta.tokens(), meta.width()
            )));
        }
        if frames.len() != meta.frames_len() {
            return Err(StoreError::Invalid(format!(
                "clip {}: frames have {} bytes, expected {}",
                record.clip, frames.len(), meta.frames_len()
            )));
        }
        let slot = (record.clip - range.start) as usize;
        let per_shard = meta.clips_per_shard as usize;
        let at = slot * clip_len..(slot + 1) * clip_len;
        let width = meta.width();
        match self.spatial.get_or_insert_with(|| match meta.element_type {
            ElementType::F32 => SpatialBuf::F32(vec![0.0; per_shard * clip_len]),
            ElementType::F16 => SpatialBuf::F16(vec![f16::ZERO; per_shard * clip_len]),
            ElementType::Bf16 => SpatialBuf::Bf16(vec![bf16::ZERO; per_shard * clip_len]),
            ElementType::Int8 => SpatialBuf::Int8 {
                values: vec![0; per_shard * clip_len],
                scales: vec![0.0; per_shard * clip_len / width],
            },
        }) {
            SpatialBuf::F32(buf) => buf[at].copy_from_slice(spatial),
            SpatialBuf::F16(buf) => buf[at].iter_mut().zip(spatial).for_each(|(o, &v)| *o = f16::from_f32(v)),
            SpatialBuf::Bf16(buf) => buf[at].iter_mut().zip(spatial).for_each(|(o, &v)| *o = bf16::from_f32(v)),
            SpatialBuf::Int8 { values, scales } => {
                let (q, s) = quantize_int8(spatial, width);
                values[at.clone()].copy_from_slice(&q);
                scales[at.start / width..at.end / width].copy_from_slice(&s);
            }
        }
        let frames_len = meta.frames_len();
        let buf = self.frames.get_or_insert_with(|| vec![0; per_shard * frames_len]);
        buf[slot * frames_len..(slot + 1) * frames_len].copy_from_slice(frames);
        self.clips.push(record);
        Ok(())
    }

    /// Adds a source video's row (ok or failed). Every video planned into this shard should get one.
    pub fn add_video(&mut self, mut record: VideoRecord) {
        record.shard = self.shard;
        self.videos.push(record);
    }

    /// Writes the shard's data, then its table parts; see the module docs for the order and why.
    pub fn commit(mut self) -> Result<()> {
        let store = self.store.clone();
        let videos_part = table_dir(&store.root, "videos").join(part_name(self.shard));
        // Re-committing a shard (e.g. retrying failed videos) first makes it invisible.
        if videos_part.exists() {
            std::fs::remove_file(&videos_part).map_err(io_err(&videos_part))?;
        }
        // Temporary parts of this shard left by a writer killed mid-rename (we own the shard).
        let part = part_name(self.shard);
        for table in ["clips", "videos"] {
            let dir = table_dir(&store.root, table);
            for entry in std::fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
                let name = entry.file_name().to_string_lossy().to_string();
                if name.starts_with(".tmp-") && name.ends_with(&part) {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
        let idx5 = [self.shard, 0, 0, 0, 0];
        let idx4 = [self.shard, 0, 0, 0];
        let arrays = &store.arrays;
        let shard = self.shard;
        let what = |name: &str| format!("write shard {shard} of {name}");
        match self.spatial.take() {
            Some(SpatialBuf::F32(b)) => arrays.spatial.store_chunk(&idx5, b).map_err(zarr_err(what("spatial")))?,
            Some(SpatialBuf::F16(b)) => arrays.spatial.store_chunk(&idx5, b).map_err(zarr_err(what("spatial")))?,
            Some(SpatialBuf::Bf16(b)) => arrays.spatial.store_chunk(&idx5, b).map_err(zarr_err(what("spatial")))?,
            Some(SpatialBuf::Int8 { values, scales }) => {
                arrays.spatial.store_chunk(&idx5, values).map_err(zarr_err(what("spatial")))?;
                let scale_array = arrays.spatial_scale.as_ref().expect("int8 stores have spatial_scale");
                scale_array.store_chunk(&idx4, scales).map_err(zarr_err(what("spatial_scale")))?;
            }
            None => {
                // No clip survived (all videos failed): drop whatever an earlier attempt left.
                arrays.spatial.erase_chunk(&idx5).map_err(zarr_err(what("spatial")))?;
                if let Some(a) = &arrays.spatial_scale {
                    a.erase_chunk(&idx4).map_err(zarr_err(what("spatial_scale")))?;
                }
            }
        }
        match self.frames.take() {
            Some(b) => arrays.frames.store_chunk(&idx5, b).map_err(zarr_err(what("frames")))?,
            None => arrays.frames.erase_chunk(&idx5).map_err(zarr_err(what("frames")))?,
        }
        self.clips.sort_by_key(|c| c.clip);
        write_part(&table_dir(&store.root, "clips").join(part_name(self.shard)), &clips_batch(&self.clips)?)?;
        write_part(&videos_part, &videos_batch(&self.videos)?)?;
        tracing::debug!(shard = self.shard, clips = self.clips.len(), videos = self.videos.len(), "shard committed");
        Ok(())
    }
}
