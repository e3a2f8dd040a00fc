//! Concatenation on the GPU: with the joined axis moved to the front (a view), the result is the
//! parts one after another, so each part is one strided copy into its own range of the output.

use kernels::strided;

use super::copy::{alloc_f32, wrap_f32};
use super::{check, runtime, unsupported};
use crate::{DType, Tensor};

/// `parts` joined along `axis` (shapes and dtypes already checked), on GPU `n`.
pub(crate) fn concat(parts: &[Tensor], axis: usize, dims: Vec<usize>, n: usize) -> Tensor {
    let what = "concat";
    if parts[0].dtype() != DType::F32 {
        unsupported(&format!("concat of {} tensors", parts[0].dtype()), &parts[0]);
    }
    // Axis first: [axis, rest...], and the permutation that puts it back.
    let rank = dims.len();
    let mut front: Vec<usize> = vec![axis];
    front.extend((0..rank).filter(|&k| k != axis));
    let mut back = vec![0; rank];
    for (i, &p) in front.iter().enumerate() {
        back[p] = i;
    }
    let total: usize = dims.iter().product();
    let out = alloc_f32(what, n, total);
    let gpu = runtime(n);
    let mut start = 0;
    for p in parts {
        let v = p.permute(&front);
        let len = v.numel();
        if len > 0 {
            let buf = p.gpu_storage().unwrap().f32(what);
            let off = v.layout().offset();
            let src = buf.slice(off, buf.len() - off);
            check(what, n, strided::copy(&gpu, &out.slice(start, len), &src, v.dims(), v.strides()));
        }
        start += len;
    }
    let moved: Vec<usize> = front.iter().map(|&k| dims[k]).collect();
    wrap_f32(n, out, moved).permute(&back).contiguous()
}
