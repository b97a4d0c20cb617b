//! The lateral connections between the branches: Φ (integration → temporal, up-sampling T to
//! γT) and Ψ (temporal → integration, down-sampling γT to T, plus per-frame class tokens).

use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor, TensorData};

use super::config::{DistConfig, DownsampleKind, UpsampleKind};
use super::nn::{linear_last, matmul_last, normal, zeros, Conv3d, Linear, INIT_STD};

/// Φ, `integration2temporal_nets.{l}`: drops the CLS token, maps A → D and up-samples in time.
#[derive(Module, Debug)]
pub enum Upsampler {
    /// `linear_fuse` then nearest (official) or linear interpolation in time.
    Interpolate(InterpolateUp),
    /// `linear_fuse` is a transposed temporal conv, kernel = stride = γ.
    TransposedConv(TransposedConvUp),
}

/// Linear A → D, then interpolation from T to γT frames.
#[derive(Module, Debug)]
pub struct InterpolateUp {
    /// `[D, A]`.
    pub linear_fuse: Linear,
    #[module(skip)]
    pub trilinear: bool,
}

/// `ConvTranspose3d(A, D, kernel (γ,1,1), stride (γ,1,1))`.
#[derive(Module, Debug)]
pub struct TransposedConvUp {
    pub linear_fuse: ConvTranspose,
}

/// The weights of a bias-carrying `nn.ConvTranspose3d`, PyTorch layout.
#[derive(Module, Debug)]
pub struct ConvTranspose {
    /// `[c_in, c_out, γ, 1, 1]`.
    pub weight: Param<Tensor<5>>,
    /// `[c_out]`.
    pub bias: Param<Tensor<1>>,
}

impl Upsampler {
    pub(crate) fn new(config: &DistConfig, device: &Device) -> Self {
        let (a, d, g) = (config.integration_dim, config.temporal_dim, config.gamma);
        match config.upsample {
            UpsampleKind::Nearest | UpsampleKind::Trilinear => Self::Interpolate(InterpolateUp {
                linear_fuse: Linear::new(a, d, device),
                trilinear: config.upsample == UpsampleKind::Trilinear,
            }),
            UpsampleKind::TransposedConv => Self::TransposedConv(TransposedConvUp {
                linear_fuse: ConvTranspose {
                    weight: normal([a, d, g, 1, 1], INIT_STD, device),
                    bias: zeros([d], device),
                },
            }),
        }
    }

    /// # Shapes
    /// - m: `[B·T, N+1, A]` → `[B, γT, H', W', D]` (`grid` = (H', W'), N = H'·W')
    pub fn forward(&self, m: Tensor<3>, batch: usize, gamma: usize, grid: [usize; 2]) -> Tensor<5> {
        let [bt, l, _] = m.dims();
        let (t, n) = (bt / batch, l - 1);
        let [gh, gw] = grid;
        // The CLS token has no place in the temporal grid. It is dropped after the A → D map, not
        // before: that costs one row in 197 of the product but moves D-wide rows, not A-wide ones,
        // through the slice's copy and its backward (a zero-filled A-wide gradient, serial).
        let without_cls = |x: Tensor<3>| x.narrow(1, 1, n);
        match self {
            Self::Interpolate(up) => {
                let x = without_cls(up.linear_fuse.forward(m));
                let d = x.dims()[2];
                let x = x.reshape([batch, t, n * d]);
                let x = if up.trilinear {
                    let weights = linear_upsample_matrix(t, gamma, &x.device());
                    matmul_last(x.swap_dims(1, 2), weights).swap_dims(1, 2) // [b, γt, n·d]
                } else {
                    // Nearest: dense frame i takes sparse frame ⌊i/γ⌋.
                    x.unsqueeze_dim::<4>(2).expand([batch, t, gamma, n * d]).reshape([batch, t * gamma, n * d])
                };
                x.reshape([batch, t * gamma, gh, gw, d])
            }
            Self::TransposedConv(up) => {
                let [a, d, g, _, _] = up.linear_fuse.weight.dims();
                // out[tγ + j] = x[t] · W[:, :, j]: one [A, γ·D] matmul.
                let w = up.linear_fuse.weight.val().reshape([a, d, g]).swap_dims(1, 2).reshape([a, g * d]);
                without_cls(matmul_last(m, w))
                    .reshape([batch, t, n, g, d])
                    .swap_dims(2, 3) // [b, t, γ, n, d]
                    .reshape([batch, t * g, gh, gw, d])
                    + up.linear_fuse.bias.val().unsqueeze::<5>()
            }
        }
    }
}

/// `[T, γT]` weights of PyTorch's linear interpolation with `align_corners=False` from T to γT
/// samples (the time axis of `F.interpolate(mode="trilinear")` when H, W keep their size).
fn linear_upsample_matrix(t: usize, gamma: usize, device: &Device) -> Tensor<2> {
    let out = t * gamma;
    let mut w = vec![0.0f32; t * out];
    for i in 0..out {
        let src = (((i as f64) + 0.5) / gamma as f64 - 0.5).max(0.0);
        let i0 = (src.floor() as usize).min(t - 1);
        let i1 = (i0 + 1).min(t - 1);
        let frac = (src - i0 as f64) as f32;
        w[i0 * out + i] += 1.0 - frac;
        w[i1 * out + i] += frac;
    }
    Tensor::from_data(TensorData::new(w, [t, out]), device)
}

/// Ψ, `temporal2integration_nets.{l}`: down-samples γT → T, maps D → A and prepends one
/// learned class token per frame.
#[derive(Module, Debug)]
pub struct TemporalToIntegration {
    pub linear_fuse: Downsampler,
    /// `[1, 1, T, A]`: a distinct token for each sparse frame, shared over the batch.
    pub cls_token: Param<Tensor<4>>,
}

/// The down-sampling of Ψ.
#[derive(Module, Debug)]
pub enum Downsampler {
    /// `Conv3d(D, A, kernel (γ,1,1), stride (γ,1,1))`.
    Dconv(Conv3d),
    /// Mean over γ frames, then `[A, D]` linear.
    AvgPool(Linear),
    /// Max over γ frames, then `[A, D]` linear.
    MaxPool(Linear),
}

impl TemporalToIntegration {
    pub(crate) fn new(config: &DistConfig, device: &Device) -> Self {
        let (a, d, g) = (config.integration_dim, config.temporal_dim, config.gamma);
        let linear_fuse = match config.downsample {
            DownsampleKind::Dconv => Downsampler::Dconv(Conv3d::new(d, a, [g, 1, 1], device)),
            DownsampleKind::AvgPool => Downsampler::AvgPool(Linear::new(d, a, device)),
            DownsampleKind::MaxPool => Downsampler::MaxPool(Linear::new(d, a, device)),
        };
        Self { linear_fuse, cls_token: normal([1, 1, config.frames, a], INIT_STD, device) }
    }

    /// # Shapes
    /// - z: `[B, γT, H', W', D]` → `[B·T, N+1, A]`
    pub fn forward(&self, z: Tensor<5>, gamma: usize) -> Tensor<3> {
        let [b, td, gh, gw, d] = z.dims();
        let (t, n) = (td / gamma, gh * gw);
        let groups = z.reshape([b, t, gamma, n, d]);
        let tokens = match &self.linear_fuse {
            Downsampler::Dconv(conv) => {
                let a = conv.weight.dims()[0];
                // W[a, c, j] applies to dense frame tγ + j: flatten (j, c) to match the input.
                let w = conv.weight.val().reshape([a, d, gamma]).swap_dims(1, 2).reshape([a, gamma * d]).transpose();
                let x = groups.swap_dims(2, 3).reshape([b, t, n, gamma * d]);
                linear_last(x, w, conv.bias.val())
            }
            Downsampler::AvgPool(linear) => linear.forward(groups.mean_dim(2).reshape([b, t, n, d])),
            Downsampler::MaxPool(linear) => linear.forward(groups.max_dim(2).reshape([b, t, n, d])),
        };
        let a = tokens.dims()[3];
        let cls = self.cls_token.val().reshape([1, t, 1, a]).expand([b, t, 1, a]);
        Tensor::cat(vec![cls, tokens], 2).reshape([b * t, n + 1, a])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_upsample_matches_pytorch_weights() {
        // torch.nn.functional.interpolate(x[None, None], scale_factor=2, mode="linear") on x = [0, 1, 2]
        // gives [0, 0.25, 0.75, 1.25, 1.75, 2].
        let device = Device::flex();
        let x = Tensor::<2>::from_data(TensorData::new(vec![0.0f32, 1.0, 2.0], [1, 3]), &device);
        let y: Vec<f32> = x.matmul(linear_upsample_matrix(3, 2, &device)).into_data().try_to_vec().unwrap();
        let expect = [0.0, 0.25, 0.75, 1.25, 1.75, 2.0];
        for (got, want) in y.iter().zip(expect) {
            assert!((got - want).abs() < 1e-6, "{y:?}");
        }
    }
}
