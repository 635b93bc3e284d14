//! Pieces of the `tsne` command that other tools of the workspace reuse: maps of embeddings
//! (PNG or SVG) and GIF animations of a run.
//!
//! ```no_run
//! use tsne::Matrix;
//! use tsne_cli::plot::{scatter, PlotOptions};
//!
//! let y = Matrix::new(3, 2, vec![0.0, 0.0, 1.0, 0.5, -1.0, 2.0])?;
//! let options = PlotOptions { title: "three points".into(), ..PlotOptions::default() };
//! scatter(std::path::Path::new("y.png"), &y, None, &options)?;
//! # Ok::<(), anyhow::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod animate;
pub mod plot;
