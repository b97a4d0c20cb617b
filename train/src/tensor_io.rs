//! Host-side tensors read from and written to safetensors and `.npy` files (f32 in memory;
//! F16/BF16 are widened on read).

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Device, Tensor, TensorData};
use half::{bf16, f16};
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use crate::error::{Error, Result};

/// A named f32 array on the host.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Copies a burn tensor to the host.
    #[must_use]
    pub fn from_tensor<const D: usize>(tensor: &Tensor<D>) -> Self {
        let data = tensor.to_data().convert::<f32>();
        Self { shape: tensor.dims().to_vec(), data: data.try_to_vec().expect("converted to f32") }
    }

    /// Uploads to `device` as a rank-`D` tensor.
    ///
    /// # Errors
    /// [`Error::InputShape`] when the rank is not `D`.
    pub fn to_tensor<const D: usize>(&self, name: &str, device: &Device) -> Result<Tensor<D>> {
        if self.shape.len() != D {
            return Err(Error::input(name, &self.shape, format!("a rank-{D} tensor")));
        }
        Ok(Tensor::from_data(TensorData::new(self.data.clone(), self.shape.clone()), device))
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.into(), source }
}

fn widen(path: &Path, name: &str, view: &TensorView<'_>) -> Result<Vec<f32>> {
    let bytes = view.data();
    let data = match view.dtype() {
        Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => bytes.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        other => {
            return Err(Error::TensorDtype { path: path.into(), key: name.into(), dtype: format!("{other:?}") });
        }
    };
    Ok(data)
}

/// Reads every tensor of a safetensors file.
///
/// # Errors
/// I/O, a malformed file, or a dtype other than F32/F16/BF16.
pub fn read_safetensors(path: &Path) -> Result<BTreeMap<String, HostTensor>> {
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let file = SafeTensors::deserialize(&bytes).map_err(|source| Error::Safetensors { path: path.into(), source })?;
    file.tensors()
        .into_iter()
        .map(|(name, view)| {
            let data = widen(path, &name, &view)?;
            Ok((name, HostTensor { shape: view.shape().to_vec(), data }))
        })
        .collect()
}

/// Element type of a written safetensors file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredDtype {
    F32,
    F16,
}

/// Writes tensors to a safetensors file.
///
/// # Errors
/// I/O or serialisation failure.
pub fn write_safetensors(path: &Path, tensors: &BTreeMap<String, HostTensor>, dtype: StoredDtype) -> Result<()> {
    let encoded: Vec<(String, Vec<u8>, &[usize])> = tensors
        .iter()
        .map(|(name, t)| {
            let bytes = match dtype {
                StoredDtype::F32 => t.data.iter().flat_map(|v| v.to_le_bytes()).collect(),
                StoredDtype::F16 => t.data.iter().flat_map(|v| f16::from_f32(*v).to_le_bytes()).collect(),
            };
            (name.clone(), bytes, t.shape.as_slice())
        })
        .collect();
    let st_dtype = match dtype {
        StoredDtype::F32 => Dtype::F32,
        StoredDtype::F16 => Dtype::F16,
    };
    let views = encoded
        .iter()
        .map(|(name, bytes, shape)| {
            TensorView::new(st_dtype, shape.to_vec(), bytes).map(|view| (name.clone(), view))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| Error::Safetensors { path: path.into(), source })?;
    safetensors::serialize_to_file(views, None, path).map_err(|source| Error::Safetensors { path: path.into(), source })
}

/// Reads a little-endian f32 C-order `.npy` array.
///
/// # Errors
/// I/O, a malformed header, Fortran order or another dtype.
pub fn read_npy(path: &Path) -> Result<HostTensor> {
    let npy_error = |reason: String| Error::Npy { path: path.into(), reason };
    let bytes = std::fs::read(path).map_err(io_error(path))?;
    let file = npyz::NpyFile::new(&bytes[..]).map_err(|e| npy_error(e.to_string()))?;
    if file.order() != npyz::Order::C {
        return Err(npy_error("Fortran-order arrays are not supported; save with np.ascontiguousarray".into()));
    }
    let shape = file.shape().iter().map(|&d| d as usize).collect();
    let descr = file.dtype().descr().trim_matches(|c| c == '\'' || c == '"').to_string();
    let data = match descr.as_str() {
        "<f4" => file.into_vec::<f32>().map_err(|e| npy_error(e.to_string()))?,
        other => return Err(npy_error(format!("dtype {other} is not <f4 (little-endian float32)"))),
    };
    Ok(HostTensor { shape, data })
}
