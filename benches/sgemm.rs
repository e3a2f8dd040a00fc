//! f32 GEMM: ours (`tensor::cpu::gemm::sgemm`) beside OpenBLAS and the `gemm` crate, 2 threads each,
//! on square sizes and on the products of a CAE-Small / CAE-Base training step (batch 64 × 197 tokens).
//!
//! Run: `cargo bench --bench sgemm` (filter with e.g. `cargo bench --bench sgemm -- ours/512`).
//! The `attn` group (`sgemm/attn.rs`) times the small single-thread products of ViT attention.
//! Prints OpenBLAS's core name, the machine's measured FMA peak, criterion's lines (throughput in
//! elements/s = FLOP/s), then a table with GFLOP/s and the fraction of the peak for each peer.
//!
//! Peers: OpenBLAS from the system (`libopenblas-dev`), declared by hand below (three functions; no
//! binding crate offers `openblas_get_corename`); the `gemm` crate with its AVX-512 (`x86-v4`) kernels.
//! Hardware limit: the FMA peak, measured by a probe of independent FMA chains on every thread.

use std::collections::BTreeMap;
use std::ffi::{c_char, c_int, CStr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, SamplingMode, Throughput};
use tensor::cpu::gemm::{sgemm, Kernel, MatMut, MatRef, Parallelism};

#[path = "sgemm/attn.rs"]
mod attn;

/// Every peer runs on this many threads (the cores of the reference machine).
const THREADS: usize = 2;
/// Tokens in the ViT shapes: those of a training step at batch 64 (64 × 197, 196 patches + cls),
/// or SGEMM_BENCH_TOKENS (the CAE step benchmark's encoder, batch 16 with 98 of 196 patches
/// visible, has 16 × 99 = 1584).
fn tokens() -> usize {
    std::env::var("SGEMM_BENCH_TOKENS").map_or(64 * 197, |t| t.parse().expect("SGEMM_BENCH_TOKENS=<count>"))
}

#[link(name = "openblas")]
extern "C" {
    fn cblas_sgemm(
        layout: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_get_corename() -> *const c_char;
    fn openblas_set_num_threads(n: c_int);
}
const CBLAS_ROW_MAJOR: c_int = 101;
const CBLAS_NO_TRANS: c_int = 111;
const CBLAS_TRANS: c_int = 112;

/// One product C[m, n] = A·B with C row-major; A is stored [k, m] when `a_t`, B stored [n, k] when `b_t`.
struct Shape {
    name: String,
    m: usize,
    n: usize,
    k: usize,
    a_t: bool,
    b_t: bool,
}

impl Shape {
    fn flops(&self) -> f64 {
        2.0 * (self.m * self.n * self.k) as f64
    }

    /// Whether the target covers this shape: every ViT shape (named `model.layer.pass`),
    /// squares from N = 512.
    fn is_target(&self) -> bool {
        self.name.contains('.') || self.m >= 512
    }
}

fn shapes() -> Vec<Shape> {
    let mut v: Vec<Shape> = [256, 512, 1024, 2048]
        .iter()
        .map(|&s| Shape { name: s.to_string(), m: s, n: s, k: s, a_t: false, b_t: false })
        .collect();
    for (model, d) in [("small", 384), ("base", 768)] {
        for (layer, din, dout) in [("qkv", d, 3 * d), ("proj", d, d), ("fc1", d, 4 * d), ("fc2", 4 * d, d)] {
            let name = |p: &str| format!("{model}.{layer}.{p}");
            // forward Y[M, out] = X[M, in]·Wᵀ with W stored [out, in]
            v.push(Shape { name: name("fwd"), m: tokens(), n: dout, k: din, a_t: false, b_t: true });
            // dX[M, in] = dY[M, out]·W
            v.push(Shape { name: name("dx"), m: tokens(), n: din, k: dout, a_t: false, b_t: false });
            // dW[out, in] = dYᵀ·X, dY stored [M, out]
            v.push(Shape { name: name("dw"), m: dout, n: din, k: tokens(), a_t: true, b_t: false });
        }
    }
    v
}

/// Per-iteration seconds of every sample criterion took, by id (for the summary table).
static TIMES: Mutex<BTreeMap<String, Vec<f64>>> = Mutex::new(BTreeMap::new());

/// Threads of the current measurement (quick mode may ask for 1 to see the single-core kernel).
static RUN_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(THREADS);

/// C[m, n] (dense, row-major) = A·B with the `gemm` crate, A and B given by (row, column) strides.
#[allow(clippy::too_many_arguments)]
fn gemm_crate(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    (ars, acs): (usize, usize),
    b: &[f32],
    (brs, bcs): (usize, usize),
    c: &mut [f32],
    threads: usize,
) {
    let is = |x: usize| x as isize;
    let par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    // SAFETY: the callers' buffers cover every element the strides reach (ours checks the same views).
    // gemm's convention: dst := alpha·dst + beta·lhs·rhs; read_dst = false ignores dst.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            is(n),
            false,
            a.as_ptr(),
            is(acs),
            is(ars),
            b.as_ptr(),
            is(bcs),
            is(brs),
            0.0,
            1.0,
            false,
            false,
            false,
            par,
        )
    }
}

fn run_peer(peer: &str, s: &Shape, a: &[f32], b: &[f32], c: &mut [f32]) {
    let threads = RUN_THREADS.load(std::sync::atomic::Ordering::Relaxed);
    let (m, n, k) = (s.m, s.n, s.k);
    // Strides (row, column) of the logical A (m × k) and B (k × n).
    let (ars, acs) = if s.a_t { (1, m) } else { (k, 1) };
    let (brs, bcs) = if s.b_t { (1, k) } else { (n, 1) };
    match peer {
        "ours" => {
            let av = MatRef { data: a, offset: 0, rows: m, cols: k, rs: ars, cs: acs };
            let bv = MatRef { data: b, offset: 0, rows: k, cols: n, rs: brs, cs: bcs };
            let par = if threads > 1 { Parallelism::Rayon } else { Parallelism::None };
            sgemm(1.0, av, bv, 0.0, MatMut::row_major(c, m, n), par);
        }
        // SAFETY: the buffers hold m·k, k·n and m·n floats, matching the strides passed.
        "openblas" => unsafe {
            let ta = if s.a_t { CBLAS_TRANS } else { CBLAS_NO_TRANS };
            let tb = if s.b_t { CBLAS_TRANS } else { CBLAS_NO_TRANS };
            let lda = if s.a_t { m } else { k };
            let ldb = if s.b_t { k } else { n };
            let i = |x: usize| x as c_int;
            cblas_sgemm(
                CBLAS_ROW_MAJOR,
                ta,
                tb,
                i(m),
                i(n),
                i(k),
                1.0,
                a.as_ptr(),
                i(lda),
                b.as_ptr(),
                i(ldb),
                0.0,
                c.as_mut_ptr(),
                i(n),
            );
        },
        "gemm" => gemm_crate(m, n, k, a, (ars, acs), b, (brs, bcs), c, threads),
        _ => unreachable!(),
    }
}

fn bench_sgemm(cr: &mut Criterion) {
    let mut group = cr.benchmark_group("sgemm");
    group.sampling_mode(SamplingMode::Flat);
    let mut seed = 0x9E37_79B9_7F4A_7C15u64;
    let mut fill = |len: usize| -> Vec<f32> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    };
    for s in shapes() {
        let (a, b) = (fill(s.m * s.k), fill(s.k * s.n));
        let mut c = vec![0.0f32; s.m * s.n];
        group.throughput(Throughput::Elements(s.flops() as u64));
        for peer in ["ours", "openblas", "gemm"] {
            let id = format!("{peer}/{}", s.name);
            group.bench_function(BenchmarkId::new(peer, &s.name), |bch| {
                bch.iter_custom(|iters| {
                    let t = Instant::now();
                    for _ in 0..iters {
                        run_peer(peer, &s, &a, &b, &mut c);
                    }
                    let e = t.elapsed();
                    TIMES.lock().unwrap().entry(id.clone()).or_default().push(e.as_secs_f64() / iters as f64);
                    e
                })
            });
        }
    }
    group.finish();
}

/// Without criterion: the peers take turns, one run each per round, and each keeps its best time.
/// On a machine shared with other work this is the steadiest comparison. Shapes can be picked with
/// SGEMM_BENCH_SHAPES=name,name (e.g. `512,small.fc1.fwd`).
///
/// Besides the best times it prints, for each peer, the median over rounds of the speed ratio
/// ours/peer within the round (`paired`): the two runs of a round are back to back, so a slow spell
/// of the machine mostly hits both, where the best-of figures compare runs from different moments.
fn quick(rounds: usize, peak: f64) {
    let pick = std::env::var("SGEMM_BENCH_SHAPES").ok();
    let only = std::env::var("SGEMM_BENCH_PEERS").ok();
    let wanted = |name: &str| pick.as_ref().is_none_or(|p| p.split(',').any(|w| w == name));
    let threads: usize = std::env::var("SGEMM_BENCH_THREADS").map_or(THREADS, |t| t.parse().expect("thread count"));
    RUN_THREADS.store(threads, std::sync::atomic::Ordering::Relaxed);
    // SAFETY: plain FFI call.
    unsafe { openblas_set_num_threads(threads as c_int) };
    let peak = peak * threads as f64 / THREADS as f64;
    println!("quick mode: {threads} thread(s), best of {rounds} interleaved runs, GFLOP/s and % of peak");
    let peers = ["ours", "openblas", "gemm"];
    let runs = |peer: &str| only.as_ref().is_none_or(|o| o.split(',').any(|w| w == peer));
    let running: Vec<usize> = (0..peers.len()).filter(|&p| runs(peers[p])).collect();
    // SGEMM_BENCH_COLD=<MiB>: before each run, write that much elsewhere on this thread, so that the
    // operands come from memory (or far in L3), not from the caches of the previous run, and the
    // thread pools have gone idle, as after a stretch of single-threaded work.
    let mut evict = vec![0u8; std::env::var("SGEMM_BENCH_COLD").map_or(0, |m| m.parse::<usize>().expect("MiB") << 20)];
    let mut tally = Tally::default();
    for s in shapes().into_iter().filter(|s| wanted(&s.name)) {
        let (a, b) = (vec![0.25f32; s.m * s.k], vec![0.5f32; s.k * s.n]);
        let mut c = vec![0.0f32; s.m * s.n];
        let mut times: [Vec<f64>; 3] = Default::default();
        for round in 0..rounds {
            // Each peer goes first in turn, so whatever a run leaves behind (its data in cache, its
            // pool's threads still spinning) falls on every peer alike.
            for i in 0..running.len() {
                let p = running[(round + i) % running.len()];
                let peer = peers[p];
                evict.fill(round as u8);
                // One thread: count only the time this thread ran (the machine may be shared).
                let (t, cpu) = (Instant::now(), thread_cpu_seconds());
                run_peer(peer, &s, &a, &b, &mut c);
                let took = if threads == 1 { thread_cpu_seconds() - cpu } else { t.elapsed().as_secs_f64() };
                times[p].push(took);
            }
        }
        let best = times.each_ref().map(|t| t.iter().copied().fold(f64::INFINITY, f64::min));
        let g: Vec<String> = best
            .iter()
            .map(|t| format!("{:7.1} ({:4.1}%)", s.flops() / t / 1e9, 100.0 * s.flops() / t / peak))
            .collect();
        let ratios: Vec<(usize, f64)> = (1..3)
            .filter(|&p| runs(peers[p]) && runs("ours"))
            .map(|p| (p, median_ratio(&times[p], &times[0])))
            .collect();
        let paired: Vec<String> = ratios.iter().map(|&(p, r)| format!("{} {r:.3}", peers[p])).collect();
        if s.is_target() {
            tally.add(&ratios);
        }
        println!(
            "{:<16} ours {}  openblas {}  gemm {}  ours/best {:.3}  paired: {}",
            s.name,
            g[0],
            g[1],
            g[2],
            best[1].min(best[2]) / best[0],
            paired.join(", ")
        );
    }
    tally.print("paired");
}

/// How many of the target shapes (N ≥ 512 and the ViT shapes) ours ran at least as fast as each
/// peer, by the paired ratio: the target is all of them, against both peers.
#[derive(Default)]
struct Tally {
    shapes: usize,
    /// At or above OpenBLAS, at or above `gemm`, at or above both.
    at_or_above: [usize; 3],
    /// Whether OpenBLAS, `gemm` ran at all (SGEMM_BENCH_PEERS may leave one out).
    ran: [bool; 2],
}

impl Tally {
    /// One shape's paired ratios ours/peer, by peer index (1 OpenBLAS, 2 `gemm`).
    fn add(&mut self, ratios: &[(usize, f64)]) {
        self.shapes += 1;
        for &(p, r) in ratios {
            self.ran[p - 1] = true;
            self.at_or_above[p - 1] += usize::from(r >= 1.0);
        }
        self.at_or_above[2] += usize::from(ratios.len() == 2 && ratios.iter().all(|&(_, r)| r >= 1.0));
    }

    /// One line: on how many shapes ours/peer was at least 1, by the ratio `how` names.
    fn print(&self, how: &str) {
        let counts: Vec<String> = [(0, "openblas"), (1, "gemm")]
            .into_iter()
            .filter(|&(p, _)| self.ran[p])
            .map(|(p, name)| format!("{name} {}", self.at_or_above[p]))
            .chain(self.ran.iter().all(|&r| r).then(|| format!("both {}", self.at_or_above[2])))
            .collect();
        if !counts.is_empty() {
            let n = self.shapes;
            println!("ours ≥ peer ({how}) on the {n} target shapes (N ≥ 512, ViT): {}", counts.join(", "));
        }
    }
}

/// The median over rounds of `num[r] / den[r]`.
fn median_ratio(num: &[f64], den: &[f64]) -> f64 {
    let mut r: Vec<f64> = num.iter().zip(den).map(|(n, d)| n / d).collect();
    r.sort_by(f64::total_cmp);
    r[r.len() / 2]
}

/// CPU time of the calling thread, in seconds (Linux `CLOCK_THREAD_CPUTIME_ID`).
fn thread_cpu_seconds() -> f64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    }
    const CLOCK_THREAD_CPUTIME_ID: c_int = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid timespec for the call to fill.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.sec as f64 + ts.nsec as f64 * 1e-9
}

/// The FMA peak in FLOP/s: every thread runs independent FMA chains on registers, all at once.
/// Short bursts, best of many: on a shared machine some burst finds both cores free.
fn fma_peak() -> f64 {
    const ITERS: u64 = 2_000_000; // ~10 ms per burst
    const BURSTS: usize = 40;
    let mut best = 0.0f64;
    for _ in 0..BURSTS {
        let t = Instant::now();
        let flops_per_iter = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..THREADS).map(|_| sc.spawn(|| fma_probe::burn(ITERS))).collect();
            hs.into_iter().map(|h| h.join().unwrap()).next().unwrap()
        });
        best = best.max(flops_per_iter * (ITERS * THREADS as u64) as f64 / t.elapsed().as_secs_f64());
    }
    best
}

mod fma_probe {
    /// Runs `iters` rounds of independent FMAs (enough chains to hide the latency on two ports) on
    /// the widest vectors the CPU has; returns the FLOPs of one round (0 where there is no probe).
    pub fn burn(iters: u64) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx512f") {
            // SAFETY: AVX-512F was just detected.
            return unsafe { burn512(iters) };
        }
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: AVX2 and FMA were just detected.
            return unsafe { burn256(iters) };
        }
        0.0
    }

    /// The AVX2 probe: 12 chains of ymm FMAs, as many accumulators as 16 registers leave room for
    /// (2 ports × 4-5 cycles of latency need 8-10).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn burn256(iters: u64) -> f64 {
        use std::arch::x86_64::*;
        let mut acc = [_mm256_set1_ps(1.0); 12];
        let (x, y) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm256_fmadd_ps(*a, x, y);
            }
        }
        let total = acc.iter().fold(_mm256_setzero_ps(), |s, &a| _mm256_add_ps(s, a));
        let mut lanes = [0.0f32; 8];
        _mm256_storeu_ps(lanes.as_mut_ptr(), total);
        std::hint::black_box(lanes);
        (12 * 8 * 2) as f64
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn burn512(iters: u64) -> f64 {
        use std::arch::x86_64::*;
        let mut acc = [_mm512_set1_ps(1.0); 24];
        let (x, y) = (_mm512_set1_ps(0.999_999), _mm512_set1_ps(1e-7));
        for _ in 0..iters {
            for a in acc.iter_mut() {
                *a = _mm512_fmadd_ps(*a, x, y);
            }
        }
        let total = acc.iter().fold(_mm512_setzero_ps(), |s, &a| _mm512_add_ps(s, a));
        std::hint::black_box(_mm512_reduce_add_ps(total));
        (24 * 16 * 2) as f64
    }
}

/// Marks a process this bench re-executed itself into (its value says why), so it happens once each.
const STAGE_VAR: &str = "SGEMM_BENCH_OPENBLAS_STAGE";
/// OpenBLAS core names with AVX-512 kernels, newest first (0.3.21 stops at Cooperlake).
const AVX512_CORES: [&str; 3] = ["SapphireRapids", "Cooperlake", "SkylakeX"];

/// OpenBLAS reads OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE when the library loads, before `main`: if they
/// are set, start this program again without them (only this process; tests never see this).
fn reexec_without_openblas_env() {
    const VARS: [&str; 2] = ["OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"];
    if std::env::var_os(STAGE_VAR).is_none() && VARS.iter().any(|v| std::env::var_os(v).is_some()) {
        let mut cmd = self_command();
        for v in VARS {
            cmd.env_remove(v);
        }
        exec(cmd.env(STAGE_VAR, "env-cleared"));
    }
}

/// OpenBLAS picks its kernels from the CPU model; a release older than the CPU (Debian's 0.3.21 does
/// not know Emerald Rapids, model 207) falls back to Prescott (SSE3). That is no fair peer: on an
/// AVX-512 CPU, start again with the newest AVX-512 core this library names.
fn reexec_with_avx512_openblas_core(detected: &str, library: &[u8]) {
    let forced = std::env::var(STAGE_VAR).is_ok_and(|s| s == "core-forced");
    #[cfg(target_arch = "x86_64")]
    let avx512 = is_x86_feature_detected!("avx512f");
    #[cfg(not(target_arch = "x86_64"))]
    let avx512 = false;
    if forced || !avx512 || AVX512_CORES.contains(&detected) {
        return;
    }
    let known =
        |name: &str| library.windows(name.len() + 1).any(|w| w[..name.len()] == *name.as_bytes() && w[name.len()] == 0);
    if let Some(core) = AVX512_CORES.iter().find(|c| known(c)) {
        println!("OpenBLAS detected core {detected} on this AVX-512 CPU; restarting with OPENBLAS_CORETYPE={core}");
        exec(self_command().env("OPENBLAS_CORETYPE", core).env(STAGE_VAR, "core-forced"));
    }
}

/// OpenBLAS's idle worker threads busy-wait for new work for about 2^28 cycles (a tenth of a second)
/// after each call before they sleep. With the peers taking turns on 2 pinned cores, those spinning
/// threads share the cores with the next peer's threads: on the reference machine that halved ours
/// and `gemm` on 256–1024 and small.proj.dx in some rounds while OpenBLAS was unaffected. The
/// shortest timeout OpenBLAS accepts (2^4 cycles) makes its threads sleep at once, like rayon's.
/// OpenBLAS reads it when the library loads, so set it by starting again (a value already set wins).
const OPENBLAS_TIMEOUT_VAR: &str = "OPENBLAS_THREAD_TIMEOUT";
const OPENBLAS_SHORTEST_TIMEOUT: &str = "4";

fn reexec_with_short_openblas_spin() {
    if std::env::var_os(OPENBLAS_TIMEOUT_VAR).is_none() {
        exec(self_command().env(OPENBLAS_TIMEOUT_VAR, OPENBLAS_SHORTEST_TIMEOUT));
    }
}

fn self_command() -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("path of the bench binary"));
    cmd.args(std::env::args_os().skip(1));
    cmd
}

fn exec(cmd: &mut std::process::Command) -> ! {
    use std::os::unix::process::CommandExt;
    let err = cmd.exec();
    panic!("could not re-exec the bench: {err}");
}

/// The bytes of the OpenBLAS library this process loaded (to learn which core names it knows).
fn openblas_library_bytes() -> Vec<u8> {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap_or_default();
    maps.lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .find(|p| p.contains("libopenblas"))
        .and_then(|p| std::fs::read(p).ok())
        .unwrap_or_default()
}

fn main() {
    reexec_with_short_openblas_spin();
    reexec_without_openblas_env();
    rayon::ThreadPoolBuilder::new().num_threads(THREADS).build_global().expect("rayon pool");
    // SAFETY: plain FFI call; the returned name is a static C string.
    let corename = || unsafe { CStr::from_ptr(openblas_get_corename()).to_string_lossy().into_owned() };
    reexec_with_avx512_openblas_core(&corename(), &openblas_library_bytes());
    let core = corename();
    // SAFETY: plain FFI call.
    unsafe { openblas_set_num_threads(THREADS as c_int) };
    let peak = fma_peak();
    let how = std::env::var(STAGE_VAR).unwrap_or_else(|_| "as detected".into());
    let timeout = std::env::var(OPENBLAS_TIMEOUT_VAR).unwrap_or_default();
    println!(
        "sgemm bench: {THREADS} threads; ours uses kernel {}; OpenBLAS core: {core} ({how}), thread timeout 2^{timeout}",
        Kernel::best().name()
    );
    println!("FMA peak (probe, {THREADS} threads): {:.1} GFLOP/s", peak / 1e9);

    if let Ok(rounds) = std::env::var("SGEMM_BENCH_ATTN") {
        attn::quick(rounds.parse().expect("SGEMM_BENCH_ATTN=<rounds>"), thread_cpu_seconds);
        return;
    }
    if let Ok(rounds) = std::env::var("SGEMM_BENCH_QUICK") {
        quick(rounds.parse().expect("SGEMM_BENCH_QUICK=<rounds>"), peak);
        return;
    }
    let mut cr = Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench_sgemm(&mut cr);
    attn::bench(&mut cr);
    cr.final_summary();

    let times = TIMES.lock().unwrap();
    let gflops = |peer: &str, s: &Shape| {
        times.get(&format!("{peer}/{}", s.name)).map(|v| {
            let mut v = v.clone();
            v.sort_by(f64::total_cmp);
            s.flops() / v[v.len() / 2] / 1e9
        })
    };
    println!(
        "\nsgemm summary: GFLOP/s (median sample) and % of the {:.0} GFLOP/s FMA peak; OpenBLAS core {core}",
        peak / 1e9
    );
    println!("{:<16} {:>22} {:>16} {:>16} {:>16} {:>9}", "shape", "m×n×k", "ours", "openblas", "gemm", "ours/best");
    let mut tally = Tally::default();
    for s in shapes() {
        let cols: Vec<Option<f64>> = ["ours", "openblas", "gemm"].iter().map(|p| gflops(p, &s)).collect();
        if cols.iter().all(Option::is_none) {
            continue;
        }
        if let Some(ours) = cols[0].filter(|_| s.is_target()) {
            let ratios: Vec<(usize, f64)> = (1..3).filter_map(|p| cols[p].map(|g| (p, ours / g))).collect();
            tally.add(&ratios);
        }
        let cell = |g: Option<f64>| g.map_or("-".to_string(), |g| format!("{g:7.1} ({:4.1}%)", 100.0 * g * 1e9 / peak));
        let best_peer = cols[1].unwrap_or(0.0).max(cols[2].unwrap_or(0.0));
        let ratio = match cols[0] {
            Some(o) if best_peer > 0.0 => format!("{:.3}", o / best_peer),
            _ => "-".to_string(),
        };
        let dims = format!("{}×{}×{}", s.m, s.n, s.k);
        println!(
            "{:<16} {:>22} {:>16} {:>16} {:>16} {:>9}",
            s.name,
            dims,
            cell(cols[0]),
            cell(cols[1]),
            cell(cols[2]),
            ratio
        );
    }
    tally.print("median samples");
}
