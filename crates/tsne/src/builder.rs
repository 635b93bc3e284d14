//! The builder, the validated configuration, and `fit`.

use std::time::{Duration, Instant};

use tsne_affinity::{
    joint_affinities, BruteForce, Hnsw, HnswParams, Metric, NnDescent, NnDescentParams, Perplexity,
    PrecomputedDistances,
};
use tsne_core::{
    inverse_permutation, Affinity, CsrMatrix, Error, InitInput, Initializer, KnnGraph, Matrix,
    NeighborSearch, Optimizer, Progress, Repulsion, Result, StudentT,
};
use tsne_family::Method;
use tsne_init::{Pca, Random, Spectral};
use tsne_optim::{GradientDescent, LearningRate, Schedule};
use tsne_repulsion::{BarnesHut, Exact, FftInterpolation, FftParams};

/// How neighbours are found.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum NeighborMethod {
    /// [`Exact`](NeighborMethod::Exact) below 200,000 points,
    /// [`NnDescent`](NeighborMethod::NnDescent) from there. On 50-D mixtures, k = 90 and 2
    /// cores (`cargo xtask knn`, docs/benchmarks.md) the two took about the same time at
    /// 100,000 points; exact grows as n^2, NN-descent about as n log n.
    #[default]
    Auto,
    /// Brute-force search for `k = min(n - 1, 3 * perplexity)` neighbours.
    Exact,
    /// Every other point is a neighbour (`k = n - 1`): the dense exact P, O(n^2) memory.
    Dense,
    /// Approximate neighbours by NN-descent from a random-projection forest; its seed is the
    /// builder's [`seed`](TSneBuilder::seed), so the graph is reproducible.
    NnDescent(NnDescentParams),
    /// Approximate neighbours from an HNSW graph.
    Hnsw(HnswParams),
    /// The input of [`TSne::fit`] is an `n x n` matrix of distances, not points (see
    /// [`PrecomputedDistances`] for what is checked); the metric setting is ignored.
    Precomputed,
}

impl NeighborMethod {
    /// Points from which `Auto` uses NN-descent.
    pub const AUTO_APPROXIMATE_FROM: usize = 200_000;

    /// The concrete method `Auto` stands for with `n` points.
    pub fn resolve(self, n: usize) -> Self {
        match self {
            Self::Auto if n >= Self::AUTO_APPROXIMATE_FROM => Self::NnDescent(NnDescentParams::default()),
            Self::Auto => Self::Exact,
            other => other,
        }
    }

    fn backend(self, metric: Metric, seed: u64) -> Result<Box<dyn NeighborSearch>> {
        Ok(match self {
            Self::NnDescent(params) => Box::new(NnDescent::new(NnDescentParams { metric, seed, ..params })?),
            Self::Hnsw(params) => Box::new(Hnsw::new(HnswParams { metric, ..params })?),
            Self::Precomputed => Box::new(PrecomputedDistances),
            _ => Box::new(BruteForce::new(metric)),
        })
    }
}

/// How repulsive forces are computed.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum RepulsionMethod {
    /// [`Exact`](RepulsionMethod::Exact) below 500 points, FFT interpolation from 10,000
    /// points in 1-D and 2-D, Barnes-Hut otherwise. The thresholds are where the faster
    /// backend changed on 2 cores: Barnes-Hut beat exact from about 500 points; on 50-D
    /// mixtures the 1000-iteration optimisation took 15.4 s (Barnes-Hut) and 16.2 s (FFT) at
    /// 10,000 points, 38.8 s and 27.0 s at 20,000, 141 s and 40 s at 70,000.
    #[default]
    Auto,
    /// All pairs, O(n^2) per iteration; the KL divergence reported is exact.
    Exact,
    /// Barnes-Hut tree with opening angle `theta` (0.5 is the usual choice; 0 is exact).
    BarnesHut {
        /// Opening angle.
        theta: f64,
    },
    /// FFT-accelerated interpolation on a grid (1-D and 2-D embeddings only).
    Fft(FftParams),
}

impl RepulsionMethod {
    /// Points below which `Auto` uses the exact backend.
    pub const AUTO_EXACT_BELOW: usize = 500;
    /// Points from which `Auto` uses FFT interpolation for 1-D and 2-D embeddings.
    pub const AUTO_FFT_FROM: usize = 10_000;

    /// Barnes-Hut with the default `theta = 0.5`.
    pub fn barnes_hut() -> Self {
        Self::BarnesHut { theta: 0.5 }
    }

    /// FFT interpolation with the default grid.
    pub fn fft() -> Self {
        Self::Fft(FftParams::default())
    }

    /// The concrete method `Auto` stands for with `n` points in `dims` dimensions.
    pub fn resolve(self, n: usize, dims: usize) -> Self {
        match self {
            Self::Auto if n < Self::AUTO_EXACT_BELOW => Self::Exact,
            Self::Auto if dims <= 2 && n >= Self::AUTO_FFT_FROM => Self::fft(),
            Self::Auto => Self::barnes_hut(),
            other => other,
        }
    }

    fn check(&self, dims: usize) -> Result<()> {
        match self {
            Self::BarnesHut { theta } => BarnesHut::new(*theta).map(|_| ()),
            Self::Fft(_) if dims > 2 => Err(Error::Unsupported {
                backend: "FFT interpolation".into(),
                what: format!("{dims}-dimensional embeddings (1 or 2 only; use Barnes-Hut for 3)"),
            }),
            Self::Fft(params) => params.check(),
            _ => Ok(()),
        }
    }

    fn backend(self) -> Result<Box<dyn Repulsion>> {
        Ok(match self {
            Self::Auto | Self::Exact => Box::new(Exact::new()),
            Self::BarnesHut { theta } => Box::new(BarnesHut::new(theta)?),
            Self::Fft(params) => Box::new(FftInterpolation::new(params)?),
        })
    }
}

/// How the embedding starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Init {
    /// Leading principal components scaled to standard deviation `1e-4`; spectral when the
    /// input has no coordinates (precomputed distances, neighbours or affinities).
    #[default]
    Pca,
    /// Leading eigenvectors of the normalised affinities ([`Spectral`]), scaled to standard
    /// deviation `1e-4`.
    Spectral,
    /// Gaussian noise with standard deviation `1e-4`.
    Random,
}

/// What a fit starts from.
#[derive(Clone, Copy)]
enum Input<'a> {
    Points(&'a Matrix),
    Graph(&'a KnnGraph),
    Affinities(&'a CsrMatrix),
}

/// Unchecked parameters; [`TSneBuilder::build`] checks them.
pub struct TSneBuilder {
    dims: usize,
    perplexity: f64,
    schedule: Schedule,
    dof: f64,
    seed: u64,
    threads: Option<usize>,
    neighbor_method: NeighborMethod,
    repulsion_method: RepulsionMethod,
    init: Init,
    pca: Option<usize>,
    metric: Metric,
    method: Method,
    check_recall: Option<usize>,
    custom_neighbors: Option<Box<dyn NeighborSearch>>,
    custom_affinity: Option<Box<dyn Affinity>>,
    custom_repulsion: Option<Box<dyn Repulsion>>,
    custom_init: Option<Box<dyn Initializer>>,
}

impl Default for TSneBuilder {
    fn default() -> Self {
        Self {
            dims: 2,
            perplexity: 30.0,
            schedule: Schedule::default(),
            dof: 1.0,
            seed: 0,
            threads: None,
            neighbor_method: NeighborMethod::default(),
            repulsion_method: RepulsionMethod::default(),
            init: Init::default(),
            pca: None,
            metric: Metric::default(),
            method: Method::tsne(),
            check_recall: None,
            custom_neighbors: None,
            custom_affinity: None,
            custom_repulsion: None,
            custom_init: None,
        }
    }
}

impl TSneBuilder {
    /// Embedding dimension (default 2).
    pub fn dims(mut self, dims: usize) -> Self {
        self.dims = dims;
        self
    }
    /// Target perplexity of the Gaussian input affinities (default 30).
    pub fn perplexity(mut self, perplexity: f64) -> Self {
        self.perplexity = perplexity;
        self
    }
    /// Total iterations including early exaggeration (default 1000).
    pub fn iterations(mut self, iterations: usize) -> Self {
        self.schedule.iterations = iterations;
        self
    }
    /// Iterations of early exaggeration (default 250).
    pub fn exaggeration_iterations(mut self, iterations: usize) -> Self {
        self.schedule.exaggeration_iterations = iterations;
        self
    }
    /// Early-exaggeration factor (default 12).
    pub fn early_exaggeration(mut self, factor: f64) -> Self {
        self.schedule.early_exaggeration = factor;
        self
    }
    /// Exaggeration after the early phase (default 1).
    pub fn exaggeration(mut self, factor: f64) -> Self {
        self.schedule.final_exaggeration = factor;
        self
    }
    /// Learning rate (default `auto`, `max(n / early_exaggeration, 50)`).
    pub fn learning_rate(mut self, rate: LearningRate) -> Self {
        self.schedule.learning_rate = rate;
        self
    }
    /// Momentum during and after early exaggeration (default 0.5 and 0.8).
    pub fn momentum(mut self, early: f64, late: f64) -> Self {
        self.schedule.momentum_early = early;
        self.schedule.momentum_final = late;
        self
    }
    /// Report the KL divergence every `every` iterations (default 50; 0 only at the end).
    pub fn kl_every(mut self, every: usize) -> Self {
        self.schedule.kl_every = every;
        self
    }
    /// The whole optimisation schedule at once.
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self
    }
    /// Degrees of freedom of the output kernel (default 1, the Cauchy kernel of t-SNE).
    pub fn dof(mut self, dof: f64) -> Self {
        self.dof = dof;
        self
    }
    /// Seed of every random choice (default 0).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Worker threads (default: rayon's global pool, one per core). Results do not depend on it.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = Some(threads);
        self
    }
    /// Neighbour method (default `Auto`).
    pub fn neighbors(mut self, method: NeighborMethod) -> Self {
        self.neighbor_method = method;
        self
    }
    /// Repulsion method (default `Auto`).
    pub fn repulsion(mut self, method: RepulsionMethod) -> Self {
        self.repulsion_method = method;
        self
    }
    /// Project the input on its `dims` leading principal components before the neighbour
    /// search (default: no projection). 50 is the usual choice for image-like data.
    pub fn pca(mut self, dims: usize) -> Self {
        self.pca = Some(dims);
        self
    }
    /// The input distance neighbours are found and affinities calibrated with (default
    /// Euclidean).
    pub fn metric(mut self, metric: Metric) -> Self {
        self.metric = metric;
        self
    }
    /// The member of the SNE family to run (default t-SNE). t-SNE and heavy-tailed SNE
    /// (`hssne(alpha)`, the t kernel with `dof = 1 / alpha`) use the scalable path; the others
    /// run on the exact dense O(n^2) path and reject an approximate repulsion backend.
    pub fn method(mut self, method: Method) -> Self {
        self.method = method;
        self
    }
    /// Measure the recall of an approximate neighbour search against brute force on `sample`
    /// points (reported in [`Summary::recall`]; skipped for exact searches).
    pub fn check_recall(mut self, sample: usize) -> Self {
        self.check_recall = Some(sample);
        self
    }
    /// Initialisation (default PCA).
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }
    /// Use a user-written neighbour search instead of [`NeighborMethod`].
    pub fn neighbor_search(mut self, search: impl NeighborSearch + 'static) -> Self {
        self.custom_neighbors = Some(Box::new(search));
        self
    }
    /// Use a user-written affinity instead of perplexity calibration.
    pub fn affinity(mut self, affinity: impl Affinity + 'static) -> Self {
        self.custom_affinity = Some(Box::new(affinity));
        self
    }
    /// Use a user-written repulsion backend instead of [`RepulsionMethod`].
    pub fn repulsion_backend(mut self, repulsion: impl Repulsion + 'static) -> Self {
        self.custom_repulsion = Some(Box::new(repulsion));
        self
    }
    /// Use a user-written initialiser instead of [`Init`].
    pub fn initializer(mut self, init: impl Initializer + 'static) -> Self {
        self.custom_init = Some(Box::new(init));
        self
    }

    /// Checks every parameter and assembles the backends.
    pub fn build(self) -> Result<TSne> {
        if !(1..=16).contains(&self.dims) {
            return Err(Error::InvalidParameter {
                name: "dims",
                reason: format!("must be between 1 and 16, got {}", self.dims),
            });
        }
        if self.threads == Some(0) {
            return Err(Error::InvalidParameter { name: "threads", reason: "must be at least 1".into() });
        }
        self.method.check()?;
        let kernel = match self.method {
            Method::Probability { kernel: tsne_family::Kernel::HeavyTailed { alpha }, .. } => {
                StudentT::new(1.0 / alpha)?
            }
            _ => StudentT::new(self.dof)?,
        };
        let approximate = self.custom_repulsion.is_some()
            || matches!(self.repulsion_method, RepulsionMethod::BarnesHut { .. } | RepulsionMethod::Fft(_));
        if crate::family::dense_only(&self.method) && approximate {
            return Err(Error::Unsupported {
                backend: "the scalable (Barnes-Hut, FFT, custom) repulsion backends".into(),
                what: format!(
                    "{:?}: it runs on the exact dense path only (use --repulsion exact or auto)",
                    self.method
                ),
            });
        }
        let optimizer = GradientDescent::new(self.schedule)?;
        let affinity: Box<dyn Affinity> = match self.custom_affinity {
            Some(a) => a,
            None => Box::new(Perplexity::new(self.perplexity)?),
        };
        match self.neighbor_method {
            NeighborMethod::Hnsw(params) => {
                Hnsw::new(params)?;
            }
            NeighborMethod::NnDescent(params) => {
                NnDescent::new(params)?;
            }
            _ => {}
        }
        if self.pca == Some(0) {
            return Err(Error::InvalidParameter {
                name: "pca",
                reason: "must keep at least one component".into(),
            });
        }
        if self.custom_repulsion.is_none() {
            self.repulsion_method.check(self.dims)?;
        }
        if crate::family::dense_only(&self.method) && self.metric != Metric::Euclidean {
            return Err(Error::Unsupported {
                backend: format!("{:?}", self.method),
                what: format!("the {:?} metric (the dense SNE-family path is Euclidean)", self.metric),
            });
        }
        let pool = match self.threads {
            Some(t) => Some(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(t)
                    .build()
                    .map_err(|e| Error::InvalidParameter { name: "threads", reason: e.to_string() })?,
            ),
            None => None,
        };
        Ok(TSne {
            dims: self.dims,
            kernel,
            seed: self.seed,
            pca: self.pca,
            metric: self.metric,
            check_recall: self.check_recall,
            method: self.method,
            perplexity: self.perplexity,
            schedule: self.schedule,
            neighbor_method: self.neighbor_method,
            neighbors: self.custom_neighbors,
            affinity,
            repulsion: self.custom_repulsion,
            repulsion_method: self.repulsion_method,
            init: self.init,
            initializer: self.custom_init,
            optimizer,
            pool,
        })
    }
}

/// A checked t-SNE configuration with its backends, ready to [`fit`](TSne::fit).
pub struct TSne {
    dims: usize,
    kernel: StudentT,
    seed: u64,
    pca: Option<usize>,
    metric: Metric,
    check_recall: Option<usize>,
    method: Method,
    perplexity: f64,
    schedule: Schedule,
    neighbor_method: NeighborMethod,
    /// A user search; when absent one is made from `neighbor_method` for each fit.
    neighbors: Option<Box<dyn NeighborSearch>>,
    affinity: Box<dyn Affinity>,
    /// A user backend; when absent one is made from `repulsion_method` for each fit.
    repulsion: Option<Box<dyn Repulsion>>,
    repulsion_method: RepulsionMethod,
    init: Init,
    /// A user initialiser; when absent one is made from `init` for each fit.
    initializer: Option<Box<dyn Initializer>>,
    optimizer: GradientDescent,
    pool: Option<rayon::ThreadPool>,
}

/// Wall-clock time of each phase of a fit.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timings {
    /// PCA projection of the input (zero when not asked for).
    pub preprocessing: Duration,
    /// Nearest-neighbour search.
    pub neighbors: Duration,
    /// Affinity calibration and symmetrisation.
    pub affinities: Duration,
    /// Initial embedding.
    pub initialization: Duration,
    /// Gradient iterations.
    pub optimize: Duration,
    /// Everything.
    pub total: Duration,
}

/// What a fit did.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Points embedded.
    pub n: usize,
    /// Input dimension.
    pub dims_in: usize,
    /// Output dimension.
    pub dims_out: usize,
    /// Neighbours per point used for P.
    pub k: usize,
    /// Stored entries of P.
    pub nnz: usize,
    /// Recall@k of the neighbour search against brute force, when asked for.
    pub recall: Option<f64>,
    /// Learning rate used.
    pub learning_rate: f64,
    /// Iterations run.
    pub iterations: usize,
    /// KL(P || Q) of the final embedding.
    pub kl_divergence: f64,
    /// KL values reported during the run, as `(iteration, kl)`.
    pub kl_history: Vec<(usize, f64)>,
    /// Name of the neighbour backend.
    pub neighbors: String,
    /// Name of the affinity.
    pub affinity: String,
    /// Name of the repulsion backend.
    pub repulsion: String,
    /// Name of the initialiser.
    pub init: String,
    /// Worker threads used.
    pub threads: usize,
    /// Phase timings.
    pub timings: Timings,
}

/// The result of [`TSne::fit`].
#[derive(Debug, Clone)]
pub struct Fit {
    /// One row per input point.
    pub embedding: Matrix,
    /// What the run did.
    pub summary: Summary,
}

impl TSne {
    /// A builder with the standard defaults.
    pub fn builder() -> TSneBuilder {
        TSneBuilder::default()
    }

    /// Embeds `points` (one point per row; with [`NeighborMethod::Precomputed`], the `n x n`
    /// matrix of distances instead).
    pub fn fit(&mut self, points: &Matrix) -> Result<Fit> {
        self.fit_with_progress(points, |_| {})
    }

    /// Embeds `points`, calling `observer` after every iteration.
    pub fn fit_with_progress(
        &mut self,
        points: &Matrix,
        mut observer: impl FnMut(&Progress) + Send,
    ) -> Result<Fit> {
        self.in_pool(Input::Points(points), &mut observer)
    }

    /// Embeds the points of a precomputed neighbour graph (e.g. from a distributed ANN job):
    /// the affinity is calibrated on `graph` as given. There are no coordinates, so the
    /// default initialisation is spectral; PCA is an error.
    pub fn fit_graph(&mut self, graph: &KnnGraph, mut observer: impl FnMut(&Progress) + Send) -> Result<Fit> {
        self.in_pool(Input::Graph(graph), &mut observer)
    }

    /// Embeds from precomputed joint affinities, checked and normalised by
    /// [`joint_affinities`](tsne_affinity::joint_affinities). Initialisation as for
    /// [`TSne::fit_graph`].
    pub fn fit_affinities(
        &mut self,
        p: &CsrMatrix,
        mut observer: impl FnMut(&Progress) + Send,
    ) -> Result<Fit> {
        self.in_pool(Input::Affinities(p), &mut observer)
    }

    fn in_pool(&mut self, input: Input<'_>, observer: &mut (dyn FnMut(&Progress) + Send)) -> Result<Fit> {
        match self.pool.take() {
            Some(pool) => {
                let out = pool.install(|| self.run(input, observer));
                self.pool = Some(pool);
                out
            }
            None => self.run(input, observer),
        }
    }

    /// The initialiser of this fit: the user's, or the one `init` names, PCA falling back to
    /// spectral without coordinates.
    fn initializer(&self, has_points: bool) -> Box<dyn Initializer + '_> {
        struct Borrowed<'a>(&'a dyn Initializer);
        impl Initializer for Borrowed<'_> {
            fn initialize(&self, input: &InitInput<'_>, dims: usize, seed: u64) -> Result<Matrix> {
                self.0.initialize(input, dims, seed)
            }
            fn name(&self) -> &str {
                self.0.name()
            }
        }
        match (&self.initializer, self.init) {
            (Some(i), _) => Box::new(Borrowed(i.as_ref())),
            (None, Init::Pca) if has_points => Box::new(Pca::default()),
            (None, Init::Pca | Init::Spectral) => Box::new(Spectral::default()),
            (None, Init::Random) => Box::new(Random::default()),
        }
    }

    /// The exact dense path of the SNE family members other than t-SNE.
    fn run_dense(
        &mut self,
        points: &Matrix,
        dims_in: usize,
        mut timings: Timings,
        observer: &mut dyn FnMut(&Progress),
        start: Instant,
    ) -> Result<Fit> {
        let n = points.rows();
        if n <= 2 {
            return Err(Error::TooFewPoints { n, min: 3 });
        }
        if self.perplexity >= (n - 1) as f64 {
            return Err(Error::PerplexityTooLarge { perplexity: self.perplexity, neighbors: n - 1, n });
        }
        if self.init == Init::Spectral && self.initializer.is_none() {
            return Err(Error::Unsupported {
                backend: "spectral initialisation".into(),
                what: format!("{:?} (dense path, no sparse P)", self.method),
            });
        }

        let t = Instant::now();
        let input = crate::family::dense_input(&self.method, points, self.perplexity)?;
        timings.affinities = t.elapsed();
        let t = Instant::now();
        let initializer = self.initializer(true);
        let init = crate::family::initial(&self.method, points, self.dims, self.seed, initializer.as_ref())?;
        let init_name = initializer.name().to_string();
        drop(initializer);
        timings.initialization = t.elapsed();
        let t = Instant::now();
        let (embedding, report) = crate::family::optimize(self.method, input, init, self.schedule, observer)?;
        timings.optimize = t.elapsed();
        timings.total = start.elapsed();
        let learning_rate = self.schedule.learning_rate.resolve(n, self.schedule.early_exaggeration);
        Ok(Fit {
            embedding,
            summary: Summary {
                n,
                dims_in,
                dims_out: self.dims,
                k: n - 1,
                nnz: n * (n - 1),
                recall: None,
                learning_rate,
                iterations: report.iterations,
                kl_divergence: report.kl_divergence,
                kl_history: report.kl_history,
                neighbors: "dense".into(),
                affinity: format!("{:?}", self.method.input_kind()),
                repulsion: "exact-dense".into(),
                init: init_name,
                threads: rayon::current_num_threads(),
                timings,
            },
        })
    }

    fn run(&mut self, input: Input<'_>, observer: &mut dyn FnMut(&Progress)) -> Result<Fit> {
        let start = Instant::now();
        let mut timings = Timings::default();
        let precomputed_input = !matches!(input, Input::Points(_));
        if precomputed_input && crate::family::dense_only(&self.method) {
            return Err(Error::Unsupported {
                backend: format!("{:?}", self.method),
                what: "precomputed neighbours or affinities (it runs on the dense path from points)".into(),
            });
        }
        // Neighbours and affinities, from whichever stage the input starts at.
        let projected;
        let (p, coordinates, dims_in, k, neighbors_name, recall, affinity_name) = match input {
            Input::Points(points) => {
                let n = points.rows();
                if n < 2 {
                    return Err(Error::TooFewPoints { n, min: 2 });
                }
                if points.cols() == 0 {
                    return Err(Error::InvalidParameter {
                        name: "points",
                        reason: "rows have no columns".into(),
                    });
                }
                let dims_in = points.cols();
                let method = self.neighbor_method.resolve(n);
                let distances_given = self.neighbors.is_none() && method == NeighborMethod::Precomputed;
                let t = Instant::now();
                let points = match self.pca {
                    Some(d) if d < points.cols() && !distances_given => {
                        projected = tsne_init::project(points, d)?;
                        &projected
                    }
                    _ => points,
                };
                timings.preprocessing = t.elapsed();
                if crate::family::dense_only(&self.method) {
                    return self.run_dense(points, dims_in, timings, observer, start);
                }
                let dense = self.neighbors.is_none() && method == NeighborMethod::Dense;
                let k = if dense { n - 1 } else { self.affinity.neighbors_needed(n) };
                if k == 0 {
                    return Err(Error::TooFewPoints { n, min: 2 });
                }
                let t = Instant::now();
                let made_search;
                let search: &dyn NeighborSearch = match &self.neighbors {
                    Some(s) => s.as_ref(),
                    None => {
                        made_search = method.backend(self.metric, self.seed)?;
                        made_search.as_ref()
                    }
                };
                let graph = search.search(points, k)?;
                let neighbors_name = if dense { "dense".to_string() } else { search.name().to_string() };
                timings.neighbors = t.elapsed();
                let recall = match self.check_recall {
                    Some(sample) if !matches!(neighbors_name.as_str(), "exact" | "dense" | "precomputed") => {
                        Some(crate::metrics::neighbor_recall(points, &graph, sample, self.metric)?)
                    }
                    _ => None,
                };
                let t = Instant::now();
                let p = self.affinity.affinities(&graph)?;
                drop(graph);
                timings.affinities = t.elapsed();
                let coordinates = (!distances_given).then_some(points);
                (p, coordinates, dims_in, k, neighbors_name, recall, self.affinity.name().to_string())
            }
            Input::Graph(graph) => {
                let t = Instant::now();
                let p = self.affinity.affinities(graph)?;
                timings.affinities = t.elapsed();
                let name = self.affinity.name().to_string();
                (p, None, 0, graph.k(), "precomputed".into(), None, name)
            }
            Input::Affinities(p) => {
                let t = Instant::now();
                let p = joint_affinities(p.clone(), None)?;
                timings.affinities = t.elapsed();
                (p, None, 0, 0, "none".into(), None, "precomputed".into())
            }
        };
        let n = p.n();

        let t = Instant::now();
        let initializer = self.initializer(coordinates.is_some());
        let init_input = InitInput { n, points: coordinates, affinities: Some(&p) };
        let embedding = initializer.initialize(&init_input, self.dims, self.seed)?;
        let init_name = initializer.name().to_string();
        drop(initializer);
        if (embedding.rows(), embedding.cols()) != (n, self.dims) {
            return Err(Error::DimensionMismatch {
                what: "initial embedding rows",
                expected: n,
                found: embedding.rows(),
            });
        }
        timings.initialization = t.elapsed();
        let t = Instant::now();
        let mut made;
        let repulsion: &mut dyn Repulsion = match self.repulsion.as_mut() {
            Some(r) => r.as_mut(),
            None => {
                made = self.repulsion_method.resolve(n, self.dims).backend()?;
                made.as_mut()
            }
        };
        // The optimisation runs on the points renumbered so that affinity neighbours are near
        // each other in memory (the attractive forces' gathers and the repulsion's per-point
        // grid or tree reads then hit cache); the embedding is returned in input order.
        let order = p.locality_order();
        let p = p.permuted(&order)?;
        let mut local = embedding.permuted_rows(&order)?;
        let report = self.optimizer.optimize(&p, &mut local, self.kernel, repulsion, observer)?;
        let embedding = local.permuted_rows(&inverse_permutation(&order, n)?)?;
        let repulsion_name = repulsion.name().to_string();
        timings.optimize = t.elapsed();
        timings.total = start.elapsed();
        let schedule = self.optimizer.schedule();
        let summary = Summary {
            n,
            dims_in,
            dims_out: self.dims,
            k,
            nnz: p.nnz(),
            recall,
            learning_rate: schedule.learning_rate.resolve(n, schedule.early_exaggeration),
            iterations: report.iterations,
            kl_divergence: report.kl_divergence,
            kl_history: report.kl_history,
            neighbors: neighbors_name,
            affinity: affinity_name,
            repulsion: repulsion_name,
            init: init_name,
            threads: rayon::current_num_threads(),
            timings,
        };
        Ok(Fit { embedding, summary })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_methods_follow_the_measured_thresholds() {
        let auto = RepulsionMethod::Auto;
        assert_eq!(auto.resolve(499, 2), RepulsionMethod::Exact);
        assert_eq!(auto.resolve(9_999, 2), RepulsionMethod::barnes_hut());
        assert_eq!(auto.resolve(10_000, 2), RepulsionMethod::fft());
        assert_eq!(auto.resolve(10_000, 1), RepulsionMethod::fft());
        assert_eq!(auto.resolve(1_000_000, 3), RepulsionMethod::barnes_hut());
        assert_eq!(NeighborMethod::Auto.resolve(199_999), NeighborMethod::Exact);
        assert!(matches!(NeighborMethod::Auto.resolve(200_000), NeighborMethod::NnDescent(_)));
    }
}
