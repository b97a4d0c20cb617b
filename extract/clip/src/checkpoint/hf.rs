//! The Hugging Face transformers layout (`CLIPModel`, `CLIPVisionModel`, `CLIPVisionModelWithProjection`).
//!
//! Names follow `transformers/models/clip/modeling_clip.py`, typo included (`pre_layrnorm`). Shapes come
//! from the tensors; heads, activation, LayerNorm epsilon and the end-of-text id come from `config.json`
//! when it sits beside the weights (the OpenAI rules otherwise: heads = width / 64, QuickGELU, 1e-5).

use std::path::Path;

use serde_json::Value;

use super::{
    checked_heads, grid_side, json_triplet, json_usize, not_4d, read_json, read_linear,
    read_logit_scale, read_norm, read_patch, two_dims, TensorFile,
};
use crate::config::{Activation, ClipConfig, TextConfig, VisionConfig, CLIP_MEAN, CLIP_STD};
use crate::error::{ClipError, Result};
use crate::weights::{
    BlockWeights, ClipWeights, HostTensor, LinearWeights, TextWeights, VisionWeights,
};

pub(super) fn read(file: &TensorFile, dir: &Path) -> Result<ClipWeights> {
    let config_path = dir.join("config.json");
    let config = read_json(&config_path)?;
    // CLIPModel nests the towers' configs; CLIPVisionModel(WithProjection) keeps them flat.
    let vision_json = config.as_ref().map(|c| c.get("vision_config").unwrap_or(c));
    let text_json = config.as_ref().and_then(|c| c.get("text_config"));
    let preprocess = read_json(&dir.join("preprocessor_config.json"))?;

    let (vision_config, vision) = read_vision(file, &config_path, vision_json)?;
    let text = if file.contains("text_model.embeddings.token_embedding.weight") {
        Some(read_text(file, &config_path, text_json)?)
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
        mean: json_triplet(preprocess.as_ref(), "image_mean").unwrap_or(CLIP_MEAN),
        std: json_triplet(preprocess.as_ref(), "image_std").unwrap_or(CLIP_STD),
    })
}

fn activation(config_path: &Path, json: Option<&Value>) -> Result<Activation> {
    match json
        .and_then(|j| j.get("hidden_act"))
        .and_then(Value::as_str)
    {
        None => Ok(Activation::QuickGelu),
        Some(name) => Activation::from_hf_name(name).ok_or_else(|| ClipError::InvalidConfig {
            path: config_path.to_path_buf(),
            reason: format!("hidden_act {name:?} is not supported (quick_gelu, gelu)"),
        }),
    }
}

fn layer_norm_eps(json: Option<&Value>) -> f64 {
    json.and_then(|j| j.get("layer_norm_eps"))
        .and_then(Value::as_f64)
        .unwrap_or(1e-5)
}

fn read_vision(
    file: &TensorFile,
    config_path: &Path,
    json: Option<&Value>,
) -> Result<(VisionConfig, VisionWeights)> {
    let patch_name = "vision_model.embeddings.patch_embedding.weight";
    let patch_shape = file.shape(patch_name)?.to_vec();
    let [width, _, patch, _] = patch_shape[..] else {
        return Err(not_4d(file, patch_name, &patch_shape));
    };
    let positions_name = "vision_model.embeddings.position_embedding.weight";
    let n_positions = file.shape(positions_name)?[0];
    let grid = grid_side(&file.path, positions_name, n_positions)?;
    let layers = file.count_blocks("vision_model.encoder.layers.");
    let mlp_dim = file.shape("vision_model.encoder.layers.0.mlp.fc1.weight")?[0];
    let embed_dim = if file.contains("visual_projection.weight") {
        Some(file.shape("visual_projection.weight")?[0])
    } else {
        None
    };
    let config = VisionConfig {
        image_size: grid * patch,
        patch_size: patch,
        width,
        layers,
        heads: checked_heads(config_path, json_usize(json, "num_attention_heads"), width)?,
        mlp_dim,
        embed_dim,
        activation: activation(config_path, json)?,
        layer_norm_eps: layer_norm_eps(json),
    };
    let blocks = (0..layers)
        .map(|i| {
            read_block(
                file,
                &format!("vision_model.encoder.layers.{i}"),
                width,
                mlp_dim,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let weights = VisionWeights {
        patch: read_patch(file, patch_name, width, patch)?,
        class_embedding: file.tensor("vision_model.embeddings.class_embedding", &[width])?,
        positions: file.tensor(positions_name, &[n_positions, width])?,
        ln_pre: read_norm(file, "vision_model.pre_layrnorm", width)?,
        blocks,
        ln_post: read_norm(file, "vision_model.post_layernorm", width)?,
        projection: match embed_dim {
            Some(e) => Some(
                file.tensor("visual_projection.weight", &[e, width])?
                    .transposed(),
            ),
            None => None,
        },
    };
    Ok((config, weights))
}

fn read_text(
    file: &TensorFile,
    config_path: &Path,
    json: Option<&Value>,
) -> Result<(TextConfig, TextWeights)> {
    let token_name = "text_model.embeddings.token_embedding.weight";
    let [vocab_size, width] = two_dims(file, token_name)?;
    let positions_name = "text_model.embeddings.position_embedding.weight";
    let context_length = file.shape(positions_name)?[0];
    let layers = file.count_blocks("text_model.encoder.layers.");
    let mlp_dim = file.shape("text_model.encoder.layers.0.mlp.fc1.weight")?[0];
    let embed_dim = file.shape("text_projection.weight")?[0];
    // transformers' legacy configs say eos_token_id = 2 and pool at argmax(ids), i.e. at the largest id.
    let eot_token_id = match json_usize(json, "eos_token_id") {
        Some(id) if id != 2 && id < vocab_size => id,
        _ => vocab_size - 1,
    };
    let config = TextConfig {
        vocab_size,
        context_length,
        width,
        layers,
        heads: checked_heads(config_path, json_usize(json, "num_attention_heads"), width)?,
        mlp_dim,
        embed_dim,
        activation: activation(config_path, json)?,
        layer_norm_eps: layer_norm_eps(json),
        eot_token_id,
    };
    let blocks = (0..layers)
        .map(|i| {
            read_block(
                file,
                &format!("text_model.encoder.layers.{i}"),
                width,
                mlp_dim,
            )
        })
        .collect::<Result<Vec<_>>>()?;
    let weights = TextWeights {
        token_embedding: file.tensor(token_name, &[vocab_size, width])?,
        positions: file.tensor(positions_name, &[context_length, width])?,
        blocks,
        ln_final: read_norm(file, "text_model.final_layer_norm", width)?,
        projection: file
            .tensor("text_projection.weight", &[embed_dim, width])?
            .transposed(),
    };
    Ok((config, weights))
}

fn read_block(
    file: &TensorFile,
    prefix: &str,
    width: usize,
    mlp_dim: usize,
) -> Result<BlockWeights> {
    let attn = format!("{prefix}.self_attn");
    let q = read_linear(file, &format!("{attn}.q_proj"), width, width)?;
    let k = read_linear(file, &format!("{attn}.k_proj"), width, width)?;
    let v = read_linear(file, &format!("{attn}.v_proj"), width, width)?;
    // Pack [C, C] x 3 into [C, 3C]: concatenating the [out, in] originals along rows then transposing
    // would cost a second copy, so stack the transposed ones column-block-wise directly.
    let mut packed = vec![0.0f32; width * 3 * width];
    for (part, lin) in [&q, &k, &v].into_iter().enumerate() {
        for (row, src) in lin.weight.data.chunks_exact(width).enumerate() {
            packed[row * 3 * width + part * width..row * 3 * width + (part + 1) * width]
                .copy_from_slice(src);
        }
    }
    let bias: Vec<f32> = [&q, &k, &v]
        .iter()
        .flat_map(|l| {
            l.bias
                .as_ref()
                .map_or(&[][..], |b| &b.data[..])
                .iter()
                .copied()
        })
        .collect();
    Ok(BlockWeights {
        ln_1: read_norm(file, &format!("{prefix}.layer_norm1"), width)?,
        qkv: LinearWeights {
            weight: HostTensor::new(vec![width, 3 * width], packed),
            bias: Some(HostTensor::new(vec![3 * width], bias)),
        },
        out_proj: read_linear(file, &format!("{attn}.out_proj"), width, width)?,
        ln_2: read_norm(file, &format!("{prefix}.layer_norm2"), width)?,
        fc1: read_linear(file, &format!("{prefix}.mlp.fc1"), width, mlp_dim)?,
        fc2: read_linear(file, &format!("{prefix}.mlp.fc2"), mlp_dim, width)?,
    })
}
