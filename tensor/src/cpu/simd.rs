//! Runtime SIMD dispatch: one generic loop body, compiled once per instruction-set level.
//!
//! # How one body becomes three kernels
//! A kernel's loop is written once as an `#[inline(always)]` generic function over plain slices
//! (`fn add_body<T: Float>(a: &[T], b: &[T], out: &mut [T])`). The `multiversion!` macro emits,
//! around it, one wrapper per level:
//!
//! ```text
//! #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
//! unsafe fn avx512<T: Float>(a, b, out) { add_body::<T>(a, b, out) }
//! #[target_feature(enable = "avx2,fma")]
//! unsafe fn avx2<T: Float>(a, b, out)   { add_body::<T>(a, b, out) }
//! ```
//!
//! plus a safe dispatcher that takes a [`SimdLevel`] and calls the matching wrapper (or the body
//! directly for [`SimdLevel::Portable`]). The trick is that `target_feature` applies to the code
//! *generated inside* the wrapper, and `#[inline(always)]` copies the body (and every small
//! `#[inline(always)]` helper it calls, such as the polynomial `exp`) into it. LLVM therefore
//! autovectorises the same loop three times: with 512-bit zmm registers and masked AVX-512
//! instructions, with 256-bit ymm registers and FMA, and with the baseline (SSE2 on x86-64, NEON on
//! aarch64). Without the inlining, the body would be compiled once for the baseline and the wrapper
//! would just call it. The same holds for anything the body calls: a large closure called from two
//! places may be left out of line by LLVM, and then it is compiled *without* the wrapper's features
//! (scalar SSE2 code in the middle of an AVX-512 kernel). Bodies therefore pass only tiny closures
//! (an add, a max) and put anything bigger in `#[inline(always)]` functions. The wrappers are `unsafe` because executing AVX-512 code on a CPU without it
//! is undefined behaviour; the dispatcher checks that the level is available before calling one.
//!
//! All levels compute the same bits: the bodies never rely on fast-math reassociation (Rust has
//! none), reductions fix their accumulator layout in the source, and `mul_add` is a true fused
//! multiply-add everywhere (one instruction under FMA, a libm call in the portable build on old
//! x86). So a result does not depend on which machine ran it, only on the input.
//!
//! # Choosing the level
//! [`level`] detects the best level once and caches it. Tests (and benchmarks comparing levels)
//! force a lower one with [`with_level`]; the override is thread-local and read once at the entry
//! of each public kernel, which then hands the level to its rayon tasks explicitly.

use std::cell::Cell;
use std::sync::OnceLock;

/// The instruction-set levels kernels are compiled for, best first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SimdLevel {
    /// AVX-512 F/VL/DQ/BW plus AVX2 and FMA: 512-bit vectors (16 f32).
    Avx512,
    /// AVX2 with FMA: 256-bit vectors (8 f32).
    Avx2Fma,
    /// Whatever the compilation target guarantees (SSE2 on x86-64, NEON on aarch64).
    Portable,
}

impl SimdLevel {
    /// Whether this CPU can run code compiled for this level.
    pub fn is_available(self) -> bool {
        match self {
            SimdLevel::Portable => true,
            SimdLevel::Avx2Fma => has_avx2_fma(),
            SimdLevel::Avx512 => has_avx512(),
        }
    }
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn has_avx2_fma() -> bool {
    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")
}

#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn has_avx512() -> bool {
    has_avx2_fma()
        && is_x86_feature_detected!("avx512f")
        && is_x86_feature_detected!("avx512vl")
        && is_x86_feature_detected!("avx512dq")
        && is_x86_feature_detected!("avx512bw")
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn has_avx2_fma() -> bool {
    false
}

#[cfg(not(any(target_arch = "x86", target_arch = "x86_64")))]
fn has_avx512() -> bool {
    false
}

fn detected() -> SimdLevel {
    static DETECTED: OnceLock<SimdLevel> = OnceLock::new();
    *DETECTED.get_or_init(|| {
        [SimdLevel::Avx512, SimdLevel::Avx2Fma].into_iter().find(|l| l.is_available()).unwrap_or(SimdLevel::Portable)
    })
}

thread_local! {
    static FORCED: Cell<Option<SimdLevel>> = const { Cell::new(None) };
}

/// The level kernels called from this thread use: the best one the CPU has, unless forced.
pub fn level() -> SimdLevel {
    FORCED.with(Cell::get).unwrap_or_else(detected)
}

/// Every level this CPU can run, best first (always ends with `Portable`).
pub fn available_levels() -> Vec<SimdLevel> {
    [SimdLevel::Avx512, SimdLevel::Avx2Fma, SimdLevel::Portable].into_iter().filter(|l| l.is_available()).collect()
}

/// Runs `f` with kernels called from this thread forced to `level` (panics if the CPU lacks it).
pub fn with_level<R>(level: SimdLevel, f: impl FnOnce() -> R) -> R {
    assert!(level.is_available(), "SIMD level {level:?} is not available on this CPU");
    struct Restore(Option<SimdLevel>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FORCED.with(|c| c.replace(Some(level))));
    f()
}

/// How much work an op does per element, which decides when splitting it across threads pays.
///
/// Handing work to rayon costs a fixed few µs (more when the other thread has gone to sleep and must
/// be woken, as under KVM), so a split pays once the work on one thread is several times that:
/// about 16 µs. Measured on one core (2-core AVX-512 VM), a cheap op runs at ~0.13 ns/element in
/// cache and a heavy one at 0.3–0.8 ns/element, so the threshold in elements differs by ~4×. At the
/// old single threshold of 32768, an add measured 0.13 ns/element just below it and 0.39 just above.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cost {
    /// A few instructions per element, memory-bound: add, mul, max, copy, neg, relu, sums.
    Cheap,
    /// A polynomial, a division or several passes per element: exp, gelu, tanh, div, softmax,
    /// layer norm.
    Heavy,
}

impl Cost {
    /// Elements below which a kernel of this cost stays on the calling thread.
    pub const fn par_min_elems(self) -> usize {
        match self {
            // 2^17 elements × ~0.13 ns ≈ 17 µs.
            Cost::Cheap => 8 * PAR_CHUNK_ELEMS,
            // Two chunks, the least that can be split: 2^15 × ≥ 0.3 ns ≥ 10 µs.
            Cost::Heavy => 2 * PAR_CHUNK_ELEMS,
        }
    }
}

/// Elements handed to one rayon task: large enough to amortise the task (~µs), small enough
/// (64 KiB of f32) to balance the cores.
pub const PAR_CHUNK_ELEMS: usize = 1 << 14;

/// Calls `f(i, chunk)` on each `chunk_len`-element chunk of `buf` (the last may be shorter), on
/// rayon's threads when `parallel`. Chunk boundaries depend only on `chunk_len`, never on the
/// number of threads, which is what keeps the kernels' results independent of it.
pub(crate) fn for_each_chunk<T: Send>(
    parallel: bool,
    buf: &mut [T],
    chunk_len: usize,
    f: impl Fn(usize, &mut [T]) + Sync + Send,
) {
    use rayon::prelude::*;
    let chunk_len = chunk_len.max(1);
    if parallel {
        buf.par_chunks_mut(chunk_len).enumerate().for_each(|(i, c)| f(i, c));
    } else {
        buf.chunks_mut(chunk_len).enumerate().for_each(|(i, c)| f(i, c));
    }
}

/// Emits a safe dispatcher `fn $name<T: $bound>(level: SimdLevel, args..)` that runs the
/// `#[inline(always)]` body `$body::<T>(args..)` compiled for `level` (see the module docs).
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident<T: $bound:ident>($($arg:ident: $ty:ty),* $(,)?)
        $(-> $ret:ty)? = $body:ident;) => {
        $(#[$meta])*
        $vis fn $name<T: $bound>(
            level: $crate::cpu::simd::SimdLevel,
            $($arg: $ty),*
        ) $(-> $ret)? {
            assert!(level.is_available(), "SIMD level {level:?} is not available on this CPU");
            #[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
            {
                #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
                unsafe fn avx512<T: $bound>($($arg: $ty),*) $(-> $ret)? {
                    $body::<T>($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2<T: $bound>($($arg: $ty),*) $(-> $ret)? {
                    $body::<T>($($arg),*)
                }
                match level {
                    // SAFETY: the assert above checked that the CPU has these features.
                    $crate::cpu::simd::SimdLevel::Avx512 => return unsafe { avx512::<T>($($arg),*) },
                    // SAFETY: as above.
                    $crate::cpu::simd::SimdLevel::Avx2Fma => return unsafe { avx2::<T>($($arg),*) },
                    $crate::cpu::simd::SimdLevel::Portable => {}
                }
            }
            $body::<T>($($arg),*)
        }
    };
}
pub(crate) use multiversion;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forcing_a_level_is_scoped_and_restored() {
        let best = level();
        assert_eq!(best, available_levels()[0]);
        with_level(SimdLevel::Portable, || {
            assert_eq!(level(), SimdLevel::Portable);
        });
        assert_eq!(level(), best);
        assert_eq!(*available_levels().last().unwrap(), SimdLevel::Portable);
    }
}
