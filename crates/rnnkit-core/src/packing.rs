//! Packed-sequence bookkeeping (PyTorch's `PackedSequence` semantics).
//!
//! The batch is sorted by length, longest first (stable, so equal lengths keep their order).
//! At step t the sequences still running are the first `batch_sizes[t]` sorted rows, and the
//! packed rows of step t are `offsets[t] .. offsets[t] + batch_sizes[t]`. Padded steps have
//! no row at all: they cost nothing and get no gradient.

use crate::copy::copy;
use crate::error::{Error, Result};
use crate::real::Real;

#[derive(Clone, Debug, PartialEq)]
pub struct Packing {
    pub seq_len: usize,
    pub batch: usize,
    /// `order[j]` = original batch index of sorted row j.
    pub order: Vec<usize>,
    /// Rows alive at step t (non-increasing in t).
    pub batch_sizes: Vec<usize>,
    /// First packed row of step t.
    pub offsets: Vec<usize>,
    /// N = total packed rows = sum of lengths.
    pub rows: usize,
}

impl Packing {
    /// `lengths`: one per batch entry, each in 1..=seq_len, any order; `None` = all seq_len.
    pub fn new(lengths: Option<&[i32]>, seq_len: usize, batch: usize) -> Result<Packing> {
        if seq_len == 0 {
            return Err(Error::bad_argument("seq_len: must be at least 1, got 0".to_string()));
        }
        if batch == 0 {
            return Err(Error::bad_argument("batch: must be at least 1, got 0".to_string()));
        }
        let lens: Vec<usize> = match lengths {
            None => vec![seq_len; batch],
            Some(l) => {
                if l.len() != batch {
                    return Err(Error::shape("lengths", batch, l.len(), "one per batch entry"));
                }
                let mut v = Vec::with_capacity(batch);
                for (b, &len) in l.iter().enumerate() {
                    if len < 1 || len as usize > seq_len {
                        return Err(Error::bad_argument(format!(
                            "lengths[{}]: must be in 1..={} (the sequence length), got {}",
                            b, seq_len, len
                        )));
                    }
                    v.push(len as usize);
                }
                v
            }
        };
        let mut order: Vec<usize> = (0..batch).collect();
        order.sort_by(|&a, &b| lens[b].cmp(&lens[a])); // stable: ties keep batch order
        let mut batch_sizes = vec![0usize; seq_len];
        for t in 0..seq_len {
            batch_sizes[t] = lens.iter().filter(|&&l| l > t).count();
        }
        let mut offsets = vec![0usize; seq_len];
        let mut rows = 0;
        for t in 0..seq_len {
            offsets[t] = rows;
            rows += batch_sizes[t];
        }
        Ok(Packing { seq_len, batch, order, batch_sizes, offsets, rows })
    }

    /// Whether packed (N, W) and padded are the same array: every sequence full length (so
    /// the sorted order is the batch order) and time-major, or one sequence or one step.
    pub fn is_identity(&self, batch_first: bool) -> bool {
        self.rows == self.seq_len * self.batch && (!batch_first || self.batch == 1 || self.seq_len == 1)
    }

    /// Index of the first element of (t, b) in a padded (T, B, W) or (B, T, W) tensor.
    #[inline]
    fn padded_at(&self, t: usize, b: usize, width: usize, batch_first: bool) -> usize {
        if batch_first {
            (b * self.seq_len + t) * width
        } else {
            (t * self.batch + b) * width
        }
    }

    /// packed (N, W) ← padded (T, B, W) or (B, T, W). Padding is never read.
    pub fn pack<T: Real>(&self, packed: &mut [T], padded: &[T], width: usize, batch_first: bool) {
        for t in 0..self.seq_len {
            for j in 0..self.batch_sizes[t] {
                let src = self.padded_at(t, self.order[j], width, batch_first);
                let dst = (self.offsets[t] + j) * width;
                copy(&mut packed[dst..dst + width], &padded[src..src + width]);
            }
        }
    }

    /// padded (T, B, W) or (B, T, W) ← packed (N, W); padded positions are set to 0.
    pub fn unpack<T: Real>(&self, padded: &mut [T], packed: &[T], width: usize, batch_first: bool) {
        for v in padded.iter_mut() {
            *v = T::ZERO;
        }
        for t in 0..self.seq_len {
            for j in 0..self.batch_sizes[t] {
                let dst = self.padded_at(t, self.order[j], width, batch_first);
                let src = (self.offsets[t] + j) * width;
                copy(&mut padded[dst..dst + width], &packed[src..src + width]);
            }
        }
    }

    /// sorted (B, W) ← state slice (B, W) in batch order.
    pub fn sort_state<T: Real>(&self, sorted: &mut [T], state: &[T], width: usize) {
        for (j, &b) in self.order.iter().enumerate() {
            copy(&mut sorted[j * width..(j + 1) * width], &state[b * width..(b + 1) * width]);
        }
    }

    /// state slice (B, W) in batch order ← sorted (B, W).
    pub fn unsort_state<T: Real>(&self, state: &mut [T], sorted: &[T], width: usize) {
        for (j, &b) in self.order.iter().enumerate() {
            copy(&mut state[b * width..(b + 1) * width], &sorted[j * width..(j + 1) * width]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unsorted_lengths_pack_longest_first() {
        let p = Packing::new(Some(&[3, 5, 1, 5]), 5, 4).unwrap();
        assert_eq!(p.order, vec![1, 3, 0, 2]);
        assert_eq!(p.batch_sizes, vec![4, 3, 3, 2, 2]);
        assert_eq!(p.offsets, vec![0, 4, 7, 10, 12]);
        assert_eq!(p.rows, 14);
    }

    /// `is_identity` exactly where `pack` copies the padded array unchanged.
    #[test]
    fn identity_exactly_where_pack_copies_unchanged() {
        for seq_len in 1..4usize {
            for batch in 1..4usize {
                let mut cases: Vec<Option<Vec<i32>>> = vec![None, Some(vec![seq_len as i32; batch])];
                if seq_len > 1 {
                    let mut short = vec![seq_len as i32; batch];
                    short[batch - 1] = 1;
                    cases.push(Some(short));
                }
                for lengths in &cases {
                    let p = Packing::new(lengths.as_deref(), seq_len, batch).unwrap();
                    for batch_first in [false, true] {
                        let padded: Vec<f32> = (0..seq_len * batch * 2).map(|v| v as f32).collect();
                        let mut packed = vec![-1.0f32; p.rows * 2];
                        p.pack(&mut packed, &padded, 2, batch_first);
                        let unchanged = p.rows == seq_len * batch && packed == padded;
                        assert_eq!(p.is_identity(batch_first), unchanged, "T {} B {} lengths {:?} batch_first {}", seq_len, batch, lengths, batch_first);
                    }
                }
            }
        }
    }

    #[test]
    fn bad_lengths_are_named() {
        let e = Packing::new(Some(&[3, 0]), 5, 2).unwrap_err();
        assert!(e.message.contains("lengths[1]"), "{}", e.message);
        let e = Packing::new(Some(&[6, 1]), 5, 2).unwrap_err();
        assert!(e.message.contains("got 6"), "{}", e.message);
    }

    #[test]
    fn pack_unpack_roundtrip_zeroes_padding() {
        let p = Packing::new(Some(&[1, 2]), 2, 2).unwrap();
        let padded: Vec<f32> = vec![1.0, 2.0, 3.0, 4.0]; // (T=2, B=2, W=1)
        let mut packed = vec![0.0f32; 3];
        p.pack(&mut packed, &padded, 1, false);
        assert_eq!(packed, vec![2.0, 1.0, 4.0]);
        let mut back = vec![9.0f32; 4];
        p.unpack(&mut back, &packed, 1, false);
        assert_eq!(back, vec![1.0, 2.0, 0.0, 4.0]);
    }
}
