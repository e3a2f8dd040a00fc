//! Turns an instruction as written (`ld.global.nc.v4.f32 {...}, [%rd1+16]`) into a decoded [`Instr`]:
//! the opcode and its modifiers become an [`Op`], immediates get the bits of the instruction's type,
//! names become labels and symbol offsets, and the operand shapes are checked once so that the
//! executor can index operands without further checks.

use super::ast::{AtomOp, Bin, Instr, Op, Operand, Space, Ty};
use super::opcode::{op_of, Mods};
use super::parser::{Raw, RawInstr, Scope, Symbol};

/// The type whose bits an immediate in a value position takes, for the float conversions.
fn value_ty(op: &Op) -> Option<Ty> {
    match *op {
        Op::Mov(t) | Op::Bin(_, t) | Op::Un(_, t) | Op::Mad(t, _) | Op::Selp(t) => Some(t),
        Op::Setp { ty, .. } => Some(ty),
        Op::Set { sty, .. } | Op::Cvt { sty, .. } => Some(sty),
        Op::St { ty, .. } | Op::Atom { ty, .. } => Some(ty),
        _ => None,
    }
}

/// Bits of an integer or float literal as a value of type `ty` (integers: two's complement).
fn imm_bits(raw: &Raw, ty: Option<Ty>) -> u64 {
    use super::ops::float::{from_f64, is_float_ty};
    let ty = ty.filter(|t| is_float_ty(*t));
    match (raw, ty) {
        (Raw::Int(v), Some(t)) => from_f64(*v as f64, t),
        (Raw::Int(v), None) => *v as u64,
        (Raw::F32Bits(b), Some(Ty::F32) | None) => *b as u64,
        (Raw::F32Bits(b), Some(t)) => from_f64(f32::from_bits(*b) as f64, t),
        (Raw::F64(v), Some(t)) => from_f64(*v, t),
        (Raw::F64(v), None) => v.to_bits(),
        _ => 0,
    }
}

fn symbol_offset(scope: &Scope, name: &str) -> Option<(Space, i64)> {
    Some(match *scope.symbols.get(name)? {
        Symbol::Shared(o) => (Space::Shared, o as i64),
        Symbol::DynShared => (Space::Shared, scope.dyn_shared_offset as i64),
        Symbol::Local(o) => (Space::Local, o as i64),
        Symbol::Param(o) => (Space::Param, o as i64),
    })
}

fn operand(raw: &Raw, ty: Option<Ty>, space: Space, scope: &Scope, is_target: bool) -> Result<Operand, String> {
    Ok(match raw {
        Raw::Reg(r) => Operand::Reg(*r),
        Raw::Int(_) | Raw::F32Bits(_) | Raw::F64(_) => Operand::Imm(imm_bits(raw, ty)),
        Raw::Special(s) => Operand::Special(*s),
        Raw::Vec(v) => Operand::Vec(v.iter().map(|o| operand(o, ty, space, scope, false)).collect::<Result<_, _>>()?),
        Raw::NotPred(r) => Operand::NotPred(*r),
        Raw::Pair(a, b) => Operand::Pair(*a, *b),
        Raw::Sink => Operand::Sink,
        Raw::Name(n) if is_target => {
            Operand::Label(*scope.labels.get(n).ok_or_else(|| format!("branch to undefined label {n}"))?)
        }
        Raw::Name(n) => match symbol_offset(scope, n) {
            Some((_, off)) => Operand::Imm(off as u64),
            None => return Err(format!("unknown name {n}")),
        },
        Raw::Addr(None, off) => Operand::Addr { base: None, offset: *off },
        Raw::Addr(Some(n), off) => {
            if let Some(&r) = scope.regs.get(n) {
                Operand::Addr { base: Some(r), offset: *off }
            } else if let Some((sp, base)) = symbol_offset(scope, n) {
                if sp != space {
                    return Err(format!("{n} lives in {} but the instruction accesses {}", sp.name(), space.name()));
                }
                Operand::Addr { base: None, offset: base + off }
            } else {
                return Err(format!("unknown register or symbol {n} in an address"));
            }
        }
    })
}

/// Operand counts each opcode accepts (inclusive).
fn arity(op: &Op) -> (usize, usize) {
    match op {
        Op::Ret | Op::Exit | Op::Nop | Op::CpAsyncCommit => (0, 8),
        Op::Bar { .. } | Op::WarpSync => (0, 2),
        Op::Bra | Op::Activemask => (0, 1),
        Op::CpAsyncWait { all } => {
            let n = !all as usize;
            (n, n)
        }
        Op::Mov(_) | Op::Un(..) | Op::Cvta { .. } | Op::Ld { .. } | Op::St { .. } => (2, 2),
        Op::Ldmatrix { .. } => (2, 2),
        Op::Cvt { .. } => (2, 3),
        Op::Bin(..) | Op::MulWide(_) => (3, 3),
        Op::Setp { combine, .. } | Op::Set { combine, .. } => {
            let n = 3 + combine.is_some() as usize;
            (n, n)
        }
        Op::Mad(..) | Op::MadWide(_) | Op::Selp(_) => (4, 4),
        Op::Atom { op: AtomOp::Cas, reduce: false, .. } => (4, 4),
        Op::Atom { reduce: false, .. } => (3, 3),
        Op::Atom { .. } => (2, 2),
        Op::Shfl(_) => (5, 5),
        Op::Vote(_) | Op::Redux(..) => (3, 3),
        Op::Bfe(_) => (4, 4),
        Op::Bfi(_) => (5, 5),
        Op::CpAsync => (3, 4),
        Op::Mma { .. } => (4, 4),
        Op::Prmt => (4, 4),
    }
}

/// True when the first operand is written (not read) by the instruction.
pub fn writes_first(op: &Op) -> bool {
    !matches!(
        op,
        Op::St { .. }
            | Op::Atom { reduce: true, .. }
            | Op::Bra
            | Op::Ret
            | Op::Exit
            | Op::Bar { .. }
            | Op::WarpSync
            | Op::CpAsync
            | Op::CpAsyncCommit
            | Op::CpAsyncWait { .. }
            | Op::Nop
    )
}

fn vec_len(o: &Operand) -> usize {
    match o {
        Operand::Vec(v) => v.len(),
        _ => 1,
    }
}

/// Checks operand shapes that the executor relies on.
fn check_shapes(op: &Op, args: &[Operand]) -> Result<(), String> {
    let need_vec = |i: usize, n: usize, what: &str| {
        if vec_len(&args[i]) != n {
            Err(format!("{what} needs {n} registers in braces"))
        } else {
            Ok(())
        }
    };
    let need_addr = |i: usize| match args[i] {
        Operand::Addr { .. } => Ok(()),
        _ => Err(format!("operand {} must be an address in brackets", i + 1)),
    };
    match *op {
        Op::Ld { vec, .. } => {
            need_addr(1)?;
            need_vec(0, vec as usize, "this vector load")
        }
        Op::St { vec, .. } => {
            need_addr(0)?;
            need_vec(1, vec as usize, "this vector store")
        }
        Op::Atom { reduce, .. } => need_addr(if reduce { 0 } else { 1 }),
        Op::CpAsync => {
            need_addr(0)?;
            need_addr(1)
        }
        Op::Ldmatrix { count, .. } => {
            need_addr(1)?;
            need_vec(0, count as usize, "ldmatrix")
        }
        Op::Mma { k, cd, .. } => {
            let acc = if cd == Ty::F32 { 4 } else { 2 };
            need_vec(0, acc, "the mma accumulator d")?;
            need_vec(1, if k == 16 { 4 } else { 2 }, "the mma fragment a")?;
            need_vec(2, if k == 16 { 2 } else { 1 }, "the mma fragment b")?;
            need_vec(3, acc, "the mma accumulator c")
        }
        Op::Bra if args.len() != 1 || !matches!(args[0], Operand::Label(_)) => Err("bra needs a label".into()),
        _ => Ok(()),
    }
}

/// Decodes one instruction against its kernel's declarations.
pub fn decode(raw: &RawInstr, scope: &Scope) -> Result<Instr, String> {
    let mut parts = raw.opcode.split('.');
    let base = parts.next().unwrap_or_default();
    let mods = Mods(parts.collect());
    let op = op_of(base, &mods)?;
    let (lo, hi) = arity(&op);
    if raw.args.len() < lo || raw.args.len() > hi {
        return Err(format!("{} takes {lo} to {hi} operands, found {}", raw.opcode, raw.args.len()));
    }
    let vty = value_ty(&op);
    let space = mods.space();
    let mut args = Vec::with_capacity(raw.args.len());
    for (i, a) in raw.args.iter().enumerate() {
        // Shift amounts, the selp predicate and setp's combining predicate are never floats.
        let int_pos = matches!(op, Op::Bin(Bin::Shl | Bin::Shr, _)) && i == 2
            || matches!(op, Op::Selp(_) | Op::Setp { .. } | Op::Set { .. }) && i == 3;
        let ty = if int_pos { None } else { vty };
        args.push(operand(a, ty, space, scope, matches!(op, Op::Bra))?);
    }
    check_shapes(&op, &args)?;
    let (mut srcs, mut dsts) = (Vec::new(), Vec::new());
    for (i, a) in args.iter().enumerate() {
        if i == 0 && writes_first(&op) {
            a.regs(&mut dsts);
        } else {
            a.regs(&mut srcs);
        }
    }
    if let Some((g, _)) = raw.guard {
        srcs.push(g);
    }
    let text = format!(
        "{}{}{}",
        raw.guard.map_or(String::new(), |(g, n)| format!(
            "@{}{} ",
            if n { "!" } else { "" },
            scope.reg_names[g as usize]
        )),
        raw.opcode,
        if raw.args.is_empty() { String::new() } else { format!(" {}", show_args(&raw.args, scope)) }
    );
    Ok(Instr { op, guard: raw.guard, args, srcs, dsts, line: raw.line, text })
}

fn show_args(args: &[Raw], scope: &Scope) -> String {
    let show = |a: &Raw| -> String {
        match a {
            Raw::Reg(r) => scope.reg_names[*r as usize].clone(),
            Raw::Int(v) => v.to_string(),
            Raw::F32Bits(b) => format!("0f{b:08X}"),
            Raw::F64(v) => format!("{v}"),
            Raw::Special(s) => s.name(),
            Raw::Vec(v) => format!("{{{}}}", show_args(v, scope)),
            Raw::Addr(b, off) => match (b, off) {
                (Some(b), 0) => format!("[{b}]"),
                (Some(b), o) => format!("[{b}{o:+}]"),
                (None, o) => format!("[{o}]"),
            },
            Raw::Name(n) => n.clone(),
            Raw::NotPred(r) => format!("!{}", scope.reg_names[*r as usize]),
            Raw::Pair(a, b) => format!("{}|{}", scope.reg_names[*a as usize], scope.reg_names[*b as usize]),
            Raw::Sink => "_".into(),
        }
    };
    args.iter().map(show).collect::<Vec<_>>().join(", ")
}
