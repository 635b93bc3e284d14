//! What a fit did: sizes, backends, the iterations that ran, timings.

use std::time::Duration;

use tsne_core::{Stage, Stop};

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

/// The peak resident memory of the process (bytes, where the OS reports it) when each phase
/// of the fit ended. The peak never falls, so the phase that raised it is the one whose value
/// exceeds the previous phase's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PeakMemory {
    /// After the neighbour search (PCA included).
    pub neighbors: Option<u64>,
    /// After the affinities.
    pub affinities: Option<u64>,
    /// After the optimisation.
    pub optimize: Option<u64>,
}

/// What a fit did, kept up to date by later [`optimize`](crate::Embedding::optimize) calls.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Points embedded.
    pub n: usize,
    /// Input dimension (0 when the input had no coordinates).
    pub dims_in: usize,
    /// Output dimension.
    pub dims_out: usize,
    /// Neighbours per point used for P.
    pub k: usize,
    /// Stored entries of P.
    pub nnz: usize,
    /// Recall@k of the neighbour search against brute force, when asked for.
    pub recall: Option<f64>,
    /// Learning rate of the last run.
    pub learning_rate: f64,
    /// Iterations run, continuations included.
    pub iterations: usize,
    /// KL(P || Q) of the current embedding.
    pub kl_divergence: f64,
    /// KL values reported during the runs, as `(iteration, kl)` counted from the fit's start.
    pub kl_history: Vec<(usize, f64)>,
    /// The settings that ran, as consecutive stretches of iterations.
    pub stages: Vec<Stage>,
    /// Why the last run ended.
    pub stop: Stop,
    /// Name of the neighbour backend.
    pub neighbors: String,
    /// Name of the affinity.
    pub affinity: String,
    /// Name of the repulsion backend.
    pub repulsion: String,
    /// Name of the initialiser.
    pub init: String,
    /// Points pinned in the last run.
    pub pinned: usize,
    /// Worker threads used.
    pub threads: usize,
    /// Phase timings of the fit.
    pub timings: Timings,
    /// The process's peak memory at the end of each phase of the fit.
    pub peak_memory: PeakMemory,
}

impl Summary {
    /// The summary of `n` points (`dims_in` -> `dims_out`) before anything has run: the one
    /// place its fields get their starting values.
    pub(crate) fn new(n: usize, dims_in: usize, dims_out: usize) -> Self {
        Self {
            n,
            dims_in,
            dims_out,
            k: 0,
            nnz: 0,
            recall: None,
            learning_rate: 0.0,
            iterations: 0,
            kl_divergence: f64::NAN,
            kl_history: Vec::new(),
            stages: Vec::new(),
            stop: Stop::Completed,
            neighbors: "none".into(),
            affinity: "none".into(),
            repulsion: "none".into(),
            init: "given".into(),
            pinned: 0,
            threads: rayon::current_num_threads(),
            timings: Timings::default(),
            peak_memory: PeakMemory::default(),
        }
    }

    /// Appends a run's report (from iteration `self.iterations` on).
    pub(crate) fn record(&mut self, report: tsne_core::OptimizeReport, learning_rate: f64) {
        let offset = self.iterations;
        self.kl_history.extend(report.kl_history.into_iter().map(|(it, kl)| (it + offset, kl)));
        for st in report.stages {
            match self.stages.last_mut() {
                Some(last)
                    if (last.exaggeration, last.momentum, last.learning_rate)
                        == (st.exaggeration, st.momentum, st.learning_rate) =>
                {
                    last.iterations += st.iterations
                }
                _ => self.stages.push(st),
            }
        }
        self.iterations += report.iterations;
        self.kl_divergence = report.kl_divergence;
        self.stop = report.stop;
        self.learning_rate = learning_rate;
    }
}
