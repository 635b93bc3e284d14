//! Brute-force nearest neighbours.

use rayon::prelude::*;
use tsne_core::{gradient::squared_distance, Error, KnnGraph, Matrix, NeighborSearch, Result};

/// Exact kNN by comparing every pair: O(n^2 d) time, O(n k) memory, parallel over query points.
///
/// Distances are computed as explicit differences (not `|x|^2 - 2xy + |y|^2`), so they are
/// exact to rounding and never negative; ties are broken by index, so the graph is the same
/// for any thread count.
#[derive(Debug, Clone, Copy, Default)]
pub struct BruteForce;

impl NeighborSearch for BruteForce {
    fn search(&self, points: &Matrix, k: usize) -> Result<KnnGraph> {
        let n = points.rows();
        if k == 0 || k >= n {
            return Err(Error::TooManyNeighbors { k, n });
        }
        let mut indices = vec![0u32; n * k];
        let mut distances = vec![0.0; n * k];
        indices.par_chunks_mut(k).zip(distances.par_chunks_mut(k)).enumerate().for_each_init(
            || Vec::with_capacity(n),
            |cand: &mut Vec<(f64, u32)>, (i, (idx, dist))| {
                cand.clear();
                let xi = points.row(i);
                cand.extend(
                    (0..n).filter(|&j| j != i).map(|j| (squared_distance(xi, points.row(j)), j as u32)),
                );
                let by_distance = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
                if k < cand.len() {
                    cand.select_nth_unstable_by(k - 1, by_distance);
                }
                let nearest = &mut cand[..k];
                nearest.sort_unstable_by(by_distance);
                for (t, &(d2, j)) in nearest.iter().enumerate() {
                    idx[t] = j;
                    dist[t] = d2.sqrt();
                }
            },
        );
        KnnGraph::new(n, k, indices, distances)
    }

    fn name(&self) -> &str {
        "exact"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_neighbours_on_a_line() {
        let x = Matrix::new(5, 1, vec![0.0, 1.0, 3.0, 6.0, 10.0]).unwrap();
        let g = BruteForce.search(&x, 2).unwrap();
        assert_eq!(g.neighbors(0), &[1, 2]);
        assert_eq!(g.neighbors(2), &[1, 0]);
        assert_eq!(g.neighbors(4), &[3, 2]);
        assert_eq!(g.distances(3), &[3.0, 4.0]);
    }

    #[test]
    fn k_must_be_below_n() {
        let x = Matrix::new(3, 1, vec![0.0, 1.0, 2.0]).unwrap();
        assert_eq!(BruteForce.search(&x, 3), Err(Error::TooManyNeighbors { k: 3, n: 3 }));
    }
}
