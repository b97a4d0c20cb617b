//! What `dist-extract run` does, as one serde/TOML struct (`configs/extract/*.toml`); command-line
//! flags override the file.

use dist_store::{Compression, ElementType};
use dist_video::SamplingConfig;
use serde::{Deserialize, Serialize};

/// Settings of an extraction job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExtractConfig {
    /// How clips are cut from videos (T, γ, views, crop size, ...).
    pub sampling: SamplingConfig,
    /// Hidden states to store: `all` (blocks 1..L), a range `5-12`, or a list `9,10,11,12`.
    /// Numbered like transformers' `hidden_states` (0 = after the pre-LayerNorm, l = block l).
    pub layers: String,
    /// Element type of the stored tokens: f32, f16, bf16 or int8.
    pub element_type: ElementType,
    /// Clips per encoder batch (each clip is T frames).
    pub batch_size: usize,
    /// Clips per Zarr shard; default: about 256 MB of uncompressed data per shard.
    pub clips_per_shard: Option<u64>,
    /// How the store's arrays are encoded: `zstd` (default) or `none` (uncompressed: more bytes on
    /// disk, read without decoding; see docs/benchmarks.md).
    pub compression: Compression,
    /// zstd level of the store's arrays when `compression` is zstd (0 = zstd's default level, 3).
    pub zstd_level: i32,
    /// Videos decoded in parallel (0 = one per core).
    pub decode_threads: usize,
}

impl Default for ExtractConfig {
    fn default() -> Self {
        Self {
            sampling: SamplingConfig::default(),
            layers: "all".into(),
            element_type: ElementType::F16,
            batch_size: 4,
            clips_per_shard: None,
            compression: Compression::Zstd,
            zstd_level: 1,
            decode_threads: 0,
        }
    }
}

/// Parses a layer selection against an encoder with `blocks` blocks.
pub fn parse_layers(spec: &str, blocks: usize) -> anyhow::Result<Vec<usize>> {
    let spec = spec.trim();
    let layers: Vec<usize> = if spec.eq_ignore_ascii_case("all") {
        (1..=blocks).collect()
    } else if let Some((a, b)) = spec.split_once('-') {
        let (a, b): (usize, usize) = (a.trim().parse()?, b.trim().parse()?);
        anyhow::ensure!(a <= b, "layer range {spec:?} is empty");
        (a..=b).collect()
    } else {
        spec.split(',').map(|s| s.trim().parse::<usize>()).collect::<Result<_, _>>()?
    };
    anyhow::ensure!(!layers.is_empty(), "no layers selected by {spec:?}");
    if let Some(bad) = layers.iter().find(|&&l| l > blocks) {
        anyhow::bail!("layer {bad} does not exist: the encoder has {blocks} blocks (valid: 0..={blocks})");
    }
    Ok(layers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_specs() {
        assert_eq!(parse_layers("all", 4).unwrap(), vec![1, 2, 3, 4]);
        assert_eq!(parse_layers("2-4", 4).unwrap(), vec![2, 3, 4]);
        assert_eq!(parse_layers("0, 4", 4).unwrap(), vec![0, 4]);
        assert!(parse_layers("5-12", 4).unwrap_err().to_string().contains("4 blocks"));
        assert!(parse_layers("3-1", 4).is_err());
    }

    #[test]
    fn config_files_parse() {
        let cfg: ExtractConfig = toml::from_str("layers = \"9-12\"\nelement_type = \"int8\"\n[sampling]\nt = 4\n").unwrap();
        assert_eq!(cfg.layers, "9-12");
        assert_eq!(cfg.element_type, ElementType::Int8);
        assert_eq!(cfg.sampling.t, 4);
        assert_eq!(cfg.sampling.gamma, 2);
        assert!(toml::from_str::<ExtractConfig>("layer = \"all\"").is_err(), "typos are refused");
        assert_eq!(cfg.compression, Compression::Zstd);
        let cfg: ExtractConfig = toml::from_str("compression = \"none\"").unwrap();
        assert_eq!(cfg.compression, Compression::None);
        let err = toml::from_str::<ExtractConfig>("compression = \"lz4\"").unwrap_err().to_string();
        assert!(err.contains("compression: unknown value \"lz4\""), "{err}");
    }

    #[test]
    fn the_shipped_preset_parses() {
        let cfg: ExtractConfig = toml::from_str(include_str!("../../../configs/extract/vit-b16-8x2.toml")).unwrap();
        assert_eq!((cfg.compression, cfg.zstd_level), (Compression::Zstd, 1));
    }
}
