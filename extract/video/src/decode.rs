//! Decoding the frames that view plans need, each once, into aligned S×S RGB clips.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ffmpeg_next as ffmpeg;
use ffmpeg::frame::Video as VideoFrame;
use serde::{Deserialize, Serialize};

use crate::error::VideoError;
use crate::ffmpeg_io::{open_input, Deadline};
use crate::probe::{probe, FrameIndex, FrameIndexMode, Probe, VideoInfo};
use crate::render::ViewRenderer;
use crate::sampling::{DecodeLimits, SamplingConfig, ViewPlan};

/// One decoded view.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DecodedClip {
    pub plan: ViewPlan,
    /// Output side S (`SamplingConfig::input_size`).
    pub size: u32,
    /// u8 RGB, shape `[γT, S, S, 3]`, row-major: after crop, resize, rotation and flip.
    pub frames: Vec<u8>,
    /// Per dense frame: the source frame index whose pixels it holds. Equal to `plan.dense_indices` unless
    /// the decoder produced no picture for a planned frame, which is then replaced by the closest earlier
    /// decoded frame (logged as a warning).
    pub source_indices: Vec<u64>,
    /// Per dense frame: its presentation timestamp in seconds, from the stream (`NaN` if the decoder gave
    /// none).
    pub pts_seconds: Vec<f64>,
}

impl DecodedClip {
    /// Bytes of one frame, `S·S·3`.
    pub fn frame_len(&self) -> usize {
        (self.size as usize).pow(2) * 3
    }

    /// Dense frame `i`, `[S, S, 3]`.
    pub fn frame(&self, i: usize) -> &[u8] {
        let n = self.frame_len();
        &self.frames[i * n..(i + 1) * n]
    }

    /// The T sparse frames (dense positions `plan.sparse_positions`), `[T, S, S, 3]`.
    pub fn sparse(&self) -> Vec<u8> {
        self.plan.sparse_positions.iter().flat_map(|&p| self.frame(p).iter().copied()).collect()
    }
}

/// What a decode call did, for benchmarks and tests of the seeking logic.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeStats {
    /// Pictures the decoder returned (wanted or not).
    pub frames_decoded: u64,
    /// Seeks performed.
    pub seeks: u64,
    /// Decoding passes (more than 1 when a seeking pass had to restart from the beginning).
    pub passes: u64,
}

/// A probed video, ready to decode views from.
#[derive(Debug, Clone)]
pub struct VideoReader {
    probe: Probe,
}

impl VideoReader {
    /// Probes `path` (see [`open_video`](crate::open_video)).
    ///
    /// # Errors
    /// As [`open_video`](crate::open_video).
    pub fn open(path: &Path, limits: &DecodeLimits) -> Result<Self, VideoError> {
        Ok(Self { probe: probe(path, limits)? })
    }

    pub fn info(&self) -> &VideoInfo {
        &self.probe.info
    }

    /// Decodes `plans` (normally from [`plan_views`](crate::plan_views) on this video's info).
    ///
    /// Every distinct source frame is decoded once however many views use it. In `Pts` index mode the
    /// reader seeks to the keyframe before the next wanted frame whenever that keyframe lies beyond the
    /// decoder's position, so a sparse plan over a long video decodes only the GOPs it touches; frames are
    /// matched by timestamp. Only the current and previous decoded pictures are held, never the video.
    ///
    /// # Errors
    /// `InvalidConfig`/`InvalidPlan` for settings or plans that do not fit, `CorruptBitstream` when the
    /// decoder reports an error in the decoded range, `DecodeTimeout` past `cfg.limits.max_decode_seconds`,
    /// and the open errors of [`open_video`](crate::open_video).
    pub fn decode_views(&self, plans: &[ViewPlan], cfg: &SamplingConfig) -> Result<Vec<DecodedClip>, VideoError> {
        self.decode_views_with_stats(plans, cfg).map(|(clips, _)| clips)
    }

    /// [`decode_views`](Self::decode_views), also returning what the decoder did.
    ///
    /// # Errors
    /// As [`decode_views`](Self::decode_views).
    pub fn decode_views_with_stats(&self, plans: &[ViewPlan], cfg: &SamplingConfig) -> Result<(Vec<DecodedClip>, DecodeStats), VideoError> {
        cfg.validate()?;
        let info = &self.probe.info;
        let path = info.path.as_path();
        let (s, n) = (cfg.input_size, cfg.dense_frames());
        let frame_len = (s as usize).pow(2) * 3;
        // Which (view, position) pairs need each source frame.
        let mut users: BTreeMap<u64, Vec<(usize, usize)>> = BTreeMap::new();
        for (v, plan) in plans.iter().enumerate() {
            let bad = |reason: String| VideoError::InvalidPlan { path: path.to_path_buf(), reason };
            if plan.dense_indices.len() != n {
                return Err(bad(format!("view {v} has {} dense frames, the config wants {n}", plan.dense_indices.len())));
            }
            if let Some(&k) = plan.dense_indices.iter().find(|&&k| k >= info.frame_count) {
                return Err(bad(format!("view {v} wants frame {k} of a {}-frame video", info.frame_count)));
            }
            if !plan.crop.fits(info.width, info.height) {
                return Err(bad(format!("view {v} crop {:?} exceeds the {}x{} frame", plan.crop, info.width, info.height)));
            }
            if let Some(&p) = plan.sparse_positions.iter().find(|&&p| p >= n) {
                return Err(bad(format!("view {v} sparse position {p} is not below {n}")));
            }
            for (pos, &k) in plan.dense_indices.iter().enumerate() {
                users.entry(k).or_default().push((v, pos));
            }
        }
        let mut clips: Vec<DecodedClip> = plans
            .iter()
            .map(|plan| DecodedClip {
                plan: plan.clone(),
                size: s,
                frames: vec![0; n * frame_len],
                source_indices: vec![0; n],
                pts_seconds: vec![f64::NAN; n],
            })
            .collect();
        if users.is_empty() {
            return Ok((clips, DecodeStats::default()));
        }
        let mut renderers: Vec<ViewRenderer> = plans
            .iter()
            .map(|p| ViewRenderer::new(p.crop, p.flip, s, info.rotation, (info.width, info.height)))
            .collect();
        let wanted: Vec<u64> = users.keys().copied().collect();
        let mut deliver = |wanted_k: u64, actual_k: u64, pts_s: f64, frame: &VideoFrame| -> Result<(), VideoError> {
            for &(v, pos) in users.get(&wanted_k).map(Vec::as_slice).unwrap_or_default() {
                let clip = &mut clips[v];
                renderers[v]
                    .render(frame, &mut clip.frames[pos * frame_len..(pos + 1) * frame_len])
                    .map_err(|reason| VideoError::Ffmpeg { path: path.to_path_buf(), reason })?;
                clip.source_indices[pos] = actual_k;
                clip.pts_seconds[pos] = pts_s;
            }
            Ok(())
        };
        let stats = decode_frames(path, &self.probe.index, &wanted, &cfg.limits, &mut deliver)?;
        Ok((clips, stats))
    }
}

/// Probes and decodes in one call. See [`VideoReader::decode_views`].
///
/// # Errors
/// As [`VideoReader::open`] and [`VideoReader::decode_views`].
pub fn decode_views(path: &Path, plans: &[ViewPlan], cfg: &SamplingConfig) -> Result<(VideoInfo, Vec<DecodedClip>), VideoError> {
    let reader = VideoReader::open(path, &cfg.limits)?;
    let clips = reader.decode_views(plans, cfg)?;
    Ok((reader.probe.info, clips))
}

/// Receives each wanted frame: `(wanted index, index actually decoded, pts in seconds, picture)`.
type Deliver<'a> = dyn FnMut(u64, u64, f64, &VideoFrame) -> Result<(), VideoError> + 'a;

/// Why a seeking decode pass gave up in favour of a plain pass from the start.
enum Restart {
    /// A seek landed after the frame it was meant to reach.
    Overshoot,
    /// The decoder returned frames without timestamps, so they cannot be matched to the index.
    NoTimestamps,
}

/// Decodes the sorted, distinct frame indices `wanted` and hands each to `deliver` once.
fn decode_frames(
    path: &Path,
    index: &FrameIndex,
    wanted: &[u64],
    limits: &DecodeLimits,
    deliver: &mut Deliver<'_>,
) -> Result<DecodeStats, VideoError> {
    let deadline = Deadline::start(limits.max_decode_seconds);
    let mut stats = DecodeStats::default();
    let mut pass = Pass::open(path, limits, deadline, index)?;
    if index.mode == FrameIndexMode::Pts {
        match pass.run(wanted, true, deliver, &mut stats)? {
            None => return Ok(stats),
            Some(Restart::Overshoot) => tracing::warn!(path = %path.display(), "seek overshot its target; decoding from the start"),
            Some(Restart::NoTimestamps) => tracing::warn!(path = %path.display(), "frames without timestamps; indexing in decode order"),
        }
        pass = Pass::open(path, limits, deadline, index)?;
        if pass.seen_no_ts {
            pass.decode_order = true;
        }
    }
    if pass.run(wanted, false, deliver, &mut stats)?.is_some() {
        pass = Pass::open(path, limits, deadline, index)?;
        pass.decode_order = true;
        pass.run(wanted, false, deliver, &mut stats)?;
    }
    Ok(stats)
}

/// One decoding pass over a freshly opened input.
struct Pass<'i> {
    path: PathBuf,
    input: ffmpeg::format::context::Input,
    decoder: ffmpeg::decoder::Video,
    stream: usize,
    index: &'i FrameIndex,
    deadline: Deadline,
    /// Index frames by decoder output order instead of timestamps.
    decode_order: bool,
    seen_no_ts: bool,
}

impl<'i> Pass<'i> {
    fn open(path: &Path, limits: &DecodeLimits, deadline: Deadline, index: &'i FrameIndex) -> Result<Self, VideoError> {
        let (input, stream) = open_input(path, &deadline)?;
        let p = path.to_path_buf();
        let (params, tb) = {
            let s = input.stream(stream).ok_or_else(|| VideoError::Ffmpeg { path: p.clone(), reason: "video stream vanished".into() })?;
            (s.parameters(), s.time_base())
        };
        let ctx = ffmpeg::codec::context::Context::from_parameters(params)
            .map_err(|e| VideoError::Ffmpeg { path: p.clone(), reason: format!("codec parameters: {e}") })?;
        let mut decoder = ctx.decoder();
        decoder.set_packet_time_base(tb);
        // "threads" keeps FFmpeg's default thread types (frame and slice), unlike set_threading.
        let mut opts = ffmpeg::Dictionary::new();
        let threads = if limits.threads == 0 { "auto".to_string() } else { limits.threads.to_string() };
        opts.set("threads", &threads);
        let codec = ffmpeg::codec::decoder::find(decoder.id())
            .ok_or_else(|| VideoError::UnsupportedCodec { path: p.clone(), reason: format!("no decoder for {:?}", decoder.id().name()) })?;
        let decoder = decoder
            .open_as_with(codec, opts)
            .and_then(|o| o.video())
            .map_err(|e| VideoError::UnsupportedCodec { path: p.clone(), reason: format!("cannot open the decoder: {e}") })?;
        Ok(Self { path: p, input, decoder, stream, index, deadline, decode_order: index.mode != FrameIndexMode::Pts, seen_no_ts: false })
    }

    fn corrupt(&self, reason: String) -> VideoError {
        VideoError::CorruptBitstream { path: self.path.clone(), reason }
    }

    /// Seeks so that the next packets start at the keyframe with presentation index `key`.
    fn seek_to(&mut self, key: u64) -> Result<(), VideoError> {
        let pts = self.index.pts[key as usize];
        // avformat_seek_file with stream -1 takes AV_TIME_BASE (microsecond) units; round down so the
        // target never passes the keyframe, and let `max_ts = ts` pick the keyframe at or before it.
        let tb = self.index.time_base;
        let num = i128::from(pts) * i128::from(tb.numerator()) * 1_000_000;
        let den = i128::from(tb.denominator()).max(1);
        let us = i64::try_from(num.div_euclid(den)).unwrap_or(i64::MIN);
        self.input
            .seek(us, ..us) // ffmpeg-next passes the range end as the (inclusive) max_ts
            .map_err(|e| VideoError::Ffmpeg { path: self.path.clone(), reason: format!("seek to frame {key}: {e}") })?;
        self.decoder.flush();
        Ok(())
    }

    /// Decodes until every wanted frame has been delivered. Returns `Some(Restart)` when a seeking pass
    /// must be redone from the start.
    fn run(
        &mut self,
        wanted: &[u64],
        allow_seek: bool,
        deliver: &mut Deliver<'_>,
        stats: &mut DecodeStats,
    ) -> Result<Option<Restart>, VideoError> {
        stats.passes += 1;
        let produced_before = stats.frames_decoded;
        let mut st = State { next: 0, produced: 0, last_out: None, prev: None, frame: VideoFrame::empty(), seek_target: None, seeking: allow_seek };
        let mut eof = false;
        while st.next < wanted.len() && !eof {
            self.deadline.check(&self.path)?;
            if st.seeking && !self.decode_order {
                let target = wanted[st.next];
                let key = self.index.keyframe_before(target).unwrap_or(0);
                let reached = st.last_out.map_or(0, |o| o + 1);
                if key > reached && st.seek_target.is_none_or(|(_, t)| key > t) {
                    tracing::trace!(key, target, "seek");
                    self.seek_to(key)?;
                    stats.seeks += 1;
                    st.seek_target = Some((key, target));
                    st.last_out = None;
                    st.prev = None;
                }
            }
            let mut packet = ffmpeg::Packet::empty();
            match packet.read(&mut self.input) {
                Ok(()) if packet.stream() == self.stream => {
                    if let Err(e) = self.decoder.send_packet(&packet) {
                        if e != (ffmpeg::Error::Other { errno: ffmpeg::error::EAGAIN }) {
                            let at = packet.pts().map_or("?".into(), |t| format!("{:.3}", self.index.seconds(t)));
                            return Err(self.corrupt(format!("the decoder rejected the packet at {at} s: {e}")));
                        }
                    }
                }
                Ok(()) => continue,
                Err(ffmpeg::Error::Eof) => {
                    // Draining: the decoder returns its delayed frames, then Eof.
                    let _ = self.decoder.send_eof();
                    eof = true;
                }
                Err(ffmpeg::Error::Exit) => return Err(self.deadline.error(&self.path)),
                Err(ffmpeg::Error::InvalidData) => {
                    return Err(self.corrupt(format!("the demuxer found damaged data after frame {}", st.last_out.map_or(0, |o| o + 1))));
                }
                Err(e) => return Err(VideoError::Ffmpeg { path: self.path.clone(), reason: format!("reading packets: {e}") }),
            }
            let outcome = self.receive(wanted, &mut st, deliver);
            stats.frames_decoded = produced_before + st.produced;
            if let Some(restart) = outcome? {
                return Ok(Some(restart));
            }
        }
        if st.next < wanted.len() {
            // The stream ended before the last planned frames (fewer pictures than packets).
            let Some((k, pts_s)) = st.prev_meta() else {
                return Err(self.corrupt(format!("no picture could be decoded ({} packets were indexed)", self.index.count)));
            };
            tracing::warn!(path = %self.path.display(), missing = wanted.len() - st.next, used = k, "stream ended before planned frames; repeating its last frame");
            let prev = st.prev.take().map(|(_, _, f)| f).unwrap_or_else(VideoFrame::empty);
            for &w in &wanted[st.next..] {
                deliver(w, k, pts_s, &prev)?;
            }
        }
        Ok(None)
    }

    /// Takes every frame the decoder has ready and delivers the wanted ones.
    fn receive(&mut self, wanted: &[u64], st: &mut State, deliver: &mut Deliver<'_>) -> Result<Option<Restart>, VideoError> {
        loop {
            match self.decoder.receive_frame(&mut st.frame) {
                Ok(()) => {}
                Err(ffmpeg::Error::Eof) => return Ok(None),
                Err(ffmpeg::Error::Other { errno }) if errno == ffmpeg::error::EAGAIN => return Ok(None),
                Err(e) => return Err(self.corrupt(format!("decoding after frame {}: {e}", st.last_out.map_or(0, |o| o + 1)))),
            }
            let ts = st.frame.timestamp();
            let k = if self.decode_order {
                st.produced
            } else {
                match ts {
                    None => {
                        self.seen_no_ts = true;
                        return Ok(Some(Restart::NoTimestamps));
                    }
                    // A timestamp missing from the index (decoder-adjusted) counts as the next frame after it.
                    Some(t) => self.index.position(t).unwrap_or_else(|| self.index.pts.partition_point(|&p| p < t) as u64),
                }
            };
            st.produced += 1;
            if let Some((key, target)) = st.seek_target.take() {
                if k > target {
                    return Ok(Some(Restart::Overshoot));
                }
                if k < key {
                    // Landed before the keyframe (the MP4 demuxer does so in files with an edit list).
                    // Seeking again would land there again: decode on from here instead.
                    tracing::debug!(path = %self.path.display(), key, landed = k, "seek undershot; no more seeks in this pass");
                    st.seeking = false;
                }
            }
            let pts_s = ts.map_or(f64::NAN, |t| self.index.seconds(t));
            let damaged = st.frame.is_corrupt() || st.frame.has_decode_errors();
            // Planned frames the decoder skipped: use the previous picture, or this one if there is none.
            while st.next < wanted.len() && wanted[st.next] < k {
                let w = wanted[st.next];
                let (used, used_pts) = st.prev_meta().unwrap_or((k, pts_s));
                tracing::warn!(path = %self.path.display(), frame = w, used, "no picture for a planned frame");
                match st.prev.as_ref() {
                    Some((_, _, f)) => deliver(w, used, used_pts, f)?,
                    None => deliver(w, used, used_pts, &st.frame)?,
                }
                st.next += 1;
            }
            if st.next < wanted.len() && wanted[st.next] == k {
                if damaged {
                    return Err(self.corrupt(format!("frame {k} decoded with errors (concealed damage)")));
                }
                deliver(k, k, pts_s, &st.frame)?;
                st.next += 1;
            }
            st.last_out = Some(k);
            // Keep this picture as `prev` without copying it: swap the ref-counted frames.
            let mut old = st.prev.take().map(|(_, _, f)| f).unwrap_or_else(VideoFrame::empty);
            std::mem::swap(&mut old, &mut st.frame);
            st.prev = Some((k, pts_s, old));
            if st.next >= wanted.len() {
                return Ok(None);
            }
        }
    }
}

/// Progress of one pass.
struct State {
    /// Position in `wanted` of the next frame to deliver.
    next: usize,
    /// Pictures returned by the decoder so far (the index in decode-order mode).
    produced: u64,
    last_out: Option<u64>,
    /// The previous picture with its index and pts, kept to stand in for frames the decoder skips.
    prev: Option<(u64, f64, VideoFrame)>,
    frame: VideoFrame,
    /// After a seek: the keyframe it went for and the frame it was meant to reach, checked against the first
    /// picture.
    seek_target: Option<(u64, u64)>,
    /// Seeks are allowed (cleared after a seek lands before its keyframe).
    seeking: bool,
}

impl State {
    fn prev_meta(&self) -> Option<(u64, f64)> {
        self.prev.as_ref().map(|(k, p, _)| (*k, *p))
    }
}
