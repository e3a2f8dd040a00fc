//! One feature vector per image from a frozen encoder, computed once and kept in memory so the
//! probes can train for many epochs without touching the encoder again.

use autograd::{no_grad, Var};
use data::{Dataset, LoadError, Loader, LoaderConfig, Transform};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tensor::{DType, Tensor};

use crate::input::batch_images;
use crate::model::{Cae, Encoder};

/// Images per encoder call during extraction.
pub const EXTRACT_BATCH: usize = 256;
/// Seed of the order a `limit`ed extraction reads in (the evaluation transform itself has no randomness).
const LIMIT_ORDER_SEED: u64 = 0;

/// Which encoder output stands for the whole image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pooling {
    /// The cls token after the final LayerNorm (the spec's linear-probe input).
    Cls,
    /// The mean of the patch tokens after the final LayerNorm.
    MeanPatches,
}

/// Feature vectors `x` (row-major [n, dim]) with their class labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Features {
    pub x: Vec<f32>,
    pub labels: Vec<u32>,
    pub dim: usize,
}

impl Features {
    /// Wraps `x` [labels.len(), dim]; panics when the sizes disagree.
    pub fn new(x: Vec<f32>, labels: Vec<u32>, dim: usize) -> Features {
        assert_eq!(x.len(), labels.len() * dim, "{} values are not {} rows of {dim}", x.len(), labels.len());
        Features { x, labels, dim }
    }

    /// Number of feature vectors.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when there are no vectors.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Vector `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// The vectors as an f32 tensor [n, dim].
    pub fn to_tensor(&self) -> Tensor {
        Tensor::from_slice(&self.x, [self.len(), self.dim])
    }

    /// Appends the rows of `x` [B, dim] with their labels.
    fn extend(&mut self, x: &Tensor, labels: &[u32]) {
        assert_eq!(x.dims(), &[labels.len(), self.dim], "features and labels disagree");
        self.x.extend(x.to_dtype(DType::F32).to_vec::<f32>());
        self.labels.extend_from_slice(labels);
    }
}

/// Images [B, C, S, S] → features [B, D], without recording a tape and with drop path off.
pub fn encode(encoder: &Encoder, images: &Tensor, pooling: Pooling) -> Tensor {
    let z = no_grad(|| encoder.forward(&Var::constant(images.clone()), None, None)); // [B, 1 + N, D]
    let z = z.value();
    match pooling {
        Pooling::Cls => z.narrow(1, 0, 1).squeeze(1), // [B, D]
        Pooling::MeanPatches => z.narrow(1, 1, z.dim(1) - 1).mean(&[1], false), // [B, D]
    }
}

/// Features of batches already in memory: `(images [B, C, S, S], labels)` pairs, in order.
pub fn features_from_batches<I>(encoder: &Encoder, batches: I, pooling: Pooling) -> Features
where
    I: IntoIterator<Item = (Tensor, Vec<u32>)>,
{
    let mut out: Option<Features> = None;
    for (images, labels) in batches {
        let f = encode(encoder, &images, pooling); // [B, D]
        out.get_or_insert_with(|| Features::new(Vec::new(), Vec::new(), f.dim(1))).extend(&f, &labels);
    }
    out.unwrap_or_else(|| Features::new(Vec::new(), Vec::new(), 0))
}

fn progress_bar(len: u64, visible: bool) -> ProgressBar {
    let target = if visible { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    bar.set_style(
        ProgressStyle::with_template(
            "features {elapsed_precise} [{wide_bar}] {pos}/{len} images, {per_sec}, ETA {eta}",
        )
        .expect("the template is valid"),
    );
    bar
}

/// Features of `dataset` through the evaluation transform at the model's image size (resize the
/// shorter side to S, centre crop S), in stored order.
///
/// With `limit`, only that many images are encoded; they are read in a seeded shuffled order
/// rather than the stored one, because a validation split may be stored sorted by class and its
/// first images would then all share a label.
pub fn extract_features(
    model: &Cae,
    dataset: Dataset,
    pooling: Pooling,
    limit: Option<usize>,
    progress: bool,
) -> Result<Features, LoadError> {
    let side = model.config.image_size as u32;
    let total = dataset.len() as usize;
    let wanted = limit.map_or(total, |l| l.min(total));
    let config = LoaderConfig {
        batch_size: EXTRACT_BATCH,
        transform: Transform::Eval { resize: side, crop: side },
        seed: LIMIT_ORDER_SEED,
        shuffle: limit.is_some(),
        drop_last: false,
        ..LoaderConfig::train(EXTRACT_BATCH, LIMIT_ORDER_SEED)
    };
    let loader = Loader::new(dataset, config);
    let bar = progress_bar(wanted as u64, progress);
    let mut out = Features::new(Vec::new(), Vec::new(), model.config.dim);
    for batch in loader.epoch(0, 0) {
        if out.len() >= wanted {
            break;
        }
        let batch = batch?;
        let take = (wanted - out.len()).min(batch.len());
        let images = batch_images(&batch, model.config.in_chans); // [B, C, S, S]
        let images = if take < batch.len() { images.narrow(0, 0, take).contiguous() } else { images };
        out.extend(&encode(&model.encoder, &images, pooling), &batch.labels[..take]);
        bar.inc(take as u64);
        loader.recycle(batch);
    }
    bar.finish_and_clear();
    Ok(out)
}
