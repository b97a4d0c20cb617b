//! `dist-extract encode-text`: CLIP's tokenizer and text tower, for parity checks.

use std::path::PathBuf;

use anyhow::Context;

use super::common::{write_safetensors, Array, ModelArgs};

/// `encode-text --model P --text "..." [--text ...] --out O.safetensors`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    model: ModelArgs,
    /// A text to encode (repeat for several).
    #[arg(long = "text", required = true)]
    texts: Vec<String>,
    /// Output: input_ids i64 [n, 77] and text_embeds f32 [n, E] (not normalised).
    #[arg(long)]
    out: PathBuf,
}

impl Args {
    /// Runs the command.
    ///
    /// # Errors
    /// Model loading, a model without a text tower, writing the output.
    pub fn run(self) -> anyhow::Result<()> {
        let model = self.model.load()?;
        let text = model.text().with_context(|| format!("model {:?}", self.model.model))?;
        let context = text.config().context_length;
        let tokenizer = dist_clip::Tokenizer::shared()?;
        let ids: Vec<Vec<i64>> = self.texts.iter().map(|t| tokenizer.tokenize(t, context)).collect();
        let embeds = text.encode_ids(&ids)?;
        let n = ids.len();
        let arrays = vec![
            ("input_ids".to_string(), Array::I64(vec![n, context], ids.into_iter().flatten().collect())),
            ("text_embeds".to_string(), Array::from_tensor(embeds)?),
        ];
        write_safetensors(&self.out, arrays)?;
        eprintln!("encoded {n} texts -> {}", self.out.display());
        Ok(())
    }
}
