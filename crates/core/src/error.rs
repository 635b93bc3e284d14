//! The one error type of the library crates.

/// Everything that can go wrong between raw points and an embedding.
///
/// Each variant names the offending value so the message alone tells a user what to fix.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Too few points for the requested operation (t-SNE needs at least two).
    #[error("input has {n} points; at least {min} are needed")]
    TooFewPoints { n: usize, min: usize },
    /// A row whose length differs from the first row's.
    #[error("row {row} has {found} values, expected {expected} like the first row")]
    RaggedRow { row: usize, expected: usize, found: usize },
    /// A flat buffer whose length is not `rows * cols`.
    #[error("buffer of {len} values cannot be a {rows} x {cols} matrix")]
    Shape { rows: usize, cols: usize, len: usize },
    /// NaN or infinity in the input.
    #[error("non-finite value {value} at row {row}, column {col}")]
    NonFinite { row: usize, col: usize, value: f64 },
    /// A parameter outside its domain.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter { name: &'static str, reason: String },
    /// The perplexity cannot be reached with the available neighbours.
    #[error("perplexity {perplexity} is too large for {neighbors} neighbours ({n} points): it must be below {neighbors}")]
    PerplexityTooLarge { perplexity: f64, neighbors: usize, n: usize },
    /// A neighbour count that needs more points than there are.
    #[error("k = {k} neighbours requested for {n} points: k must be below the number of points")]
    TooManyNeighbors { k: usize, n: usize },
    /// Every point sits at the same location, so no bandwidth gives a perplexity.
    #[error("all {n} points are identical: their distances carry no structure to embed")]
    IdenticalPoints { n: usize },
    /// Two objects that must agree in a dimension do not.
    #[error("dimension mismatch in {what}: expected {expected}, found {found}")]
    DimensionMismatch { what: &'static str, expected: usize, found: usize },
    /// A backend asked to do something it cannot.
    #[error("{backend} does not support {what}")]
    Unsupported { backend: String, what: String },
    /// A neighbour graph or affinity matrix that breaks its invariants.
    #[error("invalid {what}: {reason}")]
    InvalidGraph { what: &'static str, reason: String },
    /// A stage would need more memory than the user's limit or the machine allows.
    #[error("{stage}: needs about {}, more than the {} {bound}; {hint}", human_bytes(*.needed), human_bytes(*.allowed))]
    MemoryLimit { stage: &'static str, needed: u64, allowed: u64, bound: &'static str, hint: String },
    /// A file that could not be read or written.
    #[error("cannot {action} {path}: {reason}")]
    Io { action: &'static str, path: String, reason: String },
    /// A file that is not a saved model.
    #[error("{path} is not a t-SNE model file")]
    NotAModel { path: String },
    /// A saved model of a format version this build does not read.
    #[error("{path} is a model file of format version {found}; this build reads version {supported}")]
    ModelVersion { path: String, found: u32, supported: u32 },
    /// A saved model that is truncated or corrupted.
    #[error("{path} is a damaged model file: {reason}")]
    CorruptModel { path: String, reason: String },
    /// The optimisation produced a non-finite gradient, normalisation Z or KL divergence.
    #[error("optimisation diverged at iteration {iteration}: the gradient, Z or KL is not finite (try a smaller learning rate)")]
    Diverged { iteration: usize },
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
