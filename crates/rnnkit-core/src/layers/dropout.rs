//! Dropout (inverted): during training each element is kept with probability 1 − p and scaled
//! by 1 / (1 − p); the mask (0 or 1/(1−p)) is saved for backward. Draws come from the seeded
//! SplitMix64 stream, so a seed gives the same mask on every backend.

use crate::error::{Error, Result};
use crate::rng::SplitMix64;

/// out and mask (N) written; x (N).
pub fn dropout_forward(out: &mut [f32], mask: &mut [f32], x: &[f32], p: f64, seed: u64) -> Result<()> {
    if !(0.0..1.0).contains(&p) {
        return Err(Error::bad_argument(format!("dropout: p must be in [0, 1), got {}", p)));
    }
    if out.len() != x.len() || mask.len() != x.len() {
        return Err(Error::shape("dropout out/mask", x.len(), out.len().min(mask.len()), "same as x"));
    }
    let keep = (1.0 / (1.0 - p)) as f32;
    let mut rng = SplitMix64::new(seed);
    for ((o, m), &v) in out.iter_mut().zip(mask.iter_mut()).zip(x) {
        *m = if rng.next_f64() < p { 0.0 } else { keep };
        *o = v * *m;
    }
    Ok(())
}

/// dx (N) written = dy ⊙ mask.
pub fn dropout_backward(dx: &mut [f32], dy: &[f32], mask: &[f32]) -> Result<()> {
    if dx.len() != dy.len() || mask.len() != dy.len() {
        return Err(Error::shape("dropout dx/mask", dy.len(), dx.len().min(mask.len()), "same as dy"));
    }
    for ((d, &g), &m) in dx.iter_mut().zip(dy).zip(mask) {
        *d = g * m;
    }
    Ok(())
}
