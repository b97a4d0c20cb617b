//! Conversions from stored clips to burn tensors.

use burn::tensor::{Device, Tensor, TensorData};
use rayon::prelude::*;

use crate::meta::StoreMeta;

/// Stacks the spatial tokens of a batch of clips into one tensor per layer, the layout the DiST
/// branches take (`[B*T, N+1, C]`, frame row `b*T + t`).
///
/// # Shapes
/// - `clips`: each f32 `[layers, T, N+1, C]`
/// - returns `layers` tensors of `[B*T, N+1, C]`
pub fn spatial_taps(clips: &[&[f32]], layers: usize, meta: &StoreMeta, device: &Device) -> Vec<Tensor<3>> {
    let (t, tok, c) = (meta.sampling.t, meta.tokens(), meta.width());
    let per_layer = t * tok * c;
    // The copies run on rayon's threads: on the caller's thread alone they were ~1% of a cached
    // training step at ViT-B/16 size (13 layers of 4 clips, 250 MB), with the other core idle.
    let stacked: Vec<Vec<f32>> = (0..layers)
        .into_par_iter()
        .map(|l| {
            let mut data = Vec::with_capacity(clips.len() * per_layer);
            for clip in clips {
                data.extend_from_slice(&clip[l * per_layer..(l + 1) * per_layer]);
            }
            data
        })
        .collect();
    stacked.into_iter().map(|data| Tensor::from_data(TensorData::new(data, [clips.len() * t, tok, c]), device)).collect()
}

/// Converts dense u8 frames to the normalised float video the temporal encoder takes.
///
/// # Shapes
/// - `clips`: each u8 `[γT, H, W, 3]`
/// - returns f32 `[B, 3, γT, H, W]`, `(x/255 - mean) / std` per channel
pub fn dense_video(clips: &[&[u8]], meta: &StoreMeta, device: &Device) -> Tensor<5> {
    let (td, hw) = (meta.dense_frames(), meta.preprocessing.crop);
    let (mean, std) = (meta.preprocessing.mean, meta.preprocessing.std);
    let plane = td * hw * hw;
    let mut data = vec![0f32; clips.len() * 3 * plane];
    for (b, clip) in clips.iter().enumerate() {
        let out = &mut data[b * 3 * plane..(b + 1) * 3 * plane];
        for (p, px) in clip.chunks_exact(3).enumerate() {
            for ch in 0..3 {
                out[ch * plane + p] = (px[ch] as f32 / 255.0 - mean[ch]) / std[ch];
            }
        }
    }
    Tensor::from_data(TensorData::new(data, [clips.len(), 3, td, hw, hw]), device)
}
