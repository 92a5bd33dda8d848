//! One file per cell; in each, `<cell>_step_forward` and `<cell>_step_backward` side by side.
//!
//! A step function works on the `rows` sequences alive at one time step (packed order), with
//! every slice holding exactly those rows. The input projection x·W_ihᵀ + b_ih for all steps is
//! done before the time loop (one GEMM), so `gates` arrives holding it; the step adds the
//! recurrent product and applies the nonlinearities in place.
//!
//! Backward works from the values forward saved (activations after the nonlinearity) and
//! returns gradients with respect to the pre-activations in `dgates` (input side) and
//! `dgates_hh` (recurrent side; they differ only for GRU's n gate).
//! REQUIRES (all step functions): slice lengths match `rows` and the sizes, checked by
//! `seq::seq_forward` / `seq::seq_backward` before any step runs.

pub mod gru;
pub mod lstm;
pub mod rnn;

use crate::real::Real;

/// Adds the bias vector (len w) to each of the `rows` rows of `m` (row stride w).
#[inline]
pub(crate) fn add_bias_rows<T: Real>(m: &mut [T], bias: Option<&[T]>, rows: usize, w: usize) {
    if let Some(b) = bias {
        for r in 0..rows {
            for (v, &bv) in m[r * w..(r + 1) * w].iter_mut().zip(b.iter()) {
                *v += bv;
            }
        }
    }
}

/// Sets `m` to zero (activation gradients are written, not accumulated).
#[inline]
pub(crate) fn zero<T: Real>(m: &mut [T]) {
    for v in m.iter_mut() {
        *v = T::ZERO;
    }
}
