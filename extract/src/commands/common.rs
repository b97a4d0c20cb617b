//! What several subcommands share: choosing the model and writing safetensors outputs.

use std::path::Path;

use anyhow::Context;
use burn::tensor::Tensor;
use dist_clip::{ClipModel, DType};
use safetensors::tensor::{Dtype, TensorView};

/// Compute dtype on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ComputeDtype {
    /// 32-bit float (parity with PyTorch fp32).
    F32,
    /// IEEE half.
    F16,
    /// bfloat16.
    Bf16,
}

impl From<ComputeDtype> for DType {
    fn from(d: ComputeDtype) -> Self {
        match d {
            ComputeDtype::F32 => DType::F32,
            ComputeDtype::F16 => DType::F16,
            ComputeDtype::Bf16 => DType::BF16,
        }
    }
}

/// `--model` and `--dtype`.
#[derive(Debug, Clone, clap::Args)]
pub struct ModelArgs {
    /// builtin:tiny | builtin:vit-b16-random | ... | a Hugging Face model directory | a .safetensors file.
    #[arg(long, short)]
    pub model: String,
    /// Dtype the towers compute in (outputs are f32 either way).
    #[arg(long, value_enum, default_value = "f32")]
    pub dtype: ComputeDtype,
    /// Backend the towers run on: cpu (burn-flex) or wgpu (a GPU through Vulkan/Metal/DX12; needs a
    /// binary built with `--features wgpu`; no bf16).
    #[arg(long, default_value = "cpu", env = "DIST_DEVICE")]
    pub device: dist_clip::Backend,
}

impl ModelArgs {
    /// Loads the model on the chosen backend, in the chosen dtype.
    pub(crate) fn load(&self) -> anyhow::Result<ClipModel> {
        let device = self.device.device(self.dtype.into())?;
        dist_clip::load_model_with(&self.model, &device, self.dtype.into())
            .with_context(|| format!("loading model {:?}", self.model))
    }
}

/// A named output array, kept on the host until the file is written.
pub(crate) enum Array {
    F32(Vec<usize>, Vec<f32>),
    I64(Vec<usize>, Vec<i64>),
}

impl Array {
    /// Copies a float tensor to the host.
    pub(crate) fn from_tensor<const D: usize>(t: Tensor<D>) -> anyhow::Result<Self> {
        let shape = t.dims().to_vec();
        let data = t.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
        Ok(Self::F32(shape, data))
    }
}

/// Writes arrays as one safetensors file.
pub(crate) fn write_safetensors(path: &Path, arrays: Vec<(String, Array)>) -> anyhow::Result<()> {
    let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = arrays
        .into_iter()
        .map(|(name, a)| match a {
            Array::F32(shape, data) => (name, Dtype::F32, shape, data.iter().flat_map(|v| v.to_le_bytes()).collect()),
            Array::I64(shape, data) => (name, Dtype::I64, shape, data.iter().flat_map(|v| v.to_le_bytes()).collect()),
        })
        .collect();
    let views = bytes
        .iter()
        .map(|(name, dtype, shape, data)| Ok((name.clone(), TensorView::new(*dtype, shape.clone(), data)?)))
        .collect::<Result<Vec<_>, safetensors::SafeTensorError>>()?;
    safetensors::serialize_to_file(views, None, path).with_context(|| format!("writing {}", path.display()))
}
