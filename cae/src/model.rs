//! The CAE model: encoder (ViT over visible patches), latent contextual regressor, decoder, and the
//! alignment branch, with the loss of the spec: main target loss + 2 · MSE(Zm, stopgrad(target Zm)).

use autograd::{no_grad, Param, ParamStore, Var};
use tensor::{CmpOp, DType, Tensor};

use crate::config::{CaeConfig, Target};
use crate::nn::init::{param_seed, trunc_normal, TOKEN_INIT_STD};
use crate::nn::{Block, CrossBlock, LayerNorm, Linear};
use crate::pos_embed::sincos_2d;

/// ViT encoder: patch embedding, fixed sin-cos positions, a cls token, pre-norm blocks, final norm.
pub struct Encoder {
    /// The patch-embedding convolution, stored [D, C, p, p] as in the official state dict.
    pub patch_weight: Param,
    pub patch_bias: Param,
    pub cls_token: Param,
    pub blocks: Vec<Block>,
    pub norm: LayerNorm,
    pos: Tensor,
    patch_size: usize,
}

impl Encoder {
    pub fn new(store: &mut ParamStore, cfg: &CaeConfig, seed: u64) -> Encoder {
        let (d, p) = (cfg.dim, cfg.patch_size);
        let w = "encoder.patch_embed.proj.weight";
        let patch_weight = store.insert(w, trunc_normal(&[d, cfg.in_chans, p, p], TOKEN_INIT_STD, param_seed(seed, w)));
        let patch_bias = store.insert("encoder.patch_embed.proj.bias", Tensor::zeros([d], DType::F32));
        let cls = "encoder.cls_token";
        let cls_token = store.insert(cls, trunc_normal(&[1, 1, d], TOKEN_INIT_STD, param_seed(seed, cls)));
        // Drop-path rate rises linearly from 0 (first block) to cfg.drop_path (last).
        let rate = |i: usize| if cfg.depth > 1 { cfg.drop_path * i as f64 / (cfg.depth - 1) as f64 } else { 0.0 };
        let blocks = (0..cfg.depth)
            .map(|i| Block::new(store, &format!("encoder.blocks.{i}"), d, cfg.heads, cfg.init_values, rate(i), seed))
            .collect();
        Encoder {
            patch_weight,
            patch_bias,
            cls_token,
            blocks,
            norm: LayerNorm::new(store, "encoder.norm", d),
            pos: sincos_2d(cfg.grid(), cfg.grid(), d),
            patch_size: p,
        }
    }

    /// The tokens the blocks see for images [B, C, H, W]: cls, then the patches `keep` (i64 [B, K])
    /// or all of them, each with its position: [B, 1 + K, D].
    pub fn embed(&self, images: &Var, keep: Option<&Tensor>) -> Var {
        let w = self.patch_weight.var();
        let (d, b) = (w.dim(0), images.dim(0));
        let flat_w = w.reshape([d, w.value().numel() / d]); // [D, C·p·p]
        let x = images.patchify(self.patch_size).linear(&flat_w, Some(&self.patch_bias.var())); // [B, N, D]
        let pos = self.pos.to_dtype(x.dtype()).to_device(x.value().device());
        let x = x.add(&Var::constant(pos)); // [B, N, D]
        let x = match keep {
            Some(index) => x.take_rows(index), // [B, K, D]
            None => x,
        };
        let cls = self.cls_token.var().broadcast_to([b, 1, d]); // [B, 1, D]; its position is zero
        Var::concat(&[cls, x], 1) // [B, 1 + K, D]
    }

    /// Images [B, C, H, W] → [B, 1 + K, D]: cls then the patches `keep` (i64 [B, K]) or all of them.
    pub fn forward(&self, images: &Var, keep: Option<&Tensor>, drop: Option<u64>) -> Var {
        let mut x = self.embed(images, keep); // [B, 1 + K, D]
        for (i, block) in self.blocks.iter().enumerate() {
            x = block.forward(&x, drop.map(|s| s.wrapping_add(i as u64)));
        }
        self.norm.forward(&x)
    }
}

/// Predicts the latents of masked patches from the visible ones, with cross-attention blocks.
pub struct Regressor {
    pub mask_token: Param,
    pub blocks: Vec<CrossBlock>,
    pub norm: LayerNorm,
}

impl Regressor {
    pub fn new(store: &mut ParamStore, cfg: &CaeConfig, seed: u64) -> Regressor {
        let d = cfg.dim;
        let mask_token =
            store.insert("mask_token", trunc_normal(&[1, 1, d], TOKEN_INIT_STD, param_seed(seed, "mask_token")));
        let blocks = (0..cfg.regressor_depth)
            .map(|j| {
                CrossBlock::new(
                    store,
                    &format!("regresser.regressor_blocks.{j}"),
                    d,
                    cfg.heads,
                    cfg.init_values,
                    0.0,
                    seed,
                )
            })
            .collect();
        Regressor { mask_token, blocks, norm: LayerNorm::new(store, "regresser.norm", d) }
    }

    /// Visible latents [B, Nv, D] and positions of visible [B, Nv, D] and masked [B, Nm, D] patches
    /// → predicted masked latents [B, Nm, D]. The visible latents are never updated.
    pub fn forward(&self, visible: &Var, pos_visible: &Var, pos_masked: &Var) -> Var {
        let (b, nm, d) = (pos_masked.dim(0), pos_masked.dim(1), pos_masked.dim(2));
        let mut queries = self.mask_token.var().broadcast_to([b, nm, d]); // [B, Nm, D]
        let pos_all = Var::concat(&[pos_visible.clone(), pos_masked.clone()], 1); // [B, Nv + Nm, D]
        for block in &self.blocks {
            let kv = Var::concat(&[visible.clone(), queries.clone()], 1); // [B, Nv + Nm, D]
            queries = block.forward(&queries, pos_masked, &kv, &pos_all, None);
        }
        self.norm.forward(&queries)
    }
}

/// Self-attention blocks over the predicted masked latents, then a norm and the target head.
pub struct Decoder {
    pub blocks: Vec<Block>,
    pub norm: LayerNorm,
    pub head: Linear,
}

impl Decoder {
    pub fn new(store: &mut ParamStore, cfg: &CaeConfig, seed: u64) -> Decoder {
        let d = cfg.dim;
        let blocks = (0..cfg.decoder_depth)
            .map(|k| {
                Block::new(store, &format!("decoder.decoder_blocks.{k}"), d, cfg.heads, cfg.init_values, 0.0, seed)
            })
            .collect();
        Decoder {
            blocks,
            norm: LayerNorm::new(store, "decoder.norm", d),
            head: Linear::new(store, "decoder.head", d, cfg.head_dim(), true, seed),
        }
    }

    /// Masked latents [B, Nm, D] with their positions → predictions [B, Nm, head].
    pub fn forward(&self, latents: &Var, pos_masked: &Var) -> Var {
        let mut x = latents.add(pos_masked); // positions added once, before the first block
        for block in &self.blocks {
            x = block.forward(&x, None);
        }
        self.head.forward(&self.norm.forward(&x))
    }
}

/// What the decoder is trained to predict for each masked patch.
pub enum TargetValues<'a> {
    /// Normalise the images' own patches (pixel target).
    Pixels,
    /// Token ids for every patch, i64 [B, N] (DALL-E target).
    Tokens(&'a Tensor),
}

/// The losses of one forward pass.
pub struct CaeLosses {
    /// main + align_weight · align: what `backward` starts from.
    pub loss: Var,
    pub main: f64,
    pub align: f64,
    /// The regressor's predicted latents of the masked patches [B, Nm, D].
    pub latents: Tensor,
    /// The alignment branch's latents of the same patches [B, Nm, D] (no gradient).
    pub target_latents: Tensor,
}

/// Encoder, regressor and decoder with their parameters.
pub struct Cae {
    pub config: CaeConfig,
    pub params: ParamStore,
    pub encoder: Encoder,
    pub regressor: Regressor,
    pub decoder: Decoder,
    pos: Tensor,
}

/// Added to each patch's variance before the square root in the pixel target.
pub const PATCH_NORM_EPS: f64 = 1e-6;

/// Per-patch normalised pixels: each patch vector minus its mean, over √(var + `PATCH_NORM_EPS`).
pub fn normalized_patches(patches: &Tensor) -> Tensor {
    let mean = patches.mean(&[-1], true);
    let var = patches.var(&[-1], 0, true);
    patches.sub(&mean).div(&var.add_scalar(PATCH_NORM_EPS).sqrt())
}

impl Cae {
    pub fn new(config: CaeConfig, seed: u64) -> Cae {
        if let Err(e) = config.validate() {
            panic!("invalid CAE configuration: {e}");
        }
        let mut params = ParamStore::new();
        let encoder = Encoder::new(&mut params, &config, seed);
        let regressor = Regressor::new(&mut params, &config, seed);
        let decoder = Decoder::new(&mut params, &config, seed);
        let pos = sincos_2d(config.grid(), config.grid(), config.dim);
        Cae { config, params, encoder, regressor, decoder, pos }
    }

    /// One training forward pass on images [B, C, H, W] with mask u8 [B, N] (1 = masked, the same
    /// count per row). `drop`: the step's drop-path seed (`None` turns drop path off).
    pub fn forward(&self, images: &Tensor, mask: &Tensor, target: TargetValues, drop: Option<u64>) -> CaeLosses {
        let (b, n) = (images.dim(0), self.config.num_patches());
        assert_eq!(mask.dims(), &[b, n], "mask must be u8 [{b}, {n}], got {:?}", mask.shape());
        let masked = mask.mask_indices(); // [B, Nm]
        let visible = mask.to_dtype(DType::F32).compare_scalar(CmpOp::Eq, 0.0).mask_indices(); // [B, Nv]
        let x = Var::constant(images.clone());
        let (z_masked, pos_m) = self.regress(&x, &visible, &masked, drop); // [B, Nm, D] twice

        // Alignment: the masked patches through the same encoder, without gradient.
        let align_drop = drop.map(|s| s ^ 0xA11C_0DE5);
        let target_latents =
            no_grad(|| self.encoder.forward(&x, Some(&masked), align_drop)).narrow(1, 1, masked.dim(1));
        let align = z_masked.mse(&target_latents.detach());

        let pred = self.decoder.forward(&z_masked, &pos_m); // [B, Nm, head]
        let main = match target {
            TargetValues::Pixels => {
                let patches = images.patchify(self.config.patch_size).take_rows(&masked); // [B, Nm, C·p·p]
                pred.mse(&Var::constant(normalized_patches(&patches)))
            }
            TargetValues::Tokens(ids) => {
                let picked = ids.unsqueeze(-1).take_rows(&masked).flatten(0, -1); // [B·Nm]
                pred.flatten(0, 1).cross_entropy(&picked)
            }
        };
        let (main_v, align_v) = (main.value().item(), align.value().item());
        let loss = main.add(&align.mul_scalar(self.config.align_weight));
        CaeLosses {
            loss,
            main: main_v,
            align: align_v,
            latents: z_masked.value().clone(),
            target_latents: target_latents.value().clone(),
        }
    }

    /// The fixed sin-cos positions of every patch, broadcast over a batch of `b`: [B, N, D].
    pub fn positions(&self, b: usize, dtype: DType) -> Tensor {
        let (n, d) = (self.config.num_patches(), self.config.dim);
        self.pos.to_dtype(dtype).broadcast_to([b, n, d])
    }

    /// The encoder over the visible patches (i64 [B, Nv]), then the regressor: the predicted
    /// latents of the masked patches (i64 [B, Nm]) and those patches' positions, both [B, Nm, D].
    pub fn regress(&self, x: &Var, visible: &Tensor, masked: &Tensor, drop: Option<u64>) -> (Var, Var) {
        let nv = visible.dim(1);
        let z = self.encoder.forward(x, Some(visible), drop); // [B, 1 + Nv, D]
        let z_visible = z.narrow(1, 1, nv); // cls dropped: [B, Nv, D]
        let pos = self.positions(x.dim(0), x.dtype()); // [B, N, D], made on the host
        let on_device = |t: Tensor| Var::constant(t.to_device(x.value().device())); // to the images' device
        let (pos_v, pos_m) = (on_device(pos.take_rows(visible)), on_device(pos.take_rows(masked)));
        (self.regressor.forward(&z_visible, &pos_v, &pos_m), pos_m)
    }

    /// The config's target kind.
    pub fn target(&self) -> Target {
        self.config.target
    }
}
