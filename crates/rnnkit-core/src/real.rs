//! `Real`: the scalar type the kernels are generic over (f32 in the product, f64 in gradchecks).
//! The dense primitives are trait methods so that f32 can route them through the kernel table
//! (`kernels::get()`, which may pick a SIMD variant) while f64 always runs the scalar reference.

use crate::kernels::{self, scalar};
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
    /// σ(x), platform-independent (math.rs).
    fn sigmoid(self) -> Self;
    /// tanh(x), platform-independent (math.rs).
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
    // Computed in f64 and rounded once: the same bits on every platform (see math.rs).
    #[inline]
    fn sigmoid(self) -> Self {
        math::sigmoid(self as f64) as f32
    }
    #[inline]
    fn tanh(self) -> Self {
        math::tanh(self as f64) as f32
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
}

/// σ(x) = 1 / (1 + e^(−x))
#[inline]
pub fn sigmoid<T: Real>(x: T) -> T {
    x.sigmoid()
}
