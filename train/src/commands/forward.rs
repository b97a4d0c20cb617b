//! `dist-train forward`: run the DiST head on given frozen taps and dense frames, write the
//! video embedding (and logits against given text embeddings), for comparison with PyTorch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};
use crate::model::{dist_tensors, infer_config, ContrastiveHead, DistConfig, InputShapes};
use crate::tensor_io::{read_npy, read_safetensors, write_safetensors, HostTensor, StoredDtype};

/// Arguments of `dist-train forward`.
#[derive(Debug, Clone, clap::Args)]
pub struct ForwardArgs {
    /// DiST weights, safetensors in the official layout (`backbone.base_encoder.dist_net.*` or
    /// bare `dist_net` names), F32/F16/BF16.
    #[arg(long)]
    pub weights: PathBuf,
    /// Frozen ViT taps: safetensors with `taps.{l}` f32 `[B*T, N+1, C]`, one per selected layer
    /// (taken in increasing `l`).
    #[arg(long)]
    pub taps: PathBuf,
    /// Dense frames, `.npy` f32 `[B, 3, γT, H, W]`, CLIP-normalised. Not needed by models
    /// without a temporal encoder.
    #[arg(long)]
    pub frames: Option<PathBuf>,
    /// Class-text embeddings, safetensors with one rank-2 tensor `[K, E]` (or `text_embeds`).
    #[arg(long)]
    pub text: Option<PathBuf>,
    /// Model config (TOML); by default every dimension is inferred from the weights and inputs.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Logit scale for `--text` (OpenAI CLIP: 100).
    #[arg(long, default_value_t = ContrastiveHead::CLIP_LOGIT_SCALE)]
    pub logit_scale: f64,
    /// Output safetensors: `video_embeds` `[B, E]` and, with `--text`, `logits` `[B, K]`.
    #[arg(long)]
    pub out: PathBuf,
}

fn read_taps(path: &Path) -> Result<Vec<(usize, HostTensor)>> {
    let mut taps = Vec::new();
    for (name, tensor) in read_safetensors(path)? {
        let layer = name.strip_prefix("taps.").and_then(|l| l.parse::<usize>().ok()).ok_or_else(|| {
            Error::input(format!("{}: tensor `{name}`", path.display()), &tensor.shape, "names of the form taps.{l}")
        })?;
        taps.push((layer, tensor));
    }
    if taps.is_empty() {
        return Err(Error::input(format!("{}", path.display()), &[0], "at least one taps.{l} tensor"));
    }
    taps.sort_by_key(|(layer, _)| *layer);
    Ok(taps)
}

fn read_text(path: &Path) -> Result<HostTensor> {
    let mut tensors = read_safetensors(path)?;
    let text = match tensors.remove("text_embeds") {
        Some(t) => t,
        None if tensors.len() == 1 => tensors.into_values().next().expect("one tensor"),
        None => {
            return Err(Error::input(
                format!("{}", path.display()),
                &[tensors.len()],
                "one rank-2 tensor or a tensor named text_embeds",
            ))
        }
    };
    Ok(text)
}

fn dims<const D: usize>(name: &str, tensor: &HostTensor) -> Result<[usize; D]> {
    tensor.shape.clone().try_into().map_err(|_| Error::input(name, &tensor.shape, format!("a rank-{D} tensor")))
}

/// Runs the command; returns the config used.
///
/// # Errors
/// Unreadable or inconsistent inputs, weights that do not fit the config.
pub fn run(args: &ForwardArgs) -> Result<DistConfig> {
    let device = Device::flex();
    let weights = dist_tensors(read_safetensors(&args.weights)?);
    let taps = read_taps(&args.taps)?;
    let frames = args.frames.as_deref().map(read_npy).transpose()?;
    let shapes = InputShapes {
        taps: Some(dims::<3>("taps", &taps[0].1)?),
        frames: frames.as_ref().map(|f| dims::<5>("frames", f)).transpose()?,
    };
    let config = match &args.config {
        Some(path) => DistConfig::from_toml_file(path)?,
        None => infer_config(&args.weights, &weights, shapes)?,
    };
    tracing::info!(
        layers = taps.len(),
        width = config.width,
        integration_dim = config.integration_dim,
        temporal_dim = config.temporal_dim,
        frames = config.frames,
        gamma = config.gamma,
        pooling_layers = config.pooling_layers,
        "inferred model config"
    );
    let model = config.init(&device)?.load_tensors(&args.weights, weights)?;

    let tap_tensors = taps
        .iter()
        .map(|(layer, t)| t.to_tensor::<3>(&format!("taps.{layer}"), &device))
        .collect::<Result<Vec<_>>>()?;
    let frames = match frames {
        Some(f) => f.to_tensor::<5>("frames", &device)?,
        None if !config.has_temporal() => Tensor::zeros([1, 1, 1, 1, 1], &device),
        None => return Err(Error::input("frames", &[], "--frames is required: the model has a temporal encoder")),
    };
    let video = model.forward(&tap_tensors, frames)?;

    let mut out = BTreeMap::new();
    if let Some(path) = &args.text {
        let text = read_text(path)?.to_tensor::<2>("text", &device)?;
        let logits = ContrastiveHead::new(text, args.logit_scale).logits(video.clone());
        out.insert("logits".to_string(), HostTensor::from_tensor(&logits));
    }
    out.insert("video_embeds".to_string(), HostTensor::from_tensor(&video));
    write_safetensors(&args.out, &out, StoredDtype::F32)?;
    Ok(config)
}
