//! Model configuration: the sizes of the spec (tiny, small, base, large) and custom ones, for any
//! image size, patch size and channel count.

/// What the decoder predicts for each masked patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// Per-patch normalised pixels, regressed with MSE (needs no external weights).
    Pixels,
    /// DALL-E dVAE token ids out of `vocab`, classified with cross-entropy.
    Tokens { vocab: usize },
}

/// Everything that fixes the architecture of a CAE model.
#[derive(Clone, Debug, PartialEq)]
pub struct CaeConfig {
    pub image_size: usize,
    pub patch_size: usize,
    pub in_chans: usize,
    /// Encoder width; the regressor and decoder use the same width.
    pub dim: usize,
    pub depth: usize,
    pub heads: usize,
    pub regressor_depth: usize,
    pub decoder_depth: usize,
    /// Initial layer-scale γ (0.1; 1e-5 for large).
    pub init_values: f64,
    /// Largest drop-path rate; the encoder's rises linearly from 0 to it over the blocks.
    pub drop_path: f64,
    /// Patches masked per image.
    pub num_masked: usize,
    pub target: Target,
    /// Weight of the alignment MSE in the loss.
    pub align_weight: f64,
}

impl CaeConfig {
    fn preset(dim: usize, depth: usize, heads: usize, init_values: f64) -> CaeConfig {
        CaeConfig {
            image_size: 224,
            patch_size: 16,
            in_chans: 3,
            dim,
            depth,
            heads,
            regressor_depth: 4,
            decoder_depth: 4,
            init_values,
            drop_path: 0.1,
            num_masked: 98,
            target: Target::Tokens { vocab: 8192 },
            align_weight: 2.0,
        }
    }

    pub fn tiny() -> CaeConfig {
        Self::preset(192, 12, 12, 0.1)
    }
    pub fn small() -> CaeConfig {
        Self::preset(384, 12, 12, 0.1)
    }
    pub fn base() -> CaeConfig {
        Self::preset(768, 12, 12, 0.1)
    }
    pub fn large() -> CaeConfig {
        CaeConfig { heads: 16, ..Self::preset(1024, 24, 16, 1e-5) }
    }

    /// Patches per side.
    pub fn grid(&self) -> usize {
        self.image_size / self.patch_size
    }

    /// Patches per image.
    pub fn num_patches(&self) -> usize {
        self.grid() * self.grid()
    }

    /// Values per patch (C·p·p).
    pub fn patch_dim(&self) -> usize {
        self.in_chans * self.patch_size * self.patch_size
    }

    /// Width of the decoder head's output.
    pub fn head_dim(&self) -> usize {
        match self.target {
            Target::Pixels => self.patch_dim(),
            Target::Tokens { vocab } => vocab,
        }
    }

    /// Checks the numbers fit together, naming the first that does not.
    pub fn validate(&self) -> Result<(), String> {
        let p = self.patch_size;
        if p == 0 || !self.image_size.is_multiple_of(p) {
            return Err(format!("image size {} is not a multiple of patch size {p}", self.image_size));
        }
        if self.heads == 0 || !self.dim.is_multiple_of(self.heads) {
            return Err(format!("width {} does not split into {} heads", self.dim, self.heads));
        }
        if !self.dim.is_multiple_of(4) {
            return Err(format!("width {} must be divisible by 4 for 2-D sin-cos positions", self.dim));
        }
        if self.num_masked == 0 || self.num_masked >= self.num_patches() {
            return Err(format!("num_masked {} must be in 1..{}", self.num_masked, self.num_patches()));
        }
        if !(0.0..1.0).contains(&self.drop_path) {
            return Err(format!("drop_path {} must be in [0, 1)", self.drop_path));
        }
        Ok(())
    }
}
