//! The 3D stem: `Conv3d(3 → D, kernel (kT, P, P), stride (1, P, P), padding (kT/2, 0, 0))` on the
//! dense frames, computed as a per-frame patchify followed by kT shifted matmuls.

use burn::tensor::Tensor;

use super::nn::{matmul_last, shift, Conv3d};

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
    let mut out: Option<Tensor<5>> = None;
    for t in 0..kt {
        // Tap t of the kernel as a [c·P·P, D] matrix, in PyTorch's (c, kh, kw) flattening order.
        let tap = conv.weight.val().narrow(2, t, 1).reshape([d, c * p * p]).transpose();
        let y = shift(matmul_last(patches.clone(), tap), 1, t as isize - (kt / 2) as isize);
        out = Some(match out {
            Some(acc) => acc + y,
            None => y,
        });
    }
    out.expect("kT >= 1") + conv.bias.val().unsqueeze::<5>()
}
