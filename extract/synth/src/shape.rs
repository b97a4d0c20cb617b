//! Shapes as signed distance functions (SDF), so that drawing is anti-aliased with sub-pixel accuracy.
//!
//! Smooth sub-pixel motion matters: with hard-edged pixels an object moving 2.6 px per frame would
//! jitter between 2 and 3 px, and a frame's content would depend on rounding rather than on time.

use serde::Serialize;

/// A 2-D point or vector in pixel units; x to the right, y down (image convention).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Vec2 {
    /// Horizontal coordinate (pixels, to the right).
    pub x: f32,
    /// Vertical coordinate (pixels, downwards).
    pub y: f32,
}

impl Vec2 {
    /// A vector from its coordinates.
    pub const fn new(x: f32, y: f32) -> Self {
        Self { x, y }
    }

    fn len(self) -> f32 {
        self.x.hypot(self.y)
    }

    fn dot(self, o: Self) -> f32 {
        self.x * o.x + self.y * o.y
    }

    fn sub(self, o: Self) -> Self {
        Self::new(self.x - o.x, self.y - o.y)
    }

    fn scale(self, s: f32) -> Self {
        Self::new(self.x * s, self.y * s)
    }

    /// Rotates by `angle` radians; positive angles turn clockwise on screen (y points down).
    fn rotate(self, angle: f32) -> Self {
        let (s, c) = angle.sin_cos();
        Self::new(c * self.x - s * self.y, s * self.x + c * self.y)
    }

    /// Linear interpolation `self + (o - self) * u`.
    pub fn lerp(self, o: Self, u: f32) -> Self {
        Self::new(self.x + (o.x - self.x) * u, self.y + (o.y - self.y) * u)
    }
}

/// The outline of an object, in a local frame where the object has "radius" 1.
///
/// Radii are chosen so the four control shapes have roughly the same area (about 2.9 r²,
/// the cross 2.6 r²): size is not a cue for the shape label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShapeKind {
    /// A disc of radius r.
    Disc,
    /// An axis-aligned square of half side 0.85 r (before rotation).
    Square,
    /// An equilateral triangle of circumradius 1.5 r.
    Triangle,
    /// A plus sign: two bars of half length r and half width 0.4 r.
    Cross,
    /// A chiral clock hand: a bar from the pivot to the tip (length r), a hub disc at the
    /// pivot and a flag on one side of the tip. Symmetry order 1, and no mirror symmetry.
    Hand,
    /// A ring: radii 0.5-1 r. Only the translate family uses it, so that no translate clip is
    /// frame for frame a control clip (a control disc moving rightwards would be).
    Ring,
    /// A chiral three-bladed fan: a hub disc and three hooked blades 120 degrees apart, each
    /// swept to one side. Symmetry order 3 (unaliased below 60 degrees per frame), no mirror
    /// symmetry, and most of its disc is covered, so a turn moves many patches at once.
    Fan,
    /// A small square turned 45 degrees, used for distractors.
    Diamond,
}

impl ShapeKind {
    /// The four shapes of the spatial control task, in class order.
    pub const CONTROL: [ShapeKind; 4] = [Self::Disc, Self::Square, Self::Triangle, Self::Cross];

    /// Readable name used in class names.
    pub fn name(self) -> &'static str {
        match self {
            Self::Disc => "disc",
            Self::Square => "square",
            Self::Triangle => "triangle",
            Self::Cross => "cross",
            Self::Hand => "hand",
            Self::Fan => "fan",
            Self::Ring => "ring",
            Self::Diamond => "diamond",
        }
    }

    /// Radius of a circle around the local origin that contains the unit-radius shape.
    fn bound(self) -> f32 {
        match self {
            Self::Disc | Self::Diamond | Self::Ring => 1.0,
            Self::Square => 0.85 * std::f32::consts::SQRT_2,
            Self::Triangle => 1.5,
            Self::Cross => 1.0f32.hypot(0.4),
            Self::Hand => 1.05, // bar to 0.96 plus its half width 0.09
            Self::Fan => 1.0,
        }
    }

    /// Signed distance (in units of r) from local point `p` to the unit-radius outline; negative inside.
    fn sdf(self, p: Vec2) -> f32 {
        match self {
            Self::Disc => p.len() - 1.0,
            Self::Ring => (p.len() - 0.75).abs() - 0.25,
            Self::Square => sd_box(p, Vec2::new(0.85, 0.85)),
            Self::Diamond => sd_box(p.rotate(std::f32::consts::FRAC_PI_4), Vec2::new(0.7, 0.7)),
            Self::Triangle => sd_polygon(p, &TRIANGLE),
            Self::Cross => sd_box(p, Vec2::new(1.0, 0.4)).min(sd_box(p, Vec2::new(0.4, 1.0))),
            Self::Hand => {
                let bar = sd_segment(p, Vec2::new(0.0, 0.0), Vec2::new(0.96, 0.0)) - 0.09;
                let hub = p.len() - 0.17;
                sd_polygon(p, &HAND_FLAG).min(bar).min(hub)
            }
            Self::Fan => {
                let blade = |k: f32| sd_polygon(p.rotate(-k * std::f32::consts::TAU / 3.0), &FAN_BLADE);
                blade(0.0).min(blade(1.0)).min(blade(2.0)).min(p.len() - 0.22)
            }
        }
    }
}

/// Equilateral triangle, circumradius 1.5, pointing up.
const TRIANGLE: [Vec2; 3] = [
    Vec2::new(0.0, -1.5),
    Vec2::new(1.299_038, 0.75),
    Vec2::new(-1.299_038, 0.75),
];

/// The flag that makes the hand chiral: a triangle on the +y side of the bar near its tip.
const HAND_FLAG: [Vec2; 3] = [Vec2::new(0.5, 0.0), Vec2::new(1.0, 0.0), Vec2::new(0.7, 0.45)];

/// One fan blade along +x: narrow at the hub, wide at the rim, its outer edge swept towards +y
/// (a quadrilateral, so the blade has no mirror axis).
const FAN_BLADE: [Vec2; 4] = [Vec2::new(0.1, -0.08), Vec2::new(0.97, -0.2), Vec2::new(0.85, 0.42), Vec2::new(0.1, 0.1)];

/// A shape placed in the frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Placed {
    /// The outline.
    pub kind: ShapeKind,
    /// Position of the local origin (pixels).
    pub center: Vec2,
    /// Scale: the shape's "radius" (pixels).
    pub radius: f32,
    /// Rotation (radians, clockwise on screen).
    pub angle: f32,
}

impl Placed {
    /// Signed distance in pixels from the image point `p` to the outline; negative inside.
    pub fn sdf(&self, p: Vec2) -> f32 {
        let local = p.sub(self.center).rotate(-self.angle).scale(1.0 / self.radius);
        self.kind.sdf(local) * self.radius
    }

    /// Bounding radius in pixels around [`Placed::center`].
    pub fn bound(&self) -> f32 {
        self.kind.bound() * self.radius
    }
}

fn sd_box(p: Vec2, half: Vec2) -> f32 {
    let d = Vec2::new(p.x.abs() - half.x, p.y.abs() - half.y);
    Vec2::new(d.x.max(0.0), d.y.max(0.0)).len() + d.x.max(d.y).min(0.0)
}

fn sd_segment(p: Vec2, a: Vec2, b: Vec2) -> f32 {
    let pa = p.sub(a);
    let ba = b.sub(a);
    let h = (pa.dot(ba) / ba.dot(ba)).clamp(0.0, 1.0);
    pa.sub(ba.scale(h)).len()
}

/// Exact signed distance to a simple polygon (after Inigo Quilez's `sdPolygon`).
fn sd_polygon(p: Vec2, v: &[Vec2]) -> f32 {
    let mut d = p.sub(v[0]).dot(p.sub(v[0]));
    let mut sign = 1.0;
    let mut j = v.len() - 1;
    for i in 0..v.len() {
        let e = v[j].sub(v[i]);
        let w = p.sub(v[i]);
        let b = w.sub(e.scale((w.dot(e) / e.dot(e)).clamp(0.0, 1.0)));
        d = d.min(b.dot(b));
        let c = [p.y >= v[i].y, p.y < v[j].y, e.x * w.y > e.y * w.x];
        if c.iter().all(|&x| x) || c.iter().all(|&x| !x) {
            sign = -sign;
        }
        j = i;
    }
    sign * d.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(kind: ShapeKind, x: f32, y: f32) -> f32 {
        kind.sdf(Vec2::new(x, y))
    }

    #[test]
    fn sdf_signs_match_geometry() {
        assert!((at(ShapeKind::Disc, 2.0, 0.0) - 1.0).abs() < 1e-6);
        assert!(at(ShapeKind::Ring, 0.0, 0.0) > 0.0 && at(ShapeKind::Ring, 0.0, 0.8) < 0.0 && at(ShapeKind::Ring, 1.1, 0.0) > 0.0);
        assert!(at(ShapeKind::Square, 0.8, 0.8) < 0.0 && at(ShapeKind::Square, 0.9, 0.0) > 0.0);
        assert!(at(ShapeKind::Triangle, 0.0, 0.0) < 0.0 && at(ShapeKind::Triangle, 0.0, 1.0) > 0.0);
        assert!(at(ShapeKind::Triangle, 0.0, -1.4) < 0.0 && at(ShapeKind::Triangle, 1.0, -1.0) > 0.0);
        assert!(at(ShapeKind::Cross, 0.9, 0.0) < 0.0 && at(ShapeKind::Cross, 0.9, 0.9) > 0.0);
        // The hand's flag sits on +y only: that is what makes it chiral.
        assert!(at(ShapeKind::Hand, 0.72, 0.3) < 0.0 && at(ShapeKind::Hand, 0.72, -0.3) > 0.0);
        // So does the fan's blade sweep, in each of its three blades.
        for k in 0..3 {
            let a = k as f32 * std::f32::consts::TAU / 3.0;
            let (inside, mirror) = (Vec2::new(0.6, 0.25).rotate(a), Vec2::new(0.6, -0.25).rotate(a));
            assert!(at(ShapeKind::Fan, inside.x, inside.y) < 0.0 && at(ShapeKind::Fan, mirror.x, mirror.y) > 0.0, "blade {k}");
        }
    }

    #[test]
    fn bounds_contain_shapes() {
        for kind in [ShapeKind::Disc, ShapeKind::Square, ShapeKind::Triangle, ShapeKind::Cross, ShapeKind::Hand, ShapeKind::Fan, ShapeKind::Ring, ShapeKind::Diamond] {
            for k in 0..360 {
                let a = (k as f32).to_radians();
                let r = kind.bound() + 1e-3;
                assert!(at(kind, r * a.cos(), r * a.sin()) > 0.0, "{kind:?} escapes its bound at {k} deg");
            }
        }
    }

    #[test]
    fn placed_rotation_is_clockwise_on_screen() {
        // A hand at angle 90 degrees (clockwise from "right") points down (+y on screen).
        let hand = Placed { kind: ShapeKind::Hand, center: Vec2::new(50.0, 50.0), radius: 20.0, angle: std::f32::consts::FRAC_PI_2 };
        assert!(hand.sdf(Vec2::new(50.0, 65.0)) < 0.0);
        assert!(hand.sdf(Vec2::new(65.0, 50.0)) > 0.0);
    }
}
