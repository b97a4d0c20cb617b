//! Times `dist_kernels::matmul` on the products of one DiST trainer step (ViT-B/16 shapes,
//! batch 4): forward products (many rows, small K) and weight gradients (small M·N, K the rows
//! of the batch), operands transposed as the trainer passes them. Best of 5 per shape.
//!
//! `cargo run --release -p dist-kernels --example gemm_shapes`

use std::time::Instant;

use burn::tensor::{Device, Distribution, Tensor};

fn main() {
    dist_kernels::retain_freed_memory();
    let device = Device::flex();
    // (m, k, n, lhs transposed, rhs transposed)
    let shapes = [
        (384, 6304, 384, true, false),
        (768, 6304, 384, true, false),
        (96, 12544, 864, true, false),
        (96, 12544, 288, true, false),
        (192, 6272, 384, true, false),
        (6304, 384, 384, false, true),
        (6304, 384, 384, false, false),
        (12544, 96, 864, false, false),
        (12544, 864, 96, false, true),
        (12544, 96, 288, false, false),
        (6304, 96, 384, false, false),
    ];
    let (mut total_flop, mut total_s) = (0.0, 0.0);
    for (m, k, n, ta, tb) in shapes {
        let lhs = if ta {
            Tensor::<2>::random([k, m], Distribution::Normal(0.0, 1.0), &device).transpose()
        } else {
            Tensor::<2>::random([m, k], Distribution::Normal(0.0, 1.0), &device)
        };
        let rhs = if tb {
            Tensor::<2>::random([n, k], Distribution::Normal(0.0, 1.0), &device).transpose()
        } else {
            Tensor::<2>::random([k, n], Distribution::Normal(0.0, 1.0), &device)
        };
        let mut best = f64::MAX;
        for _ in 0..5 {
            let t = Instant::now();
            let out = dist_kernels::matmul(lhs.clone(), rhs.clone());
            drop(out.into_data());
            best = best.min(t.elapsed().as_secs_f64());
        }
        let flop = 2.0 * (m * k * n) as f64;
        total_flop += flop;
        total_s += best;
        println!(
            "[{m:>5} x {k:>5}] x [{k:>5} x {n:>3}] (trans {ta:>5}, {tb:>5}): {:6.2} ms, {:6.1} GFLOP/s",
            best * 1e3,
            flop / best / 1e9
        );
    }
    println!("all: {:.1} GFLOP/s", total_flop / total_s / 1e9);
}
