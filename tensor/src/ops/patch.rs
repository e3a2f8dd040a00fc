//! Images ↔ patch sequences: [B, C, H, W] ↔ [B, N, C·p·p] with N = (H/p)·(W/p).
//!
//! Patches are numbered row-major over the grid (patch (r, c) is number r·(W/p) + c) and each patch
//! vector is ordered (channel, y, x), the order of a Conv2d weight [D, C, p, p] flattened: so the
//! patch embedding is exactly patchify followed by a Linear with that weight reshaped to [D, C·p·p].

use crate::Tensor;

impl Tensor {
    /// [B, C, H, W] → [B, (H/p)·(W/p), C·p·p].
    pub fn patchify(&self, p: usize) -> Tensor {
        assert_eq!(self.rank(), 4, "patchify takes [B, C, H, W] images, got {:?}", self.shape());
        let (b, c, h, w) = (self.dims()[0], self.dims()[1], self.dims()[2], self.dims()[3]);
        assert!(p > 0 && h % p == 0 && w % p == 0, "patchify: {h}×{w} images do not split into {p}×{p} patches");
        let (gh, gw) = (h / p, w / p);
        self.reshape([b, c, gh, p, gw, p]) // [B, C, Gh, p, Gw, p]
            .permute(&[0, 2, 4, 1, 3, 5]) // [B, Gh, Gw, C, p, p]
            .reshape([b, gh * gw, c * p * p])
    }

    /// [B, N, C·p·p] → [B, C, H, W], the inverse of `patchify` for a grid of `grid_h × grid_w` patches.
    pub fn unpatchify(&self, p: usize, channels: usize, grid_h: usize, grid_w: usize) -> Tensor {
        assert_eq!(self.rank(), 3, "unpatchify takes [B, N, C·p·p], got {:?}", self.shape());
        let (b, n, d) = (self.dims()[0], self.dims()[1], self.dims()[2]);
        assert!(
            n == grid_h * grid_w && d == channels * p * p,
            "unpatchify: [B, {n}, {d}] is not a {grid_h}×{grid_w} grid of {channels}-channel {p}×{p} patches"
        );
        self.reshape([b, grid_h, grid_w, channels, p, p])
            .permute(&[0, 3, 1, 4, 2, 5]) // [B, C, Gh, p, Gw, p]
            .reshape([b, channels, grid_h * p, grid_w * p])
    }
}
