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
pub(crate) unsafe fn sigmoid<V: F32Vec>(x: V) -> V {
    let one = V::splat(1.0);
    one.div(one.add(exp(x.neg())))
}

/// tanh(x), as `scalar::tanhf`: both branches, then a select.
#[inline(always)]
pub(crate) unsafe fn tanh<V: F32Vec>(x: V) -> V {
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

/// x ← σ(x) or tanh(x) element-wise: pairs of vectors, then one vector, then scalar.rs.
#[inline(always)]
pub(crate) unsafe fn map<V: F32Vec>(x: &mut [f32], use_tanh: bool) {
    let i = map_vectors::<Two<V>>(x, 0, use_tanh);
    let i = map_vectors::<V>(x, i, use_tanh);
    for v in &mut x[i..] {
        *v = if use_tanh { scalar::tanhf(*v) } else { scalar::sigmoidf(*v) };
    }
}

/// `map` over the whole `W`s of x from i on; returns where it stopped.
#[inline(always)]
unsafe fn map_vectors<W: F32Vec>(x: &mut [f32], mut i: usize, use_tanh: bool) -> usize {
    let (n, p) = (x.len(), x.as_mut_ptr());
    while i + W::LANES <= n {
        let v = W::load(p.add(i));
        (if use_tanh { tanh(v) } else { sigmoid(v) }).store(p.add(i));
        i += W::LANES;
    }
    i
}

/// Two vectors side by side, each operation applied to both. σ and tanh are one long dependency
/// chain per vector (~75 cycles for σ), and the out-of-order window holds too few of them to keep
/// the FP pipes busy; two chains interleaved instruction by instruction do better
/// (`rnnkit-bench cells sigmoid`, avx2, side by side: 0.93 → 0.76 ns per value). Each lane's
/// operations are unchanged, so are its bits.
#[derive(Clone, Copy)]
struct Two<V>(V, V);

impl<V: F32Vec> F32Vec for Two<V> {
    const LANES: usize = 2 * V::LANES;
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        Two(V::load(p), V::load(p.add(V::LANES)))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        self.0.store(p);
        self.1.store(p.add(V::LANES))
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Two(V::splat(x), V::splat(x))
    }
    #[inline(always)]
    unsafe fn add(self, b: Self) -> Self {
        Two(self.0.add(b.0), self.1.add(b.1))
    }
    #[inline(always)]
    unsafe fn sub(self, b: Self) -> Self {
        Two(self.0.sub(b.0), self.1.sub(b.1))
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Two(self.0.mul(b.0), self.1.mul(b.1))
    }
    #[inline(always)]
    unsafe fn div(self, b: Self) -> Self {
        Two(self.0.div(b.0), self.1.div(b.1))
    }
    #[inline(always)]
    unsafe fn at_least(self, lo: f32) -> Self {
        Two(self.0.at_least(lo), self.1.at_least(lo))
    }
    #[inline(always)]
    unsafe fn at_most(self, hi: f32) -> Self {
        Two(self.0.at_most(hi), self.1.at_most(hi))
    }
    #[inline(always)]
    unsafe fn neg(self) -> Self {
        Two(self.0.neg(), self.1.neg())
    }
    #[inline(always)]
    unsafe fn abs(self) -> Self {
        Two(self.0.abs(), self.1.abs())
    }
    #[inline(always)]
    unsafe fn or_sign_of(self, x: Self) -> Self {
        Two(self.0.or_sign_of(x.0), self.1.or_sign_of(x.1))
    }
    #[inline(always)]
    unsafe fn select_lt(self, lim: f32, if_lt: Self, other: Self) -> Self {
        Two(self.0.select_lt(lim, if_lt.0, other.0), self.1.select_lt(lim, if_lt.1, other.1))
    }
    #[inline(always)]
    unsafe fn pow2_of_rounded(t: Self) -> Self {
        Two(V::pow2_of_rounded(t.0), V::pow2_of_rounded(t.1))
    }
}

/// See `scalar::lstm_cell`. Runs in passes over each row (bias; σ, tanh, σ of the gates; c; tanh c;
/// out), each a loop of short independent iterations that `map` runs in pairs. One unit's σ/tanh
/// then tanh(c) in one iteration made a dependency chain of ~160 cycles over ~280 instructions,
/// more than the out-of-order window holds. Measured with `rnnkit-bench cells lstm_cell` (avx2,
/// 32 × 128, old and new binaries side by side on the two cores): 7.1 → 5.8 ns per unit.
///
/// # Safety
/// Lengths as `scalar::lstm_cell` checks them (the safe wrappers do); the CPU runs `V`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn lstm_cell<V: F32Vec>(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    let h = hidden;
    let hv = h / V::LANES * V::LANES;
    for r in 0..rows {
        let g = &mut gates[r * 4 * h..(r + 1) * 4 * h];
        if let Some(b) = b_hh {
            add_assign::<V>(g, &b[..4 * h]);
        }
        map::<V>(&mut g[..2 * h], false);
        map::<V>(&mut g[2 * h..3 * h], true);
        map::<V>(&mut g[3 * h..], false);
        let k = r * h;
        let (cr, tr, out_r) = (&mut c[k..k + h], &mut tanh_c[k..k + h], &mut out[k..k + h]);
        let (cp, gp) = (c_prev[k..k + h].as_ptr(), g.as_ptr());
        let mut j = 0;
        while j < hv {
            let cn = V::load(gp.add(h + j)).mul(V::load(cp.add(j))).add(V::load(gp.add(j)).mul(V::load(gp.add(2 * h + j))));
            cn.store(cr.as_mut_ptr().add(j));
            cn.store(tr.as_mut_ptr().add(j));
            j += V::LANES;
        }
        for j in hv..h {
            cr[j] = g[h + j] * *cp.add(j) + g[j] * g[2 * h + j];
            tr[j] = cr[j];
        }
        map::<V>(tr, true);
        mul_into::<V>(out_r, &g[3 * h..], tr);
    }
}

/// x += y element-wise (x.len() ≤ y.len()).
///
/// # Safety
/// The CPU runs `V` (likewise the helpers below).
#[inline(always)]
unsafe fn add_assign<V: F32Vec>(x: &mut [f32], y: &[f32]) {
    let (n, xp, yp) = (x.len(), x.as_mut_ptr(), y[..x.len()].as_ptr());
    let mut j = 0;
    while j + V::LANES <= n {
        V::load(xp.add(j)).add(V::load(yp.add(j))).store(xp.add(j));
        j += V::LANES;
    }
    for j in j..n {
        *xp.add(j) += *yp.add(j);
    }
}

/// out = a ⊙ b element-wise (over out.len(), which a and b reach).
#[inline(always)]
unsafe fn mul_into<V: F32Vec>(out: &mut [f32], a: &[f32], b: &[f32]) {
    let n = out.len();
    let (op, ap, bp) = (out.as_mut_ptr(), a[..n].as_ptr(), b[..n].as_ptr());
    let mut j = 0;
    while j + V::LANES <= n {
        V::load(ap.add(j)).mul(V::load(bp.add(j))).store(op.add(j));
        j += V::LANES;
    }
    for j in j..n {
        *op.add(j) = *ap.add(j) * *bp.add(j);
    }
}

/// See `scalar::gru_cell`. In passes over each row, as `lstm_cell` (σ of r and z; n's
/// pre-activation; its tanh; h): σ(r) then tanh(n) in one iteration was one long chain
/// (`rnnkit-bench cells gru_cell`, avx2, 32 × 128, side by side: 4.4 → 3.5 ns per unit).
///
/// # Safety
/// Lengths as `scalar::gru_cell` checks them (the safe wrappers do); the CPU runs `V`.
#[inline(always)]
pub(crate) unsafe fn gru_cell<V: F32Vec>(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], rows: usize, hidden: usize) {
    let hd = hidden;
    let hv = hd / V::LANES * V::LANES;
    let one = V::splat(1.0);
    for r in 0..rows {
        let g = &mut gates[r * 3 * hd..(r + 1) * 3 * hd];
        let u = &hh[r * 3 * hd..(r + 1) * 3 * hd];
        let k = r * hd;
        add_assign::<V>(&mut g[..2 * hd], u);
        map::<V>(&mut g[..2 * hd], false);
        // n's pre-activation g_n + r ⊙ hh_n; hh_n is saved for backward.
        let (gp, up, hn) = (g.as_mut_ptr(), u.as_ptr(), hn_lin[k..k + hd].as_mut_ptr());
        let mut j = 0;
        while j < hv {
            let un = V::load(up.add(2 * hd + j));
            V::load(gp.add(2 * hd + j)).add(V::load(gp.add(j)).mul(un)).store(gp.add(2 * hd + j));
            un.store(hn.add(j));
            j += V::LANES;
        }
        for j in hv..hd {
            *gp.add(2 * hd + j) += *gp.add(j) * *up.add(2 * hd + j);
            *hn.add(j) = *up.add(2 * hd + j);
        }
        map::<V>(&mut g[2 * hd..], true);
        let (gp, hp, ho) = (g.as_ptr(), h_prev[k..k + hd].as_ptr(), h[k..k + hd].as_mut_ptr());
        let mut j = 0;
        while j < hv {
            let (zg, n) = (V::load(gp.add(hd + j)), V::load(gp.add(2 * hd + j)));
            one.sub(zg).mul(n).add(zg.mul(V::load(hp.add(j)))).store(ho.add(j));
            j += V::LANES;
        }
        for j in hv..hd {
            let (zg, n) = (*gp.add(hd + j), *gp.add(2 * hd + j));
            *ho.add(j) = (1.0 - zg) * n + zg * *hp.add(j);
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
