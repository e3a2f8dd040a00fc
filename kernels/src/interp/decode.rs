//! Turns an instruction as written (`ld.global.nc.v4.f32 {...}, [%rd1+16]`) into a decoded [`Instr`]:
//! the opcode and its modifiers become an [`Op`], immediates get the bits of the instruction's type,
//! names become labels and symbol offsets, and the operand shapes are checked once so that the
//! executor can index operands without further checks.

use super::ast::{AtomOp, Bin, BoolOp, Cmp, Instr, Op, Operand, Rnd, ShflMode, Space, Ty, Un, VoteMode};
use super::parser::{Raw, RawInstr, Scope, Symbol};

/// The modifiers of an opcode, without the dots.
struct Mods<'a>(Vec<&'a str>);

impl Mods<'_> {
    fn has(&self, m: &str) -> bool {
        self.0.contains(&m)
    }
    fn types(&self) -> Vec<Ty> {
        self.0.iter().filter_map(|m| Ty::parse(m)).collect()
    }
    fn ty(&self) -> Result<Ty, String> {
        self.types().last().copied().ok_or_else(|| "the instruction names no type".to_string())
    }
    fn space(&self) -> Space {
        for m in &self.0 {
            match *m {
                "global" => return Space::Global,
                "shared" | "shared::cta" => return Space::Shared,
                "local" => return Space::Local,
                "const" => return Space::Const,
                "param" => return Space::Param,
                _ => {}
            }
        }
        Space::Generic
    }
    fn vec(&self) -> u8 {
        if self.has("v4") {
            4
        } else if self.has("v2") {
            2
        } else {
            1
        }
    }
}

fn cmp(m: &str) -> Option<Cmp> {
    Some(match m {
        "eq" => Cmp::Eq,
        "ne" => Cmp::Ne,
        "lt" => Cmp::Lt,
        "le" => Cmp::Le,
        "gt" => Cmp::Gt,
        "ge" => Cmp::Ge,
        "lo" => Cmp::Lo,
        "ls" => Cmp::Ls,
        "hi" => Cmp::Hi,
        "hs" => Cmp::Hs,
        "equ" => Cmp::Equ,
        "neu" => Cmp::Neu,
        "ltu" => Cmp::Ltu,
        "leu" => Cmp::Leu,
        "gtu" => Cmp::Gtu,
        "geu" => Cmp::Geu,
        "num" => Cmp::Num,
        "nan" => Cmp::Nan,
        _ => return None,
    })
}

fn combine(m: &Mods) -> Option<BoolOp> {
    m.0.iter().skip(1).find_map(|x| match *x {
        "and" => Some(BoolOp::And),
        "or" => Some(BoolOp::Or),
        "xor" => Some(BoolOp::Xor),
        _ => None,
    })
}

fn op_of(base: &str, m: &Mods) -> Result<Op, String> {
    let bin = |b| Ok(Op::Bin(b, m.ty()?));
    let un = |u| Ok(Op::Un(u, m.ty()?));
    match base {
        "mov" => Ok(Op::Mov(m.ty()?)),
        "add" => bin(Bin::Add),
        "sub" => bin(Bin::Sub),
        "min" => bin(Bin::Min),
        "max" => bin(Bin::Max),
        "and" => bin(Bin::And),
        "or" => bin(Bin::Or),
        "xor" => bin(Bin::Xor),
        "shl" => bin(Bin::Shl),
        "shr" => bin(Bin::Shr),
        "div" => bin(Bin::Div),
        "rem" => bin(Bin::Rem),
        "copysign" => bin(Bin::Copysign),
        "mul" if m.has("wide") => Ok(Op::MulWide(m.ty()?)),
        "mul" if m.has("hi") => bin(Bin::MulHi),
        "mul" => bin(Bin::MulLo),
        "mad" if m.has("wide") => Ok(Op::MadWide(m.ty()?)),
        "mad" | "fma" => Ok(Op::Mad(m.ty()?, m.has("hi"))),
        "neg" => un(Un::Neg),
        "abs" => un(Un::Abs),
        "not" => un(Un::Not),
        "cnot" => un(Un::Cnot),
        "popc" => un(Un::Popc),
        "clz" => un(Un::Clz),
        "brev" => un(Un::Brev),
        "ex2" => un(Un::Ex2),
        "lg2" => un(Un::Lg2),
        "rcp" => un(Un::Rcp),
        "rsqrt" => un(Un::Rsqrt),
        "sqrt" => un(Un::Sqrt),
        "sin" => un(Un::Sin),
        "cos" => un(Un::Cos),
        "tanh" => un(Un::Tanh),
        "setp" | "set" => {
            let c = m.0.first().and_then(|x| cmp(x)).ok_or("missing comparison operator")?;
            let tys = m.types();
            if base == "setp" {
                Ok(Op::Setp { cmp: c, combine: combine(m), ty: m.ty()? })
            } else if tys.len() == 2 {
                Ok(Op::Set { cmp: c, combine: combine(m), dty: tys[0], sty: tys[1] })
            } else {
                Err("set needs a destination and a source type".into())
            }
        }
        "selp" => Ok(Op::Selp(m.ty()?)),
        "cvt" => {
            let tys = m.types();
            if tys.len() != 2 {
                return Err("cvt needs a destination and a source type".into());
            }
            let (mut rnd, mut int_rnd) = (None, false);
            for x in &m.0 {
                let r = match x.trim_end_matches('i') {
                    "rn" => Rnd::Nearest,
                    "rz" => Rnd::Zero,
                    "rm" => Rnd::Down,
                    "rp" => Rnd::Up,
                    _ => continue,
                };
                rnd = Some(r);
                int_rnd = x.ends_with('i');
            }
            Ok(Op::Cvt { dty: tys[0], sty: tys[1], rnd, int_rnd, sat: m.has("sat") })
        }
        "cvta" => Ok(Op::Cvta { to: m.has("to"), space: m.space() }),
        "ld" | "ldu" => Ok(Op::Ld { space: m.space(), ty: m.ty()?, vec: m.vec() }),
        "st" => Ok(Op::St { space: m.space(), ty: m.ty()?, vec: m.vec() }),
        "atom" | "red" => {
            let op = m.0.iter().find_map(|x| atom_op(x)).ok_or("missing atomic operation")?;
            Ok(Op::Atom { space: m.space(), op, ty: m.ty()?, reduce: base == "red" })
        }
        "bra" | "brx" => Ok(Op::Bra),
        "ret" => Ok(Op::Ret),
        "exit" => Ok(Op::Exit),
        "bar" | "barrier" if m.has("warp") => Ok(Op::WarpSync),
        "bar" | "barrier" if m.has("red") => Err("bar.red is not supported".into()),
        "bar" | "barrier" => Ok(Op::Bar { arrive: m.has("arrive") }),
        "shfl" => {
            let mode = m.0.iter().find_map(|x| match *x {
                "up" => Some(ShflMode::Up),
                "down" => Some(ShflMode::Down),
                "bfly" => Some(ShflMode::Bfly),
                "idx" => Some(ShflMode::Idx),
                _ => None,
            });
            Ok(Op::Shfl(mode.ok_or("shfl needs up/down/bfly/idx")?))
        }
        "vote" => {
            let mode = m.0.iter().find_map(|x| match *x {
                "all" => Some(VoteMode::All),
                "any" => Some(VoteMode::Any),
                "uni" => Some(VoteMode::Uni),
                "ballot" => Some(VoteMode::Ballot),
                _ => None,
            });
            Ok(Op::Vote(mode.ok_or("vote needs all/any/uni/ballot")?))
        }
        "activemask" => Ok(Op::Activemask),
        "redux" => {
            let op = m.0.iter().find_map(|x| atom_op(x)).ok_or("missing reduction operation")?;
            if !matches!(op, AtomOp::Add | AtomOp::Min | AtomOp::Max | AtomOp::And | AtomOp::Or | AtomOp::Xor) {
                return Err("redux.sync supports add, min, max, and, or, xor".into());
            }
            Ok(Op::Redux(op, m.ty()?))
        }
        "bfe" => Ok(Op::Bfe(m.ty()?)),
        "bfi" => Ok(Op::Bfi(m.ty()?)),
        "cp" if m.has("async") => Ok(if m.has("commit_group") {
            Op::CpAsyncCommit
        } else if m.has("wait_group") {
            Op::CpAsyncWait { all: false }
        } else if m.has("wait_all") {
            Op::CpAsyncWait { all: true }
        } else if m.has("bulk") {
            return Err("cp.async.bulk (TMA) is not supported".into());
        } else {
            Op::CpAsync
        }),
        "ldmatrix" => {
            if !m.has("m8n8") || !m.has("b16") {
                return Err("only ldmatrix .m8n8 .b16 is supported".into());
            }
            let count = if m.has("x4") {
                4
            } else if m.has("x2") {
                2
            } else {
                1
            };
            Ok(Op::Ldmatrix { count, trans: m.has("trans") })
        }
        "mma" => {
            let k = if m.has("m16n8k16") {
                16
            } else if m.has("m16n8k8") {
                8
            } else {
                return Err("only mma shapes m16n8k16 and m16n8k8 are supported".into());
            };
            let tys = m.types();
            if !m.has("row") || !m.has("col") || tys.len() != 4 {
                return Err("mma needs .row.col and four types (d, a, b, c)".into());
            }
            let ok_in = matches!(tys[1], Ty::Bf16 | Ty::F16) && tys[1] == tys[2];
            let ok_acc = matches!(tys[0], Ty::F32 | Ty::F16) && tys[0] == tys[3];
            if !ok_in || !ok_acc || (tys[1] == Ty::Bf16 && tys[0] != Ty::F32) {
                return Err("mma supports .f32/.f16 accumulators with .bf16/.f16 inputs".into());
            }
            Ok(Op::Mma { k, ab: tys[1], cd: tys[0] })
        }
        "prmt" => {
            if m.0.len() > 1 {
                return Err("prmt modes (.f4e, .b4e, ...) are not supported; use the default mode".into());
            }
            Ok(Op::Prmt)
        }
        "fence" | "membar" | "prefetch" | "prefetchu" | "nanosleep" | "discard" => Ok(Op::Nop),
        "call" => Err("call is not supported; inline the function".into()),
        _ => Err(format!("unsupported instruction `{base}`")),
    }
}

fn atom_op(m: &str) -> Option<AtomOp> {
    Some(match m {
        "add" => AtomOp::Add,
        "min" => AtomOp::Min,
        "max" => AtomOp::Max,
        "exch" => AtomOp::Exch,
        "cas" => AtomOp::Cas,
        "and" => AtomOp::And,
        "or" => AtomOp::Or,
        "xor" => AtomOp::Xor,
        "inc" => AtomOp::Inc,
        "dec" => AtomOp::Dec,
        _ => return None,
    })
}

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
        Op::Bra | Op::CpAsyncWait { .. } | Op::Activemask => (0, 1),
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
