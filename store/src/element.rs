//! Element types of the `spatial` array and the conversions from/to f32.
//!
//! int8 uses symmetric per-token quantisation: for each token (one row of C channels) the scale is
//! `s = max_c |x_c| / 127` and `q_c = round(x_c / s)`. The reconstruction error is therefore at most
//! `s / 2 = max_c |x_c| / 254` for every element (≈0.39% of the token's largest magnitude); the scales
//! live in `spatial_scale` (f32, one per token).

use half::{bf16, f16};
use serde::{Deserialize, Serialize};

use crate::error::{Result, StoreError};

/// How the frozen encoder's tokens are stored on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElementType {
    F32,
    F16,
    Bf16,
    Int8,
}

impl ElementType {
    /// All element types, in order of decreasing size.
    pub const ALL: [ElementType; 4] = [Self::F32, Self::F16, Self::Bf16, Self::Int8];

    /// Bytes per stored element (int8 also stores one f32 scale per token).
    pub fn size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 | Self::Bf16 => 2,
            Self::Int8 => 1,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Bf16 => "bf16",
            Self::Int8 => "int8",
        }
    }

    pub(crate) fn zarr_data_type(self) -> zarrs::array::DataType {
        use zarrs::array::data_type;
        match self {
            Self::F32 => data_type::float32(),
            Self::F16 => data_type::float16(),
            Self::Bf16 => data_type::bfloat16(),
            Self::Int8 => data_type::int8(),
        }
    }
}

impl std::fmt::Display for ElementType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ElementType {
    type Err = StoreError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" | "fp32" => Ok(Self::F32),
            "f16" | "float16" | "fp16" => Ok(Self::F16),
            "bf16" | "bfloat16" => Ok(Self::Bf16),
            "int8" | "i8" => Ok(Self::Int8),
            other => Err(StoreError::Invalid(format!(
                "unknown element type {other:?} (expected f32, f16, bf16 or int8)"
            ))),
        }
    }
}

/// Encoded token values, in the store's element type.
#[derive(Debug, Clone, PartialEq)]
pub enum Encoded {
    F32(Vec<f32>),
    F16(Vec<f16>),
    Bf16(Vec<bf16>),
    /// Quantised values and one scale per token (`values.len() / width` scales).
    Int8 { values: Vec<i8>, scales: Vec<f32> },
}

impl Encoded {
    /// Encodes f32 tokens laid out as rows of `width` channels.
    pub fn encode(element: ElementType, values: &[f32], width: usize) -> Self {
        match element {
            ElementType::F32 => Self::F32(values.to_vec()),
            ElementType::F16 => Self::F16(values.iter().map(|&v| f16::from_f32(v)).collect()),
            ElementType::Bf16 => Self::Bf16(values.iter().map(|&v| bf16::from_f32(v)).collect()),
            ElementType::Int8 => {
                let (values, scales) = quantize_int8(values, width);
                Self::Int8 { values, scales }
            }
        }
    }

    /// Decodes back to f32 (rows of `width` channels for int8).
    pub fn decode(&self, width: usize) -> Vec<f32> {
        match self {
            Self::F32(v) => v.clone(),
            Self::F16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Self::Bf16(v) => v.iter().map(|x| x.to_f32()).collect(),
            Self::Int8 { values, scales } => dequantize_int8(values, scales, width),
        }
    }
}

/// Symmetric per-row int8 quantisation; see the module docs for the error bound.
pub fn quantize_int8(values: &[f32], width: usize) -> (Vec<i8>, Vec<f32>) {
    assert!(width > 0 && values.len() % width == 0, "values must be whole rows of {width}");
    let mut q = Vec::with_capacity(values.len());
    let mut scales = Vec::with_capacity(values.len() / width);
    for row in values.chunks_exact(width) {
        let max = row.iter().fold(0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 && max.is_finite() { max / 127.0 } else { 1.0 };
        scales.push(scale);
        q.extend(row.iter().map(|v| (v / scale).round().clamp(-127.0, 127.0) as i8));
    }
    (q, scales)
}

/// Inverse of [`quantize_int8`].
pub fn dequantize_int8(values: &[i8], scales: &[f32], width: usize) -> Vec<f32> {
    let mut out = vec![0f32; values.len()];
    dequantize_int8_into(values, scales, width, &mut out);
    out
}

/// [`dequantize_int8`] into `out` (same length as `values`).
pub fn dequantize_int8_into(values: &[i8], scales: &[f32], width: usize, out: &mut [f32]) {
    assert_eq!(values.len(), out.len(), "one output per value");
    for ((row, o), &s) in values.chunks_exact(width).zip(out.chunks_exact_mut(width)).zip(scales) {
        for (o, &q) in o.iter_mut().zip(row) {
            *o = q as f32 * s;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_error_is_within_half_a_step() {
        let width = 5;
        let values: Vec<f32> = (0..50).map(|i| ((i * 37 % 23) as f32 - 11.0) * 0.37).collect();
        let (q, s) = quantize_int8(&values, width);
        let back = dequantize_int8(&q, &s, width);
        for (row, (orig, rec)) in values.chunks(width).zip(back.chunks(width)).enumerate() {
            let max = orig.iter().fold(0f32, |m, v| m.max(v.abs()));
            for (a, b) in orig.iter().zip(rec) {
                assert!((a - b).abs() <= max / 254.0 * 1.0001, "row {row}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn all_zero_rows_round_trip() {
        let (q, s) = quantize_int8(&[0.0; 8], 4);
        assert_eq!(dequantize_int8(&q, &s, 4), vec![0.0; 8]);
    }
}
