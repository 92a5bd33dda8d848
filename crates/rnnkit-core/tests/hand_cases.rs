//! 1×1 cases whose expected values are worked out by hand in the comments.

use rnnkit_core::{seq_forward, CellKind, RnnConfig, SeqBuffers};

fn gru_1x1(cell: CellKind) -> f64 {
    let cfg = RnnConfig {
        cell,
        input_size: 1,
        hidden_size: 1,
        proj_size: 0,
        num_layers: 1,
        bidirectional: false,
        bias: true,
        batch_first: false,
    };
    // w_ih = [a_r, a_z, a_n], w_hh = [u_r, u_z, u_n], b_ih = 0, b_hh = [0, 0, b_hn = 1]
    let params = [0.5, 0.0, 0.25, -1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0];
    let (x, h0) = ([1.0], [0.5]);
    let (mut out, mut h_n) = ([0.0], [0.0]);
    seq_forward(
        &cfg,
        1,
        1,
        SeqBuffers { params: &params, input: &x, lengths: None, h0: Some(&h0), c0: None, output: &mut out, h_n: &mut h_n, c_n: None, cache: None },
    )
    .unwrap();
    assert_eq!(out[0], h_n[0]);
    out[0]
}

/// r = σ(0.5·1 − 1·0.5) = σ(0) = 0.5, z = σ(0) = 0.5.
/// reset before: n = tanh(0.25 + 1·(r·h) + b_hn) = tanh(0.25 + 0.25 + 1) = tanh(1.5) = 0.905148253644866
///   h' = (1 − z)·n + z·h = 0.5·0.905148253644866 + 0.25 = 0.702574126822433
/// reset after:  n = tanh(0.25 + r·(1·h + b_hn)) = tanh(0.25 + 0.5·1.5) = tanh(1) = 0.761594155955765
///   h' = 0.5·0.761594155955765 + 0.25 = 0.630797077977882
#[test]
fn gru_both_forms_by_hand() {
    assert!((gru_1x1(CellKind::GruResetBefore) - 0.702574126822433).abs() < 1e-14);
    assert!((gru_1x1(CellKind::GruResetAfter) - 0.630797077977882).abs() < 1e-14);
}

/// LSTM, all weights 0 but b_ig = 1 and b_io = 0 (pre-activations: i = f = o = 0, g = 1):
/// i = f = o = σ(0) = 0.5, g = tanh(1) = 0.761594155955765, c0 = 0.4
/// c' = 0.5·0.4 + 0.5·0.761594155955765 = 0.580797077977882, h' = 0.5·tanh(c') = 0.261622260601497
#[test]
fn lstm_by_hand() {
    let cfg = RnnConfig {
        cell: CellKind::Lstm,
        input_size: 1,
        hidden_size: 1,
        proj_size: 0,
        num_layers: 1,
        bidirectional: false,
        bias: true,
        batch_first: false,
    };
    let mut params = [0.0f64; 4 + 4 + 4 + 4];
    params[8 + 2] = 1.0; // b_ih, gate g
    let (x, h0, c0) = ([3.0], [0.0], [0.4]);
    let (mut out, mut h_n, mut c_n) = ([0.0], [0.0], [0.0]);
    seq_forward(
        &cfg,
        1,
        1,
        SeqBuffers { params: &params, input: &x, lengths: None, h0: Some(&h0), c0: Some(&c0), output: &mut out, h_n: &mut h_n, c_n: Some(&mut c_n), cache: None },
    )
    .unwrap();
    assert!((c_n[0] - 0.580797077977882).abs() < 1e-14, "{}", c_n[0]);
    assert!((h_n[0] - 0.5 * 0.580797077977882f64.tanh()).abs() < 1e-14);
    assert!((h_n[0] - 0.261622260601497).abs() < 1e-13, "{}", h_n[0]);
}
