//! The configuration of a recurrent module and the layout of its flat parameter buffer.
//!
//! The flat buffer holds, for layer k = 0..L and direction d = 0..D (forward, then reverse),
//! the tensors `w_ih`, `w_hh`, `b_ih`, `b_hh` (if bias), `w_hr` (if proj_size > 0), each
//! row-major, in that order: PyTorch's `_flat_weights` order and `state_dict()` key order.
//! Gradient buffers use the same layout.

use crate::error::{checked_product, Error, Result};
use std::ops::Range;

/// Which cell a module runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    /// h' = tanh(W_ih x + b_ih + W_hh h + b_hh)
    RnnTanh,
    /// h' = relu(W_ih x + b_ih + W_hh h + b_hh)
    RnnRelu,
    /// gates i, f, g, o; optional projection h = W_hr (o ⊙ tanh c)
    Lstm,
    /// GRU as in PyTorch and cuDNN: n = tanh(W_in x + b_in + r ⊙ (W_hn h + b_hn))
    GruResetAfter,
    /// GRU as in Cho et al. (TF.js, ONNX default): n = tanh(W_in x + b_in + W_hn (r ⊙ h) + b_hn)
    GruResetBefore,
}

impl CellKind {
    /// ABI codes (also used by the TS API).
    pub fn from_code(code: u32) -> Result<CellKind> {
        match code {
            0 => Ok(CellKind::RnnTanh),
            1 => Ok(CellKind::RnnRelu),
            2 => Ok(CellKind::Lstm),
            3 => Ok(CellKind::GruResetAfter),
            4 => Ok(CellKind::GruResetBefore),
            _ => Err(Error::bad_argument(format!("cell: unknown cell code {} (expected 0..=4)", code))),
        }
    }
    /// G: number of gate blocks in W_ih / W_hh.
    pub fn gates(self) -> usize {
        match self {
            CellKind::RnnTanh | CellKind::RnnRelu => 1,
            CellKind::Lstm => 4,
            CellKind::GruResetAfter | CellKind::GruResetBefore => 3,
        }
    }
    pub fn is_lstm(self) -> bool {
        self == CellKind::Lstm
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RnnConfig {
    pub cell: CellKind,
    pub input_size: usize,
    pub hidden_size: usize,
    /// 0 = no projection (LSTM only).
    pub proj_size: usize,
    pub num_layers: usize,
    pub bidirectional: bool,
    pub bias: bool,
    /// Only `input`, `output` and their gradients are batch-first; states never are.
    pub batch_first: bool,
}

/// Where one (layer, direction)'s tensors sit in the flat parameter buffer.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerParams {
    pub w_ih: Range<usize>,
    pub w_hh: Range<usize>,
    pub b_ih: Option<Range<usize>>,
    pub b_hh: Option<Range<usize>>,
    pub w_hr: Option<Range<usize>>,
    /// Input size of this layer: I for layer 0, D*P above.
    pub input: usize,
}

impl RnnConfig {
    /// Checks sizes and option combinations. Sizes must be ≥ 1 and their products must fit.
    pub fn validate(&self) -> Result<()> {
        let named = [
            ("input_size", self.input_size),
            ("hidden_size", self.hidden_size),
            ("num_layers", self.num_layers),
        ];
        for (name, v) in named.iter() {
            if *v == 0 {
                return Err(Error::bad_argument(format!("{}: must be at least 1, got 0", name)));
            }
        }
        if self.proj_size > 0 {
            if !self.cell.is_lstm() {
                return Err(Error::unsupported(format!(
                    "proj_size: only LSTM supports a projection, got proj_size={} for {:?}",
                    self.proj_size, self.cell
                )));
            }
            if self.proj_size >= self.hidden_size {
                return Err(Error::bad_argument(format!(
                    "proj_size: must be smaller than hidden_size={}, got {}",
                    self.hidden_size, self.proj_size
                )));
            }
        }
        // Overflow check of the largest products used anywhere (param count).
        self.param_count_checked().map(|_| ())
    }

    pub fn dirs(&self) -> usize {
        if self.bidirectional {
            2
        } else {
            1
        }
    }
    /// P: size of h.
    pub fn h_out(&self) -> usize {
        if self.proj_size > 0 {
            self.proj_size
        } else {
            self.hidden_size
        }
    }
    pub fn gates(&self) -> usize {
        self.cell.gates()
    }
    pub fn layer_input(&self, layer: usize) -> usize {
        if layer == 0 {
            self.input_size
        } else {
            self.dirs() * self.h_out()
        }
    }

    fn param_count_checked(&self) -> Result<usize> {
        let gh = checked_product("gates*hidden_size", &[self.gates(), self.hidden_size])?;
        let mut total: usize = 0;
        for layer in 0..self.num_layers {
            let mut one = checked_product("weight_ih", &[gh, self.layer_input(layer)])?;
            one = one
                .checked_add(checked_product("weight_hh", &[gh, self.h_out()])?)
                .ok_or_else(|| Error::bad_argument("parameter count overflows".to_string()))?;
            if self.bias {
                one += 2 * gh;
            }
            if self.proj_size > 0 {
                one += checked_product("weight_hr", &[self.proj_size, self.hidden_size])?;
            }
            total = checked_product("parameters", &[one, self.dirs()])?
                .checked_add(total)
                .ok_or_else(|| Error::bad_argument("parameter count overflows".to_string()))?;
        }
        Ok(total)
    }

    /// Number of f32 values in the flat parameter buffer. REQUIRES: `validate()` passed.
    pub fn param_count(&self) -> usize {
        self.layout().last().map(|p| p.end()).unwrap_or(0)
    }

    /// Offsets of every (layer, direction), index `layer * D + dir`. REQUIRES: `validate()`.
    pub fn layout(&self) -> Vec<LayerParams> {
        let gh = self.gates() * self.hidden_size;
        let p = self.h_out();
        let mut at = 0usize;
        let mut take = |n: usize| {
            let r = at..at + n;
            at += n;
            r
        };
        let mut out = Vec::with_capacity(self.num_layers * self.dirs());
        for layer in 0..self.num_layers {
            let input = self.layer_input(layer);
            for _dir in 0..self.dirs() {
                let w_ih = take(gh * input);
                let w_hh = take(gh * p);
                let (b_ih, b_hh) = if self.bias { (Some(take(gh)), Some(take(gh))) } else { (None, None) };
                let w_hr = if self.proj_size > 0 { Some(take(self.proj_size * self.hidden_size)) } else { None };
                out.push(LayerParams { w_ih, w_hh, b_ih, b_hh, w_hr, input });
            }
        }
        out
    }
}

impl LayerParams {
    pub fn end(&self) -> usize {
        let mut end = self.w_hh.end;
        for r in [&self.b_ih, &self.b_hh, &self.w_hr].iter().copied().flatten() {
            end = end.max(r.end);
        }
        end
    }
}
