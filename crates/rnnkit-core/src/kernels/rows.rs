//! The cell kernels of one time step, split by batch rows among the pool's threads.
//!
//! A cell kernel treats each row (sequence) on its own, so rows r0..r1 computed on any thread give
//! the same bits as the whole call: results do not depend on the thread count. With more than one
//! thread the per-step products already run in parallel; without this the pointwise work between
//! them (σ / tanh, the state update, the backward gate derivatives) ran on one thread while the
//! others waited.
//!
//! A call whose buffers do not all hold `rows` rows is not split: the kernel gets it as it came
//! and panics with its own message, on the caller's thread.

use super::{get, pool, Kernels};

/// Fewest units (rows × hidden) per part: below this a hand-off to another thread costs about
/// as much as it saves (an LSTM unit forward takes a few ns, a hand-off about a microsecond).
const MIN_UNITS_PER_PART: usize = 2048;

/// A mutable buffer shared by the parts, each part taking its own rows.
#[derive(Clone, Copy)]
struct SharedRows {
    ptr: *mut f32,
    width: usize,
    empty: bool,
}
// SAFETY: the parts take disjoint row ranges (see `rows`).
unsafe impl Send for SharedRows {}
unsafe impl Sync for SharedRows {}

impl SharedRows {
    fn new(buf: &mut [f32], width: usize) -> SharedRows {
        SharedRows { ptr: buf.as_mut_ptr(), width, empty: buf.is_empty() }
    }
    /// Rows r0..r1 (an empty buffer, one a variant does not use, stays empty).
    ///
    /// # Safety
    /// No other live slice covers these rows; the buffer holds r1 rows (`holds` checked it).
    unsafe fn rows<'a>(self, r0: usize, r1: usize) -> &'a mut [f32] {
        if self.empty {
            return &mut [];
        }
        std::slice::from_raw_parts_mut(self.ptr.add(r0 * self.width), (r1 - r0) * self.width)
    }
}

/// Rows r0..r1 of a read-only buffer (an empty buffer stays empty).
fn rows_of(buf: &[f32], width: usize, r0: usize, r1: usize) -> &[f32] {
    if buf.is_empty() {
        buf
    } else {
        &buf[r0 * width..r1 * width]
    }
}

/// True if every (length, width) holds `rows` rows; `optional` ones may also be empty.
fn holds(rows: usize, needed: &[(usize, usize)], optional: &[(usize, usize)]) -> bool {
    needed.iter().all(|&(len, w)| len >= rows * w) && optional.iter().all(|&(len, w)| len == 0 || len >= rows * w)
}

/// Parts worth splitting `rows` × `hidden` units into (1: call the kernel whole).
fn parts(rows: usize, hidden: usize) -> usize {
    pool::threads().min(rows).min(rows * hidden / MIN_UNITS_PER_PART).max(1)
}

/// Calls `f(kernels, r0, r1)` for each of `parts` row ranges, on the pool's threads.
fn split(rows: usize, parts: usize, f: &(dyn Fn(&Kernels, usize, usize) + Sync)) {
    let k = get();
    pool::run(parts, &|part| f(k, rows * part / parts, rows * (part + 1) / parts));
}

/// `Kernels::lstm_cell` (see `scalar::lstm_cell`), rows split among threads.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell(gates: &mut [f32], b_hh: Option<&[f32]>, c_prev: &[f32], c: &mut [f32], tanh_c: &mut [f32], out: &mut [f32], rows: usize, hidden: usize) {
    let h = hidden;
    let n = parts(rows, h);
    if n == 1 || !holds(rows, &[(gates.len(), 4 * h), (c_prev.len(), h), (c.len(), h), (tanh_c.len(), h), (out.len(), h)], &[]) {
        return (get().lstm_cell)(gates, b_hh, c_prev, c, tanh_c, out, rows, h);
    }
    let (g, cs, tc, o) = (SharedRows::new(gates, 4 * h), SharedRows::new(c, h), SharedRows::new(tanh_c, h), SharedRows::new(out, h));
    split(rows, n, &|k, r0, r1| {
        // SAFETY: each part has its own rows; `holds` checked the lengths.
        let (g, cs, tc, o) = unsafe { (g.rows(r0, r1), cs.rows(r0, r1), tc.rows(r0, r1), o.rows(r0, r1)) };
        (k.lstm_cell)(g, b_hh, rows_of(c_prev, h, r0, r1), cs, tc, o, r1 - r0, h)
    });
}

/// `Kernels::gru_cell` (see `scalar::gru_cell`), rows split among threads.
pub fn gru_cell(gates: &mut [f32], hh: &[f32], h_prev: &[f32], hn_lin: &mut [f32], h_out: &mut [f32], rows: usize, hidden: usize) {
    let h = hidden;
    let n = parts(rows, h);
    if n == 1 || !holds(rows, &[(gates.len(), 3 * h), (hh.len(), 3 * h), (h_prev.len(), h), (hn_lin.len(), h), (h_out.len(), h)], &[]) {
        return (get().gru_cell)(gates, hh, h_prev, hn_lin, h_out, rows, h);
    }
    let (g, hn, ho) = (SharedRows::new(gates, 3 * h), SharedRows::new(hn_lin, h), SharedRows::new(h_out, h));
    split(rows, n, &|k, r0, r1| {
        // SAFETY: as in `lstm_cell`.
        let (g, hn, ho) = unsafe { (g.rows(r0, r1), hn.rows(r0, r1), ho.rows(r0, r1)) };
        (k.gru_cell)(g, rows_of(hh, 3 * h, r0, r1), rows_of(h_prev, h, r0, r1), hn, ho, r1 - r0, h)
    });
}

/// `Kernels::lstm_cell_backward` (see `scalar::lstm_cell_backward`), rows split among threads.
#[allow(clippy::too_many_arguments)]
pub fn lstm_cell_backward(dgates: &mut [f32], dc_prev: &mut [f32], dh: &[f32], dc: &[f32], gates: &[f32], c_prev: &[f32], tanh_c: &[f32], rows: usize, hidden: usize) {
    let h = hidden;
    let n = parts(rows, h);
    if n == 1 || !holds(rows, &[(dgates.len(), 4 * h), (dc_prev.len(), h), (dh.len(), h), (dc.len(), h), (gates.len(), 4 * h), (c_prev.len(), h), (tanh_c.len(), h)], &[]) {
        return (get().lstm_cell_backward)(dgates, dc_prev, dh, dc, gates, c_prev, tanh_c, rows, h);
    }
    let (dg, dcp) = (SharedRows::new(dgates, 4 * h), SharedRows::new(dc_prev, h));
    split(rows, n, &|k, r0, r1| {
        // SAFETY: as in `lstm_cell`.
        let (dg, dcp) = unsafe { (dg.rows(r0, r1), dcp.rows(r0, r1)) };
        let r = |b, w| rows_of(b, w, r0, r1);
        (k.lstm_cell_backward)(dg, dcp, r(dh, h), r(dc, h), r(gates, 4 * h), r(c_prev, h), r(tanh_c, h), r1 - r0, h)
    });
}

/// `Kernels::gru_cell_backward` (see `scalar::gru_cell_backward`), rows split among threads.
#[allow(clippy::too_many_arguments)]
pub fn gru_cell_backward(dgates: &mut [f32], dgates_hh: &mut [f32], dh_prev: &mut [f32], dh: &[f32], gates: &[f32], hn_lin: &[f32], h_prev: &[f32], rows: usize, hidden: usize, reset_after: bool) {
    let h = hidden;
    // Without reset_after, dgates_hh and hn_lin are not used and may be empty.
    let n = parts(rows, h);
    let fits = holds(rows, &[(dgates.len(), 3 * h), (dh_prev.len(), h), (dh.len(), h), (gates.len(), 3 * h), (h_prev.len(), h)], &[(dgates_hh.len(), 3 * h), (hn_lin.len(), h)])
        && (!reset_after || (!dgates_hh.is_empty() && !hn_lin.is_empty()));
    if n == 1 || !fits {
        return (get().gru_cell_backward)(dgates, dgates_hh, dh_prev, dh, gates, hn_lin, h_prev, rows, h, reset_after);
    }
    let (dg, dgh, dhp) = (SharedRows::new(dgates, 3 * h), SharedRows::new(dgates_hh, 3 * h), SharedRows::new(dh_prev, h));
    split(rows, n, &|k, r0, r1| {
        // SAFETY: as in `lstm_cell`.
        let (dg, dgh, dhp) = unsafe { (dg.rows(r0, r1), dgh.rows(r0, r1), dhp.rows(r0, r1)) };
        let r = |b, w| rows_of(b, w, r0, r1);
        (k.gru_cell_backward)(dg, dgh, dhp, r(dh, h), r(gates, 3 * h), r(hn_lin, h), r(h_prev, h), r1 - r0, h, reset_after)
    });
}
