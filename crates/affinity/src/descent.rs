//! Approximate nearest neighbours by NN-descent started from a random-projection forest.
//!
//! Dong, Moses & Li (2011), "Efficient k-nearest neighbor graph construction for generic
//! similarity measures", with the practice of PyNNDescent (McInnes): a forest of random
//! projection trees gives each point a first candidate list (all pairs inside each leaf), then
//! rounds of *local joins* (a neighbour of my neighbour is probably my neighbour) improve every
//! list until fewer than `delta * n * k` entries change in a round.
//!
//! Determinism: every list is the `k` smallest distinct `(distance, index)` pairs of all the
//! candidates offered to it; that set does not depend on the order of the offers, and the
//! offers of a round depend only on the lists at the start of the round and on seeded hashes.
//! So the graph is the same for any number of threads and on every run.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use tsne_core::{Error, KnnGraph, Matrix, NeighborSearch, Result};

use crate::Metric;

mod heaps;

use heaps::{id, ByDistance, Candidates, Entries, Lists, EMPTY, NEW};

/// Most local-join rounds: a round must fit in a stamp beside [`NEW`].
const MAX_ROUNDS: usize = NEW as usize - 1;

/// Settings of [`NnDescent`]; `None` fields are derived from `n` and `k`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct NnDescentParams {
    /// Random-projection trees of the starting forest; default `min(32, 5 + round(n^0.25))`
    /// (PyNNDescent's rule, capped; more trees give a better start, which saves rounds: the
    /// benchmark page has the measurements).
    pub trees: Option<usize>,
    /// Most points in a tree leaf; default `max(10, k + 1)`.
    pub leaf_size: Option<usize>,
    /// Candidates sampled per point and round for the local join; default `min(60, k)`
    /// (measured against 40 on the benchmark page).
    pub max_candidates: Option<usize>,
    /// Most local-join rounds (at most 127); default `max(5, round(log2 n))`.
    pub max_rounds: Option<usize>,
    /// Stop when a round changes fewer than `delta * n * k` list entries.
    pub delta: f64,
    /// Seed of the trees and of the candidate sampling.
    pub seed: u64,
    /// The distance searched (default Euclidean).
    pub metric: Metric,
}

impl Default for NnDescentParams {
    fn default() -> Self {
        Self {
            trees: None,
            leaf_size: None,
            max_candidates: None,
            max_rounds: None,
            delta: 0.001,
            seed: 0,
            metric: Metric::Euclidean,
        }
    }
}

/// NN-descent neighbour search under a [`Metric`] (cosine as Euclidean on normalised rows).
///
/// Distances are compared in `f32` while searching; the final lists are re-ranked with the
/// exact `f64` distance, so reported distances are exact and only the neighbour sets are
/// approximate. The graph is deterministic for a given seed, whatever the thread count.
#[derive(Debug, Clone, Copy, Default)]
pub struct NnDescent {
    params: NnDescentParams,
}

impl NnDescent {
    /// A search with the given settings, checked here.
    pub fn new(params: NnDescentParams) -> Result<Self> {
        let bad = |name, reason: String| Err(Error::InvalidParameter { name, reason });
        if !params.metric.has_approximate_search() {
            return bad(
                "metric",
                format!(
                    "NN-descent does not search the {} metric: use the exact search",
                    params.metric.name()
                ),
            );
        }
        for (name, v) in [
            ("trees", params.trees),
            ("leaf_size", params.leaf_size),
            ("max_candidates", params.max_candidates),
        ] {
            if v == Some(0) {
                return bad(name, "must be positive".into());
            }
        }
        if params.leaf_size.is_some_and(|l| l < 2) {
            return bad("leaf_size", "must be at least 2".into());
        }
        if params.max_rounds.is_some_and(|r| r > MAX_ROUNDS) {
            return bad("max_rounds", format!("must be at most {MAX_ROUNDS}"));
        }
        if !(params.delta >= 0.0 && params.delta.is_finite()) {
            return bad("delta", format!("must be a finite non-negative number, got {}", params.delta));
        }
        Ok(Self { params })
    }

    /// The settings.
    pub fn params(&self) -> NnDescentParams {
        self.params
    }
}

impl NeighborSearch for NnDescent {
    fn search(&self, points: &Matrix, k: usize) -> Result<KnnGraph> {
        self.params.metric.search(points, k, |x, metric| self.search_with(x, k, metric))
    }

    fn name(&self) -> &str {
        "nndescent"
    }
}

/// The searched rows in `f32` and the distance used to rank them.
struct Points {
    data: Vec<f32>,
    d: usize,
    metric: Metric,
    /// The CPU has AVX2 (checked once): the same arithmetic in wider registers.
    avx2: bool,
}

impl Points {
    fn new(data: Vec<f32>, d: usize, metric: Metric) -> Self {
        Self { data, d, metric, avx2: tsne_core::simd::avx2() }
    }

    fn row(&self, i: u32) -> &[f32] {
        &self.data[i as usize * self.d..(i as usize + 1) * self.d]
    }

    /// Squared Euclidean or L1 distance: a monotone stand-in for the metric. Computed in
    /// the order of the sorted pair, so `distance(a, b)` and `distance(b, a)` are the same bits.
    #[inline]
    fn distance(&self, a: u32, b: u32) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            let (x, y) = (self.row(a.min(b)), self.row(a.max(b)));
            // SAFETY: AVX2 was detected on this CPU in `Points::new`.
            return unsafe { lanes_avx2(self.metric, x, y) };
        }
        self.distance_inline(a, b)
    }

    /// The dot product of row `a` with `w`, in eight lanes like [`lanes`].
    fn dot(&self, a: u32, w: &[f32]) -> f32 {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            // SAFETY: AVX2 was detected on this CPU in `Points::new`.
            return unsafe { dot_avx2(self.row(a), w) };
        }
        dot(self.row(a), w)
    }

    /// [`Points::distance`] compiled into its caller (and so with the caller's registers).
    #[inline(always)]
    fn distance_inline(&self, a: u32, b: u32) -> f32 {
        lanes(self.metric, self.row(a.min(b)), self.row(a.max(b)))
    }
}

/// [`lanes`] compiled for AVX2. Rust never reassociates or fuses floating-point operations,
/// so the result is bit-identical to the baseline build: the graph does not depend on the CPU.
///
/// # Safety
///
/// The CPU must support AVX2 (`is_x86_feature_detected!("avx2")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn lanes_avx2(metric: Metric, x: &[f32], y: &[f32]) -> f32 {
    lanes(metric, x, y)
}

/// `sum_t term(x_t, y_t)` in eight interleaved lanes (which the compiler maps onto SIMD
/// registers), then the lanes in order, then the tail.
#[inline(always)]
fn lane_sum(x: &[f32], y: &[f32], term: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [0.0f32; 8];
    let (xc, yc) = (x.chunks_exact(8), y.chunks_exact(8));
    let tail: f32 = xc.remainder().iter().zip(yc.remainder()).map(|(&p, &q)| term(p, q)).sum();
    for (p, q) in xc.zip(yc) {
        for l in 0..8 {
            acc[l] += term(p[l], q[l]);
        }
    }
    acc.iter().sum::<f32>() + tail
}

/// The distance of [`Points::distance`] by [`lane_sum`].
#[inline(always)]
fn lanes(metric: Metric, x: &[f32], y: &[f32]) -> f32 {
    match metric {
        Metric::Manhattan => lane_sum(x, y, |p, q| (p - q).abs()),
        _ => lane_sum(x, y, |p, q| (p - q) * (p - q)),
    }
}

/// The dot product of `x` and `y` by [`lane_sum`].
#[inline(always)]
fn dot(x: &[f32], y: &[f32]) -> f32 {
    lane_sum(x, y, |p, q| p * q)
}

/// [`dot`] compiled for AVX2 (the same bits, see [`lanes_avx2`]).
///
/// # Safety
///
/// The CPU must support AVX2 (`is_x86_feature_detected!("avx2")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dot_avx2(x: &[f32], y: &[f32]) -> f32 {
    dot(x, y)
}

/// A 64-bit mix (SplitMix64's finaliser) for seeded, order-free sampling priorities.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl NnDescent {
    fn search_with(&self, points: &Matrix, k: usize, metric: Metric) -> Result<KnnGraph> {
        let (n, d) = (points.rows(), points.cols());
        if n >= EMPTY as usize {
            return Err(Error::Unsupported {
                backend: "NN-descent".into(),
                what: format!("{n} points (at most {} are indexed)", EMPTY - 1),
            });
        }
        let p = &self.params;
        let trees = p.trees.unwrap_or_else(|| 32.min(5 + (n as f64).powf(0.25).round() as usize));
        let max_candidates = p.max_candidates.unwrap_or(k.min(60));
        let leaf_size = p.leaf_size.unwrap_or((k + 1).max(10));
        let max_rounds = p.max_rounds.unwrap_or(((n as f64).log2().round() as usize).max(5));
        let unordered = Points::new(points.as_slice().iter().map(|&v| v as f32).collect(), d, metric);
        // Renumber the points in the leaf order of one tree, so that the lists and rows a
        // local join touches lie close together in memory. Below, indices are these ranks;
        // `order[rank]` is the point.
        let (order, _) = rp_tree(&unordered, n, leaf_size, &mut ChaCha8Rng::seed_from_u64(mix(p.seed)));
        let data = Points::new(order.iter().flat_map(|&i| unordered.row(i)).copied().collect(), d, metric);
        drop(unordered);
        let lists = Lists::new(n, k, ByDistance);
        forest_start(&data, &lists, trees, leaf_size, p.seed);
        top_up(&data, &lists, p.seed);
        let (mut fresh, mut old) =
            (Candidates::candidates(n, max_candidates), Candidates::candidates(n, max_candidates));
        for round in 1..=max_rounds as u8 {
            let changed = local_join(&data, &lists, &mut fresh, &mut old, p.seed, round);
            if (changed as f64) <= p.delta * (n * k) as f64 {
                break;
            }
        }
        // Only the lists are needed from here: free the rest before the graph is allocated.
        drop((fresh, old, data));
        graph_from_lists(lists, &order, points, k, metric)
    }
}

/// The first lists: all pairs inside each leaf of `trees` seeded random-projection trees.
fn forest_start(data: &Points, lists: &Lists, trees: usize, leaf_size: usize, seed: u64) {
    let n = lists.len();
    (0..trees).into_par_iter().for_each(|t| {
        let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(t as u64 + 1)));
        let (order, leaves) = rp_tree(data, n, leaf_size, &mut rng);
        for &(s, e) in &leaves {
            let leaf = &order[s..e];
            for (a, &x) in leaf.iter().enumerate() {
                for &y in &leaf[a + 1..] {
                    let dist = data.distance(x, y);
                    lists.offer(x, dist, y, 0);
                    lists.offer(y, dist, x, 0);
                }
            }
        }
    });
}

/// Lists the leaves left short topped up with seeded random points.
fn top_up(data: &Points, lists: &Lists, seed: u64) {
    let n = lists.len();
    (0..n).into_par_iter().for_each(|i| {
        if lists.is_full(i) {
            return;
        }
        let mut rng = ChaCha8Rng::seed_from_u64(mix(seed ^ mix(!(i as u64))));
        while !lists.is_full(i) {
            let j = rng.gen_range(0..n) as u32;
            if j as usize != i {
                lists.offer(i as u32, data.distance(i as u32, j), j, 0);
            }
        }
    });
}

/// The graph of the final lists (list `r` is point `order[r]`'s), with exact `f64` distances
/// under `metric`, each row sorted by (distance, index). The indices come straight from the
/// lists, which are then freed, so the lists and the distances are never alive together.
fn graph_from_lists(
    lists: Lists,
    order: &[u32],
    points: &Matrix,
    k: usize,
    metric: Metric,
) -> Result<KnnGraph> {
    let n = lists.len();
    let mut rank = vec![0u32; n];
    for (r, &i) in order.iter().enumerate() {
        rank[i as usize] = r as u32;
    }
    let mut indices = vec![EMPTY; n * k];
    indices.par_chunks_mut(k).enumerate().for_each_init(Vec::new, |ids: &mut Entries, (i, idx)| {
        lists.entries(rank[i] as usize, ids);
        for (slot, &(r, _)) in idx.iter_mut().zip(ids.iter()) {
            *slot = order[r as usize];
        }
    });
    drop(lists);
    let mut distances = vec![0.0; n * k];
    indices.par_chunks_mut(k).zip(distances.par_chunks_mut(k)).enumerate().for_each_init(
        || Vec::with_capacity(k),
        |exact: &mut Vec<(f64, u32)>, (i, (idx, dist))| {
            exact.clear();
            exact.extend(
                idx.iter()
                    .filter(|&&j| j != EMPTY)
                    .map(|&j| (metric.distance(points.row(i), points.row(j as usize)), j)),
            );
            idx.fill(0);
            crate::nearest(exact, idx, dist);
        },
    );
    KnnGraph::new(n, k, indices, distances)
}

/// One round: sample new and old candidates of every point, join them, and return how many
/// list entries this round inserted that are still there.
/// `fresh` and `old` are scratch lists of the candidate count.
fn local_join(
    data: &Points,
    lists: &Lists,
    fresh: &mut Candidates,
    old: &mut Candidates,
    seed: u64,
    round: u8,
) -> usize {
    let n = lists.len();
    // Candidates: each list entry and its reverse, kept by the smallest seeded priority of
    // the pair (the same priority from both ends, so the kept set is order-free).
    let salt = mix(seed ^ mix(u64::from(round)));
    fresh.clear(salt);
    old.clear(salt);
    let (fresh, old) = (&*fresh, &*old);
    (0..n).into_par_iter().for_each_init(Vec::new, |ids: &mut Entries, i| {
        lists.entries(i, ids);
        for &(j, new) in ids.iter() {
            let target = if new { fresh } else { old };
            target.offer(i as u32, j);
            target.offer(j, i as u32);
        }
    });
    // Sampled new entries take part in this join and are old from now on.
    (0..n).into_par_iter().for_each_init(Vec::new, |picked: &mut Entries, i| {
        fresh.entries(i, picked);
        let list = lists.lock(i);
        for (e, s) in list.slots.iter().zip(list.stamps.iter_mut()) {
            if *s & NEW != 0 && picked.iter().any(|c| c.0 == id(*e)) {
                *s &= !NEW;
            }
        }
    });
    (0..n).into_par_iter().for_each_init(
        || (Vec::new(), Vec::new()),
        |(new_c, old_c): &mut (Entries, Entries), i| {
            fresh.entries(i, new_c);
            old.entries(i, old_c);
            #[cfg(target_arch = "x86_64")]
            if data.avx2 {
                // SAFETY: AVX2 was detected on this CPU in `Points::new`.
                return unsafe { join_avx2(data, lists, new_c, old_c, round) };
            }
            join(data, lists, new_c, old_c, round)
        },
    );
    (0..n).into_par_iter().map(|i| lists.lock(i).stamps.iter().filter(|&&s| s & !NEW == round).count()).sum()
}

/// Asks the CPU to bring the cache line at `at` close (a hint; no effect off x86-64).
#[inline(always)]
fn prefetch<T>(at: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: SSE is part of the x86-64 baseline, and a prefetch never faults.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(at.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = at;
}

/// The local join of one point's candidates: each new-new and new-old pair is offered to
/// both lists.
#[inline(always)]
fn join(data: &Points, lists: &Lists, new_c: &Entries, old_c: &Entries, round: u8) {
    // The candidates are scattered in memory: ask for all their rows and largest entries at
    // once, so that the misses overlap instead of stalling the pairs one by one.
    for &(c, _) in new_c.iter().chain(old_c.iter()) {
        for line in data.row(c).chunks(16) {
            prefetch(line.as_ptr());
        }
        prefetch(lists.worst_word(c as usize));
    }
    for (a, &(x, _)) in new_c.iter().enumerate() {
        for &(y, _) in new_c[a + 1..].iter().chain(old_c.iter()) {
            if x != y {
                let dist = data.distance_inline(x, y);
                lists.offer(x, dist, y, round);
                lists.offer(y, dist, x, round);
            }
        }
    }
}

/// [`join`] compiled for AVX2 (the same bits, see [`lanes_avx2`]).
///
/// # Safety
///
/// The CPU must support AVX2 (`is_x86_feature_detected!("avx2")`).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn join_avx2(data: &Points, lists: &Lists, new_c: &Entries, old_c: &Entries, round: u8) {
    join(data, lists, new_c, old_c, round)
}

/// One random-projection tree: a permutation of the points and the `[start, end)` ranges of
/// its leaves. Each node splits by the hyperplane equidistant from two random points of it.
fn rp_tree(
    data: &Points,
    n: usize,
    leaf_size: usize,
    rng: &mut ChaCha8Rng,
) -> (Vec<u32>, Vec<(usize, usize)>) {
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut leaves = Vec::with_capacity(2 * n / leaf_size + 1);
    let mut stack = vec![(0, n)];
    let mut normal = vec![0.0f32; data.d];
    let mut side = Vec::new();
    while let Some((s, e)) = stack.pop() {
        let len = e - s;
        if len <= leaf_size {
            leaves.push((s, e));
            continue;
        }
        let a = order[s + rng.gen_range(0..len)];
        let mut b = order[s + rng.gen_range(0..len - 1)];
        if b == a {
            b = order[e - 1];
        }
        let (xa, xb) = (data.row(a), data.row(b));
        let mut offset = 0.0f32;
        for t in 0..data.d {
            normal[t] = xa[t] - xb[t];
            offset += normal[t] * (xa[t] + xb[t]) * 0.5;
        }
        side.clear();
        side.extend(order[s..e].iter().map(|&i| {
            let v = data.dot(i, &normal) - offset;
            if v == 0.0 {
                rng.gen::<bool>()
            } else {
                v > 0.0
            }
        }));
        // Stable partition: points on the positive side first.
        let mut split = s;
        let mut rest = Vec::with_capacity(len);
        for (t, &pos) in side.iter().enumerate() {
            let i = order[s + t];
            if pos {
                order[split] = i;
                split += 1;
            } else {
                rest.push(i);
            }
        }
        order[split..e].copy_from_slice(&rest);
        if split == s || split == e {
            // Identical points: no hyperplane separates them; halve the node instead.
            split = s + len / 2;
        }
        stack.push((split, e));
        stack.push((s, split));
    }
    (order, leaves)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BruteForce;

    fn mixture(n: usize, d: usize, seed: u64) -> Matrix {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let centres: Vec<f64> = (0..10 * d).map(|_| rng.gen_range(-5.0..5.0)).collect();
        let mut x = Vec::with_capacity(n * d);
        for i in 0..n {
            let c = i % 10;
            x.extend((0..d).map(|t| centres[c * d + t] + rng.gen_range(-1.0..1.0)));
        }
        Matrix::new(n, d, x).unwrap()
    }

    fn recall(found: &KnnGraph, truth: &KnnGraph) -> f64 {
        let hits: usize = (0..truth.n())
            .map(|i| found.neighbors(i).iter().filter(|j| truth.neighbors(i).contains(j)).count())
            .sum();
        hits as f64 / (truth.n() * truth.k()) as f64
    }

    #[test]
    fn recall_against_brute_force() {
        let x = mixture(3000, 20, 1);
        for metric in [Metric::Euclidean, Metric::Cosine, Metric::Manhattan] {
            let truth = BruteForce::new(metric).search(&x, 30).unwrap();
            let found = NnDescent::new(NnDescentParams { metric, ..Default::default() })
                .unwrap()
                .search(&x, 30)
                .unwrap();
            let r = recall(&found, &truth);
            assert!(r > 0.98, "{metric:?}: recall {r}");
            for i in 0..3000 {
                let mut row = found.neighbors(i).to_vec();
                row.sort_unstable();
                row.dedup();
                assert_eq!(row.len(), 30, "row {i} lists a point twice");
            }
            // Distances are the exact ones of the listed points.
            for i in (0..3000).step_by(101) {
                for (&j, &dist) in found.neighbors(i).iter().zip(found.distances(i)) {
                    let want = metric.distance(x.row(i), x.row(j as usize));
                    assert!((dist - want).abs() <= 1e-12 * want.max(1.0));
                }
            }
        }
    }

    #[test]
    fn same_seed_same_graph_for_any_thread_count() {
        let x = mixture(2000, 10, 2);
        let search = NnDescent::new(NnDescentParams { seed: 7, ..Default::default() }).unwrap();
        let pool = |t| rayon::ThreadPoolBuilder::new().num_threads(t).build().unwrap();
        let one = pool(1).install(|| search.search(&x, 15).unwrap());
        let two = pool(3).install(|| search.search(&x, 15).unwrap());
        assert_eq!(one, two);
        let other = NnDescent::new(NnDescentParams { seed: 8, ..Default::default() }).unwrap();
        // A different seed still finds (nearly) the same neighbours.
        assert!(recall(&other.search(&x, 15).unwrap(), &one) > 0.98);
    }

    #[test]
    fn wide_registers_give_identical_distances() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for metric in [Metric::Euclidean, Metric::Manhattan] {
            for d in [1, 7, 8, 50, 67] {
                let x: Vec<f32> = (0..2 * d).map(|_| rng.gen_range(-100.0..100.0)).collect();
                let base = lanes(metric, &x[..d], &x[d..]);
                #[cfg(target_arch = "x86_64")]
                if tsne_core::simd::avx2() {
                    // SAFETY: AVX2 is present.
                    assert_eq!(base.to_bits(), unsafe { lanes_avx2(metric, &x[..d], &x[d..]) }.to_bits());
                }
                let want: f64 = x[..d]
                    .iter()
                    .zip(&x[d..])
                    .map(|(&p, &q)| {
                        let v = f64::from(p) - f64::from(q);
                        if metric == Metric::Manhattan {
                            v.abs()
                        } else {
                            v * v
                        }
                    })
                    .sum();
                assert!((f64::from(base) - want).abs() <= 1e-5 * want);
            }
        }
    }

    #[test]
    fn identical_points_and_tiny_inputs() {
        // Many duplicates: no hyperplane separates them, every list must still fill.
        let mut v = vec![0.0; 200];
        v.extend((0..100).map(|i| i as f64));
        let x = Matrix::new(300, 1, v).unwrap();
        let g = NnDescent::default().search(&x, 10).unwrap();
        assert_eq!(g.distances(0), &[0.0; 10]);
        let x = Matrix::new(3, 2, vec![0.0, 0.0, 1.0, 0.0, 0.0, 2.0]).unwrap();
        let g = NnDescent::default().search(&x, 2).unwrap();
        assert_eq!(g.neighbors(0), &[1, 2]);
        assert_eq!(NnDescent::default().search(&x, 3), Err(Error::TooManyNeighbors { k: 3, n: 3 }));
        assert!(NnDescent::new(NnDescentParams { trees: Some(0), ..Default::default() }).is_err());
        assert!(NnDescent::new(NnDescentParams { delta: f64::NAN, ..Default::default() }).is_err());
        assert!(NnDescent::new(NnDescentParams { max_rounds: Some(128), ..Default::default() }).is_err());
    }
}
