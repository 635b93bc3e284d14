//! Placing new points into a fixed embedding (openTSNE's `transform`, Poličar, Stražar &
//! Zupan 2019): the objective, and the settings of [`Embedding::transform`](crate::Embedding::transform).

use rayon::prelude::*;
use tsne_affinity::{calibrate_row, nearest_rows, BruteForce, Metric};
use tsne_core::{Error, Matrix, Result, StudentT};
use tsne_optim::{GradientSource, LearningRate, Schedule, State};
use tsne_repulsion::{BarnesHut, FftInterpolation, FftParams, ReferenceGrid, ReferenceTree};

/// Settings of [`Embedding::transform`](crate::Embedding::transform); the defaults are
/// openTSNE's.
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
/// (see [`StudentT`] for `w` and `u`; the t-SNE gradient with the other points frozen).
/// New points do not interact, so each is placed as if it were the only one, and the result
/// does not depend on which other points are placed with it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transform {
    /// Perplexity of each new point's affinities to the reference points (default 5).
    pub perplexity: f64,
    /// Reference neighbours whose median position is the starting point (default 25).
    pub init_neighbors: usize,
    /// Gradient steps (default 250).
    pub iterations: usize,
    /// Step size, in the optimiser's `dC/dy / 4` convention (default 0.2: openTSNE's 0.1,
    /// whose step of a new point is taken along `dC_i/dy / 2`).
    pub learning_rate: f64,
    /// Factor on the attraction, which keeps points from drifting into the space between
    /// clusters (default 1.5).
    pub exaggeration: f64,
    /// Momentum (default 0.8).
    pub momentum: f64,
    /// Longest gradient `dC/dy_i` of one point; longer ones are shortened (default 0.5, i.e.
    /// openTSNE's `max_grad_norm = 0.25` in its `dC_i/dy / 2` units for new points).
    pub max_point_gradient: f64,
    /// How the reference repels the new points (default a Barnes-Hut tree, theta 0.5).
    pub repulsion: PlacementRepulsion,
    /// Where each new point starts (default the median of its nearest reference points).
    pub start: PlacementStart,
}

/// How the fixed reference repels the new points.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PlacementRepulsion {
    /// A Barnes-Hut tree of the reference with opening angle `theta` (0 is exact).
    BarnesHut {
        /// The opening angle.
        theta: f64,
    },
    /// The reference's FFT interpolation grid ([`ReferenceGrid`]), computed once per run, with
    /// `padding` (a fraction of the half-width) of empty grid around the reference. New
    /// points are kept inside the disc (1-D: the interval) that the grid covers, by `boundary`.
    /// 1-D and 2-D only.
    Fft {
        /// Nodes and density of the grid.
        grid: FftParams,
        /// Empty grid around the reference (openTSNE's 0.25).
        padding: f64,
        /// What happens to a point that leaves the disc.
        boundary: GridBoundary,
    },
}

impl Default for PlacementRepulsion {
    fn default() -> Self {
        Self::BarnesHut { theta: 0.5 }
    }
}

/// How new points are kept on the reference's interpolation grid after each step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GridBoundary {
    /// A point that leaves the disc of the grid's half-width about its centre (1-D: the
    /// interval) is moved back onto its edge and its velocity set to zero.
    #[default]
    Stop,
    /// openTSNE 1.0.4's rule: 2-D points are moved back onto the disc of radius
    /// `max(|lo|, |lo + (b - 1) w|)` (its lowest and its last box's lower bound), 1-D points
    /// into `[lo, lo + (b - 1) w]`; then the gains of every point that stayed inside are set to
    /// zero (its `gains[~mask] = 0`), so that they grow again from the gain floor.
    OpenTsne,
}

/// Where a new point starts (openTSNE's `initialization` of `prepare_partial`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PlacementStart {
    /// The coordinate-wise median position of its `init_neighbors` nearest reference points.
    #[default]
    Median,
    /// The mean position of its reference neighbours weighted by its affinities to them.
    WeightedMean,
    /// Gaussian noise of standard deviation `1e-4` about the origin, from `seed`.
    Random {
        /// Seed of the noise.
        seed: u64,
    },
}

impl Default for Transform {
    fn default() -> Self {
        Self {
            perplexity: 5.0,
            init_neighbors: 25,
            iterations: 250,
            learning_rate: 0.2,
            exaggeration: 1.5,
            momentum: 0.8,
            max_point_gradient: 0.5,
            repulsion: PlacementRepulsion::default(),
            start: PlacementStart::Median,
        }
    }
}

impl Transform {
    /// Checks every field's domain.
    pub(crate) fn check(&self) -> Result<()> {
        let bad = |name, reason: String| Err(Error::InvalidParameter { name, reason });
        if !(self.perplexity.is_finite() && self.perplexity >= 1.0) {
            return bad("perplexity", format!("must be a finite number >= 1, got {}", self.perplexity));
        }
        if self.init_neighbors == 0 {
            return bad("init_neighbors", "must be positive".into());
        }
        self.repulsion.check()?;
        self.schedule().check()
    }

    /// The optimiser's schedule: constant exaggeration and momentum, a fixed step.
    pub fn schedule(&self) -> Schedule {
        Schedule {
            learning_rate: LearningRate::Fixed(self.learning_rate),
            max_point_gradient: Some(self.max_point_gradient),
            kl_every: 0,
            ..Schedule::constant(self.iterations, self.exaggeration, self.momentum)
        }
    }

    /// Neighbours per new point among `n` reference points.
    pub(crate) fn neighbors(&self, n: usize) -> Result<usize> {
        let k = self.init_neighbors.max((3.0 * self.perplexity) as usize).min(n);
        if self.perplexity >= k as f64 {
            return Err(Error::PerplexityTooLarge { perplexity: self.perplexity, neighbors: k, n });
        }
        Ok(k)
    }
}

impl PlacementRepulsion {
    /// Checks the opening angle or the grid settings.
    pub fn check(&self) -> Result<()> {
        match self {
            Self::BarnesHut { theta } => BarnesHut::new(*theta).map(|_| ()),
            Self::Fft { grid, padding, .. } => {
                grid.check()?;
                if padding.is_finite() && *padding >= 0.0 {
                    Ok(())
                } else {
                    Err(Error::InvalidParameter {
                        name: "padding",
                        reason: format!("must be finite and non-negative, got {padding}"),
                    })
                }
            }
        }
    }

    /// The forces of `reference` under `kernel`, built once for a run.
    pub(crate) fn build(&self, reference: &Matrix, kernel: StudentT) -> Result<ReferenceForces> {
        Ok(match *self {
            Self::BarnesHut { theta } => {
                ReferenceForces::Tree(BarnesHut::new(theta)?.reference_tree(reference)?)
            }
            Self::Fft { grid, padding, boundary } => ReferenceForces::Grid(
                Box::new(FftInterpolation::new(grid)?.reference_grid(reference, kernel, padding)?),
                boundary,
            ),
        })
    }
}

/// The repulsion of a fixed reference on new points, ready for a run.
pub(crate) enum ReferenceForces {
    Tree(ReferenceTree),
    Grid(Box<ReferenceGrid>, GridBoundary),
}

impl ReferenceForces {
    fn repulsion(&mut self, y: &Matrix, kernel: StudentT, rep: &mut [f64], z: &mut [f64]) -> Result<()> {
        match self {
            Self::Tree(tree) => tree.repulsion(y, kernel, rep, z),
            Self::Grid(grid, _) => grid.repulsion(y, rep, z),
        }
    }

    /// Keeps the points on the grid (see [`GridBoundary`]); a tree has no boundary.
    fn constrain(&self, y: &mut Matrix, state: &mut State) {
        let Self::Grid(grid, boundary) = self else { return };
        let (dims, c, half, w) = (y.cols(), grid.centre(), grid.half_width(), grid.box_width());
        let last_box = half - w;
        for i in 0..y.rows() {
            let p = &mut y.as_mut_slice()[i * dims..(i + 1) * dims];
            let outside = match (dims, boundary) {
                (1, GridBoundary::Stop) => clamp(&mut p[0], c[0] - half, c[0] + half),
                (1, GridBoundary::OpenTsne) => clamp(&mut p[0], c[0] - half, c[0] + last_box),
                _ => onto_disc(p, c, half.max(last_box.abs())),
            };
            let coords = i * dims..(i + 1) * dims;
            match boundary {
                GridBoundary::Stop if outside => state.update[coords].fill(0.0),
                GridBoundary::OpenTsne if !outside => state.gains[coords].fill(0.0),
                _ => {}
            }
        }
    }
}

/// Clamps `v` into `[lo, hi]`; whether it was outside.
fn clamp(v: &mut f64, lo: f64, hi: f64) -> bool {
    let outside = *v < lo || *v > hi;
    *v = v.clamp(lo, hi);
    outside
}

/// Moves `p` onto the disc of `radius` about `centre` when it lies beyond it; whether it did.
fn onto_disc(p: &mut [f64], centre: &[f64], radius: f64) -> bool {
    let r = p.iter().zip(centre).map(|(v, c)| (v - c) * (v - c)).sum::<f64>().sqrt();
    if r <= radius {
        return false;
    }
    for (v, c) in p.iter_mut().zip(centre) {
        *v = c + (*v - c) * (radius / r);
    }
    true
}

/// New points' conditional affinities `p_{j|i}` to reference points, one CSR row per new
/// point (rows sum to one): computed from their nearest reference points, or given.
#[derive(Debug, Clone, PartialEq)]
pub struct PointAffinities {
    offsets: Vec<usize>,
    neighbors: Vec<u32>,
    p: Vec<f64>,
}

impl PointAffinities {
    /// Given affinities of `offsets.len() - 1` new points to `n_reference` reference points:
    /// row `i` is `neighbors[offsets[i]..offsets[i + 1]]` with weights `p[..]` (finite,
    /// non-negative, not all zero; each row is scaled to sum to one).
    pub fn from_rows(
        offsets: Vec<usize>,
        neighbors: Vec<u32>,
        mut p: Vec<f64>,
        n_reference: usize,
    ) -> Result<Self> {
        let bad = |reason: String| Err(Error::InvalidParameter { name: "affinities", reason });
        if offsets.first() != Some(&0)
            || offsets.last() != Some(&neighbors.len())
            || neighbors.len() != p.len()
        {
            return bad("row offsets must run from 0 to the number of entries, one weight per entry".into());
        }
        for i in 0..offsets.len() - 1 {
            let (a, b) = (offsets[i], offsets[i + 1]);
            if b < a {
                return bad(format!("row offsets decrease at row {i}"));
            }
            if let Some(&j) = neighbors[a..b].iter().find(|&&j| j as usize >= n_reference) {
                return bad(format!("row {i} names reference point {j} of {n_reference}"));
            }
            if p[a..b].iter().any(|v| !(v.is_finite() && *v >= 0.0)) {
                return bad(format!("row {i} has a negative or non-finite weight"));
            }
            let sum: f64 = p[a..b].iter().sum();
            if sum <= 0.0 {
                return bad(format!("row {i} has no positive weight"));
            }
            p[a..b].iter_mut().for_each(|v| *v /= sum);
        }
        Ok(Self { offsets, neighbors, p })
    }

    /// Rows of `k` entries each.
    fn fixed(k: usize, neighbors: Vec<u32>, p: Vec<f64>) -> Self {
        let m = neighbors.len() / k.max(1);
        Self { offsets: (0..=m).map(|i| i * k).collect(), neighbors, p }
    }

    /// Row offsets (length: new points + 1).
    pub fn offsets(&self) -> &[usize] {
        &self.offsets
    }

    /// Reference point of every entry (computed rows: nearest first).
    pub fn neighbors(&self) -> &[u32] {
        &self.neighbors
    }

    /// Weight of every entry.
    pub fn weights(&self) -> &[f64] {
        &self.p
    }

    /// Exact `k` nearest reference points of every new point under `metric` (the exact
    /// search of the fit, [`BruteForce::search_queries`]) and perplexity-calibrated
    /// conditional affinities over them (each row sums to one).
    pub(crate) fn new(
        reference: &Matrix,
        new_points: &Matrix,
        k: usize,
        perplexity: f64,
        metric: Metric,
    ) -> Result<Self> {
        let found = BruteForce::new(metric).search_queries(reference, new_points, k)?;
        let (neighbors, distances) = found.into_parts();
        Ok(Self::calibrated(k, neighbors, &distances, perplexity))
    }

    /// Affinities of new points given by their distances to `n` reference points (`m x n`,
    /// finite and non-negative), over each row's `k` nearest.
    pub(crate) fn from_distances(distances: &Matrix, n: usize, settings: &Transform) -> Result<Self> {
        if distances.cols() != n {
            return Err(Error::DimensionMismatch {
                what: "distance columns (one per reference point)",
                expected: n,
                found: distances.cols(),
            });
        }
        if let Some(t) = distances.as_slice().iter().position(|d| !(d.is_finite() && *d >= 0.0)) {
            return Err(Error::InvalidParameter {
                name: "distances",
                reason: format!(
                    "distance {} at row {}, column {} is negative or not finite",
                    distances.as_slice()[t],
                    t / n,
                    t % n
                ),
            });
        }
        let (m, k) = (distances.rows(), settings.neighbors(n)?);
        let (neighbors, nearest_distances) = nearest_rows(m, k, |i, all| {
            all.extend(distances.row(i).iter().enumerate().map(|(j, &d)| (d, j as u32)));
        });
        Ok(Self::calibrated(k, neighbors, &nearest_distances, settings.perplexity))
    }

    /// Rows of `k` neighbours at `distances`, each a Gaussian of the given perplexity.
    fn calibrated(k: usize, neighbors: Vec<u32>, distances: &[f64], perplexity: f64) -> Self {
        let mut p = vec![0.0; distances.len()];
        let target = perplexity.ln();
        p.par_chunks_mut(k).zip(distances.par_chunks(k)).for_each(|(row, dist)| {
            calibrate_row(dist, target, 1e-10, row);
        });
        Self::fixed(k, neighbors, p)
    }

    /// The number of new points.
    pub fn rows(&self) -> usize {
        self.offsets.len() - 1
    }

    fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.offsets[i]..self.offsets[i + 1];
        (&self.neighbors[r.clone()], &self.p[r])
    }

    /// Mean position of each point's reference neighbours, weighted by its affinities.
    pub(crate) fn weighted_means(&self, reference: &Matrix) -> Result<Matrix> {
        let (m, dims) = (self.rows(), reference.cols());
        let mut y = vec![0.0; m * dims];
        y.par_chunks_mut(dims.max(1)).enumerate().for_each(|(i, out)| {
            let (idx, p) = self.row(i);
            for (&j, &w) in idx.iter().zip(p) {
                out.iter_mut().zip(reference.row(j as usize)).for_each(|(o, r)| *o += w * r);
            }
        });
        Matrix::new(m, dims, y)
    }

    /// Coordinate-wise median of the positions of each point's `take` nearest reference points
    /// (its first `take` entries).
    pub(crate) fn medians(&self, reference: &Matrix, take: usize) -> Result<Matrix> {
        let (m, dims) = (self.rows(), reference.cols());
        let mut y = vec![0.0; m * dims];
        y.par_chunks_mut(dims.max(1)).enumerate().for_each_init(
            || Vec::with_capacity(take),
            |coord: &mut Vec<f64>, (i, out)| {
                for (c, o) in out.iter_mut().enumerate() {
                    coord.clear();
                    let near = self.row(i).0;
                    coord.extend(near[..take.min(near.len())].iter().map(|&j| reference.row(j as usize)[c]));
                    coord.sort_unstable_by(f64::total_cmp);
                    let h = coord.len() / 2;
                    *o = if coord.len() % 2 == 1 { coord[h] } else { 0.5 * (coord[h - 1] + coord[h]) };
                }
            },
        );
        Matrix::new(m, dims, y)
    }
}

/// The summed cost `sum_i C_i` of new points against a fixed reference embedding (see
/// [`Transform`]), for [`GradientDescent::minimize`](tsne_optim::GradientDescent::minimize).
pub(crate) struct Placement<'a> {
    pub forces: ReferenceForces,
    pub reference: &'a Matrix,
    pub affinities: &'a PointAffinities,
    pub kernel: StudentT,
    pub rep: Vec<f64>,
    pub z: Vec<f64>,
}

impl Placement<'_> {
    /// `dC_i/dy / 4` of point `i` at `y`, given its repulsion sum `rep` and `z`.
    fn point_gradient(&self, i: usize, y: &[f64], rep: &[f64], z: f64, exaggeration: f64, g: &mut [f64]) {
        g.fill(0.0);
        let (idx, p) = self.affinities.row(i);
        for (&j, &p) in idx.iter().zip(p) {
            let r = self.reference.row(j as usize);
            let d2: f64 = y.iter().zip(r).map(|(u, v)| (u - v) * (u - v)).sum();
            let (_, u) = self.kernel.weights(d2);
            for c in 0..g.len() {
                g[c] += exaggeration * p * u * (y[c] - r[c]);
            }
        }
        for c in 0..g.len() {
            g[c] = 0.5 * (g[c] - rep[c] / z);
        }
    }

    /// `C_i` at `y` given `z_i`.
    fn point_cost(&self, i: usize, y: &[f64], z: f64) -> f64 {
        let (idx, p) = self.affinities.row(i);
        idx.iter()
            .zip(p)
            .filter(|(_, &p)| p > 0.0)
            .map(|(&j, &p)| {
                let r = self.reference.row(j as usize);
                let (w, _) = self.kernel.weights(y.iter().zip(r).map(|(u, v)| (u - v) * (u - v)).sum());
                p * (p.ln() - (w / z).ln())
            })
            .sum()
    }
}

impl GradientSource for Placement<'_> {
    fn gradient(
        &mut self,
        y: &Matrix,
        exaggeration: f64,
        grad: &mut [f64],
        want_cost: bool,
    ) -> Result<Option<f64>> {
        let dims = y.cols();
        self.forces.repulsion(y, self.kernel, &mut self.rep, &mut self.z)?;
        let this = &*self;
        grad.par_chunks_mut(dims).enumerate().for_each(|(i, g)| {
            this.point_gradient(i, y.row(i), &this.rep[i * dims..(i + 1) * dims], this.z[i], exaggeration, g);
        });
        Ok(want_cost.then(|| (0..y.rows()).map(|i| this.point_cost(i, y.row(i), this.z[i])).sum()))
    }

    fn cost(&mut self, y: &Matrix) -> Result<f64> {
        self.forces.repulsion(y, self.kernel, &mut self.rep, &mut self.z)?;
        Ok((0..y.rows()).map(|i| self.point_cost(i, y.row(i), self.z[i])).sum())
    }

    fn translation_invariant(&self) -> bool {
        false
    }

    fn constrain(&mut self, y: &mut Matrix, state: &mut State) {
        self.forces.constrain(y, state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `C_i` with exact sums.
    fn exact_cost(t: &Placement<'_>, i: usize, y: &[f64]) -> f64 {
        let w = |r: &[f64]| t.kernel.weights(y.iter().zip(r).map(|(u, v)| (u - v) * (u - v)).sum()).0;
        let z: f64 = (0..t.reference.rows()).map(|l| w(t.reference.row(l))).sum();
        t.point_cost(i, y, z)
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let x = Matrix::new(40, 3, (0..120).map(|v| ((v * 37 % 101) as f64).sin()).collect()).unwrap();
        let ref_y =
            Matrix::new(40, 2, (0..80).map(|v| 3.0 * ((v * 53 % 97) as f64).cos()).collect()).unwrap();
        let new = Matrix::new(2, 3, vec![0.1, 0.2, 0.3, -0.5, 0.4, 0.0]).unwrap();
        for kernel in [StudentT::CAUCHY, StudentT::new(0.6).unwrap()] {
            let a = PointAffinities::new(&x, &new, 25, 5.0, Metric::Euclidean).unwrap();
            let tree = BarnesHut::new(0.0).unwrap().reference_tree(&ref_y).unwrap();
            let mut source = Placement {
                forces: ReferenceForces::Tree(tree),
                reference: &ref_y,
                affinities: &a,
                kernel,
                rep: vec![0.0; 4],
                z: vec![0.0; 2],
            };
            let y = Matrix::new(2, 2, vec![0.3, -0.7, 1.1, 0.2]).unwrap();
            let mut g = vec![0.0; 4];
            source.gradient(&y, 1.0, &mut g, false).unwrap();
            for i in 0..2 {
                for c in 0..2 {
                    let h = 1e-6;
                    let (mut up, mut down) = (y.row(i).to_vec(), y.row(i).to_vec());
                    up[c] += h;
                    down[c] -= h;
                    let numeric = (exact_cost(&source, i, &up) - exact_cost(&source, i, &down)) / (2.0 * h);
                    // The source writes dC/dy / 4.
                    let analytic = 4.0 * g[2 * i + c];
                    assert!(
                        (analytic - numeric).abs() < 1e-6 * (1.0 + numeric.abs()),
                        "{analytic} vs {numeric}"
                    );
                }
            }
        }
    }

    #[test]
    fn bad_settings_are_errors() {
        let t = Transform::default();
        assert!(t.check().is_ok());
        assert!(Transform { momentum: 1.0, ..t }.check().is_err());
        assert!(Transform { learning_rate: f64::NAN, ..t }.check().is_err());
        assert!(Transform { init_neighbors: 0, ..t }.check().is_err());
        assert!(Transform { perplexity: 0.5, ..t }.check().is_err());
        assert!(matches!(
            Transform { perplexity: 40.0, ..t }.neighbors(30),
            Err(Error::PerplexityTooLarge { .. })
        ));
    }
}
