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

/// Bytes as mebibytes, for reports.
fn mib(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| b as f64 / 1_048_576.0)
}

impl Summary {
    /// The summary as one JSON object: every field under its own name, the stages as objects,
    /// `kl_history` as `[iteration, kl]` pairs, `timings_s` in seconds and
    /// `peak_rss_mib_after` in MiB (`null` where the OS does not report it). The one
    /// serialisation the CLI's `--json` and the Python package's `summary()` share.
    pub fn to_json(&self) -> serde_json::Value {
        let secs = |d: Duration| d.as_secs_f64();
        let stages: Vec<_> = self
            .stages
            .iter()
            .map(|st| {
                serde_json::json!({
                    "iterations": st.iterations,
                    "exaggeration": st.exaggeration,
                    "momentum": st.momentum,
                    "learning_rate": st.learning_rate,
                })
            })
            .collect();
        let t = &self.timings;
        serde_json::json!({
            "n": self.n,
            "dims_in": self.dims_in,
            "dims_out": self.dims_out,
            "k": self.k,
            "nnz": self.nnz,
            "recall": self.recall,
            "learning_rate": self.learning_rate,
            "iterations": self.iterations,
            "kl_divergence": finite(self.kl_divergence),
            "kl_history": self.kl_history,
            "stages": stages,
            "stop": self.stop.name(),
            "neighbors": self.neighbors,
            "affinity": self.affinity,
            "repulsion": self.repulsion,
            "init": self.init,
            "pinned": self.pinned,
            "threads": self.threads,
            "timings_s": {
                "preprocessing": secs(t.preprocessing),
                "neighbors": secs(t.neighbors),
                "affinities": secs(t.affinities),
                "initialization": secs(t.initialization),
                "optimize": secs(t.optimize),
                "total": secs(t.total),
            },
            "peak_rss_mib_after": {
                "neighbors": mib(self.peak_memory.neighbors),
                "affinities": mib(self.peak_memory.affinities),
                "optimize": mib(self.peak_memory.optimize),
            },
        })
    }
}

/// JSON has no NaN: a value not computed yet is `null`.
fn finite(v: f64) -> Option<f64> {
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tsne_core::OptimizeReport;

    #[test]
    fn json_carries_every_field_and_no_nan() {
        let mut s = Summary::new(10, 3, 2);
        assert!(s.to_json()["kl_divergence"].is_null());
        let report = OptimizeReport {
            iterations: 7,
            kl_divergence: 0.5,
            kl_history: vec![(7, 0.5)],
            stages: vec![Stage { iterations: 7, exaggeration: 12.0, momentum: 0.5, learning_rate: 50.0 }],
            stop: Stop::Callback,
        };
        s.record(report, 50.0);
        let j = s.to_json();
        assert_eq!(j["iterations"], 7);
        assert_eq!(j["kl_divergence"], 0.5);
        assert_eq!(j["kl_history"][0][0], 7);
        assert_eq!(j["stages"][0]["exaggeration"], 12.0);
        assert_eq!(j["stop"], "callback");
        assert_eq!(j["dims_in"], 3);
        assert!(j["timings_s"]["total"].as_f64() == Some(0.0));
    }
}
