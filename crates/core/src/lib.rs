//! Shared vocabulary of the t-SNE workspace: data types, backend traits, the kernel, the
//! gradient and the error type.
//!
//! The main design choice: every stage of t-SNE is a trait with one or two required methods
//! ([`NeighborSearch`], [`Affinity`], [`Repulsion`], [`Initializer`]), and the
//! mathematics every backend shares (the [`StudentT`] kernel, the attractive forces, the KL
//! divergence) lives here once. This crate never does I/O.
//!
//! ```
//! use tsne_core::{gradient, CsrMatrix, Matrix, StudentT};
//!
//! // Two points with p_01 = p_10 = 1/2, one unit apart.
//! let p = CsrMatrix::from_rows(vec![vec![(1, 0.5)], vec![(0, 0.5)]])?;
//! let y = Matrix::new(2, 1, vec![0.0, 1.0])?;
//! let mut attr = vec![0.0; 2];
//! gradient::attractive_forces(&p, &y, StudentT::CAUCHY, &mut attr);
//! // p_01 * u_01 * (y_0 - y_1) with u = 1 / (1 + 1) = 1/2.
//! assert_eq!(attr, vec![-0.25, 0.25]);
//! # Ok::<(), tsne_core::Error>(())
//! ```

// Loops over the few coordinates of a point index several arrays at once; ranges read
// clearer there than zipped iterators.
#![allow(clippy::needless_range_loop)]

mod error;
pub mod gradient;
mod kernel;
mod knn;
mod matrix;
pub mod simd;
mod sparse;
mod sparse_points;
mod traits;

pub use error::{human_bytes, Error, Result};
pub use kernel::StudentT;
pub use knn::{check_neighbor_count, neighbor_order, KnnGraph};
pub use matrix::{Matrix, MatrixF32, PointRows};
pub use sparse::{inverse_permutation, CsrMatrix};
pub use sparse_points::SparsePoints;
pub use traits::{
    Affinity, InitInput, Initializer, NeighborSearch, OptimizeReport, Progress, Repulsion, Stage, Stop,
};
