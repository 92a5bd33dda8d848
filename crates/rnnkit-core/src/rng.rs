//! The one seeded generator of rnnkit (SplitMix64): the same sequence on every backend,
//! so the same seed gives bit-identical initial weights on native and wasm.

pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64 { state: seed }
    }
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1) with 53 random bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Fills `out` with U(lo, hi), PyTorch's default RNN init being U(−1/√H, 1/√H).
pub fn fill_uniform(out: &mut [f32], lo: f64, hi: f64, seed: u64) {
    let mut rng = SplitMix64::new(seed);
    for v in out.iter_mut() {
        *v = (lo + (hi - lo) * rng.next_f64()) as f32;
    }
}
