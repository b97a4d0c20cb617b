//! Scalar-looking f32 math that the compiler turns into SIMD loops.
//!
//! Two things keep a plain loop from vectorising: a call into libm (`f32::exp` is one call per
//! element) and a running sum (float addition is not associative, so the compiler may not
//! reorder it into lanes). [`exp`] is a branch-free polynomial, and the sums here keep
//! [`LANES`] partial sums side by side, added in a fixed order at the end: deterministic, and
//! within a few ulp of the sequential sum.

/// Partial sums kept side by side (two SSE registers, one AVX register).
pub(crate) const LANES: usize = 8;

/// `e^x`, Cephes' `expf`: `x = n·ln 2 + r` with `|r| ≤ ln 2 / 2`, a degree-6 polynomial for `e^r`,
/// and `2^n` built from exponent bits. Relative error within 2 ulp of libm; inputs are clamped
/// to `[-87, 88]` (`e^x` then 1.6e-38 or 1.7e38: enough for the sigmoid it serves, which is 0 or 1
/// there to f32 precision). NaN stays NaN.
#[inline(always)]
pub(crate) fn exp(x: f32) -> f32 {
    // Adding 1.5·2^23 rounds to the nearest integer, held in the low mantissa bits.
    const ROUND: f32 = 12_582_912.0;
    // ln 2 split so that `n · LN2_HI` is exact for |n| < 2^15.
    #[allow(clippy::excessive_precision)] // 355/512, exact: the digits say so
    const LN2_HI: f32 = 0.693_359_375;
    const LN2_LO: f32 = -2.121_944_4e-4;
    let x = x.clamp(-87.0, 88.0);
    let shifted = x * std::f32::consts::LOG2_E + ROUND;
    let n = shifted - ROUND;
    let n_bits = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = x - n * LN2_HI - n * LN2_LO;
    let mut p = 1.987_569_1e-4;
    p = p * r + 1.398_199_9e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 1.666_666_5e-1;
    p = p * r + 0.5; // 5.0000001201e-1 in Cephes, 0.5 in f32
    let e_r = p * r * r + r + 1.0;
    // n ∈ [-126, 127] after the clamp: a normal power of two.
    e_r * f32::from_bits(((n_bits + 127) << 23) as u32)
}

/// The logistic function `1 / (1 + e^-v)`.
#[inline(always)]
pub(crate) fn sigmoid(v: f32) -> f32 {
    1.0 / (1.0 + exp(-v))
}

/// `Σ f(x_i)` in [`LANES`] partial sums.
#[inline(always)]
pub(crate) fn sum_map(x: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = x.chunks_exact(LANES);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &v) in acc.iter_mut().zip(chunk) {
            *a += f(v);
        }
    }
    reduce(acc) + tail.iter().map(|&v| f(v)).sum::<f32>()
}

/// The partial sums added in a fixed order.
#[inline(always)]
pub(crate) fn reduce(acc: [f32; LANES]) -> f32 {
    let [a, b, c, d, e, f, g, h] = acc;
    ((a + e) + (b + f)) + ((c + g) + (d + h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_matches_libm_within_a_few_ulp() {
        let mut worst = 0.0f32;
        let mut x = -87.0f32;
        while x <= 88.0 {
            let (got, want) = (exp(x), x.exp());
            worst = worst.max(((got - want) / want).abs());
            x += 0.001_37;
        }
        assert!(worst < 3.0 * f32::EPSILON, "worst relative error {worst:e}");
    }

    #[test]
    fn exp_and_sigmoid_at_the_extremes() {
        assert!(exp(-1e4) > 0.0 && exp(-1e4) < 1e-37);
        assert!(exp(1e4).is_finite() && exp(1e4) > 1e38);
        assert!(exp(f32::NAN).is_nan());
        assert_eq!(sigmoid(f32::INFINITY), 1.0);
        assert!(sigmoid(f32::NEG_INFINITY) < 1e-37);
        assert_eq!(sigmoid(0.0), 0.5);
        assert!(sigmoid(f32::NAN).is_nan());
    }

    #[test]
    fn lane_sums_match_the_sequential_sum() {
        let x: Vec<f32> = (0..1003).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        let sequential: f64 = x.iter().map(|&v| f64::from(v * v)).sum();
        let lanes = f64::from(sum_map(&x, |v| v * v));
        assert!((lanes - sequential).abs() < 1e-5 * sequential, "{lanes} vs {sequential}");
    }
}
