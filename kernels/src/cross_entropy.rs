//! Fused cross-entropy forward and backward over `[rows, classes]` logits (PTX in
//! `ptx/cross_entropy.ptx`): per-row losses and dlogits in one pass, probabilities never stored.

use crate::ptx::{self, Module};
use crate::softmax::warp_per_row;
use crate::{Arg, Buffer, Gpu, Result};

const MODULE: &str = "cross_entropy";

/// Target value that marks a row to ignore (loss and gradient 0).
pub const IGNORE: u32 = u32::MAX;

/// The cross-entropy module.
pub fn modules() -> Vec<Module> {
    vec![Module { name: MODULE.into(), ptx: include_str!("ptx/cross_entropy.ptx").into() }]
}

/// Writes `loss[r] = logsumexp(logits[r]) - logits[r, targets[r]]` and
/// `dlogits[r] = (softmax(logits[r]) - onehot(targets[r])) * dscale` (`dscale = 1 / rows` for a mean).
pub fn forward_backward(
    gpu: &Gpu,
    loss: &Buffer<f32>,
    dlogits: &Buffer<f32>,
    logits: &Buffer<f32>,
    targets: &Buffer<u32>,
    classes: usize,
    dscale: f32,
) -> Result<()> {
    let rows = targets.len();
    assert!(logits.len() >= rows * classes && dlogits.len() >= rows * classes, "cross_entropy: short logits");
    assert!(loss.len() >= rows, "cross_entropy: loss needs one element per row");
    ptx::load(gpu, MODULE, || modules().remove(0).ptx)?;
    let args = [
        loss.arg(),
        dlogits.arg(),
        logits.arg(),
        targets.arg(),
        Arg::U32(rows as u32),
        Arg::U32(classes as u32),
        Arg::F32(dscale),
    ];
    gpu.launch(MODULE, "cross_entropy", &warp_per_row(rows), &args)
}

/// CPU reference in f64: (loss per row, dlogits).
pub fn reference(logits: &[f32], targets: &[u32], classes: usize, dscale: f32) -> (Vec<f32>, Vec<f32>) {
    let (mut loss, mut dlogits) = (Vec::new(), Vec::new());
    for (row, &t) in logits.chunks(classes).zip(targets) {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let sum: f64 = row.iter().map(|&v| (v as f64 - max).exp()).sum();
        let ignored = t as usize >= classes;
        loss.push(if ignored { 0.0 } else { (max + sum.ln() - row[t as usize] as f64) as f32 });
        let scale = if ignored { 0.0 } else { dscale as f64 };
        dlogits.extend(row.iter().enumerate().map(|(c, &v)| {
            let p = (v as f64 - max).exp() / sum;
            ((p - if c == t as usize { 1.0 } else { 0.0 }) * scale) as f32
        }));
    }
    (loss, dlogits)
}
