//! Probes on synthetic features with known answers, feature extraction from a real shard, and the
//! pictures of a tiny random model: sizes, untouched visible pixels, attention that sums to 1.

use autograd::{no_grad, Var};
use cae::masking::{batch_masks, MaskSpec};
use cae::model::normalized_patches;
use cae::probe::{
    encode, extract_features, features_from_batches, knn_top1, linear_probe, Features, LinearProbeConfig, Pooling,
    Standardizer, KNN_TEMPERATURE,
};
use cae::viz::{self, GAP};
use cae::{Cae, CaeConfig, Target, TargetValues};
use data::augment::normalize_chw;
use data::{Dataset, Encoding, ShardWriter};
use tensor::{DType, Rng, Tensor};

fn tiny() -> CaeConfig {
    CaeConfig {
        image_size: 16,
        patch_size: 4,
        in_chans: 1,
        dim: 32,
        depth: 2,
        heads: 2,
        regressor_depth: 1,
        decoder_depth: 1,
        num_masked: 8,
        target: Target::Pixels,
        ..CaeConfig::tiny()
    }
}

/// `n` points per class around `classes` random centres (spread `sep`) in `dim` dims, with unit
/// noise, an offset and uneven scales per dim (which the probe's standardisation must undo).
fn clusters(classes: usize, n: usize, dim: usize, sep: f64, seed: u64) -> Features {
    let centres = Tensor::randn([classes, dim], 0.0, sep, DType::F32, 1).to_vec::<f32>();
    let noise = Tensor::randn([classes * n, dim], 0.0, 1.0, DType::F32, seed).to_vec::<f32>();
    let mut x = Vec::with_capacity(classes * n * dim);
    let mut labels = Vec::new();
    for i in 0..classes * n {
        let c = i % classes;
        for j in 0..dim {
            let scale = 1.0 + (j % 5) as f32 * 10.0;
            x.push((centres[c * dim + j] + noise[i * dim + j]) * scale + 40.0);
        }
        labels.push(c as u32);
    }
    Features::new(x, labels, dim)
}

#[test]
fn standardisation_gives_train_features_mean_0_and_variance_1() {
    let f = clusters(4, 100, 16, 3.0, 2);
    let s = Standardizer::fit(&f);
    let z = s.apply(&f);
    for j in 0..f.dim {
        let col: Vec<f64> = (0..f.len()).map(|i| z[i * f.dim + j] as f64).collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64;
        assert!(mean.abs() < 1e-4 && (var - 1.0).abs() < 1e-3, "dim {j}: mean {mean}, var {var}");
    }
}

#[test]
fn linear_probe_separates_clusters_and_is_at_chance_on_random_labels() {
    let (train, val) = (clusters(10, 200, 64, 1.0, 3), clusters(10, 100, 64, 1.0, 4));
    let cfg = LinearProbeConfig { epochs: 30, ..LinearProbeConfig::default() };
    let r = linear_probe(&train, &val, &cfg);
    assert!(r.top1 > 0.95 && r.train_top1 > 0.95, "{r:?}");

    let mut rng = Rng::new(5);
    let mut shuffled = |f: &Features| {
        let labels = f.labels.iter().map(|_| rng.next_below(10) as u32).collect();
        Features::new(f.x.clone(), labels, f.dim)
    };
    let (train, val) = (shuffled(&train), shuffled(&val));
    let r = linear_probe(&train, &val, &cfg);
    // 1000 held-out vectors at p = 0.1: the standard deviation of the accuracy is under 0.01.
    assert!((0.06..0.14).contains(&r.top1), "random labels: {r:?}");
    assert!(r.train_top1 > r.top1 + 0.05, "it should at least memorise part of the training set: {r:?}");
}

#[test]
fn knn_on_separated_clusters_and_on_its_own_memory_bank() {
    let (train, val) = (clusters(2, 100, 16, 5.0, 6), clusters(2, 50, 16, 5.0, 7));
    // The +40 offset makes every vector point almost the same way; centre them so the cosine sees the clusters.
    let centre = |f: &Features| Features::new(f.x.iter().map(|v| v - 40.0).collect(), f.labels.clone(), f.dim);
    let (train, val) = (centre(&train), centre(&val));
    assert!(knn_top1(&train, &val, 20, KNN_TEMPERATURE) > 0.99);
    let noisy = clusters(5, 40, 16, 0.3, 8);
    assert_eq!(knn_top1(&noisy, &noisy, 1, KNN_TEMPERATURE), 1.0);
}

#[test]
fn knn_votes_are_weighted_by_similarity() {
    // Three close neighbours of class 0 against seventeen distant ones of class 1.
    let mut x = Vec::new();
    let mut labels = Vec::new();
    for i in 0..20 {
        let (sim, label) = if i < 3 { (0.99f32, 0) } else { (0.5, 1) };
        x.extend([sim, (1.0 - sim * sim).sqrt()]);
        labels.push(label);
    }
    let bank = Features::new(x, labels, 2);
    let query = Features::new(vec![1.0, 0.0], vec![0], 2);
    assert_eq!(knn_top1(&bank, &query, 20, KNN_TEMPERATURE), 1.0);
    // A huge temperature makes every weight ~1: a plain majority, which class 1 wins.
    assert_eq!(knn_top1(&bank, &query, 20, 1e6), 0.0);
}

/// Grey 16×16 images, each a different brightness ramp, stored as RGB in a raw shard.
fn grey_images(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| (0..16 * 16).flat_map(|p| [((p * (i + 1) + 7 * i) % 256) as u8; 3]).collect()).collect()
}

/// The images as the loader normalises them, averaged to one channel: [n, 1, 16, 16].
fn normalised_grey(images: &[Vec<u8>]) -> Tensor {
    let mut out = Vec::new();
    for img in images {
        let mut chw = vec![0f32; 3 * 256];
        normalize_chw(img, 16, false, &mut chw);
        out.extend((0..256).map(|j| (chw[j] + chw[256 + j] + chw[512 + j]) / 3.0));
    }
    Tensor::from_vec(out, [images.len(), 1, 16, 16])
}

#[test]
fn extraction_from_a_shard_matches_encoding_the_images() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("val.shard");
    let images = grey_images(5);
    let mut w = ShardWriter::new(&path, Encoding::Raw, 16, 0);
    for (i, img) in images.iter().enumerate() {
        w.push(img, i as u32 % 3, 16, 16);
    }
    w.finish().unwrap();
    let model = Cae::new(tiny(), 1);

    let f = extract_features(&model, Dataset::open(&[&path]).unwrap(), Pooling::Cls, None, false).unwrap();
    assert_eq!((f.len(), f.dim, f.labels.clone()), (5, 32, vec![0, 1, 2, 0, 1]));
    let want = encode(&model.encoder, &normalised_grey(&images), Pooling::Cls).to_vec::<f32>();
    let err = f.x.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(err < 1e-3, "loader features differ from the images' by {err}");

    let mean = extract_features(&model, Dataset::open(&[&path]).unwrap(), Pooling::MeanPatches, Some(3), false);
    let mean = mean.unwrap();
    assert_eq!(mean.len(), 3);
    assert_ne!(mean.x[..32], f.x[..32], "mean pooling must differ from the cls token");

    let batches = vec![(normalised_grey(&images[..2]), vec![0, 1]), (normalised_grey(&images[2..]), vec![2, 0, 1])];
    let from_tensors = features_from_batches(&model.encoder, batches, Pooling::Cls);
    assert_eq!(from_tensors.labels, f.labels);
    let err = from_tensors.x.iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(err < 1e-5, "batching changed the features by {err}");
}

fn test_images(b: usize) -> Tensor {
    Tensor::randn([b, 1, 16, 16], 0.0, 1.0, DType::F32, 11)
}

#[test]
fn masked_predictions_are_the_training_forward_pass() {
    let model = Cae::new(tiny(), 2);
    let images = test_images(3);
    let mask = batch_masks(&MaskSpec::new(4, 4, 8), 3, 12, true);
    let pred = viz::predict_masked(&model, &images, &mask); // [B, Nm, p·p]
    assert_eq!(pred.dims(), &[3, 8, 16]);
    let target = normalized_patches(&images.patchify(4).take_rows(&mask.mask_indices()));
    let mse = pred.sub(&target).square().mean_all().item();
    let losses = no_grad(|| model.forward(&images, &mask, TargetValues::Pixels, None));
    assert!((mse - losses.main).abs() < 1e-5 * losses.main.max(1.0), "{mse} vs {}", losses.main);
}

#[test]
fn reconstruction_grid_keeps_visible_pixels_and_greys_masked_ones() {
    let model = Cae::new(tiny(), 3);
    let images = test_images(2);
    let mask = batch_masks(&MaskSpec::new(4, 4, 8), 2, 13, true);
    let img = viz::reconstruction_grid(&model, &images, &mask).unwrap();
    let tile = 16 * viz::tile_scale(16);
    assert_eq!(img.dimensions(), (4 * tile + 3 * GAP, 2 * tile + GAP));
    let flags = mask.to_vec::<u8>();
    let patch = tile / 4;
    let (mut changed, mut masked_seen) = (0, 0);
    for row in 0..2u32 {
        for (j, &m) in flags[row as usize * 16..(row as usize + 1) * 16].iter().enumerate() {
            let (py, px) = (row * (tile + GAP) + (j as u32 / 4) * patch, (j as u32 % 4) * patch);
            for (dy, dx) in [(0, 0), (patch / 2, patch - 1), (patch - 1, 1)] {
                let at = |col: u32| *img.get_pixel(col * (tile + GAP) + px + dx, py + dy);
                if m == 0 {
                    assert_eq!(at(2), at(0), "visible patch {j} of image {row} changed");
                    assert_eq!(at(3), viz::MASK_GREY, "visible patch {j} should be grey in the prediction-only tile");
                } else {
                    masked_seen += 1;
                    assert_eq!(at(1), viz::MASK_GREY, "masked patch {j} of image {row} should be grey");
                    changed += usize::from(at(2) != at(0));
                }
            }
        }
    }
    assert!(changed > masked_seen / 2, "a random decoder should not reproduce the masked pixels");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("recon.png");
    viz::reconstruction_png(&model, &images, &mask, &path).unwrap();
    assert!(image::open(&path).unwrap().to_rgb8() == img, "the PNG file must hold the grid");

    // With a decoder predicting 0 everywhere, hidden patches come out flat at their original's mean.
    let head = &model.decoder.head;
    head.weight.set_value(head.weight.value().zeros_like());
    head.bias.as_ref().unwrap().set_value(head.bias.as_ref().unwrap().value().zeros_like());
    let recon = viz::reconstruct_masked(&model, &images, &mask).unwrap().patchify(4); // [B, N, 16]
    let orig = images.patchify(4);
    let means = orig.mean(&[-1], true).broadcast_to([2, 16, 16]);
    let (r, o, m) = (recon.to_vec::<f32>(), orig.to_vec::<f32>(), means.contiguous().to_vec::<f32>());
    for (i, &hidden) in flags.iter().enumerate() {
        let span = i * 16..(i + 1) * 16;
        let want = if hidden != 0 { &m[span.clone()] } else { &o[span.clone()] };
        let err = r[span].iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
        assert!(err < 1e-5, "patch {i} (hidden: {hidden}) is off by {err}");
    }
}

#[test]
fn alignment_reconstructs_every_patch() {
    let model = Cae::new(tiny(), 4);
    let images = test_images(2);
    let all = viz::reconstruct_all(&model, &images).unwrap();
    assert_eq!(all.dims(), images.dims());
    assert_ne!(all.to_vec::<f32>(), images.to_vec::<f32>());
    // A decoder that predicts 0 (the normalised patch's mean) everywhere must paint every patch
    // flat at its original's mean: the prediction is shown with the original patch's statistics.
    let head = &model.decoder.head;
    head.weight.set_value(head.weight.value().zeros_like());
    head.bias.as_ref().unwrap().set_value(head.bias.as_ref().unwrap().value().zeros_like());
    let flat = viz::reconstruct_all(&model, &images).unwrap().patchify(4); // [B, N, 16]
    let means = images.patchify(4).mean(&[-1], true).broadcast_to([2, 16, 16]);
    let err = flat.sub(&means).abs().max(&[0, 1, 2], false).item();
    assert!(err < 1e-5, "flat patches differ from the originals' means by {err}");
    let tile = 16 * viz::tile_scale(16);
    assert_eq!(viz::alignment_grid(&model, &images).unwrap().dimensions(), (2 * tile + GAP, 2 * tile + GAP));

    let tokens = Cae::new(CaeConfig { target: Target::Tokens { vocab: 8 }, ..tiny() }, 4);
    assert!(viz::reconstruct_all(&tokens, &images).is_err(), "token models have no pixels to show");
}

#[test]
fn cls_attention_is_a_distribution_per_head_and_the_grid_has_a_column_per_head() {
    let model = Cae::new(tiny(), 5);
    let images = test_images(3);
    // The tokens the attention starts from are the encoder's own: through every block and the norm
    // they must give exactly the encoder's output.
    let mut x = viz::embed_tokens(&model, &images);
    for block in &model.encoder.blocks {
        x = block.forward(&x, None);
    }
    let ours = model.encoder.norm.forward(&x).value().to_vec::<f32>();
    let theirs = model.encoder.forward(&Var::constant(images.clone()), None, None).value().to_vec::<f32>();
    assert_eq!(ours, theirs);

    let attn = viz::cls_attention(&model, &images);
    assert_eq!(attn.dims(), &[3, 2, 17]);
    for (i, s) in attn.sum(&[-1], false).to_vec::<f32>().iter().enumerate() {
        assert!((s - 1.0).abs() < 1e-5, "head row {i} sums to {s}");
    }
    assert!(attn.to_vec::<f32>().iter().all(|&a| a > 0.0));
    let tile = 16 * viz::tile_scale(16);
    assert_eq!(viz::attention_grid(&model, &images).dimensions(), (4 * tile + 3 * GAP, 3 * tile + 2 * GAP));
}

#[test]
fn pictures_undo_the_loader_normalisation() {
    let images = grey_images(2);
    let grey = viz::to_rgb(&normalised_grey(&images));
    let mut rgb = vec![0f32; 3 * 256];
    normalize_chw(&images[1], 16, false, &mut rgb);
    let colour = viz::to_rgb(&Tensor::from_vec(rgb, [1, 3, 16, 16]));
    for p in 0..256u32 {
        let want = images[1][3 * p as usize];
        let (x, y) = (p % 16, p / 16);
        assert_eq!(colour[0].get_pixel(x, y).0, [want; 3]);
        let g = grey[1].get_pixel(x, y).0;
        assert!(g[0].abs_diff(want) <= 1 && g[0] == g[1] && g[1] == g[2], "pixel {p}: {g:?} vs {want}");
    }
}

#[test]
fn cls_attention_weights_reproduce_the_blocks_attention_output() {
    let model = Cae::new(tiny(), 6);
    let last = model.encoder.blocks.last().unwrap();
    // Non-zero q and v biases, so leaving either out (or biasing k) would show.
    last.attn.q_bias.set_value(Tensor::randn([32], 0.0, 0.5, DType::F32, 20));
    last.attn.v_bias.set_value(Tensor::randn([32], 0.0, 0.5, DType::F32, 21));
    let images = test_images(2);
    let attn = viz::cls_attention(&model, &images); // [B, H, T]
    let x = model.encoder.blocks[0].forward(&viz::embed_tokens(&model, &images), None);
    let h = last.norm1.forward(&x); // [B, T, D]
    let want = last.attn.forward(&h).value().narrow(1, 0, 1).contiguous().to_vec::<f32>(); // cls row [B, 1, D]

    // Σ_j a_j·v_j per head, then the output projection: the cls row of the attention output.
    let v = h.value().matmul(&last.attn.qkv.weight.value().narrow(0, 64, 32).t()).add(&last.attn.v_bias.value()); // [B, T, D]
    let v = v.reshape([2, 17, 2, 16]).permute(&[0, 2, 1, 3]); // [B, H, T, Dh]
    let mixed = attn.unsqueeze(2).matmul(&v).permute(&[0, 2, 1, 3]).reshape([2, 1, 32]); // [B, 1, D]
    let proj = &last.attn.proj;
    let out = mixed.matmul(&proj.weight.value().t()).add(&proj.bias.as_ref().unwrap().value()); // [B, 1, D]
    let err = out.to_vec::<f32>().iter().zip(&want).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(err < 1e-5, "cls attention output differs by {err}");
}
