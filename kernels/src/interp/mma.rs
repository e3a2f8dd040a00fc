//! Tensor-core instructions, with the fragment layouts of the PTX ISA:
//!
//! - `ldmatrix.m8n8.x{1,2,4}{.trans}.b16`: lane `8*i + r` gives the address of row `r` of matrix
//!   `i` (16 bytes); lane `t` receives, in its `i`-th register, elements `(t/4, 2*(t%4))` and
//!   `(t/4, 2*(t%4)+1)` of matrix `i` (low half first), or of its transpose with `.trans`.
//! - `mma.m16n8k16.row.col` (and `k8`), with `g = lane/4`, `t = lane%4`: A register `j` holds row
//!   `g + 8*(j%2)`, columns `2t + 8*(j/2)` and one more; B register `j` holds rows `2t + 8j` and
//!   one more of column `g`; C/D element `i` is row `g + 8*(i/2)`, column `2t + i%2`.
//!
//! Products are summed in f64 and rounded once to the accumulator type (the hardware's internal
//! precision differs in the last bits; tests compare with a tolerance).

use super::ast::{Instr, Op, Operand, Ty};
use super::checks::Fault;
use super::ops::float::{from_f64, to_f64};
use super::warp::{Env, Warp, WARP};

fn whole_warp(w: &Warp, exec: u32, what: &str) -> Result<(), Fault> {
    if exec != u32::MAX || w.live != u32::MAX {
        let missing = !exec;
        let lane = if missing == 0 { 0 } else { missing.trailing_zeros() };
        let m = format!("{what} needs all 32 lanes of the warp together; lanes 0x{exec:08x} execute it");
        return Err(Fault::new(lane, m));
    }
    Ok(())
}

fn regs(op: &Operand) -> Vec<&Operand> {
    match op {
        Operand::Vec(v) => v.iter().collect(),
        o => vec![o],
    }
}

/// `ldmatrix` and `mma`.
pub fn execute(w: &mut Warp, env: &mut Env, ins: &Instr, exec: u32) -> Result<(), Fault> {
    match ins.op {
        Op::Ldmatrix { count, trans } => ldmatrix(w, env, ins, exec, count as usize, trans),
        Op::Mma { k, ab, cd } => mma(w, env, ins, exec, k as usize, ab, cd),
        _ => unreachable!("mma dispatch"),
    }
}

fn ldmatrix(w: &mut Warp, env: &mut Env, ins: &Instr, exec: u32, count: usize, trans: bool) -> Result<(), Fault> {
    whole_warp(w, exec, "ldmatrix")?;
    let Operand::Addr { base, offset } = ins.args[1] else { unreachable!("shape checked") };
    // rows[i][r]: the eight b16 elements of row r of matrix i.
    let mut rows = vec![[[0u16; 8]; 8]; count];
    for (l, row) in (0..8 * count).map(|l| (l, l % 8)) {
        let addr = base.map_or(0, |r| w.reg(r, l)).wrapping_add(offset as u64);
        let fault = |m: String| Fault::new(l as u32, m);
        if addr % 16 != 0 {
            return Err(fault(format!("ldmatrix row address {addr} is not 16-byte aligned")));
        }
        let bytes = env.shared.access(addr, 16, w.thread(l), false, ins.line, env.check_races).map_err(fault)?;
        for (c, e) in rows[l / 8][row].iter_mut().enumerate() {
            *e = u16::from_le_bytes([bytes[2 * c], bytes[2 * c + 1]]);
        }
    }
    let dst = regs(&ins.args[0]);
    for t in 0..WARP {
        let (r, c) = (t / 4, 2 * (t % 4));
        for (i, d) in dst.iter().enumerate() {
            let m = &rows[i];
            let (lo, hi) = if trans { (m[c][r], m[c + 1][r]) } else { (m[r][c], m[r][c + 1]) };
            w.put(d, t, (hi as u64) << 16 | lo as u64, env.kernel);
        }
    }
    Ok(())
}

fn mma(w: &mut Warp, env: &mut Env, ins: &Instr, exec: u32, k: usize, ab: Ty, cd: Ty) -> Result<(), Fault> {
    whole_warp(w, exec, "mma.sync")?;
    let [d, a, b, c] = [0, 1, 2, 3].map(|i| regs(&ins.args[i]));
    let mut am = [[0f64; 16]; 16];
    let mut bm = [[0f64; 8]; 16];
    let mut cm = [[0f64; 8]; 16];
    let half = |v: u64, hi: bool| to_f64(if hi { v >> 16 } else { v } & 0xFFFF, ab);
    for lane in 0..WARP {
        let (g, t) = (lane / 4, lane % 4);
        for (j, op) in a.iter().enumerate() {
            let v = w.get(op, lane, env);
            let (row, col) = (g + 8 * (j % 2), 2 * t + 8 * (j / 2));
            am[row][col] = half(v, false);
            am[row][col + 1] = half(v, true);
        }
        for (j, op) in b.iter().enumerate() {
            let v = w.get(op, lane, env);
            bm[2 * t + 8 * j][g] = half(v, false);
            bm[2 * t + 8 * j + 1][g] = half(v, true);
        }
        for i in 0..4 {
            let (row, col) = (g + 8 * (i / 2), 2 * t + i % 2);
            cm[row][col] = if cd == Ty::F32 {
                to_f64(w.get(c[i], lane, env), Ty::F32)
            } else {
                to_f64(w.get(c[i / 2], lane, env) >> (16 * (i % 2)) & 0xFFFF, Ty::F16)
            };
        }
    }
    let mut out = [[0u64; 8]; 16];
    for (row, out_row) in out.iter_mut().enumerate() {
        for (col, o) in out_row.iter_mut().enumerate() {
            let acc: f64 = (0..k).map(|kk| am[row][kk] * bm[kk][col]).sum::<f64>() + cm[row][col];
            *o = from_f64(acc, if cd == Ty::F32 { Ty::F32 } else { Ty::F16 });
        }
    }
    for lane in 0..WARP {
        let (g, t) = (lane / 4, lane % 4);
        let e = |i: usize| out[g + 8 * (i / 2)][2 * t + i % 2];
        if cd == Ty::F32 {
            for (i, op) in d.iter().enumerate() {
                w.put(op, lane, e(i), env.kernel);
            }
        } else {
            w.put(d[0], lane, e(1) << 16 | e(0), env.kernel);
            w.put(d[1], lane, e(3) << 16 | e(2), env.kernel);
        }
    }
    Ok(())
}
