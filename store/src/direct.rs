//! Direct reads of inner chunks from the store's shard files: the fast read path.
//!
//! zarrs' generic partial decoder reads and decodes one inner chunk at a time and then copies it into
//! the requested subset; the reader then converts it to f32 in a second pass. For the layouts this
//! crate writes (`sharding_indexed` with inner codecs `[bytes(little), zstd]`, or `[bytes(little)]`
//! for `compression = none`, index codecs `[bytes(little), crc32c]`, index at the end, fill value 0;
//! see `arrays.rs`) this module instead: reads the shard index (one `pread` of `16·n + 4` bytes,
//! checksum verified), then reads the wanted inner chunks in file order from the calling thread while
//! rayon tasks decode the chunks already read ([`DirectArray::decode_into`]: zstd straight into the
//! caller's buffer, or a plain copy of uncompressed bytes; [`DirectArray::decoded`]: the element
//! values, zstd-decoded into a per-thread scratch buffer or viewed in place in the bytes read, for a
//! SIMD conversion into the caller's buffer). Disk and decoding overlap, and decoding uses every core.
//!
//! Arrays with any other layout (a store written by a different tool) are read through zarrs;
//! [`DirectArray::new`] says which.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{json, Value};

use crate::arrays::ZArray;
use crate::error::{Result, StoreError};

/// The bytes-to-bytes part of an array's inner codec chain, after `bytes(little)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InnerCodec {
    Zstd,
    /// No bytes-to-bytes codec: an inner chunk is its element bytes.
    None,
}

/// An array whose shards this module can read; see the module docs.
pub(crate) struct DirectArray {
    root: PathBuf,
    array: Arc<ZArray>,
    codec: InnerCodec,
    /// Inner chunks per shard (the index has one `(offset, nbytes)` pair per inner chunk).
    per_shard: usize,
    /// Decoded bytes of one inner chunk.
    chunk_bytes: usize,
}

/// Where one wanted inner chunk is in its shard file; `None` for a chunk never written (fill value).
type Extent = Option<(u64, usize)>;

impl DirectArray {
    /// `Some` when the array's stored metadata is exactly the layout this module reads.
    pub(crate) fn new(array: &Arc<ZArray>, root: &Path) -> Option<Self> {
        if !cfg!(target_endian = "little") {
            return None;
        }
        let meta = serde_json::to_value(array.metadata()).ok()?;
        let [codec] = meta.get("codecs")?.as_array()?.as_slice() else { return None };
        let config = codec.get("configuration")?;
        let element_size = match meta.get("data_type")?.as_str()? {
            "float32" => 4,
            "float16" | "bfloat16" => 2,
            "int8" | "uint8" => 1,
            _ => return None,
        };
        let bytes_le = |c: &Value| {
            c.get("name") == Some(&json!("bytes")) && c.pointer("/configuration/endian").is_none_or(|e| *e == "little")
        };
        let codec_ok = match config.get("codecs")?.as_array()?.as_slice() {
            [b] if bytes_le(b) => Some(InnerCodec::None),
            [b, z] if bytes_le(b) && z.get("name") == Some(&json!("zstd")) => Some(InnerCodec::Zstd),
            _ => None,
        };
        let index_ok = match config.get("index_codecs")?.as_array()?.as_slice() {
            [b, c] => bytes_le(b) && c.get("name") == Some(&json!("crc32c")),
            _ => false,
        };
        let end = config.get("index_location").is_none_or(|l| l == "end");
        let zero_fill = meta.get("fill_value").and_then(Value::as_f64) == Some(0.0);
        if codec.get("name") != Some(&json!("sharding_indexed")) || !index_ok || !end || !zero_fill {
            return None;
        }
        let codec = codec_ok?;
        let shard: Vec<u64> = serde_json::from_value(meta.get("chunk_grid")?.get("configuration")?.get("chunk_shape")?.clone()).ok()?;
        let inner: Vec<u64> = serde_json::from_value(config.get("chunk_shape")?.clone()).ok()?;
        if shard.len() != inner.len() || shard.iter().zip(&inner).any(|(s, i)| *i == 0 || s % i != 0) {
            return None;
        }
        let per_shard = shard.iter().zip(&inner).map(|(s, i)| s / i).product::<u64>() as usize;
        let chunk_bytes = inner.iter().product::<u64>() as usize * element_size;
        Some(Self { root: root.to_path_buf(), array: array.clone(), codec, per_shard, chunk_bytes })
    }

    /// Decodes one inner chunk `stored` (its bytes as read from the shard) into exactly `out`, its
    /// element bytes: zstd-decodes it, or copies it when the array is uncompressed.
    pub(crate) fn decode_into(&self, stored: &[u8], out: &mut [u8]) -> Result<()> {
        decode_chunk(self.codec, stored, out)
    }

    /// Hands the element values of one inner chunk `stored` to `then`, as `T` (the stored element
    /// type, or a plain-old-data type of its size): zstd-decoded into this thread's scratch buffer,
    /// or, when the array is uncompressed, `stored` itself viewed as `T` (copied into the scratch
    /// buffer only if it is not aligned for `T`).
    pub(crate) fn decoded<T: bytemuck::Pod, R>(&self, stored: &[u8], then: impl FnOnce(&[T]) -> R) -> Result<R> {
        let len = self.chunk_bytes;
        if self.codec == InnerCodec::None {
            check_len(stored.len(), len)?;
            if let Ok(values) = bytemuck::try_cast_slice::<u8, T>(stored) {
                return Ok(then(values));
            }
        }
        with_reused(&SCRATCH, |buf| {
            buf.resize(len.div_ceil(8), 0);
            let bytes = &mut bytemuck::cast_slice_mut::<u64, u8>(buf)[..len];
            decode_chunk(self.codec, stored, bytes)?;
            Ok(then(bytemuck::cast_slice(bytes)))
        })
    }

    fn shard_path(&self, shard: &[u64]) -> PathBuf {
        self.root.join(self.array.chunk_key(shard).as_str())
    }

    /// Reads the inner chunks `wanted` (C-order positions within the shard at grid position `shard`)
    /// and decodes chunk k into `outs[k]` with `decode(stored, outs[k], k)`, decoding in rayon
    /// tasks while the next chunks are read. Chunks never written are left as they are in `outs`
    /// (callers pass zeroed buffers: every array's fill value is 0).
    pub(crate) fn read<T: Send>(
        &self,
        shard: &[u64],
        wanted: &[usize],
        outs: Vec<&mut [T]>,
        decode: impl Fn(&[u8], &mut [T], usize) -> Result<()> + Sync,
    ) -> Result<()> {
        assert_eq!(wanted.len(), outs.len(), "one output per wanted chunk");
        let path = self.shard_path(shard);
        let file = match File::open(&path) {
            Ok(f) => f,
            // A shard never written (or erased: all its videos failed) reads as fill values.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::Io { path, source: e }),
        };
        let extents = self.extents(&file, &path, wanted)?;
        let mut order: Vec<usize> = (0..wanted.len()).filter(|&k| extents[k].is_some()).collect();
        order.sort_by_key(|&k| extents[k].map(|(o, _)| o));
        let mut outs: Vec<Option<&mut [T]>> = outs.into_iter().map(Some).collect();
        let total: usize = order.iter().map(|&k| extents[k].map_or(0, |(_, len)| len)).sum();
        let error = std::sync::Mutex::new(None);
        // Reused between calls: a fresh buffer per call costs a page fault per 4 KiB.
        with_reused(&READ_BUF, |buf| {
            if buf.len() < total {
                buf.resize(total, 0);
            }
            let mut rest = &mut buf[..total];
            // `in_place_scope`: reading stays on the calling thread (a plain `scope` would move it
            // onto a pool thread, leaving one core fewer for decoding), decoding goes to the pool.
            rayon::in_place_scope(|scope| {
                for k in order {
                    let (offset, len) = extents[k].expect("only written chunks are ordered");
                    let (stored, tail) = std::mem::take(&mut rest).split_at_mut(len);
                    rest = tail;
                    if let Err(e) = file.read_exact_at(stored, offset) {
                        return Err(StoreError::Io { path: path.clone(), source: e });
                    }
                    let stored: &[u8] = stored;
                    let out = outs[k].take().expect("each chunk is decoded once");
                    let (decode, error) = (&decode, &error);
                    scope.spawn(move |_| {
                        if let Err(e) = decode(stored, out, k) {
                            error.lock().expect("decode error").get_or_insert(e);
                        }
                    });
                }
                Ok(())
            })
        })?;
        error.into_inner().expect("decode error").map_or(Ok(()), Err)
    }

    /// The byte ranges of `wanted` from the shard index at the end of the file.
    fn extents(&self, file: &File, path: &Path, wanted: &[usize]) -> Result<Vec<Extent>> {
        let corrupt = |m: String| StoreError::Zarr { what: format!("read {}", path.display()), message: m };
        let size = file.metadata().map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e })?.len();
        let index_len = 16 * self.per_shard as u64 + 4;
        if size < index_len {
            return Err(corrupt(format!("shard file of {size} bytes cannot hold its {index_len}-byte index")));
        }
        let mut index = vec![0u8; index_len as usize];
        file.read_exact_at(&mut index, size - index_len)
            .map_err(|e| StoreError::Io { path: path.to_path_buf(), source: e })?;
        let (entries, crc) = index.split_at(index.len() - 4);
        if crc32c::crc32c(entries) != u32::from_le_bytes(crc.try_into().expect("4 bytes")) {
            return Err(corrupt("shard index checksum mismatch (the file is damaged)".into()));
        }
        let word = |i: usize| u64::from_le_bytes(entries[8 * i..8 * i + 8].try_into().expect("8 bytes"));
        wanted
            .iter()
            .map(|&c| {
                assert!(c < self.per_shard, "inner chunk {c} of a {}-chunk shard", self.per_shard);
                let (offset, len) = (word(2 * c), word(2 * c + 1));
                if offset == u64::MAX && len == u64::MAX {
                    return Ok(None);
                }
                if offset.checked_add(len).is_none_or(|end| end > size - index_len) {
                    return Err(corrupt(format!("inner chunk {c} at {offset}+{len} lies outside the shard's data")));
                }
                Ok(Some((offset, len as usize)))
            })
            .collect()
    }
}

/// Decodes one inner chunk as stored (`stored`, after `codec`) into exactly `out`, its element bytes.
fn decode_chunk(codec: InnerCodec, stored: &[u8], out: &mut [u8]) -> Result<()> {
    match codec {
        InnerCodec::Zstd => {
            let n = zstd::bulk::decompress_to_buffer(stored, out)
                .map_err(|e| StoreError::Zarr { what: "decode an inner chunk".into(), message: format!("zstd: {e}") })?;
            check_len(n, out.len())
        }
        InnerCodec::None => {
            check_len(stored.len(), out.len())?;
            out.copy_from_slice(stored);
            Ok(())
        }
    }
}

/// Errs unless an inner chunk decoded (or stored uncompressed) to `n` bytes has its `expected` size.
fn check_len(n: usize, expected: usize) -> Result<()> {
    if n != expected {
        return Err(StoreError::Zarr {
            what: "decode an inner chunk".into(),
            message: format!("it holds {n} bytes, the chunk has {expected}"),
        });
    }
    Ok(())
}

thread_local! {
    /// Per-thread buffer of the stored chunks of one read: it grows to the largest read of the
    /// thread (one clip's `spatial` as stored, ~26 MB for ViT-B/16 f16 with zstd, 58 MB for f32
    /// uncompressed) and is kept.
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    /// Per-thread decode buffer of one inner chunk (u64 so that it can be viewed as any element
    /// type); saves allocating and zeroing a buffer per chunk.
    static SCRATCH: std::cell::RefCell<Vec<u64>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with this thread's buffer in `key`, or with a fresh one when it is in use: a rayon worker
/// waiting for its own decode tasks may run another read meanwhile (a read inside a `par_iter`).
fn with_reused<T, R>(key: &'static std::thread::LocalKey<std::cell::RefCell<Vec<T>>>, f: impl FnOnce(&mut Vec<T>) -> R) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => f(&mut buf),
        Err(_) => f(&mut Vec::new()),
    })
}
