//! x86_64 AVX2: 256-bit registers, 8 f32 lanes. Chosen at run time (`is_x86_feature_detected!`
//! for AVX2 and FMA: the level keeps its ABI name avx2-fma), so one native binary serves every
//! x86_64 CPU.
//!
//! GEMM micro-kernel 6 × 16: twelve accumulators (6 rows × 2 registers), two B loads and one A
//! broadcast per k step; the C tile is prefetched when the tile starts. Multiply, then add: no
//! fused multiply-add, so every C element is summed exactly as scalar.rs's order prescribes and
//! all levels give the same bits (on Zen's separate add pipes this costs ~6%; CPUs whose adds
//! share the FMA ports lose more, up to half on older Intel cores). Small products
//! (`is_small`) run scalar.rs itself; products with few rows (`FEW_ROWS`) and B not packed read
//! B directly, vectorised across columns (8 × 8 in-register transposes for C += A·Bᵀ).
//! Activations and fused cells: pointwise.rs on 8 lanes (`V8`).
//!
//! The safe functions first (they check sizes and the CPU), the unsafe loops below them.

use super::gemm::{self, BSrc, MicroKernel, Shared, View};
use super::pointwise::{self, F32Vec};
use super::scalar::{self, ROUND, SIGN};
use super::row_step;
use super::{Level, PackedB, TnOut, FEW_ROWS};
use std::arch::x86_64::*;

/// Whether this CPU runs this file (cached by std after the first call).
pub fn detected() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

fn need_cpu() {
    assert!(detected(), "kernels: the avx2-fma level was called on a CPU without AVX2 and FMA");
}

use super::is_small as small;

// ---- safe entry points (the `Kernels` rows) ----

/// c (m, n; ldc) += a (m, k; lda) · bᵀ, b (n, k; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    gemm::check_gemm(c.len(), ldc, a.len(), lda, false, b.len(), ldb, true, m, n, k);
    need_cpu();
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    if small(m, n, k) {
        return scalar::gemm_nt(c, ldc, a, lda, b, ldb, m, n, k);
    }
    let (av, bv) = (View::new(a, lda, false), View::new(b, ldb, true));
    // SAFETY: sizes checked above, CPU checked by need_cpu.
    unsafe {
        if m <= FEW_ROWS {
            let sh = Shared { c: c.as_mut_ptr(), a: av, b: b.as_ptr() };
            gemm::split_cols(n, 8, m * n * k, &|j0, j1| {
                let (c, a, b) = sh.get();
                few_rows_nt(c, ldc, a, b, ldb, m, j0, j1, k)
            });
        } else {
            big_product(c.as_mut_ptr(), ldc, av, BSrc::View(bv), m, n, k)
        }
    }
}

/// c (m, n; ldc) += a (m, k; lda) · b, b (k, n; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    gemm::check_gemm(c.len(), ldc, a.len(), lda, false, b.len(), ldb, false, m, n, k);
    need_cpu();
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    if small(m, n, k) {
        return scalar::gemm_nn(c, ldc, a, lda, b, ldb, m, n, k);
    }
    // SAFETY: sizes checked above, CPU checked by need_cpu.
    unsafe { nn_or_tn(c, ldc, View::new(a, lda, false), b, ldb, m, n, k) }
}

/// c (m, n; ldc) += aᵀ · b, a (k, m; lda), b (k, n; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_tn(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    gemm::check_gemm(c.len(), ldc, a.len(), lda, true, b.len(), ldb, false, m, n, k);
    need_cpu();
    if m == 0 || n == 0 || k == 0 {
        return;
    }
    if small(m, n, k) {
        return scalar::gemm_tn(c, ldc, a, lda, b, ldb, m, n, k);
    }
    // SAFETY: sizes checked above, CPU checked by need_cpu.
    unsafe { nn_or_tn(c, ldc, View::new(a, lda, true), b, ldb, m, n, k) }
}

/// Each out.c += aᵀ · out.b, a (k, m; lda) shared: each block of aᵀ packed once for all outputs.
pub fn gemm_tn_shared(a: &[f32], lda: usize, m: usize, k: usize, outs: &mut [TnOut<'_, f32>]) {
    need_cpu();
    // SAFETY: CPU checked by need_cpu; tn_shared checks the operands.
    unsafe {
        if super::fused() {
            gemm::tn_shared::<Tile<true>>(a, lda, m, k, outs, gemm_tn)
        } else {
            gemm::tn_shared::<Avx2>(a, lda, m, k, outs, gemm_tn)
        }
    }
}

/// Packs B into this level's panels (see gemm.rs).
pub fn pack_b(pb: &mut PackedB<'_, f32>) {
    gemm::pack_for::<Avx2>(pb, Level::Avx2Fma)
}

/// c (m, n; ldc) += a (m, k; lda) · B, B prepared by `pack_b` (or read plainly if it was not).
pub fn gemm_packed(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, m: usize, pb: &PackedB<'_, f32>) {
    let (n, k) = (pb.n, pb.k);
    // Small products run scalar.rs, as gemm_nt / gemm_nn do.
    if small(m, n, k) || !gemm::packed_for::<Avx2>(pb, Level::Avx2Fma) {
        return if pb.trans { gemm_nt(c, ldc, a, lda, pb.b, pb.ldb, m, n, k) } else { gemm_nn(c, ldc, a, lda, pb.b, pb.ldb, m, n, k) };
    }
    need_cpu();
    // SAFETY: panels packed by this level for (k, n) (checked above), CPU checked.
    unsafe {
        if super::fused() {
            gemm::packed_product::<Tile<true>>(c, ldc, a, lda, m, pb)
        } else {
            gemm::packed_product::<Avx2>(c, ldc, a, lda, m, pb)
        }
    }
}

/// The fused batch-1 steps (row_step.rs): this level's panels, CPU check and group loop.
const ROW: row_step::RowLevel<Avx2> = row_step::RowLevel { level: Level::Avx2Fma, need_cpu, groups: row_groups_avx2, kernel: std::marker::PhantomData };

/// The batch-1 LSTM step with the cell fused into the recurrent product (row_step.rs), when
/// w_hh holds this level's panels and the gates split into whole panels; false: nothing run.
#[allow(clippy::too_many_arguments)]
pub fn lstm_row(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], h_prev: &[f32], w_hh: &PackedB<'_, f32>, hidden: usize) -> bool {
    row_step::lstm(&ROW, gates, b_hh, c_prev, c, tanh_c, out, h_prev, w_hh, hidden)
}

/// The batch-1 GRU (reset-after) step, fused likewise (row_step.rs); false: nothing run.
pub fn gru_row(gates: &mut [f32], b_hh: Option<&[f32]>, h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], w_hh: &PackedB<'_, f32>, hidden: usize) -> bool {
    row_step::gru(&ROW, gates, b_hh, h_prev, hn_lin, h, w_hh, hidden)
}

/// x ← σ(x).
pub fn sigmoid(x: &mut [f32]) {
    need_cpu();
    // SAFETY: CPU checked; the loop stays inside x.
    unsafe { map_avx(x, false) }
}

/// x ← tanh(x).
pub fn tanh(x: &mut [f32]) {
    need_cpu();
    // SAFETY: CPU checked; the loop stays inside x.
    unsafe { map_avx(x, true) }
}

/// See `scalar::lstm_cell`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    pointwise::check_lstm(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden);
    need_cpu();
    // SAFETY: lengths and CPU checked above.
    unsafe { lstm_cell_avx(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden) }
}

/// See `scalar::gru_cell`.
pub fn gru_cell(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    pointwise::check_gru(gates, hh, h_prev, hn_lin, h, rows, hidden);
    need_cpu();
    // SAFETY: lengths and CPU checked above.
    unsafe { gru_cell_avx(gates, hh, h_prev, hn_lin, h, rows, hidden) }
}

/// See `scalar::lstm_cell_backward`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    pointwise::check_lstm_backward(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden);
    need_cpu();
    // SAFETY: lengths and CPU checked above.
    unsafe { lstm_cell_backward_avx(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden) }
}

/// See `scalar::gru_cell_backward`.
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    pointwise::check_gru_backward(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after);
    need_cpu();
    // SAFETY: lengths and CPU checked above.
    unsafe { gru_cell_backward_avx(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after) }
}

// ---- GEMM ----

/// # Safety
/// Operands checked for (m, n, k), not small; CPU has AVX2.
#[allow(clippy::too_many_arguments)]
unsafe fn nn_or_tn(c: &mut [f32], ldc: usize, a: View, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    if m <= FEW_ROWS {
        let sh = Shared { c: c.as_mut_ptr(), a, b: b.as_ptr() };
        gemm::split_cols(n, 8, m * n * k, &|j0, j1| {
            let (c, a, b) = sh.get();
            few_rows_nn(c, ldc, a, b, ldb, m, j0, j1, k)
        });
    } else {
        big_product(c.as_mut_ptr(), ldc, a, BSrc::View(View::new(b, ldb, false)), m, n, k)
    }
}

/// The loop nest with this level's micro-kernel: multiply then add, or fused when
/// `kernels::set_fused` asked for it (same panels, same summation order, one rounding per step).
///
/// # Safety
/// As `gemm::gemm`; CPU has AVX2 and FMA.
unsafe fn big_product(c: *mut f32, ldc: usize, a: View, b: BSrc, m: usize, n: usize, k: usize) {
    if super::fused() {
        gemm::gemm::<Tile<true>>(c, ldc, a, b, m, n, k)
    } else {
        gemm::gemm::<Avx2>(c, ldc, a, b, m, n, k)
    }
}

/// Columns per `pack_b` panel (`Kernels::panel_width`).
pub const PANEL_WIDTH: usize = <Avx2 as MicroKernel>::NR;

/// The micro-kernel; `FUSED` picks vfmadd over vmul + vadd (kernels::set_fused).
struct Tile<const FUSED: bool>;
type Avx2 = Tile<false>;

impl<const FUSED: bool> MicroKernel for Tile<FUSED> {
    const MR: usize = 6;
    const NR: usize = 16;
    const KC: usize = scalar::KC;
    const MC: usize = 144;
    const NC: usize = 2048;
    /// # Safety
    /// As `MicroKernel::tile`: panels and tile in bounds, CPU has AVX2 and FMA.
    unsafe fn tile(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, mr: usize, nr: usize) {
        match mr {
            6 => tile_rows::<6, FUSED>(kc, a, b, c, ldc, nr),
            5 => tile_rows::<5, FUSED>(kc, a, b, c, ldc, nr),
            4 => tile_rows::<4, FUSED>(kc, a, b, c, ldc, nr),
            3 => tile_rows::<3, FUSED>(kc, a, b, c, ldc, nr),
            2 => tile_rows::<2, FUSED>(kc, a, b, c, ldc, nr),
            _ => tile_rows::<1, FUSED>(kc, a, b, c, ldc, nr),
        }
    }
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed_cols<const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize) {
        packed_cols::<MA, NP>(c, ldc, a, i, b, n_pad, j, j_end, k)
    }
    unsafe fn transpose_panel(dst: *mut f32, src: *const f32, ld: usize, rows: usize, kc: usize) {
        transpose_panel(dst, src, ld, rows, kc)
    }
}

/// `gemm::transpose_rows` in 8 × 8 blocks through registers, for panels of a multiple of 8 rows
/// (B's 16-column panels) and of 6 (A's panels here, `transpose_panel_6`; other heights take
/// the scalar copy). Each group of 8 rows walks the whole kc before the next group, so a source
/// line's second half is read right after its first (rows 4 KiB apart share an L1 set; see
/// `transpose_rows`). The last kc mod 8 columns go through `transpose_rows`. (Measured: the
/// scalar transpose was ~4 % of a train-lstm-m step.)
///
/// # Safety
/// As `gemm::transpose_rows`; CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
pub(crate) unsafe fn transpose_panel(dst: *mut f32, src: *const f32, ld: usize, rows: usize, kc: usize) {
    if rows == 6 {
        return transpose_panel_6(dst, src, ld, kc);
    }
    if rows % 8 != 0 {
        return gemm::transpose_rows(dst, src, ld, rows, kc);
    }
    let whole = kc - kc % 8;
    for g in (0..rows).step_by(8) {
        let s = src.add(g * ld);
        let d = dst.add(g);
        let mut p = 0;
        while p < whole {
            let mut r = [_mm256_setzero_ps(); 8];
            for (q, rq) in r.iter_mut().enumerate() {
                *rq = _mm256_loadu_ps(s.add(q * ld + p));
            }
            for (q, &col) in transpose8(r).iter().enumerate() {
                _mm256_storeu_ps(d.add((p + q) * rows), col);
            }
            p += 8;
        }
    }
    if whole < kc {
        gemm::transpose_rows(dst.add(whole * rows), src.add(whole), ld, rows, kc - whole);
    }
}

/// `transpose_panel` for 6 rows: each 8-column block goes through `transpose8` with two empty
/// rows; a column is 6 values, stored as 8 (the last two land on the next column's first two,
/// which its own store then writes), the block's last column as 4 + 2 so nothing lands past it.
///
/// # Safety
/// As `gemm::transpose_rows` with rows = 6; CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose_panel_6(dst: *mut f32, src: *const f32, ld: usize, kc: usize) {
    let whole = kc - kc % 8;
    let mut p = 0;
    while p < whole {
        let mut r = [_mm256_setzero_ps(); 8];
        for (q, rq) in r.iter_mut().enumerate().take(6) {
            *rq = _mm256_loadu_ps(src.add(q * ld + p));
        }
        let cols = transpose8(r);
        for (q, &col) in cols.iter().enumerate().take(7) {
            _mm256_storeu_ps(dst.add((p + q) * 6), col);
        }
        let last = dst.add((p + 7) * 6);
        _mm_storeu_ps(last, _mm256_castps256_ps128(cols[7]));
        _mm_store_sd(last.add(4) as *mut f64, _mm_castps_pd(_mm256_extractf128_ps(cols[7], 1)));
        p += 8;
    }
    if whole < kc {
        gemm::transpose_rows(dst.add(whole * 6), src.add(whole), ld, 6, kc - whole);
    }
}

/// The micro-kernel for the first M rows of a 6-row A panel: C (M × nr) += A · B over kc, one
/// accumulator per element from zero, then added to C (scalar.rs's order). FUSED: each step is
/// one vfmadd (one rounding) instead of vmul then vadd.
///
/// # Safety
/// As `MicroKernel::tile`.
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_rows<const M: usize, const FUSED: bool>(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, nr: usize) {
    // Fetch the C tile now so the update at the end does not wait for memory.
    for r in 0..M {
        _mm_prefetch(c.add(r * ldc) as *const i8, _MM_HINT_T0);
        _mm_prefetch(c.add(r * ldc + nr - 1) as *const i8, _MM_HINT_T0);
    }
    let mut acc = [[_mm256_setzero_ps(); 2]; M];
    let (mut ap, mut bp) = (a, b);
    // Four k steps per iteration: the unfused step is 24 arithmetic instructions, 8 loads and
    // the loop's 3, so the front end, not the FP pipes, sets its pace; the loop overhead per
    // step counts (measured in L1, 6 rows: best 87 → 98 GFLOP/s, fused's 102).
    let mut left = kc;
    while left >= 4 {
        for s in 0..4 {
            tile_step::<M, FUSED>(&mut acc, ap.add(s * Avx2::MR), bp.add(s * Avx2::NR));
        }
        ap = ap.add(4 * Avx2::MR);
        bp = bp.add(4 * Avx2::NR);
        left -= 4;
    }
    for _ in 0..left {
        tile_step::<M, FUSED>(&mut acc, ap, bp);
        ap = ap.add(Avx2::MR);
        bp = bp.add(Avx2::NR);
    }
    if nr == Avx2::NR {
        for (r, acc_r) in acc.iter().enumerate() {
            let cr = c.add(r * ldc);
            _mm256_storeu_ps(cr, _mm256_add_ps(_mm256_loadu_ps(cr), acc_r[0]));
            _mm256_storeu_ps(cr.add(8), _mm256_add_ps(_mm256_loadu_ps(cr.add(8)), acc_r[1]));
        }
    } else {
        // Edge tile: the same sums, added one by one (the same rounding as the vector add).
        let mut tmp = [0.0f32; 16];
        for (r, acc_r) in acc.iter().enumerate() {
            _mm256_storeu_ps(tmp.as_mut_ptr(), acc_r[0]);
            _mm256_storeu_ps(tmp.as_mut_ptr().add(8), acc_r[1]);
            for (j, &t) in tmp.iter().enumerate().take(nr) {
                *c.add(r * ldc + j) += t;
            }
        }
    }
}

/// One k step of `tile_rows`: the M × 16 accumulators += A column (M values at `ap`, broadcast)
/// times the B row (16 values at `bp`).
///
/// # Safety
/// `ap` readable for M values, `bp` for 16; CPU has AVX2 and FMA.
#[inline(always)]
unsafe fn tile_step<const M: usize, const FUSED: bool>(acc: &mut [[__m256; 2]; M], ap: *const f32, bp: *const f32) {
    let b0 = _mm256_loadu_ps(bp);
    let b1 = _mm256_loadu_ps(bp.add(8));
    for (r, acc_r) in acc.iter_mut().enumerate() {
        let av = _mm256_broadcast_ss(&*ap.add(r));
        if FUSED {
            acc_r[0] = _mm256_fmadd_ps(av, b0, acc_r[0]);
            acc_r[1] = _mm256_fmadd_ps(av, b1, acc_r[1]);
        } else {
            acc_r[0] = _mm256_add_ps(acc_r[0], _mm256_mul_ps(av, b0));
            acc_r[1] = _mm256_add_ps(acc_r[1], _mm256_mul_ps(av, b1));
        }
    }
}

// ---- few rows, B packed (batch-1 steps with packed weights) ----

/// `MicroKernel::packed_cols` (gemm.rs `few_rows_packed`).
///
/// # Safety
/// As `MicroKernel::packed_cols`.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn packed_cols<const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize) {
    gemm::packed_cols_v::<V8, 2, MA, NP>(c, ldc, a, i, b, n_pad, j, j_end, k)
}

// ---- few rows, B not packed (batch-1 and small-batch steps) ----

/// C (m ≤ FEW_ROWS rows, columns j0..j1) += A · Bᵀ, B (n, k) rows read directly: 8-column
/// groups, 8 × 8 blocks of B transposed in registers, so each lane is one C element summed in
/// scalar.rs's order. One or two rows × 2 groups at a time (independent add chains); then single groups; the last < 8 columns element by element.
///
/// # Safety
/// Operands checked for the product; CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn few_rows_nt(c: *mut f32, ldc: usize, a: View, b: *const f32, ldb: usize, m: usize, j0: usize, j1: usize, k: usize) {
    let mut i = 0;
    while i < m {
        let two = i + 2 <= m;
        let mut j = j0;
        if two {
            while j + 16 <= j1 {
                nt_cols::<2, 2>(c, ldc, a, i, b, ldb, j, k);
                j += 16;
            }
        } else {
            while j + 16 <= j1 {
                nt_cols::<1, 2>(c, ldc, a, i, b, ldb, j, k);
                j += 16;
            }
        }
        while j + 8 <= j1 {
            if two {
                nt_cols::<2, 1>(c, ldc, a, i, b, ldb, j, k);
            } else {
                nt_cols::<1, 1>(c, ldc, a, i, b, ldb, j, k);
            }
            j += 8;
        }
        let rows = if two { 2 } else { 1 };
        gemm::block_in_order(c, ldc, a, View { ptr: b, ld: ldb, trans: true }, i, i + rows, j, j1, k);
        i += rows;
    }
}

/// Rows i..i+MA, columns j..j+8·NG of C += A · Bᵀ (see `few_rows_nt`). C is updated after each
/// KC block, as in scalar.rs. A is (m, k) row-major here (C += A·Bᵀ never has A transposed).
///
/// # Safety
/// Inside the checked operands; CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn nt_cols<const MA: usize, const NG: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, ldb: usize, j: usize, k: usize) {
    let (ap, lda) = (a.ptr, a.ld);
    let mut p0 = 0;
    while p0 < k {
        let pend = p0 + scalar::KC.min(k - p0);
        let mut acc = [[_mm256_setzero_ps(); NG]; MA];
        let mut p = p0;
        while p + 8 <= pend {
            for g in 0..NG {
                // Rows j+8g .. j+8g+8 of B from two bases (fewer live pointers).
                let r0 = b.add((j + 8 * g) * ldb + p);
                let r4 = r0.add(4 * ldb);
                let t = transpose8([
                    _mm256_loadu_ps(r0),
                    _mm256_loadu_ps(r0.add(ldb)),
                    _mm256_loadu_ps(r0.add(2 * ldb)),
                    _mm256_loadu_ps(r0.add(3 * ldb)),
                    _mm256_loadu_ps(r4),
                    _mm256_loadu_ps(r4.add(ldb)),
                    _mm256_loadu_ps(r4.add(2 * ldb)),
                    _mm256_loadu_ps(r4.add(3 * ldb)),
                ]);
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    let ar = ap.add((i + r) * lda + p);
                    // The eight products are independent; only the adds form the chain.
                    let mut prod = [_mm256_setzero_ps(); 8];
                    for (x, px) in prod.iter_mut().enumerate() {
                        *px = _mm256_mul_ps(_mm256_broadcast_ss(&*ar.add(x)), t[x]);
                    }
                    let mut sum = acc_r[g];
                    for px in prod.iter() {
                        sum = _mm256_add_ps(sum, *px);
                    }
                    acc_r[g] = sum;
                }
            }
            p += 8;
        }
        while p < pend {
            for g in 0..NG {
                let gather = |q: usize| *b.add((j + 8 * g + q) * ldb + p);
                let col = _mm256_setr_ps(gather(0), gather(1), gather(2), gather(3), gather(4), gather(5), gather(6), gather(7));
                for (r, acc_r) in acc.iter_mut().enumerate() {
                    acc_r[g] = _mm256_add_ps(acc_r[g], _mm256_mul_ps(_mm256_set1_ps(*ap.add((i + r) * lda + p)), col));
                }
            }
            p += 1;
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (g, x) in acc_r.iter().enumerate() {
                let cp = c.add((i + r) * ldc + j + 8 * g);
                _mm256_storeu_ps(cp, _mm256_add_ps(_mm256_loadu_ps(cp), *x));
            }
        }
        p0 = pend;
    }
}

/// 8 × 8 transpose: out[x] lane q = in[q] lane x.
///
/// # Safety
/// CPU has AVX2 (register-only work).
#[inline]
#[target_feature(enable = "avx2,fma")]
unsafe fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps(t0, t2, 0x44);
    let u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    let u2 = _mm256_shuffle_ps(t1, t3, 0x44);
    let u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    let u4 = _mm256_shuffle_ps(t4, t6, 0x44);
    let u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    let u6 = _mm256_shuffle_ps(t5, t7, 0x44);
    let u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    [
        _mm256_permute2f128_ps(u0, u4, 0x20),
        _mm256_permute2f128_ps(u1, u5, 0x20),
        _mm256_permute2f128_ps(u2, u6, 0x20),
        _mm256_permute2f128_ps(u3, u7, 0x20),
        _mm256_permute2f128_ps(u0, u4, 0x31),
        _mm256_permute2f128_ps(u1, u5, 0x31),
        _mm256_permute2f128_ps(u2, u6, 0x31),
        _mm256_permute2f128_ps(u3, u7, 0x31),
    ]
}

/// C (m ≤ FEW_ROWS rows, columns j0..j1) += A · B with B rows contiguous (C += A·B, C += Aᵀ·B):
/// two rows × 32 columns in registers per KC block, added to C after each block (scalar.rs's
/// order); then 8 columns at a time, then element by element.
///
/// # Safety
/// Operands checked for the product; CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn few_rows_nn(c: *mut f32, ldc: usize, a: View, b: *const f32, ldb: usize, m: usize, j0: usize, j1: usize, k: usize) {
    let mut i = 0;
    while i < m {
        let two = i + 2 <= m;
        let mut j = j0;
        while j + 32 <= j1 {
            if two {
                nn_cols::<2, 4>(c, ldc, a, i, b, ldb, j, k);
            } else {
                nn_cols::<1, 4>(c, ldc, a, i, b, ldb, j, k);
            }
            j += 32;
        }
        while j + 8 <= j1 {
            if two {
                nn_cols::<2, 1>(c, ldc, a, i, b, ldb, j, k);
            } else {
                nn_cols::<1, 1>(c, ldc, a, i, b, ldb, j, k);
            }
            j += 8;
        }
        let rows = if two { 2 } else { 1 };
        gemm::block_in_order(c, ldc, a, View { ptr: b, ld: ldb, trans: false }, i, i + rows, j, j1, k);
        i += rows;
    }
}

/// Rows i..i+MA, columns j..j+8·NV of C += A · B (see `few_rows_nn`).
///
/// # Safety
/// Inside the checked operands; CPU has AVX2.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn nn_cols<const MA: usize, const NV: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, ldb: usize, j: usize, k: usize) {
    let mut cv = [[_mm256_setzero_ps(); NV]; MA];
    for (r, cv_r) in cv.iter_mut().enumerate() {
        for (v, x) in cv_r.iter_mut().enumerate() {
            *x = _mm256_loadu_ps(c.add((i + r) * ldc + j + 8 * v));
        }
    }
    let mut p0 = 0;
    while p0 < k {
        let pend = p0 + scalar::KC.min(k - p0);
        let mut acc = [[_mm256_setzero_ps(); NV]; MA];
        for p in p0..pend {
            let brow = b.add(p * ldb + j);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let s = _mm256_set1_ps(a.at(i + r, p));
                for (v, x) in acc_r.iter_mut().enumerate() {
                    *x = _mm256_add_ps(*x, _mm256_mul_ps(s, _mm256_loadu_ps(brow.add(8 * v))));
                }
            }
        }
        for (cv_r, acc_r) in cv.iter_mut().zip(acc.iter()) {
            for (x, y) in cv_r.iter_mut().zip(acc_r.iter()) {
                *x = _mm256_add_ps(*x, *y);
            }
        }
        p0 = pend;
    }
    for (r, cv_r) in cv.iter().enumerate() {
        for (v, x) in cv_r.iter().enumerate() {
            _mm256_storeu_ps(c.add((i + r) * ldc + j + 8 * v), *x);
        }
    }
}

/// `row_step::groups` on this level's panels.
///
/// # Safety
/// As `row_step::groups`.
#[target_feature(enable = "avx2,fma")]
unsafe fn row_groups_avx2(p: &row_step::RowPtrs, u0: usize, u1: usize, reverse: bool) {
    row_step::groups::<Avx2, V8, 2>(p, u0, u1, reverse)
}

// ---- pointwise: pointwise.rs's kernels on 8 lanes ----

/// Eight f32 lanes (`pointwise::F32Vec`).
#[derive(Clone, Copy)]
pub(crate) struct V8(__m256);

impl F32Vec for V8 {
    const LANES: usize = 8;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> V8 {
        V8(_mm256_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm256_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> V8 {
        V8(_mm256_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn add(self, b: V8) -> V8 {
        V8(_mm256_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: V8) -> V8 {
        V8(_mm256_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: V8) -> V8 {
        V8(_mm256_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: V8) -> V8 {
        V8(_mm256_div_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn at_least(self, lo: f32) -> V8 {
        // max(lo, x) = lo > x ? lo : x, so NaN keeps x; the same for min.
        V8(_mm256_max_ps(_mm256_set1_ps(lo), self.0))
    }
    #[inline(always)]
    unsafe fn at_most(self, hi: f32) -> V8 {
        V8(_mm256_min_ps(_mm256_set1_ps(hi), self.0))
    }
    #[inline(always)]
    unsafe fn neg(self) -> V8 {
        V8(_mm256_xor_ps(self.0, sign8()))
    }
    #[inline(always)]
    unsafe fn abs(self) -> V8 {
        V8(_mm256_andnot_ps(sign8(), self.0))
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, x: V8) -> V8 {
        V8(_mm256_or_ps(self.0, _mm256_and_ps(x.0, sign8())))
    }
    #[inline(always)]
    unsafe fn select_lt(self, lim: f32, if_lt: V8, other: V8) -> V8 {
        V8(_mm256_blendv_ps(other.0, if_lt.0, _mm256_cmp_ps(self.0, _mm256_set1_ps(lim), _CMP_LT_OQ)))
    }
    #[inline(always)]
    unsafe fn pow2_of_rounded(t: V8) -> V8 {
        let e = _mm256_sub_epi32(_mm256_castps_si256(t.0), _mm256_set1_epi32(ROUND.to_bits() as i32));
        V8(_mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(e, _mm256_set1_epi32(127)), 23)))
    }
}

/// The sign bit in every lane.
#[inline(always)]
unsafe fn sign8() -> __m256 {
    _mm256_castsi256_ps(_mm256_set1_epi32(SIGN as i32))
}

/// # Safety
/// CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn map_avx(x: &mut [f32], use_tanh: bool) {
    pointwise::map::<V8>(x, use_tanh)
}

/// # Safety
/// Lengths checked by `lstm_cell`; CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn lstm_cell_avx(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    pointwise::lstm_cell::<V8>(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden)
}

/// # Safety
/// Lengths checked by `gru_cell`; CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
unsafe fn gru_cell_avx(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    pointwise::gru_cell::<V8>(gates, hh, h_prev, hn_lin, h, rows, hidden)
}

/// # Safety
/// Lengths checked by `lstm_cell_backward`; CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn lstm_cell_backward_avx(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    pointwise::lstm_cell_backward::<V8>(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden)
}

/// # Safety
/// Lengths checked by `gru_cell_backward`; CPU has AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn gru_cell_backward_avx(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    pointwise::gru_cell_backward::<V8>(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The in-register transpose fills the same panel as `gemm::transpose_rows` and writes
    /// nothing past it: 6, 8, 16 and 24 rows (and 5, which takes the scalar copy), kc around the
    /// 8-column blocks, strides and start offsets that put rows at every alignment.
    #[test]
    fn transpose_panel_matches_transpose_rows() {
        if !detected() {
            return;
        }
        for &rows in &[5usize, 6, 8, 16, 24] {
            for &kc in &[1usize, 7, 8, 9, 15, 16, 17, 63, 256] {
                for &(ld, start) in &[(kc, 0usize), (kc + 3, 1), (1024, 5), (kc + 16, 7)] {
                    let src: Vec<f32> = (0..start + rows * ld).map(|i| i as f32 * 0.5 - 3.0).collect();
                    let mut want = vec![f32::NAN; kc * rows + 8];
                    let mut got = want.clone();
                    unsafe {
                        gemm::transpose_rows(want.as_mut_ptr(), src.as_ptr().add(start), ld, rows, kc);
                        transpose_panel(got.as_mut_ptr(), src.as_ptr().add(start), ld, rows, kc);
                    }
                    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                        assert_eq!(g.to_bits(), w.to_bits(), "rows {} kc {} ld {} start {}: panel value {} differs", rows, kc, ld, start, i);
                    }
                }
            }
        }
    }
}
