//! Building blocks whose parameters keep the official PyTorch names and shapes (`weight`
//! `[out, in]`, Conv3d `[out, in, kT, kH, kW]`, `in_proj_weight`), so a checkpoint maps 1:1
//! onto the module tree. Convolutions are computed channels-last as sums of shifted matmuls
//! (spec §14): the same arithmetic as PyTorch's Conv3d, without im2col buffers kept for backward
//! ([`dist_kernels::conv_same`]: per row tile, one gemm per tap on its shifted rows).

use burn::module::{Module, Param};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Distribution, Tensor};
use dist_kernels::{conv_same, linear, matmul};

/// Std of the official `trunc_normal_(std=0.02)` (its ±2 absolute bounds are 100σ away, so a
/// plain normal has the same distribution in practice).
pub(crate) const INIT_STD: f64 = 0.02;

pub(crate) fn normal<const D: usize>(shape: [usize; D], std: f64, device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::random(shape, Distribution::Normal(0.0, std), device))
}

pub(crate) fn zeros<const D: usize>(shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::zeros(shape, device))
}

pub(crate) fn ones<const D: usize>(shape: [usize; D], device: &Device) -> Param<Tensor<D>> {
    Param::from_tensor(Tensor::ones(shape, device))
}

/// CLIP's QuickGELU, `x * sigmoid(1.702 x)`: one fused pass forward and backward on burn-flex.
pub use dist_kernels::quick_gelu;

/// `x` as `[rows, d_in]` over its last axis, and its dims with the last one set to `d_out`: the
/// shapes around one gemm whatever the rank.
fn as_rows<const D: usize>(x: Tensor<D>, d_out: usize) -> (Tensor<2>, [usize; D]) {
    let mut dims = x.dims();
    let d_in = dims[D - 1];
    let rows = dims[..D - 1].iter().product::<usize>();
    dims[D - 1] = d_out;
    (x.reshape([rows, d_in]), dims)
}

/// `x @ w` over the last axis, as one `[rows, d_in] @ [d_in, d_out]` gemm whatever the rank.
///
/// # Shapes
/// - x: `[..., d_in]`, w: `[d_in, d_out]` → `[..., d_out]`
pub(crate) fn matmul_last<const D: usize>(x: Tensor<D>, w: Tensor<2>) -> Tensor<D> {
    let (x, dims) = as_rows(x, w.dims()[1]);
    matmul(x, w).reshape(dims)
}

/// `x @ w + bias` over the last axis: one gemm whatever the rank, the bias added inside it
/// ([`dist_kernels::linear`]: no separate pass over the output).
///
/// # Shapes
/// - x: `[..., d_in]`, w: `[d_in, d_out]`, bias: `[d_out]` → `[..., d_out]`
pub(crate) fn linear_last<const D: usize>(x: Tensor<D>, w: Tensor<2>, bias: Tensor<1>) -> Tensor<D> {
    let (x, dims) = as_rows(x, w.dims()[1]);
    linear(x, w, bias).reshape(dims)
}

/// `nn.Linear` with the PyTorch weight layout `[out, in]`.
#[derive(Module, Debug)]
pub struct Linear {
    /// `[d_out, d_in]`.
    pub weight: Param<Tensor<2>>,
    /// `[d_out]`.
    pub bias: Param<Tensor<1>>,
}

impl Linear {
    /// Official init: weight N(0, 0.02), bias 0.
    pub(crate) fn new(d_in: usize, d_out: usize, device: &Device) -> Self {
        Self { weight: normal([d_out, d_in], INIT_STD, device), bias: zeros([d_out], device) }
    }

    /// # Shapes
    /// - x: `[..., d_in]` → `[..., d_out]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        linear_last(x, self.weight.val().transpose(), self.bias.val())
    }
}

/// `LayerNorm(dim)` over the last axis, eps 1e-5, affine (CLIP's fp32 LayerNorm).
#[derive(Module, Debug)]
pub struct LayerNorm {
    /// `[dim]`, init 1.
    pub weight: Param<Tensor<1>>,
    /// `[dim]`, init 0.
    pub bias: Param<Tensor<1>>,
}

impl LayerNorm {
    pub(crate) fn new(dim: usize, device: &Device) -> Self {
        Self { weight: ones([dim], device), bias: zeros([dim], device) }
    }

    /// # Shapes
    /// - x: `[..., dim]` → `[..., dim]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        dist_kernels::layer_norm(x, self.weight.val(), self.bias.val(), 1e-5)
    }
}

/// The two-layer QuickGELU MLP of CLIP blocks (`c_fc`, `c_proj`).
#[derive(Module, Debug)]
pub struct Mlp {
    pub c_fc: Linear,
    pub c_proj: Linear,
}

impl Mlp {
    pub(crate) fn new(dim: usize, hidden: usize, device: &Device) -> Self {
        Self { c_fc: Linear::new(dim, hidden, device), c_proj: Linear::new(hidden, dim, device) }
    }

    /// # Shapes
    /// - x: `[..., dim]` → `[..., dim]`
    pub fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.c_proj.forward(quick_gelu(self.c_fc.forward(x)))
    }
}

/// The weights of an `nn.Conv3d` with bias, in PyTorch layout.
#[derive(Module, Debug)]
pub struct Conv3d {
    /// `[c_out, c_in, kT, kH, kW]`.
    pub weight: Param<Tensor<5>>,
    /// `[c_out]`.
    pub bias: Param<Tensor<1>>,
}

impl Conv3d {
    /// Official init: weight N(0, 0.02), bias 0.
    pub(crate) fn new(c_in: usize, c_out: usize, kernel: [usize; 3], device: &Device) -> Self {
        let [kt, kh, kw] = kernel;
        Self { weight: normal([c_out, c_in, kt, kh, kw], INIT_STD, device), bias: zeros([c_out], device) }
    }

    /// Every tap's `[c_in, c_out]` matrix side by side, taps in `(t, h, w)` row-major order:
    /// `[c_in, kT·kH·kW·c_out]`.
    pub(crate) fn taps_matrix(&self) -> Tensor<2> {
        let [c_out, c_in, kt, kh, kw] = self.weight.dims();
        self.weight.val().permute([1, 2, 3, 4, 0]).reshape([c_in, kt * kh * kw * c_out])
    }

    /// Stride-1 convolution with "same" zero padding, channels-last, over any of the axes
    /// `(time, height, width)` of `x` whose kernel extent is > 1 ([`conv_same`]).
    ///
    /// # Shapes
    /// - x: `[B, T, H, W, c_in]` → `[B, T, H, W, c_out]`
    pub fn forward_same(&self, x: Tensor<5>) -> Tensor<5> {
        let [_, _, kt, kh, kw] = self.weight.dims();
        if kt * kh * kw == 1 {
            // A pointwise conv is a linear layer: the bias goes inside the gemm.
            return linear_last(x, self.taps_matrix(), self.bias.val());
        }
        conv_same(x, self.taps_matrix(), self.bias.val(), [kt, kh, kw])
    }
}

/// `nn.MultiheadAttention` (packed `in_proj`, q scaled by 1/√head_dim, `out_proj`), batch-first.
#[derive(Module, Debug)]
pub struct MultiheadAttention {
    /// `[3 dim, dim]`: the q, k and v projections stacked.
    pub in_proj_weight: Param<Tensor<2>>,
    /// `[3 dim]`.
    pub in_proj_bias: Param<Tensor<1>>,
    pub out_proj: Linear,
    #[module(skip)]
    pub heads: usize,
}

impl MultiheadAttention {
    /// PyTorch's init: `in_proj_weight` xavier-uniform, `in_proj_bias` 0; `out_proj` is a Linear,
    /// so the official `init_weights` gives it N(0, 0.02) and bias 0.
    pub(crate) fn new(dim: usize, heads: usize, device: &Device) -> Self {
        let bound = (6.0 / (dim + 3 * dim) as f64).sqrt();
        Self {
            in_proj_weight: Param::from_tensor(Tensor::random(
                [3 * dim, dim],
                Distribution::Uniform(-bound, bound),
                device,
            )),
            in_proj_bias: zeros([3 * dim], device),
            out_proj: Linear::new(dim, dim, device),
            heads,
        }
    }

    fn project(&self, x: Tensor<3>, which: usize) -> Tensor<4> {
        let [b, n, dim] = x.dims();
        let w = self.in_proj_weight.val().narrow(0, which * dim, dim);
        let bias = self.in_proj_bias.val().narrow(0, which * dim, dim);
        linear_last(x, w.transpose(), bias)
            .reshape([b, n, self.heads, dim / self.heads])
            .swap_dims(1, 2) // [b, heads, n, head_dim]
    }

    /// # Shapes
    /// - query: `[B, Nq, dim]`, key and value: `[B, Nk, dim]` → `[B, Nq, dim]`
    pub fn forward(&self, query: Tensor<3>, key: Tensor<3>, value: Tensor<3>) -> Tensor<3> {
        let [b, nq, dim] = query.dims();
        let head_dim = dim / self.heads;
        let q = self.project(query, 0) * (1.0 / (head_dim as f64).sqrt());
        let k = self.project(key, 1);
        let v = self.project(value, 2);
        let attn = softmax(matmul(q, k.swap_dims(2, 3)), 3); // [b, heads, nq, nk]
        let out = matmul(attn, v).swap_dims(1, 2).reshape([b, nq, dim]);
        self.out_proj.forward(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::TensorData;

    /// A 3x3 "same" conv on a 1-channel 3x3 image against a hand-computed value.
    #[test]
    fn conv_same_matches_direct_sum() {
        let device = Device::flex();
        let conv = Conv3d::new(1, 1, [1, 3, 3], &device);
        let w: Vec<f32> = conv.weight.val().into_data().try_to_vec().unwrap();
        let img: Vec<f32> = (0..9).map(|v| v as f32).collect();
        let x = Tensor::<5>::from_data(TensorData::new(img.clone(), [1, 1, 3, 3, 1]), &device);
        let y: Vec<f32> = conv.forward_same(x).into_data().try_to_vec().unwrap();
        // Output pixel (0, 0) sees the input window rows -1..=1, cols -1..=1.
        let mut expect = 0.0;
        for i in 0..3 {
            for j in 0..3 {
                let (r, c) = (i as isize - 1, j as isize - 1);
                if r >= 0 && c >= 0 {
                    expect += w[i * 3 + j] * img[(r * 3 + c) as usize];
                }
            }
        }
        assert!((y[0] - expect).abs() < 1e-6, "{} vs {expect}", y[0]);
    }
}
