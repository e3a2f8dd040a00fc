//! The AdamW update of one parameter in one pass over its four arrays.
//!
//! Written as tensor ops the update is eleven elementwise passes (six reading two arrays), each
//! writing a fresh buffer: on CAE-Small that was ~200 ms of a ~2.6 s CPU step, for arithmetic that
//! needs one read of w, g, m, v and one write of w, m, v. The arithmetic here is the composite's,
//! operation for operation and in the same order (no fused multiply-adds), so both give the same bits.

use rayon::prelude::*;

use super::simd::{self, multiversion, Cost, PAR_CHUNK_ELEMS};
use super::Float;

/// The scalars of one update, already in the element type (see [`AdamWScalars::new`]).
#[derive(Clone, Copy, Debug)]
pub struct AdamWScalars<T> {
    /// Multiplies the gradient first (1/accumulation steps × clipping factor).
    pub grad_scale: T,
    pub beta1: T,
    pub one_minus_beta1: T,
    pub beta2: T,
    pub one_minus_beta2: T,
    /// Decoupled weight decay as a factor, 1 − lr·decay (exactly 1 for parameters not decayed).
    pub decay: T,
    /// The bias correction of the second moment, 1 − β2^t.
    pub bias2: T,
    pub eps: T,
    /// The step size over the first moment's bias correction, lr / (1 − β1^t).
    pub step: T,
}

impl<T: Float> AdamWScalars<T> {
    /// Rounds each scalar from f64 once, as the composite's scalar ops do.
    #[allow(clippy::too_many_arguments)]
    pub fn new(lr: f64, beta1: f64, beta2: f64, eps: f64, weight_decay: f64, t: u64, grad_scale: f64) -> Self {
        let (bias1, bias2) = (1.0 - beta1.powi(t as i32), 1.0 - beta2.powi(t as i32));
        AdamWScalars {
            grad_scale: T::from_f64(grad_scale),
            beta1: T::from_f64(beta1),
            one_minus_beta1: T::from_f64(1.0 - beta1),
            beta2: T::from_f64(beta2),
            one_minus_beta2: T::from_f64(1.0 - beta2),
            decay: T::from_f64(1.0 - lr * weight_decay),
            bias2: T::from_f64(bias2),
            eps: T::from_f64(eps),
            step: T::from_f64(lr / bias1),
        }
    }
}

/// Writes the updated weights, first and second moments; every slice has the same length.
#[allow(clippy::too_many_arguments)]
pub fn adamw<T: Float>(
    s: &AdamWScalars<T>,
    w: &[T],
    g: &[T],
    m: &[T],
    v: &[T],
    w_out: &mut [T],
    m_out: &mut [T],
    v_out: &mut [T],
) {
    let n = w.len();
    for (what, len) in [("g", g.len()), ("m", m.len()), ("v", v.len()), ("w'", w_out.len())] {
        assert_eq!(len, n, "adamw: {what} has {len} elements, w has {n}");
    }
    assert!(m_out.len() == n && v_out.len() == n, "adamw: moment outputs must have {n} elements");
    let level = simd::level();
    if n < Cost::Heavy.par_min_elems() {
        adamw_kernel(level, s, w, g, m, v, w_out, m_out, v_out);
        return;
    }
    let c = PAR_CHUNK_ELEMS;
    w_out.par_chunks_mut(c).zip(m_out.par_chunks_mut(c)).zip(v_out.par_chunks_mut(c)).enumerate().for_each(
        |(i, ((wo, mo), vo))| {
            let r = i * c..(i * c + wo.len());
            adamw_kernel(level, s, &w[r.clone()], &g[r.clone()], &m[r.clone()], &v[r], wo, mo, vo);
        },
    );
}

multiversion! {
    #[allow(clippy::too_many_arguments)]
    fn adamw_kernel<T: Float>(
        s: &AdamWScalars<T>,
        w: &[T],
        g: &[T],
        m: &[T],
        v: &[T],
        w_out: &mut [T],
        m_out: &mut [T],
        v_out: &mut [T],
    ) = adamw_body;
}

#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn adamw_body<T: Float>(
    s: &AdamWScalars<T>,
    w: &[T],
    g: &[T],
    m: &[T],
    v: &[T],
    w_out: &mut [T],
    m_out: &mut [T],
    v_out: &mut [T],
) {
    let n = w.len();
    let (g, m, v, w_out, m_out, v_out) = (&g[..n], &m[..n], &v[..n], &mut w_out[..n], &mut m_out[..n], &mut v_out[..n]);
    for i in 0..n {
        let gi = g[i] * s.grad_scale;
        let mi = m[i] * s.beta1 + gi * s.one_minus_beta1;
        let vi = v[i] * s.beta2 + gi * gi * s.one_minus_beta2;
        let denom = (vi / s.bias2).sqrt() + s.eps;
        w_out[i] = w[i] * s.decay - mi / denom * s.step;
        m_out[i] = mi;
        v_out[i] = vi;
    }
}
