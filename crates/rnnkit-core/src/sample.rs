//! Randomness that training and generation need beyond initialisation, from the same seeded
//! SplitMix64 stream: shuffling (a permutation) and sampling the next token from logits.

use crate::error::{Error, Result};
use crate::math;
use crate::rng::SplitMix64;

/// out = a uniformly random permutation of 0..n (Fisher–Yates).
pub fn permutation(out: &mut [i32], seed: u64) -> Result<()> {
    if out.len() > i32::MAX as usize {
        return Err(Error::bad_argument(format!("permutation: {} elements is too many", out.len())));
    }
    for (i, v) in out.iter_mut().enumerate() {
        *v = i as i32;
    }
    let mut rng = SplitMix64::new(seed);
    for i in (1..out.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        out.swap(i, j);
    }
    Ok(())
}

/// For each row of logits (B, V): sample from softmax(logits / temperature) restricted to the
/// top_k largest (top_k = 0: all). temperature = 0 picks the argmax.
pub fn sample_logits(out: &mut [i32], logits: &[f32], vocab: usize, temperature: f64, top_k: usize, seed: u64) -> Result<()> {
    if vocab == 0 || logits.len() != out.len() * vocab {
        return Err(Error::shape("logits", out.len() * vocab.max(1), logits.len(), "(batch, vocab)"));
    }
    if !(temperature >= 0.0 && temperature.is_finite()) {
        return Err(Error::bad_argument(format!("temperature: must be finite and >= 0, got {}", temperature)));
    }
    let mut rng = SplitMix64::new(seed);
    let mut order: Vec<usize> = Vec::with_capacity(vocab);
    let mut weights = vec![0.0f64; vocab];
    for (b, slot) in out.iter_mut().enumerate() {
        let row = &logits[b * vocab..(b + 1) * vocab];
        if let Some(bad) = row.iter().position(|v| !v.is_finite()) {
            return Err(Error::bad_argument(format!("logits[{}][{}]: not finite ({})", b, bad, row[bad])));
        }
        order.clear();
        order.extend(0..vocab);
        // Stable sort by logit, largest first: ties keep the lower token id first.
        order.sort_by(|&i, &j| row[j].partial_cmp(&row[i]).unwrap_or(std::cmp::Ordering::Equal));
        if temperature == 0.0 {
            *slot = order[0] as i32;
            continue;
        }
        let k = if top_k == 0 { vocab } else { top_k.min(vocab) };
        let max = row[order[0]] as f64;
        let mut total = 0.0;
        for &i in &order[..k] {
            weights[i] = math::exp((row[i] as f64 - max) / temperature);
            total += weights[i];
        }
        let mut u = rng.next_f64() * total;
        let mut pick = order[k - 1];
        for &i in &order[..k] {
            if u < weights[i] {
                pick = i;
                break;
            }
            u -= weights[i];
        }
        *slot = pick as i32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_a_permutation_and_seeded() {
        let mut a = vec![0; 100];
        permutation(&mut a, 5).unwrap();
        let mut s = a.clone();
        s.sort();
        assert_eq!(s, (0..100).collect::<Vec<i32>>());
        let mut b = vec![0; 100];
        permutation(&mut b, 5).unwrap();
        assert_eq!(a, b);
        permutation(&mut b, 6).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn sampling_follows_the_softmax() {
        // logits ln(1), ln(3): probabilities 1/4, 3/4.
        let logits = [0.0f32, 3f32.ln()];
        let mut counts = [0usize; 2];
        for seed in 0..4000u64 {
            let mut out = [0i32];
            sample_logits(&mut out, &logits, 2, 1.0, 0, seed).unwrap();
            counts[out[0] as usize] += 1;
        }
        let p1 = counts[1] as f64 / 4000.0;
        assert!((p1 - 0.75).abs() < 0.03, "p1 = {}", p1);
        let mut out = [0i32];
        sample_logits(&mut out, &[1.0, 5.0, 2.0], 3, 0.0, 0, 1).unwrap();
        assert_eq!(out[0], 1);
        sample_logits(&mut out, &[1.0, 5.0, 2.0], 3, 1.0, 1, 9).unwrap();
        assert_eq!(out[0], 1);
    }
}
