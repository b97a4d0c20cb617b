//! Bicubic resampling of the vision position table for inputs of another size.
//!
//! This is PyTorch's `F.interpolate(mode="bicubic", align_corners=False)` (cubic kernel with
//! `A = -0.75`, source index `(dst + 0.5) · in/out − 0.5`, neighbours clamped at the border), which is what
//! transformers' `CLIPVisionEmbeddings.interpolate_pos_encoding` runs on the `[g, g]` patch grid; the CLS
//! row is kept as is. open_clip's load-time `resize_pos_embed` passes `antialias=True`, which for
//! upsampling is a different kernel (`A = -0.5`); it is not reproduced here.

use crate::weights::HostTensor;

const A: f64 = -0.75;

fn cubic_near(x: f64) -> f64 {
    ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
}

fn cubic_far(x: f64) -> f64 {
    ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A
}

/// For each output index: the four source indices (clamped) and their weights.
fn taps(in_size: usize, out_size: usize) -> Vec<([usize; 4], [f64; 4])> {
    #[allow(clippy::cast_precision_loss)]
    let scale = in_size as f64 / out_size as f64;
    (0..out_size)
        .map(|dst| {
            #[allow(clippy::cast_precision_loss)]
            let real = scale * (dst as f64 + 0.5) - 0.5;
            let floor = real.floor();
            let t = real - floor;
            let weights = [
                cubic_far(t + 1.0),
                cubic_near(t),
                cubic_near(1.0 - t),
                cubic_far(2.0 - t),
            ];
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_possible_wrap,
                clippy::cast_sign_loss
            )]
            let index = |offset: i64| (floor as i64 + offset).clamp(0, in_size as i64 - 1) as usize;
            ([index(-1), index(0), index(1), index(2)], weights)
        })
        .collect()
}

/// Resamples a `[1 + g·g, C]` position table (CLS first, then the grid row-major) to `[1 + h·w, C]`.
pub(crate) fn resize_positions(
    positions: &HostTensor,
    grid: usize,
    out_h: usize,
    out_w: usize,
) -> HostTensor {
    let c = positions.shape[1];
    if out_h == grid && out_w == grid {
        return positions.clone();
    }
    let cells = &positions.data[c..];
    let (rows, cols) = (taps(grid, out_h), taps(grid, out_w));
    let mut out = Vec::with_capacity((1 + out_h * out_w) * c);
    out.extend_from_slice(&positions.data[..c]);
    let mut acc = vec![0.0f64; c];
    for (ys, wy) in &rows {
        for (xs, wx) in &cols {
            acc.fill(0.0);
            for (y, wy) in ys.iter().zip(wy) {
                for (x, wx) in xs.iter().zip(wx) {
                    let w = wy * wx;
                    let src = &cells[(y * grid + x) * c..(y * grid + x + 1) * c];
                    for (a, &s) in acc.iter_mut().zip(src) {
                        *a += w * f64::from(s);
                    }
                }
            }
            #[allow(clippy::cast_possible_truncation)]
            out.extend(acc.iter().map(|&a| a as f32));
        }
    }
    HostTensor::new(vec![1 + out_h * out_w, c], out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_size_is_identity_and_constants_stay_constant() {
        let c = 3;
        let data: Vec<f32> = (0..(1 + 16) * c).map(|i| i as f32 * 0.1).collect();
        let table = HostTensor::new(vec![17, c], data);
        assert_eq!(resize_positions(&table, 4, 4, 4), table);

        // Cubic weights sum to 1, so a constant grid resamples to the same constant.
        let constant = HostTensor::new(vec![17, 1], vec![2.5; 17]);
        let up = resize_positions(&constant, 4, 7, 5);
        assert_eq!(up.shape, vec![36, 1]);
        assert!(up.data.iter().all(|v| (v - 2.5).abs() < 1e-6));
    }
}
