//! The dVAE encoder against PyTorch: the same architecture written in PyTorch from its description
//! (cae/tests/fixtures/make_dvae_fixture.py), with random weights, gives the same logits.

use std::path::{Path, PathBuf};

use cae::dvae::{DvaeConfig, DvaeEncoder};
use cae::CheckpointError;
use safetensors::SafeTensors;
use tensor::{DType, Tensor};

const REGENERATE: &str = "regenerate with: /tmp/torchenv/bin/python cae/tests/fixtures/make_dvae_fixture.py";
const CONFIG: DvaeConfig = DvaeConfig { n_hid: 8, blocks_per_group: 2, in_chans: 3, vocab: 16 };

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn read(name: &str, key: &str) -> Tensor {
    let path = fixture(name);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}; {REGENERATE}", path.display()));
    let file = SafeTensors::deserialize(&bytes).unwrap_or_else(|e| panic!("{}: {e}; {REGENERATE}", path.display()));
    let view = file.tensor(key).unwrap_or_else(|e| panic!("{}: {key}: {e}; {REGENERATE}", path.display()));
    let values: Vec<f32> = view.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect();
    Tensor::from_vec(values, view.shape().to_vec())
}

#[test]
fn logits_match_pytorch() {
    let enc = DvaeEncoder::load(CONFIG, &fixture("dvae.safetensors")).unwrap_or_else(|e| panic!("{e}; {REGENERATE}"));
    let images = read("dvae_io.safetensors", "images");
    let want = read("dvae_io.safetensors", "logits").to_vec_f64();
    let got = enc.logits(&images.mul_scalar(0.8).add_scalar(0.1));
    assert_eq!(got.dims(), &[2, 16, 2, 2]);
    let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    for (i, (g, w)) in got.to_vec_f64().iter().zip(&want).enumerate() {
        assert!(g.is_finite() && (g - w).abs() <= 1e-5 * scale, "logit {i}: ours {g}, PyTorch {w}");
    }
    // Token ids are the argmax over the vocabulary, one per grid cell.
    let tokens = enc.tokens(&images);
    assert_eq!(tokens.dims(), &[2, 4]);
    assert_eq!(tokens.to_vec::<i64>(), got.argmax(1, false).reshape([2, 4]).to_vec::<i64>());
}

#[test]
fn a_112_crop_gives_a_14_by_14_grid() {
    let enc = DvaeEncoder::random(DvaeConfig { n_hid: 8, blocks_per_group: 1, in_chans: 3, vocab: 32 }, 0);
    let tokens = enc.tokens(&Tensor::rand_uniform([1, 3, 112, 112], 0.0, 1.0, DType::F32, 1));
    assert_eq!(tokens.dims(), &[1, 196]);
    assert!(tokens.to_vec::<i64>().iter().all(|&t| (0..32).contains(&t)));
    // The released encoder's weight list: 2 blocks per group, id paths where the width changes.
    let names = DvaeConfig::dalle().weight_shapes();
    assert!(names.iter().any(|(n, s)| n == "blocks.group_2.block_1.id_path.w" && s == &[512, 256, 1, 1]));
    assert!(!names.iter().any(|(n, _)| n == "blocks.group_1.block_1.id_path.w"));
    assert!(names.iter().any(|(n, s)| n == "blocks.output.conv.w" && s == &[8192, 2048, 1, 1]));
}

#[test]
fn weights_of_another_shape_are_rejected_by_name() {
    let other = DvaeConfig { n_hid: 16, ..CONFIG };
    match DvaeEncoder::load(other, &fixture("dvae.safetensors")) {
        Err(CheckpointError::Mismatch { report, .. }) => {
            assert!(report
                .misshaped
                .iter()
                .any(|(n, file, model)| n == "blocks.input.w" && file[0] == 8 && model[0] == 16));
        }
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("a 16-wide config loaded 8-wide weights"),
    }
}
