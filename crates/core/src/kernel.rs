//! The output similarity kernel, defined once for every backend.

use crate::{Error, Result};

/// Heavy-tailed Student-t kernel `w(d^2) = (1 + d^2 / a)^(-a)` with degrees of freedom `a`
/// (the parametrisation of openTSNE's `dof`, Kobak et al. 2019). `a = 1` is the Cauchy kernel
/// `1 / (1 + d^2)` of t-SNE; `a -> infinity` tends to the Gaussian `exp(-d^2)` of SNE.
///
/// For KL(P || Q) with `q_ij = w_ij / Z` the gradient is
/// `dC/dy_i = 4 sum_j (p_ij - q_ij) u_ij (y_i - y_j)` with `u_ij = (1 + d_ij^2 / a)^(-1)`,
/// because `-d log w / d(d^2) = u`. Backends therefore need both `w` and `u`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StudentT {
    dof: f64,
}

impl StudentT {
    /// The Cauchy kernel of standard t-SNE (`dof = 1`).
    pub const CAUCHY: Self = Self { dof: 1.0 };

    /// A kernel with the given degrees of freedom, which must be finite and positive.
    pub fn new(dof: f64) -> Result<Self> {
        if dof.is_finite() && dof > 0.0 {
            Ok(Self { dof })
        } else {
            Err(Error::InvalidParameter {
                name: "dof",
                reason: format!("must be finite and positive, got {dof}"),
            })
        }
    }

    /// Degrees of freedom.
    pub fn dof(&self) -> f64 {
        self.dof
    }

    /// Whether this is the Cauchy kernel, for which `w == u`.
    #[inline]
    pub fn is_cauchy(&self) -> bool {
        self.dof == 1.0
    }

    /// The similarity `w(d^2)`.
    #[inline]
    pub fn weight(&self, d2: f64) -> f64 {
        self.weights(d2).0
    }

    /// `ln w(d^2) = -a ln(1 + d^2/a)`, one logarithm (the KL divergence needs only this).
    #[inline]
    pub fn log_weight(&self, d2: f64) -> f64 {
        -self.dof * (d2 / self.dof).ln_1p()
    }

    /// `(w, u)`: the similarity and the gradient factor `u = (1 + d^2/a)^(-1)`.
    #[inline]
    pub fn weights(&self, d2: f64) -> (f64, f64) {
        if self.is_cauchy() {
            let u = 1.0 / (1.0 + d2);
            (u, u)
        } else {
            let u = 1.0 / (1.0 + d2 / self.dof);
            (u.powf(self.dof), u)
        }
    }
}

impl Default for StudentT {
    fn default() -> Self {
        Self::CAUCHY
    }
}
