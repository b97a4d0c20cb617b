//! Reading CLIP checkpoints from disk: a safetensors file or a PyTorch pickle (and its JSON config when one
//! sits beside it), its layout detected from the tensor names, its architecture inferred from the tensor
//! shapes.

mod hf;
mod open_clip;
mod pickle;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use safetensors::{Dtype, SafeTensors};
use sha2::{Digest, Sha256};

use crate::error::{ClipError, Result};
use crate::weights::{ClipWeights, HostTensor, LinearWeights, NormWeights};

/// Which naming scheme a state dict uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// transformers `CLIPModel` / `CLIPVisionModel` / `CLIPVisionModelWithProjection`
    /// (`vision_model.encoder.layers.N.self_attn.q_proj.weight`, ...).
    HuggingFace,
    /// open_clip and OpenAI's original CLIP (`visual.transformer.resblocks.N.attn.in_proj_weight`, ...).
    OpenClip,
}

/// A checkpoint read from disk, before translation to the canonical weights.
pub(crate) struct LoadedCheckpoint {
    pub(crate) weights: ClipWeights,
    pub(crate) layout: Layout,
    /// sha256 of the weight file's bytes.
    pub(crate) sha256: String,
}

/// File extensions read as PyTorch pickles (`torch.save`) rather than safetensors.
const PICKLE_EXTENSIONS: [&str; 4] = ["pt", "pth", "bin", "ckpt"];

/// Loads a directory (`config.json` + `model.safetensors`, or `pytorch_model.bin` as
/// `save_pretrained(safe_serialization=False)` writes), a `.safetensors` file or a PyTorch pickle.
pub(crate) fn load_path(path: &Path) -> Result<LoadedCheckpoint> {
    let file = if path.is_dir() {
        let Some(candidate) = ["model.safetensors", "pytorch_model.bin"].iter().map(|f| path.join(f)).find(|f| f.is_file())
        else {
            return Err(ClipError::NotACheckpoint {
                path: path.to_path_buf(),
                reason: "directory has neither model.safetensors nor pytorch_model.bin (sharded checkpoints are not \
                         supported)"
                    .into(),
            });
        };
        candidate
    } else {
        path.to_path_buf()
    };
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("");
    let tensors =
        if PICKLE_EXTENSIONS.contains(&extension) { pickle::open(&file)? } else { TensorFile::open(&file)? };
    let dir = file.parent().unwrap_or(Path::new("."));
    let (weights, layout) = match detect_layout(&tensors)? {
        Layout::HuggingFace => (hf::read(&tensors, dir)?, Layout::HuggingFace),
        Layout::OpenClip => (open_clip::read(&tensors, dir)?, Layout::OpenClip),
    };
    tracing::info!(
        path = %file.display(),
        ?layout,
        architecture = %weights.config.architecture_name(),
        "loaded CLIP checkpoint"
    );
    Ok(LoadedCheckpoint {
        weights,
        layout,
        sha256: tensors.sha256(),
    })
}

fn detect_layout(file: &TensorFile) -> Result<Layout> {
    if file.contains("vision_model.embeddings.patch_embedding.weight") {
        return Ok(Layout::HuggingFace);
    }
    if file.contains("visual.conv1.weight") {
        return Ok(Layout::OpenClip);
    }
    let mut names: Vec<&str> = file.infos.keys().map(String::as_str).collect();
    names.sort_unstable();
    names.truncate(5);
    Err(ClipError::NotACheckpoint {
        path: file.path.clone(),
        reason: format!(
            "a checkpoint with neither vision_model.embeddings.patch_embedding.weight (Hugging Face) \
             nor visual.conv1.weight (open_clip); first tensors: {names:?}"
        ),
    })
}

struct TensorInfo {
    dtype: Dtype,
    shape: Vec<usize>,
    range: (usize, usize),
}

/// A safetensors file held in memory, read tensor by tensor with shape checks.
pub(crate) struct TensorFile {
    pub(crate) path: PathBuf,
    bytes: Vec<u8>,
    data_start: usize,
    infos: HashMap<String, TensorInfo>,
    /// Prefix stripped from every name: `module.` of DataParallel saves, `state_dict.` / `model.` of
    /// training checkpoints that nest the weights (a pickle's nested dicts arrive joined with dots).
    prefix: String,
    /// sha256 of the file on disk when `bytes` are not its bytes (a pickle converted in memory).
    file_sha256: Option<String>,
}

impl TensorFile {
    pub(crate) fn open(path: &Path) -> Result<Self> {
        let io = |source| ClipError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut bytes = Vec::new();
        fs::File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(io)?;
        Self::from_bytes(path, bytes)
    }

    /// A safetensors file already in memory; `path` names it in errors.
    pub(crate) fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let (header_len, metadata) =
            SafeTensors::read_metadata(&bytes).map_err(|e| ClipError::NotACheckpoint {
                path: path.to_path_buf(),
                reason: format!("not a safetensors file ({e})"),
            })?;
        let infos: HashMap<String, TensorInfo> = metadata
            .tensors()
            .into_iter()
            .map(|(name, info)| {
                (
                    name,
                    TensorInfo {
                        dtype: info.dtype,
                        shape: info.shape.clone(),
                        range: info.data_offsets,
                    },
                )
            })
            .collect();
        let prefix = wrapper_prefix(&infos);
        Ok(Self { path: path.to_path_buf(), bytes, data_start: 8 + header_len, infos, prefix, file_sha256: None })
    }

    fn info(&self, name: &str) -> Option<&TensorInfo> {
        if self.prefix.is_empty() {
            self.infos.get(name)
        } else {
            self.infos.get(&format!("{}{name}", self.prefix))
        }
    }

    pub(crate) fn contains(&self, name: &str) -> bool {
        self.info(name).is_some()
    }

    /// The shape of a tensor, or a [`ClipError::MissingTensor`].
    pub(crate) fn shape(&self, name: &str) -> Result<&[usize]> {
        self.info(name)
            .map(|i| i.shape.as_slice())
            .ok_or_else(|| self.missing(name))
    }

    /// How many blocks `{prefix}{i}.` exist (counting from 0 until the first gap).
    pub(crate) fn count_blocks(&self, prefix: &str) -> usize {
        let full = format!("{}{prefix}", self.prefix);
        let mut max = None;
        for name in self.infos.keys() {
            if let Some(rest) = name.strip_prefix(&full) {
                if let Some(index) = rest.split('.').next().and_then(|s| s.parse::<usize>().ok()) {
                    max = max.max(Some(index));
                }
            }
        }
        max.map_or(0, |m| m + 1)
    }

    fn missing(&self, name: &str) -> ClipError {
        ClipError::MissingTensor {
            path: self.path.clone(),
            tensor: format!("{}{name}", self.prefix),
        }
    }

    /// Reads a tensor as f32, checking it has exactly `expected` shape.
    pub(crate) fn tensor(&self, name: &str, expected: &[usize]) -> Result<HostTensor> {
        let info = self.info(name).ok_or_else(|| self.missing(name))?;
        // A 0-d scalar and a [1] tensor are the same thing to every caller here.
        let scalar_alias = expected == [1] && info.shape.is_empty();
        if info.shape != expected && !scalar_alias {
            return Err(ClipError::ShapeMismatch {
                path: self.path.clone(),
                tensor: format!("{}{name}", self.prefix),
                expected: expected.to_vec(),
                actual: info.shape.clone(),
            });
        }
        let raw = &self.bytes[self.data_start + info.range.0..self.data_start + info.range.1];
        let data: Vec<f32> = match info.dtype {
            Dtype::F32 => raw
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => raw
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => raw
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            #[allow(clippy::cast_possible_truncation)]
            Dtype::F64 => raw
                .chunks_exact(8)
                .map(|b| {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                })
                .collect(),
            other => {
                return Err(ClipError::UnsupportedDtype {
                    path: self.path.clone(),
                    tensor: format!("{}{name}", self.prefix),
                    dtype: format!("{other:?}"),
                });
            }
        };
        Ok(HostTensor::new(expected.to_vec(), data))
    }

    /// sha256 of the whole file.
    pub(crate) fn sha256(&self) -> String {
        self.file_sha256.clone().unwrap_or_else(|| hex::encode(Sha256::digest(&self.bytes)))
    }
}

/// The wrappers every tensor name shares (`state_dict.module.` and the like), stripped as one prefix.
fn wrapper_prefix(infos: &HashMap<String, TensorInfo>) -> String {
    const WRAPPERS: [&str; 4] = ["state_dict.", "model_state_dict.", "model.", "module."];
    let mut prefix = String::new();
    while let Some(wrapper) = WRAPPERS.iter().find(|w| {
        let candidate = format!("{prefix}{w}");
        !infos.is_empty() && infos.keys().all(|k| k.starts_with(&candidate))
    }) {
        prefix.push_str(wrapper);
    }
    prefix
}

/// Reads an optional JSON file next to the weights.
/// CLIP's stored `logit_scale` (a log), or CLIP's initial value ln(1/0.07) when the file has none.
pub(crate) fn read_logit_scale(file: &TensorFile) -> Result<f32> {
    if file.contains("logit_scale") {
        Ok(file.tensor("logit_scale", &[1])?.data[0])
    } else {
        Ok((1.0f32 / 0.07).ln())
    }
}

pub(crate) fn read_json(path: &Path) -> Result<Option<serde_json::Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let text = fs::read_to_string(path).map_err(|source| ClipError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ClipError::InvalidConfig {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })
}

/// `usize` field of a JSON object, if present.
pub(crate) fn json_usize(value: Option<&serde_json::Value>, key: &str) -> Option<usize> {
    value?
        .get(key)?
        .as_u64()
        .and_then(|v| usize::try_from(v).ok())
}

/// Mean/std lists of a preprocessing config (`image_mean` / `mean`), if present and of length 3.
pub(crate) fn json_triplet(value: Option<&serde_json::Value>, key: &str) -> Option<[f32; 3]> {
    let list = value?.get(key)?.as_array()?;
    #[allow(clippy::cast_possible_truncation)]
    let values: Vec<f32> = list
        .iter()
        .filter_map(|v| v.as_f64().map(|f| f as f32))
        .collect();
    values.try_into().ok()
}

/// Side of the square grid whose `n` cells plus one CLS token fill a position table.
pub(crate) fn grid_side(path: &Path, tensor: &str, positions: usize) -> Result<usize> {
    let cells = positions.saturating_sub(1);
    let side = (1..=cells).find(|s| s * s >= cells).unwrap_or(0);
    if side == 0 || side * side != cells {
        return Err(ClipError::NotACheckpoint {
            path: path.to_path_buf(),
            reason: format!(
                "{tensor} has {positions} rows, which is not 1 + a square number of patches"
            ),
        });
    }
    Ok(side)
}

/// A LayerNorm's `weight` and `bias`, `[width]` each.
pub(crate) fn read_norm(file: &TensorFile, prefix: &str, width: usize) -> Result<NormWeights> {
    Ok(NormWeights {
        weight: file.tensor(&format!("{prefix}.weight"), &[width])?,
        bias: file.tensor(&format!("{prefix}.bias"), &[width])?,
    })
}

/// A PyTorch `nn.Linear` (`weight` `[out, in]`, `bias` `[out]`), transposed to `[in, out]`.
pub(crate) fn read_linear(
    file: &TensorFile,
    prefix: &str,
    d_in: usize,
    d_out: usize,
) -> Result<LinearWeights> {
    Ok(LinearWeights {
        weight: file
            .tensor(&format!("{prefix}.weight"), &[d_out, d_in])?
            .transposed(),
        bias: Some(file.tensor(&format!("{prefix}.bias"), &[d_out])?),
    })
}

/// A conv patch embedding `[C, 3, p, p]` as the matrix `[3 p p, C]`.
pub(crate) fn read_patch(
    file: &TensorFile,
    name: &str,
    width: usize,
    patch: usize,
) -> Result<HostTensor> {
    let conv = file.tensor(name, &[width, 3, patch, patch])?;
    Ok(HostTensor::new(vec![width, 3 * patch * patch], conv.data).transposed())
}

/// `heads` from a config (or the OpenAI rule width / 64), checked to divide the width.
pub(crate) fn checked_heads(
    config_path: &Path,
    heads: Option<usize>,
    width: usize,
) -> Result<usize> {
    let heads = heads.unwrap_or((width / 64).max(1));
    if heads == 0 || width % heads != 0 {
        return Err(ClipError::InvalidConfig {
            path: config_path.to_path_buf(),
            reason: format!("{heads} attention heads do not divide the width {width}"),
        });
    }
    Ok(heads)
}

/// The two dimensions of a 2-D tensor.
pub(crate) fn two_dims(file: &TensorFile, name: &str) -> Result<[usize; 2]> {
    let shape = file.shape(name)?;
    match shape {
        [a, b] => Ok([*a, *b]),
        _ => Err(ClipError::NotACheckpoint {
            path: file.path.clone(),
            reason: format!("{name} should be 2-D, found shape {shape:?}"),
        }),
    }
}

/// The error for a patch kernel that is not 4-D.
pub(crate) fn not_4d(file: &TensorFile, name: &str, shape: &[usize]) -> ClipError {
    ClipError::NotACheckpoint {
        path: file.path.clone(),
        reason: format!("{name} should be a [C, 3, p, p] conv kernel, found shape {shape:?}"),
    }
}
