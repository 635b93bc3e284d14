//! The interactive map page (`tsne_rs.view`, `Model._repr_html_`). Conversion only: arrays
//! and lists to a `tsne_viewer::Map`, its errors to Python exceptions; the page and its data
//! format are the `tsne-viewer` crate's.

use std::path::PathBuf;
use std::sync::OnceLock;

use numpy::{PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use tsne::Matrix;
use tsne_viewer::{Column, Frame, Map, ViewerError};

/// A viewer error as a Python exception, the positions named as `view`'s `Y`.
fn viewer_err(e: ViewerError) -> PyErr {
    let message = e.to_string().replace("`positions`", "`Y`");
    match e {
        ViewerError::Io { .. } => PyOSError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// The values of a 2-D float64 array in row-major order, and its shape.
fn row_major(a: &PyReadonlyArray2<'_, f64>) -> (usize, usize, Vec<f64>) {
    let (rows, cols) = (a.shape()[0], a.shape()[1]);
    let data = match a.as_slice() {
        Ok(s) if a.is_c_contiguous() => s.to_vec(),
        _ => a.as_array().iter().copied().collect(),
    };
    (rows, cols, data)
}

/// A metadata column: a 1-D float64 array is numeric (NaN = missing), a list of strings is
/// categorical.
fn column(name: &str, values: &Bound<'_, PyAny>) -> PyResult<Column> {
    if let Ok(a) = values.extract::<PyReadonlyArray1<'_, f64>>() {
        return Ok(Column::Numeric(a.as_array().to_vec()));
    }
    match values.extract::<Vec<String>>() {
        Ok(v) => Ok(Column::Categorical(v)),
        Err(_) => Err(PyTypeError::new_err(format!(
            "column `{name}` must be a 1-D float64 array or a list of strings"
        ))),
    }
}

/// The map of a 2-D embedding, ready to be written as one self-contained HTML page.
#[pyclass(module = "tsne_rs._tsne_rs", frozen)]
pub struct MapPage {
    map: Map,
    html: OnceLock<String>,
}

impl MapPage {
    fn page(&self, py: Python<'_>) -> &str {
        self.html.get_or_init(|| py.detach(|| self.map.html()))
    }
}

#[pymethods]
impl MapPage {
    /// The page: one HTML file with its script, styles and data inline.
    #[getter]
    fn html(&self, py: Python<'_>) -> String {
        self.page(py).to_owned()
    }

    /// Writes the page to `path` (a temporary file renamed into place).
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        py.detach(|| self.map.write(&path)).map_err(viewer_err)
    }

    /// The page in a sandboxed `<iframe srcdoc>`, for notebooks (IPython's rich display).
    fn _repr_html_(&self, py: Python<'_>) -> String {
        notebook_frame(self.page(py))
    }

    fn __len__(&self) -> usize {
        self.map.n()
    }

    fn __repr__(&self) -> String {
        format!("<tsne_rs map page of {} points>", self.map.n())
    }
}

/// The map of `positions` (n x 2) with optional labels, ids, metadata columns as
/// `(name, values)` pairs and optimisation snapshots as `(iteration, positions)` pairs.
#[pyfunction]
#[pyo3(signature = (positions, *, labels = None, ids = None, columns = Vec::new(), frames = Vec::new(), title = None))]
pub fn view_map(
    positions: PyReadonlyArray2<'_, f64>,
    labels: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    columns: Vec<(String, Bound<'_, PyAny>)>,
    frames: Vec<(usize, PyReadonlyArray2<'_, f64>)>,
    title: Option<String>,
) -> PyResult<MapPage> {
    let (_, dims, data) = row_major(&positions);
    let mut map = Map::new(&data, dims).map_err(viewer_err)?;
    if let Some(title) = title {
        map = map.with_title(title);
    }
    if let Some(labels) = labels {
        map = map.with_labels(labels).map_err(viewer_err)?;
    }
    if let Some(ids) = ids {
        map = map.with_ids(ids).map_err(viewer_err)?;
    }
    for (name, values) in &columns {
        map = map.with_column(name.as_str(), column(name, values)?).map_err(viewer_err)?;
    }
    if !frames.is_empty() {
        let frames = frames
            .iter()
            .map(|(iteration, a)| {
                let (_, _, data) = row_major(a);
                Frame { iteration: *iteration, positions: data.iter().map(|&v| v as f32).collect() }
            })
            .collect();
        map = map.with_frames(frames).map_err(viewer_err)?;
    }
    Ok(MapPage { map, html: OnceLock::new() })
}

/// The page of a fitted model's positions in a notebook frame; `None` (IPython then shows
/// the plain repr) when the embedding is not 2-D.
pub fn model_frame(py: Python<'_>, positions: &Matrix) -> PyResult<Option<String>> {
    if positions.cols() != 2 {
        return Ok(None);
    }
    let map = Map::new(positions.as_slice(), 2).map_err(viewer_err)?;
    Ok(Some(notebook_frame(&py.detach(|| map.html()))))
}

/// `page` as the `srcdoc` of a sandboxed iframe: scripts run, downloads are allowed, the
/// notebook's own page is out of its reach.
fn notebook_frame(page: &str) -> String {
    let escaped = page.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        "<iframe srcdoc=\"{escaped}\" sandbox=\"allow-scripts allow-downloads\" title=\"t-SNE map\" \
         style=\"width: 100%; height: 600px; border: 1px solid #ddd;\"></iframe>"
    )
}
