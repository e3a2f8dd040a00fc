//! Executes one decoded instruction for the lanes of a warp that run it. Each family lives in its
//! own file; this one dispatches and holds the register-to-register (ALU) instructions.

pub mod cvt;
pub mod float;
pub mod int;
pub mod mem;
pub mod warp;

use super::ast::{BoolOp, Instr, Op, Operand, Ty};
use super::checks::Fault;
use super::warp::{lanes, Env, Warp};

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
        Op::Mov(_) => mov(w, env, a, exec),
        Op::Bin(op, ty) => {
            for l in lanes(exec) {
                let (x, y) = (w.get(&a[1], l, env), w.get(&a[2], l, env));
                let r = if ty.is_float() { float::bin(op, ty, x, y) } else { int::bin(op, ty, x, y) };
                w.put(&a[0], l, r, k);
            }
        }
        Op::MulWide(ty) => {
            for l in lanes(exec) {
                let r = int::mul_wide(ty, w.get(&a[1], l, env), w.get(&a[2], l, env));
                w.put(&a[0], l, r, k);
            }
        }
        Op::Un(op, ty) => {
            for l in lanes(exec) {
                let x = w.get(&a[1], l, env);
                let r = if ty.is_float() { float::un(op, ty, x) } else { int::un(op, ty, x) };
                w.put(&a[0], l, r, k);
            }
        }
        Op::Mad(ty, hi) => {
            for l in lanes(exec) {
                let [x, y, z] = [1, 2, 3].map(|i| w.get(&a[i], l, env));
                let r = if ty.is_float() { float::fma(ty, x, y, z) } else { int::mad(ty, hi, x, y, z) };
                w.put(&a[0], l, r, k);
            }
        }
        Op::MadWide(ty) => {
            for l in lanes(exec) {
                let p = int::mul_wide(ty, w.get(&a[1], l, env), w.get(&a[2], l, env));
                let r = p.wrapping_add(w.get(&a[3], l, env));
                w.put(&a[0], l, r & int::mask(2 * ty.bits()), k);
            }
        }
        Op::Setp { cmp, combine, ty } => {
            for l in lanes(exec) {
                let r = int::compare(cmp, ty, w.get(&a[1], l, env), w.get(&a[2], l, env));
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
        Op::Shfl(_) | Op::Vote(_) => warp::collective(w, env, ins, exec, group)?,
        Op::Ldmatrix { .. } | Op::Mma { .. } => super::mma::execute(w, env, ins, exec)?,
        Op::Bra => {
            if let Operand::Label(t) = a[0] {
                return Ok(Flow::Jump(t));
            }
        }
        Op::Ret | Op::Exit => return Ok(Flow::Exit),
        Op::Bar { arrive: false } => return Ok(Flow::Barrier),
        Op::Bar { arrive: true } | Op::WarpSync | Op::Nop => {}
    }
    Ok(Flow::Next)
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
