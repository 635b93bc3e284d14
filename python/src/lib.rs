//! `tsne_rs._tsne_rs`: the Python extension module. Conversion only: arrays to `Matrix`,
//! keyword arguments to the builder, errors to Python exceptions; every computation is the
//! `tsne` crate's, run with the GIL released and Ctrl-C polled from the calling thread.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2, PyUntypedArrayMethods};
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict};
use tsne::{
    CsrMatrix, DistanceScale, Embedding, FftParams, FixedSigma, GridBoundary, Init, Input, KnnGraph,
    LearningRate, Matrix, MatrixF32, Metric, Multiscale, MultiscaleMixture, OptimizeReport, PartialEmbedding,
    Perplexity, PlacementRepulsion, PlacementStart, PointAffinities, Progress, RepulsionMethod, Schedule,
    SparsePoints, TSne, TSneBuilder, Transform, Uniform,
};

mod viewer;

/// A library error as the Python exception a user expects, its terms in `fit`'s keywords.
fn py_err(e: tsne::Error) -> PyErr {
    let message = python_spelling(&e.to_string());
    match e {
        tsne::Error::Io { .. } => PyOSError::new_err(message),
        tsne::Error::Diverged { .. } => PyRuntimeError::new_err(message),
        _ => PyValueError::new_err(message),
    }
}

/// A library message with its settings as `fit`'s keywords and its methods as `key='name'`.
fn python_spelling(message: &str) -> String {
    use tsne::spelling::{respell, Term};
    respell(message, |term| match term {
        Term::Setting("dims") => Some("`n_components`".into()),
        Term::Setting("threads") => Some("`n_jobs`".into()),
        Term::Setting(_) => None,
        Term::Choice { setting, name } => Some(format!("{setting}='{name}'")),
    })
}

/// A 2-D float32 or float64 array, C- or F-ordered, as a `Matrix` (one copy into f64;
/// non-finite values are a `ValueError` naming the row and column).
fn matrix(x: &Bound<'_, PyAny>, what: &str) -> PyResult<Matrix> {
    let (rows, cols, data) = if let Ok(a) = x.extract::<PyReadonlyArray2<'_, f64>>() {
        let (r, c) = (a.shape()[0], a.shape()[1]);
        // A C-ordered buffer is copied as is; any other layout is read in row-major order.
        let data = match a.as_slice() {
            Ok(s) if a.is_c_contiguous() => s.to_vec(),
            _ => a.as_array().iter().copied().collect(),
        };
        (r, c, data)
    } else if let Ok(a) = x.extract::<PyReadonlyArray2<'_, f32>>() {
        let (r, c) = (a.shape()[0], a.shape()[1]);
        (r, c, a.as_array().iter().map(|&v| f64::from(v)).collect())
    } else {
        return Err(PyTypeError::new_err(format!("{what} must be a 2-D float32 or float64 numpy array")));
    };
    Matrix::new(rows, cols, data).map_err(|e| PyValueError::new_err(format!("{what}: {e}")))
}

fn to_numpy<'py>(py: Python<'py>, m: &Matrix) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let a = Array2::from_shape_vec((m.rows(), m.cols()), m.as_slice().to_vec())
        .map_err(|e| PyRuntimeError::new_err(e.to_string()))?;
    Ok(a.into_pyarray(py))
}

/// Runs `work` with the GIL released on a scoped thread while the calling thread polls for
/// signals every 50 ms; a signal (Ctrl-C) sets the cancel flag that `work`'s callbacks
/// check between iterations, and its exception is raised once `work` has returned.
fn interruptible<T: Send>(py: Python<'_>, work: impl FnOnce(&AtomicBool) -> T + Send) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    py.detach(|| {
        std::thread::scope(|s| {
            let handle = s.spawn(|| work(&cancel));
            let mut interrupted = None;
            while !handle.is_finished() {
                std::thread::sleep(Duration::from_millis(50));
                if interrupted.is_none() {
                    if let Err(e) = Python::attach(|py| py.check_signals()) {
                        interrupted = Some(e);
                        cancel.store(true, Ordering::Relaxed);
                    }
                }
            }
            match (interrupted, handle.join()) {
                (Some(e), _) => Err(e),
                (None, Ok(v)) => Ok(v),
                (None, Err(_)) => Err(PyRuntimeError::new_err("internal error: the computation panicked")),
            }
        })
    })
}

/// A Python callable `f(iteration, kl_or_None, gradient_norm, positions) -> bool` (true
/// stops), called every `every` iterations and at the last; an exception it raises stops the
/// run and is re-raised. `gains_weighted`: the norm it gets is scikit-learn's (each
/// coordinate of `dC/dY` times its gain), else the plain norm of `dC/dY`.
struct Observer<'a> {
    callback: Option<Py<PyAny>>,
    every: usize,
    cancel: &'a AtomicBool,
    error: Option<PyErr>,
    gains_weighted: bool,
}

impl Observer<'_> {
    fn observe(&mut self, p: &Progress<'_>) -> ControlFlow<()> {
        if self.cancel.load(Ordering::Relaxed) {
            return ControlFlow::Break(());
        }
        let Some(f) = &self.callback else { return ControlFlow::Continue(()) };
        if p.iteration % self.every != 0 && p.iteration != p.total {
            return ControlFlow::Continue(());
        }
        let outcome = Python::attach(|py| -> PyResult<bool> {
            let positions = to_numpy(py, &p.positions())?;
            let norm = if self.gains_weighted { p.gains_weighted_gradient_norm() } else { p.gradient_norm };
            f.call1(py, (p.iteration, p.kl_divergence, norm, positions))?.bind(py).is_truthy()
        });
        match outcome {
            Ok(false) => ControlFlow::Continue(()),
            Ok(true) => ControlFlow::Break(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }

    /// The callback's exception, or `KeyboardInterrupt`-pending cancellation, as an error.
    fn finish(self) -> PyResult<()> {
        match self.error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// A method name read by the library's tables (`FromStr`), its error as a `ValueError`.
fn by_name<T: std::str::FromStr<Err = tsne::Error>>(name: &str) -> PyResult<T> {
    name.parse().map_err(py_err)
}

fn learning_rate(value: Option<f64>) -> LearningRate {
    value.map_or(LearningRate::Auto, LearningRate::Fixed)
}

/// Worker threads from scikit-learn's `n_jobs`: `None` or -1 all cores, -2 all but one, ...
fn threads(n_jobs: Option<i64>) -> PyResult<Option<usize>> {
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get()) as i64;
    match n_jobs {
        None | Some(-1) => Ok(None),
        Some(0) => Err(PyValueError::new_err("n_jobs == 0 has no meaning")),
        Some(j) if j > 0 => Ok(Some(j as usize)),
        Some(j) => Ok(Some((cores + 1 + j).max(1) as usize)),
    }
}

/// The input of a fit, owned.
enum Data {
    Points(Matrix),
    /// `float32` points, copied as they are (half an `f64` copy's memory) and projected or
    /// widened by the fit.
    PointsF32(MatrixF32),
    /// Sparse points (scipy CSR), searched exactly in the memory of their non-zeros.
    Sparse(SparsePoints),
    Distances(Matrix),
    Graph(KnnGraph),
    Affinities(CsrMatrix),
}

impl Data {
    fn input(&self) -> Input<'_> {
        match self {
            Data::Points(x) => Input::Points(x),
            Data::PointsF32(x) => Input::PointsF32(x),
            Data::Sparse(x) => Input::SparsePoints(x),
            Data::Distances(d) => Input::Distances(d),
            Data::Graph(g) => Input::Graph(g),
            Data::Affinities(p) => Input::Affinities(p),
        }
    }
}

/// `(n, indptr, indices, data)` of a scipy CSR matrix.
type CsrParts = (usize, Vec<i64>, Vec<i64>, Vec<f64>);

/// A CSR matrix from scipy's arrays, checked by the library (`CsrMatrix::from_rows`: a
/// stored zero on the diagonal is dropped, any other diagonal value refused).
fn csr(n: usize, indptr: Vec<i64>, indices: Vec<i64>, data: Vec<f64>) -> PyResult<CsrMatrix> {
    if indptr.len() != n + 1 || indices.len() != data.len() {
        return Err(PyValueError::new_err("affinities: inconsistent CSR arrays"));
    }
    let mut rows = Vec::with_capacity(n);
    for i in 0..n {
        let (a, b) = (indptr[i], indptr[i + 1]);
        if a < 0 || b < a || b as usize > indices.len() {
            return Err(PyValueError::new_err(format!("affinities: bad row pointer at row {i}")));
        }
        let mut row = Vec::with_capacity((b - a) as usize);
        for t in a as usize..b as usize {
            let (j, v) = (indices[t], data[t]);
            if j < 0 || j as usize >= n {
                return Err(PyValueError::new_err(format!("affinities: row {i} names column {j} of {n}")));
            }
            if !v.is_finite() {
                return Err(PyValueError::new_err(format!(
                    "affinities: non-finite value {v} at row {i}, column {j}"
                )));
            }
            row.push((j as u32, v));
        }
        rows.push(row);
    }
    CsrMatrix::from_rows(rows).map_err(py_err)
}

/// The keyword arguments of [`fit`], with the library's defaults: one field per setting,
/// read from the call's keywords (an unknown keyword is a `TypeError` naming it).
struct FitParams {
    n_components: usize,
    perplexity: f64,
    affinity: String,
    perplexities: Option<Vec<f64>>,
    k: Option<usize>,
    sigma: Option<f64>,
    distances_as_given: bool,
    lenient: bool,
    shared_bracket: bool,
    asymmetric_affinities: bool,
    iterations: usize,
    early_exaggeration: f64,
    exaggeration_iterations: usize,
    exaggeration: f64,
    learning_rate: Option<f64>,
    momentum_early: f64,
    momentum_final: f64,
    dof: f64,
    repulsion: String,
    theta: f64,
    interp_points: Option<usize>,
    min_intervals: Option<usize>,
    intervals_per_unit: Option<f64>,
    metric: String,
    metric_p: Option<f64>,
    neighbors: String,
    init: Option<Py<PyAny>>,
    pca: Option<usize>,
    seed: u64,
    n_jobs: Option<i64>,
    min_grad_norm: f64,
    min_kl_change: f64,
    max_grad_norm: Option<f64>,
    max_step_norm: Option<f64>,
    kl_every: usize,
    pin: Option<Vec<usize>>,
    callback: Option<Py<PyAny>>,
    callback_every: usize,
    gradient_norm: String,
}

impl Default for FitParams {
    fn default() -> Self {
        let s = Schedule::default();
        Self {
            n_components: 2,
            perplexity: 30.0,
            affinity: "perplexity".into(),
            perplexities: None,
            k: None,
            sigma: None,
            distances_as_given: false,
            lenient: false,
            shared_bracket: false,
            asymmetric_affinities: false,
            iterations: s.iterations,
            early_exaggeration: s.early_exaggeration,
            exaggeration_iterations: s.exaggeration_iterations,
            exaggeration: s.final_exaggeration,
            learning_rate: None,
            momentum_early: s.momentum_early,
            momentum_final: s.momentum_final,
            dof: 1.0,
            repulsion: "auto".into(),
            theta: 0.5,
            interp_points: None,
            min_intervals: None,
            intervals_per_unit: None,
            metric: "euclidean".into(),
            metric_p: None,
            neighbors: "auto".into(),
            init: None,
            pca: None,
            seed: 0,
            n_jobs: None,
            min_grad_norm: 0.0,
            min_kl_change: s.min_kl_change,
            max_grad_norm: None,
            max_step_norm: None,
            kl_every: s.kl_every,
            pin: None,
            callback: None,
            callback_every: 1,
            gradient_norm: "plain".into(),
        }
    }
}

impl FitParams {
    /// The settings named in `kwargs`, the defaults for the rest.
    fn from_kwargs(kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let mut p = Self::default();
        let Some(kwargs) = kwargs else { return Ok(p) };
        for (key, value) in kwargs.iter() {
            let key: String = key.extract()?;
            let v = &value;
            match key.as_str() {
                "n_components" => p.n_components = v.extract()?,
                "perplexity" => p.perplexity = v.extract()?,
                "affinity" => p.affinity = v.extract()?,
                "perplexities" => p.perplexities = v.extract()?,
                "k" => p.k = v.extract()?,
                "sigma" => p.sigma = v.extract()?,
                "distances_as_given" => p.distances_as_given = v.extract()?,
                "lenient" => p.lenient = v.extract()?,
                "shared_bracket" => p.shared_bracket = v.extract()?,
                "iterations" => p.iterations = v.extract()?,
                "early_exaggeration" => p.early_exaggeration = v.extract()?,
                "exaggeration_iterations" => p.exaggeration_iterations = v.extract()?,
                "exaggeration" => p.exaggeration = v.extract()?,
                "learning_rate" => p.learning_rate = v.extract()?,
                "momentum_early" => p.momentum_early = v.extract()?,
                "momentum_final" => p.momentum_final = v.extract()?,
                "dof" => p.dof = v.extract()?,
                "repulsion" => p.repulsion = v.extract()?,
                "theta" => p.theta = v.extract()?,
                "asymmetric_affinities" => p.asymmetric_affinities = v.extract()?,
                "interp_points" => p.interp_points = v.extract()?,
                "min_intervals" => p.min_intervals = v.extract()?,
                "intervals_per_unit" => p.intervals_per_unit = v.extract()?,
                "metric" => p.metric = v.extract()?,
                "metric_p" => p.metric_p = v.extract()?,
                "neighbors" => p.neighbors = v.extract()?,
                "init" => p.init = (!v.is_none()).then(|| v.clone().unbind()),
                "pca" => p.pca = v.extract()?,
                "seed" => p.seed = v.extract()?,
                "n_jobs" => p.n_jobs = v.extract()?,
                "min_grad_norm" => p.min_grad_norm = v.extract()?,
                "min_kl_change" => p.min_kl_change = v.extract()?,
                "max_grad_norm" => p.max_grad_norm = v.extract()?,
                "max_step_norm" => p.max_step_norm = v.extract()?,
                "kl_every" => p.kl_every = v.extract()?,
                "pin" => p.pin = v.extract()?,
                "callback" => p.callback = (!v.is_none()).then(|| v.clone().unbind()),
                "callback_every" => p.callback_every = v.extract()?,
                "gradient_norm" => p.gradient_norm = v.extract()?,
                other => {
                    return Err(PyTypeError::new_err(format!(
                        "fit() got an unexpected keyword argument '{other}'"
                    )))
                }
            }
        }
        Ok(p)
    }

    /// The repulsion method: its name with this call's angle or grid.
    fn repulsion(&self) -> PyResult<RepulsionMethod> {
        Ok(match by_name(&self.repulsion)? {
            RepulsionMethod::BarnesHut { .. } => RepulsionMethod::BarnesHut { theta: self.theta },
            RepulsionMethod::Fft(d) => RepulsionMethod::Fft(FftParams {
                interp_points: self.interp_points.unwrap_or(d.interp_points),
                min_intervals: self.min_intervals.unwrap_or(d.min_intervals),
                intervals_per_unit: self.intervals_per_unit.unwrap_or(d.intervals_per_unit),
            }),
            other => other,
        })
    }

    /// The builder with this call's affinity: `perplexity` (with `k`, `distances_as_given`
    /// and `lenient`), `multiscale` or `multiscale_mixture` (`perplexities`), `fixed_sigma`
    /// (`sigma`, `k`) or `uniform` / `uniform_max` (`k`; mean or openTSNE's max symmetrisation).
    fn with_affinity(&self, builder: TSneBuilder) -> PyResult<TSneBuilder> {
        let needs = |what: &str| PyValueError::new_err(format!("affinity `{}` needs {what}", self.affinity));
        Ok(match self.affinity.as_str() {
            "perplexity" => {
                let mut a = Perplexity::new(self.perplexity).map_err(py_err)?;
                if let Some(k) = self.k {
                    a = a.with_neighbors(k).map_err(py_err)?;
                }
                if self.distances_as_given {
                    a = a.with_scale(DistanceScale::AsGiven);
                }
                if self.lenient {
                    a = a.lenient();
                }
                builder.affinity(a)
            }
            "multiscale" => {
                let list = self.perplexities.clone().ok_or_else(|| needs("perplexities"))?;
                builder.affinity(Multiscale::new(list).map_err(py_err)?)
            }
            "multiscale_mixture" => {
                let list = self.perplexities.clone().ok_or_else(|| needs("perplexities"))?;
                let mixture = match self.shared_bracket {
                    true => MultiscaleMixture::opentsne(list),
                    false => MultiscaleMixture::new(list),
                };
                builder.affinity(mixture.map_err(py_err)?)
            }
            "fixed_sigma" => {
                let sigma = self.sigma.ok_or_else(|| needs("sigma"))?;
                builder.affinity(FixedSigma::new(sigma, self.k.ok_or_else(|| needs("k"))?).map_err(py_err)?)
            }
            "uniform" | "uniform_max" => {
                let uniform = Uniform::new(self.k.ok_or_else(|| needs("k"))?).map_err(py_err)?;
                match self.affinity.as_str() {
                    "uniform_max" => builder.affinity(uniform.max_symmetrized()),
                    _ => builder.affinity(uniform),
                }
            }
            other => return Err(PyValueError::new_err(format!("unknown affinity `{other}`"))),
        })
    }

    /// The metric by name, with Minkowski's order `metric_p` (which no other metric takes).
    fn metric(&self) -> PyResult<Metric> {
        match (by_name::<Metric>(&self.metric)?, self.metric_p) {
            (Metric::Minkowski { .. }, Some(p)) => Ok(Metric::Minkowski { p }),
            (m, None) => Ok(m),
            (m, Some(_)) => {
                Err(PyValueError::new_err(format!("metric_p applies to minkowski, not {}", m.name())))
            }
        }
    }

    /// The start: a method name or an array of positions.
    fn init(&self, py: Python<'_>) -> PyResult<Init> {
        match &self.init {
            None => Ok(Init::Pca),
            Some(v) => match v.extract::<String>(py) {
                Ok(name) => by_name(&name),
                Err(_) => Ok(Init::Given(matrix(v.bind(py), "init")?)),
            },
        }
    }

    fn schedule(&self) -> Schedule {
        Schedule {
            iterations: self.iterations,
            exaggeration_iterations: self.exaggeration_iterations,
            early_exaggeration: self.early_exaggeration,
            final_exaggeration: self.exaggeration,
            learning_rate: learning_rate(self.learning_rate),
            momentum_early: self.momentum_early,
            momentum_final: self.momentum_final,
            kl_every: self.kl_every,
            min_gradient_norm: self.min_grad_norm,
            min_kl_change: self.min_kl_change,
            max_point_gradient: self.max_grad_norm,
            max_point_step: self.max_step_norm,
            ..Schedule::default()
        }
    }

    /// The checked configuration.
    fn build(&self, py: Python<'_>) -> PyResult<TSne> {
        let mut builder = TSne::builder()
            .dims(self.n_components)
            .perplexity(self.perplexity)
            .schedule(self.schedule())
            .dof(self.dof)
            .seed(self.seed)
            .repulsion(self.repulsion()?)
            .neighbors(by_name(&self.neighbors)?)
            .metric(self.metric()?)
            .init(self.init(py)?)
            .pin(self.pin.clone().unwrap_or_default())
            .asymmetric_affinities(self.asymmetric_affinities);
        builder = self.with_affinity(builder)?;
        if let Some(t) = threads(self.n_jobs)? {
            builder = builder.threads(t);
        }
        if let Some(d) = self.pca {
            builder = builder.pca(d);
        }
        builder.build().map_err(py_err)
    }
}

/// The input of a fit from `data` and its `kind`: points, distances, a kNN graph (indices,
/// with `knn_distances`) or affinities (`affinity_parts`, scipy's CSR arrays).
fn fit_input(
    data: &Bound<'_, PyAny>,
    kind: &str,
    knn_distances: Option<&Bound<'_, PyAny>>,
    affinity_parts: Option<CsrParts>,
) -> PyResult<Data> {
    Ok(match kind {
        "points" => match data.extract::<PyReadonlyArray2<'_, f32>>() {
            Ok(a) => {
                let (r, c) = (a.shape()[0], a.shape()[1]);
                let values = a.as_array().iter().copied().collect();
                Data::PointsF32(
                    MatrixF32::new(r, c, values).map_err(|e| PyValueError::new_err(format!("X: {e}")))?,
                )
            }
            Err(_) => Data::Points(matrix(data, "X")?),
        },
        "sparse" => Data::Sparse(sparse_points(data)?),
        "distances" => Data::Distances(matrix(data, "the distance matrix")?),
        "graph" => Data::Graph(knn_graph(
            data,
            knn_distances.ok_or_else(|| PyValueError::new_err("a kNN graph needs its distances"))?,
        )?),
        "affinities" => {
            let (n, indptr, indices, values) =
                affinity_parts.ok_or_else(|| PyValueError::new_err("affinities need their CSR parts"))?;
            Data::Affinities(csr(n, indptr, indices, values)?)
        }
        other => return Err(PyValueError::new_err(format!("unknown input kind `{other}`"))),
    })
}

/// Sparse points from `(n, d, indptr, indices, data)`: scipy's canonical CSR arrays (int64
/// offsets and columns, float64 values).
fn sparse_points(data: &Bound<'_, PyAny>) -> PyResult<SparsePoints> {
    type Parts<'py> =
        (usize, usize, PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, i64>, PyReadonlyArray1<'py, f64>);
    let (n, d, indptr, indices, values): Parts<'_> = data.extract()?;
    let offsets = indptr
        .as_array()
        .iter()
        .map(|&o| {
            usize::try_from(o).map_err(|_| PyValueError::new_err(format!("X: negative row offset {o}")))
        })
        .collect::<PyResult<Vec<usize>>>()?;
    let columns = indices
        .as_array()
        .iter()
        .map(|&c| {
            u32::try_from(c).map_err(|_| PyValueError::new_err(format!("X: column {c} is out of range")))
        })
        .collect::<PyResult<Vec<u32>>>()?;
    let values = values.as_array().to_vec();
    SparsePoints::new(n, d, offsets, columns, values).map_err(|e| PyValueError::new_err(format!("X: {e}")))
}

/// A kNN graph from an `n x k` integer array of indices and its `n x k` distances.
fn knn_graph(indices: &Bound<'_, PyAny>, distances: &Bound<'_, PyAny>) -> PyResult<KnnGraph> {
    let idx: PyReadonlyArray2<'_, i64> = indices.extract()?;
    let dist = matrix(distances, "kNN distances")?;
    let (n, k) = (idx.shape()[0], idx.shape()[1]);
    let indices = idx
        .as_array()
        .iter()
        .map(|&j| {
            u32::try_from(j).map_err(|_| PyValueError::new_err(format!("kNN index {j} is out of range")))
        })
        .collect::<PyResult<Vec<u32>>>()?;
    if (dist.rows(), dist.cols()) != (n, k) {
        return Err(PyValueError::new_err(format!(
            "kNN distances are {} x {}, the indices {n} x {k}",
            dist.rows(),
            dist.cols()
        )));
    }
    KnnGraph::new(n, k, indices, dist.into_vec()).map_err(py_err)
}

/// Embeds `data` with t-SNE and returns the fitted model; the settings are [`FitParams`]'s
/// keywords.
#[pyfunction]
#[pyo3(signature = (data, *, kind = "points", knn_distances = None, affinity_parts = None, **settings))]
fn fit(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    kind: &str,
    knn_distances: Option<&Bound<'_, PyAny>>,
    affinity_parts: Option<CsrParts>,
    settings: Option<&Bound<'_, PyDict>>,
) -> PyResult<Model> {
    let params = FitParams::from_kwargs(settings)?;
    let data = fit_input(data, kind, knn_distances, affinity_parts)?;
    let tsne = params.build(py)?;
    let (callback, every) = (params.callback, params.callback_every.max(1));
    let gains_weighted = gains_weighted(&params.gradient_norm)?;
    let (result, observer_result) = interruptible(py, |cancel| {
        let mut observer = Observer { callback, every, cancel, error: None, gains_weighted };
        // A graph is handed over: the fit drops it once P is built.
        let result = match data {
            Data::Graph(graph) => tsne.fit_with(graph, |p| observer.observe(p)),
            ref other => tsne.fit_with(other.input(), |p| observer.observe(p)),
        };
        (result, observer.finish())
    })?;
    observer_result?;
    let mut model = result.map_err(py_err)?;
    model.set_threads(threads(params.n_jobs)?);
    Ok(Model { inner: model })
}

/// Whether the repulsion method `name` embeds in `dims` dimensions (the library's rule).
#[pyfunction]
fn repulsion_supports(name: &str, dims: usize) -> PyResult<bool> {
    Ok(by_name::<RepulsionMethod>(name)?.supports(dims))
}

/// The row-stochastic Gaussian-mixture rows of `distances` (`m x k`, each row a point's
/// distances to its neighbours) over `perplexities`; `shared_bracket`: openTSNE 1.0.4's
/// bisection (`MultiscaleMixture::opentsne`).
#[pyfunction]
#[pyo3(signature = (distances, perplexities, *, shared_bracket = true))]
fn mixture_rows<'py>(
    py: Python<'py>,
    distances: &Bound<'py, PyAny>,
    perplexities: Vec<f64>,
    shared_bracket: bool,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let d = matrix(distances, "distances")?;
    if d.as_slice().iter().any(|v| *v < 0.0) {
        return Err(PyValueError::new_err("distances must be non-negative"));
    }
    let mixture = match shared_bracket {
        true => MultiscaleMixture::opentsne(perplexities),
        false => MultiscaleMixture::new(perplexities),
    }
    .map_err(py_err)?;
    let rows = py.detach(|| mixture.rows(d.as_slice(), d.cols()));
    to_numpy(py, &Matrix::new(d.rows(), d.cols(), rows).map_err(py_err)?)
}

/// `(n, indptr, indices, data)` of a CSR matrix, as numpy arrays.
type CsrArrays = (usize, Py<PyAny>, Py<PyAny>, Py<PyAny>);

/// Two `n x dims` arrays.
type ArrayPair<'py> = (Bound<'py, PyArray2<f64>>, Bound<'py, PyArray2<f64>>);

/// The joint affinities P of `data` under the same settings as [`fit`] (the stages up to P):
/// scipy's CSR arrays `(n, indptr, indices, data)`.
#[pyfunction]
#[pyo3(signature = (data, *, kind = "points", knn_distances = None, **settings))]
fn affinities(
    py: Python<'_>,
    data: &Bound<'_, PyAny>,
    kind: &str,
    knn_distances: Option<&Bound<'_, PyAny>>,
    settings: Option<&Bound<'_, PyDict>>,
) -> PyResult<CsrArrays> {
    let params = FitParams::from_kwargs(settings)?;
    let data = fit_input(data, kind, knn_distances, None)?;
    let tsne = params.build(py)?;
    let p = interruptible(py, |_| match data {
        Data::Graph(graph) => tsne.affinity_matrix(graph),
        ref other => tsne.affinity_matrix(other.input()),
    })?
    .map_err(py_err)?;
    let offsets: Vec<u64> = p.indptr().iter().map(|&o| o as u64).collect();
    Ok((
        p.n(),
        PyArray1::from_vec(py, offsets).into_any().unbind(),
        PyArray1::from_slice(py, p.indices()).into_any().unbind(),
        PyArray1::from_slice(py, p.values()).into_any().unbind(),
    ))
}

/// Which gradient norm callbacks get: `"plain"` (of `dC/dY`) or `"gains"` (scikit-learn's,
/// each coordinate times its gain).
fn gains_weighted(name: &str) -> PyResult<bool> {
    match name {
        "plain" => Ok(false),
        "gains" => Ok(true),
        other => Err(PyValueError::new_err(format!("unknown gradient_norm {other:?} (plain, gains)"))),
    }
}

/// The FFT grid of a placement from Python: `(interp_points, min_intervals,
/// intervals_per_unit, padding, boundary)` with boundary `"stop"` or `"opentsne"`.
type GridSpec = (usize, usize, f64, f64, String);

/// A Barnes-Hut tree of `theta`, or the reference's FFT grid when `grid` is given.
fn placement_repulsion(theta: f64, grid: Option<GridSpec>) -> PyResult<PlacementRepulsion> {
    let Some((interp_points, min_intervals, intervals_per_unit, padding, boundary)) = grid else {
        return Ok(PlacementRepulsion::BarnesHut { theta });
    };
    let boundary = match boundary.as_str() {
        "stop" => GridBoundary::Stop,
        "opentsne" => GridBoundary::OpenTsne,
        other => {
            return Err(PyValueError::new_err(format!("unknown grid boundary {other:?} (stop, opentsne)")))
        }
    };
    let grid = FftParams { interp_points, min_intervals, intervals_per_unit };
    Ok(PlacementRepulsion::Fft { grid, padding, boundary })
}

/// Where new points start: `median`, `weighted` (the affinity-weighted mean) or `random`.
fn placement_start(name: &str, seed: u64) -> PyResult<PlacementStart> {
    match name {
        "median" => Ok(PlacementStart::Median),
        "weighted" => Ok(PlacementStart::WeightedMean),
        "random" => Ok(PlacementStart::Random { seed }),
        other => Err(PyValueError::new_err(format!(
            "unknown start `{other}` of new points: use median, weighted or random"
        ))),
    }
}

/// A fitted t-SNE model (`tsne::Embedding`).
#[pyclass(module = "tsne_rs._tsne_rs")]
struct Model {
    inner: Embedding,
}

fn report_dict<'py>(py: Python<'py>, r: &OptimizeReport) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("iterations", r.iterations)?;
    d.set_item("kl_divergence", r.kl_divergence)?;
    d.set_item("stop", r.stop.name())?;
    Ok(d)
}

#[pymethods]
impl Model {
    /// The positions, one row per point in input order.
    fn positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        to_numpy(py, &self.inner.positions())
    }

    /// The map of the positions as an interactive page in a sandboxed frame (a notebook's
    /// rich display; `tsne_rs.view` adds labels and metadata); `None` unless 2-D.
    fn _repr_html_(&self, py: Python<'_>) -> PyResult<Option<String>> {
        viewer::model_frame(py, &self.inner.positions())
    }

    /// What the fit and later runs did: the library's JSON summary (`Summary::to_json`) as a
    /// dict.
    fn summary<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let json = self.inner.summary().to_json().to_string();
        py.import("json")?.call_method1("loads", (json,))
    }

    /// Continues the optimisation from the current state.
    #[pyo3(signature = (iterations, *, exaggeration = 1.0, momentum = 0.8, learning_rate = None,
        max_grad_norm = None, max_step_norm = None, kl_every = 50, callback = None, callback_every = 1,
        gradient_norm = "plain"))]
    #[allow(clippy::too_many_arguments)]
    fn optimize<'py>(
        &mut self,
        py: Python<'py>,
        iterations: usize,
        exaggeration: f64,
        momentum: f64,
        learning_rate: Option<f64>,
        max_grad_norm: Option<f64>,
        max_step_norm: Option<f64>,
        kl_every: usize,
        callback: Option<Py<PyAny>>,
        callback_every: usize,
        gradient_norm: &str,
    ) -> PyResult<Bound<'py, PyDict>> {
        let gains_weighted = gains_weighted(gradient_norm)?;
        let schedule = Schedule {
            learning_rate: self::learning_rate(learning_rate),
            max_point_gradient: max_grad_norm,
            max_point_step: max_step_norm,
            kl_every,
            ..Schedule::constant(iterations, exaggeration, momentum)
        };
        let inner = &mut self.inner;
        let every = callback_every.max(1);
        let (result, observed) = interruptible(py, |cancel| {
            let mut observer = Observer { callback, every, cancel, error: None, gains_weighted };
            let result = inner.optimize_with(&schedule, |p| observer.observe(p));
            (result, observer.finish())
        })?;
        observed?;
        report_dict(py, &result.map_err(py_err)?)
    }

    /// Places new points against the fixed positions (openTSNE's `transform`).
    #[pyo3(signature = (x, *, perplexity = 5.0, k = 25, iterations = 250, learning_rate = 0.2,
        exaggeration = 1.5, momentum = 0.8, max_grad_norm = 0.5, theta = 0.5, grid = None, start = "median",
        seed = 0, distances = false))]
    #[allow(clippy::too_many_arguments)]
    fn transform<'py>(
        &self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        perplexity: f64,
        k: usize,
        iterations: usize,
        learning_rate: f64,
        exaggeration: f64,
        momentum: f64,
        max_grad_norm: f64,
        theta: f64,
        grid: Option<GridSpec>,
        start: &str,
        seed: u64,
        distances: bool,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let x = matrix(x, "X")?;
        let settings = Transform {
            start: placement_start(start, seed)?,
            perplexity,
            init_neighbors: k,
            iterations,
            learning_rate,
            exaggeration,
            momentum,
            max_point_gradient: max_grad_norm,
            repulsion: placement_repulsion(theta, grid)?,
        };
        let inner = &self.inner;
        // `distances`: x holds each new point's distances to the reference points.
        let placed = interruptible(py, |_| match distances {
            true => inner.transform_distances(&x, &settings),
            false => inner.transform_with(&x, &settings),
        })?
        .map_err(py_err)?;
        to_numpy(py, &placed)
    }

    /// New points with their affinities, at their starting positions (openTSNE's
    /// `prepare_partial`).
    #[pyo3(signature = (x, *, perplexity = 5.0, k = 25, theta = 0.5, grid = None, start = "median", seed = 0,
        distances = false))]
    #[allow(clippy::too_many_arguments)]
    fn prepare_partial(
        &self,
        py: Python<'_>,
        x: &Bound<'_, PyAny>,
        perplexity: f64,
        k: usize,
        theta: f64,
        grid: Option<GridSpec>,
        start: &str,
        seed: u64,
        distances: bool,
    ) -> PyResult<Partial> {
        let x = matrix(x, "X")?;
        let start = placement_start(start, seed)?;
        let repulsion = placement_repulsion(theta, grid)?;
        let settings = Transform { perplexity, init_neighbors: k, repulsion, start, ..Transform::default() };
        let inner = &self.inner;
        let partial = interruptible(py, |_| match distances {
            true => inner.prepare_partial_from_distances(&x, &settings),
            false => inner.prepare_partial(&x, &settings),
        })?
        .map_err(py_err)?;
        Ok(Partial { inner: partial })
    }

    /// Adds points: placed, then settled with the old points pinned.
    #[pyo3(signature = (x, *, iterations = 250, exaggeration = 1.0, momentum = 0.8, learning_rate = None))]
    fn add<'py>(
        &mut self,
        py: Python<'py>,
        x: &Bound<'py, PyAny>,
        iterations: usize,
        exaggeration: f64,
        momentum: f64,
        learning_rate: Option<f64>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let x = matrix(x, "X")?;
        let schedule = Schedule {
            learning_rate: self::learning_rate(learning_rate),
            ..Schedule::constant(iterations, exaggeration, momentum)
        };
        let inner = &mut self.inner;
        let report = interruptible(py, |_| inner.add(&x, &schedule))?.map_err(py_err)?;
        report_dict(py, &report)
    }

    /// Gives the model reference points (input order, the space P was computed in) under
    /// `metric`, so that it can place new points.
    #[pyo3(signature = (points, metric = "euclidean", metric_p = None))]
    fn set_reference(
        &mut self,
        points: &Bound<'_, PyAny>,
        metric: &str,
        metric_p: Option<f64>,
    ) -> PyResult<()> {
        let points = matrix(points, "reference points")?;
        let params = FitParams { metric: metric.into(), metric_p, ..FitParams::default() };
        let model = self.inner.clone().with_reference(points, params.metric()?).map_err(py_err)?;
        self.inner = model;
        Ok(())
    }

    /// Moves the points to `positions` (input order), keeping the optimiser's state.
    fn set_positions(&mut self, positions: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_positions(&matrix(positions, "positions")?).map_err(py_err)
    }

    /// Replaces P (scipy CSR arrays of an `n x n` matrix), keeping positions and state;
    /// `asymmetric` accepts a P that is not symmetric (each row's attraction as given).
    #[pyo3(signature = (n, indptr, indices, data, *, asymmetric = false))]
    fn set_affinities(
        &mut self,
        n: usize,
        indptr: Vec<i64>,
        indices: Vec<i64>,
        data: Vec<f64>,
        asymmetric: bool,
    ) -> PyResult<()> {
        let p = csr(n, indptr, indices, data)?;
        match asymmetric {
            true => self.inner.set_affinities_as_given(p),
            false => self.inner.set_affinities(p),
        }
        .map_err(py_err)
    }

    /// Forgets the optimiser's velocity and gains (the next run starts as a first one does).
    fn reset_optimizer(&mut self) {
        self.inner.reset_optimizer();
    }

    /// The optimiser's gains and last update, input order (two `n x dims` arrays).
    fn optimizer_state<'py>(&self, py: Python<'py>) -> PyResult<ArrayPair<'py>> {
        let (gains, update) = self.inner.optimizer_state().map_err(py_err)?;
        Ok((to_numpy(py, &gains)?, to_numpy(py, &update)?))
    }

    /// New points with conditional affinities `(indptr, indices, data)` to this model's
    /// points (one CSR row per new point, scaled to sum to one), starting at `positions`.
    #[pyo3(signature = (indptr, indices, data, positions, *, theta = 0.5, grid = None))]
    fn prepare_partial_from_affinities(
        &self,
        indptr: Vec<i64>,
        indices: Vec<i64>,
        data: Vec<f64>,
        positions: &Bound<'_, PyAny>,
        theta: f64,
        grid: Option<GridSpec>,
    ) -> PyResult<Partial> {
        let bad = |what: &str| PyValueError::new_err(format!("affinities: negative or oversized {what}"));
        let offsets = indptr
            .iter()
            .map(|&o| usize::try_from(o).map_err(|_| bad("row offset")))
            .collect::<PyResult<_>>()?;
        let neighbors =
            indices.iter().map(|&j| u32::try_from(j).map_err(|_| bad("column"))).collect::<PyResult<_>>()?;
        let affinities =
            PointAffinities::from_rows(offsets, neighbors, data, self.inner.n()).map_err(py_err)?;
        let start = matrix(positions, "positions")?;
        let repulsion = placement_repulsion(theta, grid)?;
        let partial =
            self.inner.prepare_partial_from_affinities(affinities, start, repulsion).map_err(py_err)?;
        Ok(Partial { inner: partial })
    }

    /// Pins points (input indices) in later runs; an empty list unpins all.
    fn pin(&mut self, points: Vec<usize>) -> PyResult<()> {
        self.inner.pin(&points).map_err(py_err)
    }

    /// Worker threads of later calls, as scikit-learn's `n_jobs`.
    fn set_n_jobs(&mut self, n_jobs: Option<i64>) -> PyResult<()> {
        self.inner.set_threads(threads(n_jobs)?);
        Ok(())
    }

    /// Writes the model file.
    fn save(&self, path: std::path::PathBuf) -> PyResult<()> {
        self.inner.save(path).map_err(py_err)
    }

    /// Reads a model file.
    #[staticmethod]
    fn load(path: std::path::PathBuf) -> PyResult<Model> {
        Ok(Model { inner: Embedding::load(path).map_err(py_err)? })
    }

    /// The model file's bytes (for pickling).
    fn to_bytes<'py>(&self, py: Python<'py>) -> Bound<'py, PyBytes> {
        PyBytes::new(py, &self.inner.to_bytes())
    }

    /// A model from a model file's bytes.
    #[staticmethod]
    fn from_bytes(bytes: &[u8]) -> PyResult<Model> {
        Ok(Model { inner: Embedding::from_bytes(bytes).map_err(py_err)? })
    }

    /// An independent copy.
    fn copy(&self) -> Model {
        Model { inner: self.inner.clone() }
    }

    /// Number of points.
    #[getter]
    fn n(&self) -> usize {
        self.inner.n()
    }
}

/// New points placed into a model (`tsne::PartialEmbedding`).
#[pyclass(module = "tsne_rs._tsne_rs")]
struct Partial {
    inner: PartialEmbedding,
}

#[pymethods]
impl Partial {
    /// The new points' positions.
    fn positions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        to_numpy(py, self.inner.positions())
    }

    /// The new points' conditional affinities to the reference points as scipy's CSR arrays
    /// `(indptr, indices, data)` (computed rows: nearest first; each row sums to one).
    #[allow(clippy::type_complexity)]
    fn affinities<'py>(&self, py: Python<'py>) -> (Bound<'py, PyAny>, Bound<'py, PyAny>, Bound<'py, PyAny>) {
        let a = self.inner.affinities();
        let offsets: Vec<u64> = a.offsets().iter().map(|&o| o as u64).collect();
        (
            PyArray1::from_vec(py, offsets).into_any(),
            PyArray1::from_slice(py, a.neighbors()).into_any(),
            PyArray1::from_slice(py, a.weights()).into_any(),
        )
    }

    /// Moves the new points to `positions`, keeping the optimiser's state.
    fn set_positions(&mut self, positions: &Bound<'_, PyAny>) -> PyResult<()> {
        self.inner.set_positions(matrix(positions, "positions")?).map_err(py_err)
    }

    /// Forgets the new points' velocity and gains (the next run starts as a first one does).
    fn reset_optimizer(&mut self) {
        self.inner.reset_optimizer();
    }

    /// The optimiser's gains and last update of the new points (two `m x dims` arrays).
    fn optimizer_state<'py>(&self, py: Python<'py>) -> PyResult<ArrayPair<'py>> {
        let (gains, update) = self.inner.optimizer_state().map_err(py_err)?;
        Ok((to_numpy(py, &gains)?, to_numpy(py, &update)?))
    }

    /// An independent copy.
    fn copy(&self) -> Partial {
        Partial { inner: self.inner.clone() }
    }

    /// Moves the new points against `model`'s fixed positions.
    #[pyo3(signature = (model, iterations, *, exaggeration = 1.5, momentum = 0.8, learning_rate = 0.2,
        max_grad_norm = 0.5, max_step_norm = None, kl_every = 0, callback = None, callback_every = 1,
        theta = None, grid = None))]
    #[allow(clippy::too_many_arguments)]
    fn optimize<'py>(
        &mut self,
        py: Python<'py>,
        model: PyRef<'py, Model>,
        iterations: usize,
        exaggeration: f64,
        momentum: f64,
        learning_rate: f64,
        max_grad_norm: f64,
        max_step_norm: Option<f64>,
        kl_every: usize,
        callback: Option<Py<PyAny>>,
        callback_every: usize,
        theta: Option<f64>,
        grid: Option<GridSpec>,
    ) -> PyResult<Bound<'py, PyDict>> {
        // The repulsion of this and later runs, when given: a tree of `theta`, or the grid.
        if theta.is_some() || grid.is_some() {
            let repulsion = placement_repulsion(theta.unwrap_or(0.5), grid)?;
            self.inner.set_repulsion(repulsion).map_err(py_err)?;
        }
        let schedule = Schedule {
            max_point_step: max_step_norm,
            kl_every,
            ..Transform {
                iterations,
                learning_rate,
                exaggeration,
                momentum,
                max_point_gradient: max_grad_norm,
                ..Transform::default()
            }
            .schedule()
        };
        let (inner, reference) = (&mut self.inner, &model.inner);
        let every = callback_every.max(1);
        let (result, observed) = interruptible(py, |cancel| {
            let mut observer = Observer { callback, every, cancel, error: None, gains_weighted: false };
            let result = inner.optimize_with(reference, &schedule, |p| observer.observe(p));
            (result, observer.finish())
        })?;
        observed?;
        report_dict(py, &result.map_err(py_err)?)
    }
}

#[pymodule]
fn _tsne_rs(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit, m)?)?;
    m.add_function(wrap_pyfunction!(affinities, m)?)?;
    m.add_function(wrap_pyfunction!(mixture_rows, m)?)?;
    m.add_function(wrap_pyfunction!(repulsion_supports, m)?)?;
    m.add_class::<Model>()?;
    m.add_class::<Partial>()?;
    m.add_function(wrap_pyfunction!(viewer::view_map, m)?)?;
    m.add_class::<viewer::MapPage>()?;
    m.add("FORMAT_VERSION", tsne::FORMAT_VERSION)?;
    Ok(())
}
