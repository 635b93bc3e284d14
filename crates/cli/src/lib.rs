//! Pieces of the `tsne` command that other tools of the workspace reuse: the PNG plots.
//!
//! ```no_run
//! use tsne::Matrix;
//!
//! let y = Matrix::new(3, 2, vec![0.0, 0.0, 1.0, 0.5, -1.0, 2.0])?;
//! tsne_cli::plot::scatter(std::path::Path::new("y.png"), &y, None, "three points")?;
//! # Ok::<(), anyhow::Error>(())
//! ```

#![forbid(unsafe_code)]

pub mod plot;
