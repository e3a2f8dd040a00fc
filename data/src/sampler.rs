//! Which records a rank reads in an epoch, in which order: a global permutation seeded by
//! (seed, epoch), dealt round-robin to the ranks, so that over all ranks each record is read
//! exactly once per epoch, and every rank computes its share without talking to the others.

use crate::rng::SplitMix64;

/// Stream id of the per-epoch shuffle.
const EPOCH_STREAM: u64 = 3;

/// This rank's records for `epoch`, as global record numbers in reading order.
///
/// `shuffle = false` keeps the stored order (evaluation). `even = true` trims every rank to
/// `total / world` records, so that data-parallel ranks take the same number of steps; it then
/// leaves out up to `world - 1` records of the epoch (different ones each epoch when shuffled).
pub fn rank_order(total: u64, seed: u64, epoch: u64, rank: usize, world: usize, shuffle: bool, even: bool) -> Vec<u64> {
    assert!(world > 0 && rank < world, "rank {rank} must be below world size {world}");
    let mut all: Vec<u64> = (0..total).collect();
    if shuffle {
        SplitMix64::from_parts(&[seed, epoch, EPOCH_STREAM]).shuffle(&mut all);
    }
    let mut mine: Vec<u64> = all.into_iter().skip(rank).step_by(world).collect();
    if even {
        mine.truncate((total / world as u64) as usize);
    }
    mine
}

/// How many records [`rank_order`] gives this rank, without building the order.
pub fn rank_len(total: u64, rank: usize, world: usize, even: bool) -> usize {
    assert!(world > 0 && rank < world, "rank {rank} must be below world size {world}");
    let (rank, world) = (rank as u64, world as u64);
    let n = if even { total / world } else { total.saturating_sub(rank).div_ceil(world) };
    n as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_partition_the_epoch() {
        for world in [1, 2, 3, 8] {
            let mut seen: Vec<u64> = (0..world).flat_map(|r| rank_order(101, 9, 4, r, world, true, false)).collect();
            seen.sort();
            assert_eq!(seen, (0..101).collect::<Vec<_>>(), "world {world}");
            let even: Vec<usize> = (0..world).map(|r| rank_order(101, 9, 4, r, world, true, true).len()).collect();
            assert!(even.iter().all(|&n| n == 101 / world));
            for rank in 0..world {
                for (total, even) in [(101, false), (101, true), (2, false), (0, false)] {
                    let n = rank_order(total, 1, 0, rank, world, true, even).len();
                    assert_eq!(rank_len(total, rank, world, even), n, "total {total} rank {rank}/{world}");
                }
            }
        }
        assert_ne!(rank_order(50, 9, 0, 0, 1, true, false), rank_order(50, 9, 1, 0, 1, true, false));
        assert_eq!(rank_order(5, 9, 0, 0, 1, false, false), [0, 1, 2, 3, 4]);
    }
}
