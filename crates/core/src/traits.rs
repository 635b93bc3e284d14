//! The backend traits. Each has one required method; the rest have defaults.

use crate::{CsrMatrix, KnnGraph, Matrix, Result, StudentT};

/// Finds the `k` nearest neighbours of every point.
///
/// Required: [`NeighborSearch::search`]. Implementations return rows sorted by distance and
/// fail with [`Error::TooManyNeighbors`](crate::Error::TooManyNeighbors) when `k >= n`.
pub trait NeighborSearch: Send + Sync {
    /// The kNN graph of `points` (one point per row).
    fn search(&self, points: &Matrix, k: usize) -> Result<KnnGraph>;

    /// A short name for reports (`"exact"`, `"hnsw"`).
    fn name(&self) -> &str {
        "custom"
    }
}

/// Turns a neighbour graph into joint input affinities P.
///
/// Required: [`Affinity::affinities`]. The result is symmetric, sums to one and has no
/// diagonal. A graph with `k = n - 1` gives the dense exact P.
pub trait Affinity: Send + Sync {
    /// The joint affinities of the points described by `graph`.
    fn affinities(&self, graph: &KnnGraph) -> Result<CsrMatrix>;

    /// How many neighbours this affinity wants for `n` points (e.g. `3 * perplexity`).
    fn neighbors_needed(&self, n: usize) -> usize;

    /// A short name for reports.
    fn name(&self) -> &str {
        "custom"
    }
}

/// Computes the repulsive half of the gradient and the normalisation Z.
///
/// Required: [`Repulsion::repulsion`]. Implementations may keep buffers between calls
/// (hence `&mut self`) so the optimisation loop does not allocate.
pub trait Repulsion: Send {
    /// Writes `forces_i = sum_{j != i} w_ij u_ij (y_i - y_j)` (row-major, `n * dims`, see
    /// [`StudentT`] for `w` and `u`) and returns `Z = sum_{i != j} w_ij`.
    ///
    /// Fails with [`Error::Unsupported`](crate::Error::Unsupported) for an embedding
    /// dimension or kernel the backend cannot handle.
    fn repulsion(&mut self, embedding: &Matrix, kernel: StudentT, forces: &mut [f64]) -> Result<f64>;

    /// Whether forces and Z are exact (so the reported KL divergence is exact).
    fn is_exact(&self) -> bool {
        false
    }

    /// A short name for reports.
    fn name(&self) -> &str {
        "custom"
    }
}

/// Produces the starting embedding.
///
/// Required: [`Initializer::initialize`].
pub trait Initializer: Send + Sync {
    /// An `input.n x dims` embedding, reproducible for a given `seed`.
    fn initialize(&self, input: &InitInput<'_>, dims: usize, seed: u64) -> Result<Matrix>;

    /// A short name for reports.
    fn name(&self) -> &str {
        "custom"
    }
}

/// What an [`Initializer`] may look at: the input coordinates, absent when the fit started
/// from precomputed distances, neighbours or affinities, and the joint affinities P, absent
/// on paths that do not build a sparse P.
#[derive(Debug, Clone, Copy)]
pub struct InitInput<'a> {
    /// Number of points to place.
    pub n: usize,
    /// One point per row, when the input has coordinates.
    pub points: Option<&'a Matrix>,
    /// The joint affinities P, when computed.
    pub affinities: Option<&'a CsrMatrix>,
}

impl<'a> InitInput<'a> {
    /// Coordinates only.
    pub fn points(points: &'a Matrix) -> Self {
        Self { n: points.rows(), points: Some(points), affinities: None }
    }

    /// The coordinates, or [`Error::Unsupported`](crate::Error::Unsupported) naming `backend`.
    pub fn require_points(&self, backend: &str) -> Result<&'a Matrix> {
        self.points.ok_or_else(|| crate::Error::Unsupported {
            backend: backend.into(),
            what: "inputs without coordinates (precomputed distances, neighbours or affinities); \
                   use spectral or random initialisation"
                .into(),
        })
    }

    /// The affinities, or [`Error::Unsupported`](crate::Error::Unsupported) naming `backend`.
    pub fn require_affinities(&self, backend: &str) -> Result<&'a CsrMatrix> {
        self.affinities.ok_or_else(|| crate::Error::Unsupported {
            backend: backend.into(),
            what: "a path without sparse affinities (the dense SNE-family path)".into(),
        })
    }
}

/// Which stage of the optimisation an iteration belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// P multiplied by the early-exaggeration factor.
    EarlyExaggeration,
    /// Plain P.
    Final,
}

/// What an optimiser reports after each iteration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Iterations completed so far (1-based).
    pub iteration: usize,
    /// Iterations planned in total.
    pub total: usize,
    /// Phase of the iteration just completed.
    pub phase: Phase,
    /// KL(P || Q) at the start of this iteration, reported every few iterations.
    pub kl_divergence: Option<f64>,
    /// Euclidean norm of the full KL gradient `dC/dY` (with exaggeration applied).
    pub gradient_norm: f64,
}

/// The outcome of [`Optimizer::optimize`].
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeReport {
    /// Iterations performed.
    pub iterations: usize,
    /// KL(P || Q) at the final embedding (exact iff the repulsion backend is).
    pub kl_divergence: f64,
    /// Every KL value reported on the way, as `(iteration, kl)`.
    pub kl_history: Vec<(usize, f64)>,
}

/// Drives gradient iterations on an embedding.
///
/// Required: [`Optimizer::optimize`].
pub trait Optimizer {
    /// Moves `embedding` to (a local) minimum of KL(P || Q), calling `observer` after every
    /// iteration.
    fn optimize(
        &mut self,
        p: &CsrMatrix,
        embedding: &mut Matrix,
        kernel: StudentT,
        repulsion: &mut dyn Repulsion,
        observer: &mut dyn FnMut(&Progress),
    ) -> Result<OptimizeReport>;
}
