//! PyTorch pickles (`torch.save`: the zip format of 1.6+, the legacy and tar formats) through burn's
//! `pytorch-reader`, turned in memory into the safetensors layout the rest of the loader reads. OpenAI's
//! TorchScript archives are not state dicts and are refused with what to do.

use std::path::Path;

use pytorch_reader::{DType as TorchDtype, PytorchReader};
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use sha2::{Digest, Sha256};

use super::TensorFile;
use crate::error::{ClipError, Result};

/// Reads every tensor of the pickle at `path`; the fingerprint stays the sha256 of the file itself.
pub(super) fn open(path: &Path) -> Result<TensorFile> {
    let not_a_checkpoint = |reason: String| ClipError::NotACheckpoint { path: path.to_path_buf(), reason };
    let reader = PytorchReader::new(path).map_err(|e| {
        not_a_checkpoint(format!(
            "not a PyTorch state dict ({e}); TorchScript archives (OpenAI's original .pt files) are not read: \
             re-save with `torch.save(torch.jit.load(p).state_dict(), out)`"
        ))
    })?;
    if reader.is_empty() {
        return Err(not_a_checkpoint("a PyTorch pickle holding no tensors".into()));
    }
    // The raw tensors are dropped at the end of this block, before the converted file is parsed, so
    // a large checkpoint is held at most twice (tensors + serialised copy), never three times.
    let bytes = {
        let mut tensors = Vec::with_capacity(reader.len());
        for (name, tensor) in reader.tensors() {
            let bytes =
                tensor.read().map_err(|e| not_a_checkpoint(format!("tensor {name:?} cannot be read: {e}")))?;
            tensors.push((name.clone(), safetensors_dtype(tensor.dtype()), tensor.shape().to_vec(), bytes));
        }
        let views = tensors
            .iter()
            .map(|(name, dtype, shape, bytes)| {
                TensorView::new(*dtype, shape.clone(), bytes).map(|view| (name.clone(), view))
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| not_a_checkpoint(format!("inconsistent tensor in the pickle: {e}")))?;
        safetensors::serialize(views, None).map_err(|e| not_a_checkpoint(format!("{e}")))?
    };
    let mut file = TensorFile::from_bytes(path, bytes)?;
    file.file_sha256 = Some(file_sha256(path)?);
    Ok(file)
}

/// sha256 of the file on disk, streamed (the pickle's bytes are never all in memory at once).
fn file_sha256(path: &Path) -> Result<String> {
    let io = |source| ClipError::Io { path: path.to_path_buf(), source };
    let mut hasher = Sha256::new();
    std::io::copy(&mut std::fs::File::open(path).map_err(io)?, &mut hasher).map_err(io)?;
    Ok(hex::encode(hasher.finalize()))
}

/// The same element type in safetensors' names (the reader hands back native-endian bytes, little
/// endian on every target we build for).
fn safetensors_dtype(dtype: TorchDtype) -> Dtype {
    match dtype {
        TorchDtype::F64 => Dtype::F64,
        TorchDtype::F32 => Dtype::F32,
        TorchDtype::F16 => Dtype::F16,
        TorchDtype::BF16 => Dtype::BF16,
        TorchDtype::I64 => Dtype::I64,
        TorchDtype::I32 => Dtype::I32,
        TorchDtype::I16 => Dtype::I16,
        TorchDtype::I8 => Dtype::I8,
        TorchDtype::U64 => Dtype::U64,
        TorchDtype::U32 => Dtype::U32,
        TorchDtype::U16 => Dtype::U16,
        TorchDtype::U8 => Dtype::U8,
        TorchDtype::Bool => Dtype::BOOL,
    }
}
