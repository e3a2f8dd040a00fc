//! The parsed form of a PTX module: kernels, their registers and parameters, and decoded
//! instructions whose operands already point at register indices, offsets and instruction indices.

use std::collections::HashMap;

/// A PTX scalar type (`.f32`, `.u64`, `.pred`, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    B8,
    B16,
    B32,
    B64,
    U8,
    U16,
    U32,
    U64,
    S8,
    S16,
    S32,
    S64,
    F16,
    F16x2,
    Bf16,
    Bf16x2,
    F32,
    F64,
    Pred,
}

impl Ty {
    /// The type named by a modifier such as `f32` (without the dot).
    pub fn parse(s: &str) -> Option<Ty> {
        Some(match s {
            "b8" => Ty::B8,
            "b16" => Ty::B16,
            "b32" => Ty::B32,
            "b64" => Ty::B64,
            "u8" => Ty::U8,
            "u16" => Ty::U16,
            "u32" => Ty::U32,
            "u64" => Ty::U64,
            "s8" => Ty::S8,
            "s16" => Ty::S16,
            "s32" => Ty::S32,
            "s64" => Ty::S64,
            "f16" => Ty::F16,
            "f16x2" => Ty::F16x2,
            "bf16" => Ty::Bf16,
            "bf16x2" => Ty::Bf16x2,
            "f32" => Ty::F32,
            "f64" => Ty::F64,
            "pred" => Ty::Pred,
            _ => return None,
        })
    }

    /// Width in bytes (a predicate counts as one).
    pub fn bytes(self) -> u32 {
        match self {
            Ty::B8 | Ty::U8 | Ty::S8 | Ty::Pred => 1,
            Ty::B16 | Ty::U16 | Ty::S16 | Ty::F16 | Ty::Bf16 => 2,
            Ty::B32 | Ty::U32 | Ty::S32 | Ty::F32 | Ty::F16x2 | Ty::Bf16x2 => 4,
            Ty::B64 | Ty::U64 | Ty::S64 | Ty::F64 => 8,
        }
    }

    /// Width in bits.
    pub fn bits(self) -> u32 {
        self.bytes() * 8
    }

    /// True for the signed integer types.
    pub fn is_signed(self) -> bool {
        matches!(self, Ty::S8 | Ty::S16 | Ty::S32 | Ty::S64)
    }

    /// True for the floating-point types, packed ones included.
    pub fn is_float(self) -> bool {
        matches!(self, Ty::F16 | Ty::F16x2 | Ty::Bf16 | Ty::Bf16x2 | Ty::F32 | Ty::F64)
    }
}

/// A state space of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Generic,
    Global,
    Shared,
    Local,
    Const,
    Param,
}

impl Space {
    /// The space as PTX writes it, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Space::Generic => "generic",
            Space::Global => ".global",
            Space::Shared => ".shared",
            Space::Local => ".local",
            Space::Const => ".const",
            Space::Param => ".param",
        }
    }
}

/// A special (read-only) register; the `u8` is the axis, 0 = x, 1 = y, 2 = z.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Special {
    Tid(u8),
    Ntid(u8),
    Ctaid(u8),
    Nctaid(u8),
    LaneId,
    WarpId,
    NWarpId,
    WarpSize,
}

impl Special {
    /// The register as PTX writes it (`%tid.x`).
    pub fn name(self) -> String {
        let axis = |a: u8| ["x", "y", "z"][a as usize % 3];
        match self {
            Special::Tid(a) => format!("%tid.{}", axis(a)),
            Special::Ntid(a) => format!("%ntid.{}", axis(a)),
            Special::Ctaid(a) => format!("%ctaid.{}", axis(a)),
            Special::Nctaid(a) => format!("%nctaid.{}", axis(a)),
            Special::LaneId => "%laneid".into(),
            Special::WarpId => "%warpid".into(),
            Special::NWarpId => "%nwarpid".into(),
            Special::WarpSize => "WARP_SZ".into(),
        }
    }
}

/// An instruction operand, resolved at parse time.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A register index into the kernel's register file.
    Reg(u32),
    /// An immediate, already converted to the bits the instruction's type expects.
    Imm(u64),
    /// A special register such as `%tid.x`.
    Special(Special),
    /// `{a, b, ...}`: a vector of operands (vector loads, packing moves, mma fragments).
    Vec(Vec<Operand>),
    /// `[base+offset]`: a register (or nothing, for symbols) plus a byte offset.
    Addr { base: Option<u32>, offset: i64 },
    /// A branch target: the index of the instruction that follows the label.
    Label(u32),
    /// `!%p`: a negated predicate source.
    NotPred(u32),
    /// `%p|%q` or `%r|%p`: two destinations.
    Pair(u32, u32),
    /// `_`: a destination whose value is discarded.
    Sink,
}

impl Operand {
    /// Every register this operand names (address bases included), in order.
    pub fn regs(&self, out: &mut Vec<u32>) {
        match self {
            Operand::Reg(r) | Operand::NotPred(r) => out.push(*r),
            Operand::Addr { base: Some(r), .. } => out.push(*r),
            Operand::Pair(a, b) => out.extend([*a, *b]),
            Operand::Vec(v) => v.iter().for_each(|o| o.regs(out)),
            _ => {}
        }
    }
}

/// Comparison of `setp`/`set`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Lo,
    Ls,
    Hi,
    Hs,
    Equ,
    Neu,
    Ltu,
    Leu,
    Gtu,
    Geu,
    Num,
    Nan,
}

/// How `setp`/`set` combine the comparison with a third predicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BoolOp {
    And,
    Or,
    Xor,
}

/// Rounding modifier of `cvt` and the float arithmetic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rnd {
    /// To nearest even (`.rn`, and `.rni` for integer results).
    Nearest,
    /// Toward zero (`.rz`, `.rzi`).
    Zero,
    /// Toward minus infinity (`.rm`, `.rmi`).
    Down,
    /// Toward plus infinity (`.rp`, `.rpi`).
    Up,
}

/// Two-operand arithmetic and logic that keep the instruction's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bin {
    Add,
    Sub,
    MulLo,
    MulHi,
    Min,
    Max,
    Div,
    Rem,
    And,
    Or,
    Xor,
    Shl,
    Shr,
    Copysign,
}

/// One-operand operations; the transcendental ones are computed exactly and documented as such.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Un {
    Neg,
    Abs,
    Not,
    Cnot,
    Popc,
    Clz,
    Brev,
    Ex2,
    Lg2,
    Rcp,
    Rsqrt,
    Sqrt,
    Sin,
    Cos,
    Tanh,
}

/// Operation of `atom`/`red`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomOp {
    Add,
    Min,
    Max,
    Exch,
    Cas,
    And,
    Or,
    Xor,
    Inc,
    Dec,
}

/// Mode of `shfl.sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShflMode {
    Up,
    Down,
    Bfly,
    Idx,
}

/// Mode of `vote.sync`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum VoteMode {
    All,
    Any,
    Uni,
    Ballot,
}

/// A decoded opcode with its modifiers.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    Mov(Ty),
    Bin(Bin, Ty),
    /// `mul.wide`: the product of two `ty` values at twice the width.
    MulWide(Ty),
    Un(Un, Ty),
    /// `mad.lo`/`mad.hi`/`fma`/`mad` on floats: `a * b + c`, the `bool` says "high half".
    Mad(Ty, bool),
    MadWide(Ty),
    Setp {
        cmp: Cmp,
        combine: Option<BoolOp>,
        ty: Ty,
    },
    Set {
        cmp: Cmp,
        combine: Option<BoolOp>,
        dty: Ty,
        sty: Ty,
    },
    Selp(Ty),
    Cvt {
        dty: Ty,
        sty: Ty,
        rnd: Option<Rnd>,
        int_rnd: bool,
        sat: bool,
    },
    /// `cvta` (`to` = generic to space) for a state space.
    Cvta {
        to: bool,
        space: Space,
    },
    Ld {
        space: Space,
        ty: Ty,
        vec: u8,
    },
    St {
        space: Space,
        ty: Ty,
        vec: u8,
    },
    Atom {
        space: Space,
        op: AtomOp,
        ty: Ty,
        reduce: bool,
    },
    Bra,
    Ret,
    Exit,
    /// `bar.sync`/`barrier.sync`; `arrive` does not wait.
    Bar {
        arrive: bool,
    },
    /// `bar.warp.sync`.
    WarpSync,
    Shfl(ShflMode),
    Vote(VoteMode),
    Activemask,
    /// `redux.sync`: a warp-wide reduction (add/min/max/and/or/xor).
    Redux(AtomOp, Ty),
    /// `bfe`: extract a bit field (sign-extended for signed types).
    Bfe(Ty),
    /// `bfi`: insert a bit field.
    Bfi(Ty),
    CpAsync,
    CpAsyncCommit,
    CpAsyncWait {
        all: bool,
    },
    Ldmatrix {
        count: u8,
        trans: bool,
    },
    /// `mma.sync.aligned.m16n8kK.row.col`: `k`, the input type and the accumulator type.
    Mma {
        k: u8,
        ab: Ty,
        cd: Ty,
    },
    Prmt,
    /// `fence`, `membar`, `prefetch`, `.pragma`-like no-ops.
    Nop,
}

/// One instruction with its guard predicate and its source line.
#[derive(Clone, Debug)]
pub struct Instr {
    /// What to do.
    pub op: Op,
    /// `@%p` (false) or `@!%p` (true).
    pub guard: Option<(u32, bool)>,
    /// Operands in source order.
    pub args: Vec<Operand>,
    /// Registers the instruction reads (checked for definedness, printed by the trace).
    pub srcs: Vec<u32>,
    /// Registers the instruction writes.
    pub dsts: Vec<u32>,
    /// 1-based source line.
    pub line: u32,
    /// The instruction as written, for messages.
    pub text: String,
}

/// One `.param` of a kernel.
#[derive(Clone, Debug)]
pub struct Param {
    /// The name in the parameter list.
    pub name: String,
    /// Byte offset in the parameter space.
    pub offset: u32,
    /// Size in bytes.
    pub size: u32,
}

/// A kernel (`.entry`) ready to run.
#[derive(Clone, Debug)]
pub struct Kernel {
    /// The `.entry` name.
    pub name: String,
    /// Parameters in order.
    pub params: Vec<Param>,
    /// Register names by index (`%r0`), for messages and traces.
    pub reg_names: Vec<String>,
    /// Register types by index.
    pub reg_types: Vec<Ty>,
    /// The body; branch targets are indices into it.
    pub instrs: Vec<Instr>,
    /// Bytes of static `.shared` arrays; dynamic shared memory starts at `dyn_shared_offset`.
    pub static_shared: u32,
    /// Where `.extern .shared` memory starts.
    pub dyn_shared_offset: u32,
    /// Bytes of `.local` arrays per thread.
    pub local_bytes: u32,
}

/// A parsed module: its kernels by name.
#[derive(Clone, Debug, Default)]
pub struct Module {
    /// Kernels by `.entry` name.
    pub kernels: HashMap<String, Kernel>,
}
