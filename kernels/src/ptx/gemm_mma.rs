//! GEMM variant 4, tensor cores: `C = op(A) * op(B)` with bf16 A and B, C `[M, N]` f32, accumulating in
//! f32. Each operand is stored either K-contiguous (A `[M, K]`, B `[N, K]`) or K-major (A `[K, M]`,
//! B `[K, N]`), see [`Layout`]: the forward of a linear layer is A `[M, K]` by B `[N, K]` (C = X W^T), the
//! input gradient A `[M, K]` by B `[K, N]` (dX = dY W), the weight gradient A `[K, M]` by B `[K, N]`
//! (dW = dY^T X).
//!
//! Three ideas on top of variant 3, each a few lines of the text below:
//! - `mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32`: a warp multiplies a 16x16 bf16 tile of A by a
//!   16x8 tile of B in one instruction. Each of the 4 warps of a block owns a 32x32 tile of C, that is
//!   2 x 4 mma tiles (32 f32 accumulators per thread).
//! - `ldmatrix.x4`: loads four 8x8 bf16 matrices from shared memory straight into the register layout
//!   mma expects (each lane gives the address of one matrix row); `.trans` does the same from a K-major
//!   tile, so both layouts end in the same fragments.
//! - `cp.async` double buffering: the K slice for step k+1 is copied global -> shared (16 bytes per
//!   copy, bypassing registers) while the tensor cores work on slice k. Out-of-range chunks copy 0
//!   source bytes, which zero-fills them, so edges need no special code.
//!
//! Shared rows are padded by 16 bytes (64 -> 80 for K-contiguous tiles, 128 -> 144 for K-major ones) so
//! the 8 row addresses of one ldmatrix phase fall in different banks. Requires K and both leading
//! dimensions to be multiples of 8 (16-byte aligned rows); M and N are free (a chunk at the end of a
//! K-major row copies only its valid bytes). Batched over grid z with element strides (multiples of 8),
//! `C = alpha op(A) op(B) + beta C`. Launch: block 128, grid (ceil(N/64), ceil(M/64), batch).

use super::{emit, HEADER};

/// Rows of C per block.
pub const BM: u32 = 64;
/// Columns of C per block.
pub const BN: u32 = 64;
/// K slice per pipeline stage.
const BK: u32 = 32;
/// Threads per block: 4 warps in a 2 x 2 grid of 32x32 warp tiles.
pub const THREADS: u32 = 128;

/// How an operand is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// K contiguous: A `[M, K]`, B `[N, K]`.
    KContiguous,
    /// K-major: A `[K, M]`, B `[K, N]`.
    KMajor,
}

impl Layout {
    /// Bytes per shared row: 64 or 32 rows of BK or 64 bf16, plus 16 of padding.
    fn pitch(self) -> u32 {
        match self {
            Layout::KContiguous => 2 * BK + 16,
            Layout::KMajor => 2 * BM + 16,
        }
    }
    /// Bytes of one stage of the operand's tile.
    fn stage(self) -> u32 {
        match self {
            Layout::KContiguous => BM * self.pitch(),
            Layout::KMajor => BK * self.pitch(),
        }
    }
}

/// The registers and facts of one operand (A or B) the emitters need.
struct Operand {
    /// "a" or "b": register suffix.
    x: &'static str,
    layout: Layout,
    /// Global base, leading dimension, extent (M or N) and tile origin (row0 or col0) registers.
    base: &'static str,
    ld: &'static str,
    extent: &'static str,
    origin: &'static str,
    /// Warp-tile index (wm or wn) register.
    warp: &'static str,
    /// Lane bit that selects the +8 outer half of an ldmatrix.x4, and the one that selects k + 8.
    outer_bit: u32,
    k_bit: u32,
}

/// Emits the one-time set-up of an operand: shared destinations and global sources of the thread's two
/// 16-byte chunks per slice, and its ldmatrix lane address (`%rd_l{x}`, stage 0).
fn setup(s: &mut String, o: &Operand) {
    let (x, pitch) = (o.x, o.layout.pitch());
    emit!(s, "    // Operand {x}: {:?}.", o.layout);
    for i in 0..2u32 {
        match o.layout {
            Layout::KContiguous => emit!(
                s,
                r#"    // chunk {i}: row (tid / 4) + {row_step} of the tile, k 8 (tid % 4) of the slice
    shr.u32 %r13, %r5, 2;
    add.u32 %r13, %r13, {row_step};
    mul.wide.u32 %rd7, %r13, {pitch};
    mul.wide.u32 %rd8, %r12, 16;
    add.u64 %rd7, %rd7, %rd8;
    add.u64 %rds{x}{i}, %rd_sh{x}, %rd7;
    shl.b32 %r_k{x}{i}, %r12, 3;
    add.u32 %r14, {origin}, %r13;
    setp.lt.u32 %p{x}{i}, %r14, {extent};
    mul.wide.u32 %rd8, %r14, {ld};
    shl.b64 %rd8, %rd8, 1;
    add.u64 %rdg{x}{i}, {base}, %rd8;      // &X[origin + row, 0]"#,
                origin = o.origin,
                extent = o.extent,
                ld = o.ld,
                base = o.base,
                row_step = i * THREADS / (BK / 8),
            ),
            Layout::KMajor => emit!(
                s,
                r#"    // chunk {i}: k row (tid / 8) + {k_step} of the slice, columns 8 (tid % 8) of the tile
    shr.u32 %r_k{x}{i}, %r5, 3;
    add.u32 %r_k{x}{i}, %r_k{x}{i}, {k_step};
    and.b32 %r29, %r5, 7;
    mul.wide.u32 %rd7, %r_k{x}{i}, {pitch};
    mul.wide.u32 %rd8, %r29, 16;
    add.u64 %rd7, %rd7, %rd8;
    add.u64 %rds{x}{i}, %rd_sh{x}, %rd7;
    shl.b32 %r30, %r29, 3;
    add.u32 %r30, %r30, {origin};
    mul.wide.u32 %rd8, %r30, 2;
    add.u64 %rdg{x}{i}, {base}, %rd8;      // &X[0, origin + column]
    // valid bytes: 16, fewer at the end of a row, 0 past the extent
    sub.u32 %r31, {extent}, %r30;
    shl.b32 %r31, %r31, 1;
    min.u32 %r31, %r31, 16;
    setp.lt.u32 %p12, %r30, {extent};
    selp.u32 %r_sz{x}, %r31, 0, %p12;"#,
                origin = o.origin,
                extent = o.extent,
                base = o.base,
                k_step = i * THREADS / (BM / 8),
            ),
        }
    }
    // ldmatrix lane address: r = lane % 8 walks the rows of one 8x8 matrix; two lane bits pick the
    // +8 outer half and the k + 8 half, in the order the mma fragments expect.
    emit!(
        s,
        r#"    and.b32 %r15, %r7, 7;
    shr.u32 %r16, %r7, {outer_bit};
    and.b32 %r16, %r16, 1;
    shl.b32 %r16, %r16, 3;                  // outer + 8 half
    shr.u32 %r17, %r7, {k_bit};
    and.b32 %r17, %r17, 1;
    shl.b32 %r17, %r17, 3;                  // k + 8 half
    mad.lo.u32 %r18, {warp}, 32, %r16;      // outer index in the block tile, without r"#,
        outer_bit = o.outer_bit,
        k_bit = o.k_bit,
        warp = o.warp,
    );
    match o.layout {
        Layout::KContiguous => emit!(s, "    add.u32 %r18, %r18, %r15;           // rows are outer, r walks them"),
        Layout::KMajor => emit!(s, "    add.u32 %r17, %r17, %r15;           // rows are k, r walks them"),
    }
    let (row, col) = match o.layout {
        Layout::KContiguous => ("%r18", "%r17"),
        Layout::KMajor => ("%r17", "%r18"),
    };
    emit!(
        s,
        r#"    mul.wide.u32 %rd9, {row}, {pitch};
    mul.wide.u32 %rd10, {col}, 2;
    add.u64 %rd9, %rd9, %rd10;
    add.u64 %rd_l{x}, %rd_sh{x}, %rd9;"#
    );
}

/// Emits the cp.async copies of the operand's two chunks of the slice starting at `%r_k0`.
fn copies(s: &mut String, o: &Operand) {
    let x = o.x;
    for i in 0..2 {
        emit!(s, "    add.u32 %r40, %r_k0, %r_k{x}{i};");
        emit!(s, "    setp.lt.u32 %p10, %r40, %r_k;");
        match o.layout {
            Layout::KContiguous => {
                emit!(s, "    and.pred %p10, %p10, %p{x}{i};");
                emit!(s, "    selp.u32 %r41, 16, 0, %p10;");
                emit!(s, "    mul.wide.u32 %rd40, %r40, 2;");
            }
            Layout::KMajor => {
                emit!(s, "    selp.u32 %r41, %r_sz{x}, 0, %p10;");
                emit!(s, "    setp.ne.u32 %p10, %r41, 0;");
                emit!(s, "    mul.wide.u32 %rd40, %r40, {};", o.ld);
                emit!(s, "    shl.b64 %rd40, %rd40, 1;");
            }
        }
        emit!(s, "    add.u64 %rd40, %rdg{x}{i}, %rd40;");
        emit!(s, "    selp.b64 %rd40, %rd40, {}, %p10;   // an empty copy still needs an aligned address", o.base);
        emit!(s, "    add.u64 %rd41, %rds{x}{i}, %rd_st{x};");
        emit!(s, "    cp.async.cg.shared.global [%rd41], [%rd40], 16, %r41;");
    }
}

/// Emits the copies of a whole slice into the stage at offsets `%rd_sta`, `%rd_stb`.
fn stage_copies(s: &mut String, a: &Operand, b: &Operand) {
    copies(s, a);
    copies(s, b);
    emit!(s, "    cp.async.commit_group;");
}

/// Byte offset, from the lane address, of the x4 ldmatrix for outer 16-block `blk` at k16 step `kk`.
fn frag_offset(layout: Layout, blk: u32, kk: u32) -> u32 {
    match layout {
        Layout::KContiguous => blk * 16 * layout.pitch() + kk * 32,
        Layout::KMajor => kk * 16 * layout.pitch() + blk * 32,
    }
}

fn trans(layout: Layout) -> &'static str {
    match layout {
        Layout::KContiguous => "",
        Layout::KMajor => ".trans",
    }
}

/// The PTX text of the tensor-core kernel for the given operand layouts.
pub fn ptx(a_layout: Layout, b_layout: Layout) -> String {
    let a = Operand {
        x: "a",
        layout: a_layout,
        base: "%rd1",
        ld: "%r3",
        extent: "%r1",
        origin: "%r10",
        warp: "%r8",
        outer_bit: 3,
        k_bit: 4,
    };
    let b = Operand {
        x: "b",
        layout: b_layout,
        base: "%rd2",
        ld: "%r4",
        extent: "%r2",
        origin: "%r11",
        warp: "%r9",
        outer_bit: 4,
        k_bit: 3,
    };
    let mut s = String::new();
    emit!(s, "// GEMM variant 4: bf16 tensor cores (mma.sync m16n8k16), ldmatrix, cp.async double buffering.");
    emit!(s, "// A {a_layout:?}, B {b_layout:?}. Block {BM}x{BN}, K slice {BK}, 4 warps of 32x32");
    emit!(s, "// (generated by kernels/src/ptx/gemm_mma.rs).");
    s.push_str(HEADER);
    emit!(
        s,
        r#"
.visible .entry gemm_bf16(
    .param .u64 p_a, .param .u64 p_b, .param .u64 p_c,
    .param .u32 p_m, .param .u32 p_n, .param .u32 p_k,
    .param .u32 p_lda, .param .u32 p_ldb, .param .u32 p_ldc,
    .param .u64 p_batch_a, .param .u64 p_batch_b, .param .u64 p_batch_c,
    .param .f32 p_alpha, .param .f32 p_beta
)
{{
    .reg .pred %p<16>;
    .reg .pred %pa<2>;
    .reg .pred %pb<2>;
    .reg .b32 %r<48>;
    .reg .b32 %r_k, %r_k0, %r_kt, %r_nk, %r_ka0, %r_ka1, %r_kb0, %r_kb1, %r_sza, %r_szb;
    .reg .b64 %rd<48>;
    .reg .b64 %rdga<2>;
    .reg .b64 %rdgb<2>;
    .reg .b64 %rdsa<2>;
    .reg .b64 %rdsb<2>;
    .reg .b64 %rd_sha, %rd_shb, %rd_la, %rd_lb, %rd_sta, %rd_stb;
    .reg .f32 %f<8>;
    .shared .align 16 .b8 As[{a_bytes}];
    .shared .align 16 .b8 Bs[{b_bytes}];"#,
        a_bytes = 2 * a_layout.stage(),
        b_bytes = 2 * b_layout.stage(),
    );
    for mi in 0..2 {
        emit!(s, "    .reg .b32 %fa{mi}_<4>;");
    }
    for ni in 0..4 {
        emit!(s, "    .reg .b32 %fb{ni}_<2>;");
    }
    for mi in 0..2 {
        for ni in 0..4 {
            emit!(s, "    .reg .f32 %acc{mi}_{ni}_<4>;");
        }
    }
    emit!(
        s,
        r#"
    ld.param.u64 %rd1, [p_a];
    ld.param.u64 %rd2, [p_b];
    ld.param.u64 %rd3, [p_c];
    cvta.to.global.u64 %rd1, %rd1;
    cvta.to.global.u64 %rd2, %rd2;
    cvta.to.global.u64 %rd3, %rd3;
    // Batch entry z = ctaid.z: each operand moves by z times its batch stride (elements).
    mov.u32 %r33, %ctaid.z;
    cvt.u64.u32 %rd33, %r33;
    ld.param.u64 %rd34, [p_batch_a];
    mul.lo.u64 %rd34, %rd34, %rd33;
    shl.b64 %rd34, %rd34, 1;
    add.u64 %rd1, %rd1, %rd34;
    ld.param.u64 %rd34, [p_batch_b];
    mul.lo.u64 %rd34, %rd34, %rd33;
    shl.b64 %rd34, %rd34, 1;
    add.u64 %rd2, %rd2, %rd34;
    ld.param.u64 %rd34, [p_batch_c];
    mul.lo.u64 %rd34, %rd34, %rd33;
    shl.b64 %rd34, %rd34, 2;
    add.u64 %rd3, %rd3, %rd34;
    ld.param.u32 %r1, [p_m];
    ld.param.u32 %r2, [p_n];
    ld.param.u32 %r_k, [p_k];
    ld.param.u32 %r3, [p_lda];
    ld.param.u32 %r4, [p_ldb];
    mov.u32 %r5, %tid.x;
    shr.u32 %r6, %r5, 5;                    // warp
    and.b32 %r7, %r5, 31;                   // lane
    shr.u32 %r8, %r6, 1;                    // wm: warp row (0..1)
    and.b32 %r9, %r6, 1;                    // wn: warp column (0..1)
    mov.u32 %r10, %ctaid.y;
    mul.lo.u32 %r10, %r10, {BM};            // row0
    mov.u32 %r11, %ctaid.x;
    mul.lo.u32 %r11, %r11, {BN};            // col0
    and.b32 %r12, %r5, 3;                   // k chunk of a K-contiguous copy
    mov.u64 %rd_sha, As;
    mov.u64 %rd_shb, Bs;"#
    );
    setup(&mut s, &a);
    setup(&mut s, &b);
    for mi in 0..2 {
        for ni in 0..4 {
            for q in 0..4 {
                emit!(s, "    mov.f32 %acc{mi}_{ni}_{q}, 0f00000000;");
            }
        }
    }
    emit!(
        s,
        r#"
    // Prologue: slice 0 into stage 0.
    add.u32 %r_nk, %r_k, {bk_minus_1};
    shr.u32 %r_nk, %r_nk, {bk_bits};        // slices
    mov.u32 %r_k0, 0;
    mov.u64 %rd_sta, 0;
    mov.u64 %rd_stb, 0;"#,
        bk_minus_1 = BK - 1,
        bk_bits = BK.trailing_zeros(),
    );
    stage_copies(&mut s, &a, &b);
    emit!(
        s,
        r#"    mov.u32 %r_kt, 0;
    setp.eq.u32 %p1, %r_nk, 0;
    @%p1 bra STORE;
SLICE:
    // Issue slice kt+1 into the other stage, then wait for slice kt only (wait_group 1 leaves the
    // newest group in flight). The last slice has nothing to prefetch and waits for everything.
    add.u32 %r20, %r_kt, 1;
    setp.ge.u32 %p2, %r20, %r_nk;
    @%p2 bra LAST;
    shl.b32 %r_k0, %r20, {bk_bits};
    and.b32 %r21, %r20, 1;
    mul.wide.u32 %rd_sta, %r21, {sa};
    mul.wide.u32 %rd_stb, %r21, {sb};"#,
        bk_bits = BK.trailing_zeros(),
        sa = a_layout.stage(),
        sb = b_layout.stage(),
    );
    stage_copies(&mut s, &a, &b);
    emit!(
        s,
        r#"    cp.async.wait_group 1;
    bra WAITED;
LAST:
    cp.async.wait_group 0;
WAITED:
    // Every thread's copies of slice kt have landed; the barrier makes them visible to all.
    bar.sync 0;
    and.b32 %r21, %r_kt, 1;
    mul.wide.u32 %rd15, %r21, {sa};
    add.u64 %rd16, %rd_la, %rd15;           // A lane address in this stage
    mul.wide.u32 %rd15, %r21, {sb};
    add.u64 %rd17, %rd_lb, %rd15;           // B lane address in this stage"#,
        sa = a_layout.stage(),
        sb = b_layout.stage(),
    );
    for kk in 0..BK / 16 {
        emit!(s, "    // k16 step {kk} of the slice");
        for mi in 0..2 {
            let (off, t) = (frag_offset(a_layout, mi, kk), trans(a_layout));
            emit!(
                s,
                "    ldmatrix.sync.aligned.m8n8.x4{t}.shared.b16 {{%fa{mi}_0, %fa{mi}_1, %fa{mi}_2, %fa{mi}_3}}, [%rd16+{off}];"
            );
        }
        for np in 0..2 {
            let (off, t) = (frag_offset(b_layout, np, kk), trans(b_layout));
            let (n0, n1) = (2 * np, 2 * np + 1);
            emit!(
                s,
                "    ldmatrix.sync.aligned.m8n8.x4{t}.shared.b16 {{%fb{n0}_0, %fb{n0}_1, %fb{n1}_0, %fb{n1}_1}}, [%rd17+{off}];"
            );
        }
        for mi in 0..2 {
            for ni in 0..4 {
                let acc = format!("%acc{mi}_{ni}_0, %acc{mi}_{ni}_1, %acc{mi}_{ni}_2, %acc{mi}_{ni}_3");
                emit!(s, "    mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32");
                emit!(s, "        {{{acc}}}, {{%fa{mi}_0, %fa{mi}_1, %fa{mi}_2, %fa{mi}_3}}, {{%fb{ni}_0, %fb{ni}_1}}, {{{acc}}};");
            }
        }
    }
    emit!(
        s,
        r#"    // The stage just read is refilled by the next iteration's copies: wait until all warps are done.
    bar.sync 0;
    add.u32 %r_kt, %r_kt, 1;
    setp.lt.u32 %p3, %r_kt, %r_nk;
    @%p3 bra SLICE;

STORE:
    // Accumulator q of mma tile (mi, ni) sits at row g + 8 (q / 2), column 2 (lane % 4) + (q % 2) of the tile.
    // C = alpha acc + beta C, C read only when beta != 0 (so an uninitialised C is never read).
    ld.param.f32 %f1, [p_alpha];
    ld.param.f32 %f2, [p_beta];
    setp.ne.f32 %p6, %f2, 0f00000000;
    ld.param.u32 %r22, [p_ldc];
    shr.u32 %r23, %r7, 2;                   // g
    and.b32 %r24, %r7, 3;
    mad.lo.u32 %r25, %r8, 32, %r10;
    add.u32 %r25, %r25, %r23;               // row of acc q = 0 in tile mi = 0
    mad.lo.u32 %r26, %r9, 32, %r11;
    mad.lo.u32 %r26, %r24, 2, %r26;         // column of acc q = 0 in tile ni = 0"#
    );
    for mi in 0..2 {
        for h in 0..2 {
            emit!(s, "    add.u32 %r27, %r25, {};", mi * 16 + h * 8);
            emit!(s, "    setp.lt.u32 %p4, %r27, %r1;");
            emit!(s, "    mul.wide.u32 %rd18, %r27, %r22;");
            emit!(s, "    cvt.u64.u32 %rd19, %r26;");
            emit!(s, "    add.u64 %rd18, %rd18, %rd19;");
            emit!(s, "    shl.b64 %rd18, %rd18, 2;");
            emit!(s, "    add.u64 %rd18, %rd3, %rd18;");
            for ni in 0..4 {
                for c in 0..2 {
                    let q = 2 * h + c;
                    emit!(s, "    add.u32 %r28, %r26, {};", ni * 8 + c);
                    emit!(s, "    setp.lt.u32 %p5, %r28, %r2;");
                    emit!(s, "    and.pred %p5, %p5, %p4;");
                    emit!(s, "    and.pred %p7, %p5, %p6;");
                    emit!(s, "    mov.f32 %f3, 0f00000000;");
                    emit!(s, "    @%p7 ld.global.f32 %f3, [%rd18+{}];", 4 * (ni * 8 + c));
                    emit!(s, "    mul.f32 %f4, %acc{mi}_{ni}_{q}, %f1;");
                    emit!(s, "    fma.rn.f32 %f4, %f2, %f3, %f4;");
                    emit!(s, "    @%p5 st.global.f32 [%rd18+{}], %f4;", 4 * (ni * 8 + c));
                }
            }
        }
    }
    emit!(s, "    ret;\n}}");
    s
}
