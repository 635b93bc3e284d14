//! Input side of t-SNE: nearest neighbours and the affinities P built from them.
//!
//! The main design choice: affinities are always computed from a [`KnnGraph`](tsne_core::KnnGraph),
//! so the exact dense P of small problems is the same code path with `k = n - 1` neighbours,
//! and any neighbour search (exact, approximate, precomputed) feeds any affinity.
//!
//! ```
//! use tsne_affinity::{BruteForce, Perplexity};
//! use tsne_core::{Affinity, Matrix, NeighborSearch};
//!
//! let x = Matrix::new(6, 1, vec![0.0, 0.1, 0.3, 5.0, 5.2, 5.3])?;
//! let affinity = Perplexity::new(2.0)?;
//! let graph = BruteForce::default().search(&x, affinity.neighbors_needed(x.rows()))?;
//! let p = affinity.affinities(&graph)?;
//! assert!((p.sum() - 1.0).abs() < 1e-6); // stored in f32
//! assert!(p.get(0, 1) > p.get(0, 3));
//! # Ok::<(), tsne_core::Error>(())
//! ```

// `!(x > 0.0)` is written on purpose: it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

mod descent;
mod exact;
mod hnsw;
mod metric;
mod other;
mod perplexity;
mod precomputed;
mod sparse;

pub use descent::{NnDescent, NnDescentParams};
pub use exact::{nearest, nearest_rows, BruteForce, ReferenceNeighbors};
pub use hnsw::{Hnsw, HnswParams};
pub use metric::Metric;
pub use other::{FixedSigma, Multiscale, MultiscaleMixture, Uniform};
pub use perplexity::{calibrate_row, calibrate_row_beta, calibrate_row_scaled, DistanceScale, Perplexity};
pub use precomputed::{affinities_as_given, joint_affinities, PrecomputedDistances};
pub use sparse::sparse_neighbors;
