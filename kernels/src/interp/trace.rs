//! Trace mode: every instruction one chosen thread executes, with the registers it reads (before)
//! and writes (after). Chosen with `CAE_PTX_TRACE=ctaid_x,ctaid_y,tid_x[,tid_y[,tid_z]]` or
//! [`super::Interpreter::with_trace`]; lines go to stderr and are kept for
//! [`super::Interpreter::trace_lines`].

use super::ast::{Instr, Kernel, Operand, Ty};
use super::warp::{Warp, WARP};

/// The thread to trace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceTarget {
    /// The CTA (`%ctaid`).
    pub ctaid: [u32; 3],
    /// The thread in it (`%tid`).
    pub tid: [u32; 3],
}

impl TraceTarget {
    /// Parses `ctaid_x,ctaid_y,tid_x[,tid_y[,tid_z]]`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let v: Vec<u32> = s
            .split(',')
            .map(|p| p.trim().parse::<u32>())
            .collect::<Result<_, _>>()
            .map_err(|_| format!("CAE_PTX_TRACE={s}: expected ctaid_x,ctaid_y,tid_x[,tid_y[,tid_z]]"))?;
        if !(3..=5).contains(&v.len()) {
            return Err(format!("CAE_PTX_TRACE={s}: expected 3 to 5 numbers"));
        }
        let at = |i: usize| v.get(i).copied().unwrap_or(0);
        Ok(Self { ctaid: [v[0], v[1], 0], tid: [v[2], at(3), at(4)] })
    }
}

/// Collects the trace of one launch.
pub struct Tracer {
    /// Whom to trace.
    pub target: TraceTarget,
    /// The lines so far.
    pub lines: Vec<String>,
    pending: String,
}

impl Tracer {
    /// A tracer for `target`.
    pub fn new(target: TraceTarget) -> Self {
        Self { target, lines: Vec::new(), pending: String::new() }
    }

    /// The traced thread's lane, if it is in warp `w` of CTA `ctaid`.
    pub fn lane_in(&self, ctaid: [u32; 3], w: &Warp, block: [u32; 3]) -> Option<usize> {
        if ctaid != self.target.ctaid || self.target.tid.iter().zip(block).any(|(t, b)| *t >= b) {
            return None;
        }
        let [x, y, z] = self.target.tid;
        let linear = x + block[0] * (y + block[1] * z);
        (linear / WARP as u32 == w.id).then_some((linear % WARP as u32) as usize)
    }

    /// Records the instruction and the values it reads.
    pub fn before(&mut self, ins: &Instr, w: &Warp, lane: usize, runs: bool, k: &Kernel) {
        let reads: Vec<String> = ins.srcs.iter().map(|&r| show(w, r, lane, k)).collect();
        let off = if runs { "" } else { " (predicated off)" };
        // The effective address, which the registers alone leave to mental arithmetic.
        let addr = ins.args.iter().find_map(|a| match *a {
            Operand::Addr { base, offset } => {
                Some(format!(" | address 0x{:x}", base.map_or(0, |r| w.reg(r, lane)).wrapping_add(offset as u64)))
            }
            _ => None,
        });
        let addr = addr.unwrap_or_default();
        self.pending = format!("line {:>4}: {}{off}  | reads {}{addr}", ins.line, ins.text, reads.join(" "));
    }

    /// Completes the line with the values written, and emits it.
    pub fn after(&mut self, ins: &Instr, w: &Warp, lane: usize, runs: bool, k: &Kernel) {
        let mut line = std::mem::take(&mut self.pending);
        if runs && !ins.dsts.is_empty() {
            let writes: Vec<String> = ins.dsts.iter().map(|&r| show(w, r, lane, k)).collect();
            line += &format!(" | writes {}", writes.join(" "));
        }
        eprintln!("[ptx trace] {line}");
        self.lines.push(line);
    }
}

fn show(w: &Warp, r: u32, lane: usize, k: &Kernel) -> String {
    let name = &k.reg_names[r as usize];
    if w.defined[r as usize] >> lane & 1 == 0 {
        return format!("{name}=<undefined>");
    }
    let v = w.reg(r, lane);
    match k.reg_types[r as usize] {
        Ty::F32 => format!("{name}={} (0x{v:08x})", f32::from_bits(v as u32)),
        Ty::F64 => format!("{name}={}", f64::from_bits(v)),
        Ty::Pred => format!("{name}={}", v != 0),
        t if t.is_signed() => format!("{name}={}", super::ops::int::sext(v, t.bits())),
        _ => format!("{name}={v} (0x{v:x})"),
    }
}
