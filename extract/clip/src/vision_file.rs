//! The file a pretrained builtin's vision tower ships in: safetensors, f16, tensors named after
//! [`VisionWeights`]' fields in this crate's own layout (linear weights `[in, out]`, packed q/k/v,
//! the patch conv as a `[3·p·p, C]` matrix), e.g. `blocks.0.qkv.weight`.
//!
//! It is not a checkpoint format for users (those are transformers' and open_clip's, see
//! `checkpoint`); it only has to round-trip [`VisionWeights`] and fail loudly on a file that does
//! not fit the builtin's architecture. f16 halves the bytes the repository carries; the tower
//! still computes in the dtype it is loaded in.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::tensor::TensorView;
use safetensors::Dtype;

use crate::checkpoint::TensorFile;
use crate::config::VisionConfig;
use crate::error::Result;
use crate::weights::{BlockWeights, ClipWeights, HostTensor, LinearWeights, NormWeights, VisionWeights};

/// Every tensor of `w` under its file name, in a fixed order.
fn named(w: &VisionWeights) -> Vec<(String, &HostTensor)> {
    let mut out: Vec<(String, &HostTensor)> = vec![
        ("patch".into(), &w.patch),
        ("class_embedding".into(), &w.class_embedding),
        ("positions".into(), &w.positions),
    ];
    fn norm<'a>(out: &mut Vec<(String, &'a HostTensor)>, name: &str, n: &'a NormWeights) {
        out.push((format!("{name}.weight"), &n.weight));
        out.push((format!("{name}.bias"), &n.bias));
    }
    norm(&mut out, "ln_pre", &w.ln_pre);
    for (i, b) in w.blocks.iter().enumerate() {
        norm(&mut out, &format!("blocks.{i}.ln_1"), &b.ln_1);
        norm(&mut out, &format!("blocks.{i}.ln_2"), &b.ln_2);
        for (name, l) in [("qkv", &b.qkv), ("out_proj", &b.out_proj), ("fc1", &b.fc1), ("fc2", &b.fc2)] {
            out.push((format!("blocks.{i}.{name}.weight"), &l.weight));
            if let Some(bias) = &l.bias {
                out.push((format!("blocks.{i}.{name}.bias"), bias));
            }
        }
    }
    norm(&mut out, "ln_post", &w.ln_post);
    if let Some(p) = &w.projection {
        out.push(("projection".into(), p));
    }
    out
}

/// Serialises `w` (f16), with the text tower's projection `[C_text, E]` when it was trained too.
#[must_use]
pub(crate) fn encode(w: &VisionWeights, text_projection: Option<&HostTensor>) -> Vec<u8> {
    let mut tensors = named(w);
    if let Some(p) = text_projection {
        tensors.push((TEXT_PROJECTION.into(), p));
    }
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, t)| t.data.iter().flat_map(|&v| half::f16::from_f32(v).to_le_bytes()).collect())
        .collect();
    let views: BTreeMap<String, TensorView<'_>> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, t), b)| {
            let view = TensorView::new(Dtype::F16, t.shape.clone(), b).expect("shape matches the bytes");
            (name.clone(), view)
        })
        .collect();
    safetensors::serialize(views, None).expect("in-memory serialisation cannot fail")
}

/// Name of the optional trained text projection in the file.
const TEXT_PROJECTION: &str = "text_projection";

/// Reads a file written by [`encode`] into `weights` (the builtin's random weights of
/// architecture `config`): the vision tower, and the text projection when the file has one.
/// `label` names the file in errors.
///
/// # Errors
/// [`crate::ClipError::NotACheckpoint`], `MissingTensor` or `ShapeMismatch` when the file does not
/// hold `config`'s vision tower (or a text projection of the text tower's shape).
pub(crate) fn apply(label: &Path, bytes: Vec<u8>, weights: &mut ClipWeights) -> Result<()> {
    let file = TensorFile::from_bytes(label, bytes)?;
    weights.vision = read_vision(&file, &weights.config.vision)?;
    if let (true, Some(text)) = (file.contains(TEXT_PROJECTION), weights.text.as_mut()) {
        let shape = text.projection.shape.clone();
        text.projection = file.tensor(TEXT_PROJECTION, &shape)?;
    }
    Ok(())
}

fn read_vision(file: &TensorFile, config: &VisionConfig) -> Result<VisionWeights> {
    let (c, m, p) = (config.width, config.mlp_dim, config.patch_size);
    let grid = config.grid();
    let read = |name: &str, shape: &[usize]| file.tensor(name, shape);
    let norm = |name: &str| -> Result<NormWeights> {
        Ok(NormWeights { weight: read(&format!("{name}.weight"), &[c])?, bias: read(&format!("{name}.bias"), &[c])? })
    };
    let linear = |name: &str, d_in: usize, d_out: usize| -> Result<LinearWeights> {
        Ok(LinearWeights {
            weight: read(&format!("{name}.weight"), &[d_in, d_out])?,
            bias: Some(read(&format!("{name}.bias"), &[d_out])?),
        })
    };
    let blocks = (0..config.layers)
        .map(|i| {
            Ok(BlockWeights {
                ln_1: norm(&format!("blocks.{i}.ln_1"))?,
                qkv: linear(&format!("blocks.{i}.qkv"), c, 3 * c)?,
                out_proj: linear(&format!("blocks.{i}.out_proj"), c, c)?,
                ln_2: norm(&format!("blocks.{i}.ln_2"))?,
                fc1: linear(&format!("blocks.{i}.fc1"), c, m)?,
                fc2: linear(&format!("blocks.{i}.fc2"), m, c)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(VisionWeights {
        patch: read("patch", &[3 * p * p, c])?,
        class_embedding: read("class_embedding", &[c])?,
        positions: read("positions", &[grid * grid + 1, c])?,
        ln_pre: norm("ln_pre")?,
        blocks,
        ln_post: norm("ln_post")?,
        projection: config.embed_dim.map(|e| read("projection", &[c, e])).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::builtin::{random_weights, BUILTIN_SEED};
    use crate::config::ClipConfig;

    #[test]
    fn round_trips_within_f16_precision_and_checks_shapes() {
        let config = ClipConfig::tiny();
        let w = random_weights(&config, BUILTIN_SEED).vision;
        let mut text_projection = random_weights(&config, BUILTIN_SEED).text.unwrap().projection;
        text_projection.data.iter_mut().for_each(|v| *v += 0.5);
        let bytes = encode(&w, Some(&text_projection));
        let mut loaded = random_weights(&config, 7);
        apply(Path::new("test"), bytes.clone(), &mut loaded).unwrap();
        let back = loaded.vision;
        let text_back = &loaded.text.unwrap().projection;
        assert!(text_back.data.iter().zip(&text_projection.data).all(|(x, y)| (x - y).abs() <= 1e-2), "text projection");
        for ((name, a), (_, b)) in named(&w).iter().zip(named(&back)) {
            assert_eq!(a.shape, b.shape, "{name}");
            for (x, y) in a.data.iter().zip(&b.data) {
                assert!((x - y).abs() <= 1e-3 * x.abs().max(1e-2), "{name}: {x} vs {y}");
            }
        }
        let mut wider = random_weights(&config, BUILTIN_SEED);
        wider.config.vision.width = 64;
        let err = apply(Path::new("test"), bytes, &mut wider).unwrap_err().to_string();
        assert!(err.contains("has shape [128], expected [64]"), "{err}");
    }
}
