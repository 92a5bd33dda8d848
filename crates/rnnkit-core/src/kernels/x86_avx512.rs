//! x86_64 AVX-512F: 512-bit registers, 16 f32 lanes. Chosen at run time on CPUs that have it
//! (`is_x86_feature_detected!`), when the compiler has the intrinsics (Rust ≥ 1.89: build.rs sets
//! `cfg(rnnkit_avx512)`; older compilers build without this level).
//!
//! 512 bits wide: the packed GEMM (micro-kernel 16 × 16: 16 accumulators, one B load and one A
//! broadcast per row and k step), the packed batch-1 product, and the pointwise kernels (pointwise.rs on
//! 16 lanes). Small and few-row products with B not packed run the avx2-fma level's code, which
//! every AVX-512 CPU runs. Multiply, then add, as everywhere: each C element is summed in
//! scalar.rs's order, and the activations run scalar.rs's algorithm, so this level gives the same
//! bits as every other.
//!
//! The safe functions first (they check sizes and the CPU), the unsafe loops below them.

use super::gemm::{self, BSrc, MicroKernel, View};
use super::is_small as small;
use super::pointwise::{self, F32Vec};
use super::scalar::{self, ROUND, SIGN};
use super::x86_avx2_fma as avx2;
use super::row_step;
use super::{Level, PackedB, TnOut, FEW_ROWS};
use std::arch::x86_64::*;

/// Whether this CPU runs this file (cached by std after the first call).
pub fn detected() -> bool {
    avx2::detected() && is_x86_feature_detected!("avx512f")
}

fn need_cpu() {
    assert!(detected(), "kernels: the avx512 level was called on a CPU without AVX-512F");
}

// ---- safe entry points (the `Kernels` rows) ----

/// Whether a product goes to the avx2-fma code (small, few rows with B not packed, or empty).
fn narrow(m: usize, n: usize, k: usize) -> bool {
    m <= FEW_ROWS || small(m, n, k) || n == 0 || k == 0
}

/// c (m, n; ldc) += a (m, k; lda) · bᵀ, b (n, k; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    if narrow(m, n, k) {
        return avx2::gemm_nt(c, ldc, a, lda, b, ldb, m, n, k);
    }
    gemm::check_gemm(c.len(), ldc, a.len(), lda, false, b.len(), ldb, true, m, n, k);
    need_cpu();
    // SAFETY: sizes checked above, CPU checked by need_cpu.
    unsafe { gemm::gemm::<Avx512>(c.as_mut_ptr(), ldc, View::new(a, lda, false), BSrc::View(View::new(b, ldb, true)), m, n, k) }
}

/// c (m, n; ldc) += a (m, k; lda) · b, b (k, n; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    if narrow(m, n, k) {
        return avx2::gemm_nn(c, ldc, a, lda, b, ldb, m, n, k);
    }
    gemm::check_gemm(c.len(), ldc, a.len(), lda, false, b.len(), ldb, false, m, n, k);
    need_cpu();
    // SAFETY: sizes checked above, CPU checked by need_cpu.
    unsafe { gemm::gemm::<Avx512>(c.as_mut_ptr(), ldc, View::new(a, lda, false), BSrc::View(View::new(b, ldb, false)), m, n, k) }
}

/// c (m, n; ldc) += aᵀ · b, a (k, m; lda), b (k, n; ldb).
#[allow(clippy::too_many_arguments)]
pub fn gemm_tn(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
    if narrow(m, n, k) {
        return avx2::gemm_tn(c, ldc, a, lda, b, ldb, m, n, k);
    }
    gemm::check_gemm(c.len(), ldc, a.len(), lda, true, b.len(), ldb, false, m, n, k);
    need_cpu();
    // SAFETY: sizes checked above, CPU checked by need_cpu.
    unsafe { gemm::gemm::<Avx512>(c.as_mut_ptr(), ldc, View::new(a, lda, true), BSrc::View(View::new(b, ldb, false)), m, n, k) }
}

/// Each out.c += aᵀ · out.b, a (k, m; lda) shared: each block of aᵀ packed once for all outputs.
pub fn gemm_tn_shared(a: &[f32], lda: usize, m: usize, k: usize, outs: &mut [TnOut<'_, f32>]) {
    need_cpu();
    // SAFETY: CPU checked by need_cpu; tn_shared checks the operands.
    unsafe { gemm::tn_shared::<Avx512>(a, lda, m, k, outs, gemm_tn) }
}

/// Packs B into this level's panels (see gemm.rs).
pub fn pack_b(pb: &mut PackedB<'_, f32>) {
    gemm::pack_for::<Avx512>(pb, Level::Avx512)
}

/// c (m, n; ldc) += a (m, k; lda) · B, B prepared by `pack_b` (or read plainly if it was not).
pub fn gemm_packed(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, m: usize, pb: &PackedB<'_, f32>) {
    let (n, k) = (pb.n, pb.k);
    // Small products run scalar.rs, as gemm_nt / gemm_nn do.
    if small(m, n, k) || !gemm::packed_for::<Avx512>(pb, Level::Avx512) {
        return if pb.trans { gemm_nt(c, ldc, a, lda, pb.b, pb.ldb, m, n, k) } else { gemm_nn(c, ldc, a, lda, pb.b, pb.ldb, m, n, k) };
    }
    need_cpu();
    // SAFETY: panels packed by this level for (k, n) (checked above), CPU checked.
    unsafe { gemm::packed_product::<Avx512>(c, ldc, a, lda, m, pb) }
}

/// The fused batch-1 steps (row_step.rs): this level's panels, CPU check and group loop.
const ROW: row_step::RowLevel<Avx512> = row_step::RowLevel { level: Level::Avx512, need_cpu, groups: row_groups_avx512, kernel: std::marker::PhantomData };

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
    unsafe { map_avx512(x, false) }
}

/// x ← tanh(x).
pub fn tanh(x: &mut [f32]) {
    need_cpu();
    // SAFETY: CPU checked; the loop stays inside x.
    unsafe { map_avx512(x, true) }
}

/// See `scalar::lstm_cell`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    pointwise::check_lstm(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden);
    need_cpu();
    // SAFETY: lengths and CPU checked above.
    unsafe { lstm_cell_avx512(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden) }
}

/// See `scalar::gru_cell`.
pub fn gru_cell(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    pointwise::check_gru(gates, hh, h_prev, hn_lin, h, rows, hidden);
    need_cpu();
    // SAFETY: lengths and CPU checked above.
    unsafe { gru_cell_avx512(gates, hh, h_prev, hn_lin, h, rows, hidden) }
}

/// See `scalar::lstm_cell_backward`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    pointwise::check_lstm_backward(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden);
    need_cpu();
    // SAFETY: lengths and CPU checked above.
    unsafe { lstm_cell_backward_avx512(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden) }
}

/// See `scalar::gru_cell_backward`.
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    pointwise::check_gru_backward(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after);
    need_cpu();
    // SAFETY: lengths and CPU checked above.
    unsafe { gru_cell_backward_avx512(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after) }
}

// ---- GEMM ----

/// Columns per `pack_b` panel (`Kernels::panel_width`).
pub const PANEL_WIDTH: usize = <Avx512 as MicroKernel>::NR;

struct Avx512;

/// 16 × 16: one vector per row, so a B panel (KC × 16 f32 = 16 KiB) stays in a 32 KiB L1 while
/// the tiles of a block stream their A panels past it. The 12 × 32 tile it replaced had 32 KiB
/// B panels: measured on Zen 4 (rnnkit-bench, lstm-m products, 1 thread) 60-64 % of the FMA peak
/// against 81-88 % here; 8 × 32 and 6 × 32 gave the same 60-65 %, 12, 14, 20 × 16 78-86 %.
impl MicroKernel for Avx512 {
    const MR: usize = 16;
    const NR: usize = 16;
    const KC: usize = scalar::KC;
    const MC: usize = 144;
    const NC: usize = 2048;
    /// # Safety
    /// As `MicroKernel::tile`: panels and tile in bounds, CPU has AVX-512F.
    unsafe fn tile(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, mr: usize, nr: usize) {
        match mr {
            16 => tile_rows::<16>(kc, a, b, c, ldc, nr),
            15 => tile_rows::<15>(kc, a, b, c, ldc, nr),
            14 => tile_rows::<14>(kc, a, b, c, ldc, nr),
            13 => tile_rows::<13>(kc, a, b, c, ldc, nr),
            12 => tile_rows::<12>(kc, a, b, c, ldc, nr),
            11 => tile_rows::<11>(kc, a, b, c, ldc, nr),
            10 => tile_rows::<10>(kc, a, b, c, ldc, nr),
            9 => tile_rows::<9>(kc, a, b, c, ldc, nr),
            8 => tile_rows::<8>(kc, a, b, c, ldc, nr),
            7 => tile_rows::<7>(kc, a, b, c, ldc, nr),
            6 => tile_rows::<6>(kc, a, b, c, ldc, nr),
            5 => tile_rows::<5>(kc, a, b, c, ldc, nr),
            4 => tile_rows::<4>(kc, a, b, c, ldc, nr),
            3 => tile_rows::<3>(kc, a, b, c, ldc, nr),
            2 => tile_rows::<2>(kc, a, b, c, ldc, nr),
            _ => tile_rows::<1>(kc, a, b, c, ldc, nr),
        }
    }
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed_cols<const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize) {
        packed_cols::<MA, NP>(c, ldc, a, i, b, n_pad, j, j_end, k)
    }
    unsafe fn transpose_panel(dst: *mut f32, src: *const f32, ld: usize, rows: usize, kc: usize) {
        avx2::transpose_panel(dst, src, ld, rows, kc)
    }
}

/// The micro-kernel for the first M rows of a 16-row A panel: C (M × nr) += A · B over kc, one
/// accumulator per element from zero, then added to C (scalar.rs's order).
///
/// # Safety
/// As `MicroKernel::tile`.
#[target_feature(enable = "avx512f")]
unsafe fn tile_rows<const M: usize>(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, nr: usize) {
    // Fetch the C tile now so the update at the end does not wait for memory.
    for r in 0..M {
        _mm_prefetch(c.add(r * ldc) as *const i8, _MM_HINT_T0);
    }
    let mut acc = [_mm512_setzero_ps(); M];
    let (mut ap, mut bp) = (a, b);
    for _ in 0..kc {
        let bv = _mm512_loadu_ps(bp);
        for (r, acc_r) in acc.iter_mut().enumerate() {
            *acc_r = _mm512_add_ps(*acc_r, _mm512_mul_ps(_mm512_set1_ps(*ap.add(r)), bv));
        }
        ap = ap.add(Avx512::MR);
        bp = bp.add(Avx512::NR);
    }
    for (r, &acc_r) in acc.iter().enumerate() {
        gemm::add_vecs_to_c::<V16, 1>(c.add(r * ldc), &[V16(acc_r)], nr);
    }
}

// ---- few rows, B packed (batch-1 steps with packed weights) ----

/// `MicroKernel::packed_cols` (gemm.rs `few_rows_packed`).
///
/// # Safety
/// As `MicroKernel::packed_cols`.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn packed_cols<const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize) {
    gemm::packed_cols_v::<V16, 1, MA, NP>(c, ldc, a, i, b, n_pad, j, j_end, k)
}

/// `row_step::groups` on this level's panels.
///
/// # Safety
/// As `row_step::groups`.
#[target_feature(enable = "avx512f")]
unsafe fn row_groups_avx512(p: &row_step::RowPtrs, u0: usize, u1: usize, reverse: bool) {
    row_step::groups::<Avx512, V16, 1>(p, u0, u1, reverse)
}

// ---- pointwise: pointwise.rs's kernels on 16 lanes ----

/// Sixteen f32 lanes (`pointwise::F32Vec`). AVX-512F has no float bit operations (those are
/// AVX-512DQ): the sign manipulations go through the integer forms.
#[derive(Clone, Copy)]
struct V16(__m512);

impl F32Vec for V16 {
    const LANES: usize = 16;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> V16 {
        V16(_mm512_loadu_ps(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        _mm512_storeu_ps(p, self.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> V16 {
        V16(_mm512_set1_ps(x))
    }
    #[inline(always)]
    unsafe fn add(self, b: V16) -> V16 {
        V16(_mm512_add_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: V16) -> V16 {
        V16(_mm512_sub_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: V16) -> V16 {
        V16(_mm512_mul_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: V16) -> V16 {
        V16(_mm512_div_ps(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn at_least(self, lo: f32) -> V16 {
        // max(lo, x) = lo > x ? lo : x, so NaN keeps x; the same for min.
        V16(_mm512_max_ps(_mm512_set1_ps(lo), self.0))
    }
    #[inline(always)]
    unsafe fn at_most(self, hi: f32) -> V16 {
        V16(_mm512_min_ps(_mm512_set1_ps(hi), self.0))
    }
    #[inline(always)]
    unsafe fn neg(self) -> V16 {
        V16(_mm512_castsi512_ps(_mm512_xor_si512(_mm512_castps_si512(self.0), sign16())))
    }
    #[inline(always)]
    unsafe fn abs(self) -> V16 {
        V16(_mm512_castsi512_ps(_mm512_andnot_si512(sign16(), _mm512_castps_si512(self.0))))
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, x: V16) -> V16 {
        let s = _mm512_and_si512(_mm512_castps_si512(x.0), sign16());
        V16(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(self.0), s)))
    }
    #[inline(always)]
    unsafe fn select_lt(self, lim: f32, if_lt: V16, other: V16) -> V16 {
        let lt = _mm512_cmp_ps_mask::<_CMP_LT_OQ>(self.0, _mm512_set1_ps(lim));
        V16(_mm512_mask_blend_ps(lt, other.0, if_lt.0))
    }
    #[inline(always)]
    unsafe fn pow2_of_rounded(t: V16) -> V16 {
        let e = _mm512_sub_epi32(_mm512_castps_si512(t.0), _mm512_set1_epi32(ROUND.to_bits() as i32));
        V16(_mm512_castsi512_ps(_mm512_slli_epi32::<23>(_mm512_add_epi32(e, _mm512_set1_epi32(127)))))
    }
}

/// The sign bit in every lane.
#[inline(always)]
unsafe fn sign16() -> __m512i {
    _mm512_set1_epi32(SIGN as i32)
}

/// # Safety
/// CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn map_avx512(x: &mut [f32], use_tanh: bool) {
    pointwise::map::<V16>(x, use_tanh)
}

/// # Safety
/// Lengths checked by `lstm_cell`; CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn lstm_cell_avx512(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    pointwise::lstm_cell::<V16>(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden)
}

/// # Safety
/// Lengths checked by `gru_cell`; CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
unsafe fn gru_cell_avx512(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    pointwise::gru_cell::<V16>(gates, hh, h_prev, hn_lin, h, rows, hidden)
}

/// # Safety
/// Lengths checked by `lstm_cell_backward`; CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn lstm_cell_backward_avx512(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    pointwise::lstm_cell_backward::<V16>(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden)
}

/// # Safety
/// Lengths checked by `gru_cell_backward`; CPU has AVX-512F.
#[target_feature(enable = "avx512f")]
#[allow(clippy::too_many_arguments)]
unsafe fn gru_cell_backward_avx512(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    pointwise::gru_cell_backward::<V16>(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after)
}
