//! dist-train: the trainable part of DiST (Qing et al., ICCV 2023) on frozen CLIP ViT features.
//!
//! - [`model`]: the DiST network, its heads, losses, parameter naming and checkpoint I/O.
//! - [`commands`]: the `dist-train` subcommands (the binary only parses and dispatches).
//! - [`frozen`]: decode + frozen CLIP on raw videos (`predict`).
//! - [`tensor_io`]: safetensors / `.npy` tensors on the host.

pub mod bench;
pub mod commands;
pub mod error;
pub mod frozen;
pub mod model;
pub mod tensor_io;
pub mod trainer;

pub use error::{Error, Result};
