//! `Real`: the scalar type the kernels are generic over (f32 in the product, f64 in gradchecks).
//! The dense primitives are trait methods so that f32 can route them through the kernel table
//! (`kernels::get()`, which may pick a SIMD variant) while f64 always runs the scalar reference.
//!
//! σ and tanh: f64 uses math.rs (relative error < 1e-13, for the gradient checks); f32 uses
//! `kernels::scalar::{sigmoidf, tanhf}`, the algorithm every kernel level vectorises, so all
//! levels and backends compute the same activation bits.

use crate::kernels::{self, scalar, PackedB, TnOut};
use crate::math;
use std::fmt::Debug;
use std::ops::{Add, AddAssign, Div, Mul, MulAssign, Neg, Sub, SubAssign};

pub trait Real:
    Copy
    + Debug
    + Default
    + PartialOrd
    + Add<Output = Self>
    + Sub<Output = Self>
    + Mul<Output = Self>
    + Div<Output = Self>
    + Neg<Output = Self>
    + AddAssign
    + SubAssign
    + MulAssign
    + Send
    + Sync
    + 'static
{
    const ZERO: Self;
    const ONE: Self;
    fn from_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
    /// σ(x), the same bits on every platform and kernel level.
    fn sigmoid(self) -> Self;
    /// tanh(x), the same bits on every platform and kernel level.
    fn tanh(self) -> Self;
    fn is_finite(self) -> bool;

    /// c (m, n; row stride ldc) += a (m, k; lda) · bᵀ where b is (n, k; ldb).
    #[allow(clippy::too_many_arguments)]
    fn gemm_nt(c: &mut [Self], ldc: usize, a: &[Self], lda: usize, b: &[Self], ldb: usize, m: usize, n: usize, k: usize) {
        scalar::gemm_nt(c, ldc, a, lda, b, ldb, m, n, k)
    }
    /// c (m, n; ldc) += a (m, k; lda) · b where b is (k, n; ldb).
    #[allow(clippy::too_many_arguments)]
    fn gemm_nn(c: &mut [Self], ldc: usize, a: &[Self], lda: usize, b: &[Self], ldb: usize, m: usize, n: usize, k: usize) {
        scalar::gemm_nn(c, ldc, a, lda, b, ldb, m, n, k)
    }
    /// c (m, n; ldc) += aᵀ · b where a is (k, m; lda) and b is (k, n; ldb).
    #[allow(clippy::too_many_arguments)]
    fn gemm_tn(c: &mut [Self], ldc: usize, a: &[Self], lda: usize, b: &[Self], ldb: usize, m: usize, n: usize, k: usize) {
        scalar::gemm_tn(c, ldc, a, lda, b, ldb, m, n, k)
    }
    /// Each out.c += aᵀ · out.b with one a (k, m; lda): see `TnOut`.
    fn gemm_tn_shared(a: &[Self], lda: usize, m: usize, k: usize, outs: &mut [TnOut<'_, Self>]) {
        scalar::gemm_tn_shared(a, lda, m, k, outs)
    }
    /// Prepares B (see `PackedB`) for repeated `gemm_packed` calls; f64 keeps it as given.
    fn pack_b(b: &[Self], ldb: usize, trans: bool, k: usize, n: usize) -> PackedB<'_, Self> {
        PackedB::plain(b, ldb, trans, k, n)
    }
    /// c (m, n; ldc) += a (m, k; lda) · B.
    fn gemm_packed(c: &mut [Self], ldc: usize, a: &[Self], lda: usize, m: usize, pb: &PackedB<'_, Self>) {
        scalar::gemm_packed(c, ldc, a, lda, m, pb)
    }
    /// x ← σ(x) element-wise.
    fn sigmoid_all(x: &mut [Self]) {
        scalar::sigmoid(x)
    }
    /// x ← tanh(x) element-wise.
    fn tanh_all(x: &mut [Self]) {
        scalar::tanh(x)
    }
    /// The LSTM pointwise step, bias add fused (`kernels::scalar::lstm_cell`).
    #[allow(clippy::too_many_arguments)]
    fn lstm_cell(gates: &mut [Self], b_hh: Option<&[Self]>, c_prev: &[Self], c: &mut [Self], tanh_c: &mut [Self], out: &mut [Self], rows: usize, hidden: usize) {
        scalar::lstm_cell(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden)
    }
    /// The batch-1 LSTM step, recurrent product and cell fused (`Kernels::lstm_row`), where the
    /// kernel level has it for these weights; returns whether it ran. When it did not, the caller
    /// runs `gemm_packed` then `lstm_cell`, with the same result bits. f64: never.
    #[allow(clippy::too_many_arguments)]
    fn lstm_row(_gates: &mut [Self], _b_hh: Option<&[Self]>, _c_prev: &[Self], _c: &mut [Self], _tanh_c: &mut [Self], _out: &mut [Self], _h_prev: &[Self], _w_hh: &PackedB<'_, Self>, _hidden: usize) -> bool {
        false
    }
    /// The batch-1 GRU (reset-after) step, recurrent product, bias and cell fused
    /// (`Kernels::gru_row`), where the kernel level has it for these weights; returns whether it
    /// ran (else the caller runs them one by one, with the same result bits). f64: never.
    #[allow(clippy::too_many_arguments)]
    fn gru_row(_gates: &mut [Self], _b_hh: Option<&[Self]>, _h_prev: &[Self], _hn_lin: &mut [Self], _h: &mut [Self], _w_hh: &PackedB<'_, Self>, _hidden: usize) -> bool {
        false
    }
    /// The GRU (reset-after) pointwise step (`kernels::scalar::gru_cell`).
    fn gru_cell(gates: &mut [Self], hh: &[Self], h_prev: &[Self], hn_lin: &mut [Self], h: &mut [Self], rows: usize, hidden: usize) {
        scalar::gru_cell(gates, hh, h_prev, hn_lin, h, rows, hidden)
    }
    /// The LSTM pointwise backward (`kernels::scalar::lstm_cell_backward`).
    #[allow(clippy::too_many_arguments)]
    fn lstm_cell_backward(dgates: &mut [Self], dc_prev: &mut [Self], dh: &[Self], dc: &[Self], gates: &[Self], c_prev: &[Self], tanh_c: &[Self], rows: usize, hidden: usize) {
        scalar::lstm_cell_backward(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden)
    }
    /// The GRU pointwise backward (`kernels::scalar::gru_cell_backward`).
    #[allow(clippy::too_many_arguments)]
    fn gru_cell_backward(dgates: &mut [Self], dgates_hh: &mut [Self], dh_prev: &mut [Self], dh: &[Self], gates: &[Self], hn_lin: &[Self], h_prev: &[Self], rows: usize, hidden: usize, reset_after: bool) {
        scalar::gru_cell_backward(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after)
    }
}

impl Real for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline]
    fn from_f64(x: f64) -> Self {
        x
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self
    }
    #[inline]
    fn sigmoid(self) -> Self {
        math::sigmoid(self)
    }
    #[inline]
    fn tanh(self) -> Self {
        math::tanh(self)
    }
    #[inline]
    fn is_finite(self) -> bool {
        f64::is_finite(self)
    }
}

impl Real for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
    #[inline]
    fn from_f64(x: f64) -> Self {
        x as f32
    }
    #[inline]
    fn to_f64(self) -> f64 {
        self as f64
    }
    // f32 arithmetic only, no libm: the same bits on every platform (see kernels/scalar.rs).
    #[inline]
    fn sigmoid(self) -> Self {
        scalar::sigmoidf(self)
    }
    #[inline]
    fn tanh(self) -> Self {
        scalar::tanhf(self)
    }
    #[inline]
    fn is_finite(self) -> bool {
        f32::is_finite(self)
    }
    fn gemm_nt(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
        (kernels::get().gemm_nt)(c, ldc, a, lda, b, ldb, m, n, k)
    }
    fn gemm_nn(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
        (kernels::get().gemm_nn)(c, ldc, a, lda, b, ldb, m, n, k)
    }
    fn gemm_tn(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, b: &[f32], ldb: usize, m: usize, n: usize, k: usize) {
        (kernels::get().gemm_tn)(c, ldc, a, lda, b, ldb, m, n, k)
    }
    fn gemm_tn_shared(a: &[f32], lda: usize, m: usize, k: usize, outs: &mut [TnOut<'_, f32>]) {
        (kernels::get().gemm_tn_shared)(a, lda, m, k, outs)
    }
    fn pack_b(b: &[f32], ldb: usize, trans: bool, k: usize, n: usize) -> PackedB<'_, f32> {
        let mut pb = PackedB::plain(b, ldb, trans, k, n);
        (kernels::get().pack_b)(&mut pb);
        pb
    }
    fn gemm_packed(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, m: usize, pb: &PackedB<'_, f32>) {
        (kernels::get().gemm_packed)(c, ldc, a, lda, m, pb)
    }
    fn sigmoid_all(x: &mut [f32]) {
        (kernels::get().sigmoid)(x)
    }
    fn tanh_all(x: &mut [f32]) {
        (kernels::get().tanh)(x)
    }
    fn lstm_cell(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
        kernels::rows::lstm_cell(gates, b_hh, c_prev, c, tanh_c, out, rows, hidden)
    }
    fn lstm_row(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], h_prev: &[f32], w_hh: &PackedB<'_, f32>, hidden: usize) -> bool {
        (kernels::get().lstm_row)(gates, b_hh, c_prev, c, tanh_c, out, h_prev, w_hh, hidden)
    }
    fn gru_row(gates: &mut [f32], b_hh: Option<&[f32]>, h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], w_hh: &PackedB<'_, f32>, hidden: usize) -> bool {
        (kernels::get().gru_row)(gates, b_hh, h_prev, hn_lin, h, w_hh, hidden)
    }
    fn gru_cell(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
        kernels::rows::gru_cell(gates, hh, h_prev, hn_lin, h, rows, hidden)
    }
    fn lstm_cell_backward(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
        kernels::rows::lstm_cell_backward(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, hidden)
    }
    fn gru_cell_backward(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
        kernels::rows::gru_cell_backward(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, hidden, reset_after)
    }
}

/// σ(x) = 1 / (1 + e^(−x))
#[inline]
pub fn sigmoid<T: Real>(x: T) -> T {
    x.sigmoid()
}
