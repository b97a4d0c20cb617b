//! CPU kernels for the CLIP towers and the DiST branches on burn-flex: fused LayerNorm and
//! QuickGELU, the branches' "same" convolutions by row tiles, f32 matmuls through the system
//! OpenBLAS (`blas` feature, default; see `blas.rs` for why), and for the trainer a one-pass
//! AdamW update and Mixup/CutMix blend.
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
mod blend;
mod composite;
#[cfg(feature = "blas")]
mod conv;
mod flex;
mod lanes;
mod uninit;

pub use alloc::retain_freed_memory;
pub use blend::blend_with_reversed;
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

    /// The sum over the rows of a matrix (a bias gradient). `x: [rows, n]` → `[n]`.
    fn fused_sum_rows(x: FloatTensor<Self>) -> FloatTensor<Self> {
        composite::sum_rows::<Self>(x)
    }

    /// `a + b`, both of one shape (see [`add`]). `a, b: [..]` → `[..]`.
    fn fused_add(a: FloatTensor<Self>, b: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::float_add(a, b)
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

    /// Multi-head self-attention on a packed projection (see [`packed_attention`]).
    /// `qkv: [B·N, 3·C]` → `[B·N, C]`.
    fn fused_packed_attention(qkv: FloatTensor<Self>, batch: usize, heads: usize, causal: bool) -> FloatTensor<Self> {
        composite::packed_attention::<Self>(qkv, batch, heads, causal)
    }

    /// `x · w + bias` on every row (see [`linear`]).
    /// `x: [rows, k]`, `w: [k, n]`, `bias: [n]` → `[rows, n]`.
    fn fused_linear(x: FloatTensor<Self>, w: FloatTensor<Self>, bias: FloatTensor<Self>) -> FloatTensor<Self> {
        composite::linear::<Self>(x, w, bias)
    }

    /// One AdamW update of a parameter (see [`adamw_update`]; `s` from [`AdamWStep::scalars`]).
    /// `param, grad, m1, m2: [..]` of one shape → (`param`, `m1`, `m2`) after the update.
    fn fused_adamw(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        m1: FloatTensor<Self>,
        m2: FloatTensor<Self>,
        s: [f32; ADAMW_SCALARS],
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        composite::adamw::<Self>(param, grad, m1, m2, s)
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

    /// A stride-1 "same" convolution, channels-last (see [`conv_same`]). `x: [B, T, H, W, c_in]`,
    /// `weights: [c_in, K·c_out]`, `bias: [c_out]` → `[B, T, H, W, c_out]`.
    fn fused_conv_same(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        kernel: [usize; 3],
    ) -> FloatTensor<Self> {
        composite::conv_same::<Self>(x, weights, bias, kernel)
    }

    /// Gradients of [`FusedOps::fused_conv_same`] with respect to `x` (when `input_grad`),
    /// `weights` and `bias`. `x: [B, T, H, W, c_in]`, `weights: [c_in, K·c_out]`,
    /// `grad: [B, T, H, W, c_out]` → (`[B, T, H, W, c_in]`, `[c_in, K·c_out]`, `[c_out]`).
    fn fused_conv_same_backward(
        x: FloatTensor<Self>,
        weights: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        kernel: [usize; 3],
        input_grad: bool,
    ) -> (Option<FloatTensor<Self>>, FloatTensor<Self>, FloatTensor<Self>) {
        composite::conv_same_backward::<Self>(x, weights, grad, kernel, input_grad)
    }
}

/// The scalars of one AdamW update: burn's `AdamW` (decoupled weight decay, bias-corrected
/// moments, no AMSGrad, no cautious decay), which [`adamw_update`] reproduces in one pass.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdamWStep {
    pub lr: f64,
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub weight_decay: f32,
    /// The 1-based count of updates of this parameter, this one included.
    pub time: usize,
}

/// Length of [`AdamWStep::scalars`].
pub const ADAMW_SCALARS: usize = 9;

impl AdamWStep {
    /// `[β1, 1-β1, β2, 1-β2, 1-β1^t, 1-β2^t, ε, 1-lr·wd, lr]`, each rounded to f32 the way burn's
    /// scalar ops round them, so the update matches burn's AdamW bit for bit.
    fn scalars(&self) -> [f32; ADAMW_SCALARS] {
        let time = i32::try_from(self.time).unwrap_or(i32::MAX);
        let decay = 1.0 - self.lr * f64::from(self.weight_decay);
        [
            self.beta_1,
            1.0 - self.beta_1,
            self.beta_2,
            1.0 - self.beta_2,
            1.0 - self.beta_1.powi(time),
            1.0 - self.beta_2.powi(time),
            self.epsilon,
            decay as f32,
            self.lr as f32,
        ]
    }
}

/// One AdamW update of a parameter: `m1 ← β1 m1 + (1-β1) g`, `m2 ← β2 m2 + (1-β2) g²`,
/// `p ← (1 - lr·wd) p - lr · m̂1 / (√m̂2 + ε)` with the bias-corrected moments `m̂`. Moments absent
/// (the first update) start at zero. On burn-flex (f32) it is one pass over the four tensors in
/// place of burn's fifteen tensor ops; elsewhere the same ops burn runs.
///
/// # Shapes
/// - param, grad, m1, m2: `[..]`, all one shape → (param, m1, m2) of that shape
pub fn adamw_update<const D: usize>(
    param: Tensor<D>,
    grad: Tensor<D>,
    moments: Option<(Tensor<D>, Tensor<D>)>,
    step: &AdamWStep,
) -> (Tensor<D>, Tensor<D>, Tensor<D>) {
    let (m1, m2) = moments.unwrap_or_else(|| (grad.zeros_like(), grad.zeros_like()));
    let s = step.scalars();
    let flex = on_flex(param.device().as_dispatch());
    let [p, g, m1, m2] = [param, grad, m1, m2].map(Tensor::into_dispatch);
    let (p, m1, m2) = if flex {
        <Dispatch as FusedOps>::fused_adamw(p, g, m1, m2, s)
    } else {
        composite::adamw::<Dispatch>(p, g, m1, m2, s)
    };
    (Tensor::from_dispatch(p), Tensor::from_dispatch(m1), Tensor::from_dispatch(m2))
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

/// `a + b` for two tensors of one shape (a residual connection). burn-flex adds tensors of
/// fewer than 4M elements on one thread, which left the other core idle for every residual of the
/// DiST branches (`[6304, 384]` at batch 4); here on burn-flex (f32) it is one parallel pass, with
/// the gradient passed through to both sides. Elsewhere, and for other shapes, `a + b`.
///
/// # Shapes
/// - a, b: `[..]`, one shape → `[..]`
pub fn add<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> Tensor<D> {
    if a.dims() != b.dims() || !on_flex(a.device().as_dispatch()) {
        return a + b;
    }
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_add(a.into_dispatch(), b.into_dispatch()))
}

/// LayerNorm over the last axis with affine `gamma`, `beta` (biased variance, as PyTorch): on
/// burn-flex (f32) a one-pass forward (no zero-filled buffer first) and a one-pass backward.
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

/// A linear layer, `x · w + bias`: on burn-flex with the `blas` feature one OpenBLAS call that
/// adds the product to the bias rows (no zeroing of the output, no separate pass adding the
/// bias), with its own backward (`dx = grad · wᵀ`, `dw = xᵀ · grad`, `dbias = Σ_rows grad`);
/// elsewhere [`matmul`] plus a broadcast add.
///
/// # Shapes
/// - x: `[rows, k]`, w: `[k, n]`, bias: `[n]` → `[rows, n]`
pub fn linear(x: Tensor<2>, w: Tensor<2>, bias: Tensor<1>) -> Tensor<2> {
    if !on_flex(x.device().as_dispatch()) {
        return matmul(x, w) + bias.unsqueeze_dim(0);
    }
    Tensor::from_dispatch(<Dispatch as FusedOps>::fused_linear(
        x.into_dispatch(),
        w.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// Multi-head self-attention on a packed qkv projection, `softmax(q kᵀ / √Dh) v` per clip and
/// head (keys after the query masked when `causal`). `qkv` rows hold a token's query, key and value
/// side by side (`[q | k | v]`, each `[H, Dh]`), as one linear layer of width `3·C` produces them.
///
/// On burn-flex (f32, no autodiff, `blas` feature) q, k and v are read in place and each clip's
/// products run through OpenBLAS with a one-pass softmax between them, written straight into
/// the `[B·N, C]` layout; elsewhere (autodiff included, so gradients flow) the split, burn's
/// `attention` and the merge of the heads.
///
/// # Shapes
/// - qkv: `[B·N, 3·C]` with `B = batch`, `C` divisible by `heads` → `[B·N, C]`
pub fn packed_attention(qkv: Tensor<2>, batch: usize, heads: usize, causal: bool) -> Tensor<2> {
    let [rows, width] = qkv.dims();
    assert!(
        batch > 0 && rows % batch == 0 && width % 3 == 0 && (width / 3) % heads.max(1) == 0 && heads > 0,
        "packed_attention: [{rows}, {width}] is not {batch} clips of [N, 3·C] with C divisible by {heads} heads"
    );
    let flex = on_flex(qkv.device().as_dispatch());
    let qkv = qkv.into_dispatch();
    Tensor::from_dispatch(if flex {
        <Dispatch as FusedOps>::fused_packed_attention(qkv, batch, heads, causal)
    } else {
        composite::packed_attention::<Dispatch>(qkv, batch, heads, causal)
    })
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

/// A stride-1 convolution with "same" zero padding over `[B, T, H, W]`, channels-last:
/// `out[b, t, h, w] = bias + Σ_k x[b, t + i - kt/2, h + j - kh/2, w + l - kw/2] · W_k` over the
/// taps `k = (i·kh + j)·kw + l`, terms outside the volume dropped. `weights` holds every tap's
/// `[c_in, c_out]` matrix side by side.
///
/// On burn-flex (f32, `blas` feature) it is one op with its own backward: per tile of 256 rows,
/// one OpenBLAS product per tap on the tap's shifted rows, the padding done by zeroing the rows
/// only outside taps reach (see `conv.rs`). Nothing of size `[rows, K·c_out]` is ever written.
/// Elsewhere it is one gemm for every tap and then [`conv_tap_sum`].
///
/// # Shapes
/// - x: `[B, T, H, W, c_in]`, weights: `[c_in, K·c_out]` with `K = kt·kh·kw`, bias: `[c_out]`
///   → `[B, T, H, W, c_out]`
pub fn conv_same(x: Tensor<5>, weights: Tensor<2>, bias: Tensor<1>, kernel: [usize; 3]) -> Tensor<5> {
    let [c_in, width] = weights.dims();
    let [c_out] = bias.dims();
    let taps: usize = kernel.iter().product();
    assert!(
        x.dims()[4] == c_in && width == taps * c_out,
        "conv_same: input {:?}, weights [{c_in}, {width}], bias [{c_out}], kernel {kernel:?}",
        x.dims()
    );
    if on_flex(x.device().as_dispatch()) {
        let [x, weights, bias] = [x.into_dispatch(), weights.into_dispatch(), bias.into_dispatch()];
        return Tensor::from_dispatch(<Dispatch as FusedOps>::fused_conv_same(x, weights, bias, kernel));
    }
    let [b, t, h, w, _] = x.dims();
    let y = matmul(x.reshape([b * t * h * w, c_in]), weights).reshape([b, t, h, w, taps, c_out]);
    conv_tap_sum(y, kernel) + bias.reshape([1, 1, 1, 1, c_out])
}

#[cfg(test)]
mod tests;
