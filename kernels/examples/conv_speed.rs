//! Times a T-Block's stride-1 "same" convolutions at the trainer's shapes (batch 4, γT = 16,
//! 14x14 patches, 96 channels), forward and backward: `conv_same` (row tiles, one gemm per
//! tap) against one gemm for every tap plus `conv_tap_sum`. Best of 5, alternated.
//!
//! `cargo run --release -p dist-kernels --example conv_speed`

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};
use dist_kernels::{conv_same, conv_tap_sum, matmul};

fn main() {
    dist_kernels::retain_freed_memory();
    let device = Device::flex().autodiff();
    let [b, t, h, w, c] = [4, 16, 14, 14, 96];
    for kernel in [[1, 3, 3], [3, 1, 1]] {
        let taps: usize = kernel.iter().product();
        let x = Tensor::<5>::random([b, t, h, w, c], Distribution::Normal(0.0, 1.0), &device).require_grad();
        let wt = Tensor::<2>::random([c, taps * c], Distribution::Normal(0.0, 0.1), &device).require_grad();
        let bias = Tensor::<1>::zeros([c], &device).require_grad();
        let probe = Tensor::<5>::random([b, t, h, w, c], Distribution::Normal(0.0, 1.0), &device);
        let tiled = || conv_same(x.clone(), wt.clone(), bias.clone(), kernel);
        let gemm = || {
            let y = matmul(x.clone().reshape([b * t * h * w, c]), wt.clone()).reshape([b, t, h, w, taps, c]);
            conv_tap_sum(y, kernel) + bias.clone().reshape([1, 1, 1, 1, c])
        };
        let flop = 2.0 * (b * t * h * w * c * taps * c) as f64;
        let mut best = [[f64::MAX; 2]; 2];
        for _ in 0..5 {
            for (i, run) in [&tiled as &dyn Fn() -> Tensor<5>, &gemm].into_iter().enumerate() {
                let start = Instant::now();
                let out = run();
                let _ = out.clone().into_data();
                let forward = start.elapsed().as_secs_f64();
                let grads = (out * probe.clone()).sum().backward();
                let _ = wt.grad(&grads).map(|g| g.into_data());
                let _ = x.grad(&grads).map(|g| g.into_data());
                let backward = start.elapsed().as_secs_f64() - forward;
                best[i] = [best[i][0].min(forward), best[i][1].min(backward)];
            }
        }
        for (name, [f, bw]) in ["conv_same", "gemm + tap sum"].iter().zip(best) {
            println!(
                "{kernel:?} {name:<15} forward {:6.2} ms ({:5.1} GFLOP/s), backward {:6.2} ms ({:5.1} GFLOP/s)",
                f * 1e3,
                flop / f / 1e9,
                bw * 1e3,
                2.0 * flop / bw / 1e9
            );
        }
    }
}
