//! Batch-1 LSTM and GRU (reset-after) steps with the cell fused into the recurrent product
//! (`Kernels::lstm_row`, `Kernels::gru_row`).
//!
//! At batch 1 a step multiplies h by all of W_hh (memory-bound), then the cell makes a second
//! pass over the gates whose σ / tanh chains wait on nothing but themselves. Here the product
//! runs in groups of NR units: a group streams the G panels that hold its units' gate columns
//! (packed panels u, H/NR + u, 2H/NR + u, ...: the gates interleaved by reading order, not by a
//! second packing), and the group's cell runs on the sums still in registers while the next
//! group's loads go out. Each element gets the operations of the unfused step in the same order
//! (a sum per KC block from zero, added to C: the gates row for LSTM, a zeroed row for GRU; then
//! b_hh added and `pointwise::lstm_cell` / `gru_cell`), so the same bits on every level.
//! Threads split the units (part i on thread i, as the unfused step's columns); each part writes
//! only its own units.

use super::gemm::{self, MicroKernel};
use super::pointwise::{sigmoid, tanh, F32Vec};
use super::{scalar, Level, PackedB};

/// Which cell a `RowPtrs` runs: its gate count and buffers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Cell {
    /// i, f, g, o; state c.
    Lstm,
    /// r, z, n (reset-after); hn_lin saved.
    Gru,
}

/// The operands of one fused step as raw pointers (shared with the pool's threads). Made by
/// `lstm` / `gru`, which check every length; null where the cell has no such buffer.
pub(crate) struct RowPtrs {
    cell: Cell,
    gates: *mut f32,
    b_hh: Option<*const f32>,
    h_prev: *const f32,
    panels: *const f32,
    hidden: usize,
    k: usize,
    /// LSTM: c_prev, c, tanh_c; GRU: hn_lin (c) only.
    c_prev: *const f32,
    c: *mut f32,
    tanh_c: *mut f32,
    /// h (LSTM without projection), h_raw (with one), or the GRU's h.
    out: *mut f32,
}
unsafe impl Send for RowPtrs {}
unsafe impl Sync for RowPtrs {}

impl RowPtrs {
    /// The key of a part's walk direction (gemm.rs `alternate_walk`): the panels and first unit.
    fn walk_key(&self, u0: usize) -> usize {
        self.panels as usize ^ u0.rotate_left(40)
    }
}

/// Panics (naming the buffer) when it is shorter than the step needs.
fn check_len(name: &str, len: usize, need: usize, hidden: usize, k: usize) {
    assert!(len >= need, "row step: {} holds {} values, the step needs {} (hidden={}, k={})", name, len, need, hidden, k);
}

/// What a level needs to run a fused step: its micro-kernel's panels (NR = K::NR), its CPU
/// check and its target-feature group loop.
pub(crate) struct RowLevel<K> {
    pub level: Level,
    pub need_cpu: fn(),
    pub groups: GroupsFn,
    pub kernel: std::marker::PhantomData<K>,
}

/// A level's group loop: units u0..u1 (multiples of NR), groups in reverse order when asked.
pub(crate) type GroupsFn = unsafe fn(&RowPtrs, usize, usize, bool);

/// Whether `w_hh` holds `K`'s panels of a (k, gates·hidden) matrix whose gate blocks split into
/// whole panels.
fn fits<K: MicroKernel>(lv: &RowLevel<K>, w_hh: &PackedB<'_, f32>, gates: usize, hidden: usize) -> bool {
    hidden > 0 && hidden % K::NR == 0 && w_hh.n == gates * hidden && w_hh.k > 0 && gemm::packed_for::<K>(w_hh, lv.level)
}

/// The fused LSTM step (see `Kernels::lstm_row`); false, having run nothing, where it does not
/// apply.
#[allow(clippy::too_many_arguments)]
pub(crate) fn lstm<K: MicroKernel>(lv: &RowLevel<K>, gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], h_prev: &[f32], w_hh: &PackedB<'_, f32>, hidden: usize) -> bool {
    if !fits(lv, w_hh, 4, hidden) {
        return false;
    }
    let k = w_hh.k;
    let len = |name: &str, len: usize, need: usize| check_len(name, len, need, hidden, k);
    len("gates", gates.len(), 4 * hidden);
    len("b_hh", b_hh.map_or(4 * hidden, |b| b.len()), 4 * hidden);
    len("c_prev", c_prev.len(), hidden);
    len("c", c.len(), hidden);
    len("tanh_c", tanh_c.len(), hidden);
    len("out", out.len(), hidden);
    len("h_prev", h_prev.len(), k);
    let p = RowPtrs {
        cell: Cell::Lstm,
        gates: gates.as_mut_ptr(),
        b_hh: b_hh.map(|b| b.as_ptr()),
        h_prev: h_prev.as_ptr(),
        panels: w_hh.panels.as_ptr(),
        hidden,
        k,
        c_prev: c_prev.as_ptr(),
        c: c.as_mut_ptr(),
        tanh_c: tanh_c.as_mut_ptr(),
        out: out.as_mut_ptr(),
    };
    (lv.need_cpu)();
    // SAFETY: lengths checked above, the panels are K's for (k, 4·hidden) (`fits`), the CPU
    // runs the level (need_cpu).
    unsafe { run(&p, K::NR, lv.groups) };
    true
}

/// The fused GRU (reset-after) step (see `Kernels::gru_row`); false, having run nothing, where
/// it does not apply.
#[allow(clippy::too_many_arguments)]
pub(crate) fn gru<K: MicroKernel>(lv: &RowLevel<K>, gates: &mut [f32], b_hh: Option<&[f32]>, h_prev: &[f32], hn_lin: &mut [f32], h: &mut [f32], w_hh: &PackedB<'_, f32>, hidden: usize) -> bool {
    if !fits(lv, w_hh, 3, hidden) {
        return false;
    }
    let k = w_hh.k;
    let len = |name: &str, len: usize, need: usize| check_len(name, len, need, hidden, k);
    len("gates", gates.len(), 3 * hidden);
    len("b_hh", b_hh.map_or(3 * hidden, |b| b.len()), 3 * hidden);
    len("h_prev", h_prev.len(), k.max(hidden));
    len("hn_lin", hn_lin.len(), hidden);
    len("h", h.len(), hidden);
    let p = RowPtrs {
        cell: Cell::Gru,
        gates: gates.as_mut_ptr(),
        b_hh: b_hh.map(|b| b.as_ptr()),
        h_prev: h_prev.as_ptr(),
        panels: w_hh.panels.as_ptr(),
        hidden,
        k,
        c_prev: std::ptr::null(),
        c: hn_lin.as_mut_ptr(),
        tanh_c: std::ptr::null_mut(),
        out: h.as_mut_ptr(),
    };
    (lv.need_cpu)();
    // SAFETY: as in `lstm`.
    unsafe { run(&p, K::NR, lv.groups) };
    true
}

/// Runs the step: units split among threads, each part's groups walked in alternating directions
/// from call to call (the reverse walk starts on the panels the last one read, still cached).
///
/// # Safety
/// `p` from `lstm` / `gru` on panels that the level of `groups` packed (NR = `nr`), the CPU
/// runs that level.
unsafe fn run(p: &RowPtrs, nr: usize, groups: GroupsFn) {
    let gates = if p.cell == Cell::Lstm { 4 } else { 3 };
    gemm::split_cols_pinned(p.hidden, nr, gates * p.hidden * p.k, &|u0, u1| {
        // Parts get disjoint unit ranges.
        groups(p, u0, u1, gemm::alternate_walk(p.walk_key(u0)))
    });
}

/// Units u0..u1 in groups of NR = NV·LANES (each level calls this from its target-feature
/// function, `K` its micro-kernel, whose panels these are).
///
/// # Safety
/// As `run`; u0, u1 multiples of NR within hidden.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // v picks the same vector of every gate's sums
pub(crate) unsafe fn groups<K: MicroKernel, V: F32Vec, const NV: usize>(p: &RowPtrs, u0: usize, u1: usize, reverse: bool) {
    debug_assert_eq!(K::NR, NV * V::LANES);
    let count = (u1 - u0) / K::NR;
    for s in 0..count {
        let u = u0 + (if reverse { count - 1 - s } else { s }) * K::NR;
        match p.cell {
            Cell::Lstm => {
                // C is the gates row (x·W_ihᵀ + b_ih): the sums start from it.
                let mut c = [[V::splat(0.0); NV]; 4];
                for (q, c_q) in c.iter_mut().enumerate() {
                    for (v, c_v) in c_q.iter_mut().enumerate() {
                        *c_v = V::load(p.gates.add(q * p.hidden + u + v * V::LANES));
                    }
                }
                let c = sums::<V, NV, 4>(p, u, c);
                for v in 0..NV {
                    lstm_cell::<V>(p, u + v * V::LANES, [c[0][v], c[1][v], c[2][v], c[3][v]]);
                }
            }
            Cell::Gru => {
                // C is the zeroed recurrent row (W_hh h, then + b_hh).
                let c = sums::<V, NV, 3>(p, u, [[V::splat(0.0); NV]; 3]);
                for v in 0..NV {
                    gru_cell::<V>(p, u + v * V::LANES, [c[0][v], c[1][v], c[2][v]]);
                }
            }
        }
    }
}

/// C + h·W_hhᵀ for units u..u+NR of each of the G gate blocks: per KC block, the G panels side by
/// side (one h broadcast per k step, G·NV independent add chains), the block's sum added to C
/// (`c`: C's values, gate by gate) as `packed_cols_v` adds it. (No closures here: a closure
/// defined in these generic functions does not get the target features of the level function
/// they are inlined into, so the vector code in it might not be inlined.)
///
/// # Safety
/// As `groups`.
#[inline(always)]
unsafe fn sums<V: F32Vec, const NV: usize, const G: usize>(p: &RowPtrs, u: usize, mut c: [[V; NV]; G]) -> [[V; NV]; G] {
    let (h, l) = (p.hidden, V::LANES);
    let (nr, n_pad) = (NV * l, G * h);
    let mut p0 = 0;
    while p0 < p.k {
        let kc = scalar::KC.min(p.k - p0);
        // Block p0's panels start at p0·n_pad; the panel of column j at j·kc within it.
        let block = p.panels.add(p0 * n_pad);
        let mut bq = [block; G];
        for (q, b) in bq.iter_mut().enumerate() {
            *b = block.add((q * h + u) * kc);
        }
        let mut acc = [[V::splat(0.0); NV]; G];
        for i in 0..kc {
            let av = V::splat(*p.h_prev.add(p0 + i));
            for (q, acc_q) in acc.iter_mut().enumerate() {
                for (v, acc_v) in acc_q.iter_mut().enumerate() {
                    *acc_v = acc_v.add(av.mul(V::load(bq[q].add(i * nr + v * l))));
                }
            }
        }
        for (c_q, acc_q) in c.iter_mut().zip(acc.iter()) {
            for (c_v, &acc_v) in c_q.iter_mut().zip(acc_q.iter()) {
                *c_v = c_v.add(acc_v);
            }
        }
        p0 += kc;
    }
    c
}

/// b_hh's vector for gate q at unit j added to x (no bias: x).
///
/// # Safety
/// As `groups`; j + LANES ≤ hidden.
#[inline(always)]
unsafe fn plus_bias<V: F32Vec>(p: &RowPtrs, x: V, q: usize, j: usize) -> V {
    match p.b_hh {
        Some(b) => x.add(V::load(b.add(q * p.hidden + j))),
        None => x,
    }
}

/// The LSTM cell of units j..j+LANES from the pre-activations without b_hh: `pointwise::lstm_cell`'s
/// operations.
///
/// # Safety
/// As `groups`; j + LANES ≤ hidden.
#[inline(always)]
unsafe fn lstm_cell<V: F32Vec>(p: &RowPtrs, j: usize, c: [V; 4]) {
    let h = p.hidden;
    let mut act = [V::splat(0.0); 4];
    for (q, a) in act.iter_mut().enumerate() {
        let pre = plus_bias(p, c[q], q, j);
        *a = if q == 2 { tanh(pre) } else { sigmoid(pre) };
        a.store(p.gates.add(q * h + j));
    }
    let [i, f, g, o] = act;
    let c = f.mul(V::load(p.c_prev.add(j))).add(i.mul(g));
    c.store(p.c.add(j));
    let tc = tanh(c);
    tc.store(p.tanh_c.add(j));
    o.mul(tc).store(p.out.add(j));
}

/// The GRU (reset-after) cell of units j..j+LANES from the recurrent sums without b_hh:
/// `pointwise::gru_cell`'s operations (hn_lin = W_hn h + b_hn is saved for backward).
///
/// # Safety
/// As `groups`; j + LANES ≤ hidden.
#[inline(always)]
unsafe fn gru_cell<V: F32Vec>(p: &RowPtrs, j: usize, c: [V; 3]) {
    let h = p.hidden;
    let g = |q: usize| p.gates.add(q * h + j);
    let r = sigmoid(V::load(g(0)).add(plus_bias(p, c[0], 0, j)));
    let z = sigmoid(V::load(g(1)).add(plus_bias(p, c[1], 1, j)));
    let un = plus_bias(p, c[2], 2, j);
    let n = tanh(V::load(g(2)).add(r.mul(un)));
    r.store(g(0));
    z.store(g(1));
    n.store(g(2));
    un.store(p.c.add(j));
    let one = V::splat(1.0);
    one.sub(z).mul(n).add(z.mul(V::load(p.h_prev.add(j)))).store(p.out.add(j));
}
