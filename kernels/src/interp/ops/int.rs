//! Integer and predicate arithmetic on register bits: every result is masked to the instruction's
//! width, signed types are sign-extended before use.

use crate::interp::ast::{Bin, Cmp, Ty, Un};

/// Bits of a value of type `ty` (a predicate is one bit).
pub fn width(ty: Ty) -> u32 {
    if ty == Ty::Pred {
        1
    } else {
        ty.bits()
    }
}

/// The low `w` bits set.
pub fn mask(w: u32) -> u64 {
    if w >= 64 {
        u64::MAX
    } else {
        (1u64 << w) - 1
    }
}

/// `v`'s low `w` bits read as a signed number.
pub fn sext(v: u64, w: u32) -> i64 {
    if w >= 64 {
        v as i64
    } else {
        ((v << (64 - w)) as i64) >> (64 - w)
    }
}

/// The value of `v` as type `ty`, widened to i128 (signed types sign-extended).
pub fn value(v: u64, ty: Ty) -> i128 {
    let w = width(ty);
    if ty.is_signed() {
        sext(v, w) as i128
    } else {
        (v & mask(w)) as i128
    }
}

/// `op` on two integer values of type `ty`; `b` of shifts is a u32 amount.
pub fn bin(op: Bin, ty: Ty, a: u64, b: u64) -> u64 {
    let w = width(ty);
    let m = mask(w);
    // The common operations are width-agnostic on the low bits: no widening needed.
    match op {
        Bin::Add => return a.wrapping_add(b) & m,
        Bin::Sub => return a.wrapping_sub(b) & m,
        Bin::MulLo => return a.wrapping_mul(b) & m,
        Bin::And => return a & b & m,
        Bin::Or => return (a | b) & m,
        Bin::Xor => return (a ^ b) & m,
        _ => {}
    }
    let (x, y) = (value(a, ty), value(b, ty));
    let r: i128 = match op {
        Bin::Add => x + y,
        Bin::Sub => x - y,
        Bin::MulLo => x.wrapping_mul(y),
        // An unsigned 64-bit product can overflow i128, so it takes the u128 path.
        Bin::MulHi if w == 64 && !ty.is_signed() => ((x as u128 * y as u128) >> 64) as i128,
        Bin::MulHi => (x * y) >> w,
        Bin::Min => x.min(y),
        Bin::Max => x.max(y),
        // Division by zero is undefined in PTX; all ones is what the hardware tends to give.
        Bin::Div if y == 0 => -1,
        Bin::Div => x / y,
        Bin::Rem if y == 0 => x,
        Bin::Rem => x % y,
        Bin::And => x & y,
        Bin::Or => x | y,
        Bin::Xor => x ^ y,
        Bin::Shl => {
            let s = (b & 0xFFFF_FFFF) as u32;
            if s >= w {
                0
            } else {
                x << s
            }
        }
        Bin::Shr => {
            let s = ((b & 0xFFFF_FFFF) as u32).min(w.min(127));
            // Signed types shift in copies of the sign bit; value() already sign-extended them.
            x >> s
        }
        Bin::Copysign => 0,
    };
    (r as u64) & mask(w)
}

/// `mul.wide`: the full product of two `ty` values.
pub fn mul_wide(ty: Ty, a: u64, b: u64) -> u64 {
    (value(a, ty) * value(b, ty)) as u64 & mask(2 * width(ty))
}

/// `mad.lo`/`mad.hi`.
pub fn mad(ty: Ty, hi: bool, a: u64, b: u64, c: u64) -> u64 {
    let p = bin(if hi { Bin::MulHi } else { Bin::MulLo }, ty, a, b);
    bin(Bin::Add, ty, p, c)
}

/// One-operand integer operations; `popc`/`clz` give u32 counts.
pub fn un(op: Un, ty: Ty, a: u64) -> u64 {
    let w = width(ty);
    let x = a & mask(w);
    let r = match op {
        Un::Neg => x.wrapping_neg(),
        Un::Abs => sext(x, w).unsigned_abs(),
        Un::Not => !x,
        Un::Cnot => (x == 0) as u64,
        Un::Popc => return x.count_ones() as u64,
        Un::Clz => return (x.leading_zeros() - (64 - w)) as u64,
        Un::Brev => x.reverse_bits() >> (64 - w),
        _ => 0,
    };
    r & mask(w)
}

/// A comparison of two values of type `ty` (integer or float).
pub fn compare(cmp: Cmp, ty: Ty, a: u64, b: u64) -> bool {
    if ty.is_float() {
        let (x, y) = (super::float::to_f64(a, ty), super::float::to_f64(b, ty));
        let nan = x.is_nan() || y.is_nan();
        return match cmp {
            Cmp::Eq => x == y,
            Cmp::Ne => !nan && x != y,
            Cmp::Lt => x < y,
            Cmp::Le => x <= y,
            Cmp::Gt => x > y,
            Cmp::Ge => x >= y,
            Cmp::Equ => nan || x == y,
            Cmp::Neu => x != y,
            Cmp::Ltu => nan || x < y,
            Cmp::Leu => nan || x <= y,
            Cmp::Gtu => nan || x > y,
            Cmp::Geu => nan || x >= y,
            Cmp::Num => !nan,
            Cmp::Nan => nan,
            Cmp::Lo | Cmp::Ls | Cmp::Hi | Cmp::Hs => false,
        };
    }
    let (x, y) = (value(a, ty), value(b, ty));
    let w = width(ty);
    let (ux, uy) = (a & mask(w), b & mask(w));
    match cmp {
        Cmp::Eq | Cmp::Equ => x == y,
        Cmp::Ne | Cmp::Neu => x != y,
        Cmp::Lt | Cmp::Ltu => x < y,
        Cmp::Le | Cmp::Leu => x <= y,
        Cmp::Gt | Cmp::Gtu => x > y,
        Cmp::Ge | Cmp::Geu => x >= y,
        Cmp::Lo => ux < uy,
        Cmp::Ls => ux <= uy,
        Cmp::Hi => ux > uy,
        Cmp::Hs => ux >= uy,
        Cmp::Num => true,
        Cmp::Nan => false,
    }
}

/// `bfe`: `len` bits of `a` from bit `pos`, sign-extended from the field's top bit for signed types.
pub fn bfe(ty: Ty, a: u64, pos: u64, len: u64) -> u64 {
    let w = width(ty) as u64;
    let a = a & mask(w as u32);
    if len == 0 {
        return 0;
    }
    // A field reaching past the top takes the value's own sign bit, as the ISA says.
    let msb = (pos + len - 1).min(w - 1);
    let field = if pos >= w { 0 } else { a >> pos & mask(len.min(64) as u32) };
    if ty.is_signed() && a >> msb & 1 == 1 {
        let kept = len.min(w - pos.min(w));
        return (field | !mask(kept as u32)) & mask(w as u32);
    }
    field
}

/// `bfi`: `b` with `len` bits at `pos` replaced by the low bits of `a`.
pub fn bfi(ty: Ty, a: u64, b: u64, pos: u64, len: u64) -> u64 {
    let w = width(ty) as u64;
    if pos >= w || len == 0 {
        return b & mask(w as u32);
    }
    let len = len.min(w - pos);
    let m = mask(len as u32) << pos;
    ((b & !m) | ((a << pos) & m)) & mask(w as u32)
}

/// `prmt.b32` in its default mode: picks four bytes of `{b, a}` by the selector nibbles of `c`,
/// each copied or filled with its sign (selector bit 3).
pub fn prmt(a: u64, b: u64, c: u64) -> u64 {
    let bytes = ((b & 0xFFFF_FFFF) << 32 | (a & 0xFFFF_FFFF)).to_le_bytes();
    let mut out = 0u64;
    for i in 0..4 {
        let sel = (c >> (4 * i)) & 0xF;
        let byte = bytes[(sel & 7) as usize];
        let v = if sel & 8 != 0 {
            if byte & 0x80 != 0 {
                0xFF
            } else {
                0
            }
        } else {
            byte
        };
        out |= (v as u64) << (8 * i);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_shift_and_mulhi() {
        assert_eq!(bin(Bin::Shr, Ty::S32, 0xFFFF_FFF0, 2), 0xFFFF_FFFC);
        assert_eq!(bin(Bin::Shr, Ty::U32, 0xFFFF_FFF0, 2), 0x3FFF_FFFC);
        assert_eq!(bin(Bin::Shl, Ty::B32, 1, 40), 0);
        assert_eq!(bin(Bin::MulHi, Ty::U32, 0x8000_0000, 4), 2);
        assert_eq!(bin(Bin::MulHi, Ty::S32, (-2i32) as u32 as u64, 0x8000_0000), 1);
        assert_eq!(mul_wide(Ty::S32, (-3i32) as u32 as u64, 5), (-15i64) as u64);
    }

    #[test]
    fn bit_fields() {
        assert_eq!(bfe(Ty::U32, 0xABCD_1234, 8, 8), 0x12);
        assert_eq!(bfe(Ty::S32, 0x0000_F000, 12, 4), 0xFFFF_FFFF);
        assert_eq!(bfe(Ty::S32, 0x0000_7000, 12, 4), 7);
        assert_eq!(bfi(Ty::B32, 0x5, 0xFFFF_FFFF, 4, 4), 0xFFFF_FF5F);
    }

    #[test]
    fn prmt_selects_bytes() {
        assert_eq!(prmt(0x4433_2211, 0x8877_6655, 0x7531), 0x8866_4422);
        assert_eq!(prmt(0x0000_0080, 0, 0x4448), 0xFF);
    }
}
