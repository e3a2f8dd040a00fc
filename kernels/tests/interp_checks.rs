//! Each check of the interpreter, shown by a faulty program that must fail with a message naming
//! the kernel, the instruction's line and the thread; and the fixed program passing.

mod interp_util;

use std::sync::Arc;

use interp_util::*;
use kernels::interp::Interpreter;
use kernels::{Arg, Error, Gpu};

fn fails(kernel: &str, block: u32, args: &[Arg], buffer_words: usize) -> String {
    let gpu = gpu_with("checks");
    let out = zeros::<u32>(&gpu, buffer_words);
    let mut all = vec![out.arg()];
    all.extend_from_slice(args);
    launch_err(&gpu, "checks", kernel, cfg(1, block), &all)
}

fn assert_mentions(msg: &str, parts: &[&str]) {
    eprintln!("{msg}");
    for p in parts {
        assert!(msg.contains(p), "message lacks {p:?}: {msg}");
    }
}

#[test]
fn out_of_bounds_global_store() {
    let msg = fails("oob_global", 64, &[], 32);
    assert_mentions(
        &msg,
        &["kernel oob_global", "line 15", "st.global.u32", "tid=(32,0,0)", "past the end of the 128-byte"],
    );
}

#[test]
fn out_of_bounds_shared_store() {
    let msg = fails("oob_shared", 64, &[], 1);
    assert_mentions(
        &msg,
        &["kernel oob_shared", "line 28", "tid=(32,0,0)", "outside the CTA's 128 bytes of shared memory"],
    );
}

#[test]
fn shared_memory_race_without_barrier() {
    let msg = fails("race", 64, &[Arg::U32(0)], 64);
    assert_mentions(
        &msg,
        &[
            "kernel race",
            "line 55",
            "ld.shared.u32",
            "tid=(0,0,0)",
            "race at offset 4",
            "thread tid=(1,0,0)",
            "(line 46)",
        ],
    );
    let gpu = gpu_with("checks");
    let out = zeros::<u32>(&gpu, 64);
    gpu.launch("checks", "race", &cfg(1, 64), &[out.arg(), Arg::U32(1)]).unwrap();
    assert_eq!(out.read().unwrap(), (0..64).map(|t| (t + 1) % 64).collect::<Vec<u32>>());
}

#[test]
fn halves_of_a_warp_at_different_barriers() {
    let msg = fails("divergent_barrier", 32, &[], 1);
    assert_mentions(
        &msg,
        &[
            "kernel divergent_barrier",
            "line 73",
            "bar.sync",
            "tid=(16,0,0)",
            "divergent barrier",
            "tid=(0,0,0) of the same warp is at line 70",
        ],
    );
}

#[test]
fn threads_exit_while_others_wait_at_a_barrier() {
    let msg = fails("exit_before_barrier", 64, &[], 1);
    assert_mentions(&msg, &["kernel exit_before_barrier", "tid=(40,0,0) exited", "barrier on line 86"]);
}

#[test]
fn read_of_an_unwritten_register() {
    let msg = fails("uninit", 32, &[], 1);
    assert_mentions(&msg, &["kernel uninit", "line 97", "add.u32 %r3, %r1, %r2", "tid=(0,0,0)", "%r2 is read before"]);
}

#[test]
fn misaligned_load() {
    let msg = fails("misaligned", 1, &[], 4);
    assert_mentions(&msg, &["kernel misaligned", "line 108", "misaligned 4-byte", "tid=(0,0,0)"]);
}

#[test]
fn shuffle_with_absent_members() {
    let msg = fails("partial_shfl", 32, &[], 1);
    assert_mentions(&msg, &["kernel partial_shfl", "line 121", "lane 1 is in the member mask"]);
}

#[test]
fn endless_loop_hits_the_step_limit() {
    let gpu = Gpu::new(Arc::new(Interpreter::new().with_step_limit(10_000)));
    gpu.load("checks", &ptx("checks")).unwrap();
    let out = zeros::<u32>(&gpu, 1);
    let msg = launch_err(&gpu, "checks", "endless", cfg(1, 32), &[out.arg()]);
    assert_mentions(&msg, &["kernel endless", "more than 10000 instructions"]);
}

#[test]
fn launch_argument_mismatch() {
    let gpu = gpu_with("checks");
    let e = gpu.launch("checks", "race", &cfg(1, 32), &[Arg::U64(0)]).unwrap_err();
    assert!(matches!(e, Error::Launch { .. }), "{e}");
    let e = gpu.launch("checks", "race", &cfg(1, 32), &[Arg::U64(0), Arg::U64(1)]).unwrap_err();
    assert!(e.to_string().contains("parameter fixed has 4"), "{e}");
    let huge = kernels::LaunchConfig { shared_bytes: 300 * 1024, ..cfg(1, 32) };
    let e = gpu.launch("checks", "race", &huge, &[Arg::U64(0), Arg::U32(1)]).unwrap_err();
    assert!(e.to_string().contains("bytes of shared memory exceed"), "{e}");
    let e = gpu.launch("checks", "race", &cfg(1, 2048), &[Arg::U64(0), Arg::U32(1)]).unwrap_err();
    assert!(e.to_string().contains("invalid launch shape"), "{e}");
    let e = gpu.launch("checks", "nope", &cfg(1, 32), &[]).unwrap_err();
    assert!(matches!(e, Error::UnknownKernel { .. }), "{e}");
}

#[test]
fn parse_errors_name_module_and_line() {
    let gpu = Gpu::interpreter();
    let bad = ".version 8.0\n.target sm_80\n.address_size 64\n.visible .entry k()\n{\n    .reg .b32 %r<2>;\n    frobnicate.b32 %r1, %r0;\n}\n";
    let e = gpu.load("bad", bad).unwrap_err().to_string();
    assert_mentions(&e, &["PTX bad", "line 7", "unsupported instruction `frobnicate`"]);
    let e = gpu.load("bad2", &bad.replace("frobnicate.b32 %r1, %r0", "add.u32 %r1, %r9, 1")).unwrap_err().to_string();
    assert_mentions(&e, &["PTX bad2", "line 7", "undeclared register %r9"]);
    let e = gpu.load("bad3", &bad.replace("frobnicate.b32 %r1, %r0;", "bra NOWHERE;")).unwrap_err().to_string();
    assert_mentions(&e, &["line 7", "undefined label NOWHERE"]);
    let e = gpu.load("bad4", &bad.replace("}\n", "")).unwrap_err().to_string();
    assert_mentions(&e, &["PTX bad4", "unexpected end of module"]);
}

#[test]
fn damaged_modules_are_errors_not_panics() {
    // Every test module with one line dropped, or cut short at that line: parsing must return (a
    // module or an error) without panicking.
    for name in ["int_ops", "float_ops", "control", "warp", "memory", "tensor", "checks", "programs"] {
        let src = ptx(name);
        let lines: Vec<&str> = src.lines().collect();
        for i in 0..lines.len() {
            let dropped = [&lines[..i], &lines[i + 1..]].concat().join("\n");
            // Cutting short is checked at every 7th line: its failures are all alike.
            let cut = if i % 7 == 0 { lines[..i].join("\n") } else { String::new() };
            for (what, text) in [("without", dropped), ("cut at", cut)] {
                let result = std::panic::catch_unwind(|| kernels::interp::parser::parse(&text).map(|_| ()));
                assert!(result.is_ok(), "{name} {what} line {}: the parser panicked", i + 1);
            }
        }
    }
}

#[test]
fn damaged_kernels_fail_cleanly_when_run() {
    // Each kernel with one line dropped is run (when it still parses): any outcome but a panic.
    let cases: [(&str, &str, u32, usize); 4] = [
        ("control", "diverge", 64, 2),
        ("warp", "shuffles", 32, 1),
        ("tensor", "gemm_pipelined", 64, 3),
        ("programs", "layernorm", 64, 6),
    ];
    for (module, kernel, block, ptrs) in cases {
        let src = ptx(module);
        let lines: Vec<&str> = src.lines().collect();
        // Only the kernel's own lines: dropping others would run the same kernel again.
        let start = lines.iter().position(|l| l.contains(&format!(".entry {kernel}("))).expect("kernel in module");
        let end = start + lines[start..].iter().position(|l| *l == "}").expect("end of kernel");
        for i in start..=end {
            let text = [&lines[..i], &lines[i + 1..]].concat().join("\n");
            let gpu = Gpu::new(Arc::new(Interpreter::new().with_step_limit(100_000)));
            if gpu.load(module, &text).is_err() {
                continue;
            }
            let bufs: Vec<_> = (0..ptrs).map(|_| zeros::<u32>(&gpu, 4096)).collect();
            let mut args: Vec<Arg> = bufs.iter().map(|b| b.arg()).collect();
            if kernel == "layernorm" {
                args.extend([Arg::U32(64), Arg::F32(1e-5)]);
            }
            let launch = || gpu.launch(module, kernel, &cfg(1, block), &args);
            let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(launch));
            assert!(run.is_ok(), "{module}::{kernel} without line {}: the interpreter panicked", i + 1);
        }
    }
}

#[test]
fn warp_sync_orders_a_shared_memory_exchange() {
    let msg = fails("warp_exchange", 32, &[Arg::U32(0)], 32);
    assert_mentions(&msg, &["kernel warp_exchange", "ld.shared.u32", "race", "tid=(1,0,0)"]);
    let gpu = gpu_with("checks");
    let out = zeros::<u32>(&gpu, 32);
    gpu.launch("checks", "warp_exchange", &cfg(1, 32), &[out.arg(), Arg::U32(1)]).unwrap();
    assert_eq!(out.read().unwrap(), (0..32).map(|l| 3 * (l ^ 1)).collect::<Vec<u32>>());
}
