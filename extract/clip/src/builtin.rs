//! Builtin models with deterministic random weights, for demos, tests and benchmarks.
//!
//! `builtin:tiny` is the exception: its vision tower is `builtin:tiny-random`'s after contrastive
//! pretraining on captioned synthetic stills (`crate::pretrain`, run by `dist-extract
//! pretrain-tiny`), shipped in `assets/tiny-vision.safetensors`, so its image features say what a
//! frame shows; its text tower is the random one the pretraining aligned the images to.
//!
//! Init follows open_clip's `initialize_parameters` (OpenAI's): class token and positions `N(0, C^-1/2)`,
//! attention in-projection `N(0, C^-1/2)`, out-projection and MLP output `N(0, C^-1/2 (2L)^-1/2)`, MLP
//! input `N(0, (2C)^-1/2)`, token embedding `N(0, 0.02)`, text positions `N(0, 0.01)`, projections
//! `N(0, C^-1/2)`, patch kernel `N(0, (3p²)^-1/2)`, biases 0, LayerNorms (1, 0), logit scale ln(1/0.07).
//! Every tensor draws from its own ChaCha8 stream seeded by (model seed, tensor index), so generation
//! runs in parallel and is identical on every machine.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::config::{ClipConfig, CLIP_MEAN, CLIP_STD};
use crate::weights::{
    BlockWeights, ClipWeights, HostTensor, LinearWeights, NormWeights, TextWeights, VisionWeights,
};

/// The seed every builtin uses.
pub const BUILTIN_SEED: u64 = 0x0D15_7C11;

/// Builtin names accepted after `builtin:`.
pub const BUILTIN_NAMES: [&str; 6] = [
    "tiny",
    "tiny-random",
    "vit-b32-random",
    "vit-b16-random",
    "vit-l14-random",
    "vit-l14-336-random",
];

/// The architecture of a builtin name.
#[must_use]
pub fn builtin_config(name: &str) -> Option<ClipConfig> {
    match name {
        "tiny" | "tiny-random" => Some(ClipConfig::tiny()),
        "vit-b32-random" => Some(ClipConfig::vit_b32()),
        "vit-b16-random" => Some(ClipConfig::vit_b16()),
        "vit-l14-random" => Some(ClipConfig::vit_l14()),
        "vit-l14-336-random" => Some(ClipConfig::vit_l14_336()),
        _ => None,
    }
}

/// The pretrained vision tower of `builtin:tiny` (see the module docs; docs/clip.md says how to
/// regenerate it).
const TINY_VISION: &[u8] = include_bytes!("../assets/tiny-vision.safetensors");

/// The weights of builtin `name` (a name [`builtin_config`] knows).
///
/// # Errors
/// When the embedded pretrained file does not fit the architecture (a build from a broken asset).
pub(crate) fn builtin_weights(name: &str, config: &ClipConfig) -> crate::error::Result<ClipWeights> {
    let mut weights = random_weights(config, BUILTIN_SEED);
    if name == "tiny" {
        let label = std::path::Path::new("builtin:tiny (assets/tiny-vision.safetensors)");
        crate::vision_file::apply(label, TINY_VISION.to_vec(), &mut weights)?;
    }
    Ok(weights)
}

/// One tensor to generate: shape and standard deviation (0 = zeros, `None` = ones).
struct Spec {
    shape: Vec<usize>,
    std: Option<f32>,
}

fn normal(shape: Vec<usize>, std: f32) -> Spec {
    Spec {
        shape,
        std: Some(std),
    }
}
fn zeros(shape: Vec<usize>) -> Spec {
    Spec {
        shape,
        std: Some(0.0),
    }
}
fn ones(shape: Vec<usize>) -> Spec {
    Spec { shape, std: None }
}

fn generate(spec: &Spec, seed: u64, index: u64) -> HostTensor {
    let n: usize = spec.shape.iter().product();
    let data = match spec.std {
        None => vec![1.0; n],
        Some(s) if s == 0.0 => vec![0.0; n],
        Some(std) => {
            let mut rng =
                ChaCha8Rng::seed_from_u64(seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15));
            let mut out = Vec::with_capacity(n + 1);
            while out.len() < n {
                // Box-Muller: two independent N(0, 1) per pair of uniforms.
                let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                let u2: f64 = rng.random::<f64>();
                let r = (-2.0 * u1.ln()).sqrt();
                let theta = std::f64::consts::TAU * u2;
                #[allow(clippy::cast_possible_truncation)]
                out.extend([
                    (r * theta.cos()) as f32 * std,
                    (r * theta.sin()) as f32 * std,
                ]);
            }
            out.truncate(n);
            out
        }
    };
    HostTensor::new(spec.shape.clone(), data)
}

fn block_specs(width: usize, mlp: usize, layers: usize) -> Vec<Spec> {
    #[allow(clippy::cast_precision_loss)]
    let (w, l) = (width as f32, layers as f32);
    let attn_std = w.powf(-0.5);
    let proj_std = attn_std * (2.0 * l).powf(-0.5);
    let fc_std = (2.0 * w).powf(-0.5);
    vec![
        ones(vec![width]),
        zeros(vec![width]),
        normal(vec![width, 3 * width], attn_std),
        zeros(vec![3 * width]),
        normal(vec![width, width], proj_std),
        zeros(vec![width]),
        ones(vec![width]),
        zeros(vec![width]),
        normal(vec![width, mlp], fc_std),
        zeros(vec![mlp]),
        normal(vec![mlp, width], proj_std),
        zeros(vec![width]),
    ]
}

fn take_block(it: &mut impl Iterator<Item = HostTensor>) -> Option<BlockWeights> {
    let mut next = || it.next();
    let norm = |w: HostTensor, b: HostTensor| NormWeights { weight: w, bias: b };
    let lin = |w: HostTensor, b: HostTensor| LinearWeights {
        weight: w,
        bias: Some(b),
    };
    Some(BlockWeights {
        ln_1: norm(next()?, next()?),
        qkv: lin(next()?, next()?),
        out_proj: lin(next()?, next()?),
        ln_2: norm(next()?, next()?),
        fc1: lin(next()?, next()?),
        fc2: lin(next()?, next()?),
    })
}

/// Generates the weights of `config` from `seed`.
#[must_use]
pub(crate) fn random_weights(config: &ClipConfig, seed: u64) -> ClipWeights {
    let v = &config.vision;
    #[allow(clippy::cast_precision_loss)]
    let scale = (v.width as f32).powf(-0.5);
    let grid = v.grid();
    let mut specs = vec![
        #[allow(clippy::cast_precision_loss)]
        normal(
            vec![3 * v.patch_size * v.patch_size, v.width],
            ((3 * v.patch_size * v.patch_size) as f32).powf(-0.5),
        ),
        normal(vec![v.width], scale),
        normal(vec![grid * grid + 1, v.width], scale),
        ones(vec![v.width]),
        zeros(vec![v.width]),
    ];
    for _ in 0..v.layers {
        specs.extend(block_specs(v.width, v.mlp_dim, v.layers));
    }
    specs.extend([ones(vec![v.width]), zeros(vec![v.width])]);
    if let Some(embed) = v.embed_dim {
        specs.push(normal(vec![v.width, embed], scale));
    }
    if let Some(t) = &config.text {
        #[allow(clippy::cast_precision_loss)]
        let t_scale = (t.width as f32).powf(-0.5);
        specs.extend([
            normal(vec![t.vocab_size, t.width], 0.02),
            normal(vec![t.context_length, t.width], 0.01),
        ]);
        for _ in 0..t.layers {
            specs.extend(block_specs(t.width, t.mlp_dim, t.layers));
        }
        specs.extend([
            ones(vec![t.width]),
            zeros(vec![t.width]),
            normal(vec![t.width, t.embed_dim], t_scale),
        ]);
    }
    let tensors: Vec<HostTensor> = specs
        .par_iter()
        .enumerate()
        .map(|(i, s)| generate(s, seed, i as u64))
        .collect();
    let mut it = tensors.into_iter();
    let mut next = || it.next().expect("one tensor per spec");
    let (patch, class_embedding, positions) = (next(), next(), next());
    let ln_pre = NormWeights {
        weight: next(),
        bias: next(),
    };
    let blocks = (0..v.layers)
        .map(|_| take_block(&mut it).expect("block specs"))
        .collect();
    let mut next = || it.next().expect("one tensor per spec");
    let ln_post = NormWeights {
        weight: next(),
        bias: next(),
    };
    let projection = v.embed_dim.map(|_| next());
    let vision = VisionWeights {
        patch,
        class_embedding,
        positions,
        ln_pre,
        blocks,
        ln_post,
        projection,
    };
    let text = config.text.as_ref().map(|t| {
        let (token_embedding, text_positions) =
            (it.next().expect("spec"), it.next().expect("spec"));
        let blocks = (0..t.layers)
            .map(|_| take_block(&mut it).expect("block specs"))
            .collect();
        let ln_final = NormWeights {
            weight: it.next().expect("spec"),
            bias: it.next().expect("spec"),
        };
        TextWeights {
            token_embedding,
            positions: text_positions,
            blocks,
            ln_final,
            projection: it.next().expect("spec"),
        }
    });
    ClipWeights {
        config: config.clone(),
        vision,
        text,
        logit_scale: (1.0f32 / 0.07).ln(),
        mean: CLIP_MEAN,
        std: CLIP_STD,
    }
}
