//! Opcode names and their modifiers (`ld.global.nc.v4.f32`, `setp.lt.and.s32`, `mma.sync...`) to
//! the decoded [`Op`]; unknown or unsupported forms are refused with a reason.

use super::ast::{AtomOp, Bin, BoolOp, Cmp, Op, Rnd, ShflMode, Space, Ty, Un, VoteMode};

/// The modifiers of an opcode, without the dots.
pub struct Mods<'a>(pub Vec<&'a str>);

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
    /// The state space the modifiers name (generic when none).
    pub fn space(&self) -> Space {
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

/// Decodes opcode `base` with modifiers `m`.
pub fn op_of(base: &str, m: &Mods) -> Result<Op, String> {
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
            if base == "red" && matches!(op, AtomOp::Cas | AtomOp::Exch) {
                return Err(format!("red has no {op:?} form; use atom"));
            }
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
