//! Weights packed ahead (prepack.rs): a forward given them computes the same bits as one without,
//! on every kernel level, for every cell, projection, direction, batch size (1, the few-row
//! path, the GEMM) and variable lengths; a buffer packed under another level is ignored; a buffer
//! that is not one, or belongs to another configuration, is refused with its reason.

mod common;
use common::Rng;
use rnnkit_core::kernels::{self, pool, Level};
use rnnkit_core::prepack::{pack_weights, packed_weights_len};
use rnnkit_core::{seq_cache_len, seq_forward, seq_forward_packed, CellKind, ErrorCode, RnnConfig, SeqBuffers};
use std::sync::{Mutex, MutexGuard};

/// The kernel level (and so the packed layout and `packed_weights_len`) and the thread count are
/// process-wide, and the test harness runs these tests on parallel threads: each test holds this
/// while it runs, so one test's `force_level` cannot land between another's pack and forward.
static GLOBAL_STATE: Mutex<()> = Mutex::new(());

fn hold_global_state() -> MutexGuard<'static, ()> {
    GLOBAL_STATE.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn cfg(cell: CellKind, proj: usize, layers: usize, bidirectional: bool) -> RnnConfig {
    RnnConfig { cell, input_size: 40, hidden_size: 64, proj_size: proj, num_layers: layers, bidirectional, bias: true, batch_first: false }
}

fn configs() -> Vec<RnnConfig> {
    vec![
        cfg(CellKind::Lstm, 0, 2, true),
        cfg(CellKind::Lstm, 24, 2, false),
        cfg(CellKind::GruResetAfter, 0, 1, false),
        cfg(CellKind::GruResetBefore, 0, 2, true),
        cfg(CellKind::RnnTanh, 0, 2, false),
    ]
}

/// output, h_n, c_n of one forward (with the cache, as training does, when `with_cache`).
fn forward(c: &RnnConfig, params: &[f32], input: &[f32], lengths: Option<&[i32]>, t: usize, b: usize, packed: Option<&[f32]>, with_cache: bool) -> Vec<Vec<f32>> {
    let states = c.num_layers * c.dirs();
    let mut output = vec![0.0; t * b * c.dirs() * c.h_out()];
    let mut h_n = vec![0.0; states * b * c.h_out()];
    let mut c_n = vec![0.0; states * b * c.hidden_size];
    let lstm = c.cell == CellKind::Lstm;
    let mut cache = vec![0.0; seq_cache_len(c, lengths, t, b).unwrap()];
    let bufs = SeqBuffers {
        params,
        input,
        lengths,
        h0: None,
        c0: None,
        output: &mut output,
        h_n: &mut h_n,
        c_n: if lstm { Some(&mut c_n) } else { None },
        cache: if with_cache { Some(&mut cache) } else { None },
    };
    match packed {
        Some(p) => seq_forward_packed(c, None, t, b, bufs, Some(p)).unwrap(),
        None => seq_forward(c, t, b, bufs).unwrap(),
    }
    vec![output, h_n, c_n]
}

fn assert_same_bits(what: &str, got: &[Vec<f32>], want: &[Vec<f32>]) {
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert_eq!(g.len(), w.len());
        for (j, (x, y)) in g.iter().zip(w.iter()).enumerate() {
            assert_eq!(x.to_bits(), y.to_bits(), "{}: result {} element {}: {:e} vs {:e}", what, i, j, x, y);
        }
    }
}

#[test]
fn packed_forward_gives_the_same_bits_on_every_level() {
    let _state = hold_global_state();
    let levels = kernels::available();
    let best = levels[0];
    let mut rng = Rng(0x5eed);
    for c in configs() {
        let params: Vec<f32> = rng.vec(c.param_count()).into_iter().map(|v| v * 0.3).collect();
        for &(t, b, varlen) in &[(5usize, 1usize, false), (4, 3, false), (3, 7, true)] {
            let input = rng.vec(t * b * c.input_size);
            let lengths: Vec<i32> = (0..b).map(|i| 1 + (i * 2 % t) as i32).collect();
            let lengths = if varlen { Some(&lengths[..]) } else { None };
            kernels::force_level(Level::Scalar).unwrap();
            let want = forward(&c, &params, &input, lengths, t, b, None, true);
            for &level in &levels {
                kernels::force_level(level).unwrap();
                let mut packed = vec![0.0; packed_weights_len(&c).unwrap()];
                pack_weights(&c, &params, &mut packed).unwrap();
                if level != Level::Scalar {
                    assert!(packed.len() > c.param_count() / 2, "{}: nothing packed", level.name());
                }
                let what = format!("{:?} proj={} L={} bidir={} T={} B={} level {}", c.cell, c.proj_size, c.num_layers, c.bidirectional, t, b, level.name());
                assert_same_bits(&format!("{} packed, no cache", what), &forward(&c, &params, &input, lengths, t, b, Some(&packed), false), &want);
                assert_same_bits(&format!("{} packed, cache", what), &forward(&c, &params, &input, lengths, t, b, Some(&packed), true), &want);
                // Packed under this level, read under another: ignored, same bits.
                for &other in &levels {
                    kernels::force_level(other).unwrap();
                    assert_same_bits(&format!("{} read under {}", what, other.name()), &forward(&c, &params, &input, lengths, t, b, Some(&packed), false), &want);
                }
            }
        }
    }
    kernels::force_level(best).unwrap();
}

#[test]
fn foreign_buffers_are_refused() {
    let _state = hold_global_state();
    let c = cfg(CellKind::Lstm, 0, 1, false);
    let params = Rng(3).vec(c.param_count());
    let input = Rng(4).vec(2 * c.input_size);
    let run = |packed: &[f32]| {
        let mut out = vec![0.0; 2 * c.h_out()];
        let mut h_n = vec![0.0; c.h_out()];
        let mut c_n = vec![0.0; c.hidden_size];
        let bufs = SeqBuffers { params: &params, input: &input, lengths: None, h0: None, c0: None, output: &mut out, h_n: &mut h_n, c_n: Some(&mut c_n), cache: None };
        seq_forward_packed(&c, None, 2, 1, bufs, Some(packed)).unwrap_err()
    };
    // Not a packed buffer at all.
    let e = run(&vec![0.0; 100]);
    assert_eq!(e.code, ErrorCode::BadArgument);
    assert!(e.message.contains("not a buffer written by rk_rnn_pack"), "{}", e.message);
    // Packed for another configuration (other hidden size).
    let other = RnnConfig { hidden_size: 32, ..c };
    let other_params = Rng(5).vec(other.param_count());
    let mut packed = vec![0.0; packed_weights_len(&other).unwrap()];
    pack_weights(&other, &other_params, &mut packed).unwrap();
    let e = run(&packed);
    assert!(e.message.contains("another configuration"), "{}", e.message);
    // Cut short.
    let mut mine = vec![0.0; packed_weights_len(&c).unwrap()];
    pack_weights(&c, &params, &mut mine).unwrap();
    let e = run(&mine[..mine.len() - 1]);
    assert!(e.message.contains("another configuration or buffer"), "{}", e.message);
    // pack_weights checks its own arguments.
    let e = pack_weights(&c, &params[1..], &mut mine).unwrap_err();
    assert!(e.message.contains("params"), "{}", e.message);
    let e = pack_weights(&c, &params, &mut vec![0.0; 7]).unwrap_err();
    assert!(e.message.contains("rk_rnn_packed_len"), "{}", e.message);
}

#[test]
fn batch_one_steps_split_among_threads_give_the_same_bits() {
    let _state = hold_global_state();
    // Large enough that the per-step product with packed weights is split among threads (each
    // part pinned to one thread); a short one (T = 1, a generation step) and a sequence.
    let c = RnnConfig { cell: CellKind::Lstm, input_size: 256, hidden_size: 256, proj_size: 0, num_layers: 1, bidirectional: false, bias: true, batch_first: false };
    let mut rng = Rng(11);
    let params: Vec<f32> = rng.vec(c.param_count()).into_iter().map(|v| v * 0.06).collect();
    let mut packed = vec![0.0; packed_weights_len(&c).unwrap()];
    pack_weights(&c, &params, &mut packed).unwrap();
    for &t in &[1usize, 6] {
        let input = rng.vec(t * c.input_size);
        pool::set_threads(1).unwrap();
        let want = forward(&c, &params, &input, None, t, 1, None, false);
        for threads in [1usize, 2, 3] {
            if pool::set_threads(threads).is_err() {
                continue; // wasm32: one thread only
            }
            assert_same_bits(&format!("T={} threads={}", t, threads), &forward(&c, &params, &input, None, t, 1, Some(&packed), false), &want);
        }
    }
    pool::set_threads(0).unwrap();
}
