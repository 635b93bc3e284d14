//! Exact nearest neighbours by blocked brute force.

use rayon::prelude::*;
use tsne_core::{gradient::squared_distance, Error, KnnGraph, Matrix, NeighborSearch, Result};

use crate::Metric;

/// Queries per parallel task.
const QUERY_BLOCK: usize = 128;
/// Reference points per distance tile.
const REFERENCE_BLOCK: usize = 1024;
/// Extra candidates kept per query to absorb the rounding of the screening formula.
const MARGIN: usize = 8;

/// Exact kNN by comparing every pair: O(n^2 d) time, O(n k) memory.
///
/// Euclidean (and cosine, which is Euclidean on normalised rows): distances are screened in tiles with `|x|^2 + |y|^2 - 2 x.y` on column-centred data, the
/// `x.y` products coming from a cache-blocked SIMD matrix product (`matrixmultiply::dgemm`);
/// the best `k + 8` candidates of each point are then re-ranked with explicit differences. The reported
/// distances are therefore exact to `f64` rounding, ties are broken by index, and the tiling
/// does not depend on the thread count, so the graph is the same for any number of threads.
/// Manhattan: every distance computed directly, the same guarantees.
#[derive(Debug, Clone, Copy, Default)]
pub struct BruteForce {
    metric: Metric,
}

impl BruteForce {
    /// Exact search under `metric`.
    pub fn new(metric: Metric) -> Self {
        Self { metric }
    }

    /// The metric searched.
    pub fn metric(&self) -> Metric {
        self.metric
    }
}

impl NeighborSearch for BruteForce {
    fn search(&self, points: &Matrix, k: usize) -> Result<KnnGraph> {
        let n = points.rows();
        if k == 0 || k >= n {
            return Err(Error::TooManyNeighbors { k, n });
        }
        match self.metric {
            Metric::Euclidean => euclidean(points, k),
            Metric::Cosine => Metric::cosine_from_euclidean(euclidean(&Metric::normalized(points)?, k)?),
            Metric::Manhattan => manhattan(points, k),
        }
    }

    fn name(&self) -> &str {
        "exact"
    }
}

/// Exact L1 neighbours, one full row of distances per query.
fn manhattan(points: &Matrix, k: usize) -> Result<KnnGraph> {
    let n = points.rows();
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0.0; n * k];
    indices.par_chunks_mut(k).zip(distances.par_chunks_mut(k)).enumerate().for_each_init(
        || Vec::with_capacity(n),
        |all: &mut Vec<(f64, u32)>, (i, (idx, dist))| {
            all.clear();
            let xi = points.row(i);
            all.extend(
                (0..n).filter(|&j| j != i).map(|j| (Metric::Manhattan.distance(xi, points.row(j)), j as u32)),
            );
            nearest(all, idx, dist);
        },
    );
    KnnGraph::new(n, k, indices, distances)
}

/// Writes the `idx.len()` smallest `(distance, index)` candidates of `all`, sorted by distance
/// then index, into `idx` and `dist`; `all` must hold at least that many.
pub fn nearest(all: &mut Vec<(f64, u32)>, idx: &mut [u32], dist: &mut [f64]) {
    let k = idx.len();
    let order = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    if all.len() > k {
        all.select_nth_unstable_by(k - 1, order);
        all.truncate(k);
    }
    all.sort_unstable_by(order);
    for (t, &(d, j)) in all.iter().enumerate() {
        idx[t] = j;
        dist[t] = d;
    }
}

/// Exact Euclidean neighbours by blocked screening and re-ranking.
fn euclidean(points: &Matrix, k: usize) -> Result<KnnGraph> {
    let (n, d) = (points.rows(), points.cols());
    let keep = (k + MARGIN).min(n - 1);
    // Centring shrinks |x|^2 and with it the cancellation in the screening formula.
    let mut centred = points.clone();
    centred.center();
    let xc = centred.as_slice();
    let norms: Vec<f64> = xc.chunks_exact(d.max(1)).map(|r| r.iter().map(|v| v * v).sum()).collect();
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0.0; n * k];
    indices
        .par_chunks_mut(QUERY_BLOCK * k)
        .zip(distances.par_chunks_mut(QUERY_BLOCK * k))
        .enumerate()
        .for_each(|(qb, (idx_out, dist_out))| {
            let q0 = qb * QUERY_BLOCK;
            let nq = idx_out.len() / k;
            let mut tile = vec![0.0f64; QUERY_BLOCK * REFERENCE_BLOCK];
            let mut cand: Vec<Vec<(f64, u32)>> =
                (0..nq).map(|_| Vec::with_capacity(2 * keep + REFERENCE_BLOCK)).collect();
            let mut bound = vec![f64::INFINITY; nq];
            for r0 in (0..n).step_by(REFERENCE_BLOCK) {
                let nr = REFERENCE_BLOCK.min(n - r0);
                // tile[q][r] = x_q . x_r
                // SAFETY: the pointers cover nq x d, nr x d and nq x nr valid f64 values
                // with the given row and column strides.
                unsafe {
                    matrixmultiply::dgemm(
                        nq,
                        d,
                        nr,
                        1.0,
                        xc[q0 * d..].as_ptr(),
                        d as isize,
                        1,
                        xc[r0 * d..].as_ptr(),
                        1,
                        d as isize,
                        0.0,
                        tile.as_mut_ptr(),
                        nr as isize,
                        1,
                    );
                }
                for (q, c) in cand.iter_mut().enumerate() {
                    let i = q0 + q;
                    let row = &tile[q * nr..(q + 1) * nr];
                    for (t, &dot) in row.iter().enumerate() {
                        let j = r0 + t;
                        let d2 = norms[i] + norms[j] - 2.0 * dot;
                        if d2 <= bound[q] && j != i {
                            c.push((d2, j as u32));
                        }
                    }
                    if c.len() >= 2 * keep {
                        shrink(c, keep);
                        bound[q] = c[keep - 1].0;
                    }
                }
            }
            let mut exact: Vec<(f64, u32)> = Vec::with_capacity(2 * keep + REFERENCE_BLOCK);
            for (q, c) in cand.iter_mut().enumerate() {
                let i = q0 + q;
                if c.len() > keep {
                    shrink(c, keep);
                }
                exact.clear();
                exact.extend(
                    c.iter().map(|&(_, j)| (squared_distance(points.row(i), points.row(j as usize)), j)),
                );
                exact.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for (t, &(d2, j)) in exact.iter().take(k).enumerate() {
                    idx_out[q * k + t] = j;
                    dist_out[q * k + t] = d2.sqrt();
                }
            }
        });
    KnnGraph::new(n, k, indices, distances)
}

/// Keeps the `keep` smallest candidates (by screened distance, then index).
fn shrink(c: &mut Vec<(f64, u32)>, keep: usize) {
    let order = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
    c.select_nth_unstable_by(keep - 1, order);
    c.truncate(keep);
    // The bound is the largest kept value.
    let worst = (0..keep).max_by(|&a, &b| order(&c[a], &c[b])).expect("keep > 0");
    c.swap(worst, keep - 1);
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn finds_neighbours_on_a_line() {
        let x = Matrix::new(5, 1, vec![0.0, 1.0, 3.0, 6.0, 10.0]).unwrap();
        let g = BruteForce::default().search(&x, 2).unwrap();
        assert_eq!(g.neighbors(0), &[1, 2]);
        assert_eq!(g.neighbors(2), &[1, 0]);
        assert_eq!(g.neighbors(4), &[3, 2]);
        assert_eq!(g.distances(3), &[3.0, 4.0]);
    }

    #[test]
    fn k_must_be_below_n() {
        let x = Matrix::new(3, 1, vec![0.0, 1.0, 2.0]).unwrap();
        assert_eq!(BruteForce::default().search(&x, 3), Err(Error::TooManyNeighbors { k: 3, n: 3 }));
    }

    proptest! {
        // A fixed seed: every run, CI included, checks the same cases (plus the saved regressions).
    #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(16), ..ProptestConfig::with_cases(16) })]
        /// The blocked search equals a plain sort of all exact distances.
        #[test]
        fn matches_a_full_sort(seed in 0u64..10_000, n in 2usize..2500, d in 1usize..40, k in 1usize..30, offset in -1e3f64..1e3) {
            let k = k.min(n - 1);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let x = Matrix::new(n, d, (0..n * d).map(|_| offset + rng.gen_range(-1.0..1.0)).collect()).unwrap();
            let g = BruteForce::default().search(&x, k).unwrap();
            for i in (0..n).step_by(97) {
                let mut all: Vec<(f64, u32)> = (0..n).filter(|&j| j != i).map(|j| (squared_distance(x.row(i), x.row(j)), j as u32)).collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let want: Vec<u32> = all[..k].iter().map(|p| p.1).collect();
                prop_assert_eq!(g.neighbors(i), &want[..]);
            }
        }
    }
}
