//! Dense primitives behind a table of function pointers, chosen once at run time.
//!
//! `scalar.rs` is the reference: safe, plain loops, the test oracle and the fallback. SIMD
//! variants (one file per instruction set, same function names) plug in as further `Kernels`
//! tables; `get()` returns the best one this CPU/engine runs, `force_level()` pins one for tests
//! and benchmarks.
//!
//!   file                 level     lanes  chosen
//!   scalar.rs            scalar    1      always available
//!   x86_avx2_fma.rs      avx2-fma  8      x86_64, at run time (`is_x86_feature_detected!`)
//!   x86_avx512.rs        avx512    16     x86_64 with AVX-512F, at run time; needs Rust ≥ 1.89
//!                                         to compile (build.rs), else the level is left out
//!   wasm_simd128.rs      simd128   4      wasm32 built with `-C target-feature=+simd128`
//!   aarch64_neon.rs      neon      4      aarch64 (NEON is part of every aarch64 CPU)
//!
//! `gemm.rs` is the packed, register-blocked GEMM loop nest the SIMD variants share (each brings
//! its micro-kernel); `pointwise.rs` the σ / tanh / fused-cell loops they share (each brings a
//! small vector type); `row_step.rs` the batch-1 LSTM and GRU steps with the cell fused into
//! the recurrent product (x86 levels); `pool.rs` the persistent worker threads that split one
//! product by output blocks (native only); `rows.rs` the cell kernels of a step split by batch
//! rows among them.
//! Each output element is computed by one thread, in a fixed order, so results are the same bits
//! for any thread count.
//!
//! Same bits on every level: products sum each element in one order (scalar.rs, "GEMM": k blocks
//! of KC, multiply then add, never fused), and σ / tanh of f32 run the same operations
//! (scalar.rs `expf`). So native, wasm-simd and wasm, at any kernel level and thread count,
//! compute identical results; the levels differ only in speed. The one exception is opt-in:
//! `set_fused(true)` lets the avx2-fma micro-kernel fuse each multiply-add (one rounding), which
//! keeps the order (so thread counts still agree bit for bit) but not scalar's bits.
//!
//! Quick start for adding a kernel: add a row to `Kernels`, a scalar function in `scalar.rs`,
//! the variant (or an explicit `scalar::` entry) in every table, a `Real` method if cells call
//! it, and a case in `tests/kernels_vs_scalar.rs`.

#[cfg(target_arch = "aarch64")]
pub mod aarch64_neon;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", all(target_arch = "wasm32", target_feature = "simd128")))]
pub(crate) mod gemm;
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64", all(target_arch = "wasm32", target_feature = "simd128")))]
pub(crate) mod pointwise;
pub mod pool;
#[cfg(target_arch = "x86_64")]
pub(crate) mod row_step;
pub mod rows;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod wasm_simd128;
#[cfg(target_arch = "x86_64")]
pub mod x86_avx2_fma;
#[cfg(all(target_arch = "x86_64", rnnkit_avx512))]
pub mod x86_avx512;

use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

/// Signature shared by the three GEMM shapes (see `Real::gemm_*` for their meaning).
pub type GemmFn = fn(&mut [f32], usize, &[f32], usize, &[f32], usize, usize, usize, usize);
/// Several c_i += aᵀ · b_i with one a (k, m; lda): see `TnOut`.
pub type GemmTnSharedFn = fn(&[f32], usize, usize, usize, &mut [TnOut<'_, f32>]);
/// c (m, n; ldc) += a (m, k; lda) · B, with B prepared by `PackFn`.
pub type GemmPackedFn = fn(&mut [f32], usize, &[f32], usize, usize, &PackedB<'_, f32>);
/// Fills `PackedB::panels` in this level's layout (or leaves them empty: read `b` directly).
pub type PackFn = fn(&mut PackedB<'_, f32>);
/// x ← f(x) element-wise.
pub type MapFn = fn(&mut [f32]);
/// See `scalar::lstm_cell`.
pub type LstmCellFn = fn(&mut [f32], Option<&[f32]>, &[f32], &mut [f32], &mut [f32], &mut [f32], usize, usize);
/// See `scalar::gru_cell`.
pub type GruCellFn = fn(&mut [f32], &[f32], &[f32], &mut [f32], &mut [f32], usize, usize);
/// See `scalar::lstm_cell_backward`.
pub type LstmCellBackwardFn = fn(&mut [f32], &mut [f32], &[f32], &[f32], &[f32], &[f32], &[f32], usize, usize);
/// The batch-1 LSTM step, recurrent product and cell fused (row_step.rs): gates (4H; in
/// b_ih + x·W_ihᵀ, out the activations), b_hh, c_prev, c, tanh_c, out, h_prev (k), W_hh packed,
/// hidden. Returns false, having done nothing, where the level has no fused step for these weights.
pub type LstmRowFn = fn(&mut [f32], Option<&[f32]>, &[f32], &mut [f32], &mut [f32], &mut [f32], &[f32], &PackedB<'_, f32>, usize) -> bool;
/// The batch-1 GRU (reset-after) step, fused likewise: gates (3H; in b_ih + x·W_ihᵀ, out r, z, n),
/// b_hh, h_prev (H), hn_lin (H, out: W_hn h + b_hn), h (H, out), W_hh packed, hidden. Returns
/// false, having done nothing, where the level has no fused step for these weights.
pub type GruRowFn = fn(&mut [f32], Option<&[f32]>, &[f32], &mut [f32], &mut [f32], &PackedB<'_, f32>, usize) -> bool;
/// See `scalar::gru_cell_backward`.
pub type GruCellBackwardFn = fn(&mut [f32], &mut [f32], &mut [f32], &[f32], &[f32], &[f32], &[f32], usize, usize, bool);

pub struct Kernels {
    pub level: Level,
    /// Columns per panel of `pack_b` (the micro-kernel's NR); 0 = this level does not pack.
    pub panel_width: usize,
    pub gemm_nt: GemmFn,
    pub gemm_nn: GemmFn,
    pub gemm_tn: GemmFn,
    pub gemm_tn_shared: GemmTnSharedFn,
    pub pack_b: PackFn,
    pub gemm_packed: GemmPackedFn,
    pub sigmoid: MapFn,
    pub tanh: MapFn,
    pub lstm_cell: LstmCellFn,
    pub gru_cell: GruCellFn,
    pub lstm_cell_backward: LstmCellBackwardFn,
    pub gru_cell_backward: GruCellBackwardFn,
    pub lstm_row: LstmRowFn,
    pub gru_row: GruRowFn,
}

/// The B operand of a product repeated inside a time loop (the recurrent weights), prepared once
/// per sequence call. Logically B is (k, n): `b` row-major with row stride `ldb`, or with `trans`
/// stored as (n, k) (C += A·bᵀ, the forward orientation of a weight matrix).
pub struct PackedB<'a, T> {
    pub b: &'a [T],
    pub ldb: usize,
    pub trans: bool,
    pub k: usize,
    pub n: usize,
    /// Panels in the layout of `level`'s GEMM (gemm.rs); empty = not packed, read `b`. Borrowed
    /// when the weights were packed ahead of the call (prepack.rs).
    pub panels: Panels<'a>,
    pub level: Level,
}

impl<'a, T> PackedB<'a, T> {
    /// B not packed (yet): every level can multiply by it, reading `b` directly.
    pub fn plain(b: &'a [T], ldb: usize, trans: bool, k: usize, n: usize) -> PackedB<'a, T> {
        PackedB { b, ldb, trans, k, n, panels: Panels::Borrowed(&[]), level: Level::Scalar }
    }
}

/// One output of a product that shares its A with others (`Kernels::gemm_tn_shared`):
/// c (m, n; ldc) += aᵀ · b, b (k, n; ldb). The weight gradients of a cell whose input and recurrent
/// weights see the same dgates (dW_ih += dgatesᵀ·x, dW_hh += dgatesᵀ·h_prev): the SIMD levels
/// pack each block of dgatesᵀ once for both.
pub struct TnOut<'a, T> {
    pub c: &'a mut [T],
    pub ldc: usize,
    pub b: &'a [T],
    pub ldb: usize,
    pub n: usize,
}

/// f32 values that start on a 64-byte boundary (a cache line, one 512-bit vector): packing
/// buffers. A vector load that straddles two cache lines costs about two.
pub struct AlignedVec {
    v: Vec<f32>,
    off: usize,
    len: usize,
}

impl AlignedVec {
    /// Values per 64 bytes.
    const LANES: usize = 16;
    pub const fn new() -> AlignedVec {
        AlignedVec { v: Vec::new(), off: 0, len: 0 }
    }
    pub fn zeroed(len: usize) -> AlignedVec {
        let mut a = AlignedVec::new();
        a.grow(len);
        a
    }
    /// Holds at least `len` values afterwards (zeros where it grew; may be longer).
    pub fn grow(&mut self, len: usize) {
        if self.len >= len {
            return;
        }
        self.v = vec![0.0; len + Self::LANES - 1];
        // Vec<f32> is 4-byte aligned: skip 0..15 values to reach the next 64-byte boundary.
        self.off = (Self::LANES - (self.v.as_ptr() as usize / 4) % Self::LANES) % Self::LANES;
        self.len = len;
    }
}

impl Deref for AlignedVec {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        &self.v[self.off..self.off + self.len]
    }
}

impl DerefMut for AlignedVec {
    fn deref_mut(&mut self) -> &mut [f32] {
        &mut self.v[self.off..self.off + self.len]
    }
}

/// The panels of a `PackedB`: packed for this call, or borrowed from weights packed ahead.
pub enum Panels<'a> {
    Owned(AlignedVec),
    Borrowed(&'a [f32]),
}

impl Deref for Panels<'_> {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        match self {
            Panels::Owned(v) => v,
            Panels::Borrowed(s) => s,
        }
    }
}

/// Products of at most this many multiply-adds run scalar.rs on every level (packing would cost
/// more than it saves). Larger ones run the packed micro-kernels, in the same summation order.
pub const SMALL_WORK: usize = 8 * 1024;

/// Whether a (m, n, k) product is small (see `SMALL_WORK`).
pub fn is_small(m: usize, n: usize, k: usize) -> bool {
    m * n * k <= SMALL_WORK
}

/// Products with at most this many rows (batch-1 and small-batch steps) skip packing when B is
/// not packed already: packing B would cost more than the product. They read B directly,
/// vectorised across output columns (same summation order).
pub const FEW_ROWS: usize = 4;

/// Kernel levels, with their ABI codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Level {
    Scalar = 1,
    Avx2Fma = 2,
    Simd128 = 3,
    Neon = 4,
    Avx512 = 5,
}

impl Level {
    pub fn from_code(code: u32) -> Option<Level> {
        match code {
            1 => Some(Level::Scalar),
            2 => Some(Level::Avx2Fma),
            3 => Some(Level::Simd128),
            4 => Some(Level::Neon),
            5 => Some(Level::Avx512),
            _ => None,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Level::Scalar => "scalar",
            Level::Avx2Fma => "avx2-fma",
            Level::Simd128 => "simd128",
            Level::Neon => "neon",
            Level::Avx512 => "avx512",
        }
    }
}

pub static SCALAR: Kernels = Kernels {
    level: Level::Scalar,
    panel_width: 0,
    gemm_nt: scalar::gemm_nt::<f32>,
    gemm_nn: scalar::gemm_nn::<f32>,
    gemm_tn: scalar::gemm_tn::<f32>,
    gemm_tn_shared: scalar::gemm_tn_shared::<f32>,
    pack_b: scalar::pack_b,
    gemm_packed: scalar::gemm_packed::<f32>,
    sigmoid: scalar::sigmoid::<f32>,
    tanh: scalar::tanh::<f32>,
    lstm_cell: scalar::lstm_cell::<f32>,
    gru_cell: scalar::gru_cell::<f32>,
    lstm_cell_backward: scalar::lstm_cell_backward::<f32>,
    gru_cell_backward: scalar::gru_cell_backward::<f32>,
    lstm_row: scalar::lstm_row_unfused,
    gru_row: scalar::gru_row_unfused,
};

#[cfg(target_arch = "x86_64")]
pub static AVX2_FMA: Kernels = Kernels {
    level: Level::Avx2Fma,
    panel_width: x86_avx2_fma::PANEL_WIDTH,
    gemm_nt: x86_avx2_fma::gemm_nt,
    gemm_nn: x86_avx2_fma::gemm_nn,
    gemm_tn: x86_avx2_fma::gemm_tn,
    gemm_tn_shared: x86_avx2_fma::gemm_tn_shared,
    pack_b: x86_avx2_fma::pack_b,
    gemm_packed: x86_avx2_fma::gemm_packed,
    sigmoid: x86_avx2_fma::sigmoid,
    tanh: x86_avx2_fma::tanh,
    lstm_cell: x86_avx2_fma::lstm_cell,
    gru_cell: x86_avx2_fma::gru_cell,
    lstm_cell_backward: x86_avx2_fma::lstm_cell_backward,
    gru_cell_backward: x86_avx2_fma::gru_cell_backward,
    lstm_row: x86_avx2_fma::lstm_row,
    gru_row: x86_avx2_fma::gru_row,
};

#[cfg(all(target_arch = "x86_64", rnnkit_avx512))]
pub static AVX512: Kernels = Kernels {
    level: Level::Avx512,
    panel_width: x86_avx512::PANEL_WIDTH,
    gemm_nt: x86_avx512::gemm_nt,
    gemm_nn: x86_avx512::gemm_nn,
    gemm_tn: x86_avx512::gemm_tn,
    gemm_tn_shared: x86_avx512::gemm_tn_shared,
    pack_b: x86_avx512::pack_b,
    gemm_packed: x86_avx512::gemm_packed,
    sigmoid: x86_avx512::sigmoid,
    tanh: x86_avx512::tanh,
    lstm_cell: x86_avx512::lstm_cell,
    gru_cell: x86_avx512::gru_cell,
    lstm_cell_backward: x86_avx512::lstm_cell_backward,
    gru_cell_backward: x86_avx512::gru_cell_backward,
    lstm_row: x86_avx512::lstm_row,
    gru_row: x86_avx512::gru_row,
};

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub static SIMD128: Kernels = Kernels {
    level: Level::Simd128,
    panel_width: wasm_simd128::PANEL_WIDTH,
    gemm_nt: wasm_simd128::gemm_nt,
    gemm_nn: wasm_simd128::gemm_nn,
    gemm_tn: wasm_simd128::gemm_tn,
    gemm_tn_shared: wasm_simd128::gemm_tn_shared,
    pack_b: wasm_simd128::pack_b,
    gemm_packed: wasm_simd128::gemm_packed,
    sigmoid: wasm_simd128::sigmoid,
    tanh: wasm_simd128::tanh,
    lstm_cell: wasm_simd128::lstm_cell,
    gru_cell: wasm_simd128::gru_cell,
    lstm_cell_backward: wasm_simd128::lstm_cell_backward,
    gru_cell_backward: wasm_simd128::gru_cell_backward,
    lstm_row: scalar::lstm_row_unfused,
    gru_row: scalar::gru_row_unfused,
};

#[cfg(target_arch = "aarch64")]
pub static NEON: Kernels = Kernels {
    level: Level::Neon,
    panel_width: aarch64_neon::PANEL_WIDTH,
    gemm_nt: aarch64_neon::gemm_nt,
    gemm_nn: aarch64_neon::gemm_nn,
    gemm_tn: aarch64_neon::gemm_tn,
    gemm_tn_shared: aarch64_neon::gemm_tn_shared,
    pack_b: aarch64_neon::pack_b,
    gemm_packed: aarch64_neon::gemm_packed,
    sigmoid: aarch64_neon::sigmoid,
    tanh: aarch64_neon::tanh,
    lstm_cell: aarch64_neon::lstm_cell,
    gru_cell: aarch64_neon::gru_cell,
    lstm_cell_backward: aarch64_neon::lstm_cell_backward,
    gru_cell_backward: aarch64_neon::gru_cell_backward,
    lstm_row: scalar::lstm_row_unfused,
    gru_row: scalar::gru_row_unfused,
};

/// 0 = not chosen yet; otherwise a `Level` code. (`OnceLock` needs Rust 1.70; MSRV is 1.63.)
static CHOSEN: AtomicU8 = AtomicU8::new(0);

/// The table of a level, if this build has one (whether this CPU runs it: `available()`).
pub fn table(level: Level) -> Option<&'static Kernels> {
    match level {
        Level::Scalar => Some(&SCALAR),
        #[cfg(target_arch = "x86_64")]
        Level::Avx2Fma => Some(&AVX2_FMA),
        #[cfg(all(target_arch = "x86_64", rnnkit_avx512))]
        Level::Avx512 => Some(&AVX512),
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Level::Simd128 => Some(&SIMD128),
        #[cfg(target_arch = "aarch64")]
        Level::Neon => Some(&NEON),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The levels this build can run on this machine, best first.
pub fn available() -> Vec<Level> {
    #[allow(unused_mut)]
    let mut levels = Vec::new();
    #[cfg(all(target_arch = "x86_64", rnnkit_avx512))]
    if x86_avx512::detected() {
        levels.push(Level::Avx512);
    }
    #[cfg(target_arch = "x86_64")]
    if x86_avx2_fma::detected() {
        levels.push(Level::Avx2Fma);
    }
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    levels.push(Level::Simd128);
    #[cfg(target_arch = "aarch64")]
    levels.push(Level::Neon);
    levels.push(Level::Scalar);
    levels
}

/// The kernel table in use.
pub fn get() -> &'static Kernels {
    let code = CHOSEN.load(Ordering::Relaxed);
    if let Some(k) = Level::from_code(code as u32).and_then(table) {
        return k;
    }
    let best = available()[0];
    CHOSEN.store(best as u8, Ordering::Relaxed);
    table(best).unwrap_or(&SCALAR)
}

/// Opt-in fused multiply-add in the large products (see `set_fused`).
static FUSED: AtomicBool = AtomicBool::new(false);

/// Whether the large products use fused multiply-add: asked for (`set_fused`) and the avx2-fma
/// level in use (the avx512 level, which calls some avx2-fma paths, stays unfused).
pub fn fused() -> bool {
    FUSED.load(Ordering::Relaxed) && get().level == Level::Avx2Fma
}

/// Opt-in, process-wide: the avx2-fma level's packed GEMM micro-kernel multiplies and adds in one
/// rounding (`vfmadd`) instead of two. Faster (the micro-kernel issues half the instructions), but
/// its products then differ in the last bits from every other level (scalar, wasm, the few-row
/// paths), so "all levels give the same bits" no longer holds; runs stay deterministic for a given
/// thread count (the summation order is unchanged). Other levels ignore it. Returns whether the
/// current level honours it.
pub fn set_fused(on: bool) -> bool {
    FUSED.store(on, Ordering::Relaxed);
    fused()
}

/// Pins a level (tests, benchmarks). Fails if this build or CPU cannot run it. Process-wide;
/// weights packed under another level are then read unpacked, so results stay correct.
pub fn force_level(level: Level) -> Result<(), String> {
    if available().contains(&level) {
        CHOSEN.store(level as u8, Ordering::Relaxed);
        Ok(())
    } else {
        let names: Vec<&str> = available().iter().map(|l| l.name()).collect();
        Err(format!("kernel level: {} is not available here (available: {})", level.name(), names.join(", ")))
    }
}
