//! The batch-1 LSTM step with the cell fused into the recurrent product (`Kernels::lstm_row`).
//!
//! At batch 1 a step multiplies h by all of W_hh (memory-bound), then the cell makes a second
//! pass over the gates whose σ / tanh chains wait on nothing but themselves. Here the product
//! runs in groups of NR units: a group streams the four panels that hold its units' i, f, g and o
//! columns (packed panels u, H/NR + u, 2H/NR + u, 3H/NR + u: the gates interleaved by reading
//! order, not by a second packing), and the group's cell runs on the sums still in registers
//! while the next group's loads go out. Each element gets the operations of `packed_cols_v`
//! then `pointwise::lstm_cell` (sum per KC block from zero, added to the gates row; + b_hh; σ /
//! tanh; c, tanh c, out), in the same order: the same bits as the unfused step on every level.
//! Threads split the units (part i on thread i, as the unfused step's columns), each writing
//! its own units of the gates row, c, tanh c and out.

use super::gemm::{self, MicroKernel};
use super::pointwise::{sigmoid, tanh, F32Vec};
use super::{scalar, PackedB};

/// Whether the fused step applies: W_hh is (k, 4·hidden) and the gates split into whole panels.
pub(crate) fn fits(w_hh: &PackedB<'_, f32>, hidden: usize, nr: usize) -> bool {
    hidden > 0 && hidden % nr == 0 && w_hh.n == 4 * hidden && w_hh.k > 0
}

/// The operands of one fused step as raw pointers (shared with the pool's threads; each part
/// writes only its own units). Made by `new`, which checks every length.
pub(crate) struct RowPtrs {
    gates: *mut f32,
    b_hh: Option<*const f32>,
    c_prev: *const f32,
    c: *mut f32,
    tanh_c: *mut f32,
    out: *mut f32,
    h_prev: *const f32,
    panels: *const f32,
    n_pad: usize,
    hidden: usize,
    k: usize,
}
unsafe impl Send for RowPtrs {}
unsafe impl Sync for RowPtrs {}

impl RowPtrs {
    /// Panics (naming the buffer) unless gates and b_hh hold 4·hidden values, c_prev, c, tanh_c
    /// and out hidden, h_prev k, and the panels k · 4·hidden.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], h_prev: &[f32], w_hh: &PackedB<'_, f32>, hidden: usize) -> RowPtrs {
        let (k, n) = (w_hh.k, 4 * hidden);
        let short = |name: &str, len: usize, need: usize| assert!(len >= need, "lstm_row: {} holds {} values, the step needs {} (hidden={}, k={})", name, len, need, hidden, k);
        short("gates", gates.len(), n);
        if let Some(b) = b_hh {
            short("b_hh", b.len(), n);
        }
        short("c_prev", c_prev.len(), hidden);
        short("c", c.len(), hidden);
        short("tanh_c", tanh_c.len(), hidden);
        short("out", out.len(), hidden);
        short("h_prev", h_prev.len(), k);
        assert_eq!(w_hh.n, n, "lstm_row: w_hh has {} columns, 4·hidden = {}", w_hh.n, n);
        short("w_hh panels", w_hh.panels.len(), k * n);
        RowPtrs {
            gates: gates.as_mut_ptr(),
            b_hh: b_hh.map(|b| b.as_ptr()),
            c_prev: c_prev.as_ptr(),
            c: c.as_mut_ptr(),
            tanh_c: tanh_c.as_mut_ptr(),
            out: out.as_mut_ptr(),
            h_prev: h_prev.as_ptr(),
            panels: w_hh.panels.as_ptr(),
            n_pad: n,
            hidden,
            k,
        }
    }

    /// The key of a part's walk direction (gemm.rs `alternate_walk`): the panels and first unit.
    fn walk_key(&self, u0: usize) -> usize {
        self.panels as usize ^ u0.rotate_left(40)
    }
}

/// A level's group loop: units u0..u1 (multiples of NR), groups in reverse order when asked.
pub(crate) type GroupsFn = unsafe fn(&RowPtrs, usize, usize, bool);

/// Runs the step: units split among threads, each part's groups walked in alternating directions
/// from call to call (the reverse walk starts on the panels the last one read, still cached).
///
/// # Safety
/// `p` from `RowPtrs::new` on panels that the level of `groups` packed (NR = `nr`), `fits`
/// holds, the CPU runs that level.
pub(crate) unsafe fn run(p: &RowPtrs, nr: usize, groups: GroupsFn) {
    gemm::split_cols_pinned(p.hidden, nr, 4 * p.hidden * p.k, &|u0, u1| {
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
pub(crate) unsafe fn groups<K: MicroKernel, V: F32Vec, const NV: usize>(p: &RowPtrs, u0: usize, u1: usize, reverse: bool) {
    debug_assert_eq!(K::NR, NV * V::LANES);
    let count = (u1 - u0) / K::NR;
    for s in 0..count {
        let s = if reverse { count - 1 - s } else { s };
        group::<V, NV>(p, u0 + s * K::NR);
    }
}

/// One group: units u..u+NR. Per KC block, the four gate panels side by side (one h broadcast per
/// k step, 4·NV independent add chains); the block's sums are added to the gates row, except the
/// last block's, which go straight into the cell.
///
/// # Safety
/// As `groups`.
#[inline(always)]
#[allow(clippy::needless_range_loop)] // v indexes all four gates' sums
unsafe fn group<V: F32Vec, const NV: usize>(p: &RowPtrs, u: usize) {
    let (h, l) = (p.hidden, V::LANES);
    let nr = NV * l;
    let mut p0 = 0;
    while p0 < p.k {
        let kc = scalar::KC.min(p.k - p0);
        // Block p0's panels start at p0·n_pad; the panel of column j at j·kc within it.
        let block = p.panels.add(p0 * p.n_pad);
        let bq = [block.add(u * kc), block.add((h + u) * kc), block.add((2 * h + u) * kc), block.add((3 * h + u) * kc)];
        let mut acc = [[V::splat(0.0); NV]; 4];
        for i in 0..kc {
            let av = V::splat(*p.h_prev.add(p0 + i));
            for (q, acc_q) in acc.iter_mut().enumerate() {
                for (v, acc_v) in acc_q.iter_mut().enumerate() {
                    *acc_v = acc_v.add(av.mul(V::load(bq[q].add(i * nr + v * l))));
                }
            }
        }
        p0 += kc;
        if p0 < p.k {
            for (q, acc_q) in acc.iter().enumerate() {
                for (v, &acc_v) in acc_q.iter().enumerate() {
                    let g = p.gates.add(q * h + u + v * l);
                    V::load(g).add(acc_v).store(g);
                }
            }
        } else {
            for v in 0..NV {
                cell::<V>(p, u + v * l, [acc[0][v], acc[1][v], acc[2][v], acc[3][v]]);
            }
        }
    }
}

/// The cell of units j..j+LANES from the last block's sums: `pointwise::lstm_cell`'s operations.
///
/// # Safety
/// As `groups`; j + LANES ≤ hidden.
#[inline(always)]
unsafe fn cell<V: F32Vec>(p: &RowPtrs, j: usize, sums: [V; 4]) {
    let h = p.hidden;
    let mut act = [V::splat(0.0); 4];
    for (q, a) in act.iter_mut().enumerate() {
        let g = p.gates.add(q * h + j);
        let mut pre = V::load(g).add(sums[q]);
        if let Some(b) = p.b_hh {
            pre = pre.add(V::load(b.add(q * h + j)));
        }
        *a = if q == 2 { tanh(pre) } else { sigmoid(pre) };
        a.store(g);
    }
    let [i, f, g, o] = act;
    let c = f.mul(V::load(p.c_prev.add(j))).add(i.mul(g));
    c.store(p.c.add(j));
    let tc = tanh(c);
    tc.store(p.tanh_c.add(j));
    o.mul(tc).store(p.out.add(j));
}
