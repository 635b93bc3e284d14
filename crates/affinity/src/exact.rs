//! Exact nearest neighbours by blocked brute force.

use rayon::prelude::*;
use tsne_core::{
    gradient::squared_distance, neighbor_order, Error, KnnGraph, Matrix, NeighborSearch, Result,
};

use crate::Metric;

/// Queries per parallel task.
const QUERY_BLOCK: usize = 128;
/// Reference points per distance tile.
const REFERENCE_BLOCK: usize = 1024;
/// Screening values tested together before any is looked at alone (one or two vector
/// compares).
const SCAN: usize = 32;
/// Unit roundoff of `f32`.
const ROUNDOFF_F32: f64 = f32::EPSILON as f64 / 2.0;
/// Added to every screening error bound: covers `f32` underflow of tiny coordinates.
const UNDERFLOW_FLOOR: f64 = 1e-30;

/// Exact kNN by comparing every pair: O(n^2 d) time, O(n k) memory.
///
/// Euclidean (and cosine, which is Euclidean on normalised rows): squared distances are
/// screened in tiles with `|x|^2 + |y|^2 - 2 x.y` in `f32` on centred data scaled by a power of
/// two, the `x.y` products coming from a cache-blocked SIMD matrix product
/// (`matrixmultiply::sgemm`). Each screened value carries a rigorous rounding bound
/// `e = 2 (d + 8) u (|x| + |y|)^2` (`u = 2^-24`; the classical dot-product bound `gamma_d |x||y|`
/// plus the norm and subtraction roundings, doubled), so a candidate is dropped only when its
/// lower bound exceeds the k-th smallest upper bound: no true neighbour can be lost. The
/// survivors are re-ranked with explicit `f64` differences on the original data. The reported
/// distances are therefore exact to `f64` rounding, ties are broken by index, and the tiling
/// does not depend on the thread count, so the graph is the same for any number of threads.
/// Every other metric (Manhattan, Chebyshev, ...): each distance computed directly by
/// [`Metric::distance`], the same guarantees.
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

impl BruteForce {
    /// The exact `k` nearest `reference` points of every row of `queries` under the metric
    /// (`1 <= k <= reference.rows()`), nearest first, ties by index: Euclidean distances
    /// screened and re-ranked as in the self search, every other metric computed directly.
    pub fn search_queries(
        &self,
        reference: &Matrix,
        queries: &Matrix,
        k: usize,
    ) -> Result<ReferenceNeighbors> {
        if !(1..=reference.rows()).contains(&k) {
            return Err(Error::InvalidParameter {
                name: "k",
                reason: format!("{k} neighbours asked of {} reference points", reference.rows()),
            });
        }
        if queries.cols() != reference.cols() {
            return Err(Error::DimensionMismatch {
                what: "query columns",
                expected: reference.cols(),
                found: queries.cols(),
            });
        }
        self.metric.check()?;
        let (indices, distances) = match self.metric {
            Metric::Euclidean => Screen::new(reference, Some(queries)).search(k),
            metric => direct_queries(reference, queries, k, metric),
        };
        Ok(ReferenceNeighbors { k, indices, distances })
    }
}

/// The `k` nearest reference points of each query (row `i`: `neighbors(i)` nearest first,
/// with their `distances(i)`), from [`BruteForce::search_queries`].
#[derive(Debug, Clone, PartialEq)]
pub struct ReferenceNeighbors {
    k: usize,
    indices: Vec<u32>,
    distances: Vec<f64>,
}

impl ReferenceNeighbors {
    /// Neighbours per query.
    pub fn k(&self) -> usize {
        self.k
    }

    /// The number of queries.
    pub fn queries(&self) -> usize {
        self.indices.len() / self.k
    }

    /// The reference points nearest to query `i`, nearest first.
    pub fn neighbors(&self, i: usize) -> &[u32] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    /// Their distances.
    pub fn distances(&self, i: usize) -> &[f64] {
        &self.distances[i * self.k..(i + 1) * self.k]
    }

    /// The row-major indices and distances.
    pub fn into_parts(self) -> (Vec<u32>, Vec<f64>) {
        (self.indices, self.distances)
    }
}

impl NeighborSearch for BruteForce {
    fn search(&self, points: &Matrix, k: usize) -> Result<KnnGraph> {
        self.metric.search(points, k, |x, metric| match metric {
            Metric::Euclidean => euclidean(x, k),
            metric => direct(x, k, metric),
        })
    }

    fn name(&self) -> &str {
        "exact"
    }
}

/// Exact neighbours under a directly computed metric, one full row of distances per query.
fn direct(points: &Matrix, k: usize, metric: Metric) -> Result<KnnGraph> {
    let n = points.rows();
    let (indices, distances) = nearest_rows(n, k, |i, all| {
        let xi = points.row(i);
        all.extend((0..n).filter(|&j| j != i).map(|j| (metric.distance(xi, points.row(j)), j as u32)));
    });
    KnnGraph::new(n, k, indices, distances)
}

/// Exact neighbours of queries among reference points under a directly computed metric.
fn direct_queries(reference: &Matrix, queries: &Matrix, k: usize, metric: Metric) -> (Vec<u32>, Vec<f64>) {
    nearest_rows(queries.rows(), k, |i, all| {
        let x = queries.row(i);
        all.extend((0..reference.rows()).map(|j| (metric.distance(x, reference.row(j)), j as u32)));
    })
}

/// The `k` nearest candidates of each of `m` rows (row-major indices and distances, sorted
/// by distance then index): `candidates(i, all)` adds row `i`'s, at least `k`, to the empty
/// `all`. Rows run in parallel, each written by one task, so the result is the same for any
/// thread count.
pub fn nearest_rows(
    m: usize,
    k: usize,
    candidates: impl Fn(usize, &mut Vec<(f64, u32)>) + Sync,
) -> (Vec<u32>, Vec<f64>) {
    let mut indices = vec![0u32; m * k];
    let mut distances = vec![0.0; m * k];
    indices.par_chunks_mut(k.max(1)).zip(distances.par_chunks_mut(k.max(1))).enumerate().for_each_init(
        Vec::new,
        |all: &mut Vec<(f64, u32)>, (i, (idx, dist))| {
            all.clear();
            candidates(i, all);
            nearest(all, idx, dist);
        },
    );
    (indices, distances)
}

/// Writes the `idx.len()` smallest `(distance, index)` candidates of `all`, sorted by distance
/// then index, into `idx` and `dist`; `all` must hold at least that many.
pub fn nearest(all: &mut Vec<(f64, u32)>, idx: &mut [u32], dist: &mut [f64]) {
    let k = idx.len();
    let order = neighbor_order;
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

/// A screened candidate: bounds on its squared distance and its index.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    lower: f32,
    upper: f32,
    index: u32,
}

/// One query's screening state: its candidates, the k-th smallest upper bound so far and the
/// number of candidates that triggers the next shrink.
struct Shortlist {
    candidates: Vec<Candidate>,
    cutoff: f32,
    shrink_at: usize,
}

/// Rows in the screen's units: centred on the reference's mean, scaled by a power of two
/// (exact), rounded to `f32`, with their squared lengths.
struct Scaled {
    x32: Vec<f32>,
    squared32: Vec<f32>,
    length: Vec<f64>,
}

impl Scaled {
    fn new(points: &Matrix, mean: &[f64], scale: f64) -> Self {
        let mut x32 = Vec::with_capacity(points.as_slice().len());
        let mut squared = Vec::with_capacity(points.rows());
        for i in 0..points.rows() {
            let mut s = 0.0;
            for (v, m) in points.row(i).iter().zip(mean) {
                let c = (v - m) * scale;
                x32.push(c as f32);
                s += c * c;
            }
            squared.push(s);
        }
        let squared32 = squared.iter().map(|&v| v as f32).collect();
        let length = squared.iter().map(|v| v.sqrt()).collect();
        Self { x32, squared32, length }
    }
}

/// Largest absolute coordinate of `points` less `mean`.
fn largest_offset(points: &Matrix, mean: &[f64]) -> f64 {
    (0..points.rows())
        .flat_map(|i| points.row(i).iter().zip(mean).map(|(v, m)| v - m))
        .fold(0.0f64, |m, v| m.max(v.abs()))
}

/// Exact Euclidean neighbours of queries among reference points by blocked `f32` screening
/// with rounding bounds and `f64` re-ranking (see [`BruteForce`]).
struct Screen<'a> {
    reference: &'a Matrix,
    queries: &'a Matrix,
    /// The queries are the reference points: a point is not its own neighbour.
    own: bool,
    r: Scaled,
    /// The queries in the screen's units; none when they are the reference points.
    q: Option<Scaled>,
    /// Largest length of each block of `REFERENCE_BLOCK` reference rows.
    block_length: Vec<f64>,
    /// `e = bound_factor (|x| + |y|)^2` bounds the screening error.
    bound_factor: f64,
    /// The square of the screen's scale (a power of two).
    scale2: f64,
}

impl<'a> Screen<'a> {
    /// The screen of `queries` (none: the reference points themselves) against `reference`.
    /// Centring on the reference's mean shrinks |x|^2 and with it the cancellation in the
    /// screening formula; the power-of-two scale keeps `f32` clear of overflow whatever the
    /// data's units.
    fn new(reference: &'a Matrix, queries: Option<&'a Matrix>) -> Self {
        let mean = reference.column_means();
        let largest =
            queries.iter().fold(largest_offset(reference, &mean), |m, q| m.max(largest_offset(q, &mean)));
        let scale = if largest > 0.0 { (-largest.log2().ceil()).exp2() } else { 1.0 };
        let r = Scaled::new(reference, &mean, scale);
        let block_length =
            r.length.chunks(REFERENCE_BLOCK).map(|b| b.iter().fold(0.0f64, |m, &v| m.max(v))).collect();
        Self {
            reference,
            queries: queries.unwrap_or(reference),
            own: queries.is_none(),
            q: queries.map(|q| Scaled::new(q, &mean, scale)),
            r,
            block_length,
            bound_factor: 2.0 * (reference.cols() as f64 + 8.0) * ROUNDOFF_F32,
            scale2: scale * scale,
        }
    }

    fn scaled_queries(&self) -> &Scaled {
        self.q.as_ref().unwrap_or(&self.r)
    }

    /// Exact squared distance of query `i` to reference point `j` in the screen's units (the
    /// factor is a power of two: exact).
    fn exact_in_units(&self, i: usize, j: u32) -> f64 {
        squared_distance(self.queries.row(i), self.reference.row(j as usize)) * self.scale2
    }

    /// The `k` nearest reference points of every query (row-major) and their distances.
    fn search(&self, k: usize) -> (Vec<u32>, Vec<f64>) {
        let m = self.queries.rows();
        let mut indices = vec![0u32; m * k];
        let mut distances = vec![0.0; m * k];
        indices
            .par_chunks_mut(QUERY_BLOCK * k)
            .zip(distances.par_chunks_mut(QUERY_BLOCK * k))
            .enumerate()
            .for_each(|(qb, (idx, dist))| self.query_block(qb * QUERY_BLOCK, k, idx, dist));
        (indices, distances)
    }

    /// The neighbours of the queries from `q0` on, as many as `idx` has rows of `k`.
    fn query_block(&self, q0: usize, k: usize, idx: &mut [u32], dist: &mut [f64]) {
        let nq = idx.len() / k;
        let n = self.reference.rows();
        let mut tile = vec![0.0f32; QUERY_BLOCK * REFERENCE_BLOCK];
        let mut lists: Vec<Shortlist> = (0..nq)
            .map(|_| Shortlist {
                candidates: Vec::with_capacity(2 * k + REFERENCE_BLOCK),
                cutoff: f32::INFINITY,
                shrink_at: 2 * k,
            })
            .collect();
        for (b, r0) in (0..n).step_by(REFERENCE_BLOCK).enumerate() {
            let nr = REFERENCE_BLOCK.min(n - r0);
            self.dot_tile(q0, nq, r0, nr, &mut tile);
            for (q, list) in lists.iter_mut().enumerate() {
                self.screen_row(q0 + q, &tile[q * nr..(q + 1) * nr], r0, b, list);
                if list.candidates.len() >= list.shrink_at {
                    list.cutoff = shrink(&mut list.candidates, k, |j| self.exact_in_units(q0 + q, j));
                    list.shrink_at = 2 * list.candidates.len().max(k);
                }
            }
        }
        let mut exact: Vec<(f64, u32)> = Vec::with_capacity(2 * k + REFERENCE_BLOCK);
        for (q, list) in lists.iter_mut().enumerate() {
            let out = q * k..(q + 1) * k;
            self.rerank(q0 + q, &mut list.candidates, &mut exact, &mut idx[out.clone()], &mut dist[out]);
        }
    }

    /// `tile[q][r] = x_q . x_r` for the `nq` queries from `q0` and the `nr` reference points
    /// from `r0`.
    fn dot_tile(&self, q0: usize, nq: usize, r0: usize, nr: usize, tile: &mut [f32]) {
        let d = self.reference.cols();
        let (xq, xr) = (&self.scaled_queries().x32[q0 * d..], &self.r.x32[r0 * d..]);
        assert!(xq.len() >= nq * d && xr.len() >= nr * d && tile.len() >= nq * nr);
        // SAFETY: the pointers cover nq x d, nr x d and nq x nr valid f32 values with the
        // given row and column strides (asserted above).
        unsafe {
            matrixmultiply::sgemm(
                nq,
                d,
                nr,
                1.0,
                xq.as_ptr(),
                d as isize,
                1,
                xr.as_ptr(),
                1,
                d as isize,
                0.0,
                tile.as_mut_ptr(),
                nr as isize,
                1,
            );
        }
    }

    /// Adds to query `i`'s list every reference point of block `b` (from `r0`) whose screened
    /// squared distance may be within its cutoff; `dots` is the query's row of the tile.
    fn screen_row(&self, i: usize, dots: &[f32], r0: usize, b: usize, list: &mut Shortlist) {
        let queries = self.scaled_queries();
        let reach = queries.length[i] + self.block_length[b];
        let e = (self.bound_factor * reach * reach + UNDERFLOW_FLOOR) as f32;
        let (si, limit) = (queries.squared32[i], list.cutoff + e);
        let sq = &self.r.squared32[r0..r0 + dots.len()];
        // Most of a tile is far: a branch-free pass over SCAN values finds whether any of
        // them is a candidate, and only those chunks are walked one by one.
        for (a, (dots, sqs)) in dots.chunks(SCAN).zip(sq.chunks(SCAN)).enumerate() {
            let near = dots.iter().zip(sqs).fold(false, |m, (&dot, &sj)| m | (si + sj - 2.0 * dot <= limit));
            if !near {
                continue;
            }
            for (t, (&dot, &sj)) in dots.iter().zip(sqs).enumerate() {
                let s = si + sj - 2.0 * dot;
                let j = r0 + a * SCAN + t;
                if s <= limit && !(self.own && j == i) {
                    list.candidates.push(Candidate { lower: s - e, upper: s + e, index: j as u32 });
                }
            }
        }
    }

    /// Query `i`'s `k = idx.len()` nearest candidates by exact `f64` distance, ties by index.
    fn rerank(
        &self,
        i: usize,
        c: &mut Vec<Candidate>,
        exact: &mut Vec<(f64, u32)>,
        idx: &mut [u32],
        dist: &mut [f64],
    ) {
        shrink(c, idx.len(), |j| self.exact_in_units(i, j));
        // Rows in memory order: the exact distances read the candidates' rows sequentially
        // rather than at random.
        c.sort_unstable_by_key(|c| c.index);
        exact.clear();
        let x = self.queries.row(i);
        exact.extend(c.iter().map(|c| (squared_distance(x, self.reference.row(c.index as usize)), c.index)));
        exact.sort_unstable_by(neighbor_order);
        for (t, &(d2, j)) in exact.iter().take(idx.len()).enumerate() {
            idx[t] = j;
            dist[t] = d2.sqrt();
        }
    }
}

/// Exact Euclidean neighbours of every point among the others.
fn euclidean(points: &Matrix, k: usize) -> Result<KnnGraph> {
    let (indices, distances) = Screen::new(points, None).search(k);
    KnnGraph::new(points.rows(), k, indices, distances)
}

/// Survivors of a shrink beyond which the candidates are ranked exactly (many points at
/// nearly the same distance, e.g. duplicates, would otherwise all survive the bounds).
fn exact_cap(k: usize) -> usize {
    2 * k + 64
}

/// Drops every candidate whose lower bound exceeds the k-th smallest upper bound (at least k
/// others are then surely closer) and returns that upper bound. When more than
/// [`exact_cap`] survive, ranks them by `exact` squared distance (in the units of the bounds;
/// ties by index) and keeps
/// exactly k, with bounds that bracket their exact distances. Needs `c.len() >= k`.
fn shrink(c: &mut Vec<Candidate>, k: usize, exact: impl Fn(u32) -> f64) -> f32 {
    let (_, kth, _) = c.select_nth_unstable_by(k - 1, |a, b| a.upper.total_cmp(&b.upper));
    let cutoff = kth.upper;
    c.retain(|x| x.lower <= cutoff);
    if c.len() <= exact_cap(k) {
        return cutoff;
    }
    let mut ranked: Vec<(f64, u32)> = c.iter().map(|x| (exact(x.index), x.index)).collect();
    ranked.select_nth_unstable_by(k - 1, neighbor_order);
    c.clear();
    c.extend(ranked[..k].iter().map(|&(d2, index)| {
        // Non-negative floats: the next representable value up or down is one bit step.
        let near = d2 as f32;
        let (lower, upper) = match (near as f64).total_cmp(&d2) {
            std::cmp::Ordering::Less => (near, f32::from_bits(near.to_bits() + 1)),
            // near > d2 >= 0: the next float down is below near.
            std::cmp::Ordering::Greater => (f32::from_bits(near.to_bits() - 1), near),
            std::cmp::Ordering::Equal => (near, near),
        };
        Candidate { lower, upper, index }
    }));
    c.iter().map(|x| x.upper).fold(f32::NEG_INFINITY, f32::max)
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
        assert_eq!(
            BruteForce::default().search(&x, 3),
            Err(tsne_core::Error::TooManyNeighbors { k: 3, n: 3 })
        );
    }

    /// Brute-force reference: the `k` smallest exact distances of point `i`, ties by index.
    fn sorted_neighbours(x: &Matrix, i: usize, k: usize) -> Vec<u32> {
        let mut all: Vec<(f64, u32)> = (0..x.rows())
            .filter(|&j| j != i)
            .map(|j| (squared_distance(x.row(i), x.row(j)), j as u32))
            .collect();
        all.sort_by(neighbor_order);
        all[..k].iter().map(|p| p.1).collect()
    }

    /// Distances that differ far below `f32` resolution (relative 1e-11) on data far from the
    /// origin: the screening cannot order them, the re-ranking must.
    #[test]
    fn separates_near_ties_below_f32_resolution() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let (n, d) = (3000, 20);
        let mut data = vec![0.0; n * d];
        for j in 1..n {
            let dir: Vec<f64> = (0..d).map(|_| rng.gen_range(-1.0..1.0)).collect();
            let len = dir.iter().map(|v| v * v).sum::<f64>().sqrt();
            // Radii decrease with the index, so the answer is not the index order.
            let radius = 1.0 + (n - j) as f64 * 1e-11;
            for c in 0..d {
                data[j * d + c] = dir[c] / len * radius;
            }
        }
        for v in &mut data {
            *v += 500.0;
        }
        let x = Matrix::new(n, d, data).unwrap();
        let k = 40;
        let g = BruteForce::default().search(&x, k).unwrap();
        let want: Vec<u32> = (0..k as u32).map(|t| n as u32 - 1 - t).collect();
        assert_eq!(g.neighbors(0), &want[..]);
        assert_eq!(g.neighbors(0), &sorted_neighbours(&x, 0, k)[..]);
    }

    /// Coordinates whose squares overflow or underflow `f32` give the same graph as unit-scale data.
    #[test]
    fn scale_does_not_change_the_graph() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let (n, d, k) = (1500, 8, 15);
        let base: Vec<f64> = (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect();
        let reference = BruteForce::default().search(&Matrix::new(n, d, base.clone()).unwrap(), k).unwrap();
        for factor in [1e150, 1e-150] {
            let x = Matrix::new(n, d, base.iter().map(|v| v * factor).collect()).unwrap();
            let g = BruteForce::default().search(&x, k).unwrap();
            for i in 0..n {
                assert_eq!(g.neighbors(i), reference.neighbors(i), "factor {factor}, point {i}");
            }
        }
    }

    /// Hundreds of identical points: the k lowest indices, found without keeping every tie.
    #[test]
    fn duplicates_resolve_by_index() {
        let (n, d, k) = (3000, 5, 10);
        let mut data = vec![1.0; n * d];
        // A few distinct points too, far away.
        for v in &mut data[..5 * d] {
            *v = 40.0;
        }
        let x = Matrix::new(n, d, data).unwrap();
        let g = BruteForce::default().search(&x, k).unwrap();
        for i in [5, 6, 1000, n - 1] {
            assert_eq!(g.neighbors(i), &sorted_neighbours(&x, i, k)[..], "point {i}");
        }
        assert_eq!(g.neighbors(0), &sorted_neighbours(&x, 0, k)[..]);
    }

    /// The `k` nearest reference points of `x` by a full sort of exact distances.
    fn sorted_reference_neighbours(
        reference: &Matrix,
        x: &[f64],
        k: usize,
        metric: Metric,
    ) -> Vec<(u32, f64)> {
        let mut all: Vec<(f64, u32)> =
            (0..reference.rows()).map(|j| (metric.distance(x, reference.row(j)), j as u32)).collect();
        all.sort_by(neighbor_order);
        all[..k].iter().map(|&(d, j)| (j, d)).collect()
    }

    /// Queries far outside the reference's range (their own scale sets the screen's) and
    /// queries that coincide with reference points: the same neighbours and distance bits as
    /// a full sort; every reference point when k is all of them.
    #[test]
    fn queries_find_their_exact_reference_neighbours() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (n, m, d) = (2500, 300, 12);
        let reference = Matrix::new(n, d, (0..n * d).map(|_| rng.gen_range(-1.0..1.0)).collect()).unwrap();
        let mut q: Vec<f64> = (0..m * d).map(|_| rng.gen_range(-1.0..1.0) * 1e3).collect();
        q[..d].copy_from_slice(reference.row(7));
        let queries = Matrix::new(m, d, q).unwrap();
        for (metric, k) in [(Metric::Euclidean, 20), (Metric::Manhattan, 5), (Metric::Euclidean, n)] {
            let found = BruteForce::new(metric).search_queries(&reference, &queries, k).unwrap();
            assert_eq!((found.queries(), found.k()), (m, k));
            for i in (0..m).step_by(13) {
                let want = sorted_reference_neighbours(&reference, queries.row(i), k, metric);
                let got: Vec<(u32, f64)> =
                    found.neighbors(i).iter().copied().zip(found.distances(i).iter().copied()).collect();
                assert_eq!(got, want, "{metric:?}, query {i}");
            }
        }
        let first = BruteForce::default().search_queries(&reference, &queries, 1).unwrap();
        assert_eq!((first.neighbors(0), first.distances(0)), (&[7u32][..], &[0.0][..]));
    }

    #[test]
    fn query_counts_and_columns_are_checked() {
        let reference = Matrix::new(3, 2, vec![0.0; 6]).unwrap();
        let search = BruteForce::default();
        for k in [0, 4] {
            let queries = Matrix::new(1, 2, vec![0.0; 2]).unwrap();
            assert!(matches!(
                search.search_queries(&reference, &queries, k),
                Err(Error::InvalidParameter { name: "k", .. })
            ));
        }
        let wide = Matrix::new(1, 3, vec![0.0; 3]).unwrap();
        assert!(matches!(search.search_queries(&reference, &wide, 1), Err(Error::DimensionMismatch { .. })));
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
                all.sort_by(neighbor_order);
                let want: Vec<u32> = all[..k].iter().map(|p| p.1).collect();
                prop_assert_eq!(g.neighbors(i), &want[..]);
            }
        }
    }
}
