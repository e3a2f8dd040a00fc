//! Memory instructions: `ld`/`st` (every width, vectors, every state space, generic addresses),
//! `atom`/`red`, `cvta`, and `cp.async` with its groups. Every access is checked for alignment
//! and bounds; shared accesses also go through the race detector.

use super::float;
use super::int::{self, mask};
use crate::interp::ast::{AtomOp, Instr, Op, Operand, Space, Ty};
use crate::interp::checks::Fault;
use crate::interp::memory::{load_le, store_le, LOCAL_WINDOW, SHARED_WINDOW, WINDOW_SIZE};
use crate::interp::warp::{lanes, AsyncCopy, Env, Warp};

/// The address an `[base+offset]` operand names in `lane`.
fn address(w: &Warp, op: &Operand, lane: usize) -> u64 {
    match *op {
        Operand::Addr { base: Some(r), offset } => w.reg(r, lane).wrapping_add(offset as u64),
        Operand::Addr { base: None, offset } => offset as u64,
        _ => 0,
    }
}

/// A generic address resolved to its state space (other spaces pass through).
fn resolve(space: Space, addr: u64) -> (Space, u64) {
    match space {
        Space::Generic if (SHARED_WINDOW..SHARED_WINDOW + WINDOW_SIZE).contains(&addr) => {
            (Space::Shared, addr - SHARED_WINDOW)
        }
        Space::Generic if (LOCAL_WINDOW..LOCAL_WINDOW + WINDOW_SIZE).contains(&addr) => {
            (Space::Local, addr - LOCAL_WINDOW)
        }
        Space::Generic => (Space::Global, addr),
        s => (s, addr),
    }
}

/// Reads (`val` = None) or writes `len` bytes of `lane` at `addr` in `space`; returns the value read.
#[allow(clippy::too_many_arguments)]
fn touch(
    w: &mut Warp,
    env: &mut Env,
    lane: usize,
    space: Space,
    addr: u64,
    len: usize,
    val: Option<u64>,
    line: u32,
    race: bool,
) -> Result<u64, Fault> {
    let fault = |m: String| Fault::new(lane as u32, m);
    let (space, addr) = resolve(space, addr);
    // Access sizes are powers of two: a mask instead of a division.
    if addr & (len as u64 - 1) != 0 {
        return Err(fault(format!("misaligned {len}-byte {} access at address 0x{addr:x}", space.name())));
    }
    let bytes: &mut [u8] = match space {
        Space::Global => env.global.bytes_mut(addr, len).map_err(fault)?,
        Space::Shared => {
            env.shared.access(addr, len, w.thread(lane), val.is_some(), line, race && env.check_races).map_err(fault)?
        }
        Space::Local => {
            let size = env.kernel.local_bytes as u64;
            if addr.saturating_add(len as u64) > size {
                return Err(fault(format!("local access of {len} bytes at offset {addr} is outside the {size} bytes")));
            }
            let off = lane * size as usize + addr as usize;
            &mut w.local[off..off + len]
        }
        Space::Param => {
            if val.is_some() {
                return Err(fault("stores to kernel parameters are not supported".into()));
            }
            let end = addr.checked_add(len as u64).filter(|e| *e <= env.params.len() as u64);
            let Some(end) = end else {
                return Err(fault(format!(
                    "parameter read at offset {addr} is outside the {} parameter bytes",
                    env.params.len()
                )));
            };
            return Ok(load_le(&env.params[addr as usize..end as usize]));
        }
        Space::Const | Space::Generic => return Err(fault("the .const state space is not supported".into())),
    };
    match val {
        Some(v) => {
            store_le(bytes, v);
            Ok(0)
        }
        None => Ok(load_le(bytes)),
    }
}

/// `ld`, `st`, `atom`, `red` and `cvta`.
pub fn access(w: &mut Warp, env: &mut Env, ins: &Instr, exec: u32) -> Result<(), Fault> {
    let a = &ins.args;
    let k = env.kernel;
    match ins.op {
        Op::Ld { space, ty, vec } | Op::St { space, ty, vec } => {
            let load = matches!(ins.op, Op::Ld { .. });
            let (size, n) = (ty.bytes() as usize, vec as usize);
            let (regs, addr_op) = if load { (&a[0], &a[1]) } else { (&a[1], &a[0]) };
            for l in lanes(exec) {
                let base = address(w, addr_op, l);
                let (_, resolved) = resolve(space, base);
                if n > 1 && resolved & ((size * n) as u64 - 1) != 0 {
                    let m = format!("misaligned {}-byte vector access at address 0x{resolved:x}", size * n);
                    return Err(Fault::new(l as u32, m));
                }
                for i in 0..n {
                    let elem = match regs {
                        Operand::Vec(v) => &v[i],
                        o => o,
                    };
                    let at = base.wrapping_add((i * size) as u64);
                    if load {
                        let v = touch(w, env, l, space, at, size, None, ins.line, true)?;
                        w.put_loaded(elem, l, v, ty, k);
                    } else {
                        let v = w.get(elem, l, env) & mask(size as u32 * 8);
                        touch(w, env, l, space, at, size, Some(v), ins.line, true)?;
                    }
                }
            }
        }
        Op::Atom { space, op, ty, reduce } => {
            let (addr_op, first) = if reduce { (&a[0], 1) } else { (&a[1], 2) };
            let size = ty.bytes() as usize;
            // Lanes take their turns in lane order, so contention resolves deterministically.
            for l in lanes(exec) {
                let at = address(w, addr_op, l);
                let old = touch(w, env, l, space, at, size, None, ins.line, false)?;
                let b = w.get(&a[first], l, env);
                let c = if op == AtomOp::Cas { w.get(&a[first + 1], l, env) } else { 0 };
                let new = atomic(op, ty, old, b, c) & mask(size as u32 * 8);
                touch(w, env, l, space, at, size, Some(new), ins.line, false)?;
                if !reduce {
                    w.put(&a[0], l, old, k);
                }
            }
        }
        Op::Cvta { to, space } => {
            let window = match space {
                Space::Shared => SHARED_WINDOW,
                Space::Local => LOCAL_WINDOW,
                _ => 0,
            };
            for l in lanes(exec) {
                let v = w.get(&a[1], l, env);
                let r = if to { v.wrapping_sub(window) } else { v.wrapping_add(window) };
                w.put(&a[0], l, r, k);
            }
        }
        _ => unreachable!("memory dispatch"),
    }
    Ok(())
}

/// The value an atomic stores, given the old value and operands `b` (and `c` for cas).
fn atomic(op: AtomOp, ty: Ty, old: u64, b: u64, c: u64) -> u64 {
    use crate::interp::ast::Bin;
    let w = ty.bits();
    match op {
        AtomOp::Add if ty.is_float() => float::bin(Bin::Add, ty, old, b),
        AtomOp::Add => old.wrapping_add(b),
        AtomOp::Min if ty.is_float() => float::bin(Bin::Min, ty, old, b),
        AtomOp::Max if ty.is_float() => float::bin(Bin::Max, ty, old, b),
        AtomOp::Min => int::bin(Bin::Min, ty, old, b),
        AtomOp::Max => int::bin(Bin::Max, ty, old, b),
        AtomOp::Exch => b,
        AtomOp::Cas => {
            if old & mask(w) == b & mask(w) {
                c
            } else {
                old
            }
        }
        AtomOp::And => old & b,
        AtomOp::Or => old | b,
        AtomOp::Xor => old ^ b,
        AtomOp::Inc => {
            if old & mask(w) >= b & mask(w) {
                0
            } else {
                old.wrapping_add(1)
            }
        }
        AtomOp::Dec => {
            if old & mask(w) == 0 || old & mask(w) > b & mask(w) {
                b
            } else {
                old - 1
            }
        }
    }
}

/// `cp.async` (checked and race-recorded at issue, copied at wait time), `commit_group` and `wait_group`/`wait_all`.
pub fn cp_async(w: &mut Warp, env: &mut Env, ins: &Instr, exec: u32) -> Result<(), Fault> {
    let a = &ins.args;
    match ins.op {
        Op::CpAsync => {
            for l in lanes(exec) {
                let fault = |m: String| Fault::new(l as u32, m);
                let bytes = w.get(&a[2], l, env) as u32;
                if !matches!(bytes, 4 | 8 | 16) {
                    return Err(fault(format!("cp.async copies 4, 8 or 16 bytes, not {bytes}")));
                }
                let src_bytes = if a.len() > 3 { w.get(&a[3], l, env) as u32 } else { bytes };
                if src_bytes > bytes {
                    return Err(fault(format!("cp.async src-size {src_bytes} exceeds the copy size {bytes}")));
                }
                let (dst, src) = (address(w, &a[0], l), address(w, &a[1], l));
                if dst % bytes as u64 != 0 || src % bytes as u64 != 0 {
                    return Err(fault(format!("misaligned {bytes}-byte cp.async from 0x{src:x} to shared {dst}")));
                }
                if src_bytes > 0 {
                    env.global.bytes_mut(src, src_bytes as usize).map_err(fault)?;
                }
                // The copy may land any time until its wait: the race detector sees a write from now
                // on (and again when it lands), so touching the bytes before the wait is a race.
                env.shared.access(dst, bytes as usize, w.thread(l), true, ins.line, env.check_races).map_err(fault)?;
                w.cp_pending.push(AsyncCopy { lane: l as u32, src, dst, bytes, src_bytes, line: ins.line });
            }
        }
        Op::CpAsyncCommit => {
            let group = std::mem::take(&mut w.cp_pending);
            w.cp_groups.push_back(group);
        }
        Op::CpAsyncWait { all } => {
            let keep = if all { 0 } else { w.get(&a[0], exec.trailing_zeros() as usize, env) as usize };
            if all {
                let pending = std::mem::take(&mut w.cp_pending);
                w.cp_groups.push_back(pending);
            }
            while w.cp_groups.len() > keep {
                let group = w.cp_groups.pop_front().unwrap_or_default();
                finish_copies(w, env, &group)?;
            }
        }
        _ => unreachable!("cp.async dispatch"),
    }
    Ok(())
}

/// Performs copies: global reads, zero fill, shared writes (seen by the race detector).
pub fn finish_copies(w: &mut Warp, env: &mut Env, copies: &[AsyncCopy]) -> Result<(), Fault> {
    for c in copies {
        let fault = |m: String| Fault::new(c.lane, m);
        let mut buf = [0u8; 16];
        if c.src_bytes > 0 {
            buf[..c.src_bytes as usize]
                .copy_from_slice(env.global.bytes_mut(c.src, c.src_bytes as usize).map_err(fault)?);
        }
        let thread = w.thread(c.lane as usize);
        let dst = env.shared.access(c.dst, c.bytes as usize, thread, true, c.line, env.check_races).map_err(fault)?;
        dst.copy_from_slice(&buf[..c.bytes as usize]);
    }
    Ok(())
}
