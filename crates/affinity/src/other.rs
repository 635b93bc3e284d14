//! Affinities other than a single perplexity: several perplexities, one fixed bandwidth, and
//! uniform kNN weights.

use rayon::prelude::*;
use tsne_core::{Affinity, CsrMatrix, Error, KnnGraph, Result};

use crate::perplexity::{calibrate_row, calibrate_row_beta};
use crate::DistanceScale;
use crate::Perplexity;

/// The average of Gaussian affinities calibrated to several perplexities (Lee et al. 2015;
/// openTSNE's `Multiscale`): `p_{j|i} = mean_h p^h_{j|i}`, over `k = 3 max(h)` neighbours.
#[derive(Debug, Clone, PartialEq)]
pub struct Multiscale {
    perplexities: Vec<f64>,
}

impl Multiscale {
    /// Affinities averaged over `perplexities` (each at least 1; at least one).
    pub fn new(perplexities: Vec<f64>) -> Result<Self> {
        if perplexities.is_empty() {
            return Err(Error::InvalidParameter { name: "perplexities", reason: "need at least one".into() });
        }
        for &p in &perplexities {
            Perplexity::new(p)?;
        }
        Ok(Self { perplexities })
    }

    /// Row-stochastic conditional affinities.
    pub fn conditional(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        let (n, k) = (graph.n(), graph.k());
        let largest = self.perplexities.iter().copied().fold(0.0, f64::max);
        if largest >= k as f64 {
            return Err(Error::PerplexityTooLarge { perplexity: largest, neighbors: k, n });
        }
        if graph.distances_flat().iter().all(|&d| d == 0.0) {
            return Err(Error::IdenticalPoints { n });
        }
        let scale = 1.0 / self.perplexities.len() as f64;
        let rows = (0..n)
            .into_par_iter()
            .map_init(
                || (vec![0.0; k], vec![0.0; k]),
                |(row, sum), i| {
                    sum.fill(0.0);
                    for &h in &self.perplexities {
                        calibrate_row(graph.distances(i), h.ln(), 1e-10, row);
                        sum.iter_mut().zip(row.iter()).for_each(|(s, v)| *s += scale * v);
                    }
                    graph.neighbors(i).iter().copied().zip(sum.iter().copied()).collect()
                },
            )
            .collect();
        CsrMatrix::from_rows(rows)
    }
}

impl Affinity for Multiscale {
    fn affinities(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        Ok(self.conditional(graph)?.symmetrize())
    }

    fn neighbors_needed(&self, n: usize) -> usize {
        Perplexity::neighbors_for(self.perplexities.iter().copied().fold(0.0, f64::max), n)
    }

    fn name(&self) -> &str {
        "multiscale"
    }
}

/// One Gaussian-mixture kernel over several perplexities (the kernel of openTSNE's
/// `MultiscaleMixture`, Lee et al. 2015): each scale `h`'s precision `tau_h` is calibrated
/// alone (the Gaussian of `h` has perplexity `h`), and the row is
/// `p_{j|i} ∝ sum_h sqrt(tau_h) exp(-tau_h d_ij^2 / 2)`, normalised once over the
/// `k = 3 max(h)` neighbours. One perplexity gives the plain [`Perplexity`] row. (openTSNE
/// 1.0.4's bisection keeps each row's bracket from one scale to the next, so its `tau_h` can
/// differ from these; its drop-in reproduces that.)
#[derive(Debug, Clone, PartialEq)]
pub struct MultiscaleMixture {
    perplexities: Vec<f64>,
    shared_bracket: bool,
}

impl MultiscaleMixture {
    /// The mixture of `perplexities` (each at least 1; at least one).
    pub fn new(perplexities: Vec<f64>) -> Result<Self> {
        Multiscale::new(perplexities.clone())?;
        Ok(Self { perplexities, shared_bracket: false })
    }

    /// The mixture as openTSNE 1.0.4 computes it, in its order of operations: per row and
    /// scale (in the order given) `tau` bisected from 1 on `p_j = sqrt(tau) exp(-d_j^2 tau / 2)`
    /// (not shifted) until the entropy `tau/2 sum_j p_j d_j^2 / S + ln S - ln(tau) / 2`,
    /// `S = sum_j p_j + eps`, is `ln h` to 1e-8 (at most 200 steps, keeping the last `p`), with
    /// the bracket of a row kept from one scale to the next; the scales' `p` summed and
    /// normalised once. Any finite perplexity above 0 is taken, as openTSNE takes it.
    pub fn opentsne(perplexities: Vec<f64>) -> Result<Self> {
        if perplexities.is_empty() || perplexities.iter().any(|p| !(p.is_finite() && *p > 0.0)) {
            return Err(Error::InvalidParameter {
                name: "perplexities",
                reason: format!("need at least one, each finite and above 0, got {perplexities:?}"),
            });
        }
        Ok(Self { perplexities, shared_bracket: true })
    }

    /// Row-stochastic conditional affinities.
    pub fn conditional(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        let (n, k) = (graph.n(), graph.k());
        let largest = self.perplexities.iter().copied().fold(0.0, f64::max);
        if largest >= k as f64 {
            return Err(Error::PerplexityTooLarge { perplexity: largest, neighbors: k, n });
        }
        if graph.distances_flat().iter().all(|&d| d == 0.0) {
            return Err(Error::IdenticalPoints { n });
        }
        let p = self.rows(graph.distances_flat(), k);
        let rows = (0..n)
            .map(|i| graph.neighbors(i).iter().copied().zip(p[i * k..(i + 1) * k].iter().copied()).collect())
            .collect();
        CsrMatrix::from_rows(rows)
    }

    /// The row-stochastic mixture rows of `distances` (row-major, `k` per row; any number of
    /// rows, e.g. new points against reference points), unchecked.
    pub fn rows(&self, distances: &[f64], k: usize) -> Vec<f64> {
        let mut p = vec![0.0; distances.len()];
        let scales = self.perplexities.len();
        p.par_chunks_mut(k.max(1)).zip(distances.par_chunks(k.max(1))).for_each_init(
            || (vec![0.0; k], vec![0.0; k * scales]),
            |(row, logs), (out, d)| {
                if self.shared_bracket {
                    opentsne_mixture_row(d, &self.perplexities, row, out);
                } else {
                    self.calibrated_row(d, row, logs, out);
                }
            },
        );
        p
    }

    /// Each scale calibrated alone; the weights' logs shifted by the largest so that no scale
    /// underflows every weight.
    fn calibrated_row(&self, d: &[f64], row: &mut [f64], logs: &mut [f64], out: &mut [f64]) {
        let k = d.len();
        // log of sqrt(tau_h) exp(-tau_h d^2 / 2) with tau_h = 2 beta_h.
        for (h, &perplexity) in self.perplexities.iter().enumerate() {
            let (_, beta) = calibrate_row_beta(d, DistanceScale::Squared, perplexity.ln(), 1e-10, row);
            let half_log_tau = 0.5 * (2.0 * beta).ln();
            for (j, &dj) in d.iter().enumerate() {
                logs[h * k + j] = half_log_tau - beta * dj * dj;
            }
        }
        let top = logs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        out.fill(0.0);
        for scale in logs.chunks(k) {
            out.iter_mut().zip(scale).for_each(|(r, &l)| *r += (l - top).exp());
        }
        let inv = 1.0 / out.iter().sum::<f64>();
        out.iter_mut().for_each(|v| *v *= inv);
    }
}

/// One row of openTSNE 1.0.4's mixture (see [`MultiscaleMixture::opentsne`]) into
/// `out`, `p` a buffer of the row's length.
fn opentsne_mixture_row(d: &[f64], perplexities: &[f64], p: &mut [f64], out: &mut [f64]) {
    let (mut lo, mut hi) = (f64::NEG_INFINITY, f64::INFINITY);
    out.fill(0.0);
    for &perplexity in perplexities {
        let desired = perplexity.ln();
        let mut tau = 1.0f64;
        for _ in 0..200 {
            let root = tau.sqrt();
            let mut sum = 0.0;
            for (pj, &dj) in p.iter_mut().zip(d) {
                *pj = root * (-dj * dj * tau * 0.5).exp();
                sum += *pj;
            }
            sum += f64::EPSILON;
            let mut weighted = 0.0;
            for (pj, &dj) in p.iter().zip(d) {
                weighted += pj / sum * (dj * dj);
            }
            let diff = tau * 0.5 * weighted + sum.ln() - tau.ln() * 0.5 - desired;
            if diff.abs() <= 1e-8 {
                break;
            }
            if diff > 0.0 {
                lo = tau;
                tau = if hi.is_infinite() { tau * 2.0 } else { (tau + hi) * 0.5 };
            } else {
                hi = tau;
                tau = if lo.is_infinite() { tau / 2.0 } else { (tau + lo) * 0.5 };
            }
        }
        out.iter_mut().zip(p.iter()).for_each(|(o, v)| *o += v);
    }
    let total: f64 = out.iter().sum();
    out.iter_mut().for_each(|v| *v /= total);
}

impl Affinity for MultiscaleMixture {
    fn affinities(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        Ok(self.conditional(graph)?.symmetrize())
    }

    fn neighbors_needed(&self, n: usize) -> usize {
        Perplexity::neighbors_for(self.perplexities.iter().copied().fold(0.0, f64::max), n)
    }

    fn name(&self) -> &str {
        "multiscale-mixture"
    }
}

/// Gaussian affinities of one bandwidth for every point (openTSNE's `FixedSigmaNN`):
/// `p_{j|i} = exp(-d_ij^2 / 2 sigma^2) / sum_k exp(-d_ik^2 / 2 sigma^2)` over the `k` nearest
/// neighbours, then symmetrised. Computed shifted by the nearest distance (which cancels), so
/// no row underflows to zero however small `sigma` is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FixedSigma {
    sigma: f64,
    k: usize,
}

impl FixedSigma {
    /// Bandwidth `sigma > 0` (finite) over `k >= 1` neighbours.
    pub fn new(sigma: f64, k: usize) -> Result<Self> {
        if !(sigma.is_finite() && sigma > 0.0) {
            return Err(Error::InvalidParameter {
                name: "sigma",
                reason: format!("must be a finite number > 0, got {sigma}"),
            });
        }
        if k == 0 {
            return Err(Error::InvalidParameter { name: "k", reason: "need at least one neighbour".into() });
        }
        Ok(Self { sigma, k })
    }

    /// Row-stochastic conditional affinities.
    pub fn conditional(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        let beta = 0.5 / (self.sigma * self.sigma);
        let rows = (0..graph.n())
            .into_par_iter()
            .map(|i| {
                let d = graph.distances(i);
                let d_min2 = d.iter().fold(f64::INFINITY, |m, &v| m.min(v * v));
                let w: Vec<f64> = d.iter().map(|&v| (-beta * (v * v - d_min2)).exp()).collect();
                let inv = 1.0 / w.iter().sum::<f64>();
                graph.neighbors(i).iter().copied().zip(w.into_iter().map(|v| v * inv)).collect()
            })
            .collect();
        CsrMatrix::from_rows(rows)
    }
}

impl Affinity for FixedSigma {
    fn affinities(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        Ok(self.conditional(graph)?.symmetrize())
    }

    fn neighbors_needed(&self, n: usize) -> usize {
        self.k.min(n.saturating_sub(1))
    }

    fn name(&self) -> &str {
        "fixed-sigma"
    }
}

/// Equal weights on each point's `k` nearest neighbours: `p_{j|i} = 1/k`, then symmetrised
/// by the mean `(P + P^T) / 2n` or, with [`Uniform::max_symmetrized`], as openTSNE's default
/// does: every pair that is a neighbour either way gets the same weight `1 / nnz`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Uniform {
    k: usize,
    max: bool,
}

impl Uniform {
    /// Uniform affinities over `k >= 1` neighbours.
    pub fn new(k: usize) -> Result<Self> {
        if k == 0 {
            return Err(Error::InvalidParameter { name: "k", reason: "need at least one neighbour".into() });
        }
        Ok(Self { k, max: false })
    }

    /// Equal weight on every pair that is a neighbour in either direction.
    pub fn max_symmetrized(mut self) -> Self {
        self.max = true;
        self
    }
}

impl Affinity for Uniform {
    fn affinities(&self, graph: &KnnGraph) -> Result<CsrMatrix> {
        let w = 1.0 / graph.k() as f64;
        let rows = (0..graph.n()).map(|i| graph.neighbors(i).iter().map(|&j| (j, w)).collect()).collect();
        let mean = CsrMatrix::from_rows(rows)?.symmetrize();
        if !self.max {
            return Ok(mean);
        }
        let nnz = mean.nnz();
        CsrMatrix::new(mean.n(), mean.indptr().to_vec(), mean.indices().to_vec(), vec![1.0 / nnz as f32; nnz])
    }

    fn neighbors_needed(&self, n: usize) -> usize {
        self.k.min(n.saturating_sub(1))
    }

    fn name(&self) -> &str {
        "uniform"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BruteForce;
    use tsne_core::{Matrix, NeighborSearch};

    fn line(n: usize) -> Matrix {
        Matrix::new(n, 1, (0..n).map(|i| (i as f64).powf(1.3)).collect()).unwrap()
    }

    #[test]
    fn fixed_sigma_weights_follow_the_gaussian_of_one_bandwidth() {
        let x = line(40);
        let g = BruteForce::default().search(&x, 6).unwrap();
        let sigma = 2.5;
        let p = FixedSigma::new(sigma, 6).unwrap().conditional(&g).unwrap();
        for i in [0, 17, 39] {
            let (cols, vals) = p.row(i);
            let s: f64 = vals.iter().map(|&v| f64::from(v)).sum();
            assert!((s - 1.0).abs() < 1e-6);
            let d = |j: u32| (x.row(i)[0] - x.row(j as usize)[0]).abs();
            for t in 1..cols.len() {
                let want = (-(d(cols[t]).powi(2) - d(cols[0]).powi(2)) / (2.0 * sigma * sigma)).exp();
                let got = f64::from(vals[t]) / f64::from(vals[0]);
                assert!((got - want).abs() < 1e-5 * want.max(1.0), "row {i}: {got} vs {want}");
            }
        }
        assert!(FixedSigma::new(0.0, 6).is_err() && FixedSigma::new(1.0, 0).is_err());
    }

    #[test]
    fn the_mixture_of_one_scale_is_the_plain_perplexity_and_of_two_lies_between() {
        let x = line(60);
        let g = BruteForce::default().search(&x, 30).unwrap();
        let plain = |h: f64| Perplexity::new(h).unwrap().conditional(&g).unwrap();
        let one = MultiscaleMixture::new(vec![8.0]).unwrap().conditional(&g).unwrap();
        for (a, b) in one.values().iter().zip(plain(8.0).values()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // Two scales: the nearest neighbour's share lies between the narrow and the wide one's,
        // and the row's entropy between log 3 and log 9.
        let two = MultiscaleMixture::new(vec![3.0, 9.0]).unwrap().conditional(&g).unwrap();
        for i in [0, 20, 59] {
            let first = |p: &CsrMatrix| {
                let (c, v) = p.row(i);
                let j = (0..c.len()).min_by(|&a, &b| {
                    let d = |t: usize| (x.row(i)[0] - x.row(c[t] as usize)[0]).abs();
                    d(a).total_cmp(&d(b))
                });
                f64::from(v[j.unwrap()])
            };
            let (narrow, wide, mix) = (first(&plain(3.0)), first(&plain(9.0)), first(&two));
            assert!(wide < mix && mix < narrow, "row {i}: {wide} < {mix} < {narrow}");
            let vals: Vec<f64> = two.row(i).1.iter().map(|&v| f64::from(v)).collect();
            let h = -vals.iter().filter(|&&p| p > 0.0).map(|p| p * p.ln()).sum::<f64>();
            assert!(3f64.ln() < h && h < 9f64.ln(), "row {i}: entropy {h}");
        }
    }

    #[test]
    fn opentsne_bisection_reaches_each_scale_and_shares_the_bracket() {
        let x = line(60);
        let g = BruteForce::default().search(&x, 30).unwrap();
        // One scale: the plain calibration, to the tolerance of the bisection.
        let one = MultiscaleMixture::opentsne(vec![8.0]).unwrap().conditional(&g).unwrap();
        let plain = Perplexity::new(8.0).unwrap().conditional(&g).unwrap();
        for (a, b) in one.values().iter().zip(plain.values()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        // Two scales, the smaller first: the shared bracket keeps the second scale's precision
        // at or above the first's lower bound, so the mixture differs from the calibrated one.
        let both = |m: MultiscaleMixture| m.conditional(&g).unwrap();
        let shared = both(MultiscaleMixture::opentsne(vec![3.0, 9.0]).unwrap());
        let alone = both(MultiscaleMixture::new(vec![3.0, 9.0]).unwrap());
        let diff =
            shared.values().iter().zip(alone.values()).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(diff > 1e-4, "the shared bracket changed nothing ({diff})");
        for i in [0, 30, 59] {
            let s: f64 = shared.row(i).1.iter().map(|&v| f64::from(v)).sum();
            assert!((s - 1.0).abs() < 1e-6);
        }
        // openTSNE takes perplexities below 1; the calibrated mixture does not.
        assert!(
            MultiscaleMixture::opentsne(vec![1.0 / 3.0]).is_ok()
                && MultiscaleMixture::new(vec![1.0 / 3.0]).is_err()
        );
        assert!(
            MultiscaleMixture::opentsne(vec![0.0]).is_err() && MultiscaleMixture::opentsne(vec![]).is_err()
        );
    }

    #[test]
    fn uniform_max_symmetrization_weighs_every_neighbour_pair_alike() {
        let x = line(30);
        let g = BruteForce::default().search(&x, 3).unwrap();
        let mean = Uniform::new(3).unwrap().affinities(&g).unwrap();
        let max = Uniform::new(3).unwrap().max_symmetrized().affinities(&g).unwrap();
        assert_eq!((mean.indptr(), mean.indices()), (max.indptr(), max.indices()));
        let distinct = |p: &CsrMatrix| {
            let mut v: Vec<u32> = p.values().iter().map(|v| v.to_bits()).collect();
            v.sort_unstable();
            v.dedup();
            v.len()
        };
        // The mean gives one-way pairs half the weight of mutual ones; max gives one weight.
        assert_eq!(distinct(&mean), 2);
        assert_eq!(distinct(&max), 1);
        assert!((max.sum() - 1.0).abs() < 1e-6);
    }

    #[test]
    fn one_scale_is_the_plain_perplexity() {
        let x = line(60);
        let g = BruteForce::default().search(&x, 30).unwrap();
        let single = Perplexity::new(8.0).unwrap().conditional(&g).unwrap();
        let multi = Multiscale::new(vec![8.0]).unwrap().conditional(&g).unwrap();
        assert_eq!(single, multi);
        let two = Multiscale::new(vec![4.0, 8.0]).unwrap().conditional(&g).unwrap();
        let four = Perplexity::new(4.0).unwrap().conditional(&g).unwrap();
        for i in 0..60 {
            for (t, v) in two.row(i).1.iter().enumerate() {
                let want = 0.5 * (f64::from(four.row(i).1[t]) + f64::from(single.row(i).1[t]));
                // Relative to f32 rounding; absolute in the subnormal range of f32.
                assert!(
                    (f64::from(*v) - want).abs() <= 1e-6 * want + f64::from(f32::MIN_POSITIVE),
                    "{i} {t}"
                );
            }
        }
        let p = Multiscale::new(vec![4.0, 8.0]).unwrap().affinities(&g).unwrap();
        assert!((p.sum() - 1.0).abs() < 1e-6 && p.is_symmetric(0.0));
    }

    #[test]
    fn uniform_weights_are_equal_and_symmetrised() {
        let x = line(20);
        let aff = Uniform::new(3).unwrap();
        let g = BruteForce::default().search(&x, aff.neighbors_needed(20)).unwrap();
        let p = aff.affinities(&g).unwrap();
        assert!((p.sum() - 1.0).abs() < 1e-6 && p.is_symmetric(0.0));
        // Mutual neighbours get 1/k from both sides: (1/3 + 1/3) / 2n, to f32 rounding.
        assert!((p.get(5, 6) - (2.0 / 3.0) / 40.0).abs() < 1e-6 * (2.0 / 3.0) / 40.0);
        assert!(Multiscale::new(vec![]).is_err() && Uniform::new(0).is_err());
    }
}
