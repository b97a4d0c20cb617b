//! Decode-and-sample throughput of dist-video side by side with the `ffmpeg` CLI, in one run.
//!
//! ```text
//! cargo run --release -p dist-video --bin bench-decode -- [--repeat N] [--size S] [--threads N] FILE...
//! ```
//!
//! Per file, the median over `--repeat` runs (default 3) of the following; the first three run interleaved
//! (CLI, CLI, ours, CLI, CLI, ours, …) so that the machine's changing load affects their ratio least:
//! * `cli_rgb`: `ffmpeg -i FILE -f rawvideo -pix_fmt rgb24 /dev/null` (full-resolution RGB, process start
//!   included);
//! * `cli_crop`: the same with `-vf scale=..:flags=bilinear,crop=S:S`, i.e. the CLI producing the very
//!   frames we produce (centre view);
//! * `ours_full`: every frame as one centre-crop S×S view;
//! * `test`/`train` clips: the default 3 test views / 2 train views of γT = 16 frames;
//! * `sparse`: only T = 8 frames (one TSN clip, γ = 1), to compare with the full decode.
//!
//! Prints a Markdown table. Fps and ratios are from wall time; the CPU seconds (user + system, all threads,
//! from `/proc`) of the same median runs are printed too, as they vary less with the machine's load.

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

/// CPU seconds (user + system) used so far by this process (all threads) and by its waited-for children,
/// from `/proc/self/stat` (clock ticks of 10 ms). Zeros where `/proc` is unavailable.
fn cpu_secs() -> (f64, f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime, stime, cutime, cstime are fields 14-17.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest.split_whitespace().map(|x| x.parse().unwrap_or(0.0)).collect();
    let tick = |i: usize| f.get(i).copied().unwrap_or(0.0) / 100.0;
    // `rest` starts at field 3 (state), so field n is at index n - 3.
    (tick(11) + tick(12), tick(13) + tick(14))
}

/// A timed run: wall seconds and CPU seconds (of this process, or of the child processes with `children`).
#[derive(Clone, Copy)]
struct Timing {
    wall: f64,
    cpu: f64,
}

/// A benchmarked job; `children` when its work is done by child processes (the CLI).
type Job<'a> = (bool, Box<dyn FnMut() -> Result<(), String> + 'a>);

/// Runs the jobs round-robin `repeat` times (A B C A B C …, so that changes in the machine's load hit every
/// job alike) and returns, per job, its median-wall-time run.
fn interleaved(repeat: usize, mut jobs: Vec<Job<'_>>) -> Result<Vec<Timing>, String> {
    let mut times = vec![Vec::with_capacity(repeat); jobs.len()];
    for _ in 0..repeat {
        for ((children, f), t) in jobs.iter_mut().zip(&mut times) {
            let (c0, start) = (cpu_secs(), Instant::now());
            f()?;
            let (wall, c1) = (start.elapsed().as_secs_f64(), cpu_secs());
            let cpu = if *children { c1.1 - c0.1 } else { c1.0 - c0.0 };
            t.push(Timing { wall, cpu });
        }
    }
    Ok(times
        .into_iter()
        .map(|mut t| {
            t.sort_by(|a, b| a.wall.total_cmp(&b.wall));
            t[t.len() / 2]
        })
        .collect())
}

/// Median wall time over `repeat` runs of `f`, with the CPU time of that median run.
fn median_secs(repeat: usize, children: bool, f: impl FnMut() -> Result<(), String>) -> Result<Timing, String> {
    Ok(interleaved(repeat, vec![(children, Box::new(f))])?[0])
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

    let vf = cli_crop_filter(&info, &base);
    let centre = plan_views(&info, Split::Test, &SamplingConfig { test_views: 1, ..base.clone() }, 0)[0].crop;
    let full_cfg = SamplingConfig { t: info.frame_count as usize, gamma: 1, ..base.clone() };
    let full = full_plan(&info, centre);
    let mut frames_decoded = 0;
    let full_jobs: Vec<Job<'_>> = vec![
        (true, Box::new(|| run_cli(path, None, args.threads))),
        (true, Box::new(|| run_cli(path, Some(&vf), args.threads))),
        (
            false,
            Box::new(|| {
                // Open included, as the CLI's container open is included in its time.
                let r = VideoReader::open(path, &limits).map_err(|e| e.to_string())?;
                let (_, stats) = r.decode_views_with_stats(std::slice::from_ref(&full), &full_cfg).map_err(|e| e.to_string())?;
                frames_decoded = stats.frames_decoded;
                Ok(())
            }),
        ),
    ];
    let [cli_rgb, cli_crop, ours_full] = interleaved(args.repeat, full_jobs)?[..] else { unreachable!("three jobs") };

    let clips_per_s = |split: Split| -> Result<(f64, usize), String> {
        let plans = plan_views(&info, split, &base, video_seed("bench"));
        let t = median_secs(args.repeat, false, || {
            let r = VideoReader::open(path, &limits).map_err(|e| e.to_string())?;
            r.decode_views(&plans, &base).map(|_| ()).map_err(|e| e.to_string())
        })?;
        Ok((plans.len() as f64 / t.wall, plans.len()))
    };
    let (test_cps, _) = clips_per_s(Split::Test)?;
    let (train_cps, _) = clips_per_s(Split::Train)?;

    let sparse_cfg = SamplingConfig { t: 8, gamma: 1, test_views: 1, ..base.clone() };
    let sparse_plans = plan_views(&info, Split::Test, &sparse_cfg, 0);
    let mut sparse_decoded = 0;
    let sparse = median_secs(args.repeat, false, || {
        let r = VideoReader::open(path, &limits).map_err(|e| e.to_string())?;
        let (_, stats) = r.decode_views_with_stats(&sparse_plans, &sparse_cfg).map_err(|e| e.to_string())?;
        sparse_decoded = stats.frames_decoded;
        Ok(())
    })?;

    let name = path.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    Ok(format!(
        "| {name} | {} {}x{} {} | {} | {:.0} | {:.0} | {:.0} | {:.2}x / {:.2}x | {:.2} / {:.2} / {:.2} | {:.1} | {:.1} | {:.1} ms ({sparse_decoded} decoded) vs {:.1} ms ({frames_decoded}): {:.1}x |",
        info.codec,
        info.width,
        info.height,
        info.pixel_format,
        info.frame_count,
        n / cli_rgb.wall,
        n / cli_crop.wall,
        n / ours_full.wall,
        cli_rgb.wall / ours_full.wall,
        cli_crop.wall / ours_full.wall,
        cli_rgb.cpu,
        cli_crop.cpu,
        ours_full.cpu,
        test_cps,
        train_cps,
        sparse.wall * 1e3,
        ours_full.wall * 1e3,
        ours_full.wall / sparse.wall,
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
    println!("| file | video | frames | CLI rgb24 fps | CLI scale+crop fps | ours full fps | ours vs CLI rgb24 / crop | CPU s: CLI rgb24 / crop / ours | test clips/s (3x16) | train clips/s (2x16) | sparse T=8 vs ours full |");
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    for f in &args.files {
        match bench_file(f, &args) {
            Ok(row) => println!("{row}"),
            Err(e) => println!("| {} | error: {} |", f.display(), e.replace('\n', " ")),
        }
    }
}
