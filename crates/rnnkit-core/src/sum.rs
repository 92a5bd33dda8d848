//! Long f64 sums (the MSE loss, the gradient norm) in eight partial sums.
//!
//! One running total makes every add wait for the one before (3–4 cycles): a 0.5 M-value MSE
//! took ~0.45 ms. Here value i goes to partial sum i mod 8 and the loops run over chunks of
//! eight, which the compiler turns into vector code even at the baseline x86-64 (SSE2); the
//! partial sums are then combined in one fixed order (`combine`), so a result is the same on
//! every run, build and backend. It differs from a left-to-right sum only in f64 rounding.

/// Values per chunk, and partial sums.
pub const LANES: usize = 8;

/// The total of the partial sums: even lanes and odd lanes apart, then the two. That is the
/// order two-wide vector registers hold them in, so the chunk loops need no shuffles.
#[inline]
pub fn combine(s: &[f64; LANES]) -> f64 {
    ((s[0] + s[2]) + (s[4] + s[6])) + ((s[1] + s[3]) + (s[5] + s[7]))
}

#[cfg(test)]
mod tests {
    use super::combine;

    #[test]
    fn combines_even_lanes_and_odd_lanes_apart() {
        // 1e17 + 1 rounds to 1e17. Lanes 0 and 2 hold 1e17 and -1e17, so adding them first
        // keeps lane 1's 1; lanes 0 and 1 first would lose it.
        assert_eq!(combine(&[1e17, 1.0, -1e17, 0.0, 0.0, 0.0, 0.0, 0.0]), 1.0);
        assert_eq!(combine(&[1e17, -1e17, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]), 0.0);
        assert_eq!(combine(&[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0]), 255.0);
    }
}
