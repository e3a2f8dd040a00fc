//! GEMM variant 4, tensor cores: `C = A * op(B)` with A `[M, K]` bf16, C `[M, N]` f32, accumulating in f32,
//! and B in either layout ([`BLayout`]): `[N, K]` (a linear layer's weight: C = A W^T, the forward) or
//! `[K, N]` (C = A W, the input gradient).
//!
//! Three ideas on top of variant 3, each a few lines of the text below:
//! - `mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32`: a warp multiplies a 16x16 bf16 tile of A by a
//!   16x8 tile of B in one instruction. Each of the 4 warps of a block owns a 32x32 tile of C, that is
//!   2 x 4 mma tiles (32 f32 accumulators per thread).
//! - `ldmatrix.x4`: loads four 8x8 bf16 matrices from shared memory straight into the register layout
//!   mma expects (each lane gives the address of one matrix row).
//! - `cp.async` double buffering: the K slice for step k+1 is copied global -> shared (16 bytes per
//!   copy, bypassing registers) while the tensor cores work on slice k. Out-of-range chunks copy 0
//!   source bytes, which zero-fills them, so edges need no special code.
//!
//! Shared rows are padded from 64 to 80 bytes so the 8 row addresses of one ldmatrix phase fall in
//! different banks. For B `[K, N]` the staged tile is `[BK][BN]` (k rows) and `ldmatrix.trans` transposes
//! it into the same fragments. Requires K, lda and ldb to be multiples of 8 (16-byte chunks); M and N
//! are free (a partial chunk at the end of a row of B `[K, N]` copies only its valid bytes).
//! Launch: block 128, grid (ceil(N/64), ceil(M/64)).

use super::{emit, HEADER};

/// Rows of C per block.
pub const BM: u32 = 64;
/// Columns of C per block.
pub const BN: u32 = 64;
/// K slice per pipeline stage.
const BK: u32 = 32;
/// Threads per block: 4 warps in a 2 x 2 grid of 32x32 warp tiles.
pub const THREADS: u32 = 128;
/// Bytes per shared row of a K-contiguous tile: BK bf16 (64 bytes) plus 16 of padding against bank conflicts.
const PITCH: u32 = 80;
/// Bytes per shared row of an N-contiguous B tile: BN bf16 (128 bytes) plus 16 of padding.
const PITCH_KN: u32 = 144;
/// Bytes of A's tile per stage.
const STAGE: u32 = BM * PITCH;
/// Bytes of B's tile per stage, per layout.
const STAGE_B: [u32; 2] = [BN * PITCH, BK * PITCH_KN];

/// How B is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BLayout {
    /// `[N, K]`, K contiguous: C = A B^T.
    NK,
    /// `[K, N]`, N contiguous: C = A B.
    KN,
}

impl BLayout {
    fn index(self) -> usize {
        self as usize
    }
}
/// 16-byte chunks per row of a K slice.
const CHUNKS: u32 = BK / 8;

/// Emits the cp.async copies of one K slice (`%r_k0` = its first k) into stage offsets `%rd_st` (A) and
/// `%rd_stb` (B).
fn stage_copies(s: &mut String, layout: BLayout) {
    let ops: &[(&str, &str, &str, &str, &str)] = match layout {
        BLayout::NK => &[("A", "%rd1", "%rda", "%pa", "%rdsa"), ("B", "%rd2", "%rdb", "%pb", "%rdsb")],
        BLayout::KN => &[("A", "%rd1", "%rda", "%pa", "%rdsa")],
    };
    for &(op, base, rows, valid, dst) in ops {
        let st = if op == "A" { "%rd_st" } else { "%rd_stb" };
        for i in 0..2 {
            emit!(s, "    // {op} chunk {i}: row (tid + {i}*128) / 4, 16-byte chunk (tid % 4) of the slice");
            emit!(s, "    add.u32 %r40, %r_k0, %r_kc;");
            emit!(s, "    setp.lt.u32 %p10, %r40, %r_k;");
            emit!(s, "    and.pred %p10, %p10, {valid}{i};");
            emit!(s, "    selp.u32 %r41, 16, 0, %p10;");
            emit!(s, "    mul.wide.u32 %rd40, %r40, 2;");
            emit!(s, "    add.u64 %rd40, {rows}{i}, %rd40;");
            emit!(s, "    selp.b64 %rd40, %rd40, {base}, %p10;   // an empty copy still needs an aligned address");
            emit!(s, "    add.u64 %rd41, {dst}{i}, {st};");
            emit!(s, "    cp.async.cg.shared.global [%rd41], [%rd40], 16, %r41;");
        }
    }
    if layout == BLayout::KN {
        // B [K, N]: chunk i is k row (tid / 8) + 16 i of the slice, n chunk (tid % 8); %r_bsz valid bytes.
        emit!(s, "    mul.wide.u32 %rd42, %r_k0, %r4;");
        emit!(s, "    shl.b64 %rd42, %rd42, 1;                // k0 rows of B, in bytes");
        for i in 0..2 {
            emit!(s, "    // B chunk {i}");
            emit!(s, "    add.u32 %r40, %r_k0, %r_bk{i};");
            emit!(s, "    setp.lt.u32 %p10, %r40, %r_k;");
            emit!(s, "    selp.u32 %r41, %r_bsz, 0, %p10;");
            emit!(s, "    setp.ne.u32 %p11, %r41, 0;");
            emit!(s, "    add.u64 %rd40, %rdb{i}, %rd42;");
            emit!(s, "    selp.b64 %rd40, %rd40, %rd2, %p11;");
            emit!(s, "    add.u64 %rd41, %rdsb{i}, %rd_stb;");
            emit!(s, "    cp.async.cg.shared.global [%rd41], [%rd40], 16, %r41;");
        }
    }
    emit!(s, "    cp.async.commit_group;");
}

/// The PTX text of the tensor-core kernel for B stored as `layout`.
pub fn ptx(layout: BLayout) -> String {
    let stage_b = STAGE_B[layout.index()];
    let mut s = String::new();
    emit!(s, "// GEMM variant 4: bf16 tensor cores (mma.sync m16n8k16), ldmatrix, cp.async double buffering.");
    emit!(s, "// B stored {layout:?}. Block {BM}x{BN}, K slice {BK}, 4 warps of 32x32");
    emit!(s, "// (generated by kernels/src/ptx/gemm_mma.rs).");
    s.push_str(HEADER);
    emit!(
        s,
        r#"
.visible .entry gemm_bf16(
    .param .u64 p_a, .param .u64 p_b, .param .u64 p_c,
    .param .u32 p_m, .param .u32 p_n, .param .u32 p_k,
    .param .u32 p_lda, .param .u32 p_ldb, .param .u32 p_ldc
)
{{
    .reg .pred %p<16>;
    .reg .pred %pa<2>;
    .reg .pred %pb<2>;
    .reg .b32 %r<48>;
    .reg .b32 %r_k, %r_k0, %r_kc, %r_kt, %r_nk, %r_bsz, %r_bk0, %r_bk1;
    .reg .b64 %rd<48>;
    .reg .b64 %rda<2>;
    .reg .b64 %rdb<2>;
    .reg .b64 %rdsa<2>;
    .reg .b64 %rdsb<2>;
    .reg .b64 %rd_st, %rd_stb;
    .reg .f32 %f<4>;
    .shared .align 16 .b8 As[{two_stages}];
    .shared .align 16 .b8 Bs[{two_stages_b}];"#,
        two_stages = 2 * STAGE,
        two_stages_b = 2 * stage_b,
    );
    for mi in 0..2 {
        for q in 0..4 {
            emit!(s, "    .reg .b32 %fa{mi}_{q};");
        }
    }
    for ni in 0..4 {
        for q in 0..2 {
            emit!(s, "    .reg .b32 %fb{ni}_{q};");
        }
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
    mov.u64 %rd4, As;
    mov.u64 %rd5, Bs;

    // Copy duties: chunk i of this thread is row (tid + 128 i) / {CHUNKS}, k offset 8 (tid % {CHUNKS}).
    and.b32 %r12, %r5, {chunk_mask};
    shl.b32 %r_kc, %r12, 3;                 // k offset of the chunk in the slice
    mul.wide.u32 %rd6, %r12, 16;            // byte offset of the chunk in a shared row"#,
        chunk_mask = CHUNKS - 1,
    );
    for i in 0..2u32 {
        emit!(
            s,
            r#"    shr.u32 %r13, %r5, 2;
    add.u32 %r13, %r13, {row_step};           // tile row of chunk {i}
    mul.wide.u32 %rd7, %r13, {PITCH};
    add.u64 %rd7, %rd7, %rd6;
    add.u64 %rdsa{i}, %rd4, %rd7;          // shared destination in stage 0 (A)
    add.u32 %r14, %r10, %r13;
    setp.lt.u32 %pa{i}, %r14, %r1;
    mul.wide.u32 %rd8, %r14, %r3;
    shl.b64 %rd8, %rd8, 1;
    add.u64 %rda{i}, %rd1, %rd8;           // &A[row0 + r, 0]"#,
            row_step = i * THREADS / CHUNKS,
        );
        match layout {
            BLayout::NK => emit!(
                s,
                r#"    add.u64 %rdsb{i}, %rd5, %rd7;          // (B, same shape of tile)
    add.u32 %r14, %r11, %r13;
    setp.lt.u32 %pb{i}, %r14, %r2;
    mul.wide.u32 %rd8, %r14, %r4;
    shl.b64 %rd8, %rd8, 1;
    add.u64 %rdb{i}, %rd2, %rd8;           // &B[col0 + r, 0]"#
            ),
            BLayout::KN => emit!(
                s,
                r#"    // B [K, N] chunk {i}: k row (tid / 8) + {k_step} of the slice, n chunk tid % 8.
    shr.u32 %r_bk{i}, %r5, 3;
    add.u32 %r_bk{i}, %r_bk{i}, {k_step};
    and.b32 %r29, %r5, 7;
    mul.wide.u32 %rd7, %r_bk{i}, {PITCH_KN};
    mul.wide.u32 %rd8, %r29, 16;
    add.u64 %rd7, %rd7, %rd8;
    add.u64 %rdsb{i}, %rd5, %rd7;          // shared destination in stage 0
    shl.b32 %r30, %r29, 3;
    add.u32 %r30, %r30, %r11;               // n = col0 + 8 (tid % 8)
    mul.wide.u32 %rd8, %r_bk{i}, %r4;
    cvt.u64.u32 %rd9, %r30;
    add.u64 %rd8, %rd8, %rd9;
    shl.b64 %rd8, %rd8, 1;
    add.u64 %rdb{i}, %rd2, %rd8;           // &B[k row, n] (before adding k0 rows)"#,
                k_step = i * THREADS / (BN / 8),
            ),
        }
    }
    if layout == BLayout::KN {
        emit!(
            s,
            r#"    // Valid bytes of this thread's B chunks: 16, fewer at the end of a row, 0 past N.
    sub.u32 %r31, %r2, %r30;
    shl.b32 %r31, %r31, 1;
    min.u32 %r31, %r31, 16;
    setp.lt.u32 %p12, %r30, %r2;
    selp.u32 %r_bsz, %r31, 0, %p12;"#
        );
    }
    emit!(
        s,
        r#"
    // ldmatrix addresses of this lane. A (x4 = rows 0-7/8-15 x k 0-7/8-15, in mma's a0..a3 order):
    // row (lane % 8) + 8 ((lane / 8) % 2), k 8 (lane / 16). B (x4 = two n8 tiles x two k halves):
    // n row (lane % 8) + 8 (lane / 16), k 8 ((lane / 8) % 2).
    and.b32 %r15, %r7, 7;
    shr.u32 %r16, %r7, 3;
    and.b32 %r16, %r16, 1;
    shr.u32 %r17, %r7, 4;
    mad.lo.u32 %r18, %r16, 8, %r15;
    mad.lo.u32 %r18, %r8, 32, %r18;         // A row in the block tile
    mul.wide.u32 %rd9, %r18, {PITCH};
    mul.wide.u32 %rd10, %r17, 16;
    add.u64 %rd9, %rd9, %rd10;
    add.u64 %rd11, %rd4, %rd9;              // A lane address, stage 0
"#
    );
    match layout {
        BLayout::NK => emit!(
            s,
            r#"    mad.lo.u32 %r19, %r17, 8, %r15;
    mad.lo.u32 %r19, %r9, 32, %r19;         // B row (n) in the block tile
    mul.wide.u32 %rd12, %r19, {PITCH};
    mul.wide.u32 %rd13, %r16, 16;
    add.u64 %rd12, %rd12, %rd13;
    add.u64 %rd14, %rd5, %rd12;             // B lane address, stage 0"#
        ),
        BLayout::KN => emit!(
            s,
            r#"    // B [K, N] with .trans (x4 = k 0-7/8-15 x two n8 tiles): k row (lane % 8) + 8 ((lane / 8) % 2),
    // n 8 (lane / 16).
    mad.lo.u32 %r19, %r16, 8, %r15;         // k row in the slice
    mul.wide.u32 %rd12, %r19, {PITCH_KN};
    mad.lo.u32 %r32, %r9, 32, 0;
    mad.lo.u32 %r32, %r17, 8, %r32;         // n column in the block tile
    mul.wide.u32 %rd13, %r32, 2;
    add.u64 %rd12, %rd12, %rd13;
    add.u64 %rd14, %rd5, %rd12;             // B lane address, stage 0"#
        ),
    }
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
    mov.u64 %rd_st, 0;
    mov.u64 %rd_stb, 0;"#,
        bk_minus_1 = BK - 1,
        bk_bits = BK.trailing_zeros(),
    );
    stage_copies(&mut s, layout);
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
    mul.wide.u32 %rd_st, %r21, {STAGE};
    mul.wide.u32 %rd_stb, %r21, {stage_b};"#,
        bk_bits = BK.trailing_zeros(),
    );
    stage_copies(&mut s, layout);
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
    mul.wide.u32 %rd15, %r21, {STAGE};
    add.u64 %rd16, %rd11, %rd15;            // A lane address in this stage
    mul.wide.u32 %rd15, %r21, {stage_b};
    add.u64 %rd17, %rd14, %rd15;            // B lane address in this stage"#
    );
    for kk in 0..BK / 16 {
        emit!(s, "    // k16 step {kk} of the slice");
        for mi in 0..2 {
            let off = mi * 16 * PITCH + kk * 32;
            emit!(
                s,
                "    ldmatrix.sync.aligned.m8n8.x4.shared.b16 {{%fa{mi}_0, %fa{mi}_1, %fa{mi}_2, %fa{mi}_3}}, [%rd16+{off}];"
            );
        }
        for np in 0..2 {
            let (off, trans) = match layout {
                BLayout::NK => (np * 16 * PITCH + kk * 32, ""),
                BLayout::KN => (kk * 16 * PITCH_KN + np * 32, ".trans"),
            };
            let (n0, n1) = (2 * np, 2 * np + 1);
            emit!(
                s,
                "    ldmatrix.sync.aligned.m8n8.x4{trans}.shared.b16 {{%fb{n0}_0, %fb{n0}_1, %fb{n1}_0, %fb{n1}_1}}, [%rd17+{off}];"
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
                    emit!(s, "    @%p5 st.global.f32 [%rd18+{}], %acc{mi}_{ni}_{q};", 4 * (ni * 8 + c));
                }
            }
        }
    }
    emit!(s, "    ret;\n}}");
    s
}
