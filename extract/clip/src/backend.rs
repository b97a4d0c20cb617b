//! Which burn backend the towers (and the trainer) run on: burn-flex on the CPU by default, wgpu
//! (Vulkan, Metal, DX12) when the crate is built with the `wgpu` feature.
//!
//! One place decides, so every binary accepts the same `--device` names and fails the same way when a
//! backend is missing, instead of panicking deep inside burn on the first tensor.

use std::fmt;
use std::str::FromStr;

use burn::tensor::{DType, Device};

use crate::error::{ClipError, Result};

/// A backend by name: `cpu` (burn-flex) or `wgpu`. In TOML files it is the same lower-case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn-flex: multi-threaded SIMD kernels on the CPU; f32, f16 and bf16.
    #[default]
    #[serde(alias = "flex")]
    Cpu,
    /// burn-wgpu on the best adapter wgpu finds (a discrete GPU first; `CUBECL_WGPU_DEFAULT_DEVICE`
    /// overrides, e.g. `Cpu` for Mesa's lavapipe); f32 and f16 (WGSL has no bf16).
    Wgpu,
}

impl Backend {
    /// Every backend name, for help texts.
    pub const NAMES: [&'static str; 2] = ["cpu", "wgpu"];

    /// Whether this binary was built with the backend.
    pub fn is_built(self) -> bool {
        match self {
            Self::Cpu => true,
            Self::Wgpu => cfg!(feature = "wgpu"),
        }
    }

    /// The burn device, after checking the backend is built and can compute in `dtype`.
    ///
    /// # Errors
    /// [`ClipError::Backend`] when the backend is not compiled in, or cannot compute in `dtype`
    /// (bf16 on wgpu: WGSL has no bf16 type).
    pub fn device(self, dtype: DType) -> Result<Device> {
        if !self.is_built() {
            return Err(ClipError::Backend {
                backend: self.to_string(),
                reason: "not built into this binary: rebuild with `--features wgpu` (cargo build --release --features wgpu)"
                    .into(),
            });
        }
        let device = match self {
            Self::Cpu => Device::flex(),
            Self::Wgpu => wgpu_device(),
        };
        check_dtype(&device, dtype, &self.to_string())?;
        Ok(device)
    }

    /// `count` devices of this backend for data parallelism, the main one first: GPUs
    /// `0..count` on wgpu (its default device when `count` is 1); on cpu `count` handles of the
    /// one CPU, so replicas share its cores.
    pub fn devices(self, count: usize, dtype: DType) -> Result<Vec<Device>> {
        if count == 0 {
            return Err(ClipError::Backend { backend: self.to_string(), reason: "devices must be at least 1".into() });
        }
        let main = self.device(dtype)?; // also refuses a backend this binary lacks
        if count == 1 || self == Self::Cpu {
            return Ok(vec![main; count]);
        }
        (0..count)
            .map(|i| {
                let device = wgpu_gpu(i);
                check_dtype(&device, dtype, &self.to_string())?;
                Ok(device)
            })
            .collect()
    }
}

/// Refuses a compute dtype the device cannot run, instead of a panic inside the backend's compiler.
pub(crate) fn check_dtype(device: &Device, dtype: DType, backend: &str) -> Result<()> {
    if device.supports_dtype(dtype) {
        return Ok(());
    }
    let name = match dtype {
        DType::BF16 => "bf16",
        DType::F16 => "f16",
        _ => "this dtype",
    };
    Err(ClipError::Backend {
        backend: backend.to_string(),
        reason: format!("cannot compute in {name} on this device: use f32 (or f16)"),
    })
}

#[cfg(feature = "wgpu")]
fn wgpu_device() -> Device {
    Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_device() -> Device {
    unreachable!("Backend::device checks is_built first")
}

/// The i-th discrete GPU.
#[cfg(feature = "wgpu")]
fn wgpu_gpu(index: usize) -> Device {
    Device::wgpu(burn::tensor::DeviceKind::DiscreteGpu(index))
}

#[cfg(not(feature = "wgpu"))]
fn wgpu_gpu(_: usize) -> Device {
    unreachable!("Backend::devices checks is_built first")
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Cpu => "cpu",
            Self::Wgpu => "wgpu",
        })
    }
}

impl FromStr for Backend {
    type Err = ClipError;

    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cpu" | "flex" => Ok(Self::Cpu),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            other => Err(ClipError::Backend {
                backend: other.to_string(),
                reason: format!(
                    "unknown backend; the backends are {}",
                    Self::NAMES.join(", ")
                ),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_print_back() {
        for name in Backend::NAMES {
            assert_eq!(name.parse::<Backend>().unwrap().to_string(), name);
        }
        assert_eq!("FLEX".parse::<Backend>().unwrap(), Backend::Cpu);
        let err = "cuda".parse::<Backend>().unwrap_err().to_string();
        assert!(err.contains("cpu, wgpu"), "{err}");
    }

    #[test]
    fn a_backend_not_built_is_a_clear_error() {
        assert!(Backend::Cpu.device(DType::BF16).is_ok());
        let wgpu = Backend::Wgpu.device(DType::BF16);
        let msg = wgpu.unwrap_err().to_string();
        if cfg!(feature = "wgpu") {
            assert!(msg.contains("bf16"), "{msg}");
        } else {
            assert!(msg.contains("--features wgpu"), "{msg}");
        }
    }

    #[test]
    fn data_parallel_device_lists() {
        assert_eq!(Backend::Cpu.devices(3, DType::F32).unwrap().len(), 3);
        let msg = Backend::Cpu.devices(0, DType::F32).unwrap_err().to_string();
        assert!(msg.contains("at least 1"), "{msg}");
        if !cfg!(feature = "wgpu") {
            let msg = Backend::Wgpu.devices(2, DType::F32).unwrap_err().to_string();
            assert!(msg.contains("--features wgpu"), "{msg}");
        }
    }
}
