//! Gaussian affinities calibrated to a perplexity.

use rayon::prelude::*;
use tsne_core::{Affinity, CsrMatrix, Error, KnnGraph, Result};

/// Per-point Gaussian affinities whose perplexity matches a target (van der Maaten & Hinton
/// 2008, eq. 1): `p_{j|i} = exp(-beta_i d_ij^2) / sum_k exp(-beta_i d_ik^2)` over the
/// neighbours of `i`, with `beta_i = 1 / 2 sigma_i^2` found by bisection so that the entropy
/// `H(P_i) = log(perplexity)` (natural logarithm) to within `tolerance`.
///
/// [`Affinity::affinities`] returns the symmetrised joint P `(P + P^T) / 2N`;
/// [`Perplexity::conditional`] returns the row-stochastic conditional P for asymmetric methods.
///
/// Three conventions of other implementations can be asked for: an explicit neighbour count
/// ([`Perplexity::with_neighbors`], scikit-learn's `min(n - 1, 3 perplexity + 1)`), distances
/// entering the Gaussian as given rather than squared ([`DistanceScale::AsGiven`], for
/// distances that are squared already), and
/// [`Perplexity::lenient`] calibration, which accepts a perplexity the neighbours cannot
/// reach and inputs whose points are all identical (each row then ends at the closest
/// reachable entropy; identical points get uniform rows), as scikit-learn does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Perplexity {
    perplexity: f64,
    tolerance: f64,
    neighbors: Option<usize>,
    scale: DistanceScale,
    strict: bool,
}

/// What enters the Gaussian `exp(-beta s)` of a neighbour at distance `d`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DistanceScale {
    /// `s = d^2` (van der Maaten & Hinton; openTSNE; the default).
    #[default]
    Squared,
    /// `s = d`: the distance as given (for distances that are squared already).
    AsGiven,
}

impl DistanceScale {
    /// `s` of a distance `d`.
    #[inline]
    fn energy(self, d: f64) -> f64 {
        match self {
            Self::Squared => d * d,
            Self::AsGiven => d,
        }
    }
}

/// Bisection steps before giving up on a row; each halves the bracket, so 200 reaches the
/// resolution of `f64` from any start.
const MAX_STEPS: usize = 200;

impl Perplexity {
    /// Calibration to `perplexity`, which must be finite and at least 1.
    pub fn new(perplexity: f64) -> Result<Self> {
        if !(perplexity.is_finite() && perplexity >= 1.0) {
            return Err(Error::InvalidParameter {
                name: "perplexity",
                reason: format!("must be a finite number >= 1, got {perplexity}"),
            });
        }
        Ok(Self {
            perplexity,
            tolerance: 1e-10,
            neighbors: None,
            scale: DistanceScale::Squared,
            strict: true,
        })
    }

    /// Calibration on `k >= 1` neighbours per point (capped at `n - 1`) instead of
    /// `floor(3 perplexity)`.
    pub fn with_neighbors(mut self, k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::InvalidParameter { name: "k", reason: "need at least one neighbour".into() });
        }
        self.neighbors = Some(k);
        Ok(self)
    }

    /// Calibration with `scale` deciding what enters the Gaussian.
    pub fn with_scale(mut self, scale: DistanceScale) -> Self {
        self.scale = scale;
        self
    }

    /// Calibration that accepts a perplexity of `k` or more and identical points (see the
    /// type's documentation) instead of refusing them.
    pub fn lenient(mut self) -> Self {
        self.strict = false;
        self
    }

    /// The target perplexity.
    pub fn perplexity(&self) -> f64 {
        self.perplexity
    }

    /// The neighbour count this calibration uses for `n` points: `min(n - 1, floor(3 * perplexity))`.
    pub fn neighbors_for(perplexity: f64, n: usize) -> usize {
        ((3.0 * perplexity) as usize).min(n.saturating_sub(1))
    }

    /// Row-stochastic conditional affinities `p_{j|i}` (rows sum to one).
    pub fn conditional(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        self.check(graph)?;
        self.calibrate(graph.k(), graph.distances_flat(), graph.indices_flat().to_vec())
    }

    /// [`Self::conditional`] of a graph that is no longer needed: its index array becomes P's
    /// and its distances are freed once P is built (4 bytes an entry less at the peak than
    /// copying).
    pub fn conditional_owned(&self, graph: KnnGraph) -> Result<CsrMatrix> {
        self.check(&graph)?;
        let (_, k, indices, distances) = graph.into_parts();
        self.calibrate(k, &distances, indices)
    }

    fn check(&self, graph: &KnnGraph) -> Result<()> {
        let (n, k) = (graph.n(), graph.k());
        if !self.strict {
            return Ok(());
        }
        if self.perplexity >= k as f64 {
            return Err(Error::PerplexityTooLarge { perplexity: self.perplexity, neighbors: k, n });
        }
        if graph.distances_flat().iter().all(|&d| d == 0.0) {
            return Err(Error::IdenticalPoints { n });
        }
        Ok(())
    }

    /// P from the graph's row-major arrays: every row has k entries, so the CSR arrays are the
    /// graph's layout, each row's `indices` (sorted by distance) re-sorted by column in place
    /// with the calibrated values.
    fn calibrate(&self, k: usize, distances: &[f64], mut indices: Vec<u32>) -> Result<CsrMatrix> {
        let target = self.perplexity.ln();
        let mut values = vec![0.0f32; indices.len()];
        indices.par_chunks_mut(k).zip(values.par_chunks_mut(k)).enumerate().for_each_init(
            || (vec![0.0; k], Vec::with_capacity(k)),
            |(p, row): &mut (Vec<f64>, Vec<(u32, f32)>), (i, (idx, val))| {
                calibrate_row_scaled(&distances[i * k..(i + 1) * k], self.scale, target, self.tolerance, p);
                row.clear();
                row.extend(idx.iter().copied().zip(p.iter().map(|&v| v as f32)));
                row.sort_unstable_by_key(|&(j, _)| j);
                for (t, &(j, v)) in row.iter().enumerate() {
                    idx[t] = j;
                    val[t] = v;
                }
            },
        );
        let n = indices.len() / k;
        CsrMatrix::new(n, (0..=n).map(|i| i * k).collect(), indices, values)
    }
}

/// Fills `p` with the Gaussian row over squared distances `d^2` whose entropy is `target`.
///
/// Distances are shifted by the smallest one before exponentiating (this cancels in the
/// normalisation) so that no bandwidth underflows every weight to zero. Returns the entropy
/// reached; a row whose target is unreachable (more duplicates at distance zero than the
/// perplexity) ends at the closest reachable entropy instead of failing.
pub fn calibrate_row(distances: &[f64], target: f64, tolerance: f64, p: &mut [f64]) -> f64 {
    calibrate_row_scaled(distances, DistanceScale::Squared, target, tolerance, p)
}

/// [`calibrate_row`] over `s = scale(d)` instead of `d^2`.
pub fn calibrate_row_scaled(
    distances: &[f64],
    scale: DistanceScale,
    target: f64,
    tolerance: f64,
    p: &mut [f64],
) -> f64 {
    calibrate_row_beta(distances, scale, target, tolerance, p).0
}

/// [`calibrate_row_scaled`] returning the entropy reached and the precision `beta` of
/// `exp(-beta s)` that reached it.
pub fn calibrate_row_beta(
    distances: &[f64],
    scale: DistanceScale,
    target: f64,
    tolerance: f64,
    p: &mut [f64],
) -> (f64, f64) {
    let e = |d: f64| scale.energy(d);
    let s_min = distances.iter().fold(f64::INFINITY, |m, &d| m.min(e(d)));
    let (mut lo, mut hi) = (0.0_f64, f64::INFINITY);
    let mean = distances.iter().map(|&d| e(d) - s_min).sum::<f64>() / distances.len() as f64;
    let mut beta = 1.0 / mean.max(f64::MIN_POSITIVE);
    let mut entropy = 0.0;
    for _ in 0..MAX_STEPS {
        entropy = gaussian_row(distances, e, s_min, beta, p);
        let err = entropy - target;
        if err.abs() <= tolerance {
            break;
        }
        // Entropy falls as beta grows: too much entropy means beta is too small.
        if err > 0.0 {
            lo = beta;
            beta = if hi.is_finite() { 0.5 * (lo + hi) } else { beta * 2.0 };
            // All distances equal (up to rounding): no bandwidth changes the row any more.
            if !beta.is_finite() {
                break;
            }
        } else {
            hi = beta;
            beta = 0.5 * (lo + hi);
        }
    }
    (entropy, beta)
}

/// Writes the normalised row `exp(-beta (s - s_min))`, `s = e(d)`, into `p` and returns its
/// entropy `H = log S + beta E[s - s_min]` in nats.
fn gaussian_row(distances: &[f64], e: impl Fn(f64) -> f64, s_min: f64, beta: f64, p: &mut [f64]) -> f64 {
    let mut sum = 0.0;
    let mut weighted = 0.0;
    for (pj, &d) in p.iter_mut().zip(distances) {
        let s = e(d) - s_min;
        let w = (-beta * s).exp();
        *pj = w;
        sum += w;
        weighted += w * s;
    }
    // sum >= 1 because the nearest neighbour has weight exp(0).
    let inv = 1.0 / sum;
    p.iter_mut().for_each(|v| *v *= inv);
    sum.ln() + beta * weighted * inv
}

impl Affinity for Perplexity {
    fn affinities(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        Ok(self.conditional(graph)?.symmetrize())
    }

    fn affinities_owned(&self, graph: KnnGraph) -> Result<CsrMatrix> {
        // The graph is gone before the symmetrisation, the step with the highest peak.
        Ok(self.conditional_owned(graph)?.symmetrize())
    }

    fn neighbors_needed(&self, n: usize) -> usize {
        match self.neighbors {
            Some(k) => k.min(n.saturating_sub(1)),
            None => Self::neighbors_for(self.perplexity, n),
        }
    }

    fn name(&self) -> &str {
        "perplexity"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BruteForce;
    use proptest::prelude::*;
    use rand::{Rng, SeedableRng};
    use tsne_core::{Matrix, NeighborSearch};

    fn entropy(row: &[f64]) -> f64 {
        -row.iter().filter(|&&p| p > 0.0).map(|&p| p * p.ln()).sum::<f64>()
    }

    proptest! {
        // A fixed seed: every run, CI included, checks the same cases (plus the saved regressions).
    #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(48), ..ProptestConfig::with_cases(48) })]
        /// Every row reaches log(perplexity), rows sum to one, and the joint P is symmetric
        /// with unit sum.
        #[test]
        fn calibration_reaches_the_perplexity(seed in 0u64..1_000_000, n in 12usize..80, dims in 1usize..6, perp in 2.0f64..20.0, spread in 0.01f64..100.0) {
            let perp = perp.min((n - 2) as f64 / 3.0).max(1.5);
            let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
            let data: Vec<f64> = (0..n * dims).map(|_| rng.gen::<f64>() * spread).collect();
            let x = Matrix::new(n, dims, data).unwrap();
            let aff = Perplexity::new(perp).unwrap();
            let g = BruteForce::default().search(&x, aff.neighbors_needed(n)).unwrap();
            let cond = aff.conditional(&g).unwrap();
            for i in 0..n {
                // Calibrated in f64, stored in f32: sums and entropies to f32 rounding.
                let vals: Vec<f64> = cond.row(i).1.iter().map(|&v| f64::from(v)).collect();
                let vals = &vals[..];
                prop_assert!((vals.iter().sum::<f64>() - 1.0).abs() < 1e-6);
                prop_assert!((entropy(vals) - perp.ln()).abs() < 1e-5, "row {} entropy {} target {}", i, entropy(vals), perp.ln());
            }
            let p = cond.symmetrize();
            prop_assert!(p.is_symmetric(0.0));
            prop_assert!((p.sum() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn owned_and_borrowed_graphs_give_the_same_p() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let x = Matrix::new(50, 3, (0..150).map(|_| rng.gen::<f64>()).collect()).unwrap();
        let g = BruteForce::default().search(&x, 15).unwrap();
        let aff = Perplexity::new(4.0).unwrap();
        assert_eq!(aff.conditional_owned(g.clone()).unwrap(), aff.conditional(&g).unwrap());
        assert_eq!(aff.affinities_owned(g.clone()).unwrap(), aff.affinities(&g).unwrap());
    }

    #[test]
    fn perplexity_must_be_below_neighbour_count() {
        let x = Matrix::new(4, 1, vec![0.0, 1.0, 2.0, 4.0]).unwrap();
        let g = BruteForce::default().search(&x, 3).unwrap();
        let err = Perplexity::new(3.0).unwrap().conditional(&g).unwrap_err();
        assert_eq!(err, Error::PerplexityTooLarge { perplexity: 3.0, neighbors: 3, n: 4 });
    }

    #[test]
    fn identical_points_are_an_error_not_nan() {
        let x = Matrix::new(10, 2, vec![1.0; 20]).unwrap();
        let g = BruteForce::default().search(&x, 6).unwrap();
        assert_eq!(Perplexity::new(2.0).unwrap().conditional(&g), Err(Error::IdenticalPoints { n: 10 }));
    }

    #[test]
    fn lenient_calibration_embeds_identical_points_and_unreachable_perplexities() {
        let x = Matrix::new(10, 2, vec![1.0; 20]).unwrap();
        let g = BruteForce::default().search(&x, 4).unwrap();
        // Identical points: uniform rows, as the Gaussian of equal distances is.
        let p = Perplexity::new(4.0).unwrap().lenient().conditional(&g).unwrap();
        for i in 0..10 {
            assert!(p.row(i).1.iter().all(|&v| (v - 0.25).abs() < 1e-7), "row {i}: {:?}", p.row(i).1);
        }
        // Perplexity 4 on 4 neighbours: refused when strict, the flattest row when lenient.
        let y = Matrix::new(5, 1, vec![0.0, 1.0, 3.0, 7.0, 15.0]).unwrap();
        let g = BruteForce::default().search(&y, 4).unwrap();
        assert!(Perplexity::new(4.0).unwrap().conditional(&g).is_err());
        let p = Perplexity::new(4.0).unwrap().lenient().conditional(&g).unwrap();
        for i in 0..5 {
            let row: Vec<f64> = p.row(i).1.iter().map(|&v| f64::from(v)).collect();
            assert!((entropy(&row) - 4f64.ln()).abs() < 1e-3, "row {i}: {row:?}");
        }
    }

    #[test]
    fn distances_as_given_are_the_squared_calibration_of_their_roots() {
        let d = [0.3, 0.9, 1.7, 2.2, 4.0, 4.1];
        let (mut a, mut b) = ([0.0; 6], [0.0; 6]);
        let roots: Vec<f64> = d.iter().map(|v: &f64| v.sqrt()).collect();
        calibrate_row_scaled(&d, DistanceScale::AsGiven, 2.5f64.ln(), 1e-12, &mut a);
        calibrate_row(&roots, 2.5f64.ln(), 1e-12, &mut b);
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-9, "{a:?} vs {b:?}");
        }
        assert!((entropy(&a) - 2.5f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn an_explicit_neighbour_count_is_capped_at_n_minus_one() {
        let aff = Perplexity::new(4.0).unwrap().with_neighbors(13).unwrap();
        assert_eq!(aff.neighbors_needed(100), 13);
        assert_eq!(aff.neighbors_needed(5), 4);
        assert!(Perplexity::new(4.0).unwrap().with_neighbors(0).is_err());
    }

    #[test]
    fn duplicates_give_finite_rows() {
        // Five copies of one point and a few others: rows stay finite and stochastic.
        let x = Matrix::new(9, 1, vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0, 5.0]).unwrap();
        let g = BruteForce::default().search(&x, 6).unwrap();
        let p = Perplexity::new(2.0).unwrap().conditional(&g).unwrap();
        for i in 0..9 {
            let s: f64 = p.row(i).1.iter().map(|&v| f64::from(v)).sum();
            assert!((s - 1.0).abs() < 1e-6 && p.row(i).1.iter().all(|v| v.is_finite()));
        }
    }
}
