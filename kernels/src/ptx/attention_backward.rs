//! Attention backward, flash-style, f32, generated for a head dimension D (a multiple of 32, at most 128).
//!
//! From the forward's saved logsumexp L, the probabilities are recomputed instead of stored:
//! P_ij = exp(s_ij - L_i) with s_ij = scale q_i . k_j. With Delta_i = dO_i . O_i,
//!   dV_j = sum_i P_ij dO_i,   dS_ij = P_ij (dO_i . v_j - Delta_i),
//!   dQ_i = scale sum_j dS_ij k_j,   dK_j = scale sum_i dS_ij q_i.
//! Two kernels, each the forward's shape (a warp per row, the other side streaming through shared
//! memory in tiles of 32 rows), so no thread ever needs atomics:
//! - `attention_backward_dq`: a warp per query row, keys and values streamed; also writes Delta.
//! - `attention_backward_dkdv`: a warp per key row, queries, dO, L and Delta streamed (run second).
//!
//! Scores are in base 2 as in the forward. Q, K, V, O, dO, dQ, dK, dV are `[BH, N, D]`; L and Delta
//! `[BH, N]`. Launch (both): block 128, grid (ceil(N / 4), BH).

use super::{emit, HEADER};

/// Rows per shared-memory tile.
const TILE: u32 = 32;

/// Loads the lane's elements of the row at `ptr` (lane offset included) into `%{reg}0..`, guarded by `%p1`
/// (the row exists), optionally scaled by `%f1`.
fn load_row(s: &mut String, reg: &str, ptr: &str, epl: u32, scaled: bool) {
    for e in 0..epl {
        emit!(s, "    mov.f32 %{reg}{e}, 0f00000000;");
        emit!(s, "    @%p1 ld.global.f32 %{reg}{e}, [{ptr}+{}];", 128 * e);
        if scaled {
            emit!(s, "    mul.f32 %{reg}{e}, %{reg}{e}, %f1;");
        }
    }
}

/// Emits `%f6 = sum over the warp of %{x}e * shared[ptr + 128 e]` (a dot product with a shared row).
fn dot_shared(s: &mut String, x: &str, ptr: &str, epl: u32) {
    emit!(s, "    mov.f32 %f6, 0f00000000;");
    for e in 0..epl {
        emit!(s, "    ld.shared.f32 %f7, [{ptr}+{}];", 128 * e);
        emit!(s, "    fma.rn.f32 %f6, %{x}{e}, %f7, %f6;");
    }
    for off in [16, 8, 4, 2, 1] {
        emit!(s, "    shfl.sync.bfly.b32 %f7, %f6, {off}, 31, -1;");
        emit!(s, "    add.f32 %f6, %f6, %f7;");
    }
}

/// Emits the cooperative copy of a 32-row tile of two `[N, D]` matrices (`%rd15`, `%rd16` = their row j0)
/// into shared `S0`, `S1`, zero-filled past `%r10` valid elements.
fn load_tile(s: &mut String, d: u32) {
    for c in 0..(TILE * d / 128) {
        emit!(s, "    add.u32 %r11, %r2, {};", c * 128);
        emit!(s, "    setp.lt.u32 %p3, %r11, %r10;");
        emit!(s, "    mov.f32 %f4, 0f00000000;");
        emit!(s, "    mov.f32 %f5, 0f00000000;");
        emit!(s, "    add.u64 %rd17, %rd15, %rd8;");
        emit!(s, "    add.u64 %rd18, %rd16, %rd8;");
        emit!(s, "    @%p3 ld.global.f32 %f4, [%rd17+{}];", 512 * c);
        emit!(s, "    @%p3 ld.global.f32 %f5, [%rd18+{}];", 512 * c);
        emit!(s, "    add.u64 %rd17, %rd9, %rd8;");
        emit!(s, "    add.u64 %rd18, %rd10, %rd8;");
        emit!(s, "    st.shared.f32 [%rd17+{}], %f4;", 512 * c);
        emit!(s, "    st.shared.f32 [%rd18+{}], %f5;", 512 * c);
    }
}

/// Common prologue: row index, batch-head offset `%rd1`, `%p1` = row exists, lane offset `%rd7`.
fn prologue(s: &mut String, d: u32, params: &str, extra_regs: &str) {
    emit!(
        s,
        r#"
.visible .entry {params}
{{
    .reg .pred %p<8>;
    .reg .b32 %r<32>;
    .reg .b64 %rd<40>;
    .reg .f32 %f<32>;
{extra_regs}
    .shared .align 16 .f32 S0[{tile_elems}];
    .shared .align 16 .f32 S1[{tile_elems}];

    ld.param.u32 %r1, [p_n];
    mov.u32 %r2, %tid.x;
    and.b32 %r3, %r2, 31;                   // lane
    shr.u32 %r4, %r2, 5;                    // warp
    mov.u32 %r5, %ctaid.x;
    mad.lo.u32 %r6, %r5, 4, %r4;            // this warp's row
    setp.lt.u32 %p1, %r6, %r1;              // row exists (others still help load tiles)
    mov.u32 %r7, %ctaid.y;                  // batch-head
    mul.wide.u32 %rd1, %r7, %r1;
    mul.lo.u64 %rd1, %rd1, {row_bytes};     // byte offset of this batch-head's [N, D] block
    mul.wide.u32 %rd7, %r3, 4;              // lane offset in a row
    mul.wide.u32 %rd6, %r6, {row_bytes};
    add.u64 %rd6, %rd6, %rd7;               // this warp's row, lane element, relative to a block
    ld.param.f32 %f1, [p_scale];
    mul.f32 %f1, %f1, 0f3FB8AA3B;           // scale * log2 e
    mul.wide.u32 %rd8, %r2, 4;              // tile-copy duty offset
    mov.u64 %rd9, S0;
    mov.u64 %rd10, S1;
    add.u64 %rd12, %rd9, %rd7;              // &S0[0][lane]
    add.u64 %rd13, %rd10, %rd7;             // &S1[0][lane]"#,
        tile_elems = TILE * d,
        row_bytes = 4 * d,
    );
}

/// Loads global pointer parameter `name` into `reg`, offset to this batch-head's block.
fn block_ptr(s: &mut String, reg: &str, name: &str) {
    emit!(s, "    ld.param.u64 {reg}, [{name}];");
    emit!(s, "    cvta.to.global.u64 {reg}, {reg};");
    emit!(s, "    add.u64 {reg}, {reg}, %rd1;");
}

/// Puts the address of element (bh, index register) of `[BH, N]` vector parameter `name` in `%rd30`.
fn vec_addr(s: &mut String, name: &str, index: &str) {
    emit!(s, "    ld.param.u64 %rd30, [{name}];");
    emit!(s, "    cvta.to.global.u64 %rd30, %rd30;");
    emit!(s, "    mul.wide.u32 %rd31, %r7, %r1;");
    emit!(s, "    cvt.u64.u32 %rd32, {index};");
    emit!(s, "    add.u64 %rd31, %rd31, %rd32;");
    emit!(s, "    shl.b64 %rd31, %rd31, 2;");
    emit!(s, "    add.u64 %rd30, %rd30, %rd31;");
}

/// Loads element (bh, index register) of `[BH, N]` vector parameter `name` into `out`, guarded by `pred`.
fn vec_elem(s: &mut String, out: &str, name: &str, index: &str, pred: &str) {
    vec_addr(s, name, index);
    emit!(s, "    mov.f32 {out}, 0f00000000;");
    emit!(s, "    @{pred} ld.global.f32 {out}, [%rd30];");
}

/// The tile loop head: `%r8` = j0, `%r9` = rows in the tile, `%r10` = valid elements; `%rd14` = j0's
/// byte offset within a block.
fn tile_loop_head(s: &mut String, d: u32) {
    emit!(
        s,
        r#"    mov.u32 %r8, 0;
TILE_LOOP:
    setp.ge.u32 %p2, %r8, %r1;
    @%p2 bra FINISH;
    sub.u32 %r9, %r1, %r8;
    min.u32 %r9, %r9, {TILE};
    mul.lo.u32 %r10, %r9, {d};
    mul.wide.u32 %rd14, %r8, {row_bytes};"#,
        row_bytes = 4 * d,
    );
}

/// The PTX text of both backward kernels for head dimension `d`.
pub fn ptx(d: u32) -> String {
    assert!(d.is_multiple_of(32) && (32..=128).contains(&d), "head dimension {d}: a multiple of 32 up to 128");
    let epl = d / 32;
    let row_bytes = 4 * d;
    let mut s = String::new();
    emit!(s, "// Flash-style attention backward, f32, D = {d} (generated by kernels/src/ptx/attention_backward.rs).");
    s.push_str(HEADER);

    // ---- dQ (and Delta): a warp per query row, keys (S0) and values (S1) streamed.
    prologue(
        &mut s,
        d,
        "attention_backward_dq(\n    .param .u64 p_dq, .param .u64 p_delta, .param .u64 p_q, .param .u64 p_k, .param .u64 p_v,\n    .param .u64 p_o, .param .u64 p_do, .param .u64 p_lse, .param .u32 p_n, .param .f32 p_scale\n)",
        &format!("    .reg .f32 %q<{epl}>;\n    .reg .f32 %g<{epl}>;\n    .reg .f32 %o<{epl}>;\n    .reg .f32 %a<{epl}>;"),
    );
    for (reg, name) in [("%rd2", "p_q"), ("%rd3", "p_k"), ("%rd4", "p_v"), ("%rd5", "p_o"), ("%rd11", "p_do")] {
        block_ptr(&mut s, reg, name);
    }
    emit!(s, "    add.u64 %rd20, %rd2, %rd6;");
    load_row(&mut s, "q", "%rd20", epl, true);
    emit!(s, "    add.u64 %rd20, %rd11, %rd6;");
    load_row(&mut s, "g", "%rd20", epl, false); // dO_i
    emit!(s, "    add.u64 %rd20, %rd5, %rd6;");
    load_row(&mut s, "o", "%rd20", epl, false);
    emit!(s, "    // Delta_i = dO_i . O_i");
    emit!(s, "    mov.f32 %f6, 0f00000000;");
    for e in 0..epl {
        emit!(s, "    fma.rn.f32 %f6, %g{e}, %o{e}, %f6;");
        emit!(s, "    mov.f32 %a{e}, 0f00000000;        // dq accumulator");
    }
    for off in [16, 8, 4, 2, 1] {
        emit!(s, "    shfl.sync.bfly.b32 %f7, %f6, {off}, 31, -1;");
        emit!(s, "    add.f32 %f6, %f6, %f7;");
    }
    emit!(s, "    mov.f32 %f20, %f6;                   // Delta_i");
    vec_elem(&mut s, "%f21", "p_lse", "%r6", "%p1");
    emit!(s, "    mul.f32 %f21, %f21, 0f3FB8AA3B;      // L_i in base 2");
    tile_loop_head(&mut s, d);
    emit!(s, "    add.u64 %rd15, %rd3, %rd14;");
    emit!(s, "    add.u64 %rd16, %rd4, %rd14;");
    load_tile(&mut s, d);
    emit!(
        s,
        r#"    bar.sync 0;
    mov.u32 %r12, 0;
    mov.u64 %rd19, %rd12;
    mov.u64 %rd21, %rd13;
KEY_LOOP:
    setp.ge.u32 %p4, %r12, %r9;
    @%p4 bra TILE_DONE;"#
    );
    dot_shared(&mut s, "q", "%rd19", epl);
    emit!(s, "    sub.f32 %f8, %f6, %f21;");
    emit!(s, "    ex2.approx.f32 %f8, %f8;              // P_ij");
    dot_shared(&mut s, "g", "%rd21", epl);
    emit!(s, "    sub.f32 %f9, %f6, %f20;");
    emit!(s, "    mul.f32 %f9, %f9, %f8;                // dS_ij");
    for e in 0..epl {
        emit!(s, "    ld.shared.f32 %f7, [%rd19+{}];", 128 * e);
        emit!(s, "    fma.rn.f32 %a{e}, %f9, %f7, %a{e};");
    }
    emit!(
        s,
        r#"    add.u64 %rd19, %rd19, {row_bytes};
    add.u64 %rd21, %rd21, {row_bytes};
    add.u32 %r12, %r12, 1;
    bra KEY_LOOP;
TILE_DONE:
    bar.sync 0;
    add.u32 %r8, %r8, {TILE};
    bra TILE_LOOP;
FINISH:
    @!%p1 bra DONE;
    ld.param.f32 %f10, [p_scale];"#
    );
    block_ptr(&mut s, "%rd22", "p_dq");
    emit!(s, "    add.u64 %rd22, %rd22, %rd6;");
    for e in 0..epl {
        emit!(s, "    mul.f32 %f11, %a{e}, %f10;");
        emit!(s, "    st.global.f32 [%rd22+{}], %f11;", 128 * e);
    }
    emit!(s, "    setp.ne.u32 %p5, %r3, 0;");
    emit!(s, "    @%p5 bra DONE;");
    vec_addr(&mut s, "p_delta", "%r6");
    emit!(s, "    st.global.f32 [%rd30], %f20;");
    emit!(s, "DONE:\n    ret;\n}}");

    // ---- dK, dV: a warp per key row, queries (S0) and dO (S1) streamed with their L and Delta.
    prologue(
        &mut s,
        d,
        "attention_backward_dkdv(\n    .param .u64 p_dk, .param .u64 p_dv, .param .u64 p_q, .param .u64 p_k, .param .u64 p_v,\n    .param .u64 p_do, .param .u64 p_lse, .param .u64 p_delta, .param .u32 p_n, .param .f32 p_scale\n)",
        &format!(
            "    .reg .f32 %k<{epl}>;\n    .reg .f32 %v<{epl}>;\n    .reg .f32 %a<{epl}>;\n    .reg .f32 %b<{epl}>;\n    .shared .align 4 .f32 Ls[{TILE}];\n    .shared .align 4 .f32 Ds[{TILE}];"
        ),
    );
    for (reg, name) in [("%rd2", "p_q"), ("%rd3", "p_k"), ("%rd4", "p_v"), ("%rd11", "p_do")] {
        block_ptr(&mut s, reg, name);
    }
    emit!(s, "    add.u64 %rd20, %rd3, %rd6;");
    load_row(&mut s, "k", "%rd20", epl, true);
    emit!(s, "    add.u64 %rd20, %rd4, %rd6;");
    load_row(&mut s, "v", "%rd20", epl, false);
    for e in 0..epl {
        emit!(s, "    mov.f32 %a{e}, 0f00000000;        // dk accumulator");
        emit!(s, "    mov.f32 %b{e}, 0f00000000;        // dv accumulator");
    }
    emit!(s, "    mov.u64 %rd23, Ls;");
    emit!(s, "    mov.u64 %rd24, Ds;");
    tile_loop_head(&mut s, d);
    emit!(s, "    add.u64 %rd15, %rd2, %rd14;");
    emit!(s, "    add.u64 %rd16, %rd11, %rd14;");
    load_tile(&mut s, d);
    emit!(s, "    // Threads 0..31 stage L (base 2) and Delta of the tile's queries.");
    emit!(s, "    setp.lt.u32 %p6, %r2, 32;");
    emit!(s, "    add.u32 %r13, %r8, %r2;");
    emit!(s, "    setp.lt.u32 %p7, %r13, %r1;");
    emit!(s, "    and.pred %p7, %p7, %p6;");
    vec_elem(&mut s, "%f13", "p_lse", "%r13", "%p7");
    emit!(s, "    mul.f32 %f13, %f13, 0f3FB8AA3B;");
    vec_elem(&mut s, "%f14", "p_delta", "%r13", "%p7");
    emit!(s, "    add.u64 %rd25, %rd23, %rd8;");
    emit!(s, "    add.u64 %rd26, %rd24, %rd8;");
    emit!(s, "    @%p6 st.shared.f32 [%rd25], %f13;");
    emit!(s, "    @%p6 st.shared.f32 [%rd26], %f14;");
    emit!(
        s,
        r#"    bar.sync 0;
    mov.u32 %r12, 0;
    mov.u64 %rd19, %rd12;
    mov.u64 %rd21, %rd13;
    mov.u64 %rd25, %rd23;
    mov.u64 %rd26, %rd24;
QUERY_LOOP:
    setp.ge.u32 %p4, %r12, %r9;
    @%p4 bra TILE_DONE;
    ld.shared.f32 %f15, [%rd25];            // L_i (base 2)
    ld.shared.f32 %f16, [%rd26];            // Delta_i"#
    );
    dot_shared(&mut s, "k", "%rd19", epl);
    emit!(s, "    sub.f32 %f8, %f6, %f15;");
    emit!(s, "    ex2.approx.f32 %f8, %f8;              // P_ij");
    dot_shared(&mut s, "v", "%rd21", epl);
    emit!(s, "    sub.f32 %f9, %f6, %f16;");
    emit!(s, "    mul.f32 %f9, %f9, %f8;                // dS_ij");
    for e in 0..epl {
        emit!(s, "    ld.shared.f32 %f7, [%rd21+{}];", 128 * e);
        emit!(s, "    fma.rn.f32 %b{e}, %f8, %f7, %b{e};   // dv += P dO_i");
        emit!(s, "    ld.shared.f32 %f7, [%rd19+{}];", 128 * e);
        emit!(s, "    fma.rn.f32 %a{e}, %f9, %f7, %a{e};   // dk += dS q_i");
    }
    emit!(
        s,
        r#"    add.u64 %rd19, %rd19, {row_bytes};
    add.u64 %rd21, %rd21, {row_bytes};
    add.u64 %rd25, %rd25, 4;
    add.u64 %rd26, %rd26, 4;
    add.u32 %r12, %r12, 1;
    bra QUERY_LOOP;
TILE_DONE:
    bar.sync 0;
    add.u32 %r8, %r8, {TILE};
    bra TILE_LOOP;
FINISH:
    @!%p1 bra DONE;
    ld.param.f32 %f10, [p_scale];"#
    );
    block_ptr(&mut s, "%rd27", "p_dk");
    block_ptr(&mut s, "%rd28", "p_dv");
    emit!(s, "    add.u64 %rd27, %rd27, %rd6;");
    emit!(s, "    add.u64 %rd28, %rd28, %rd6;");
    for e in 0..epl {
        emit!(s, "    mul.f32 %f11, %a{e}, %f10;");
        emit!(s, "    st.global.f32 [%rd27+{}], %f11;", 128 * e);
        emit!(s, "    st.global.f32 [%rd28+{}], %b{e};", 128 * e);
    }
    emit!(s, "DONE:\n    ret;\n}}");
    s
}
