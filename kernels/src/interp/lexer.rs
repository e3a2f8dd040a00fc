//! Splits PTX text into tokens with line numbers; comments disappear here.

/// What a token is.
#[derive(Clone, Debug, PartialEq)]
pub enum Tok {
    /// Names, opcodes, directives, registers and labels: `ld.global.f32`, `%r1`, `.reg`, `$L1`.
    Ident(String),
    /// An integer literal (decimal, hex, octal); the sign is a separate `-` token.
    Int(u64),
    /// `0fXXXXXXXX`: the bits of an f32.
    F32Bits(u32),
    /// `0dXXXXXXXXXXXXXXXX` or a decimal literal with a point or exponent.
    F64(f64),
    /// A string literal (`.pragma "nounroll"`), without the quotes.
    Str(String),
    /// One punctuation character: `, ; { } [ ] ( ) + - ! @ | < > : =`.
    Punct(char),
}

/// A token and the 1-based line it starts on.
#[derive(Clone, Debug)]
pub struct Token {
    pub tok: Tok,
    pub line: u32,
}

fn ident_start(c: u8) -> bool {
    c.is_ascii_alphabetic() || matches!(c, b'_' | b'$' | b'%' | b'.')
}

fn ident_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'$' | b'.')
}

/// Tokenises a whole module; the error names the line.
pub fn lex(src: &str) -> Result<Vec<Token>, String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let (mut i, mut line) = (0usize, 1u32);
    while i < b.len() {
        let c = b[i];
        if c == b'\n' {
            line += 1;
            i += 1;
        } else if c.is_ascii_whitespace() {
            i += 1;
        } else if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            let start = line;
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                line += (b[i] == b'\n') as u32;
                i += 1;
            }
            if i >= b.len() {
                return Err(format!("line {start}: unterminated /* comment"));
            }
            i += 2;
        } else if c == b'"' {
            let s = i + 1;
            i = s;
            while i < b.len() && b[i] != b'"' && b[i] != b'\n' {
                i += 1;
            }
            if i >= b.len() || b[i] != b'"' {
                return Err(format!("line {line}: unterminated string"));
            }
            out.push(Token { tok: Tok::Str(src[s..i].to_string()), line });
            i += 1;
        } else if c.is_ascii_digit() {
            let (tok, len) = number(&src[i..]).map_err(|e| format!("line {line}: {e}"))?;
            out.push(Token { tok, line });
            i += len;
        } else if ident_start(c) {
            let s = i;
            i += 1;
            // `::` belongs to names such as `shared::cta` and `L2::128B`; a lone `:` ends a label.
            while i < b.len() && (ident_char(b[i]) || (b[i..].starts_with(b"::") && i + 2 < b.len())) {
                i += if b[i] == b':' { 2 } else { 1 };
            }
            out.push(Token { tok: Tok::Ident(src[s..i].to_string()), line });
        } else if ",;{}[]()+-!@|<>:=".contains(c as char) {
            out.push(Token { tok: Tok::Punct(c as char), line });
            i += 1;
        } else {
            return Err(format!("line {line}: unexpected character {:?}", c as char));
        }
    }
    Ok(out)
}

/// Reads one numeric literal at the start of `s`, returning it and its length in bytes.
fn number(s: &str) -> Result<(Tok, usize), String> {
    let b = s.as_bytes();
    let end = b.iter().position(|c| !(c.is_ascii_alphanumeric() || *c == b'.')).unwrap_or(b.len());
    // A decimal exponent may carry a sign: `1.5e-3`.
    let mut end = end;
    if end < b.len() && matches!(b[end], b'+' | b'-') && matches!(b[end - 1], b'e' | b'E') && !s.starts_with("0x") {
        end += 1;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
    }
    let text = &s[..end];
    let hex = |t: &str| u64::from_str_radix(t, 16).map_err(|_| format!("bad hexadecimal literal {text}"));
    let lower = text.to_ascii_lowercase();
    let tok = if let Some(h) = lower.strip_prefix("0f").filter(|h| h.len() == 8) {
        Tok::F32Bits(hex(h)? as u32)
    } else if let Some(h) = lower.strip_prefix("0d").filter(|h| h.len() == 16) {
        Tok::F64(f64::from_bits(hex(h)?))
    } else if let Some(h) = lower.strip_prefix("0x") {
        Tok::Int(hex(h.trim_end_matches('u'))?)
    } else if lower.contains('.') || lower.contains('e') {
        Tok::F64(lower.parse().map_err(|_| format!("bad float literal {text}"))?)
    } else {
        let t = lower.trim_end_matches('u');
        let v = if t.len() > 1 && t.starts_with('0') { u64::from_str_radix(&t[1..], 8) } else { t.parse() };
        Tok::Int(v.map_err(|_| format!("bad integer literal {text}"))?)
    };
    Ok((tok, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_names() {
        let t: Vec<Tok> = lex("ld.shared::cta.f32 %f1, [smem+0x10]; // c\n 0f3F800000 1.5e-3 /* x\n */ 017 L:")
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect();
        assert_eq!(t[0], Tok::Ident("ld.shared::cta.f32".into()));
        assert_eq!(t[6], Tok::Int(16));
        assert_eq!(t[9], Tok::F32Bits(0x3F80_0000));
        assert_eq!(t[10], Tok::F64(1.5e-3));
        assert_eq!(t[11], Tok::Int(15));
        assert_eq!(t[13], Tok::Punct(':'));
    }

    #[test]
    fn lines_are_counted_through_comments() {
        let t = lex("a\n/* \n\n */ b\n// x\nc").unwrap();
        assert_eq!(t.iter().map(|t| t.line).collect::<Vec<_>>(), vec![1, 4, 6]);
    }
}
