//! The Zarr arrays of a store: shapes, chunking and codecs, created once and opened by every reader.
//!
//! | array | shape | inner chunk (read unit) | shard (write unit) | type |
//! |---|---|---|---|---|
//! | `spatial` | [clips, layers, T, N+1, C] | [1, 1, T, N+1, C] | [S, layers, T, N+1, C] | f32/f16/bf16/int8 |
//! | `spatial_scale` (int8 only) | [clips, layers, T, N+1] | [1, 1, T, N+1] | [S, layers, T, N+1] | f32 |
//! | `frames` | [clips, γT, H, W, 3] | [1, γT, H, W, 3] | [S, γT, H, W, 3] | u8 |
//!
//! S = `clips_per_shard`. Inner chunks are zstd-compressed (inner codecs `[bytes, zstd]`), or stored
//! as they are with `compression = none` (`[bytes]`); the shard index carries a crc32c.

use std::path::Path;
use std::sync::Arc;

use zarrs::array::codec::{ShardingCodecOptions, SubchunkWriteOrder, ZstdCodec};
use serde_json::Value;
use zarrs::array::{BytesToBytesCodecTraits, CodecSpecificOptions};
use zarrs::array::{data_type, Array, ArrayBuilder, ArrayMetadata, ArrayMetadataOptions, DataType};
use zarrs::filesystem::FilesystemStore;

use crate::direct::DirectArray;
use crate::element::ElementType;
use crate::error::{zarr_err, Result, StoreError};
use crate::meta::{Compression, StoreMeta};

pub(crate) type ZArray = Array<FilesystemStore>;

pub(crate) const SPATIAL: &str = "/spatial";
pub(crate) const SPATIAL_SCALE: &str = "/spatial_scale";
pub(crate) const FRAMES: &str = "/frames";

/// One array's geometry: full shape, shard (chunk) shape and inner chunk shape.
struct Geometry {
    name: &'static str,
    shape: Vec<u64>,
    shard: Vec<u64>,
    inner: Vec<u64>,
    dims: Vec<&'static str>,
    data_type: DataType,
}

fn geometries(meta: &StoreMeta) -> Vec<Geometry> {
    let (n, s) = (meta.num_clips, meta.clips_per_shard);
    let l = meta.layers.len() as u64;
    let t = meta.sampling.t as u64;
    let tok = meta.tokens() as u64;
    let c = meta.width() as u64;
    let td = meta.dense_frames() as u64;
    let hw = meta.preprocessing.crop as u64;
    let mut out = vec![
        Geometry {
            name: SPATIAL,
            shape: vec![n, l, t, tok, c],
            shard: vec![s, l, t, tok, c],
            inner: vec![1, 1, t, tok, c],
            dims: vec!["clip", "layer", "frame", "token", "channel"],
            data_type: meta.element_type.zarr_data_type(),
        },
        Geometry {
            name: FRAMES,
            shape: vec![n, td, hw, hw, 3],
            shard: vec![s, td, hw, hw, 3],
            inner: vec![1, td, hw, hw, 3],
            dims: vec!["clip", "frame", "y", "x", "rgb"],
            data_type: data_type::uint8(),
        },
    ];
    if meta.element_type == ElementType::Int8 {
        out.push(Geometry {
            name: SPATIAL_SCALE,
            shape: vec![n, l, t, tok],
            shard: vec![s, l, t, tok],
            inner: vec![1, 1, t, tok],
            dims: vec!["clip", "layer", "frame", "token"],
            data_type: data_type::float32(),
        });
    }
    out
}

/// The bytes-to-bytes codecs of every array of a store (after `bytes`): zstd at the store's level, or
/// none at all.
pub(crate) fn bytes_to_bytes_codecs(meta: &StoreMeta) -> Vec<Arc<dyn BytesToBytesCodecTraits>> {
    match meta.compression {
        Compression::Zstd => vec![Arc::new(ZstdCodec::new(meta.zstd_level, false))],
        Compression::None => Vec::new(),
    }
}

/// Builds (without writing anything) every array of a store with metadata `meta`.
fn build_arrays(store: &Arc<FilesystemStore>, meta: &StoreMeta) -> Result<Vec<(&'static str, ZArray)>> {
    geometries(meta)
        .into_iter()
        .map(|g| {
            let fill: zarrs::array::FillValue = match g.name {
                FRAMES => 0u8.into(),
                SPATIAL_SCALE => 0f32.into(),
                _ => match meta.element_type {
                    ElementType::F32 => 0f32.into(),
                    ElementType::F16 => half::f16::ZERO.into(),
                    ElementType::Bf16 => half::bf16::ZERO.into(),
                    ElementType::Int8 => 0i8.into(),
                },
            };
            let array = ArrayBuilder::new(g.shape, g.shard, g.data_type, fill)
                .subchunk_shape(g.inner)
                .bytes_to_bytes_codecs(bytes_to_bytes_codecs(meta))
                .dimension_names(Some(g.dims))
                .build(store.clone(), g.name)
                .map_err(zarr_err(format!("create {}", g.name)))?;
            Ok((g.name, array))
        })
        .collect()
}

/// The v3 metadata document (`zarr.json`) of an array, as zarrs would store it.
fn metadata_json(array: &ZArray) -> Value {
    match array.metadata_opt(&ArrayMetadataOptions::default()) {
        ArrayMetadata::V3(m) => serde_json::to_value(m).expect("array metadata serialises"),
        ArrayMetadata::V2(_) => unreachable!("arrays are built as Zarr v3"),
    }
}

/// The `zarr.json` of every array of a new store: (path relative to the store root, contents).
/// A pure function of `meta`, so concurrent or repeated creators write the same bytes.
pub(crate) fn array_metadata_files(store: &Arc<FilesystemStore>, meta: &StoreMeta) -> Result<Vec<(String, Vec<u8>)>> {
    Ok(build_arrays(store, meta)?
        .iter()
        .map(|(name, array)| {
            let json = serde_json::to_vec_pretty(&metadata_json(array)).expect("array metadata serialises");
            (format!("{}/zarr.json", name.trim_start_matches('/')), json)
        })
        .collect())
}

/// The fields of an array's metadata that fix how its bytes are laid out: a stored array must have
/// the ones its store's metadata implies, or reads would silently mix clips up.
const STRUCTURAL: [&str; 4] = ["shape", "data_type", "chunk_grid", "fill_value"];

/// The opened arrays of a store, and their direct readers where their layout allows (`direct.rs`).
pub(crate) struct Arrays {
    pub spatial: Arc<ZArray>,
    pub spatial_scale: Option<Arc<ZArray>>,
    pub frames: Arc<ZArray>,
    pub direct_spatial: Option<DirectArray>,
    pub direct_spatial_scale: Option<DirectArray>,
    pub direct_frames: Option<DirectArray>,
}

impl Arrays {
    pub(crate) fn open(store: &Arc<FilesystemStore>, meta: &StoreMeta, root: &Path) -> Result<Self> {
        // Inner chunks in C order within each shard: the default (unordered, completion order of the
        // parallel encoder) would make the same data produce different shard bytes from run to run.
        let ordered = CodecSpecificOptions::default()
            .with_option(ShardingCodecOptions::default().with_subchunk_write_order(SubchunkWriteOrder::C));
        let expected: Vec<(&str, Value)> =
            build_arrays(store, meta)?.iter().map(|(name, a)| (*name, metadata_json(a))).collect();
        let open = |name: &str| -> Result<Arc<ZArray>> {
            let array = Array::open(store.clone(), name).map_err(zarr_err(format!("open {name}")))?;
            let want = &expected.iter().find(|(n, _)| *n == name).expect("every array has a geometry").1;
            let found = metadata_json(&array);
            for field in STRUCTURAL {
                if found.get(field) != want.get(field) {
                    return Err(StoreError::Invalid(format!(
                        "array {name}: {field} is {}, but the store metadata implies {} (the store is damaged \
                         or was created by two different creators at once)",
                        found.get(field).unwrap_or(&Value::Null),
                        want.get(field).unwrap_or(&Value::Null)
                    )));
                }
            }
            Ok(Arc::new(array.with_codec_specific_options(&ordered)))
        };
        let spatial = open(SPATIAL)?;
        let spatial_scale = if meta.element_type == ElementType::Int8 { Some(open(SPATIAL_SCALE)?) } else { None };
        let frames = open(FRAMES)?;
        Ok(Self {
            direct_spatial: DirectArray::new(&spatial, root),
            direct_spatial_scale: spatial_scale.as_ref().and_then(|a| DirectArray::new(a, root)),
            direct_frames: DirectArray::new(&frames, root),
            spatial,
            spatial_scale,
            frames,
        })
    }
}
