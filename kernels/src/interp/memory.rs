//! Global memory of the interpreter: allocations at distinct, aligned 64-bit addresses with unmapped
//! gaps between them, so that an access just past the end of a buffer is caught as out of bounds.
//! Also the fixed windows that generic addresses use for shared and local memory.

use std::collections::BTreeMap;

/// First address handed out: far from zero, so a null or small integer pointer is never valid.
pub const GLOBAL_BASE: u64 = 0x1_0000_0000;
/// Alignment of every allocation (cudaMalloc gives at least 256 bytes).
const ALLOC_ALIGN: u64 = 256;
/// Unmapped bytes left after each allocation.
const GUARD_GAP: u64 = 4096;
/// Generic address of shared offset 0 (what `cvta.shared` adds).
pub const SHARED_WINDOW: u64 = 0x7F00_0000_0000;
/// Generic address of local offset 0.
pub const LOCAL_WINDOW: u64 = 0x7E00_0000_0000;
/// Size of each window; generic addresses inside one belong to it.
pub const WINDOW_SIZE: u64 = 1 << 32;

/// How a kernel touches global memory, for the uninitialised-memory check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// A kernel load: every byte must have been written (when the check is on).
    Read,
    /// A store: the bytes become initialised.
    Write,
    /// Bounds only (a `cp.async` being issued, a host copy out).
    Peek,
}

/// One allocation: its bytes and which of them have ever been written.
#[derive(Debug)]
struct Alloc {
    data: Vec<u8>,
    written: Vec<bool>,
    /// Bytes of address space reserved before the guard gap: what `recycle` may grow `data` back to.
    reserved: usize,
}

/// The set of live allocations.
#[derive(Debug)]
pub struct GlobalMem {
    allocs: BTreeMap<u64, Alloc>,
    next: u64,
    /// Whether kernel loads of never-written bytes fail.
    pub check_uninit: bool,
}

impl Default for GlobalMem {
    fn default() -> Self {
        Self { allocs: BTreeMap::new(), next: GLOBAL_BASE, check_uninit: true }
    }
}

impl GlobalMem {
    /// Reserves `bytes` (filled with a recognisable pattern, as memory is uninitialised).
    pub fn alloc(&mut self, bytes: usize) -> u64 {
        let addr = self.next;
        self.next = (addr + bytes as u64 + GUARD_GAP).div_ceil(ALLOC_ALIGN) * ALLOC_ALIGN;
        self.allocs.insert(addr, Alloc { data: vec![0xCD; bytes], written: vec![false; bytes], reserved: bytes });
        addr
    }

    /// Hands the allocation at `addr` out again as `bytes` fresh, unwritten bytes (at most the size it
    /// was allocated with), as a caching allocator does with a freed block.
    pub fn recycle(&mut self, addr: u64, bytes: usize) -> Result<(), String> {
        let a = self
            .allocs
            .get_mut(&addr)
            .ok_or_else(|| format!("recycle of 0x{addr:x}, which is not a live allocation"))?;
        if bytes > a.reserved {
            return Err(format!("recycle of {bytes} bytes at 0x{addr:x}, allocated with {}", a.reserved));
        }
        a.data.clear();
        a.data.resize(bytes, 0xCD);
        a.written.clear();
        a.written.resize(bytes, false);
        Ok(())
    }

    /// Releases the allocation that starts at `addr`.
    pub fn free(&mut self, addr: u64) -> Result<(), String> {
        self.allocs
            .remove(&addr)
            .map(|_| ())
            .ok_or_else(|| format!("free of 0x{addr:x}, which is not a live allocation"))
    }

    /// The `len` bytes at `addr`, which must lie inside one live allocation.
    pub fn bytes_mut(&mut self, addr: u64, len: usize, access: Access) -> Result<&mut [u8], String> {
        let found = self.allocs.range_mut(..=addr).next_back();
        match found {
            Some((&start, a)) if addr.saturating_add(len as u64) <= start + a.data.len() as u64 => {
                let off = (addr - start) as usize;
                let written = &mut a.written[off..off + len];
                match access {
                    Access::Write => written.fill(true),
                    Access::Read if self.check_uninit => {
                        if let Some(i) = written.iter().position(|w| !w) {
                            return Err(format!(
                                "global load of {len} bytes at 0x{addr:x} reads byte {} of the allocation at \
                                 0x{start:x}, which nothing has written (upload or zero buffers before kernels read them)",
                                off + i
                            ));
                        }
                    }
                    _ => {}
                }
                Ok(&mut a.data[off..off + len])
            }
            Some((&start, a)) if addr < start + a.data.len() as u64 + GUARD_GAP => Err(format!(
                "global access of {len} bytes at 0x{addr:x} runs past the end of the {}-byte allocation at 0x{start:x} \
                 (offset {})",
                a.data.len(),
                addr - start
            )),
            _ => Err(format!("global access of {len} bytes at 0x{addr:x} is outside every live allocation")),
        }
    }

    /// Reads `len` bytes (host side).
    pub fn read(&mut self, addr: u64, out: &mut [u8]) -> Result<(), String> {
        out.copy_from_slice(self.bytes_mut(addr, out.len(), Access::Peek)?);
        Ok(())
    }

    /// Writes bytes (host side).
    pub fn write(&mut self, addr: u64, src: &[u8]) -> Result<(), String> {
        self.bytes_mut(addr, src.len(), Access::Write)?.copy_from_slice(src);
        Ok(())
    }
}

/// Little-endian load of `len` (1..=8) bytes.
#[inline]
pub fn load_le(b: &[u8]) -> u64 {
    // Fixed-size reads for the usual widths avoid a memcpy call per access.
    match b.len() {
        4 => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as u64,
        8 => u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        2 => u16::from_le_bytes([b[0], b[1]]) as u64,
        _ => b.iter().rev().fold(0, |acc, &x| acc << 8 | x as u64),
    }
}

/// Little-endian store of the low `b.len()` bytes of `v`.
#[inline]
pub fn store_le(b: &mut [u8], v: u64) {
    match b.len() {
        4 => b.copy_from_slice(&(v as u32).to_le_bytes()),
        8 => b.copy_from_slice(&v.to_le_bytes()),
        n => b.copy_from_slice(&v.to_le_bytes()[..n]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_and_gaps() {
        let mut m = GlobalMem::default();
        let a = m.alloc(10);
        let b = m.alloc(4);
        assert_eq!(a % ALLOC_ALIGN, 0);
        assert!(b > a + 10);
        assert!(m.bytes_mut(a + 6, 4, Access::Peek).is_ok());
        assert!(m.bytes_mut(a + 8, 4, Access::Peek).unwrap_err().contains("past the end of the 10-byte allocation"));
        assert!(m.bytes_mut(a + 4, 4, Access::Read).unwrap_err().contains("reads byte 4"));
        m.write(a + 4, &[1, 2]).unwrap();
        assert!(m.bytes_mut(a + 4, 4, Access::Read).unwrap_err().contains("reads byte 6"));
        m.bytes_mut(a + 6, 2, Access::Write).unwrap();
        assert!(m.bytes_mut(a + 4, 4, Access::Read).is_ok());
        m.recycle(a, 6).unwrap();
        assert!(
            m.bytes_mut(a + 4, 2, Access::Read).unwrap_err().contains("reads byte 4"),
            "recycled bytes are unwritten"
        );
        assert!(m.bytes_mut(a + 4, 4, Access::Peek).unwrap_err().contains("past the end of the 6-byte allocation"));
        assert!(m.recycle(a, 11).is_err(), "a block never grows past its allocation");
        m.free(a).unwrap();
        assert!(m.bytes_mut(a, 1, Access::Peek).unwrap_err().contains("outside every live allocation"));
        assert!(m.free(a).is_err());
    }
}
