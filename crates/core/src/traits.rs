//! The backend traits. Each has one required method (`Affinity` two: the affinities and the
//! neighbours they need); the rest have defaults.

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

    /// [`Affinity::affinities`] of a graph the caller no longer needs: an implementation may
    /// drop it as soon as it has read it, lowering the peak memory. Defaults to
    /// [`Affinity::affinities`].
    fn affinities_owned(&self, graph: KnnGraph) -> Result<CsrMatrix> {
        self.affinities(&graph)
    }

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

    /// Whether the backend embeds in `dims` dimensions (every count, unless it says otherwise).
    fn supports(&self, dims: usize) -> bool {
        dims >= 1
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

/// What an optimiser reports after each iteration, with a read-only view of the positions.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Iterations completed so far in this run (1-based).
    pub iteration: usize,
    /// Iterations planned for this run.
    pub total: usize,
    /// Exaggeration factor of the iteration just completed.
    pub exaggeration: f64,
    /// Momentum of the iteration just completed.
    pub momentum: f64,
    /// KL(P || Q) at the start of this iteration, reported every few iterations.
    pub kl_divergence: Option<f64>,
    /// Euclidean norm of the full gradient `dC/dY` (with exaggeration applied) over the points
    /// that move.
    pub gradient_norm: f64,
    /// The positions after this iteration, in the optimiser's row order.
    pub embedding: &'a Matrix,
    /// This iteration's `dC/dY / 4` as the step used it (pinned rows zero, long rows
    /// shortened), row-major in the optimiser's row order.
    pub gradient: &'a [f64],
    /// The optimiser's gains after this iteration's step, in the same layout.
    pub gains: &'a [f64],
    /// When the optimiser works on renumbered points: input point `i` is row `row_of[i]` of
    /// `embedding`.
    pub row_of: Option<&'a [u32]>,
}

impl Progress<'_> {
    /// Norm of `dC/dY` with every coordinate multiplied by its gain: scikit-learn's
    /// `grad_norm`, whose `grad *= gains` comes before `linalg.norm(grad)`.
    pub fn gains_weighted_gradient_norm(&self) -> f64 {
        let sum: f64 = self.gradient.iter().zip(self.gains).map(|(g, k)| (g * k) * (g * k)).sum();
        4.0 * sum.sqrt()
    }

    /// The position of input point `i`.
    pub fn position(&self, i: usize) -> &[f64] {
        match self.row_of {
            Some(rows) => self.embedding.row(rows[i] as usize),
            None => self.embedding.row(i),
        }
    }

    /// The positions in input order (a copy).
    pub fn positions(&self) -> Matrix {
        let (n, d) = (self.embedding.rows(), self.embedding.cols());
        let mut out = Vec::with_capacity(n * d);
        for i in 0..n {
            out.extend_from_slice(self.position(i));
        }
        Matrix::from_parts(n, d, out)
    }
}

/// Why an optimisation run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Every planned iteration ran.
    Completed,
    /// The gradient norm fell below the schedule's tolerance.
    GradientTolerance,
    /// The KL divergence changed by less than the schedule's relative tolerance over its last
    /// reporting interval.
    KlTolerance,
    /// The observer returned `ControlFlow::Break`.
    Callback,
}

impl Stop {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::GradientTolerance => "gradient-tolerance",
            Self::KlTolerance => "kl-tolerance",
            Self::Callback => "callback",
        }
    }
}

/// A stretch of consecutive iterations that ran with the same settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Iterations in the stretch.
    pub iterations: usize,
    /// Exaggeration factor on P.
    pub exaggeration: f64,
    /// Momentum.
    pub momentum: f64,
    /// Learning rate.
    pub learning_rate: f64,
}

/// The outcome of an optimisation run.
#[derive(Debug, Clone, PartialEq)]
pub struct OptimizeReport {
    /// Iterations performed.
    pub iterations: usize,
    /// KL(P || Q) at the final embedding (exact iff the repulsion backend is).
    pub kl_divergence: f64,
    /// Every KL value reported on the way, as `(iteration, kl)`.
    pub kl_history: Vec<(usize, f64)>,
    /// What ran: the settings as consecutive stretches of iterations.
    pub stages: Vec<Stage>,
    /// Why the run ended.
    pub stop: Stop,
}
