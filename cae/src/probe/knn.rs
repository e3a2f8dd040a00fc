//! Weighted k-nearest-neighbour classification of frozen features, the protocol DINO reports:
//! cosine similarity to every training vector, the k most similar vote for their label with
//! weight exp(similarity / T).

use tensor::Tensor;

use super::linear::{argmax, num_classes};
use super::Features;

/// Neighbours that vote (DINO's 20-NN).
pub const KNN_K: usize = 20;
/// Temperature of the vote weights exp(sim / T) (DINO's 0.07).
pub const KNN_TEMPERATURE: f64 = 0.07;
/// Queries per similarity matmul: bounds the [chunk, n_train] similarity block held at once.
const QUERY_CHUNK: usize = 1024;

/// Rows of `f` scaled to unit length, as a tensor [n, dim] (zero rows stay zero).
fn unit_rows(f: &Features) -> Tensor {
    let mut x = f.x.clone();
    for row in x.chunks_exact_mut(f.dim.max(1)) {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    }
    Tensor::from_vec(x, [f.len(), f.dim])
}

/// Top-1 accuracy of `val` classified by its `k` most cosine-similar `train` vectors, each voting
/// for its label with weight exp(sim / `temperature`) as DINO does (T = 0.07, k = 20 there).
pub fn knn_top1(train: &Features, val: &Features, k: usize, temperature: f64) -> f64 {
    assert_eq!(train.dim, val.dim, "train and val features differ in width");
    assert!(k > 0 && !train.is_empty(), "k-NN needs k > 0 and a memory bank");
    if val.is_empty() {
        return 0.0;
    }
    let (n, classes) = (train.len(), num_classes(&[train, val]));
    let k = k.min(n);
    let bank_t = unit_rows(train).t(); // [D, N]
    let queries = unit_rows(val); // [Q, D]
    let mut order: Vec<usize> = (0..n).collect();
    let mut votes = vec![0f32; classes];
    let mut correct = 0;
    for start in (0..val.len()).step_by(QUERY_CHUNK) {
        let len = QUERY_CHUNK.min(val.len() - start);
        let sims = queries.narrow(0, start, len).matmul(&bank_t).to_vec::<f32>(); // [chunk, N]
        for (q, row) in sims.chunks_exact(n).enumerate() {
            // Only the k largest are needed, in no particular order: a partial selection, not a sort.
            let by_sim = |a: &usize, b: &usize| row[*b].total_cmp(&row[*a]);
            if k < n {
                order.select_nth_unstable_by(k - 1, by_sim);
            }
            votes.fill(0.0);
            for &j in &order[..k] {
                votes[train.labels[j] as usize] += ((row[j] as f64) / temperature).exp() as f32;
            }
            correct += usize::from(argmax(&votes) == val.labels[start + q] as usize);
        }
    }
    correct as f64 / val.len() as f64
}
