//! The packed, register-blocked GEMM shared by the SIMD variants (the BLIS loop nest; Goto and
//! van de Geijn, "Anatomy of high-performance matrix multiplication", 2008). C += A·B with
//! A (m, k) and B (k, n), each possibly stored transposed:
//!
//!   for jc in columns, NC at a time
//!     for pc in k, KC at a time          pack B[pc.., jc..] into NR-wide panels (kc × NR each)
//!       for ic in rows, MC at a time     pack A[ic.., pc..] into MR-tall panels (kc × MR each)
//!         for each NR panel, each MR panel:  micro-kernel  C tile (MR × NR) += Apanel · Bpanel
//!
//! The micro-kernel (one per variant file) keeps the MR × NR tile in registers for the whole kc
//! loop. Panels are zero-padded, so edge tiles run the same loop and store only their valid part.
//!
//! Summation order: each C element has one accumulator per KC block, fed in p order (multiply,
//! then add) and added to C after the block: scalar.rs's order, whatever tile, cache block or
//! thread holds the element. So every level gives scalar's bits, and splitting the output among
//! threads, by rows or by columns, never changes a bit.
//!
//! B may also come pre-packed for the whole (k, n) (`PackedB`, the recurrent weights): the
//! panels of KC block pc then start at pc·n_pad, panel q of that block at pc·n_pad + q·kc·NR.
//!
//! Several products may share A (`gemm_segs`: the two weight gradients of a cell, both dgatesᵀ
//! times something): their B and C columns are laid side by side, so each block of A is packed
//! once for all of them.

use super::pointwise::F32Vec;
use super::{is_small, pool, AlignedVec, GemmFn, Level, PackedB, Panels, TnOut, FEW_ROWS};
use std::cell::{Cell, RefCell};

/// One variant's register tile.
pub(crate) trait MicroKernel {
    /// Rows and columns of the register tile.
    const MR: usize;
    const NR: usize;
    /// Cache blocking: KC deep panels, MC rows of A (a multiple of MR), NC columns of B (of NR).
    const KC: usize;
    const MC: usize;
    const NC: usize;
    /// C tile (mr ≤ MR rows, nr ≤ NR columns at `c`, row stride `ldc`) += A panel (kc × MR,
    /// p-major) · B panel (kc × NR, p-major).
    ///
    /// # Safety
    /// `a` readable for kc·MR values, `b` for kc·NR, the mr × nr tile at `c` writable, and the
    /// CPU runs the variant's instructions.
    unsafe fn tile(kc: usize, a: *const f32, b: *const f32, c: *mut f32, ldc: usize, mr: usize, nr: usize);
    /// Few-row product with B packed (`few_rows_packed`): C rows i..i+MA, the NP panels from
    /// column j (the last may end past j_end, whose columns are not stored) += A · B; each KC
    /// block's sums enter C after the block.
    ///
    /// # Safety
    /// As `few_rows_packed`; j < j_end ≤ n, j a multiple of NR.
    #[allow(clippy::too_many_arguments)]
    unsafe fn packed_cols<const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize);
    /// `transpose_rows` for one full panel (`rows` = MR or NR); levels with an in-register
    /// transpose override it. It only moves values, so every version fills the same panel.
    ///
    /// # Safety
    /// As `transpose_rows`, and the CPU runs the variant's instructions.
    #[inline(always)]
    unsafe fn transpose_panel(dst: *mut f32, src: *const f32, ld: usize, rows: usize, kc: usize) {
        transpose_rows(dst, src, ld, rows, kc)
    }
    /// Panels `few_rows_packed` streams at once for one row (1, 2 or 4), and for two rows (1 or 2).
    const ROW_PANELS: usize = 4;
    const TWO_ROW_PANELS: usize = 2;
}

/// A read-only matrix operand: element (r, c) at ptr[r·ld + c], or ptr[c·ld + r] if `trans`.
#[derive(Clone, Copy)]
pub(crate) struct View {
    pub ptr: *const f32,
    pub ld: usize,
    pub trans: bool,
}

impl View {
    pub fn new(s: &[f32], ld: usize, trans: bool) -> View {
        View { ptr: s.as_ptr(), ld, trans }
    }
    /// # Safety
    /// (r, c) inside the matrix the view was checked for.
    #[inline(always)]
    #[cfg_attr(target_arch = "aarch64", allow(dead_code))]
    pub unsafe fn at(&self, r: usize, c: usize) -> f32 {
        if self.trans {
            *self.ptr.add(c * self.ld + r)
        } else {
            *self.ptr.add(r * self.ld + c)
        }
    }
}

/// C rows i0..i1, columns j0..j1 += A·B in scalar.rs's order, element by element (the column
/// tails of the few-row paths; raw pointers because other threads write other columns).
///
/// # Safety
/// Operands checked for the product; the block is inside it.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(target_arch = "aarch64", allow(dead_code))]
pub(crate) unsafe fn block_in_order(c: *mut f32, ldc: usize, a: View, b: View, i0: usize, i1: usize, j0: usize, j1: usize, k: usize) {
    for i in i0..i1 {
        for j in j0..j1 {
            let cp = c.add(i * ldc + j);
            let mut cij = *cp;
            let mut p0 = 0;
            while p0 < k {
                let mut s = 0.0f32;
                for p in p0..super::scalar::KC.min(k - p0) + p0 {
                    s += a.at(i, p) * b.at(p, j);
                }
                cij += s;
                p0 += super::scalar::KC;
            }
            *cp = cij;
        }
    }
}

/// Where B comes from.
#[derive(Clone, Copy)]
pub(crate) enum BSrc {
    View(View),
    /// Pre-packed by `pack_b_full`; n_pad = n rounded up to NR.
    Packed { ptr: *const f32, n_pad: usize },
}

/// One output of the loop nest: C (m, n; row stride ldc, at `c`) += A · B, A shared by all the
/// segments of a call (`gemm_segs`). Their columns are laid side by side, each segment's padded
/// to a multiple of NR, so that every NR panel belongs to one segment.
#[derive(Clone, Copy)]
pub(crate) struct Seg {
    pub c: *mut f32,
    pub ldc: usize,
    pub b: BSrc,
    pub n: usize,
}
/// Shared with the pool's threads: each writes its own elements of C, and reads A and B.
unsafe impl Send for Seg {}
unsafe impl Sync for Seg {}

/// Segments of one call (`gemm_segs`); 2 is what the weight gradients need.
const MAX_SEGS: usize = 2;

/// Multiply-adds below which a product is not split among threads (measured on the training
/// configs at 2 threads: 1 << 17 made train-lstm-m ~10 % and train-lstm-s up to 25 % slower).
pub(crate) const MIN_WORK_PER_THREAD: usize = 1 << 19;
/// The same for the pinned few-row split (`split_cols_pinned`): its parts find their weights in
/// the core's own cache, so smaller parts still pay. At 1 << 17 a batch-1 GRU with H = 256
/// (192K per step) ran on one thread; split in two, its 256-step forward took 1.89-1.97 ms
/// (median of 300) instead of 2.75-2.86 (2 threads, Node, alternating builds, 3 rounds).
const MIN_WORK_PER_PINNED: usize = 1 << 16;
/// Parts per thread: threads claim parts as they come, so one that is descheduled (a busy
/// machine) holds up at most a small part. (Results do not depend on the split.)
const PARTS_PER_THREAD: usize = 3;

/// Elements a (rows × cols, row stride ld) matrix spans; panics with the argument's name.
pub(crate) fn check(what: &str, len: usize, rows: usize, cols: usize, ld: usize) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(ld >= cols, "gemm: {} row stride {} is less than its {} columns", what, ld, cols);
    let need = (rows - 1) * ld + cols;
    assert!(len >= need, "gemm: {} has {} values, a ({}, {}) matrix with row stride {} needs {}", what, len, rows, cols, ld, need);
}

/// Bounds of the three operands of a GEMM shape (panics on a mismatch, like the scalar code).
#[allow(clippy::too_many_arguments)]
pub(crate) fn check_gemm(c: usize, ldc: usize, a: usize, lda: usize, a_trans: bool, b: usize, ldb: usize, b_trans: bool, m: usize, n: usize, k: usize) {
    check("c", c, m, n, ldc);
    if a_trans {
        check("a", a, k, m, lda);
    } else {
        check("a", a, m, k, lda);
    }
    if b_trans {
        check("b", b, n, k, ldb);
    } else {
        check("b", b, k, n, ldb);
    }
}

thread_local! {
    /// Packing buffers of this thread (A block, B block), kept between calls.
    static BUFS: RefCell<(AlignedVec, AlignedVec)> = const { RefCell::new((AlignedVec::new(), AlignedVec::new())) };
    /// All of A, packed by the calling thread for the parts of a column-split call (`PackedA`).
    static SHARED_A: RefCell<AlignedVec> = const { RefCell::new(AlignedVec::new()) };
}

/// Stored rows of a transposed A that `pack_a` copies together (and asks the cache for ahead).
const PACK_ROWS: usize = 8;

/// Asks the cache for the `len` values at `p` (x86_64; elsewhere nothing). The rows a transposed
/// `pack_a` reads are ld apart, a stride the hardware prefetcher picks up late.
///
/// # Safety
/// None needed for the hint itself; `p..p+len` is inside the operand where it is called.
#[inline(always)]
unsafe fn prefetch_span(p: *const f32, len: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let mut off = 0;
        while off < len {
            _mm_prefetch(p.add(off) as *const i8, _MM_HINT_T0);
            off += 16;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, len);
}

/// dst[p·rows + r] = src[r·ld + p] for r < rows, p < kc: `rows` stored rows become the columns
/// of a kc × rows panel. Walks k in runs that end where the source's 64-byte lines end and copies
/// each row's run in turn, so every source line is read once, whole. (Reading one value of every
/// row per k step instead loses the lines between steps when the rows share an L1 set, as rows
/// 4 KiB apart do: the LSTM gates at H = 256, where packing was 14 % of the 1-thread dh step product.)
///
/// # Safety
/// `src` holds rows × kc values at stride ld; `dst` holds kc · rows values.
#[inline(always)]
pub(crate) unsafe fn transpose_rows(dst: *mut f32, src: *const f32, ld: usize, rows: usize, kc: usize) {
    const LINE: usize = 64 / std::mem::size_of::<f32>();
    let mut p = 0;
    while p < kc {
        let run = (LINE - (src.add(p) as usize / std::mem::size_of::<f32>()) % LINE).min(kc - p);
        for r in 0..rows {
            let s = src.add(r * ld + p);
            let d = dst.add(p * rows + r);
            for q in 0..run {
                *d.add(q * rows) = *s.add(q);
            }
        }
        p += run;
    }
}

/// Packs A rows i0..i0+mc, columns p0..p0+kc into MR-tall panels (kc × MR, zero rows past mc).
///
/// # Safety
/// The block lies inside the checked matrix `a`; dst holds ceil(mc/MR)·MR·kc values.
unsafe fn pack_a<K: MicroKernel>(dst: &mut [f32], a: View, i0: usize, mc: usize, p0: usize, kc: usize) {
    if a.trans {
        // A(i, p) = a[p·ld + i]: stored row p holds the k step p of every panel, mc contiguous
        // values. Take PACK_ROWS stored rows at a time and fill each panel's PACK_ROWS · MR
        // values in one contiguous run: PACK_ROWS read streams and one write stream. (Dealing
        // out one stored row to every panel instead writes to mc / MR places kc · MR apart,
        // which share L1 sets and evict each other before their lines fill.)
        let full = mc / K::MR;
        let tail = mc - full * K::MR;
        assert!(dst.len() >= (full + (tail > 0) as usize) * kc * K::MR);
        let d0 = dst.as_mut_ptr();
        let mut pb = 0;
        while pb < kc {
            let rows = PACK_ROWS.min(kc - pb);
            let src = a.ptr.add((p0 + pb) * a.ld + i0);
            let ahead = (kc - pb - rows).min(PACK_ROWS);
            for r in 0..ahead {
                prefetch_span(src.add((rows + r) * a.ld), mc);
            }
            // Raw pointers: the inner copy runs kc · mc / MR times per block, and slice bounds
            // checks on each MR-value group cost as much as the copy.
            for q in 0..full {
                let d = d0.add(q * kc * K::MR + pb * K::MR);
                for r in 0..rows {
                    std::ptr::copy_nonoverlapping(src.add(r * a.ld + q * K::MR), d.add(r * K::MR), K::MR);
                }
            }
            if tail > 0 {
                let d = d0.add(full * kc * K::MR + pb * K::MR);
                for r in 0..rows {
                    std::ptr::copy_nonoverlapping(src.add(r * a.ld + full * K::MR), d.add(r * K::MR), tail);
                    std::ptr::write_bytes(d.add(r * K::MR + tail), 0, K::MR - tail);
                }
            }
            pb += rows;
        }
        return;
    }
    let mut off = 0;
    let mut ir = 0;
    while ir < mc {
        let mr = K::MR.min(mc - ir);
        let panel = &mut dst[off..off + kc * K::MR];
        if mr == K::MR {
            K::transpose_panel(panel.as_mut_ptr(), a.ptr.add((i0 + ir) * a.ld + p0), a.ld, K::MR, kc);
        } else {
            for r in 0..K::MR {
                if r < mr {
                    let src = a.ptr.add((i0 + ir + r) * a.ld + p0);
                    for p in 0..kc {
                        panel[p * K::MR + r] = *src.add(p);
                    }
                } else {
                    for p in 0..kc {
                        panel[p * K::MR + r] = 0.0;
                    }
                }
            }
        }
        off += kc * K::MR;
        ir += K::MR;
    }
}

/// Packs B rows p0..p0+kc, columns j0..j0+nc into NR-wide panels (kc × NR, zero columns past nc).
///
/// # Safety
/// The block lies inside the checked matrix `b`; dst holds ceil(nc/NR)·NR·kc values.
unsafe fn pack_b<K: MicroKernel>(dst: &mut [f32], b: View, p0: usize, kc: usize, j0: usize, nc: usize) {
    if !b.trans {
        // Each k step of a panel is NR contiguous values of a stored row: walk the stored rows
        // once, each dealt out to every panel (one sequential read stream; each panel's step is
        // whole lines of the destination). Walking panel by panel instead read NR values of
        // every row in turn, kc rows ld apart, and waited on each.
        let full = nc / K::NR;
        let tail = nc - full * K::NR;
        assert!(dst.len() >= (full + (tail > 0) as usize) * kc * K::NR);
        let d0 = dst.as_mut_ptr();
        for p in 0..kc {
            let src = b.ptr.add((p0 + p) * b.ld + j0);
            for q in 0..full {
                std::ptr::copy_nonoverlapping(src.add(q * K::NR), d0.add(q * kc * K::NR + p * K::NR), K::NR);
            }
            if tail > 0 {
                let d = d0.add(full * kc * K::NR + p * K::NR);
                std::ptr::copy_nonoverlapping(src.add(full * K::NR), d, tail);
                std::ptr::write_bytes(d.add(tail), 0, K::NR - tail);
            }
        }
        return;
    }
    let mut off = 0;
    let mut jr = 0;
    while jr < nc {
        let nr = K::NR.min(nc - jr);
        let panel = &mut dst[off..off + kc * K::NR];
        if b.trans && nr == K::NR {
            // B(p, j) = b[j·ld + p]: each stored row is one column of the panel.
            K::transpose_panel(panel.as_mut_ptr(), b.ptr.add((j0 + jr) * b.ld + p0), b.ld, K::NR, kc);
        } else if b.trans {
            for cidx in 0..K::NR {
                if cidx < nr {
                    let src = b.ptr.add((j0 + jr + cidx) * b.ld + p0);
                    for p in 0..kc {
                        panel[p * K::NR + cidx] = *src.add(p);
                    }
                } else {
                    for p in 0..kc {
                        panel[p * K::NR + cidx] = 0.0;
                    }
                }
            }
        } else {
            // Each k step of the panel is nr contiguous values of the stored matrix (inlined
            // constant-length copies for full panels, as in pack_a).
            for p in 0..kc {
                let src = b.ptr.add((p0 + p) * b.ld + j0 + jr);
                let d = &mut panel[p * K::NR..(p + 1) * K::NR];
                if nr == K::NR {
                    d.copy_from_slice(std::slice::from_raw_parts(src, K::NR));
                } else {
                    d[..nr].copy_from_slice(std::slice::from_raw_parts(src, nr));
                    d[nr..].fill(0.0);
                }
            }
        }
        off += kc * K::NR;
        jr += K::NR;
    }
}

/// Packs all of B (k, n) for `BSrc::Packed`.
///
/// # Safety
/// `b` was checked as a (k, n) operand.
pub(crate) unsafe fn pack_b_full<K: MicroKernel>(b: View, k: usize, n: usize) -> AlignedVec {
    let n_pad = (n + K::NR - 1) / K::NR * K::NR;
    let mut dst = AlignedVec::zeroed(k * n_pad);
    let mut pc = 0;
    while pc < k {
        let kc = K::KC.min(k - pc);
        pack_b::<K>(&mut dst[pc * n_pad..(pc + kc) * n_pad], b, pc, kc, 0, n);
        pc += kc;
    }
    dst
}

/// The columns segment `seg` (its columns starting at `start` in the side-by-side layout) has
/// in the block of columns jc..jc+nc: its own first and last column, or None.
fn seg_part(seg: &Seg, start: usize, jc: usize, nc: usize) -> Option<(usize, usize)> {
    let (l0, l1) = (jc.max(start) - start, (jc + nc).min(start + seg.n).saturating_sub(start));
    if l0 < l1 {
        Some((l0, l1))
    } else {
        None
    }
}

/// Where each segment's columns start side by side (padded to NR), and the total.
fn seg_starts<K: MicroKernel>(segs: &[Seg]) -> ([usize; MAX_SEGS], usize) {
    assert!(segs.len() <= MAX_SEGS, "gemm: {} outputs share A, at most {}", segs.len(), MAX_SEGS);
    let mut starts = [0; MAX_SEGS];
    let mut at = 0;
    for (s, seg) in segs.iter().enumerate() {
        starts[s] = at;
        at += (seg.n + K::NR - 1) / K::NR * K::NR;
    }
    (starts, at)
}

/// The loop nest on rows `i0..i1` and the side-by-side columns `j0..j1` of `segs` (j0 a
/// multiple of NR): each block of A is packed once for the columns of every segment.
///
/// # Safety
/// Every segment's operands checked for (m, its n, k), A for (m, k); the CPU runs `K`.
#[allow(clippy::too_many_arguments)]
unsafe fn block<K: MicroKernel>(segs: &[Seg], a: View, packed_a: Option<PackedA>, i0: usize, i1: usize, j0: usize, j1: usize, k: usize) {
    let (starts, _) = seg_starts::<K>(segs);
    BUFS.with(|bufs| {
        let mut bufs = bufs.borrow_mut();
        let (abuf, bbuf) = &mut *bufs;
        abuf.grow(K::MC * K::KC);
        if segs.iter().any(|s| matches!(s.b, BSrc::View(_))) {
            bbuf.grow(K::NC.min((j1 - j0 + K::NR - 1) / K::NR * K::NR) * K::KC);
        }
        let mut jc = j0;
        while jc < j1 {
            let nc = K::NC.min(j1 - jc);
            let mut parts = [None; MAX_SEGS];
            for (s, seg) in segs.iter().enumerate() {
                parts[s] = seg_part(seg, starts[s], jc, nc);
            }
            let mut pc = 0;
            while pc < k {
                let kc = K::KC.min(k - pc);
                // Each segment's panels of this block: pre-packed, or packed here side by side.
                let mut bps = [std::ptr::null::<f32>(); MAX_SEGS];
                for (s, seg) in segs.iter().enumerate() {
                    if let Some((l0, l1)) = parts[s] {
                        bps[s] = match seg.b {
                            BSrc::Packed { ptr, n_pad } => ptr.add(pc * n_pad + l0 * kc),
                            BSrc::View(v) => {
                                let off = (starts[s] + l0 - jc) * kc;
                                pack_b::<K>(&mut bbuf[off..], v, pc, kc, l0, l1 - l0);
                                bbuf.as_ptr().add(off)
                            }
                        };
                    }
                }
                let mut ic = i0;
                while ic < i1 {
                    let mc = K::MC.min(i1 - ic);
                    let ap = match packed_a {
                        // All of A packed ahead (one MC block: ic = 0): block pc follows pc · m_pad values.
                        Some(pa) => pa.ptr.add(pc * pa.m_pad),
                        None => {
                            pack_a::<K>(abuf, a, ic, mc, pc, kc);
                            abuf.as_ptr()
                        }
                    };
                    for (s, seg) in segs.iter().enumerate() {
                        let (l0, l1) = match parts[s] {
                            Some(r) => r,
                            None => continue,
                        };
                        let mut jr = l0;
                        while jr < l1 {
                            let nr = K::NR.min(l1 - jr);
                            let mut ir = 0;
                            while ir < mc {
                                let mr = K::MR.min(mc - ir);
                                K::tile(kc, ap.add(ir * kc), bps[s].add((jr - l0) * kc), seg.c.add((ic + ir) * seg.ldc + jr), seg.ldc, mr, nr);
                                ir += K::MR;
                            }
                            jr += K::NR;
                        }
                    }
                    ic += mc;
                }
                pc += kc;
            }
            jc += nc;
        }
    });
}

/// A level's `pack_b`: all of B (checked as a (k, n) operand) in `K`'s panels, tagged `level`.
pub(crate) fn pack_for<K: MicroKernel>(pb: &mut PackedB<'_, f32>, level: Level) {
    check("b", pb.b.len(), if pb.trans { pb.n } else { pb.k }, if pb.trans { pb.k } else { pb.n }, pb.ldb);
    // SAFETY: b checked as a (k, n) operand just above.
    pb.panels = Panels::Owned(unsafe { pack_b_full::<K>(View::new(pb.b, pb.ldb, pb.trans), pb.k, pb.n) });
    pb.level = level;
}

/// Whether `pb` holds panels that `K` (the micro-kernel of `level`) packed for its (k, n); if
/// not, the level multiplies by B read plainly.
pub(crate) fn packed_for<K: MicroKernel>(pb: &PackedB<'_, f32>, level: Level) -> bool {
    pb.level == level && pb.panels.len() == pb.k * ((pb.n + K::NR - 1) / K::NR * K::NR)
}

/// c (m, n; ldc) += a (m, k; lda) · B with B packed by `K` (a level's `gemm_packed` once
/// `packed_for` holds): few rows take `few_rows_packed`, split one part per thread; more rows the
/// loop nest.
///
/// # Safety
/// `packed_for::<K>(pb, ..)` holds; the CPU runs `K`.
pub(crate) unsafe fn packed_product<K: MicroKernel>(c: &mut [f32], ldc: usize, a: &[f32], lda: usize, m: usize, pb: &PackedB<'_, f32>) {
    let (n, k) = (pb.n, pb.k);
    check("c", c.len(), m, n, ldc);
    check("a", a.len(), m, k, lda);
    let n_pad = (n + K::NR - 1) / K::NR * K::NR;
    let av = View::new(a, lda, false);
    if m <= FEW_ROWS {
        let sh = Shared { c: c.as_mut_ptr(), a: av, b: pb.panels.as_ptr() };
        split_cols_pinned(n, K::NR, m * n * k, &|j0, j1| {
            let (c, a, b) = sh.get();
            few_rows_packed::<K>(c, ldc, a, b, n_pad, m, j0, j1, k)
        });
    } else {
        gemm::<K>(c.as_mut_ptr(), ldc, av, BSrc::Packed { ptr: pb.panels.as_ptr(), n_pad }, m, n, k)
    }
}

/// C (m ≤ FEW_ROWS rows, columns j0..j1; j0 a multiple of NR) += A · B with B packed by
/// `pack_b_full` (n_pad columns): the batch-1 matrix–vector product of a step with packed
/// weights. One row streams four panels at once, two rows two panels (independent add chains, one
/// A broadcast per row and k step), at memory speed.
///
/// Successive calls with the same B walk its panels in alternating directions: the recurrent
/// weights of a step (1 MB at H = 256) barely miss in a core's L2, and the reverse walk starts with
/// what the previous step read last, still in L2. Each C element's sum does not depend on it.
///
/// # Safety
/// Operands checked for the product, panels packed for (k, n) by `K`; the CPU runs `K`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn few_rows_packed<K: MicroKernel>(c: *mut f32, ldc: usize, a: View, b: *const f32, n_pad: usize, m: usize, j0: usize, j1: usize, k: usize) {
    let reverse = alternate_walk(b as usize ^ j0.rotate_left(40));
    let panels = (j1 - j0 + K::NR - 1) / K::NR;
    let mut i = 0;
    while i < m {
        let rows = (m - i).min(2);
        // Groups of `wide` panels, then single panels.
        let wide = if rows == 1 { K::ROW_PANELS } else { K::TWO_ROW_PANELS };
        let (groups, singles) = (panels / wide, panels % wide);
        for s in 0..groups + singles {
            let s = if reverse { groups + singles - 1 - s } else { s };
            if s < groups {
                let j = j0 + s * wide * K::NR;
                match (rows, wide) {
                    (1, 4) => K::packed_cols::<1, 4>(c, ldc, a, i, b, n_pad, j, j1, k),
                    (1, 2) => K::packed_cols::<1, 2>(c, ldc, a, i, b, n_pad, j, j1, k),
                    (1, _) => K::packed_cols::<1, 1>(c, ldc, a, i, b, n_pad, j, j1, k),
                    (_, 2) => K::packed_cols::<2, 2>(c, ldc, a, i, b, n_pad, j, j1, k),
                    _ => K::packed_cols::<2, 1>(c, ldc, a, i, b, n_pad, j, j1, k),
                }
            } else {
                let j = j0 + (groups * wide + s - groups) * K::NR;
                if rows == 1 {
                    K::packed_cols::<1, 1>(c, ldc, a, i, b, n_pad, j, j1, k)
                } else {
                    K::packed_cols::<2, 1>(c, ldc, a, i, b, n_pad, j, j1, k)
                }
            }
        }
        i += rows;
    }
}

thread_local! {
    /// Walk direction of the last few-row packed products, per operand (key: B and first column).
    static WALKS: Cell<[(usize, bool); 4]> = const { Cell::new([(0, false); 4]) };
}

/// Flips and returns the walk direction of operand `key` on this thread (new keys: forward).
pub(crate) fn alternate_walk(key: usize) -> bool {
    WALKS.with(|w| {
        let mut t = w.get();
        let slot = match t.iter().position(|e| e.0 == key) {
            Some(s) => s,
            None => {
                t.rotate_right(1);
                t[0] = (key, true);
                0
            }
        };
        t[slot].1 = !t[slot].1;
        w.set(t);
        t[slot].1
    })
}

/// C (m, n; ldc) += A · B through micro-kernel `K` (`gemm_segs` with one segment).
///
/// # Safety
/// Operands checked with `check_gemm` (or `PackedB` built for this k, n); the CPU runs `K`.
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn gemm<K: MicroKernel>(c: *mut f32, ldc: usize, a: View, b: BSrc, m: usize, n: usize, k: usize) {
    gemm_segs::<K>(a, &[Seg { c, ldc, b, n }], m, k)
}

/// Each segment's C += A · its B through micro-kernel `K`, split among the pool's threads by
/// output blocks (side-by-side columns if there are more column panels than row panels, else
/// rows). A (m, k) is packed once per block for all segments.
///
/// # Safety
/// A checked for (m, k), each segment's C and B for (m, n) and (k, n) (or its `PackedB` built for
/// k, n); the CPU runs `K`.
pub(crate) unsafe fn gemm_segs<K: MicroKernel>(a: View, segs: &[Seg], m: usize, k: usize) {
    let (_, width) = seg_starts::<K>(segs);
    let n_all: usize = segs.iter().map(|s| s.n).sum();
    if m == 0 || n_all == 0 || k == 0 {
        return;
    }
    let col_units = width / K::NR;
    let row_units = (m + K::MR - 1) / K::MR;
    let by_cols = col_units >= row_units;
    let units = if by_cols { col_units } else { row_units };
    let threads = pool::threads();
    let parts = (threads * PARTS_PER_THREAD).min(units).min((m * n_all * k / MIN_WORK_PER_THREAD).max(1));
    if threads <= 1 || parts <= 1 {
        block::<K>(segs, a, None, 0, m, 0, width, k);
        return;
    }
    if by_cols && m <= K::MC {
        // Every part needs all of A: pack it once, here, for all of them. (Each part packing it
        // again, about three per thread, was 28 % of a 2-thread dh step product at m = 32.)
        SHARED_A.with(|buf| {
            let mut buf = buf.borrow_mut();
            let m_pad = (m + K::MR - 1) / K::MR * K::MR;
            buf.grow(m_pad * k);
            let mut pc = 0;
            while pc < k {
                let kc = K::KC.min(k - pc);
                pack_a::<K>(&mut buf[pc * m_pad..], a, 0, m, pc, kc);
                pc += kc;
            }
            let pa = PackedA { ptr: buf.as_ptr(), m_pad };
            let ops = Operands { a };
            pool::run(parts, &|part| {
                let (u0, u1) = (units * part / parts, units * (part + 1) / parts);
                block::<K>(segs, ops.a(), Some(pa), 0, m, u0 * K::NR, u1 * K::NR, k);
            });
        });
        return;
    }
    let ops = Operands { a };
    pool::run(parts, &|part| {
        let (u0, u1) = (units * part / parts, units * (part + 1) / parts);
        if by_cols {
            block::<K>(segs, ops.a(), None, 0, m, u0 * K::NR, u1 * K::NR, k);
        } else {
            let (i0, i1) = (u0 * K::MR, (u1 * K::MR).min(m));
            block::<K>(segs, ops.a(), None, i0, i1, 0, width, k);
        }
    });
}

/// All of A (m ≤ MC rows) packed by `gemm_segs` for the parts of one call, read only: its k
/// blocks one after another, each m_pad × kc.
#[derive(Clone, Copy)]
struct PackedA {
    ptr: *const f32,
    m_pad: usize,
}
unsafe impl Send for PackedA {}
unsafe impl Sync for PackedA {}

/// A level's `gemm_tn_shared` (see `TnOut`): the outputs the loop nest takes (more than
/// FEW_ROWS rows, not small) go through it together with micro-kernel `K`, each block of Aᵀ
/// packed once for all of them; the others through the level's own `gemm_tn`.
///
/// # Safety
/// The CPU runs `K` (operands are checked here).
pub(crate) unsafe fn tn_shared<K: MicroKernel>(a: &[f32], lda: usize, m: usize, k: usize, outs: &mut [TnOut<'_, f32>], gemm_tn: GemmFn) {
    for o in outs.iter() {
        check_gemm(o.c.len(), o.ldc, a.len(), lda, true, o.b.len(), o.ldb, false, m, o.n, k);
    }
    let unused = Seg { c: std::ptr::null_mut(), ldc: 0, b: BSrc::Packed { ptr: std::ptr::null(), n_pad: 0 }, n: 0 };
    let mut segs = [unused; MAX_SEGS];
    let mut count = 0;
    for o in outs.iter_mut() {
        if m > FEW_ROWS && !is_small(m, o.n, k) && count < MAX_SEGS {
            segs[count] = Seg { c: o.c.as_mut_ptr(), ldc: o.ldc, b: BSrc::View(View::new(o.b, o.ldb, false)), n: o.n };
            count += 1;
        } else {
            gemm_tn(o.c, o.ldc, a, lda, o.b, o.ldb, m, o.n, k);
        }
    }
    gemm_segs::<K>(View::new(a, lda, true), &segs[..count], m, k)
}

/// A, made shareable with the pool's threads (read only).
#[derive(Clone, Copy)]
struct Operands {
    a: View,
}
unsafe impl Send for Operands {}
unsafe impl Sync for Operands {}
impl Operands {
    /// (A method, so closures capture the Sync wrapper, not the raw pointer inside.)
    #[inline(always)]
    fn a(self) -> View {
        self.a
    }
}

/// Splits columns 0..n of a few-row product with packed B (the per-step product of a batch-1
/// forward) into one part per thread, part i always on thread i (`pool::run_pinned`): each core
/// then reads the same share of the weights every step, from its own cache.
pub(crate) fn split_cols_pinned(n: usize, unit: usize, work: usize, f: &(dyn Fn(usize, usize) + Sync)) {
    let units = (n + unit - 1) / unit;
    let parts = pool::threads().min(units).min((work / MIN_WORK_PER_PINNED).max(1));
    if parts <= 1 {
        f(0, n);
        return;
    }
    pool::run_pinned(parts, &|part| {
        let (u0, u1) = (units * part / parts, units * (part + 1) / parts);
        f(u0 * unit, (u1 * unit).min(n));
    });
}

#[cfg_attr(any(target_arch = "wasm32", target_arch = "aarch64"), allow(dead_code))]
/// Splits columns 0..n among threads for the few-row paths: `f(j0, j1)` per part, j0 a multiple of
/// `unit`; `work` = multiply-adds of the whole product.
pub(crate) fn split_cols(n: usize, unit: usize, work: usize, f: &(dyn Fn(usize, usize) + Sync)) {
    let units = (n + unit - 1) / unit;
    let threads = pool::threads();
    let parts = (threads * PARTS_PER_THREAD).min(units).min((work / MIN_WORK_PER_THREAD).max(1));
    if threads <= 1 || parts <= 1 {
        f(0, n);
        return;
    }
    pool::run(parts, &|part| {
        let (u0, u1) = (units * part / parts, units * (part + 1) / parts);
        f(u0 * unit, (u1 * unit).min(n));
    });
}

/// Raw operand pointers shared with the pool's threads by the few-row paths (each thread
/// writes its own columns of C).
#[derive(Clone, Copy)]
pub(crate) struct Shared {
    pub c: *mut f32,
    pub a: View,
    pub b: *const f32,
}
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}
impl Shared {
    /// (A method, so closures capture the Sync wrapper, not its raw pointer fields.)
    #[inline(always)]
    pub fn get(self) -> (*mut f32, View, *const f32) {
        (self.c, self.a, self.b)
    }
}


/// `MicroKernel::packed_cols` for panels NV vectors of `V` wide (NR = NV·LANES: every level's
/// micro-kernel), written once: each level calls it from a function with its target features.
/// A row's NP panels are streamed side by side; C gets each KC block's sums after the block.
///
/// # Safety
/// As `MicroKernel::packed_cols`; NR = NV·LANES; the CPU runs `V`'s instructions.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(crate) unsafe fn packed_cols_v<V: F32Vec, const NV: usize, const MA: usize, const NP: usize>(c: *mut f32, ldc: usize, a: View, i: usize, b: *const f32, n_pad: usize, j: usize, j_end: usize, k: usize) {
    let nr = NV * V::LANES;
    let (ap, lda) = (a.ptr, a.ld);
    let mut p0 = 0;
    while p0 < k {
        let kc = super::scalar::KC.min(k - p0);
        // Panel q of this block: kc × NR values, p-major.
        let bp = b.add(p0 * n_pad + j * kc);
        let mut acc = [[[V::splat(0.0); NV]; NP]; MA];
        for p in 0..kc {
            let bq = bp.add(p * nr);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let av = V::splat(*ap.add((i + r) * lda + p0 + p));
                for (q, acc_q) in acc_r.iter_mut().enumerate() {
                    let bv = bq.add(q * kc * nr);
                    for (v, acc_v) in acc_q.iter_mut().enumerate() {
                        *acc_v = acc_v.add(av.mul(V::load(bv.add(v * V::LANES))));
                    }
                }
            }
        }
        for (r, acc_r) in acc.iter().enumerate() {
            for (q, acc_q) in acc_r.iter().enumerate() {
                let col = j + q * nr;
                if col < j_end {
                    add_vecs_to_c(c.add((i + r) * ldc + col), acc_q, j_end - col);
                }
            }
        }
        p0 += kc;
    }
}

/// C row `cp` += NV accumulators side by side: all NV·LANES columns, or the first `nr` one by
/// one (the same rounding as the vector add) at an edge.
///
/// # Safety
/// `cp` writable for min(nr, NV·LANES) values; the CPU runs `V`'s instructions.
#[inline(always)]
pub(crate) unsafe fn add_vecs_to_c<V: F32Vec, const NV: usize>(cp: *mut f32, acc: &[V; NV], nr: usize) {
    let l = V::LANES;
    if nr >= NV * l {
        for (v, x) in acc.iter().enumerate() {
            V::load(cp.add(v * l)).add(*x).store(cp.add(v * l));
        }
    } else {
        let mut tmp = [0.0f32; 32];
        debug_assert!(NV * l <= tmp.len());
        for (v, x) in acc.iter().enumerate() {
            x.store(tmp.as_mut_ptr().add(v * l));
        }
        for (x, &t) in tmp.iter().enumerate().take(nr) {
            *cp.add(x) += t;
        }
    }
}
