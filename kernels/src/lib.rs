//! CPU kernels for the CLIP towers and the DiST branches on burn-flex: fused LayerNorm and
//! QuickGELU, the tap sum of the branches' convolutions, and f32 matmuls through the system
//! OpenBLAS (`blas` feature, default; see `blas.rs` for why).
//!
//! burn 0.22 runs LayerNorm and QuickGELU on the autodiff device as chains of primitive ops
//! (LayerNorm: mean, subtract, square, mean, sqrt, divide, scale, shift; QuickGELU: scale, sigmoid,
//! multiply), each a full pass over memory that allocates a fresh tensor, forward and backward.
//! On burn-flex (f32) the ops here do one pass forward and one backward, with a handwritten
//! backward registered through burn's backend-extension mechanism (`#[backend_extension]`).
//!
//! Other backends (wgpu) and element types (f16, bf16) take the same composite path burn takes,
//! so every call site can use these functions unconditionally.

mod alloc;
mod autodiff;
#[cfg(feature = "blas")]
mod blas;
mod composite;
mod flex;

pub use alloc::retain_freed_memory;
use burn::backend::tensor::FloatTensor;
use burn::backend::{backend_extension, Backend, Dispatch, DispatchDevice};
use burn::tensor::Tensor;

/// CLIP's QuickGELU, `x · sigmoid(1.702 x)`.
pub const QUICK_GELU_ALPHA: f64 = 1.702;

/// The fused primitives. Default bodies compose burn's primitive ops (the path any backend can
/// take); burn-flex overrides them with single-pass f32 kernels, and the autodiff decorator tracks
/// them with the `*_backward` primitives as their backward.
#[backend_extension(Flex, Autodiff)]
pub trait FusedOps: Backend {
    /// QuickGELU, element-wise. `x: [..]` → `[..]`.
    fn fused_quick_gelu(x: FloatTensor<Self>) -> FloatTensor<Self> {
        composite::quick_gelu::<Self>(x)
    }

    /// `grad · d/dx QuickGELU(x)`. `x, grad: [..]` → `[..]`.
    fn fused_quick_gelu_backward(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        composite::quick_gelu_backward::<Self>(x, grad)
    }

    /// LayerNorm over the last axis (biased variance). `x: [.., d]`, `gamma, beta: [d]` → `[.., d]`.
    fn fused_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self> {
        Self::layer_norm(x, gamma, Some(beta), epsilon)
    }

    /// Gradients of [`FusedOps::fused_layer_norm`] with respect to `x`, `gamma` and `beta`, the
    /// statistics recomputed from `x` (one extra read, no saved tensors).
    /// `x, grad: [.., d]`, `gamma: [d]` → (`[.., d]`, `[d]`, `[d]`).
    fn fused_layer_norm_backward(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composite::layer_norm_backward::<Self>(x, gamma, grad, epsilon)
    }

    /// Matrix product over the last two axes, batch axes equal on both sides (see [`matmul`]).
    /// `lhs: [.., m, k]`, `rhs: [.., k, n]` → `[.., m, n]`.
    fn fused_matmul(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_matmul(lhs, rhs)
    }

    /// The tap sum of a stride-1 "same" convolution (see [`conv_tap_sum`]).
    /// `y: [B, T, H, W, K, C]` → `[B, T, H, W, C]`.
    fn fused_tap_sum(y: FloatTensor<Self>, kernel: [usize; 3]) -> FloatTensor<Self> {
        composite::tap_sum::<Self>(y, kernel)
    }

    /// The gradient of [`FusedOps::fused_tap_sum`] (a linear op, so no saved input): every tap
    /// reads the output gradient shifted back. `grad: [B, T, H, W, C]` → `[B, T, H, W, K, C]`.
    fn fused_tap_sum_backward(grad: FloatTensor<Self>, kernel: [usize; 3]) -> FloatTensor<Self> {
        composite::tap_sum_backward::<Self>(grad, kernel)
    }
}

/// Whether tensors on `device` reach the extension (burn-flex, with or without autodiff).
fn on_flex(device: &DispatchDevice) -> bool {
    match device {
        DispatchDevice::Flex(_) => true,
        DispatchDevice::Autodiff(inner) => matches!(&**inner, DispatchDevice::Flex(_)),
        #[allow(unreachable_patterns)] // other backends exist only with their cargo features
        _ => false,
    }
}

/// QuickGELU, `x · sigmoid(1.702 x)`: one pass forward and one backward on burn-flex.
///
/// # Shapes
/// - x: `[..]` → `[..]`
pub fn quick_gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    if on_flex(x.device().as_dispatch()) {
        Tensor::from_dispatch(<Dispatch as FusedOps>::fused_quick_gelu(x.into_dispatch()))
    } else {
        x.clone() * burn::tensor::activation::sigmoid(x * QUICK_GELU_ALPHA)
    }
}

/// LayerNorm over the last axis with affine `gamma`, `beta` (biased variance, as PyTorch):
/// burn's fused forward plus a one-pass backward on burn-flex.
///
/// # Shapes
/// - x: `[.., d]`, gamma and beta: `[d]` → `[.., d]`
pub fn layer_norm<const D: usize>(x: Tensor<D>, gamma: Tensor<1>, beta: Tensor<1>, epsilon: f64) -> Tensor<D> {
    if on_flex(x.device().as_dispatch()) {
        Tensor::from_dispatch(<Dispatch as FusedOps>::fused_layer_norm(
            x.into_dispatch(),
            gamma.into_dispatch(),
            beta.into_dispatch(),
            epsilon,
        ))
    } else {
        burn::tensor::module::layer_norm(x, gamma, Some(beta), epsilon)
    }
}

/// Matrix product over the last two axes: `lhs @ rhs`. On burn-flex with the `blas` feature
/// (default) f32 products run through OpenBLAS, about twice the `gemm` crate's rate on AVX2
/// machines; other backends, element types and broadcast batch axes take burn's `matmul`.
///
/// # Shapes
/// - lhs: `[.., m, k]`, rhs: `[.., k, n]` (the same batch axes) → `[.., m, n]`
pub fn matmul<const D: usize>(lhs: Tensor<D>, rhs: Tensor<D>) -> Tensor<D> {
    let (ld, rd) = (lhs.dims(), rhs.dims());
    if !on_flex(lhs.device().as_dispatch()) || ld[..D - 2] != rd[..D - 2] {
        return lhs.matmul(rhs);
    }
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_matmul(lhs.into_dispatch(), rhs.into_dispatch()))
}

/// Sums the taps of a stride-1 convolution with "same" zero padding whose per-tap products were
/// computed by one gemm: `out[b, t, h, w] = Σ_k y[b, t + i - kt/2, h + j - kh/2, w + l - kw/2, k]`
/// over the taps `k = (i·kh + j)·kw + l`, terms that fall outside the volume dropped.
///
/// A convolution `[B, T, H, W, c_in]` → `[B, T, H, W, c_out]` is then `x @ W` with `W` the
/// `[c_in, K·c_out]` matrix of every tap, reshaped to `[B, T, H, W, K, c_out]`, then this sum:
/// one gemm forward and two backward instead of K, and one pass over memory in place of K shifted
/// copies (whose autodiff backward each materialised a zero tensor of the full input). On
/// burn-flex it is one fused op with its own backward; elsewhere the same sum of shifted slices.
///
/// # Shapes
/// - y: `[B, T, H, W, K, C]` with `K = kt·kh·kw`, kernel: `[kt, kh, kw]` → `[B, T, H, W, C]`
pub fn conv_tap_sum(y: Tensor<6>, kernel: [usize; 3]) -> Tensor<5> {
    let [_, _, _, _, k, _] = y.dims();
    assert_eq!(k, kernel.iter().product::<usize>(), "conv_tap_sum: axis 4 holds {k} taps, kernel {kernel:?}");
    let flex = on_flex(y.device().as_dispatch());
    let y = y.into_dispatch();
    // Off burn-flex the composite runs on `Dispatch` itself, so autodiff tracks each slice.
    Tensor::from_dispatch(if flex {
        <Dispatch as FusedOps>::fused_tap_sum(y, kernel)
    } else {
        composite::tap_sum::<Dispatch>(y, kernel)
    })
}

#[cfg(test)]
mod tests;
