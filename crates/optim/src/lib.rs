//! Optimisation of the t-SNE objective: momentum gradient descent with per-coordinate gains
//! and an early-exaggeration schedule (van der Maaten & Hinton 2008, section 3.4; Jacobs 1988
//! for the gains).
//!
//! The main design choice: the step uses the gradient divided by four, `g = dC/dY / 4`, the
//! convention of bhtsne, FIt-SNE and openTSNE, so that their learning rates carry over:
//! `auto` is `max(n / early_exaggeration, 50)` (Belkina et al. 2019).
//!
//! ```
//! use tsne_core::{CsrMatrix, Matrix, Optimizer, StudentT};
//! use tsne_optim::{GradientDescent, Schedule};
//! use tsne_repulsion::Exact;
//!
//! let p = CsrMatrix::from_rows(vec![vec![(1, 0.5)], vec![(0, 0.5)]])?;
//! let mut y = Matrix::new(2, 2, vec![0.0, 0.0, 1e-4, 0.0])?;
//! let schedule = Schedule { iterations: 100, exaggeration_iterations: 20, ..Schedule::default() };
//! let report = GradientDescent::new(schedule)?
//!     .optimize(&p, &mut y, StudentT::CAUCHY, &mut Exact::new(), &mut |_| {})?;
//! assert_eq!(report.iterations, 100);
//! assert!(report.kl_divergence.abs() < 1e-6); // two points: Q = P is reachable
//! # Ok::<(), tsne_core::Error>(())
//! ```

use tsne_core::{
    gradient, CsrMatrix, Error, Matrix, OptimizeReport, Optimizer, Phase, Progress, Repulsion, Result,
    StudentT,
};

/// The learning rate `eta`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LearningRate {
    /// `max(n / early_exaggeration, 50)`.
    Auto,
    /// A fixed positive value.
    Fixed(f64),
}

impl LearningRate {
    /// The value for `n` points under `early_exaggeration`.
    pub fn resolve(self, n: usize, early_exaggeration: f64) -> f64 {
        match self {
            Self::Auto => (n as f64 / early_exaggeration).max(50.0),
            Self::Fixed(eta) => eta,
        }
    }
}

/// The iteration schedule. Defaults are the standard ones: 1000 iterations, the first 250 with
/// exaggeration 12 and momentum 0.5, then momentum 0.8; gains +0.2 / *0.8 with floor 0.01;
/// KL reported every 50 iterations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    /// Total iterations, both phases included.
    pub iterations: usize,
    /// Iterations of early exaggeration at the start.
    pub exaggeration_iterations: usize,
    /// Factor multiplying P during early exaggeration.
    pub early_exaggeration: f64,
    /// Factor multiplying P afterwards (1 for plain t-SNE; >1 gives more compact clusters).
    pub final_exaggeration: f64,
    /// Step size.
    pub learning_rate: LearningRate,
    /// Momentum during early exaggeration.
    pub momentum_early: f64,
    /// Momentum afterwards.
    pub momentum_final: f64,
    /// Smallest gain a coordinate may reach.
    pub min_gain: f64,
    /// Report KL(P || Q) every this many iterations (0: only at the end).
    pub kl_every: usize,
    /// Stop after exaggeration once the gradient norm falls below this (0: never).
    pub min_gradient_norm: f64,
}

impl Default for Schedule {
    fn default() -> Self {
        Self {
            iterations: 1000,
            exaggeration_iterations: 250,
            early_exaggeration: 12.0,
            final_exaggeration: 1.0,
            learning_rate: LearningRate::Auto,
            momentum_early: 0.5,
            momentum_final: 0.8,
            min_gain: 0.01,
            kl_every: 50,
            min_gradient_norm: 0.0,
        }
    }
}

impl Schedule {
    /// Checks every field's domain.
    pub fn check(&self) -> Result<()> {
        let bad = |name, reason: String| Err(Error::InvalidParameter { name, reason });
        let positive = |v: f64| v.is_finite() && v > 0.0;
        if !positive(self.early_exaggeration) {
            return bad(
                "early_exaggeration",
                format!("must be finite and positive, got {}", self.early_exaggeration),
            );
        }
        if !positive(self.final_exaggeration) {
            return bad(
                "exaggeration",
                format!("must be finite and positive, got {}", self.final_exaggeration),
            );
        }
        if let LearningRate::Fixed(eta) = self.learning_rate {
            if !positive(eta) {
                return bad("learning_rate", format!("must be finite and positive, got {eta}"));
            }
        }
        for (name, m) in [("momentum_early", self.momentum_early), ("momentum_final", self.momentum_final)] {
            if !(0.0..1.0).contains(&m) {
                return bad(name, format!("must lie in [0, 1), got {m}"));
            }
        }
        if !(self.min_gain.is_finite() && self.min_gain >= 0.0) {
            return bad("min_gain", format!("must be finite and non-negative, got {}", self.min_gain));
        }
        if !(self.min_gradient_norm.is_finite() && self.min_gradient_norm >= 0.0) {
            return bad(
                "min_gradient_norm",
                format!("must be finite and non-negative, got {}", self.min_gradient_norm),
            );
        }
        Ok(())
    }
}

/// Momentum gradient descent with adaptive gains:
///
/// `gain <- gain + 0.2` where the gradient and the previous update have opposite signs (the
/// coordinate keeps moving downhill), else `gain * 0.8`, floored at `min_gain`;
/// `update <- momentum * update - eta * gain * g`; `Y <- Y + update`; Y re-centred each step.
#[derive(Debug, Clone)]
pub struct GradientDescent {
    schedule: Schedule,
}

impl GradientDescent {
    /// An optimiser following `schedule`, which is checked here.
    pub fn new(schedule: Schedule) -> Result<Self> {
        schedule.check()?;
        Ok(Self { schedule })
    }

    /// The schedule in use.
    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }
}

/// A differentiable cost the optimiser can follow.
///
/// Required: [`GradientSource::gradient`] and [`GradientSource::cost`].
pub trait GradientSource {
    /// Writes `dC/dY / 4` at `y`, with the input affinities multiplied by `exaggeration`,
    /// into `grad`, and returns the (unexaggerated) cost at `y` when `want_cost` is set.
    fn gradient(
        &mut self,
        y: &Matrix,
        exaggeration: f64,
        grad: &mut [f64],
        want_cost: bool,
    ) -> Result<Option<f64>>;

    /// The cost at `y`.
    fn cost(&mut self, y: &Matrix) -> Result<f64>;
}

/// The t-SNE objective: attraction from sparse P, repulsion and Z from a backend.
struct TSneGradient<'a> {
    p: &'a CsrMatrix,
    kernel: StudentT,
    repulsion: &'a mut dyn Repulsion,
    attr: Vec<f64>,
    rep: Vec<f64>,
}

impl GradientSource for TSneGradient<'_> {
    fn gradient(
        &mut self,
        y: &Matrix,
        exaggeration: f64,
        grad: &mut [f64],
        want_cost: bool,
    ) -> Result<Option<f64>> {
        gradient::attractive_forces(self.p, y, self.kernel, &mut self.attr);
        let z = self.repulsion.repulsion(y, self.kernel, &mut self.rep)?;
        gradient::combine_gradient(&self.attr, &self.rep, z, exaggeration, grad);
        if !(z > 0.0 && z.is_finite()) {
            return Ok(Some(f64::NAN));
        }
        Ok(want_cost.then(|| gradient::kl_divergence(self.p, y, self.kernel, z)))
    }

    fn cost(&mut self, y: &Matrix) -> Result<f64> {
        // The KL of an embedding needs the Z of that embedding.
        let z = self.repulsion.repulsion(y, self.kernel, &mut self.rep)?;
        Ok(gradient::kl_divergence(self.p, y, self.kernel, z))
    }
}

impl GradientDescent {
    /// Runs the schedule on any [`GradientSource`]; the report's `kl_divergence` fields hold
    /// the source's cost.
    pub fn minimize(
        &mut self,
        y: &mut Matrix,
        source: &mut dyn GradientSource,
        observer: &mut dyn FnMut(&Progress),
    ) -> Result<OptimizeReport> {
        let s = self.schedule;
        let len = y.as_slice().len();
        let eta = s.learning_rate.resolve(y.rows(), s.early_exaggeration);
        // All buffers live for the whole run: the loop below does not allocate.
        let mut grad = vec![0.0; len];
        let mut update = vec![0.0; len];
        let mut gains = vec![1.0_f64; len];
        let mut kl_history = Vec::new();
        let mut done = 0;
        for it in 0..s.iterations {
            let phase = if it < s.exaggeration_iterations { Phase::EarlyExaggeration } else { Phase::Final };
            let (exaggeration, momentum) = match phase {
                Phase::EarlyExaggeration => (s.early_exaggeration, s.momentum_early),
                Phase::Final => (s.final_exaggeration, s.momentum_final),
            };
            let report_kl = s.kl_every > 0 && (it + 1) % s.kl_every == 0;
            let kl = source.gradient(y, exaggeration, &mut grad, report_kl)?;
            let norm2: f64 = grad.iter().map(|g| g * g).sum();
            if !norm2.is_finite() || kl.is_some_and(f64::is_nan) {
                return Err(Error::Diverged { iteration: it + 1 });
            }
            if let Some(kl) = kl {
                kl_history.push((it + 1, kl));
            }
            for ((yv, (u, g)), gain) in
                y.as_mut_slice().iter_mut().zip(update.iter_mut().zip(&grad)).zip(gains.iter_mut())
            {
                *gain = if (*g > 0.0) == (*u > 0.0) { (*gain * 0.8).max(s.min_gain) } else { *gain + 0.2 };
                *u = momentum * *u - eta * *gain * g;
                *yv += *u;
            }
            y.center();
            done = it + 1;
            let gradient_norm = 4.0 * norm2.sqrt();
            observer(&Progress {
                iteration: done,
                total: s.iterations,
                phase,
                kl_divergence: kl,
                gradient_norm,
            });
            if phase == Phase::Final && gradient_norm < s.min_gradient_norm {
                break;
            }
        }
        let kl_divergence = source.cost(y)?;
        Ok(OptimizeReport { iterations: done, kl_divergence, kl_history })
    }
}

impl Optimizer for GradientDescent {
    fn optimize(
        &mut self,
        p: &CsrMatrix,
        y: &mut Matrix,
        kernel: StudentT,
        repulsion: &mut dyn Repulsion,
        observer: &mut dyn FnMut(&Progress),
    ) -> Result<OptimizeReport> {
        if p.n() != y.rows() {
            return Err(Error::DimensionMismatch {
                what: "affinities vs embedding rows",
                expected: p.n(),
                found: y.rows(),
            });
        }
        let len = y.as_slice().len();
        let mut source = TSneGradient { p, kernel, repulsion, attr: vec![0.0; len], rep: vec![0.0; len] };
        self.minimize(y, &mut source, observer)
    }
}
