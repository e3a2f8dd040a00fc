//! Writes the inputs of the whole-model parity cases (every parameter, images, mask, token ids)
//! for cae/tests/fixtures/make_cae_fixture.py, which computes the PyTorch side.
//!
//! Run from the repository root: `cargo run --release -p cae --example export_parity_inputs -- DIR`

#[path = "../tests/common/parity_case.rs"]
mod parity_case;

use std::path::PathBuf;

use safetensors::tensor::{Dtype, TensorView};

fn bytes_f32(t: &tensor::Tensor) -> Vec<u8> {
    t.to_dtype(tensor::DType::F32).to_vec::<f32>().iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: export_parity_inputs DIR")?);
    std::fs::create_dir_all(&dir)?;
    for case in parity_case::CASES {
        let (model, images, mask, ids) = parity_case::parity_case(case);
        let mut tensors: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = model
            .params
            .iter()
            .map(|(n, p)| (n.to_owned(), p.shape().dims().to_vec(), Dtype::F32, bytes_f32(&p.value())))
            .collect();
        tensors.push(("input.images".into(), images.dims().to_vec(), Dtype::F32, bytes_f32(&images)));
        tensors.push(("input.mask".into(), mask.dims().to_vec(), Dtype::U8, mask.to_vec::<u8>()));
        let id_bytes = ids.to_vec::<i64>().iter().flat_map(|v| v.to_le_bytes()).collect();
        tensors.push(("input.tokens".into(), ids.dims().to_vec(), Dtype::I64, id_bytes));
        let views: Vec<(String, TensorView)> = tensors
            .iter()
            .map(|(n, s, d, b)| (n.clone(), TensorView::new(*d, s.clone(), b).expect("sizes agree")))
            .collect();
        let cfg = &model.config;
        let meta = [
            ("heads", cfg.heads),
            ("patch_size", cfg.patch_size),
            ("depth", cfg.depth),
            ("regressor_depth", cfg.regressor_depth),
            ("decoder_depth", cfg.decoder_depth),
            ("pixel_target", usize::from(cfg.target == cae::Target::Pixels)),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into_iter()
        .collect();
        let path = dir.join(format!("{case}_inputs.safetensors"));
        std::fs::write(&path, safetensors::serialize(views, Some(meta))?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
