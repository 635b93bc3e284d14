//! Approximate nearest neighbours with a hierarchical navigable small-world graph (`hnsw_rs`).

use hnsw_rs::hnsw::Hnsw as Graph;
use hnsw_rs::prelude::{DistL1, DistL2, Distance};
use rayon::prelude::*;
use tsne_core::{neighbor_order, Error, KnnGraph, Matrix, NeighborSearch, Result};

use crate::Metric;

/// Settings of [`Hnsw`]; `None` fields are derived from `k`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct HnswParams {
    /// Links per node and layer (`M`); default 32, at most 256 (16 loses recall at the
    /// perplexity's k = 90: the benchmark page has the probe).
    pub m: Option<usize>,
    /// Candidate list size while building; default `max(200, 2k)`.
    pub ef_construction: Option<usize>,
    /// Candidate list size while searching; default `max(100, 2k)`.
    pub ef_search: Option<usize>,
    /// Insert points sequentially, so that the graph (and so the neighbours) is the same on
    /// every run. Parallel insertion, the default, is faster but its graph depends on thread
    /// timing, which can change a few neighbours between runs.
    pub deterministic: bool,
    /// The distance searched (default Euclidean).
    pub metric: Metric,
}

/// HNSW neighbour search (Malkov & Yashunin 2018) under a [`Metric`] (cosine as Euclidean on
/// normalised rows).
///
/// Points are indexed as `f32`; every returned candidate is re-ranked with the exact `f64`
/// distance, so reported distances are exact and only the neighbour sets are approximate.
/// The level generator of `hnsw_rs` has a fixed seed; see [`HnswParams::deterministic`] for
/// what still varies between runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hnsw {
    params: HnswParams,
}

impl Hnsw {
    /// A search with the given settings, checked here (hnsw_rs itself exits the process on an
    /// out-of-range `M`).
    pub fn new(params: HnswParams) -> Result<Self> {
        let bad = |name, reason: String| Err(Error::InvalidParameter { name, reason });
        if !params.metric.has_approximate_search() {
            return bad(
                "metric",
                format!("HNSW does not search the {} metric: use the exact search", params.metric.name()),
            );
        }
        if let Some(m) = params.m {
            if !(2..=256).contains(&m) {
                return bad("hnsw_m", format!("must be between 2 and 256, got {m}"));
            }
        }
        for (name, v) in [("ef_construction", params.ef_construction), ("ef_search", params.ef_search)] {
            if v == Some(0) {
                return bad(name, "must be positive".into());
            }
        }
        Ok(Self { params })
    }
}

impl Hnsw {
    /// Builds the graph with `distance` and answers every point's query, re-ranking the
    /// candidates with `metric` in `f64`.
    fn search_with<D: Distance<f32> + Send + Sync>(
        &self,
        points: &Matrix,
        k: usize,
        distance: D,
        metric: Metric,
    ) -> Result<KnnGraph> {
        let n = points.rows();
        let m = self.params.m.unwrap_or(32);
        let ef_construction = self.params.ef_construction.unwrap_or((2 * k).max(200));
        let ef_search = self.params.ef_search.unwrap_or((2 * k).max(100)).max(k + 1);
        let data: Vec<Vec<f32>> = (0..n).map(|i| points.row(i).iter().map(|&v| v as f32).collect()).collect();
        let max_layer = 16;
        let mut graph: Graph<f32, D> = Graph::new(m, n, max_layer, ef_construction, distance);
        if self.params.deterministic {
            for (i, row) in data.iter().enumerate() {
                graph.insert((row.as_slice(), i));
            }
        } else {
            let refs: Vec<(&[f32], usize)> =
                data.iter().enumerate().map(|(i, r)| (r.as_slice(), i)).collect();
            graph.parallel_insert_slice(&refs);
        }
        graph.set_searching_mode(true);
        let mut indices = vec![0u32; n * k];
        let mut distances = vec![0.0; n * k];
        let short = indices
            .par_chunks_mut(k)
            .zip(distances.par_chunks_mut(k))
            .enumerate()
            .map(|(i, (idx, dist))| {
                let mut cand: Vec<(f64, u32)> = graph
                    .search(&data[i], k + 1, ef_search)
                    .into_iter()
                    .filter(|nb| nb.d_id != i)
                    .map(|nb| (metric.distance(points.row(i), points.row(nb.d_id)), nb.d_id as u32))
                    .collect();
                cand.sort_unstable_by(neighbor_order);
                for (t, &(d, j)) in cand.iter().take(k).enumerate() {
                    idx[t] = j;
                    dist[t] = d;
                }
                usize::from(cand.len() < k)
            })
            .sum::<usize>();
        if short > 0 {
            return Err(Error::SearchIncomplete {
                search: "HNSW",
                reason: format!("{short} points found fewer than {k} neighbours; raise ef_search"),
            });
        }
        KnnGraph::new(n, k, indices, distances)
    }
}

impl NeighborSearch for Hnsw {
    fn search(&self, points: &Matrix, k: usize) -> Result<KnnGraph> {
        self.params.metric.search(points, k, |x, metric| match metric {
            Metric::Manhattan => self.search_with(x, k, DistL1 {}, metric),
            _ => self.search_with(x, k, DistL2 {}, metric),
        })
    }

    fn name(&self) -> &str {
        "hnsw"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BruteForce;
    use rand::{Rng, SeedableRng};

    /// Ten clusters in 20 dimensions.
    fn clustered(n: usize, seed: u64) -> Matrix {
        let d = 20;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let centres: Vec<f64> = (0..10 * d).map(|_| rng.gen_range(-5.0..5.0)).collect();
        Matrix::new(
            n,
            d,
            (0..n)
                .flat_map(|i| {
                    (0..d).map(|k| centres[(i % 10) * d + k] + rng.gen_range(-1.0..1.0)).collect::<Vec<_>>()
                })
                .collect(),
        )
        .unwrap()
    }

    fn recall(a: &KnnGraph, b: &KnnGraph) -> f64 {
        let hits: usize =
            (0..a.n()).map(|i| a.neighbors(i).iter().filter(|j| b.neighbors(i).contains(j)).count()).sum();
        hits as f64 / (a.n() * a.k()) as f64
    }

    #[test]
    fn recall_at_default_settings() {
        for (seed, n, k) in [(1, 3000, 30), (2, 5000, 90)] {
            let x = clustered(n, seed);
            let exact = BruteForce::default().search(&x, k).unwrap();
            let approx = Hnsw::default().search(&x, k).unwrap();
            let r = recall(&approx, &exact);
            assert!(r >= 0.98, "recall {r} for n = {n}, k = {k}");
        }
    }

    #[test]
    fn other_metrics_match_brute_force() {
        let x = clustered(2000, 5);
        for metric in [Metric::Cosine, Metric::Manhattan] {
            let exact = BruteForce::new(metric).search(&x, 15).unwrap();
            let approx =
                Hnsw::new(HnswParams { metric, ..Default::default() }).unwrap().search(&x, 15).unwrap();
            let r = recall(&approx, &exact);
            assert!(r >= 0.98, "{metric:?}: recall {r}");
            // Re-ranked distances are exact: the shared neighbours carry equal distances.
            let (i, j) = (7, exact.neighbors(7)[0]);
            let t = approx.neighbors(i).iter().position(|&v| v == j).expect("nearest found");
            assert!((approx.distances(i)[t] - metric.distance(x.row(i), x.row(j as usize))).abs() < 1e-12);
        }
    }

    /// Where HNSW finds the same neighbour set as the exact search, the calibrated row of P is
    /// the same, and the stored P is O(n k) whatever the search.
    #[test]
    fn same_neighbours_give_the_same_affinities() {
        use crate::Perplexity;
        let (n, k) = (2000, 30);
        let x = clustered(n, 5);
        let exact = BruteForce::default().search(&x, k).unwrap();
        let approx = Hnsw::default().search(&x, k).unwrap();
        let aff = Perplexity::new(10.0).unwrap();
        let (pe, pa) = (aff.conditional(&exact).unwrap(), aff.conditional(&approx).unwrap());
        let mut agreeing = 0;
        for i in 0..n {
            if exact.neighbors(i) == approx.neighbors(i) {
                agreeing += 1;
                assert_eq!(pe.row(i), pa.row(i));
            }
        }
        assert!(agreeing > n / 2, "only {agreeing} rows agree");
        assert_eq!(pe.nnz(), n * k);
        assert!(pe.symmetrize().nnz() <= 2 * n * k);
    }

    #[test]
    fn deterministic_build_repeats_itself() {
        let x = clustered(1500, 3);
        let params = HnswParams { deterministic: true, ..HnswParams::default() };
        let a = Hnsw::new(params).unwrap().search(&x, 15).unwrap();
        let b = Hnsw::new(params).unwrap().search(&x, 15).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn bad_parameters_are_errors() {
        assert!(Hnsw::new(HnswParams { m: Some(1000), ..HnswParams::default() }).is_err());
        let x = clustered(20, 4);
        assert_eq!(Hnsw::default().search(&x, 20), Err(Error::TooManyNeighbors { k: 20, n: 20 }));
    }
}
