//! `cvt` between every integer and float width with the PTX rounding modes: float-to-int
//! conversions saturate (NaN gives 0), `.sat` clamps floats to [0, 1] and integers to the
//! destination range, and `cvt.rn.{bf16,f16}x2.f32 d, a, b` packs `a` into the upper half.

use super::float::{round_integral, round_to, to_f64};
use super::int::{mask, value};
use crate::interp::ast::{Instr, Op, Rnd, Ty};
use crate::interp::checks::Fault;
use crate::interp::warp::{lanes, Env, Warp};

/// Converts one value of type `sty` (bits `v`) to `dty`.
pub fn convert(v: u64, dty: Ty, sty: Ty, rnd: Option<Rnd>, int_rnd: bool, sat: bool) -> u64 {
    let scalar_d = match dty {
        Ty::F16x2 => Ty::F16,
        Ty::Bf16x2 => Ty::Bf16,
        t => t,
    };
    match (scalar_d.is_float(), sty.is_float()) {
        (true, true) => {
            let mut x = to_f64(v, sty);
            if int_rnd {
                x = round_integral(x, rnd.unwrap_or(Rnd::Nearest));
            }
            if sat && !x.is_nan() {
                x = x.clamp(0.0, 1.0);
            }
            round_to(x, scalar_d, if int_rnd { Rnd::Nearest } else { rnd.unwrap_or(Rnd::Nearest) })
        }
        (true, false) => {
            let x = value(v, sty) as f64;
            let x = if sat { x.clamp(0.0, 1.0) } else { x };
            round_to(x, scalar_d, rnd.unwrap_or(Rnd::Nearest))
        }
        (false, true) => {
            let x = to_f64(v, sty);
            if x.is_nan() {
                return 0;
            }
            let r = round_integral(x, rnd.unwrap_or(Rnd::Zero));
            let (lo, hi) = int_range(dty);
            (r.clamp(lo as f64, hi as f64) as i128).clamp(lo, hi) as u64 & mask(dty.bits())
        }
        (false, false) => {
            let x = value(v, sty);
            let x = if sat {
                let (lo, hi) = int_range(dty);
                x.clamp(lo, hi)
            } else {
                x
            };
            x as u64 & mask(dty.bits())
        }
    }
}

fn int_range(t: Ty) -> (i128, i128) {
    let w = t.bits();
    if t.is_signed() {
        (-(1i128 << (w - 1)), (1i128 << (w - 1)) - 1)
    } else {
        (0, (1i128 << w) - 1)
    }
}

/// Executes a `cvt` instruction.
pub fn cvt(w: &mut Warp, env: &Env, ins: &Instr, exec: u32) -> Result<(), Fault> {
    let Op::Cvt { dty, sty, rnd, int_rnd, sat } = ins.op else { unreachable!("cvt dispatch") };
    let a = &ins.args;
    let pair = matches!(dty, Ty::F16x2 | Ty::Bf16x2);
    if pair != (a.len() == 3) {
        let lane = exec.trailing_zeros();
        return Err(Fault::new(lane, "cvt to a packed x2 type takes two sources (d, a, b); other cvts take one"));
    }
    for l in lanes(exec) {
        let r = if pair {
            let hi = convert(w.get(&a[1], l, env), dty, sty, rnd, int_rnd, sat);
            let lo = convert(w.get(&a[2], l, env), dty, sty, rnd, int_rnd, sat);
            hi << 16 | lo
        } else {
            convert(w.get(&a[1], l, env), dty, sty, rnd, int_rnd, sat)
        };
        w.put(&a[0], l, r, env.kernel);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(x: f32) -> u64 {
        x.to_bits() as u64
    }

    #[test]
    fn float_to_int_modes_and_saturation() {
        let c = |x: f32, r: Rnd, t: Ty| convert(f(x), t, Ty::F32, Some(r), true, false);
        assert_eq!(c(2.5, Rnd::Nearest, Ty::S32), 2);
        assert_eq!(c(-2.5, Rnd::Down, Ty::S32) as u32 as i32, -3);
        assert_eq!(c(-2.5, Rnd::Zero, Ty::S32) as u32 as i32, -2);
        assert_eq!(c(2.1, Rnd::Up, Ty::S32), 3);
        assert_eq!(c(1e20, Rnd::Zero, Ty::S32), i32::MAX as u64);
        assert_eq!(c(-5.0, Rnd::Zero, Ty::U32), 0);
        assert_eq!(c(f32::NAN, Rnd::Zero, Ty::S32), 0);
    }

    #[test]
    fn int_widths() {
        assert_eq!(convert(0x80, Ty::S32, Ty::S8, None, false, false), 0xFFFF_FF80);
        assert_eq!(convert(0xFFFF_FF80, Ty::U64, Ty::S32, None, false, false), 0xFFFF_FFFF_FFFF_FF80);
        assert_eq!(convert(300, Ty::U8, Ty::S32, None, false, true), 255);
        assert_eq!(convert(300, Ty::U8, Ty::S32, None, false, false), 44);
    }
}
