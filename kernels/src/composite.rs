//! The fused ops as compositions of burn's primitive ops: the default bodies of
//! [`crate::FusedOps`], used by backends without a kernel and by non-f32 element types.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};

use crate::QUICK_GELU_ALPHA;

pub(crate) fn quick_gelu<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let s = B::sigmoid(B::float_mul_scalar(x.clone(), QUICK_GELU_ALPHA.into()));
    B::float_mul(x, s)
}

/// `grad · (s + α x s (1 - s))`, `s = sigmoid(α x)`.
pub(crate) fn quick_gelu_backward<B: Backend>(x: FloatTensor<B>, grad: FloatTensor<B>) -> FloatTensor<B> {
    let s = B::sigmoid(B::float_mul_scalar(x.clone(), QUICK_GELU_ALPHA.into()));
    let one_minus_s = B::float_add_scalar(B::float_neg(s.clone()), 1.0.into());
    let ax = B::float_mul_scalar(x, QUICK_GELU_ALPHA.into());
    let slope = B::float_add(s.clone(), B::float_mul(B::float_mul(ax, s), one_minus_s));
    B::float_mul(grad, slope)
}

/// `dx = rstd (g - mean(g) - x̂ mean(g x̂))` with `g = grad γ`; `dγ = Σ grad x̂`, `dβ = Σ grad`.
pub(crate) fn layer_norm_backward<B: Backend>(
    x: FloatTensor<B>,
    gamma: FloatTensor<B>,
    grad: FloatTensor<B>,
    epsilon: f64,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let shape = x.shape();
    let d = shape[shape.num_dims() - 1];
    let rows = shape.num_elements() / d.max(1);
    let x = B::float_reshape(x, [rows, d].into());
    let grad = B::float_reshape(grad, [rows, d].into());
    let mean = B::float_mean_dim(x.clone(), 1);
    let centered = B::float_sub(x, mean);
    let var = B::float_mean_dim(B::float_mul(centered.clone(), centered.clone()), 1);
    let rstd = B::float_recip(B::float_sqrt(B::float_add_scalar(var, epsilon.into())));
    let xhat = B::float_mul(centered, rstd.clone());
    let g = B::float_mul(grad.clone(), B::float_reshape(gamma, [1, d].into()));
    let mean_g = B::float_mean_dim(g.clone(), 1);
    let mean_gx = B::float_mean_dim(B::float_mul(g.clone(), xhat.clone()), 1);
    let dx = B::float_mul(B::float_sub(B::float_sub(g, mean_g), B::float_mul(xhat.clone(), mean_gx)), rstd);
    let dgamma = B::float_reshape(B::float_sum_dim(B::float_mul(grad.clone(), xhat), 0), [d].into());
    let dbeta = B::float_reshape(B::float_sum_dim(grad, 0), [d].into());
    (B::float_reshape(dx, shape), dgamma, dbeta)
}
