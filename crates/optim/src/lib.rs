//! Optimisation of the t-SNE objective: momentum gradient descent with per-coordinate gains
//! and an exaggeration schedule (van der Maaten & Hinton 2008, section 3.4; Jacobs 1988 for
//! the gains).
//!
//! The main design choice: the optimiser's whole state ([`State`]: velocity and gains) lives
//! outside it, so a run can stop (a callback, a tolerance) and continue later to the same bits
//! as one uninterrupted run. The step uses the gradient divided by four, `g = dC/dY / 4`, the
//! convention of bhtsne, FIt-SNE and openTSNE, so that their learning rates carry over:
//! `auto` is `max(n / early_exaggeration, 50)` (Belkina et al. 2019).
//!
//! ```
//! use std::ops::ControlFlow;
//! use tsne_core::{CsrMatrix, Matrix, StudentT};
//! use tsne_optim::{GradientDescent, KlGradient, Schedule, State};
//! use tsne_repulsion::Exact;
//!
//! let p = CsrMatrix::from_rows(vec![vec![(1, 0.5)], vec![(0, 0.5)]])?;
//! let mut y = Matrix::new(2, 2, vec![0.0, 0.0, 1e-4, 0.0])?;
//! let schedule = Schedule { iterations: 100, exaggeration_iterations: 20, ..Schedule::default() };
//! let mut exact = Exact::new();
//! let mut kl = KlGradient::new(&p, StudentT::CAUCHY, &mut exact, 2)?;
//! let mut state = State::new(y.as_slice().len());
//! let report = GradientDescent::new(schedule)?
//!     .minimize(&mut y, &mut kl, &mut state, None, &mut |_| ControlFlow::Continue(()))?;
//! assert_eq!(report.iterations, 100);
//! assert!(report.kl_divergence.abs() < 1e-6); // two points: Q = P is reachable
//! # Ok::<(), tsne_core::Error>(())
//! ```

#![forbid(unsafe_code)]

use std::fmt;
use std::ops::ControlFlow;
use std::sync::Arc;

use tsne_core::{
    gradient, CsrMatrix, Error, Matrix, OptimizeReport, Progress, Repulsion, Result, Stage, Stop, StudentT,
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

/// Exaggeration and momentum as functions of the iteration (0-based within a run).
#[derive(Clone)]
pub struct PerIteration(pub Arc<dyn Fn(usize) -> (f64, f64) + Send + Sync>);

impl fmt::Debug for PerIteration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PerIteration(..)")
    }
}

impl PartialEq for PerIteration {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

/// The iteration schedule. Defaults are the standard ones: 1000 iterations, the first 250 with
/// exaggeration 12 and momentum 0.5 (early exaggeration), then exaggeration 1 and momentum 0.8;
/// gains +0.2 / *0.8 with floor 0.01; KL reported every 50 iterations.
///
/// Early exaggeration is `exaggeration_iterations` with `early_exaggeration`; late
/// exaggeration (openTSNE's `exaggeration`) is `final_exaggeration`; [`Schedule::constant`]
/// holds both constant; [`Schedule::per_iteration`] takes any function.
#[derive(Debug, Clone, PartialEq)]
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
    /// Stop after exaggeration once the KL divergence changes by less than this fraction
    /// over one reporting interval: `|C(t - kl_every) - C(t)| / C(t) < min_kl_change`, both
    /// reports after exaggeration (0: never; needs `kl_every > 0`). The KL of each report
    /// comes from the gradient's own pass.
    pub min_kl_change: f64,
    /// Longest gradient `dC/dy_i` of one point; longer ones are scaled to this length
    /// (openTSNE's `max_grad_norm`; `None`: no limit).
    pub max_point_gradient: Option<f64>,
    /// Longest step of one point in one iteration; longer ones are scaled to this length
    /// (openTSNE's `max_step_norm`; `None`: no limit).
    pub max_point_step: Option<f64>,
    /// When set, overrides the two phases: `(exaggeration, momentum)` of each iteration.
    pub per_iteration: Option<PerIteration>,
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
            min_kl_change: 0.0,
            max_point_gradient: None,
            max_point_step: None,
            per_iteration: None,
        }
    }
}

impl Schedule {
    /// Why the run ends after iteration `it` (0-based) by its tolerances, if it does: a
    /// gradient norm below `min_gradient_norm`, or a KL that changed by less than
    /// `min_kl_change` between its last two reports, both after exaggeration.
    fn settled(&self, it: usize, gradient_norm: f64, kl_history: &[(usize, f64)]) -> Option<Stop> {
        if self.per_iteration.is_some() || it < self.exaggeration_iterations {
            return None;
        }
        if gradient_norm < self.min_gradient_norm {
            return Some(Stop::GradientTolerance);
        }
        match kl_history {
            [.., (before, previous), (now, kl)]
                if self.min_kl_change > 0.0
                    && *now == it + 1
                    && *before > self.exaggeration_iterations
                    && (previous - kl).abs() < self.min_kl_change * kl =>
            {
                Some(Stop::KlTolerance)
            }
            _ => None,
        }
    }

    /// `iterations` with constant `exaggeration` and `momentum` (openTSNE's `optimize`); the
    /// `auto` learning rate is then `max(n / exaggeration, 50)`.
    pub fn constant(iterations: usize, exaggeration: f64, momentum: f64) -> Self {
        Self {
            iterations,
            exaggeration_iterations: 0,
            early_exaggeration: exaggeration,
            final_exaggeration: exaggeration,
            momentum_early: momentum,
            momentum_final: momentum,
            ..Self::default()
        }
    }

    /// `iterations` whose `(exaggeration, momentum)` come from `f(iteration)` (0-based); the
    /// `auto` learning rate uses the exaggeration of iteration 0.
    pub fn per_iteration(iterations: usize, f: impl Fn(usize) -> (f64, f64) + Send + Sync + 'static) -> Self {
        let (exaggeration, momentum) = f(0);
        Self {
            per_iteration: Some(PerIteration(Arc::new(f))),
            ..Self::constant(iterations, exaggeration, momentum)
        }
    }

    /// `(exaggeration, momentum)` of iteration `it` (0-based).
    pub fn at(&self, it: usize) -> (f64, f64) {
        match &self.per_iteration {
            Some(f) => (f.0)(it),
            None if it < self.exaggeration_iterations => (self.early_exaggeration, self.momentum_early),
            None => (self.final_exaggeration, self.momentum_final),
        }
    }

    /// The learning rate for `n` points.
    pub fn learning_rate(&self, n: usize) -> f64 {
        let early = if self.exaggeration_iterations > 0 || self.per_iteration.is_some() {
            self.early_exaggeration
        } else {
            self.final_exaggeration
        };
        self.learning_rate.resolve(n, early)
    }

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
        for (name, limit) in
            [("max_point_gradient", self.max_point_gradient), ("max_point_step", self.max_point_step)]
        {
            if let Some(g) = limit {
                if !positive(g) {
                    return bad(name, format!("must be finite and positive, got {g}"));
                }
            }
        }
        if !(self.min_gradient_norm.is_finite() && self.min_gradient_norm >= 0.0) {
            return bad(
                "min_gradient_norm",
                format!("must be finite and non-negative, got {}", self.min_gradient_norm),
            );
        }
        if !(self.min_kl_change.is_finite() && self.min_kl_change >= 0.0) {
            return bad(
                "min_kl_change",
                format!("must be finite and non-negative, got {}", self.min_kl_change),
            );
        }
        if self.min_kl_change > 0.0 && self.kl_every == 0 {
            return bad("min_kl_change", "needs the KL reported during the run (`kl_every` > 0)".into());
        }
        Ok(())
    }
}

/// The optimiser's state between iterations: the last update (velocity) and the per-coordinate
/// gains, row-major like the embedding.
#[derive(Debug, Clone, PartialEq)]
pub struct State {
    /// The previous step of every coordinate.
    pub update: Vec<f64>,
    /// The adaptive gain of every coordinate.
    pub gains: Vec<f64>,
}

impl State {
    /// The state before the first iteration of `len` coordinates: no velocity, unit gains.
    pub fn new(len: usize) -> Self {
        Self { update: vec![0.0; len], gains: vec![1.0; len] }
    }
}

/// Momentum gradient descent with adaptive gains:
///
/// `gain <- gain + 0.2` where the gradient and the previous update have opposite signs (the
/// coordinate keeps moving downhill), else `gain * 0.8`, floored at `min_gain`;
/// `update <- momentum * update - eta * gain * g`; `Y <- Y + update`; Y brought back into the
/// source's domain ([`GradientSource::constrain`]) and re-centred each step when the cost is
/// translation invariant and no point is pinned.
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

    /// Whether moving every point by the same vector leaves the cost unchanged (then the
    /// optimiser re-centres the embedding after each step). Default: yes.
    fn translation_invariant(&self) -> bool {
        true
    }

    /// Brings the positions back into the source's domain after a step, adjusting the
    /// optimiser's state of the points it moved (e.g. new points kept on an interpolation
    /// grid). Default: every position is in the domain.
    fn constrain(&mut self, _y: &mut Matrix, _state: &mut State) {}
}

/// The t-SNE objective KL(P || Q) (van der Maaten & Hinton 2008, eq. 5): attraction from
/// sparse P, repulsion and Z from a [`Repulsion`] backend.
pub struct KlGradient<'a> {
    p: &'a CsrMatrix,
    kernel: StudentT,
    repulsion: &'a mut dyn Repulsion,
    attr: Vec<f64>,
    rep: Vec<f64>,
    /// `sum p ln p`, computed at the first cost (P does not change during a run).
    plogp: Option<f64>,
}

impl<'a> KlGradient<'a> {
    /// The objective of joint affinities `p` for a `p.n() x dims` embedding.
    pub fn new(
        p: &'a CsrMatrix,
        kernel: StudentT,
        repulsion: &'a mut dyn Repulsion,
        dims: usize,
    ) -> Result<Self> {
        let len = p
            .n()
            .checked_mul(dims)
            .ok_or(Error::InvalidParameter { name: "dims", reason: "n * dims overflows".into() })?;
        Ok(Self { p, kernel, repulsion, attr: vec![0.0; len], rep: vec![0.0; len], plogp: None })
    }

    fn check(&self, y: &Matrix) -> Result<()> {
        if y.rows() != self.p.n() || y.as_slice().len() != self.attr.len() {
            return Err(Error::DimensionMismatch {
                what: "affinities vs embedding rows",
                expected: self.p.n(),
                found: y.rows(),
            });
        }
        Ok(())
    }

    /// KL(P || Q) at `y` with normalisation `z`.
    fn kl(&mut self, y: &Matrix, z: f64) -> f64 {
        let plogp = *self.plogp.get_or_insert_with(|| gradient::p_log_p(self.p));
        gradient::kl_divergence_from(self.p, plogp, y, self.kernel, z)
    }
}

impl GradientSource for KlGradient<'_> {
    fn gradient(
        &mut self,
        y: &Matrix,
        exaggeration: f64,
        grad: &mut [f64],
        want_cost: bool,
    ) -> Result<Option<f64>> {
        self.check(y)?;
        gradient::attractive_forces(self.p, y, self.kernel, &mut self.attr);
        let z = self.repulsion.repulsion(y, self.kernel, &mut self.rep)?;
        if !(z > 0.0 && z.is_finite()) {
            // The minimiser fills in the iteration.
            return Err(Error::Diverged { iteration: 0 });
        }
        gradient::combine_gradient(&self.attr, &self.rep, z, exaggeration, grad);
        Ok(want_cost.then(|| self.kl(y, z)))
    }

    fn cost(&mut self, y: &Matrix) -> Result<f64> {
        self.check(y)?;
        // The KL of an embedding needs the Z of that embedding.
        let z = self.repulsion.repulsion(y, self.kernel, &mut self.rep)?;
        if !(z > 0.0 && z.is_finite()) {
            return Err(Error::Diverged { iteration: 0 });
        }
        Ok(self.kl(y, z))
    }
}

impl GradientDescent {
    /// Runs the schedule on any [`GradientSource`] from `state`, which it leaves ready for a
    /// continuation: two runs of `a` and `b` iterations give the bits of one run of `a + b`
    /// when the second continues the first's schedule. Points marked in `pinned` (one flag per
    /// row) keep their positions bit for bit. `observer` sees every iteration and may stop the
    /// run with `ControlFlow::Break`. The report's `kl_divergence` fields hold the source's cost.
    pub fn minimize(
        &self,
        y: &mut Matrix,
        source: &mut dyn GradientSource,
        state: &mut State,
        pinned: Option<&[bool]>,
        observer: &mut dyn FnMut(&Progress<'_>) -> ControlFlow<()>,
    ) -> Result<OptimizeReport> {
        let s = &self.schedule;
        check_shapes(y, state, pinned)?;
        let pinned = pinned.filter(|p| p.iter().any(|&b| b));
        let recenter = source.translation_invariant() && pinned.is_none();
        let eta = s.learning_rate(y.rows());
        let clip = s.max_point_gradient.map(|g| g / 4.0);
        // All buffers live for the whole run: the loop below does not allocate (but for the
        // KL history and the stage list, which grow only when something is reported).
        let mut grad = vec![0.0; y.as_slice().len()];
        let mut kl_history = Vec::new();
        let mut stages: Vec<Stage> = Vec::new();
        let (mut done, mut stop) = (0, Stop::Completed);
        for it in 0..s.iterations {
            let (exaggeration, momentum) = s.at(it);
            record_stage(&mut stages, exaggeration, momentum, eta);
            let report_kl = s.kl_every > 0 && (it + 1) % s.kl_every == 0;
            let kl = source.gradient(y, exaggeration, &mut grad, report_kl).map_err(diverged_at(it + 1))?;
            condition_gradient(&mut grad, y.cols(), pinned, clip);
            let norm2: f64 = grad.iter().map(|g| g * g).sum();
            if !norm2.is_finite() || kl.is_some_and(|kl| !kl.is_finite()) {
                return Err(Error::Diverged { iteration: it + 1 });
            }
            if let Some(kl) = kl {
                kl_history.push((it + 1, kl));
            }
            self.descend(y, state, &grad, momentum, eta, pinned);
            source.constrain(y, state);
            if recenter {
                y.center();
            }
            done = it + 1;
            let gradient_norm = 4.0 * norm2.sqrt();
            let progress = Progress {
                iteration: done,
                total: s.iterations,
                exaggeration,
                momentum,
                kl_divergence: kl,
                gradient_norm,
                embedding: y,
                gradient: &grad,
                gains: &state.gains,
                row_of: None,
            };
            if observer(&progress).is_break() {
                stop = Stop::Callback;
                break;
            }
            if let Some(reason) = s.settled(it, gradient_norm, &kl_history) {
                stop = reason;
                break;
            }
        }
        let kl_divergence = source.cost(y).map_err(diverged_at(done))?;
        if !kl_divergence.is_finite() {
            return Err(Error::Diverged { iteration: done });
        }
        Ok(OptimizeReport { iterations: done, kl_divergence, kl_history, stages, stop })
    }

    /// One step of every free coordinate: `gain` adapted by the sign agreement of the gradient
    /// and the last update, `update <- momentum update - eta gain g`, `y <- y + update`; point
    /// by point (pinned points skipped, steps longer than `max_point_step` shortened) when
    /// either applies, else over the flat arrays.
    fn descend(
        &self,
        y: &mut Matrix,
        state: &mut State,
        grad: &[f64],
        momentum: f64,
        eta: f64,
        pinned: Option<&[bool]>,
    ) {
        let s = &self.schedule;
        let (n, dims) = (y.rows(), y.cols());
        let step = |u: &mut f64, g: f64, gain: &mut f64| {
            *gain = if (g > 0.0) == (*u > 0.0) { (*gain * 0.8).max(s.min_gain) } else { *gain + 0.2 };
            *u = momentum * *u - eta * *gain * g;
        };
        if pinned.is_none() && s.max_point_step.is_none() {
            for ((yv, (u, g)), gain) in
                y.as_mut_slice().iter_mut().zip(state.update.iter_mut().zip(grad)).zip(state.gains.iter_mut())
            {
                step(u, *g, gain);
                *yv += *u;
            }
            return;
        }
        let ys = y.as_mut_slice();
        for i in (0..n).filter(|&i| !pinned.is_some_and(|p| p[i])) {
            let coords = i * dims..(i + 1) * dims;
            for c in coords.clone() {
                step(&mut state.update[c], grad[c], &mut state.gains[c]);
            }
            if let Some(limit) = s.max_point_step {
                let norm = state.update[coords.clone()].iter().map(|u| u * u).sum::<f64>().sqrt();
                if norm > limit {
                    state.update[coords.clone()].iter_mut().for_each(|u| *u *= limit / norm);
                }
            }
            for c in coords {
                ys[c] += state.update[c];
            }
        }
    }
}

/// The state must have one velocity and gain per coordinate, the pins one flag per point.
fn check_shapes(y: &Matrix, state: &State, pinned: Option<&[bool]>) -> Result<()> {
    let len = y.as_slice().len();
    if state.update.len() != len || state.gains.len() != len {
        return Err(Error::DimensionMismatch {
            what: "optimiser state vs embedding coordinates",
            expected: len,
            found: if state.update.len() != len { state.update.len() } else { state.gains.len() },
        });
    }
    match pinned {
        Some(pins) if pins.len() != y.rows() => Err(Error::DimensionMismatch {
            what: "pinned flags vs points",
            expected: y.rows(),
            found: pins.len(),
        }),
        _ => Ok(()),
    }
}

/// Extends the last stage when the settings are unchanged, else starts a new one.
fn record_stage(stages: &mut Vec<Stage>, exaggeration: f64, momentum: f64, learning_rate: f64) {
    match stages.last_mut() {
        Some(st) if st.exaggeration == exaggeration && st.momentum == momentum => st.iterations += 1,
        _ => stages.push(Stage { iterations: 1, exaggeration, momentum, learning_rate }),
    }
}

/// Zeroes the gradient of pinned points and shortens every point's gradient longer than
/// `clip`.
fn condition_gradient(grad: &mut [f64], dims: usize, pinned: Option<&[bool]>, clip: Option<f64>) {
    if let Some(pins) = pinned {
        for (g, _) in grad.chunks_exact_mut(dims.max(1)).zip(pins).filter(|(_, &p)| p) {
            g.fill(0.0);
        }
    }
    if let Some(limit) = clip {
        for g in grad.chunks_exact_mut(dims.max(1)) {
            let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > limit {
                let scale = limit / norm;
                g.iter_mut().for_each(|v| *v *= scale);
            }
        }
    }
}

/// A source's divergence, which it cannot number, at `iteration`.
fn diverged_at(iteration: usize) -> impl Fn(Error) -> Error {
    move |e| match e {
        Error::Diverged { .. } => Error::Diverged { iteration },
        e => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsne_repulsion::Exact;

    /// `C = sum (y - 1)^2 / 2` per coordinate; `dC/dy / 4 = (y - 1) / 4`.
    struct Bowl;

    impl GradientSource for Bowl {
        fn gradient(&mut self, y: &Matrix, _: f64, grad: &mut [f64], want: bool) -> Result<Option<f64>> {
            for (g, v) in grad.iter_mut().zip(y.as_slice()) {
                *g = (v - 1.0) / 4.0;
            }
            Ok(want.then(|| self.cost(y).unwrap_or(f64::NAN)))
        }
        fn cost(&mut self, y: &Matrix) -> Result<f64> {
            Ok(y.as_slice().iter().map(|v| 0.5 * (v - 1.0) * (v - 1.0)).sum())
        }
        fn translation_invariant(&self) -> bool {
            false
        }
    }

    fn go() -> ControlFlow<()> {
        ControlFlow::Continue(())
    }

    fn small_problem() -> (CsrMatrix, Matrix) {
        let n = 12;
        let rows = (0..n)
            .map(|i| vec![(((i + 1) % n) as u32, 0.5 / n as f64), (((i + n - 1) % n) as u32, 0.5 / n as f64)])
            .map(|mut r| {
                r.sort_by_key(|e| e.0);
                r
            })
            .collect();
        let y = Matrix::new(n, 2, (0..2 * n).map(|v| 1e-2 * ((v * 7 % 11) as f64 - 5.0)).collect()).unwrap();
        (CsrMatrix::from_rows(rows).unwrap(), y)
    }

    #[test]
    fn gains_grow_against_the_last_step_and_shrink_with_it() {
        let mut y = Matrix::new(1, 2, vec![3.0, 3.0]).unwrap();
        // Coordinate 0 last moved up (against its downhill direction), coordinate 1 down.
        let mut state = State { update: vec![0.1, -0.1], gains: vec![1.0, 1.0] };
        let schedule =
            Schedule { learning_rate: LearningRate::Fixed(1.0), ..Schedule::constant(1, 1.0, 0.5) };
        GradientDescent::new(schedule)
            .unwrap()
            .minimize(&mut y, &mut Bowl, &mut state, None, &mut |_| go())
            .unwrap();
        // g = 0.5 > 0 for both: the sign of g equals the sign of the update for coordinate 0.
        assert_eq!(state.gains, vec![0.8, 1.2]);
        assert_eq!(state.update, vec![0.5 * 0.1 - 0.8 * 0.5, 0.5 * -0.1 - 1.2 * 0.5]);
    }

    #[test]
    fn gains_never_fall_below_the_floor() {
        let mut y = Matrix::new(1, 1, vec![3.0]).unwrap();
        let mut state = State { update: vec![1.0], gains: vec![0.011] };
        let schedule =
            Schedule { learning_rate: LearningRate::Fixed(1e-3), ..Schedule::constant(1, 1.0, 0.0) };
        GradientDescent::new(schedule)
            .unwrap()
            .minimize(&mut y, &mut Bowl, &mut state, None, &mut |_| go())
            .unwrap();
        assert_eq!(state.gains, vec![0.01]);
    }

    #[test]
    fn the_momentum_switches_after_early_exaggeration() {
        let schedule = Schedule { iterations: 5, exaggeration_iterations: 2, ..Schedule::default() };
        let mut seen = Vec::new();
        let (p, mut y) = small_problem();
        let mut exact = Exact::new();
        let mut source = KlGradient::new(&p, StudentT::CAUCHY, &mut exact, 2).unwrap();
        let mut state = State::new(y.as_slice().len());
        let report = GradientDescent::new(schedule)
            .unwrap()
            .minimize(&mut y, &mut source, &mut state, None, &mut |p| {
                seen.push((p.iteration, p.exaggeration, p.momentum));
                go()
            })
            .unwrap();
        assert_eq!(seen, vec![(1, 12.0, 0.5), (2, 12.0, 0.5), (3, 1.0, 0.8), (4, 1.0, 0.8), (5, 1.0, 0.8)]);
        let stages: Vec<_> =
            report.stages.iter().map(|s| (s.iterations, s.exaggeration, s.momentum)).collect();
        assert_eq!(stages, vec![(2, 12.0, 0.5), (3, 1.0, 0.8)]);
    }

    #[test]
    fn two_runs_continue_to_the_bits_of_one() {
        let (p, y0) = small_problem();
        let run = |pieces: &[usize]| {
            let mut y = y0.clone();
            let mut exact = Exact::new();
            let mut source = KlGradient::new(&p, StudentT::CAUCHY, &mut exact, 2).unwrap();
            let mut state = State::new(y.as_slice().len());
            for &iterations in pieces {
                let schedule = Schedule {
                    learning_rate: LearningRate::Fixed(10.0),
                    ..Schedule::constant(iterations, 1.0, 0.8)
                };
                GradientDescent::new(schedule)
                    .unwrap()
                    .minimize(&mut y, &mut source, &mut state, None, &mut |_| go())
                    .unwrap();
            }
            y
        };
        assert_eq!(run(&[30, 70]), run(&[100]));
        assert_ne!(run(&[30]), run(&[100]));
    }

    #[test]
    fn a_callback_break_and_the_gradient_tolerance_stop_the_run() {
        let (p, y0) = small_problem();
        let mut exact = Exact::new();
        let mut y = y0.clone();
        let mut source = KlGradient::new(&p, StudentT::CAUCHY, &mut exact, 2).unwrap();
        let mut state = State::new(y.as_slice().len());
        let gd = GradientDescent::new(Schedule { iterations: 100, ..Schedule::default() }).unwrap();
        let report = gd
            .minimize(&mut y, &mut source, &mut state, None, &mut |p| {
                if p.iteration == 7 {
                    ControlFlow::Break(())
                } else {
                    go()
                }
            })
            .unwrap();
        assert_eq!((report.iterations, report.stop), (7, Stop::Callback));
        let tolerant = Schedule {
            iterations: 100,
            exaggeration_iterations: 0,
            min_gradient_norm: 1e9,
            ..Schedule::default()
        };
        let report = GradientDescent::new(tolerant)
            .unwrap()
            .minimize(&mut y, &mut source, &mut state, None, &mut |_| go())
            .unwrap();
        assert_eq!((report.iterations, report.stop), (1, Stop::GradientTolerance));
    }

    /// The KL rule stops at the first report whose change from the one before, both after
    /// exaggeration, is below the tolerance; never at an earlier pair; and a tolerance that any
    /// change meets stops at the second report after exaggeration.
    #[test]
    fn the_kl_tolerance_stops_at_the_first_settled_report() {
        let (p, y0) = small_problem();
        let mut exact = Exact::new();
        let mut source = KlGradient::new(&p, StudentT::CAUCHY, &mut exact, 2).unwrap();
        let schedule = |tolerance| Schedule {
            iterations: 400,
            exaggeration_iterations: 20,
            kl_every: 10,
            min_kl_change: tolerance,
            ..Schedule::default()
        };
        let run = |source: &mut KlGradient<'_>, tolerance| {
            let (mut y, mut state) = (y0.clone(), State::new(y0.as_slice().len()));
            let gd = GradientDescent::new(schedule(tolerance)).unwrap();
            gd.minimize(&mut y, source, &mut state, None, &mut |_| go()).unwrap()
        };
        let full = run(&mut source, 0.0);
        assert_eq!((full.iterations, full.stop), (400, Stop::Completed));
        let loose = run(&mut source, 1e9);
        assert_eq!((loose.iterations, loose.stop), (40, Stop::KlTolerance));
        let change = |w: &[(usize, f64)]| (w[0].1 - w[1].1).abs() / w[1].1;
        let after: Vec<(usize, f64)> = full.kl_history.iter().copied().filter(|&(i, _)| i > 20).collect();
        let changes: Vec<f64> = after.windows(2).map(change).collect();
        // A tolerance that some report meets: between the smallest change and the median.
        let mut sorted = changes.clone();
        sorted.sort_by(f64::total_cmp);
        let tolerance = 0.5 * (sorted[0] + sorted[sorted.len() / 2]);
        let first = changes.iter().position(|&c| c < tolerance).unwrap();
        let settled = run(&mut source, tolerance);
        assert_eq!(settled.stop, Stop::KlTolerance);
        assert_eq!(settled.iterations, after[first + 1].0, "{after:?}");
        assert!(GradientDescent::new(Schedule { kl_every: 0, ..schedule(1e-3) }).is_err());
    }

    #[test]
    fn pinned_rows_never_change_and_steps_respect_the_limit() {
        let (p, y0) = small_problem();
        let mut exact = Exact::new();
        let mut y = y0.clone();
        let mut source = KlGradient::new(&p, StudentT::CAUCHY, &mut exact, 2).unwrap();
        let mut state = State::new(y.as_slice().len());
        let pins: Vec<bool> = (0..12).map(|i| i % 3 == 0).collect();
        let limit = 1e-3;
        let schedule = Schedule { max_point_step: Some(limit), iterations: 50, ..Schedule::default() };
        let mut previous = y0.clone();
        GradientDescent::new(schedule)
            .unwrap()
            .minimize(&mut y, &mut source, &mut state, Some(&pins), &mut |p| {
                for (i, &pinned) in pins.iter().enumerate() {
                    let step: f64 = p
                        .embedding
                        .row(i)
                        .iter()
                        .zip(previous.row(i))
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt();
                    assert!(step <= limit * (1.0 + 1e-12), "point {i} moved {step}");
                    if pinned {
                        assert_eq!(p.embedding.row(i), y0.row(i));
                    }
                }
                previous = p.embedding.clone();
                go()
            })
            .unwrap();
        assert_ne!(y, y0);
    }

    #[test]
    fn a_non_finite_gradient_is_an_error_at_its_iteration() {
        let (p, mut y) = small_problem();
        let mut exact = Exact::new();
        let mut source = KlGradient::new(&p, StudentT::CAUCHY, &mut exact, 2).unwrap();
        let mut state = State::new(y.as_slice().len());
        let schedule =
            Schedule { learning_rate: LearningRate::Fixed(1e300), ..Schedule::constant(50, 1.0, 0.8) };
        let err = GradientDescent::new(schedule).unwrap().minimize(
            &mut y,
            &mut source,
            &mut state,
            None,
            &mut |_| go(),
        );
        assert!(matches!(err, Err(Error::Diverged { .. })), "{err:?}");
    }
}
