//! t-SNE: embed high-dimensional points in one, two or three dimensions.
//!
//! This crate is the API boundary of the workspace: a builder whose `build()` checks every
//! parameter once (against each method `auto` can resolve to), a [`TSne`] whose
//! [`TSne::fit`] runs input -> neighbours -> affinities -> initialisation -> optimisation,
//! and the fitted model it returns, an [`Embedding`] that can go on: continue the
//! optimisation, place new points, add them, pin points, save and load. Each stage is a
//! trait object from [`tsne_core`], so any backend can be swapped for a user-written one
//! (the `Custom` variant of each stage's enum).
//!
//! ```
//! use tsne::{Embedding, Matrix, Schedule, TSne};
//!
//! // Two well-separated groups of ten points in 3-D.
//! let rows: Vec<Vec<f64>> = (0..20)
//!     .map(|i| {
//!         let c = if i < 10 { 0.0 } else { 10.0 };
//!         vec![c + 0.1 * i as f64, c - 0.05 * i as f64, c + 0.02 * (i * i % 7) as f64]
//!     })
//!     .collect();
//! let points = Matrix::from_rows(&rows)?;
//! let mut model = TSne::builder().perplexity(3.0).iterations(300).seed(42).build()?.fit(&points)?;
//! assert_eq!((model.positions().rows(), model.positions().cols()), (20, 2));
//! assert!(model.summary().kl_divergence.is_finite());
//!
//! // Continue with late exaggeration, place a new point, keep the model for later.
//! model.optimize(&Schedule::constant(50, 1.5, 0.8))?;
//! let new = Matrix::from_rows(&[vec![10.3, 9.8, 10.0]])?;
//! let placed = model.transform(&new)?;
//! let path = std::env::temp_dir().join(format!("tsne-doc-{}.tsne", std::process::id()));
//! model.save(&path)?;
//! let loaded = Embedding::load(&path)?;
//! assert_eq!(loaded.transform(&new)?, placed);
//! # std::fs::remove_file(&path).ok();
//! # Ok::<(), tsne::Error>(())
//! ```
//!
//! Determinism: the same points, parameters and seed give a bit-identical embedding, whatever
//! the number of threads: every parallel sum in the workspace has a fixed order.

#![forbid(unsafe_code)]

mod config;
mod embedding;
mod family;
mod memory;
mod methods;
pub mod metrics;
mod model_file;
mod names;
mod phases;
mod pipeline;
mod pool;
pub mod spelling;
mod summary;
mod transform;

pub use config::{TSne, TSneBuilder};
pub use embedding::{every, Callback, Embedding, PartialEmbedding};
pub use memory::{available_memory, peak_resident_memory};
pub use methods::{Init, NeighborMethod, RepulsionMethod, SharedRepulsion};
pub use model_file::FORMAT_VERSION;
pub use phases::{Phase, PhaseEvent, PhaseListener, StartListener};
pub use pipeline::Input;
pub use summary::{PeakMemory, Summary, Timings};
pub use transform::{GridBoundary, PlacementRepulsion, PlacementStart, PointAffinities, Transform};
pub use tsne_affinity::{
    DistanceScale, FixedSigma, HnswParams, Metric, Multiscale, MultiscaleMixture, NnDescentParams,
    Perplexity, Uniform,
};
pub use tsne_core::{
    CsrMatrix, Error, KnnGraph, Matrix, MatrixF32, OptimizeReport, PointRows, Progress, Result, SparsePoints,
    Stage, Stop, StudentT,
};
pub use tsne_family::Method;
pub use tsne_optim::{LearningRate, PerIteration, Schedule};
pub use tsne_repulsion::FftParams;

/// The backend crates, for users who implement or configure a stage themselves.
pub mod backends {
    pub use tsne_affinity as affinity;
    pub use tsne_core as core;
    pub use tsne_family as family;
    pub use tsne_init as init;
    pub use tsne_optim as optim;
    pub use tsne_repulsion as repulsion;
}
