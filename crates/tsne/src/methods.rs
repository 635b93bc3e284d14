//! One choice per stage: the built-in methods and user backends of neighbour search,
//! repulsion and initialisation, and what `auto` resolves to.

use std::fmt;
use std::sync::{Arc, Mutex};

use tsne_affinity::{BruteForce, Hnsw, HnswParams, Metric, NnDescent, NnDescentParams};
use tsne_core::{Error, Initializer, Matrix, NeighborSearch, Repulsion, Result};
use tsne_family::Method;
use tsne_init::{Given, Pca, Random, Spectral};
use tsne_repulsion::{BarnesHut, Exact, FftInterpolation, FftParams};

use crate::memory::Budget;

/// How neighbours are found.
#[derive(Clone, Default)]
pub enum NeighborMethod {
    /// [`Exact`](NeighborMethod::Exact) below 200,000 points,
    /// [`NnDescent`](NeighborMethod::NnDescent) from there (exact grows as n^2, NN-descent
    /// about as n log n; the threshold is measured on the benchmark page), and exact at any
    /// size for sparse points and for metrics only the exact search serves.
    #[default]
    Auto,
    /// Brute-force search for `k = min(n - 1, 3 * perplexity)` neighbours.
    Exact,
    /// Every other point is a neighbour (`k = n - 1`): the dense exact P, O(n^2) memory.
    Dense,
    /// Approximate neighbours by NN-descent from a random-projection forest. Its metric and
    /// seed are the builder's; a params struct that names another is an error at `build()`.
    NnDescent(NnDescentParams),
    /// Approximate neighbours from an HNSW graph; its metric is the builder's (as above).
    Hnsw(HnswParams),
    /// A user-written search.
    Custom(Arc<dyn NeighborSearch>),
}

impl fmt::Debug for NeighborMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("Auto"),
            Self::Exact => f.write_str("Exact"),
            Self::Dense => f.write_str("Dense"),
            Self::NnDescent(p) => f.debug_tuple("NnDescent").field(p).finish(),
            Self::Hnsw(p) => f.debug_tuple("Hnsw").field(p).finish(),
            Self::Custom(s) => write!(f, "Custom({})", s.name()),
        }
    }
}

impl PartialEq for NeighborMethod {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::NnDescent(a), Self::NnDescent(b)) => a == b,
            (Self::Hnsw(a), Self::Hnsw(b)) => a == b,
            (Self::Custom(a), Self::Custom(b)) => Arc::ptr_eq(a, b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl NeighborMethod {
    /// Points from which `Auto` uses NN-descent.
    pub const AUTO_APPROXIMATE_FROM: usize = 200_000;

    /// The concrete method `Auto` stands for with `n` points.
    pub fn resolve(&self, n: usize) -> Self {
        match self {
            Self::Auto if n >= Self::AUTO_APPROXIMATE_FROM => Self::NnDescent(NnDescentParams::default()),
            Self::Auto => Self::Exact,
            other => other.clone(),
        }
    }

    /// Checks the parameters against the builder's metric and seed.
    pub(crate) fn check(&self, metric: Metric, seed: u64) -> Result<()> {
        let conflict = |what: &str| Error::InvalidParameter {
            name: "neighbors",
            reason: format!("the {what} differs from the builder's; set it on the builder only"),
        };
        let approximate = matches!(self, Self::NnDescent(_) | Self::Hnsw(_));
        if approximate && !metric.has_approximate_search() {
            return Err(Error::Unsupported {
                backend: format!("the {self:?} neighbour search"),
                what: format!(
                    "the {} metric (use `NeighborMethod::Exact` or `NeighborMethod::Auto`)",
                    metric.name()
                ),
            });
        }
        match self {
            Self::NnDescent(p) => {
                if p.metric != Metric::default() && p.metric != metric {
                    return Err(conflict("metric of NnDescentParams"));
                }
                if p.seed != 0 && p.seed != seed {
                    return Err(conflict("seed of NnDescentParams"));
                }
                NnDescent::new(*p).map(drop)
            }
            Self::Hnsw(p) => {
                if p.metric != Metric::default() && p.metric != metric {
                    return Err(conflict("metric of HnswParams"));
                }
                Hnsw::new(*p).map(drop)
            }
            _ => Ok(()),
        }
    }

    /// The search backend of a resolved method.
    pub(crate) fn backend(&self, metric: Metric, seed: u64) -> Result<Arc<dyn NeighborSearch>> {
        Ok(match self {
            Self::NnDescent(params) => Arc::new(NnDescent::new(NnDescentParams { metric, seed, ..*params })?),
            Self::Hnsw(params) => Arc::new(Hnsw::new(HnswParams { metric, ..*params })?),
            Self::Custom(search) => search.clone(),
            Self::Auto | Self::Exact | Self::Dense => Arc::new(BruteForce::new(metric)),
        })
    }
}

/// A user repulsion backend, shared so that a fitted [`Embedding`](crate::Embedding) can go
/// on using it.
pub type SharedRepulsion = Arc<Mutex<dyn Repulsion>>;

/// The user backend, usable even after a panic while it was locked.
fn lock(shared: &SharedRepulsion) -> std::sync::MutexGuard<'_, dyn Repulsion + 'static> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// How repulsive forces are computed.
#[derive(Clone, Default)]
pub enum RepulsionMethod {
    /// [`Exact`](RepulsionMethod::Exact) below 500 points, FFT interpolation from 10,000
    /// points in 1-D and from 20,000 in 2-D, Barnes-Hut otherwise (Barnes-Hut handles up to
    /// 3-D; above that `Auto` stays exact). The thresholds are where the faster backend
    /// changed in measurements on 2 cores (the benchmark page has them).
    #[default]
    Auto,
    /// All pairs, O(n^2) per iteration; the KL divergence reported is exact.
    Exact,
    /// Barnes-Hut tree with opening angle `theta` (0.5 is the usual choice; 0 is exact); 1-D
    /// to 3-D embeddings.
    BarnesHut {
        /// Opening angle.
        theta: f64,
    },
    /// FFT-accelerated interpolation on a grid (1-D and 2-D embeddings only).
    Fft(FftParams),
    /// A user-written backend.
    Custom(SharedRepulsion),
}

impl fmt::Debug for RepulsionMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Auto => f.write_str("Auto"),
            Self::Exact => f.write_str("Exact"),
            Self::BarnesHut { theta } => write!(f, "BarnesHut {{ theta: {theta} }}"),
            Self::Fft(p) => f.debug_tuple("Fft").field(p).finish(),
            Self::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl PartialEq for RepulsionMethod {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::BarnesHut { theta: a }, Self::BarnesHut { theta: b }) => a == b,
            (Self::Fft(a), Self::Fft(b)) => a == b,
            (Self::Custom(a), Self::Custom(b)) => Arc::ptr_eq(a, b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl RepulsionMethod {
    /// Points below which `Auto` uses the exact backend.
    pub const AUTO_EXACT_BELOW: usize = 500;
    /// Points from which `Auto` uses FFT interpolation for 2-D embeddings.
    pub const AUTO_FFT_FROM: usize = 20_000;
    /// Points from which `Auto` uses FFT interpolation for 1-D embeddings.
    pub const AUTO_FFT_FROM_1D: usize = 10_000;

    /// Barnes-Hut with the default `theta = 0.5`.
    pub fn barnes_hut() -> Self {
        Self::BarnesHut { theta: 0.5 }
    }

    /// FFT interpolation with the default grid.
    pub fn fft() -> Self {
        Self::Fft(FftParams::default())
    }

    /// A user backend.
    pub fn custom(backend: impl Repulsion + 'static) -> Self {
        Self::Custom(Arc::new(Mutex::new(backend)))
    }

    /// The concrete method `Auto` stands for with `n` points in `dims` dimensions.
    pub fn resolve(&self, n: usize, dims: usize) -> Self {
        match self {
            Self::Auto if n < Self::AUTO_EXACT_BELOW || dims > BarnesHut::MAX_DIMS => Self::Exact,
            Self::Auto if dims <= 1 && n >= Self::AUTO_FFT_FROM_1D => Self::fft(),
            Self::Auto if dims == 2 && n >= Self::AUTO_FFT_FROM => Self::fft(),
            Self::Auto => Self::barnes_hut(),
            other => other.clone(),
        }
    }

    /// Checks the parameters and that every method this one can resolve to handles `dims`.
    pub(crate) fn check(&self, dims: usize) -> Result<()> {
        match self {
            Self::Auto => [0, Self::AUTO_EXACT_BELOW, Self::AUTO_FFT_FROM_1D, Self::AUTO_FFT_FROM]
                .iter()
                .try_for_each(|&n| self.resolve(n, dims).check(dims)),
            Self::BarnesHut { .. } if !self.supports(dims) => Err(Error::Unsupported {
                backend: "Barnes-Hut".into(),
                what: format!(
                    "{dims}-dimensional embeddings (1 to {}; use `RepulsionMethod::Exact`)",
                    BarnesHut::MAX_DIMS
                ),
            }),
            Self::BarnesHut { theta } => BarnesHut::new(*theta).map(drop),
            Self::Fft(_) if !self.supports(dims) => Err(Error::Unsupported {
                backend: "FFT interpolation".into(),
                what: format!(
                    "{dims}-dimensional embeddings (1 to {}; use `RepulsionMethod::BarnesHut` for 3)",
                    FftInterpolation::MAX_DIMS
                ),
            }),
            Self::Fft(params) => params.check(),
            Self::Custom(backend) if !self.supports(dims) => Err(Error::Unsupported {
                backend: lock(backend).name().to_string(),
                what: format!("{dims}-dimensional embeddings"),
            }),
            Self::Exact | Self::Custom(_) => Ok(()),
        }
    }

    /// Whether this method embeds in `dims` dimensions (`Auto` always: it falls back to the
    /// exact backend where no faster one does).
    pub fn supports(&self, dims: usize) -> bool {
        match self {
            Self::Auto | Self::Exact => dims >= 1,
            Self::BarnesHut { .. } => (1..=BarnesHut::MAX_DIMS).contains(&dims),
            Self::Fft(_) => (1..=FftInterpolation::MAX_DIMS).contains(&dims),
            Self::Custom(backend) => lock(backend).supports(dims),
        }
    }

    /// Whether the backend approximates the forces (Barnes-Hut, FFT or a user's).
    pub(crate) fn is_approximate(&self) -> bool {
        matches!(self, Self::BarnesHut { .. } | Self::Fft(_) | Self::Custom(_))
    }

    /// Runs `f` with the backend of this method for `n` points in `dims` dimensions: a new one
    /// for built-ins, the shared user backend (locked for the call) otherwise. Where `Auto`
    /// chooses FFT interpolation, an iteration whose embedding is too wide for the grid (a far
    /// outlier) runs on Barnes-Hut instead of failing.
    pub(crate) fn with_backend<T>(
        &self,
        n: usize,
        dims: usize,
        budget: Budget,
        f: impl FnOnce(&mut dyn Repulsion) -> Result<T>,
    ) -> Result<T> {
        let fft = |params: FftParams| -> Result<FftInterpolation> {
            let fft = FftInterpolation::new(params)?;
            Ok(match budget.allowed() {
                Some((bytes, bound)) => fft.with_memory_limit(bytes, bound),
                None => fft,
            })
        };
        match self {
            Self::Auto => match self.resolve(n, dims) {
                Self::Fft(params) => f(&mut FftOrBarnesHut {
                    fft: fft(params)?,
                    barnes_hut: BarnesHut::new(0.5)?,
                    fell_back: false,
                }),
                other => other.with_backend(n, dims, budget, f),
            },
            Self::Exact => f(&mut Exact::new()),
            Self::BarnesHut { theta } => f(&mut BarnesHut::new(*theta)?),
            Self::Fft(params) => f(&mut fft(*params)?),
            Self::Custom(shared) => {
                // A panic in another call poisons the lock; the backend's buffers carry no
                // state between calls that a poisoned lock would make unsafe to reuse.
                let mut guard = lock(shared);
                f(&mut *guard)
            }
        }
    }
}

/// FFT interpolation, with Barnes-Hut for the iterations whose embedding is too wide for the
/// FFT grid (the grid is capped; see `tsne_repulsion::MAX_NODES_2D`).
struct FftOrBarnesHut {
    fft: FftInterpolation,
    barnes_hut: BarnesHut,
    fell_back: bool,
}

impl Repulsion for FftOrBarnesHut {
    fn repulsion(&mut self, y: &Matrix, kernel: tsne_core::StudentT, forces: &mut [f64]) -> Result<f64> {
        match self.fft.repulsion(y, kernel, forces) {
            // FFT refuses an evaluation in 1-D and 2-D only for its grid: beyond the cap or
            // beyond the memory allowed.
            Err(Error::Unsupported { .. } | Error::MemoryLimit { .. }) => {
                self.fell_back = true;
                self.barnes_hut.repulsion(y, kernel, forces)
            }
            other => other,
        }
    }

    fn name(&self) -> &str {
        if self.fell_back {
            "fft+bh"
        } else {
            "fft"
        }
    }
}

/// How the embedding starts.
#[derive(Clone, Default)]
pub enum Init {
    /// Leading principal components scaled to standard deviation `1e-4`; spectral when the
    /// input has no coordinates (precomputed distances, neighbours or affinities).
    #[default]
    Pca,
    /// Leading eigenvectors of the normalised affinities ([`Spectral`]), scaled to standard
    /// deviation `1e-4`.
    Spectral,
    /// Gaussian noise with standard deviation `1e-4`.
    Random,
    /// These positions, one row per input point, as given (no rescaling).
    Given(Matrix),
    /// A user-written initialiser.
    Custom(Arc<dyn Initializer>),
}

impl fmt::Debug for Init {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Pca => f.write_str("Pca"),
            Self::Spectral => f.write_str("Spectral"),
            Self::Random => f.write_str("Random"),
            Self::Given(m) => write!(f, "Given({} x {})", m.rows(), m.cols()),
            Self::Custom(i) => write!(f, "Custom({})", i.name()),
        }
    }
}

impl Init {
    /// Whether the initialisation may read P (given coordinates or not): the spectral one,
    /// PCA without coordinates, and a user-written one.
    pub(crate) fn reads_affinities(&self, has_points: bool) -> bool {
        match self {
            Self::Pca => !has_points,
            Self::Spectral | Self::Custom(_) => true,
            Self::Random | Self::Given(_) => false,
        }
    }

    /// The initialiser: PCA falls back to spectral when the input has no coordinates.
    pub(crate) fn initializer(&self, has_points: bool) -> Arc<dyn Initializer> {
        match self {
            Self::Pca if has_points => Arc::new(Pca::default()),
            Self::Pca | Self::Spectral => Arc::new(Spectral::default()),
            Self::Random => Arc::new(Random::default()),
            Self::Given(m) => Arc::new(Given::new(m.clone())),
            Self::Custom(i) => i.clone(),
        }
    }
}

/// Whether `method` runs on the exact dense path only.
pub(crate) fn dense_only(method: &Method) -> bool {
    !matches!(
        method,
        Method::Probability {
            kernel: tsne_family::Kernel::StudentT | tsne_family::Kernel::HeavyTailed { .. },
            normalization: tsne_family::Normalization::PairWise,
            divergence: tsne_family::Divergence::Kl,
        }
    )
}

/// A starting embedding must have one finite row of `dims` values per point.
pub(crate) fn check_start(y: &Matrix, n: usize, dims: usize) -> Result<()> {
    if y.rows() != n {
        return Err(Error::DimensionMismatch {
            what: "initial embedding rows",
            expected: n,
            found: y.rows(),
        });
    }
    if y.cols() != dims {
        return Err(Error::DimensionMismatch {
            what: "initial embedding columns",
            expected: dims,
            found: y.cols(),
        });
    }
    Ok(())
}
