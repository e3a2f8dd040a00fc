//! Executes one decoded instruction for the lanes of a warp that run it. Each family lives in its
//! own file; this one dispatches and holds the register-to-register (ALU) instructions.

pub mod cvt;
pub mod float;
pub mod int;
pub mod mem;
pub mod warp;

use super::ast::{BoolOp, Instr, Op, Operand, Ty};
use super::checks::Fault;
use super::warp::{lanes, Env, Warp, WARP};

/// What the warp does after an instruction, for the lanes that ran it.
pub enum Flow {
    Next,
    /// The running lanes jump to this instruction index.
    Jump(u32),
    /// The running lanes exit.
    Exit,
    /// The running lanes wait at a CTA barrier.
    Barrier,
}

/// Runs `ins` for the lanes in `exec` (`group` = the lanes at this instruction, guard ignored).
pub fn execute(w: &mut Warp, env: &mut Env, ins: &Instr, exec: u32, group: u32) -> Result<Flow, Fault> {
    let a = &ins.args;
    let k = env.kernel;
    match ins.op {
        Op::Mov(_) if matches!(a[0], Operand::Vec(_)) || matches!(a[1], Operand::Vec(_)) => mov(w, env, a, exec),
        Op::Mov(_) => {
            let x = w.vals(&a[1], exec, env);
            w.write(&a[0], exec, &x, k);
        }
        Op::Bin(op, ty) if ty.is_float() => binary(w, env, a, exec, |x, y| float::bin(op, ty, x, y)),
        Op::Bin(op, ty) => binary(w, env, a, exec, |x, y| int::bin(op, ty, x, y)),
        Op::MulWide(ty) => binary(w, env, a, exec, |x, y| int::mul_wide(ty, x, y)),
        Op::Un(op, ty) => {
            let x = w.vals(&a[1], exec, env);
            let mut r = [0u64; WARP];
            for l in lanes(exec) {
                r[l] = if ty.is_float() { float::un(op, ty, x[l]) } else { int::un(op, ty, x[l]) };
            }
            w.write(&a[0], exec, &r, k);
        }
        Op::Mad(ty, hi) => {
            let [x, y, z] = [1, 2, 3].map(|i| w.vals(&a[i], exec, env));
            let mut r = [0u64; WARP];
            for l in lanes(exec) {
                r[l] =
                    if ty.is_float() { float::fma(ty, x[l], y[l], z[l]) } else { int::mad(ty, hi, x[l], y[l], z[l]) };
            }
            w.write(&a[0], exec, &r, k);
        }
        Op::MadWide(ty) => {
            for l in lanes(exec) {
                let p = int::mul_wide(ty, w.get(&a[1], l, env), w.get(&a[2], l, env));
                let r = p.wrapping_add(w.get(&a[3], l, env));
                w.put(&a[0], l, r & int::mask(2 * ty.bits()), k);
            }
        }
        Op::Setp { cmp, combine, ty } => {
            let (x, y) = (w.vals(&a[1], exec, env), w.vals(&a[2], exec, env));
            for l in lanes(exec) {
                let r = int::compare(cmp, ty, x[l], y[l]);
                let c = combine.map(|op| (op, w.get(&a[3], l, env) != 0));
                let (p, q) = (join(r, c), join(!r, c));
                match a[0] {
                    Operand::Pair(pr, qr) => {
                        w.set(pr, l, p as u64, k);
                        w.set(qr, l, q as u64, k);
                    }
                    ref d => w.put(d, l, p as u64, k),
                }
            }
        }
        Op::Set { cmp, combine, dty, sty } => {
            for l in lanes(exec) {
                let r = int::compare(cmp, sty, w.get(&a[1], l, env), w.get(&a[2], l, env));
                let r = join(r, combine.map(|op| (op, w.get(&a[3], l, env) != 0)));
                let v = match (r, dty) {
                    (false, _) => 0,
                    (true, Ty::F32) => 1f32.to_bits() as u64,
                    (true, t) => int::mask(t.bits()),
                };
                w.put(&a[0], l, v, k);
            }
        }
        Op::Selp(_) => {
            for l in lanes(exec) {
                let pick = if w.get(&a[3], l, env) != 0 { 1 } else { 2 };
                let v = w.get(&a[pick], l, env);
                w.put(&a[0], l, v, k);
            }
        }
        Op::Cvt { .. } => cvt::cvt(w, env, ins, exec)?,
        Op::Prmt => {
            for l in lanes(exec) {
                let r = int::prmt(w.get(&a[1], l, env), w.get(&a[2], l, env), w.get(&a[3], l, env));
                w.put(&a[0], l, r, k);
            }
        }
        Op::Activemask => {
            for l in lanes(exec) {
                w.put(&a[0], l, group as u64, k);
            }
        }
        Op::Ld { .. } | Op::St { .. } | Op::Atom { .. } | Op::Cvta { .. } => mem::access(w, env, ins, exec)?,
        Op::CpAsync | Op::CpAsyncCommit | Op::CpAsyncWait { .. } => mem::cp_async(w, env, ins, exec)?,
        Op::Shfl(_) | Op::Vote(_) | Op::Redux(..) => warp::collective(w, env, ins, exec, group)?,
        Op::Bfe(ty) => {
            for l in lanes(exec) {
                let [x, p, n] = [1, 2, 3].map(|i| w.get(&a[i], l, env));
                w.put(&a[0], l, int::bfe(ty, x, p & 0xFF, n & 0xFF), k);
            }
        }
        Op::Bfi(ty) => {
            for l in lanes(exec) {
                let [x, y, p, n] = [1, 2, 3, 4].map(|i| w.get(&a[i], l, env));
                w.put(&a[0], l, int::bfi(ty, x, y, p & 0xFF, n & 0xFF), k);
            }
        }
        Op::Ldmatrix { .. } | Op::Mma { .. } => super::mma::execute(w, env, ins, exec)?,
        Op::Bra => {
            if let Operand::Label(t) = a[0] {
                return Ok(Flow::Jump(t));
            }
        }
        Op::Ret | Op::Exit => return Ok(Flow::Exit),
        Op::Bar { arrive: false } => return Ok(Flow::Barrier),
        Op::WarpSync => env.shared.warp_sync(w.id),
        Op::Bar { arrive: true } | Op::Nop => {}
    }
    Ok(Flow::Next)
}

/// A two-source, one-destination instruction over whole lane arrays.
#[inline]
fn binary(w: &mut Warp, env: &Env, a: &[Operand], exec: u32, f: impl Fn(u64, u64) -> u64) {
    let (x, y) = (w.vals(&a[1], exec, env), w.vals(&a[2], exec, env));
    let mut r = [0u64; WARP];
    for l in lanes(exec) {
        r[l] = f(x[l], y[l]);
    }
    w.write(&a[0], exec, &r, env.kernel);
}

fn join(r: bool, c: Option<(BoolOp, bool)>) -> bool {
    match c {
        None => r,
        Some((BoolOp::And, c)) => r && c,
        Some((BoolOp::Or, c)) => r || c,
        Some((BoolOp::Xor, c)) => r ^ c,
    }
}

/// `mov`, including packing (`mov.b32 %r, {%h0, %h1}`) and unpacking (`mov.b64 {%r0, %r1}, %rd`).
fn mov(w: &mut Warp, env: &Env, a: &[Operand], exec: u32) {
    let k = env.kernel;
    for l in lanes(exec) {
        let v = w.get(&a[1], l, env);
        match &a[0] {
            Operand::Vec(parts) => {
                let mut shift = 0;
                for p in parts {
                    let bits = match p {
                        Operand::Reg(r) => k.reg_types[*r as usize].bits(),
                        _ => 64 / parts.len() as u32,
                    };
                    w.put(p, l, (v >> shift) & int::mask(bits), k);
                    shift += bits;
                }
            }
            d => w.put(d, l, v, k),
        }
    }
}
