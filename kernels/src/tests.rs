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
