//! The vectorised pointwise kernels — σ, tanh and the fused LSTM / GRU cell steps — written once
//! over a small vector trait that each instruction-set file implements (`F32Vec`: 4, 8 or 16
//! lanes). Every function here runs scalar.rs's algorithm lane by lane (the same operations in the
//! same order), so all levels give scalar's bits; tails shorter than a vector run scalar.rs itself.
//!
//! How it compiles to SIMD: everything here and every `F32Vec` method is `#[inline(always)]`, and
//! each level calls it from one function with that level's `#[target_feature]` (x86) or from a
//! build with the feature on (wasm simd128). The intrinsics are inlined there.

use super::scalar::{self, EXP_HI, EXP_LO, EXP_P, LN2_HI, LN2_LO, LOG2E, ROUND, TANH_Q, TANH_SMALL};

/// f32 lanes of one instruction set, with the operations the kernels below need. Methods are
/// unsafe: they run that instruction set's intrinsics (the caller guarantees the CPU has it).
pub(crate) trait F32Vec: Copy {
    const LANES: usize;
    /// # Safety
    /// `p` readable for LANES values (no alignment needed); likewise `store`.
    unsafe fn load(p: *const f32) -> Self;
    /// # Safety
    /// `p` writable for LANES values.
    unsafe fn store(self, p: *mut f32);
    /// # Safety
    /// The CPU runs this instruction set (every method).
    unsafe fn splat(x: f32) -> Self;
    unsafe fn add(self, b: Self) -> Self;
    unsafe fn sub(self, b: Self) -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    unsafe fn div(self, b: Self) -> Self;
    /// `lo` where self < lo, else self (NaN stays NaN).
    unsafe fn at_least(self, lo: f32) -> Self;
    /// `hi` where self > hi, else self (NaN stays NaN).
    unsafe fn at_most(self, hi: f32) -> Self;
    /// Sign bit flipped.
    unsafe fn neg(self) -> Self;
    /// Sign bit cleared.
    unsafe fn abs(self) -> Self;
    /// self (non-negative) with the sign bit of `x` ORed in.
    unsafe fn or_sign_of(self, x: Self) -> Self;
    /// `if_lt` in the lanes where self < lim, `other` elsewhere.
    unsafe fn select_lt(self, lim: f32, if_lt: Self, other: Self) -> Self;
    /// 2^n as f32 bits, for t = n + ROUND (the exp's rounded exponent): ((t − ROUND) + 127) << 23
    /// on the integer bits.
    unsafe fn pow2_of_rounded(t: Self) -> Self;
}

/// Panics unless the buffers of `lstm_cell` hold `rows` × `hidden` units.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_lstm(gates: &[f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &[f32], tanh_c: &[f32], out: &[f32], rows: usize, hidden: usize) {
    let rh = rows * hidden;
    assert!(gates.len() >= 4 * rh && c_prev.len() >= rh && c.len() >= rh && tanh_c.len() >= rh && out.len() >= rh, "lstm_cell: buffers shorter than rows={} hidden={}", rows, hidden);
    assert!(b_hh.map_or(true, |b| b.len() >= 4 * hidden), "lstm_cell: b_hh shorter than 4·hidden");
}

/// Panics unless the buffers of `gru_cell` hold `rows` × `hidden` units.
pub(crate) fn check_gru(gates: &[f32], hh: &[f32], h_prev: &[f32], hn_lin: &[f32], h: &[f32], rows: usize, hidden: usize) {
    let rh = rows * hidden;
    assert!(gates.len() >= 3 * rh && hh.len() >= 3 * rh && h_prev.len() >= rh && hn_lin.len() >= rh && h.len() >= rh, "gru_cell: buffers shorter than rows={} hidden={}", rows, hidden);
}

/// Panics unless the buffers of `lstm_cell_backward` hold `rows` × `hidden` units.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_lstm_backward(dgates: &[f32], dc_prev: &[f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    let rh = rows * hidden;
    assert!(
        dgates.len() >= 4 * rh && gates.len() >= 4 * rh && dc_prev.len() >= rh && dh.len() >= rh && dc.len() >= rh && c_prev.len() >= rh && tanh_c.len() >= rh,
        "lstm_cell_backward: buffers shorter than rows={} hidden={}",
        rows,
        hidden
    );
}

/// Panics unless the buffers of `gru_cell_backward` hold `rows` × `hidden` units.
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_gru_backward(dgates: &[f32], dgates_hh: &[f32], dh_prev: &[f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    let rh = rows * hidden;
    assert!(dgates.len() >= 3 * rh && gates.len() >= 3 * rh && dh_prev.len() >= rh && dh.len() >= rh && h_prev.len() >= rh, "gru_cell_backward: buffers shorter than rows={} hidden={}", rows, hidden);
    assert!(!reset_after || (dgates_hh.len() >= 3 * rh && hn_lin.len() >= rh), "gru_cell_backward: dgates_hh / hn_lin shorter than rows={} hidden={}", rows, hidden);
}

/// e^x, as `scalar::expf`.
///
/// # Safety
/// The CPU runs `V` (likewise every function below).
#[inline(always)]
unsafe fn exp<V: F32Vec>(x: V) -> V {
    let x = x.at_least(EXP_LO).at_most(EXP_HI);
    let round = V::splat(ROUND);
    let t = x.mul(V::splat(LOG2E)).add(round);
    let n = t.sub(round);
    let r = x.sub(n.mul(V::splat(LN2_HI))).sub(n.mul(V::splat(LN2_LO)));
    let z = r.mul(r);
    let mut p = V::splat(EXP_P[0]);
    for &q in &EXP_P[1..] {
        p = p.mul(r).add(V::splat(q));
    }
    let y = p.mul(z).add(r).add(V::splat(1.0));
    y.mul(V::pow2_of_rounded(t))
}

/// σ(x) = 1 / (1 + e^(−x)), as `scalar::sigmoidf`.
#[inline(always)]
unsafe fn sigmoid<V: F32Vec>(x: V) -> V {
    let one = V::splat(1.0);
    one.div(one.add(exp(x.neg())))
}

/// tanh(x), as `scalar::tanhf`: both branches, then a select.
#[inline(always)]
unsafe fn tanh<V: F32Vec>(x: V) -> V {
    let a = x.abs();
    let z = x.mul(x);
    let mut q = V::splat(TANH_Q[0]);
    for &cq in &TANH_Q[1..] {
        q = q.mul(z).add(V::splat(cq));
    }
    let small = q.mul(z).mul(x).add(x);
    let one = V::splat(1.0);
    let e = exp(a.add(a));
    let large = one.sub(V::splat(2.0).div(e.add(one))).or_sign_of(x);
    a.select_lt(TANH_SMALL, small, large)
}

/// x ← σ(x) or tanh(x) element-wise.
#[inline(always)]
pub(crate) unsafe fn map<V: F32Vec>(x: &mut [f32], use_tanh: bool) {
    let n = x.len();
    let p = x.as_mut_ptr();
    let mut i = 0;
    while i + V::LANES <= n {
        let v = V::load(p.add(i));
        (if use_tanh { tanh(v) } else { sigmoid(v) }).store(p.add(i));
        i += V::LANES;
    }
    for v in &mut x[i..] {
        *v = if use_tanh { scalar::tanhf(*v) } else { scalar::sigmoidf(*v) };
    }
}

/// See `scalar::lstm_cell`.
///
/// # Safety
/// Lengths as `scalar::lstm_cell` checks them (the safe wrappers do); the CPU runs `V`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn lstm_cell<V: F32Vec>(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    let h = hidden;
    for r in 0..rows {
        let g = gates.as_mut_ptr().add(r * 4 * h);
        let mut j = 0;
        while j + V::LANES <= h {
            let mut pre = [V::splat(0.0); 4];
            for (q, v) in pre.iter_mut().enumerate() {
                *v = V::load(g.add(q * h + j));
                if let Some(b) = b_hh {
                    *v = v.add(V::load(b.as_ptr().add(q * h + j)));
                }
            }
            let (i, f, gg, o) = (sigmoid(pre[0]), sigmoid(pre[1]), tanh(pre[2]), sigmoid(pre[3]));
            i.store(g.add(j));
            f.store(g.add(h + j));
            gg.store(g.add(2 * h + j));
            o.store(g.add(3 * h + j));
            let k = r * h + j;
            let cn = f.mul(V::load(c_prev.as_ptr().add(k))).add(i.mul(gg));
            let tc = tanh(cn);
            cn.store(c.as_mut_ptr().add(k));
            tc.store(tanh_c.as_mut_ptr().add(k));
            o.mul(tc).store(out.as_mut_ptr().add(k));
            j += V::LANES;
        }
        for jj in j..h {
            let k = r * h + jj;
            let pre = |q: usize| {
                let v = *g.add(q * h + jj);
                match b_hh {
                    Some(b) => v + b[q * h + jj],
                    None => v,
                }
            };
            let u = scalar::lstm_unit(pre(0), pre(1), pre(2), pre(3), c_prev[k]);
            for (q, &uq) in u.iter().enumerate().take(4) {
                *g.add(q * h + jj) = uq;
            }
            c[k] = u[4];
            tanh_c[k] = u[5];
            out[k] = u[6];
        }
    }
}

/// See `scalar::gru_cell`.
///
/// # Safety
/// Lengths as `scalar::gru_cell` checks them (the safe wrappers do); the CPU runs `V`.
#[inline(always)]
pub(crate) unsafe fn gru_cell<V: F32Vec>(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    let hd = hidden;
    let one = V::splat(1.0);
    for r in 0..rows {
        let g = gates.as_mut_ptr().add(r * 3 * hd);
        let u = hh.as_ptr().add(r * 3 * hd);
        let mut j = 0;
        while j + V::LANES <= hd {
            let k = r * hd + j;
            let rg = sigmoid(V::load(g.add(j)).add(V::load(u.add(j))));
            let zg = sigmoid(V::load(g.add(hd + j)).add(V::load(u.add(hd + j))));
            let hn = V::load(u.add(2 * hd + j));
            let n = tanh(V::load(g.add(2 * hd + j)).add(rg.mul(hn)));
            rg.store(g.add(j));
            zg.store(g.add(hd + j));
            n.store(g.add(2 * hd + j));
            hn.store(hn_lin.as_mut_ptr().add(k));
            one.sub(zg).mul(n).add(zg.mul(V::load(h_prev.as_ptr().add(k)))).store(h.as_mut_ptr().add(k));
            j += V::LANES;
        }
        for jj in j..hd {
            let k = r * hd + jj;
            let v = scalar::gru_unit(*g.add(jj), *g.add(hd + jj), *g.add(2 * hd + jj), *u.add(jj), *u.add(hd + jj), *u.add(2 * hd + jj), h_prev[k]);
            *g.add(jj) = v[0];
            *g.add(hd + jj) = v[1];
            *g.add(2 * hd + jj) = v[2];
            hn_lin[k] = *u.add(2 * hd + jj);
            h[k] = v[3];
        }
    }
}

/// See `scalar::lstm_cell_backward`.
///
/// # Safety
/// Lengths as `check_lstm_backward` checks them (the safe wrappers do); the CPU runs `V`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn lstm_cell_backward<V: F32Vec>(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    let h = hidden;
    let one = V::splat(1.0);
    for r in 0..rows {
        let g = gates.as_ptr().add(r * 4 * h);
        let d = dgates.as_mut_ptr().add(r * 4 * h);
        let mut j = 0;
        while j + V::LANES <= h {
            let k = r * h + j;
            let (i, f, gg, o) = (V::load(g.add(j)), V::load(g.add(h + j)), V::load(g.add(2 * h + j)), V::load(g.add(3 * h + j)));
            let tc = V::load(tanh_c.as_ptr().add(k));
            let dhk = V::load(dh.as_ptr().add(k));
            let d_o = dhk.mul(tc);
            let dct = V::load(dc.as_ptr().add(k)).add(dhk.mul(o).mul(one.sub(tc.mul(tc))));
            dct.mul(gg).mul(i).mul(one.sub(i)).store(d.add(j));
            dct.mul(V::load(c_prev.as_ptr().add(k))).mul(f).mul(one.sub(f)).store(d.add(h + j));
            dct.mul(i).mul(one.sub(gg.mul(gg))).store(d.add(2 * h + j));
            d_o.mul(o).mul(one.sub(o)).store(d.add(3 * h + j));
            dct.mul(f).store(dc_prev.as_mut_ptr().add(k));
            j += V::LANES;
        }
        for jj in j..h {
            let k = r * h + jj;
            let u = scalar::lstm_unit_backward(*g.add(jj), *g.add(h + jj), *g.add(2 * h + jj), *g.add(3 * h + jj), c_prev[k], tanh_c[k], dh[k], dc[k]);
            for (q, &uq) in u.iter().enumerate().take(4) {
                *d.add(q * h + jj) = uq;
            }
            dc_prev[k] = u[4];
        }
    }
}

/// See `scalar::gru_cell_backward`.
///
/// # Safety
/// Lengths as `check_gru_backward` checks them (the safe wrappers do); the CPU runs `V`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gru_cell_backward<V: F32Vec>(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    let h = hidden;
    let one = V::splat(1.0);
    for r in 0..rows {
        let g = gates.as_ptr().add(r * 3 * h);
        let d = dgates.as_mut_ptr().add(r * 3 * h);
        let mut j = 0;
        while j + V::LANES <= h {
            let k = r * h + j;
            let (rg, zg, n) = (V::load(g.add(j)), V::load(g.add(h + j)), V::load(g.add(2 * h + j)));
            let dhk = V::load(dh.as_ptr().add(k));
            let dn = dhk.mul(one.sub(zg));
            let dz = dhk.mul(V::load(h_prev.as_ptr().add(k)).sub(n));
            let dan = dn.mul(one.sub(n.mul(n)));
            let dgz = dz.mul(zg).mul(one.sub(zg));
            dgz.store(d.add(h + j));
            dan.store(d.add(2 * h + j));
            dhk.mul(zg).store(dh_prev.as_mut_ptr().add(k));
            if reset_after {
                let dgr = dan.mul(V::load(hn_lin.as_ptr().add(k))).mul(rg).mul(one.sub(rg));
                let u = dgates_hh.as_mut_ptr().add(r * 3 * h);
                dgr.store(d.add(j));
                dgr.store(u.add(j));
                dgz.store(u.add(h + j));
                dan.mul(rg).store(u.add(2 * h + j));
            }
            j += V::LANES;
        }
        for jj in j..h {
            let k = r * h + jj;
            let hn = if reset_after { hn_lin[k] } else { 0.0 };
            let u = scalar::gru_unit_backward(*g.add(jj), *g.add(h + jj), *g.add(2 * h + jj), hn, h_prev[k], dh[k]);
            *d.add(h + jj) = u[1];
            *d.add(2 * h + jj) = u[2];
            dh_prev[k] = u[3];
            if reset_after {
                let gi = r * 3 * h + jj;
                *d.add(jj) = u[0];
                dgates_hh[gi] = u[0];
                dgates_hh[gi + h] = u[1];
                dgates_hh[gi + 2 * h] = u[4];
            }
        }
    }
}
