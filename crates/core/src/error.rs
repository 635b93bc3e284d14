//! The one error type of the library crates.

/// Everything that can go wrong between raw points and an embedding.
///
/// Each variant names the offending value so the message alone tells a user what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Too few points for the requested operation (t-SNE needs at least two).
    #[error("input has {n} points; at least {min} are needed")]
    TooFewPoints {
        /// Points given.
        n: usize,
        /// Points needed.
        min: usize,
    },
    /// A row whose length differs from the first row's.
    #[error("row {row} has {found} values, expected {expected} like the first row")]
    RaggedRow {
        /// The row (0-based).
        row: usize,
        /// The first row's length.
        expected: usize,
        /// This row's length.
        found: usize,
    },
    /// A flat buffer whose length is not `rows * cols`.
    #[error("buffer of {len} values cannot be a {rows} x {cols} matrix")]
    Shape {
        /// Rows asked for.
        rows: usize,
        /// Columns asked for.
        cols: usize,
        /// Values given.
        len: usize,
    },
    /// NaN or infinity in the input.
    #[error("non-finite value {value} at row {row}, column {col}")]
    NonFinite {
        /// The row (0-based).
        row: usize,
        /// The column (0-based).
        col: usize,
        /// The value.
        value: f64,
    },
    /// A parameter outside its domain.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter.
        name: &'static str,
        /// What is wrong with its value.
        reason: String,
    },
    /// The perplexity cannot be reached with the available neighbours.
    #[error("perplexity {perplexity} is too large for {neighbors} neighbours ({n} points): it must be below {neighbors}")]
    PerplexityTooLarge {
        /// The perplexity asked for.
        perplexity: f64,
        /// Neighbours per point available.
        neighbors: usize,
        /// Points.
        n: usize,
    },
    /// A neighbour count that needs more points than there are.
    #[error("k = {k} neighbours requested for {n} points: k must be below the number of points")]
    TooManyNeighbors {
        /// Neighbours asked for.
        k: usize,
        /// Points.
        n: usize,
    },
    /// Every point sits at the same location, so no bandwidth gives a perplexity.
    #[error("all {n} points are identical: their distances carry no structure to embed")]
    IdenticalPoints {
        /// Points.
        n: usize,
    },
    /// Two objects that must agree in a dimension do not.
    #[error("dimension mismatch in {what}: expected {expected}, found {found}")]
    DimensionMismatch {
        /// What disagrees.
        what: &'static str,
        /// The size required.
        expected: usize,
        /// The size given.
        found: usize,
    },
    /// A backend asked to do something it cannot.
    #[error("{backend} does not support {what}")]
    Unsupported {
        /// The backend.
        backend: String,
        /// What it cannot do.
        what: String,
    },
    /// A neighbour graph or affinity matrix that breaks its invariants.
    #[error("invalid {what}: {reason}")]
    InvalidGraph {
        /// The object.
        what: &'static str,
        /// The broken invariant.
        reason: String,
    },
    /// An approximate neighbour search that did not find enough neighbours.
    #[error("the {search} search found too few neighbours: {reason}")]
    SearchIncomplete {
        /// The search.
        search: &'static str,
        /// How many points fell short, and what to change.
        reason: String,
    },
    /// A numerical procedure met a degenerate case it cannot continue from.
    #[error("{procedure} failed: {reason}")]
    Degenerate {
        /// The procedure.
        procedure: &'static str,
        /// The degenerate case, and what to do instead.
        reason: String,
    },
    /// A stage would need more memory than the user's limit or the machine allows.
    #[error("{stage}: needs about {}, more than the {} {bound}; {hint}", human_bytes(*.needed), human_bytes(*.allowed))]
    MemoryLimit {
        /// The stage.
        stage: &'static str,
        /// Its estimate, in bytes.
        needed: u64,
        /// The bytes allowed.
        allowed: u64,
        /// Where the bound comes from (the user's limit or the machine).
        bound: &'static str,
        /// What would fit.
        hint: String,
    },
    /// A file that could not be read or written.
    #[error("cannot {action} {path}: {reason}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The file.
        path: String,
        /// The system's message.
        reason: String,
    },
    /// A file that is not a saved model.
    #[error("{path} is not a t-SNE model file")]
    NotAModel {
        /// The file.
        path: String,
    },
    /// A saved model of a format version this build does not read.
    #[error("{path} is a model file of format version {found}; this build reads version {supported}")]
    ModelVersion {
        /// The file.
        path: String,
        /// Its format version.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A saved model that is truncated or corrupted.
    #[error("{path} is a damaged model file: {reason}")]
    CorruptModel {
        /// The file.
        path: String,
        /// What is damaged.
        reason: String,
    },
    /// The optimisation produced a non-finite gradient, normalisation Z or KL divergence.
    #[error("optimisation diverged at iteration {iteration}: the gradient, Z or KL is not finite (try a smaller learning rate)")]
    Diverged {
        /// The iteration (1-based) whose values were not finite.
        iteration: usize,
    },
}

/// Bytes as a short figure for messages (`1.5 GB`, decimal units).
pub fn human_bytes(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..=999_999 => format!("{:.0} kB", b / 1e3),
        1_000_000..=999_999_999 => format!("{:.0} MB", b / 1e6),
        1_000_000_000..=999_999_999_999 => format!("{:.1} GB", b / 1e9),
        _ => format!("{:.1} TB", b / 1e12),
    }
}

/// Shorthand used across the workspace.
pub type Result<T, E = Error> = std::result::Result<T, E>;
