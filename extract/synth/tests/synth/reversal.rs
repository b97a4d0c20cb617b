//! The benchmark's contract: both senses hold the same frames, an order-blind statistic cannot tell
//! them apart, and a simple order-aware statistic can.

use dist_synth::{render_base, Clip, Family, Frame, SceneConfig};

const PAIRED: [Family; 4] = [Family::Translate, Family::Rotate, Family::Approach, Family::EventOrder];

fn hard_scene() -> SceneConfig {
    SceneConfig { size: 112, frames: 16, noise: 0.1, distractors: 3, texture: true }
}

#[test]
fn reversed_twin_has_the_same_frame_multiset_in_another_order() {
    for family in PAIRED {
        for index in 0..4 {
            let base = render_base(family, 0, index, &hard_scene(), 9);
            let twin = base.reversed();
            assert_eq!(twin.frames.len(), 16);
            assert_ne!(base, twin, "{family} {index}: reversal must change the order");
            let mut distinct = base.frames.clone();
            distinct.sort();
            distinct.dedup();
            assert!(distinct.len() > 1, "{family} {index}: a static clip");
            let (mut a, mut b) = (base.frames.clone(), twin.frames.clone());
            a.sort();
            b.sort();
            assert!(a == b, "{family} {index}: frame multisets differ");
        }
    }
}

#[test]
fn rendering_is_deterministic_per_seed_and_index() {
    for family in Family::ALL {
        let a = render_base(family, 1, 3, &hard_scene(), 42);
        assert!(a == render_base(family, 1, 3, &hard_scene(), 42), "{family}: not reproducible");
        assert!(a != render_base(family, 1, 3, &hard_scene(), 43), "{family}: seed ignored");
        assert!(a != render_base(family, 1, 4, &hard_scene(), 42), "{family}: index ignored");
    }
}

#[test]
fn order_blind_mean_frame_is_identical_between_senses() {
    for family in PAIRED {
        let mut means = Vec::new();
        for index in 0..3 {
            let base = render_base(family, 0, index, &hard_scene(), 1);
            let mean = base.mean_frame();
            // Exact equality: sums of the same integers in another order.
            assert!(mean == base.reversed().mean_frame(), "{family} {index}: mean frames differ");
            means.push(mean);
        }
        assert!(means[0] != means[1], "{family}: different clips should not share a mean frame");
    }
}

/// Per frame: the object pixels (max channel distance to the flat background > 50 of 255).
fn masks(clip: &Clip) -> Vec<Vec<bool>> {
    clip.frames.iter().map(|f| {
        let bg = background(f);
        f.rgb.chunks_exact(3).map(|p| (0..3).any(|c| (i32::from(p[c]) - i32::from(bg[c])).abs() > 50)).collect()
    }).collect()
}

/// Per-channel median of a frame: the flat background, since objects cover less than half of it.
fn background(f: &Frame) -> [u8; 3] {
    [0, 1, 2].map(|c| {
        let mut v: Vec<u8> = f.rgb.iter().skip(c).step_by(3).copied().collect();
        v.sort_unstable();
        v[v.len() / 2]
    })
}

fn centroid(mask: &[bool], size: usize) -> (f64, f64, f64) {
    let (mut n, mut sx, mut sy) = (0.0f64, 0.0f64, 0.0f64);
    for (i, _) in mask.iter().enumerate().filter(|(_, m)| **m) {
        n += 1.0;
        sx += (i % size) as f64;
        sy += (i / size) as f64;
    }
    (sx / n.max(1.0), sy / n.max(1.0), n)
}

/// A statistic that is positive for sense 0 and negative for sense 1 if the clip's order is visible.
fn order_statistic(family: Family, clip: &Clip, size: usize) -> f64 {
    let m = masks(clip);
    let last = m.len() - 1;
    match family {
        // Horizontal centroid displacement, first vs last frame.
        Family::Translate => centroid(&m[last], size).0 - centroid(&m[0], size).0,
        // Object area, last vs first frame.
        Family::Approach => centroid(&m[last], size).2 - centroid(&m[0], size).2,
        // Accumulated turn of the fan about its hub (the pixels present on every frame). The fan
        // has threefold symmetry, so its orientation is read from the third angular moment of
        // the mask, arg Σ exp(3iφ), which turns three times as fast (18-30° per frame, far
        // from the ±180° wrap).
        Family::Rotate => {
            let hub: Vec<bool> = (0..m[0].len()).map(|i| m.iter().all(|f| f[i])).collect();
            let (px, py, _) = centroid(&hub, size);
            let angles: Vec<f64> = m.iter().map(|f| {
                let (mut re, mut im) = (0.0, 0.0);
                for (i, _) in f.iter().enumerate().filter(|(_, on)| **on) {
                    let phi = ((i / size) as f64 - py).atan2((i % size) as f64 - px);
                    re += (3.0 * phi).cos();
                    im += (3.0 * phi).sin();
                }
                im.atan2(re)
            }).collect();
            angles.windows(2).map(|w| {
                let d = w[1] - w[0];
                (d + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI
            }).sum::<f64>() / 3.0
        }
        // Mean time of right-half activity minus mean time of left-half activity.
        Family::EventOrder => {
            let when = |right: bool| {
                let (mut n, mut st) = (0.0, 0.0);
                for (t, f) in m.iter().enumerate() {
                    let k = f.iter().enumerate().filter(|(i, on)| **on && ((i % size) >= size / 2) == right).count() as f64;
                    n += k;
                    st += k * t as f64;
                }
                st / n
            };
            when(true) - when(false)
        }
        Family::Control => unreachable!("control has no sense"),
    }
}

#[test]
fn order_aware_statistic_separates_senses() {
    let scene = SceneConfig { noise: 0.03, ..SceneConfig::default() };
    for family in PAIRED {
        for index in 0..20 {
            let base = render_base(family, 0, index, &scene, 5);
            let forward = order_statistic(family, &base, scene.size);
            let backward = order_statistic(family, &base.reversed(), scene.size);
            assert!(forward > 0.0 && backward < 0.0, "{family} {index}: {forward:.2} vs {backward:.2}");
        }
    }
}

#[test]
fn objects_are_large_enough_for_16px_patches() {
    // At 112 x 112 a ViT-B/16 sees 7 x 7 patches: the object must cover at least a patch or so
    // (>= 256 px) on the frames where it is visible, and at least 1/5 of the frame across.
    let scene = SceneConfig::default();
    for family in [Family::Translate, Family::Rotate, Family::EventOrder, Family::Control] {
        for index in 0..5 {
            let clip = render_base(family, index % 4, index, &scene, 2);
            for (t, mask) in masks(&clip).iter().enumerate() {
                let (_, _, n) = centroid(mask, scene.size);
                let xs: Vec<usize> = mask.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| i % scene.size).collect();
                if xs.is_empty() {
                    continue; // event_order frames without a flash
                }
                let ys: Vec<usize> = mask.iter().enumerate().filter(|(_, m)| **m).map(|(i, _)| i / scene.size).collect();
                let extent = (xs.iter().max().unwrap() - xs.iter().min().unwrap()).max(ys.iter().max().unwrap() - ys.iter().min().unwrap());
                assert!(n >= 256.0 && extent + 1 >= 112 / 5, "{family} {index} frame {t}: {n} px, extent {extent}");
            }
        }
    }
}
