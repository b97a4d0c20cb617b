//! PNG plots: training curves of a run, bars of accuracies. Text uses DejaVu Sans from the system
//! (`fonts-dejavu-core`, installed by `make`), registered once.

use std::path::Path;
use std::sync::OnceLock;

use plotters::prelude::*;

use super::metrics::MetricRow;

const FONT_PATHS: [&str; 2] =
    ["/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", "/usr/share/fonts/dejavu/DejaVuSans.ttf"];

fn register_font() -> anyhow::Result<()> {
    static DONE: OnceLock<Result<(), String>> = OnceLock::new();
    DONE.get_or_init(|| {
        let bytes = FONT_PATHS
            .iter()
            .find_map(|p| std::fs::read(p).ok())
            .ok_or_else(|| format!("no DejaVu Sans font in {FONT_PATHS:?} (apt-get install fonts-dejavu-core)"))?;
        let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
        plotters::style::register_font("sans-serif", FontStyle::Normal, bytes).map_err(|_| "invalid font".to_string())
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
}

fn err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e:?}")
}

/// Loss (left) and validation top-1 (right) against epochs.
pub fn training_curves(path: &Path, rows: &[MetricRow]) -> anyhow::Result<()> {
    register_font()?;
    let root = BitMapBackend::new(path, (1000, 420)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let (left, right) = root.split_horizontally(500);
    let max_epoch = rows.iter().map(|r| r.epoch).fold(1e-9, f64::max);

    let losses: Vec<(f64, f64)> = rows.iter().filter(|r| r.loss.is_finite()).map(|r| (r.epoch, r.loss)).collect();
    let max_loss = losses.iter().map(|p| p.1).fold(1e-9, f64::max);
    let mut chart = ChartBuilder::on(&left)
        .caption("training loss", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(0.0..max_epoch, 0.0..max_loss * 1.05)
        .map_err(err)?;
    chart.configure_mesh().x_desc("epoch").draw().map_err(err)?;
    chart.draw_series(LineSeries::new(losses, &BLUE)).map_err(err)?;

    let acc: Vec<(f64, f64)> = rows.iter().filter(|r| r.top1.is_finite()).map(|r| (r.epoch, r.top1)).collect();
    let mut chart = ChartBuilder::on(&right)
        .caption("validation top-1", ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(45)
        .build_cartesian_2d(0.0..max_epoch, 0.0..1.0)
        .map_err(err)?;
    chart.configure_mesh().x_desc("epoch").draw().map_err(err)?;
    chart.draw_series(LineSeries::new(acc.clone(), &RED)).map_err(err)?;
    chart.draw_series(acc.into_iter().map(|p| Circle::new(p, 3, RED.filled()))).map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}

/// Horizontal bars, one per (label, value in [0, 1]).
pub fn bars(path: &Path, title: &str, items: &[(String, f64)]) -> anyhow::Result<()> {
    register_font()?;
    let height = 80 + 28 * items.len() as u32;
    let root = BitMapBackend::new(path, (900, height)).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(260)
        .build_cartesian_2d(0.0..1.0, (0..items.len()).into_segmented())
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_labels(items.len())
        .y_label_formatter(&|y| match y {
            SegmentValue::CenterOf(i) => items.get(*i).map(|x| x.0.clone()).unwrap_or_default(),
            _ => String::new(),
        })
        .draw()
        .map_err(err)?;
    chart
        .draw_series(items.iter().enumerate().map(|(i, (_, v))| {
            Rectangle::new([(0.0, SegmentValue::Exact(i)), (v.clamp(0.0, 1.0), SegmentValue::Exact(i + 1))], BLUE.mix(0.6).filled())
        }))
        .map_err(err)?;
    root.present().map_err(err)?;
    Ok(())
}
