//! rnnkit-core: the math of rnnkit. Recurrent cells (vanilla RNN, LSTM, GRU), their forward
//! and backward passes, and the backpropagation-through-time (BPTT) drivers over stacked,
//! bidirectional, variable-length batches. std only, no `unsafe` outside `kernels/`.
//!
//! # Conventions (read once, used everywhere)
//! Letters: T = time steps, B = batch, I = input size of a layer, H = hidden size,
//! P = size of h (= proj_size for a projected LSTM, else H), G = gates (RNN 1, GRU 3, LSTM 4),
//! D = directions (1 or 2), L = layers, N = packed rows = sum of the sequence lengths.
//!
//! Weights use PyTorch's names, shapes and gate order, row-major:
//! `w_ih` (G*H, I), `w_hh` (G*H, P), `b_ih`, `b_hh` (G*H), `w_hr` (P, H).
//! LSTM gates i, f, g, o; GRU gates r, z, n. See `config.rs` for the flat parameter layout.
//!
//! Sequences are processed in packed form (PyTorch's `PackedSequence`): the batch is sorted by
//! length, longest first, so the sequences still running at step t are the first `bs[t]` rows.
//! Padded steps are never computed and receive no gradient. See `packing.rs`.
//!
//! Gradient write rule (llm.c's): parameter gradients accumulate (`+=`, the caller zeroes them);
//! activation gradients (d_input, d_h0, d_c0) are written (`=`), except where two paths merge
//! inside BPTT (dh from the output plus dh from step t+1), which add, with a comment at the line.
//!
//! All numeric code is generic over [`Real`] so that the same kernels run in f32 (the product)
//! and f64 (the finite-difference gradient checks).

pub mod cell;
pub mod config;
pub mod copy;
pub mod error;
pub mod init;
pub mod kernels;
pub mod layers;
pub mod loss;
pub mod math;
pub mod optim;
pub mod packing;
pub mod prepack;
pub mod real;
pub mod rng;
pub mod sample;
pub mod seq;
pub mod sum;

pub use config::{CellKind, RnnConfig};
pub use error::{Error, ErrorCode};
pub use real::Real;
pub use seq::{
    seq_backward, seq_backward_dropout, seq_cache_len, seq_cache_len_dropout, seq_forward, seq_forward_dropout, seq_forward_packed, LayerDropout, SeqBuffers,
    SeqGradBuffers,
};
