//! Gradients reach every trainable tensor except the documented dead Φ of the last layer, and
//! never the frozen inputs.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::tensor::{Device, Gradients, Tensor};
use dist_train::model::{DistConfig, PoolingKind, TemporalBlockKind, UpsampleKind};

use super::common::{inputs, tiny_config, values};

struct GradNorms<'a> {
    grads: &'a Gradients,
    norms: HashMap<ParamId, Option<f32>>,
}

impl ModuleVisitor for GradNorms<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let norm = param.val().grad(self.grads).map(|g| values(&g).iter().map(|v| v * v).sum::<f32>());
        self.norms.insert(param.id, norm);
    }
}

fn check(name: &str, config: DistConfig) {
    let device = Device::flex().autodiff();
    let model = config.init(&device).unwrap();
    let (taps, frames) = inputs(&config, 2, [2, 2], &device);
    let taps: Vec<Tensor<3>> = taps.into_iter().map(Tensor::require_grad).collect();
    let frames = frames.require_grad();
    let out = model.forward(&taps, frames.clone()).unwrap();
    let grads = out.powi_scalar(2).sum().backward();

    let mut visitor = GradNorms { grads: &grads, norms: HashMap::new() };
    model.visit(&mut visitor);
    let last = config.selected_layers().unwrap().len() - 1;
    let dead_prefix = format!("integration2temporal_nets.{last}.");
    for param in model.named_params() {
        let norm = visitor.norms[&param.id];
        if param.name.starts_with(&dead_prefix) {
            assert!(norm.is_none(), "{name}: dead {} has a gradient", param.name);
        } else {
            let norm = norm.unwrap_or_else(|| panic!("{name}: no gradient for {}", param.name));
            assert!(norm > 0.0, "{name}: zero gradient for {}", param.name);
        }
    }
    assert!(frames.grad(&grads).is_none(), "{name}: gradient reached the frames");
    assert!(taps.iter().all(|t| t.grad(&grads).is_none()), "{name}: gradient reached the taps");
}

#[test]
fn gradient_reaches_every_trainable_tensor() {
    let base = tiny_config();
    check("default", base.clone());
    check("c3d", DistConfig { temporal_block: TemporalBlockKind::C3d, ..base.clone() });
    check("transformer", DistConfig { temporal_block: TemporalBlockKind::Transformer, ..base.clone() });
    check("deconv", DistConfig { upsample: UpsampleKind::TransposedConv, ..base.clone() });
    check("temporal-only", DistConfig { integration: false, temporal_output_fusion: true, ..base.clone() });
    check("weighted pooling", DistConfig { pooling: PoolingKind::Weighted, patches: 4, ..base.clone() });
    check("no phi", DistConfig { integration_to_temporal: false, ..base.clone() });
    check("no psi", DistConfig { temporal_to_integration: false, temporal_output_fusion: true, ..base });
}
