//! The open_clip layout, which is also OpenAI's original CLIP state dict (`visual.conv1.weight`,
//! `visual.transformer.resblocks.N.attn.in_proj_weight`, `token_embedding.weight`, ...).
//!
//! The file says nothing about heads or the activation. When an `open_clip_config.json` sits beside it
//! (as in open_clip's Hugging Face hub repos: `{"model_cfg": ..., "preprocess_cfg": ...}`), its
//! `vision_cfg.head_width`, `text_cfg.heads`, `quick_gelu` and mean/std are used, with open_clip's
//! defaults (head width 64, 8 text heads, GELU). Without a config the OpenAI rules apply: heads =
//! width / 64 and QuickGELU, which is right for OpenAI's own weights.

use std::path::Path;

use serde_json::Value;

use super::{
    checked_heads, grid_side, json_triplet, json_usize, not_4d, read_json, read_linear,
    read_logit_scale, read_norm, read_patch, two_dims, TensorFile,
};
use crate::config::{Activation, ClipConfig, TextConfig, VisionConfig, CLIP_MEAN, CLIP_STD};
use crate::error::Result;
use crate::weights::{BlockWeights, ClipWeights, LinearWeights, TextWeights, VisionWeights};

pub(super) fn read(file: &TensorFile, dir: &Path) -> Result<ClipWeights> {
    let config_path = dir.join("open_clip_config.json");
    let config = read_json(&config_path)?;
    let model_cfg = config.as_ref().and_then(|c| c.get("model_cfg"));
    let preprocess = config.as_ref().and_then(|c| c.get("preprocess_cfg"));
    let activation = match model_cfg {
        Some(cfg) if cfg.get("quick_gelu").and_then(Value::as_bool) == Some(true) => {
            Activation::QuickGelu
        }
        Some(_) => Activation::Gelu,
        None => Activation::QuickGelu,
    };
    if model_cfg.is_none() {
        tracing::info!(path = %file.path.display(), "no open_clip_config.json: OpenAI rules (heads = width / 64, QuickGELU)");
    }
    let (vision_config, vision) = read_vision(
        file,
        &config_path,
        model_cfg.and_then(|c| c.get("vision_cfg")),
        activation,
    )?;
    let text = if file.contains("token_embedding.weight") {
        Some(read_text(
            file,
            &config_path,
            model_cfg.and_then(|c| c.get("text_cfg")),
            activation,
        )?)
    } else {
        None
    };
    let logit_scale = read_logit_scale(file)?;
    let (text_config, text) = text.unzip();
    Ok(ClipWeights {
        config: ClipConfig {
            vision: vision_config,
            text: text_config,
        },
        vision,
        text,
        logit_scale,
        mean: json_triplet(preprocess, "mean").unwrap_or(CLIP_MEAN),
        std: json_triplet(preprocess, "std").unwrap_or(CLIP_STD),
    })
}

fn read_vision(
    file: &TensorFile,
    config_path: &Path,
    json: Option<&Value>,
    activation: Activation,
) -> Result<(VisionConfig, VisionWeights)> {
    let patch_name = "visual.conv1.weight";
    let patch_shape = file.shape(patch_name)?.to_vec();
    let [width, _, patch, _] = patch_shape[..] else {
        return Err(not_4d(file, patch_name, &patch_shape));
    };
    let n_positions = file.shape("visual.positional_embedding")?[0];
    let grid = grid_side(&file.path, "visual.positional_embedding", n_positions)?;
    let layers = file.count_blocks("visual.transformer.resblocks.");
    let mlp_dim = file.shape("visual.transformer.resblocks.0.mlp.c_fc.weight")?[0];
    let embed_dim = if file.contains("visual.proj") {
        Some(file.shape("visual.proj")?[1])
    } else {
        None
    };
    let heads = json.map(|j| width / json_usize(Some(j), "head_width").unwrap_or(64).max(1));
    let config = VisionConfig {
        image_size: grid * patch,
        patch_size: patch,
        width,
        layers,
        heads: checked_heads(config_path, heads, width)?,
        mlp_dim,
        embed_dim,
        activation,
        layer_norm_eps: 1e-5,
    };
    let blocks = (0..layers)
        .map(|i| {
            read_block(
                file,
                &format!("visual.transformer.resblocks.{i}"),
                width,
                mlp_dim,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let weights = VisionWeights {
        patch: read_patch(file, patch_name, width, patch)?,
        class_embedding: file.tensor("visual.class_embedding", &[width])?,
        positions: file.tensor("visual.positional_embedding", &[n_positions, width])?,
        ln_pre: read_norm(file, "visual.ln_pre", width)?,
        blocks,
        ln_post: read_norm(file, "visual.ln_post", width)?,
        projection: match embed_dim {
            // open_clip keeps `proj` as `[C, E]` and computes `x @ proj`: already our layout.
            Some(e) => Some(file.tensor("visual.proj", &[width, e])?),
            None => None,
        },
    };
    Ok((config, weights))
}

fn read_text(
    file: &TensorFile,
    config_path: &Path,
    json: Option<&Value>,
    activation: Activation,
) -> Result<(TextConfig, TextWeights)> {
    let [vocab_size, width] = two_dims(file, "token_embedding.weight")?;
    let context_length = file.shape("positional_embedding")?[0];
    let layers = file.count_blocks("transformer.resblocks.");
    let mlp_dim = file.shape("transformer.resblocks.0.mlp.c_fc.weight")?[0];
    let embed_dim = file.shape("text_projection")?[1];
    // open_clip's text_cfg.heads defaults to 8 when a config exists at all.
    let heads = json.map(|j| json_usize(Some(j), "heads").unwrap_or(8));
    let config = TextConfig {
        vocab_size,
        context_length,
        width,
        layers,
        heads: checked_heads(config_path, heads, width)?,
        mlp_dim,
        embed_dim,
        activation,
        layer_norm_eps: 1e-5,
        // open_clip pools at argmax(ids): the end-of-text token is the largest id.
        eot_token_id: vocab_size - 1,
    };
    let blocks = (0..layers)
        .map(|i| read_block(file, &format!("transformer.resblocks.{i}"), width, mlp_dim))
        .collect::<Result<Vec<_>>>()?;
    let weights = TextWeights {
        token_embedding: file.tensor("token_embedding.weight", &[vocab_size, width])?,
        positions: file.tensor("positional_embedding", &[context_length, width])?,
        blocks,
        ln_final: read_norm(file, "ln_final", width)?,
        projection: file.tensor("text_projection", &[width, embed_dim])?,
    };
    Ok((config, weights))
}

fn read_block(
    file: &TensorFile,
    prefix: &str,
    width: usize,
    mlp_dim: usize,
) -> Result<BlockWeights> {
    Ok(BlockWeights {
        ln_1: read_norm(file, &format!("{prefix}.ln_1"), width)?,
        qkv: LinearWeights {
            weight: file
                .tensor(
                    &format!("{prefix}.attn.in_proj_weight"),
                    &[3 * width, width],
                )?
                .transposed(),
            bias: Some(file.tensor(&format!("{prefix}.attn.in_proj_bias"), &[3 * width])?),
        },
        out_proj: read_linear(file, &format!("{prefix}.attn.out_proj"), width, width)?,
        ln_2: read_norm(file, &format!("{prefix}.ln_2"), width)?,
        fc1: read_linear(file, &format!("{prefix}.mlp.c_fc"), width, mlp_dim)?,
        fc2: read_linear(file, &format!("{prefix}.mlp.c_proj"), mlp_dim, width)?,
    })
}
