//! wasm32 SIMD128: 128-bit vectors, 4 f32 lanes, no fused multiply-add (multiply, then add).
//! Compiled only into the -simd build (`-C target-feature=+simd128`); an engine without SIMD
//! rejects that whole module, so there is nothing to detect at run time.
//!
//! GEMM micro-kernel 3 × 12: nine accumulators (3 rows × 3 vectors), three B loads and one A
//! splat per k step; 13 live vectors, inside the 16 XMM registers V8 and SpiderMonkey map them
//! to (V8 keeps one for scratch). Fewer loads per multiply-add than 4 × 8 (6 per 9, not 6 per 8),
//! and V8 spends an instruction on each load's address: measured in Node 20, a 120 × 1008 × 256
//! product ran 34.6 GFLOP/s with 3 × 12 and 30.5 with 4 × 8 (5 × 8, 6 × 8: 20-24, spilling);
//! train-lstm-m on wasm-simd, fastest step of each of three alternating processes: 186-206 ms
//! against 219-227. The B loads come first, each A splat just before its row: with all three
//! splats hoisted, V8 spilled an accumulator and the tile ran 1.6× slower.
//! Each C element is summed in scalar.rs's order, so all levels give the same bits. Small
//! products (`is_small`) run scalar.rs itself; products with few rows (`FEW_ROWS`) and B not
//! packed read B directly, vectorised across columns (4 × 4 in-register transposes for A·Bᵀ).
//! Activations and fused cells: pointwise.rs on 4 lanes (`V4`).
//! wasm32 has no threads: every product runs on the calling thread.
//!
//! The safe functions first (they check sizes), the unsafe loops below them.

use super::gemm::{self, BSrc, MicroKernel, View};
use super::FEW_ROWS;
use super::pointwise::{self, F32Vec};
use super::scalar::{self, ROUND, SIGN};
use super::{Level, PackedB, TnOut};
use core::arch::wasm32::*;

use super::is_small as small;

// ---- safe entry points (the `Kernels` rows) ----

/// c (m, n; ldc) += a (m, k; lda) · bᵀ, b (n, k; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    gemm::check_gemm(c.len(), ldc, a.len(), lda, false, b.len(), ldb, true, m, n, k);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    if small(m, n, k) {
        return scalar::gemm_nt(c, ldc, a, lda, b, ldb, m, n, k);
    }
    // SAFETY: sizes checked above.
    unsafe {
        if m <= FEW_ROWS {
            few_rows_nt(c.as_mut_ptr(), ldc, View::new(a, lda, false), b.as_ptr(), ldb, m, n, k)
        } else {
            gemm::gemm::<Simd>(c.as_mut_ptr(), ldc, View::new(a, lda, false), BSrc::View(View::new(b, ldb, true)), m, n, k)
        }
    }
}

/// c (m, n; ldc) += a (m, k; lda) · b, b (k, n; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    gemm::check_gemm(c.len(), ldc, a.len(), lda, false, b.len(), ldb, false, m, n, k);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    if small(m, n, k) {
        return scalar::gemm_nn(c, ldc, a, lda, b, ldb, m, n, k);
    }
    // SAFETY: sizes checked above.
    unsafe {
        if m <= FEW_ROWS {
            few_rows_nn(c.as_mut_ptr(), ldc, View::new(a, lda, false), b.as_ptr(), ldb, m, n, k)
        } else {
            gemm::gemm::<Simd>(c.as_mut_ptr(), ldc, View::new(a, lda, false), BSrc::View(View::new(b, ldb, false)), m, n, k)
        }
    }
}

/// c (m, n; ldc) += aᵀ · b, a (k, m; lda), b (k, n; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_tn(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    gemm::check_gemm(c.len(), ldc, a.len(), lda, true, b.len(), ldb, false, m, n, k);
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    if small(m, n, k) {
        return scalar::gemm_tn(c, ldc, a, lda, b, ldb, m, n, k);
    }
    // SAFETY: sizes checked above.
    unsafe {
        if m <= FEW_ROWS {
            few_rows_nn(c.as_mut_ptr(), ldc, View::new(a, lda, true), b.as_ptr(), ldb, m, n, k)
        } else {
            gemm::gemm::<Simd>(c.as_mut_ptr(), ldc, View::new(a, lda, true), BSrc::View(View::new(b, ldb, false)), m, n, k)
        }
    }
}

/// Each out.c += aᵀ · out.b, a (k, m; lda) shared: each block of aᵀ packed once for all outputs.
pub fn gemm_tn_shared(a: &[f32], lda: usize, m: usize, k: usize, outs: &mut [TnOut<'_, f32>]) {
    // SAFETY: simd128 is part of this build; tn_shared checks the operands.
    unsafe { gemm::tn_shared::<Simd>(a, lda, m, k, outs, gemm_tn) }
}

/// Packs B into this level's panels (see gemm.rs).
pub fn pack_b(pb: &mut PackedB<'_, f32>) {
    gemm::pack_for::<Simd>(pb, Level::Simd128)
}

/// c (m, n; ldc) += a (m, k; lda) · B, B prepared by `pack_b` (or read plainly if it was not).
pub fn gemm_packed(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, m: usize, pb: &PackedB<'_, f32>) {
    let (n, k) = (pb.n, pb.k);
    // Small products run scalar.rs, as gemm_nt / gemm_nn do.
    if small(m, n, k) || !gemm::packed_for::<Simd>(pb, Level::Simd128) {
        return if pb.trans { gemm_nt(c, ldc, a, lda, pb.b, pb.ldb, m, n, k) } else { gemm_nn(c, ldc, a, lda, pb.b, pb.ldb, m, n, k) };
    }
    // SAFETY: panels packed by this level for (k, n) (checked above).
    unsafe { gemm::packed_product::<Simd>(c, ldc, a, lda, m, pb) }
}

/// x ← σ(x).
pub fn sigmoid(x: &mut [f32]) {
    // SAFETY: the loop stays inside x.
    unsafe { map_simd(x, false) }
}

/// x ← tanh(x).
pub fn tanh(x: &mut [f32]) {
    // SAFETY: the loop stays inside x.
    unsafe { map_simd(x, true) }
}

/// See `scalar::lstm_cell`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    pointwise::check_lstm(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden);
    // SAFETY: lengths checked above.
    unsafe { lstm_cell_simd(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden) }
}

/// See `scalar::gru_cell`.
pub fn gru_cell(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    pointwise::check_gru(gates, hh, h_prev, hn_lin, h, rows, hidden);
    // SAFETY: lengths checked above.
    unsafe { gru_cell_simd(gates, hh, h_prev, hn_lin, h, rows, hidden) }
}

/// See `scalar::lstm_cell_backward`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    pointwise::check_lstm_backward(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden);
    // SAFETY: lengths checked above.
    unsafe { lstm_cell_backward_simd(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden) }
}

/// See `scalar::gru_cell_backward`.
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    pointwise::check_gru_backward(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after);
    // SAFETY: lengths checked above.
    unsafe { gru_cell_backward_simd(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after) }
}

// ---- GEMM ----

/// Loads 4 floats (unaligned).
///
/// # Safety
/// p readable for 4 floats.
#[inline(always)]
unsafe fn ld(p: *const f32) -> v128 {
    v128_load(p as *const v128)
}

/// Stores 4 floats (unaligned).
///
/// # Safety
/// p writable for 4 floats.
#[inline(always)]
unsafe fn st(p: *mut f32, v: v128) {
    v128_store(p as *mut v128, v)
}

/// Columns per `pack_b` panel (`Kernels::panel_width`).
pub const PANEL_WIDTH: usize = <Simd as MicroKernel>::NR;

struct Simd;

impl MicroKernel for Simd {
    const MR: usize = 3;
    const NR: usize = 12;
    const KC: usize = scalar::KC;
    const MC: usize = 126;
    const NC: usize = 2040;
    /// # Safety
    /// As `MicroKernel::tile`: panels and tile in bounds.
    unsafe fn tile(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, mr: usize, nr: usize) {
        match mr {
            3 => tile_rows::<3>(kc, a, b, c, ldc, nr),
            2 => tile_rows::<2>(kc, a, b, c, ldc, nr),
            _ => tile_rows::<1>(kc, a, b, c, ldc, nr),
        }
    }
    /// Batch 1: two panels (six accumulators) per row; batch 2: one panel per row (V8 handles
    /// more live accumulators poorly: with 4 × 8 tiles, four panels per row took 13-14 ms on
    /// infer-lstm-seq against 9.4 with two).
    const ROW_PANELS: usize = 2;
    const TWO_ROW_PANELS: usize = 1;
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed_cols<const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize) {
        packed_cols::<MA, NP>(c, ldc, a, i, b, n_pad, j, j_end, k)
    }
}

/// The micro-kernel for the first M rows of a 3-row A panel: C (M × nr) += A · B over kc, one
/// accumulator per element from zero, then added to C (scalar.rs's order).
///
/// # Safety
/// As `MicroKernel::tile`.
#[inline(always)]
unsafe fn tile_rows<const M: usize>(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, nr: usize) {
    let z = f32x4_splat(0.0);
    let mut acc = [[z; 3]; M];
    let (mut ap, mut bp) = (a, b);
    for _ in 0..kc {
        let bv = [ld(bp), ld(bp.add(4)), ld(bp.add(8))];
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let av = v128_load32_splat(ap.add(r) as *const u32);
            for v in 0..3 {
                acc_r[v] = f32x4_add(acc_r[v], f32x4_mul(av, bv[v]));
            }
        }
        ap = ap.add(Simd::MR);
        bp = bp.add(Simd::NR);
    }
    for (r, acc_r) in acc.iter().enumerate() {
        gemm::add_vecs_to_c(c.add(r * ldc), &[V4(acc_r[0]), V4(acc_r[1]), V4(acc_r[2])], nr);
    }
}

// ---- few rows, B packed (batch-1 steps with packed weights) ----

/// `MicroKernel::packed_cols` (gemm.rs `few_rows_packed`).
///
/// # Safety
/// As `MicroKernel::packed_cols`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn packed_cols<const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize) {
    gemm::packed_cols_v::<V4, 3, MA, NP>(c, ldc, a, i, b, n_pad, j, j_end, k)
}

// ---- few rows, B not packed (batch-1 and small-batch steps) ----

/// C (m ≤ FEW_ROWS rows, all n columns) += A · Bᵀ, B (n, k) rows read directly: 4-column groups,
/// 4 × 4 blocks of B transposed in registers, so each lane is one C element summed in scalar.rs's
/// order. One row × 4 groups or two rows × 2 groups at a time (independent add chains); then
/// single groups; the last < 4 columns element by element.
///
/// # Safety
/// Operands checked for the product.
#[allow(clippy::too_many_arguments)]
unsafe fn few_rows_nt(c: *mut f32, ldc: usize, a: View, b: *const f32, ldb: usize, m: usize, n: usize, k: usize) {
    let mut i = 0;
    while i < m {
        let two = i + 2 <= m;
        let mut j = 0;
        if two {
            while j + 8 <= n {
                nt_cols::<2, 2>(c, ldc, a, i, b, ldb, j, k);
                j += 8;
            }
        } else {
            while j + 16 <= n {
                nt_cols::<1, 4>(c, ldc, a, i, b, ldb, j, k);
                j += 16;
            }
        }
        while j + 4 <= n {
            if two {
                nt_cols::<2, 1>(c, ldc, a, i, b, ldb, j, k);
            } else {
                nt_cols::<1, 1>(c, ldc, a, i, b, ldb, j, k);
            }
            j += 4;
        }
        let rows = if two { 2 } else { 1 };
        gemm::block_in_order(c, ldc, a, View { ptr: b, ld: ldb, trans: true }, i, i + rows, j, n, k);
        i += rows;
    }
}

/// Rows i..i+MA, columns j..j+4·NG of C += A · Bᵀ (see `few_rows_nt`). C is updated after each
/// KC block, as in scalar.rs.
///
/// # Safety
/// Inside the checked operands.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn nt_cols<const MA: usize, const NG: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, ldb: usize, j: usize, k: usize) {
    let z = f32x4_splat(0.0);
    let mut p0 = 0;
    while p0 < k {
        let pend = p0 + scalar::KC.min(k - p0);
        let mut acc = [[z; NG]; MA];
        let mut p = p0;
        while p + 4 <= pend {
            for g in 0..NG {
                let brow = b.add((j + 4 * g) * ldb + p);
                let t = transpose4([ld(brow), ld(brow.add(ldb)), ld(brow.add(2 * ldb)), ld(brow.add(3 * ldb))]);
                for (x, tx) in t.iter().enumerate() {
                    for (r, acc_r) in acc.iter_mut().enumerate() {
                        acc_r[g] = f32x4_add(acc_r[g], f32x4_mul(f32x4_splat(a.at(i + r, p + x)), *tx));
                    }
                }
            }
            p += 4;
        }
        while p < pend {
            for g in 0..NG {
                let gather = |q: usize| *b.add((j + 4 * g + q) * ldb + p);
                let col = f32x4(gather(0), gather(1), gather(2), gather(3));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    acc_r[g] = f32x4_add(acc_r[g], f32x4_mul(f32x4_splat(a.at(i + r, p)), col));
                }
            }
            p += 1;
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (g, x) in acc_r.iter().enumerate() {
                let cp = c.add((i + r) * ldc + j + 4 * g);
                st(cp, f32x4_add(ld(cp), *x));
            }
        }
        p0 = pend;
    }
}

/// 4 × 4 transpose: out[x] lane q = in[q] lane x.
#[inline(always)]
fn transpose4(r: [v128; 4]) -> [v128; 4] {
    let t0 = i32x4_shuffle::<0, 4, 1, 5>(r[0], r[1]);
    let t1 = i32x4_shuffle::<2, 6, 3, 7>(r[0], r[1]);
    let t2 = i32x4_shuffle::<0, 4, 1, 5>(r[2], r[3]);
    let t3 = i32x4_shuffle::<2, 6, 3, 7>(r[2], r[3]);
    [i64x2_shuffle::<0, 2>(t0, t2), i64x2_shuffle::<1, 3>(t0, t2), i64x2_shuffle::<0, 2>(t1, t3), i64x2_shuffle::<1, 3>(t1, t3)]
}

/// C (m ≤ FEW_ROWS rows, all n columns) += A · B with B rows contiguous (C += A·B, C += Aᵀ·B):
/// two rows × 16 columns in registers per KC block, added to C after each block (scalar.rs's
/// order); then 4 columns at a time, then element by element.
///
/// # Safety
/// Operands checked for the product.
#[allow(clippy::too_many_arguments)]
unsafe fn few_rows_nn(c: *mut f32, ldc: usize, a: View, b: *const f32, ldb: usize, m: usize, n: usize, k: usize) {
    let mut i = 0;
    while i < m {
        let two = i + 2 <= m;
        let mut j = 0;
        while j + 16 <= n {
            if two {
                nn_cols::<2, 4>(c, ldc, a, i, b, ldb, j, k);
            } else {
                nn_cols::<1, 4>(c, ldc, a, i, b, ldb, j, k);
            }
            j += 16;
        }
        while j + 4 <= n {
            if two {
                nn_cols::<2, 1>(c, ldc, a, i, b, ldb, j, k);
            } else {
                nn_cols::<1, 1>(c, ldc, a, i, b, ldb, j, k);
            }
            j += 4;
        }
        let rows = if two { 2 } else { 1 };
        gemm::block_in_order(c, ldc, a, View { ptr: b, ld: ldb, trans: false }, i, i + rows, j, n, k);
        i += rows;
    }
}

/// Rows i..i+MA, columns j..j+4·NV of C += A · B (see `few_rows_nn`).
///
/// # Safety
/// Inside the checked operands.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn nn_cols<const MA: usize, const NV: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, ldb: usize, j: usize, k: usize) {
    let z = f32x4_splat(0.0);
    let mut p0 = 0;
    while p0 < k {
        let pend = p0 + scalar::KC.min(k - p0);
        let mut acc = [[z; NV]; MA];
        for p in p0..pend {
            let brow = b.add(p * ldb + j);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let s = f32x4_splat(a.at(i + r, p));
                for (v, x) in acc_r.iter_mut().enumerate() {
                    *x = f32x4_add(*x, f32x4_mul(s, ld(brow.add(4 * v))));
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (v, x) in acc_r.iter().enumerate() {
                let cp = c.add((i + r) * ldc + j + 4 * v);
                st(cp, f32x4_add(ld(cp), *x));
            }
        }
        p0 = pend;
    }
}

// ---- pointwise: pointwise.rs's kernels on 4 lanes ----

/// Four f32 lanes (`pointwise::F32Vec`).
#[derive(Clone, Copy)]
struct V4(v128);

impl F32Vec for V4 {
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> V4 {
        V4(ld(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        st(p, self.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> V4 {
        V4(f32x4_splat(x))
    }
    #[inline(always)]
    unsafe fn add(self, b: V4) -> V4 {
        V4(f32x4_add(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: V4) -> V4 {
        V4(f32x4_sub(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: V4) -> V4 {
        V4(f32x4_mul(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: V4) -> V4 {
        V4(f32x4_div(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn at_least(self, lo: f32) -> V4 {
        // pmax(x, lo) = x < lo ? lo : x, so NaN keeps x; pmin likewise.
        V4(f32x4_pmax(self.0, f32x4_splat(lo)))
    }
    #[inline(always)]
    unsafe fn at_most(self, hi: f32) -> V4 {
        V4(f32x4_pmin(self.0, f32x4_splat(hi)))
    }
    #[inline(always)]
    unsafe fn neg(self) -> V4 {
        V4(v128_xor(self.0, u32x4_splat(SIGN)))
    }
    #[inline(always)]
    unsafe fn abs(self) -> V4 {
        V4(v128_andnot(self.0, u32x4_splat(SIGN)))
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, x: V4) -> V4 {
        V4(v128_or(self.0, v128_and(x.0, u32x4_splat(SIGN))))
    }
    #[inline(always)]
    unsafe fn select_lt(self, lim: f32, if_lt: V4, other: V4) -> V4 {
        V4(v128_bitselect(if_lt.0, other.0, f32x4_lt(self.0, f32x4_splat(lim))))
    }
    #[inline(always)]
    unsafe fn pow2_of_rounded(t: V4) -> V4 {
        let e = i32x4_sub(t.0, i32x4_splat(ROUND.to_bits() as i32));
        V4(i32x4_shl(i32x4_add(e, i32x4_splat(127)), 23))
    }
}

/// # Safety
/// None beyond x being a valid slice (kept unsafe for the raw loads).
unsafe fn map_simd(x: &mut [f32], use_tanh: bool) {
    pointwise::map::<V4>(x, use_tanh)
}

/// # Safety
/// Lengths checked by `lstm_cell`.
#[allow(clippy::too_many_arguments)]
unsafe fn lstm_cell_simd(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    pointwise::lstm_cell::<V4>(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden)
}

/// # Safety
/// Lengths checked by `gru_cell`.
unsafe fn gru_cell_simd(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    pointwise::gru_cell::<V4>(gates, hh, h_prev, hn_lin, h, rows, hidden)
}

/// # Safety
/// Lengths checked by `lstm_cell_backward`.
#[allow(clippy::too_many_arguments)]
unsafe fn lstm_cell_backward_simd(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    pointwise::lstm_cell_backward::<V4>(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden)
}

/// # Safety
/// Lengths checked by `gru_cell_backward`.
#[allow(clippy::too_many_arguments)]
unsafe fn gru_cell_backward_simd(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    pointwise::gru_cell_backward::<V4>(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after)
}
