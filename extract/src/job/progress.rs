//! Progress of a job: an indicatif bar on a terminal, periodic log lines otherwise.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Thread-safe progress reporting over a known number of videos.
pub struct Progress {
    bar: Option<ProgressBar>,
    total: u64,
    videos: AtomicU64,
    clips: AtomicU64,
    frames: AtomicU64,
    shards: AtomicU64,
    start: Instant,
    last_log: Mutex<Instant>,
    every: Duration,
}

impl Progress {
    pub fn new(total_videos: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total_videos), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{bar:30} {pos}/{len} videos  {msg}  [{elapsed_precise}, ETA {eta}]")
                    .expect("valid template"),
            );
            bar
        });
        Self {
            bar,
            total: total_videos,
            videos: AtomicU64::new(0),
            clips: AtomicU64::new(0),
            frames: AtomicU64::new(0),
            shards: AtomicU64::new(0),
            start: Instant::now(),
            last_log: Mutex::new(Instant::now()),
            every: Duration::from_secs(10),
        }
    }

    pub fn video_done(&self) {
        self.videos.fetch_add(1, Ordering::Relaxed);
        self.update();
    }

    pub fn clip_done(&self, frames: u64) {
        self.clips.fetch_add(1, Ordering::Relaxed);
        self.frames.fetch_add(frames, Ordering::Relaxed);
        self.update();
    }

    pub fn shard_done(&self) {
        self.shards.fetch_add(1, Ordering::Relaxed);
        self.update();
    }

    fn update(&self) {
        let (videos, clips, frames) = (
            self.videos.load(Ordering::Relaxed),
            self.clips.load(Ordering::Relaxed),
            self.frames.load(Ordering::Relaxed),
        );
        let fps = frames as f64 / self.start.elapsed().as_secs_f64().max(1e-9);
        let msg = format!("{clips} clips, {fps:.1} frames/s, {} shards written", self.shards.load(Ordering::Relaxed));
        match &self.bar {
            Some(bar) => {
                bar.set_position(videos);
                bar.set_message(msg);
            }
            None => {
                let mut last = self.last_log.lock().expect("progress lock");
                if last.elapsed() >= self.every {
                    *last = Instant::now();
                    tracing::info!("{videos}/{} videos, {msg}", self.total);
                }
            }
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
