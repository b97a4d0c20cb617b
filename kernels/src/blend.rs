//! Mixup and CutMix of a batch with itself reversed, in one pass on burn-flex.

#![allow(unsafe_code)] // `write_chunks`: every slot of a block is assigned.

use burn::tensor::{DType, Tensor, TensorData};

use crate::uninit::write_chunks;

/// Blends every clip of a batch with its partner, the clip at the mirrored batch position:
/// with `x` viewed as `[B, R, P, Q]`,
/// `out[b, r, p, q] = keep[p] · x[b, r, p, q] + (1 - keep[p]) · x[B-1-b, r, p, q]`.
/// Mixup is one `keep = [λ]` (`P = 1`); CutMix keeps 1 outside the box and 0 inside, per token
/// (`[B·T, N, C]`: `P = N`, `Q = C`) or per pixel (`[B, 3, T, H, W]`: `P = H·W`, `Q = 1`).
///
/// Data preparation, not a differentiable op: the result is a fresh untracked tensor. On
/// burn-flex (f32) one pass over the batch; elsewhere burn's tensor ops.
///
/// # Shapes
/// - x: `[..]` with `batch · P · inner` dividing its size, keep: `[P]` → x's shape
pub fn blend_with_reversed<const D: usize>(x: Tensor<D>, batch: usize, keep: &[f32], inner: usize) -> Tensor<D> {
    let shape = x.shape();
    let positions = keep.len();
    let numel = shape.num_elements();
    assert!(
        batch > 0 && positions > 0 && inner > 0 && numel % (batch * positions * inner) == 0,
        "blend_with_reversed: {numel} values are not {batch} clips of whole {positions}x{inner} blocks"
    );
    let repeat = numel / (batch * positions * inner);
    let device = x.device();
    if !crate::on_flex(device.as_dispatch()) || x.dtype() != DType::F32 {
        let w = Tensor::<4>::from_data(TensorData::new(keep.to_vec(), [1, 1, positions, 1]), &device).cast(x.dtype());
        let x = x.reshape([batch, repeat, positions, inner]);
        let mixed = x.clone() * w.clone() + x.flip([0]) * (w.neg() + 1.0);
        return mixed.reshape(shape);
    }
    let data = x.into_data();
    let xs = data.as_slice::<f32>().expect("f32 data");
    let clip = numel / batch;
    let block = positions * inner;
    // SAFETY: every position's `inner` slots of a block are assigned.
    let out = unsafe {
        write_chunks(numel, block, |i, slots| {
            let (b, within) = (i / (clip / block), (i % (clip / block)) * block);
            let own = &xs[b * clip + within..][..block];
            let partner = &xs[(batch - 1 - b) * clip + within..][..block];
            for (p, &k) in keep.iter().enumerate() {
                let range = p * inner..(p + 1) * inner;
                for ((o, &a), &c) in slots[range.clone()].iter_mut().zip(&own[range.clone()]).zip(&partner[range]) {
                    o.write(k * a + (1.0 - k) * c);
                }
            }
        })
    };
    Tensor::from_data(TensorData::new(out, shape), &device)
}
