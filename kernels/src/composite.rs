//! The fused ops as compositions of burn's primitive ops: the default bodies of
//! [`crate::FusedOps`], used by backends without a kernel and by non-f32 element types.

use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::ops::{AttentionModuleOptions, PadMode};
use burn::tensor::Slice;

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

/// The sum over the rows of a matrix. `x: [rows, n]` → `[n]`.
pub(crate) fn sum_rows<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    let n = x.shape()[1];
    B::float_reshape(B::float_sum_dim(x, 0), [n].into())
}

/// `x · w + bias` on every row. `x: [rows, k]`, `w: [k, n]`, `bias: [n]` → `[rows, n]`.
pub(crate) fn linear<B: crate::FusedOps>(x: FloatTensor<B>, w: FloatTensor<B>, bias: FloatTensor<B>) -> FloatTensor<B> {
    let n = bias.shape()[0];
    B::float_add(B::fused_matmul(x, w), B::float_reshape(bias, [1, n].into()))
}

/// Self-attention on a packed `[B·N, 3·C]` projection through burn's `attention`:
/// split into q, k, v `[B, H, N, Dh]`, attend, heads back side by side → `[B·N, C]`.
pub(crate) fn packed_attention<B: Backend>(
    qkv: FloatTensor<B>,
    batch: usize,
    heads: usize,
    causal: bool,
) -> FloatTensor<B> {
    let shape = qkv.shape();
    let (rows, dim) = (shape[0], shape[1] / 3);
    let (n, dh) = (rows / batch, dim / heads);
    let qkv = B::float_permute(B::float_reshape(qkv, [batch, n, 3, heads, dh].into()), &[2, 0, 3, 1, 4]);
    let part = |i: usize| {
        let mut slices = whole(&qkv.shape());
        slices[0] = Slice::new(i as isize, Some(i as isize + 1), 1);
        B::float_reshape(B::float_slice(qkv.clone(), &slices), [batch, heads, n, dh].into())
    };
    let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: causal };
    let context = B::attention(part(0), part(1), part(2), None, None, options); // [B, H, N, Dh]
    B::float_reshape(B::float_swap_dims(context, 1, 2), [rows, dim].into())
}

/// AdamW as burn's tensor ops compute it, op for op (`s` as [`crate::AdamWStep::scalars`]).
pub(crate) fn adamw<B: Backend>(
    param: FloatTensor<B>,
    grad: FloatTensor<B>,
    m1: FloatTensor<B>,
    m2: FloatTensor<B>,
    s: [f32; crate::ADAMW_SCALARS],
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let [beta_1, f1, beta_2, f2, c1, c2, epsilon, decay, lr] = s.map(|v| v.into());
    let m1 = B::float_add(B::float_mul_scalar(m1, beta_1), B::float_mul_scalar(grad.clone(), f1));
    let m2 = B::float_add(B::float_mul_scalar(m2, beta_2), B::float_mul_scalar(B::float_mul(grad.clone(), grad), f2));
    let m1_hat = B::float_div_scalar(m1.clone(), c1);
    let m2_hat = B::float_div_scalar(m2.clone(), c2);
    let delta = B::float_div(m1_hat, B::float_add_scalar(B::float_sqrt(m2_hat), epsilon));
    let param = B::float_sub(B::float_mul_scalar(param, decay), B::float_mul_scalar(delta, lr));
    (param, m1, m2)
}

/// The offset of tap `i` of a kernel extent `k` under "same" padding: `i - k/2`.
pub(crate) fn tap_offset(i: usize, k: usize) -> isize {
    i as isize - (k / 2) as isize
}

/// Slices that keep every index of every axis of `shape`.
fn whole(shape: &burn::tensor::Shape) -> Vec<Slice> {
    shape.iter().map(|&n| Slice::new(0, Some(n as isize), 1)).collect()
}

/// `out[.., i, ..] = x[.., i + offset, ..]` along `dim`, zero where `i + offset` falls outside.
fn shift<B: Backend>(x: FloatTensor<B>, dim: usize, offset: isize) -> FloatTensor<B> {
    if offset == 0 {
        return x;
    }
    let shape = x.shape();
    let len = shape[dim];
    let k = offset.unsigned_abs().min(len);
    let mut slices = whole(&shape);
    let mut padding = vec![(0usize, 0usize); shape.num_dims()];
    if offset > 0 {
        slices[dim] = Slice::new(k as isize, Some(len as isize), 1);
        padding[dim] = (0, k);
    } else {
        slices[dim] = Slice::new(0, Some((len - k) as isize), 1);
        padding[dim] = (k, 0);
    }
    B::float_pad(B::float_slice(x, &slices), &padding, PadMode::Constant(0.0))
}

/// The taps of `kernel` in the order of axis 4 of [`crate::conv_tap_sum`]'s input, as the
/// offsets `(t, h, w)` each reads its output from.
pub(crate) fn tap_offsets(kernel: [usize; 3]) -> impl Iterator<Item = [isize; 3]> {
    let [kt, kh, kw] = kernel;
    (0..kt).flat_map(move |i| {
        (0..kh).flat_map(move |j| (0..kw).map(move |l| [tap_offset(i, kt), tap_offset(j, kh), tap_offset(l, kw)]))
    })
}

/// `Σ_k shift(y[.., k, :], offset_k)`. `y: [B, T, H, W, K, C]` → `[B, T, H, W, C]`.
pub(crate) fn tap_sum<B: Backend>(y: FloatTensor<B>, kernel: [usize; 3]) -> FloatTensor<B> {
    let shape = y.shape();
    let (b, t, h, w, c) = (shape[0], shape[1], shape[2], shape[3], shape[5]);
    let mut out: Option<FloatTensor<B>> = None;
    for (k, offsets) in tap_offsets(kernel).enumerate() {
        let mut slices = whole(&shape);
        slices[4] = Slice::new(k as isize, Some(k as isize + 1), 1);
        let mut tap = B::float_reshape(B::float_slice(y.clone(), &slices), [b, t, h, w, c].into());
        for (axis, offset) in offsets.into_iter().enumerate() {
            tap = shift::<B>(tap, axis + 1, offset);
        }
        out = Some(match out {
            Some(acc) => B::float_add(acc, tap),
            None => tap,
        });
    }
    out.expect("a kernel has at least one tap")
}

/// Each tap's gradient is the output gradient shifted back. `grad: [B, T, H, W, C]` →
/// `[B, T, H, W, K, C]`.
pub(crate) fn tap_sum_backward<B: Backend>(grad: FloatTensor<B>, kernel: [usize; 3]) -> FloatTensor<B> {
    let shape = grad.shape();
    let (b, t, h, w, c) = (shape[0], shape[1], shape[2], shape[3], shape[4]);
    let taps: Vec<FloatTensor<B>> = tap_offsets(kernel)
        .map(|offsets| {
            let mut tap = grad.clone();
            for (axis, offset) in offsets.into_iter().enumerate() {
                tap = shift::<B>(tap, axis + 1, -offset);
            }
            B::float_reshape(tap, [b, t, h, w, 1, c].into())
        })
        .collect();
    B::float_cat(taps, 4)
}

/// [`crate::FusedOps::fused_conv_same`] as one gemm for every tap, the tap sum and the bias.
pub(crate) fn conv_same<B: crate::FusedOps>(
    x: FloatTensor<B>,
    weights: FloatTensor<B>,
    bias: FloatTensor<B>,
    kernel: [usize; 3],
) -> FloatTensor<B> {
    let [b, t, h, w, c_in]: [usize; 5] = x.shape().dims();
    let [taps, c_out] = [kernel.iter().product(), bias.shape()[0]];
    let y = B::fused_matmul(B::float_reshape(x, [b * t * h * w, c_in].into()), weights);
    let out = B::fused_tap_sum(B::float_reshape(y, [b, t, h, w, taps, c_out].into()), kernel);
    B::float_add(out, B::float_reshape(bias, [1, 1, 1, 1, c_out].into()))
}

/// [`crate::FusedOps::fused_conv_same_backward`] through the tap sum's backward and two gemms.
pub(crate) fn conv_same_backward<B: crate::FusedOps>(
    x: FloatTensor<B>,
    weights: FloatTensor<B>,
    grad: FloatTensor<B>,
    kernel: [usize; 3],
    input_grad: bool,
) -> (Option<FloatTensor<B>>, FloatTensor<B>, FloatTensor<B>) {
    let shape = x.shape();
    let [b, t, h, w, c_in]: [usize; 5] = shape.dims();
    let rows = b * t * h * w;
    let width = weights.shape()[1];
    let c_out = grad.shape()[4];
    let dy = B::float_reshape(B::fused_tap_sum_backward(grad.clone(), kernel), [rows, width].into());
    let dx = input_grad.then(|| B::float_reshape(B::fused_matmul(dy.clone(), B::float_transpose(weights)), shape));
    let dw = B::fused_matmul(B::float_transpose(B::float_reshape(x, [rows, c_in].into())), dy);
    let dbias = B::float_sum_dim(B::float_reshape(grad, [rows, c_out].into()), 0);
    (dx, dw, B::float_reshape(dbias, [c_out].into()))
}
