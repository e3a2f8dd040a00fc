//! The linear probe of the spec: BatchNorm without affine, then one Linear layer, trained with
//! cross-entropy on frozen features.
//!
//! The features are computed once, so the BatchNorm sees the same inputs every epoch; it is
//! applied here with the statistics of the whole training set (what its running averages
//! converge to), which turns it into a fixed standardisation. The spec's optimiser is LARS at
//! batch 16384; on ~10k precomputed vectors plain SGD with momentum and a cosine schedule reaches
//! the same optimum of this convex problem in a few seconds, so that is what runs here. Plain f32
//! loops are enough: ten classes make every step a handful of dot products per vector.

use tensor::Rng;

use super::Features;
use crate::train::schedule::Schedule;

/// The BatchNorm epsilon of the probe.
pub const BN_EPS: f64 = 1e-6;

/// Settings of the probe's training.
#[derive(Clone, Debug, PartialEq)]
pub struct LinearProbeConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate, decayed per step to 0 with a cosine.
    pub lr: f64,
    pub momentum: f64,
    /// L2 penalty on the weights (not the bias).
    pub weight_decay: f64,
    /// Seed of the minibatch order.
    pub seed: u64,
}

impl Default for LinearProbeConfig {
    fn default() -> Self {
        LinearProbeConfig { epochs: 100, batch_size: 256, lr: 0.1, momentum: 0.9, weight_decay: 0.0, seed: 0 }
    }
}

/// What a probe reports: top-1 accuracy on the held-out and on the training features, in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ProbeResult {
    pub top1: f64,
    pub train_top1: f64,
    /// Mean training cross-entropy during the last epoch.
    pub final_loss: f64,
}

/// Per-dimension mean and 1/√(var + eps) of the training features: BatchNorm without affine.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    pub mean: Vec<f32>,
    pub inv_std: Vec<f32>,
}

impl Standardizer {
    /// Statistics of `train` (biased variance, as BatchNorm normalises with).
    pub fn fit(train: &Features) -> Standardizer {
        let (n, d) = (train.len().max(1) as f64, train.dim);
        // f64 sums: 10k+ f32 values of similar size would lose digits in an f32 accumulator.
        let mut sum = vec![0f64; d];
        let mut sq = vec![0f64; d];
        for i in 0..train.len() {
            for (j, &v) in train.row(i).iter().enumerate() {
                sum[j] += v as f64;
                sq[j] += v as f64 * v as f64;
            }
        }
        let mean: Vec<f64> = sum.iter().map(|s| s / n).collect();
        let inv_std = sq.iter().zip(&mean).map(|(s, m)| 1.0 / ((s / n - m * m).max(0.0) + BN_EPS).sqrt());
        Standardizer { mean: mean.iter().map(|&m| m as f32).collect(), inv_std: inv_std.map(|v| v as f32).collect() }
    }

    /// `f` standardised, row-major [n, dim].
    pub fn apply(&self, f: &Features) -> Vec<f32> {
        assert_eq!(f.dim, self.mean.len(), "features of width {} standardised with width {}", f.dim, self.mean.len());
        let mut out = f.x.clone();
        for row in out.chunks_exact_mut(f.dim.max(1)) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.inv_std) {
                *v = (*v - m) * s;
            }
        }
        out
    }
}

/// `train` and `val` standardised with the training statistics.
pub fn standardize(train: &Features, val: &Features) -> (Vec<f32>, Vec<f32>) {
    let s = Standardizer::fit(train);
    (s.apply(train), s.apply(val))
}

/// Partial sums kept apart so the compiler can vectorise the loop (one running sum is a serial chain).
const LANES: usize = 8;

fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// A linear classifier: weight [classes, dim], bias [classes].
struct Classifier {
    w: Vec<f32>,
    b: Vec<f32>,
    dim: usize,
}

impl Classifier {
    fn classes(&self) -> usize {
        self.b.len()
    }

    /// Softmax probabilities of row `x` into `p`; returns the log-sum-exp of the logits.
    fn probs(&self, x: &[f32], p: &mut [f32]) -> f32 {
        for (c, pc) in p.iter_mut().enumerate() {
            *pc = self.b[c] + dot(&self.w[c * self.dim..(c + 1) * self.dim], x);
        }
        let max = p.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let sum: f32 = p
            .iter_mut()
            .map(|v| {
                *v = (*v - max).exp();
                *v
            })
            .sum();
        p.iter_mut().for_each(|v| *v /= sum);
        max + sum.ln()
    }

    /// Fraction of rows of `x` [n, dim] whose highest logit is their label.
    fn accuracy(&self, x: &[f32], labels: &[u32]) -> f64 {
        if labels.is_empty() {
            return 0.0;
        }
        let mut p = vec![0f32; self.classes()];
        let correct = x
            .chunks_exact(self.dim)
            .zip(labels)
            .filter(|(row, &y)| {
                self.probs(row, &mut p);
                argmax(&p) == y as usize
            })
            .count();
        correct as f64 / labels.len() as f64
    }
}

/// Index of the largest value (the first of equal ones).
pub(super) fn argmax(v: &[f32]) -> usize {
    v.iter().enumerate().fold(0, |best, (i, &x)| if x > v[best] { i } else { best })
}

/// Number of classes both sets use; panics on an unlabelled record (a probe needs labels).
pub(super) fn num_classes(sets: &[&Features]) -> usize {
    let max = sets.iter().flat_map(|f| f.labels.iter()).copied().max().unwrap_or(0);
    assert!(max != data::NO_LABEL, "a probe needs labelled features; some record has no label");
    max as usize + 1
}

/// Fisher–Yates shuffle with our seeded generator.
fn shuffle(order: &mut [usize], rng: &mut Rng) {
    for i in (1..order.len()).rev() {
        order.swap(i, rng.next_below(i as u64 + 1) as usize);
    }
}

/// Trains BatchNorm (no affine) + Linear on `train` and reports top-1 on `val` and on `train`.
pub fn linear_probe(train: &Features, val: &Features, cfg: &LinearProbeConfig) -> ProbeResult {
    assert_eq!(train.dim, val.dim, "train and val features differ in width");
    assert!(!train.is_empty() && cfg.batch_size > 0, "a probe needs training features and a batch size");
    let (d, k, n) = (train.dim, num_classes(&[train, val]), train.len());
    let (xs, xv) = standardize(train, val);
    let mut clf = Classifier { w: vec![0.0; k * d], b: vec![0.0; k], dim: d };
    let (mut vw, mut vb) = (vec![0f32; k * d], vec![0f32; k]);
    let (mut gw, mut gb) = (vec![0f32; k * d], vec![0f32; k]);
    let mut p = vec![0f32; k];
    let mut order: Vec<usize> = (0..n).collect();
    let mut rng = Rng::new(cfg.seed);
    let total = cfg.epochs * n.div_ceil(cfg.batch_size);
    // Cosine decay from the peak at step 0 to 0 at the last step, no warmup.
    let schedule = Schedule { peak: cfg.lr, min_lr: 0.0, warmup: 0, total: total as u64 };
    let (mut step, mut final_loss) = (0u64, 0.0);
    let (m, wd) = (cfg.momentum as f32, cfg.weight_decay as f32);
    for _ in 0..cfg.epochs {
        shuffle(&mut order, &mut rng);
        let mut epoch_loss = 0.0;
        for batch in order.chunks(cfg.batch_size) {
            gw.fill(0.0);
            gb.fill(0.0);
            for &i in batch {
                let (x, y) = (&xs[i * d..(i + 1) * d], train.labels[i] as usize);
                let lse = clf.probs(x, &mut p);
                epoch_loss += (lse - (clf.b[y] + dot(&clf.w[y * d..(y + 1) * d], x))) as f64;
                p[y] -= 1.0; // d(loss)/d(logits) = softmax − one-hot
                for c in 0..k {
                    gb[c] += p[c];
                    gw[c * d..(c + 1) * d].iter_mut().zip(x).for_each(|(g, xi)| *g += p[c] * xi);
                }
            }
            // PyTorch's SGD: v = m·v + g (weight decay folded into g), then w −= lr·v.
            let (scale, lr) = (1.0 / batch.len() as f32, schedule.lr(step) as f32);
            for ((w, v), g) in clf.w.iter_mut().zip(&mut vw).zip(&gw) {
                *v = m * *v + g * scale + wd * *w;
                *w -= lr * *v;
            }
            for ((b, v), g) in clf.b.iter_mut().zip(&mut vb).zip(&gb) {
                *v = m * *v + g * scale;
                *b -= lr * *v;
            }
            step += 1;
        }
        final_loss = epoch_loss / n as f64;
    }
    ProbeResult { top1: clf.accuracy(&xv, &val.labels), train_top1: clf.accuracy(&xs, &train.labels), final_loss }
}
