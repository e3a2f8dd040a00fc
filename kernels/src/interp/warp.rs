//! A warp: 32 lanes that share one register file laid out register-major (`regs[r * 32 + lane]`),
//! a per-register mask of lanes whose value has been written, and one program counter per lane.
//! Also [`Env`], what an executing instruction may touch besides its warp.

use std::collections::VecDeque;

use super::ast::{Kernel, Operand, Special, Ty};
use super::checks::{Fault, SharedMem};
use super::memory::GlobalMem;
use super::ops::int::{mask, sext};

/// Lanes in a warp.
pub const WARP: usize = 32;

/// The set bits of a lane mask, lowest first.
pub fn lanes(mut m: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        (m != 0).then(|| {
            let l = m.trailing_zeros();
            m &= m - 1;
            l as usize
        })
    })
}

/// A `cp.async` copy waiting for its `wait_group` (copies run at wait time; see INTERPRETER.md).
#[derive(Clone, Debug)]
pub struct AsyncCopy {
    /// The issuing lane.
    pub lane: u32,
    /// Global source address.
    pub src: u64,
    /// Shared destination offset.
    pub dst: u64,
    /// Bytes written to shared memory (4, 8 or 16).
    pub bytes: u32,
    /// Bytes read from `src`; the rest of `bytes` is zero-filled.
    pub src_bytes: u32,
    /// Source line of the `cp.async`.
    pub line: u32,
}

/// What a CTA and its launch offer an instruction: the kernel, parameters, memories, shape.
pub struct Env<'a> {
    /// The kernel being run.
    pub kernel: &'a Kernel,
    /// The launch's `.param` bytes.
    pub params: &'a [u8],
    /// Global memory, shared by all CTAs.
    pub global: &'a mut GlobalMem,
    /// This CTA's shared memory.
    pub shared: &'a mut SharedMem,
    /// `%ntid`.
    pub block: [u32; 3],
    /// `%nctaid`.
    pub grid: [u32; 3],
    /// `%ctaid` of this CTA.
    pub ctaid: [u32; 3],
    /// Warps per CTA (`%nwarpid`).
    pub nwarps: u32,
    /// Whether shared accesses go through the race detector.
    pub check_races: bool,
}

/// One warp of a CTA.
pub struct Warp {
    /// Index of the warp in its CTA (`%warpid`).
    pub id: u32,
    /// Register `r` of lane `l` at `r * 32 + l`.
    pub regs: Vec<u64>,
    /// Per register, the lanes in which it has been written.
    pub defined: Vec<u32>,
    /// Per lane, the index of its next instruction.
    pub pc: [u32; WARP],
    /// Lanes that exist and have not exited.
    pub live: u32,
    /// Lanes that exist (a CTA's last warp may be partial).
    pub exists: u32,
    /// Per lane, its `.local` bytes (`local_bytes * 32`).
    pub local: Vec<u8>,
    /// `cp.async` copies issued since the last `commit_group`.
    pub cp_pending: Vec<AsyncCopy>,
    /// Committed groups of copies, oldest first.
    pub cp_groups: VecDeque<Vec<AsyncCopy>>,
    /// Source line of the barrier this warp waits at.
    pub waiting: Option<u32>,
    /// Instructions executed so far (for the hang limit).
    pub steps: u64,
}

impl Warp {
    /// Warp `id` of a CTA with `threads` threads running `kernel`.
    pub fn new(id: u32, threads: u32, kernel: &Kernel) -> Self {
        let first = id * WARP as u32;
        let n = (threads - first).min(WARP as u32);
        let exists = if n == 32 { u32::MAX } else { (1u32 << n) - 1 };
        let nregs = kernel.reg_types.len();
        Warp {
            id,
            regs: vec![0; nregs * WARP],
            defined: vec![0; nregs],
            pc: [0; WARP],
            live: exists,
            exists,
            local: vec![0; kernel.local_bytes as usize * WARP],
            cp_pending: Vec::new(),
            cp_groups: VecDeque::new(),
            waiting: None,
            steps: 0,
        }
    }

    /// Index of `lane` within its CTA.
    pub fn thread(&self, lane: usize) -> u32 {
        self.id * WARP as u32 + lane as u32
    }

    /// `%tid` of `lane`.
    pub fn tid(&self, lane: usize, block: [u32; 3]) -> [u32; 3] {
        let t = self.thread(lane);
        [t % block[0], t / block[0] % block[1], t / (block[0] * block[1])]
    }

    /// Raw bits of register `r` in `lane`.
    #[inline]
    pub fn reg(&self, r: u32, lane: usize) -> u64 {
        self.regs[r as usize * WARP + lane]
    }

    /// Writes register `r` of `lane`, keeping only the register's width.
    #[inline]
    pub fn set(&mut self, r: u32, lane: usize, v: u64, kernel: &Kernel) {
        let ty = kernel.reg_types[r as usize];
        let w = if ty == Ty::Pred { 1 } else { ty.bits() };
        self.regs[r as usize * WARP + lane] = v & mask(w);
    }

    /// Writes a destination operand (a register or `_`).
    #[inline]
    pub fn put(&mut self, op: &Operand, lane: usize, v: u64, kernel: &Kernel) {
        if let Operand::Reg(r) = *op {
            self.set(r, lane, v, kernel);
        }
    }

    /// Writes a load result of type `ty`, sign-extending signed types to the register's width.
    pub fn put_loaded(&mut self, op: &Operand, lane: usize, v: u64, ty: Ty, kernel: &Kernel) {
        let v = if ty.is_signed() { sext(v, ty.bits()) as u64 } else { v };
        self.put(op, lane, v, kernel);
    }

    /// The value of a source operand in `lane`.
    #[inline]
    pub fn get(&self, op: &Operand, lane: usize, env: &Env) -> u64 {
        match *op {
            Operand::Reg(r) => self.reg(r, lane),
            Operand::Imm(v) => v,
            Operand::NotPred(r) => (self.reg(r, lane) == 0) as u64,
            Operand::Special(s) => self.special(s, lane, env) as u64,
            Operand::Vec(ref v) => self.pack(v, lane, env),
            _ => 0,
        }
    }

    /// A source operand for every lane of `exec` at once (other lanes hold junk).
    #[inline]
    pub fn vals(&self, op: &Operand, exec: u32, env: &Env) -> [u64; WARP] {
        match *op {
            Operand::Reg(r) => {
                let mut out = [0u64; WARP];
                out.copy_from_slice(&self.regs[r as usize * WARP..(r as usize + 1) * WARP]);
                out
            }
            Operand::Imm(v) => [v; WARP],
            _ => {
                let mut out = [0u64; WARP];
                for l in lanes(exec) {
                    out[l] = self.get(op, l, env);
                }
                out
            }
        }
    }

    /// Writes a destination register (or `_`) for the lanes of `exec`.
    #[inline]
    pub fn write(&mut self, op: &Operand, exec: u32, v: &[u64; WARP], kernel: &Kernel) {
        let Operand::Reg(r) = *op else { return };
        let ty = kernel.reg_types[r as usize];
        let m = mask(if ty == Ty::Pred { 1 } else { ty.bits() });
        let dst = &mut self.regs[r as usize * WARP..(r as usize + 1) * WARP];
        if exec == u32::MAX {
            for (d, s) in dst.iter_mut().zip(v) {
                *d = s & m;
            }
        } else {
            for l in lanes(exec) {
                dst[l] = v[l] & m;
            }
        }
    }

    /// A packing source `{lo, hi}`: each element's width is its register's.
    #[cold]
    fn pack(&self, v: &[Operand], lane: usize, env: &Env) -> u64 {
        let mut out = 0u64;
        let mut shift = 0;
        for o in v {
            let w = match o {
                Operand::Reg(r) => env.kernel.reg_types[*r as usize].bits(),
                _ => 64 / v.len() as u32,
            };
            out |= (self.get(o, lane, env) & mask(w)) << shift;
            shift += w;
        }
        out
    }

    fn special(&self, s: Special, lane: usize, env: &Env) -> u32 {
        match s {
            Special::Tid(a) => self.tid(lane, env.block)[a as usize],
            Special::Ntid(a) => env.block[a as usize],
            Special::Ctaid(a) => env.ctaid[a as usize],
            Special::Nctaid(a) => env.grid[a as usize],
            Special::LaneId => lane as u32,
            Special::WarpId => self.id,
            Special::NWarpId => env.nwarps,
            Special::WarpSize => WARP as u32,
        }
    }

    /// Fails for the first lane of `need` that reads a register never written in that lane.
    pub fn check_defined(&self, srcs: &[u32], need: u32, kernel: &Kernel) -> Result<(), Fault> {
        for &r in srcs {
            let missing = need & !self.defined[r as usize];
            if missing != 0 {
                let lane = missing.trailing_zeros();
                let name = &kernel.reg_names[r as usize];
                return Err(Fault::new(lane, format!("register {name} is read before any instruction wrote it")));
            }
        }
        Ok(())
    }
}
