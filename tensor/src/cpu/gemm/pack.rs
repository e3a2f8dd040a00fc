//! Packing: copying a block of a strided operand into the order the micro-kernel reads it.
//!
//! A block `X` of `rows × kc` becomes slivers of `W` rows each; sliver `s` holds, for each k in turn,
//! the `W` values `X[s·W .. s·W+W, k]` (zero-padded past the last row). The kernel then reads one
//! contiguous, aligned run per step and never sees the strides. Both operands use this one routine:
//! A is packed as is (`W = MR`), B as its transpose (`W = NR`).
//!
//! Two layouts are common and get a fast path each:
//! - unit row stride (`X` column-major): each step is a contiguous copy of `W` floats;
//! - unit column stride (`X` row-major): rows are contiguous along k, so the copy is a transpose,
//!   done 8×8 at a time in AVX registers (fewer rows at the end of a sliver repeat the last one).
//!
//! Anything else takes the plain element-by-element loop.

/// A matrix as a raw pointer to element (0, 0) and two strides (in elements), after bounds checks.
#[derive(Clone, Copy)]
pub(super) struct Strided {
    pub ptr: *const f32,
    pub rs: usize,
    pub cs: usize,
}

// SAFETY: `Strided` is only built from slices borrowed for the whole GEMM call, and packing only reads.
unsafe impl Send for Strided {}
unsafe impl Sync for Strided {}

impl Strided {
    pub fn t(self) -> Strided {
        Strided { ptr: self.ptr, rs: self.cs, cs: self.rs }
    }

    /// The view moved to element (i, j).
    ///
    /// # Safety
    /// (i, j) must lie inside the checked view.
    pub unsafe fn at(self, i: usize, j: usize) -> Strided {
        Strided { ptr: self.ptr.add(i * self.rs + j * self.cs), ..self }
    }
}

/// Packs `rows × kc` of `x` into `ceil(rows / W)` slivers at `out`, portable code only.
///
/// # Safety
/// `x` must be readable on `rows × kc`; `out` must hold `ceil(rows / W) · W · kc` floats.
pub(super) unsafe fn pack_scalar<const W: usize>(x: Strided, rows: usize, kc: usize, out: *mut f32) {
    if x.rs == 1 {
        return pack_columns::<W>(x, rows, kc, out);
    }
    for s in 0..rows.div_ceil(W) {
        let h = W.min(rows - s * W);
        pack_sliver_generic::<W>(x.at(s * W, 0), h, kc, out.add(s * W * kc));
    }
}

/// The unit-row-stride case: step k of every sliver comes from one contiguous run `X[.., k]`. The
/// source is read in order, a chunk of `COPY_CHUNK` steps at a time (the source is often fresh from
/// DRAM, and sequential reads are what the hardware prefetchers follow), and each sliver receives
/// the chunk as one contiguous run: interleaving single steps over all slivers would write to
/// streams a multiple of 4 KiB apart, which share one L1 set and evict each other.
#[inline(always)]
unsafe fn pack_columns<const W: usize>(x: Strided, rows: usize, kc: usize, out: *mut f32) {
    let (full, rem) = (rows / W, rows % W);
    for p0 in (0..kc).step_by(COPY_CHUNK) {
        let p1 = kc.min(p0 + COPY_CHUNK);
        for s in 0..full {
            for p in p0..p1 {
                // A constant-length copy: W/8 (or W/4) vector moves.
                std::ptr::copy_nonoverlapping(x.ptr.add(p * x.cs + s * W), out.add(s * W * kc + p * W), W);
            }
        }
        if rem > 0 {
            for p in p0..p1 {
                let (src, d) = (x.ptr.add(p * x.cs + full * W), out.add(full * W * kc + p * W));
                for i in 0..W {
                    *d.add(i) = if i < rem { *src.add(i) } else { 0.0 };
                }
            }
        }
    }
}

/// Steps per chunk of the unit-row-stride pack: 16 source runs of a few KiB stay in L1 while every
/// sliver takes its part.
const COPY_CHUNK: usize = 16;

/// The element-by-element sliver copy, for any strides.
#[inline(always)]
unsafe fn pack_sliver_generic<const W: usize>(x: Strided, h: usize, kc: usize, dst: *mut f32) {
    for p in 0..kc {
        let d = dst.add(p * W);
        for i in 0..W {
            *d.add(i) = if i < h { *x.ptr.add(i * x.rs + p * x.cs) } else { 0.0 };
        }
    }
}

/// Same as [`pack_scalar`], with AVX: vector copies and 8×8 register transposes.
///
/// # Safety
/// As [`pack_scalar`]; the CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) unsafe fn pack_avx<const W: usize>(x: Strided, rows: usize, kc: usize, out: *mut f32) {
    if x.rs == 1 {
        return pack_columns::<W>(x, rows, kc, out);
    }
    for s in 0..rows.div_ceil(W) {
        let h = W.min(rows - s * W);
        let xs = x.at(s * W, 0);
        let dst = out.add(s * W * kc);
        if xs.cs == 1 {
            transpose_sliver::<W>(xs, h, kc, dst);
        } else {
            pack_sliver_generic::<W>(xs, h, kc, dst);
        }
    }
}

/// How far ahead (in floats along a row) the transposing pack prefetches: 4 cache lines, a few
/// hundred cycles of transposing, about one L3 round trip.
#[cfg(target_arch = "x86_64")]
const TRANSPOSE_PREFETCH: usize = 64;

/// Packs one sliver whose rows are contiguous along k: up to 8 rows × 8 steps per register
/// transpose (a group of fewer rows repeats its last row and stores only its own lanes, so a 6-wide
/// sliver takes one transpose per 8 steps, not an element-by-element loop), the last `kc % 8` steps
/// element by element.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_sliver<const W: usize>(x: Strided, h: usize, kc: usize, dst: *mut f32) {
    use std::arch::x86_64::*;
    let k8 = kc / 8 * 8;
    for i in (0..h).step_by(8) {
        let group = 8.min(h - i);
        let row = |r: usize| x.ptr.add((i + r.min(group - 1)) * x.rs);
        let rows: [*const f32; 8] = [row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7)];
        let mut p = 0;
        while p < k8 {
            // Each row is only a short run (kc floats) of a long row: too short for the hardware
            // prefetcher to get going, so ask for the lines a few steps ahead ourselves.
            if p % 16 == 0 {
                for src in &rows[..group] {
                    _mm_prefetch::<_MM_HINT_T0>(src.add(p + TRANSPOSE_PREFETCH) as *const i8);
                }
            }
            let t = transpose8(std::array::from_fn(|r| _mm256_loadu_ps(rows[r].add(p))));
            for (c, v) in t.iter().enumerate() {
                store_lanes(dst.add((p + c) * W + i), *v, group);
            }
            p += 8;
        }
        for p in k8..kc {
            for (r, src) in rows.iter().enumerate().take(group) {
                *dst.add(p * W + i + r) = *src.add(p);
            }
        }
    }
    // Zero padding of the rows past `h`.
    for p in 0..kc {
        for r in h..W {
            *dst.add(p * W + r) = 0.0;
        }
    }
}

/// Stores the first `count` (1..=8) lanes of `v` at `d`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn store_lanes(d: *mut f32, v: std::arch::x86_64::__m256, count: usize) {
    use std::arch::x86_64::*;
    if count == 8 {
        return _mm256_storeu_ps(d, v);
    }
    let (mut rest, mut at) = (_mm256_castps256_ps128(v), 0);
    if count >= 4 {
        _mm_storeu_ps(d, rest);
        (rest, at) = (_mm256_extractf128_ps::<1>(v), 4);
    }
    if count - at >= 2 {
        _mm_store_sd(d.add(at) as *mut f64, _mm_castps_pd(rest));
        (rest, at) = (_mm_movehl_ps(rest, rest), at + 2);
    }
    if count > at {
        _mm_store_ss(d.add(at), rest);
    }
}

/// Transposes an 8×8 block held as 8 row registers into 8 column registers.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn transpose8(r: [std::arch::x86_64::__m256; 8]) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
    // Interleave pairs of rows, then pairs of pairs, then swap 128-bit halves.
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// A growable f32 buffer whose usable part starts on a 64-byte (cache line) boundary.
#[derive(Default)]
pub(super) struct AlignedBuf {
    raw: Vec<f32>,
}

impl AlignedBuf {
    /// A pointer to at least `len` writable floats, 64-byte aligned (contents unspecified).
    pub fn get(&mut self, len: usize) -> *mut f32 {
        const SLACK: usize = 16; // 64 bytes of f32, room to slide the start onto a line boundary
        if self.raw.len() < len + SLACK {
            self.raw = vec![0.0; len + SLACK];
        }
        let misalign = (self.raw.as_ptr() as usize / 4) % SLACK;
        let shift = (SLACK - misalign) % SLACK;
        // SAFETY: shift < SLACK and the vector holds len + SLACK floats.
        unsafe { self.raw.as_mut_ptr().add(shift) }
    }
}
