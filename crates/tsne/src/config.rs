//! The builder and the checked configuration it produces.

use std::sync::Arc;

use tsne_affinity::{Metric, Perplexity};
use tsne_core::{Affinity, Error, Initializer, Matrix, NeighborSearch, Repulsion, Result, StudentT};
use tsne_family::Method;
use tsne_optim::{LearningRate, Schedule};

use crate::memory::Budget;
use crate::methods::{Init, NeighborMethod, RepulsionMethod};
use crate::phases::{PhaseEvent, PhaseListener, StartListener};

/// Unchecked parameters; [`TSneBuilder::build`] checks them.
pub struct TSneBuilder {
    dims: usize,
    perplexity: f64,
    schedule: Schedule,
    dof: f64,
    seed: u64,
    threads: Option<usize>,
    neighbors: NeighborMethod,
    repulsion: RepulsionMethod,
    init: Init,
    pca: Option<usize>,
    metric: Metric,
    method: Method,
    check_recall: Option<usize>,
    affinity: Option<Arc<dyn Affinity>>,
    pinned: Vec<usize>,
    max_memory: Option<u64>,
    on_phase: Option<PhaseListener>,
    on_start: Option<StartListener>,
    asymmetric_affinities: bool,
    /// Whether the user set an exaggeration (the non-KL members refuse one, and otherwise run
    /// without).
    exaggeration_set: bool,
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
            neighbors: NeighborMethod::default(),
            repulsion: RepulsionMethod::default(),
            init: Init::default(),
            pca: None,
            metric: Metric::default(),
            method: Method::tsne(),
            check_recall: None,
            affinity: None,
            pinned: Vec::new(),
            max_memory: None,
            on_phase: None,
            on_start: None,
            asymmetric_affinities: false,
            exaggeration_set: false,
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
        self.exaggeration_set = true;
        self
    }
    /// Exaggeration after the early phase (default 1; openTSNE's `exaggeration`).
    pub fn exaggeration(mut self, factor: f64) -> Self {
        self.schedule.final_exaggeration = factor;
        self.exaggeration_set = true;
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
    /// Stop once the KL divergence changes by less than `fraction` over one reporting
    /// interval after exaggeration (`Schedule::min_kl_change`; default 0, never): the
    /// iterations are then a cap.
    pub fn min_kl_change(mut self, fraction: f64) -> Self {
        self.schedule.min_kl_change = fraction;
        self
    }
    /// The whole optimisation schedule at once (e.g. [`Schedule::per_iteration`]).
    pub fn schedule(mut self, schedule: Schedule) -> Self {
        self.schedule = schedule;
        self.exaggeration_set = true;
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
    /// Neighbour search (default `Auto`; `Custom` for a user search).
    pub fn neighbors(mut self, method: NeighborMethod) -> Self {
        self.neighbors = method;
        self
    }
    /// Repulsion method (default `Auto`; `Custom` for a user backend).
    pub fn repulsion(mut self, method: RepulsionMethod) -> Self {
        self.repulsion = method;
        self
    }
    /// Project the input on its `dims` leading principal components before the neighbour
    /// search (default: no projection). 50 is the usual choice for image-like data. The
    /// fitted model keeps the projection and applies it to points it transforms.
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
    /// points (reported in [`Summary::recall`](crate::Summary::recall); skipped for exact
    /// searches).
    pub fn check_recall(mut self, sample: usize) -> Self {
        self.check_recall = Some(sample);
        self
    }
    /// Initialisation (default PCA).
    pub fn init(mut self, init: Init) -> Self {
        self.init = init;
        self
    }
    /// Points (input row indices) that keep their initial positions bit for bit while the
    /// others are optimised; usually with [`Init::Given`].
    pub fn pin(mut self, points: Vec<usize>) -> Self {
        self.pinned = points;
        self
    }
    /// Accepts precomputed affinities ([`Input::Affinities`](crate::Input::Affinities)) that
    /// are not symmetric (default: refused). Each point's attraction is then its own row's,
    /// `sum_j p_ij u_ij (y_i - y_j)`, as openTSNE optimises with `symmetrize=False`; that is
    /// the gradient of KL(P || Q) only for a symmetric P. Other inputs are an error with it.
    pub fn asymmetric_affinities(mut self, accept: bool) -> Self {
        self.asymmetric_affinities = accept;
        self
    }
    /// The most memory a stage may plan to allocate, in bytes (default: what the machine has
    /// available). A stage whose estimate exceeds it fails before allocating, naming the stage
    /// and what would fit.
    pub fn max_memory(mut self, bytes: u64) -> Self {
        self.max_memory = Some(bytes);
        self
    }
    /// Tells `listener` as each stage of a fit starts and ends (see [`Phase`](crate::Phase)).
    pub fn on_phase(mut self, listener: impl Fn(PhaseEvent) + Send + Sync + 'static) -> Self {
        self.on_phase = Some(Arc::new(listener));
        self
    }
    /// Shows `listener` the starting positions (input order) before the optimisation begins:
    /// iteration 0, which the iteration callback never sees.
    pub fn on_start(mut self, listener: impl Fn(&Matrix) + Send + Sync + 'static) -> Self {
        self.on_start = Some(Arc::new(listener));
        self
    }
    /// A user-written neighbour search (shorthand for [`NeighborMethod::Custom`]).
    pub fn neighbor_search(self, search: impl NeighborSearch + 'static) -> Self {
        self.neighbors(NeighborMethod::Custom(Arc::new(search)))
    }
    /// A user-written affinity instead of perplexity calibration.
    pub fn affinity(mut self, affinity: impl Affinity + 'static) -> Self {
        self.affinity = Some(Arc::new(affinity));
        self
    }
    /// The affinity of a fitted model's stages (none: the perplexity calibration).
    pub(crate) fn shared_affinity(mut self, affinity: Option<Arc<dyn Affinity>>) -> Self {
        self.affinity = affinity;
        self
    }
    /// A user-written repulsion backend (shorthand for [`RepulsionMethod::custom`]).
    pub fn repulsion_backend(self, repulsion: impl Repulsion + 'static) -> Self {
        self.repulsion(RepulsionMethod::custom(repulsion))
    }
    /// A user-written initialiser (shorthand for [`Init::Custom`]).
    pub fn initializer(self, init: impl Initializer + 'static) -> Self {
        self.init(Init::Custom(Arc::new(init)))
    }

    /// The rules of the exact dense path of the SNE-family members other than t-SNE and
    /// HSSNE: all-pairs input by perplexity calibration (or the distances), Euclidean, no
    /// pinning; the stresses start from the principal components at the data's scale (their
    /// cost is not invariant to scale); exaggeration, a device of KL(P||Q), only for KL costs.
    fn check_dense_path(&self) -> Result<()> {
        let unsupported = |what: String| {
            Err(Error::Unsupported {
                backend: format!("{} (the exact dense SNE-family path)", self.method.name()),
                what,
            })
        };
        if self.repulsion.is_approximate() {
            return unsupported(
                "the scalable repulsion backends (use `RepulsionMethod::Exact` or `RepulsionMethod::Auto`)"
                    .into(),
            );
        }
        if self.metric != Metric::Euclidean {
            return unsupported(format!("the {:?} metric (the path is Euclidean)", self.metric));
        }
        if !self.pinned.is_empty() {
            return unsupported("pinned points".into());
        }
        if self.affinity.is_some() {
            return unsupported("a custom affinity (its input is all-pairs `perplexity` calibration)".into());
        }
        if !matches!(self.neighbors, NeighborMethod::Auto | NeighborMethod::Exact | NeighborMethod::Dense) {
            return unsupported(format!("the {:?} neighbour search (it uses all pairs)", self.neighbors));
        }
        let stress = self.method.input_kind() == tsne_family::InputKind::Distances;
        if matches!(self.init, Init::Spectral) || (stress && !matches!(self.init, Init::Pca)) {
            let why =
                if stress { "a stress starts from `Init::Pca` at the data's scale" } else { "no sparse P" };
            return unsupported(format!("the {:?} start ({why})", self.init));
        }
        let exaggerated = self.schedule.early_exaggeration != 1.0 || self.schedule.final_exaggeration != 1.0;
        if !self.method.uses_kl() && self.exaggeration_set && exaggerated {
            return Err(Error::InvalidParameter {
                name: "early_exaggeration",
                reason: format!(
                    "{} has no KL(P||Q) to exaggerate: leave both exaggerations at 1",
                    self.method.name()
                ),
            });
        }
        Ok(())
    }

    /// Checks every parameter, against each method the stages can resolve to.
    pub fn build(mut self) -> Result<TSne> {
        let invalid = |name, reason: String| Err(Error::InvalidParameter { name, reason });
        if !(1..=16).contains(&self.dims) {
            return invalid("dims", format!("must be between 1 and 16, got {}", self.dims));
        }
        if self.threads == Some(0) {
            return invalid("threads", "must be at least 1".into());
        }
        if self.pca == Some(0) {
            return invalid("pca", "must keep at least one component".into());
        }
        if self.max_memory == Some(0) {
            return invalid("max_memory", "must be positive".into());
        }
        self.method.check()?;
        let kernel = match self.method {
            Method::Probability { kernel: tsne_family::Kernel::HeavyTailed { alpha }, .. } => {
                StudentT::new(1.0 / alpha)?
            }
            _ => StudentT::new(self.dof)?,
        };
        self.schedule.check()?;
        let dense = crate::methods::dense_only(&self.method);
        if dense {
            self.check_dense_path()?;
            if !self.method.uses_kl() {
                self.schedule.early_exaggeration = 1.0;
                self.schedule.final_exaggeration = 1.0;
            }
        }
        self.metric.check()?;
        self.neighbors.check(self.metric, self.seed)?;
        if !dense {
            self.repulsion.check(self.dims)?;
        }
        let user_affinity = self.affinity.is_some();
        let affinity = match self.affinity {
            Some(a) => a,
            None => Arc::new(Perplexity::new(self.perplexity)?),
        };
        let pool = crate::pool::build(self.threads)?;
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
            neighbors: self.neighbors,
            affinity,
            user_affinity,
            repulsion: self.repulsion,
            init: self.init,
            pinned: self.pinned,
            threads: self.threads,
            budget: Budget::new(self.max_memory),
            on_phase: self.on_phase,
            on_start: self.on_start,
            asymmetric_affinities: self.asymmetric_affinities,
            pool,
        })
    }
}

/// A checked t-SNE configuration with its backends, ready to [`fit`](TSne::fit).
pub struct TSne {
    pub(crate) dims: usize,
    pub(crate) kernel: StudentT,
    pub(crate) seed: u64,
    pub(crate) pca: Option<usize>,
    pub(crate) metric: Metric,
    pub(crate) check_recall: Option<usize>,
    pub(crate) method: Method,
    pub(crate) perplexity: f64,
    pub(crate) schedule: Schedule,
    pub(crate) neighbors: NeighborMethod,
    pub(crate) affinity: Arc<dyn Affinity>,
    /// Whether `affinity` is the user's rather than the perplexity calibration.
    pub(crate) user_affinity: bool,
    pub(crate) repulsion: RepulsionMethod,
    pub(crate) init: Init,
    pub(crate) pinned: Vec<usize>,
    pub(crate) threads: Option<usize>,
    pub(crate) budget: Budget,
    pub(crate) on_phase: Option<PhaseListener>,
    pub(crate) on_start: Option<StartListener>,
    pub(crate) asymmetric_affinities: bool,
    pub(crate) pool: Option<rayon::ThreadPool>,
}

impl TSne {
    /// A builder with the standard defaults.
    pub fn builder() -> TSneBuilder {
        TSneBuilder::default()
    }

    /// Runs `f` in this configuration's thread pool (rayon's global pool without one).
    pub(crate) fn in_pool<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        crate::pool::install(self.pool.as_ref(), f)
    }
}
