//! The 3D stem: `Conv3d(3 → D, kernel (kT, P, P), stride (1, P, P), padding (kT/2, 0, 0))` on the
//! dense frames, computed as a per-frame patchify and a "same" convolution over time of the
//! patches ([`conv_same`]).

use burn::tensor::Tensor;
use dist_kernels::conv_same;

use super::nn::Conv3d;

/// Runs the stem (`temporal_stem`, weight `[D, 3, kT, P, P]`).
///
/// # Shapes
/// - frames: `[B, 3, γT, H, W]` (CLIP-normalised; H, W multiples of P) → `[B, γT, H/P, W/P, D]`
pub(crate) fn stem_forward(conv: &Conv3d, frames: Tensor<5>) -> Tensor<5> {
    let [d, c, kt, p, _] = conv.weight.dims();
    let [b, _, td, h, w] = frames.dims();
    let (gh, gw) = (h / p, w / p);
    let patches = frames
        .reshape([b, c, td, gh, p, gw, p])
        .permute([0, 2, 3, 5, 1, 4, 6]) // [b, td, gh, gw, c, p, p]
        .reshape([b, td, gh, gw, c * p * p]);
    // [c·P·P, kT·D]: row order (c, p, p) as in the patches, column order (tap, channel).
    let taps = conv.weight.val().permute([1, 3, 4, 2, 0]).reshape([c * p * p, kt * d]);
    conv_same(patches, taps, conv.bias.val(), [kt, 1, 1])
}
