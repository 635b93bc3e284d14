//! The fit's settings as flags, and their one translation into a [`TSne`] configuration.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use tsne::backends::affinity::{Multiscale, Uniform};
use tsne::{
    FftParams, HnswParams, Init, LearningRate, Method, Metric, NeighborMethod, NnDescentParams,
    RepulsionMethod, TSne, TSneBuilder,
};

use crate::input;

#[derive(Clone, Copy, ValueEnum)]
pub enum AffinityArg {
    /// Gaussian affinities calibrated to --perplexity.
    Perplexity,
    /// The average of Gaussian affinities at each of --perplexities.
    Multiscale,
    /// Equal weights on the floor(--perplexity) nearest neighbours.
    Uniform,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum MethodArg {
    /// t-SNE (Student-t kernel, pair-wise, KL).
    Tsne,
    /// Asymmetric SNE (Gaussian kernel, point-wise, KL); exact dense path.
    Asne,
    /// Symmetric SNE (Gaussian kernel, pair-wise, KL); exact dense path.
    Ssne,
    /// Heavy-tailed SNE with --alpha (1 is t-SNE).
    Hssne,
    /// Symmetric NeRV with --lambda; exact dense path.
    Nerv,
    /// Jensen-Shannon embedding with --kappa; exact dense path.
    Jse,
    /// Metric MDS; exact dense path.
    Mds,
    /// SSTRESS; exact dense path.
    Sstress,
    /// Sammon mapping; exact dense path.
    Sammon,
}

impl MethodArg {
    /// The flag's spelling, as the JSON summary reports it.
    pub fn name(self) -> String {
        format!("{self:?}").to_lowercase()
    }
}

/// The start: a method or a file of positions.
#[derive(Clone)]
pub enum InitArg {
    /// Leading principal components (spectral when the input has no coordinates).
    Pca,
    /// Leading eigenvectors of the normalised affinity graph.
    Spectral,
    /// Gaussian noise.
    Random,
    /// Positions read from a file, one row per point.
    File(PathBuf),
}

fn parse_init(s: &str) -> Result<InitArg, String> {
    Ok(match s.to_ascii_lowercase().as_str() {
        "pca" => InitArg::Pca,
        "spectral" => InitArg::Spectral,
        "random" => InitArg::Random,
        _ => InitArg::File(PathBuf::from(s)),
    })
}

#[derive(Clone, Copy, ValueEnum)]
pub enum NeighborsArg {
    /// Exact below 200,000 points, NN-descent from there.
    Auto,
    /// Brute-force k = 3 * perplexity nearest neighbours.
    Exact,
    /// All pairs (dense exact P).
    Dense,
    /// Approximate neighbours by NN-descent (seeded, reproducible).
    Nndescent,
    /// Approximate neighbours from an HNSW graph.
    Hnsw,
    /// INPUT is an n x n distance matrix.
    Precomputed,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum RepulsionArg {
    /// Exact below 500 points, FFT from 10,000 points in 1-D and 20,000 in 2-D, Barnes-Hut otherwise.
    Auto,
    /// All pairs, O(n^2) per iteration.
    Exact,
    /// Barnes-Hut tree, O(n log n); see --theta.
    Bh,
    /// FFT-accelerated interpolation, O(n); 1-D and 2-D only.
    Fft,
}

/// The settings of a fit, shared by `demo` and `embed`.
#[derive(Args)]
pub struct Params {
    /// Member of the SNE family to run.
    #[arg(long, value_enum, default_value_t = MethodArg::Tsne)]
    pub method: MethodArg,
    /// HSSNE heavy-tailedness (1 is t-SNE, towards 0 SSNE).
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// NeRV weight of KL(P||Q) against KL(Q||P).
    #[arg(long, default_value_t = 0.5)]
    pub lambda: f64,
    /// JSE mixture weight, in (0, 1).
    #[arg(long, default_value_t = 0.5)]
    pub kappa: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Worker threads (default: one per core). The embedding does not depend on it.
    #[arg(long)]
    pub threads: Option<usize>,
    /// Perplexity of the input affinities.
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f64,
    /// Input affinities.
    #[arg(long, value_enum, default_value_t = AffinityArg::Perplexity)]
    pub affinity: AffinityArg,
    /// Perplexities of --affinity multiscale, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,30")]
    pub perplexities: Vec<f64>,
    /// Total iterations (with --min-kl-change, the most).
    #[arg(long, default_value_t = 1000)]
    pub iterations: usize,
    /// Stop once the KL divergence changes by less than this fraction over 50 iterations
    /// after early exaggeration (0: run every iteration).
    #[arg(long, default_value_t = 0.0)]
    pub min_kl_change: f64,
    /// Learning rate, a number or `auto` (max(N / early exaggeration, 50)).
    #[arg(long, default_value = "auto", value_parser = parse_learning_rate)]
    pub learning_rate: LearningRate,
    /// Early exaggeration factor (default 12; the methods without KL(P||Q) run without).
    #[arg(long)]
    pub early_exaggeration: Option<f64>,
    /// Iterations of early exaggeration.
    #[arg(long, default_value_t = 250)]
    pub exaggeration_iterations: usize,
    /// Exaggeration after the early phase (default 1, plain t-SNE).
    #[arg(long)]
    pub exaggeration: Option<f64>,
    /// Degrees of freedom of the output t kernel (1 is t-SNE; < 1 heavier tails).
    #[arg(long, default_value_t = 1.0)]
    pub dof: f64,
    /// Initial embedding: pca, spectral, random, or a file of positions (one row per point).
    #[arg(long, default_value = "pca", value_parser = parse_init)]
    pub init: InitArg,
    /// Points to keep at their --init positions: a file of 0-based indices, one per line.
    #[arg(long)]
    pub pin: Option<PathBuf>,
    /// Output dimensions.
    #[arg(long, default_value_t = 2)]
    pub dims: usize,
    /// Neighbour search.
    #[arg(long, value_enum, default_value_t = NeighborsArg::Auto)]
    pub neighbors: NeighborsArg,
    /// Distance between input points: euclidean, sqeuclidean, cosine, correlation, manhattan,
    /// chebyshev, minkowski (order 2, or minkowski:P), canberra, braycurtis, hamming, jaccard
    /// (scikit-learn's definitions; those past manhattan are searched exactly).
    #[arg(long, default_value = "euclidean", value_parser = parse_metric)]
    pub metric: Metric,
    /// HNSW: links per node (default 32).
    #[arg(long)]
    pub hnsw_m: Option<usize>,
    /// HNSW: candidate list while building (default max(200, 2k)).
    #[arg(long)]
    pub ef_construction: Option<usize>,
    /// HNSW: candidate list while searching (default max(100, 2k)).
    #[arg(long)]
    pub ef_search: Option<usize>,
    /// Measure the recall of an approximate neighbour search against brute force on 1000 points.
    #[arg(long)]
    pub check_recall: bool,
    /// Most memory a stage may plan to use, e.g. 8G or 500M (default: what the machine has
    /// available); a stage that needs more stops at once, naming what would fit.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    pub max_memory: Option<u64>,
    /// Project the input on its leading D principal components before the neighbour search.
    #[arg(long, value_name = "D")]
    pub pca: Option<usize>,
    /// Repulsion backend.
    #[arg(long, value_enum, default_value_t = RepulsionArg::Auto)]
    pub repulsion: RepulsionArg,
    /// Barnes-Hut opening angle (0 is exact; default 0.5); needs --repulsion bh.
    #[arg(long)]
    pub theta: Option<f64>,
    /// FFT: interpolation nodes per interval (default 4); needs --repulsion fft.
    #[arg(long)]
    pub interp_points: Option<usize>,
    /// FFT: fewest intervals per dimension (default 50); needs --repulsion fft.
    #[arg(long)]
    pub min_intervals: Option<usize>,
    /// FFT: intervals per unit length of the embedding (default 1.25); needs --repulsion fft.
    #[arg(long)]
    pub intervals_per_unit: Option<f64>,
}

impl Params {
    /// The configuration these flags describe, unbuilt (for the front end's listeners); a
    /// setting that would be ignored is refused when it is built.
    pub fn builder(&self) -> Result<TSneBuilder> {
        let mut builder = TSne::builder()
            .method(self.method())
            .seed(self.seed)
            .perplexity(self.perplexity)
            .iterations(self.iterations)
            .min_kl_change(self.min_kl_change)
            .learning_rate(self.learning_rate)
            .exaggeration_iterations(self.exaggeration_iterations)
            .dof(self.dof)
            .dims(self.dims)
            .init(self.init()?)
            .metric(self.metric)
            .neighbors(self.neighbor_method())
            .repulsion(self.repulsion()?);
        builder = self.optional_settings(builder)?;
        self.affinity(builder)
    }

    fn method(&self) -> Method {
        match self.method {
            MethodArg::Tsne => Method::tsne(),
            MethodArg::Asne => Method::asne(),
            MethodArg::Ssne => Method::ssne(),
            MethodArg::Hssne => Method::hssne(self.alpha),
            MethodArg::Nerv => Method::nerv(self.lambda),
            MethodArg::Jse => Method::jse(self.kappa),
            MethodArg::Mds => Method::mds(),
            MethodArg::Sstress => Method::sstress(),
            MethodArg::Sammon => Method::sammon(),
        }
    }

    fn init(&self) -> Result<Init> {
        Ok(match &self.init {
            InitArg::Pca => Init::Pca,
            InitArg::Spectral => Init::Spectral,
            InitArg::Random => Init::Random,
            InitArg::File(path) => Init::Given(input::read_points(path)?),
        })
    }

    fn neighbor_method(&self) -> NeighborMethod {
        match self.neighbors {
            NeighborsArg::Auto | NeighborsArg::Precomputed => NeighborMethod::Auto,
            NeighborsArg::Exact => NeighborMethod::Exact,
            NeighborsArg::Dense => NeighborMethod::Dense,
            NeighborsArg::Nndescent => NeighborMethod::NnDescent(NnDescentParams::default()),
            NeighborsArg::Hnsw => NeighborMethod::Hnsw(HnswParams {
                m: self.hnsw_m,
                ef_construction: self.ef_construction,
                ef_search: self.ef_search,
                ..HnswParams::default()
            }),
        }
    }

    /// The repulsion backend. A backend's settings without that backend are refused rather
    /// than ignored (`auto` would otherwise use its defaults silently).
    fn repulsion(&self) -> Result<RepulsionMethod> {
        let fft_flag = [
            self.interp_points.map(|_| "--interp-points"),
            self.min_intervals.map(|_| "--min-intervals"),
            self.intervals_per_unit.map(|_| "--intervals-per-unit"),
        ]
        .into_iter()
        .flatten()
        .next();
        if self.theta.is_some() && !matches!(self.repulsion, RepulsionArg::Bh) {
            bail!("--theta sets the Barnes-Hut angle: add --repulsion bh");
        }
        if let (Some(flag), false) = (fft_flag, matches!(self.repulsion, RepulsionArg::Fft)) {
            bail!("{flag} sets the FFT grid: add --repulsion fft");
        }
        let fft = FftParams::default();
        Ok(match self.repulsion {
            RepulsionArg::Auto => RepulsionMethod::Auto,
            RepulsionArg::Exact => RepulsionMethod::Exact,
            RepulsionArg::Bh => RepulsionMethod::BarnesHut { theta: self.theta.unwrap_or(0.5) },
            RepulsionArg::Fft => RepulsionMethod::Fft(FftParams {
                interp_points: self.interp_points.unwrap_or(fft.interp_points),
                min_intervals: self.min_intervals.unwrap_or(fft.min_intervals),
                intervals_per_unit: self.intervals_per_unit.unwrap_or(fft.intervals_per_unit),
            }),
        })
    }

    /// The settings whose absence means the library's default.
    fn optional_settings(&self, mut builder: TSneBuilder) -> Result<TSneBuilder> {
        if let Some(factor) = self.early_exaggeration {
            builder = builder.early_exaggeration(factor);
        }
        if let Some(factor) = self.exaggeration {
            builder = builder.exaggeration(factor);
        }
        if let Some(t) = self.threads {
            builder = builder.threads(t);
        }
        if let Some(d) = self.pca {
            builder = builder.pca(d);
        }
        if self.check_recall {
            builder = builder.check_recall(1000);
        }
        if let Some(bytes) = self.max_memory {
            builder = builder.max_memory(bytes);
        }
        if let Some(path) = &self.pin {
            builder = builder.pin(read_indices(path)?);
        }
        Ok(builder)
    }

    fn affinity(&self, builder: TSneBuilder) -> Result<TSneBuilder> {
        Ok(match self.affinity {
            AffinityArg::Perplexity => builder,
            AffinityArg::Multiscale => builder.affinity(Multiscale::new(self.perplexities.clone())?),
            AffinityArg::Uniform => builder.affinity(Uniform::new(self.perplexity as usize)?),
        })
    }
}

/// 0-based point indices, one per line.
pub fn read_indices(path: &Path) -> Result<Vec<usize>> {
    input::read_labels(path)?
        .iter()
        .enumerate()
        .map(|(line, v)| {
            v.parse::<usize>()
                .with_context(|| format!("{}: line {} is not a point index: `{v}`", path.display(), line + 1))
        })
        .collect()
}
/// `8G`, `500M`, `64k` or plain bytes (decimal units: 1G = 10^9 bytes).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (number, unit) = t.split_at(t.find(|c: char| c.is_ascii_alphabetic()).unwrap_or(t.len()));
    let scale = match unit.to_ascii_uppercase().trim_end_matches('B') {
        "" => 1.0,
        "K" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        _ => return Err(format!("`{s}`: use a number of bytes with K, M, G or T")),
    };
    match number.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok((v * scale) as u64),
        _ => Err(format!("`{s}` is not a positive size")),
    }
}

/// A metric by the library's name, `minkowski:P` for another Minkowski order.
pub fn parse_metric(s: &str) -> Result<Metric, String> {
    let metric = match s.split_once(':') {
        Some((name, p)) if name.eq_ignore_ascii_case("minkowski") => {
            Metric::Minkowski { p: p.parse().map_err(|_| format!("`{p}` is not a Minkowski order"))? }
        }
        _ => s.parse::<Metric>().map_err(|e| e.to_string())?,
    };
    metric.check().map_err(|e| e.to_string())?;
    Ok(metric)
}

/// A number, or `auto`.
pub fn parse_learning_rate(s: &str) -> Result<LearningRate, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(LearningRate::Auto);
    }
    s.parse::<f64>().map(LearningRate::Fixed).map_err(|_| format!("`{s}` is neither a number nor `auto`"))
}
