//! The loader: worker threads turn records into normalised f32 CHW batches, each batch produced
//! whole by one worker, and hand them over through bounded queues.
//!
//! Batch `b` of an epoch goes to worker `b % workers`, and the iterator takes batches from the
//! workers' queues in turn, so batches arrive in order whatever the thread timing. Each image's
//! random crop and flip come from a generator seeded with (seed, epoch, record), so a batch is a
//! function of (seed, epoch, batch number, rank, world size): starting an epoch at batch `k`
//! yields exactly the tail of the full epoch, and the number of workers changes nothing.

use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use fast_image_resize::{FilterType, Resizer};

use crate::augment::{center_crop_region, crop_resize_normalize, random_resized_crop};
use crate::dataset::Dataset;
use crate::error::LoadError;
use crate::format::Encoding;
use crate::image_decode::{decode_rgb, RgbImage};
use crate::rng::SplitMix64;
use crate::sampler::{rank_len, rank_order};

/// Filter of the main view: PIL's bicubic (torchvision's `InterpolationMode.BICUBIC`).
const MAIN_FILTER: FilterType = FilterType::CatmullRom;
/// Filter of the tokenizer's view (CAE's DALL-E tokenizer input is resized with Lanczos).
const SECOND_FILTER: FilterType = FilterType::Lanczos3;

/// What is done to each image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Transform {
    /// RandomResizedCrop to `size`, random flip; with `second`, the same crop and flip also at that size.
    Train { size: u32, second: Option<u32> },
    /// Resize the shorter side to `resize`, crop the centre `crop × crop`; no randomness.
    Eval { resize: u32, crop: u32 },
}

impl Transform {
    /// CAE pre-training: 224 with a 112 view for the tokenizer.
    pub const CAE: Transform = Transform::Train { size: 224, second: Some(112) };
    /// Standard evaluation: 256 then centre 224.
    pub const EVAL: Transform = Transform::Eval { resize: 256, crop: 224 };

    fn sizes(&self) -> (u32, Option<u32>) {
        match *self {
            Transform::Train { size, second } => (size, second),
            Transform::Eval { crop, .. } => (crop, None),
        }
    }
}

/// How the loader reads.
#[derive(Debug, Clone)]
pub struct LoaderConfig {
    pub batch_size: usize,
    pub transform: Transform,
    pub seed: u64,
    /// This process's place among `world_size` data-parallel ranks.
    pub rank: usize,
    pub world_size: usize,
    /// Worker threads.
    pub workers: usize,
    /// Batches each worker may have ready ahead of the consumer.
    pub prefetch: usize,
    /// Shuffle each epoch (training) or keep the stored order (evaluation).
    pub shuffle: bool,
    /// Drop the last partial batch and trim ranks to equal length (data-parallel training).
    pub drop_last: bool,
}

impl LoaderConfig {
    /// Pre-training defaults for one process: CAE transform, shuffled, last partial batch dropped.
    pub fn train(batch_size: usize, seed: u64) -> Self {
        LoaderConfig {
            batch_size,
            transform: Transform::CAE,
            seed,
            rank: 0,
            world_size: 1,
            workers: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            prefetch: 2,
            shuffle: true,
            drop_last: true,
        }
    }
}

/// A batch: images as f32 `[B, 3, S, S]` (CHW, normalised), optional second view `[B, 3, S2, S2]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Position of this batch in its epoch.
    pub index: usize,
    pub images: Vec<f32>,
    pub size: usize,
    pub second: Option<Vec<f32>>,
    pub second_size: usize,
    pub labels: Vec<u32>,
    /// Global record numbers, for tracing an image back to its shard.
    pub records: Vec<u64>,
}

impl Batch {
    /// Images in the batch.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True for a batch without images (never produced by the loader).
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Shape of `images`: `[B, 3, S, S]`.
    pub fn shape(&self) -> [usize; 4] {
        [self.len(), 3, self.size, self.size]
    }
}

/// Reads batches of a [`Dataset`].
pub struct Loader {
    dataset: Arc<Dataset>,
    config: LoaderConfig,
    pool: Arc<BufferPool>,
}

/// Most spent buffers kept for reuse.
const POOL_MAX: usize = 16;

/// Spent batch buffers handed back through [`Loader::recycle`]. A batch of 64 images at 224 is
/// 38 MB; a fresh allocation of that size comes from the OS as untouched pages, and faulting them
/// in costs about as much as resizing the images. Reused buffers need no clearing: every float is
/// overwritten.
#[derive(Default)]
struct BufferPool(Mutex<Vec<Vec<f32>>>);

impl BufferPool {
    fn take(&self, len: usize) -> Vec<f32> {
        let mut pool = self.0.lock().expect("no panics while the pool is locked");
        match pool.iter().position(|b| b.len() == len) {
            Some(i) => pool.swap_remove(i),
            None => vec![0f32; len],
        }
    }

    fn give(&self, buf: Vec<f32>) {
        let mut pool = self.0.lock().expect("no panics while the pool is locked");
        if pool.len() < POOL_MAX {
            pool.push(buf);
        }
    }
}

impl Loader {
    /// A loader over `dataset`; panics on a config that cannot work (zero batch size or workers, an
    /// eval crop larger than its resize).
    pub fn new(dataset: Dataset, config: LoaderConfig) -> Self {
        assert!(
            config.batch_size > 0 && config.workers > 0 && config.prefetch > 0,
            "batch size, workers, prefetch > 0"
        );
        assert!(config.rank < config.world_size, "rank {} must be below world size {}", config.rank, config.world_size);
        if let Transform::Eval { resize, crop } = config.transform {
            // The centre crop is taken from the resized image: it must fit inside.
            assert!(0 < crop && crop <= resize, "eval transform: crop {crop} must be in 1..={resize} (the resize)");
        }
        Loader { dataset: Arc::new(dataset), config, pool: Arc::default() }
    }

    /// Hands a consumed batch's buffers back for reuse by later batches (optional, saves page faults).
    pub fn recycle(&self, batch: Batch) {
        self.pool.give(batch.images);
        if let Some(second) = batch.second {
            self.pool.give(second);
        }
    }

    /// The dataset read.
    pub fn dataset(&self) -> &Dataset {
        &self.dataset
    }

    fn order(&self, epoch: u64) -> Vec<u64> {
        let c = &self.config;
        rank_order(self.dataset.len(), c.seed, epoch, c.rank, c.world_size, c.shuffle, c.drop_last)
    }

    /// Batches this rank reads per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let c = &self.config;
        let n = rank_len(self.dataset.len(), c.rank, c.world_size, c.drop_last);
        let b = c.batch_size;
        if self.config.drop_last {
            n / b
        } else {
            n.div_ceil(b)
        }
    }

    /// The batches of `epoch` from batch `start` on (a resumed run passes the next batch to read).
    pub fn epoch(&self, epoch: u64, start: usize) -> EpochIter {
        let order = Arc::new(self.order(epoch));
        let end = self.batches_per_epoch();
        let workers = self.config.workers.min(end.saturating_sub(start)).max(1);
        let mut receivers = Vec::with_capacity(workers);
        let mut handles = Vec::with_capacity(workers);
        for w in 0..workers {
            let (tx, rx) = sync_channel(self.config.prefetch);
            receivers.push(rx);
            let (dataset, order, config, pool) =
                (self.dataset.clone(), order.clone(), self.config.clone(), self.pool.clone());
            handles.push(std::thread::spawn(move || {
                let mut resizer = Resizer::new();
                for b in (start + w..end).step_by(workers) {
                    let lo = b * config.batch_size;
                    let hi = (lo + config.batch_size).min(order.len());
                    let batch = make_batch(&dataset, &config, epoch, b, &order[lo..hi], &mut resizer, &pool);
                    if tx.send(batch).is_err() {
                        return; // the consumer stopped early
                    }
                }
            }));
        }
        EpochIter { receivers, handles, start, next: start, end }
    }
}

/// The batches of one epoch, in order; stopping early (drop) stops the workers.
pub struct EpochIter {
    receivers: Vec<Receiver<Result<Batch, LoadError>>>,
    handles: Vec<JoinHandle<()>>,
    start: usize,
    next: usize,
    end: usize,
}

impl Iterator for EpochIter {
    type Item = Result<Batch, LoadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.end {
            return None;
        }
        // Worker w makes batches start + w, start + w + workers, …
        let rx = &self.receivers[(self.next - self.start) % self.receivers.len()];
        self.next += 1;
        Some(rx.recv().expect("a loader worker died (it panicked; see its message above)"))
    }
}

impl Drop for EpochIter {
    fn drop(&mut self) {
        // Closing the queues first makes blocked workers return, then they can be joined.
        self.receivers.clear();
        for h in self.handles.drain(..) {
            let _ = h.join();
        }
    }
}

/// Reads, transforms and stacks the records `records` into batch number `index`.
fn make_batch(
    dataset: &Dataset,
    config: &LoaderConfig,
    epoch: u64,
    index: usize,
    records: &[u64],
    resizer: &mut Resizer,
    pool: &BufferPool,
) -> Result<Batch, LoadError> {
    let (size, second) = config.transform.sizes();
    let (s, s2) = (size as usize, second.unwrap_or(0) as usize);
    let mut images = pool.take(records.len() * 3 * s * s);
    let mut second_images = second.map(|_| pool.take(records.len() * 3 * s2 * s2));
    let mut labels = Vec::with_capacity(records.len());
    let (encoding, side) = dataset.geometry();
    for (k, &rec) in records.iter().enumerate() {
        let record = dataset.record(rec)?;
        labels.push(record.label);
        let decoded;
        let (pixels, w, h) = match encoding {
            Encoding::Raw => (record.bytes, side, side),
            Encoding::Jpeg => {
                decoded = decode_rgb(record.bytes).map_err(|source| {
                    let (shard, local) = dataset.locate(rec);
                    LoadError::Decode { path: shard.path().to_path_buf(), record: local as u64, source }
                })?;
                let RgbImage { width, height, ref pixels } = decoded;
                (&pixels[..], width, height)
            }
        };
        let out = &mut images[k * 3 * s * s..(k + 1) * 3 * s * s];
        match config.transform {
            Transform::Train { .. } => {
                let mut rng = SplitMix64::from_parts(&[config.seed, epoch, rec]);
                let c = random_resized_crop(w, h, &mut rng);
                let flip = rng.next_u64() & 1 == 1;
                let region = (c.left as f64, c.top as f64, c.width as f64, c.height as f64);
                crop_resize_normalize(pixels, w, h, region, size, MAIN_FILTER, flip, resizer, out);
                if let (Some(buf), Some(size2)) = (second_images.as_mut(), second) {
                    let out2 = &mut buf[k * 3 * s2 * s2..(k + 1) * 3 * s2 * s2];
                    crop_resize_normalize(pixels, w, h, region, size2, SECOND_FILTER, flip, resizer, out2);
                }
            }
            Transform::Eval { resize, crop } => {
                let region = center_crop_region(w, h, resize, crop);
                crop_resize_normalize(pixels, w, h, region, crop, MAIN_FILTER, false, resizer, out);
            }
        }
    }
    Ok(Batch { index, images, size: s, second: second_images, second_size: s2, labels, records: records.to_vec() })
}
