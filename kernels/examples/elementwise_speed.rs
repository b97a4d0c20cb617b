//! Times the element-wise kernels of `dist-kernels` on burn-flex at the DiST trainer's shapes
//! (the temporal branch's `[B·γT·N, D]` and the integration branch's `[B·T·(N+1), A]` at batch
//! 4, ViT-B/16): best of 30 runs of each, output buffers from the retained heap.
//!
//! `cargo run --release -p dist-kernels --example elementwise_speed`

use burn::backend::Flex;
use burn::tensor::TensorData;
use burn_flex::FlexTensor;
use dist_kernels::FusedOps;
use std::time::Instant;

fn time(label: &str, f: impl Fn()) {
    let mut best = f64::MAX;
    for _ in 0..30 {
        let t = Instant::now();
        f();
        best = best.min(t.elapsed().as_secs_f64());
    }
    println!("{label}: {:.2} ms", best * 1e3);
}

fn main() {
    dist_kernels::retain_freed_memory();
    for (rows, d) in [(12544usize, 96usize), (6304, 384)] {
        let n = rows * d;
        let data = |seed: usize| -> FlexTensor {
            let v: Vec<f32> = (0..n).map(|i| (((i * 7919 + seed * 104729) % 2003) as f32 - 1001.0) / 250.0).collect();
            FlexTensor::from_data(TensorData::new(v, [rows, d]))
        };
        let (x, g) = (data(1), data(2));
        let gamma = FlexTensor::from_data(TensorData::new(vec![1.0f32; d], [d]));
        time(&format!("gelu fwd [{rows}, {d}]"), || drop(Flex::fused_quick_gelu(x.clone())));
        time(&format!("gelu bwd [{rows}, {d}]"), || drop(Flex::fused_quick_gelu_backward(x.clone(), g.clone())));
        time(&format!("ln bwd   [{rows}, {d}]"), || {
            drop(Flex::fused_layer_norm_backward(x.clone(), gamma.clone(), g.clone(), 1e-5))
        });
    }
}
