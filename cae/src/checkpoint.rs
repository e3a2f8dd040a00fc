//! Model weights in safetensors files: saving a `ParamStore` (atomically), and loading one —
//! ours or an official CAE checkpoint converted to safetensors — with an error that lists every
//! missing, unexpected and mis-shaped key rather than the first.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use autograd::ParamStore;
use half::{bf16, f16};
use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use tensor::{DType, Tensor};

/// Keys official checkpoints hold that are not parameters here (fixed buffers we recompute).
pub const IGNORED_KEYS: &[&str] = &["encoder.pos_embed"];

/// What went wrong reading or writing a weights file.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// The OS error is part of the message (not a `source`), so a report of the whole error chain
    /// does not print it twice.
    #[error("{path}: {error}")]
    Io { path: PathBuf, error: std::io::Error },
    #[error("{path}: not a readable safetensors file: {reason}")]
    Format { path: PathBuf, reason: String },
    #[error("{path}: tensor {key} has dtype {dtype:?}; expected F32, F16 or BF16")]
    Dtype { path: PathBuf, key: String, dtype: Dtype },
    #[error("{path} does not match the model:\n{0}", .report)]
    Mismatch { path: PathBuf, report: MismatchReport },
}

/// Every difference between a file's keys and the model's parameters.
#[derive(Debug, Default, PartialEq)]
pub struct MismatchReport {
    pub missing: Vec<String>,
    pub unexpected: Vec<String>,
    /// (key, shape in the file, shape in the model)
    pub misshaped: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl MismatchReport {
    fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.misshaped.is_empty()
    }
}

impl fmt::Display for MismatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for k in &self.missing {
            writeln!(f, "  missing from the file: {k}")?;
        }
        for k in &self.unexpected {
            writeln!(f, "  not a parameter of the model: {k}")?;
        }
        for (k, file, model) in &self.misshaped {
            writeln!(f, "  {k}: shape {file:?} in the file, {model:?} in the model")?;
        }
        Ok(())
    }
}

/// Which of the model's parameters a file must provide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LoadScope {
    /// Every parameter (resuming our own checkpoints).
    Full,
    /// Only `encoder.*` (released official checkpoints; probes and fine-tuning).
    EncoderOnly,
}

/// Write every parameter as f32 to `path` (through a temporary file renamed into place, so an
/// interrupted save never leaves a half-written file under the final name).
pub fn save_weights(store: &ParamStore, path: &Path) -> Result<(), CheckpointError> {
    let io = |error| CheckpointError::Io { path: path.to_owned(), error };
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = store
        .iter()
        .map(|(name, p)| {
            let v = p.value().to_dtype(DType::F32);
            let bytes = v.to_vec::<f32>().iter().flat_map(|x| x.to_le_bytes()).collect();
            (name.to_owned(), v.dims().to_vec(), bytes)
        })
        .collect();
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, shape, bytes)| (n.clone(), TensorView::new(Dtype::F32, shape.clone(), bytes).expect("sizes agree")))
        .collect();
    let bytes = safetensors::serialize(views, None)
        .map_err(|e| CheckpointError::Format { path: path.to_owned(), reason: e.to_string() })?;
    let tmp = path.with_extension("safetensors.tmp");
    std::fs::write(&tmp, bytes).map_err(io)?;
    std::fs::rename(&tmp, path).map_err(io)
}

/// A safetensors view as an f32 tensor (f16 and bf16 are widened).
pub(crate) fn view_to_tensor(path: &Path, key: &str, view: &TensorView) -> Result<Tensor, CheckpointError> {
    let data = view.data();
    let values: Vec<f32> = match view.dtype() {
        Dtype::F32 => data.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => data.chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        Dtype::BF16 => data.chunks_exact(2).map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
        dtype => return Err(CheckpointError::Dtype { path: path.to_owned(), key: key.to_owned(), dtype }),
    };
    Ok(Tensor::from_vec(values, view.shape().to_vec()))
}

/// Load weights from `path` into `store`. Nothing is changed unless every key checks out.
/// Returns the keys of the file that were ignored (known buffers, or non-encoder keys with
/// `EncoderOnly`).
pub fn load_weights(store: &ParamStore, path: &Path, scope: LoadScope) -> Result<Vec<String>, CheckpointError> {
    let bytes = std::fs::read(path).map_err(|error| CheckpointError::Io { path: path.to_owned(), error })?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|e| CheckpointError::Format { path: path.to_owned(), reason: e.to_string() })?;
    let wanted = |name: &str| scope == LoadScope::Full || name.starts_with("encoder.");
    let mut report = MismatchReport::default();
    let mut ignored = Vec::new();
    let mut loaded = BTreeMap::new();
    for (key, view) in file.tensors() {
        match store.get(&key) {
            _ if IGNORED_KEYS.contains(&key.as_str()) || !wanted(&key) => ignored.push(key),
            None => report.unexpected.push(key),
            Some(p) if p.shape().dims() != view.shape() => {
                report.misshaped.push((key, view.shape().to_vec(), p.shape().dims().to_vec()))
            }
            Some(_) => {
                let t = view_to_tensor(path, &key, &view)?;
                loaded.insert(key, t);
            }
        }
    }
    let present: Vec<String> = file.names().into_iter().map(str::to_owned).collect();
    report.missing =
        store.iter().filter(|(n, _)| wanted(n) && !present.iter().any(|k| k == n)).map(|(n, _)| n.to_owned()).collect();
    report.unexpected.sort();
    report.misshaped.sort();
    if !report.is_empty() {
        return Err(CheckpointError::Mismatch { path: path.to_owned(), report });
    }
    for (key, t) in loaded {
        let p = store.get(&key).expect("checked above");
        p.set_value(t.to_dtype(p.value().dtype()));
    }
    ignored.sort();
    Ok(ignored)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(names: &[(&str, &[usize])], seed: u64) -> ParamStore {
        let mut s = ParamStore::new();
        for (i, (n, shape)) in names.iter().enumerate() {
            s.insert(*n, Tensor::randn(shape.to_vec(), 0.0, 1.0, DType::F32, seed + i as u64));
        }
        s
    }

    /// A fresh folder, removed when the returned guard drops, and the weights file's path in it.
    fn temp() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.safetensors");
        (dir, path)
    }

    const NAMES: &[(&str, &[usize])] =
        &[("encoder.a.weight", &[3, 2]), ("encoder.b", &[4]), ("decoder.head.weight", &[2, 2])];

    #[test]
    fn round_trip_restores_every_value() {
        let (_dir, path) = temp();
        let a = store(NAMES, 0);
        save_weights(&a, &path).unwrap();
        let b = store(NAMES, 10);
        assert!(load_weights(&b, &path, LoadScope::Full).unwrap().is_empty());
        for ((_, p), (_, q)) in a.iter().zip(b.iter()) {
            assert_eq!(p.value().to_vec::<f32>(), q.value().to_vec::<f32>());
        }
    }

    #[test]
    fn mismatches_are_all_listed_and_nothing_is_applied() {
        let (_dir, path) = temp();
        save_weights(&store(&[("encoder.a.weight", &[2, 3]), ("encoder.extra", &[1])], 0), &path).unwrap();
        let b = store(NAMES, 10);
        let before = b.get("encoder.b").unwrap().value().to_vec::<f32>();
        let err = load_weights(&b, &path, LoadScope::Full).unwrap_err();
        let msg = err.to_string();
        for needle in [
            "missing from the file: encoder.b",
            "missing from the file: decoder.head.weight",
            "not a parameter of the model: encoder.extra",
            "encoder.a.weight: shape [2, 3] in the file, [3, 2]",
        ] {
            assert!(msg.contains(needle), "{msg}");
        }
        assert_eq!(b.get("encoder.b").unwrap().value().to_vec::<f32>(), before);
    }

    #[test]
    fn encoder_only_files_load_into_a_full_model() {
        let (_dir, path) = temp();
        save_weights(&store(&NAMES[..2], 0), &path).unwrap();
        let b = store(NAMES, 10);
        assert!(load_weights(&b, &path, LoadScope::EncoderOnly).is_ok());
        assert!(matches!(load_weights(&b, &path, LoadScope::Full), Err(CheckpointError::Mismatch { .. })));
    }

    #[test]
    fn damaged_files_are_rejected_with_the_path() {
        let (_dir, path) = temp();
        save_weights(&store(NAMES, 0), &path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
        let msg = load_weights(&store(NAMES, 1), &path, LoadScope::Full).unwrap_err().to_string();
        assert!(msg.contains("not a readable safetensors file") && msg.contains("w.safetensors"), "{msg}");
        let missing = load_weights(&store(NAMES, 1), &path.with_file_name("nope.safetensors"), LoadScope::Full);
        assert!(matches!(missing, Err(CheckpointError::Io { .. })));
    }
}
