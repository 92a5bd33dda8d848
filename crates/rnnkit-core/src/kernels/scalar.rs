//! The reference kernels: safe, plain loops, no intrinsics. The test oracle for every SIMD
//! variant and the fallback everywhere. Matrices are row-major with explicit row strides (ld*).

use crate::real::Real;

/// c (m, n) += a (m, k) · bᵀ, b (n, k). Each c element is a dot product of two rows.
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt<T: Real>(c: &mut [T], ldc: usize, a: &[T], lda: usize, b: &[T], ldb: usize, m: usize, n: usize, k: usize) {
    for i in 0..m {
        let a_row = &a[i * lda..i * lda + k];
        let c_row = &mut c[i * ldc..i * ldc + n];
        for (j, cv) in c_row.iter_mut().enumerate() {
            *cv += dot(a_row, &b[j * ldb..j * ldb + k]);
        }
    }
}

/// c (m, n) += a (m, k) · b, b (k, n). Inner loop is an axpy over a row of b.
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn<T: Real>(c: &mut [T], ldc: usize, a: &[T], lda: usize, b: &[T], ldb: usize, m: usize, n: usize, k: usize) {
    for i in 0..m {
        let c_row = &mut c[i * ldc..i * ldc + n];
        for p in 0..k {
            let s = a[i * lda + p];
            if s != T::ZERO {
                axpy(c_row, s, &b[p * ldb..p * ldb + n]);
            }
        }
    }
}

/// c (m, n) += aᵀ · b, a (k, m), b (k, n): the weight-gradient shape (sum over rows k).
#[allow(clippy::too_many_arguments)]
pub fn gemm_tn<T: Real>(c: &mut [T], ldc: usize, a: &[T], lda: usize, b: &[T], ldb: usize, m: usize, n: usize, k: usize) {
    for p in 0..k {
        let b_row = &b[p * ldb..p * ldb + n];
        for i in 0..m {
            let s = a[p * lda + i];
            if s != T::ZERO {
                axpy(&mut c[i * ldc..i * ldc + n], s, b_row);
            }
        }
    }
}

/// Σ x_i y_i with four partial sums (independent chains for the CPU; order is fixed, so the
/// result is deterministic).
#[inline]
pub fn dot<T: Real>(x: &[T], y: &[T]) -> T {
    let n = x.len().min(y.len());
    let mut s = [T::ZERO; 4];
    let mut i = 0;
    while i + 4 <= n {
        s[0] += x[i] * y[i];
        s[1] += x[i + 1] * y[i + 1];
        s[2] += x[i + 2] * y[i + 2];
        s[3] += x[i + 3] * y[i + 3];
        i += 4;
    }
    let mut tail = T::ZERO;
    while i < n {
        tail += x[i] * y[i];
        i += 1;
    }
    (s[0] + s[1]) + (s[2] + s[3]) + tail
}

/// y += a·x
#[inline]
pub fn axpy<T: Real>(y: &mut [T], a: T, x: &[T]) {
    for (yv, &xv) in y.iter_mut().zip(x.iter()) {
        *yv += a * xv;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The three shapes against a direct triple loop on odd sizes and strides.
    #[test]
    fn gemm_shapes_match_definition() {
        let (m, n, k) = (3usize, 5usize, 7usize);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect(); // (m, k)
        let b: Vec<f64> = (0..n * k).map(|i| (i as f64 * 0.11).cos()).collect(); // (n, k)
        let mut c = vec![1.0f64; m * n];
        gemm_nt(&mut c, n, &a, k, &b, k, m, n, k);
        for i in 0..m {
            for j in 0..n {
                let want: f64 = 1.0 + (0..k).map(|p| a[i * k + p] * b[j * k + p]).sum::<f64>();
                assert!((c[i * n + j] - want).abs() < 1e-12);
            }
        }
        // nn with b viewed as (k, n): bt[p][j] = b[j][p]
        let bt: Vec<f64> = (0..k * n).map(|idx| b[(idx % n) * k + idx / n]).collect();
        let mut c2 = vec![1.0f64; m * n];
        gemm_nn(&mut c2, n, &a, k, &bt, n, m, n, k);
        for (x, y) in c.iter().zip(c2.iter()) {
            assert!((x - y).abs() < 1e-12);
        }
        // tn with a viewed as (k, m)
        let at: Vec<f64> = (0..k * m).map(|idx| a[(idx % m) * k + idx / m]).collect();
        let mut c3 = vec![1.0f64; m * n];
        gemm_tn(&mut c3, n, &at, m, &bt, n, m, n, k);
        for (x, y) in c.iter().zip(c3.iter()) {
            assert!((x - y).abs() < 1e-12);
        }
    }
}
