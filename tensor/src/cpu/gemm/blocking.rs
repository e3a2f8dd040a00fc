//! Micro-kernel shapes and cache block sizes, one set per kernel, with the reason for each number.
//!
//! Targets: Intel Sapphire Rapids (48 KiB L1d, 2 MiB L2 per core) and AMD Zen 5 (48 KiB L1d, 1 MiB
//! L2 per core), both with a large shared L3. The sizes below fit the smaller of the two.
//!
//! - `KC` (depth of one pass) sizes the B sliver `KC × NR` that must stay in L1 while the kernel
//!   streams every A sliver of the block past it; it is also the run of FMAs between two loads and
//!   stores of a C tile, so larger is better as long as the sliver fits.
//! - `MC` sizes the packed A block `MC × KC`, which lives in L2 and is read once per B sliver.
//! - `NC` sizes the packed B block `KC × NC`, which lives in L3 (shared by all threads) and is read once
//!   per A block.
//!
//! The driver divides each dimension into equal blocks no larger than these (so 1024 with `MC = 480`
//! gives three blocks of ~352, not 480 + 480 + 64).

#[cfg(target_arch = "x86_64")]
use super::{kernel_avx2, kernel_avx2_asm, kernel_avx512};
use super::{kernel_portable, pack, pack::Strided, Kernel};

/// One micro-kernel call: `C[0..MR, 0..NR] ← alpha·Ap·Bp + beta·C` over `kc` steps, where Ap holds `MR`
/// values per step, Bp holds `NR`, and C is column-major with column stride `ldc` (unit row stride).
/// `beta == 0` must not read C.
pub(super) type MicroKernel =
    unsafe fn(kc: usize, a: *const f32, b: *const f32, alpha: f32, beta: f32, c: *mut f32, ldc: usize);

/// A micro-kernel that reads B in place (`kernel_in_place` of the AVX kernels), laid out as one of
/// the [`BLayout`]s other than `Packed`, `ldb` apart along the strided side.
pub(super) type DirectBKernel =
    unsafe fn(kc: usize, a: *const f32, b: *const f32, ldb: usize, alpha: f32, beta: f32, c: *mut f32, ldc: usize);

/// Where a micro-kernel finds B(k, j): the kernels take it as a const parameter (`B_AT`, the
/// variant as `u8`), so each layout compiles to its own loop with constant strides where it can.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub(super) enum BLayout {
    /// A packed sliver: `b[k·NR + j]` (with `ldb = NR`).
    Packed,
    /// In place, B's columns running along k: `b[j·ldb + k]`.
    Columns,
    /// In place, B's rows running along n: `b[k·ldb + j]`.
    Rows,
}

impl BLayout {
    /// B's strides along j and along k for the layout numbered `b_at`.
    pub(super) const fn strides(b_at: u8, ldb: usize) -> (usize, usize) {
        if b_at == BLayout::Columns as u8 {
            (ldb, 1)
        } else {
            (1, ldb)
        }
    }
}

const COLUMNS: u8 = BLayout::Columns as u8;
const ROWS: u8 = BLayout::Rows as u8;

/// Packs `rows × kc` of a strided matrix into slivers of a fixed width (zero-padding the last one).
pub(super) type PackFn = unsafe fn(x: Strided, rows: usize, kc: usize, out: *mut f32);

/// Everything the driver needs to know about one kernel family.
pub(super) struct KernelSpec {
    /// Rows per micro-tile (the vectorised side).
    pub mr: usize,
    /// Columns per micro-tile (the broadcast side).
    pub nr: usize,
    pub mc: usize,
    pub kc: usize,
    pub nc: usize,
    pub kernel: MicroKernel,
    /// The kernel that reads a B whose columns run along k without packing it, where there is one.
    pub kernel_direct_b: Option<DirectBKernel>,
    /// The kernel that reads a B whose rows run along n without packing it, where there is one.
    pub kernel_rows_b: Option<DirectBKernel>,
    /// Packs A (MR-tall slivers).
    pub pack_a: PackFn,
    /// Packs Bᵀ (NR-tall slivers of Bᵀ are NR-wide slivers of B).
    pub pack_b: PackFn,
}

// AVX-512 (kernel_avx512.rs), two tile shapes of 24 accumulators each. The tall one, 64 × 6, loads
// 4 A vectors and 6 broadcasts per 24 FMAs, against 2 + 12 for 32 × 12, and ran 5–10% faster on a
// 2-core Sapphire Rapids (sgemm bench, paired rounds against the `gemm` crate, e.g. small.fc2.fwd
// 0.88 → 1.00 and 1024 0.94 → 1.04 of `gemm`'s speed). It pads rows to 64, though: the driver takes
// it only where that costs no more padding than 32 would (see `spec`); 32 × 12 covers the rest, such
// as attention's P·V with 32 rows per head, which the tall tile ran at half speed.
//
// KC·NR·4 = 36 KiB (32 × 12) or 18 KiB (64 × 6) of B sliver in a 48 KiB L1. KC is twice BLIS's 384
// because the C tile is loaded and stored once per KC pass: at K = 1536 (fc2 forward, fc1's dX) four
// passes over a C block that does not fit L2 cost 4–7% of single-core speed (sgemm bench, 1 thread:
// small.fc1.dx 147 → 154 GFLOP/s, square sizes unchanged). MC·KC·4 ≈ 1.4 MiB of packed A in a 2 MiB
// L2 (Sapphire Rapids; MC = 320, which would suit a 1 MiB L2, measured the same on Zen 5).
// KC·NC·4 = 9 MiB of packed B in L3.
const AVX512_MR: usize = 32; // rows per micro-tile: 2 zmm
const AVX512_NR: usize = 12; // columns per micro-tile: 12 broadcasts, 24 accumulators
const AVX512_KC: usize = 768;
const AVX512_MC: usize = 480; // a multiple of MR
const AVX512_NC: usize = 3072; // a multiple of NR
const AVX512_TALL_MR: usize = 64; // 4 zmm
const AVX512_TALL_NR: usize = 6; // 6 broadcasts, 24 accumulators
const AVX512_TALL_MC: usize = 448; // a multiple of 64

// A third, 16 × 20, for products of at most 16 rows: the per-head products of attention with
// 16-wide heads (CAE-Tiny: P·V, dQ, dV once turned around), which a 32-row tile would pad to twice
// their size. One A vector and 20 broadcasts per 20 FMAs; 20 columns cut ViT token counts with
// little padding (99 → 100, 197 → 200, where 12 columns give 108 and 204).
const AVX512_NARROW_MR: usize = 16; // 1 zmm
const AVX512_NARROW_NR: usize = 20; // 20 broadcasts, 20 accumulators

// AVX2 (kernel_avx2.rs): the classic Haswell tile, 12 accumulators of the 16 ymm registers, 2 A
// vectors and 6 broadcasts per 12 FMAs. A taller 24 × 4 tile (3 A vectors and 4 broadcasts per 12
// FMAs) was tried and dropped: on a 2-core Zen 3, with the two alternated inside one process
// (throwaway harness, rotating order, 6 rounds), 16 × 6 ran the 27 target shapes of the sgemm bench
// at 1584 tokens 5% faster by geometric mean, and the weight gradients at 12608 tokens 3% faster.
// In a whole CAE-Small step the two measured the same (alternated steps, median ratios 0.97–1.02).
// KC·NR·4 = 9 KiB of B sliver in a 32 KiB L1 (KC = 256 and 320 measured no different there);
// MC·KC·4 = 504 KiB of A, which overflows Zen 3's 512 KiB L2 a little, but smaller blocks did not
// hold up there: MC = 128–224 measured no different in one session; in another (throwaway harness,
// alternated in one process), MC = 128 or 160 ran the 27 target shapes of the sgemm bench 0.4–1.3%
// faster in a fast spell and 2.5% slower half an hour later at 1584 tokens, the weight gradients
// down to 0.87–0.95.
//
// With B packed, the tile runs from kernel_avx2_asm.rs, whose k loop is assembly unrolled by 8.
// Alternated with the intrinsics loop in one process (throwaway harness, 27 target shapes of the
// sgemm bench, 9 rounds) on a 2-core Zen 3 VM in a slow spell (two threads reached 130–160
// GFLOP/s, nothing else running in it), it ran 4–9% faster on one core and 5–6% on two
// (geometric means of the best and of the median per-round ratios). In a fast spell later
// (170–186 GFLOP/s) the two loops measured the same (0.998), and whole CAE-Small steps showed no
// gain (time ratios asm/intrinsics 0.996 and 1.018, medians of 16 and 12 alternated pairs).
const AVX2_MR: usize = 16; // 2 ymm
const AVX2_NR: usize = 6; // 12 accumulators of the 16 ymm
const _: () = assert!(AVX2_MR == 16 && AVX2_NR == 6, "kernel_avx2_asm::kernel_16x6 is written for 16 × 6");
const AVX2_KC: usize = 384;
const AVX2_MC: usize = 336;
const AVX2_NC: usize = 3072;

// Portable (kernel_portable.rs): modest sizes that suit any cache of the last decade.
const PORTABLE_MR: usize = 8;
const PORTABLE_NR: usize = 4;
const PORTABLE_KC: usize = 256;
const PORTABLE_MC: usize = 128;
const PORTABLE_NC: usize = 2048;

/// The largest `MR × NR` of any kernel: the size of the scratch tile used for edge tiles.
pub(super) const MAX_TILE: usize =
    max(max(AVX512_MR * AVX512_NR, AVX512_TALL_MR * AVX512_TALL_NR), AVX512_NARROW_MR * AVX512_NARROW_NR);

const fn max(a: usize, b: usize) -> usize {
    if a > b {
        a
    } else {
        b
    }
}

#[cfg(target_arch = "x86_64")]
static AVX512: KernelSpec = KernelSpec {
    mr: AVX512_MR,
    nr: AVX512_NR,
    mc: AVX512_MC,
    kc: AVX512_KC,
    nc: AVX512_NC,
    kernel: kernel_avx512::kernel::<{ AVX512_MR / 16 }, AVX512_NR>,
    kernel_direct_b: Some(kernel_avx512::kernel_in_place::<{ AVX512_MR / 16 }, AVX512_NR, COLUMNS>),
    kernel_rows_b: Some(kernel_avx512::kernel_in_place::<{ AVX512_MR / 16 }, AVX512_NR, ROWS>),
    pack_a: pack::pack_avx::<AVX512_MR>,
    pack_b: pack::pack_avx::<AVX512_NR>,
};

#[cfg(target_arch = "x86_64")]
static AVX512_TALL: KernelSpec = KernelSpec {
    mr: AVX512_TALL_MR,
    nr: AVX512_TALL_NR,
    mc: AVX512_TALL_MC,
    kc: AVX512_KC,
    nc: AVX512_NC,
    kernel: kernel_avx512::kernel::<{ AVX512_TALL_MR / 16 }, AVX512_TALL_NR>,
    kernel_direct_b: Some(kernel_avx512::kernel_in_place::<{ AVX512_TALL_MR / 16 }, AVX512_TALL_NR, COLUMNS>),
    kernel_rows_b: Some(kernel_avx512::kernel_in_place::<{ AVX512_TALL_MR / 16 }, AVX512_TALL_NR, ROWS>),
    pack_a: pack::pack_avx::<AVX512_TALL_MR>,
    pack_b: pack::pack_avx::<AVX512_TALL_NR>,
};

#[cfg(target_arch = "x86_64")]
static AVX512_NARROW: KernelSpec = KernelSpec {
    mr: AVX512_NARROW_MR,
    nr: AVX512_NARROW_NR,
    mc: AVX512_TALL_MC,
    kc: AVX512_KC,
    nc: AVX512_NC - AVX512_NC % AVX512_NARROW_NR,
    kernel: kernel_avx512::kernel::<{ AVX512_NARROW_MR / 16 }, AVX512_NARROW_NR>,
    kernel_direct_b: Some(kernel_avx512::kernel_in_place::<{ AVX512_NARROW_MR / 16 }, AVX512_NARROW_NR, COLUMNS>),
    kernel_rows_b: Some(kernel_avx512::kernel_in_place::<{ AVX512_NARROW_MR / 16 }, AVX512_NARROW_NR, ROWS>),
    pack_a: pack::pack_avx::<AVX512_NARROW_MR>,
    pack_b: pack::pack_avx::<AVX512_NARROW_NR>,
};

#[cfg(target_arch = "x86_64")]
static AVX2: KernelSpec = KernelSpec {
    mr: AVX2_MR,
    nr: AVX2_NR,
    mc: AVX2_MC,
    kc: AVX2_KC,
    nc: AVX2_NC,
    kernel: kernel_avx2_asm::kernel_16x6,
    kernel_direct_b: Some(kernel_avx2::kernel_in_place::<{ AVX2_MR / 8 }, AVX2_NR, COLUMNS>),
    kernel_rows_b: Some(kernel_avx2::kernel_in_place::<{ AVX2_MR / 8 }, AVX2_NR, ROWS>),
    pack_a: pack::pack_avx::<AVX2_MR>,
    pack_b: pack::pack_avx::<AVX2_NR>,
};

static PORTABLE: KernelSpec = KernelSpec {
    mr: PORTABLE_MR,
    nr: PORTABLE_NR,
    mc: PORTABLE_MC,
    kc: PORTABLE_KC,
    nc: PORTABLE_NC,
    kernel: kernel_portable::kernel::<PORTABLE_MR, PORTABLE_NR>,
    kernel_direct_b: None,
    kernel_rows_b: None,
    pack_a: pack::pack_scalar::<PORTABLE_MR>,
    pack_b: pack::pack_scalar::<PORTABLE_NR>,
};

/// The shapes and block sizes the kernel family uses for a product with `m` rows (after the driver
/// has oriented it).
pub(super) fn spec(kernel: Kernel, m: usize) -> &'static KernelSpec {
    match kernel {
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if m <= AVX512_NARROW_MR => &AVX512_NARROW,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 if m.next_multiple_of(AVX512_TALL_MR) == m.next_multiple_of(AVX512_MR) => &AVX512_TALL,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx512 => &AVX512,
        #[cfg(target_arch = "x86_64")]
        Kernel::Avx2Fma => &AVX2,
        _ => &PORTABLE,
    }
}

#[cfg(test)]
mod tests {
    use super::{spec, Kernel};

    #[test]
    fn the_tall_tiles_are_taken_only_where_they_pad_no_more_rows() {
        let mr = |m| spec(Kernel::Avx512, m).mr;
        // Products of at most 16 rows (attention's with 16-wide heads) take 16-row tiles...
        assert_eq!([mr(1), mr(16)], [16; 2]);
        // ...other per-head products (32 or 197 rows) keep 32-row tiles...
        assert_eq!([mr(17), mr(32), mr(96), mr(197)], [32; 4]);
        // ...the linear layers' widths, and any row count that 64 pads as little as 32, take 64.
        assert_eq!([mr(33), mr(64), mr(384), mr(1000), mr(1152), mr(3072)], [64; 6]);
    }
}
