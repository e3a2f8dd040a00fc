//! Row tails as full blocks: masked loads and stores written in safe, portable Rust.
//!
//! A row kernel walks its row in blocks of [`ACC_LANES`] elements (the accumulator layout of
//! `reduce::lanes`). The last, partial block is the awkward part: a scalar loop over it costs as
//! much as several full vector blocks, and copying it into a padded buffer with `copy_from_slice`
//! becomes a `memcpy` call per row. Rows of 197 (ViT attention: 196 patches + the class token) spend
//! most of their time there.
//!
//! The helpers below instead run a loop of constant length `ACC_LANES` in which each load or store
//! is guarded by the slice's own bounds check (`tail.get(i)`). LLVM if-converts the guard into a
//! lane mask, so inside an AVX-512 kernel a block becomes four `vmovups zmm{k}` (masked moves
//! never touch the memory of disabled lanes, so nothing is read past the end of the slice); AVX2 uses
//! `vmaskmovps`, the portable build a short branchy loop. The padding value is chosen by the caller
//! so that the padded lanes do not change the result (-inf for a max or under an `exp`, 0 for a sum).

use super::reduce::ACC_LANES;
use super::Float;

/// A block of the accumulator layout: `ACC_LANES` elements, kept in vector registers.
pub(crate) type Block<T> = [T; ACC_LANES];

/// The first `tail.len()` (at most `ACC_LANES`) lanes hold `tail`, the others `pad`.
#[inline(always)]
pub(crate) fn load_padded<T: Float>(tail: &[T], pad: T) -> Block<T> {
    debug_assert!(tail.len() <= ACC_LANES, "a tail is shorter than one block");
    // Every lane is written (a select, not a conditional store): a block assembled in memory by
    // masked stores could not be forwarded to the full load that reads it back.
    let mut block = [pad; ACC_LANES];
    for (i, b) in block.iter_mut().enumerate() {
        *b = tail.get(i).copied().unwrap_or(pad);
    }
    block
}

/// Writes the first `tail.len()` lanes of `block` to `tail`; the other lanes are dropped.
#[inline(always)]
pub(crate) fn store_prefix<T: Float>(block: &Block<T>, tail: &mut [T]) {
    debug_assert!(tail.len() <= ACC_LANES, "a tail is shorter than one block");
    for (i, &b) in block.iter().enumerate() {
        if let Some(o) = tail.get_mut(i) {
            *o = b;
        }
    }
}

/// `row` as full blocks plus the (possibly empty) remainder.
#[inline(always)]
pub(crate) fn split_blocks<T>(row: &[T]) -> (&[Block<T>], &[T]) {
    let (blocks, tail) = row.as_chunks::<ACC_LANES>();
    (blocks, tail)
}

/// As [`split_blocks`], mutable.
#[inline(always)]
pub(crate) fn split_blocks_mut<T>(row: &mut [T]) -> (&mut [Block<T>], &mut [T]) {
    row.as_chunks_mut::<ACC_LANES>()
}
