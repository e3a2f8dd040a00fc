//! Parity with PyTorch for a whole CAE encoder block: the output, the input gradient and every
//! parameter gradient of `L = Σ out ⊙ R` against tests/fixtures/block.safetensors, which
//! tests/fixtures/make_block_fixture.py wrote with PyTorch in float64. In f64 the two must agree to
//! rounding; in f32 (the same parameters cast down) to f32 accuracy.

#[path = "common/encoder_block.rs"]
mod encoder_block;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use autograd::{Param, ParamStore, Var};
use safetensors::{Dtype, SafeTensors};
use tensor::{DType, Tensor};

use encoder_block::{encoder_block, param_shapes};

const PREFIX: &str = "blocks.0.";
const REGENERATE: &str = "regenerate it from the repository root with \
    `/tmp/torchenv/bin/python autograd/tests/fixtures/make_block_fixture.py` (the script's docstring says how to set up that Python)";

/// Worst error over the largest reference magnitude, per tensor (f64 rounding through the block is ~1e-15).
const F64_TOL: f64 = 1e-10;
/// The same in f32: rounding ~6e-8 per op, amplified through two LayerNorms and a softmax.
const F32_TOL: f64 = 5e-6;

fn fixture_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/block.safetensors")
}

/// The fixture's tensors by name, and the head count from its metadata.
struct Fixture {
    tensors: BTreeMap<String, Tensor>,
    heads: usize,
}

impl Fixture {
    /// Reads and checks the fixture; `Err` names the file, what is wrong, and how to regenerate it.
    fn load(path: &Path) -> Result<Fixture, String> {
        let fail = |why: String| format!("{}: {why}; {REGENERATE}", path.display());
        let bytes = std::fs::read(path).map_err(|e| fail(format!("cannot read it ({e})")))?;
        let file = SafeTensors::deserialize(&bytes).map_err(|e| fail(format!("not a valid safetensors file ({e})")))?;
        let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| fail(format!("bad header ({e})")))?;
        let heads = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get("heads"))
            .and_then(|h| h.parse().ok())
            .ok_or_else(|| fail("no `heads` entry in its metadata".into()))?;
        let mut tensors = BTreeMap::new();
        for (name, view) in file.tensors() {
            if view.dtype() != Dtype::F64 {
                return Err(fail(format!("tensor {name:?} is {:?}, expected F64", view.dtype())));
            }
            let values: Vec<f64> =
                view.data().chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
            tensors.insert(name, Tensor::from_vec(values, view.shape().to_vec()));
        }
        let fixture = Fixture { tensors, heads };
        fixture.check_complete().map_err(fail)?;
        Ok(fixture)
    }

    /// Every tensor the test reads is present with the shape the block needs.
    fn check_complete(&self) -> Result<(), String> {
        let x = self.tensors.get("x").ok_or("no tensor \"x\"")?;
        let d = *x.dims().last().ok_or("\"x\" is a scalar")?;
        let mut wanted = vec![("x".to_string(), x.dims().to_vec())];
        for name in ["R", "out", "grad.x"] {
            wanted.push((name.to_string(), x.dims().to_vec()));
        }
        for (name, shape) in param_shapes(d) {
            wanted.push((format!("{PREFIX}{name}"), shape.clone()));
            wanted.push((format!("grad.{PREFIX}{name}"), shape));
        }
        for (name, shape) in wanted {
            match self.tensors.get(&name) {
                None => return Err(format!("no tensor {name:?}")),
                Some(t) if t.dims() != shape => {
                    return Err(format!("{name:?} has shape {:?}, expected {shape:?}", t.dims()))
                }
                Some(_) => {}
            }
        }
        Ok(())
    }

    fn get(&self, name: &str) -> &Tensor {
        &self.tensors[name]
    }
}

fn load_fixture() -> Fixture {
    Fixture::load(&fixture_path()).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs the block forward and backward in `dtype`; returns `out`, `grad.x` and `grad.<param>` by name.
fn run_block(fx: &Fixture, dtype: DType) -> BTreeMap<String, Tensor> {
    let x_ref = fx.get("x");
    let mut store = ParamStore::new();
    for (name, _) in param_shapes(x_ref.dim(-1)) {
        let name = format!("{PREFIX}{name}");
        store.insert(name.clone(), fx.get(&name).to_dtype(dtype));
    }
    let x = Param::new(x_ref.to_dtype(dtype));
    let out = encoder_block(&x.var(), &store, PREFIX, fx.heads); // [B, N, D]
    out.mul(&Var::constant(fx.get("R").to_dtype(dtype))).sum_all().backward();

    let grad = |p: &Param, name: &str| p.grad().unwrap_or_else(|| panic!("no gradient reached {name}"));
    let mut results = BTreeMap::from([("out".to_string(), out.value().clone()), ("grad.x".to_string(), grad(&x, "x"))]);
    for (name, p) in store.iter() {
        results.insert(format!("grad.{name}"), grad(p, name));
    }
    results
}

/// max |ours − reference| / max |reference|; infinite where ours is not finite (`f64::max` skips NaN).
fn relative_error(ours: &Tensor, reference: &Tensor) -> f64 {
    assert_eq!(ours.dims(), reference.dims());
    let (a, b) = (ours.to_vec_f64(), reference.to_vec::<f64>());
    if a.iter().any(|v| !v.is_finite()) {
        return f64::INFINITY;
    }
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    worst / b.iter().map(|y| y.abs()).fold(f64::MIN_POSITIVE, f64::max)
}

/// Compares every result with the fixture, prints the errors, and fails listing each one over `tol`.
fn assert_parity(dtype: DType, tol: f64) {
    let fx = load_fixture();
    let results = run_block(&fx, dtype);
    let expected: BTreeSet<&String> = fx.tensors.keys().filter(|k| *k == "out" || k.starts_with("grad.")).collect();
    assert_eq!(
        results.keys().collect::<BTreeSet<_>>(),
        expected,
        "the test must compare every gradient the fixture holds"
    );

    let mut failures = Vec::new();
    for (name, ours) in &results {
        let err = relative_error(ours, fx.get(name));
        println!("{dtype} {name:<32} relative error {err:.2e}");
        if err > tol {
            failures.push(format!("{name}: {err:.2e}"));
        }
    }
    assert!(failures.is_empty(), "{dtype} block differs from PyTorch beyond {tol:e}: {}", failures.join(", "));
}

#[test]
fn f64_block_matches_pytorch() {
    assert_parity(DType::F64, F64_TOL);
}

#[test]
fn f32_block_matches_pytorch() {
    assert_parity(DType::F32, F32_TOL);
}

#[test]
fn damaged_fixture_is_reported_with_its_name_and_the_fix() {
    let dir = std::env::temp_dir().join(format!("block_parity_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good =
        std::fs::read(fixture_path()).unwrap_or_else(|e| panic!("{}: {e}; {REGENERATE}", fixture_path().display()));
    let cases = [("truncated.safetensors", Some(&good[..good.len() / 2])), ("missing.safetensors", None)];
    for (file, bytes) in cases {
        let path = dir.join(file);
        if let Some(bytes) = bytes {
            std::fs::write(&path, bytes).unwrap();
        }
        let err = Fixture::load(&path).err().expect("a damaged fixture must not load");
        assert!(err.contains(&path.display().to_string()) && err.contains("make_block_fixture.py"), "{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
