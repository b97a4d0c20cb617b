//! `dist-extract text`: add a label set (class names and their frozen text embeddings) to a store.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args as ClapArgs;
use dist_store::{Expect, Store};
use dist_video::ClassList;

use crate::commands::common::ModelArgs;
use crate::job::labels::{resolve_templates, write_label_set};

/// Embed class names with the text tower and store them as a label set.
///
/// Use it for the training labels, or for a zero-shot list of new names (`--name zeroshot`) that
/// `dist-train eval --labels zeroshot` then recognises.
#[derive(Debug, ClapArgs)]
pub struct Args {
    #[command(flatten)]
    pub model: ModelArgs,
    /// Class names, one per line.
    #[arg(long)]
    pub classes: PathBuf,
    /// The store to add the label set to.
    #[arg(long)]
    pub out: PathBuf,
    /// Name of the label set (letters, digits, - and _).
    #[arg(long, default_value = "train")]
    pub name: String,
    /// Prompt templates: `ensemble` (the built-in list, averaged), a file with one template per line,
    /// or a literal with {} (repeatable). Default: "a video of {}.".
    #[arg(long)]
    pub templates: Vec<String>,
}

impl Args {
    pub fn run(self) -> anyhow::Result<()> {
        let model = self.model.load()?;
        // The text tower must belong to the CLIP whose image features the store holds.
        let store = Store::open_expecting(
            &self.out,
            &Expect::new()
                .field("encoder.weights_sha256", &model.fingerprint.weights_sha256)
                .field("encoder.embed_dim", model.fingerprint.embed_dim),
        )
        .with_context(|| format!("opening {}", self.out.display()))?;
        let classes = ClassList::read(&self.classes)?;
        let templates = resolve_templates(&self.templates)?;
        write_label_set(&store, &model, &self.name, classes.names(), &templates)?;
        println!(
            "label set {:?}: {} classes, {} template(s), written to {}",
            self.name,
            classes.len(),
            templates.len(),
            self.out.display()
        );
        Ok(())
    }
}
