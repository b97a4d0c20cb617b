//! Weights in the official checkpoint layout (`backbone.base_encoder.dist_net.*`, spec §13) as
//! safetensors: load by name (F32/F16/BF16), save, and infer a [`DistConfig`] from a file.

use std::collections::BTreeMap;
use std::path::Path;

use burn::tensor::{Tensor, TensorData};

use super::config::{DistConfig, DownsampleKind, LayerSelection, PoolingKind, TemporalBlockKind, UpsampleKind};
use super::dist::DistModel;
use super::params::{NamedMapper, ParamReplacer, OFFICIAL_PREFIX};
use crate::error::{Error, Result};
use crate::tensor_io::{read_safetensors, write_safetensors, HostTensor, StoredDtype};

/// The DiST tensors of a weight file, keyed by their name relative to `dist_net`. Files holding
/// official keys keep only those under [`OFFICIAL_PREFIX`] (the frozen CLIP weights beside them
/// are ignored); files without any such key are taken as bare `dist_net` names.
#[must_use]
pub fn dist_tensors(tensors: BTreeMap<String, HostTensor>) -> BTreeMap<String, HostTensor> {
    if tensors.keys().any(|k| k.starts_with(OFFICIAL_PREFIX)) {
        tensors
            .into_iter()
            .filter_map(|(k, v)| k.strip_prefix(OFFICIAL_PREFIX).map(|name| (name.to_string(), v)))
            .collect()
    } else {
        tensors
    }
}

struct Replacer<'a> {
    tensors: &'a BTreeMap<String, HostTensor>,
}

impl ParamReplacer for Replacer<'_> {
    fn replace<const D: usize>(&mut self, name: &str, current: &Tensor<D>) -> Option<Tensor<D>> {
        let host = self.tensors.get(name)?;
        let data = TensorData::new(host.data.clone(), host.shape.clone());
        Some(Tensor::from_data(data, &current.device()))
    }
}

impl DistModel {
    /// Loads weights from a safetensors file in the official layout (F32, F16 or BF16).
    ///
    /// # Errors
    /// I/O, a malformed file, a missing tensor, a tensor of the wrong shape or dtype, or a
    /// `dist_net` tensor the model has no place for.
    pub fn load_safetensors(self, path: &Path) -> Result<Self> {
        self.load_tensors(path, dist_tensors(read_safetensors(path)?))
    }

    /// Loads already-read `dist_net` tensors (names without prefix); `path` names the source in
    /// errors. Every parameter must be present with its exact shape, and nothing else.
    ///
    /// # Errors
    /// As [`Self::load_safetensors`].
    pub fn load_tensors(self, path: &Path, tensors: BTreeMap<String, HostTensor>) -> Result<Self> {
        let params = self.named_params();
        for param in &params {
            let host = tensors
                .get(&param.name)
                .ok_or_else(|| Error::MissingTensor { path: path.into(), key: param.name.clone() })?;
            if host.shape != param.shape {
                return Err(Error::TensorShape {
                    path: path.into(),
                    key: param.name.clone(),
                    got: host.shape.clone(),
                    expected: param.shape.clone(),
                });
            }
        }
        let unexpected: Vec<&String> =
            tensors.keys().filter(|k| !params.iter().any(|p| &p.name == *k)).collect();
        if let Some(first) = unexpected.first() {
            return Err(Error::UnexpectedTensors { path: path.into(), count: unexpected.len(), first: (*first).clone() });
        }
        let mut mapper = NamedMapper::new(Replacer { tensors: &tensors });
        let model = burn::module::Module::map(self, &mut mapper);
        drop(mapper.into_inner());
        Ok(model)
    }

    /// Every parameter as a host tensor under its full official key.
    #[must_use]
    pub fn to_host_tensors(&self) -> BTreeMap<String, HostTensor> {
        struct Copier(BTreeMap<String, HostTensor>);
        impl ParamReplacer for Copier {
            fn replace<const D: usize>(&mut self, name: &str, current: &Tensor<D>) -> Option<Tensor<D>> {
                self.0.insert(format!("{OFFICIAL_PREFIX}{name}"), HostTensor::from_tensor(current));
                None
            }
        }
        let mut mapper = NamedMapper::new(Copier(BTreeMap::new()));
        let _ = burn::module::Module::map(self.clone(), &mut mapper);
        mapper.into_inner().0
    }

    /// Saves the weights in the official layout.
    ///
    /// # Errors
    /// I/O or serialisation failure.
    pub fn save_safetensors(&self, path: &Path, dtype: StoredDtype) -> Result<()> {
        write_safetensors(path, &self.to_host_tensors(), dtype)
    }
}

/// Shapes of the forward inputs, when known, to complete what weights cannot tell (T, γ).
#[derive(Debug, Clone, Copy, Default)]
pub struct InputShapes {
    /// `[B·T, N+1, C]`.
    pub taps: Option<[usize; 3]>,
    /// `[B, 3, γT, H, W]`.
    pub frames: Option<[usize; 5]>,
}

/// Derives the model config from `dist_net` tensors (see [`dist_tensors`]) and the input shapes.
///
/// Read from the weights: C, A, D, E, P, stem kernel, temporal kernel, MLP ratios, layer count,
/// pooling depth, T-Block kind, Ψ/Φ kinds and which branches exist; T and γ from the weights
/// when they hold them (Ψ/pooling tokens, DConv kernel), else from the inputs. Not recoverable
/// from shapes, left at their defaults (pass a config to override): avg- vs max-pooling Ψ,
/// nearest vs trilinear Φ, attention heads. The selected blocks are numbered 1..=layers.
///
/// # Errors
/// [`Error::Infer`] naming what could not be derived.
pub fn infer_config(path: &Path, tensors: &BTreeMap<String, HostTensor>, inputs: InputShapes) -> Result<DistConfig> {
    let infer = |what: &'static str, reason: String| Error::Infer { path: path.into(), what, reason };
    let shape = |key: &str| tensors.get(key).map(|t| t.shape.as_slice());
    let count = |prefix: &str, suffix: &str| {
        (0..).take_while(|i| tensors.contains_key(&format!("{prefix}.{i}.{suffix}"))).count()
    };

    let mut config = DistConfig::default();
    let [a, e] = match shape("proj") {
        Some(&[a, e]) => [a, e],
        _ => return Err(infer("A and E", "no rank-2 `proj` tensor".into())),
    };
    config.integration_dim = a;
    config.embed_dim = e;
    config.width = match shape("proj_spatial_cls_token.weight") {
        Some(&[_, c]) => c,
        _ => return Err(infer("C", "no rank-2 `proj_spatial_cls_token.weight`".into())),
    };

    config.temporal_encoder = tensors.contains_key("temporal_stem.weight");
    config.integration = tensors.contains_key("input_linears.0.weight");
    config.integration_to_temporal = tensors.contains_key("integration2temporal_nets.0.linear_fuse.weight");
    config.temporal_to_integration = tensors.contains_key("temporal2integration_nets.0.cls_token");
    config.temporal_output_fusion = tensors.contains_key("temporal_output.cls_token");
    let layers = count("input_linears", "weight").max(count("temporal_nets", "ln.weight")).max(count("temporal_nets", "ln_1.weight"));
    if layers == 0 && (config.integration || config.temporal_encoder) {
        return Err(infer("layers", "no `input_linears.0` or `temporal_nets.0`".into()));
    }
    config.encoder_layers = layers.max(1);
    config.layers = LayerSelection::Named("all".into());

    if let Some(&[d, _, kt, p, _]) = shape("temporal_stem.weight") {
        config.temporal_dim = d;
        config.stem_temporal_kernel = kt;
        config.patch_size = p;
    }

    // T-Block kind and kernel.
    if let Some(fc1) = shape("temporal_nets.0.temporal_net.c_fc1.weight") {
        config.temporal_mlp_ratio = fc1[0] as f64 / config.temporal_dim as f64;
        if fc1[2] > 1 || fc1[3] == 1 {
            config.temporal_block = TemporalBlockKind::R2plus1d;
            config.temporal_kernel = fc1[2];
        } else {
            config.temporal_block = TemporalBlockKind::R2plus1dSpatialFirst;
            config.temporal_kernel = shape("temporal_nets.0.temporal_net.c_fc2.weight").map_or(3, |s| s[2]);
        }
    } else if let Some(fc) = shape("temporal_nets.0.temporal_net.c_fc.weight") {
        config.temporal_block = TemporalBlockKind::C3d;
        config.temporal_kernel = fc[2];
    } else if let Some(fc) = shape("temporal_nets.0.mlp.c_fc.weight") {
        config.temporal_block = TemporalBlockKind::Transformer;
        config.temporal_mlp_ratio = fc[0] as f64 / config.temporal_dim as f64;
    }
    if let Some(fc2) = shape("integration_nets.0.temporal_ffn.c_fc2.weight") {
        config.temporal_kernel = fc2[2];
    }
    if let Some(fc) = shape("integration_nets.0.ffn.c_fc.weight") {
        config.integration_mlp_ratio = fc[0] as f64 / a as f64;
    }
    if let Some(fc1) = shape("integration_nets.0.temporal_ffn.c_fc1.weight") {
        config.integration_temporal_mlp_ratio = fc1[0] as f64 / a as f64;
    }

    // Pooling.
    config.pooling_layers = count("adapooling_nets", "positional_embedding");
    config.pooling = if config.pooling_layers > 0 { PoolingKind::Ada } else { PoolingKind::Mean };
    if let Some(tokens) = inputs.taps.map(|s| s[1]).filter(|&l| l > 1) {
        config.patches = tokens - 1;
    }
    if let Some(&[tokens, _]) = shape("pooling_weights") {
        config.pooling = PoolingKind::Weighted;
        config.patches = tokens.saturating_sub(1);
    }
    if let Some(fc) = shape("adapooling_nets.0.output_map_cls_token.c_fc.weight") {
        config.pooling_mlp_ratio = fc[0] / a;
    }

    // Lateral kinds; γ from a temporal kernel when present.
    let mut gamma = None;
    let psi_key = ["temporal2integration_nets.0.linear_fuse.weight", "temporal_output.linear_fuse.weight"]
        .into_iter()
        .find_map(|k| shape(k));
    match psi_key {
        Some(s) if s.len() == 5 => {
            config.downsample = DownsampleKind::Dconv;
            gamma = Some(s[2]);
        }
        Some(_) => config.downsample = DownsampleKind::AvgPool,
        None => {}
    }
    match shape("integration2temporal_nets.0.linear_fuse.weight") {
        Some(s) if s.len() == 5 => {
            config.upsample = UpsampleKind::TransposedConv;
            gamma = Some(s[2]);
        }
        _ => config.upsample = UpsampleKind::Nearest,
    }

    // T: from per-frame tensors, else from the inputs.
    let frames_from_weights = ["temporal2integration_nets.0.cls_token", "temporal_output.cls_token"]
        .into_iter()
        .find_map(|k| shape(k).map(|s| s[2]))
        .or_else(|| shape("adapooling_nets.0.positional_embedding").map(|s| s[1]));
    let frames_from_inputs = match (inputs.taps, inputs.frames) {
        (Some([bt, ..]), Some([b, ..])) if b > 0 && bt % b == 0 => Some(bt / b),
        _ => None,
    };
    config.frames = frames_from_weights
        .or(frames_from_inputs)
        .ok_or_else(|| infer("T", "no per-frame tensor in the weights and no taps+frames shapes".into()))?;
    config.gamma = match (gamma, inputs.frames) {
        (Some(g), _) => g,
        (None, Some([_, _, td, _, _])) if td % config.frames == 0 => td / config.frames,
        (None, _) if !config.temporal_encoder => 1,
        (None, _) => return Err(infer("γ", "no temporal kernel in the weights and no frames shape".into())),
    };
    config.validate()?;
    Ok(config)
}
