//! The learning-rate schedule of the spec: linear warmup from 0, then a cosine from the peak down to
//! a floor, evaluated per optimiser step.

/// Per-step learning rate: `warmup` steps of linear rise, then a cosine to `min_lr` at `total`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Schedule {
    pub peak: f64,
    pub min_lr: f64,
    pub warmup: u64,
    pub total: u64,
}

impl Schedule {
    /// The rate for optimiser step `step` (0-based).
    pub fn lr(&self, step: u64) -> f64 {
        if step < self.warmup {
            return self.peak * step as f64 / self.warmup as f64;
        }
        let span = self.total.saturating_sub(self.warmup).max(1);
        let t = ((step - self.warmup) as f64 / span as f64).min(1.0);
        self.min_lr + 0.5 * (self.peak - self.min_lr) * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_linearly_then_falls_to_the_floor() {
        let s = Schedule { peak: 1e-3, min_lr: 1e-5, warmup: 10, total: 110 };
        assert_eq!(s.lr(0), 0.0);
        assert!((s.lr(5) - 5e-4).abs() < 1e-15);
        assert!((s.lr(10) - 1e-3).abs() < 1e-15);
        assert!((s.lr(60) - (1e-5 + 0.5 * (1e-3 - 1e-5))).abs() < 1e-12, "half way down the cosine");
        assert!((s.lr(110) - 1e-5).abs() < 1e-15);
        assert!((s.lr(500) - 1e-5).abs() < 1e-15, "stays at the floor");
        let steps: Vec<f64> = (10..=110).map(|i| s.lr(i)).collect();
        assert!(steps.windows(2).all(|w| w[1] <= w[0]), "monotone after warmup");
    }

    #[test]
    fn no_warmup_starts_at_the_peak() {
        let s = Schedule { peak: 2.0, min_lr: 0.0, warmup: 0, total: 4 };
        assert_eq!(s.lr(0), 2.0);
        assert!((s.lr(2) - 1.0).abs() < 1e-12);
    }
}
