//! burn-flex kernels: one pass over contiguous f32 storage, parallel over chunks of rows with
//! rayon. Other element types take the composite path.

use burn::backend::Flex;
use burn::tensor::{DType, TensorData};
use burn_flex::FlexTensor;
use rayon::prelude::*;

use crate::{composite, FusedOps, QUICK_GELU_ALPHA};

/// Elements per rayon task of the element-wise kernels: large enough to amortise scheduling,
/// small enough to split a [B·T·N, D] activation across both cores.
const CHUNK: usize = 1 << 14;

impl FusedOps for Flex {
    fn fused_quick_gelu(x: FlexTensor) -> FlexTensor {
        if x.dtype() != DType::F32 {
            return composite::quick_gelu::<Flex>(x);
        }
        let x = x.to_contiguous();
        let xs = f32_slice(&x);
        let mut out = vec![0.0f32; xs.len()];
        out.par_chunks_mut(CHUNK).zip(xs.par_chunks(CHUNK)).for_each(|(o, x)| {
            for (o, &x) in o.iter_mut().zip(x) {
                *o = x * sigmoid(QUICK_GELU_ALPHA as f32 * x);
            }
        });
        from_vec(out, &x)
    }

    fn fused_quick_gelu_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        if x.dtype() != DType::F32 || grad.dtype() != DType::F32 {
            return composite::quick_gelu_backward::<Flex>(x, grad);
        }
        let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
        let (xs, gs) = (f32_slice(&x), f32_slice(&grad));
        assert_eq!(xs.len(), gs.len(), "quick_gelu_backward: x and grad differ in size");
        let alpha = QUICK_GELU_ALPHA as f32;
        let mut out = vec![0.0f32; xs.len()];
        out.par_chunks_mut(CHUNK).zip(xs.par_chunks(CHUNK).zip(gs.par_chunks(CHUNK))).for_each(|(o, (x, g))| {
            for ((o, &x), &g) in o.iter_mut().zip(x).zip(g) {
                let s = sigmoid(alpha * x);
                *o = g * (s + alpha * x * s * (1.0 - s));
            }
        });
        from_vec(out, &x)
    }

    fn fused_layer_norm_backward(
        x: FlexTensor,
        gamma: FlexTensor,
        grad: FlexTensor,
        epsilon: f64,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        if [x.dtype(), gamma.dtype(), grad.dtype()].iter().any(|&t| t != DType::F32) {
            return composite::layer_norm_backward::<Flex>(x, gamma, grad, epsilon);
        }
        let (x, gamma, grad) = (x.to_contiguous(), gamma.to_contiguous(), grad.to_contiguous());
        let (xs, gs, gamma_s) = (f32_slice(&x), f32_slice(&grad), f32_slice(&gamma));
        let d = gamma_s.len();
        assert!(d > 0 && xs.len() % d == 0 && xs.len() == gs.len(), "layer_norm_backward: shapes disagree");
        let rows_per_task = (CHUNK / d).max(1);
        let mut dx = vec![0.0f32; xs.len()];
        // Per-task partial sums of dγ and dβ, reduced afterwards (a fixed task split: the same
        // sums in the same order every run).
        let partials: Vec<(Vec<f32>, Vec<f32>)> = dx
            .par_chunks_mut(rows_per_task * d)
            .zip(xs.par_chunks(rows_per_task * d).zip(gs.par_chunks(rows_per_task * d)))
            .map(|(dx, (x, g))| {
                let mut dgamma = vec![0.0f32; d];
                let mut dbeta = vec![0.0f32; d];
                for ((dx, x), g) in dx.chunks_exact_mut(d).zip(x.chunks_exact(d)).zip(g.chunks_exact(d)) {
                    layer_norm_row_backward(x, g, gamma_s, epsilon as f32, dx, &mut dgamma, &mut dbeta);
                }
                (dgamma, dbeta)
            })
            .collect();
        let mut dgamma = vec![0.0f32; d];
        let mut dbeta = vec![0.0f32; d];
        for (pg, pb) in &partials {
            dgamma.iter_mut().zip(pg).for_each(|(a, b)| *a += b);
            dbeta.iter_mut().zip(pb).for_each(|(a, b)| *a += b);
        }
        (from_vec(dx, &x), from_vec(dgamma, &gamma), from_vec(dbeta, &gamma))
    }

    #[cfg(feature = "blas")]
    fn fused_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
        blas_matmul(lhs, rhs)
    }

    fn fused_tap_sum(y: FlexTensor, kernel: [usize; 3]) -> FlexTensor {
        if y.dtype() != DType::F32 {
            return composite::tap_sum::<Flex>(y, kernel);
        }
        let y = y.to_contiguous();
        let dims: [usize; 6] = y.layout().shape().dims();
        let [b, t, h, w, k, c] = dims;
        let taps: Vec<[isize; 3]> = composite::tap_offsets(kernel).collect();
        assert_eq!(taps.len(), k, "tap_sum: {k} taps stored, kernel {kernel:?}");
        let ys = f32_slice(&y);
        let mut out = vec![0.0f32; b * t * h * w * c];
        // One task per output row (b, t, h): W·C outputs, each the sum of its in-bounds taps.
        out.par_chunks_mut(w * c).enumerate().for_each(|(row, out_row)| {
            let (bt, hi) = (row / h, row % h);
            let (bi, ti) = (bt / t, bt % t);
            for (tap, &[dt, dh, dw]) in taps.iter().enumerate() {
                let (Some(ts), Some(hs)) = (inside(ti, dt, t), inside(hi, dh, h)) else { continue };
                let src_row = ((bi * t + ts) * h + hs) * w;
                for (wi, o) in out_row.chunks_exact_mut(c).enumerate() {
                    let Some(ws) = inside(wi, dw, w) else { continue };
                    let src = ((src_row + ws) * k + tap) * c;
                    o.iter_mut().zip(&ys[src..src + c]).for_each(|(o, y)| *o += y);
                }
            }
        });
        FlexTensor::from_data(TensorData::new(out, [b, t, h, w, c]))
    }

    fn fused_tap_sum_backward(grad: FlexTensor, kernel: [usize; 3]) -> FlexTensor {
        if grad.dtype() != DType::F32 {
            return composite::tap_sum_backward::<Flex>(grad, kernel);
        }
        let grad = grad.to_contiguous();
        let [b, t, h, w, c]: [usize; 5] = grad.layout().shape().dims();
        let taps: Vec<[isize; 3]> = composite::tap_offsets(kernel).collect();
        let k = taps.len();
        let gs = f32_slice(&grad);
        let mut dy = vec![0.0f32; b * t * h * w * k * c];
        // dy[q, tap] = grad[q - offset(tap)]: one task per input row (b, t, h) of W·K·C values.
        dy.par_chunks_mut(w * k * c).enumerate().for_each(|(row, dy_row)| {
            let (bt, hi) = (row / h, row % h);
            let (bi, ti) = (bt / t, bt % t);
            for (wi, dy_px) in dy_row.chunks_exact_mut(k * c).enumerate() {
                for (&[dt, dh, dw], d) in taps.iter().zip(dy_px.chunks_exact_mut(c)) {
                    let (Some(to), Some(ho), Some(wo)) = (inside(ti, -dt, t), inside(hi, -dh, h), inside(wi, -dw, w))
                    else {
                        continue;
                    };
                    let src = (((bi * t + to) * h + ho) * w + wo) * c;
                    d.copy_from_slice(&gs[src..src + c]);
                }
            }
        });
        FlexTensor::from_data(TensorData::new(dy, [b, t, h, w, k, c]))
    }
}

/// f32 products of equal batch shapes through OpenBLAS; anything else is burn-flex's own matmul.
#[cfg(feature = "blas")]
fn blas_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
    use burn::backend::ops::FloatTensorOps;

    let (ls, rs) = (lhs.layout().shape().clone(), rhs.layout().shape().clone());
    let rank = ls.num_dims();
    let same_batch = rank == rs.num_dims() && rank >= 2 && ls[..rank - 2] == rs[..rank - 2];
    if lhs.dtype() != DType::F32 || rhs.dtype() != DType::F32 || !same_batch {
        return Flex::float_matmul(lhs, rhs);
    }
    let (lhs, a) = batch_matrices(lhs);
    let (rhs, b) = batch_matrices(rhs);
    let (m, n) = (ls[rank - 2], rs[rank - 1]);
    let mut out = vec![0.0f32; a.len() * m * n];
    crate::blas::batched_sgemm(lhs.storage::<f32>(), &a, rhs.storage::<f32>(), &b, &mut out);
    let mut dims = ls.to_vec();
    dims[rank - 1] = n;
    FlexTensor::from_data(TensorData::new(out, dims))
}

/// The matrices of a `[.., rows, cols]` tensor in row-major batch order, read in place when the
/// last two axes allow it, else from a contiguous copy (returned beside them).
#[cfg(feature = "blas")]
fn batch_matrices(t: FlexTensor) -> (FlexTensor, Vec<crate::blas::MatRef>) {
    use crate::blas::MatRef;

    let dims = t.layout().shape().to_vec();
    let rank = dims.len();
    let (rows, cols) = (dims[rank - 2], dims[rank - 1]);
    let strides = t.layout().strides();
    if MatRef::from_strides(0, rows, cols, strides[rank - 2], strides[rank - 1]).is_none()
        || strides[..rank - 2].iter().any(|&s| s < 0)
    {
        return batch_matrices(t.to_contiguous());
    }
    let strides = strides.to_vec();
    let count: usize = dims[..rank - 2].iter().product();
    let mats = (0..count)
        .map(|index| {
            // The batch index's element offset, from the innermost batch axis outwards.
            let (mut rest, mut offset) = (index, t.layout().start_offset());
            for axis in (0..rank - 2).rev() {
                offset += (rest % dims[axis]) * strides[axis] as usize;
                rest /= dims[axis];
            }
            MatRef::from_strides(offset, rows, cols, strides[rank - 2], strides[rank - 1]).expect("checked above")
        })
        .collect();
    (t, mats)
}

/// `i + offset` when it lies in `0..len`.
fn inside(i: usize, offset: isize, len: usize) -> Option<usize> {
    i.checked_add_signed(offset).filter(|&j| j < len)
}

/// One row of the LayerNorm backward; accumulates the row's share of dγ and dβ.
fn layer_norm_row_backward(
    x: &[f32],
    grad: &[f32],
    gamma: &[f32],
    epsilon: f32,
    dx: &mut [f32],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|&v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let rstd = 1.0 / (var + epsilon).sqrt();
    let (mut sum_g, mut sum_gx) = (0.0f32, 0.0f32);
    for i in 0..x.len() {
        let xhat = (x[i] - mean) * rstd;
        let g = grad[i] * gamma[i];
        sum_g += g;
        sum_gx += g * xhat;
        dgamma[i] += grad[i] * xhat;
        dbeta[i] += grad[i];
    }
    let (mean_g, mean_gx) = (sum_g / n, sum_gx / n);
    for i in 0..x.len() {
        let xhat = (x[i] - mean) * rstd;
        dx[i] = rstd * (grad[i] * gamma[i] - mean_g - xhat * mean_gx);
    }
}

fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + (-v).exp())
}

fn f32_slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// A tensor of `like`'s shape holding `values`.
fn from_vec(values: Vec<f32>, like: &FlexTensor) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, like.layout().shape().clone()))
}
