//! Label sets: embedding class names with the frozen text tower into a store.

use std::path::Path;

use anyhow::Context;
use dist_clip::{ClipModel, DEFAULT_TEMPLATE, VIDEO_TEMPLATES};
use dist_store::{LabelSet, Store};

/// Resolves `--templates` values: `ensemble` (the built-in list), a file (one template per line), or a
/// literal template containing `{}`. None given: the single default template.
pub fn resolve_templates(specs: &[String]) -> anyhow::Result<Vec<String>> {
    if specs.is_empty() {
        return Ok(vec![DEFAULT_TEMPLATE.to_string()]);
    }
    let mut out = Vec::new();
    for spec in specs {
        if spec == "ensemble" {
            out.extend(VIDEO_TEMPLATES.iter().map(|t| t.to_string()));
        } else if Path::new(spec).is_file() {
            let text = std::fs::read_to_string(spec).with_context(|| format!("reading templates {spec}"))?;
            out.extend(text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from));
        } else {
            anyhow::ensure!(spec.contains("{}"), "--templates {spec:?}: not a file, not `ensemble`, and has no {{}}");
            out.push(spec.clone());
        }
    }
    Ok(out)
}

/// Embeds `classes` with `model`'s text tower and writes them as label set `name`.
pub fn write_label_set(store: &Store, model: &ClipModel, name: &str, classes: &[String], templates: &[String]) -> anyhow::Result<()> {
    let text = model.text().context("the model has no text tower (a vision-only checkpoint): label sets need one")?;
    let names: Vec<&str> = classes.iter().map(String::as_str).collect();
    let tmpl: Vec<&str> = templates.iter().map(String::as_str).collect();
    let emb = text.class_embeddings(&names, &tmpl)?;
    let [k, dim] = emb.dims();
    anyhow::ensure!(k == classes.len(), "text tower returned {k} embeddings for {} classes", classes.len());
    let embeddings = emb.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    store.write_label_set(&LabelSet {
        name: name.into(),
        classes: classes.to_vec(),
        embeddings,
        dim,
        info: serde_json::json!({
            "templates": templates,
            "text_encoder_sha256": model.fingerprint.weights_sha256,
            "logit_scale": model.logit_scale,
        }),
    })?;
    Ok(())
}
