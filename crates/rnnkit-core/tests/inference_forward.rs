//! A forward without a cache (inference) reads the state in place, and where packing would be a
//! plain copy reads the input and writes the output where they are. It must give the same bits
//! as the forward that fills the cache for training: every level, every cell, projection,
//! directions, layers, both layouts, full and variable lengths, given or zero initial states,
//! dropout between layers, 1 and 2 threads (the fused batch-1 step splits its units at 2).

mod common;
use common::Rng;
use rnnkit_core::kernels::{self, pool, Level};
use rnnkit_core::{seq_cache_len_dropout, seq_forward_dropout, CellKind, LayerDropout, RnnConfig, SeqBuffers};

struct Case {
    cfg: RnnConfig,
    dropout: Option<LayerDropout>,
}

fn cases() -> Vec<Case> {
    // Hidden 160: a multiple of every level's panel width, and a recurrent product large enough
    // for the 2-thread split.
    let c = |cell: CellKind, proj: usize, layers: usize, bidirectional: bool, batch_first: bool| RnnConfig { cell, input_size: 24, hidden_size: 160, proj_size: proj, num_layers: layers, bidirectional, bias: true, batch_first };
    vec![
        Case { cfg: c(CellKind::Lstm, 0, 2, false, false), dropout: None },
        Case { cfg: c(CellKind::Lstm, 0, 1, true, true), dropout: None },
        Case { cfg: c(CellKind::Lstm, 40, 2, false, true), dropout: Some(LayerDropout { p: 0.3, seed: 9 }) },
        Case { cfg: c(CellKind::GruResetAfter, 0, 2, true, false), dropout: None },
        Case { cfg: c(CellKind::GruResetBefore, 0, 1, false, true), dropout: None },
        Case { cfg: c(CellKind::RnnTanh, 0, 2, false, false), dropout: Some(LayerDropout { p: 0.5, seed: 4 }) },
        Case { cfg: RnnConfig { bias: false, ..c(CellKind::Lstm, 0, 1, false, false) }, dropout: None },
    ]
}

/// output, h_n, c_n of one forward; with the training cache when `with_cache`.
#[allow(clippy::too_many_arguments)]
fn forward(k: &Case, params: &[f32], input: &[f32], lengths: Option<&[i32]>, h0: Option<&[f32]>, c0: Option<&[f32]>, t: usize, b: usize, with_cache: bool) -> Vec<Vec<f32>> {
    let c = &k.cfg;
    let states = c.num_layers * c.dirs();
    let lstm = c.cell == CellKind::Lstm;
    // NaN-filled: every value the forward owes must be written.
    let mut output = vec![f32::NAN; t * b * c.dirs() * c.h_out()];
    let mut h_n = vec![f32::NAN; states * b * c.h_out()];
    let mut c_n = vec![f32::NAN; states * b * c.hidden_size];
    let mut cache = vec![0.0; seq_cache_len_dropout(c, k.dropout.as_ref(), lengths, t, b).unwrap()];
    let bufs = SeqBuffers {
        params,
        input,
        lengths,
        h0,
        c0: if lstm { c0 } else { None },
        output: &mut output,
        h_n: &mut h_n,
        c_n: if lstm { Some(&mut c_n) } else { None },
        cache: if with_cache { Some(&mut cache) } else { None },
    };
    seq_forward_dropout(c, k.dropout.as_ref(), t, b, bufs).unwrap();
    if !lstm {
        c_n.clear();
    }
    vec![output, h_n, c_n]
}

#[test]
fn forward_without_cache_gives_the_bits_of_the_training_forward() {
    let best = kernels::available()[0];
    let mut rng = Rng(0x1f0);
    for k in cases() {
        let c = &k.cfg;
        let params: Vec<f32> = rng.vec(c.param_count()).into_iter().map(|v| v * 0.2).collect();
        // (T, B, lengths): one sequence (batch 1: the fused step), full lengths, lengths sorted
        // and not, one step.
        let shapes: [(usize, usize, Option<Vec<i32>>); 5] = [(6, 1, None), (5, 3, None), (5, 4, Some(vec![2, 5, 1, 5])), (4, 3, Some(vec![4, 3, 1])), (1, 2, None)];
        for (t, b, lengths) in shapes.iter() {
            let (t, b) = (*t, *b);
            let states = c.num_layers * c.dirs();
            let input = rng.vec(t * b * c.input_size);
            let h0 = rng.vec(states * b * c.h_out());
            let c0 = rng.vec(states * b * c.hidden_size);
            for &level in &kernels::available() {
                kernels::force_level(level).unwrap();
                for threads in [1, 2] {
                    pool::set_threads(threads).unwrap();
                    for given in [false, true] {
                        let (h0, c0) = if given { (Some(&h0[..]), Some(&c0[..])) } else { (None, None) };
                        let want = forward(&k, &params, &input, lengths.as_deref(), h0, c0, t, b, true);
                        let got = forward(&k, &params, &input, lengths.as_deref(), h0, c0, t, b, false);
                        for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
                            for (j, (x, y)) in g.iter().zip(w.iter()).enumerate() {
                                assert!(
                                    x.to_bits() == y.to_bits(),
                                    "{:?} proj={} L={} bidir={} batch_first={} bias={} T={} B={} lengths={:?} h0/c0={} level {} threads {}: result {} element {}: {:e} without the cache, {:e} with it",
                                    c.cell, c.proj_size, c.num_layers, c.bidirectional, c.batch_first, c.bias, t, b, lengths, given, level.name(), threads, i, j, x, y
                                );
                            }
                        }
                    }
                }
            }
        }
    }
    kernels::force_level(best).unwrap();
    pool::set_threads(0).unwrap();
    assert!(kernels::available().contains(&Level::Scalar));
}
