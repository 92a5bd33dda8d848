//! Finite-difference checks of every backward, in f64: each cell, both GRU forms, projection,
//! reverse direction, stacked layers, variable lengths, batch-first. The loss is the fixtures'
//! one: L = Σ output ⊙ r_out + Σ h_n ⊙ r_h (+ Σ c_n ⊙ r_c), so the upstream gradients are r_*.

use rnnkit_core::rng::SplitMix64;
use rnnkit_core::{seq_backward_dropout, seq_cache_len_dropout, seq_forward_dropout, CellKind, LayerDropout, RnnConfig, SeqBuffers, SeqGradBuffers};

struct Case {
    cfg: RnnConfig,
    seq_len: usize,
    batch: usize,
    lengths: Option<Vec<i32>>,
    dropout: Option<LayerDropout>,
}

fn randv(rng: &mut SplitMix64, n: usize, scale: f64) -> Vec<f64> {
    (0..n).map(|_| (rng.next_f64() * 2.0 - 1.0) * scale).collect()
}

struct Inputs {
    params: Vec<f64>,
    input: Vec<f64>,
    h0: Vec<f64>,
    c0: Option<Vec<f64>>,
    r_out: Vec<f64>,
    r_h: Vec<f64>,
    r_c: Option<Vec<f64>>,
}

fn loss(case: &Case, x: &Inputs) -> f64 {
    let cfg = &case.cfg;
    let (t, b) = (case.seq_len, case.batch);
    let states = cfg.num_layers * cfg.dirs();
    let mut output = vec![0.0; t * b * cfg.dirs() * cfg.h_out()];
    let mut h_n = vec![0.0; states * b * cfg.h_out()];
    let mut c_n = x.c0.as_ref().map(|_| vec![0.0; states * b * cfg.hidden_size]);
    seq_forward_dropout(
        cfg,
        case.dropout.as_ref(),
        t,
        b,
        SeqBuffers {
            params: &x.params,
            input: &x.input,
            lengths: case.lengths.as_deref(),
            h0: Some(&x.h0),
            c0: x.c0.as_deref(),
            output: &mut output,
            h_n: &mut h_n,
            c_n: c_n.as_deref_mut(),
            cache: None,
        },
    )
    .unwrap();
    let mut l: f64 = output.iter().zip(&x.r_out).map(|(a, b)| a * b).sum();
    l += h_n.iter().zip(&x.r_h).map(|(a, b)| a * b).sum::<f64>();
    if let (Some(c), Some(r)) = (&c_n, &x.r_c) {
        l += c.iter().zip(r).map(|(a, b)| a * b).sum::<f64>();
    }
    l
}

fn check(case: Case, seed: u64) {
    let cfg = case.cfg;
    let mut rng = SplitMix64::new(seed);
    let (t, b) = (case.seq_len, case.batch);
    let states = cfg.num_layers * cfg.dirs();
    let lstm = cfg.cell == CellKind::Lstm;
    let mut x = Inputs {
        params: randv(&mut rng, cfg.param_count(), 0.6),
        input: randv(&mut rng, t * b * cfg.input_size, 1.0),
        h0: randv(&mut rng, states * b * cfg.h_out(), 0.5),
        c0: if lstm { Some(randv(&mut rng, states * b * cfg.hidden_size, 0.5)) } else { None },
        r_out: randv(&mut rng, t * b * cfg.dirs() * cfg.h_out(), 1.0),
        r_h: randv(&mut rng, states * b * cfg.h_out(), 1.0),
        r_c: if lstm { Some(randv(&mut rng, states * b * cfg.hidden_size, 1.0)) } else { None },
    };
    // Analytic gradients.
    let cache_len = seq_cache_len_dropout(&cfg, case.dropout.as_ref(), case.lengths.as_deref(), t, b).unwrap();
    let mut cache = vec![0.0; cache_len];
    let mut output = vec![0.0; x.r_out.len()];
    let mut h_n = vec![0.0; x.r_h.len()];
    let mut c_n = x.c0.as_ref().map(|c| vec![0.0; c.len()]);
    seq_forward_dropout(
        &cfg,
        case.dropout.as_ref(),
        t,
        b,
        SeqBuffers {
            params: &x.params,
            input: &x.input,
            lengths: case.lengths.as_deref(),
            h0: Some(&x.h0),
            c0: x.c0.as_deref(),
            output: &mut output,
            h_n: &mut h_n,
            c_n: c_n.as_deref_mut(),
            cache: Some(&mut cache),
        },
    )
    .unwrap();
    let mut d_params = vec![0.0; x.params.len()];
    let mut d_input = vec![0.0; x.input.len()];
    let mut d_h0 = vec![0.0; x.h0.len()];
    let mut d_c0 = x.c0.as_ref().map(|c| vec![0.0; c.len()]);
    seq_backward_dropout(
        &cfg,
        case.dropout.as_ref(),
        t,
        b,
        SeqGradBuffers {
            params: &x.params,
            lengths: case.lengths.as_deref(),
            cache: &cache,
            d_output: Some(&x.r_out),
            d_h_n: Some(&x.r_h),
            d_c_n: x.r_c.as_deref(),
            d_input: Some(&mut d_input),
            d_h0: Some(&mut d_h0),
            d_c0: d_c0.as_deref_mut(),
            d_params: &mut d_params,
        },
    )
    .unwrap();

    let eps = 1e-6;
    let mut worst = 0.0f64;
    let mut compare = |name: &str, i: usize, analytic: f64, plus: f64, minus: f64| {
        let numeric = (plus - minus) / (2.0 * eps);
        // Central differences in f64 carry ~1e-10 absolute error; a wrong gradient is off by O(1).
        let err = (analytic - numeric).abs() / (1e-7 + 1e-5 * analytic.abs().max(numeric.abs()));
        worst = worst.max(err);
        assert!(err < 1.0, "{:?}: {}[{}] analytic {} vs numeric {} (rel err {:e})", cfg.cell, name, i, analytic, numeric, err);
    };
    macro_rules! fd {
        ($field:ident, $grad:expr, $name:expr) => {
            for i in 0..$grad.len() {
                let orig = x.$field[i];
                x.$field[i] = orig + eps;
                let plus = loss(&case, &x);
                x.$field[i] = orig - eps;
                let minus = loss(&case, &x);
                x.$field[i] = orig;
                compare($name, i, $grad[i], plus, minus);
            }
        };
    }
    fd!(params, d_params, "params");
    fd!(input, d_input, "input");
    fd!(h0, d_h0, "h0");
    if let Some(dc0) = &d_c0 {
        for i in 0..dc0.len() {
            let c0 = x.c0.as_mut().unwrap();
            let orig = c0[i];
            c0[i] = orig + eps;
            let plus = loss(&case, &x);
            x.c0.as_mut().unwrap()[i] = orig - eps;
            let minus = loss(&case, &x);
            x.c0.as_mut().unwrap()[i] = orig;
            compare("c0", i, dc0[i], plus, minus);
        }
    }
    // Padded input positions get exactly zero gradient.
    if let Some(lens) = &case.lengths {
        for bi in 0..b {
            for ti in lens[bi] as usize..t {
                let at = if cfg.batch_first { (bi * t + ti) * cfg.input_size } else { (ti * b + bi) * cfg.input_size };
                assert!(d_input[at..at + cfg.input_size].iter().all(|&v| v == 0.0));
            }
        }
    }
    eprintln!("{:?} worst error / tolerance {:.3}", cfg.cell, worst);
}

fn cfg(cell: CellKind, input: usize, hidden: usize, layers: usize, bidir: bool) -> RnnConfig {
    RnnConfig {
        cell,
        input_size: input,
        hidden_size: hidden,
        proj_size: 0,
        num_layers: layers,
        bidirectional: bidir,
        bias: true,
        batch_first: false,
    }
}

const CELLS: [CellKind; 5] = [CellKind::RnnTanh, CellKind::RnnRelu, CellKind::Lstm, CellKind::GruResetAfter, CellKind::GruResetBefore];

#[test]
fn every_cell_one_layer() {
    for (i, &cell) in CELLS.iter().enumerate() {
        check(Case { cfg: cfg(cell, 3, 4, 1, false), seq_len: 4, batch: 2, lengths: None, dropout: None }, 10 + i as u64);
    }
}

#[test]
fn every_cell_stacked_bidirectional_varlen() {
    for (i, &cell) in CELLS.iter().enumerate() {
        check(Case { cfg: cfg(cell, 3, 4, 2, true), seq_len: 5, batch: 3, lengths: Some(vec![3, 5, 1]), dropout: None }, 20 + i as u64);
    }
}

#[test]
fn batch_first_varlen_and_no_bias() {
    for (i, &cell) in CELLS.iter().enumerate() {
        let mut c = cfg(cell, 2, 3, 1, true);
        c.batch_first = true;
        c.bias = false;
        check(Case { cfg: c, seq_len: 4, batch: 3, lengths: Some(vec![2, 4, 3]), dropout: None }, 30 + i as u64);
    }
}

#[test]
fn lstm_projection() {
    let mut c = cfg(CellKind::Lstm, 3, 5, 2, true);
    c.proj_size = 2;
    check(Case { cfg: c, seq_len: 4, batch: 2, lengths: Some(vec![4, 2]), dropout: None }, 40);
    let mut c = cfg(CellKind::Lstm, 3, 4, 1, false);
    c.proj_size = 3;
    check(Case { cfg: c, seq_len: 3, batch: 2, lengths: None, dropout: None }, 41);
}

/// Inter-layer dropout (PyTorch's `dropout` option): a fixed seed fixes the mask, so the
/// forward is a deterministic function and finite differences apply.
#[test]
fn stacked_layers_with_dropout() {
    for (i, &cell) in CELLS.iter().enumerate() {
        let d = Some(LayerDropout { p: 0.4, seed: 77 });
        check(Case { cfg: cfg(cell, 3, 4, 3, true), seq_len: 4, batch: 2, lengths: Some(vec![4, 2]), dropout: d }, 50 + i as u64);
    }
}
