//! The Parquet tables: `videos.parquet/` and `clips.parquet/`, each a directory of parts (one part per
//! committed shard), so several writers never touch the same file. pandas, pyarrow and DuckDB read such
//! a directory as one table (`pd.read_parquet("STORE/videos.parquet")`,
//! `SELECT * FROM 'STORE/videos.parquet/*.parquet'`).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, BooleanArray, Float64Array, Int64Array, ListArray, RecordBatch, StringArray, UInt32Array,
    UInt64Array,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{io_err, Result, StoreError};
use crate::fsutil::write_atomically;

/// Whether a source video gave clips.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoStatus {
    Ok,
    Failed,
}

impl VideoStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Failed => "failed",
        }
    }
}

/// One row of `videos.parquet`: a source video and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoRecord {
    pub video_id: String,
    pub path: String,
    pub split: String,
    pub label: Option<i64>,
    /// 1-based line of the manifest entry.
    pub manifest_line: u64,
    pub bytes: u64,
    pub sha256: String,
    pub container: String,
    pub codec: String,
    pub width: u32,
    pub height: u32,
    pub fps: f64,
    pub duration_s: f64,
    pub frame_count: u64,
    /// Decoder name and library version.
    pub decoder: String,
    pub status: VideoStatus,
    /// Short machine-readable failure class, empty when ok.
    pub error_kind: String,
    /// Human-readable reason, empty when ok.
    pub error: String,
    /// Shard that owns this video's clips.
    pub shard: u64,
}

impl VideoRecord {
    /// A failed video about which nothing but its manifest entry is known.
    pub fn failed(video_id: &str, path: &str, split: &str, label: Option<i64>, line: u64, kind: &str, error: &str) -> Self {
        Self {
            video_id: video_id.into(),
            path: path.into(),
            split: split.into(),
            label,
            manifest_line: line,
            bytes: 0,
            sha256: String::new(),
            container: String::new(),
            codec: String::new(),
            width: 0,
            height: 0,
            fps: 0.0,
            duration_s: 0.0,
            frame_count: 0,
            decoder: String::new(),
            status: VideoStatus::Failed,
            error_kind: kind.into(),
            error: error.into(),
            shard: 0,
        }
    }
}

/// One row of `clips.parquet`: a stored clip and exactly which pixels it holds.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipRecord {
    /// Index along the clip axis of `spatial` and `frames`.
    pub clip: u64,
    pub video_id: String,
    pub split: String,
    pub label: Option<i64>,
    /// Temporal view index within the video.
    pub view: u32,
    /// Spatial crop index (0 for a single centre or random crop).
    pub spatial_crop: u32,
    /// Source frame indices (presentation order) of the T sparse frames.
    pub sparse_indices: Vec<u64>,
    /// Source frame indices of the γT dense frames.
    pub dense_indices: Vec<u64>,
    /// Presentation timestamps (seconds) of the dense frames.
    pub dense_pts: Vec<f64>,
    /// Crop box in source pixels (after rotation): x, y, width, height.
    pub crop: [u32; 4],
    pub flip: bool,
}

fn u64_list(values: impl Iterator<Item = Vec<u64>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<arrow::datatypes::UInt64Type, _, _>(
        values.map(|v| Some(v.into_iter().map(Some).collect::<Vec<_>>())),
    ))
}

fn f64_list(values: impl Iterator<Item = Vec<f64>>) -> ArrayRef {
    Arc::new(ListArray::from_iter_primitive::<arrow::datatypes::Float64Type, _, _>(
        values.map(|v| Some(v.into_iter().map(Some).collect::<Vec<_>>())),
    ))
}

fn list_field(name: &str, item: DataType) -> Field {
    Field::new(name, DataType::List(Arc::new(Field::new("item", item, true))), false)
}

pub(crate) fn videos_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("video_id", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("split", DataType::Utf8, false),
        Field::new("label", DataType::Int64, true),
        Field::new("manifest_line", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
        Field::new("sha256", DataType::Utf8, false),
        Field::new("container", DataType::Utf8, false),
        Field::new("codec", DataType::Utf8, false),
        Field::new("width", DataType::UInt32, false),
        Field::new("height", DataType::UInt32, false),
        Field::new("fps", DataType::Float64, false),
        Field::new("duration_s", DataType::Float64, false),
        Field::new("frame_count", DataType::UInt64, false),
        Field::new("decoder", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("error_kind", DataType::Utf8, false),
        Field::new("error", DataType::Utf8, false),
        Field::new("shard", DataType::UInt64, false),
    ]))
}

pub(crate) fn clips_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("clip", DataType::UInt64, false),
        Field::new("video_id", DataType::Utf8, false),
        Field::new("split", DataType::Utf8, false),
        Field::new("label", DataType::Int64, true),
        Field::new("view", DataType::UInt32, false),
        Field::new("spatial_crop", DataType::UInt32, false),
        list_field("sparse_indices", DataType::UInt64),
        list_field("dense_indices", DataType::UInt64),
        list_field("dense_pts", DataType::Float64),
        Field::new("crop_x", DataType::UInt32, false),
        Field::new("crop_y", DataType::UInt32, false),
        Field::new("crop_w", DataType::UInt32, false),
        Field::new("crop_h", DataType::UInt32, false),
        Field::new("flip", DataType::Boolean, false),
    ]))
}

fn strings<'a>(v: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(v))
}

pub(crate) fn videos_batch(rows: &[VideoRecord]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        strings(rows.iter().map(|r| r.video_id.as_str())),
        strings(rows.iter().map(|r| r.path.as_str())),
        strings(rows.iter().map(|r| r.split.as_str())),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.label))),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.manifest_line))),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.bytes))),
        strings(rows.iter().map(|r| r.sha256.as_str())),
        strings(rows.iter().map(|r| r.container.as_str())),
        strings(rows.iter().map(|r| r.codec.as_str())),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.width))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.height))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.fps))),
        Arc::new(Float64Array::from_iter_values(rows.iter().map(|r| r.duration_s))),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.frame_count))),
        strings(rows.iter().map(|r| r.decoder.as_str())),
        strings(rows.iter().map(|r| r.status.as_str())),
        strings(rows.iter().map(|r| r.error_kind.as_str())),
        strings(rows.iter().map(|r| r.error.as_str())),
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.shard))),
    ];
    RecordBatch::try_new(videos_schema(), columns).map_err(|e| StoreError::Invalid(e.to_string()))
}

pub(crate) fn clips_batch(rows: &[ClipRecord]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.clip))),
        strings(rows.iter().map(|r| r.video_id.as_str())),
        strings(rows.iter().map(|r| r.split.as_str())),
        Arc::new(Int64Array::from_iter(rows.iter().map(|r| r.label))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.view))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.spatial_crop))),
        u64_list(rows.iter().map(|r| r.sparse_indices.clone())),
        u64_list(rows.iter().map(|r| r.dense_indices.clone())),
        f64_list(rows.iter().map(|r| r.dense_pts.clone())),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.crop[0]))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.crop[1]))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.crop[2]))),
        Arc::new(UInt32Array::from_iter_values(rows.iter().map(|r| r.crop[3]))),
        Arc::new(BooleanArray::from_iter(rows.iter().map(|r| Some(r.flip)))),
    ];
    RecordBatch::try_new(clips_schema(), columns).map_err(|e| StoreError::Invalid(e.to_string()))
}

/// Writes one table part atomically (temporary file, fsync, rename).
pub(crate) fn write_part(path: &Path, batch: &RecordBatch) -> Result<()> {
    let table_err = |e: parquet::errors::ParquetError| StoreError::Table { path: path.to_path_buf(), message: e.to_string() };
    write_atomically(path, |file| {
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).expect("valid zstd level")))
            .build();
        let mut writer = ArrowWriter::try_new(file, batch.schema(), Some(props)).map_err(table_err)?;
        writer.write(batch).map_err(table_err)?;
        writer.close().map_err(table_err)?;
        Ok(())
    })
}

/// Reads every record batch of one part.
pub(crate) fn read_part(path: &Path) -> Result<Vec<RecordBatch>> {
    let table_err = |e: &dyn std::fmt::Display| StoreError::Table { path: path.to_path_buf(), message: e.to_string() };
    let file = File::open(path).map_err(io_err(path))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| table_err(&e))?
        .build()
        .map_err(|e| table_err(&e))?;
    reader.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| table_err(&e))
}

fn col<'a, T: 'static>(batch: &'a RecordBatch, name: &str) -> &'a T {
    batch
        .column_by_name(name)
        .and_then(|c| c.as_any().downcast_ref::<T>())
        .unwrap_or_else(|| panic!("table column {name} has the type this build writes"))
}

fn u64_list_at(batch: &RecordBatch, name: &str, i: usize) -> Vec<u64> {
    let list = col::<ListArray>(batch, name).value(i);
    list.as_any().downcast_ref::<UInt64Array>().expect("u64 list").values().to_vec()
}

pub(crate) fn videos_from_batch(batch: &RecordBatch) -> Vec<VideoRecord> {
    let s = |name| col::<StringArray>(batch, name);
    let label = col::<Int64Array>(batch, "label");
    (0..batch.num_rows())
        .map(|i| VideoRecord {
            video_id: s("video_id").value(i).into(),
            path: s("path").value(i).into(),
            split: s("split").value(i).into(),
            label: (!label.is_null(i)).then(|| label.value(i)),
            manifest_line: col::<UInt64Array>(batch, "manifest_line").value(i),
            bytes: col::<UInt64Array>(batch, "bytes").value(i),
            sha256: s("sha256").value(i).into(),
            container: s("container").value(i).into(),
            codec: s("codec").value(i).into(),
            width: col::<UInt32Array>(batch, "width").value(i),
            height: col::<UInt32Array>(batch, "height").value(i),
            fps: col::<Float64Array>(batch, "fps").value(i),
            duration_s: col::<Float64Array>(batch, "duration_s").value(i),
            frame_count: col::<UInt64Array>(batch, "frame_count").value(i),
            decoder: s("decoder").value(i).into(),
            status: if s("status").value(i) == "ok" { VideoStatus::Ok } else { VideoStatus::Failed },
            error_kind: s("error_kind").value(i).into(),
            error: s("error").value(i).into(),
            shard: col::<UInt64Array>(batch, "shard").value(i),
        })
        .collect()
}

pub(crate) fn clips_from_batch(batch: &RecordBatch) -> Vec<ClipRecord> {
    let s = |name| col::<StringArray>(batch, name);
    let u32c = |name| col::<UInt32Array>(batch, name);
    let label = col::<Int64Array>(batch, "label");
    (0..batch.num_rows())
        .map(|i| {
            let pts = col::<ListArray>(batch, "dense_pts").value(i);
            ClipRecord {
                clip: col::<UInt64Array>(batch, "clip").value(i),
                video_id: s("video_id").value(i).into(),
                split: s("split").value(i).into(),
                label: (!label.is_null(i)).then(|| label.value(i)),
                view: u32c("view").value(i),
                spatial_crop: u32c("spatial_crop").value(i),
                sparse_indices: u64_list_at(batch, "sparse_indices", i),
                dense_indices: u64_list_at(batch, "dense_indices", i),
                dense_pts: pts.as_any().downcast_ref::<Float64Array>().expect("f64 list").values().to_vec(),
                crop: [u32c("crop_x").value(i), u32c("crop_y").value(i), u32c("crop_w").value(i), u32c("crop_h").value(i)],
                flip: col::<BooleanArray>(batch, "flip").value(i),
            }
        })
        .collect()
}

/// File name of the table part a shard commits.
pub(crate) fn part_name(shard: u64) -> String {
    format!("shard-{shard:08}.parquet")
}

/// Parses a part file name back to its shard.
pub(crate) fn part_shard(name: &str) -> Option<u64> {
    name.strip_prefix("shard-")?.strip_suffix(".parquet")?.parse().ok()
}

pub(crate) fn table_dir(root: &Path, table: &str) -> PathBuf {
    root.join(format!("{table}.parquet"))
}
