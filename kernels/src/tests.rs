//! The fused ops against burn's composite ops: values and gradients, on burn-flex with and
//! without autodiff, including shapes that do not divide the task chunk and strided inputs.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Distribution, Tensor};

use super::*;

fn assert_close<const D: usize>(a: Tensor<D>, b: Tensor<D>, tol: f32, what: &str) {
    let a: Vec<f32> = a.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    let b: Vec<f32> = b.into_data().convert::<f32>().try_into_vec::<f32>().unwrap();
    assert_eq!(a.len(), b.len(), "{what}: sizes");
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs() / (1.0 + y.abs())).fold(0.0f32, f32::max);
    assert!(worst < tol, "{what}: worst relative difference {worst:e}");
}

fn composite_gelu<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    x.clone() * sigmoid(x * QUICK_GELU_ALPHA)
}

#[test]
fn quick_gelu_matches_composite_forward_and_backward() {
    let device = Device::flex().autodiff();
    device.seed(1);
    // 3·7·1001 elements: several rayon tasks and a ragged last one.
    let x0 = Tensor::<3>::random([3, 7, 1001], Distribution::Normal(0.0, 3.0), &device);
    let w = Tensor::<3>::random([3, 7, 1001], Distribution::Normal(0.0, 1.0), &device);
    let (xa, xb) = (x0.clone().require_grad(), x0.require_grad());
    let (ya, yb) = (quick_gelu(xa.clone()), composite_gelu(xb.clone()));
    assert_close(ya.clone(), yb.clone(), 1e-6, "forward");
    let (ga, gb) = ((ya * w.clone()).sum().backward(), (yb * w).sum().backward());
    assert_close(xa.grad(&ga).unwrap(), xb.grad(&gb).unwrap(), 1e-5, "dx");
}

#[test]
fn quick_gelu_on_a_strided_view_and_without_autodiff() {
    let device = Device::flex();
    let x = Tensor::<2>::random([64, 48], Distribution::Normal(0.0, 2.0), &device).swap_dims(0, 1);
    assert_close(quick_gelu(x.clone()), composite_gelu(x), 1e-6, "transposed input");
}

#[test]
fn layer_norm_matches_composite_forward_and_backward() {
    let device = Device::flex().autodiff();
    device.seed(2);
    let d = 96;
    let x0 = Tensor::<3>::random([5, 301, d], Distribution::Normal(0.5, 2.0), &device);
    let w = Tensor::<3>::random([5, 301, d], Distribution::Normal(0.0, 1.0), &device);
    let gamma0 = Tensor::<1>::random([d], Distribution::Normal(1.0, 0.3), &device);
    let beta0 = Tensor::<1>::random([d], Distribution::Normal(0.0, 0.3), &device);
    let fresh = |t: &Tensor<1>| t.clone().detach().require_grad();
    let (xa, ga, ba) = (x0.clone().require_grad(), fresh(&gamma0), fresh(&beta0));
    let (xb, gb, bb) = (x0.require_grad(), fresh(&gamma0), fresh(&beta0));
    let ya = layer_norm(xa.clone(), ga.clone(), ba.clone(), 1e-5);
    let yb = burn::tensor::module::layer_norm(xb.clone(), gb.clone(), Some(bb.clone()), 1e-5);
    assert_close(ya.clone(), yb.clone(), 1e-5, "forward");
    let (grads_a, grads_b) = ((ya * w.clone()).sum().backward(), (yb * w).sum().backward());
    assert_close(xa.grad(&grads_a).unwrap(), xb.grad(&grads_b).unwrap(), 1e-4, "dx");
    assert_close(ga.grad(&grads_a).unwrap(), gb.grad(&grads_b).unwrap(), 1e-4, "dgamma");
    assert_close(ba.grad(&grads_a).unwrap(), bb.grad(&grads_b).unwrap(), 1e-4, "dbeta");
}

/// f16 tensors take the composite path inside the Flex implementation: same gradients as the
/// f32 kernel, to f16 precision.
#[test]
fn half_precision_takes_the_composite_path() {
    use burn::tensor::DType;
    let device = Device::flex().autodiff();
    device.seed(3);
    let x0 = Tensor::<2>::random([40, 24], Distribution::Normal(0.0, 1.0), &device);
    let gamma0 = Tensor::<1>::random([24], Distribution::Normal(1.0, 0.2), &device);
    let beta0 = Tensor::<1>::zeros([24], &device);
    let run = |dtype: DType| {
        let x = x0.clone().cast(dtype).detach().require_grad();
        let gamma = gamma0.clone().cast(dtype).detach().require_grad();
        let y = quick_gelu(layer_norm(x.clone(), gamma.clone(), beta0.clone().cast(dtype), 1e-5));
        let grads = y.clone().sum().backward();
        let f32_of = |t: Tensor<2>| t.cast(DType::F32);
        (f32_of(y), f32_of(x.grad(&grads).unwrap()), gamma.grad(&grads).unwrap().cast(DType::F32))
    };
    let (y32, dx32, dg32) = run(DType::F32);
    let (y16, dx16, dg16) = run(DType::F16);
    assert_close(y16, y32, 1e-2, "f16 forward");
    assert_close(dx16, dx32, 3e-2, "f16 dx");
    assert_close(dg16, dg32, 3e-2, "f16 dgamma");
}

/// The fused path must be the one taken on burn-flex, or the tests above compare composite with
/// composite.
#[test]
fn flex_devices_reach_the_extension() {
    assert!(on_flex(Device::flex().as_dispatch()));
    assert!(on_flex(Device::flex().autodiff().as_dispatch()));
}

/// The tap sum written out as loops over the definition in [`conv_tap_sum`]'s doc.
fn naive_tap_sum(y: &[f32], dims: [usize; 6], kernel: [usize; 3]) -> Vec<f32> {
    let [b, t, h, w, k, c] = dims;
    let [kt, kh, kw] = kernel;
    let mut out = vec![0.0f32; b * t * h * w * c];
    for bi in 0..b {
        for ti in 0..t {
            for hi in 0..h {
                for wi in 0..w {
                    for (tap, (i, j, l)) in
                        (0..kt).flat_map(|i| (0..kh).flat_map(move |j| (0..kw).map(move |l| (i, j, l)))).enumerate()
                    {
                        let ts = ti as isize + i as isize - (kt / 2) as isize;
                        let hs = hi as isize + j as isize - (kh / 2) as isize;
                        let ws = wi as isize + l as isize - (kw / 2) as isize;
                        if ts < 0 || hs < 0 || ws < 0 || ts >= t as isize || hs >= h as isize || ws >= w as isize {
                            continue;
                        }
                        let src = (((((bi * t) + ts as usize) * h + hs as usize) * w + ws as usize) * k + tap) * c;
                        let dst = (((bi * t + ti) * h + hi) * w + wi) * c;
                        for ci in 0..c {
                            out[dst + ci] += y[src + ci];
                        }
                    }
                }
            }
        }
    }
    out
}

fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
}

/// Kernels with even and odd extents on every axis, one larger than its axis (all its taps
/// but the centre fall outside), and a strided input.
#[test]
fn tap_sum_matches_the_definition_on_flex_and_composite() {
    let device = Device::flex();
    device.seed(4);
    for kernel in [[3, 1, 1], [1, 3, 3], [3, 3, 3], [5, 1, 1], [2, 2, 4], [1, 1, 1], [1, 7, 1]] {
        let taps: usize = kernel.iter().product();
        let dims = [2, 5, 4, 3, taps, 6];
        let y = Tensor::<6>::random(dims, Distribution::Normal(0.0, 1.0), &device);
        let expect = naive_tap_sum(&values(y.clone()), dims, kernel);
        let fused = values(conv_tap_sum(y.clone(), kernel));
        let composite = values(Tensor::<5>::from_dispatch(composite::tap_sum::<Dispatch>(y.into_dispatch(), kernel)));
        for (what, got) in [("flex", fused), ("composite", composite)] {
            let worst = got.iter().zip(&expect).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
            assert!(worst < 1e-5, "{what} {kernel:?}: worst difference {worst:e}");
        }
    }
    // A transposed view of the same values gives the same sums.
    let y = Tensor::<6>::random([2, 3, 4, 5, 9, 6], Distribution::Normal(0.0, 1.0), &device);
    let view = y.clone().swap_dims(0, 5).into_data();
    let view = Tensor::<6>::from_data(view, &device).swap_dims(0, 5);
    assert_close(conv_tap_sum(view, [1, 3, 3]), conv_tap_sum(y, [1, 3, 3]), 1e-6, "strided input");
}

/// The fused backward against autodiff through the composite's slices and pads.
#[test]
fn tap_sum_backward_matches_composite() {
    let device = Device::flex().autodiff();
    device.seed(5);
    for kernel in [[3, 1, 1], [1, 3, 3], [3, 3, 3], [2, 2, 4]] {
        let taps: usize = kernel.iter().product();
        let dims = [2, 4, 5, 3, taps, 7];
        let y0 = Tensor::<6>::random(dims, Distribution::Normal(0.0, 1.0), &device);
        let w = Tensor::<5>::random([2, 4, 5, 3, 7], Distribution::Normal(0.0, 1.0), &device);
        let (ya, yb) = (y0.clone().require_grad(), y0.require_grad());
        let out_a = conv_tap_sum(ya.clone(), kernel);
        let out_b = Tensor::<5>::from_dispatch(composite::tap_sum::<Dispatch>(yb.clone().into_dispatch(), kernel));
        let (ga, gb) = ((out_a * w.clone()).sum().backward(), (out_b * w).sum().backward());
        assert_close(ya.grad(&ga).unwrap(), yb.grad(&gb).unwrap(), 1e-6, &format!("dy {kernel:?}"));
    }
}

/// `conv_same` against one gemm and the tap sum: values and the three gradients, for kernels
/// with even and odd extents, one wider than its axis, and a volume of several row tiles with a
/// ragged last one (2·5·7·9 = 630 rows).
#[test]
fn conv_same_matches_gemm_and_tap_sum() {
    let device = Device::flex().autodiff();
    device.seed(11);
    let (c_in, c_out) = (5, 7);
    for (dims, kernel) in [
        ([2, 5, 7, 9], [1, 3, 3]),
        ([2, 5, 7, 9], [3, 1, 1]),
        ([1, 4, 3, 2], [3, 3, 3]),
        ([2, 3, 4, 5], [2, 2, 4]),
        ([1, 2, 3, 2], [1, 1, 5]),
        ([3, 2, 2, 2], [1, 1, 1]),
    ] {
        let [b, t, h, w] = dims;
        let taps: usize = kernel.iter().product();
        let x0 = Tensor::<5>::random([b, t, h, w, c_in], Distribution::Normal(0.0, 1.0), &device);
        let w0 = Tensor::<2>::random([c_in, taps * c_out], Distribution::Normal(0.0, 1.0), &device);
        let b0 = Tensor::<1>::random([c_out], Distribution::Normal(0.0, 1.0), &device);
        let probe = Tensor::<5>::random([b, t, h, w, c_out], Distribution::Normal(0.0, 1.0), &device);
        let leaves = || (x0.clone().require_grad(), w0.clone().require_grad(), b0.clone().require_grad());
        let ((xa, wa, ba), (xb, wb, bb)) = (leaves(), leaves());
        let out_a = conv_same(xa.clone(), wa.clone(), ba.clone(), kernel);
        let y = matmul(xb.clone().reshape([b * t * h * w, c_in]), wb.clone()).reshape([b, t, h, w, taps, c_out]);
        let out_b = conv_tap_sum(y, kernel) + bb.clone().reshape([1, 1, 1, 1, c_out]);
        let what = |part: &str| format!("{part} {dims:?} {kernel:?}");
        assert_close(out_a.clone(), out_b.clone(), 1e-5, &what("forward"));
        let (ga, gb) = ((out_a * probe.clone()).sum().backward(), (out_b * probe).sum().backward());
        assert_close(xa.grad(&ga).unwrap(), xb.grad(&gb).unwrap(), 1e-5, &what("dx"));
        assert_close(wa.grad(&ga).unwrap(), wb.grad(&gb).unwrap(), 1e-5, &what("dweights"));
        assert_close(ba.grad(&ga).unwrap(), bb.grad(&gb).unwrap(), 1e-5, &what("dbias"));
    }
}

/// An empty batch gives an empty output of the right shape, and empty gradients.
#[test]
fn conv_same_on_an_empty_batch() {
    let device = Device::flex().autodiff();
    let x = Tensor::<5>::zeros([0, 4, 3, 3, 6], &device).require_grad();
    let w = Tensor::<2>::ones([6, 9 * 5], &device).require_grad();
    let b = Tensor::<1>::ones([5], &device).require_grad();
    let out = conv_same(x.clone(), w.clone(), b.clone(), [1, 3, 3]);
    assert_eq!(out.dims(), [0, 4, 3, 3, 5]);
    let grads = out.sum().backward();
    assert_eq!(w.grad(&grads).unwrap().dims(), [6, 45]);
    assert_eq!(b.grad(&grads).unwrap().into_data().to_vec::<f32>().unwrap(), vec![0.0; 5]);
}

/// With an input that needs no gradient (the stem's frames), the weight and bias gradients are
/// the same as with one that does, and the input gets none.
#[test]
fn conv_same_without_input_gradient() {
    let device = Device::flex().autodiff();
    device.seed(12);
    let kernel = [3, 1, 1];
    let x = Tensor::<5>::random([2, 4, 3, 3, 6], Distribution::Normal(0.0, 1.0), &device);
    let w0 = Tensor::<2>::random([6, 3 * 4], Distribution::Normal(0.0, 1.0), &device);
    let b0 = Tensor::<1>::random([4], Distribution::Normal(0.0, 1.0), &device);
    let run = |x: Tensor<5>| {
        let (w, b) = (w0.clone().require_grad(), b0.clone().require_grad());
        let grads = conv_same(x.clone(), w.clone(), b.clone(), kernel).powi_scalar(2).sum().backward();
        (x.grad(&grads), w.grad(&grads).unwrap(), b.grad(&grads).unwrap())
    };
    let (dx_none, dw_a, db_a) = run(x.clone());
    let (dx_some, dw_b, db_b) = run(x.require_grad());
    assert!(dx_none.is_none() && dx_some.is_some(), "input gradient only when asked for");
    assert_close(dw_a, dw_b, 1e-6, "dweights");
    assert_close(db_a, db_b, 1e-6, "dbias");
}

/// `add` against `+`: values and both gradients, on a tensor of several chunks with a ragged last
/// one, on a transposed view, and on broadcast shapes (burn's path).
#[test]
fn add_matches_burn_forward_and_backward() {
    let device = Device::flex().autodiff();
    device.seed(13);
    let a0 = Tensor::<3>::random([3, 7, 1001], Distribution::Normal(0.0, 1.0), &device);
    let b0 = Tensor::<3>::random([3, 7, 1001], Distribution::Normal(0.0, 1.0), &device);
    let probe = Tensor::<3>::random([3, 7, 1001], Distribution::Normal(0.0, 1.0), &device);
    let check = |a0: Tensor<3>, b0: Tensor<3>, what: &str| {
        let ((aa, ba), (ab, bb)) =
            ((a0.clone().require_grad(), b0.clone().require_grad()), (a0.require_grad(), b0.require_grad()));
        let (out_a, out_b) = (add(aa.clone(), ba.clone()), ab.clone() + bb.clone());
        assert_close(out_a.clone(), out_b.clone(), 1e-7, &format!("{what}: forward"));
        let (ga, gb) = ((out_a * probe.clone()).sum().backward(), (out_b * probe.clone()).sum().backward());
        assert_close(aa.grad(&ga).unwrap(), ab.grad(&gb).unwrap(), 1e-7, &format!("{what}: da"));
        assert_close(ba.grad(&ga).unwrap(), bb.grad(&gb).unwrap(), 1e-7, &format!("{what}: db"));
    };
    check(a0.clone(), b0.clone(), "contiguous");
    let t = Tensor::<3>::random([3, 1001, 7], Distribution::Normal(0.0, 1.0), &device).swap_dims(1, 2);
    check(a0.clone(), t, "transposed");
    let row = Tensor::<3>::random([1, 1, 1001], Distribution::Normal(0.0, 1.0), &device);
    assert_close(add(a0.clone(), row.clone()), a0 + row, 1e-7, "broadcast");
}

/// f16 goes through the composite inside the Flex implementation, forward and backward.
#[test]
fn tap_sum_in_half_precision() {
    use burn::tensor::DType;
    let device = Device::flex().autodiff();
    device.seed(6);
    let y0 = Tensor::<6>::random([1, 4, 3, 3, 9, 4], Distribution::Normal(0.0, 1.0), &device);
    let run = |dtype: DType| {
        let y = y0.clone().cast(dtype).detach().require_grad();
        let out = conv_tap_sum(y.clone(), [1, 3, 3]);
        let grads = (out.clone() * out.clone()).sum().backward();
        (out.cast(DType::F32), y.grad(&grads).unwrap().cast(DType::F32))
    };
    let ((o32, g32), (o16, g16)) = (run(DType::F32), run(DType::F16));
    assert_close(o16, o32, 1e-2, "f16 forward");
    assert_close(g16, g32, 2e-2, "f16 dy");
}

/// `matmul` against burn's own: values and both gradients, on plain, transposed and batched
/// operands, and a broadcast batch (burn's path) on the same call.
#[test]
fn matmul_matches_burn_forward_and_backward() {
    let device = Device::flex().autodiff();
    device.seed(7);
    let check = |a0: Tensor<4>, b0: Tensor<4>, what: &str| {
        // One pair of leaves in both graphs: each backward gives its own gradients of them.
        let (aa, ba) = (a0.detach().require_grad(), b0.detach().require_grad());
        let (ya, yb) = (matmul(aa.clone(), ba.clone()), aa.clone().matmul(ba.clone()));
        let w = Tensor::<4>::random(ya.dims(), Distribution::Normal(0.0, 1.0), &ya.device());
        assert_close(ya.clone(), yb.clone(), 1e-5, &format!("{what}: forward"));
        let (ga, gb) = ((ya * w.clone()).sum().backward(), (yb * w).sum().backward());
        assert_close(aa.grad(&ga).unwrap(), aa.grad(&gb).unwrap(), 1e-4, &format!("{what}: dlhs"));
        assert_close(ba.grad(&ga).unwrap(), ba.grad(&gb).unwrap(), 1e-4, &format!("{what}: drhs"));
    };
    let normal = |shape: [usize; 4]| Tensor::<4>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    check(normal([2, 3, 70, 40]), normal([2, 3, 40, 90]), "batched");
    check(normal([2, 3, 40, 70]).swap_dims(2, 3), normal([2, 3, 90, 40]).swap_dims(2, 3), "transposed views");
    check(normal([3, 2, 300, 64]).swap_dims(0, 1), normal([2, 3, 64, 50]), "permuted batch axes");
    check(normal([1, 1, 700, 96]), normal([1, 1, 96, 200]), "one large product (row blocks)");
    check(normal([2, 3, 70, 40]), normal([1, 1, 40, 90]), "broadcast batch");
}

/// glibc accepts both allocator settings (the binaries call this first thing).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn freed_memory_is_retained_on_glibc() {
    assert!(retain_freed_memory());
    // Large blocks still allocate, free and reallocate with the settings in force.
    let big = vec![1u8; 80 << 20];
    assert_eq!(big.iter().map(|&v| v as usize).sum::<usize>(), 80 << 20);
    drop(big);
    let again = vec![0u8; 100 << 20];
    assert!(again.iter().all(|&v| v == 0), "a reused block comes back zeroed by vec!");
}

/// Three AdamW updates (the first without moments) against burn's own `AdamW`, with and without
/// weight decay, on a size that leaves a ragged last task.
#[test]
fn adamw_update_matches_burns_adamw() {
    use burn::optim::{AdamWConfig, Optimizer};

    let device = Device::flex();
    device.seed(3);
    for weight_decay in [0.0f32, 0.05] {
        let config = AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(weight_decay);
        let reference = config.build();
        let mut p_ref = Tensor::<2>::random([37, 1001], Distribution::Normal(0.0, 1.0), &device);
        let (mut p, mut moments, mut state) = (p_ref.clone(), None, None);
        for (time, lr) in [(1, 1e-3), (2, 3e-3), (3, 2e-4)] {
            let grad = Tensor::<2>::random([37, 1001], Distribution::Normal(0.0, 0.1), &device);
            (p_ref, state) = reference.step(lr, p_ref, grad.clone(), state);
            let step = AdamWStep { lr, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-8, weight_decay, time };
            let (p_new, m1, m2) = adamw_update(p, grad, moments, &step);
            let expected = state.as_ref().unwrap();
            assert_close(m1.clone(), expected.momentum.moment_1.clone(), 1e-7, "first moment");
            assert_close(m2.clone(), expected.momentum.moment_2.clone(), 1e-7, "second moment");
            assert_close(p_new.clone(), p_ref.clone(), 1e-7, "parameter");
            (p, moments) = (p_new, Some((m1, m2)));
        }
    }
}

/// Each clip blended with its mirror partner, per token and per pixel, against the definition;
/// and the tensor-op path (f16) agreeing with the one-pass path.
#[test]
fn blend_with_reversed_matches_its_definition() {
    let device = Device::flex();
    device.seed(4);
    // Taps [B·T, N, C] = 3 clips of 2 frames, 5 tokens, 7 channels: keep per token.
    let (b, t, n, c) = (3, 2, 5, 7);
    let x = Tensor::<3>::random([b * t, n, c], Distribution::Normal(0.0, 1.0), &device);
    let keep = [1.0, 0.0, 0.25, 1.0, 0.0];
    let out: Vec<f32> = blend_with_reversed(x.clone(), b, &keep, c).into_data().try_to_vec::<f32>().unwrap();
    let xs: Vec<f32> = x.clone().into_data().try_to_vec::<f32>().unwrap();
    let clip = t * n * c;
    for (i, &got) in out.iter().enumerate() {
        let (bi, within) = (i / clip, i % clip);
        let k = keep[(within / c) % n];
        let expect = k * xs[i] + (1.0 - k) * xs[(b - 1 - bi) * clip + within];
        assert!((got - expect).abs() < 1e-6, "tap value {i}: {got} vs {expect}");
    }
    let half = blend_with_reversed(x.clone().cast(burn::tensor::DType::F16), b, &keep, c);
    assert_close(half, blend_with_reversed(x, b, &keep, c), 2e-3, "f16 tensor-op path");
    // Frames [B, 3, T, H, W] with one λ (Mixup): P = 1.
    let frames = Tensor::<5>::random([4, 3, 2, 6, 5], Distribution::Normal(0.0, 1.0), &device);
    let mixed = blend_with_reversed(frames.clone(), 4, &[0.3], 1);
    let expect = frames.clone() * 0.3 + frames.flip([0]) * 0.7;
    assert_close(mixed, expect, 1e-6, "mixup of frames");
}

/// `linear` (bias rows + one product) against `matmul` plus a broadcast add: values and the
/// gradients of input, weight and bias; the weight read through a transposed view, as the DiST
/// branches store theirs `[out, in]`.
#[test]
fn linear_matches_matmul_plus_bias() {
    let device = Device::flex().autodiff();
    device.seed(5);
    // 1501 rows: the bias gradient sums several row chunks, the last one ragged.
    let (rows, k, n) = (1501, 40, 24);
    let x0 = Tensor::<2>::random([rows, k], Distribution::Normal(0.0, 1.0), &device);
    let w0 = Tensor::<2>::random([n, k], Distribution::Normal(0.0, 0.2), &device);
    let b0 = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &device);
    let probe = Tensor::<2>::random([rows, n], Distribution::Normal(0.0, 1.0), &device);
    let fresh = |t: &Tensor<2>| t.clone().detach().require_grad();
    let (xa, wa, ba) = (fresh(&x0), fresh(&w0), b0.clone().detach().require_grad());
    let (xb, wb, bb) = (fresh(&x0), fresh(&w0), b0.detach().require_grad());
    let ya = linear(xa.clone(), wa.clone().transpose(), ba.clone());
    let yb = xb.clone().matmul(wb.clone().transpose()) + bb.clone().unsqueeze_dim(0);
    assert_close(ya.clone(), yb.clone(), 1e-5, "forward");
    let (ga, gb) = ((ya * probe.clone()).sum().backward(), (yb * probe).sum().backward());
    assert_close(xa.grad(&ga).unwrap(), xb.grad(&gb).unwrap(), 1e-4, "dx");
    assert_close(wa.grad(&ga).unwrap(), wb.grad(&gb).unwrap(), 1e-4, "dw");
    assert_close(ba.grad(&ga).unwrap(), bb.grad(&gb).unwrap(), 1e-4, "dbias");
    // Without autodiff (the frozen towers' path).
    let plain = Device::flex();
    let x = Tensor::<2>::random([rows, k], Distribution::Normal(0.0, 1.0), &plain);
    let w = Tensor::<2>::random([k, n], Distribution::Normal(0.0, 0.2), &plain);
    let b = Tensor::<1>::random([n], Distribution::Normal(0.0, 1.0), &plain);
    assert_close(linear(x.clone(), w.clone(), b.clone()), x.matmul(w) + b.unsqueeze_dim(0), 1e-5, "no autodiff");
}

/// Packed attention (OpenBLAS path) against burn's `attention` on the split heads, with and
/// without the causal mask; and on an autodiff device (the composite path), gradients flowing.
#[test]
fn packed_attention_matches_burns_attention() {
    use burn::tensor::module::attention;
    use burn::tensor::ops::AttentionModuleOptions;

    let reference = |qkv: Tensor<2>, b: usize, h: usize, causal: bool| {
        let [rows, width] = qkv.dims();
        let (n, c) = (rows / b, width / 3);
        let qkv = qkv.reshape([b, n, 3, h, c / h]).permute([2, 0, 3, 1, 4]);
        let part = |i: usize| qkv.clone().narrow(0, i, 1).reshape([b, h, n, c / h]);
        let options = AttentionModuleOptions { scale: None, softcap: None, is_causal: causal };
        attention(part(0), part(1), part(2), None, None, options).swap_dims(1, 2).reshape([rows, c])
    };
    let device = Device::flex();
    device.seed(6);
    for (b, n, h, dh, causal) in [(3, 17, 4, 8, false), (2, 77, 2, 16, true), (1, 5, 1, 3, false)] {
        let qkv = Tensor::<2>::random([b * n, 3 * h * dh], Distribution::Normal(0.0, 1.5), &device);
        let got = packed_attention(qkv.clone(), b, h, causal);
        assert_close(got, reference(qkv, b, h, causal), 1e-5, &format!("b{b} n{n} h{h} causal {causal}"));
    }
    let tracked = Device::flex().autodiff();
    let qkv = Tensor::<2>::random([2 * 9, 3 * 12], Distribution::Normal(0.0, 1.0), &tracked).require_grad();
    let out = packed_attention(qkv.clone(), 2, 3, false);
    assert_close(out.clone(), reference(qkv.clone(), 2, 3, false), 1e-5, "autodiff forward");
    let grads = out.sum().backward();
    assert!(qkv.grad(&grads).is_some(), "gradients reach the projection");
}
