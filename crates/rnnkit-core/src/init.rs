//! Weight initialisers (torch.nn.init's formulas), all drawn from the seeded SplitMix64 stream:
//! the same seed gives bit-identical weights on every backend.
//! A weight of shape (rows, cols) has fan_in = cols, fan_out = rows (PyTorch's 2-D rule).

use crate::error::{Error, Result};
use crate::rng::SplitMix64;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// U(a, b)
    Uniform { lo: f64, hi: f64 },
    /// N(mean, std²)
    Normal { mean: f64, std: f64 },
    /// U(±gain·√(6 / (fan_in + fan_out)))
    XavierUniform { gain: f64 },
    /// N(0, gain²·2 / (fan_in + fan_out))
    XavierNormal { gain: f64 },
    /// U(±√(2/(1+a²))·√(3/fan)), fan = fan_in or fan_out as chosen by the caller
    KaimingUniform { a: f64, fan: usize },
    /// N(0, 2/((1+a²)·fan))
    KaimingNormal { a: f64, fan: usize },
    /// gain · a (semi-)orthogonal matrix: QR of a Gaussian matrix, signs fixed by diag(R)
    Orthogonal { gain: f64 },
    Constant { value: f64 },
}

impl Init {
    /// ABI codes: 0 uniform(a, b), 1 normal(a = mean, b = std), 2 xavier_uniform(a = gain),
    /// 3 xavier_normal(a = gain), 4 kaiming_uniform(a, fan = b), 5 kaiming_normal(a, fan = b),
    /// 6 orthogonal(a = gain), 7 constant(a).
    pub fn from_code(code: i32, a: f64, b: f64) -> Result<Init> {
        let fan = || -> Result<usize> {
            if b >= 1.0 && b.fract() == 0.0 {
                Ok(b as usize)
            } else {
                Err(Error::bad_argument(format!("init: kaiming needs a fan ≥ 1, got {}", b)))
            }
        };
        Ok(match code {
            0 => Init::Uniform { lo: a, hi: b },
            1 => Init::Normal { mean: a, std: b },
            2 => Init::XavierUniform { gain: a },
            3 => Init::XavierNormal { gain: a },
            4 => Init::KaimingUniform { a, fan: fan()? },
            5 => Init::KaimingNormal { a, fan: fan()? },
            6 => Init::Orthogonal { gain: a },
            7 => Init::Constant { value: a },
            _ => return Err(Error::bad_argument(format!("init: unknown initialiser code {}", code))),
        })
    }
}

/// Standard normal draws by Box–Muller (two uniforms per draw, no caching: simple to replay).
fn normal(rng: &mut SplitMix64) -> f64 {
    let u1 = 1.0 - rng.next_f64(); // (0, 1]
    let u2 = rng.next_f64();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// Fills `out` = a (rows, cols) weight.
pub fn init_fill(out: &mut [f32], init: Init, rows: usize, cols: usize, seed: u64) -> Result<()> {
    if rows * cols != out.len() || rows == 0 || cols == 0 {
        return Err(Error::shape("init out", rows * cols, out.len(), "(rows, cols) with rows, cols ≥ 1"));
    }
    let mut rng = SplitMix64::new(seed);
    let (fan_in, fan_out) = (cols as f64, rows as f64);
    let uniform = |out: &mut [f32], rng: &mut SplitMix64, lo: f64, hi: f64| {
        for v in out.iter_mut() {
            *v = (lo + (hi - lo) * rng.next_f64()) as f32;
        }
    };
    let gaussian = |out: &mut [f32], rng: &mut SplitMix64, mean: f64, std: f64| {
        for v in out.iter_mut() {
            *v = (mean + std * normal(rng)) as f32;
        }
    };
    let finite = |x: f64, what: &str| -> Result<f64> {
        if x.is_finite() {
            Ok(x)
        } else {
            Err(Error::bad_argument(format!("init: {} must be finite, got {}", what, x)))
        }
    };
    match init {
        Init::Uniform { lo, hi } => {
            if !(finite(lo, "a")? <= finite(hi, "b")?) {
                return Err(Error::bad_argument(format!("init: uniform needs a <= b, got {} > {}", lo, hi)));
            }
            uniform(out, &mut rng, lo, hi)
        }
        Init::Normal { mean, std } => gaussian(out, &mut rng, finite(mean, "mean")?, finite(std, "std")?),
        Init::XavierUniform { gain } => {
            let b = gain * (6.0 / (fan_in + fan_out)).sqrt();
            uniform(out, &mut rng, -b, b)
        }
        Init::XavierNormal { gain } => gaussian(out, &mut rng, 0.0, gain * (2.0 / (fan_in + fan_out)).sqrt()),
        Init::KaimingUniform { a, fan } => {
            let b = (2.0 / (1.0 + a * a)).sqrt() * (3.0 / fan as f64).sqrt();
            uniform(out, &mut rng, -b, b)
        }
        Init::KaimingNormal { a, fan } => gaussian(out, &mut rng, 0.0, (2.0 / (1.0 + a * a)).sqrt() / (fan as f64).sqrt()),
        Init::Orthogonal { gain } => orthogonal(out, rows, cols, gain, &mut rng),
        Init::Constant { value } => out.iter_mut().for_each(|v| *v = value as f32),
    }
    Ok(())
}

/// torch.nn.init.orthogonal_: Q of a Gaussian (max, min) matrix (transposed when rows < cols),
/// made unique by multiplying each column by sign(R_ii). Modified Gram–Schmidt in f64.
fn orthogonal(out: &mut [f32], rows: usize, cols: usize, gain: f64, rng: &mut SplitMix64) {
    let (m, n) = if rows >= cols { (rows, cols) } else { (cols, rows) };
    // a: m × n, column-major for the column sweeps.
    let mut a: Vec<f64> = (0..m * n).map(|_| normal(rng)).collect();
    for j in 0..n {
        for k in 0..j {
            let dot: f64 = (0..m).map(|i| a[k * m + i] * a[j * m + i]).sum();
            for i in 0..m {
                a[j * m + i] -= dot * a[k * m + i];
            }
        }
        let norm = (0..m).map(|i| a[j * m + i] * a[j * m + i]).sum::<f64>().sqrt();
        // R_jj = norm > 0, so sign(diag R) = +1: Q's columns are the normalised ones.
        for i in 0..m {
            a[j * m + i] /= norm;
        }
    }
    for r in 0..rows {
        for c in 0..cols {
            let q = if rows >= cols { a[c * m + r] } else { a[r * m + c] };
            out[r * cols + c] = (gain * q) as f32;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orthogonal_rows_or_columns_are_orthonormal() {
        for &(rows, cols) in &[(6usize, 4usize), (4, 6), (5, 5)] {
            let mut w = vec![0.0f32; rows * cols];
            init_fill(&mut w, Init::Orthogonal { gain: 1.0 }, rows, cols, 7).unwrap();
            // Gram matrix of the smaller side must be the identity.
            let (k, len, at): (usize, usize, Box<dyn Fn(usize, usize) -> f64>) = if rows >= cols {
                (cols, rows, Box::new(|v, i| w[i * cols + v] as f64))
            } else {
                (rows, cols, Box::new(|v, i| w[v * cols + i] as f64))
            };
            for p in 0..k {
                for q in 0..k {
                    let d: f64 = (0..len).map(|i| at(p, i) * at(q, i)).sum();
                    let want = if p == q { 1.0 } else { 0.0 };
                    assert!((d - want).abs() < 1e-5, "({}, {}) gram[{}][{}] = {}", rows, cols, p, q, d);
                }
            }
        }
    }

    #[test]
    fn xavier_and_kaiming_bounds_and_spread() {
        let mut w = vec![0.0f32; 64 * 32];
        init_fill(&mut w, Init::XavierUniform { gain: 1.0 }, 64, 32, 1).unwrap();
        let b = (6.0f64 / 96.0).sqrt() as f32;
        assert!(w.iter().all(|&v| v.abs() <= b));
        init_fill(&mut w, Init::KaimingNormal { a: 0.0, fan: 32 }, 64, 32, 2).unwrap();
        let var: f64 = w.iter().map(|&v| (v as f64) * (v as f64)).sum::<f64>() / w.len() as f64;
        assert!((var - 2.0 / 32.0).abs() < 0.1 * 2.0 / 32.0, "variance {}", var);
    }
}
