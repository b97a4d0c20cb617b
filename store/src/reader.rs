//! Reading clips: random access by clip index and layer subset, and a bounded prefetching iterator.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use half::slice::HalfFloatSliceExt;
use half::{bf16, f16};
use zarrs::array::ArraySubset;

use crate::direct::DirectArray;
use crate::element::{dequantize_int8, dequantize_int8_into, ElementType};
use crate::error::{zarr_err, Result, StoreError};
use crate::store::Store;
use crate::tables::ClipRecord;

/// A consistent view of a store's committed clips at the time it was made.
#[derive(Clone)]
pub struct Reader {
    store: Store,
    clips: Arc<Vec<ClipRecord>>,
    by_index: Arc<HashMap<u64, usize>>,
    /// Whether to use the direct read path (`direct.rs`) where the arrays allow it.
    direct: bool,
}

/// One clip's data.
#[derive(Debug, Clone)]
pub struct ClipSample {
    pub record: ClipRecord,
    /// f32 `[layers, T, N+1, C]`, the requested layers in the requested order.
    pub spatial: Vec<f32>,
    /// u8 `[γT, H, W, 3]`; empty when frames were not requested.
    pub frames: Vec<u8>,
}

impl Store {
    /// Snapshots the committed clips for reading.
    pub fn reader(&self) -> Result<Reader> {
        let clips = self.clips()?;
        let by_index = clips.iter().enumerate().map(|(i, c)| (c.clip, i)).collect();
        Ok(Reader { store: self.clone(), clips: Arc::new(clips), by_index: Arc::new(by_index), direct: true })
    }
}

impl Reader {
    /// This reader, reading everything through zarrs' generic decoder instead of the direct path
    /// (what is used anyway for arrays of another layout): for comparisons in tests and benchmarks.
    pub fn via_zarrs(mut self) -> Self {
        self.direct = false;
        self
    }

    /// Whether this reader reads `spatial` and `frames` through the direct path (`direct.rs`): true
    /// for the stores this crate writes (zstd or uncompressed), unless [`Reader::via_zarrs`].
    pub fn reads_directly(&self) -> bool {
        let a = &self.store.arrays;
        let int8 = self.store.meta().element_type == ElementType::Int8;
        self.direct && a.direct_spatial.is_some() && a.direct_frames.is_some() && (!int8 || a.direct_spatial_scale.is_some())
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// Committed clips, sorted by clip index.
    pub fn clips(&self) -> &[ClipRecord] {
        &self.clips
    }

    pub fn record(&self, clip: u64) -> Result<&ClipRecord> {
        self.by_index.get(&clip).map(|&i| &self.clips[i]).ok_or(StoreError::MissingClip(clip))
    }

    /// Reads the tokens of `layers` (hidden-state indices, e.g. `[9, 10, 11, 12]`) of one clip,
    /// touching only those layers' chunks.
    ///
    /// # Shapes
    /// Returns f32 `[layers.len(), T, N+1, C]`.
    pub fn read_spatial(&self, clip: u64, layers: &[usize]) -> Result<Vec<f32>> {
        let mut out = Vec::new();
        self.read_spatial_into(clip, layers, &mut out)?;
        Ok(out)
    }

    /// [`Reader::read_spatial`] into `out` (resized to `[layers.len(), T, N+1, C]`). Reusing one
    /// buffer across reads saves the page faults of a fresh one (4 KiB each, 58 MB for all 12
    /// ViT-B/16 layers in f32), which cost as much as decoding on some machines; see benchmarks.md.
    pub fn read_spatial_into(&self, clip: u64, layers: &[usize], out: &mut Vec<f32>) -> Result<()> {
        self.record(clip)?;
        let meta = self.store.meta();
        let positions = layers
            .iter()
            .map(|&l| {
                meta.layer_position(l).ok_or_else(|| StoreError::Mismatch {
                    path: self.store.root().to_path_buf(),
                    field: "layers".into(),
                    expected: format!("to include {l}"),
                    found: format!("{:?}", meta.layers),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let arrays = &self.store.arrays;
        match (&arrays.direct_spatial, &arrays.direct_spatial_scale, meta.element_type) {
            (Some(_), None, ElementType::Int8) => *out = self.read_spatial_zarrs(clip, &positions)?,
            (Some(d), scales, _) if self.direct => self.read_spatial_direct(d, scales.as_ref(), clip, &positions, out)?,
            _ => *out = self.read_spatial_zarrs(clip, &positions)?,
        }
        Ok(())
    }

    /// [`Reader::read_spatial`] through [`DirectArray`]: one shard index read, the chunks of
    /// `positions` read in file order while rayon tasks decode them into the output.
    fn read_spatial_direct(
        &self,
        d: &DirectArray,
        scales: Option<&DirectArray>,
        clip: u64,
        positions: &[usize],
        out: &mut Vec<f32>,
    ) -> Result<()> {
        let meta = self.store.meta();
        let (shard, slot) = (clip / meta.clips_per_shard, (clip % meta.clips_per_shard) as usize);
        // Inner chunks are [1 clip, 1 layer], C order within the shard.
        let wanted: Vec<usize> = positions.iter().map(|&p| slot * meta.layers.len() + p).collect();
        let layer_len = meta.layer_len();
        // Zeroed: chunks never written are not touched by the read.
        out.clear();
        out.resize(positions.len() * layer_len, 0.0);
        let outs: Vec<&mut [f32]> = out.chunks_mut(layer_len).collect();
        let index = [shard, 0, 0, 0, 0];
        // `stored` is one inner chunk as read: zstd-compressed or raw, `DirectArray` knows which.
        match meta.element_type {
            ElementType::F32 => d.read(&index, &wanted, outs, |stored, o, _| d.decode_into(stored, bytemuck::cast_slice_mut(o)))?,
            ElementType::F16 => {
                d.read(&index, &wanted, outs, |stored, o, _| d.decoded(stored, |h: &[f16]| h.convert_to_f32_slice(o)))?
            }
            ElementType::Bf16 => {
                d.read(&index, &wanted, outs, |stored, o, _| d.decoded(stored, |h: &[bf16]| h.convert_to_f32_slice(o)))?
            }
            ElementType::Int8 => {
                let scales_array = scales.expect("int8 reads go direct only with spatial_scale");
                let rows = meta.sampling.t * meta.tokens();
                let mut s = vec![0f32; positions.len() * rows];
                let s_outs: Vec<&mut [f32]> = s.chunks_mut(rows).collect();
                scales_array.read(&[shard, 0, 0, 0], &wanted, s_outs, |stored, o, _| {
                    scales_array.decode_into(stored, bytemuck::cast_slice_mut(o))
                })?;
                let width = meta.width();
                d.read(&index, &wanted, outs, |stored, o, k| {
                    d.decoded(stored, |q: &[i8]| dequantize_int8_into(q, &s[k * rows..(k + 1) * rows], width, o))
                })?
            }
        }
        Ok(())
    }

    /// [`Reader::read_spatial`] through zarrs' generic partial decoder.
    fn read_spatial_zarrs(&self, clip: u64, positions: &[usize]) -> Result<Vec<f32>> {
        let meta = self.store.meta();
        let (t, tok, c) = (meta.sampling.t as u64, meta.tokens() as u64, meta.width() as u64);
        let mut out = Vec::with_capacity(positions.len() * meta.layer_len());
        // Consecutive stored positions are read in one request.
        let mut i = 0;
        while i < positions.len() {
            let mut j = i + 1;
            while j < positions.len() && positions[j] == positions[j - 1] + 1 {
                j += 1;
            }
            let (p0, n) = (positions[i] as u64, (j - i) as u64);
            let subset = ArraySubset::new_with_ranges(&[clip..clip + 1, p0..p0 + n, 0..t, 0..tok, 0..c]);
            let arrays = &self.store.arrays;
            let err = || zarr_err(format!("read clip {clip} from spatial"));
            match meta.element_type {
                ElementType::F32 => out.extend(arrays.spatial.retrieve_array_subset::<Vec<f32>>(&subset).map_err(err())?),
                ElementType::F16 => out.extend(
                    arrays.spatial.retrieve_array_subset::<Vec<f16>>(&subset).map_err(err())?.iter().map(|v| v.to_f32()),
                ),
                ElementType::Bf16 => out.extend(
                    arrays.spatial.retrieve_array_subset::<Vec<bf16>>(&subset).map_err(err())?.iter().map(|v| v.to_f32()),
                ),
                ElementType::Int8 => {
                    let q = arrays.spatial.retrieve_array_subset::<Vec<i8>>(&subset).map_err(err())?;
                    let scale_subset = ArraySubset::new_with_ranges(&[clip..clip + 1, p0..p0 + n, 0..t, 0..tok]);
                    let scales = arrays
                        .spatial_scale
                        .as_ref()
                        .expect("int8 stores have spatial_scale")
                        .retrieve_array_subset::<Vec<f32>>(&scale_subset)
                        .map_err(zarr_err(format!("read clip {clip} from spatial_scale")))?;
                    out.extend(dequantize_int8(&q, &scales, c as usize));
                }
            }
            i = j;
        }
        Ok(out)
    }

    /// Reads one clip's dense frames.
    ///
    /// # Shapes
    /// Returns u8 `[γT, H, W, 3]`.
    pub fn read_frames(&self, clip: u64) -> Result<Vec<u8>> {
        self.record(clip)?;
        let meta = self.store.meta();
        let (td, hw) = (meta.dense_frames() as u64, meta.preprocessing.crop as u64);
        if let (Some(d), true) = (&self.store.arrays.direct_frames, self.direct) {
            let mut out = vec![0u8; meta.frames_len()];
            let (shard, slot) = (clip / meta.clips_per_shard, (clip % meta.clips_per_shard) as usize);
            d.read(&[shard, 0, 0, 0, 0], &[slot], vec![&mut out[..]], |stored, o, _| d.decode_into(stored, o))?;
            return Ok(out);
        }
        let subset = ArraySubset::new_with_ranges(&[clip..clip + 1, 0..td, 0..hw, 0..hw, 0..3]);
        self.store.arrays.frames.retrieve_array_subset::<Vec<u8>>(&subset).map_err(zarr_err(format!("read clip {clip} from frames")))
    }

    /// Reads a clip's record, the given layers and (if `frames`) its dense frames.
    pub fn read(&self, clip: u64, layers: &[usize], frames: bool) -> Result<ClipSample> {
        Ok(ClipSample {
            record: self.record(clip)?.clone(),
            spatial: self.read_spatial(clip, layers)?,
            frames: if frames { self.read_frames(clip)? } else { Vec::new() },
        })
    }

    /// Reads `order` in background threads, at most `depth` clips ahead of the consumer, and yields
    /// them in `order`. Memory is bounded by `depth` clips whatever the store size.
    pub fn prefetch(&self, order: Vec<u64>, layers: Vec<usize>, frames: bool, depth: usize, threads: usize) -> Prefetch {
        Prefetch::start(self.clone(), order, layers, frames, depth.max(1), threads.max(1))
    }
}

struct Shared {
    ready: Mutex<BTreeMap<usize, Result<ClipSample>>>,
    cond: Condvar,
    consumed: AtomicUsize,
    stop: std::sync::atomic::AtomicBool,
}

/// Ordered, bounded, multi-threaded prefetching iterator over clips; see [`Reader::prefetch`].
pub struct Prefetch {
    shared: Arc<Shared>,
    len: usize,
    next: usize,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Prefetch {
    fn start(reader: Reader, order: Vec<u64>, layers: Vec<usize>, frames: bool, depth: usize, threads: usize) -> Self {
        let shared = Arc::new(Shared {
            ready: Mutex::new(BTreeMap::new()),
            cond: Condvar::new(),
            consumed: AtomicUsize::new(0),
            stop: Default::default(),
        });
        let order = Arc::new(order);
        let claim = Arc::new(AtomicUsize::new(0));
        let workers = (0..threads)
            .map(|_| {
                let (shared, order, claim, reader, layers) =
                    (shared.clone(), order.clone(), claim.clone(), reader.clone(), layers.clone());
                std::thread::spawn(move || loop {
                    let pos = claim.fetch_add(1, Ordering::SeqCst);
                    if pos >= order.len() {
                        return;
                    }
                    // Stay within `depth` of the consumer.
                    {
                        let mut guard = shared.ready.lock().expect("prefetch lock");
                        while pos >= shared.consumed.load(Ordering::SeqCst) + depth && !shared.stop.load(Ordering::SeqCst) {
                            guard = shared.cond.wait(guard).expect("prefetch lock");
                        }
                    }
                    if shared.stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let sample = reader.read(order[pos], &layers, frames);
                    shared.ready.lock().expect("prefetch lock").insert(pos, sample);
                    shared.cond.notify_all();
                })
            })
            .collect();
        Self { shared, len: order.len(), next: 0, workers }
    }
}

impl Iterator for Prefetch {
    type Item = Result<ClipSample>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.len {
            return None;
        }
        let mut guard = self.shared.ready.lock().expect("prefetch lock");
        let item = loop {
            if let Some(item) = guard.remove(&self.next) {
                break item;
            }
            guard = self.shared.cond.wait(guard).expect("prefetch lock");
        };
        drop(guard);
        self.next += 1;
        self.shared.consumed.store(self.next, Ordering::SeqCst);
        self.shared.cond.notify_all();
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len - self.next, Some(self.len - self.next))
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.cond.notify_all();
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }
}
