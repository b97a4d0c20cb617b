//! Per-family samplers of the base clip's objects.
//!
//! Sizes and path lengths are fractions of the frame size S, so any `--size` works and objects stay
//! at least about S/5 across (large enough for a 16-pixel-patch ViT at 112 x 112). Every sampler draws
//! only the base clip (sense 0); sense 1 is its reversal, so the two senses share all parameter
//! distributions by construction.

use std::f32::consts::{PI, TAU};

use rand::Rng;

use crate::family::Family;
use crate::scene::{random_color, Pose, SceneConfig, Track};
use crate::shape::{ShapeKind, Vec2};

/// The objects of one base clip of `family`; `variant` picks the shape of a control clip.
pub(crate) fn sample_tracks<R: Rng>(family: Family, variant: usize, scene: &SceneConfig, rng: &mut R) -> Vec<Track> {
    match family {
        Family::Translate => translate(scene, rng),
        Family::Rotate => rotate(scene, rng),
        Family::Approach => approach(scene, rng),
        Family::EventOrder => event_order(scene, rng),
        Family::Control => control(ShapeKind::CONTROL[variant % 4], scene, rng),
    }
}

/// A ring (radius 0.10-0.14 S) moving rightwards at an angle in (-60, 60) degrees over a path of
/// 0.35-0.50 S, centred so the whole path stays in frame. A ring, not a disc: a control disc
/// moving rightwards would be, frame for frame, a translate clip with another label.
fn translate<R: Rng>(scene: &SceneConfig, rng: &mut R) -> Vec<Track> {
    let s = scene.size as f32;
    let radius = rng.random_range(0.10..0.14) * s;
    let dir = rng.random_range(-PI / 3.0..PI / 3.0);
    let len = rng.random_range(0.35..0.50) * s;
    vec![straight_path(ShapeKind::Ring, radius, dir, len, 0.0, scene, rng)]
}

/// A chiral three-bladed fan (radius 0.36-0.44 S) about a centre within 0.03 S of the frame
/// centre, turning clockwise at 6-10 degrees per frame from a uniform start angle (a third of
/// the fan's 60-degree aliasing limit at most).
///
/// Why a big, slow fan about the centre and not a thin clock hand anywhere: the sense of a
/// rotation is where each local motion happens (rightwards above the hub, leftwards below), so
/// a model needs many patches moving coherently at a speed its temporal kernels resolve, at
/// places fixed enough for a position-weighted pooling to read (docs/demo.md). A clock hand's tip
/// crossed a 16 px patch in under two frames, and its hub wandered by a patch.
fn rotate<R: Rng>(scene: &SceneConfig, rng: &mut R) -> Vec<Track> {
    let s = scene.size as f32;
    let radius = rng.random_range(0.36..0.44) * s;
    let jitter = 0.03 * s;
    let center = Vec2::new(0.5 * s + rng.random_range(-jitter..jitter), 0.5 * s + rng.random_range(-jitter..jitter));
    let start = rng.random_range(0.0..TAU);
    let omega = rng.random_range(6.0f32..10.0).to_radians();
    let turn = omega * (scene.frames - 1) as f32;
    let color = random_color(rng);
    let pose = |angle| Pose { center, radius, angle };
    vec![Track::moving(ShapeKind::Fan, color, pose(start), pose(start + turn), scene.frames)]
}

/// One of the four control shapes, at a fixed random rotation, growing linearly from radius
/// 0.05-0.09 S to 0.28-0.36 S about a centre within 0.08 S of the frame centre.
fn approach<R: Rng>(scene: &SceneConfig, rng: &mut R) -> Vec<Track> {
    let s = scene.size as f32;
    let kind = ShapeKind::CONTROL[rng.random_range(0..4)];
    let angle = rng.random_range(0.0..TAU);
    let center = Vec2::new(s * (0.5 + rng.random_range(-0.08..0.08)), s * (0.5 + rng.random_range(-0.08..0.08)));
    let (r0, r1) = (rng.random_range(0.05..0.09) * s, rng.random_range(0.28..0.36) * s);
    let color = random_color(rng);
    let pose = |radius| Pose { center, radius, angle };
    vec![Track::moving(kind, color, pose(r0), pose(r1), scene.frames)]
}

/// Event A (a disc in the left half) shows for `d = max(T/4, 1)` frames starting in
/// `[0, floor(T/2) - d]`; event B (a square in the right half) shows for `d` frames starting in
/// `[ceil(T/2), T - d]`. Reversal maps each start range onto the other, so in the reversed clip B
/// comes first with the same timing distribution. Side and shape both tell the events apart on a
/// single frame, so the task measures order, not recognition.
fn event_order<R: Rng>(scene: &SceneConfig, rng: &mut R) -> Vec<Track> {
    let (s, t) = (scene.size as f32, scene.frames);
    let d = (t / 4).max(1);
    let a_start = rng.random_range(0..=t / 2 - d);
    let b_start = rng.random_range(t.div_ceil(2)..=t - d);
    let mut flash = |kind, x_lo: f32, start: usize| {
        let radius = rng.random_range(0.12..0.15) * s;
        let margin = radius * kind_bound(kind) + 0.02 * s;
        let x = rng.random_range(x_lo * s + margin..(x_lo + 0.5) * s - margin);
        let y = rng.random_range(margin..s - margin);
        let pose = Pose { center: Vec2::new(x, y), radius, angle: 0.0 };
        Track { kind, color: random_color(rng), from: pose, to: pose, visible: start..start + d }
    };
    let a = flash(ShapeKind::Disc, 0.0, a_start);
    let b = flash(ShapeKind::Square, 0.5, b_start);
    vec![a, b]
}

/// One control shape (radius 0.12-0.16 S, fixed random rotation) moving in a uniformly random
/// direction over a path of 0.30-0.45 S.
fn control<R: Rng>(kind: ShapeKind, scene: &SceneConfig, rng: &mut R) -> Vec<Track> {
    let s = scene.size as f32;
    let radius = rng.random_range(0.12..0.16) * s;
    let dir = rng.random_range(0.0..TAU);
    let len = rng.random_range(0.30..0.45) * s;
    let angle = rng.random_range(0.0..TAU);
    vec![straight_path(kind, radius, dir, len, angle, scene, rng)]
}

/// A shape moving `len` pixels along direction `dir`, its path centred at a random point chosen so
/// that the shape stays inside the frame (with a 0.02 S margin) all the way.
fn straight_path<R: Rng>(
    kind: ShapeKind,
    radius: f32,
    dir: f32,
    len: f32,
    angle: f32,
    scene: &SceneConfig,
    rng: &mut R,
) -> Track {
    let s = scene.size as f32;
    let half = Vec2::new(0.5 * len * dir.cos(), 0.5 * len * dir.sin());
    let reach = radius * kind_bound(kind) + 0.02 * s;
    let mut coord = |h: f32| {
        let (lo, hi) = (reach + h.abs(), s - reach - h.abs());
        if lo < hi { rng.random_range(lo..hi) } else { 0.5 * s }
    };
    let center = Vec2::new(coord(half.x), coord(half.y));
    let from = Vec2::new(center.x - half.x, center.y - half.y);
    let to = Vec2::new(center.x + half.x, center.y + half.y);
    let color = random_color(rng);
    let pose = |center| Pose { center, radius, angle };
    Track::moving(kind, color, pose(from), pose(to), scene.frames)
}

/// Bounding radius of a unit-radius shape (how far it reaches from its centre).
fn kind_bound(kind: ShapeKind) -> f32 {
    crate::shape::Placed { kind, center: Vec2::default(), radius: 1.0, angle: 0.0 }.bound()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn inside(track: &Track, s: f32) -> bool {
        [track.from, track.to].iter().all(|p| {
            let r = p.radius * kind_bound(track.kind);
            p.center.x - r >= 0.0 && p.center.x + r <= s && p.center.y - r >= 0.0 && p.center.y + r <= s
        })
    }

    #[test]
    fn moving_objects_stay_in_frame_and_are_large() {
        let scene = SceneConfig::default();
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            for tracks in [translate(&scene, &mut rng), control(ShapeKind::Cross, &scene, &mut rng)] {
                assert!(inside(&tracks[0], 112.0), "{tracks:?}");
                assert!(2.0 * tracks[0].from.radius >= 112.0 / 5.0);
            }
            let fan = &rotate(&scene, &mut rng)[0];
            assert!(inside(fan, 112.0) && fan.from.radius >= 112.0 / 5.0);
            assert!((fan.from.center.x - 56.0).abs() <= 0.03 * 112.0 && (fan.from.center.y - 56.0).abs() <= 0.03 * 112.0);
            let turn = (fan.to.angle - fan.from.angle).to_degrees() / 15.0;
            assert!((6.0..10.0).contains(&turn), "{turn} deg/frame");
        }
    }

    #[test]
    fn translate_moves_rightwards_and_events_keep_their_halves() {
        let scene = SceneConfig { frames: 9, ..SceneConfig::default() };
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for _ in 0..200 {
            let ring = &translate(&scene, &mut rng)[0];
            assert!(ring.to.center.x - ring.from.center.x > 0.35 * 112.0 * 0.5 - 1e-3);
            let ev = event_order(&scene, &mut rng);
            let (a, b) = (&ev[0], &ev[1]);
            assert!(a.visible.end <= 4 && b.visible.start >= 5 && b.visible.end <= 9, "{a:?} {b:?}");
            assert!(a.from.center.x + a.from.radius <= 56.0 && b.from.center.x - 0.85 * b.from.radius * 1.5 >= 56.0);
        }
    }
}
