//! The master equation: one gradient for every member of the family.

use rayon::prelude::*;
use tsne_core::{Error, Matrix, Result};

use crate::parts::{Divergence, Kernel, Normalization, Stress};

/// A member of the family, assembled from parts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Method {
    /// A divergence between input probabilities P and output probabilities Q.
    Probability {
        /// Output kernel.
        kernel: Kernel,
        /// Point-wise or pair-wise normalisation of both P and Q.
        normalization: Normalization,
        /// The cost.
        divergence: Divergence,
    },
    /// A stress between input and output distances.
    Distance(Stress),
}

impl Method {
    /// Asymmetric SNE: Gaussian kernel, point-wise, KL.
    pub fn asne() -> Self {
        Self::Probability {
            kernel: Kernel::Gaussian { beta: 1.0 },
            normalization: Normalization::PointWise,
            divergence: Divergence::Kl,
        }
    }
    /// Symmetric SNE: Gaussian kernel, pair-wise, KL.
    pub fn ssne() -> Self {
        Self::Probability {
            kernel: Kernel::Gaussian { beta: 1.0 },
            normalization: Normalization::PairWise,
            divergence: Divergence::Kl,
        }
    }
    /// t-SNE: Student-t kernel, pair-wise, KL.
    pub fn tsne() -> Self {
        Self::Probability {
            kernel: Kernel::StudentT,
            normalization: Normalization::PairWise,
            divergence: Divergence::Kl,
        }
    }
    /// Heavy-tailed symmetric SNE with heavy-tailedness `alpha`.
    pub fn hssne(alpha: f64) -> Self {
        Self::Probability {
            kernel: Kernel::HeavyTailed { alpha },
            normalization: Normalization::PairWise,
            divergence: Divergence::Kl,
        }
    }
    /// Symmetric NeRV: Gaussian kernel, pair-wise, `lambda KL(P||Q) + (1 - lambda) KL(Q||P)`.
    pub fn nerv(lambda: f64) -> Self {
        Self::Probability {
            kernel: Kernel::Gaussian { beta: 1.0 },
            normalization: Normalization::PairWise,
            divergence: Divergence::Nerv { lambda },
        }
    }
    /// Symmetric JSE: Gaussian kernel, pair-wise, the JSE divergence with mixture `kappa`.
    pub fn jse(kappa: f64) -> Self {
        Self::Probability {
            kernel: Kernel::Gaussian { beta: 1.0 },
            normalization: Normalization::PairWise,
            divergence: Divergence::Jse { kappa },
        }
    }
    /// Metric MDS.
    pub fn mds() -> Self {
        Self::Distance(Stress::Mds)
    }
    /// SSTRESS.
    pub fn sstress() -> Self {
        Self::Distance(Stress::Sstress)
    }
    /// Sammon mapping.
    pub fn sammon() -> Self {
        Self::Distance(Stress::Sammon)
    }

    /// The member's usual name (`t-SNE`, `SSNE`, `MDS`, ...), or `SNE-family member` for a
    /// combination of parts without one.
    pub fn name(&self) -> &'static str {
        let named = [
            (Self::tsne(), "t-SNE"),
            (Self::asne(), "ASNE"),
            (Self::ssne(), "SSNE"),
            (Self::mds(), "MDS"),
            (Self::sstress(), "SSTRESS"),
            (Self::sammon(), "Sammon mapping"),
        ];
        if let Some((_, name)) = named.iter().find(|(m, _)| m == self) {
            return name;
        }
        match self {
            Self::Probability { kernel: Kernel::HeavyTailed { .. }, .. } => "HSSNE",
            Self::Probability { divergence: Divergence::Nerv { .. }, .. } => "NeRV",
            Self::Probability { divergence: Divergence::Jse { .. }, .. } => "JSE",
            _ => "SNE-family member",
        }
    }

    /// Checks the parameters of the parts.
    pub fn check(&self) -> Result<()> {
        match self {
            Method::Probability { kernel, divergence, .. } => {
                kernel.check()?;
                divergence.check()
            }
            Method::Distance(_) => Ok(()),
        }
    }

    /// The input this method needs.
    pub fn input_kind(&self) -> InputKind {
        match self {
            Method::Probability { normalization: Normalization::PointWise, .. } => InputKind::ConditionalP,
            Method::Probability { normalization: Normalization::PairWise, .. } => InputKind::JointP,
            Method::Distance(_) => InputKind::Distances,
        }
    }

    /// Whether the method minimises KL(P||Q), so that early exaggeration of P applies.
    pub fn uses_kl(&self) -> bool {
        matches!(self, Method::Probability { divergence: Divergence::Kl, .. })
    }
}

/// What a method takes from the input data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Row-stochastic `p_{j|i}` (point-wise methods).
    ConditionalP,
    /// Symmetric `p_ij` with unit sum (pair-wise methods).
    JointP,
    /// Input distances `r_ij`.
    Distances,
}

/// A method bound to its dense `n x n` input (P or distances), with scratch space, ready to
/// evaluate cost and gradient on the exact O(n^2) path.
pub struct Objective {
    method: Method,
    n: usize,
    input: Vec<f64>,
    w: Vec<f64>,
    dw: Vec<f64>,
    g: Vec<f64>,
    // Per row: (S_i, cost_i, sum_j dC/dq_ij q_ij).
    row: Vec<(f64, f64, f64)>,
}

impl Objective {
    /// Binds `method` to a dense row-major `n x n` input of the kind `method.input_kind()`.
    pub fn new(method: Method, n: usize, input: Vec<f64>) -> Result<Self> {
        method.check()?;
        if input.len() != n * n {
            return Err(Error::DimensionMismatch {
                what: "dense input entries",
                expected: n * n,
                found: input.len(),
            });
        }
        if let Some(v) = input.iter().find(|v| !v.is_finite() || **v < 0.0) {
            return Err(Error::InvalidGraph {
                what: "dense input",
                reason: format!("entry {v} is not a finite non-negative number"),
            });
        }
        let scratch = if matches!(method, Method::Distance(_)) { 0 } else { n * n };
        Ok(Self {
            method,
            n,
            input,
            w: vec![0.0; scratch],
            dw: vec![0.0; scratch],
            g: vec![0.0; scratch],
            row: vec![(0.0, 0.0, 0.0); n],
        })
    }

    /// The method.
    pub fn method(&self) -> Method {
        self.method
    }

    /// The cost `C(Y)` and its gradient `dC/dY` (row-major into `grad`), with P multiplied by
    /// `exaggeration` (use 1 for the plain cost).
    ///
    /// Probability methods follow the master equation (Lee et al. 2013):
    /// `dC/dy_i = 2 sum_j (k_ij + k_ji)(y_i - y_j)` with
    /// `k_ij = (1/S) [dC/dq_ij - sum_kl dC/dq_kl q_kl] dw_ij/df_ij`, where `S` and the inner
    /// sum run over the row (point-wise) or the whole matrix (pair-wise). Distance methods use
    /// `k_ij = (dC/dd_ij) / d_ij` and `dC/dy_i = 2 sum_j k_ij (y_i - y_j)`.
    pub fn cost_and_gradient(&mut self, y: &Matrix, exaggeration: f64, grad: &mut [f64]) -> Result<f64> {
        if y.rows() != self.n {
            return Err(Error::DimensionMismatch {
                what: "embedding rows",
                expected: self.n,
                found: y.rows(),
            });
        }
        Ok(match self.method {
            Method::Distance(stress) => self.distance(stress, y, grad),
            Method::Probability { kernel, normalization, divergence } => {
                self.probability(kernel, normalization, divergence, y, exaggeration, grad)
            }
        })
    }

    fn distance(&mut self, stress: Stress, y: &Matrix, grad: &mut [f64]) -> f64 {
        let (n, dims, r) = (self.n, y.cols(), &self.input);
        grad.par_chunks_mut(dims).zip(self.row.par_iter_mut()).enumerate().for_each(|(i, (gi, out))| {
            gi.fill(0.0);
            let mut cost = 0.0;
            for j in (0..n).filter(|&j| j != i) {
                let d = tsne_core::gradient::squared_distance(y.row(i), y.row(j)).sqrt().max(1e-300);
                let (c, dc) = stress.eval(r[i * n + j], d);
                cost += c;
                let k = 2.0 * dc / d;
                for t in 0..dims {
                    gi[t] += k * (y.row(i)[t] - y.row(j)[t]);
                }
            }
            *out = (cost, 0.0, 0.0);
        });
        self.row.iter().map(|r| r.0).sum()
    }

    /// The probability-based costs: weights, then costs and dC/dq, then the gradient, each
    /// a pass over all pairs.
    fn probability(
        &mut self,
        kernel: Kernel,
        normalization: Normalization,
        divergence: Divergence,
        y: &Matrix,
        exaggeration: f64,
        grad: &mut [f64],
    ) -> f64 {
        let total = self.weights(kernel, normalization, y);
        let (cost, t_total) = self.costs(normalization, divergence, total, exaggeration);
        self.stiffness_gradient(normalization, total, t_total, y, grad);
        cost
    }

    /// Pass 1: the weights, their derivatives and the row sums S_i; returns their total.
    fn weights(&mut self, kernel: Kernel, normalization: Normalization, y: &Matrix) -> f64 {
        let n = self.n;
        self.w
            .par_chunks_mut(n)
            .zip(self.dw.par_chunks_mut(n))
            .zip(self.row.par_iter_mut())
            .enumerate()
            .for_each(|(i, ((w, dw), out))| {
                // Point-wise normalisation is invariant to scaling a row of weights, and so is
                // k_ij; for the Gaussian kernel we scale each row by exp(beta f_min) so that a
                // point far from all others does not underflow its whole row to zero.
                let shift = match (kernel, normalization) {
                    (Kernel::Gaussian { .. }, Normalization::PointWise) => (0..n)
                        .filter(|&j| j != i)
                        .map(|j| tsne_core::gradient::squared_distance(y.row(i), y.row(j)))
                        .fold(f64::INFINITY, f64::min),
                    _ => 0.0,
                };
                let mut s = 0.0;
                for j in 0..n {
                    if j == i {
                        w[j] = 0.0;
                        dw[j] = 0.0;
                        continue;
                    }
                    let f = tsne_core::gradient::squared_distance(y.row(i), y.row(j)) - shift;
                    let (wij, dwij) = kernel.eval(f);
                    w[j] = wij;
                    dw[j] = dwij;
                    s += wij;
                }
                *out = (s, 0.0, 0.0);
            });
        self.row.iter().map(|r| r.0).sum()
    }

    /// Pass 2: the costs and dC/dq, with the row sums of dC/dq * q; returns the cost and the
    /// total of those sums.
    fn costs(
        &mut self,
        normalization: Normalization,
        divergence: Divergence,
        total: f64,
        exaggeration: f64,
    ) -> (f64, f64) {
        let n = self.n;
        let (w, p) = (&self.w, &self.input);
        self.g.par_chunks_mut(n).zip(self.row.par_iter_mut()).enumerate().for_each(|(i, (g, out))| {
            let s = match normalization {
                Normalization::PointWise => out.0,
                Normalization::PairWise => total,
            };
            let (mut cost, mut t) = (0.0, 0.0);
            for j in (0..n).filter(|&j| j != i) {
                let q = w[i * n + j] / s;
                let (c, dc) = divergence.eval(exaggeration * p[i * n + j], q);
                g[j] = dc;
                cost += c;
                t += dc * q;
            }
            *out = (out.0, cost, t);
        });
        let t_total: f64 = self.row.iter().map(|r| r.2).sum();
        let cost: f64 = self.row.iter().map(|r| r.1).sum();
        (cost, t_total)
    }

    /// Pass 3: the stiffness k_ij and the gradient `sum_j 2 (k_ij + k_ji) (y_i - y_j)`.
    fn stiffness_gradient(
        &self,
        normalization: Normalization,
        total: f64,
        t_total: f64,
        y: &Matrix,
        grad: &mut [f64],
    ) {
        let (n, dims) = (self.n, y.cols());
        let (g, dw, row) = (&self.g, &self.dw, &self.row);
        let stiffness = |i: usize, j: usize| {
            let (s, t) = match normalization {
                Normalization::PointWise => (row[i].0, row[i].2),
                Normalization::PairWise => (total, t_total),
            };
            (g[i * n + j] - t) * dw[i * n + j] / s
        };
        grad.par_chunks_mut(dims).enumerate().for_each(|(i, gi)| {
            gi.fill(0.0);
            for j in (0..n).filter(|&j| j != i) {
                let k = 2.0 * (stiffness(i, j) + stiffness(j, i));
                for t in 0..dims {
                    gi[t] += k * (y.row(i)[t] - y.row(j)[t]);
                }
            }
        });
    }
}
