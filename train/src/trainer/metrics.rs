//! The metrics table of a run (`metrics.parquet`: step, epoch, loss, lr, top-1, top-5, clips/s).

use std::path::Path;
use std::sync::Arc;

use arrow::array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use serde::{Deserialize, Serialize};

/// One row: a training step, or an evaluation (loss = NaN there, top-k NaN on training rows).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MetricRow {
    pub step: u64,
    pub epoch: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub loss: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub lr: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub top1: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub top5: f64,
    #[serde(deserialize_with = "null_as_nan")]
    pub clips_per_s: f64,
}

/// JSON has no NaN: serde_json writes it as `null`; read `null` back as NaN.
fn null_as_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// Writes the rows as Parquet through a temporary file (so a kill never leaves half a table).
pub fn write_metrics(path: &Path, rows: &[MetricRow]) -> anyhow::Result<()> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("step", DataType::UInt64, false),
        Field::new("epoch", DataType::Float64, false),
        Field::new("loss", DataType::Float64, false),
        Field::new("lr", DataType::Float64, false),
        Field::new("top1", DataType::Float64, false),
        Field::new("top5", DataType::Float64, false),
        Field::new("clips_per_s", DataType::Float64, false),
    ]));
    let f = |g: fn(&MetricRow) -> f64| -> ArrayRef { Arc::new(Float64Array::from_iter_values(rows.iter().map(g))) };
    let columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.step))),
        f(|r| r.epoch),
        f(|r| r.loss),
        f(|r| r.lr),
        f(|r| r.top1),
        f(|r| r.top5),
        f(|r| r.clips_per_s),
    ];
    let batch = RecordBatch::try_new(schema.clone(), columns)?;
    let tmp = path.with_extension("parquet.tmp");
    let file = std::fs::File::create(&tmp)?;
    let mut w = ArrowWriter::try_new(file, schema, None)?;
    w.write(&batch)?;
    w.close()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}
