//! Every TOML preset in `configs/model/` parses, validates and builds; the official presets
//! have the official parameter counts.

use std::path::Path;

use burn::tensor::Device;
use dist_train::model::DistConfig;

#[test]
fn every_preset_builds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/model");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let config = DistConfig::from_toml_file(&path).unwrap_or_else(|e| panic!("{e}"));
            let count = config.init(&Device::flex()).unwrap().param_count();
            let expected = match path.file_stem().unwrap().to_str().unwrap() {
                "vit-b16-ssv2" => Some(19_001_184),
                "vit-b16-k400" => Some(26_105_184),
                "vit-l14-ssv2" => Some(32_505_696),
                "vit-l14-k400" | "vit-l14-336-k400" => Some(39_609_696),
                _ => None,
            };
            if let Some(expected) = expected {
                assert_eq!(count, expected, "{}", path.display());
            }
            seen += 1;
        }
    }
    assert!(seen >= 20, "only {seen} presets found in {}", dir.display());
}
