//! The dense path for the members of the SNE family other than t-SNE (and heavy-tailed
//! t-SNE, which run on the scalable path): the pipeline's phases on all pairs, with a dense
//! objective as the gradient source.

use std::time::{Duration, Instant};

use tsne_affinity::{BruteForce, Perplexity};
use tsne_core::{Error, InitInput, Initializer, KnnGraph, Matrix, NeighborSearch, OptimizeReport, Result};
use tsne_family::{InputKind, Method, Objective, Stress};
use tsne_optim::{GradientDescent, GradientSource, Schedule, State};

use crate::config::TSne;
use crate::embedding::{Callback, Embedding, ModelSettings};
use crate::methods::RepulsionMethod;
use crate::phases::Phase;
use crate::summary::{Summary, Timings};

/// Follows an [`Objective`] with the optimiser's `dC/dY / 4` convention, the cost scaled by
/// `scale` (reported costs are scaled too: per point for point-wise methods, per ordered pair
/// for MDS and Sammon, relative to the sum of r^4 for SSTRESS).
struct Dense {
    objective: Objective,
    scale: f64,
    scratch: Vec<f64>,
}

impl GradientSource for Dense {
    fn gradient(
        &mut self,
        y: &Matrix,
        exaggeration: f64,
        grad: &mut [f64],
        want_cost: bool,
    ) -> Result<Option<f64>> {
        let cost = self.objective.cost_and_gradient(y, exaggeration, grad)?;
        let s = 0.25 * self.scale;
        grad.iter_mut().for_each(|g| *g *= s);
        Ok(want_cost.then_some(cost * self.scale))
    }

    fn cost(&mut self, y: &Matrix) -> Result<f64> {
        self.scratch.resize(y.as_slice().len(), 0.0);
        Ok(self.objective.cost_and_gradient(y, 1.0, &mut self.scratch)? * self.scale)
    }
}

/// The dense input of `method` from the all-pairs `graph`: conditional or joint P by
/// perplexity calibration, or the matrix of input distances.
fn dense_input(method: &Method, graph: &KnnGraph, perplexity: f64) -> Result<Vec<f64>> {
    let n = graph.n();
    let mut dense = vec![0.0; n * n];
    match method.input_kind() {
        InputKind::Distances => {
            for i in 0..n {
                for (&j, &d) in graph.neighbors(i).iter().zip(graph.distances(i)) {
                    dense[i * n + j as usize] = d;
                }
            }
        }
        kind => {
            let conditional = Perplexity::new(perplexity)?.conditional(graph)?;
            let p = if kind == InputKind::JointP { conditional.symmetrize() } else { conditional };
            for i in 0..n {
                let (cols, vals) = p.row(i);
                for (&j, &v) in cols.iter().zip(vals) {
                    dense[i * n + j as usize] = f64::from(v);
                }
            }
        }
    }
    Ok(dense)
}

/// `f`'s result and how long it took.
fn timed<T>(f: impl FnOnce() -> Result<T>) -> Result<(T, Duration)> {
    let t = Instant::now();
    Ok((f()?, t.elapsed()))
}

/// The dense-path fit of `points` (after any PCA): the same phases as the scalable path,
/// on all pairs (`TSneBuilder::build` checked the method against each).
pub(crate) fn fit(
    tsne: &TSne,
    points: &Matrix,
    dims_in: usize,
    preprocessing: Duration,
    callback: &mut Callback<'_>,
) -> Result<Embedding> {
    let start = Instant::now();
    let n = points.rows();
    check_size(tsne, n)?;
    let (graph, neighbors) =
        tsne.phase(Phase::Neighbors, || timed(|| BruteForce::default().search(points, n - 1)))?;
    let (input, affinities) =
        tsne.phase(Phase::Affinities, || timed(|| dense_input(&tsne.method, &graph, tsne.perplexity)))?;
    drop(graph);
    let initializer = tsne.init.initializer(true);
    let (y, initialization) = tsne.phase(Phase::Initialization, || {
        timed(|| {
            let y = initial(&tsne.method, points, tsne.dims, tsne.seed, initializer.as_ref())?;
            crate::methods::check_start(&y, n, tsne.dims)?;
            Ok(y)
        })
    })?;
    if let Some(show) = &tsne.on_start {
        show(&y);
    }
    let ((y, report), optimize) = tsne.phase(Phase::Optimization, || {
        timed(|| optimize(tsne.method, input, y, tsne.schedule.clone(), callback))
    })?;
    let timings = Timings {
        preprocessing,
        neighbors,
        affinities,
        initialization,
        optimize,
        total: start.elapsed() + preprocessing,
    };
    let mut summary = Summary {
        k: n - 1,
        nnz: n * (n - 1),
        neighbors: "dense".into(),
        affinity: format!("{:?}", tsne.method.input_kind()),
        repulsion: "exact-dense".into(),
        init: initializer.name().to_string(),
        timings,
        ..Summary::new(n, dims_in, tsne.dims)
    };
    summary.record(report, tsne.schedule.learning_rate(n));
    let settings = ModelSettings { repulsion: RepulsionMethod::Exact, ..tsne.model_settings() };
    Embedding::dense(y, settings, summary)
}

/// Enough points for the perplexity, and memory for the n x n matrices.
fn check_size(tsne: &TSne, n: usize) -> Result<()> {
    if n <= 2 {
        return Err(Error::TooFewPoints { n, min: 3 });
    }
    if tsne.perplexity >= (n - 1) as f64 {
        return Err(Error::PerplexityTooLarge { perplexity: tsne.perplexity, neighbors: n - 1, n });
    }
    tsne.budget.check("dense SNE-family path", crate::memory::estimate::dense(n), || {
        "t-SNE and HSSNE run on the scalable path; the other members need n x n matrices".into()
    })
}

/// Runs `method` on its dense input from `init`.
fn optimize(
    method: Method,
    input: Vec<f64>,
    init: Matrix,
    schedule: Schedule,
    callback: &mut Callback<'_>,
) -> Result<(Matrix, OptimizeReport)> {
    let n = init.rows();
    // Scales that make the step sizes of the `auto` learning rate fit every cost: point-wise
    // costs sum n distributions (joint P sums to one), stresses sum n(n - 1) pairs, and
    // SSTRESS, quadratic in squared distances, is divided by the sum of r^4.
    let pairs = (n * (n - 1)) as f64;
    let scale = match method {
        Method::Distance(Stress::Sstress) => 1.0 / input.iter().map(|r| r.powi(4)).sum::<f64>(),
        Method::Distance(_) => 1.0 / pairs,
        _ if method.input_kind() == InputKind::ConditionalP => 1.0 / n as f64,
        _ => 1.0,
    };
    let mut source = Dense { objective: Objective::new(method, n, input)?, scale, scratch: Vec::new() };
    let mut y = init;
    let mut state = State::new(y.as_slice().len());
    let report = GradientDescent::new(schedule)?.minimize(&mut y, &mut source, &mut state, None, callback)?;
    Ok((y, report))
}

/// The initial embedding: the given initialiser for probability methods; for stresses, the
/// leading principal components at the data's own scale, since their cost is not invariant
/// to scale.
fn initial(
    method: &Method,
    points: &Matrix,
    dims: usize,
    seed: u64,
    init: &dyn Initializer,
) -> Result<Matrix> {
    match method.input_kind() {
        InputKind::Distances => tsne_init::project(points, dims),
        _ => init.initialize(&InitInput::points(points), dims, seed),
    }
}
