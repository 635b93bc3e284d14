//! Placing new points into an existing embedding (openTSNE's `transform`, Poličar, Stražar &
//! Zupan 2019).

use rayon::prelude::*;
use tsne_affinity::{calibrate_row, nearest, Metric};
use tsne_core::{Error, Matrix, Result, StudentT};
use tsne_repulsion::{BarnesHut, ReferenceTree};

/// Settings of [`Transform::place`]; the defaults are openTSNE's where they carry over.
///
/// Each new point `i` gets its own conditional affinities `p_{j|i}` over its nearest
/// reference points (perplexity [`perplexity`](Self::perplexity), lower than a fit's because
/// a point's neighbourhood among existing points is what is wanted), starts at the median
/// embedding position of its [`init_neighbors`](Self::init_neighbors) nearest reference
/// points, and then minimises its own KL divergence
///
/// `C_i(y) = sum_j p_{j|i} ln(p_{j|i} / q_{j|i})`, `q_{j|i} = w(y, r_j) / Z_i`, `Z_i = sum_l w(y, r_l)`,
///
/// against the fixed reference embedding `r`, whose gradient is
/// `2 (a sum_j p_{j|i} u (y - r_j) - sum_l w u (y - r_l) / Z_i)` with exaggeration `a`
/// (see [`StudentT`] for `w` and `u`; the seed's t-SNE gradient with the other points
/// frozen). New points do not interact, so each is placed as if it were the only one, and
/// the result does not depend on which other points are placed with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Perplexity of each new point's affinities to the reference points (default 5).
    pub perplexity: f64,
    /// Reference neighbours whose median position is the starting point (default 25).
    pub init_neighbors: usize,
    /// Gradient steps (default 250).
    pub iterations: usize,
    /// Step size (default 1).
    pub learning_rate: f64,
    /// Factor on the attraction, which keeps points from drifting into the space between
    /// clusters (default 1.5, openTSNE's).
    pub exaggeration: f64,
    /// Momentum (default 0.8).
    pub momentum: f64,
    /// Longest step a point may take in one iteration, in embedding units (default 1).
    pub max_step: f64,
    /// Barnes-Hut opening angle of the reference tree (default 0.5; 0 is exact).
    pub theta: f64,
    /// Input distance (default Euclidean).
    pub metric: Metric,
    /// Kernel of the embedding (default Cauchy, `dof = 1`).
    pub kernel: StudentT,
}

impl Default for Transform {
    fn default() -> Self {
        Self {
            perplexity: 5.0,
            init_neighbors: 25,
            iterations: 250,
            learning_rate: 1.0,
            exaggeration: 1.5,
            momentum: 0.8,
            max_step: 1.0,
            theta: 0.5,
            metric: Metric::Euclidean,
            kernel: StudentT::CAUCHY,
        }
    }
}

/// New points' neighbours among the reference points and their affinities.
struct Affinities {
    k: usize,
    neighbors: Vec<u32>,
    p: Vec<f64>,
}

impl Transform {
    /// The embedding of `new_points` into `reference_embedding`, the embedding of
    /// `reference_points` (same rows; neighbours are searched in this input space, so give
    /// the points the fit saw, after any PCA of your own). Exact neighbour search, O(m n d)
    /// for m new points; then `iterations` steps of O(m log n) each. Deterministic for any
    /// thread count.
    pub fn place(
        &self,
        reference_points: &Matrix,
        reference_embedding: &Matrix,
        new_points: &Matrix,
    ) -> Result<Matrix> {
        self.check()?;
        let n = reference_points.rows();
        if reference_embedding.rows() != n {
            return Err(Error::DimensionMismatch {
                what: "reference embedding rows",
                expected: n,
                found: reference_embedding.rows(),
            });
        }
        if new_points.cols() != reference_points.cols() {
            return Err(Error::DimensionMismatch {
                what: "new point columns",
                expected: reference_points.cols(),
                found: new_points.cols(),
            });
        }
        let k = self.init_neighbors.max((3.0 * self.perplexity) as usize).min(n);
        if self.perplexity >= k as f64 {
            return Err(Error::PerplexityTooLarge { perplexity: self.perplexity, neighbors: k, n });
        }
        let affinities = self.affinities(reference_points, new_points, k);
        let mut y = self.start(reference_embedding, &affinities);
        let tree = BarnesHut::new(self.theta)?.reference_tree(reference_embedding)?;
        self.optimise(&tree, reference_embedding, &affinities, &mut y)?;
        Ok(y)
    }

    fn check(&self) -> Result<()> {
        let bad = |name, reason: String| Err(Error::InvalidParameter { name, reason });
        if !(self.perplexity.is_finite() && self.perplexity >= 1.0) {
            return bad("perplexity", format!("must be a finite number >= 1, got {}", self.perplexity));
        }
        if self.init_neighbors == 0 {
            return bad("init_neighbors", "must be positive".into());
        }
        for (name, v) in [("learning_rate", self.learning_rate), ("max_step", self.max_step)] {
            if !(v.is_finite() && v > 0.0) {
                return bad(name, format!("must be finite and positive, got {v}"));
            }
        }
        if !(self.exaggeration.is_finite() && self.exaggeration > 0.0) {
            return bad("exaggeration", format!("must be finite and positive, got {}", self.exaggeration));
        }
        if !(0.0..1.0).contains(&self.momentum) {
            return bad("momentum", format!("must be in [0, 1), got {}", self.momentum));
        }
        Ok(())
    }

    /// Exact `k` nearest reference points of every new point and perplexity-calibrated
    /// conditional affinities over them (each row sums to one).
    fn affinities(&self, reference: &Matrix, new_points: &Matrix, k: usize) -> Affinities {
        let m = new_points.rows();
        let mut neighbors = vec![0u32; m * k];
        let mut p = vec![0.0; m * k];
        let target = self.perplexity.ln();
        neighbors.par_chunks_mut(k).zip(p.par_chunks_mut(k)).enumerate().for_each_init(
            || (Vec::with_capacity(reference.rows()), vec![0.0; k]),
            |(all, dist): &mut (Vec<(f64, u32)>, Vec<f64>), (i, (idx, row))| {
                all.clear();
                let x = new_points.row(i);
                all.extend(
                    (0..reference.rows()).map(|j| (self.metric.distance(x, reference.row(j)), j as u32)),
                );
                nearest(all, idx, dist);
                calibrate_row(dist, target, 1e-10, row);
            },
        );
        Affinities { k, neighbors, p }
    }

    /// Coordinate-wise median of the positions of each point's nearest reference points.
    fn start(&self, reference: &Matrix, a: &Affinities) -> Matrix {
        let (m, dims) = (a.neighbors.len() / a.k, reference.cols());
        let take = self.init_neighbors.min(a.k);
        let mut y = vec![0.0; m * dims];
        y.par_chunks_mut(dims).enumerate().for_each_init(
            || Vec::with_capacity(take),
            |coord: &mut Vec<f64>, (i, out)| {
                for (c, o) in out.iter_mut().enumerate() {
                    coord.clear();
                    coord.extend(
                        a.neighbors[i * a.k..i * a.k + take].iter().map(|&j| reference.row(j as usize)[c]),
                    );
                    coord.sort_unstable_by(f64::total_cmp);
                    let h = coord.len() / 2;
                    *o = if coord.len() % 2 == 1 { coord[h] } else { 0.5 * (coord[h - 1] + coord[h]) };
                }
            },
        );
        Matrix::new(m, dims, y).expect("medians of finite coordinates are finite")
    }

    fn optimise(
        &self,
        tree: &ReferenceTree,
        reference: &Matrix,
        a: &Affinities,
        y: &mut Matrix,
    ) -> Result<()> {
        let (m, dims) = (y.rows(), y.cols());
        let mut rep = vec![0.0; m * dims];
        let mut z = vec![0.0; m];
        let mut velocity = vec![0.0; m * dims];
        for _ in 0..self.iterations {
            tree.repulsion(y, self.kernel, &mut rep, &mut z)?;
            y.as_mut_slice().par_chunks_mut(dims).zip(velocity.par_chunks_mut(dims)).enumerate().for_each(
                |(i, (yi, vi))| {
                    let mut g = [0.0; 3];
                    gradient(self, reference, a, i, yi, &rep[i * dims..(i + 1) * dims], z[i], &mut g[..dims]);
                    let mut norm2 = 0.0;
                    for c in 0..dims {
                        vi[c] = self.momentum * vi[c] - self.learning_rate * g[c];
                        norm2 += vi[c] * vi[c];
                    }
                    let scale = if norm2 > self.max_step * self.max_step {
                        self.max_step / norm2.sqrt()
                    } else {
                        1.0
                    };
                    for c in 0..dims {
                        vi[c] *= scale;
                        yi[c] += vi[c];
                    }
                },
            );
        }
        Ok(())
    }
}

/// `dC_i/dy` of point `i` at `y` (see [`Transform`]), given its repulsion sum `rep` and `z`.
#[allow(clippy::too_many_arguments)]
fn gradient(
    t: &Transform,
    reference: &Matrix,
    a: &Affinities,
    i: usize,
    y: &[f64],
    rep: &[f64],
    z: f64,
    g: &mut [f64],
) {
    g.fill(0.0);
    for (&j, &p) in a.neighbors[i * a.k..(i + 1) * a.k].iter().zip(&a.p[i * a.k..(i + 1) * a.k]) {
        let r = reference.row(j as usize);
        let d2: f64 = y.iter().zip(r).map(|(u, v)| (u - v) * (u - v)).sum();
        let (_, u) = t.kernel.weights(d2);
        for c in 0..g.len() {
            g[c] += t.exaggeration * p * u * (y[c] - r[c]);
        }
    }
    for c in 0..g.len() {
        g[c] = 2.0 * (g[c] - rep[c] / z);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `C_i` with exact sums (the reference in `ref_y`).
    fn cost(t: &Transform, ref_y: &Matrix, a: &Affinities, i: usize, y: &[f64]) -> f64 {
        let w = |r: &[f64]| t.kernel.weights(y.iter().zip(r).map(|(u, v)| (u - v) * (u - v)).sum()).0;
        let z: f64 = (0..ref_y.rows()).map(|l| w(ref_y.row(l))).sum();
        a.neighbors[i * a.k..(i + 1) * a.k]
            .iter()
            .zip(&a.p[i * a.k..(i + 1) * a.k])
            .filter(|(_, &p)| p > 0.0)
            .map(|(&j, &p)| p * (p.ln() - (w(ref_y.row(j as usize)) / z).ln()))
            .sum()
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = Matrix::new(40, 3, (0..120).map(|v| ((v * 37 % 101) as f64).sin()).collect()).unwrap();
        let ref_y =
            Matrix::new(40, 2, (0..80).map(|v| 3.0 * ((v * 53 % 97) as f64).cos()).collect()).unwrap();
        let new = Matrix::new(2, 3, vec![0.1, 0.2, 0.3, -0.5, 0.4, 0.0]).unwrap();
        for kernel in [StudentT::CAUCHY, StudentT::new(0.6).unwrap()] {
            let t = Transform { exaggeration: 1.0, theta: 0.0, kernel, ..Transform::default() };
            let a = t.affinities(&x, &new, 25);
            let tree = BarnesHut::new(0.0).unwrap().reference_tree(&ref_y).unwrap();
            let y = Matrix::new(2, 2, vec![0.3, -0.7, 1.1, 0.2]).unwrap();
            let (mut rep, mut z) = (vec![0.0; 4], vec![0.0; 2]);
            tree.repulsion(&y, kernel, &mut rep, &mut z).unwrap();
            for i in 0..2 {
                let mut g = [0.0; 2];
                gradient(&t, &ref_y, &a, i, y.row(i), &rep[2 * i..2 * i + 2], z[i], &mut g);
                for c in 0..2 {
                    let h = 1e-6;
                    let (mut up, mut down) = (y.row(i).to_vec(), y.row(i).to_vec());
                    up[c] += h;
                    down[c] -= h;
                    let numeric = (cost(&t, &ref_y, &a, i, &up) - cost(&t, &ref_y, &a, i, &down)) / (2.0 * h);
                    assert!((g[c] - numeric).abs() < 1e-6 * (1.0 + numeric.abs()), "{g:?} vs {numeric}");
                }
            }
        }
    }

    #[test]
    fn bad_settings_and_shapes_are_errors() {
        let x = Matrix::new(30, 2, (0..60).map(|v| (v as f64).sin()).collect()).unwrap();
        let y = Matrix::new(30, 2, (0..60).map(|v| (v as f64).cos()).collect()).unwrap();
        let new = Matrix::new(1, 2, vec![0.0, 0.0]).unwrap();
        let t = Transform::default();
        assert!(matches!(
            t.place(&x, &y, &Matrix::new(1, 3, vec![0.0; 3]).unwrap()),
            Err(Error::DimensionMismatch { .. })
        ));
        let short = Matrix::new(29, 2, vec![0.0; 58]).unwrap();
        assert!(matches!(t.place(&x, &short, &new), Err(Error::DimensionMismatch { .. })));
        assert!(matches!(
            Transform { perplexity: 40.0, ..t }.place(&x, &y, &new),
            Err(Error::PerplexityTooLarge { .. })
        ));
        assert!(Transform { momentum: 1.0, ..t }.place(&x, &y, &new).is_err());
        assert!(Transform { learning_rate: f64::NAN, ..t }.place(&x, &y, &new).is_err());
        assert!(Transform { init_neighbors: 0, ..t }.place(&x, &y, &new).is_err());
        let y3 = Matrix::new(30, 4, vec![0.0; 120]).unwrap();
        assert!(matches!(t.place(&x, &y3, &new), Err(Error::Unsupported { .. })));
    }
}
