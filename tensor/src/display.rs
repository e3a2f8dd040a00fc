//! Printing: `{}` shows the shape, dtype and values (NumPy-style, eliding the middle of long dims);
//! `{:?}` shows the layout and a summary (min, max, mean, NaN count) without the values.

use std::fmt::{self, Write};

use crate::{DType, Tensor};

/// Tensors with more elements than this print only `EDGE` entries at each end of every dim.
const SUMMARIZE_ABOVE: usize = 1000;
const EDGE: usize = 3;

fn format_value(x: f64, dtype: DType) -> String {
    match dtype {
        DType::U8 | DType::I64 => format!("{x}"),
        _ if x != 0.0 && (x.abs() >= 1e5 || x.abs() < 1e-4) => format!("{x:.4e}"),
        _ => format!("{x:.4}"),
    }
}

fn write_nested(out: &mut String, v: &[f64], dims: &[usize], dtype: DType, summarize: bool, indent: usize) {
    let Some((&d, rest)) = dims.split_first() else {
        out.push_str(&format_value(v[0], dtype));
        return;
    };
    let block: usize = rest.iter().product();
    let shown: Vec<Option<usize>> = if summarize && d > 2 * EDGE {
        (0..EDGE).map(Some).chain([None]).chain((d - EDGE..d).map(Some)).collect()
    } else {
        (0..d).map(Some).collect()
    };
    out.push('[');
    for (n, i) in shown.iter().enumerate() {
        if n > 0 {
            out.push(',');
            if rest.is_empty() {
                out.push(' ');
            } else {
                out.push('\n');
                out.push_str(&" ".repeat(indent + 1));
            }
        }
        match i {
            Some(i) => write_nested(out, &v[i * block..(i + 1) * block], rest, dtype, summarize, indent + 1),
            None => out.push_str("..."),
        }
    }
    out.push(']');
}

impl fmt::Display for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.device() {
            crate::Device::Cpu => writeln!(f, "Tensor{:?} {}", self.shape(), self.dtype())?,
            device => writeln!(f, "Tensor{:?} {} on {device}", self.shape(), self.dtype())?,
        }
        let mut s = String::new();
        write_nested(&mut s, &self.to_vec_f64(), self.dims(), self.dtype(), self.numel() > SUMMARIZE_ABOVE, 0);
        f.write_str(&s)
    }
}

impl fmt::Debug for Tensor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.to_vec_f64();
        let mut summary = String::new();
        let finite: Vec<f64> = v.iter().copied().filter(|x| !x.is_nan()).collect();
        if !finite.is_empty() {
            let min = finite.iter().copied().fold(f64::INFINITY, f64::min);
            let max = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let mean = finite.iter().sum::<f64>() / finite.len() as f64;
            write!(
                summary,
                "min {}, max {}, mean {}",
                format_value(min, self.dtype()),
                format_value(max, self.dtype()),
                format_value(mean, DType::F64)
            )?;
        }
        let nans = v.len() - finite.len();
        if nans > 0 {
            write!(summary, ", {nans} NaN")?;
        }
        f.debug_struct("Tensor")
            .field("shape", self.shape())
            .field("dtype", &self.dtype())
            .field("strides", &self.strides())
            .field("offset", &self.layout().offset())
            .field("values", &format_args!("{summary}"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use crate::{DType, Tensor};

    #[test]
    fn small_tensors_print_every_value() {
        let t = Tensor::arange(0.0, 6.0, 1.0, DType::I64).reshape([2, 3]);
        assert_eq!(format!("{t}"), "Tensor[2, 3] i64\n[[0, 1, 2],\n [3, 4, 5]]");
    }

    #[test]
    fn large_tensors_elide_the_middle() {
        let t = Tensor::arange(0.0, 2000.0, 1.0, DType::F32);
        let s = format!("{t}");
        assert!(s.contains("[0.0000, 1.0000, 2.0000, ..., 1997.0000, 1998.0000, 1999.0000]"), "{s}");
    }

    #[test]
    fn debug_summarises() {
        let t = Tensor::from_vec(vec![1.0f32, f32::NAN, 3.0], [3]);
        let s = format!("{t:?}");
        assert!(s.contains("min 1.0000, max 3.0000, mean 2.0000, 1 NaN"), "{s}");
    }
}
