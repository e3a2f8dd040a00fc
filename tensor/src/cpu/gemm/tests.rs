//! Every available kernel against `gemm_naive`: awkward shapes, transposed and strided views, alpha and
//! beta (beta = 0 over NaN), serial and parallel; plus a property test over random small cases.

use proptest::prelude::*;

use super::*;

/// A small deterministic generator (xorshift64*): tests need no `rand`.
struct Rng(u64);
impl Rng {
    fn uniform(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0
    }
}

/// How a matrix is laid out in its slice.
#[derive(Clone, Copy, Debug)]
enum Layout {
    RowMajor,
    ColMajor,
    /// A sub-block of a larger row-major matrix (row stride wider than the block, non-zero offset).
    SubRowMajor,
    /// A sub-block of a larger column-major matrix.
    SubColMajor,
    /// Neither stride is 1.
    Gapped,
}
const LAYOUTS: [Layout; 5] =
    [Layout::RowMajor, Layout::ColMajor, Layout::SubRowMajor, Layout::SubColMajor, Layout::Gapped];

/// A matrix in `layout`: its slice (filled with `fill` outside the view), offset and strides.
fn build(rows: usize, cols: usize, layout: Layout, rng: &mut Rng, fill: f32) -> (Vec<f32>, usize, usize, usize) {
    let (offset, rs, cs, len) = match layout {
        Layout::RowMajor => (0, cols, 1, rows * cols),
        Layout::ColMajor => (0, 1, rows, rows * cols),
        Layout::SubRowMajor => (2 * (cols + 3) + 1, cols + 3, 1, (rows + 3) * (cols + 3)),
        Layout::SubColMajor => (3 * (rows + 5) + 2, 1, rows + 5, (rows + 5) * (cols + 4)),
        Layout::Gapped => (1, 2 * cols + 1, 2, (2 * cols + 1) * rows + 2),
    };
    let mut data = vec![fill; len.max(1)];
    for i in 0..rows {
        for j in 0..cols {
            data[offset + i * rs + j * cs] = rng.uniform();
        }
    }
    (data, offset, rs, cs)
}

struct Case {
    m: usize,
    n: usize,
    k: usize,
    layouts: [Layout; 3],
    alpha: f32,
    beta: f32,
    par: Parallelism,
}

/// Runs `case` on `kernel` and on `gemm_naive`; checks the view against a k-scaled f32 bound and
/// that nothing outside the C view was written.
fn check(kernel: Kernel, case: &Case, seed: u64) {
    let Case { m, n, k, layouts: [la, lb, lc], alpha, beta, par } = *case;
    let mut rng = Rng(seed | 1);
    let (ad, ao, ars, acs) = build(m, k, la, &mut rng, 7.0);
    let (bd, bo, brs, bcs) = build(k, n, lb, &mut rng, 7.0);
    let (mut cd, co, crs, ccs) = build(m, n, lc, &mut rng, -3.0);
    if beta == 0.0 {
        // beta = 0 must not read C: NaN there must vanish.
        for i in 0..m {
            for j in 0..n {
                cd[co + i * crs + j * ccs] = f32::NAN;
            }
        }
    }
    let a = MatRef { data: &ad, offset: ao, rows: m, cols: k, rs: ars, cs: acs };
    let b = MatRef { data: &bd, offset: bo, rows: k, cols: n, rs: brs, cs: bcs };
    let mut expect = cd.clone();
    gemm_naive(alpha, a, b, beta, MatMut { data: &mut expect, offset: co, rows: m, cols: n, rs: crs, cs: ccs });
    // The error scale of each element: |alpha|·(|A|·|B|) + |beta·C|.
    let (aabs, babs): (Vec<f32>, Vec<f32>) =
        (ad.iter().map(|x| x.abs()).collect(), bd.iter().map(|x| x.abs()).collect());
    let mut scale_c = vec![0.0f32; cd.len()];
    let mag = MatMut { data: &mut scale_c, offset: co, rows: m, cols: n, rs: crs, cs: ccs };
    gemm_naive(alpha.abs(), MatRef { data: &aabs, ..a }, MatRef { data: &babs, ..b }, 0.0, mag);
    let before = cd.clone();
    sgemm_with(
        kernel,
        alpha,
        a,
        b,
        beta,
        MatMut { data: &mut cd, offset: co, rows: m, cols: n, rs: crs, cs: ccs },
        par,
    );
    let tol = (k as f32 + 4.0) * f32::EPSILON;
    let mut in_view = vec![false; cd.len()];
    for i in 0..m {
        for j in 0..n {
            in_view[co + i * crs + j * ccs] = true;
        }
    }
    for idx in 0..cd.len() {
        if !in_view[idx] {
            assert!(cd[idx].to_bits() == before[idx].to_bits(), "{kernel:?} wrote outside C at {idx}");
            continue;
        }
        let old = if beta == 0.0 { 0.0 } else { (beta * before[idx]).abs() };
        let bound = tol * (scale_c[idx] + old) + 1e-30;
        assert!(
            (cd[idx] - expect[idx]).abs() <= bound,
            "{kernel:?} m={m} n={n} k={k} {la:?}/{lb:?}/{lc:?} alpha={alpha} beta={beta} {par:?}: \
             element {idx} is {} expected {} (bound {bound})",
            cd[idx],
            expect[idx]
        );
    }
}

const SMALL: [usize; 8] = [1, 2, 7, 15, 16, 17, 33, 64];

#[test]
fn awkward_small_shapes_every_kernel_every_layout() {
    let mut seed = 1;
    for kernel in Kernel::available() {
        for &m in &SMALL {
            for &n in &SMALL {
                for &k in &[0, 1, 7, 16, 33] {
                    seed += 1;
                    let pick = |s: u64| LAYOUTS[(s % 5) as usize];
                    let layouts = [pick(seed), pick(seed / 5), pick(seed / 25)];
                    let (alpha, beta) = [(1.0, 0.0), (0.5, 1.0), (-2.0, 0.25)][(seed % 3) as usize];
                    let par = if seed % 2 == 0 { Parallelism::None } else { Parallelism::Rayon };
                    check(kernel, &Case { m, n, k, layouts, alpha, beta, par }, seed);
                }
            }
        }
    }
}

#[test]
fn larger_shapes_cross_every_block_boundary() {
    // Shapes past MC, KC and NC (with remainders), in the layouts of the ViT products. Two have
    // passes deep enough for B to be read in place (k = 1300 and 700), once with each AVX-512 tile
    // shape (n = 130 and 250 rows once turned around for a row-major C); the next has more rows
    // than the driver packs in one group (n = 4200 once turned around); the last takes the 16-row
    // AVX-512 tile (n = 12) across NC and KC, with B in place.
    let shapes = [
        (197, 257, 64),
        (1000, 33, 17),
        (17, 1000, 33),
        (33, 17, 1000),
        (257, 197, 1000),
        (64, 3100, 5),
        (100, 130, 1300),
        (90, 250, 700),
        (40, 4200, 9),
        (3100, 12, 1300),
    ];
    for kernel in Kernel::available() {
        for (s, &(m, n, k)) in shapes.iter().enumerate() {
            for (l, layouts) in [
                [Layout::RowMajor; 3],
                [Layout::RowMajor, Layout::ColMajor, Layout::RowMajor],
                [Layout::ColMajor, Layout::RowMajor, Layout::SubRowMajor],
            ]
            .into_iter()
            .enumerate()
            {
                let par = if l == 1 { Parallelism::None } else { Parallelism::Rayon };
                let case = Case { m, n, k, layouts, alpha: 1.0, beta: if s % 2 == 0 { 0.0 } else { 1.0 }, par };
                check(kernel, &case, 1000 + s as u64);
            }
        }
    }
}

#[test]
fn every_layout_combination_with_column_major_c() {
    for kernel in Kernel::available() {
        for (s, layouts) in
            LAYOUTS.iter().flat_map(|&a| LAYOUTS.iter().flat_map(move |&b| LAYOUTS.map(|c| [a, b, c]))).enumerate()
        {
            let case = Case { m: 45, n: 29, k: 70, layouts, alpha: 0.75, beta: -1.5, par: Parallelism::Rayon };
            check(kernel, &case, 77 + s as u64);
        }
    }
}

#[test]
fn dgemm_matches_naive() {
    for (m, n, k) in [(1, 1, 1), (17, 33, 300), (300, 7, 2), (64, 270, 130), (5, 5, 0)] {
        let mut rng = Rng(9);
        let a: Vec<f64> = (0..m * k).map(|_| rng.uniform() as f64).collect();
        let b: Vec<f64> = (0..k * n).map(|_| rng.uniform() as f64).collect();
        let mut c = vec![f64::NAN; m * n];
        let mut expect = vec![0.0; m * n];
        // B given transposed (column-major) to exercise the strided packing.
        let bt = MatRef { data: &b, offset: 0, rows: k, cols: n, rs: 1, cs: k };
        gemm_naive(2.0, MatRef::row_major(&a, m, k), bt, 0.0, MatMut::row_major(&mut expect, m, n));
        dgemm(2.0, MatRef::row_major(&a, m, k), bt, 0.0, MatMut::row_major(&mut c, m, n), Parallelism::Rayon);
        for (x, y) in c.iter().zip(&expect) {
            assert!((x - y).abs() <= 1e-12 * (k as f64 + 1.0), "dgemm {m}×{n}×{k}: {x} vs {y}");
        }
    }
}

#[test]
#[should_panic(expected = "inconsistent dimensions")]
fn mismatched_dimensions_panic() {
    let (a, b, mut c) = (vec![0.0; 6], vec![0.0; 6], vec![0.0; 4]);
    sgemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&b, 2, 3),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
        Parallelism::None,
    );
}

#[test]
#[should_panic(expected = "reaches past its slice")]
fn out_of_bounds_view_panics() {
    let (a, b, mut c) = (vec![0.0; 6], vec![0.0; 5], vec![0.0; 4]);
    sgemm(
        1.0,
        MatRef::row_major(&a, 2, 3),
        MatRef::row_major(&b, 3, 2),
        0.0,
        MatMut::row_major(&mut c, 2, 2),
        Parallelism::None,
    );
}

fn layout() -> impl Strategy<Value = Layout> {
    (0..5usize).prop_map(|i| LAYOUTS[i])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]
    #[test]
    fn random_small_cases(m in 0..40usize, n in 0..40usize, k in 0..40usize,
                          la in layout(), lb in layout(), lc in layout(),
                          ab in 0..4usize, kernel in 0..3usize, par in any::<bool>(), seed in any::<u64>()) {
        let kernels = Kernel::available();
        let (alpha, beta) = [(1.0, 0.0), (1.0, 1.0), (-0.5, 2.0), (0.0, 0.5)][ab];
        let par = if par { Parallelism::Rayon } else { Parallelism::None };
        check(kernels[kernel % kernels.len()], &Case { m, n, k, layouts: [la, lb, lc], alpha, beta, par }, seed);
    }
}

/// `sgemm_bias` against the naive product plus the bias, on every kernel: both orientations (a
/// row-major C is turned around, so the bias runs along the kernel's rows; a column-major one is
/// not), partial tiles, a C without unit stride, passes over k after the first (which must not add
/// the bias again), row groups, and the k = 0 and alpha = 0 shortcuts.
#[test]
fn bias_is_added_once_per_element_in_every_orientation() {
    let shapes = [(5, 7, 3), (197, 257, 64), (33, 17, 1000), (100, 130, 1300), (40, 4200, 9), (4, 5, 0)];
    let mut seed = 5;
    for kernel in Kernel::available() {
        for &(m, n, k) in &shapes {
            for lc in [Layout::RowMajor, Layout::ColMajor, Layout::SubRowMajor, Layout::Gapped] {
                for alpha in [0.75, 0.0] {
                    seed += 1;
                    let mut rng = Rng(seed);
                    let (ad, ao, ars, acs) = build(m, k, Layout::RowMajor, &mut rng, 7.0);
                    let (bd, bo, brs, bcs) = build(k, n, Layout::ColMajor, &mut rng, 7.0);
                    let (mut cd, co, crs, ccs) = build(m, n, lc, &mut rng, -3.0);
                    let bias: Vec<f32> = (0..n).map(|_| rng.uniform()).collect();
                    let a = MatRef { data: &ad, offset: ao, rows: m, cols: k, rs: ars, cs: acs };
                    let b = MatRef { data: &bd, offset: bo, rows: k, cols: n, rs: brs, cs: bcs };
                    let mut expect = cd.clone();
                    let view = |d| MatMut { data: d, offset: co, rows: m, cols: n, rs: crs, cs: ccs };
                    gemm_naive(alpha, a, b, 0.0, view(&mut expect));
                    let before = cd.clone();
                    sgemm_bias_with(kernel, alpha, a, b, &bias, view(&mut cd), Parallelism::Rayon);
                    let tol = (k as f32 + 4.0) * f32::EPSILON * 4.0;
                    let mut in_view = vec![false; cd.len()];
                    for i in 0..m {
                        for (j, &bj) in bias.iter().enumerate() {
                            let idx = co + i * crs + j * ccs;
                            in_view[idx] = true;
                            let want = expect[idx] + bj;
                            let bound = tol * (k as f32 + bj.abs() + 1.0);
                            assert!(
                                (cd[idx] - want).abs() <= bound,
                                "{kernel:?} {m}×{n}×{k} C {lc:?} alpha {alpha}: ({i}, {j}) is {} expected {want}",
                                cd[idx]
                            );
                        }
                    }
                    for (idx, (x, y)) in cd.iter().zip(&before).enumerate() {
                        assert!(in_view[idx] || x.to_bits() == y.to_bits(), "{kernel:?} wrote outside C at {idx}");
                    }
                }
            }
        }
    }
}

#[test]
#[should_panic(expected = "bias has 3 values for 2 columns")]
fn bias_of_the_wrong_length_panics() {
    let (a, b, mut c) = (vec![0.0; 6], vec![0.0; 6], vec![0.0; 4]);
    let (a, b) = (MatRef::row_major(&a, 2, 3), MatRef::row_major(&b, 3, 2));
    sgemm_bias(1.0, a, b, &[0.0; 3], MatMut::row_major(&mut c, 2, 2), Parallelism::None);
}

/// The thread count decides who packs which slivers (in runs or one by one) and who computes which
/// tile, never the order of a sum: the bits must be those of one thread, with more threads than
/// cores too (so workers get descheduled in the middle of a pack). The shapes take the parallel
/// path; the first has a weight gradient's layout (A column-major, B row-major, k deep), whose
/// packs are runs of unit-stride copies, the second a forward product's, the third has ragged
/// tiles and a pass deep enough (600) for the AVX-512 family to read B in place.
#[test]
fn the_same_bits_on_any_number_of_threads() {
    use Layout::{ColMajor, RowMajor, SubRowMajor};
    let shapes = [
        (384, 130, 1300, [ColMajor, RowMajor, RowMajor]),
        (257, 197, 1000, [RowMajor, ColMajor, RowMajor]),
        (100, 700, 600, [SubRowMajor, ColMajor, ColMajor]),
    ];
    for kernel in Kernel::available() {
        for (s, &(m, n, k, [la, lb, lc])) in shapes.iter().enumerate() {
            let mut rng = Rng(41 + s as u64);
            let (ad, ao, ars, acs) = build(m, k, la, &mut rng, 7.0);
            let (bd, bo, brs, bcs) = build(k, n, lb, &mut rng, 7.0);
            let (cd, co, crs, ccs) = build(m, n, lc, &mut rng, -3.0);
            let a = MatRef { data: &ad, offset: ao, rows: m, cols: k, rs: ars, cs: acs };
            let b = MatRef { data: &bd, offset: bo, rows: k, cols: n, rs: brs, cs: bcs };
            let on_threads = |threads: usize| {
                let mut c = cd.clone();
                let view = MatMut { data: &mut c, offset: co, rows: m, cols: n, rs: crs, cs: ccs };
                crate::cpu::in_pool(threads, || sgemm_with(kernel, 0.5, a, b, 1.5, view, Parallelism::Rayon));
                c.iter().map(|v| v.to_bits()).collect::<Vec<u32>>()
            };
            let one = on_threads(1);
            for threads in [2, 3, 5] {
                assert!(on_threads(threads) == one, "{kernel:?} {m}×{n}×{k}: {threads} threads differ from one");
            }
        }
    }
}

/// A parallel GEMM whose workers the pool can only run one after another, because every other
/// thread of the pool is busy until the GEMM returns: the first worker must do all the tiles of
/// every pass, not wait for another to finish a pass (that would never come).
#[test]
fn a_parallel_product_finishes_when_its_workers_cannot_run_at_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let (m, n, k) = (200, 150, 2000); // several passes over k with every kernel
    let mut rng = Rng(7);
    let a: Vec<f32> = (0..m * k).map(|_| rng.uniform()).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.uniform()).collect();
    let product = move |par| {
        let mut c = vec![0.0; m * n];
        sgemm(1.0, MatRef::row_major(&a, m, k), MatRef::row_major(&b, k, n), 0.0, MatMut::row_major(&mut c, m, n), par);
        c
    };
    let (tx, rx) = std::sync::mpsc::channel();
    // On a thread of its own, so that a deadlock fails the test instead of hanging it.
    std::thread::spawn(move || {
        let serial = product(Parallelism::None);
        let busy = AtomicBool::new(true);
        let ((), parallel) = crate::cpu::in_pool(2, || {
            // `join` runs its first closure on this thread and leaves the second to the pool's other
            // thread. This one spins until the GEMM is done, so the GEMM's second worker can only
            // run on the other thread, after its first.
            rayon::join(
                || {
                    while busy.load(Ordering::Acquire) {
                        std::hint::spin_loop();
                    }
                },
                || {
                    let c = product(Parallelism::Rayon);
                    busy.store(false, Ordering::Release);
                    c
                },
            )
        });
        tx.send(parallel == serial).unwrap();
    });
    let same = rx.recv_timeout(std::time::Duration::from_secs(60)).expect("the parallel GEMM never finished");
    assert!(same, "the parallel result differs from the serial one");
}
