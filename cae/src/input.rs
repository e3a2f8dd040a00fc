//! From loader batches to model inputs: the loader always yields RGB `[B, 3, S, S]`; a model with one
//! input channel sees the mean of the three (grey images stored as RGB give back their grey values).

use data::Batch;
use tensor::Tensor;

/// The batch's images as f32 `[B, in_chans, S, S]`; `in_chans` is 3 (as loaded) or 1 (channel mean).
pub fn batch_images(batch: &Batch, in_chans: usize) -> Tensor {
    let [b, c, s, _] = batch.shape();
    match in_chans {
        3 => Tensor::from_vec(batch.images.clone(), [b, c, s, s]),
        1 => {
            let plane = s * s;
            let mut grey = vec![0f32; b * plane];
            for (i, out) in grey.chunks_exact_mut(plane).enumerate() {
                let img = &batch.images[i * c * plane..(i + 1) * c * plane];
                for (j, v) in out.iter_mut().enumerate() {
                    *v = (img[j] + img[plane + j] + img[2 * plane + j]) / 3.0;
                }
            }
            Tensor::from_vec(grey, [b, 1, s, s])
        }
        n => panic!("models take 1 or 3 input channels, not {n}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(images: Vec<f32>, b: usize, s: usize) -> Batch {
        Batch {
            index: 0,
            images,
            size: s,
            second: None,
            second_size: 0,
            labels: vec![0; b],
            records: (0..b as u64).collect(),
        }
    }

    #[test]
    fn one_channel_is_the_mean_of_three() {
        // Two 1×1 images: (r, g, b) = (1, 2, 6) and (0, 3, 0).
        let t = batch_images(&batch(vec![1.0, 2.0, 6.0, 0.0, 3.0, 0.0], 2, 1), 1);
        assert_eq!(t.dims(), &[2, 1, 1, 1]);
        assert_eq!(t.to_vec::<f32>(), vec![3.0, 1.0]);
        let t3 = batch_images(&batch(vec![1.0, 2.0, 6.0, 0.0, 3.0, 0.0], 2, 1), 3);
        assert_eq!(t3.dims(), &[2, 3, 1, 1]);
    }
}
