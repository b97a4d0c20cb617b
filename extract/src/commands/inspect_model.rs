//! `dist-extract inspect-model`: what a checkpoint holds, as the loader understood it.

use std::fmt::Write as _;
use std::io::Write as _;

use dist_clip::{ClipModel, ModelSource};

use super::common::ModelArgs;

/// `inspect-model --model P [--json]`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// Print the configuration and fingerprint as JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

impl Args {
    /// Runs the command.
    ///
    /// # Errors
    /// Model loading.
    pub fn run(self) -> anyhow::Result<()> {
        let model = self.model.load()?;
        let text = if self.json {
            let value = serde_json::json!({
                "source": model.source,
                "config": model.config,
                "fingerprint": model.fingerprint,
                "logit_scale": model.logit_scale,
            });
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        } else {
            summary(&model)
        };
        // A closed pipe (`| head`) is not an error.
        match std::io::stdout().lock().write_all(text.as_bytes()) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
            other => Ok(other?),
        }
    }
}

/// Parameters of one pre-LN residual block of width `c` and MLP width `m`.
fn block_params(c: usize, m: usize) -> usize {
    4 * c + (3 * c * c + 3 * c) + (c * c + c) + (c * m + m) + (m * c + c)
}

/// A human-readable model summary.
#[must_use]
pub fn summary(model: &ClipModel) -> String {
    let mut s = String::new();
    let source = match &model.source {
        ModelSource::Builtin(name) => format!("builtin:{name} (random weights)"),
        ModelSource::Checkpoint { path, layout } => format!("{path} ({layout:?} layout)"),
    };
    let v = &model.config.vision;
    let grid = v.grid();
    let vision_params = 3 * v.patch_size * v.patch_size * v.width
        + v.width
        + (grid * grid + 1) * v.width
        + 4 * v.width
        + v.layers * block_params(v.width, v.mlp_dim)
        + v.embed_dim.map_or(0, |e| v.width * e);
    let _ = writeln!(s, "model        {source}");
    let _ = writeln!(s, "architecture {}", model.fingerprint.architecture);
    let _ = writeln!(
        s,
        "vision       {}px, patch {}, {}x{} grid (+CLS = {} tokens), width {}, {} layers, {} heads, MLP {}, {:?}, embed {}",
        v.image_size, v.patch_size, grid, grid, grid * grid + 1, v.width, v.layers, v.heads, v.mlp_dim,
        v.activation, v.output_dim()
    );
    let _ = writeln!(s, "             {:.2} M parameters; hidden states 0..={}", vision_params as f64 / 1e6, v.layers);
    match &model.config.text {
        Some(t) => {
            let params = t.vocab_size * t.width
                + t.context_length * t.width
                + t.layers * block_params(t.width, t.mlp_dim)
                + 2 * t.width
                + t.width * t.embed_dim;
            let _ = writeln!(
                s,
                "text         vocab {}, context {}, width {}, {} layers, {} heads, MLP {}, {:?}, embed {}, EOT id {}",
                t.vocab_size, t.context_length, t.width, t.layers, t.heads, t.mlp_dim, t.activation, t.embed_dim,
                t.eot_token_id
            );
            let _ = writeln!(s, "             {:.2} M parameters", params as f64 / 1e6);
        }
        None => {
            let _ = writeln!(s, "text         none (vision-only checkpoint)");
        }
    }
    let f = &model.fingerprint;
    let _ = writeln!(s, "pixels       mean {:?}, std {:?}", f.mean, f.std);
    let _ = writeln!(s, "logit scale  {:.4} (x{:.2})", model.logit_scale, model.logit_scale.exp());
    let _ = writeln!(s, "sha256       {}", f.weights_sha256);
    s
}
