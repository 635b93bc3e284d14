//! Repulsion backends: the expensive half of the t-SNE gradient.
//!
//! Every backend implements [`tsne_core::Repulsion`]: given the embedding it writes
//! `sum_j w_ij u_ij (y_i - y_j)` for each point and returns `Z = sum_{i != j} w_ij`. The main
//! design choice: [`Exact`] is the oracle, and every approximation is tested against it with the
//! same test body.
//!
//! ```
//! use tsne_core::{Matrix, Repulsion, StudentT};
//! use tsne_repulsion::Exact;
//!
//! let y = Matrix::new(2, 2, vec![0.0, 0.0, 1.0, 0.0])?;
//! let mut forces = vec![0.0; 4];
//! let z = Exact::new().repulsion(&y, StudentT::CAUCHY, &mut forces)?;
//! assert_eq!(z, 1.0); // w_01 + w_10 = 1/2 + 1/2
//! assert_eq!(forces, vec![-0.25, 0.0, 0.25, 0.0]);
//! # Ok::<(), tsne_core::Error>(())
//! ```

mod exact;

pub use exact::Exact;
