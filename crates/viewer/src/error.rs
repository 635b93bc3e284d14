//! The errors of building, writing and reading a map page.

use std::path::PathBuf;

/// Why a map cannot be built, written or read. Messages name the parameter in the library's
/// words (`` `positions` ``, `` `labels` ``, `` `ids` ``, a column by its name), which front
/// ends respell as their own flags or keywords.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ViewerError {
    /// The positions are not 2-D.
    #[error("the viewer draws 2-D maps: `positions` has {dims} dimensions, not 2")]
    Dims {
        /// The dimensions given.
        dims: usize,
    },
    /// The number of values is not a multiple of 2.
    #[error("`positions` holds {values} values, not whole rows of 2")]
    Ragged {
        /// The number of values given.
        values: usize,
    },
    /// No point.
    #[error("`positions` is empty: the viewer needs at least one point")]
    Empty,
    /// A position is NaN or infinite (or beyond the range of `f32`).
    #[error("row {row} of `{what}` is not finite in single precision: ({x}, {y})")]
    NotFinite {
        /// What holds it (`positions`).
        what: String,
        /// Its row, from 0.
        row: usize,
        /// Its first coordinate.
        x: f64,
        /// Its second coordinate.
        y: f64,
    },
    /// Labels, ids or a column with other than one entry per point.
    #[error("{what} has {len} entries but `positions` has {n} rows", what = quoted(what))]
    Length {
        /// `labels`, `ids` or "column `name`".
        what: String,
        /// The entries given.
        len: usize,
        /// The number of points.
        n: usize,
    },
    /// Two metadata columns of one name.
    #[error("a column named `{name}` was already added: column names must be unique")]
    DuplicateColumn {
        /// The repeated name.
        name: String,
    },
    /// An infinite value in a numeric column (NaN is a missing value; infinity is not).
    #[error(
        "column `{name}` holds {value} in row {row}: numbers must be finite (NaN marks a missing value)"
    )]
    InfiniteValue {
        /// The column.
        name: String,
        /// Its row, from 0.
        row: usize,
        /// The value.
        value: f64,
    },
    /// A snapshot with other than `n x 2` positions.
    #[error("`frames` entry {index} (iteration {iteration}) holds {values} values, not {n} rows of 2")]
    FrameLength {
        /// Its place in `frames`.
        index: usize,
        /// Its iteration.
        iteration: usize,
        /// The values it holds.
        values: usize,
        /// The number of points.
        n: usize,
    },
    /// A snapshot with a NaN or infinite position.
    #[error("`frames` entry {index} (iteration {iteration}) is not finite in row {row}")]
    FrameNotFinite {
        /// Its place in `frames`.
        index: usize,
        /// Its iteration.
        iteration: usize,
        /// The row, from 0.
        row: usize,
    },
    /// The page could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Io {
        /// The page's path.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A page whose data cannot be read back ([`crate::decode`]).
    #[error("not a map page of this viewer: {0}")]
    Decode(String),
}

/// `labels` and `ids` as terms; "column `x`" as it is.
fn quoted(what: &str) -> String {
    if what.starts_with("column") {
        what.to_string()
    } else {
        format!("`{what}`")
    }
}
