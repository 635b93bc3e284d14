//! The fitted model: positions plus everything needed to go on (P, the optimiser state, the
//! reference points and their PCA, the metric, kernel and repulsion).

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use tsne_affinity::{affinities_as_given, joint_affinities, Metric};
use tsne_core::{
    inverse_permutation, Affinity, CsrMatrix, Error, InitInput, Initializer, Matrix, OptimizeReport,
    Progress, Result, StudentT,
};
use tsne_init::Projection;
use tsne_optim::{GradientDescent, KlGradient, LearningRate, Schedule, State};

use crate::config::TSne;
use crate::memory::Budget;
use crate::methods::{NeighborMethod, RepulsionMethod};
use crate::pool::with_threads;
use crate::summary::Summary;
use crate::transform::{Placement, PlacementRepulsion, PlacementStart, PointAffinities, Transform};

/// The callback of a run: called after every iteration; `ControlFlow::Break` stops the run.
pub type Callback<'a> = dyn FnMut(&Progress<'_>) -> ControlFlow<()> + Send + 'a;

/// Calls `f` on every `k`-th iteration only (and never stops the run by itself).
pub fn every<'f>(
    k: usize,
    mut f: impl FnMut(&Progress<'_>) -> ControlFlow<()> + Send + 'f,
) -> impl FnMut(&Progress<'_>) -> ControlFlow<()> + Send + 'f {
    let k = k.max(1);
    move |p| if p.iteration % k == 0 { f(p) } else { ControlFlow::Continue(()) }
}

/// The points a model was fitted on, in input order and input space (after its PCA), for
/// placing new points.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reference {
    pub points: Matrix,
    pub metric: Metric,
    pub projection: Option<Projection>,
}

/// A fitted t-SNE model (openTSNE's `TSNEEmbedding`).
///
/// It owns the positions and what later calls need: the joint affinities P, the optimiser's
/// velocity and gains, the kernel and repulsion method, the pinned points, and, when the fit
/// had coordinates, the reference points with the metric and PCA they were searched with.
/// Internally the points are numbered so that affinity neighbours sit together in memory
/// (`CsrMatrix::locality_order`); every method takes and returns input order.
///
/// * [`optimize`](Self::optimize) continues from the current state: two runs of `a` and `b`
///   iterations give the bits of one run of `a + b` with the same settings.
/// * [`transform`](Self::transform) places new points against the fixed positions.
/// * [`add`](Self::add) places new points, then lets them settle with the old ones pinned.
/// * [`save`](Self::save) and [`load`](Self::load) keep a model in one checked file.
#[derive(Debug, Clone)]
pub struct Embedding {
    /// Positions in the internal order.
    pub(crate) y: Matrix,
    /// Row `r` of `y` is input point `order[r]`.
    pub(crate) order: Vec<u32>,
    /// Input point `i` is row `row_of[i]` of `y`.
    pub(crate) row_of: Vec<u32>,
    /// Joint P in the internal order; none for the dense SNE-family path.
    pub(crate) p: Option<CsrMatrix>,
    pub(crate) state: State,
    /// Pinned points, one flag per row of `y`.
    pub(crate) pinned: Vec<bool>,
    pub(crate) kernel: StudentT,
    pub(crate) repulsion: RepulsionMethod,
    pub(crate) reference: Option<Reference>,
    /// The fit's stages up to P, which [`Embedding::add`] reruns on the grown set.
    pub(crate) input: InputStages,
    pub(crate) threads: Option<usize>,
    /// What later runs may allocate (not saved: a loaded model has the machine's bound).
    pub(crate) budget: Budget,
    pub(crate) summary: Summary,
}

/// What a fitted model runs with besides P and its positions (the fit's settings).
pub(crate) struct ModelSettings {
    pub kernel: StudentT,
    pub repulsion: RepulsionMethod,
    pub input: InputStages,
    pub threads: Option<usize>,
    pub budget: Budget,
}

/// The fit's stages from points to P, kept by the model so that [`Embedding::add`] computes
/// the grown set's P as the fit did: its neighbour method, affinity and seed (the metric is
/// the reference points'). A user affinity is kept in memory only; the model file stores
/// the perplexity, the built-in methods and the seed.
#[derive(Clone)]
pub(crate) struct InputStages {
    pub neighbors: NeighborMethod,
    /// Perplexity of the built-in calibration.
    pub perplexity: f64,
    /// A user affinity instead of the perplexity calibration.
    pub affinity: Option<Arc<dyn Affinity>>,
    pub seed: u64,
}

impl Default for InputStages {
    fn default() -> Self {
        Self { neighbors: NeighborMethod::Auto, perplexity: 30.0, affinity: None, seed: 0 }
    }
}

impl std::fmt::Debug for InputStages {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputStages")
            .field("neighbors", &self.neighbors)
            .field("perplexity", &self.perplexity)
            .field("affinity", &self.affinity.as_ref().map(|a| a.name().to_string()))
            .field("seed", &self.seed)
            .finish()
    }
}

impl InputStages {
    /// A configuration that runs these stages on points under `metric` within `budget`.
    fn configuration(&self, metric: Metric, budget: Budget) -> Result<TSne> {
        let mut tsne = TSne::builder()
            .metric(metric)
            .neighbors(self.neighbors.clone())
            .perplexity(self.perplexity)
            .seed(self.seed)
            .shared_affinity(self.affinity.clone())
            .build()?;
        tsne.budget = budget;
        Ok(tsne)
    }
}

impl Embedding {
    /// A model of P (input order) starting at `y` (input order), renumbering both, with
    /// `settings` and the fit's `summary`; no point is pinned and there are no reference
    /// points yet ([`Embedding::pin`], [`Embedding::attach_reference`]).
    pub(crate) fn new(p: CsrMatrix, y: Matrix, settings: ModelSettings, summary: Summary) -> Result<Self> {
        let order = p.locality_order();
        let p = p.into_permuted(&order)?;
        let y = y.permuted_rows(&order)?;
        Self::assemble(y, order, Some(p), settings, summary)
    }

    /// A finished dense SNE-family embedding (or positions from elsewhere): nothing to
    /// continue, points in input order.
    pub(crate) fn dense(y: Matrix, settings: ModelSettings, summary: Summary) -> Result<Self> {
        let order: Vec<u32> = (0..y.rows() as u32).collect();
        Self::assemble(y, order, None, settings, summary)
    }

    /// The model of positions `y` in the internal order `order` (row `r` is input point
    /// `order[r]`), with P in that order: a fresh optimiser, nothing pinned, no reference.
    fn assemble(
        y: Matrix,
        order: Vec<u32>,
        p: Option<CsrMatrix>,
        settings: ModelSettings,
        summary: Summary,
    ) -> Result<Self> {
        let n = y.rows();
        let row_of = inverse_permutation(&order, n)?;
        let state = State::new(y.as_slice().len());
        Ok(Self {
            y,
            order,
            row_of,
            p,
            state,
            pinned: vec![false; n],
            kernel: settings.kernel,
            repulsion: settings.repulsion,
            reference: None,
            input: settings.input,
            threads: settings.threads,
            budget: settings.budget,
            summary,
        })
    }

    /// The points new points are compared with (`transform`), joined after the optimisation
    /// so that the optimiser's buffers and these are never held at once.
    pub(crate) fn attach_reference(&mut self, reference: Option<Reference>) {
        self.reference = reference;
    }

    /// A model for placing points only: `points` (`n x d`) and their embedding
    /// `positions` (`n x dims`) from elsewhere, with the input `metric` and output `kernel`
    /// they were made with. It has no affinities, so it can [`transform`](Self::transform)
    /// but not [`optimize`](Self::optimize) or [`add`](Self::add).
    pub fn from_reference(
        points: Matrix,
        positions: Matrix,
        metric: Metric,
        kernel: StudentT,
    ) -> Result<Self> {
        if positions.rows() != points.rows() {
            return Err(Error::DimensionMismatch {
                what: "reference embedding rows",
                expected: points.rows(),
                found: positions.rows(),
            });
        }
        let summary = Summary::new(points.rows(), points.cols(), positions.cols());
        let settings = ModelSettings {
            kernel,
            repulsion: RepulsionMethod::Exact,
            input: InputStages::default(),
            threads: None,
            budget: Budget::default(),
        };
        let mut model = Self::dense(positions, settings, summary)?;
        model.attach_reference(Some(Reference { points, metric, projection: None }));
        Ok(model)
    }

    /// The model with `points` (one row per embedded point, input order, in the space P was
    /// computed in) as its reference points under `metric`, so that it can
    /// [`transform`](Self::transform) new points: for a model fitted from P or neighbours
    /// computed elsewhere from these points (openTSNE's `TSNEEmbedding(init, affinities)`).
    pub fn with_reference(mut self, points: Matrix, metric: Metric) -> Result<Self> {
        if points.rows() != self.n() {
            return Err(Error::DimensionMismatch {
                what: "reference points",
                expected: self.n(),
                found: points.rows(),
            });
        }
        self.summary.dims_in = points.cols();
        self.reference = Some(Reference { points, metric, projection: None });
        Ok(self)
    }

    /// Worker threads of later calls (`None`: rayon's global pool). Results do not depend on it.
    pub fn set_threads(&mut self, threads: Option<usize>) {
        self.threads = threads;
    }

    /// Number of points.
    pub fn n(&self) -> usize {
        self.y.rows()
    }

    /// Embedding dimension.
    pub fn dims(&self) -> usize {
        self.y.cols()
    }

    /// The positions, one row per input point in input order (a copy).
    pub fn positions(&self) -> Matrix {
        self.y.permuted_rows(&self.row_of).unwrap_or_else(|_| self.y.clone())
    }

    /// The position of input point `i`.
    pub fn position(&self, i: usize) -> &[f64] {
        self.y.row(self.row_of[i] as usize)
    }

    /// What the fit and later runs did.
    pub fn summary(&self) -> &Summary {
        &self.summary
    }

    /// The kernel of the embedding.
    pub fn kernel(&self) -> StudentT {
        self.kernel
    }

    /// The repulsion method later runs use, as configured: `Auto` is resolved at each run for
    /// the model's size, and the summary names the backend that ran.
    pub fn repulsion(&self) -> &RepulsionMethod {
        &self.repulsion
    }

    /// Sets the repulsion method of later runs (a loaded model of a fit with a user backend
    /// gets its backend back this way).
    pub fn set_repulsion(&mut self, method: RepulsionMethod) -> Result<()> {
        method.check(self.dims())?;
        self.repulsion = method;
        Ok(())
    }

    /// Moves the points to `positions` (input order, `n x dims`), keeping the optimiser's
    /// velocity and gains (e.g. after translating the map).
    pub fn set_positions(&mut self, positions: &Matrix) -> Result<()> {
        for (what, expected, found) in [
            ("positions (rows)", self.n(), positions.rows()),
            ("positions (columns)", self.dims(), positions.cols()),
        ] {
            if expected != found {
                return Err(Error::DimensionMismatch { what, expected, found });
            }
        }
        self.y = positions.permuted_rows(&self.order)?;
        Ok(())
    }

    /// The joint affinities P in input order (none for the dense SNE-family path).
    pub fn affinities(&self) -> Result<Option<CsrMatrix>> {
        self.p.as_ref().map(|p| p.permuted(&self.row_of)).transpose()
    }

    /// Replaces P (input order; checked and normalised like a given P) for later runs,
    /// keeping the positions and the optimiser's state (e.g. a recalibrated perplexity).
    pub fn set_affinities(&mut self, p: CsrMatrix) -> Result<()> {
        let p = joint_affinities(p, Some(self.n()))?;
        self.p = Some(p.into_permuted(&self.order)?);
        Ok(())
    }

    /// [`set_affinities`](Self::set_affinities) of a P that need not be symmetric (see
    /// [`TSneBuilder::asymmetric_affinities`](crate::TSneBuilder::asymmetric_affinities)).
    pub fn set_affinities_as_given(&mut self, p: CsrMatrix) -> Result<()> {
        let p = affinities_as_given(p, Some(self.n()))?;
        self.p = Some(p.into_permuted(&self.order)?);
        Ok(())
    }

    /// Forgets the optimiser's velocity and gains, so the next run starts as a first one
    /// does (scikit-learn restarts its optimiser when early exaggeration ends).
    pub fn reset_optimizer(&mut self) {
        self.state = State::new(self.y.as_slice().len());
    }

    /// The optimiser's gains and last update (velocity), input order, `n x dims` each.
    pub fn optimizer_state(&self) -> Result<(Matrix, Matrix)> {
        let (n, dims) = (self.n(), self.dims());
        let per_point = |v: &[f64]| Matrix::new(n, dims, v.to_vec())?.permuted_rows(&self.row_of);
        Ok((per_point(&self.state.gains)?, per_point(&self.state.update)?))
    }

    /// Pins `points` (input indices): later runs keep them where they are, bit for bit, and
    /// move the others. An empty list unpins every point.
    pub fn pin(&mut self, points: &[usize]) -> Result<()> {
        let n = self.n();
        if let Some(&bad) = points.iter().find(|&&i| i >= n) {
            return Err(Error::InvalidParameter {
                name: "pin",
                reason: format!("point {bad} does not exist (there are {n} points)"),
            });
        }
        self.pinned.fill(false);
        for &i in points {
            self.pinned[self.row_of[i] as usize] = true;
        }
        Ok(())
    }

    /// Continues the optimisation with `schedule` (e.g. `Schedule::constant(250, 1.0, 0.8)`,
    /// openTSNE's `optimize(n_iter=250, exaggeration=1, momentum=0.8)`) from the current
    /// positions, velocity and gains.
    pub fn optimize(&mut self, schedule: &Schedule) -> Result<OptimizeReport> {
        self.optimize_with(schedule, |_| ControlFlow::Continue(()))
    }

    /// [`optimize`](Self::optimize) with a callback after every iteration that may stop the run.
    pub fn optimize_with(
        &mut self,
        schedule: &Schedule,
        mut callback: impl FnMut(&Progress<'_>) -> ControlFlow<()> + Send,
    ) -> Result<OptimizeReport> {
        let threads = self.threads;
        let schedule = self.continuation(schedule);
        if self.summary.iterations > 0 && schedule.learning_rate(self.n()) != self.summary.learning_rate {
            self.state.gains.fill(1.0);
        }
        with_threads(threads, || self.run(&schedule, &mut callback))?
    }

    /// `schedule` in the convention of the runs that made this model: an `Auto` learning rate
    /// continues at the rate of the last run (the fit's `max(n / early_exaggeration, 50)`),
    /// not at a rate of its own, which the carried-over gains would amplify.
    fn continuation(&self, schedule: &Schedule) -> Schedule {
        match (schedule.learning_rate, self.summary.iterations) {
            (LearningRate::Auto, ran) if ran > 0 => Schedule {
                learning_rate: LearningRate::Fixed(self.summary.learning_rate),
                ..schedule.clone()
            },
            _ => schedule.clone(),
        }
    }

    /// One optimisation run in the current thread pool.
    pub(crate) fn run(&mut self, schedule: &Schedule, callback: &mut Callback<'_>) -> Result<OptimizeReport> {
        let Self { y, row_of, p, state, pinned, kernel, repulsion, summary, budget, .. } = self;
        let p = p.as_ref().ok_or_else(|| Error::Unsupported {
            backend: "this model".into(),
            what: "further optimisation (it has no affinities: a dense SNE-family fit or a reference-only model)"
                .into(),
        })?;
        let optimizer = GradientDescent::new(schedule.clone())?;
        let learning_rate = schedule.learning_rate(y.rows());
        let pins = pinned.iter().any(|&b| b).then_some(&pinned[..]);
        let dims = y.cols();
        let (report, name) = repulsion.with_backend(y.rows(), dims, *budget, |backend| {
            let mut observe =
                |prog: &Progress<'_>| callback(&Progress { row_of: Some(&row_of[..]), ..*prog });
            let report = {
                let mut source = KlGradient::new(p, *kernel, &mut *backend, dims)?;
                optimizer.minimize(y, &mut source, state, pins, &mut observe)?
            };
            // Named after the run: a backend may report what it did (e.g. a fallback).
            Ok((report, backend.name().to_string()))
        })?;
        summary.repulsion = name;
        summary.pinned = pinned.iter().filter(|&&b| b).count();
        summary.record(report.clone(), learning_rate);
        Ok(report)
    }

    /// Records the fit's optimisation: its time, the total time and the memory peak after it.
    pub(crate) fn finish_fit(&mut self, optimize: Duration, total: Duration, peak: Option<u64>) {
        self.summary.timings.optimize = optimize;
        self.summary.timings.total = total;
        self.summary.peak_memory.optimize = peak;
    }

    /// Places `new_points` (rows in the fit's input space, before its PCA) into the fixed
    /// embedding with the default [`Transform`]; the model does not change.
    pub fn transform(&self, new_points: &Matrix) -> Result<Matrix> {
        self.transform_with(new_points, &Transform::default())
    }

    /// [`transform`](Self::transform) with explicit settings. New points go through the
    /// model's own PCA and metric, get perplexity-calibrated affinities to their nearest
    /// reference points (exact search), start at the median position of their nearest
    /// reference points and follow [`GradientDescent::minimize`] against the fixed reference
    /// (Barnes-Hut tree). Each point is placed independently of the others, so one at a time
    /// equals all at once, bit for bit; deterministic for any thread count.
    pub fn transform_with(&self, new_points: &Matrix, settings: &Transform) -> Result<Matrix> {
        with_threads(self.threads, || self.place(new_points, settings))?
    }

    /// New points with their affinities to the reference, at their starting positions
    /// (openTSNE's `prepare_partial`); [`PartialEmbedding::optimize`] moves them against this
    /// model's fixed positions.
    pub fn prepare_partial(&self, new_points: &Matrix, settings: &Transform) -> Result<PartialEmbedding> {
        with_threads(self.threads, || self.prepare(new_points, settings))?
    }

    /// Prepares and optimises new points in the current pool.
    fn place(&self, new_points: &Matrix, settings: &Transform) -> Result<Matrix> {
        let mut partial = self.prepare(new_points, settings)?;
        partial.run(self, &settings.schedule(), &mut |_| ControlFlow::Continue(()))?;
        Ok(partial.y)
    }

    fn prepare(&self, new_points: &Matrix, settings: &Transform) -> Result<PartialEmbedding> {
        settings.check()?;
        let reference = self.reference.as_ref().ok_or_else(|| Error::Unsupported {
            backend: "transform".into(),
            what: "a model fitted without coordinates (precomputed distances, neighbours or affinities)"
                .into(),
        })?;
        let expected = reference.projection.as_ref().map_or(reference.points.cols(), Projection::dims_in);
        if new_points.cols() != expected {
            return Err(Error::DimensionMismatch {
                what: "new point columns",
                expected,
                found: new_points.cols(),
            });
        }
        let projected;
        let queries = match &reference.projection {
            Some(projection) => {
                projected = projection.apply(new_points)?;
                &projected
            }
            None => new_points,
        };
        let k = settings.neighbors(reference.points.rows())?;
        let affinities =
            PointAffinities::new(&reference.points, queries, k, settings.perplexity, reference.metric)?;
        self.partial(affinities, settings)
    }

    /// New points given by their distances to the reference points (`m x n`, e.g. after a fit
    /// from precomputed distances), with their affinities, at their starting positions.
    pub fn prepare_partial_from_distances(
        &self,
        distances: &Matrix,
        settings: &Transform,
    ) -> Result<PartialEmbedding> {
        with_threads(self.threads, || {
            settings.check()?;
            let affinities = PointAffinities::from_distances(distances, self.n(), settings)?;
            self.partial(affinities, settings)
        })?
    }

    /// [`transform`](Self::transform) of new points given by their distances to the
    /// reference points (`m x n`, one row per new point).
    pub fn transform_distances(&self, distances: &Matrix, settings: &Transform) -> Result<Matrix> {
        let mut partial = self.prepare_partial_from_distances(distances, settings)?;
        partial.optimize(self, &settings.schedule())?;
        Ok(partial.y)
    }

    /// New points with affinities computed elsewhere (e.g. openTSNE's `to_new` of another
    /// affinity model), starting at `start` (one row per new point), repelled by the
    /// reference through `repulsion`.
    pub fn prepare_partial_from_affinities(
        &self,
        affinities: PointAffinities,
        start: Matrix,
        repulsion: PlacementRepulsion,
    ) -> Result<PartialEmbedding> {
        if affinities.neighbors().iter().any(|&j| j as usize >= self.n()) {
            return Err(Error::InvalidParameter {
                name: "affinities",
                reason: format!("they name reference points beyond the model's {}", self.n()),
            });
        }
        repulsion.check()?;
        for (what, expected, found) in [
            ("start rows (one per row of affinities)", affinities.rows(), start.rows()),
            ("start columns", self.dims(), start.cols()),
        ] {
            if expected != found {
                return Err(Error::DimensionMismatch { what, expected, found });
            }
        }
        let state = State::new(start.as_slice().len());
        Ok(PartialEmbedding { y: start, affinities, state, n_reference: self.n(), repulsion })
    }

    /// New points with `affinities` at the start `settings` asks for.
    fn partial(&self, affinities: PointAffinities, settings: &Transform) -> Result<PartialEmbedding> {
        let m = affinities.rows();
        let y = match settings.start {
            PlacementStart::Median => affinities.medians(&self.positions(), settings.init_neighbors)?,
            PlacementStart::WeightedMean => affinities.weighted_means(&self.positions())?,
            PlacementStart::Random { seed } => {
                let input = InitInput { n: m, points: None, affinities: None };
                tsne_init::Random::default().initialize(&input, self.dims(), seed)?
            }
        };
        let state = State::new(y.as_slice().len());
        Ok(PartialEmbedding { y, affinities, state, n_reference: self.n(), repulsion: settings.repulsion })
    }

    /// Adds `new_points` to the model (openTSNE's `prepare_partial` followed by `optimize`):
    /// they are placed by [`transform`](Self::transform), the affinities of the grown set are
    /// recomputed by the fit's own stages (its neighbour method, resolved for the grown set,
    /// its affinity and seed), and `schedule` runs with the old points pinned, so
    /// only the new ones move. The new points become input rows `n..n + m`; the old points'
    /// pins are restored afterwards.
    pub fn add(&mut self, new_points: &Matrix, schedule: &Schedule) -> Result<OptimizeReport> {
        let threads = self.threads;
        with_threads(threads, || self.grow(new_points, schedule))?
    }

    fn grow(&mut self, new_points: &Matrix, schedule: &Schedule) -> Result<OptimizeReport> {
        if self.p.is_none() {
            return Err(Error::Unsupported {
                backend: "add".into(),
                what: "a model without affinities".into(),
            });
        }
        let placed = self.place(new_points, &Transform::default())?;
        let reference = self.reference.as_ref().ok_or_else(|| Error::Unsupported {
            backend: "add".into(),
            what: "a model fitted without coordinates".into(),
        })?;
        let projected = match &reference.projection {
            Some(projection) => projection.apply(new_points)?,
            None => new_points.clone(),
        };
        let (n, m, dims) = (self.n(), new_points.rows(), self.dims());
        let mut all = reference.points.as_slice().to_vec();
        all.extend_from_slice(projected.as_slice());
        let all = Matrix::new(n + m, reference.points.cols(), all)?;
        let (p_input, k) =
            self.input.configuration(reference.metric, self.budget)?.affinities_of((&all).into())?;
        // Old rows keep their internal numbering; the new points follow in input order.
        let mut order = self.order.clone();
        order.extend((n as u32)..(n + m) as u32);
        let row_of = inverse_permutation(&order, n + m)?;
        let mut y = self.y.as_slice().to_vec();
        y.extend_from_slice(placed.as_slice());
        let mut state = self.state.clone();
        state.update.resize((n + m) * dims, 0.0);
        state.gains.resize((n + m) * dims, 1.0);
        let old_pins = std::mem::replace(&mut self.pinned, (0..n + m).map(|r| r < n).collect());
        self.p = Some(p_input.into_permuted(&order)?);
        self.y = Matrix::new(n + m, dims, y)?;
        self.order = order;
        self.row_of = row_of;
        self.state = state;
        self.reference = Some(Reference {
            points: all,
            metric: reference.metric,
            projection: reference.projection.clone(),
        });
        self.summary.n = n + m;
        self.summary.nnz = self.p.as_ref().map_or(0, CsrMatrix::nnz);
        self.summary.k = k;
        let report = self.run(schedule, &mut |_| ControlFlow::Continue(()));
        self.pinned = old_pins;
        self.pinned.resize(n + m, false);
        report
    }
}

/// Points placed into a fixed embedding, with their affinities to it and the optimiser's
/// state (openTSNE's `PartialTSNEEmbedding`).
#[derive(Debug, Clone)]
pub struct PartialEmbedding {
    y: Matrix,
    affinities: PointAffinities,
    state: State,
    /// Points of the model the affinities refer to.
    n_reference: usize,
    repulsion: PlacementRepulsion,
}

impl PartialEmbedding {
    /// The new points' positions.
    pub fn positions(&self) -> &Matrix {
        &self.y
    }

    /// The new points' conditional affinities to the reference points (rows sum to one).
    pub fn affinities(&self) -> &PointAffinities {
        &self.affinities
    }

    /// Moves the new points to `positions` (one row each, the model's dimension), keeping
    /// the optimiser's state: e.g. a start computed elsewhere.
    pub fn set_positions(&mut self, positions: Matrix) -> Result<()> {
        for (what, expected, found) in [
            ("positions of the new points (rows)", self.y.rows(), positions.rows()),
            ("positions of the new points (columns)", self.y.cols(), positions.cols()),
        ] {
            if expected != found {
                return Err(Error::DimensionMismatch { what, expected, found });
            }
        }
        self.y = positions;
        Ok(())
    }

    /// How the reference repels the new points in later runs.
    pub fn repulsion(&self) -> PlacementRepulsion {
        self.repulsion
    }

    /// Sets how the reference repels the new points in later runs (checked here); the
    /// optimiser's state is kept.
    pub fn set_repulsion(&mut self, repulsion: PlacementRepulsion) -> Result<()> {
        repulsion.check()?;
        self.repulsion = repulsion;
        Ok(())
    }

    /// Forgets the optimiser's velocity and gains of the new points (the next run starts as
    /// a first one does).
    pub fn reset_optimizer(&mut self) {
        self.state = State::new(self.y.as_slice().len());
    }

    /// The optimiser's gains and last update (velocity) of the new points, `m x dims` each.
    pub fn optimizer_state(&self) -> Result<(Matrix, Matrix)> {
        let (m, dims) = (self.y.rows(), self.y.cols());
        Ok((
            Matrix::new(m, dims, self.state.gains.clone())?,
            Matrix::new(m, dims, self.state.update.clone())?,
        ))
    }

    /// Moves the new points against `model`'s fixed positions (the model they were prepared
    /// with) from their current positions, velocity and gains.
    pub fn optimize(&mut self, model: &Embedding, schedule: &Schedule) -> Result<OptimizeReport> {
        self.optimize_with(model, schedule, |_| ControlFlow::Continue(()))
    }

    /// [`optimize`](Self::optimize) with a callback after every iteration that may stop the run.
    pub fn optimize_with(
        &mut self,
        model: &Embedding,
        schedule: &Schedule,
        mut callback: impl FnMut(&Progress<'_>) -> ControlFlow<()> + Send,
    ) -> Result<OptimizeReport> {
        with_threads(model.threads, || self.run(model, schedule, &mut callback))?
    }

    fn run(
        &mut self,
        model: &Embedding,
        schedule: &Schedule,
        callback: &mut Callback<'_>,
    ) -> Result<OptimizeReport> {
        if model.n() != self.n_reference {
            return Err(Error::DimensionMismatch {
                what: "points of the model the new points were prepared with",
                expected: self.n_reference,
                found: model.n(),
            });
        }
        let (m, dims) = (self.y.rows(), self.y.cols());
        if m == 0 {
            return Ok(OptimizeReport {
                iterations: 0,
                kl_divergence: 0.0,
                kl_history: Vec::new(),
                stages: Vec::new(),
                stop: tsne_core::Stop::Completed,
            });
        }
        let positions = model.positions();
        let mut source = Placement {
            forces: self.repulsion.build(&positions, model.kernel)?,
            reference: &positions,
            affinities: &self.affinities,
            kernel: model.kernel,
            rep: vec![0.0; m * dims],
            z: vec![0.0; m],
        };
        GradientDescent::new(schedule.clone())?.minimize(
            &mut self.y,
            &mut source,
            &mut self.state,
            None,
            callback,
        )
    }
}
