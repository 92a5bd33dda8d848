//! BPTT drivers: stacked, bidirectional, variable-length forward and backward over whole
//! sequences. `seq_forward` fills the cache; `seq_backward` walks the steps in reverse.
//!
//! Per layer and direction the input projection of all steps is one GEMM before the time loop,
//! and the weight gradients are GEMMs over all steps after it: only the recurrent product
//! runs step by step, with the recurrent weights packed once per call (`Recurrent`).
//! Validation happens here, once, before anything is computed.

use crate::copy::copy;
use crate::cell::gru::{gru_step_backward, gru_step_forward};
use crate::cell::lstm::{lstm_step_backward, lstm_step_forward};
use crate::cell::rnn::{rnn_step_backward, rnn_step_forward};
use crate::cell::zero;
use crate::config::{CellKind, LayerParams, RnnConfig};
use crate::error::{checked_product, Error, ErrorCode, Result};
use crate::kernels::{PackedB, Panels, TnOut};
use crate::packing::Packing;
use crate::prepack::{self, StatePanels};
use crate::real::Real;
use crate::rng::SplitMix64;
use std::any::Any;
use std::cell::RefCell;
use std::ops::{Deref, DerefMut, Range};

/// Buffers of one forward call. Shapes use the letters of the crate docs.
pub struct SeqBuffers<'a, T> {
    /// Flat parameters, `RnnConfig::layout()`.
    pub params: &'a [T],
    /// (T, B, I), or (B, T, I) if batch_first.
    pub input: &'a [T],
    /// (B) lengths in 1..=T, any order; None = every sequence has T steps.
    pub lengths: Option<&'a [i32]>,
    /// (L*D, B, P); None = zeros.
    pub h0: Option<&'a [T]>,
    /// (L*D, B, H), LSTM only; None = zeros.
    pub c0: Option<&'a [T]>,
    /// (T, B, D*P), or (B, T, D*P): written, 0 at padded steps.
    pub output: &'a mut [T],
    /// (L*D, B, P): written, each sequence's state after its last valid step.
    pub h_n: &'a mut [T],
    /// (L*D, B, H), LSTM only: written if given.
    pub c_n: Option<&'a mut [T]>,
    /// `seq_cache_len` values, written for `seq_backward`; None = inference (a scratch cache).
    pub cache: Option<&'a mut [T]>,
}

/// Buffers of one backward call. Parameter gradients accumulate; the others are written.
pub struct SeqGradBuffers<'a, T> {
    pub params: &'a [T],
    /// Must equal the lengths given to the forward that wrote `cache`.
    pub lengths: Option<&'a [i32]>,
    pub cache: &'a [T],
    /// dL/doutput, shape of output (padded positions are ignored); None = 0.
    pub d_output: Option<&'a [T]>,
    /// dL/dh_n (L*D, B, P); None = 0.
    pub d_h_n: Option<&'a [T]>,
    /// dL/dc_n (L*D, B, H), LSTM only; None = 0.
    pub d_c_n: Option<&'a [T]>,
    /// Written: shape of input, 0 at padded steps.
    pub d_input: Option<&'a mut [T]>,
    /// Written: (L*D, B, P).
    pub d_h0: Option<&'a mut [T]>,
    /// Written: (L*D, B, H), LSTM only.
    pub d_c0: Option<&'a mut [T]>,
    /// Accumulated (+=): same layout as params.
    pub d_params: &'a mut [T],
}

// ---- cache layout ----

/// The cache starts with a header so backward can refuse a cache written for another shape.
const HEADER: usize = 8;
const MAGIC: f64 = 7_340_033.0; // exactly representable in f32

/// Per (layer, direction), N packed rows each.
#[derive(Clone, Debug, Default)]
struct DirCache {
    h_prev: Range<usize>, // (N, P)
    gates: Range<usize>,  // (N, G*H) after activation
    c_prev: Range<usize>, // (N, H) LSTM
    c: Range<usize>,      // (N, H) LSTM
    tanh_c: Range<usize>, // (N, H) LSTM
    h_raw: Range<usize>,  // (N, H) LSTM with projection
    hn_lin: Range<usize>, // (N, H) GRU reset_after
}

#[derive(Clone, Debug)]
struct LayerCache {
    start: usize,
    dirs: Vec<DirCache>,
    out: Range<usize>,  // (N, D*P): this layer's output, the next layer's input
    mask: Range<usize>, // (N, D*P): inter-layer dropout mask (0 or 1/(1−p)); empty without dropout
}

/// PyTorch's `dropout` option of a stacked RNN: during training each layer's output except the
/// last is multiplied by a mask of zeros (probability p) and 1/(1−p). The mask comes from the
/// seeded SplitMix64 stream (the same on every backend) and is saved in the cache for backward.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LayerDropout {
    pub p: f64,
    pub seed: u64,
}

impl LayerDropout {
    fn check(d: Option<&LayerDropout>) -> Result<()> {
        if let Some(d) = d {
            if !(0.0..1.0).contains(&d.p) {
                return Err(Error::bad_argument(format!("dropout: must be in [0, 1), got {}", d.p)));
            }
        }
        Ok(())
    }
    fn active(d: Option<&LayerDropout>) -> Option<LayerDropout> {
        d.filter(|d| d.p > 0.0).copied()
    }
}

#[derive(Clone, Debug)]
struct CacheLayout {
    x0: Range<usize>, // (N, I): packed input
    layers: Vec<LayerCache>,
    len: usize,
}

impl CacheLayout {
    fn new(cfg: &RnnConfig, rows: usize, dropout: Option<LayerDropout>) -> CacheLayout {
        let (h, p, gh) = (cfg.hidden_size, cfg.h_out(), cfg.gates() * cfg.hidden_size);
        let mut at = HEADER;
        let mut take = |n: usize| {
            let r = at..at + n;
            at += n;
            r
        };
        let x0 = take(rows * cfg.input_size);
        let mut layers = Vec::new();
        for layer in 0..cfg.num_layers {
            let start = take(0).start;
            let mut dirs = Vec::new();
            for _ in 0..cfg.dirs() {
                let mut d = DirCache { h_prev: take(rows * p), gates: take(rows * gh), ..Default::default() };
                let e = take(0);
                d.c_prev = e.clone();
                d.c = e.clone();
                d.tanh_c = e.clone();
                d.h_raw = e.clone();
                d.hn_lin = e;
                if cfg.cell == CellKind::Lstm {
                    d.c_prev = take(rows * h);
                    d.c = take(rows * h);
                    d.tanh_c = take(rows * h);
                    if cfg.proj_size > 0 {
                        d.h_raw = take(rows * h);
                    }
                }
                if cfg.cell == CellKind::GruResetAfter {
                    d.hn_lin = take(rows * h);
                }
                dirs.push(d);
            }
            let out = take(rows * cfg.dirs() * p);
            let masked = dropout.is_some() && layer + 1 < cfg.num_layers;
            let mask = take(if masked { rows * cfg.dirs() * p } else { 0 });
            layers.push(LayerCache { start, dirs, out, mask });
        }
        CacheLayout { x0, layers, len: at }
    }
}

/// Number of values in the cache of one forward with these lengths (None = all seq_len).
pub fn seq_cache_len(cfg: &RnnConfig, lengths: Option<&[i32]>, seq_len: usize, batch: usize) -> Result<usize> {
    seq_cache_len_dropout(cfg, None, lengths, seq_len, batch)
}

/// `seq_cache_len` for a forward with inter-layer dropout.
pub fn seq_cache_len_dropout(cfg: &RnnConfig, dropout: Option<&LayerDropout>, lengths: Option<&[i32]>, seq_len: usize, batch: usize) -> Result<usize> {
    cfg.validate()?;
    LayerDropout::check(dropout)?;
    let pk = Packing::new(lengths, seq_len, batch)?;
    check_cache_size(cfg, pk.rows)?;
    Ok(CacheLayout::new(cfg, pk.rows, LayerDropout::active(dropout)).len)
}

/// Overflow guard for the cache: rows times the widest per-row total must fit.
fn check_cache_size(cfg: &RnnConfig, rows: usize) -> Result<()> {
    let per_row = cfg.input_size
        + cfg.num_layers * cfg.dirs() * (cfg.h_out() * 3 + (cfg.gates() + 4) * cfg.hidden_size);
    checked_product("cache", &[rows, per_row]).map(|_| ())
}

fn header_values(pk: &Packing, lengths: Option<&[i32]>) -> [f64; HEADER] {
    // A checksum of the lengths in batch order (mod a prime < 2^24 keeps it exact in f32).
    let mut sum: u64 = 0;
    for b in 0..pk.batch {
        let len = lengths.map(|l| l[b] as u64).unwrap_or(pk.seq_len as u64);
        sum = (sum * 31 + len) % 16_777_213;
    }
    [MAGIC, pk.seq_len as f64, pk.batch as f64, pk.rows as f64, sum as f64, 0.0, 0.0, 0.0]
}

/// Splits `buf` into mutable pieces at ascending, disjoint ranges (empty ranges allowed).
fn split_mut<'a, T>(buf: &'a mut [T], ranges: &[Range<usize>]) -> Vec<&'a mut [T]> {
    let mut out = Vec::with_capacity(ranges.len());
    let mut rest = buf;
    let mut base = 0;
    for r in ranges {
        if r.start == r.end {
            out.push(&mut [][..]);
            continue;
        }
        let (_, tail) = rest.split_at_mut(r.start - base);
        let (piece, tail) = tail.split_at_mut(r.end - r.start);
        out.push(piece);
        rest = tail;
        base = r.end;
    }
    out
}

// ---- validation ----

struct Sizes {
    seq_len: usize,
    batch: usize,
    dirs: usize,
    h: usize,
    p: usize,
    states: usize, // L*D
}

fn expect_len(what: &str, got: usize, expected: usize, how: &str) -> Result<()> {
    if got != expected {
        return Err(Error::shape(what, expected, got, how));
    }
    Ok(())
}

fn check_common(cfg: &RnnConfig, seq_len: usize, batch: usize, params: usize) -> Result<Sizes> {
    cfg.validate()?;
    if seq_len == 0 || batch == 0 {
        return Err(Error::bad_argument(format!(
            "input: sequence length and batch must be at least 1, got seq_len={} batch={}",
            seq_len, batch
        )));
    }
    let s = Sizes {
        seq_len,
        batch,
        dirs: cfg.dirs(),
        h: cfg.hidden_size,
        p: cfg.h_out(),
        states: cfg.num_layers * cfg.dirs(),
    };
    checked_product("input", &[seq_len, batch, cfg.input_size.max(s.dirs * s.p)])?;
    expect_len("params", params, cfg.param_count(), "the flat parameter layout of this configuration")?;
    Ok(s)
}

fn state_shapes(cfg: &RnnConfig, s: &Sizes) -> (usize, usize, String, String) {
    (
        s.states * s.batch * s.p,
        s.states * s.batch * s.h,
        format!("(num_layers*D={}, batch={}, {}={})", s.states, s.batch, if cfg.proj_size > 0 { "proj_size" } else { "hidden_size" }, s.p),
        format!("(num_layers*D={}, batch={}, hidden_size={})", s.states, s.batch, s.h),
    )
}

fn io_shape(cfg: &RnnConfig, s: &Sizes, width: usize, wname: &str) -> String {
    if cfg.batch_first {
        format!("(batch={}, seq_len={}, {}={})", s.batch, s.seq_len, wname, width)
    } else {
        format!("(seq_len={}, batch={}, {}={})", s.seq_len, s.batch, wname, width)
    }
}

fn reject_c_state(cfg: &RnnConfig, what: &str, present: bool) -> Result<()> {
    if present && cfg.cell != CellKind::Lstm {
        return Err(Error::bad_argument(format!("{}: only an LSTM has a cell state, this is a {:?}", what, cfg.cell)));
    }
    Ok(())
}

fn check_header<T: Real>(cache: &[T], expected: &[f64; HEADER]) -> Result<()> {
    let got: Vec<f64> = cache[..HEADER].iter().map(|v| v.to_f64()).collect();
    if got[0] != MAGIC {
        return Err(Error::bad_argument("cache: not written by a forward pass (run forward before backward)".to_string()));
    }
    if got[..5] != expected[..5] {
        return Err(Error::bad_argument(format!(
            "cache: written by a forward with seq_len={} batch={} rows={}, but backward got seq_len={} batch={} rows={} (or other lengths)",
            got[1], got[2], got[3], expected[1], expected[2], expected[3]
        )));
    }
    Ok(())
}

// ---- forward ----

pub fn seq_forward<T: Real>(cfg: &RnnConfig, seq_len: usize, batch: usize, b: SeqBuffers<'_, T>) -> Result<()> {
    seq_forward_dropout(cfg, None, seq_len, batch, b)
}

/// `seq_forward` with inter-layer dropout (training); backward needs the same `dropout`.
pub fn seq_forward_dropout<T: Real>(cfg: &RnnConfig, dropout: Option<&LayerDropout>, seq_len: usize, batch: usize, b: SeqBuffers<'_, T>) -> Result<()> {
    seq_forward_packed(cfg, dropout, seq_len, batch, b, None)
}

/// `seq_forward_dropout` with the weights packed ahead by `prepack::pack_weights` (repeated
/// inference). The same results as without, faster.
pub fn seq_forward_packed<T: Real>(cfg: &RnnConfig, dropout: Option<&LayerDropout>, seq_len: usize, batch: usize, b: SeqBuffers<'_, T>, packed: Option<&[f32]>) -> Result<()> {
    LayerDropout::check(dropout)?;
    let dropout = LayerDropout::active(dropout);
    let s = check_common(cfg, seq_len, batch, b.params.len())?;
    let pk = Packing::new(b.lengths, seq_len, batch)?;
    check_cache_size(cfg, pk.rows)?;
    let (hp_len, hc_len, hp_shape, hc_shape) = state_shapes(cfg, &s);
    expect_len("input", b.input.len(), seq_len * batch * cfg.input_size, &io_shape(cfg, &s, cfg.input_size, "input_size"))?;
    expect_len("output", b.output.len(), seq_len * batch * s.dirs * s.p, &io_shape(cfg, &s, s.dirs * s.p, "D*H_out"))?;
    expect_len("h_n", b.h_n.len(), hp_len, &hp_shape)?;
    if let Some(h0) = b.h0 {
        expect_len("h0", h0.len(), hp_len, &hp_shape)?;
    }
    reject_c_state(cfg, "c0", b.c0.is_some())?;
    reject_c_state(cfg, "c_n", b.c_n.is_some())?;
    if let Some(c0) = b.c0 {
        expect_len("c0", c0.len(), hc_len, &hc_shape)?;
    }
    if let Some(c_n) = b.c_n.as_deref() {
        expect_len("c_n", c_n.len(), hc_len, &hc_shape)?;
    }
    let prepacked = match packed {
        Some(p) => prepack::open(cfg, p)?,
        None => None,
    };
    let layout = CacheLayout::new(cfg, pk.rows, dropout);
    let keep = b.cache.is_some();
    let mut scratch: Scratch<T>;
    let cache: &mut [T] = match b.cache {
        Some(c) => {
            expect_len("cache", c.len(), layout.len, "rk_rnn_cache_len for these lengths")?;
            c
        }
        None => {
            // Forward writes every value of the cache it reads.
            scratch = Scratch::unspecified(layout.len);
            &mut scratch[..]
        }
    };

    let hdr = header_values(&pk, b.lengths);
    for (v, h) in cache[..HEADER].iter_mut().zip(hdr.iter()) {
        *v = T::from_f64(*h);
    }
    // Without a cache to keep, and with packing a plain copy, the first layer reads the input and
    // the last layer writes the output where they are.
    let in_place = !keep && pk.is_identity(cfg.batch_first);
    if !in_place {
        pk.pack(&mut cache[layout.x0.clone()], b.input, cfg.input_size, cfg.batch_first);
    }
    let params = cfg.layout();
    let mut c_n = b.c_n;
    let mut ws = Workspace::new(cfg, batch);

    for (layer, lc) in layout.layers.iter().enumerate() {
        let (below, here) = cache.split_at_mut(lc.start);
        let x: &[T] = match layer {
            0 if in_place => b.input,
            0 => &below[layout.x0.clone()],
            _ => &below[layout.layers[layer - 1].out.clone()],
        };
        let shift = |r: &Range<usize>| r.start - lc.start..r.end - lc.start;
        let mut ranges = Vec::new();
        for d in &lc.dirs {
            for r in [&d.h_prev, &d.gates, &d.c_prev, &d.c, &d.tanh_c, &d.h_raw, &d.hn_lin] {
                ranges.push(shift(r));
            }
        }
        ranges.push(shift(&lc.out));
        ranges.push(shift(&lc.mask));
        let mut pieces = split_mut(here, &ranges);
        let mask = pieces.pop().unwrap_or_default();
        let out = pieces.pop().unwrap_or_default();
        let out: &mut [T] = if in_place && layer + 1 == cfg.num_layers { &mut *b.output } else { out };
        let mut pieces = pieces.into_iter();
        for dir in 0..s.dirs {
            let mut next = || pieces.next().unwrap_or_default();
            let dc = DirSlices {
                h_prev: next(),
                gates: next(),
                c_prev: next(),
                c: next(),
                tanh_c: next(),
                h_raw: next(),
                hn_lin: next(),
            };
            let state = layer * s.dirs + dir;
            let lp = &params[state];
            let pre = prepacked.as_ref().map(|v| &v[state]);
            direction_forward(cfg, &s, &pk, lp, b.params, pre, x, dc, keep, out, dir, &mut ws, b.h0.map(|h| &h[state * batch * s.p..(state + 1) * batch * s.p]), b.c0.map(|c| &c[state * batch * s.h..(state + 1) * batch * s.h]));
            pk.unsort_state(&mut b.h_n[state * batch * s.p..(state + 1) * batch * s.p], &ws.h_state, s.p);
            if let Some(c_n) = c_n.as_deref_mut() {
                pk.unsort_state(&mut c_n[state * batch * s.h..(state + 1) * batch * s.h], &ws.c_state, s.h);
            }
        }
        if let (Some(d), false) = (dropout, mask.is_empty()) {
            // Drop this layer's output before the next layer reads it (h_n is not dropped).
            let keep = 1.0 / (1.0 - d.p);
            let mut rng = SplitMix64::new(d.seed ^ (layer as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
            for (m, o) in mask.iter_mut().zip(out.iter_mut()) {
                *m = T::from_f64(if rng.next_f64() < d.p { 0.0 } else { keep });
                *o *= *m;
            }
        }
    }
    if !in_place {
        let last = &layout.layers[cfg.num_layers - 1].out;
        pk.unpack(b.output, &cache[last.clone()], s.dirs * s.p, cfg.batch_first);
    }
    Ok(())
}

struct DirSlices<'a, T> {
    h_prev: &'a mut [T],
    gates: &'a mut [T],
    c_prev: &'a mut [T],
    c: &'a mut [T],
    tanh_c: &'a mut [T],
    h_raw: &'a mut [T],
    hn_lin: &'a mut [T],
}

/// Per-call scratch, sized for B rows.
struct Workspace<T> {
    h_state: Vec<T>, // (B, P) sorted order
    c_state: Vec<T>, // (B, H)
    h_new: Vec<T>,   // (B, P)
    c_new: Vec<T>,   // (B, H) LSTM without a cache
    hh: Vec<T>,      // (B, 3H) GRU recurrent product
    dh: Vec<T>,      // (B, P)
    dh_prev: Vec<T>, // (B, P)
    dc_prev: Vec<T>, // (B, H)
    tmp_h: Vec<T>,   // (B, H) dh_raw / drh
}

impl<T: Real> Workspace<T> {
    fn new(cfg: &RnnConfig, batch: usize) -> Workspace<T> {
        let (h, p) = (cfg.hidden_size, cfg.h_out());
        Workspace {
            h_state: vec![T::ZERO; batch * p],
            c_state: vec![T::ZERO; batch * h],
            h_new: vec![T::ZERO; batch * p],
            c_new: if cfg.cell == CellKind::Lstm { vec![T::ZERO; batch * h] } else { Vec::new() },
            hh: vec![T::ZERO; batch * 3 * h],
            dh: vec![T::ZERO; batch * p],
            dh_prev: vec![T::ZERO; batch * p],
            dc_prev: vec![T::ZERO; batch * h],
            tmp_h: vec![T::ZERO; batch * h],
        }
    }
}

/// state[..len] ← next[..len]. When that is all of both (every sequence alive at this step), the
/// buffers trade places instead: `next` is scratch the following step overwrites.
fn take_state<T: Copy>(state: &mut Vec<T>, next: &mut Vec<T>, len: usize) {
    if len == state.len() && len == next.len() {
        std::mem::swap(state, next);
    } else {
        copy(&mut state[..len], &next[..len]);
    }
}

fn opt_slice<'a, T>(params: &'a [T], r: &Option<Range<usize>>) -> Option<&'a [T]> {
    r.as_ref().map(|r| &params[r.clone()])
}

/// The recurrent weights of one (layer, direction), prepared for the time loop: packed once here
/// (`Real::pack_b`) when more than one step will use them, so no step repacks. Forward multiplies
/// by the transposes (C += h·Wᵀ), backward by the matrices (dh_prev += dgates·W).
/// `hh`: all of W_hh, or for GRU reset-before its r, z rows; `hn`: the n rows (H, H) then.
/// `pre`: the same matrices packed ahead of the call (forward only; see prepack.rs).
struct Recurrent<'a, T> {
    hh: PackedB<'a, T>,
    hn: Option<PackedB<'a, T>>,
    hr: Option<PackedB<'a, T>>,
}

impl<'a, T: Real> Recurrent<'a, T> {
    fn new(cfg: &RnnConfig, s: &Sizes, w_hh: &'a [T], w_hr: Option<&'a [T]>, forward: bool, pre: Option<&StatePanels<'a>>) -> Recurrent<'a, T> {
        let (h, p, gh) = (s.h, s.p, cfg.gates() * s.h);
        let pack = s.seq_len > 1;
        let pre = if forward { pre } else { None };
        // W is (rows, cols) row-major. Forward: B = Wᵀ (k = cols, n = rows); backward: B = W.
        let prep = |w: &'a [T], rows: usize, cols: usize, panels: Option<&'a [f32]>| -> PackedB<'a, T> {
            let (k, n) = if forward { (cols, rows) } else { (rows, cols) };
            if let (Some(panels), Some(pre)) = (panels, pre) {
                PackedB { panels: Panels::Borrowed(panels), level: pre.level, ..PackedB::plain(w, cols, forward, k, n) }
            } else if pack {
                T::pack_b(w, cols, forward, k, n)
            } else {
                PackedB::plain(w, cols, forward, k, n)
            }
        };
        let (hh, hn) = if cfg.cell == CellKind::GruResetBefore {
            (prep(&w_hh[..2 * h * h], 2 * h, h, pre.map(|x| x.hh)), Some(prep(&w_hh[2 * h * h..], h, h, pre.and_then(|x| x.hn))))
        } else {
            (prep(w_hh, gh, p, pre.map(|x| x.hh)), None)
        };
        Recurrent { hh, hn, hr: w_hr.map(|w| prep(w, p, h, pre.and_then(|x| x.hr))) }
    }
}

/// The time step handled at position `s` of a direction's walk (forward: 0..T, reverse: T-1..0).
#[inline]
fn step_time(dir: usize, s: usize, seq_len: usize) -> usize {
    if dir == 0 {
        s
    } else {
        seq_len - 1 - s
    }
}

#[allow(clippy::too_many_arguments)]
fn direction_forward<T: Real>(
    cfg: &RnnConfig,
    s: &Sizes,
    pk: &Packing,
    lp: &LayerParams,
    params: &[T],
    pre: Option<&StatePanels<'_>>,
    x: &[T],
    dc: DirSlices<'_, T>,
    keep: bool,
    out: &mut [T],
    dir: usize,
    ws: &mut Workspace<T>,
    h0: Option<&[T]>,
    c0: Option<&[T]>,
) {
    let (h, p, gh, n) = (s.h, s.p, cfg.gates() * s.h, pk.rows);
    let w_ih = &params[lp.w_ih.clone()];
    let b_hh = opt_slice(params, &lp.b_hh);
    let w = Recurrent::new(cfg, s, &params[lp.w_hh.clone()], opt_slice(params, &lp.w_hr), true, pre);
    // Input projection of all steps at once, accumulated onto b_ih (as PyTorch's addmm): one
    // pass over the gates instead of clearing them and adding the bias after.
    match opt_slice(params, &lp.b_ih) {
        Some(b_ih) => {
            for row in dc.gates.chunks_exact_mut(gh) {
                copy(row, b_ih);
            }
        }
        None => zero(dc.gates),
    }
    match pre {
        Some(pre) => {
            let pb = PackedB { panels: Panels::Borrowed(pre.ih), level: pre.level, ..PackedB::plain(w_ih, lp.input, true, lp.input, gh) };
            T::gemm_packed(dc.gates, gh, x, lp.input, n, &pb);
        }
        None => T::gemm_nt(dc.gates, gh, x, lp.input, w_ih, lp.input, n, gh, lp.input),
    }

    match h0 {
        Some(h0) => pk.sort_state(&mut ws.h_state, h0, p),
        None => zero(&mut ws.h_state),
    }
    match c0 {
        Some(c0) => pk.sort_state(&mut ws.c_state, c0, h),
        None => zero(&mut ws.c_state),
    }
    let dp = s.dirs * p;
    for st in 0..s.seq_len {
        let t = step_time(dir, st, s.seq_len);
        let (rows, r0) = (pk.batch_sizes[t], pk.offsets[t]);
        let rp = r0 * p..(r0 + rows) * p;
        let rh = r0 * h..(r0 + rows) * h;
        let rg = r0 * gh..(r0 + rows) * gh;
        // With the cache kept (training), each step's h_prev and c_prev are saved there for
        // backward; without one the step reads the state in place: fewer copies, and with
        // threads each thread's units of c stay in its core's cache.
        let (h_prev, h_new): (&[T], &mut [T]) = if keep {
            copy(&mut dc.h_prev[rp.clone()], &ws.h_state[..rows * p]);
            (&dc.h_prev[rp], &mut ws.h_new[..rows * p])
        } else {
            (&ws.h_state[..rows * p], &mut ws.h_new[..rows * p])
        };
        match cfg.cell {
            CellKind::RnnTanh | CellKind::RnnRelu => {
                rnn_step_forward(h_new, &mut dc.gates[rg], h_prev, &w.hh, b_hh, cfg.cell == CellKind::RnnRelu, rows, h);
            }
            CellKind::Lstm => {
                let h_raw: &mut [T] = if w.hr.is_some() { &mut dc.h_raw[rh.clone()] } else { &mut [] };
                let (c_prev, c): (&[T], &mut [T]) = if keep {
                    copy(&mut dc.c_prev[rh.clone()], &ws.c_state[..rows * h]);
                    (&dc.c_prev[rh.clone()], &mut dc.c[rh.clone()])
                } else {
                    (&ws.c_state[..rows * h], &mut ws.c_new[..rows * h])
                };
                lstm_step_forward(h_new, c, &mut dc.tanh_c[rh.clone()], h_raw, &mut dc.gates[rg], h_prev, c_prev, &w.hh, b_hh, w.hr.as_ref(), rows, h, p);
                if keep {
                    copy(&mut ws.c_state[..rows * h], &dc.c[rh]);
                } else {
                    take_state(&mut ws.c_state, &mut ws.c_new, rows * h);
                }
            }
            CellKind::GruResetAfter | CellKind::GruResetBefore => {
                let reset_after = cfg.cell == CellKind::GruResetAfter;
                let hn: &mut [T] = if reset_after { &mut dc.hn_lin[rh] } else { &mut [] };
                gru_step_forward(h_new, hn, &mut dc.gates[rg], &mut ws.hh, h_prev, &w.hh, w.hn.as_ref(), b_hh, reset_after, rows, h);
            }
        }
        for j in 0..rows {
            let o = (r0 + j) * dp + dir * p;
            copy(&mut out[o..o + p], &ws.h_new[j * p..(j + 1) * p]);
        }
        take_state(&mut ws.h_state, &mut ws.h_new, rows * p);
    }
}

// ---- backward ----

pub fn seq_backward<T: Real>(cfg: &RnnConfig, seq_len: usize, batch: usize, b: SeqGradBuffers<'_, T>) -> Result<()> {
    seq_backward_dropout(cfg, None, seq_len, batch, b)
}

/// `seq_backward` for a forward made with `seq_forward_dropout` (same `dropout`).
pub fn seq_backward_dropout<T: Real>(cfg: &RnnConfig, dropout: Option<&LayerDropout>, seq_len: usize, batch: usize, mut b: SeqGradBuffers<'_, T>) -> Result<()> {
    LayerDropout::check(dropout)?;
    let dropout = LayerDropout::active(dropout);
    let s = check_common(cfg, seq_len, batch, b.params.len())?;
    expect_len("d_params", b.d_params.len(), b.params.len(), "same layout as params")?;
    let pk = Packing::new(b.lengths, seq_len, batch)?;
    check_cache_size(cfg, pk.rows)?;
    let layout = CacheLayout::new(cfg, pk.rows, dropout);
    expect_len("cache", b.cache.len(), layout.len, "rk_rnn_cache_len for these lengths and dropout")?;
    check_header(b.cache, &header_values(&pk, b.lengths))?;
    let (hp_len, hc_len, hp_shape, hc_shape) = state_shapes(cfg, &s);
    let out_w = s.dirs * s.p;
    if let Some(d) = b.d_output {
        expect_len("d_output", d.len(), seq_len * batch * out_w, &io_shape(cfg, &s, out_w, "D*H_out"))?;
    }
    if let Some(d) = b.d_input.as_deref() {
        expect_len("d_input", d.len(), seq_len * batch * cfg.input_size, &io_shape(cfg, &s, cfg.input_size, "input_size"))?;
    }
    if let Some(d) = b.d_h_n {
        expect_len("d_h_n", d.len(), hp_len, &hp_shape)?;
    }
    if let Some(d) = b.d_h0.as_deref() {
        expect_len("d_h0", d.len(), hp_len, &hp_shape)?;
    }
    reject_c_state(cfg, "d_c_n", b.d_c_n.is_some())?;
    reject_c_state(cfg, "d_c0", b.d_c0.is_some())?;
    if let Some(d) = b.d_c_n {
        expect_len("d_c_n", d.len(), hc_len, &hc_shape)?;
    }
    if let Some(d) = b.d_c0.as_deref() {
        expect_len("d_c0", d.len(), hc_len, &hc_shape)?;
    }

    let n = pk.rows;
    let params = cfg.layout();
    let mut ws = Workspace::new(cfg, batch);
    // dY: dL/d(layer output), packed (N, D*P); starts as the packed d_output, read in place
    // (`None` here) where packing would copy it unchanged.
    let mut dy_packed = match b.d_output {
        Some(_) if pk.is_identity(cfg.batch_first) => None,
        Some(d) => {
            // pack writes all N rows.
            let mut dy = Scratch::<T>::unspecified(n * out_w);
            pk.pack(&mut dy, d, out_w, cfg.batch_first);
            Some(dy)
        }
        None => Some(Scratch::<T>::zeroed(n * out_w)),
    };
    let mut d_h0 = b.d_h0;
    let mut d_c0 = b.d_c0;
    let gh = cfg.gates() * s.h;
    // Every step backward writes all of its rows of these (no accumulation), and the steps
    // cover all N rows.
    let mut dgates = Scratch::<T>::unspecified(n * gh);
    let mut dgates_hh = Scratch::<T>::unspecified(if cfg.gates() == 3 { n * gh } else { 0 });
    let mut dh_all = Scratch::<T>::unspecified(if cfg.proj_size > 0 { n * s.p } else { 0 });

    for layer in (0..cfg.num_layers).rev() {
        let lc = &layout.layers[layer];
        let x: &[T] = if layer == 0 { &b.cache[layout.x0.clone()] } else { &b.cache[layout.layers[layer - 1].out.clone()] };
        let in_w = cfg.layer_input(layer);
        let need_dx = layer > 0 || b.d_input.is_some();
        let mut dx = Scratch::<T>::zeroed(if need_dx { n * in_w } else { 0 });
        let dy: &[T] = match (&dy_packed, b.d_output) {
            (Some(packed), _) => packed,
            (None, Some(d)) => d,
            (None, None) => unreachable!("dy_packed is None only when d_output is given"),
        };
        for dir in 0..s.dirs {
            let state = layer * s.dirs + dir;
            let lp = &params[state];
            let dcache = &lc.dirs[dir];
            let sp = state * batch * s.p..(state + 1) * batch * s.p;
            let sh = state * batch * s.h..(state + 1) * batch * s.h;
            match b.d_h_n {
                Some(d) => pk.sort_state(&mut ws.h_state, &d[sp.clone()], s.p),
                None => zero(&mut ws.h_state),
            }
            match b.d_c_n {
                Some(d) => pk.sort_state(&mut ws.c_state, &d[sh.clone()], s.h),
                None => zero(&mut ws.c_state),
            }
            direction_backward(cfg, &s, &pk, lp, b.params, b.cache, dcache, dy, dir, &mut ws, &mut dgates, &mut dgates_hh, &mut dh_all);
            // ws.h_state / c_state now hold dL/dh0, dL/dc0 of this (layer, direction).
            if let Some(d) = d_h0.as_deref_mut() {
                pk.unsort_state(&mut d[sp], &ws.h_state, s.p);
            }
            if let Some(d) = d_c0.as_deref_mut() {
                pk.unsort_state(&mut d[sh], &ws.c_state, s.h);
            }
            weight_grads(cfg, &s, lp, b.params, b.cache, dcache, x, n, &dgates, &dgates_hh, &dh_all, b.d_params);
            if need_dx {
                // Both directions read the same input: their contributions add.
                T::gemm_nn(&mut dx, in_w, &dgates, gh, &b.params[lp.w_ih.clone()], in_w, n, in_w, gh);
            }
        }
        if layer > 0 {
            // Through the dropout mask applied to the layer below's output.
            for (g, &m) in dx.iter_mut().zip(b.cache[layout.layers[layer - 1].mask.clone()].iter()) {
                *g *= m;
            }
            dy_packed = Some(dx);
        } else if let Some(d_input) = b.d_input.as_deref_mut() {
            pk.unpack(d_input, &dx, cfg.input_size, cfg.batch_first);
        }
    }
    Ok(())
}

/// Runs one direction's steps in reverse. In: ws.h_state / c_state = dL/dh_n, dL/dc_n (sorted).
/// Out: dgates (N, G*H), dgates_hh (GRU), dh_all (projection: total dL/dh per row), and
/// ws.h_state / c_state = dL/dh0, dL/dc0.
#[allow(clippy::too_many_arguments)]
fn direction_backward<T: Real>(
    cfg: &RnnConfig,
    s: &Sizes,
    pk: &Packing,
    lp: &LayerParams,
    params: &[T],
    cache: &[T],
    dcache: &DirCache,
    dy: &[T],
    dir: usize,
    ws: &mut Workspace<T>,
    dgates: &mut [T],
    dgates_hh: &mut [T],
    dh_all: &mut [T],
) {
    let (h, p, gh) = (s.h, s.p, cfg.gates() * s.h);
    let dp = s.dirs * p;
    let w = Recurrent::new(cfg, s, &params[lp.w_hh.clone()], opt_slice(params, &lp.w_hr), false, None);
    let h_prev_all = &cache[dcache.h_prev.clone()];
    let gates_all = &cache[dcache.gates.clone()];
    for st in (0..s.seq_len).rev() {
        let t = step_time(dir, st, s.seq_len);
        let (rows, r0) = (pk.batch_sizes[t], pk.offsets[t]);
        let rp = r0 * p..(r0 + rows) * p;
        let rh = r0 * h..(r0 + rows) * h;
        let rg = r0 * gh..(r0 + rows) * gh;
        // dh merges the output's gradient with the one flowing back from step t+1.
        for j in 0..rows {
            let o = (r0 + j) * dp + dir * p;
            for k in 0..p {
                ws.dh[j * p + k] = ws.h_state[j * p + k] + dy[o + k];
            }
        }
        let dh = &ws.dh[..rows * p];
        match cfg.cell {
            CellKind::RnnTanh | CellKind::RnnRelu => {
                rnn_step_backward(&mut dgates[rg.clone()], &mut ws.dh_prev, dh, &gates_all[rg], &w.hh, cfg.cell == CellKind::RnnRelu, rows, h);
            }
            CellKind::Lstm => {
                if w.hr.is_some() {
                    copy(&mut dh_all[rp.clone()], dh);
                }
                lstm_step_backward(
                    &mut dgates[rg.clone()],
                    &mut ws.dh_prev,
                    &mut ws.dc_prev,
                    &mut ws.tmp_h,
                    dh,
                    &ws.c_state[..rows * h],
                    &gates_all[rg],
                    &cache[dcache.c_prev.clone()][rh.clone()],
                    &cache[dcache.tanh_c.clone()][rh],
                    &w.hh,
                    w.hr.as_ref(),
                    rows,
                    h,
                    p,
                );
                take_state(&mut ws.c_state, &mut ws.dc_prev, rows * h);
            }
            CellKind::GruResetAfter | CellKind::GruResetBefore => {
                let reset_after = cfg.cell == CellKind::GruResetAfter;
                let hn: &[T] = if reset_after { &cache[dcache.hn_lin.clone()][rh] } else { &[] };
                gru_step_backward(
                    &mut dgates[rg.clone()],
                    &mut dgates_hh[rg.clone()],
                    &mut ws.dh_prev,
                    &mut ws.tmp_h,
                    dh,
                    &gates_all[rg],
                    hn,
                    &h_prev_all[rp],
                    &w.hh,
                    w.hn.as_ref(),
                    reset_after,
                    rows,
                    h,
                );
            }
        }
        take_state(&mut ws.h_state, &mut ws.dh_prev, rows * p);
    }
}

/// Weight gradients of one (layer, direction) as GEMMs over all N rows (accumulate, +=).
#[allow(clippy::too_many_arguments)]
fn weight_grads<T: Real>(
    cfg: &RnnConfig,
    s: &Sizes,
    lp: &LayerParams,
    params: &[T],
    cache: &[T],
    dcache: &DirCache,
    x: &[T],
    n: usize,
    dgates: &[T],
    dgates_hh: &[T],
    dh_all: &[T],
    d_params: &mut [T],
) {
    let (h, p, gh, in_w) = (s.h, s.p, cfg.gates() * s.h, lp.input);
    let dg_hh: &[T] = if cfg.gates() == 3 { dgates_hh } else { dgates };
    let h_prev = &cache[dcache.h_prev.clone()];
    if cfg.gates() != 3 {
        // LSTM and RNN: both weight gradients multiply dgatesᵀ, packed once for the two.
        let (lo, hi) = d_params.split_at_mut(lp.w_hh.start);
        let mut outs = [
            TnOut { c: &mut lo[lp.w_ih.clone()], ldc: in_w, b: x, ldb: in_w, n: in_w },
            TnOut { c: &mut hi[..lp.w_hh.len()], ldc: p, b: h_prev, ldb: p, n: p },
        ];
        T::gemm_tn_shared(dgates, gh, gh, n, &mut outs);
    } else {
        T::gemm_tn(&mut d_params[lp.w_ih.clone()], in_w, dgates, gh, x, in_w, gh, in_w, n);
        let dw = &mut d_params[lp.w_hh.clone()];
        if cfg.cell == CellKind::GruResetBefore {
            // r, z blocks see h; the n block sees r ⊙ h.
            T::gemm_tn(dw, p, dg_hh, gh, h_prev, p, 2 * h, p, n);
            let gates = &cache[dcache.gates.clone()];
            let mut rh = vec![T::ZERO; n * h];
            for r in 0..n {
                for j in 0..h {
                    rh[r * h + j] = gates[r * gh + j] * h_prev[r * h + j];
                }
            }
            T::gemm_tn(&mut dw[2 * h * p..], p, &dg_hh[2 * h..], gh, &rh, h, h, p, n);
        } else {
            T::gemm_tn(dw, p, dg_hh, gh, h_prev, p, gh, p, n);
        }
    }
    if let (Some(bi), Some(bh)) = (&lp.b_ih, &lp.b_hh) {
        // Both biases in one pass over the rows (LSTM / RNN: dg_hh is dgates, streamed once).
        let (lo, hi) = d_params.split_at_mut(bh.start);
        let (db_ih, db_hh) = (&mut lo[bi.clone()], &mut hi[..bh.len()]);
        for (g_ih, g_hh) in dgates[..n * gh].chunks_exact(gh).zip(dg_hh[..n * gh].chunks_exact(gh)) {
            for (((a, b), &u), &v) in db_ih.iter_mut().zip(db_hh.iter_mut()).zip(g_ih).zip(g_hh) {
                *a += u;
                *b += v;
            }
        }
    }
    if let Some(whr) = &lp.w_hr {
        T::gemm_tn(&mut d_params[whr.clone()], h, dh_all, p, &cache[dcache.h_raw.clone()], h, p, h, n);
    }
    let _ = params;
}

/// Maps a core error code for callers that only have the number.
pub fn error_code_value(code: ErrorCode) -> i32 {
    code as i32
}

// ---- scratch buffers ----

thread_local! {
    /// Buffers of earlier calls on this thread, kept for the next one.
    static POOL: RefCell<Vec<Box<dyn Any>>> = RefCell::new(Vec::new());
}
/// Bytes of buffers a thread keeps between calls at most.
const POOL_MAX_BYTES: usize = 512 << 20;

/// A zeroed per-call buffer (dgates is N × G·H: 52 MB for B = 64, T = 100, H = 512). It comes from
/// this thread's pool and goes back to it when dropped: a fresh allocation that large is mapped
/// anew by the allocator on every call, and page faults then cost more than the products.
struct Scratch<T: 'static>(Vec<T>);

impl<T: Real> Scratch<T> {
    fn zeroed(len: usize) -> Scratch<T> {
        let mut s = Scratch::unspecified(len);
        s.0.fill(T::ZERO);
        s
    }

    /// A per-call buffer whose values are whatever an earlier call left (zero where it is new):
    /// for buffers every element of which is written before it is read, where clearing 4–50 MB
    /// per call is measurable.
    fn unspecified(len: usize) -> Scratch<T> {
        let reused = if len == 0 {
            None
        } else {
            POOL.with(|pool| {
                let mut pool = pool.borrow_mut();
                // The smallest kept buffer of this type that is large enough.
                let fit = |b: &Box<dyn Any>| b.downcast_ref::<Vec<T>>().map(|v| v.capacity()).filter(|&c| c >= len);
                let best = (0..pool.len()).filter(|&i| fit(&pool[i]).is_some()).min_by_key(|&i| fit(&pool[i]));
                best.map(|i| pool.swap_remove(i))
            })
        };
        let mut v = reused.and_then(|b| b.downcast::<Vec<T>>().ok()).map(|b| *b).unwrap_or_default();
        // Only values past the old length are written here.
        v.resize(len, T::ZERO);
        v.truncate(len);
        Scratch(v)
    }
}

impl<T: 'static> Drop for Scratch<T> {
    fn drop(&mut self) {
        let v = std::mem::take(&mut self.0);
        let bytes = v.capacity() * std::mem::size_of::<T>();
        if bytes == 0 {
            return;
        }
        // try_with: nothing to keep while the thread is exiting.
        let _ = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            let kept: usize = pool.iter().map(|b| pool_bytes(b.as_ref())).sum();
            if kept + bytes <= POOL_MAX_BYTES {
                pool.push(Box::new(v));
            }
        });
    }
}

/// Bytes held by a pooled buffer (f32 or f64).
fn pool_bytes(b: &dyn Any) -> usize {
    if let Some(v) = b.downcast_ref::<Vec<f32>>() {
        v.capacity() * 4
    } else if let Some(v) = b.downcast_ref::<Vec<f64>>() {
        v.capacity() * 8
    } else {
        0
    }
}

impl<T> Deref for Scratch<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        &self.0
    }
}

impl<T> DerefMut for Scratch<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        &mut self.0
    }
}

