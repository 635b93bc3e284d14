//! The composable parts: output kernels, normalisations, divergences and stresses. Each part
//! states its function and its own derivative; `crate::objective` assembles the gradient.

use tsne_core::{Error, Result};

/// Output similarity `w(f)` of the transformed distance `f = d^2`, with `dw/df`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Kernel {
    /// `w = exp(-beta f)`, `dw/df = -beta w` (SNE, SSNE, NeRV, JSE).
    Gaussian {
        /// Precision.
        beta: f64,
    },
    /// `w = 1 / (1 + f)`, `dw/df = -w^2` (t-SNE).
    StudentT,
    /// `w = (alpha f + 1)^(-1/alpha)`, `dw/df = -w^(alpha + 1)` (HSSNE; `alpha = 1` is
    /// t-SNE's kernel, `alpha -> 0` the Gaussian).
    HeavyTailed {
        /// Heavy-tailedness.
        alpha: f64,
    },
}

impl Kernel {
    /// `(w, dw/df)` at `f`.
    #[inline]
    pub fn eval(&self, f: f64) -> (f64, f64) {
        match *self {
            Kernel::Gaussian { beta } => {
                let w = (-beta * f).exp();
                (w, -beta * w)
            }
            Kernel::StudentT => {
                let w = 1.0 / (1.0 + f);
                (w, -w * w)
            }
            Kernel::HeavyTailed { alpha } => {
                let w = (alpha * f + 1.0).powf(-1.0 / alpha);
                (w, -w.powf(alpha + 1.0))
            }
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        let (name, v) = match *self {
            Kernel::Gaussian { beta } => ("beta", beta),
            Kernel::HeavyTailed { alpha } => ("alpha", alpha),
            Kernel::StudentT => return Ok(()),
        };
        if v.is_finite() && v > 0.0 {
            Ok(())
        } else {
            Err(Error::InvalidParameter { name, reason: format!("must be finite and positive, got {v}") })
        }
    }
}

/// How weights become probabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// `q_{j|i} = w_ij / sum_k w_ik`: one distribution per point (ASNE, NeRV's original form).
    PointWise,
    /// `q_ij = w_ij / sum_kl w_kl`: one distribution over all pairs (SSNE, t-SNE).
    PairWise,
}

/// Floor applied to probabilities in the logarithms and quotients of the divergences, so that an
/// entry of P or Q that underflowed to zero gives a large finite value instead of infinity.
pub const PROBABILITY_FLOOR: f64 = 1e-16;

/// A divergence between P and Q, summed over entries: `C = sum_ij c(p_ij, q_ij)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Divergence {
    /// `p ln(p / q)`; `dc/dq = -p / q`.
    Kl,
    /// `q ln(q / p)`; `dc/dq = ln(q / p) + 1` (the seed document prints `ln(p / q) + 1`, a
    /// sign slip that the finite-difference tests would catch).
    ReverseKl,
    /// NeRV (Venna et al. 2010): `lambda KL(P||Q) + (1 - lambda) KL(Q||P)`.
    Nerv {
        /// Weight of the forward KL (1 gives KL(P||Q)).
        lambda: f64,
    },
    /// JSE (Lee et al. 2013): `KL(P||Z) / (1 - kappa) + KL(Q||Z) / kappa` with
    /// `Z = kappa P + (1 - kappa) Q`; `dc/dq = ln(q / z) / kappa` (the seed document prints
    /// the opposite sign; differentiating, the `p/z` terms cancel and leave this one, which
    /// the finite-difference tests confirm). `kappa -> 0` tends to KL(P||Q), `kappa -> 1` to
    /// KL(Q||P).
    Jse {
        /// Mixture weight, strictly between 0 and 1.
        kappa: f64,
    },
}

impl Divergence {
    /// `(c, dc/dq)` for one entry.
    #[inline]
    pub fn eval(&self, p: f64, q: f64) -> (f64, f64) {
        let xlogy = |x: f64, y: f64| if x > 0.0 { x * (x / y.max(PROBABILITY_FLOOR)).ln() } else { 0.0 };
        match *self {
            Divergence::Kl => (xlogy(p, q), if p > 0.0 { -p / q.max(PROBABILITY_FLOOR) } else { 0.0 }),
            Divergence::ReverseKl => {
                let pf = p.max(PROBABILITY_FLOOR);
                (xlogy(q, pf), (q.max(PROBABILITY_FLOOR) / pf).ln() + 1.0)
            }
            Divergence::Nerv { lambda } => {
                let (c1, g1) = Divergence::Kl.eval(p, q);
                let (c2, g2) = Divergence::ReverseKl.eval(p, q);
                (lambda * c1 + (1.0 - lambda) * c2, lambda * g1 + (1.0 - lambda) * g2)
            }
            Divergence::Jse { kappa } => {
                let z = kappa * p + (1.0 - kappa) * q;
                let c = xlogy(p, z) / (1.0 - kappa) + xlogy(q, z) / kappa;
                (c, (q.max(PROBABILITY_FLOOR) / z.max(PROBABILITY_FLOOR)).ln() / kappa)
            }
        }
    }

    pub(crate) fn check(&self) -> Result<()> {
        match *self {
            Divergence::Nerv { lambda } if !(0.0..=1.0).contains(&lambda) => Err(Error::InvalidParameter {
                name: "lambda",
                reason: format!("must lie in [0, 1], got {lambda}"),
            }),
            Divergence::Jse { kappa } if !(kappa > 0.0 && kappa < 1.0) => Err(Error::InvalidParameter {
                name: "kappa",
                reason: format!("must lie in (0, 1), got {kappa}"),
            }),
            _ => Ok(()),
        }
    }
}

/// A stress between input distances `r` and output distances `d`, summed over ordered pairs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stress {
    /// Metric MDS: `(r - d)^2`; `dc/dd = -2 (r - d)`.
    Mds,
    /// SSTRESS: `(r^2 - d^2)^2`; `dc/dd = -4 d (r^2 - d^2)`.
    Sstress,
    /// Sammon mapping: `(r - d)^2 / r`; `dc/dd = -2 (r - d) / r`.
    Sammon,
}

impl Stress {
    /// `(c, dc/dd)` for one pair.
    #[inline]
    pub fn eval(&self, r: f64, d: f64) -> (f64, f64) {
        match self {
            Stress::Mds => ((r - d).powi(2), -2.0 * (r - d)),
            Stress::Sstress => ((r * r - d * d).powi(2), -4.0 * d * (r * r - d * d)),
            Stress::Sammon => {
                let r = r.max(PROBABILITY_FLOOR);
                ((r - d).powi(2) / r, -2.0 * (r - d) / r)
            }
        }
    }
}
