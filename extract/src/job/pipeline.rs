//! The extraction pipeline: decode (parallel, rayon) → encode (batched, the frozen vision tower) →
//! write (one shard at a time), the three overlapping through bounded channels.
//!
//! Memory bound: at most 2 decoded shards wait for the encoder (one queued, one being decoded), the
//! encoder holds one shard, and at most 2 encoded shards wait for the writer: about
//! 3 x S x γT·H·W·3 bytes of frames plus 3 x S x layers·T·(N+1)·C x element size, S = clips per shard
//! (chosen so one shard is ~256 MB by default), whatever the dataset size.
//!
//! Determinism: encoder batches never cross a shard, and a shard is always encoded the same way, so a
//! resumed or sharded run writes the same bytes as an uninterrupted single run.

use std::sync::mpsc::sync_channel;
use std::time::{Duration, Instant};

use anyhow::Context;
use dist_clip::VisionTower;
use dist_store::{ClipRecord, ShardWriter, Store, VideoRecord, VideoStatus};
use dist_video::{plan_views, video_seed, DecodedClip, VideoError, VideoInfo, VideoReader};
use rayon::prelude::*;

use super::config::ExtractConfig;
use super::plan::{Plan, PlannedVideo};
use super::progress::Progress;

/// What decoding one video gave.
enum Decoded {
    Ok { info: VideoInfo, clips: Vec<DecodedClip> },
    Failed { info: Option<VideoInfo>, error: VideoError },
}

/// Totals of a run.
#[derive(Debug, Default, Clone)]
pub struct Summary {
    pub shards: u64,
    pub videos_ok: u64,
    pub videos_failed: u64,
    pub clips: u64,
    pub frames: u64,
    pub wall: Duration,
    /// Busy time of each stage (they overlap, so these may add up to more than `wall`).
    pub decode: Duration,
    pub encode: Duration,
    pub write: Duration,
}

/// Decodes every planned view of one video.
fn decode_video(v: &PlannedVideo, cfg: &ExtractConfig) -> Decoded {
    let reader = match VideoReader::open(&v.entry.path, &cfg.sampling.limits) {
        Ok(r) => r,
        Err(error) => return Decoded::Failed { info: None, error },
    };
    let info = reader.info().clone();
    let plans = plan_views(&info, v.split, &cfg.sampling, video_seed(&v.entry.video_id));
    if plans.len() as u64 != v.clips {
        let error = VideoError::InvalidPlan { path: v.entry.path.clone(), reason: format!("{} views planned, the job expects {}", plans.len(), v.clips) };
        return Decoded::Failed { info: Some(info), error };
    }
    match reader.decode_views(&plans, &cfg.sampling) {
        Ok(clips) => Decoded::Ok { info, clips },
        Err(error) => Decoded::Failed { info: Some(info), error },
    }
}

fn video_record(v: &PlannedVideo, info: Option<&VideoInfo>, error: Option<&VideoError>) -> VideoRecord {
    let mut r = VideoRecord::failed(
        &v.entry.video_id,
        &v.entry.path.display().to_string(),
        v.split.as_str(),
        v.entry.label.map(|l| l as i64),
        v.entry.line as u64,
        error.map_or("", |e| e.kind()),
        &error.map(|e| e.to_string()).unwrap_or_default(),
    );
    if let Some(i) = info {
        r.bytes = i.bytes;
        r.sha256 = i.sha256.clone();
        r.container = i.container.clone();
        r.codec = i.codec.clone();
        r.width = i.width;
        r.height = i.height;
        r.fps = i.fps;
        r.duration_s = i.duration_s;
        r.frame_count = i.frame_count;
        r.decoder = format!("{} (libavcodec {})", i.decoder, i.libavcodec_version);
    }
    if error.is_none() {
        r.status = VideoStatus::Ok;
    }
    r
}

fn clip_record(v: &PlannedVideo, clip: u64, d: &DecodedClip) -> ClipRecord {
    ClipRecord {
        clip,
        video_id: v.entry.video_id.clone(),
        split: v.split.as_str().into(),
        label: v.entry.label.map(|l| l as i64),
        view: d.plan.view_index as u32,
        spatial_crop: d.plan.spatial_crop_index as u32,
        sparse_indices: d.plan.sparse_positions.iter().map(|&p| d.source_indices[p]).collect(),
        dense_indices: d.source_indices.clone(),
        dense_pts: d.pts_seconds.clone(),
        crop: [d.plan.crop.x, d.plan.crop.y, d.plan.crop.w, d.plan.crop.h],
        flip: d.plan.flip,
    }
}

/// Runs the frozen tower on a batch of clips' sparse frames.
///
/// # Shapes
/// - each clip: T sparse frames u8 `[T, S, S, 3]`
/// - returns per clip f32 `[layers, T, N+1, C]`
fn encode_batch(vision: &VisionTower, clips: &[&DecodedClip], layers: &[usize], t: usize) -> anyhow::Result<Vec<Vec<f32>>> {
    let size = clips[0].size as usize;
    let mut frames = Vec::with_capacity(clips.len() * t * size * size * 3);
    for c in clips {
        frames.extend(c.sparse());
    }
    let pixels = vision.pixels_from_u8(&frames, [clips.len() * t, size, size, 3])?;
    let hidden = vision.forward_layers(pixels, layers)?;
    let host: Vec<Vec<f32>> = hidden
        .into_iter()
        .map(|h| h.into_data().convert::<f32>().try_into_vec::<f32>().map_err(|e| anyhow::anyhow!("{e:?}")))
        .collect::<anyhow::Result<_>>()?;
    let per_clip_layer = host[0].len() / clips.len();
    Ok((0..clips.len())
        .map(|b| host.iter().flat_map(|l| &l[b * per_clip_layer..(b + 1) * per_clip_layer]).copied().collect())
        .collect())
}

/// Extracts `shards` of `plan` into `store`.
pub fn run(
    store: &Store,
    plan: &Plan,
    vision: &VisionTower,
    cfg: &ExtractConfig,
    shards: &[u64],
    progress: &Progress,
) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let layers = store.meta().layers.clone();
    let t = cfg.sampling.t;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(cfg.decode_threads).build().context("decode thread pool")?;
    let (decoded_tx, decoded_rx) = sync_channel::<(u64, Vec<Decoded>, Duration)>(1);
    let (write_tx, write_rx) = sync_channel::<ShardWriter>(1);
    let mut summary = Summary::default();

    std::thread::scope(|scope| -> anyhow::Result<()> {
        // Decode stage.
        scope.spawn(move || {
            for &shard in shards {
                let videos: Vec<&PlannedVideo> = plan.shard_videos(shard).collect();
                let t0 = Instant::now();
                let out: Vec<Decoded> = pool.install(|| videos.par_iter().map(|v| decode_video(v, cfg)).collect());
                if decoded_tx.send((shard, out, t0.elapsed())).is_err() {
                    return; // the encoder stopped (an error); nothing more to do
                }
            }
        });
        // Write stage.
        let writer = scope.spawn(move || -> anyhow::Result<Duration> {
            let mut busy = Duration::ZERO;
            for w in write_rx {
                let t0 = Instant::now();
                let shard = w.shard();
                w.commit().with_context(|| format!("committing shard {shard}"))?;
                busy += t0.elapsed();
                progress.shard_done();
            }
            Ok(busy)
        });
        // Encode stage, on this thread.
        let encode_result = (|| -> anyhow::Result<()> {
            for (shard, decoded, decode_time) in decoded_rx {
                summary.decode += decode_time;
                let videos: Vec<&PlannedVideo> = plan.shard_videos(shard).collect();
                let mut writer = store.shard_writer(shard)?;
                let mut pending: Vec<(u64, &PlannedVideo, &DecodedClip)> = Vec::new();
                for (v, d) in videos.iter().zip(&decoded) {
                    match d {
                        Decoded::Ok { info, clips } => {
                            writer.add_video(video_record(v, Some(info), None));
                            summary.videos_ok += 1;
                            for (i, c) in clips.iter().enumerate() {
                                pending.push((v.first_clip + i as u64, v, c));
                            }
                        }
                        Decoded::Failed { info, error } => {
                            tracing::warn!(video = %v.entry.path.display(), line = v.entry.line, "{error}");
                            writer.add_video(video_record(v, info.as_ref(), Some(error)));
                            summary.videos_failed += 1;
                        }
                    }
                    progress.video_done();
                }
                let t0 = Instant::now();
                for batch in pending.chunks(cfg.batch_size.max(1)) {
                    let clips: Vec<&DecodedClip> = batch.iter().map(|(_, _, c)| *c).collect();
                    let spatial = encode_batch(vision, &clips, &layers, t)
                        .with_context(|| format!("encoding shard {shard}"))?;
                    for ((clip, v, d), s) in batch.iter().zip(spatial) {
                        writer.add_clip(clip_record(v, *clip, d), &s, &d.frames)?;
                        progress.clip_done(t as u64);
                        summary.clips += 1;
                        summary.frames += t as u64;
                    }
                }
                summary.encode += t0.elapsed();
                summary.shards += 1;
                if write_tx.send(writer).is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Ok(())
        })();
        drop(write_tx);
        let write_result = writer.join().expect("writer thread does not panic");
        encode_result?;
        summary.write = write_result?;
        Ok(())
    })?;
    summary.wall = start.elapsed();
    Ok(summary)
}
