//! The whole CAE model against PyTorch: CAE-Tiny at 32×32 (pixel target) and at 224×224 (token
//! target), drop path off, a fixed block-wise mask. Both sides start from the same parameters
//! (ours, seeded); the fixtures hold PyTorch's losses, latents and per-parameter gradient
//! summaries (see cae/tests/fixtures/make_cae_fixture.py for how they are made).

#[path = "common/parity_case.rs"]
mod parity_case;

use std::path::Path;

use cae::TargetValues;
use safetensors::SafeTensors;

const REGENERATE: &str =
    "regenerate with: cargo run --release -p cae --example export_parity_inputs -- /tmp/cae_parity \
                          && /tmp/torchenv/bin/python cae/tests/fixtures/make_cae_fixture.py /tmp/cae_parity";

fn values(file: &SafeTensors, path: &Path, key: &str) -> Vec<f64> {
    let view = file.tensor(key).unwrap_or_else(|e| panic!("{}: {key}: {e}; {REGENERATE}", path.display()));
    view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64).collect()
}

fn close(what: &str, ours: &[f64], theirs: &[f64], tol: f64) {
    assert_eq!(ours.len(), theirs.len(), "{what}: lengths differ");
    let scale = theirs.iter().map(|v| v * v).sum::<f64>().sqrt() / (theirs.len().max(1) as f64).sqrt();
    for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
        assert!(a.is_finite() && (a - b).abs() <= tol * (scale + b.abs()), "{what}[{i}]: ours {a}, PyTorch {b}");
    }
}

fn check_case(case: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/cae_{case}.safetensors"));
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; {REGENERATE}", path.display()));
    let file = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e}; {REGENERATE}", path.display()));

    let (model, images, mask, ids) = parity_case::parity_case(case);
    let target = match model.config.target {
        cae::Target::Pixels => TargetValues::Pixels,
        cae::Target::Tokens { .. } => TargetValues::Tokens(&ids),
    };
    let out = model.forward(&images, &mask, target, None);
    out.loss.backward();

    close("loss", &[out.loss.value().item()], &values(&file, &path, "loss"), 1e-5);
    close("main", &[out.main], &values(&file, &path, "main"), 1e-5);
    close("align", &[out.align], &values(&file, &path, "align"), 1e-5);
    close("latents", &out.latents.to_vec_f64(), &values(&file, &path, "latents"), 1e-4);
    close("target_latents", &out.target_latents.to_vec_f64(), &values(&file, &path, "target_latents"), 1e-4);
    // Some gradients are zero in exact arithmetic (e.g. the bias of the keys' LayerNorm: adding one
    // vector to every key shifts each score row by a constant, which softmax ignores). Ours are
    // f32 rounding there, PyTorch's f64 rounding, so errors are also measured against a floor: a
    // millionth of the model's largest per-parameter gradient RMS.
    let grads: Vec<(String, Vec<f64>)> = model
        .params
        .iter()
        .map(|(n, p)| {
            (n.to_owned(), p.grad().unwrap_or_else(|| panic!("{case}: {n} received no gradient")).to_vec_f64())
        })
        .collect();
    let rms = |g: &[f64]| (g.iter().map(|v| v * v).sum::<f64>() / g.len() as f64).sqrt();
    let floor = 1e-6 * grads.iter().map(|(_, g)| rms(g)).fold(0.0, f64::max);
    for (name, g) in &grads {
        let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
        let want_norm = values(&file, &path, &format!("gradsq.{name}"))[0].sqrt();
        let n = (g.len() as f64).sqrt();
        assert!(
            (norm - want_norm).abs() <= 2e-3 * want_norm + floor * n,
            "{case}: |grad| of {name}: ours {norm}, PyTorch {want_norm}"
        );
        let head = values(&file, &path, &format!("gradhead.{name}"));
        for (i, (a, b)) in g.iter().zip(&head).enumerate() {
            assert!(
                (a - b).abs() <= 2e-3 * (rms(g) + b.abs()) + floor,
                "{case}: grad of {name}[{i}]: ours {a}, PyTorch {b}"
            );
        }
        let (sum, want) = (g.iter().sum::<f64>(), values(&file, &path, &format!("gradsum.{name}"))[0]);
        assert!((sum - want).abs() <= 2e-3 * norm + floor * n, "{case}: Σ grad of {name}: ours {sum}, PyTorch {want}");
    }
}

#[test]
fn tiny_at_32_pixels_matches_pytorch() {
    check_case(parity_case::CASES[0]);
}

#[test]
fn tiny_at_224_tokens_matches_pytorch() {
    check_case(parity_case::CASES[1]);
}
