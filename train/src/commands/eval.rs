//! `dist-train eval`: multi-view testing of a run, and zero-shot recognition of another label set.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use arrow::array::{ArrayRef, Float64Array, ListArray, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema};
use clap::Args;
use parquet::arrow::ArrowWriter;

use crate::trainer::data::{videos_of_split, VideoClips};
use crate::trainer::eval::{evaluate, Evaluation};
use crate::trainer::source::eval_batches;
use crate::trainer::fit::{open_store, text_head};
use crate::trainer::HeadKind;
use crate::trainer::{load_run, plot};

/// Evaluate a trained run on a split with multi-view testing (probabilities summed over the stored
/// views of each video).
///
/// Writes into RUN/eval-<split>[-<labels>]/: `metrics.json` (top-1, top-5, per-class accuracy),
/// `predictions.parquet` (video id, true label, top-5 labels and scores), `per_class.parquet`,
/// `confusion.parquet` and `per_class.png`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The feature store.
    #[arg(long)]
    pub store: PathBuf,
    /// The run directory written by `dist-train fit`.
    #[arg(long)]
    pub run: PathBuf,
    /// Split to evaluate.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Another label set of the store (e.g. `zeroshot`): zero-shot recognition of its names. Videos
    /// whose true class name is not in that set are left out.
    #[arg(long)]
    pub labels: Option<String>,
    /// Clips per forward pass.
    #[arg(long, default_value_t = 8)]
    pub batch_size: usize,
    /// Backend: cpu (burn-flex) or wgpu (a GPU; needs a build with `--features wgpu`).
    #[arg(long, default_value = "cpu", env = "DIST_DEVICE")]
    pub device: dist_clip::Backend,
}

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let device = args.device.device(burn::tensor::DType::F32)?;
    let (model, cfg, info) = load_run(&args.run, &device)?;
    let store = open_store(&args.store, &cfg.model)?;
    let reader = store.reader()?;
    if let (Some(labels), HeadKind::Linear) = (&args.labels, cfg.train.head) {
        anyhow::bail!(
            "--labels {labels:?}: run {} has a linear head (head = \"linear\"), which has no text side: \
             zero-shot recognition needs a contrastive-head run",
            args.run.display()
        );
    }
    let label_set = args.labels.clone().unwrap_or_else(|| info.label_set.clone());
    let set = store.label_set(&label_set)?;
    let mut videos = videos_of_split(&reader, &args.split);
    anyhow::ensure!(!videos.is_empty(), "the store has no labelled {} clips", args.split);
    if args.labels.is_some() {
        // Map the training label of each video to the index of its name in the zero-shot set.
        videos = videos
            .into_iter()
            .filter_map(|v| {
                let name = info.classes.get(v.label)?;
                let idx = set.classes.iter().position(|c| c == name)?;
                Some(VideoClips { label: idx, ..v })
            })
            .collect();
        anyhow::ensure!(!videos.is_empty(), "no {} video's class appears in label set {label_set:?}", args.split);
    }
    let (text, classes) = match cfg.train.head {
        HeadKind::Linear => (None, info.classes.clone()),
        HeadKind::Contrastive => (Some(text_head(&set, cfg.model.embed_dim, cfg.train.logit_scale, &device)?), set.classes.clone()),
    };
    let layers = cfg.model.selected_layers()?;
    let batches = eval_batches(&reader, &videos, &layers, cfg.model.has_temporal(), args.batch_size, &device);
    let ids: Vec<_> = videos.iter().map(|v| (v.video_id.clone(), v.label)).collect();
    let batches = Box::new(batches.map(|b| b.map_err(anyhow::Error::from)));
    let ev = evaluate(&model.dist, &|v| model.logits(v, text.as_ref()), batches, &ids)?;

    let name = match &args.labels {
        Some(l) => format!("eval-{}-{l}", args.split),
        None => format!("eval-{}", args.split),
    };
    let out = args.run.join(name);
    std::fs::create_dir_all(&out)?;
    write_outputs(&out, &ev, &classes)?;
    println!(
        "{} {} videos ({} views each): top-1 {:.2}%, top-5 {:.2}%; results in {}",
        args.split,
        ev.videos.len(),
        videos.first().map_or(0, |v| v.clips.len()),
        100.0 * ev.top1(),
        100.0 * ev.top5(),
        out.display()
    );
    Ok(())
}

fn write_parquet(path: &std::path::Path, batch: &RecordBatch) -> anyhow::Result<()> {
    let mut w = ArrowWriter::try_new(std::fs::File::create(path)?, batch.schema(), None)?;
    w.write(batch)?;
    w.close()?;
    Ok(())
}

/// Writes metrics.json, predictions.parquet, per_class.parquet, confusion.parquet and a PNG.
pub fn write_outputs(out: &std::path::Path, ev: &Evaluation, classes: &[String]) -> anyhow::Result<()> {
    let per_class = ev.per_class();
    let json = serde_json::json!({
        "top1": ev.top1(),
        "top5": ev.top5(),
        "videos": ev.videos.len(),
        "per_class": classes.iter().zip(&per_class).map(|(c, a)| serde_json::json!({"class": c, "top1": if a.is_nan() { None } else { Some(*a) }})).collect::<Vec<_>>(),
    });
    std::fs::write(out.join("metrics.json"), serde_json::to_vec_pretty(&json)?)?;

    let k = 5.min(ev.classes);
    let tops: Vec<Vec<usize>> = ev.videos.iter().map(|(_, _, p)| Evaluation::top_k(p, k)).collect();
    // Each video's share of every class (its summed probabilities normalised), in class-index
    // order: the `scores` column, from which callers score any subset of the classes (a clip
    // against its time reversal, a task's own classes); the top-5 scores are read from it.
    let shares: Vec<Vec<f64>> = ev
        .videos
        .iter()
        .map(|(_, _, p)| {
            let total = p.iter().sum::<f32>().max(1e-12);
            p.iter().map(|&x| (x / total) as f64).collect()
        })
        .collect();
    let top_labels = ListArray::new(
        Arc::new(Field::new("item", DataType::Utf8, true)),
        arrow::buffer::OffsetBuffer::from_lengths(tops.iter().map(Vec::len)),
        Arc::new(StringArray::from_iter_values(tops.iter().flatten().map(|&i| classes[i].as_str()))),
        None,
    );
    let list = |rows: Vec<Vec<f64>>| {
        ListArray::from_iter_primitive::<arrow::datatypes::Float64Type, _, _>(rows.into_iter().map(|r| Some(r.into_iter().map(Some))))
    };
    let top_scores = list(shares.iter().zip(&tops).map(|(s, t)| t.iter().map(|&i| s[i]).collect()).collect());
    let all_scores = list(shares);
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(ev.videos.iter().map(|v| v.0.as_str()))),
        Arc::new(UInt64Array::from_iter_values(ev.videos.iter().map(|v| v.1 as u64))),
        Arc::new(StringArray::from_iter_values(ev.videos.iter().map(|v| classes[v.1].as_str()))),
        Arc::new(top_labels),
        Arc::new(top_scores),
        Arc::new(all_scores),
    ];
    let schema = Arc::new(Schema::new(vec![
        Field::new("video_id", DataType::Utf8, false),
        Field::new("label", DataType::UInt64, false),
        Field::new("label_name", DataType::Utf8, false),
        Field::new("top5_labels", cols[3].data_type().clone(), false),
        Field::new("top5_scores", cols[4].data_type().clone(), false),
        Field::new("scores", cols[5].data_type().clone(), false),
    ]));
    write_parquet(&out.join("predictions.parquet"), &RecordBatch::try_new(schema, cols)?)?;

    let schema = Arc::new(Schema::new(vec![
        Field::new("class", DataType::Utf8, false),
        Field::new("top1", DataType::Float64, true),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(classes.iter().map(String::as_str))) as ArrayRef,
            Arc::new(Float64Array::from_iter(per_class.iter().map(|a| (!a.is_nan()).then_some(*a)))),
        ],
    )?;
    write_parquet(&out.join("per_class.parquet"), &batch)?;

    let conf = ev.confusion();
    let mut fields = vec![Field::new("true_class", DataType::Utf8, false)];
    fields.extend(classes.iter().map(|c| Field::new(c, DataType::UInt64, false)));
    let mut cols: Vec<ArrayRef> = vec![Arc::new(StringArray::from_iter_values(classes.iter().map(String::as_str)))];
    for j in 0..classes.len() {
        cols.push(Arc::new(UInt64Array::from_iter_values(conf.iter().map(|row| row[j]))));
    }
    write_parquet(&out.join("confusion.parquet"), &RecordBatch::try_new(Arc::new(Schema::new(fields)), cols)?)?;

    let items: Vec<(String, f64)> = classes.iter().cloned().zip(per_class.iter().map(|a| if a.is_nan() { 0.0 } else { *a })).collect();
    if let Err(e) = plot::bars(&out.join("per_class.png"), "per-class top-1", &items).context("per_class.png") {
        tracing::warn!("{e:#}");
    }
    Ok(())
}
