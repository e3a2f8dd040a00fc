//! Elementwise maps over strided f32 views, generated from one template: unary functions, binary ops
//! with NumPy broadcasting (a broadcast dim is a stride of 0), comparisons writing u8 masks, the same
//! with a scalar operand, and the u8 -> f32 cast. Each op is a few lines of PTX in a table below; the
//! loop, the indexing (see `strided.rs`) and the loads and stores around it are shared.
//!
//! Accuracy (f32, beside the f64 references in `kernels::map`): add, sub, mul, div, sqrt, recip, abs,
//! neg, square, max, min are correctly rounded (`.rn`), as on the CPU. exp, log, sigmoid and powf go
//! through `ex2.approx`/`lg2.approx` (about 2 ulp on hardware) after a scaling by log2(e), whose
//! rounding grows the relative error with |x| (about 6e-7 at |x| = 10). tanh uses its Taylor series
//! below |x| = 1/8 and 1 - 2/(e^(2|x|) + 1) above (absolute error under 1e-7). GELU and its derivative
//! use the erf approximation of `elementwise.ptx` (Abramowitz & Stegun 7.1.26, absolute error 3e-7 |x|).

use super::strided::{emit_address, emit_layout_prologue, emit_offsets, layout_params, BLOCK};
use super::{emit, HEADER};

/// Leaves Phi(x) in `%f3` and exp(-x^2 / 2) in `%f5`.
macro_rules! gelu_phi {
    () => {
        "mul.f32 %f0, %x, 0f3F3504F3;          // z = x / sqrt 2
    abs.f32 %f1, %f0;
    fma.rn.f32 %f2, %f1, 0f3EA7BA05, 0f3F800000;   // 1 + p|z|, p = 0.3275911
    rcp.rn.f32 %f2, %f2;                  // t
    mov.f32 %f3, 0f3F87DC22;              // a5 = 1.061405429, Horner from the top
    fma.rn.f32 %f3, %f3, %f2, 0fBFBA00E3; // a4 = -1.453152027
    fma.rn.f32 %f3, %f3, %f2, 0f3FB5F0E3; // a3 = 1.421413741
    fma.rn.f32 %f3, %f3, %f2, 0fBE91A98E; // a2 = -0.284496736
    fma.rn.f32 %f3, %f3, %f2, 0f3E827906; // a1 = 0.254829592
    mul.f32 %f3, %f3, %f2;
    mul.f32 %f4, %f1, %f1;
    mul.f32 %f4, %f4, 0fBFB8AA3B;         // -z^2 log2(e)
    ex2.approx.f32 %f5, %f4;              // exp(-z^2) = exp(-x^2 / 2)
    mul.f32 %f3, %f3, %f5;
    sub.f32 %f3, 0f3F800000, %f3;         // erf(|z|)
    copysign.f32 %f3, %f0, %f3;           // erf is odd
    add.f32 %f3, %f3, 0f3F800000;
    mul.f32 %f3, %f3, 0f3F000000;         // Phi(x)"
    };
}

/// Unary functions: (kernel suffix, PTX computing `%y` from `%x` with scratch `%f0..%f7`, `%p1..%p3`).
/// `%pw` holds the `p_p` parameter (powf's exponent) and `%par` the `p_parity` one (see powf).
pub const UNARY: [(&str, &str); 14] = [
    ("neg", "neg.f32 %y, %x;"),
    ("exp", "mul.f32 %f0, %x, 0f3FB8AA3B;      // x log2(e)\n    ex2.approx.f32 %y, %f0;"),
    ("log", "lg2.approx.f32 %f0, %x;\n    mul.f32 %y, %f0, 0f3F317218;       // log2(x) ln(2)"),
    ("sqrt", "sqrt.rn.f32 %y, %x;"),
    ("rsqrt", "sqrt.rn.f32 %f0, %x;\n    rcp.rn.f32 %y, %f0;"),
    ("tanh", TANH),
    ("gelu", GELU),
    ("gelu_grad", GELU_GRAD),
    ("relu", "setp.lt.f32 %p1, %x, 0f00000000;     // false for NaN, which passes through\n    selp.f32 %y, 0f00000000, %x, %p1;"),
    ("sigmoid", "mul.f32 %f0, %x, 0fBFB8AA3B;      // -x log2(e)\n    ex2.approx.f32 %f0, %f0;\n    add.f32 %f0, %f0, 0f3F800000;\n    rcp.rn.f32 %y, %f0;"),
    ("abs", "abs.f32 %y, %x;"),
    ("square", "mul.rn.f32 %y, %x, %x;"),
    ("recip", "rcp.rn.f32 %y, %x;"),
    ("powf", POWF),
];

/// tanh: Taylor series x - x^3/3 + 2x^5/15 - 17x^7/315 below |x| = 1/8 (truncation under 2e-10
/// relative), where 1 - 2/(e^(2|x|) + 1) would lose its digits to cancellation; that form above.
const TANH: &str = "abs.f32 %f0, %x;
    setp.lt.f32 %p1, %f0, 0f3E000000;     // |x| < 1/8
    mul.f32 %f1, %x, %x;
    mov.f32 %f2, 0fBD5D0DD1;              // -17/315
    fma.rn.f32 %f2, %f2, %f1, 0f3E088889; // 2/15
    fma.rn.f32 %f2, %f2, %f1, 0fBEAAAAAB; // -1/3
    mul.f32 %f2, %f2, %f1;
    fma.rn.f32 %f2, %f2, %x, %x;          // series
    mul.f32 %f3, %f0, 0f4038AA3B;         // 2|x| log2(e)
    ex2.approx.f32 %f3, %f3;
    add.f32 %f3, %f3, 0f3F800000;
    rcp.rn.f32 %f3, %f3;
    fma.rn.f32 %f3, %f3, 0fC0000000, 0f3F800000;   // 1 - 2/(e^(2|x|) + 1); NaN stays NaN
    copysign.f32 %f3, %x, %f3;
    selp.f32 %y, %f2, %f3, %p1;";

/// powf: 2^(p log2|x|), then the sign of a negative base: kept for an odd integer p (`%par` = 1),
/// dropped for an even one (2), NaN otherwise (0), as `f32::powf`. p = 0 gives 1 everywhere.
const POWF: &str = "abs.f32 %f0, %x;
    lg2.approx.f32 %f0, %f0;
    mul.f32 %f0, %f0, %pw;
    ex2.approx.f32 %f0, %f0;
    setp.lt.f32 %p1, %x, 0f00000000;
    setp.eq.u32 %p2, %par, 1;
    and.pred %p3, %p1, %p2;
    @%p3 neg.f32 %f0, %f0;
    setp.eq.u32 %p2, %par, 0;
    and.pred %p3, %p1, %p2;
    @%p3 mov.f32 %f0, 0f7FFFFFFF;
    setp.eq.f32 %p1, %pw, 0f00000000;
    selp.f32 %y, 0f3F800000, %f0, %p1;";

/// GELU x Phi(x) and its derivative Phi(x) + x phi(x), with erf(z), z = x / sqrt 2, from Abramowitz &
/// Stegun 7.1.26: erf(|z|) = 1 - t (a1 + t (a2 + t (a3 + t (a4 + t a5)))) exp(-z^2), t = 1 / (1 + p|z|).
const GELU: &str = concat!(gelu_phi!(), "\n    mul.f32 %y, %f3, %x;");
const GELU_GRAD: &str = concat!(
    gelu_phi!(),
    "\n    mul.f32 %f6, %x, %f5;                 // x exp(-x^2 / 2)",
    "\n    fma.rn.f32 %y, %f6, 0f3ECC422A, %f3;  // Phi + x phi, phi = exp(-x^2 / 2) / sqrt(2 pi)"
);

/// Binary ops on `%x` and `%b` into `%y`. maximum/minimum return NaN when either input is NaN (the
/// CPU's and PyTorch's rule; PTX max/min would return the other input), hence the add.
pub const BINARY: [(&str, &str); 6] = [
    ("add", "add.rn.f32 %y, %x, %b;"),
    ("sub", "sub.rn.f32 %y, %x, %b;"),
    ("mul", "mul.rn.f32 %y, %x, %b;"),
    ("div", "div.rn.f32 %y, %x, %b;"),
    ("maximum", "max.f32 %y, %x, %b;\n    setp.nan.f32 %p1, %x, %b;\n    @%p1 add.f32 %y, %x, %b;"),
    ("minimum", "min.f32 %y, %x, %b;\n    setp.nan.f32 %p1, %x, %b;\n    @%p1 add.f32 %y, %x, %b;"),
];

/// Comparisons: (kernel suffix, `setp` condition). `ne` is unordered (true with a NaN), as `!=`; the
/// others are ordered (false with a NaN).
pub const COMPARE: [(&str, &str); 6] =
    [("eq", "eq"), ("ne", "neu"), ("lt", "lt"), ("le", "le"), ("gt", "gt"), ("ge", "ge")];

/// How the second operand of a two-input kernel arrives.
#[derive(Clone, Copy, PartialEq)]
enum Second {
    /// A strided view `b`.
    View,
    /// A `p_s` scalar; `p_swap` = 1 puts it first (`s - x` rather than `x - s`).
    Scalar,
}

/// One kernel: loads `%x` (f32) [and `%b`], runs `body`, stores `%y` as f32 or, for comparisons,
/// the predicate `%p1` as a u8 0/1.
fn kernel(s: &mut String, name: &str, body: &str, second: Option<Second>, out_u8: bool, extra_params: &str) {
    let inputs: &[&str] = if second == Some(Second::View) { &["a", "b"] } else { &["a"] };
    let mut params = String::from(".param .u64 p_out, .param .u64 p_a");
    if second == Some(Second::View) {
        params += ", .param .u64 p_b";
    }
    params += ", ";
    params += &layout_params(inputs);
    if second == Some(Second::Scalar) {
        params += ", .param .f32 p_s, .param .u32 p_swap";
    }
    params += extra_params;
    emit!(s, "\n.visible .entry {name}({params})");
    emit!(s, "{{");
    emit!(s, "    .reg .pred %p<4>, %swap;");
    emit!(s, "    .reg .b64 %pout, %pa, %pb, %addr;");
    emit!(s, "    .reg .f32 %x, %b, %y, %s, %v, %pw, %f<8>;");
    emit!(s, "    .reg .b32 %par, %u;");
    emit_layout_prologue(s, inputs);
    emit!(s, "    ld.param.u64 %pout, [p_out];");
    emit!(s, "    ld.param.u64 %pa, [p_a];");
    emit!(s, "    cvta.to.global.u64 %pout, %pout;");
    emit!(s, "    cvta.to.global.u64 %pa, %pa;");
    match second {
        Some(Second::View) => {
            emit!(s, "    ld.param.u64 %pb, [p_b];");
            emit!(s, "    cvta.to.global.u64 %pb, %pb;");
        }
        Some(Second::Scalar) => {
            emit!(s, "    ld.param.f32 %s, [p_s];");
            emit!(s, "    ld.param.u32 %u, [p_swap];");
            emit!(s, "    setp.ne.u32 %swap, %u, 0;");
        }
        None => {}
    }
    if !extra_params.is_empty() {
        emit!(s, "    ld.param.f32 %pw, [p_p];");
        emit!(s, "    ld.param.u32 %par, [p_parity];");
    }
    emit!(s, "LOOP:");
    emit!(s, "    setp.ge.u32 %p1, %i, %n;");
    emit!(s, "    @%p1 bra DONE;");
    emit_offsets(s, inputs);
    emit_address(s, "%pa", "%oa", 4);
    match second {
        None => emit!(s, "    ld.global.f32 %x, [%addr];"),
        Some(Second::View) => {
            emit!(s, "    ld.global.f32 %x, [%addr];");
            emit_address(s, "%pb", "%ob", 4);
            emit!(s, "    ld.global.f32 %b, [%addr];");
        }
        Some(Second::Scalar) => {
            emit!(s, "    ld.global.f32 %v, [%addr];");
            emit!(s, "    selp.f32 %x, %s, %v, %swap;");
            emit!(s, "    selp.f32 %b, %v, %s, %swap;");
        }
    }
    emit!(s, "    {body}");
    if out_u8 {
        emit!(s, "    selp.u32 %u, 1, 0, %p1;");
        emit_address(s, "%pout", "%i", 1);
        emit!(s, "    st.global.u8 [%addr], %u;");
    } else {
        emit_address(s, "%pout", "%i", 4);
        emit!(s, "    st.global.f32 [%addr], %y;");
    }
    emit!(s, "    add.u32 %i, %i, %step;");
    emit!(s, "    bra LOOP;");
    emit!(s, "DONE:");
    emit!(s, "    ret;");
    emit!(s, "}}");
}

/// The whole module: `unary_<f>`, `binary_<op>`, `binary_<op>_scalar`, `compare_<op>`,
/// `compare_<op>_scalar`, `cast_u8_f32`.
pub fn ptx() -> String {
    let mut s = String::new();
    emit!(s, "// Elementwise maps over strided f32 views (generated by kernels/src/ptx/map.rs).");
    emit!(s, "// Launch: block {BLOCK}, grid-stride over the n elements of the contiguous output.");
    s.push_str(HEADER);
    for (name, body) in UNARY {
        kernel(&mut s, &format!("unary_{name}"), body, None, false, ", .param .f32 p_p, .param .u32 p_parity");
    }
    for (name, body) in BINARY {
        kernel(&mut s, &format!("binary_{name}"), body, Some(Second::View), false, "");
        kernel(&mut s, &format!("binary_{name}_scalar"), body, Some(Second::Scalar), false, "");
    }
    for (name, cond) in COMPARE {
        let body = format!("setp.{cond}.f32 %p1, %x, %b;");
        kernel(&mut s, &format!("compare_{name}"), &body, Some(Second::View), true, "");
        kernel(&mut s, &format!("compare_{name}_scalar"), &body, Some(Second::Scalar), true, "");
    }
    cast_u8_f32(&mut s);
    s
}

/// `out[i] = f32(x[offset of i])` for a u8 view (masks into arithmetic).
fn cast_u8_f32(s: &mut String) {
    emit!(s, "\n.visible .entry cast_u8_f32(.param .u64 p_out, .param .u64 p_a, {})", layout_params(&["a"]));
    emit!(s, "{{");
    emit!(s, "    .reg .pred %p<2>;");
    emit!(s, "    .reg .b64 %pout, %pa, %addr;");
    emit!(s, "    .reg .b32 %u;");
    emit!(s, "    .reg .f32 %y;");
    emit_layout_prologue(s, &["a"]);
    emit!(s, "    ld.param.u64 %pout, [p_out];");
    emit!(s, "    ld.param.u64 %pa, [p_a];");
    emit!(s, "    cvta.to.global.u64 %pout, %pout;");
    emit!(s, "    cvta.to.global.u64 %pa, %pa;");
    emit!(s, "LOOP:");
    emit!(s, "    setp.ge.u32 %p1, %i, %n;");
    emit!(s, "    @%p1 bra DONE;");
    emit_offsets(s, &["a"]);
    emit_address(s, "%pa", "%oa", 1);
    emit!(s, "    ld.global.u8 %u, [%addr];");
    emit!(s, "    cvt.rn.f32.u32 %y, %u;");
    emit_address(s, "%pout", "%i", 4);
    emit!(s, "    st.global.f32 [%addr], %y;");
    emit!(s, "    add.u32 %i, %i, %step;");
    emit!(s, "    bra LOOP;");
    emit!(s, "DONE:");
    emit!(s, "    ret;");
    emit!(s, "}}");
}
