//! Decode-and-sample throughput of dist-video side by side with the `ffmpeg` CLI, in one run.
//!
//! ```text
//! cargo run --release -p dist-video --bin bench-decode -- [--repeat N] [--size S] [--threads N] FILE...
//! ```
//!
//! Per file, the median over `--repeat` runs (default 3) of:
//! * `cli_rgb`: `ffmpeg -i FILE -f rawvideo -pix_fmt rgb24 /dev/null` (full-resolution RGB, process start
//!   included);
//! * `cli_crop`: the same with `-vf scale=..:flags=bilinear,crop=S:S`, i.e. the CLI producing the very
//!   frames we produce (centre view);
//! * `ours_full`: every frame as one centre-crop S×S view;
//! * `test`/`train` clips: the default 3 test views / 2 train views of γT = 16 frames;
//! * `sparse`: only T = 8 frames (one TSN clip, γ = 1), to compare with the full decode.
//!
//! Prints a Markdown table.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use dist_video::{plan_views, video_seed, CropBox, DecodeLimits, SamplingConfig, Split, VideoInfo, VideoReader, ViewPlan};

struct Args {
    repeat: usize,
    size: u32,
    threads: usize,
    files: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args { repeat: 3, size: 224, threads: 0, files: Vec::new() };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        let mut num = |name: &str| -> Result<usize, String> {
            it.next().and_then(|v| v.parse().ok()).ok_or_else(|| format!("{name} needs a number"))
        };
        match a.as_str() {
            "--repeat" => args.repeat = num("--repeat")?.max(1),
            "--size" => args.size = num("--size")? as u32,
            "--threads" => args.threads = num("--threads")?,
            "-h" | "--help" => return Err("usage: bench-decode [--repeat N] [--size S] [--threads N] FILE...".into()),
            f => args.files.push(PathBuf::from(f)),
        }
    }
    if args.files.is_empty() {
        return Err("no input files (see --help)".into());
    }
    Ok(args)
}

/// Median wall time in seconds of `repeat` runs of `f`.
fn median_secs(repeat: usize, mut f: impl FnMut() -> Result<(), String>) -> Result<f64, String> {
    let mut times = Vec::with_capacity(repeat);
    for _ in 0..repeat {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

fn run_cli(path: &Path, vf: Option<&str>, threads: usize) -> Result<(), String> {
    let mut cmd = Command::new("ffmpeg");
    cmd.args(["-nostdin", "-v", "error", "-threads", &threads.to_string(), "-i"]).arg(path);
    if let Some(vf) = vf {
        cmd.args(["-vf", vf]);
    }
    let out = cmd.args(["-f", "rawvideo", "-pix_fmt", "rgb24", "-y", "/dev/null"]).output().map_err(|e| format!("ffmpeg: {e}"))?;
    if out.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&out.stderr).into_owned()) }
}

/// The CLI filter that yields our centre view: scale to the intermediate size, crop the window.
fn cli_crop_filter(info: &VideoInfo, cfg: &SamplingConfig) -> String {
    let plan = &plan_views(info, Split::Test, &SamplingConfig { test_views: 1, ..cfg.clone() }, 0)[0];
    let (b, s) = (plan.crop, cfg.input_size as f64);
    let tw = (info.width as f64 * s / b.w as f64).round();
    let th = (info.height as f64 * s / b.h as f64).round();
    let ox = (b.x as f64 * s / b.w as f64).round().min(tw - s);
    let oy = (b.y as f64 * s / b.h as f64).round().min(th - s);
    format!("scale={tw}:{th}:flags=bilinear,crop={s}:{s}:{ox}:{oy}")
}

fn full_plan(info: &VideoInfo, crop: CropBox) -> ViewPlan {
    ViewPlan {
        view_index: 0,
        temporal_index: 0,
        spatial_crop_index: 0,
        dense_indices: (0..info.frame_count).collect(),
        sparse_positions: vec![0],
        crop,
        flip: false,
    }
}

fn bench_file(path: &Path, args: &Args) -> Result<String, String> {
    let limits = DecodeLimits { threads: args.threads, ..DecodeLimits::default() };
    let reader = VideoReader::open(path, &limits).map_err(|e| e.to_string())?;
    let info = reader.info().clone();
    let n = info.frame_count as f64;
    let base = SamplingConfig { input_size: args.size, limits: limits.clone(), ..SamplingConfig::default() };

    let cli_rgb = median_secs(args.repeat, || run_cli(path, None, args.threads))?;
    let vf = cli_crop_filter(&info, &base);
    let cli_crop = median_secs(args.repeat, || run_cli(path, Some(&vf), args.threads))?;

    let centre = plan_views(&info, Split::Test, &SamplingConfig { test_views: 1, ..base.clone() }, 0)[0].crop;
    let full_cfg = SamplingConfig { t: info.frame_count as usize, gamma: 1, ..base.clone() };
    let full = full_plan(&info, centre);
    let mut frames_decoded = 0;
    let ours_full = median_secs(args.repeat, || {
        // Open included, as the CLI's container open is included in its time.
        let r = VideoReader::open(path, &limits).map_err(|e| e.to_string())?;
        let (_, stats) = r.decode_views_with_stats(std::slice::from_ref(&full), &full_cfg).map_err(|e| e.to_string())?;
        frames_decoded = stats.frames_decoded;
        Ok(())
    })?;

    let clips_per_s = |split: Split| -> Result<(f64, usize), String> {
        let plans = plan_views(&info, split, &base, video_seed("bench"));
        let t = median_secs(args.repeat, || {
            let r = VideoReader::open(path, &limits).map_err(|e| e.to_string())?;
            r.decode_views(&plans, &base).map(|_| ()).map_err(|e| e.to_string())
        })?;
        Ok((plans.len() as f64 / t, plans.len()))
    };
    let (test_cps, _) = clips_per_s(Split::Test)?;
    let (train_cps, _) = clips_per_s(Split::Train)?;

    let sparse_cfg = SamplingConfig { t: 8, gamma: 1, test_views: 1, ..base.clone() };
    let sparse_plans = plan_views(&info, Split::Test, &sparse_cfg, 0);
    let mut sparse_decoded = 0;
    let sparse = median_secs(args.repeat, || {
        let r = VideoReader::open(path, &limits).map_err(|e| e.to_string())?;
        let (_, stats) = r.decode_views_with_stats(&sparse_plans, &sparse_cfg).map_err(|e| e.to_string())?;
        sparse_decoded = stats.frames_decoded;
        Ok(())
    })?;

    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(format!(
        "| {name} | {} {}x{} {} | {} | {:.0} | {:.0} | {:.0} | {:.2}x / {:.2}x | {:.1} | {:.1} | {:.1} ms ({sparse_decoded} decoded) vs {:.1} ms ({frames_decoded}): {:.1}x |",
        info.codec,
        info.width,
        info.height,
        info.pixel_format,
        info.frame_count,
        n / cli_rgb,
        n / cli_crop,
        n / ours_full,
        cli_rgb / ours_full,
        cli_crop / ours_full,
        test_cps,
        train_cps,
        sparse * 1e3,
        ours_full * 1e3,
        ours_full / sparse,
    ))
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    println!(
        "S = {}, repeat = {} (median), decoder threads = {} (0 = auto), libavcodec {}\n",
        args.size,
        args.repeat,
        args.threads,
        dist_video::libavcodec_version()
    );
    println!("| file | video | frames | CLI rgb24 fps | CLI scale+crop fps | ours full fps | ours vs CLI rgb24 / crop | test clips/s (3x16) | train clips/s (2x16) | sparse T=8 vs ours full |");
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for f in &args.files {
        match bench_file(f, &args) {
            Ok(row) => println!("{row}"),
            Err(e) => println!("| {} | error: {} |", f.display(), e.replace('\n', " ")),
        }
    }
}
