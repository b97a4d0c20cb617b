//! The I-Block of the integration branch (`integration_nets.{l}`): an FFN plus a temporal FFN,
//! summed, with no identity skip (paper Eq. 4b; spec §4).

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use dist_kernels::add;

use super::config::{scaled, DistConfig};
use super::nn::{quick_gelu, Conv3d, LayerNorm, Mlp};

/// `Y = c_proj(σ(c_fc(LN(Ŷ)))) + TFFN(LN_t(Ŷ))`.
#[derive(Module, Debug)]
pub struct IntegrationBlock {
    pub ffn: Mlp,
    pub temporal_ffn: TemporalFfn,
    pub ln: LayerNorm,
    pub ln_temporal: LayerNorm,
}

/// The temporal FFN: pointwise A → A', temporal conv over the T frames of each token position
/// (zero padded at the clip ends, CLS included), QuickGELU, pointwise A' → A.
#[derive(Module, Debug)]
pub struct TemporalFfn {
    /// `[A', A, 1, 1, 1]`.
    pub c_fc1: Conv3d,
    /// `[A', A', kT, 1, 1]`.
    pub c_fc2: Conv3d,
    /// `[A, A', 1, 1, 1]`.
    pub c_proj: Conv3d,
}

impl IntegrationBlock {
    pub(crate) fn new(config: &DistConfig, device: &Device) -> Self {
        let a = config.integration_dim;
        let hidden = scaled(a, config.integration_mlp_ratio);
        let t_hidden = scaled(a, config.integration_temporal_mlp_ratio);
        Self {
            ffn: Mlp::new(a, hidden, device),
            temporal_ffn: TemporalFfn {
                c_fc1: Conv3d::new(a, t_hidden, [1, 1, 1], device),
                c_fc2: Conv3d::new(t_hidden, t_hidden, [config.temporal_kernel, 1, 1], device),
                c_proj: Conv3d::new(t_hidden, a, [1, 1, 1], device),
            },
            ln: LayerNorm::new(a, device),
            ln_temporal: LayerNorm::new(a, device),
        }
    }

    /// # Shapes
    /// - y: `[B·T, N+1, A]` → `[B·T, N+1, A]`
    pub fn forward(&self, y: Tensor<3>, batch: usize) -> Tensor<3> {
        let dims = y.dims();
        let [bt, l, a] = dims;
        let ffn = self.ffn.forward(self.ln.forward(y.clone()));
        // Tokens as a spatial axis, frames as time: [B, T, N+1, 1, A].
        let u = self.ln_temporal.forward(y).reshape([batch, bt / batch, l, 1, a]);
        let tffn = &self.temporal_ffn;
        let u = tffn.c_fc2.forward_same(tffn.c_fc1.forward_same(u));
        let u = tffn.c_proj.forward_same(quick_gelu(u));
        add(ffn, u.reshape(dims))
    }
}
