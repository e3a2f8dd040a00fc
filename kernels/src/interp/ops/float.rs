//! Floating-point values in registers: decoding and encoding f16/bf16/f32/f64 bits, rounding with
//! the four IEEE modes, and the float arithmetic of `add`/`mul`/`fma`/`ex2`/... for every float type
//! (packed `x2` types lane by lane, half types through f32 with one rounding at the end).

use half::{bf16, f16};

use crate::interp::ast::{Bin, Rnd, Ty, Un};

/// True for types whose immediates are written as float values.
pub fn is_float_ty(t: Ty) -> bool {
    t.is_float()
}

/// The value of scalar float bits of type `ty` (the low half of a packed type).
pub fn to_f64(bits: u64, ty: Ty) -> f64 {
    match ty {
        Ty::F16 | Ty::F16x2 => f16::from_bits(bits as u16).to_f64(),
        Ty::Bf16 | Ty::Bf16x2 => bf16::from_bits(bits as u16).to_f64(),
        Ty::F32 => f32::from_bits(bits as u32) as f64,
        _ => f64::from_bits(bits),
    }
}

/// Bits of `v` as scalar float type `ty`, rounded to nearest even.
pub fn from_f64(v: f64, ty: Ty) -> u64 {
    round_to(v, ty, Rnd::Nearest)
}

/// Bits of `v` as scalar float type `ty` with rounding mode `rnd`.
pub fn round_to(v: f64, ty: Ty, rnd: Rnd) -> u64 {
    let nearest = match ty {
        Ty::F16 | Ty::F16x2 => f16::from_f64(v).to_bits() as u64,
        // Through f32: exact for the f32 inputs bf16 conversions get in practice.
        Ty::Bf16 | Ty::Bf16x2 => bf16::from_f32(v as f32).to_bits() as u64,
        Ty::F32 => (v as f32).to_bits() as u64,
        _ => return v.to_bits(),
    };
    if rnd == Rnd::Nearest || v.is_nan() {
        return nearest;
    }
    let r = to_f64(nearest, ty);
    let off = match rnd {
        Rnd::Up => r < v,
        Rnd::Down => r > v,
        Rnd::Zero => r.abs() > v.abs(),
        Rnd::Nearest => false,
    };
    if !off {
        return nearest;
    }
    // One step on the bit pattern moves by one ulp; which direction depends on the sign.
    let down = matches!(rnd, Rnd::Down) || (rnd == Rnd::Zero && r > 0.0);
    step(nearest, ty, down)
}

/// The next representable value below (`down`) or above `bits`.
fn step(bits: u64, ty: Ty, down: bool) -> u64 {
    let width = if ty == Ty::F32 { 32 } else { 16 };
    let sign = bits >> (width - 1) & 1 == 1;
    let magnitude = bits & ((1u64 << (width - 1)) - 1);
    if magnitude == 0 {
        // ±0: one step reaches the smallest subnormal of the requested sign.
        return if down { 1 | (1 << (width - 1)) } else { 1 };
    }
    if sign == down {
        bits + 1
    } else {
        bits - 1
    }
}

/// Rounds to an integral value in mode `rnd` (the `.rni`/`.rzi`/`.rmi`/`.rpi` of cvt).
pub fn round_integral(v: f64, rnd: Rnd) -> f64 {
    match rnd {
        Rnd::Nearest => v.round_ties_even(),
        Rnd::Zero => v.trunc(),
        Rnd::Down => v.floor(),
        Rnd::Up => v.ceil(),
    }
}

fn packed(ty: Ty) -> Option<Ty> {
    match ty {
        Ty::F16x2 => Some(Ty::F16),
        Ty::Bf16x2 => Some(Ty::Bf16),
        _ => None,
    }
}

/// Applies `f` to each 16-bit lane of a packed type, or to the scalar.
fn lanewise(ty: Ty, args: [u64; 3], f: impl Fn([f64; 3]) -> f64) -> u64 {
    match packed(ty) {
        Some(half) => {
            let lane = |shift: u32| {
                let v = args.map(|a| to_f64(a >> shift & 0xFFFF, half));
                from_f64(f(v), half) << shift
            };
            lane(0) | lane(16)
        }
        None if ty == Ty::F32 => {
            // f32 arithmetic is done in f32 so that results round exactly as the hardware's.
            let v = args.map(|a| f32::from_bits(a as u32) as f64);
            (f(v) as f32).to_bits() as u64
        }
        None => from_f64(f(args.map(|a| to_f64(a, ty))), ty),
    }
}

/// `op` on two float values of type `ty`.
pub fn bin(op: Bin, ty: Ty, a: u64, b: u64) -> u64 {
    if ty == Ty::F32 {
        let (x, y) = (f32::from_bits(a as u32), f32::from_bits(b as u32));
        let r = match op {
            Bin::Add => x + y,
            Bin::Sub => x - y,
            Bin::MulLo | Bin::MulHi => x * y,
            Bin::Div => x / y,
            Bin::Min => x.min(y),
            Bin::Max => x.max(y),
            Bin::Copysign => y.copysign(x),
            _ => f32::NAN,
        };
        return r.to_bits() as u64;
    }
    lanewise(ty, [a, b, 0], |[x, y, _]| match op {
        Bin::Add => x + y,
        Bin::Sub => x - y,
        Bin::MulLo | Bin::MulHi => x * y,
        Bin::Div => x / y,
        Bin::Min => x.min(y),
        Bin::Max => x.max(y),
        Bin::Copysign => y.copysign(x),
        _ => f64::NAN,
    })
}

/// Fused `a * b + c`.
pub fn fma(ty: Ty, a: u64, b: u64, c: u64) -> u64 {
    if ty == Ty::F32 {
        let f = |v: u64| f32::from_bits(v as u32);
        return f(a).mul_add(f(b), f(c)).to_bits() as u64;
    }
    if ty == Ty::F64 {
        let f = f64::from_bits;
        return f(a).mul_add(f(b), f(c)).to_bits();
    }
    lanewise(ty, [a, b, c], |[x, y, z]| x.mul_add(y, z))
}

/// One-operand float functions, computed in f64 and rounded once (more accurate than the
/// hardware's `.approx` versions, whose documented error the tests allow).
pub fn un(op: Un, ty: Ty, a: u64) -> u64 {
    if ty == Ty::F32 && matches!(op, Un::Neg | Un::Abs) {
        let x = f32::from_bits(a as u32);
        return if op == Un::Neg { (-x).to_bits() as u64 } else { x.abs().to_bits() as u64 };
    }
    lanewise(ty, [a, 0, 0], |[x, _, _]| match op {
        Un::Neg => -x,
        Un::Abs => x.abs(),
        Un::Ex2 => x.exp2(),
        Un::Lg2 => x.log2(),
        Un::Rcp => 1.0 / x,
        Un::Rsqrt => 1.0 / x.sqrt(),
        Un::Sqrt => x.sqrt(),
        Un::Sin => x.sin(),
        Un::Cos => x.cos(),
        Un::Tanh => x.tanh(),
        _ => f64::NAN,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn directed_rounding_to_f32() {
        let v = 1.0 + f64::EPSILON; // just above 1.0, between two f32 values
        assert_eq!(f32::from_bits(round_to(v, Ty::F32, Rnd::Nearest) as u32), 1.0);
        assert_eq!(f32::from_bits(round_to(v, Ty::F32, Rnd::Zero) as u32), 1.0);
        assert_eq!(f32::from_bits(round_to(v, Ty::F32, Rnd::Up) as u32), 1.0 + f32::EPSILON);
        assert_eq!(f32::from_bits(round_to(-v, Ty::F32, Rnd::Down) as u32), -1.0 - f32::EPSILON);
        assert_eq!(f32::from_bits(round_to(-v, Ty::F32, Rnd::Zero) as u32), -1.0);
    }

    #[test]
    fn bf16_truncation_and_rounding() {
        let x = f32::from_bits(0x3F80_8001) as f64; // 1.0039..., just above the bf16 midpoint
        assert_eq!(round_to(x, Ty::Bf16, Rnd::Nearest), 0x3F81);
        assert_eq!(round_to(x, Ty::Bf16, Rnd::Zero), 0x3F80);
        assert_eq!(round_to(-x, Ty::Bf16, Rnd::Up), 0xBF80);
    }
}
