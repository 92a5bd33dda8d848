//! The reference kernels: safe, plain loops, no intrinsics. The test oracle for every SIMD
//! variant and the fallback everywhere. Matrices are row-major with explicit row strides (ld*).
//!
//! Also here: the f32 exp / σ / tanh every level uses (`expf`, `sigmoidf`, `tanhf`). The SIMD
//! variants run the same operations lane by lane, with the same constants, so activations are
//! bit-identical across levels and backends.

use super::{PackedB, TnOut};
use crate::real::Real;

// ---- GEMM ----
//
// The summation order of every product on every level (so that all levels, backends and thread
// counts give the same bits): k is cut into blocks of KC consecutive p; each block's sum
// S_b = Σ_{p in block b} A(i, p)·B(p, j) is accumulated in p order from zero, multiplying then
// adding (no fused multiply-add: wasm has none, and FMA would round differently); then
// C(i, j) += S_0, += S_1, ... in block order. The SIMD micro-kernels keep one accumulator per
// C element over a KC-deep panel, which is exactly this order.

/// Depth of the k blocks (the packed GEMMs' KC).
pub const KC: usize = 256;

/// C (m, n; ldc) += A·B in the order above, for any storage of A and B.
#[inline(always)]
fn gemm_in_order<T: Real>(c: &mut [T], ldc: usize, m: usize, n: usize, k: usize, a_at: impl Fn(usize, usize) -> T, b_at: impl Fn(usize, usize) -> T) {
    // Eight columns at a time: eight independent sums (the order of each one is unchanged).
    const W: usize = 8;
    for i in 0..m {
        let mut j0 = 0;
        while j0 < n {
            let w = W.min(n - j0);
            let mut cij = [T::ZERO; W];
            cij[..w].copy_from_slice(&c[i * ldc + j0..i * ldc + j0 + w]);
            let mut p0 = 0;
            while p0 < k {
                let mut s = [T::ZERO; W];
                for p in p0..KC.min(k - p0) + p0 {
                    let av = a_at(i, p);
                    for (jj, sv) in s.iter_mut().enumerate().take(w) {
                        *sv += av * b_at(p, j0 + jj);
                    }
                }
                for (cv, &sv) in cij.iter_mut().zip(s.iter()).take(w) {
                    *cv += sv;
                }
                p0 += KC;
            }
            c[i * ldc + j0..i * ldc + j0 + w].copy_from_slice(&cij[..w]);
            j0 += w;
        }
    }
}

/// c (m, n) += a (m, k) · bᵀ, b (n, k).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nt<T: Real>(c: &mut [T], ldc: usize, a: &[T], lda: usize, b: &[T], ldb: usize, m: usize, n: usize, k: usize) {
    gemm_in_order(c, ldc, m, n, k, |i, p| a[i * lda + p], |p, j| b[j * ldb + p])
}

/// c (m, n) += a (m, k) · b, b (k, n).
#[allow(clippy::too_many_arguments)]
pub fn gemm_nn<T: Real>(c: &mut [T], ldc: usize, a: &[T], lda: usize, b: &[T], ldb: usize, m: usize, n: usize, k: usize) {
    gemm_in_order(c, ldc, m, n, k, |i, p| a[i * lda + p], |p, j| b[p * ldb + j])
}

/// c (m, n) += aᵀ · b, a (k, m), b (k, n): the weight-gradient shape (sum over rows k).
#[allow(clippy::too_many_arguments)]
pub fn gemm_tn<T: Real>(c: &mut [T], ldc: usize, a: &[T], lda: usize, b: &[T], ldb: usize, m: usize, n: usize, k: usize) {
    gemm_in_order(c, ldc, m, n, k, |i, p| a[p * lda + i], |p, j| b[p * ldb + j])
}

/// Each out.c += aᵀ · out.b, a (k, m; lda) shared (see `TnOut`): one `gemm_tn` per output.
pub fn gemm_tn_shared<T: Real>(a: &[T], lda: usize, m: usize, k: usize, outs: &mut [TnOut<'_, T>]) {
    for o in outs.iter_mut() {
        gemm_tn(o.c, o.ldc, a, lda, o.b, o.ldb, m, o.n, k)
    }
}

/// B is read directly: the scalar level has no panel layout.
pub fn pack_b(_pb: &mut PackedB<'_, f32>) {}

/// `Kernels::lstm_row` of the levels without a fused batch-1 LSTM step: runs nothing, so the
/// step runs `gemm_packed` then `lstm_cell` (which the fused step matches bit for bit).
#[allow(clippy::too_many_arguments)]
pub fn lstm_row_unfused(_gates: &mut [f32], _b_hh: Option<&[f32]>, _c_prev: &[f32], _c: &mut [f32], _tanh_c: &mut [f32], _out: &mut [f32], _h_prev: &[f32], _w_hh: &PackedB<'_, f32>, _hidden: usize) -> bool {
    false
}

/// `Kernels::gru_row` of the levels without a fused batch-1 GRU step: runs nothing (the step
/// runs `gemm_packed`, the bias and `gru_cell`).
pub fn gru_row_unfused(_gates: &mut [f32], _b_hh: Option<&[f32]>, _h_prev: &[f32], _hn_lin: &mut [f32], _h: &mut [f32], _w_hh: &PackedB<'_, f32>, _hidden: usize) -> bool {
    false
}

/// c (m, n; ldc) += a (m, k; lda) · B, B as described by `pb` (see `PackedB`), read directly.
pub fn gemm_packed<T: Real>(c: &mut [T], ldc: usize, a: &[T], lda: usize, m: usize, pb: &PackedB<'_, T>) {
    if pb.trans {
        gemm_nt(c, ldc, a, lda, pb.b, pb.ldb, m, pb.n, pb.k)
    } else {
        gemm_nn(c, ldc, a, lda, pb.b, pb.ldb, m, pb.n, pb.k)
    }
}

// ---- activations ----

/// x ← σ(x) element-wise.
pub fn sigmoid<T: Real>(x: &mut [T]) {
    for v in x.iter_mut() {
        *v = v.sigmoid();
    }
}

/// x ← tanh(x) element-wise.
pub fn tanh<T: Real>(x: &mut [T]) {
    for v in x.iter_mut() {
        *v = v.tanh();
    }
}

/// LSTM pointwise step (cell/lstm.rs) for `rows` rows of `hidden` units, bias add fused:
///   gates (rows, 4H) in: x·W_ihᵀ + b_ih + h·W_hhᵀ; out: i, f, g, o after σ/σ/tanh/σ of (in + b_hh)
///   c = f ⊙ c_prev + i ⊙ g,  tanh_c = tanh(c),  out = o ⊙ tanh_c      (c_prev, c, tanh_c, out: (rows, H))
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell<T: Real>(
    gates: &mut [T],
    b_hh: Option<&[T]>,
    c_prev: &[T],
    c: &mut [T],
    tanh_c: &mut [T],
    out: &mut [T],
    rows: usize,
    hidden: usize,
) {
    let g4 = 4 * hidden;
    for r in 0..rows {
        let gr = &mut gates[r * g4..(r + 1) * g4];
        for j in 0..hidden {
            let pre = |q: usize| match b_hh {
                Some(b) => gr[q * hidden + j] + b[q * hidden + j],
                None => gr[q * hidden + j],
            };
            let k = r * hidden + j;
            let u = lstm_unit(pre(0), pre(1), pre(2), pre(3), c_prev[k]);
            for q in 0..4 {
                gr[q * hidden + j] = u[q];
            }
            c[k] = u[4];
            tanh_c[k] = u[5];
            out[k] = u[6];
        }
    }
}

/// One unit of `lstm_cell`: pre-activations (b_hh added) and c_prev → [i, f, g, o, c, tanh c, out].
#[inline]
pub fn lstm_unit<T: Real>(pi: T, pf: T, pg: T, po: T, c_prev: T) -> [T; 7] {
    let (i, f, g, o) = (pi.sigmoid(), pf.sigmoid(), pg.tanh(), po.sigmoid());
    let c = f * c_prev + i * g;
    let tc = c.tanh();
    [i, f, g, o, c, tc, o * tc]
}

/// LSTM pointwise backward (cell/lstm.rs), for `rows` rows of `hidden` units, from what forward
/// saved: gates (rows, 4H) i, f, g, o; c_prev, tanh_c (rows, H). dh (rows, H): dL/d(o ⊙ tanh c');
/// dc (rows, H): dL/dc' arriving from step t+1.
///   dgates (rows, 4H) out: dL/d(pre-activation) of i, f, g, o.  dc_prev (rows, H) out.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward<T: Real>(dgates: &mut [T], dc_prev: &mut [T], dh: &[T], dc: &[T], gates: &[T], c_prev: &[T], tanh_c: &[T], rows: usize, hidden: usize) {
    let g4 = 4 * hidden;
    for r in 0..rows {
        for j in 0..hidden {
            let (gi, k) = (r * g4 + j, r * hidden + j);
            let u = lstm_unit_backward(gates[gi], gates[gi + hidden], gates[gi + 2 * hidden], gates[gi + 3 * hidden], c_prev[k], tanh_c[k], dh[k], dc[k]);
            for q in 0..4 {
                dgates[gi + q * hidden] = u[q];
            }
            dc_prev[k] = u[4];
        }
    }
}

/// One unit of `lstm_cell_backward` → [di, df, dg, do (pre-activation), dc_prev].
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn lstm_unit_backward<T: Real>(i: T, f: T, g: T, o: T, c_prev: T, tc: T, dh: T, dc: T) -> [T; 5] {
    let d_o = dh * tc;
    // dc' merges the path through h' (tanh' = 1 − tanh²) with the one from step t+1.
    let dct = dc + dh * o * (T::ONE - tc * tc);
    // σ' = y(1 − y), tanh' = 1 − y²
    [dct * g * i * (T::ONE - i), dct * c_prev * f * (T::ONE - f), dct * i * (T::ONE - g * g), d_o * o * (T::ONE - o), dct * f]
}

/// GRU pointwise step, reset-after form (cell/gru.rs), for `rows` rows of `hidden` units:
///   gates (rows, 3H) in: x·W_ihᵀ + b_ih; out: r, z, n.  hh (rows, 3H): h·W_hhᵀ + b_hh.
///   r = σ(g_r + hh_r), z = σ(g_z + hh_z), n = tanh(g_n + r ⊙ hh_n), h = (1 − z) ⊙ n + z ⊙ h_prev
///   hn_lin (rows, H) out: hh_n (saved for backward). h_prev, h: (rows, H).
pub fn gru_cell<T: Real>(gates: &mut [T], hh: &[T], h_prev: &[T], hn_lin: &mut [T], h: &mut [T], rows: usize, hidden: usize) {
    let g3 = 3 * hidden;
    for r in 0..rows {
        for j in 0..hidden {
            let gi = r * g3;
            let k = r * hidden + j;
            let hn = hh[gi + 2 * hidden + j];
            let u = gru_unit(gates[gi + j], gates[gi + hidden + j], gates[gi + 2 * hidden + j], hh[gi + j], hh[gi + hidden + j], hn, h_prev[k]);
            gates[gi + j] = u[0];
            gates[gi + hidden + j] = u[1];
            gates[gi + 2 * hidden + j] = u[2];
            hn_lin[k] = hn;
            h[k] = u[3];
        }
    }
}

/// One unit of `gru_cell`: input-side (g) and recurrent-side (u) pre-activations of r, z, n and
/// h_prev → [r, z, n, h].
#[inline]
pub fn gru_unit<T: Real>(gr: T, gz: T, gn: T, ur: T, uz: T, un: T, h_prev: T) -> [T; 4] {
    let r = (gr + ur).sigmoid();
    let z = (gz + uz).sigmoid();
    let n = (gn + r * un).tanh();
    [r, z, n, (T::ONE - z) * n + z * h_prev]
}

/// GRU pointwise backward (cell/gru.rs), for `rows` rows of `hidden` units, from what forward
/// saved: gates (rows, 3H) r, z, n; h_prev (rows, H). dh (rows, H): total dL/dh'.
///   dgates (rows, 3H) out: z and n blocks (dL/d pre-activation; n's is dL/d(n's tanh input));
///   dh_prev (rows, H) out: the direct path dh ⊙ z.
///   reset_after: hn_lin (rows, H) in (W_hn h + b_hn); also the r block of dgates, and
///   dgates_hh (rows, 3H) out: r and z as in dgates, n block dan ⊙ r (what W_hh sees).
///   Without reset_after hn_lin and dgates_hh are not used (may be empty) and the r block is left
///   to the caller (it needs the product dan · W_hn).
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward<T: Real>(dgates: &mut [T], dgates_hh: &mut [T], dh_prev: &mut [T], dh: &[T], gates: &[T], hn_lin: &[T], h_prev: &[T], rows: usize, hidden: usize, reset_after: bool) {
    let g3 = 3 * hidden;
    for r in 0..rows {
        for j in 0..hidden {
            let (gi, k) = (r * g3 + j, r * hidden + j);
            let hn = if reset_after { hn_lin[k] } else { T::ZERO };
            let u = gru_unit_backward(gates[gi], gates[gi + hidden], gates[gi + 2 * hidden], hn, h_prev[k], dh[k]);
            dgates[gi + hidden] = u[1];
            dgates[gi + 2 * hidden] = u[2];
            dh_prev[k] = u[3];
            if reset_after {
                dgates[gi] = u[0];
                dgates_hh[gi] = u[0];
                dgates_hh[gi + hidden] = u[1];
                dgates_hh[gi + 2 * hidden] = u[4];
            }
        }
    }
}

/// One unit of `gru_cell_backward` → [dr (reset-after), dz, dan, dh·z, dan·r].
#[inline]
pub fn gru_unit_backward<T: Real>(r: T, z: T, n: T, hn: T, h_prev: T, dh: T) -> [T; 5] {
    let dn = dh * (T::ONE - z);
    let dz = dh * (h_prev - n);
    let dan = dn * (T::ONE - n * n); // tanh' = 1 − n²
    let dr = dan * hn;
    // σ' = y(1 − y)
    [dr * r * (T::ONE - r), dz * z * (T::ONE - z), dan, dh * z, dan * r]
}

// ---- f32 exp, σ, tanh: the one algorithm of every level ----
//
// e^x: Cody–Waite reduction x = n·ln2 + r (|r| ≤ ln2/2), Cephes' degree-7 expf polynomial, then
// 2^n through the exponent bits. n = round(x·log2 e) by adding and subtracting 1.5·2²³ (no
// rounding instruction needed; the integer n is then the low bits of that sum). Inputs are
// clamped to [−87, 88] so 2^n stays a normal float. Error ≤ 2 ulp.
// tanh: Cephes' odd polynomial below |x| = 0.625, else 1 − 2/(e^(2|x|) + 1) with the sign
// copied back. σ(x) = 1/(1 + e^(−x)). Relative error of both ≤ about 3e-7 (tested).
// NaN passes through every step (the clamps compare so that NaN keeps x).

pub const EXP_LO: f32 = -87.0;
pub const EXP_HI: f32 = 88.0;
pub const LOG2E: f32 = std::f32::consts::LOG2_E;
/// 1.5·2²³: (v + ROUND) − ROUND rounds v to the nearest integer for |v| < 2²².
pub const ROUND: f32 = 12_582_912.0;
/// ln 2 split in two: LN2_HI (= 355/512, exact) has 9 significant bits, so n·LN2_HI is exact.
#[allow(clippy::excessive_precision)]
pub const LN2_HI: f32 = 0.693_359_375;
#[allow(clippy::excessive_precision)]
pub const LN2_LO: f32 = -2.121_944_4e-4;
/// e^r ≈ 1 + r + r²·P(r), Horner from the highest power (Cephes' digits, rounded to f32).
#[allow(clippy::excessive_precision)]
pub const EXP_P: [f32; 6] = [1.987_569_15e-4, 1.398_199_95e-3, 8.333_451_9e-3, 4.166_579_6e-2, 1.666_666_55e-1, 5.000_000_1e-1];
/// tanh(x) ≈ x + x³·Q(x²) for |x| < TANH_SMALL (Cephes' digits, rounded to f32).
#[allow(clippy::excessive_precision)]
pub const TANH_Q: [f32; 5] = [-5.704_988_7e-3, 2.063_908_9e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328_2e-1];
pub const TANH_SMALL: f32 = 0.625;
pub const SIGN: u32 = 0x8000_0000;

/// e^x in f32 (see above).
#[inline]
pub fn expf(x: f32) -> f32 {
    let x = if x < EXP_LO { EXP_LO } else { x };
    let x = if x > EXP_HI { EXP_HI } else { x };
    let t = x * LOG2E + ROUND;
    let n = t - ROUND;
    let r = x - n * LN2_HI - n * LN2_LO;
    let z = r * r;
    let mut p = EXP_P[0];
    for &q in &EXP_P[1..] {
        p = p * r + q;
    }
    let y = p * z + r + 1.0;
    let e = (t.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    y * f32::from_bits((e.wrapping_add(127) as u32) << 23)
}

/// σ(x) = 1 / (1 + e^(−x)) in f32.
#[inline]
pub fn sigmoidf(x: f32) -> f32 {
    1.0 / (1.0 + expf(-x))
}

/// tanh(x) in f32 (see above).
#[inline]
pub fn tanhf(x: f32) -> f32 {
    let a = f32::from_bits(x.to_bits() & !SIGN);
    if a < TANH_SMALL {
        let z = x * x;
        let mut q = TANH_Q[0];
        for &c in &TANH_Q[1..] {
            q = q * z + c;
        }
        q * z * x + x
    } else {
        let y = 1.0 - 2.0 / (expf(a + a) + 1.0);
        f32::from_bits(y.to_bits() | (x.to_bits() & SIGN))
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
