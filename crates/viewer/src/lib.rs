//! Interactive maps of 2-D embeddings in one self-contained HTML file.
//!
//! A [`Map`] holds the positions of `n` points, optional labels, row ids, metadata columns and
//! optimisation snapshots; [`Map::html`] gives the page and [`Map::write`] writes it. The page
//! opens from disk with no server and makes no request: its script, style and data are inline
//! (the data compressed and base64-encoded, see [`decode`] for the format). It draws with WebGL
//! (a canvas-2D fallback), pans, zooms, shows the nearest point on hover, colours by labels or
//! any column, hides classes from the legend, searches ids and labels, selects by box or lasso
//! and downloads the selection as CSV, and replays the snapshots.
//!
//! ```
//! use tsne_viewer::{Column, Map};
//!
//! let positions = [0.0, 0.0, 1.0, 0.5, -1.0, 2.0];
//! let map = Map::new(&positions, 2)?
//!     .with_title("three points")
//!     .with_labels(vec!["a".into(), "b".into(), "a".into()])?
//!     .with_column("score", Column::Numeric(vec![0.5, f64::NAN, 2.0]))?;
//! let page = map.html();
//! assert!(page.starts_with("<!DOCTYPE html>"));
//! # Ok::<(), tsne_viewer::ViewerError>(())
//! ```

#![forbid(unsafe_code)]

pub mod colours;
mod decode;
mod encode;
mod error;
mod page;

use std::path::Path;

pub use decode::{decode, Decoded};
pub use error::ViewerError;

/// A metadata column: one value per point.
#[derive(Debug, Clone, PartialEq)]
pub enum Column {
    /// Numbers, coloured with a continuous colour map; NaN is a missing value.
    Numeric(Vec<f64>),
    /// Classes, coloured with the categorical palette.
    Categorical(Vec<String>),
}

impl Column {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            Column::Numeric(v) => v.len(),
            Column::Categorical(v) => v.len(),
        }
    }

    /// Whether the column holds no value.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A snapshot of the optimisation: the positions at `iteration`, row-major `n x 2`.
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The iteration the positions were taken at (0 is the start).
    pub iteration: usize,
    /// Row-major `n x 2` positions.
    pub positions: Vec<f32>,
}

/// A 2-D map and what the page shows about its points.
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    n: usize,
    positions: Vec<f32>,
    title: String,
    labels: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    columns: Vec<(String, Column)>,
    frames: Vec<Frame>,
}

impl Map {
    /// A map of row-major `n x dims` `positions`. Fails unless `dims` is 2, for no point, and
    /// for a value that is not finite (in single precision, which the page draws in), naming
    /// its row.
    pub fn new(positions: &[f64], dims: usize) -> Result<Map, ViewerError> {
        if dims != 2 {
            return Err(ViewerError::Dims { dims });
        }
        if positions.len() % 2 != 0 {
            return Err(ViewerError::Ragged { values: positions.len() });
        }
        if positions.is_empty() {
            return Err(ViewerError::Empty);
        }
        let narrow: Vec<f32> = positions.iter().map(|&v| v as f32).collect();
        if let Some(row) = first_non_finite(&narrow) {
            let (x, y) = (positions[2 * row], positions[2 * row + 1]);
            return Err(ViewerError::NotFinite { what: "positions".into(), row, x, y });
        }
        Ok(Map {
            n: positions.len() / 2,
            positions: narrow,
            title: "t-SNE map".into(),
            labels: None,
            ids: None,
            columns: Vec::new(),
            frames: Vec::new(),
        })
    }

    /// The number of points.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The page's title (default "t-SNE map").
    pub fn with_title(mut self, title: impl Into<String>) -> Map {
        self.title = title.into();
        self
    }

    /// One label per point: colours the map and is searched. Fails unless there are `n`.
    pub fn with_labels(mut self, labels: Vec<String>) -> Result<Map, ViewerError> {
        self.check_len("labels", labels.len())?;
        self.labels = Some(labels);
        Ok(self)
    }

    /// One id per point, the row names shown on hover, searched and downloaded (default:
    /// the row numbers from 0). Fails unless there are `n`.
    pub fn with_ids(mut self, ids: Vec<String>) -> Result<Map, ViewerError> {
        self.check_len("ids", ids.len())?;
        self.ids = Some(ids);
        Ok(self)
    }

    /// Adds a metadata column, shown on hover and offered to colour by. Fails unless it has
    /// `n` values, for a name already taken, and for an infinite number.
    pub fn with_column(mut self, name: impl Into<String>, column: Column) -> Result<Map, ViewerError> {
        let name = name.into();
        if self.columns.iter().any(|(taken, _)| *taken == name) {
            return Err(ViewerError::DuplicateColumn { name });
        }
        self.check_len(&format!("column `{name}`"), column.len())?;
        if let Column::Numeric(values) = &column {
            let infinite = values.iter().position(|v| (*v as f32).is_infinite());
            if let Some(row) = infinite {
                return Err(ViewerError::InfiniteValue { name, row, value: values[row] });
            }
        }
        self.columns.push((name, column));
        Ok(self)
    }

    /// Snapshots of the optimisation, in the order they are replayed (the map's own positions
    /// come last). Fails unless each holds `n x 2` finite positions.
    pub fn with_frames(mut self, frames: Vec<Frame>) -> Result<Map, ViewerError> {
        for (index, frame) in frames.iter().enumerate() {
            if frame.positions.len() != 2 * self.n {
                return Err(ViewerError::FrameLength {
                    index,
                    iteration: frame.iteration,
                    values: frame.positions.len(),
                    n: self.n,
                });
            }
            if let Some(row) = first_non_finite(&frame.positions) {
                return Err(ViewerError::FrameNotFinite { index, iteration: frame.iteration, row });
            }
        }
        self.frames = frames;
        Ok(self)
    }

    /// The whole self-contained page.
    pub fn html(&self) -> String {
        page::render(&self.title, &encode::encode(self))
    }

    /// Writes the page to `path` through a temporary file in the same folder, renamed into
    /// place: `path` is never left half written.
    pub fn write(&self, path: &Path) -> Result<(), ViewerError> {
        let io = |source| ViewerError::Io { path: path.to_path_buf(), source };
        let name = path.file_name().ok_or_else(|| io(std::io::ErrorKind::InvalidInput.into()))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.partial", std::process::id()));
        let tmp = path.with_file_name(tmp_name);
        let written = write_synced(&tmp, self.html().as_bytes()).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io(e));
        }
        Ok(())
    }

    fn check_len(&self, what: &str, len: usize) -> Result<(), ViewerError> {
        if len != self.n {
            return Err(ViewerError::Length { what: what.to_string(), len, n: self.n });
        }
        Ok(())
    }
}

/// Writes `bytes` to `path` and flushes them to the disk.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut file = std::fs::File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The first row of row-major `n x 2` `values` holding a non-finite value.
fn first_non_finite(values: &[f32]) -> Option<usize> {
    values.iter().position(|v| !v.is_finite()).map(|at| at / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_maps_are_typed_errors_naming_the_parameter() {
        let err = Map::new(&[0.0; 6], 3).unwrap_err();
        assert_eq!(err.to_string(), "the viewer draws 2-D maps: `positions` has 3 dimensions, not 2");
        assert!(matches!(Map::new(&[], 2), Err(ViewerError::Empty)));
        let err = Map::new(&[0.0, 1.0, f64::NAN, 2.0], 2).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
        let err = Map::new(&[0.0, 1e300], 2).unwrap_err();
        assert!(err.to_string().contains("row 0"), "{err}");
        let map = Map::new(&[0.0; 4], 2).unwrap();
        let err = map.clone().with_labels(vec!["a".into()]).unwrap_err();
        assert_eq!(err.to_string(), "`labels` has 1 entries but `positions` has 2 rows");
        let err = map
            .clone()
            .with_column("c", Column::Numeric(vec![1.0, 2.0]))
            .and_then(|m| m.with_column("c", Column::Categorical(vec!["x".into(), "y".into()])))
            .unwrap_err();
        assert!(matches!(err, ViewerError::DuplicateColumn { .. }));
        let err = map.clone().with_column("c", Column::Numeric(vec![1.0, f64::INFINITY])).unwrap_err();
        assert!(err.to_string().contains("row 1"), "{err}");
        let frame = Frame { iteration: 50, positions: vec![0.0, 1.0, f32::NAN, 0.0] };
        let err = map.clone().with_frames(vec![frame]).unwrap_err();
        assert!(err.to_string().contains("iteration 50") && err.to_string().contains("row 1"), "{err}");
        let frame = Frame { iteration: 0, positions: vec![0.0; 6] };
        assert!(matches!(map.with_frames(vec![frame]), Err(ViewerError::FrameLength { .. })));
    }

    #[test]
    fn write_leaves_the_page_or_nothing() {
        let dir = std::env::temp_dir().join(format!("tsne-viewer-write-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let map = Map::new(&[0.0, 0.0, 1.0, 1.0], 2).unwrap();
        let path = dir.join("m.html");
        map.write(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), map.html());
        let missing = dir.join("no-such-folder").join("m.html");
        assert!(matches!(map.write(&missing), Err(ViewerError::Io { .. })));
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["m.html"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
