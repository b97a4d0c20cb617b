//! Named trainable parameters in the official key layout, the weight-decay grouping of spec §11
//! and parameter counts.

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use super::dist::DistModel;

/// Prefix of the DiST weights in the official checkpoints (`model_state` of
/// `alibaba-mmai-research/DiST`).
pub const OFFICIAL_PREFIX: &str = "backbone.base_encoder.dist_net.";

/// One trainable tensor.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamInfo {
    /// Dotted name relative to `dist_net` (e.g. `temporal_nets.0.ln.weight`).
    pub name: String,
    pub shape: Vec<usize>,
    pub id: ParamId,
    /// Whether AdamW applies weight decay to it (spec §11).
    pub weight_decay: bool,
}

impl ParamInfo {
    /// Number of scalars.
    #[must_use]
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

/// The official optimizer's intent (spec §11): weight decay on tensors of rank ≥ 2, none on
/// biases, LayerNorm parameters, class tokens and positional embeddings. The weighted pooling's
/// per-position table is a position table too: decay would pull it from the average to zero.
#[must_use]
pub fn uses_weight_decay(name: &str, rank: usize) -> bool {
    rank >= 2 && !name.ends_with("cls_token") && !name.ends_with("positional_embedding") && name != "pooling_weights"
}

/// Tracks the dotted module path during a traversal. Enum variants add no name, so every
/// variant of a block shares the official names.
#[derive(Default)]
pub(crate) struct PathStack {
    parts: Vec<Option<String>>,
}

impl PathStack {
    pub(crate) fn enter(&mut self, name: &str, container_type: &str) {
        self.parts.push((!container_type.starts_with("Enum:")).then(|| name.to_string()));
    }

    pub(crate) fn exit(&mut self) {
        self.parts.pop();
    }

    pub(crate) fn name(&self) -> String {
        self.parts.iter().flatten().cloned().collect::<Vec<_>>().join(".")
    }
}

struct Collector {
    path: PathStack,
    params: Vec<ParamInfo>,
}

impl ModuleVisitor for Collector {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let name = self.path.name();
        let weight_decay = uses_weight_decay(&name, D);
        self.params.push(ParamInfo { name, shape: param.shape().to_vec(), id: param.id, weight_decay });
    }
}

/// Visits every float parameter with its dotted name and lets `f` replace it.
pub(crate) struct NamedMapper<F> {
    path: PathStack,
    f: F,
}

impl<F> NamedMapper<F> {
    pub(crate) fn new(f: F) -> Self {
        Self { path: PathStack::default(), f }
    }
}

/// A callback of [`NamedMapper`]: receives the dotted name and the current value, returns the
/// replacement (or `None` to keep it).
pub(crate) trait ParamReplacer {
    fn replace<const D: usize>(&mut self, name: &str, current: &Tensor<D>) -> Option<Tensor<D>>;
}

impl<F: ParamReplacer> ModuleMapper for NamedMapper<F> {
    fn enter_module(&mut self, name: &str, container_type: &str) {
        self.path.enter(name, container_type);
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.exit();
    }

    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let name = self.path.name();
        let replacement = (self.f).replace(&name, &param.val());
        match replacement {
            Some(value) => param.map(|old| value.set_require_grad(old.is_require_grad())),
            None => param,
        }
    }
}

impl<F> NamedMapper<F> {
    pub(crate) fn into_inner(self) -> F {
        self.f
    }
}

impl DistModel {
    /// Every trainable tensor, in module order, with its official name (without
    /// [`OFFICIAL_PREFIX`]) and weight-decay flag.
    #[must_use]
    pub fn named_params(&self) -> Vec<ParamInfo> {
        let mut collector = Collector { path: PathStack::default(), params: Vec::new() };
        self.visit(&mut collector);
        collector.params
    }

    /// Number of trainable scalars.
    #[must_use]
    pub fn param_count(&self) -> usize {
        self.named_params().iter().map(ParamInfo::numel).sum()
    }

    /// Parameter ids split into (with weight decay, without), for the trainer's AdamW groups.
    #[must_use]
    pub fn weight_decay_groups(&self) -> (Vec<ParamId>, Vec<ParamId>) {
        let (decay, no_decay): (Vec<_>, Vec<_>) = self.named_params().into_iter().partition(|p| p.weight_decay);
        (decay.into_iter().map(|p| p.id).collect(), no_decay.into_iter().map(|p| p.id).collect())
    }
}
