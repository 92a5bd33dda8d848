//! aarch64 NEON (Advanced SIMD): 128-bit vectors, 4 f32 lanes, 32 registers. Part of every
//! aarch64 CPU, so there is nothing to detect. Multiply, then add (`fmul` + `fadd`, never `fmla`):
//! every C element is summed in scalar.rs's order and σ / tanh run scalar.rs's operations, so
//! this level gives the same bits as every other.
//!
//! GEMM micro-kernel 8 × 8: sixteen accumulators (8 rows × 2 vectors), two B loads and eight
//! A broadcasts per k step, half of the register file. Products with few rows and B not packed
//! go through the same packed loop nest (no separate direct-read paths, unlike the x86 and wasm
//! files: this level is tested under qemu, not measured on hardware here). Activations and fused
//! cells: pointwise.rs on 4 lanes (`V4`).
//!
//! The safe functions first (they check sizes), the unsafe loops below them.

use super::gemm::{self, BSrc, MicroKernel, View};
use super::pointwise::{self, F32Vec};
use super::scalar::{self, ROUND, SIGN};
use super::{Level, PackedB, TnOut};
use std::arch::aarch64::*;

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
    unsafe { gemm::gemm::<Neon>(c.as_mut_ptr(), ldc, View::new(a, lda, false), BSrc::View(View::new(b, ldb, true)), m, n, k) }
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
    unsafe { gemm::gemm::<Neon>(c.as_mut_ptr(), ldc, View::new(a, lda, false), BSrc::View(View::new(b, ldb, false)), m, n, k) }
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
    unsafe { gemm::gemm::<Neon>(c.as_mut_ptr(), ldc, View::new(a, lda, true), BSrc::View(View::new(b, ldb, false)), m, n, k) }
}

/// Each out.c += aᵀ · out.b, a (k, m; lda) shared: each block of aᵀ packed once for all outputs.
pub fn gemm_tn_shared(a: &[f32], lda: usize, m: usize, k: usize, outs: &mut [TnOut<'_, f32>]) {
    // SAFETY: NEON is part of every aarch64 CPU; tn_shared checks the operands.
    unsafe { gemm::tn_shared::<Neon>(a, lda, m, k, outs, gemm_tn) }
}

/// Packs B into this level's panels (see gemm.rs).
pub fn pack_b(pb: &mut PackedB<'_, f32>) {
    gemm::pack_for::<Neon>(pb, Level::Neon)
}

/// c (m, n; ldc) += a (m, k; lda) · B, B prepared by `pack_b` (or read plainly if it was not).
pub fn gemm_packed(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, m: usize, pb: &PackedB<'_, f32>) {
    let (n, k) = (pb.n, pb.k);
    // Small products run scalar.rs, as gemm_nt / gemm_nn do.
    if small(m, n, k) || !gemm::packed_for::<Neon>(pb, Level::Neon) {
        return if pb.trans { gemm_nt(c, ldc, a, lda, pb.b, pb.ldb, m, n, k) } else { gemm_nn(c, ldc, a, lda, pb.b, pb.ldb, m, n, k) };
    }
    // SAFETY: panels packed by this level for (k, n) (checked above).
    unsafe { gemm::packed_product::<Neon>(c, ldc, a, lda, m, pb) }
}

/// x ← σ(x).
pub fn sigmoid(x: &mut [f32]) {
    // SAFETY: the loop stays inside x.
    unsafe { pointwise::map::<V4>(x, false) }
}

/// x ← tanh(x).
pub fn tanh(x: &mut [f32]) {
    // SAFETY: the loop stays inside x.
    unsafe { pointwise::map::<V4>(x, true) }
}

/// See `scalar::lstm_cell`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    pointwise::check_lstm(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden);
    // SAFETY: lengths checked above.
    unsafe { pointwise::lstm_cell::<V4>(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden) }
}

/// See `scalar::gru_cell`.
pub fn gru_cell(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    pointwise::check_gru(gates, hh, h_prev, hn_lin, h, rows, hidden);
    // SAFETY: lengths checked above.
    unsafe { pointwise::gru_cell::<V4>(gates, hh, h_prev, hn_lin, h, rows, hidden) }
}

/// See `scalar::lstm_cell_backward`.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    pointwise::check_lstm_backward(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden);
    // SAFETY: lengths checked above.
    unsafe { pointwise::lstm_cell_backward::<V4>(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden) }
}

/// See `scalar::gru_cell_backward`.
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    pointwise::check_gru_backward(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after);
    // SAFETY: lengths checked above.
    unsafe { pointwise::gru_cell_backward::<V4>(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after) }
}

// ---- GEMM ----

/// Columns per `pack_b` panel (`Kernels::panel_width`).
pub const PANEL_WIDTH: usize = <Neon as MicroKernel>::NR;

struct Neon;

impl MicroKernel for Neon {
    const MR: usize = 8;
    const NR: usize = 8;
    const KC: usize = scalar::KC;
    const MC: usize = 128;
    const NC: usize = 2048;
    /// # Safety
    /// As `MicroKernel::tile`: panels and tile in bounds.
    unsafe fn tile(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, mr: usize, nr: usize) {
        match mr {
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
    const ROW_PANELS: usize = 2;
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed_cols<const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize) {
        packed_cols::<MA, NP>(c, ldc, a, i, b, n_pad, j, j_end, k)
    }
}

/// The micro-kernel for the first M rows of an 8-row A panel: C (M × nr) += A · B over kc, one
/// accumulator per element from zero, then added to C (scalar.rs's order).
///
/// # Safety
/// As `MicroKernel::tile`.
#[inline(always)]
unsafe fn tile_rows<const M: usize>(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, nr: usize) {
    let z = vdupq_n_f32(0.0);
    let mut acc = [[z; 2]; M];
    let (mut ap, mut bp) = (a, b);
    for _ in 0..kc {
        let b0 = vld1q_f32(bp);
        let b1 = vld1q_f32(bp.add(4));
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let av = vld1q_dup_f32(ap.add(r));
            acc_r[0] = vaddq_f32(acc_r[0], vmulq_f32(av, b0));
            acc_r[1] = vaddq_f32(acc_r[1], vmulq_f32(av, b1));
        }
        ap = ap.add(Neon::MR);
        bp = bp.add(Neon::NR);
    }
    for (r, acc_r) in acc.iter().enumerate() {
        gemm::add_vecs_to_c(c.add(r * ldc), &[V4(acc_r[0]), V4(acc_r[1])], nr);
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
    gemm::packed_cols_v::<V4, 2, MA, NP>(c, ldc, a, i, b, n_pad, j, j_end, k)
}

// ---- pointwise: pointwise.rs's kernels on 4 lanes ----

/// Four f32 lanes (`pointwise::F32Vec`).
#[derive(Clone, Copy)]
struct V4(float32x4_t);

impl F32Vec for V4 {
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> V4 {
        V4(vld1q_f32(p))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        vst1q_f32(p, self.0)
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> V4 {
        V4(vdupq_n_f32(x))
    }
    #[inline(always)]
    unsafe fn add(self, b: V4) -> V4 {
        V4(vaddq_f32(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn sub(self, b: V4) -> V4 {
        V4(vsubq_f32(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn mul(self, b: V4) -> V4 {
        V4(vmulq_f32(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn div(self, b: V4) -> V4 {
        V4(vdivq_f32(self.0, b.0))
    }
    #[inline(always)]
    unsafe fn at_least(self, lo: f32) -> V4 {
        // x < lo ? lo : x (NaN keeps x, −0 stays −0): a select, not fmax, whose zeros and NaNs
        // differ from scalar.rs.
        let l = vdupq_n_f32(lo);
        V4(vbslq_f32(vcltq_f32(self.0, l), l, self.0))
    }
    #[inline(always)]
    unsafe fn at_most(self, hi: f32) -> V4 {
        // hi < x ? hi : x
        let h = vdupq_n_f32(hi);
        V4(vbslq_f32(vcltq_f32(h, self.0), h, self.0))
    }
    #[inline(always)]
    unsafe fn neg(self) -> V4 {
        V4(vreinterpretq_f32_u32(veorq_u32(vreinterpretq_u32_f32(self.0), vdupq_n_u32(SIGN))))
    }
    #[inline(always)]
    unsafe fn abs(self) -> V4 {
        V4(vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(self.0), vdupq_n_u32(SIGN))))
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, x: V4) -> V4 {
        let sign = vandq_u32(vreinterpretq_u32_f32(x.0), vdupq_n_u32(SIGN));
        V4(vreinterpretq_f32_u32(vorrq_u32(vreinterpretq_u32_f32(self.0), sign)))
    }
    #[inline(always)]
    unsafe fn select_lt(self, lim: f32, if_lt: V4, other: V4) -> V4 {
        V4(vbslq_f32(vcltq_f32(self.0, vdupq_n_f32(lim)), if_lt.0, other.0))
    }
    #[inline(always)]
    unsafe fn pow2_of_rounded(t: V4) -> V4 {
        let e = vsubq_s32(vreinterpretq_s32_f32(t.0), vdupq_n_s32(ROUND.to_bits() as i32));
        V4(vreinterpretq_f32_s32(vshlq_n_s32::<23>(vaddq_s32(e, vdupq_n_s32(127)))))
    }
}
