//! Trainable parameter counts equal the official ones exactly (spec §10, §18).

use burn::tensor::Device;
use dist_train::model::DistConfig;

fn count(width: usize, patch: usize, layers: usize, embed: usize, pooling_layers: usize) -> usize {
    let config = DistConfig { pooling_layers, ..DistConfig::for_encoder(width, patch, layers, embed, 8) };
    config.init(&Device::flex()).unwrap().param_count()
}

#[test]
fn vit_b16_ssv2_and_k400() {
    assert_eq!(count(768, 16, 12, 512, 2), 19_001_184);
    assert_eq!(count(768, 16, 12, 512, 4), 26_105_184);
}

#[test]
fn vit_l14_ssv2_and_k400() {
    assert_eq!(count(1024, 14, 24, 768, 2), 32_505_696);
    assert_eq!(count(1024, 14, 24, 768, 4), 39_609_696);
}

#[test]
fn per_module_counts_of_b16() {
    let model = DistConfig::default().init(&Device::flex()).unwrap();
    let sum = |prefix: &str| -> usize {
        model.named_params().iter().filter(|p| p.name.starts_with(prefix)).map(|p| p.numel()).sum()
    };
    assert_eq!(sum("temporal_stem."), 368_736);
    assert_eq!(sum("input_linears.0."), 295_296);
    assert_eq!(sum("integration2temporal_nets.0."), 36_960);
    assert_eq!(sum("temporal2integration_nets.0."), 77_184);
    assert_eq!(sum("temporal_nets.0."), 110_976);
    assert_eq!(sum("integration_nets.0."), 399_168);
    assert_eq!(sum("adapooling_nets.0."), 3_552_000);
}

#[test]
fn weight_decay_follows_the_official_intent() {
    let model = DistConfig::default().init(&Device::flex()).unwrap();
    let params = model.named_params();
    let decay = |name: &str| params.iter().find(|p| p.name == name).unwrap().weight_decay;
    assert!(decay("proj"));
    assert!(decay("temporal_stem.weight"));
    assert!(decay("adapooling_nets.0.temporal_transformer.attn.in_proj_weight"));
    assert!(!decay("temporal_stem.bias"));
    assert!(!decay("ln_post.weight"));
    assert!(!decay("aggregated_cls_token"));
    assert!(!decay("temporal2integration_nets.3.cls_token"));
    assert!(!decay("adapooling_nets.1.positional_embedding"));
    let (with, without) = model.weight_decay_groups();
    assert_eq!(with.len() + without.len(), params.len());
}
