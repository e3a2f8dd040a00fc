//! What `prep` reads: a tree of class folders, a plain folder, or IDX files; listed up front, in a
//! sorted (hence reproducible) order, before any image is decoded.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;

use crate::format::NO_LABEL;
use crate::idx::IdxArray;
use crate::image_decode::{decode_rgb, RgbImage};

/// Where one input image comes from.
#[derive(Debug, Clone)]
pub enum Input {
    /// An image file.
    File(PathBuf),
    /// Image `index` of an IDX array; `name` is the IDX file, for reports.
    Idx { images: Arc<IdxArray>, index: usize, name: Arc<str> },
}

/// One input image and its label ([`NO_LABEL`] for a plain folder).
#[derive(Debug, Clone)]
pub struct Item {
    pub input: Input,
    pub label: u32,
}

/// A file left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Skipped {
    pub path: String,
    pub reason: String,
}

impl Item {
    /// A name for reports: the file path, or `file#index` for IDX images.
    pub fn describe(&self) -> String {
        match &self.input {
            Input::File(p) => p.display().to_string(),
            Input::Idx { index, name, .. } => format!("{name}#{index}"),
        }
    }

    /// Reads and decodes the image; the error is the reason for the report.
    pub fn load(&self) -> Result<RgbImage, String> {
        match &self.input {
            Input::File(path) => {
                let bytes = std::fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
                decode_rgb(&bytes).map_err(|e| e.to_string())
            }
            Input::Idx { images, index, .. } => {
                let (h, w) = (images.dims[1], images.dims[2]);
                let gray = &images.data[index * h * w..(index + 1) * h * w];
                let pixels = gray.iter().flat_map(|&g| [g, g, g]).collect();
                Ok(RgbImage { width: w as u32, height: h as u32, pixels })
            }
        }
    }
}

/// Every file under `dir`, recursively, sorted by path.
pub fn walk_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for path in read_dir_sorted(&folder)? {
            if path.is_dir() {
                folders.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

fn read_dir_sorted(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut paths = std::fs::read_dir(dir)
        .with_context(|| format!("{}: cannot list folder", dir.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("{}: cannot list folder", dir.display()))?;
    paths.sort();
    Ok(paths)
}

/// A tree of class folders: `root/<class>/**/<file>`. Classes are the sorted folder names, labels
/// their positions. Files directly under `root` belong to no class and are reported as skipped.
pub fn list_class_tree(root: &Path) -> anyhow::Result<(Vec<String>, Vec<Item>, Vec<Skipped>)> {
    let mut classes = Vec::new();
    let mut items = Vec::new();
    let mut skipped = Vec::new();
    for path in read_dir_sorted(root)? {
        if !path.is_dir() {
            skipped.push(Skipped { path: path.display().to_string(), reason: "not inside a class folder".into() });
            continue;
        }
        let label = classes.len() as u32;
        classes.push(path.file_name().expect("a listed entry has a name").to_string_lossy().into_owned());
        items.extend(walk_files(&path)?.into_iter().map(|p| Item { input: Input::File(p), label }));
    }
    anyhow::ensure!(!classes.is_empty(), "{}: no class folders found", root.display());
    Ok((classes, items, skipped))
}

/// Every file under `root`, unlabelled.
pub fn list_plain(root: &Path) -> anyhow::Result<Vec<Item>> {
    Ok(walk_files(root)?.into_iter().map(|p| Item { input: Input::File(p), label: NO_LABEL }).collect())
}

/// The images of an IDX pair, labelled from the label file.
pub fn list_idx(images: &Path, labels: &Path) -> anyhow::Result<Vec<Item>> {
    let (array, labs) = crate::idx::read_idx_pair(images, labels)?;
    let array = Arc::new(array);
    let name: Arc<str> = images.display().to_string().into();
    Ok(labs
        .into_iter()
        .enumerate()
        .map(|(index, label)| Item { input: Input::Idx { images: array.clone(), index, name: name.clone() }, label })
        .collect())
}

/// Stream id of the validation split's shuffles (the stored order uses another).
const VAL_STREAM: u64 = 2;

/// Splits items into (train, val), holding out `round(n * fraction)` of each class, chosen by a
/// shuffle seeded with (seed, label). Both keep the sorted order of the input.
pub fn split_val(items: Vec<Item>, fraction: f64, seed: u64) -> (Vec<Item>, Vec<Item>) {
    if fraction <= 0.0 {
        return (items, Vec::new());
    }
    let mut is_val = vec![false; items.len()];
    let mut by_label: std::collections::BTreeMap<u32, Vec<usize>> = Default::default();
    for (i, item) in items.iter().enumerate() {
        by_label.entry(item.label).or_default().push(i);
    }
    for (label, mut members) in by_label {
        let take = (members.len() as f64 * fraction).round() as usize;
        crate::rng::SplitMix64::from_parts(&[seed, label as u64, VAL_STREAM]).shuffle(&mut members);
        for &i in &members[..take.min(members.len())] {
            is_val[i] = true;
        }
    }
    let (mut train, mut val) = (Vec::new(), Vec::new());
    for (item, v) in items.into_iter().zip(is_val) {
        if v {
            val.push(item)
        } else {
            train.push(item)
        }
    }
    (train, val)
}
