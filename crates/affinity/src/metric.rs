//! Input distances other than Euclidean.

use tsne_core::{gradient::squared_distance, Error, KnnGraph, Matrix, Result};

/// The distance between input points that neighbours are chosen by and that the affinities
/// are calibrated on (scikit-learn's and SciPy's definitions).
///
/// Euclidean, squared Euclidean, cosine and correlation are searched as Euclidean distances
/// (on unit rows for cosine, on centred unit rows for correlation), so every search serves
/// them; Manhattan has its own code in every search; the others are computed directly and
/// searched exactly ([`Metric::has_approximate_search`] is false).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Metric {
    /// `|x - y|_2`.
    #[default]
    Euclidean,
    /// `|x - y|_2^2` (scikit-learn's `sqeuclidean`).
    SqEuclidean,
    /// `1 - cos(x, y)`, computed as `|x' - y'|^2 / 2` on rows `x'` scaled to unit length, so
    /// every Euclidean search serves it. Zero rows have no direction and are rejected.
    Cosine,
    /// `1 - corr(x, y)`: the cosine distance of the rows less their means. Constant rows
    /// are rejected.
    Correlation,
    /// `|x - y|_1`.
    Manhattan,
    /// `max_c |x_c - y_c|`.
    Chebyshev,
    /// `(sum_c |x_c - y_c|^p)^(1/p)`, `p >= 1` (`p = 1` Manhattan, `2` Euclidean).
    Minkowski {
        /// The order.
        p: f64,
    },
    /// `sum_c |x_c - y_c| / (|x_c| + |y_c|)`, terms with a zero denominator left out.
    Canberra,
    /// `sum_c |x_c - y_c| / sum_c |x_c + y_c|` (0 when both rows are zero).
    BrayCurtis,
    /// The fraction of coordinates that differ.
    Hamming,
    /// `1 - |x & y| / |x | y|` of the rows read as booleans (non-zero is true; 0 when both
    /// rows are all false).
    Jaccard,
}

impl Metric {
    /// The names [`FromStr`](std::str::FromStr) accepts, one per metric (aliases aside).
    pub const NAMES: &'static [&'static str] = &[
        "euclidean",
        "sqeuclidean",
        "cosine",
        "correlation",
        "manhattan",
        "chebyshev",
        "minkowski",
        "canberra",
        "braycurtis",
        "hamming",
        "jaccard",
    ];

    /// The metric's name, as [`FromStr`](std::str::FromStr) reads it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Euclidean => "euclidean",
            Self::SqEuclidean => "sqeuclidean",
            Self::Cosine => "cosine",
            Self::Correlation => "correlation",
            Self::Manhattan => "manhattan",
            Self::Chebyshev => "chebyshev",
            Self::Minkowski { .. } => "minkowski",
            Self::Canberra => "canberra",
            Self::BrayCurtis => "braycurtis",
            Self::Hamming => "hamming",
            Self::Jaccard => "jaccard",
        }
    }

    /// Checks the metric's parameter (Minkowski's `p`: finite and at least 1).
    pub fn check(self) -> Result<()> {
        match self {
            Self::Minkowski { p } if !(p.is_finite() && p >= 1.0) => Err(Error::InvalidParameter {
                name: "p",
                reason: format!("the Minkowski order must be a finite number >= 1, got {p}"),
            }),
            _ => Ok(()),
        }
    }

    /// Whether the approximate searches (NN-descent, HNSW) serve this metric: those reduced
    /// to Euclidean distances, and Manhattan.
    pub fn has_approximate_search(self) -> bool {
        matches!(
            self,
            Self::Euclidean | Self::SqEuclidean | Self::Cosine | Self::Correlation | Self::Manhattan
        )
    }

    /// The distance between `a` and `b`, computed directly (the reference for tests, the
    /// re-ranking of approximate candidates and the exact search of the direct metrics).
    pub fn distance(self, a: &[f64], b: &[f64]) -> f64 {
        let pairs = || a.iter().zip(b);
        match self {
            Self::Euclidean => squared_distance(a, b).sqrt(),
            Self::SqEuclidean => squared_distance(a, b),
            Self::Cosine => cosine(a, b),
            Self::Correlation => {
                let (ma, mb) = (mean(a), mean(b));
                cosine_of(pairs().map(|(x, y)| (x - ma, y - mb)))
            }
            Self::Manhattan => pairs().map(|(x, y)| (x - y).abs()).sum(),
            Self::Chebyshev => pairs().fold(0.0, |m, (x, y)| m.max((x - y).abs())),
            Self::Minkowski { p } => pairs().map(|(x, y)| (x - y).abs().powf(p)).sum::<f64>().powf(1.0 / p),
            Self::Canberra => pairs()
                .map(|(x, y)| {
                    let den = x.abs() + y.abs();
                    if den > 0.0 {
                        (x - y).abs() / den
                    } else {
                        0.0
                    }
                })
                .sum(),
            Self::BrayCurtis => {
                let num: f64 = pairs().map(|(x, y)| (x - y).abs()).sum();
                let den: f64 = pairs().map(|(x, y)| (x + y).abs()).sum();
                if den > 0.0 {
                    num / den
                } else {
                    0.0
                }
            }
            Self::Hamming => pairs().filter(|(x, y)| x != y).count() as f64 / a.len().max(1) as f64,
            Self::Jaccard => {
                let (mut either, mut differ) = (0usize, 0usize);
                for (x, y) in pairs() {
                    let (x, y) = (*x != 0.0, *y != 0.0);
                    either += usize::from(x || y);
                    differ += usize::from(x != y);
                }
                if either > 0 {
                    differ as f64 / either as f64
                } else {
                    0.0
                }
            }
        }
    }

    /// Runs a `k`-neighbour search under this metric. `search(points, metric)` receives
    /// Euclidean for the metrics reduced to it (cosine and correlation on transformed rows,
    /// squared Euclidean squared afterwards; the same order), else the metric itself.
    pub(crate) fn search(
        self,
        points: &Matrix,
        k: usize,
        search: impl FnOnce(&Matrix, Metric) -> Result<KnnGraph>,
    ) -> Result<KnnGraph> {
        tsne_core::check_neighbor_count(k, points.rows())?;
        self.check()?;
        match self {
            Self::Cosine => Self::cosine_from_euclidean(search(&Self::normalized(points)?, Self::Euclidean)?),
            Self::Correlation => Self::cosine_from_euclidean(search(
                &Self::normalized(&Self::centred_rows(points))?,
                Self::Euclidean,
            )?),
            Self::SqEuclidean => {
                let g = search(points, Self::Euclidean)?;
                let (n, k) = (g.n(), g.k());
                let squared = g.distances_flat().iter().map(|d| d * d).collect();
                KnnGraph::new(n, k, g.indices_flat().to_vec(), squared)
            }
            metric => search(points, metric),
        }
    }

    /// Each row less its mean.
    fn centred_rows(points: &Matrix) -> Matrix {
        let mut x = points.clone();
        for i in 0..x.rows() {
            let row = x.row_mut(i);
            let m = mean(row);
            row.iter_mut().for_each(|v| *v -= m);
        }
        x
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
                    reason: format!(
                        "row {i} has no direction (all zeros, or constant for the correlation metric)"
                    ),
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

/// `1 - cos(a, b)`, clamped at 0 (rounding can give -1e-16); a zero row gives NaN.
fn cosine(a: &[f64], b: &[f64]) -> f64 {
    cosine_of(a.iter().copied().zip(b.iter().copied()))
}

/// `1 - cos` of the vectors whose coordinate pairs `pairs` yields, without storing them.
fn cosine_of(pairs: impl Iterator<Item = (f64, f64)>) -> f64 {
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    let d = 1.0 - ab / (aa.sqrt() * bb.sqrt());
    if d < 0.0 {
        0.0
    } else {
        d
    }
}

fn mean(row: &[f64]) -> f64 {
    row.iter().sum::<f64>() / row.len().max(1) as f64
}

impl std::str::FromStr for Metric {
    type Err = Error;

    /// A metric by name, case-insensitive, with scikit-learn's aliases (`l2`, `l1`,
    /// `cityblock`, `taxicab`, `chebychev`, `infinity`); `minkowski` has `p = 2` until a front
    /// end sets it.
    fn from_str(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "euclidean" | "l2" => Self::Euclidean,
            "sqeuclidean" => Self::SqEuclidean,
            "cosine" => Self::Cosine,
            "correlation" => Self::Correlation,
            "manhattan" | "l1" | "cityblock" | "taxicab" => Self::Manhattan,
            "chebyshev" | "chebychev" | "infinity" => Self::Chebyshev,
            "minkowski" => Self::Minkowski { p: 2.0 },
            "canberra" => Self::Canberra,
            "braycurtis" => Self::BrayCurtis,
            "hamming" => Self::Hamming,
            "jaccard" => Self::Jaccard,
            _ => {
                return Err(Error::InvalidParameter {
                    name: "metric",
                    reason: format!("`{name}` is not a known metric: use one of {}", Self::NAMES.join(", ")),
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BruteForce, NnDescent, NnDescentParams};
    use tsne_core::NeighborSearch;

    const ALL: [Metric; 11] = [
        Metric::Euclidean,
        Metric::SqEuclidean,
        Metric::Cosine,
        Metric::Correlation,
        Metric::Manhattan,
        Metric::Chebyshev,
        Metric::Minkowski { p: 3.0 },
        Metric::Canberra,
        Metric::BrayCurtis,
        Metric::Hamming,
        Metric::Jaccard,
    ];

    #[test]
    fn distances_follow_scipys_definitions() {
        let (a, b) = ([1.0, 0.0, 2.0, -1.0], [0.0, 3.0, 2.0, 1.0]);
        let want = [
            (Metric::SqEuclidean, 14.0),
            (Metric::Euclidean, 14f64.sqrt()),
            (Metric::Chebyshev, 3.0),
            (Metric::Minkowski { p: 3.0 }, 36f64.cbrt()),
            (Metric::Canberra, 3.0),
            (Metric::BrayCurtis, 0.75),
            (Metric::Hamming, 0.75),
            (Metric::Jaccard, 0.5),
            (Metric::Correlation, 1.0),
            (Metric::Manhattan, 6.0),
        ];
        for (metric, d) in want {
            assert!((metric.distance(&a, &b) - d).abs() < 1e-12, "{metric:?}: {}", metric.distance(&a, &b));
        }
        assert!(Metric::Minkowski { p: 0.5 }.check().is_err());
    }

    /// Every metric's exact search finds the neighbours of a direct scan, with its distances.
    #[test]
    fn exact_search_is_the_direct_scan_for_every_metric() {
        let (n, d, k) = (60, 5, 7);
        let data: Vec<f64> =
            (0..n * d).map(|t| ((t * 7919 % 97) as f64 / 9.0).floor() - 4.0 + (t % 3) as f64).collect();
        let x = Matrix::new(n, d, data).unwrap();
        for metric in ALL {
            let g = BruteForce::new(metric).search(&x, k).unwrap();
            for i in 0..n {
                let mut all: Vec<(f64, u32)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| (metric.distance(x.row(i), x.row(j)), j as u32))
                    .collect();
                all.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                let kth = all[k - 1].0;
                for (&j, &dist) in g.neighbors(i).iter().zip(g.distances(i)) {
                    let truth = metric.distance(x.row(i), x.row(j as usize));
                    assert!(
                        (dist - truth).abs() <= 1e-9 * truth.max(1.0),
                        "{metric:?} row {i}: {dist} vs {truth}"
                    );
                    assert!(
                        truth <= kth + 1e-9,
                        "{metric:?} row {i}: neighbour {j} at {truth} beyond the k-th {kth}"
                    );
                }
            }
        }
    }

    #[test]
    fn approximate_searches_refuse_the_direct_metrics() {
        for metric in ALL {
            let built = NnDescent::new(NnDescentParams { metric, ..Default::default() });
            assert_eq!(built.is_ok(), metric.has_approximate_search(), "{metric:?}");
        }
    }
}
