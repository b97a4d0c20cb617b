//! Every variant of the design space builds and maps inputs to `[B, E]`; bad inputs are errors.

use burn::module::Param;
use burn::tensor::{Device, Tensor};
use dist_train::model::{
    DistConfig, DownsampleKind, LayerSelection, PoolingKind, TemporalBlockKind, UpsampleKind,
};
use dist_train::Error;

use super::common::{inputs, tiny_config, values};

fn variants() -> Vec<(&'static str, DistConfig)> {
    let base = tiny_config();
    vec![
        ("default", base.clone()),
        ("spatial-first", DistConfig { temporal_block: TemporalBlockKind::R2plus1dSpatialFirst, ..base.clone() }),
        ("c3d", DistConfig { temporal_block: TemporalBlockKind::C3d, ..base.clone() }),
        ("transformer", DistConfig { temporal_block: TemporalBlockKind::Transformer, ..base.clone() }),
        ("avg-pool psi", DistConfig { downsample: DownsampleKind::AvgPool, ..base.clone() }),
        ("max-pool psi", DistConfig { downsample: DownsampleKind::MaxPool, ..base.clone() }),
        ("trilinear phi", DistConfig { upsample: UpsampleKind::Trilinear, ..base.clone() }),
        ("deconv phi", DistConfig { upsample: UpsampleKind::TransposedConv, ..base.clone() }),
        ("evl-like", DistConfig { temporal_encoder: false, ..base.clone() }),
        ("temporal-only", DistConfig { integration: false, temporal_output_fusion: true, ..base.clone() }),
        ("no phi", DistConfig { integration_to_temporal: false, ..base.clone() }),
        ("no psi", DistConfig { temporal_to_integration: false, temporal_output_fusion: true, ..base.clone() }),
        (
            "no lateral",
            DistConfig {
                integration_to_temporal: false,
                temporal_to_integration: false,
                temporal_output_fusion: true,
                ..base.clone()
            },
        ),
        ("spatial-only", DistConfig { temporal_encoder: false, integration: false, ..base.clone() }),
        ("mean pooling", DistConfig { pooling: PoolingKind::Mean, ..base.clone() }),
        ("weighted pooling", DistConfig { pooling: PoolingKind::Weighted, patches: 6, ..base.clone() }),
        (
            "temporal-only, weighted",
            DistConfig { integration: false, temporal_output_fusion: true, pooling: PoolingKind::Weighted, patches: 6, ..base.clone() },
        ),
        ("4 pooling layers", DistConfig { pooling_layers: 4, ..base.clone() }),
        ("last layer only", DistConfig { layers: LayerSelection::Explicit(vec![2]), ..base.clone() }),
        ("gamma 1", DistConfig { gamma: 1, ..base.clone() }),
        ("gamma 3 trilinear", DistConfig { gamma: 3, upsample: UpsampleKind::Trilinear, ..base.clone() }),
        ("fusion on top", DistConfig { temporal_output_fusion: true, ..base.clone() }),
        ("A=32, 2 heads", DistConfig { integration_dim: 32, pooling_heads: Some(2), ..base }),
    ]
}

#[test]
fn every_variant_gives_one_embedding_per_clip() {
    let device = Device::flex();
    for (name, config) in variants() {
        let model = config.init(&device).unwrap_or_else(|e| panic!("{name}: {e}"));
        // A non-square grid checks that H' and W' are never confused.
        let (taps, frames) = inputs(&config, 2, [2, 3], &device);
        let frames = if config.has_temporal() { frames } else { Tensor::zeros([1, 1, 1, 1, 1], &device) };
        let out = model.forward(&taps, frames).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.dims(), [2, config.embed_dim], "{name}");
        assert!(values(&out).iter().all(|v| v.is_finite()), "{name}");
    }
}

#[test]
fn spatial_only_is_the_projected_mean_cls() {
    let device = Device::flex();
    let config = DistConfig { temporal_encoder: false, integration: false, ..tiny_config() };
    let model = config.init(&device).unwrap();
    assert!(model.named_params().iter().all(|p| ["proj_spatial_cls_token", "ln_post", "proj"]
        .iter()
        .any(|prefix| p.name.starts_with(prefix))));
    let (taps, _) = inputs(&config, 1, [2, 2], &device);
    let out = model.forward(&taps, Tensor::zeros([1, 1, 1, 1, 1], &device)).unwrap();
    let cls = taps[1].clone().narrow(1, 0, 1).reshape([1, 2, 32]).mean_dim(1).reshape([1, 32]);
    let expect = model.ln_post.forward(model.proj_spatial_cls_token.forward(cls)).matmul(model.proj.val());
    let (got, want) = (values(&out), values(&expect));
    assert!(got.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5));
}

#[test]
fn weighted_pooling_is_a_learned_sum_over_positions() {
    let device = Device::flex();
    let config = DistConfig { pooling: PoolingKind::Weighted, patches: 4, ..tiny_config() };
    let mut model = config.init(&device).unwrap();
    // It starts as the sum over the 5 tokens scaled by 1/√5.
    let table = values(&model.pooling_weights.as_ref().unwrap().val());
    assert_eq!(table.len(), 5 * 64);
    assert!(table.iter().all(|w| (w - 5f32.powf(-0.5)).abs() < 1e-6));
    // With a table of 1/5 it is the plain mean pooling.
    let (taps, frames) = inputs(&config, 2, [2, 2], &device);
    model.pooling_weights = Some(Param::from_tensor(Tensor::full([5, 64], 0.2, &device)));
    let weighted = values(&model.forward(&taps, frames.clone()).unwrap());
    model.pooling_weights = None; // the pooling falls back to the plain mean
    let mean = values(&model.forward(&taps, frames).unwrap());
    assert!(weighted.iter().zip(&mean).all(|(a, b)| (a - b).abs() < 1e-5), "{weighted:?} vs {mean:?}");
    // The table is sized for 4 patches: a 2x3 grid is refused, not broadcast.
    let (taps, frames) = inputs(&config, 2, [2, 3], &device);
    let err = config.init(&device).unwrap().forward(&taps, frames).unwrap_err();
    assert!(err.to_string().contains("patches = 4"), "{err}");
}

#[test]
fn bad_inputs_are_errors_not_panics() {
    let device = Device::flex();
    let config = tiny_config();
    let model = config.init(&device).unwrap();
    let (taps, frames) = inputs(&config, 2, [2, 2], &device);
    let shape_error = |r: dist_train::Result<Tensor<2>>| matches!(r, Err(Error::InputShape { .. }));
    assert!(shape_error(model.forward(&taps[..1], frames.clone())));
    let (_, wrong_frames) = inputs(&config, 2, [2, 3], &device);
    assert!(shape_error(model.forward(&taps, wrong_frames)));
    let (_, one_clip) = inputs(&config, 1, [2, 2], &device);
    assert!(shape_error(model.forward(&taps, one_clip)));
    let odd_rows = vec![taps[0].clone().narrow(0, 0, 3), taps[1].clone().narrow(0, 0, 3)];
    assert!(shape_error(model.forward(&odd_rows, frames)));
}
