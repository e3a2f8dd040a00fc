//! Runs a launch: CTAs one after another; inside a CTA, warps in turn, each until it reaches a
//! barrier or exits; a barrier releases when every warp waits at it.
//!
//! Divergence and reconvergence (see INTERPRETER.md): each lane has its own program counter and a
//! warp always executes the lanes with the *lowest* program counter together ("min-PC"). After a
//! forward branch the lanes that skipped ahead wait while the others catch up, so lanes meet again
//! at the first instruction both paths reach, the immediate post-dominator for the structured code
//! compilers and people write (if/else, loops with per-lane trip counts, early `continue`).

use super::ast::{Instr, Kernel, Op};
use super::checks::{Fault, SharedMem};
use super::memory::GlobalMem;
use super::ops::{self, mem::finish_copies, Flow};
use super::trace::Tracer;
use super::warp::{lanes, Env, Warp, WARP};
use crate::{Dim3, LaunchConfig};

/// Instructions one warp may execute in a launch before the interpreter calls it a hang.
pub const DEFAULT_STEP_LIMIT: u64 = 200_000_000;

/// Everything a launch needs besides global memory.
pub struct Launch<'a> {
    /// The kernel to run.
    pub kernel: &'a Kernel,
    /// Its `.param` bytes.
    pub params: &'a [u8],
    /// Grid, block and dynamic shared memory.
    pub cfg: LaunchConfig,
    /// Whether the shared-memory race detector runs.
    pub check_races: bool,
    /// Instructions one warp may execute before the launch fails as a hang.
    pub step_limit: u64,
}

fn dims(d: Dim3) -> [u32; 3] {
    [d.x, d.y, d.z]
}

/// Runs every CTA of the grid; the error names kernel, instruction and thread.
pub fn run(launch: &Launch, global: &mut GlobalMem, tracer: &mut Option<Tracer>) -> Result<(), String> {
    let (block, grid) = (dims(launch.cfg.block), dims(launch.cfg.grid));
    let threads = launch.cfg.block.count() as u32;
    let nwarps = threads.div_ceil(WARP as u32);
    let shared_size = launch.kernel.dyn_shared_offset as usize + launch.cfg.shared_bytes as usize;
    let shared_size = if launch.cfg.shared_bytes == 0 { launch.kernel.static_shared as usize } else { shared_size };
    let mut shared = SharedMem::new(shared_size, block);
    for z in 0..grid[2] {
        for y in 0..grid[1] {
            for x in 0..grid[0] {
                shared.reset();
                let mut env = Env {
                    kernel: launch.kernel,
                    params: launch.params,
                    global: &mut *global,
                    shared: &mut shared,
                    block,
                    grid,
                    ctaid: [x, y, z],
                    nwarps,
                    check_races: launch.check_races,
                };
                run_cta(&mut env, threads, launch.step_limit, tracer)?;
            }
        }
    }
    Ok(())
}

fn run_cta(env: &mut Env, threads: u32, limit: u64, tracer: &mut Option<Tracer>) -> Result<(), String> {
    let mut warps: Vec<Warp> = (0..env.nwarps).map(|i| Warp::new(i, threads, env.kernel)).collect();
    loop {
        for w in warps.iter_mut().filter(|w| w.waiting.is_none() && w.live != 0) {
            run_warp(w, env, limit, tracer).map_err(|(f, ins)| describe(env, w, &f, ins))?;
        }
        let Some(line) = warps.iter().find_map(|w| w.waiting) else { return Ok(()) };
        // Every warp now waits or has finished: the barrier is complete unless threads left early.
        if let Some(w) = warps.iter().find(|w| w.exists & !w.live != 0) {
            let lane = (w.exists & !w.live).trailing_zeros() as usize;
            let [x, y, z] = w.tid(lane, env.block);
            let [cx, cy, cz] = env.ctaid;
            return Err(format!(
                "kernel {}: divergent barrier: thread ctaid=({cx},{cy},{cz}) tid=({x},{y},{z}) exited while other \
                 threads of its CTA wait at the barrier on line {line}",
                env.kernel.name
            ));
        }
        env.shared.barrier();
        warps.iter_mut().for_each(|w| w.waiting = None);
    }
}

/// The lanes that must reach `ins` together, for instructions that synchronise the warp.
fn sync_participants(ins: &Instr, w: &Warp, group: u32, env: &Env) -> Option<u32> {
    match ins.op {
        Op::Bar { arrive: false } | Op::Ldmatrix { .. } | Op::Mma { .. } => Some(u32::MAX),
        Op::Shfl(_) | Op::Vote(_) | Op::Redux(..) | Op::WarpSync => {
            let mask = ins.args.last()?;
            Some(w.get(mask, group.trailing_zeros() as usize, env) as u32)
        }
        _ => None,
    }
}

/// The error message of a fault: kernel, line, instruction, thread.
fn describe(env: &Env, w: &Warp, f: &Fault, ins: Option<&Instr>) -> String {
    let [x, y, z] = w.tid(f.lane as usize, env.block);
    let [cx, cy, cz] = env.ctaid;
    let at = ins.map_or(String::new(), |i| format!(", line {} `{}`", i.line, i.text));
    format!("kernel {}{at}, thread ctaid=({cx},{cy},{cz}) tid=({x},{y},{z}): {}", env.kernel.name, f.msg)
}

/// Runs `w` until it waits at a barrier or all its lanes have exited.
fn run_warp<'k>(
    w: &mut Warp,
    env: &mut Env<'k>,
    limit: u64,
    tracer: &mut Option<Tracer>,
) -> Result<(), (Fault, Option<&'k Instr>)> {
    let kernel = env.kernel;
    let trace_lane = tracer.as_ref().and_then(|t| t.lane_in(env.ctaid, w, env.block));
    // Lanes that reached a `.sync` point (barrier, warp collective) and wait for the rest of its
    // participants, which run meanwhile: lanes need not arrive together, as on sm_70 and later.
    let mut parked = 0u32;
    while w.live != 0 && w.waiting.is_none() {
        parked &= w.live;
        let runnable = w.live & !parked;
        let (mut pc, mut group) = (u32::MAX, 0u32);
        for l in lanes(if runnable != 0 { runnable } else { parked }) {
            let p = w.pc[l];
            if p < pc {
                (pc, group) = (p, 1 << l);
            } else if p == pc {
                group |= 1 << l;
            }
        }
        group |= lanes(parked).filter(|&l| w.pc[l] == pc).fold(0, |m, l| m | 1 << l);
        let Some(ins) = kernel.instrs.get(pc as usize) else {
            // Running off the end of the body is an implicit `ret`.
            w.live &= !group;
            continue;
        };
        if let Some(needed) = sync_participants(ins, w, group, env) {
            let missing = needed & w.live & !group;
            if missing != 0 && w.live & !parked & !group != 0 {
                parked |= group;
                continue;
            }
            // Either everyone is here, or the missing lanes wait elsewhere: execution reports it.
        }
        parked &= !group;
        w.steps += 1;
        if w.steps > limit {
            let m = format!("warp {} executed more than {limit} instructions; is there an endless loop?", w.id);
            return Err((Fault::new(group.trailing_zeros(), m), Some(ins)));
        }
        let step = |w: &mut Warp, env: &mut Env, tracer: &mut Option<Tracer>| -> Result<(Flow, u32), Fault> {
            let mut exec = group;
            if let Some((g, neg)) = ins.guard {
                w.check_defined(&[g], group, kernel)?;
                exec = lanes(group).filter(|&l| (w.reg(g, l) != 0) != neg).fold(0, |m, l| m | 1 << l);
            }
            w.check_defined(&ins.srcs, exec, kernel)?;
            let traced = trace_lane.filter(|&l| group >> l & 1 == 1);
            if let (Some(t), Some(l)) = (tracer.as_mut(), traced) {
                t.before(ins, w, l, exec >> l & 1 == 1, kernel);
            }
            let flow = ops::execute(w, env, ins, exec, group)?;
            for &d in &ins.dsts {
                w.defined[d as usize] |= exec;
            }
            if let (Some(t), Some(l)) = (tracer.as_mut(), traced) {
                t.after(ins, w, l, exec >> l & 1 == 1, kernel);
            }
            Ok((flow, exec))
        };
        let (flow, exec) = step(w, env, tracer).map_err(|f| (f, Some(ins)))?;
        for l in lanes(group) {
            w.pc[l] = pc + 1;
        }
        match flow {
            Flow::Next => {}
            Flow::Jump(target) => lanes(exec).for_each(|l| w.pc[l] = target),
            Flow::Exit => w.live &= !exec,
            Flow::Barrier if exec == 0 => {}
            Flow::Barrier => {
                if exec != w.live {
                    let away = w.live & !exec;
                    let other = away.trailing_zeros() as usize;
                    let [x, y, z] = w.tid(other, env.block);
                    let m = format!(
                        "divergent barrier: lanes 0x{exec:08x} of warp {} reached it but thread tid=({x},{y},{z}) \
                         of the same warp is at line {} instead",
                        w.id,
                        kernel.instrs.get(w.pc[other] as usize).map_or(0, |i| i.line)
                    );
                    return Err((Fault::new(exec.trailing_zeros(), m), Some(ins)));
                }
                w.waiting = Some(ins.line);
            }
        }
    }
    if w.live == 0 {
        // Copies still in flight when the threads exit land anyway.
        let pending: Vec<_> = w.cp_groups.drain(..).flatten().chain(w.cp_pending.drain(..)).collect();
        finish_copies(w, env, &pending).map_err(|f| (f, None))?;
    }
    Ok(())
}
