//! The building blocks both towers share: linear, LayerNorm, and the pre-LN residual attention block.
//!
//! Tokens stay `[B, N, C]` between blocks; inside a block they are viewed as a `[B·N, C]` matrix so every
//! projection is one GEMM against a `[in, out]` weight.

use burn::module::{Module, Param};
use burn::tensor::activation::gelu;
use burn::tensor::{DType, Device, Tensor, TensorData};

use crate::config::Activation;
use crate::weights::{BlockWeights, HostTensor, LinearWeights, NormWeights};

/// Moves a host array to the device in the compute dtype.
pub(crate) fn upload<const D: usize>(t: &HostTensor, device: &Device, dtype: DType) -> Tensor<D> {
    let tensor = Tensor::<D>::from_data(TensorData::new(t.data.clone(), t.shape.clone()), device);
    if dtype == DType::F32 {
        tensor
    } else {
        tensor.cast(dtype)
    }
}

/// Like [`upload`], as a parameter (trainable on an autodiff device, see `crate::pretrain`).
pub(crate) fn param<const D: usize>(t: &HostTensor, device: &Device, dtype: DType) -> Param<Tensor<D>> {
    Param::from_tensor(upload(t, device, dtype))
}

/// A device tensor back on the host in f32 (the inverse of [`upload`]).
pub(crate) fn download<const D: usize>(t: &Param<Tensor<D>>) -> HostTensor {
    let t = t.val();
    let shape = t.dims().to_vec();
    let data = t
        .cast(DType::F32)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("an f32 tensor converts to f32 values");
    HostTensor::new(shape, data)
}

/// `x @ W + b` with `W` stored `[in, out]`.
#[derive(Module, Debug)]
pub(crate) struct Linear {
    weight: Param<Tensor<2>>,
    bias: Option<Param<Tensor<1>>>,
}

impl Linear {
    pub(crate) fn new(w: &LinearWeights, device: &Device, dtype: DType) -> Self {
        Self {
            weight: param(&w.weight, device, dtype),
            bias: w.bias.as_ref().map(|b| param(b, device, dtype)),
        }
    }

    pub(crate) fn host(&self) -> LinearWeights {
        LinearWeights {
            weight: download(&self.weight),
            bias: self.bias.as_ref().map(download),
        }
    }

    /// # Shapes
    /// - x: `[rows, in]`
    /// - output: `[rows, out]`
    pub(crate) fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match &self.bias {
            Some(b) => dist_kernels::linear(x, self.weight.val(), b.val()),
            None => dist_kernels::matmul(x, self.weight.val()),
        }
    }
}

/// LayerNorm over the last dimension.
#[derive(Module, Debug)]
pub(crate) struct LayerNorm {
    gamma: Param<Tensor<1>>,
    beta: Param<Tensor<1>>,
    #[module(skip)]
    eps: f64,
}

impl LayerNorm {
    pub(crate) fn new(w: &NormWeights, eps: f64, device: &Device, dtype: DType) -> Self {
        Self {
            gamma: param(&w.weight, device, dtype),
            beta: param(&w.bias, device, dtype),
            eps,
        }
    }

    pub(crate) fn host(&self) -> NormWeights {
        NormWeights {
            weight: download(&self.gamma),
            bias: download(&self.beta),
        }
    }

    /// # Shapes
    /// - x: `[..., C]`
    /// - output: same as x
    pub(crate) fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        dist_kernels::layer_norm(x, self.gamma.val(), self.beta.val(), self.eps)
    }
}

/// Shape of one residual block.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BlockConfig {
    pub(crate) heads: usize,
    pub(crate) activation: Activation,
    pub(crate) eps: f64,
    /// Causal self-attention (text tower).
    pub(crate) causal: bool,
}

/// `x = x + attn(ln_1 x); x = x + mlp(ln_2 x)`, as in OpenAI's `ResidualAttentionBlock`.
#[derive(Module, Debug)]
pub(crate) struct ResidualBlock {
    #[module(skip)]
    config: BlockConfig,
    ln_1: LayerNorm,
    qkv: Linear,
    out_proj: Linear,
    ln_2: LayerNorm,
    fc1: Linear,
    fc2: Linear,
}

impl ResidualBlock {
    pub(crate) fn new(
        w: &BlockWeights,
        config: BlockConfig,
        device: &Device,
        dtype: DType,
    ) -> Self {
        Self {
            config,
            ln_1: LayerNorm::new(&w.ln_1, config.eps, device, dtype),
            qkv: Linear::new(&w.qkv, device, dtype),
            out_proj: Linear::new(&w.out_proj, device, dtype),
            ln_2: LayerNorm::new(&w.ln_2, config.eps, device, dtype),
            fc1: Linear::new(&w.fc1, device, dtype),
            fc2: Linear::new(&w.fc2, device, dtype),
        }
    }

    pub(crate) fn host(&self) -> BlockWeights {
        BlockWeights {
            ln_1: self.ln_1.host(),
            qkv: self.qkv.host(),
            out_proj: self.out_proj.host(),
            ln_2: self.ln_2.host(),
            fc1: self.fc1.host(),
            fc2: self.fc2.host(),
        }
    }

    /// # Shapes
    /// - x: `[B, N, C]`
    /// - output: `[B, N, C]`
    pub(crate) fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let [b, n, c] = x.dims();
        let x = x.reshape([b * n, c]); // [B·N, C]
        let x = x.clone() + self.attention(self.ln_1.forward(x), b, n);
        let hidden = self.fc1.forward(self.ln_2.forward(x.clone())); // [B·N, M]
        let hidden = match self.config.activation {
            // QuickGELU, x·σ(1.702x): OpenAI's approximation, part of the trained function.
            Activation::QuickGelu => dist_kernels::quick_gelu(hidden),
            Activation::Gelu => gelu(hidden),
        };
        (x + self.fc2.forward(hidden)).reshape([b, n, c])
    }

    /// Multi-head self-attention on normalised tokens.
    ///
    /// # Shapes
    /// - x: `[B·N, C]`
    /// - output: `[B·N, C]`
    fn attention(&self, x: Tensor<2>, b: usize, n: usize) -> Tensor<2> {
        debug_assert_eq!(x.dims()[0], b * n, "x holds B·N tokens");
        // [B·N, 3·C] → [B·N, C], heads side by side (q, k, v read in place on the CPU backend).
        let context = dist_kernels::packed_attention(self.qkv.forward(x), b, self.config.heads, self.config.causal);
        self.out_proj.forward(context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::softmax;
    use burn::tensor::module::attention;
    use burn::tensor::ops::AttentionModuleOptions;

    fn random(shape: [usize; 4], seed: u64, device: &Device) -> Tensor<4> {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = (0..n).map(|i| (((i as u64 * 2_654_435_761 + seed * 97) % 1000) as f32 / 500.0) - 1.0).collect();
        Tensor::from_data(TensorData::new(data, shape), device)
    }

    /// The pretraining backpropagates through burn's fused `attention`: its gradients with respect
    /// to q, k and v must equal those of the explicit softmax(q kᵀ/√d) v.
    #[test]
    fn fused_attention_gradients_match_the_explicit_formula() {
        let device = Device::flex().autodiff();
        let shape = [2, 2, 5, 4];
        let grads_of = |fused: bool| {
            let q = random(shape, 1, &device).require_grad();
            let k = random(shape, 2, &device).require_grad();
            let v = random(shape, 3, &device).require_grad();
            let weight = random(shape, 4, &device);
            let out = if fused {
                let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: false };
                attention(q.clone(), k.clone(), v.clone(), None, None, options)
            } else {
                let scores = q.clone().matmul(k.clone().swap_dims(2, 3)) / (shape[3] as f32).sqrt();
                softmax(scores, 3).matmul(v.clone())
            };
            let grads = (out * weight).sum().backward();
            [q, k, v].map(|t| t.grad(&grads).expect("a gradient").into_data().try_into_vec::<f32>().expect("f32 data"))
        };
        let (fused, explicit) = (grads_of(true), grads_of(false));
        for (name, (a, b)) in ["q", "k", "v"].iter().zip(fused.iter().zip(&explicit)) {
            let worst = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-4, "d/d{name}: fused and explicit differ by {worst}");
        }
    }
}
