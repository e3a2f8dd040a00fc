//! The reference GEMM: a plain triple loop, accumulating in f64 whatever the element type, so its
//! rounding error is far below that of any fast kernel it checks.

use super::{check_shapes, Float, MatMut, MatRef};

/// Reference triple loop accumulating in f64 (tests use it).
pub fn gemm_naive<T: Float>(alpha: T, a: MatRef<T>, b: MatRef<T>, beta: T, c: MatMut<T>) {
    check_shapes("gemm_naive", &a, &b, &c);
    let (alpha, beta_f64) = (alpha.to_f64(), beta.to_f64());
    for i in 0..c.rows {
        for j in 0..c.cols {
            let mut sum = 0.0f64;
            for p in 0..a.cols {
                let x = a.data[a.offset + i * a.rs + p * a.cs].to_f64();
                let y = b.data[b.offset + p * b.rs + j * b.cs].to_f64();
                sum += x * y;
            }
            let out = &mut c.data[c.offset + i * c.rs + j * c.cs];
            // beta = 0 must not read C: NaN garbage there is overwritten, not propagated.
            let old = if beta == T::ZERO { 0.0 } else { beta_f64 * out.to_f64() };
            *out = T::from_f64(alpha * sum + old);
        }
    }
}
