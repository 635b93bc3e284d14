//! Input distances other than Euclidean.

use tsne_core::{gradient::squared_distance, Error, KnnGraph, Matrix, Result};

/// The distance between input points that neighbours are chosen by and that the affinities
/// are calibrated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Metric {
    /// `|x - y|_2`.
    #[default]
    Euclidean,
    /// `1 - cos(x, y)`, computed as `|x' - y'|^2 / 2` on rows `x'` scaled to unit length, so
    /// every Euclidean search serves it. Zero rows have no direction and are rejected.
    Cosine,
    /// `|x - y|_1`.
    Manhattan,
}

impl Metric {
    /// The names [`FromStr`](std::str::FromStr) accepts, one per metric (aliases aside).
    pub const NAMES: &'static [&'static str] = &["euclidean", "cosine", "manhattan"];

    /// The metric's name, as [`FromStr`](std::str::FromStr) reads it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Euclidean => "euclidean",
            Self::Cosine => "cosine",
            Self::Manhattan => "manhattan",
        }
    }

    /// The distance between `a` and `b`, computed directly (the reference for tests and the
    /// re-ranking of approximate candidates).
    pub fn distance(self, a: &[f64], b: &[f64]) -> f64 {
        match self {
            Self::Euclidean => squared_distance(a, b).sqrt(),
            Self::Cosine => {
                let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
                for (x, y) in a.iter().zip(b) {
                    ab += x * y;
                    aa += x * x;
                    bb += y * y;
                }
                // Rounding can give -0.0 or -1e-16; a zero row gives NaN, kept as NaN.
                let d = 1.0 - ab / (aa.sqrt() * bb.sqrt());
                if d < 0.0 {
                    0.0
                } else {
                    d
                }
            }
            Self::Manhattan => a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum(),
        }
    }

    /// Runs a `k`-neighbour search under this metric: `search(points, metric)` for Euclidean
    /// and Manhattan, and for cosine a Euclidean search on the rows scaled to unit length
    /// (`1 - cos = |x' - y'|^2 / 2`, the same order), so every Euclidean search serves it.
    pub(crate) fn search(
        self,
        points: &Matrix,
        k: usize,
        search: impl FnOnce(&Matrix, Metric) -> Result<KnnGraph>,
    ) -> Result<KnnGraph> {
        tsne_core::check_neighbor_count(k, points.rows())?;
        match self {
            Self::Cosine => Self::cosine_from_euclidean(search(&Self::normalized(points)?, Self::Euclidean)?),
            metric => search(points, metric),
        }
    }

    /// Rows scaled to unit Euclidean length; a zero row is an error.
    pub(crate) fn normalized(points: &Matrix) -> Result<Matrix> {
        let mut x = points.clone();
        for i in 0..x.rows() {
            let row = x.row_mut(i);
            let norm = row.iter().map(|v| v * v).sum::<f64>().sqrt();
            if !(norm > 0.0) {
                return Err(Error::InvalidParameter {
                    name: "metric",
                    reason: format!("row {i} is all zeros, so its cosine distance is undefined"),
                });
            }
            row.iter_mut().for_each(|v| *v /= norm);
        }
        Ok(x)
    }

    /// Turns a Euclidean graph of unit-length rows into the cosine graph (`d^2 / 2`, the
    /// same order).
    pub(crate) fn cosine_from_euclidean(graph: KnnGraph) -> Result<KnnGraph> {
        let (n, k) = (graph.n(), graph.k());
        let indices = graph.indices_flat().to_vec();
        let distances = graph.distances_flat().iter().map(|d| 0.5 * d * d).collect();
        KnnGraph::new(n, k, indices, distances)
    }
}

impl std::str::FromStr for Metric {
    type Err = Error;

    /// A metric by name, case-insensitive: `euclidean` (`l2`), `cosine`, `manhattan` (`l1`,
    /// `cityblock`).
    fn from_str(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "euclidean" | "l2" => Ok(Self::Euclidean),
            "cosine" => Ok(Self::Cosine),
            "manhattan" | "l1" | "cityblock" => Ok(Self::Manhattan),
            _ => Err(Error::InvalidParameter {
                name: "metric",
                reason: format!("`{name}` is not a known metric: use one of {}", Self::NAMES.join(", ")),
            }),
        }
    }
}
