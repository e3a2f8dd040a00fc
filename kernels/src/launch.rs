//! What a kernel launch is made of, the same for the CUDA driver and the interpreter.

/// Three extents, as CUDA's `dim3`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dim3 {
    pub x: u32,
    pub y: u32,
    pub z: u32,
}

impl Dim3 {
    pub const fn new(x: u32, y: u32, z: u32) -> Self {
        Self { x, y, z }
    }
    /// `x` by 1 by 1.
    pub const fn x(x: u32) -> Self {
        Self { x, y: 1, z: 1 }
    }
    /// Number of elements (threads in a block, blocks in a grid).
    pub const fn count(self) -> u64 {
        self.x as u64 * self.y as u64 * self.z as u64
    }
}

/// Grid and block shape of one launch, plus the dynamic shared memory it asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaunchConfig {
    pub grid: Dim3,
    pub block: Dim3,
    /// Bytes of `.extern .shared` memory, on top of the kernel's static shared arrays.
    pub shared_bytes: u32,
}

impl LaunchConfig {
    /// A 1-D launch of `n` threads in blocks of `block` (the last block partly idle).
    pub fn linear(n: u32, block: u32) -> Self {
        Self { grid: Dim3::x(n.div_ceil(block).max(1)), block: Dim3::x(block), shared_bytes: 0 }
    }
}

/// One kernel parameter, in the order of the kernel's `.param` list. Device pointers are the
/// backend's 64-bit addresses ([`crate::Buffer::ptr`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arg {
    Ptr(u64),
    U32(u32),
    I32(i32),
    U64(u64),
    F32(f32),
}

impl Arg {
    /// The parameter's bytes, little-endian, as they sit in the `.param` space.
    pub fn bytes(&self) -> Vec<u8> {
        match *self {
            Arg::Ptr(v) | Arg::U64(v) => v.to_le_bytes().to_vec(),
            Arg::U32(v) => v.to_le_bytes().to_vec(),
            Arg::I32(v) => v.to_le_bytes().to_vec(),
            Arg::F32(v) => v.to_le_bytes().to_vec(),
        }
    }
}
