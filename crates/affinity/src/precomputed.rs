//! Inputs computed elsewhere: a distance matrix, or joint affinities.

use rayon::prelude::*;
use tsne_core::{CsrMatrix, Error, KnnGraph, Matrix, NeighborSearch, Result};

/// Neighbours read off a precomputed `n x n` distance matrix, given in place of the points.
///
/// The matrix must be square, finite, non-negative, zero on the diagonal (to a relative `1e-9` of its row) and symmetric to a
/// relative `1e-6`; anything else is an [`Error::InvalidGraph`]. Each row's `k` smallest
/// off-diagonal entries become its neighbours (ties by index), so any metric works.
#[derive(Debug, Clone, Copy, Default)]
pub struct PrecomputedDistances;

/// Largest diagonal entry accepted, relative to the row's largest distance.
const DIAGONAL_TOLERANCE: f64 = 1e-9;
/// Relative asymmetry accepted in a precomputed distance matrix (text files round).
const SYMMETRY_TOLERANCE: f64 = 1e-6;

impl PrecomputedDistances {
    /// Checks `distances` as described on the type.
    pub fn validate(distances: &Matrix) -> Result<()> {
        let n = distances.rows();
        let what = "precomputed distance matrix";
        if distances.cols() != n {
            return Err(Error::InvalidGraph {
                what,
                reason: format!("it must be square, got {n} x {}", distances.cols()),
            });
        }
        let bad = (0..n).into_par_iter().find_map_first(|i| {
            let row = distances.row(i);
            // A diagonal computed from the points carries rounding, e.g. 1 - cos(x, x).
            let largest = row.iter().fold(0.0f64, |m, &d| m.max(d.abs()));
            if !(row[i].abs() <= DIAGONAL_TOLERANCE * largest) {
                return Some(format!("diagonal entry ({i}, {i}) is {}, not 0", row[i]));
            }
            row.iter().enumerate().find_map(|(j, &d)| {
                let dt = distances.row(j)[i];
                if !d.is_finite() || d < 0.0 {
                    Some(format!("entry ({i}, {j}) is {d}"))
                } else if (d - dt).abs() > SYMMETRY_TOLERANCE * d.max(dt) {
                    Some(format!("it is not symmetric: ({i}, {j}) is {d} but ({j}, {i}) is {dt}"))
                } else {
                    None
                }
            })
        });
        match bad {
            Some(reason) => Err(Error::InvalidGraph { what, reason }),
            None => Ok(()),
        }
    }
}

impl NeighborSearch for PrecomputedDistances {
    fn search(&self, distances: &Matrix, k: usize) -> Result<KnnGraph> {
        Self::validate(distances)?;
        let n = distances.rows();
        tsne_core::check_neighbor_count(k, n)?;
        let (indices, dist) = crate::nearest_rows(n, k, |i, all| {
            all.extend(
                distances.row(i).iter().enumerate().filter(|&(j, _)| j != i).map(|(j, &d)| (d, j as u32)),
            );
        });
        KnnGraph::new(n, k, indices, dist)
    }

    fn name(&self) -> &str {
        "precomputed"
    }
}

/// Checks user-supplied joint affinities and scales them to sum to one (unless they do to
/// within `1e-12`).
///
/// [`CsrMatrix`] already guarantees finite non-negative values, in-range columns and no
/// diagonal; this adds symmetry (to a relative `1e-6`, since t-SNE's P is joint), at least one
/// entry, and the expected size `n` when the caller knows it.
pub fn joint_affinities(p: CsrMatrix, n: Option<usize>) -> Result<CsrMatrix> {
    let p = affinities_as_given(p, n)?;
    if !p.is_symmetric(SYMMETRY_TOLERANCE) {
        return Err(Error::InvalidGraph {
            what: "precomputed affinity matrix",
            reason:
                "it is not symmetric; t-SNE needs joint affinities (use (P + P^T) / 2 of a conditional P)"
                    .into(),
        });
    }
    Ok(p)
}

/// [`joint_affinities`] without the symmetry: for an optimisation that takes each row's
/// attraction as given (openTSNE's `symmetrize=False`). Scaling keeps the ratio of every
/// pair, so it does not change which of two matrices is symmetric.
pub fn affinities_as_given(mut p: CsrMatrix, n: Option<usize>) -> Result<CsrMatrix> {
    let what = "precomputed affinity matrix";
    if let Some(n) = n {
        if p.n() != n {
            return Err(Error::DimensionMismatch {
                what: "precomputed affinity matrix size",
                expected: n,
                found: p.n(),
            });
        }
    }
    if p.n() < 2 {
        return Err(Error::TooFewPoints { n: p.n(), min: 2 });
    }
    let sum = p.sum();
    if !(sum > 0.0) {
        return Err(Error::InvalidGraph { what, reason: "it has no positive entry".into() });
    }
    // A P that already sums to one is kept bit for bit, so it reproduces the fit it came from.
    if (sum - 1.0).abs() > 1e-12 {
        p.scale(1.0 / sum);
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BruteForce, Metric};

    fn points() -> Matrix {
        Matrix::from_rows(&[[0.5, 0.2], [1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [-1.0, 0.5]]).unwrap()
    }

    fn distance_matrix(x: &Matrix, metric: Metric) -> Matrix {
        let n = x.rows();
        Matrix::new(n, n, (0..n * n).map(|t| metric.distance(x.row(t / n), x.row(t % n))).collect()).unwrap()
    }

    #[test]
    fn matches_the_exact_search_for_every_metric() {
        let x = points();
        for metric in [Metric::Euclidean, Metric::Cosine, Metric::Manhattan] {
            let d = distance_matrix(&x, metric);
            let a = PrecomputedDistances.search(&d, 3).unwrap();
            let b = BruteForce::new(metric).search(&x, 3).unwrap();
            assert_eq!(a.indices_flat(), b.indices_flat(), "{metric:?}");
            for (u, v) in a.distances_flat().iter().zip(b.distances_flat()) {
                assert!((u - v).abs() < 1e-12, "{metric:?}: {u} vs {v}");
            }
        }
    }

    #[test]
    fn rejects_broken_distance_matrices() {
        let good = distance_matrix(&points(), Metric::Euclidean);
        let mut asym = good.clone();
        asym.row_mut(0)[1] = 7.0;
        let mut diag = good.clone();
        diag.row_mut(2)[2] = 0.1;
        let mut nan = good.clone();
        nan.row_mut(3)[1] = f64::NAN;
        for m in [asym, diag, nan, Matrix::zeros(3, 4)] {
            assert!(matches!(PrecomputedDistances.search(&m, 2), Err(Error::InvalidGraph { .. })));
        }
        assert!(matches!(PrecomputedDistances.search(&good, 5), Err(Error::TooManyNeighbors { .. })));
    }

    #[test]
    fn joint_affinities_are_checked_and_normalised() {
        let sym =
            CsrMatrix::from_rows(vec![vec![(1, 2.0)], vec![(0, 2.0), (2, 1.0)], vec![(1, 1.0)]]).unwrap();
        let p = joint_affinities(sym.clone(), Some(3)).unwrap();
        assert!((p.sum() - 1.0).abs() < 1e-7);
        assert_eq!(p.get(0, 1), f64::from((1.0f64 / 3.0) as f32));
        let asym = CsrMatrix::from_rows(vec![vec![(1, 2.0)], vec![(2, 1.0)], vec![(1, 1.0)]]).unwrap();
        assert!(matches!(joint_affinities(asym, None), Err(Error::InvalidGraph { .. })));
        assert!(matches!(joint_affinities(sym, Some(4)), Err(Error::DimensionMismatch { .. })));
        let empty = CsrMatrix::from_rows(vec![vec![], vec![]]).unwrap();
        assert!(matches!(joint_affinities(empty, None), Err(Error::InvalidGraph { .. })));
    }
}
