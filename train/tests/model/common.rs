//! Small configs and inputs shared by the model tests.

use burn::tensor::{Device, Distribution, Tensor};
use dist_train::model::DistConfig;

/// A tiny model: C=32, P=8, 2 layers, E=16, T=2, γ=2, A=64 (one pooling head), D=16.
pub fn tiny_config() -> DistConfig {
    DistConfig {
        width: 32,
        patch_size: 8,
        encoder_layers: 2,
        embed_dim: 16,
        frames: 2,
        gamma: 2,
        integration_dim: 64,
        temporal_dim: 16,
        temporal_block_heads: 2,
        ..DistConfig::default()
    }
}

/// Random taps `[B*T, N+1, C]` (one per selected layer) and frames `[B, 3, γT, H, W]` for a
/// `grid` of patches.
pub fn inputs(config: &DistConfig, batch: usize, grid: [usize; 2], device: &Device) -> (Vec<Tensor<3>>, Tensor<5>) {
    let layers = config.selected_layers().unwrap().len();
    let tokens = grid[0] * grid[1] + 1;
    let taps = (0..layers)
        .map(|_| Tensor::random([batch * config.frames, tokens, config.width], Distribution::Normal(0.0, 1.0), device))
        .collect();
    let p = config.patch_size;
    let frames = Tensor::random(
        [batch, 3, config.dense_frames(), grid[0] * p, grid[1] * p],
        Distribution::Normal(0.0, 1.0),
        device,
    );
    (taps, frames)
}

/// Host copy of a tensor's values.
pub fn values<const D: usize>(tensor: &Tensor<D>) -> Vec<f32> {
    tensor.to_data().convert::<f32>().try_to_vec::<f32>().unwrap()
}
