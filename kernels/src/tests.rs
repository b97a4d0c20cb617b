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
                    for (tap, (i, j, l)) in (0..kt)
                        .flat_map(|i| (0..kh).flat_map(move |j| (0..kw).map(move |l| (i, j, l))))
                        .enumerate()
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
