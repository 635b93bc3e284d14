//! `fit`: input -> neighbours -> affinities -> initialisation -> optimisation, each stage a
//! function returning a named value.

use std::borrow::Cow;
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

use tsne_affinity::{affinities_as_given, joint_affinities, sparse_neighbors, PrecomputedDistances};
use tsne_core::{
    CsrMatrix, Error, InitInput, KnnGraph, Matrix, MatrixF32, NeighborSearch, PointRows, Progress, Result,
    SparsePoints,
};
use tsne_init::Projection;

use crate::config::TSne;
use crate::embedding::{Callback, Embedding, InputStages, ModelSettings, Reference};
use crate::memory::estimate;
use crate::methods::NeighborMethod;
use crate::phases::Phase;
use crate::summary::{PeakMemory, Summary, Timings};

/// What a fit starts from: the four stages a user can enter at.
#[derive(Debug, Clone)]
pub enum Input<'a> {
    /// One point per row.
    Points(&'a Matrix),
    /// Points handed over (`fit(matrix)`): dropped as soon as the neighbours and the
    /// initialisation no longer need them (before P is built, unless the initialisation reads
    /// P), so they never share the peak with P. The model then has no reference points: it
    /// cannot [`transform`](crate::Embedding::transform) new ones.
    OwnedPoints(Matrix),
    /// Single-precision points (e.g. `float32` arrays): projected (`pca`) or widened to `f64`
    /// at once, so only the result is copied. The same values give the same embedding bits
    /// in either precision.
    PointsF32(&'a MatrixF32),
    /// Single-precision points handed over (`fit(matrix_f32)`), e.g. 8-bit images: held in
    /// half the memory of [`Input::OwnedPoints`] until they are projected (`pca`) or widened
    /// to `f64`, then dropped like them. The same values give the same embedding bits in
    /// either precision.
    OwnedPointsF32(MatrixF32),
    /// Points stored by their non-zero coordinates (e.g. TF-IDF or counts): neighbours by the
    /// exact sparse search ([`sparse_neighbors`]: Euclidean or cosine, the same graph as the
    /// values stored densely), in memory proportional to the non-zeros. No PCA; the PCA start
    /// falls back to the spectral one as for inputs without dense coordinates, and the model
    /// keeps no reference points.
    SparsePoints(&'a SparsePoints),
    /// An `n x n` matrix of distances (see [`PrecomputedDistances`] for what is checked);
    /// the metric setting does not apply.
    Distances(&'a Matrix),
    /// A neighbour graph computed elsewhere (e.g. by a distributed ANN job); the affinity is
    /// calibrated on it as given.
    Graph(&'a KnnGraph),
    /// A neighbour graph handed over (`fit(graph)`): dropped as soon as P is built, so the
    /// graph and P's symmetrisation never share the peak with a caller's copy.
    OwnedGraph(KnnGraph),
    /// Joint affinities P, checked and normalised by [`joint_affinities`].
    Affinities(&'a CsrMatrix),
}

impl Input<'_> {
    /// The number of points.
    pub fn n(&self) -> usize {
        match self {
            Input::Points(x) | Input::Distances(x) => x.rows(),
            Input::OwnedPoints(x) => x.rows(),
            Input::PointsF32(x) => x.rows(),
            Input::OwnedPointsF32(x) => x.rows(),
            Input::SparsePoints(x) => x.rows(),
            Input::Graph(g) => g.n(),
            Input::OwnedGraph(g) => g.n(),
            Input::Affinities(p) => p.n(),
        }
    }
}

impl<'a> From<&'a Matrix> for Input<'a> {
    fn from(points: &'a Matrix) -> Self {
        Self::Points(points)
    }
}

impl From<Matrix> for Input<'_> {
    fn from(points: Matrix) -> Self {
        Self::OwnedPoints(points)
    }
}

impl<'a> From<&'a MatrixF32> for Input<'a> {
    fn from(points: &'a MatrixF32) -> Self {
        Self::PointsF32(points)
    }
}

impl From<MatrixF32> for Input<'_> {
    fn from(points: MatrixF32) -> Self {
        Self::OwnedPointsF32(points)
    }
}

impl<'a> From<&'a SparsePoints> for Input<'a> {
    fn from(points: &'a SparsePoints) -> Self {
        Self::SparsePoints(points)
    }
}

impl<'a> From<&'a KnnGraph> for Input<'a> {
    fn from(graph: &'a KnnGraph) -> Self {
        Self::Graph(graph)
    }
}

impl From<KnnGraph> for Input<'_> {
    fn from(graph: KnnGraph) -> Self {
        Self::OwnedGraph(graph)
    }
}

impl<'a> From<&'a CsrMatrix> for Input<'a> {
    fn from(p: &'a CsrMatrix) -> Self {
        Self::Affinities(p)
    }
}

/// What the checked input is; its coordinates and any given graph are held by [`Prepared`].
#[derive(Clone, Copy)]
enum Given<'a> {
    Points,
    Sparse(&'a SparsePoints),
    Distances(&'a Matrix),
    Graph,
    Affinities(&'a CsrMatrix),
}

/// The checked input, projected when PCA was asked for.
struct Prepared<'a> {
    given: Given<'a>,
    /// A given neighbour graph, until the neighbour stage takes it.
    graph: Option<Cow<'a, KnnGraph>>,
    n: usize,
    dims_in: usize,
    /// The coordinates the neighbours are searched in (after PCA); none without coordinates.
    points: Option<Cow<'a, Matrix>>,
    /// The coordinates were handed over: drop them once the initialisation is computed.
    owned: bool,
    projection: Option<Projection>,
    time: Duration,
}

/// The kNN graph; none when the input is P itself.
struct Neighbors<'a> {
    graph: Option<Cow<'a, KnnGraph>>,
    k: usize,
    name: String,
    recall: Option<f64>,
    time: Duration,
}

/// The joint affinities P.
struct Affinities {
    p: CsrMatrix,
    name: String,
    time: Duration,
}

/// The starting positions, in input order.
pub(crate) struct Start {
    pub y: Matrix,
    pub name: String,
    pub time: Duration,
}

impl TSne {
    /// Embeds `input`: points (`&Matrix`), or an [`Input`] computed elsewhere.
    pub fn fit<'a>(&self, input: impl Into<Input<'a>>) -> Result<Embedding> {
        self.fit_with(input, |_| ControlFlow::Continue(()))
    }

    /// Embeds `input`, calling `callback` after every iteration (see [`every`](crate::every)
    /// to thin the calls out); `ControlFlow::Break` stops the run with a valid model whose
    /// summary says so.
    pub fn fit_with<'a>(
        &self,
        input: impl Into<Input<'a>>,
        mut callback: impl FnMut(&Progress<'_>) -> ControlFlow<()> + Send,
    ) -> Result<Embedding> {
        let input = input.into();
        self.in_pool(|| self.run(input, &mut callback))
    }

    /// The joint affinities P of `input` in input order: the fit's stages up to P (PCA,
    /// neighbours, calibration), without a start or an optimisation. `fit(Input::Affinities(&p))`
    /// with the same configuration continues from it.
    pub fn affinity_matrix<'a>(&self, input: impl Into<Input<'a>>) -> Result<CsrMatrix> {
        let input = input.into();
        self.in_pool(|| Ok(self.affinities_of(input)?.0))
    }

    /// P of `input` in input order and the neighbours per point it was computed from, in the
    /// current thread pool.
    pub(crate) fn affinities_of(&self, input: Input<'_>) -> Result<(CsrMatrix, usize)> {
        let mut prepared = self.prepare(input)?;
        let mut neighbors = self.neighbors(&mut prepared)?;
        Ok((self.affinities(&prepared, neighbors.graph.take())?.p, neighbors.k))
    }

    fn run(&self, input: Input<'_>, callback: &mut Callback<'_>) -> Result<Embedding> {
        let start = Instant::now();
        let mut prepared = self.phase(Phase::Preprocessing, || self.prepare(input))?;
        if crate::methods::dense_only(&self.method) {
            return crate::family::fit(
                self,
                prepared.points_or_err()?,
                prepared.dims_in,
                prepared.time,
                callback,
            );
        }
        let mut neighbors = self.phase(Phase::Neighbors, || self.neighbors(&mut prepared))?;
        let after_neighbors = crate::memory::peak_resident_memory();
        // Handed-over coordinates go as soon as nothing needs them: before P when the
        // initialisation does not read it.
        let early = prepared.owned && !self.init.reads_affinities(prepared.points.is_some());
        let mut initial = if early {
            Some(self.phase(Phase::Initialization, || self.initialize(&prepared, None))?)
        } else {
            None
        };
        if early {
            prepared.points = None;
        }
        // The graph is dropped as soon as P is built.
        let affinities =
            self.phase(Phase::Affinities, || self.affinities(&prepared, neighbors.graph.take()))?;
        let after_affinities = crate::memory::peak_resident_memory();
        let initial = match initial.take() {
            Some(start) => start,
            None => self.phase(Phase::Initialization, || self.initialize(&prepared, Some(&affinities.p)))?,
        };
        if prepared.owned {
            prepared.points = None;
        }
        if let Some(show) = &self.on_start {
            show(&initial.y);
        }
        let mut summary = self.summary(&prepared, &neighbors, &affinities, &initial);
        summary.peak_memory =
            PeakMemory { neighbors: after_neighbors, affinities: after_affinities, optimize: None };
        self.budget.check("renumbered affinities", estimate::renumbering(affinities.p.nnz()), || {
            "lower the perplexity (k = 3 x perplexity neighbours per point)".into()
        })?;
        let mut model = Embedding::new(affinities.p, initial.y, self.model_settings(), summary)?;
        model.pin(&self.pinned)?;
        let t = Instant::now();
        self.phase(Phase::Optimization, || model.run(&self.schedule, callback))?;
        let after_optimization = crate::memory::peak_resident_memory();
        // The reference points join the model once the optimisation's buffers are gone (a
        // borrowed input is copied only now).
        model.attach_reference(prepared.points.map(|points| Reference {
            points: points.into_owned(),
            metric: self.metric,
            projection: prepared.projection,
        }));
        model.finish_fit(t.elapsed(), start.elapsed(), after_optimization);
        Ok(model)
    }

    /// Runs `f` as `phase`, announced to the phase listener.
    pub(crate) fn phase<T>(&self, phase: Phase, f: impl FnOnce() -> Result<T>) -> Result<T> {
        crate::phases::announce(&self.on_phase, phase, f)
    }

    /// Checks the input's size and projects points on their principal axes when asked to.
    fn prepare<'a>(&self, input: Input<'a>) -> Result<Prepared<'a>> {
        let t = Instant::now();
        let n = input.n();
        let dims_in = match &input {
            Input::Points(x) | Input::Distances(x) => x.cols(),
            Input::OwnedPoints(x) => x.cols(),
            Input::PointsF32(x) => x.cols(),
            Input::OwnedPointsF32(x) => x.cols(),
            Input::SparsePoints(x) => x.cols(),
            _ => 0,
        };
        if n < 2 {
            return Err(Error::TooFewPoints { n, min: 2 });
        }
        if self.asymmetric_affinities && !matches!(input, Input::Affinities(_)) {
            return Err(Error::InvalidParameter {
                name: "asymmetric_affinities",
                reason: "applies to precomputed affinities only (other inputs give a joint P)".into(),
            });
        }
        if !matches!(
            input,
            Input::Points(_) | Input::OwnedPoints(_) | Input::PointsF32(_) | Input::OwnedPointsF32(_)
        ) && crate::methods::dense_only(&self.method)
        {
            return Err(Error::Unsupported {
                backend: self.method.name().to_string(),
                what:
                    "precomputed distances, neighbours or affinities (it runs on the dense path from points)"
                        .into(),
            });
        }
        let owned = matches!(input, Input::OwnedPoints(_) | Input::OwnedPointsF32(_));
        let (mut points, mut projection) = (None, None);
        let (given, graph) = match input {
            Input::Points(x) => {
                (points, projection) = match self.project(x)? {
                    Some((p, proj)) => (Some(Cow::Owned(p)), Some(proj)),
                    None => (Some(Cow::Borrowed(x)), None),
                };
                (Given::Points, None)
            }
            Input::OwnedPoints(x) => {
                // A projection replaces the handed-over points at once.
                (points, projection) = match self.project(&x)? {
                    Some((p, proj)) => (Some(Cow::Owned(p)), Some(proj)),
                    None => (Some(Cow::Owned(x)), None),
                };
                (Given::Points, None)
            }
            Input::PointsF32(x) => {
                (points, projection) = self.project_or_widen(x)?;
                (Given::Points, None)
            }
            Input::OwnedPointsF32(x) => {
                // The single-precision copy is dropped once projected or widened.
                (points, projection) = self.project_or_widen(&x)?;
                (Given::Points, None)
            }
            Input::SparsePoints(x) => {
                if self.pca.is_some() {
                    return Err(Error::Unsupported {
                        backend: "PCA".into(),
                        what: "sparse points (reduce them first, e.g. with a truncated SVD)".into(),
                    });
                }
                (Given::Sparse(x), None)
            }
            Input::Distances(d) => (Given::Distances(d), None),
            Input::Graph(g) => (Given::Graph, Some(Cow::Borrowed(g))),
            Input::OwnedGraph(g) => (Given::Graph, Some(Cow::Owned(g))),
            Input::Affinities(p) => (Given::Affinities(p), None),
        };
        Ok(Prepared { given, graph, n, dims_in, points, projection, owned, time: t.elapsed() })
    }

    /// Single-precision points projected (with the projection) or widened to `f64`.
    #[allow(clippy::type_complexity)]
    fn project_or_widen(&self, x: &MatrixF32) -> Result<(Option<Cow<'static, Matrix>>, Option<Projection>)> {
        Ok(match self.project(x)? {
            Some((p, proj)) => (Some(Cow::Owned(p)), Some(proj)),
            None => (Some(Cow::Owned(x.to_f64())), None),
        })
    }

    /// The points projected on their leading principal axes, with the projection, when PCA
    /// was asked for with fewer dimensions than the points have; none otherwise.
    fn project<P: PointRows>(&self, x: &P) -> Result<Option<(Matrix, Projection)>> {
        if x.cols() == 0 {
            return Err(Error::InvalidParameter { name: "points", reason: "rows have no columns".into() });
        }
        match self.pca {
            Some(d) if d < x.cols() => {
                self.budget.check("PCA projection", estimate::pca(x.rows(), x.cols()), || {
                    "reduce the columns before t-SNE, or raise `max_memory`".into()
                })?;
                let projection = Projection::fit(x, d)?;
                Ok(Some((projection.apply(x)?, projection)))
            }
            _ => Ok(None),
        }
    }

    /// The kNN graph of the input: searched for points and distance matrices, as given for a
    /// graph, none for affinities.
    fn neighbors<'a>(&self, prepared: &mut Prepared<'a>) -> Result<Neighbors<'a>> {
        let t = Instant::now();
        let n = prepared.n;
        // Sparse points have one search, the exact one, at every size.
        let method = match (prepared.given, &self.neighbors) {
            (Given::Sparse(_), NeighborMethod::Auto) => NeighborMethod::Exact,
            (_, NeighborMethod::Auto) if !self.metric.has_approximate_search() => NeighborMethod::Exact,
            _ => self.neighbors.resolve(n),
        };
        let k = if method == NeighborMethod::Dense { n - 1 } else { self.affinity.neighbors_needed(n) };
        if k == 0 && !matches!(prepared.given, Given::Graph | Given::Affinities(_)) {
            return Err(Error::TooFewPoints { n, min: 2 });
        }
        if !matches!(prepared.given, Given::Affinities(_)) {
            let dense = method == NeighborMethod::Dense;
            // A given graph is in memory already; one the caller keeps stays there.
            let (search, k, kept) = match &prepared.graph {
                Some(g) => (0, g.k(), matches!(g, Cow::Borrowed(_))),
                None => (estimate::neighbors(n, k), k, false),
            };
            self.budget.check(
                if dense { "dense all-pairs neighbour graph" } else { "kNN graph and affinities" },
                search + estimate::affinities(n, k, kept),
                || {
                    if dense {
                        "use `NeighborMethod::Exact`: k = 3 x perplexity neighbours".into()
                    } else {
                        "lower the perplexity (k = 3 x perplexity neighbours per point)".into()
                    }
                },
            )?;
        }
        let (graph, name) = match (prepared.given, &prepared.points) {
            (Given::Graph, _) => (prepared.graph.take(), "precomputed".to_string()),
            (Given::Affinities(_), _) => (None, "none".to_string()),
            (Given::Distances(d), _) => {
                (Some(Cow::Owned(PrecomputedDistances.search(d, k)?)), "precomputed".into())
            }
            (Given::Sparse(x), _) => {
                if !matches!(method, NeighborMethod::Exact | NeighborMethod::Dense) {
                    return Err(Error::Unsupported {
                        backend: format!("the {method:?} neighbour search"),
                        what: "sparse points (their search is exact: use `NeighborMethod::Exact` or `NeighborMethod::Auto`)"
                            .into(),
                    });
                }
                (Some(Cow::Owned(sparse_neighbors(x, k, self.metric)?)), "exact-sparse".into())
            }
            (Given::Points, Some(points)) => {
                let search = method.backend(self.metric, self.seed)?;
                let name = if method == NeighborMethod::Dense { "dense" } else { search.name() }.to_string();
                (Some(Cow::Owned(search.search(points, k)?)), name)
            }
            (Given::Points, None) => unreachable!("prepare keeps the coordinates of points"),
        };
        let time = t.elapsed();
        let recall = match (&graph, &prepared.points, self.check_recall) {
            (Some(g), Some(points), Some(sample))
                if !matches!(name.as_str(), "exact" | "dense" | "precomputed") =>
            {
                Some(crate::metrics::neighbor_recall(points, g, sample, self.metric)?)
            }
            _ => None,
        };
        let k = graph.as_ref().map_or(0, |g| g.k());
        Ok(Neighbors { graph, k, name, recall, time })
    }

    /// Joint P: the affinity calibrated on the graph, or the given P checked and normalised.
    fn affinities(&self, prepared: &Prepared<'_>, graph: Option<Cow<'_, KnnGraph>>) -> Result<Affinities> {
        let t = Instant::now();
        let (p, name) = match (prepared.given, graph) {
            (Given::Affinities(p), _) if self.asymmetric_affinities => {
                (affinities_as_given(p.clone(), None)?, "precomputed".to_string())
            }
            (Given::Affinities(p), _) => (joint_affinities(p.clone(), None)?, "precomputed".to_string()),
            (_, Some(Cow::Owned(graph))) => {
                (self.affinity.affinities_owned(graph)?, self.affinity.name().to_string())
            }
            (_, Some(Cow::Borrowed(graph))) => {
                (self.affinity.affinities(graph)?, self.affinity.name().to_string())
            }
            (_, None) => unreachable!("every input but P has a graph"),
        };
        Ok(Affinities { p, name, time: t.elapsed() })
    }

    /// The starting positions, `n x dims`; `p` is none when the initialisation runs before P
    /// (it does not read it).
    fn initialize(&self, prepared: &Prepared<'_>, p: Option<&CsrMatrix>) -> Result<Start> {
        let t = Instant::now();
        let initializer = self.init.initializer(prepared.points.is_some());
        let input = InitInput { n: prepared.n, points: prepared.points.as_deref(), affinities: p };
        let y = initializer.initialize(&input, self.dims, self.seed)?;
        crate::methods::check_start(&y, prepared.n, self.dims)?;
        Ok(Start { y, name: initializer.name().to_string(), time: t.elapsed() })
    }

    /// The settings the fitted model keeps.
    pub(crate) fn model_settings(&self) -> ModelSettings {
        ModelSettings {
            kernel: self.kernel,
            repulsion: self.repulsion.clone(),
            input: InputStages {
                neighbors: self.neighbors.clone(),
                perplexity: self.perplexity,
                affinity: self.user_affinity.then(|| self.affinity.clone()),
                seed: self.seed,
            },
            threads: self.threads,
            budget: self.budget,
        }
    }

    /// The summary of the stages before the optimisation.
    fn summary(
        &self,
        prepared: &Prepared<'_>,
        neighbors: &Neighbors<'_>,
        affinities: &Affinities,
        start: &Start,
    ) -> Summary {
        Summary {
            k: neighbors.k,
            nnz: affinities.p.nnz(),
            recall: neighbors.recall,
            learning_rate: self.schedule.learning_rate(prepared.n),
            neighbors: neighbors.name.clone(),
            affinity: affinities.name.clone(),
            init: start.name.clone(),
            timings: Timings {
                preprocessing: prepared.time,
                neighbors: neighbors.time,
                affinities: affinities.time,
                initialization: start.time,
                ..Timings::default()
            },
            ..Summary::new(prepared.n, prepared.dims_in, self.dims)
        }
    }
}

impl Prepared<'_> {
    fn points_or_err(&self) -> Result<&Matrix> {
        self.points.as_deref().ok_or_else(|| Error::Unsupported {
            backend: "the dense SNE-family path".into(),
            what: "inputs without coordinates".into(),
        })
    }
}
