//! Reading clips: random access by clip index and layer subset, and a bounded prefetching iterator.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use half::{bf16, f16};
use zarrs::array::ArraySubset;

use crate::element::{dequantize_int8, ElementType};
use crate::error::{zarr_err, Result, StoreError};
use crate::store::Store;
use crate::tables::ClipRecord;

/// A consistent view of a store's committed clips at the time it was made.
#[derive(Clone)]
pub struct Reader {
    store: Store,
    clips: Arc<Vec<ClipRecord>>,
    by_index: Arc<HashMap<u64, usize>>,
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
        Ok(Reader { store: self.clone(), clips: Arc::new(clips), by_index: Arc::new(by_index) })
    }
}

impl Reader {
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
        let (t, tok, c) = (meta.sampling.t as u64, meta.tokens() as u64, meta.width() as u64);
        let mut out = Vec::with_capacity(layers.len() * meta.layer_len());
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
