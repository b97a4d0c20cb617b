//! Class-name prompts: one embedding per class from one or several templates.

use burn::tensor::Tensor;

use crate::error::{ClipError, Result};
use crate::text::TextTower;

/// The default single template.
pub const DEFAULT_TEMPLATE: &str = "a video of {}.";

/// OpenAI's 28-template Kinetics-700 prompt ensemble (CLIP's `Prompt_Engineering_for_ImageNet` notebook
/// and open_clip's zero-shot metadata use the same style: {photo, video, example, demonstration} x
/// {of {}, of a person {}, ... using/doing/during/performing/practicing {}}).
pub const VIDEO_TEMPLATES: [&str; 28] = [
    "a photo of {}.",
    "a photo of a person {}.",
    "a photo of a person using {}.",
    "a photo of a person doing {}.",
    "a photo of a person during {}.",
    "a photo of a person performing {}.",
    "a photo of a person practicing {}.",
    "a video of {}.",
    "a video of a person {}.",
    "a video of a person using {}.",
    "a video of a person doing {}.",
    "a video of a person during {}.",
    "a video of a person performing {}.",
    "a video of a person practicing {}.",
    "a example of {}.",
    "a example of a person {}.",
    "a example of a person using {}.",
    "a example of a person doing {}.",
    "a example of a person during {}.",
    "a example of a person performing {}.",
    "a example of a person practicing {}.",
    "a demonstration of {}.",
    "a demonstration of a person {}.",
    "a demonstration of a person using {}.",
    "a demonstration of a person doing {}.",
    "a demonstration of a person during {}.",
    "a demonstration of a person performing {}.",
    "a demonstration of a person practicing {}.",
];

/// Rows divided by their L2 norm.
///
/// # Shapes
/// - x: `[n, E]`; output: `[n, E]`
#[must_use]
pub fn l2_normalise(x: Tensor<2>) -> Tensor<2> {
    let norm = x
        .clone()
        .powf_scalar(2.0)
        .sum_dim(1)
        .sqrt()
        .clamp_min(1e-12); // [n, 1]
    x / norm
}

impl TextTower {
    /// One embedding per class name: every template is filled (`{}` is replaced by the name) and
    /// encoded, each embedding L2-normalised, the templates averaged, and the mean renormalised
    /// (CLIP's prompt ensembling). With one template this is just the normalised embedding.
    ///
    /// # Shapes
    /// - output: `[names.len(), E]`, unit rows
    ///
    /// # Errors
    /// [`ClipError::InvalidInput`] when `names` or `templates` is empty or a template has no `{}`.
    pub fn class_embeddings(&self, names: &[&str], templates: &[&str]) -> Result<Tensor<2>> {
        if names.is_empty() || templates.is_empty() {
            return Err(ClipError::InvalidInput(
                "class_embeddings needs at least one name and one template".into(),
            ));
        }
        if let Some(bad) = templates.iter().find(|t| !t.contains("{}")) {
            return Err(ClipError::InvalidInput(format!(
                "template {bad:?} has no {{}} for the class name"
            )));
        }
        let texts: Vec<String> = names
            .iter()
            .flat_map(|name| templates.iter().map(move |t| t.replace("{}", name)))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embeds = l2_normalise(self.encode_texts(&refs)?); // [names·templates, E]
        let e = embeds.dims()[1];
        let mean = embeds
            .reshape([names.len(), templates.len(), e])
            .mean_dim(1)
            .reshape([names.len(), e]);
        Ok(l2_normalise(mean))
    }
}
