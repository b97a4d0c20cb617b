//! burn-flex kernels: one pass over contiguous f32 storage, parallel over chunks of rows with
//! rayon. Other element types take the composite path.
//!
//! Outputs are written into uninitialised buffers ([`write_chunks`]): a zero-fill first would
//! be one more pass over memory for every activation and gradient.
//!
//! The QuickGELU loops are compiled twice (`multiversion`): for the x86-64 baseline (SSE2, 4
//! lanes) and for AVX2 (8 lanes), picked at run time; its polynomial `exp` is bound by arithmetic,
//! and the AVX2 build runs it in 55-60% of the time. Rust never fuses a multiply and an add on its
//! own, so both builds give the same bits.

#![allow(unsafe_code)] // `set_len` on buffers whose every slot the kernel has just written.

use std::mem::MaybeUninit;

use burn::backend::Flex;
use burn::tensor::{DType, TensorData};
use burn_flex::FlexTensor;
use multiversion::multiversion;
use rayon::prelude::*;

use crate::lanes::{reduce, sigmoid, sum_map, LANES};
use crate::uninit::write_chunks;
use crate::{composite, FusedOps, QUICK_GELU_ALPHA};

/// Elements per rayon task of the element-wise kernels: large enough to amortise scheduling,
/// small enough to split a [B·T·N, D] activation across both cores.
const CHUNK: usize = 1 << 14;

impl FusedOps for Flex {
    fn fused_sum_rows(x: FlexTensor) -> FlexTensor {
        let dims = x.layout().shape().to_vec();
        if x.dtype() != DType::F32 || dims.len() != 2 || dims[1] == 0 {
            return composite::sum_rows::<Flex>(x);
        }
        let x = x.to_contiguous();
        let n = dims[1];
        // Per-task column sums added in task order afterwards: a fixed split, the same sums in the
        // same order every run (burn-flex sums the rows of a [6304, 384] bias gradient on one
        // thread).
        let partials: Vec<Vec<f32>> = f32_slice(&x)
            .par_chunks((CHUNK / n).max(1) * n)
            .map(|rows| {
                let mut sums = vec![0.0f32; n];
                for row in rows.chunks_exact(n) {
                    sums.iter_mut().zip(row).for_each(|(s, v)| *s += v);
                }
                sums
            })
            .collect();
        let mut sums = vec![0.0f32; n];
        for part in &partials {
            sums.iter_mut().zip(part).for_each(|(s, p)| *s += p);
        }
        FlexTensor::from_data(TensorData::new(sums, [n]))
    }

    fn fused_add(a: FlexTensor, b: FlexTensor) -> FlexTensor {
        use burn::backend::ops::FloatTensorOps;

        if a.dtype() != DType::F32 || b.dtype() != DType::F32 || a.layout().shape() != b.layout().shape() {
            return Flex::float_add(a, b);
        }
        let (a, b) = (a.to_contiguous(), b.to_contiguous());
        let (xs, ys) = (f32_slice(&a), f32_slice(&b));
        // SAFETY: every slot of each chunk is written.
        let out = unsafe {
            write_chunks(xs.len(), CHUNK, |i, out| {
                let at = i * CHUNK;
                add_chunk(&xs[at..at + out.len()], &ys[at..at + out.len()], out);
            })
        };
        from_vec(out, &a)
    }

    fn fused_quick_gelu(x: FlexTensor) -> FlexTensor {
        if x.dtype() != DType::F32 {
            return composite::quick_gelu::<Flex>(x);
        }
        let x = x.to_contiguous();
        let xs = f32_slice(&x);
        // SAFETY: every slot of a chunk is assigned (xs has one value per slot).
        let out = unsafe { write_chunks(xs.len(), CHUNK, |i, o| quick_gelu_chunk(&xs[i * CHUNK..], o)) };
        from_vec(out, &x)
    }

    fn fused_quick_gelu_backward(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        if x.dtype() != DType::F32 || grad.dtype() != DType::F32 {
            return composite::quick_gelu_backward::<Flex>(x, grad);
        }
        let (x, grad) = (x.to_contiguous(), grad.to_contiguous());
        let (xs, gs) = (f32_slice(&x), f32_slice(&grad));
        assert_eq!(xs.len(), gs.len(), "quick_gelu_backward: x and grad differ in size");
        // SAFETY: every slot of a chunk is assigned (xs and gs have one value per slot).
        let out = unsafe {
            write_chunks(xs.len(), CHUNK, |i, o| quick_gelu_backward_chunk(&xs[i * CHUNK..], &gs[i * CHUNK..], o))
        };
        from_vec(out, &x)
    }

    fn fused_layer_norm(x: FlexTensor, gamma: FlexTensor, beta: FlexTensor, epsilon: f64) -> FlexTensor {
        use burn::backend::ops::ModuleOps;

        if [x.dtype(), gamma.dtype(), beta.dtype()].iter().any(|&t| t != DType::F32) {
            return Flex::layer_norm(x, gamma, Some(beta), epsilon);
        }
        let [x, gamma, beta] = [x, gamma, beta].map(|t| t.to_contiguous());
        let (xs, gamma_s, beta_s) = (f32_slice(&x), f32_slice(&gamma), f32_slice(&beta));
        let d = gamma_s.len();
        assert!(d > 0 && xs.len() % d == 0 && beta_s.len() == d, "layer_norm: shapes disagree");
        let rows_per_task = (CHUNK / d).max(1);
        // SAFETY: every row of every chunk is written. (burn-flex's own forward zero-fills its
        // output first, on one thread.)
        let out = unsafe {
            write_chunks(xs.len(), rows_per_task * d, |i, out| {
                let xs = &xs[i * rows_per_task * d..];
                for (out, x) in out.chunks_exact_mut(d).zip(xs.chunks_exact(d)) {
                    layer_norm_row(x, gamma_s, beta_s, epsilon as f32, out);
                }
            })
        };
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
        let mut dx = Vec::with_capacity(xs.len());
        // Per-task partial sums of dγ and dβ, reduced afterwards (a fixed task split: the same
        // sums in the same order every run).
        let partials: Vec<(Vec<f32>, Vec<f32>)> = dx.spare_capacity_mut()[..xs.len()]
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
        // SAFETY: the row chunks cover `dx`'s `xs.len()` slots and each row writes all `d` of its own.
        unsafe { dx.set_len(xs.len()) };
        let mut dgamma = vec![0.0f32; d];
        let mut dbeta = vec![0.0f32; d];
        for (pg, pb) in &partials {
            dgamma.iter_mut().zip(pg).for_each(|(a, b)| *a += b);
            dbeta.iter_mut().zip(pb).for_each(|(a, b)| *a += b);
        }
        (from_vec(dx, &x), from_vec(dgamma, &gamma), from_vec(dbeta, &gamma))
    }

    fn fused_adamw(
        param: FlexTensor,
        grad: FlexTensor,
        m1: FlexTensor,
        m2: FlexTensor,
        s: [f32; crate::ADAMW_SCALARS],
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        if [&param, &grad, &m1, &m2].iter().any(|t| t.dtype() != DType::F32) {
            return composite::adamw::<Flex>(param, grad, m1, m2, s);
        }
        let ts = [param, grad, m1, m2].map(|t| t.to_contiguous());
        let [ps, gs, m1s, m2s] = [0, 1, 2, 3].map(|i| f32_slice(&ts[i]));
        let len = ps.len();
        assert!([gs, m1s, m2s].iter().all(|v| v.len() == len), "adamw: parameter, gradient and moments differ in size");
        let (mut p_out, mut m1_out, mut m2_out) =
            (Vec::with_capacity(len), Vec::with_capacity(len), Vec::with_capacity(len));
        // The same f32 operations in the same order as burn's AdamW (composite::adamw).
        p_out.spare_capacity_mut()[..len]
            .par_chunks_mut(CHUNK)
            .zip(m1_out.spare_capacity_mut()[..len].par_chunks_mut(CHUNK))
            .zip(m2_out.spare_capacity_mut()[..len].par_chunks_mut(CHUNK))
            .enumerate()
            .for_each(|(i, ((po, m1o), m2o))| {
                let at = i * CHUNK..i * CHUNK + po.len();
                let inputs = [&ps[at.clone()], &gs[at.clone()], &m1s[at.clone()], &m2s[at]];
                adamw_chunk(inputs, [po, m1o, m2o], s);
            });
        // SAFETY: the three outputs' chunks cover `len` slots each, all written by the loop above.
        unsafe {
            p_out.set_len(len);
            m1_out.set_len(len);
            m2_out.set_len(len);
        }
        (from_vec(p_out, &ts[0]), from_vec(m1_out, &ts[0]), from_vec(m2_out, &ts[0]))
    }

    #[cfg(feature = "blas")]
    fn fused_matmul(lhs: FlexTensor, rhs: FlexTensor) -> FlexTensor {
        blas_matmul(lhs, rhs)
    }

    #[cfg(feature = "blas")]
    fn fused_packed_attention(qkv: FlexTensor, batch: usize, heads: usize, causal: bool) -> FlexTensor {
        if qkv.dtype() != DType::F32 {
            return composite::packed_attention::<Flex>(qkv, batch, heads, causal);
        }
        let qkv = qkv.to_contiguous();
        let [rows, width]: [usize; 2] = qkv.layout().shape().dims();
        let (tokens, dim) = (rows / batch.max(1), width / 3);
        let out = crate::blas::packed_attention(f32_slice(&qkv), [batch, tokens, heads, dim], causal);
        FlexTensor::from_data(TensorData::new(out, [rows, dim]))
    }

    #[cfg(feature = "blas")]
    fn fused_linear(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        if [&x, &weight, &bias].iter().any(|t| t.dtype() != DType::F32) {
            return composite::linear::<Flex>(x, weight, bias);
        }
        let rows = x.layout().shape()[0];
        let (x, a) = batch_matrices(x);
        let (weight, b) = batch_matrices(weight);
        let bias = bias.to_contiguous();
        let n = b[0].cols;
        let out =
            crate::blas::batched_sgemm(x.storage::<f32>(), &a, weight.storage::<f32>(), &b, Some(f32_slice(&bias)));
        FlexTensor::from_data(TensorData::new(out, [rows, n]))
    }

    #[cfg(feature = "blas")]
    fn fused_conv_same(x: FlexTensor, weights: FlexTensor, bias: FlexTensor, kernel: [usize; 3]) -> FlexTensor {
        if [&x, &weights, &bias].iter().any(|t| t.dtype() != DType::F32) {
            return composite::conv_same::<Flex>(x, weights, bias, kernel);
        }
        let [x, weights, bias] = [x, weights, bias].map(|t| t.to_contiguous());
        let dims: [usize; 5] = x.layout().shape().dims();
        let [b, t, h, w, _] = dims;
        let c_out = bias.layout().shape()[0];
        let out = crate::conv::conv_same(f32_slice(&x), dims, kernel, f32_slice(&weights), f32_slice(&bias));
        FlexTensor::from_data(TensorData::new(out, [b, t, h, w, c_out]))
    }

    #[cfg(feature = "blas")]
    fn fused_conv_same_backward(
        x: FlexTensor,
        weights: FlexTensor,
        grad: FlexTensor,
        kernel: [usize; 3],
        input_grad: bool,
    ) -> (Option<FlexTensor>, FlexTensor, FlexTensor) {
        if [&x, &weights, &grad].iter().any(|t| t.dtype() != DType::F32) {
            return composite::conv_same_backward::<Flex>(x, weights, grad, kernel, input_grad);
        }
        let [x, weights, grad] = [x, weights, grad].map(|t| t.to_contiguous());
        let [b, t, h, w, c_in]: [usize; 5] = x.layout().shape().dims();
        let c_out = grad.layout().shape()[4];
        let (dx, dw, dbias) = crate::conv::conv_same_backward(
            f32_slice(&x),
            [b, t, h, w, c_in, c_out],
            kernel,
            f32_slice(&weights),
            f32_slice(&grad),
            input_grad,
        );
        (dx.map(|dx| from_vec(dx, &x)), from_vec(dw, &weights), FlexTensor::from_data(TensorData::new(dbias, [c_out])))
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
                let (Some(ts), Some(hs)) = (inside(ti, dt, t), inside(hi, dh, h)) else {
                    continue;
                };
                let src_row = ((bi * t + ts) * h + hs) * w;
                for (wi, o) in out_row.chunks_exact_mut(c).enumerate() {
                    let Some(ws) = inside(wi, dw, w) else {
                        continue;
                    };
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
        // dy[q, tap] = grad[q - offset(tap)], zero where that falls outside: one task per input
        // row (b, t, h) of W·K·C values.
        // SAFETY: every tap's C slots are copied or zero-filled.
        let dy = unsafe {
            write_chunks(b * t * h * w * k * c, w * k * c, |row, dy_row| {
                let (bt, hi) = (row / h, row % h);
                let (bi, ti) = (bt / t, bt % t);
                for (wi, dy_px) in dy_row.chunks_exact_mut(k * c).enumerate() {
                    for (&[dt, dh, dw], d) in taps.iter().zip(dy_px.chunks_exact_mut(c)) {
                        match (inside(ti, -dt, t), inside(hi, -dh, h), inside(wi, -dw, w)) {
                            (Some(to), Some(ho), Some(wo)) => {
                                let src = (((bi * t + to) * h + ho) * w + wo) * c;
                                d.iter_mut().zip(&gs[src..src + c]).for_each(|(d, &g)| _ = d.write(g));
                            }
                            _ => d.fill(MaybeUninit::new(0.0)),
                        }
                    }
                }
            })
        };
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
    let n = rs[rank - 1];
    let out = crate::blas::batched_sgemm(lhs.storage::<f32>(), &a, rhs.storage::<f32>(), &b, None);
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

/// One AdamW update of a chunk: `[param, grad, m1, m2]` in, `[param, m1, m2]` out, with the
/// scalars of [`crate::AdamWStep::scalars`]. Iterators rather than indices, so the loop vectorises
/// (divisions and square roots are most of its time); the same operations in the same order in
/// every build, so the same bits.
#[multiversion(targets("x86_64+avx2+fma"))]
fn adamw_chunk(
    [ps, gs, m1s, m2s]: [&[f32]; 4],
    [po, m1o, m2o]: [&mut [MaybeUninit<f32>]; 3],
    s: [f32; crate::ADAMW_SCALARS],
) {
    let [beta_1, f1, beta_2, f2, c1, c2, epsilon, decay, lr] = s;
    let inputs = ps.iter().zip(gs).zip(m1s).zip(m2s);
    for ((((&p, &g), &m1), &m2), ((po, m1o), m2o)) in inputs.zip(po.iter_mut().zip(m1o.iter_mut()).zip(m2o.iter_mut()))
    {
        let m1 = m1 * beta_1 + g * f1;
        let m2 = m2 * beta_2 + g * g * f2;
        let delta = (m1 / c1) / ((m2 / c2).sqrt() + epsilon);
        po.write(p * decay - delta * lr);
        m1o.write(m1);
        m2o.write(m2);
    }
}

/// `out = xs + ys`, element by element.
fn add_chunk(xs: &[f32], ys: &[f32], out: &mut [MaybeUninit<f32>]) {
    for ((o, x), y) in out.iter_mut().zip(xs).zip(ys) {
        o.write(x + y);
    }
}

/// QuickGELU of `xs` into `out` (as many values as `out` has slots).
#[multiversion(targets("x86_64+avx2+fma"))]
fn quick_gelu_chunk(xs: &[f32], out: &mut [MaybeUninit<f32>]) {
    for (o, &x) in out.iter_mut().zip(xs) {
        o.write(x * sigmoid(QUICK_GELU_ALPHA as f32 * x));
    }
}

/// `grad · QuickGELU'(x)` into `out` (as many values as `out` has slots).
#[multiversion(targets("x86_64+avx2+fma"))]
fn quick_gelu_backward_chunk(xs: &[f32], gs: &[f32], out: &mut [MaybeUninit<f32>]) {
    let alpha = QUICK_GELU_ALPHA as f32;
    for ((o, &x), &g) in out.iter_mut().zip(xs).zip(gs) {
        let s = sigmoid(alpha * x);
        o.write(g * (s + alpha * x * s * (1.0 - s)));
    }
}

/// One row of LayerNorm: `(x - mean) · rstd · γ + β`, the statistics as the backward computes them.
fn layer_norm_row(x: &[f32], gamma: &[f32], beta: &[f32], epsilon: f32, out: &mut [MaybeUninit<f32>]) {
    let n = x.len() as f32;
    let mean = sum_map(x, |v| v) / n;
    let var = sum_map(x, |v| (v - mean) * (v - mean)) / n;
    let rstd = 1.0 / (var + epsilon).sqrt();
    for (((o, &x), &g), &b) in out.iter_mut().zip(x).zip(gamma).zip(beta) {
        o.write((x - mean) * rstd * g + b);
    }
}

/// One row of the LayerNorm backward; accumulates the row's share of dγ and dβ. The row sums
/// run in [`LANES`] partial sums so that every loop vectorises (an AVX2 build of it measured no
/// faster: the rows are short, and the passes over them bound by memory).
fn layer_norm_row_backward(
    x: &[f32],
    grad: &[f32],
    gamma: &[f32],
    epsilon: f32,
    dx: &mut [MaybeUninit<f32>],
    dgamma: &mut [f32],
    dbeta: &mut [f32],
) {
    let n = x.len() as f32;
    let mean = sum_map(x, |v| v) / n;
    let var = sum_map(x, |v| (v - mean) * (v - mean)) / n;
    let rstd = 1.0 / (var + epsilon).sqrt();
    // Σ grad·γ and Σ grad·γ·x̂, lane by lane, with dγ += grad·x̂ and dβ += grad on the way.
    let (mut sum_g, mut sum_gx) = ([0.0f32; LANES], [0.0f32; LANES]);
    let full = x.len() - x.len() % LANES;
    let row_step = |i: usize, dgamma: &mut [f32], dbeta: &mut [f32]| {
        let xhat = (x[i] - mean) * rstd;
        let g = grad[i] * gamma[i];
        dgamma[i] += grad[i] * xhat;
        dbeta[i] += grad[i];
        (g, g * xhat)
    };
    for start in (0..full).step_by(LANES) {
        for lane in 0..LANES {
            let (g, gx) = row_step(start + lane, dgamma, dbeta);
            sum_g[lane] += g;
            sum_gx[lane] += gx;
        }
    }
    let (mut tail_g, mut tail_gx) = (0.0f32, 0.0f32);
    for i in full..x.len() {
        let (g, gx) = row_step(i, dgamma, dbeta);
        tail_g += g;
        tail_gx += gx;
    }
    let mean_g = (reduce(sum_g) + tail_g) / n;
    let mean_gx = (reduce(sum_gx) + tail_gx) / n;
    for (((dx, &x), &grad), &gamma) in dx.iter_mut().zip(x).zip(grad).zip(gamma) {
        let xhat = (x - mean) * rstd;
        dx.write(rstd * (grad * gamma - mean_g - xhat * mean_gx));
    }
}

fn f32_slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>().expect("a contiguous f32 tensor")
}

/// A tensor of `like`'s shape holding `values`.
fn from_vec(values: Vec<f32>, like: &FlexTensor) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, like.layout().shape().clone()))
}
