//! The pre-training loop: micro-batches from the loader, masks, forward and backward, gradient
//! accumulation and clipping, AdamW on the schedule, the log, checkpoints, and clean stops.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use data::augment::{IMAGENET_MEAN, IMAGENET_STD};
use data::rng::SplitMix64;
use data::{Batch, Dataset, Loader, LoaderConfig, Transform};
use tensor::{Device, Tensor};

use super::config::RunConfig;
use super::log::{Log, LogEntry};
use super::plot::plot_loss;
use super::schedule::Schedule;
use super::state::{latest_checkpoint, list_checkpoints, load_checkpoint, save_checkpoint, TrainState, STATE_FORMAT};
use crate::config::{CaeConfig, Target};
use crate::dvae::{DvaeConfig, DvaeEncoder};
use crate::input::batch_images;
use crate::masking::{batch_masks, MaskSpec};
use crate::model::{Cae, TargetValues};
use crate::optim::{grad_norm, AdamW, AdamWConfig};

/// Stream ids that keep the seeded draws of masks and drop path apart.
const MASK_STREAM: u64 = 0x4D41_534B;
const DROP_STREAM: u64 = 0x4452_4F50;

/// How `pretrain` is run, beyond the config.
pub struct PretrainOptions {
    /// Continue from the newest checkpoint in the run folder.
    pub resume: bool,
    /// Draw a progress bar (otherwise one line per checkpoint).
    pub progress: bool,
    /// Set (by Ctrl-C) to stop after the current step with a checkpoint.
    pub stop: Arc<AtomicBool>,
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Reached the end of the schedule or `train.max_steps`.
    Finished,
    /// Stopped on request; the checkpoint holds everything to resume.
    Interrupted,
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct Summary {
    pub outcome: Outcome,
    pub step: u64,
    pub loss: f64,
    /// The last checkpoint written.
    pub checkpoint: PathBuf,
    /// Images per second over this process's steps.
    pub images_per_s: f64,
}

/// Everything that changes while training.
struct Run {
    model: Cae,
    opt: AdamW,
    state: TrainState,
    tokenizer: Option<DvaeEncoder>,
    last_checkpoint: Option<PathBuf>,
}

/// Pre-trains the model of `cfg` on its data, writing into `cfg.train.out_dir`.
pub fn pretrain(cfg: &RunConfig, opts: &PretrainOptions) -> anyhow::Result<Summary> {
    let model_cfg = cfg.model_config()?;
    let out = cfg.train.out_dir.clone();
    std::fs::create_dir_all(&out).with_context(|| format!("{}: cannot create the run folder", out.display()))?;
    let dataset = Dataset::from_manifest(&cfg.data.path, &cfg.data.split)
        .with_context(|| format!("data.path {}: cannot open the {} split", cfg.data.path.display(), cfg.data.split))?;
    let loader = Loader::new(dataset, loader_config(cfg, &model_cfg)?);
    let micro_per_epoch = loader.batches_per_epoch();
    let accum = cfg.optim.accum_steps as u64;
    if (micro_per_epoch as u64) < accum {
        bail!(
            "the {} split holds {} images: fewer than one optimiser step of {} × {} images",
            cfg.data.split,
            loader.dataset().len(),
            accum,
            cfg.data.batch_size
        );
    }
    let steps_per_epoch = micro_per_epoch as f64 / accum as f64;
    let total = (cfg.train.epochs * steps_per_epoch).ceil() as u64;
    let schedule = Schedule {
        peak: cfg.optim.lr,
        min_lr: cfg.optim.min_lr,
        warmup: ((cfg.optim.warmup_epochs * steps_per_epoch).round() as u64).min(total),
        total,
    };
    let end = if cfg.train.max_steps > 0 { total.min(cfg.train.max_steps) } else { total };

    let mut run = start_or_resume(cfg, &model_cfg, &out, opts.resume)?;
    let device = cfg.train.device()?;
    if let Device::Gpu(n) = device {
        let (interpreter, asked_for) = tensor::gpu::interpreter_status(n);
        if interpreter && !asked_for {
            bail!(
                "train.device = {device}, but no CUDA GPU can be opened, and the PTX interpreter that would stand in \
                 is thousands of times slower than a GPU. Build with `cargo build --release -p cae --features cuda` \
                 on a machine with a CUDA driver, or set CAE_GPU=interp to run on the interpreter anyway (tiny models, tests)"
            );
        }
        // Checkpoints load on the host; everything the step keeps moves to the device once.
        for (_, p) in run.model.params.iter() {
            p.set_value(p.value().to_device(device));
        }
        run.opt.to_device(device);
    }
    let bf16 = cfg.train.precision == "bf16";
    std::fs::write(out.join("config.toml"), cfg.to_toml()).context("cannot write config.toml")?;
    let mut log = Log::open(&out, run.state.step)?;
    let bar = progress_bar(end, run.state.step, opts.progress);
    let spec = MaskSpec::new(model_cfg.grid(), model_cfg.grid(), model_cfg.num_masked);
    let blockwise = cfg.model.mask == "block";
    let (started, first_images) = (Instant::now(), run.state.images_seen);
    let mut epoch_iter = loader.epoch(run.state.epoch, run.state.batch);
    let mut outcome = Outcome::Finished;

    while run.state.step < end {
        let t0 = Instant::now();
        let (mut main, mut align, mut images) = (0.0, 0.0, 0u64);
        for _ in 0..accum {
            if run.state.batch >= micro_per_epoch {
                run.state.epoch += 1;
                run.state.batch = 0;
                epoch_iter = loader.epoch(run.state.epoch, 0);
            }
            let batch = epoch_iter.next().expect("the epoch has batches left")?;
            let seed = |stream| SplitMix64::from_parts(&[cfg.train.seed, stream, run.state.micro_step]).next_u64();
            let mask = batch_masks(&spec, batch.len(), seed(MASK_STREAM), blockwise);
            let drop = (model_cfg.drop_path > 0.0).then(|| seed(DROP_STREAM));
            let step = || -> anyhow::Result<crate::CaeLosses> {
                let losses = forward(&run, &batch, &mask, drop, device)?;
                if losses.main.is_finite() && losses.align.is_finite() {
                    losses.loss.backward();
                }
                Ok(losses)
            };
            let losses = if bf16 { autograd::bf16_matmuls(step)? } else { step()? };
            if !(losses.main.is_finite() && losses.align.is_finite()) {
                bail!(non_finite(&run, "loss", losses.main + model_cfg.align_weight * losses.align));
            }
            main += losses.main / accum as f64;
            align += losses.align / accum as f64;
            images += batch.len() as u64;
            run.state.batch += 1;
            run.state.micro_step += 1;
            loader.recycle(batch);
        }
        let scale = 1.0 / accum as f64;
        let norm = grad_norm(&run.model.params, scale);
        if !norm.is_finite() {
            bail!(non_finite(&run, "gradient norm", norm));
        }
        let clip = cfg.optim.clip_grad;
        let factor = if clip > 0.0 && norm > clip { clip / (norm + 1e-6) } else { 1.0 };
        let lr = schedule.lr(run.state.step);
        run.opt.step(&run.model.params, lr, scale * factor);
        run.state.step += 1;
        run.state.images_seen += images;
        run.state.loss = main + model_cfg.align_weight * align;
        let dt = t0.elapsed().as_secs_f64();
        run.state.elapsed_s += dt;
        let entry = LogEntry {
            step: run.state.step,
            epoch: run.state.epoch,
            lr,
            loss: run.state.loss,
            main,
            align,
            grad_norm: norm,
            images_per_s: images as f64 / dt.max(1e-9),
        };
        log.push(&entry)?;
        bar.set_position(run.state.step);
        bar.set_message(format!("loss {:.4} lr {:.2e} {:.0} img/s", entry.loss, lr, entry.images_per_s));

        let stop = opts.stop.load(Ordering::SeqCst);
        let at_end = run.state.step == end;
        if at_end || stop || run.state.step % cfg.train.plot_every == 0 {
            plot_loss(log.entries(), &out.join("loss.png"))?;
        }
        if at_end || stop || run.state.step % cfg.train.checkpoint_every == 0 {
            let path = save_checkpoint(&out, &run.state, &run.model.params, &run.opt, cfg.train.keep_last)?;
            if !opts.progress {
                println!("step {}/{end}: loss {:.4}, checkpoint {}", run.state.step, entry.loss, path.display());
            }
            run.last_checkpoint = Some(path);
        }
        if stop && !at_end {
            outcome = Outcome::Interrupted;
            break;
        }
    }
    bar.finish();
    drop(epoch_iter);
    let checkpoint = match run.last_checkpoint {
        Some(p) => p,
        None => latest_checkpoint(&out)?.context("the run ended without a checkpoint")?,
    };
    let secs = started.elapsed().as_secs_f64();
    let done_images = run.state.images_seen - first_images;
    Ok(Summary {
        outcome,
        step: run.state.step,
        loss: run.state.loss,
        checkpoint,
        images_per_s: done_images as f64 / secs.max(1e-9),
    })
}

fn loader_config(cfg: &RunConfig, m: &CaeConfig) -> anyhow::Result<LoaderConfig> {
    let size = m.image_size as u32;
    let dalle = matches!(m.target, Target::Tokens { .. });
    let transform = match cfg.data.augment.as_str() {
        "rrc" => Transform::Train { size, second: dalle.then_some(size / 2) },
        _ if dalle => bail!("the DALL-E target needs data.augment = \"rrc\" (its second, 112-pixel view)"),
        _ => Transform::Eval { resize: size, crop: size },
    };
    let mut lc = LoaderConfig::train(cfg.data.batch_size, cfg.train.seed);
    lc.transform = transform;
    if cfg.data.workers > 0 {
        lc.workers = cfg.data.workers;
    }
    Ok(lc)
}

fn start_or_resume(cfg: &RunConfig, model_cfg: &CaeConfig, out: &Path, resume: bool) -> anyhow::Result<Run> {
    let model = Cae::new(model_cfg.clone(), cfg.train.seed);
    let o = &cfg.optim;
    let adam = AdamWConfig { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weight_decay: o.weight_decay };
    let mut opt = AdamW::new(&model.params, adam);
    let tokenizer = match (&model_cfg.target, cfg.model.tokenizer.as_deref()) {
        (Target::Tokens { .. }, Some("random")) => Some(DvaeEncoder::random(DvaeConfig::dalle(), cfg.train.seed)),
        (Target::Tokens { .. }, Some(path)) => Some(
            DvaeEncoder::load(DvaeConfig::dalle(), Path::new(path))
                .with_context(|| format!("model.tokenizer {path}: cannot load the dVAE encoder"))?,
        ),
        _ => None,
    };
    let mut state = TrainState {
        format: STATE_FORMAT,
        step: 0,
        micro_step: 0,
        epoch: 0,
        batch: 0,
        seed: cfg.train.seed,
        images_seen: 0,
        elapsed_s: 0.0,
        loss: f64::NAN,
        config: cfg.to_toml(),
    };
    let mut last_checkpoint = None;
    let existing = list_checkpoints(out)?;
    if resume {
        let Some(path) = existing.last() else {
            bail!("--resume: {} has no checkpoint to resume from", out.display());
        };
        let saved = super::state::read_state(path)?;
        let saved_cfg = RunConfig::parse(&saved.config, &[])
            .with_context(|| format!("{}: the config stored in the checkpoint is unreadable", path.display()))?;
        let saved_model = saved_cfg.model_config()?;
        if saved_model != *model_cfg {
            bail!(
                "{} holds a checkpoint of another architecture:\n  checkpoint: {saved_model:?}\n  config:     {model_cfg:?}",
                path.display()
            );
        }
        if (&saved_cfg.data, &saved_cfg.optim, saved_cfg.train.seed, saved_cfg.train.epochs)
            != (&cfg.data, &cfg.optim, cfg.train.seed, cfg.train.epochs)
        {
            eprintln!("warning: the data, optimiser, seed or epochs differ from the checkpoint's; the resumed run will not match an uninterrupted one");
        }
        state = load_checkpoint(path, &model.params, &mut opt)?;
        state.config = cfg.to_toml();
        eprintln!(
            "resuming from {} (step {}, epoch {}, batch {})",
            path.display(),
            state.step,
            state.epoch,
            state.batch
        );
        last_checkpoint = Some(path.clone());
    } else if let Some(path) = existing.last() {
        bail!(
            "{} already holds checkpoints (newest {}); pass --resume to continue it, or set train.out_dir to a new folder",
            out.display(),
            path.display()
        );
    }
    Ok(Run { model, opt, state, tokenizer, last_checkpoint })
}

fn forward(
    run: &Run,
    batch: &Batch,
    mask: &Tensor,
    drop: Option<u64>,
    device: Device,
) -> anyhow::Result<crate::CaeLosses> {
    let images = batch_images(batch, run.model.config.in_chans).to_device(device); // [B, C, S, S]
    let tokens;
    let target = match &run.tokenizer {
        Some(dvae) => {
            let second = batch.second.as_ref().context("the loader gave no second view for the tokenizer")?;
            // The dVAE runs on the host (conv2d has no GPU kernel); its tokens are index data.
            tokens = dvae.tokens(&unit_range(second, batch.len(), batch.second_size)); // [B, N]
            TargetValues::Tokens(&tokens)
        }
        None => TargetValues::Pixels,
    };
    Ok(run.model.forward(&images, mask, target, drop))
}

/// Loader-normalised RGB back to [0, 1], the tokenizer's input range.
fn unit_range(images: &[f32], b: usize, s: usize) -> Tensor {
    let plane = s * s;
    let mut out = images.to_vec();
    for (i, v) in out.iter_mut().enumerate() {
        let c = (i / plane) % 3;
        *v = (*v * IMAGENET_STD[c] + IMAGENET_MEAN[c]).clamp(0.0, 1.0);
    }
    Tensor::from_vec(out, [b, 3, s, s])
}

fn non_finite(run: &Run, what: &str, value: f64) -> String {
    let last = match &run.last_checkpoint {
        Some(p) => format!("the last good checkpoint is {} (untouched)", p.display()),
        None => "no checkpoint was written before it".to_string(),
    };
    format!(
        "the {what} became {value} at step {} (epoch {}, batch {}); stopping. {last}. Lower optim.lr or raise optim.warmup_epochs, then continue with --resume.",
        run.state.step + 1,
        run.state.epoch,
        run.state.batch
    )
}

fn progress_bar(len: u64, pos: u64, visible: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if !visible {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} step {pos}/{len} [{bar:30}] {msg}  {elapsed_precise} (eta {eta})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_position(pos);
    bar
}
