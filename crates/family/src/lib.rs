//! The SNE family through one gradient.
//!
//! The main design choice follows the "master equation" of the SNE family (Lee et al. 2013,
//! "Type 1 and 2 mixtures of Kullback-Leibler divergences as cost functions in dimensionality
//! reduction based on similarity preservation"): a method is a
//! choice of parts, each with its own derivative ([`Kernel`], [`Normalization`],
//! [`Divergence`], or a distance [`Stress`]), and [`Objective`] assembles cost and gradient
//! once for all of them on the exact O(n^2) path. Presets name the classic methods.
//!
//! ```
//! use tsne_core::Matrix;
//! use tsne_family::{Method, Objective};
//!
//! // Three points, input distances of a 3-4-5 triangle, embedded by metric MDS.
//! let r = vec![0.0, 3.0, 4.0, 3.0, 0.0, 5.0, 4.0, 5.0, 0.0];
//! let mut mds = Objective::new(Method::mds(), 3, r)?;
//! let y = Matrix::new(3, 2, vec![0.0, 0.0, 3.0, 0.0, 0.0, 4.0])?;
//! let mut grad = vec![0.0; 6];
//! let stress = mds.cost_and_gradient(&y, 1.0, &mut grad)?;
//! assert!(stress < 1e-24 && grad.iter().all(|g| g.abs() < 1e-12)); // a perfect embedding
//! # Ok::<(), tsne_core::Error>(())
//! ```

#![forbid(unsafe_code)]
// Loops over the few coordinates of a point index several arrays at once; ranges read
// clearer there than zipped iterators.
#![allow(clippy::needless_range_loop)]

mod objective;
mod parts;

pub use objective::{InputKind, Method, Objective};
pub use parts::{Divergence, Kernel, Normalization, Stress, PROBABILITY_FLOOR};
