//! Weights packed ahead of the call, for repeated inference (generation, streaming, evaluation):
//! every weight matrix a forward multiplies by (W_ih, W_hh, W_hr of each layer and direction), in
//! the current kernel level's GEMM panels, in one caller-owned f32 buffer. A forward given it
//! packs nothing, and batch-1 steps stream contiguous panels at memory speed instead of reading
//! W column-wise.
//!
//! The buffer starts with a header (magic, kernel level, parameter count, length, padding), then
//! 0..15 values of padding so the panels start on a 64-byte boundary where the buffer was when
//! packed (a vector load straddling two cache lines costs about two). A buffer packed
//! under another kernel level is ignored: every level computes the same bits, so that costs only
//! speed. Keeping it in step with the parameters is the caller's job: ts/nn/recurrent.ts repacks
//! when the parameter buffer has been written since (`DeviceBuffer.version`).

use crate::copy::copy;
use crate::config::RnnConfig;
use crate::error::{Error, Result};
use crate::kernels::{self, Level, PackedB};
use crate::CellKind;
use std::ops::Range;

const MAGIC: f32 = 5_263_211.0;
const HEADER: usize = 7;
/// Room for the padding that aligns the panels to 64 bytes.
const SLACK: usize = 15;

/// A weight matrix W (rows × cols, row-major) at `at` in the parameters, multiplied in forward
/// orientation (C += X·Wᵀ: k = cols, n = rows).
#[derive(Clone)]
pub(crate) struct Mat {
    pub at: Range<usize>,
    pub rows: usize,
    pub cols: usize,
}

/// The matrices of one (layer, direction) that a forward multiplies by. `hh`: all of W_hh, or for
/// GRU reset-before its r, z rows, with the n rows in `hn` (seq.rs multiplies them separately).
pub(crate) struct StateMats {
    pub ih: Mat,
    pub hh: Mat,
    pub hn: Option<Mat>,
    pub hr: Option<Mat>,
}

impl StateMats {
    fn all(&self) -> [Option<&Mat>; 4] {
        [Some(&self.ih), Some(&self.hh), self.hn.as_ref(), self.hr.as_ref()]
    }
}

/// The matrices of every (layer, direction), in parameter order.
pub(crate) fn state_mats(cfg: &RnnConfig) -> Vec<StateMats> {
    let (h, p, gh) = (cfg.hidden_size, cfg.h_out(), cfg.gates() * cfg.hidden_size);
    cfg.layout()
        .iter()
        .map(|lp| {
            let (hh, hn) = if cfg.cell == CellKind::GruResetBefore {
                let s = lp.w_hh.start;
                (Mat { at: s..s + 2 * h * h, rows: 2 * h, cols: h }, Some(Mat { at: s + 2 * h * h..lp.w_hh.end, rows: h, cols: h }))
            } else {
                (Mat { at: lp.w_hh.clone(), rows: gh, cols: p }, None)
            };
            StateMats { ih: Mat { at: lp.w_ih.clone(), rows: gh, cols: lp.input }, hh, hn, hr: lp.w_hr.clone().map(|at| Mat { at, rows: p, cols: h }) }
        })
        .collect()
}

/// Values of one matrix's panels at panel width `nr` (0: the level does not pack).
fn panel_len(m: &Mat, nr: usize) -> usize {
    if nr == 0 {
        0
    } else {
        m.cols * ((m.rows + nr - 1) / nr * nr)
    }
}

fn total_len(mats: &[StateMats], nr: usize) -> Result<usize> {
    let mut len = HEADER + SLACK;
    for m in mats.iter().flat_map(|s| s.all()).flatten() {
        len = len.checked_add(panel_len(m, nr)).ok_or_else(|| Error::bad_argument("packed weights: size overflows".to_string()))?;
    }
    Ok(len)
}

/// Splits a count into two exactly representable f32 halves (16 bits each).
fn halves(x: usize) -> [f32; 2] {
    [(x & 0xFFFF) as f32, ((x >> 16) & 0xFFFF) as f32]
}

/// Length (f32 values) of the packed-weights buffer of `cfg` under the current kernel level.
pub fn packed_weights_len(cfg: &RnnConfig) -> Result<usize> {
    cfg.validate()?;
    total_len(&state_mats(cfg), kernels::get().panel_width)
}

/// Packs every weight matrix of `params` into `out` (`packed_weights_len` values).
pub fn pack_weights(cfg: &RnnConfig, params: &[f32], out: &mut [f32]) -> Result<()> {
    cfg.validate()?;
    let count = cfg.param_count();
    if params.len() != count {
        return Err(Error::shape("params", count, params.len(), "the parameter count of this configuration"));
    }
    let t = kernels::get();
    let mats = state_mats(cfg);
    let len = total_len(&mats, t.panel_width)?;
    if out.len() != len {
        return Err(Error::shape("packed", len, out.len(), "rk_rnn_packed_len for this configuration and kernel level"));
    }
    let [c0, c1] = halves(count);
    let [l0, l1] = halves(len);
    // Values to skip after the header so the panels start on a 64-byte boundary.
    let pad = (16 - (out[HEADER..].as_ptr() as usize / 4) % 16) % 16;
    out[..HEADER].copy_from_slice(&[MAGIC, t.level as u8 as f32, c0, c1, l0, l1, pad as f32]);
    let mut at = HEADER + pad;
    for m in mats.iter().flat_map(|s| s.all()).flatten() {
        let n = panel_len(m, t.panel_width);
        if n == 0 {
            continue;
        }
        let mut pb = PackedB::plain(&params[m.at.clone()], m.cols, true, m.cols, m.rows);
        (t.pack_b)(&mut pb);
        if pb.panels.len() != n {
            return Err(Error::bad_argument(format!("packed weights: level {} packed {} values, expected {}", t.level.name(), pb.panels.len(), n)));
        }
        copy(&mut out[at..at + n], &pb.panels);
        at += n;
    }
    Ok(())
}

/// The panels of one (layer, direction) in a packed buffer (None where the matrix is absent).
pub(crate) struct StatePanels<'a> {
    pub level: Level,
    pub ih: &'a [f32],
    pub hh: &'a [f32],
    pub hn: Option<&'a [f32]>,
    pub hr: Option<&'a [f32]>,
}

/// Reads a packed buffer for a forward of `cfg`: per (layer, direction) its panels, or None when
/// the buffer was packed under another kernel level (then the forward packs as usual). Errors
/// when it is not a packed-weights buffer of this configuration.
pub(crate) fn open<'a>(cfg: &RnnConfig, packed: &'a [f32]) -> Result<Option<Vec<StatePanels<'a>>>> {
    let count = cfg.param_count();
    if packed.len() < HEADER + SLACK || packed[0] != MAGIC || !(0.0..=SLACK as f32).contains(&packed[6]) {
        return Err(Error::bad_argument("packed: not a buffer written by rk_rnn_pack (header missing)".to_string()));
    }
    if packed[2..4] != halves(count) || packed[4..6] != halves(packed.len()) {
        return Err(Error::bad_argument(format!(
            "packed: written for another configuration or buffer (its header says {} parameters, {} values; this one has {} parameters, {} values)",
            packed[2] as usize + ((packed[3] as usize) << 16),
            packed[4] as usize + ((packed[5] as usize) << 16),
            count,
            packed.len()
        )));
    }
    let t = kernels::get();
    let mats = state_mats(cfg);
    if packed[1] != t.level as u8 as f32 || t.panel_width == 0 || total_len(&mats, t.panel_width)? != packed.len() {
        return Ok(None);
    }
    let mut at = HEADER + packed[6] as usize;
    let mut take = |m: &Mat| {
        let n = panel_len(m, t.panel_width);
        let s = &packed[at..at + n];
        at += n;
        s
    };
    let mut out = Vec::with_capacity(mats.len());
    for s in &mats {
        let ih = take(&s.ih);
        let hh = take(&s.hh);
        let hn = s.hn.as_ref().map(&mut take);
        let hr = s.hr.as_ref().map(&mut take);
        out.push(StatePanels { level: t.level, ih, hh, hn, hr });
    }
    Ok(Some(out))
}
