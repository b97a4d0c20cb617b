//! `dist-train predict`: the top classes of one video, end to end (decode, frozen CLIP, the run's
//! trained branches), with the multi-view testing of `eval`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use burn::tensor::activation::softmax;
use clap::Args;
use dist_video::Split;
use serde::Serialize;

use crate::frozen::{sampling_of, FrozenEncoder};
use crate::model::ContrastiveHead;
use crate::trainer::eval::Evaluation;
use crate::trainer::fit::text_head;
use crate::trainer::{load_run, HeadKind};

/// Classify one video with a trained run.
///
/// The video is cut into the run's test views (its store's T, γ, crop, temporal clips × spatial
/// crops), the frozen encoder runs on their sparse frames, and the softmax probabilities of the views
/// are averaged.
#[derive(Debug, Args)]
pub struct PredictArgs {
    /// The run directory written by `dist-train fit`.
    #[arg(long)]
    pub run: PathBuf,
    /// The frozen CLIP the run's features came from: builtin:tiny, a Hugging Face model directory or
    /// a .safetensors file (its weights must be the ones recorded in the run).
    #[arg(long, short)]
    pub model: String,
    /// The video file.
    #[arg(long)]
    pub video: PathBuf,
    /// Class names, one per line: zero-shot recognition of these names through the CLIP text tower
    /// (contrastive-head runs only). Default: the run's classes.
    #[arg(long)]
    pub labels: Option<PathBuf>,
    /// Prompt templates for --labels (literals with `{}`, a file, or `ensemble`); default "a video of
    /// a person {}." as `dist-extract` uses.
    #[arg(long)]
    pub templates: Vec<String>,
    /// How many classes to print.
    #[arg(long, default_value_t = 5)]
    pub top: usize,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Backend: cpu (burn-flex) or wgpu (a GPU; needs a build with `--features wgpu`).
    #[arg(long, default_value = "cpu", env = "DIST_DEVICE")]
    pub device: dist_clip::Backend,
}

/// One ranked class.
#[derive(Debug, Clone, Serialize)]
pub struct Ranked {
    pub class: String,
    pub index: usize,
    /// Mean over views of the softmax probability.
    pub prob: f64,
}

/// What `predict` found.
#[derive(Debug, Clone, Serialize)]
pub struct Prediction {
    pub video: PathBuf,
    pub views: usize,
    pub top: Vec<Ranked>,
}

/// Reads a class-name file: one name per line, blank lines and `#` comments skipped.
fn read_names(path: &Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let names: Vec<String> =
        text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')).map(String::from).collect();
    anyhow::ensure!(!names.is_empty(), "{}: no class names", path.display());
    Ok(names)
}

/// `scale · cos` against the CLIP text embeddings of `names` (prompt-ensembled over `templates`).
fn embed_names(clip: &dist_clip::ClipModel, names: &[String], templates: &[String], scale: f64) -> anyhow::Result<ContrastiveHead> {
    let templates = dist_extract::job::labels::resolve_templates(templates)?;
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let tmpl: Vec<&str> = templates.iter().map(String::as_str).collect();
    let emb = clip.text().context("--labels needs the model's text tower")?.class_embeddings(&refs, &tmpl)?;
    Ok(ContrastiveHead::new(emb, scale))
}

/// Runs the prediction.
pub fn predict(args: &PredictArgs) -> anyhow::Result<Prediction> {
    let device = args.device.device(burn::tensor::DType::F32)?;
    let (network, cfg, info) = load_run(&args.run, &device)?;
    let meta = info.store_meta()?;
    if let (Some(labels), HeadKind::Linear) = (&args.labels, cfg.train.head) {
        anyhow::bail!(
            "--labels {}: run {} has a linear head (head = \"linear\"), which has no text side: zero-shot \
             recognition needs a contrastive-head run",
            labels.display(),
            args.run.display()
        );
    }
    let clip = dist_clip::load_model(&args.model, &device).with_context(|| format!("loading model {:?}", args.model))?;
    let (classes, text) = match (&args.labels, cfg.train.head) {
        (_, HeadKind::Linear) => (info.classes.clone(), None),
        // An online run's targets: its class names through this text tower, with its templates.
        (None, HeadKind::Contrastive) if info.online.is_some() => {
            let templates = info.online.as_ref().map(|o| o.templates.clone()).unwrap_or_default();
            let templates = if args.templates.is_empty() { templates } else { args.templates.clone() };
            let head = embed_names(&clip, &info.classes, &templates, cfg.train.logit_scale)?;
            (info.classes.clone(), Some(head))
        }
        (None, HeadKind::Contrastive) => match info.label_set_of_store() {
            // The very targets the run trained with.
            Ok(set) => (set.classes.clone(), Some(text_head(&set, cfg.model.embed_dim, cfg.train.logit_scale, &device)?)),
            Err(e) => {
                tracing::warn!("{e:#}; embedding the run's class names with the model's text tower instead");
                let names = info.classes.clone();
                let head = embed_names(&clip, &names, &args.templates, cfg.train.logit_scale)?;
                (names, Some(head))
            }
        },
        (Some(path), HeadKind::Contrastive) => {
            let names = read_names(path)?;
            let head = embed_names(&clip, &names, &args.templates, cfg.train.logit_scale)?;
            (names, Some(head))
        }
    };
    let encoder = FrozenEncoder::new(clip, cfg.model.selected_layers()?, meta.clone())?;
    let sampling = sampling_of(&meta)?;
    let id = args.video.file_stem().map_or_else(|| "video".into(), |s| s.to_string_lossy().to_string());
    let clips = FrozenEncoder::decode(&args.video, &id, Split::Test, &sampling)?;
    let refs: Vec<_> = clips.iter().collect();
    let (taps, frames) = encoder.encode(&refs, cfg.model.has_temporal(), &device)?;
    let video = network.dist.forward(&taps, frames)?;
    let probs = softmax(network.logits(video, text.as_ref())?, 1);
    let [views, k] = probs.dims();
    let mean: Vec<f32> = probs.mean_dim(0).into_data().convert::<f32>().try_into_vec().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    anyhow::ensure!(mean.len() == k && k == classes.len(), "the head scores {k} classes, the class list has {}", classes.len());
    let top = Evaluation::top_k(&mean, args.top)
        .into_iter()
        .map(|i| Ranked { class: classes[i].clone(), index: i, prob: f64::from(mean[i]) })
        .collect();
    Ok(Prediction { video: args.video.clone(), views, top })
}

pub fn run(args: &PredictArgs) -> anyhow::Result<()> {
    let p = predict(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&p)?);
        return Ok(());
    }
    println!("{} ({} views)", p.video.display(), p.views);
    let width = p.top.iter().map(|r| r.class.chars().count()).max().unwrap_or(5).max(5);
    println!("{:>4}  {:<width$}  {:>7}", "rank", "class", "prob");
    for (i, r) in p.top.iter().enumerate() {
        println!("{:>4}  {:<width$}  {:>6.2}%", i + 1, r.class, 100.0 * r.prob);
    }
    Ok(())
}
