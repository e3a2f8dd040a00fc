//! Parses PTX text into a [`Module`]: directives, kernels, parameter lists, register, shared and
//! local declarations, labels and instructions. Opcodes are decoded by [`super::decode`] once a
//! kernel's whole body (and so every label and symbol) is known.

use std::collections::HashMap;

use super::ast::{Kernel, Module, Param, Special, Ty};
use super::decode::decode;
use super::lexer::{lex, Tok, Token};

/// An operand as written, before the opcode gives immediates their type and names their meaning.
#[derive(Clone, Debug)]
pub enum Raw {
    Reg(u32),
    Int(i64),
    F32Bits(u32),
    F64(f64),
    Special(Special),
    Vec(Vec<Raw>),
    /// `[name+off]`: `name` is a register, a symbol, or absent (`[0x100]`).
    Addr(Option<String>, i64),
    /// A bare name: a label, a symbol, or a parameter.
    Name(String),
    NotPred(u32),
    Pair(u32, u32),
    Sink,
}

/// An instruction as written.
#[derive(Clone, Debug)]
pub struct RawInstr {
    pub opcode: String,
    pub guard: Option<(u32, bool)>,
    pub args: Vec<Raw>,
    pub line: u32,
}

/// What a name declared in a kernel stands for, besides registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Symbol {
    Shared(u32),
    /// The `.extern .shared` array, placed after every static one.
    DynShared,
    Local(u32),
    Param(u32),
}

/// Everything a kernel body declares, for the decoder.
pub struct Scope {
    pub regs: HashMap<String, u32>,
    pub reg_types: Vec<Ty>,
    pub reg_names: Vec<String>,
    pub symbols: HashMap<String, Symbol>,
    pub labels: HashMap<String, u32>,
    pub dyn_shared_offset: u32,
}

struct Parser<'a> {
    toks: &'a [Token],
    pos: usize,
}

type PResult<T> = Result<T, String>;

fn align_up(x: u32, a: u32) -> u32 {
    x.div_ceil(a.max(1)) * a.max(1)
}

impl<'a> Parser<'a> {
    fn line(&self) -> u32 {
        self.toks.get(self.pos).or(self.toks.last()).map_or(0, |t| t.line)
    }
    fn err<T>(&self, msg: impl std::fmt::Display) -> PResult<T> {
        Err(format!("line {}: {msg}", self.line()))
    }
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|t| &t.tok)
    }
    fn next(&mut self) -> PResult<Tok> {
        let t = self.toks.get(self.pos).map(|t| t.tok.clone());
        self.pos += 1;
        t.ok_or_else(|| format!("line {}: unexpected end of module", self.line()))
    }
    fn is_punct(&self, c: char) -> bool {
        self.peek() == Some(&Tok::Punct(c))
    }
    fn eat(&mut self, c: char) -> bool {
        let hit = self.is_punct(c);
        self.pos += hit as usize;
        hit
    }
    fn expect(&mut self, c: char) -> PResult<()> {
        if self.eat(c) {
            Ok(())
        } else {
            self.err(format!("expected `{c}`, found {}", self.describe()))
        }
    }
    fn describe(&self) -> String {
        match self.peek() {
            Some(Tok::Ident(s)) => format!("`{s}`"),
            Some(Tok::Punct(c)) => format!("`{c}`"),
            Some(t) => format!("{t:?}"),
            None => "end of module".into(),
        }
    }
    fn ident(&mut self) -> PResult<String> {
        match self.next()? {
            Tok::Ident(s) => Ok(s),
            _ => {
                self.pos -= 1;
                self.err(format!("expected a name, found {}", self.describe()))
            }
        }
    }
    fn int(&mut self) -> PResult<i64> {
        let neg = self.eat('-');
        match self.next()? {
            Tok::Int(v) => Ok(if neg { (v as i64).wrapping_neg() } else { v as i64 }),
            _ => {
                self.pos -= 1;
                self.err(format!("expected an integer, found {}", self.describe()))
            }
        }
    }
    /// Skips to just past the next `;`.
    fn skip_statement(&mut self) -> PResult<()> {
        while !self.eat(';') {
            self.next()?;
        }
        Ok(())
    }
}

/// Parses a module; errors read "line N: problem".
pub fn parse(src: &str) -> PResult<Module> {
    let toks = lex(src)?;
    let mut p = Parser { toks: &toks, pos: 0 };
    let mut module = Module::default();
    // Module-scope `.shared` arrays: every kernel of the module sees them.
    let mut module_shared: Vec<SharedDecl> = Vec::new();
    let mut dynamic = false;
    while let Some(tok) = p.peek().cloned() {
        let Tok::Ident(word) = tok else { return p.err(format!("unexpected {}", p.describe())) };
        match word.as_str() {
            ".version" | ".target" | ".address_size" | ".file" | ".section" => {
                let line = p.line();
                p.pos += 1;
                while p.pos < toks.len() && toks[p.pos].line == line {
                    p.pos += 1;
                }
            }
            ".extern" => {
                dynamic = true;
                p.pos += 1;
            }
            ".visible" | ".weak" => p.pos += 1,
            ".entry" | ".func" => {
                p.pos += 1;
                dynamic = false;
                let is_entry = word == ".entry";
                let kernel = parse_function(&mut p, &module_shared)?;
                if is_entry {
                    module.kernels.insert(kernel.name.clone(), kernel);
                }
            }
            ".shared" => {
                p.pos += 1;
                let (name, align, size) = array_decl(&mut p)?;
                module_shared.push(SharedDecl { name, align, size, dynamic });
                dynamic = false;
            }
            ".global" | ".const" => return p.err(format!("module-scope {word} variables are not supported")),
            _ => return p.err(format!("unexpected `{word}` at module scope")),
        }
    }
    Ok(module)
}

/// `.align N .type name[dims]...;` after the state space; returns name, alignment and bytes.
fn array_decl(p: &mut Parser) -> PResult<(String, u32, u32)> {
    let mut align = 0;
    let mut elem = 1;
    loop {
        let w = p.ident()?;
        if w == ".align" {
            align = p.int()? as u32;
        } else if let Some(ty) = w.strip_prefix('.').and_then(Ty::parse) {
            elem = ty.bytes();
        } else if w.starts_with('.') {
            // .v2/.v4 vector variables: the element count multiplies the size.
            if let Some(n) = w.strip_prefix(".v").and_then(|n| n.parse::<u32>().ok()) {
                elem *= n;
            }
        } else {
            let mut size = elem;
            while p.eat('[') {
                if p.eat(']') {
                    size = 0;
                    continue;
                }
                size *= p.int()? as u32;
                p.expect(']')?;
            }
            p.expect(';')?;
            return Ok((w, if align == 0 { elem } else { align }, size));
        }
    }
}

/// A module-scope `.shared` array, static or `.extern` (dynamic).
struct SharedDecl {
    name: String,
    align: u32,
    size: u32,
    dynamic: bool,
}

fn parse_function(p: &mut Parser, module_shared: &[SharedDecl]) -> PResult<Kernel> {
    // A `.func` may declare its return values first: `.func (.param .b32 r) name (...)`.
    if p.eat('(') {
        while !p.eat(')') {
            p.next()?;
        }
    }
    let name = p.ident()?;
    let mut scope = Scope {
        regs: HashMap::new(),
        reg_types: Vec::new(),
        reg_names: Vec::new(),
        symbols: HashMap::new(),
        labels: HashMap::new(),
        dyn_shared_offset: 0,
    };
    let mut params = Vec::new();
    let mut param_bytes = 0u32;
    if p.eat('(') {
        while !p.eat(')') {
            let w = p.ident()?;
            if w != ".param" && w != ".reg" {
                return p.err(format!("expected `.param` in the parameter list of {name}, found `{w}`"));
            }
            let (pname, align, size) = param_decl(p)?;
            let offset = align_up(param_bytes, align);
            param_bytes = offset + size;
            scope.symbols.insert(pname.clone(), Symbol::Param(offset));
            params.push(Param { name: pname, offset, size });
            p.eat(',');
        }
    }
    // Performance directives (.maxntid 256, 1, 1 ...) until the body.
    while !p.is_punct('{') {
        if p.eat(';') {
            return p.err(format!("{name} is declared without a body; only defined kernels are supported"));
        }
        p.next()?;
    }
    p.expect('{')?;
    let mut shared = 0u32;
    let mut max_align = 1;
    for d in module_shared {
        max_align = max_align.max(d.align);
        if d.dynamic {
            scope.symbols.insert(d.name.clone(), Symbol::DynShared);
        } else {
            let off = align_up(shared, d.align);
            scope.symbols.insert(d.name.clone(), Symbol::Shared(off));
            shared = off + d.size;
        }
    }
    let mut local = 0u32;
    let mut raw: Vec<RawInstr> = Vec::new();
    let mut depth = 1;
    loop {
        let line = p.line();
        match p.next()? {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            Tok::Punct('@') => {
                let neg = p.eat('!');
                let g = p.ident()?;
                let reg = reg_index(p, &scope, &g)?;
                let mut ins = instruction(p, &scope, line)?;
                ins.guard = Some((reg, neg));
                raw.push(ins);
            }
            Tok::Ident(w) if p.is_punct(':') => {
                p.pos += 1;
                scope.labels.insert(w, raw.len() as u32);
            }
            Tok::Ident(w) => match w.as_str() {
                ".reg" => reg_decl(p, &mut scope)?,
                ".shared" | ".local" => {
                    let (n, align, size) = array_decl(p)?;
                    if w == ".shared" {
                        let off = align_up(shared, align);
                        scope.symbols.insert(n, Symbol::Shared(off));
                        shared = off + size;
                    } else {
                        let off = align_up(local, align);
                        scope.symbols.insert(n, Symbol::Local(off));
                        local = off + size;
                    }
                    max_align = max_align.max(align);
                }
                ".extern" => {
                    if p.ident()? != ".shared" {
                        return p.err("only `.extern .shared` arrays are supported in a kernel body");
                    }
                    let (n, align, _) = array_decl(p)?;
                    max_align = max_align.max(align);
                    scope.symbols.insert(n, Symbol::DynShared);
                }
                ".pragma" | ".maxnreg" => p.skip_statement()?,
                // Debug line information has no semicolon: it ends with its line.
                ".loc" | ".file" => {
                    while p.toks.get(p.pos).is_some_and(|t| t.line == line) {
                        p.pos += 1;
                    }
                }
                _ if w.starts_with('.') => return p.err(format!("unsupported directive `{w}` in {name}")),
                _ => {
                    p.pos -= 1;
                    let ins = instruction(p, &scope, line)?;
                    raw.push(ins);
                }
            },
            _ => {
                p.pos -= 1;
                return p.err(format!("expected an instruction, found {}", p.describe()));
            }
        }
    }
    scope.dyn_shared_offset = align_up(shared, max_align.max(16));
    let mut instrs = Vec::with_capacity(raw.len());
    for r in &raw {
        instrs.push(decode(r, &scope).map_err(|e| format!("line {}: {e}", r.line))?);
    }
    Ok(Kernel {
        name,
        params,
        reg_names: scope.reg_names,
        reg_types: scope.reg_types,
        instrs,
        static_shared: shared,
        dyn_shared_offset: scope.dyn_shared_offset,
        local_bytes: local,
    })
}

/// `.type name` or `.align N .b8 name[16]` (the `.param` already read); name, alignment, bytes.
fn param_decl(p: &mut Parser) -> PResult<(String, u32, u32)> {
    let (mut align, mut elem) = (0, 0);
    loop {
        let w = p.ident()?;
        if w == ".align" {
            align = p.int()? as u32;
        } else if let Some(ty) = w.strip_prefix('.').and_then(Ty::parse) {
            elem = ty.bytes();
        } else if w.starts_with('.') {
            // .ptr.global and friends describe the pointee; nothing to record.
        } else {
            let mut size = elem;
            if p.eat('[') {
                size *= p.int()? as u32;
                p.expect(']')?;
            }
            if elem == 0 {
                return p.err(format!("parameter {w} has no type"));
            }
            return Ok((w, if align == 0 { elem } else { align }, size));
        }
    }
}

/// `.reg .f32 %f<32>;` or `.reg .b32 %r1, %r2;`.
fn reg_decl(p: &mut Parser, scope: &mut Scope) -> PResult<()> {
    let mut ty = None;
    while let Some(Tok::Ident(w)) = p.peek() {
        let Some(t) = w.strip_prefix('.') else { break };
        if let Some(parsed) = Ty::parse(t) {
            ty = Some(parsed);
        } else if t.starts_with('v') {
            return p.err("vector registers (.reg .v4) are not supported; declare scalars");
        }
        p.pos += 1;
    }
    let Some(ty) = ty else { return p.err("register declaration without a type") };
    loop {
        let name = p.ident()?;
        let mut add = |n: String| {
            scope.regs.insert(n.clone(), scope.reg_types.len() as u32);
            scope.reg_types.push(ty);
            scope.reg_names.push(n);
        };
        if p.eat('<') {
            let count = p.int()?;
            p.expect('>')?;
            (0..count).for_each(|i| add(format!("{name}{i}")));
        } else {
            add(name);
        }
        if !p.eat(',') {
            break;
        }
    }
    p.expect(';')
}

fn reg_index(p: &Parser, scope: &Scope, name: &str) -> PResult<u32> {
    match scope.regs.get(name) {
        Some(&r) => Ok(r),
        None => p.err(format!("undeclared register {name}")),
    }
}

fn special(name: &str) -> Option<Special> {
    let axis = |s: &str| match s {
        "x" => Some(0),
        "y" => Some(1),
        "z" => Some(2),
        _ => None,
    };
    let (base, ax) = name.rsplit_once('.').map_or((name, None), |(b, a)| (b, axis(a)));
    Some(match (base, ax) {
        ("%tid", Some(a)) => Special::Tid(a),
        ("%ntid", Some(a)) => Special::Ntid(a),
        ("%ctaid", Some(a)) => Special::Ctaid(a),
        ("%nctaid", Some(a)) => Special::Nctaid(a),
        ("%laneid", None) => Special::LaneId,
        ("%warpid", None) => Special::WarpId,
        ("%nwarpid", None) => Special::NWarpId,
        ("WARP_SZ", None) => Special::WarpSize,
        _ => return None,
    })
}

fn instruction(p: &mut Parser, scope: &Scope, line: u32) -> PResult<RawInstr> {
    let opcode = p.ident()?;
    let mut args = Vec::new();
    if !p.eat(';') {
        loop {
            args.push(operand(p, scope)?);
            if p.eat(';') {
                break;
            }
            p.expect(',')?;
        }
    }
    Ok(RawInstr { opcode, guard: None, args, line })
}

fn operand(p: &mut Parser, scope: &Scope) -> PResult<Raw> {
    if p.eat('{') {
        let mut v = Vec::new();
        loop {
            v.push(operand(p, scope)?);
            if p.eat('}') {
                return Ok(Raw::Vec(v));
            }
            p.expect(',')?;
        }
    }
    if p.eat('[') {
        let base = match p.peek() {
            Some(Tok::Ident(_)) => Some(p.ident()?),
            _ => None,
        };
        // `[0x100]`, `[%rd1+16]` and `[%rd1-16]` (the minus is read by `int`).
        let has_offset = base.is_none() || p.eat('+') || p.is_punct('-');
        let off = if has_offset { p.int()? } else { 0 };
        p.expect(']')?;
        return Ok(Raw::Addr(base, off));
    }
    if p.eat('!') {
        let n = p.ident()?;
        return Ok(Raw::NotPred(reg_index(p, scope, &n)?));
    }
    let neg = p.eat('-');
    match p.next()? {
        Tok::Int(v) => Ok(Raw::Int(if neg { (v as i64).wrapping_neg() } else { v as i64 })),
        Tok::F32Bits(b) => Ok(Raw::F32Bits(if neg { b ^ 0x8000_0000 } else { b })),
        Tok::F64(v) => Ok(Raw::F64(if neg { -v } else { v })),
        Tok::Ident(n) if !neg => {
            if n == "_" {
                return Ok(Raw::Sink);
            }
            if let Some(&r) = scope.regs.get(&n) {
                if p.eat('|') {
                    let m = p.ident()?;
                    return Ok(Raw::Pair(r, reg_index(p, scope, &m)?));
                }
                return Ok(Raw::Reg(r));
            }
            if let Some(s) = special(&n) {
                return Ok(Raw::Special(s));
            }
            if n.starts_with('%') {
                return p.err(format!("undeclared register {n}"));
            }
            Ok(Raw::Name(n))
        }
        _ => {
            p.pos -= 1;
            p.err(format!("expected an operand, found {}", p.describe()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn functions_are_parsed_but_only_entries_are_kernels() {
        let src = ".version 8.0\n.target sm_90a\n.address_size 64\n\
            .func (.param .b32 r) helper(.param .b32 x)\n{\n ret;\n}\n\
            .visible .entry k(.param .u64 p, .param .align 8 .b8 blob[12], .param .f32 s)\n.maxntid 128, 1, 1\n\
            {\n .reg .b32 %r<3>;\n .shared .align 16 .b8 a[100];\n .extern .shared .align 8 .b8 dyn[];\n\
             $L1:\n mov.u32 %r0, dyn;\n ret;\n}\n";
        let m = parse(src).unwrap();
        assert_eq!(m.kernels.len(), 1);
        let k = &m.kernels["k"];
        let offsets: Vec<(u32, u32)> = k.params.iter().map(|p| (p.offset, p.size)).collect();
        assert_eq!(offsets, [(0, 8), (8, 12), (20, 4)]);
        assert_eq!((k.static_shared, k.dyn_shared_offset), (100, 112));
        assert_eq!(k.reg_names, ["%r0", "%r1", "%r2"]);
    }
}
