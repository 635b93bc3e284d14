//! Repulsion backends: the expensive half of the t-SNE gradient.
//!
//! Every backend implements [`tsne_core::Repulsion`]: given the embedding it writes
//! `sum_j w_ij u_ij (y_i - y_j)` for each point and returns `Z = sum_{i != j} w_ij`. The main
//! design choice: [`Exact`] is the oracle, and every approximation ([`BarnesHut`],
//! [`FftInterpolation`]) is tested against it with the same test body.
//!
//! ```
//! use tsne_core::{Matrix, Repulsion, StudentT};
//! use tsne_repulsion::{BarnesHut, Exact};
//!
//! let y = Matrix::new(3, 2, vec![0.0, 0.0, 1.0, 0.0, 0.0, 2.0])?;
//! let mut exact = vec![0.0; 6];
//! let z = Exact::new().repulsion(&y, StudentT::CAUCHY, &mut exact)?;
//! let mut tree = vec![0.0; 6];
//! let z_tree = BarnesHut::new(0.0)?.repulsion(&y, StudentT::CAUCHY, &mut tree)?;
//! assert!((z - z_tree).abs() < 1e-12 * z);
//! # Ok::<(), tsne_core::Error>(())
//! ```

// `unsafe` in four places, each with its SAFETY note: the Barnes-Hut evaluation compiled for
// AVX2 (its definition and its call, after the CPU was checked for it), and the FFT column
// pass's shared view of the grids (`Columns`: its `Sync` and its accessors, each task touching
// only its own columns).
#![deny(unsafe_code)]
// Loops over the few coordinates of a point index several arrays at once; ranges read
// clearer there than zipped iterators.
#![allow(clippy::needless_range_loop)]

mod barnes_hut;
mod exact;
mod fft;

pub use barnes_hut::{BarnesHut, ReferenceTree};
pub use exact::Exact;
pub use fft::{grid_bytes, next_smooth, FftInterpolation, FftParams, ReferenceGrid, MAX_NODES_2D};
