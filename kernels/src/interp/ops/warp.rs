//! Warp-collective instructions: `shfl.sync` and `vote.sync`. Both check that every live lane the
//! member mask names executes the instruction together (what `.sync` promises the hardware).

use super::int;
use crate::interp::ast::{AtomOp, Bin, Instr, Op, Operand, ShflMode, VoteMode};
use crate::interp::checks::Fault;
use crate::interp::warp::{lanes, Env, Warp};

fn check_members(w: &Warp, members: u32, exec: u32, what: &str) -> Result<(), Fault> {
    let absent = members & w.live & !exec;
    if absent != 0 {
        let lane = exec.trailing_zeros();
        let m = format!(
            "{what}: lane {} is in the member mask 0x{members:08x} but does not execute this instruction with lanes 0x{exec:08x}",
            absent.trailing_zeros()
        );
        return Err(Fault::new(lane, m));
    }
    let outside = exec & !members;
    if outside != 0 {
        let m = format!("{what}: this lane executes the instruction but is not in the member mask 0x{members:08x}");
        return Err(Fault::new(outside.trailing_zeros(), m));
    }
    Ok(())
}

/// `shfl.sync` and `vote.sync`.
pub fn collective(w: &mut Warp, env: &mut Env, ins: &Instr, exec: u32, _group: u32) -> Result<(), Fault> {
    let a = &ins.args;
    let k = env.kernel;
    if exec == 0 {
        return Ok(());
    }
    let first = exec.trailing_zeros() as usize;
    let members = w.get(a.last().expect("arity checked"), first, env) as u32;
    match ins.op {
        Op::Shfl(mode) => {
            check_members(w, members, exec, "shfl.sync")?;
            let mut out = [(0u64, false); 32];
            for l in lanes(exec) {
                let b = w.get(&a[2], l, env) as u32 & 0x1F;
                let c = w.get(&a[3], l, env) as u32;
                let lane = l as u32;
                let seg = (c >> 8) & 0x1F;
                let clamp = c & 0x1F;
                let max_lane = (lane & seg) | (clamp & !seg);
                let min_lane = lane & seg;
                let (j, ok) = match mode {
                    ShflMode::Up => {
                        let j = lane as i32 - b as i32;
                        (j, j >= max_lane as i32)
                    }
                    ShflMode::Down => {
                        let j = lane as i32 + b as i32;
                        (j, j <= max_lane as i32)
                    }
                    ShflMode::Bfly => {
                        let j = (lane ^ b) as i32;
                        (j, j <= max_lane as i32)
                    }
                    ShflMode::Idx => {
                        let j = (min_lane | (b & 0x1F & !seg)) as i32;
                        (j, j <= max_lane as i32)
                    }
                };
                let src = if ok { j as usize } else { l };
                out[l] = (w.get(&a[1], src & 31, env), ok);
            }
            for l in lanes(exec) {
                match a[0] {
                    Operand::Pair(d, p) => {
                        w.set(d, l, out[l].0, k);
                        w.set(p, l, out[l].1 as u64, k);
                    }
                    ref d => w.put(d, l, out[l].0, k),
                }
            }
        }
        Op::Vote(mode) => {
            check_members(w, members, exec, "vote.sync")?;
            let mut ballot = 0u32;
            for l in lanes(exec) {
                ballot |= ((w.get(&a[1], l, env) != 0) as u32) << l;
            }
            let v = match mode {
                VoteMode::Ballot => ballot as u64,
                VoteMode::All => (ballot == exec) as u64,
                VoteMode::Any => (ballot != 0) as u64,
                VoteMode::Uni => (ballot == exec || ballot == 0) as u64,
            };
            for l in lanes(exec) {
                w.put(&a[0], l, v, k);
            }
        }
        Op::Redux(op, ty) => {
            check_members(w, members, exec, "redux.sync")?;
            let vals: Vec<u64> = lanes(exec).map(|l| w.get(&a[1], l, env)).collect();
            let bin = match op {
                AtomOp::Add => Bin::Add,
                AtomOp::Min => Bin::Min,
                AtomOp::Max => Bin::Max,
                AtomOp::And => Bin::And,
                AtomOp::Or => Bin::Or,
                _ => Bin::Xor,
            };
            let r = vals.iter().skip(1).fold(vals[0], |acc, &v| int::bin(bin, ty, acc, v));
            for l in lanes(exec) {
                w.put(&a[0], l, r, k);
            }
        }
        _ => unreachable!("collective dispatch"),
    }
    Ok(())
}
