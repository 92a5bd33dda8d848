//! Pooling a padded sequence output (T, B, F) (or (B, T, F)) over each sequence's valid steps
//! into (B, F), for many-to-one models.
//!
//! - Last: the state after the last valid step. With D = 2 directions the features are
//!   [forward | reverse]: the forward half is taken at t = len − 1, the reverse half at t = 0
//!   (where the reverse direction ends), i.e. both directions' final states concatenated.
//! - Mean: average over t < len.
//! - Max: element-wise maximum over t < len; the winning step is saved for backward.

use crate::error::{Error, Result};
use crate::real::Real;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolMode {
    Last,
    Mean,
    Max,
}

impl PoolMode {
    pub fn from_code(c: i32) -> Result<PoolMode> {
        match c {
            0 => Ok(PoolMode::Last),
            1 => Ok(PoolMode::Mean),
            2 => Ok(PoolMode::Max),
            _ => Err(Error::bad_argument(format!("pool: unknown mode {} (0 last, 1 mean, 2 max)", c))),
        }
    }
}

pub struct PoolShape {
    pub seq_len: usize,
    pub batch: usize,
    pub features: usize,
    pub dirs: usize,
    pub batch_first: bool,
}

impl PoolShape {
    fn at(&self, t: usize, b: usize) -> usize {
        if self.batch_first {
            (b * self.seq_len + t) * self.features
        } else {
            (t * self.batch + b) * self.features
        }
    }
    fn check(&self, x_len: usize, out_len: usize, lengths: &[i32]) -> Result<()> {
        if self.dirs == 0 || self.dirs > 2 || self.features % self.dirs != 0 {
            return Err(Error::bad_argument(format!("pool: features {} must split into {} directions", self.features, self.dirs)));
        }
        if x_len != self.seq_len * self.batch * self.features {
            return Err(Error::shape("pool input", self.seq_len * self.batch * self.features, x_len, "(T, B, F)"));
        }
        if out_len != self.batch * self.features {
            return Err(Error::shape("pool output", self.batch * self.features, out_len, "(B, F)"));
        }
        if lengths.len() != self.batch {
            return Err(Error::shape("lengths", self.batch, lengths.len(), "one per batch entry"));
        }
        for (b, &l) in lengths.iter().enumerate() {
            if l < 1 || l as usize > self.seq_len {
                return Err(Error::bad_argument(format!("lengths[{}]: must be in 1..={}, got {}", b, self.seq_len, l)));
            }
        }
        Ok(())
    }
    /// The step that feature f of sequence b is read from in Last mode.
    fn last_step(&self, f: usize, len: usize) -> usize {
        let half = self.features / self.dirs;
        if self.dirs == 2 && f >= half {
            0
        } else {
            len - 1
        }
    }
}

/// out (B, F) written; argmax (B, F) written in Max mode (else may be empty).
pub fn pool_forward<T: Real>(out: &mut [T], argmax: &mut [i32], x: &[T], lengths: &[i32], s: &PoolShape, mode: PoolMode) -> Result<()> {
    s.check(x.len(), out.len(), lengths)?;
    if mode == PoolMode::Max && argmax.len() != out.len() {
        return Err(Error::shape("argmax", out.len(), argmax.len(), "(B, F)"));
    }
    let f = s.features;
    for b in 0..s.batch {
        let len = lengths[b] as usize;
        for k in 0..f {
            let o = b * f + k;
            out[o] = match mode {
                PoolMode::Last => x[s.at(s.last_step(k, len), b) + k],
                PoolMode::Mean => {
                    let mut acc = T::ZERO;
                    for t in 0..len {
                        acc += x[s.at(t, b) + k];
                    }
                    acc / T::from_f64(len as f64)
                }
                PoolMode::Max => {
                    let (mut best, mut arg) = (x[s.at(0, b) + k], 0usize);
                    for t in 1..len {
                        let v = x[s.at(t, b) + k];
                        if v > best {
                            best = v;
                            arg = t;
                        }
                    }
                    argmax[o] = arg as i32;
                    best
                }
            };
        }
    }
    Ok(())
}

/// dx (T, B, F) written (0 where nothing was pooled); dy (B, F).
pub fn pool_backward<T: Real>(dx: &mut [T], dy: &[T], argmax: &[i32], lengths: &[i32], s: &PoolShape, mode: PoolMode) -> Result<()> {
    s.check(dx.len(), dy.len(), lengths)?;
    if mode == PoolMode::Max && argmax.len() != dy.len() {
        return Err(Error::shape("argmax", dy.len(), argmax.len(), "(B, F)"));
    }
    dx.iter_mut().for_each(|v| *v = T::ZERO);
    let f = s.features;
    for b in 0..s.batch {
        let len = lengths[b] as usize;
        for k in 0..f {
            let g = dy[b * f + k];
            match mode {
                PoolMode::Last => dx[s.at(s.last_step(k, len), b) + k] = g,
                PoolMode::Mean => {
                    let share = g / T::from_f64(len as f64);
                    for t in 0..len {
                        dx[s.at(t, b) + k] = share;
                    }
                }
                PoolMode::Max => {
                    let t = argmax[b * f + k];
                    if t < 0 || t as usize >= len {
                        return Err(Error::bad_argument(format!("argmax[{}]: step {} is not a valid step of sequence {}", b * f + k, t, b)));
                    }
                    dx[s.at(t as usize, b) + k] = g;
                }
            }
        }
    }
    Ok(())
}
