//! What `fit` trains: the DiST network and, with `head = "linear"`, a trainable classifier on its
//! video embedding. One burn module, so a single optimiser, checkpoint and id map cover both.

use std::collections::BTreeMap;
use std::path::Path;

use burn::module::{Module, ParamId};
use burn::tensor::{Device, Tensor};

use super::config::HeadKind;
use crate::model::{uses_weight_decay, ContrastiveHead, DistConfig, DistModel, LinearHead, ParamInfo};
use crate::tensor_io::{read_safetensors, write_safetensors, StoredDtype};

/// Key prefix of the linear classifier in `model.safetensors` (beside the official
/// `backbone.base_encoder.dist_net.*` keys, which DiST loaders keep to themselves).
pub const CLASSIFIER_PREFIX: &str = "classifier.";

/// DiST plus the optional linear classifier.
#[derive(Module, Debug)]
pub struct Network {
    pub dist: DistModel,
    /// `classifier.weight [K, E]`, `classifier.bias [K]`; `None` for the contrastive head.
    pub linear: Option<LinearHead>,
}

impl Network {
    /// A fresh network for `classes` classes.
    pub fn init(model: &DistConfig, head: HeadKind, classes: usize, device: &Device) -> crate::Result<Self> {
        let dist = model.init(device)?;
        let linear = (head == HeadKind::Linear).then(|| LinearHead::new(model.embed_dim, classes, device));
        Ok(Self { dist, linear })
    }

    /// DiST's parameters (official names), then the classifier's (`classifier.weight`, `.bias`).
    pub fn named_params(&self) -> Vec<ParamInfo> {
        let mut params = self.dist.named_params();
        if let Some(h) = &self.linear {
            let w = &h.classifier.weight;
            let b = &h.classifier.bias;
            for (name, shape, id) in [
                ("classifier.weight", w.shape().to_vec(), w.id),
                ("classifier.bias", b.shape().to_vec(), b.id),
            ] {
                let weight_decay = uses_weight_decay(name, shape.len());
                params.push(ParamInfo { name: name.into(), shape, id, weight_decay });
            }
        }
        params
    }

    /// Ids of the parameters without weight decay (biases, norms, tokens, positions), for AdamW's
    /// second group.
    pub fn no_weight_decay_ids(&self) -> Vec<ParamId> {
        self.named_params().into_iter().filter(|p| !p.weight_decay).map(|p| p.id).collect()
    }

    /// Class scores of video embeddings: the classifier when there is one, else `text`'s cosines.
    ///
    /// # Shapes
    /// - video: `[B, E]` → `[B, K]`
    pub fn logits(&self, video: Tensor<2>, text: Option<&ContrastiveHead>) -> anyhow::Result<Tensor<2>> {
        match (&self.linear, text) {
            (Some(h), _) => Ok(h.logits(video)),
            (None, Some(t)) => Ok(t.logits(video)),
            (None, None) => anyhow::bail!("a contrastive-head model needs class-text embeddings to score"),
        }
    }

    /// Writes DiST in the official layout plus `classifier.*`.
    pub fn save_safetensors(&self, path: &Path, dtype: StoredDtype) -> crate::Result<()> {
        let mut tensors = self.dist.to_host_tensors();
        if let Some(h) = &self.linear {
            tensors.insert(format!("{CLASSIFIER_PREFIX}weight"), crate::tensor_io::HostTensor::from_tensor(&h.classifier.weight.val()));
            tensors.insert(format!("{CLASSIFIER_PREFIX}bias"), crate::tensor_io::HostTensor::from_tensor(&h.classifier.bias.val()));
        }
        write_safetensors(path, &tensors, dtype)
    }

    /// Loads what [`Self::save_safetensors`] wrote (parameter ids are kept).
    pub fn load_safetensors(self, path: &Path) -> anyhow::Result<Self> {
        let mut tensors = read_safetensors(path)?;
        let classifier: BTreeMap<String, _> =
            tensors.extract_if(.., |k, _| k.starts_with(CLASSIFIER_PREFIX)).collect();
        let dist = self.dist.load_tensors(path, crate::model::dist_tensors(tensors))?;
        let linear = match self.linear {
            None => {
                anyhow::ensure!(classifier.is_empty(), "{}: has a linear classifier, the config a contrastive head", path.display());
                None
            }
            Some(h) => {
                let get = |key: &str, expect: &[usize]| -> anyhow::Result<Vec<f32>> {
                    let t = classifier
                        .get(&format!("{CLASSIFIER_PREFIX}{key}"))
                        .ok_or_else(|| anyhow::anyhow!("{}: missing tensor `{CLASSIFIER_PREFIX}{key}` (head = \"linear\")", path.display()))?;
                    anyhow::ensure!(
                        t.shape == expect,
                        "{}: `{CLASSIFIER_PREFIX}{key}` has shape {:?}, the head expects {expect:?}",
                        path.display(),
                        t.shape
                    );
                    Ok(t.data.clone())
                };
                let w = &h.classifier.weight;
                let b = &h.classifier.bias;
                let weight = get("weight", &w.shape().to_vec())?;
                let bias = get("bias", &b.shape().to_vec())?;
                let device = w.val().device();
                let mut h = h;
                h.classifier.weight = h.classifier.weight.map(|old| {
                    Tensor::from_data(burn::tensor::TensorData::new(weight, old.dims()), &device).set_require_grad(old.is_require_grad())
                });
                h.classifier.bias = h.classifier.bias.map(|old| {
                    Tensor::from_data(burn::tensor::TensorData::new(bias, old.dims()), &device).set_require_grad(old.is_require_grad())
                });
                Some(h)
            }
        };
        Ok(Self { dist, linear })
    }
}
