//! Learning rate per step: linear warm-up, then half-cosine to 0 (the official `lr_policy`, per
//! iteration with fractional epochs).

/// Learning rate at fractional epoch `e` of `epochs`.
pub fn learning_rate(peak: f64, e: f64, epochs: f64, warmup: f64, warmup_start_factor: f64) -> f64 {
    let cosine = |e: f64| peak * 0.5 * (1.0 + (std::f64::consts::PI * e / epochs).cos());
    if e < warmup {
        let start = peak * warmup_start_factor;
        let end = cosine(warmup);
        start + (end - start) * e / warmup
    } else {
        cosine(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warmup_then_cosine_to_zero() {
        assert_eq!(learning_rate(1.0, 0.0, 36.0, 6.0, 0.0), 0.0);
        let at_warmup = learning_rate(1.0, 6.0, 36.0, 6.0, 0.0);
        assert!((at_warmup - 0.5 * (1.0 + (std::f64::consts::PI / 6.0).cos())).abs() < 1e-12);
        assert!(learning_rate(1.0, 3.0, 36.0, 6.0, 0.0) < at_warmup);
        assert!(learning_rate(1.0, 36.0, 36.0, 6.0, 0.0).abs() < 1e-12);
        assert!(learning_rate(1.0, 20.0, 36.0, 6.0, 0.0) < learning_rate(1.0, 10.0, 36.0, 6.0, 0.0));
    }
}
