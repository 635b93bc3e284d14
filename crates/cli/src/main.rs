//! `tsne`: embed a data file (or the bundled digits demo), write the embedding, a plot and a
//! JSON summary.

mod input;
mod output;

use tsne_cli::plot;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tsne::backends::affinity::{Multiscale, Uniform};
use tsne::{
    metrics::knn_accuracy_sampled, FftParams, HnswParams, Init, LearningRate, Matrix, Method, Metric,
    NeighborMethod, NnDescentParams, Progress, RepulsionMethod, TSne, Transform,
};

/// Most query points of the 10-NN label accuracy: exact up to this size, an evenly strided
/// sample beyond (the all-pairs search in the embedding is O(n^2)).
const ACCURACY_SAMPLE: usize = 100_000;

/// The digits data (UCI optdigits test set as shipped by scikit-learn), 1797 x 64.
static DIGITS: &str = include_str!("../../../data/digits.csv");
static DIGITS_LABELS: &str = include_str!("../../../data/digits_labels.csv");

#[derive(Parser)]
#[command(name = "tsne", version, about = "t-SNE embeddings from the command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed the bundled digits data (1797 handwritten digits, 64 features).
    Demo {
        #[command(flatten)]
        out: OutputArgs,
        #[command(flatten)]
        params: Params,
    },
    /// Embed the points of a file (.csv, .tsv, .txt, .npy, MNIST IDX optionally .gz), or a
    /// precomputed distance matrix, neighbour graph or affinity matrix.
    Embed {
        /// Input file, one point per row (with --neighbors precomputed: an n x n distance matrix).
        #[arg(required_unless_present_any = ["knn_indices", "affinities"])]
        input: Option<PathBuf>,
        /// Precomputed neighbours instead of INPUT: an n x k array of 0-based indices (.npy of
        /// any integer or float type, or text). A leading column of self-matches is dropped.
        #[arg(long, requires = "knn_distances", conflicts_with_all = ["input", "affinities"])]
        knn_indices: Option<PathBuf>,
        /// The n x k distances that go with --knn-indices.
        #[arg(long, requires = "knn_indices")]
        knn_distances: Option<PathBuf>,
        /// Precomputed joint affinities P instead of INPUT: a symmetric sparse matrix in
        /// Matrix Market coordinate format (.mtx, e.g. from scipy.io.mmwrite); scaled to sum 1.
        #[arg(long, conflicts_with_all = ["input", "knn_indices"])]
        affinities: Option<PathBuf>,
        /// Labels, one per line (or an IDX label file), used for the plot and the 10-NN accuracy.
        #[arg(long)]
        labels: Option<PathBuf>,
        #[command(flatten)]
        out: OutputArgs,
        #[command(flatten)]
        params: Params,
    },
    /// Place new points into a finished embedding (each point is optimised against the fixed
    /// reference embedding, as openTSNE's transform).
    Transform {
        /// The new points, one per row, with the columns of --reference.
        input: PathBuf,
        /// The points the embedding was made from.
        #[arg(long)]
        reference: PathBuf,
        /// Their embedding (e.g. the --out of `tsne embed`).
        #[arg(long)]
        embedding: PathBuf,
        /// Write the new points' embedding here (.csv, .tsv, .txt or .npy).
        #[arg(long)]
        out: PathBuf,
        /// Perplexity of each new point's affinities to the reference points.
        #[arg(long, default_value_t = 5.0)]
        perplexity: f64,
        /// Gradient steps.
        #[arg(long, default_value_t = 250)]
        iterations: usize,
        /// Distance between input points.
        #[arg(long, value_enum, default_value_t = MetricArg::Euclidean)]
        metric: MetricArg,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
}

#[derive(Args)]
struct OutputArgs {
    /// Write the embedding here (.csv, .tsv, .txt or .npy).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a scatter plot PNG here.
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Print one JSON summary object on stdout.
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum AffinityArg {
    /// Gaussian affinities calibrated to --perplexity.
    Perplexity,
    /// The average of Gaussian affinities at each of --perplexities.
    Multiscale,
    /// Equal weights on the floor(--perplexity) nearest neighbours.
    Uniform,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum MethodArg {
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

#[derive(Clone, Copy, ValueEnum)]
enum InitArg {
    /// Leading principal components (spectral when the input has no coordinates).
    Pca,
    /// Leading eigenvectors of the normalised affinity graph.
    Spectral,
    /// Gaussian noise.
    Random,
}

#[derive(Clone, Copy, ValueEnum)]
enum MetricArg {
    Euclidean,
    /// 1 - cos(x, y).
    Cosine,
    /// Sum of absolute differences.
    Manhattan,
}

impl From<MetricArg> for Metric {
    fn from(m: MetricArg) -> Self {
        match m {
            MetricArg::Euclidean => Metric::Euclidean,
            MetricArg::Cosine => Metric::Cosine,
            MetricArg::Manhattan => Metric::Manhattan,
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
enum NeighborsArg {
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
enum RepulsionArg {
    /// Exact below 500 points, FFT from 10,000 points in 1-D/2-D, Barnes-Hut otherwise.
    Auto,
    /// All pairs, O(n^2) per iteration.
    Exact,
    /// Barnes-Hut tree, O(n log n); see --theta.
    Bh,
    /// FFT-accelerated interpolation, O(n); 1-D and 2-D only.
    Fft,
}

#[derive(Args)]
struct Params {
    /// Member of the SNE family to run.
    #[arg(long, value_enum, default_value_t = MethodArg::Tsne)]
    method: MethodArg,
    /// HSSNE heavy-tailedness (1 is t-SNE, towards 0 SSNE).
    #[arg(long, default_value_t = 0.5)]
    alpha: f64,
    /// NeRV weight of KL(P||Q) against KL(Q||P).
    #[arg(long, default_value_t = 0.5)]
    lambda: f64,
    /// JSE mixture weight, in (0, 1).
    #[arg(long, default_value_t = 0.5)]
    kappa: f64,
    /// Seed of every random choice.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Worker threads (default: one per core). The embedding does not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Perplexity of the input affinities.
    #[arg(long, default_value_t = 30.0)]
    perplexity: f64,
    /// Input affinities.
    #[arg(long, value_enum, default_value_t = AffinityArg::Perplexity)]
    affinity: AffinityArg,
    /// Perplexities of --affinity multiscale, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "10,30")]
    perplexities: Vec<f64>,
    /// Total iterations.
    #[arg(long, default_value_t = 1000)]
    iterations: usize,
    /// Learning rate, a number or `auto` (max(N / early exaggeration, 50)).
    #[arg(long, default_value = "auto", value_parser = parse_learning_rate)]
    learning_rate: LearningRate,
    /// Early exaggeration factor.
    #[arg(long, default_value_t = 12.0)]
    early_exaggeration: f64,
    /// Iterations of early exaggeration.
    #[arg(long, default_value_t = 250)]
    exaggeration_iterations: usize,
    /// Exaggeration after the early phase (1 is plain t-SNE).
    #[arg(long, default_value_t = 1.0)]
    exaggeration: f64,
    /// Degrees of freedom of the output t kernel (1 is t-SNE; < 1 heavier tails).
    #[arg(long, default_value_t = 1.0)]
    dof: f64,
    /// Initial embedding.
    #[arg(long, value_enum, default_value_t = InitArg::Pca)]
    init: InitArg,
    /// Output dimensions.
    #[arg(long, default_value_t = 2)]
    dims: usize,
    /// Neighbour search.
    #[arg(long, value_enum, default_value_t = NeighborsArg::Auto)]
    neighbors: NeighborsArg,
    /// Distance between input points.
    #[arg(long, value_enum, default_value_t = MetricArg::Euclidean)]
    metric: MetricArg,
    /// HNSW: links per node (default 32).
    #[arg(long)]
    hnsw_m: Option<usize>,
    /// HNSW: candidate list while building (default max(200, 2k)).
    #[arg(long)]
    ef_construction: Option<usize>,
    /// HNSW: candidate list while searching (default max(100, 2k)).
    #[arg(long)]
    ef_search: Option<usize>,
    /// Measure the recall of an approximate neighbour search against brute force on 1000 points.
    #[arg(long)]
    check_recall: bool,
    /// Project the input on its leading D principal components before the neighbour search.
    #[arg(long, value_name = "D")]
    pca: Option<usize>,
    /// Repulsion backend.
    #[arg(long, value_enum, default_value_t = RepulsionArg::Auto)]
    repulsion: RepulsionArg,
    /// Barnes-Hut opening angle (0 is exact).
    #[arg(long, default_value_t = 0.5)]
    theta: f64,
    /// FFT: interpolation nodes per interval.
    #[arg(long, default_value_t = FftParams::default().interp_points)]
    interp_points: usize,
    /// FFT: fewest intervals per dimension.
    #[arg(long, default_value_t = FftParams::default().min_intervals)]
    min_intervals: usize,
    /// FFT: intervals per unit length of the embedding.
    #[arg(long, default_value_t = FftParams::default().intervals_per_unit)]
    intervals_per_unit: f64,
}

fn parse_learning_rate(s: &str) -> Result<LearningRate, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(LearningRate::Auto);
    }
    s.parse::<f64>().map(LearningRate::Fixed).map_err(|_| format!("`{s}` is neither a number nor `auto`"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo { out, params } => {
            let rows: Vec<Vec<f64>> = DIGITS
                .lines()
                .map(|l| l.split(',').map(|v| v.trim().parse::<f64>()).collect::<Result<_, _>>())
                .collect::<Result<_, _>>()
                .context("bundled digits data is corrupt")?;
            let points = Matrix::from_rows(&rows)?;
            let labels = DIGITS_LABELS.lines().map(|l| l.trim().to_string()).collect();
            embed(Source::Points(points), Some(labels), "digits (bundled)", &out, &params)
        }
        Command::Embed { input, knn_indices, knn_distances, affinities, labels, out, params } => {
            // Validate every path before the expensive part.
            if let Some(p) = &out.out {
                check_output_ext(p, &["csv", "tsv", "txt", "npy"])?;
            }
            if let Some(p) = &out.plot {
                check_output_ext(p, &["png"])?;
            }
            let (source, name) = match (input, knn_indices, knn_distances, affinities) {
                (Some(input), ..) => (Source::Points(input::read_points(&input)?), input),
                (None, Some(idx), Some(dist), _) => (Source::Graph(input::read_knn(&idx, &dist)?), idx),
                (None, None, _, Some(p)) => (Source::Affinities(input::read_affinities(&p)?), p),
                _ => bail!("give an input file, --knn-indices with --knn-distances, or --affinities"),
            };
            let n = source.n();
            let labels = match labels {
                Some(path) => {
                    let l = input::read_labels(&path)?;
                    if l.len() != n {
                        bail!("{} has {} labels for {n} points", path.display(), l.len());
                    }
                    Some(l)
                }
                None => None,
            };
            embed(source, labels, &name.display().to_string(), &out, &params)
        }
        Command::Transform { input, reference, embedding, out, perplexity, iterations, metric, threads } => {
            check_output_ext(&out, &["csv", "tsv", "txt", "npy"])?;
            let new_points = input::read_points(&input)?;
            let reference_points = input::read_points(&reference)?;
            let reference_embedding = input::read_points(&embedding)?;
            let transform =
                Transform { perplexity, iterations, metric: metric.into(), ..Transform::default() };
            let mut pool = rayon::ThreadPoolBuilder::new();
            if let Some(t) = threads {
                pool = pool.num_threads(t);
            }
            let placed = pool
                .build()?
                .install(|| transform.place(&reference_points, &reference_embedding, &new_points))?;
            let mut staged = output::Staged::default();
            staged.stage(&out, |tmp| output::write_embedding(&out, tmp, &placed))?;
            staged.commit()
        }
    }
}

fn check_output_ext(path: &Path, allowed: &[&str]) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !allowed.contains(&ext.as_str()) {
        bail!("unknown output type of {}: expected one of .{}", path.display(), allowed.join(", ."));
    }
    Ok(())
}

/// What `embed` starts from.
enum Source {
    Points(Matrix),
    Graph(tsne::KnnGraph),
    Affinities(tsne::CsrMatrix),
}

impl Source {
    fn n(&self) -> usize {
        match self {
            Self::Points(x) => x.rows(),
            Self::Graph(g) => g.n(),
            Self::Affinities(p) => p.n(),
        }
    }
}

fn embed(
    source: Source,
    labels: Option<Vec<String>>,
    name: &str,
    out: &OutputArgs,
    p: &Params,
) -> Result<()> {
    let start = Instant::now();
    if let Some(path) = &out.plot {
        check_output_ext(path, &["png"])?;
        if p.dims < 2 {
            bail!("--plot needs --dims 2 or more");
        }
    }
    if let Some(path) = &out.out {
        check_output_ext(path, &["csv", "tsv", "txt", "npy"])?;
    }
    let method = match p.method {
        MethodArg::Tsne => Method::tsne(),
        MethodArg::Asne => Method::asne(),
        MethodArg::Ssne => Method::ssne(),
        MethodArg::Hssne => Method::hssne(p.alpha),
        MethodArg::Nerv => Method::nerv(p.lambda),
        MethodArg::Jse => Method::jse(p.kappa),
        MethodArg::Mds => Method::mds(),
        MethodArg::Sstress => Method::sstress(),
        MethodArg::Sammon => Method::sammon(),
    };
    let mut builder = TSne::builder()
        .method(method)
        .seed(p.seed)
        .perplexity(p.perplexity)
        .iterations(p.iterations)
        .learning_rate(p.learning_rate)
        .early_exaggeration(p.early_exaggeration)
        .exaggeration_iterations(p.exaggeration_iterations)
        .exaggeration(p.exaggeration)
        .dof(p.dof)
        .dims(p.dims)
        .init(match p.init {
            InitArg::Pca => Init::Pca,
            InitArg::Spectral => Init::Spectral,
            InitArg::Random => Init::Random,
        })
        .metric(p.metric.into())
        .neighbors(match p.neighbors {
            NeighborsArg::Auto => NeighborMethod::Auto,
            NeighborsArg::Exact => NeighborMethod::Exact,
            NeighborsArg::Dense => NeighborMethod::Dense,
            NeighborsArg::Nndescent => NeighborMethod::NnDescent(NnDescentParams::default()),
            NeighborsArg::Hnsw => NeighborMethod::Hnsw(HnswParams {
                m: p.hnsw_m,
                ef_construction: p.ef_construction,
                ef_search: p.ef_search,
                ..HnswParams::default()
            }),
            NeighborsArg::Precomputed => NeighborMethod::Precomputed,
        })
        .repulsion(match p.repulsion {
            RepulsionArg::Auto => RepulsionMethod::Auto,
            RepulsionArg::Exact => RepulsionMethod::Exact,
            RepulsionArg::Bh => RepulsionMethod::BarnesHut { theta: p.theta },
            RepulsionArg::Fft => RepulsionMethod::Fft(FftParams {
                interp_points: p.interp_points,
                min_intervals: p.min_intervals,
                intervals_per_unit: p.intervals_per_unit,
            }),
        });
    if let Some(t) = p.threads {
        builder = builder.threads(t);
    }
    if let Some(d) = p.pca {
        builder = builder.pca(d);
    }
    if p.check_recall {
        builder = builder.check_recall(1000);
    }
    match p.affinity {
        AffinityArg::Perplexity => {}
        AffinityArg::Multiscale => builder = builder.affinity(Multiscale::new(p.perplexities.clone())?),
        AffinityArg::Uniform => builder = builder.affinity(Uniform::new(p.perplexity as usize)?),
    }
    let mut tsne = builder.build()?;
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(p.iterations as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
                .expect("valid template"),
        );
        bar
    });
    let observe = |prog: &Progress| {
        if let Some(bar) = &bar {
            bar.set_position(prog.iteration as u64);
            if let Some(kl) = prog.kl_divergence {
                bar.set_message(format!("KL {kl:.4}"));
            }
        }
    };
    let fit = match &source {
        Source::Points(points) => tsne.fit_with_progress(points, observe)?,
        Source::Graph(graph) => tsne.fit_graph(graph, observe)?,
        Source::Affinities(p) => tsne.fit_affinities(p, observe)?,
    };
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let accuracy = match &labels {
        Some(l) if fit.embedding.rows() > 10 => {
            Some(knn_accuracy_sampled(&fit.embedding, l, 10, ACCURACY_SAMPLE)?)
        }
        _ => None,
    };
    let mut staged = output::Staged::default();
    if let Some(path) = &out.out {
        staged.stage(path, |tmp| output::write_embedding(path, tmp, &fit.embedding))?;
    }
    if let Some(path) = &out.plot {
        let title = format!("t-SNE of {name}");
        staged.stage(path, |tmp| plot::scatter(tmp, &fit.embedding, labels.as_deref(), &title))?;
    }
    staged.commit()?;
    let s = &fit.summary;
    let secs = |d: std::time::Duration| d.as_secs_f64();
    if out.json {
        let summary = json!({
            "n": s.n,
            "dims_in": s.dims_in,
            "dims_out": s.dims_out,
            "seed": p.seed,
            "threads": s.threads,
            "perplexity": p.perplexity,
            "metric": format!("{:?}", Metric::from(p.metric)).to_lowercase(),
            "method": format!("{:?}", p.method).to_lowercase(),
            "iterations": s.iterations,
            "learning_rate": s.learning_rate,
            "kl_divergence": s.kl_divergence,
            "neighbors": s.neighbors,
            "k": s.k,
            "recall": s.recall,
            "affinity": s.affinity,
            "repulsion": s.repulsion,
            "init": s.init,
            "knn_accuracy_10": accuracy,
            "knn_accuracy_points": accuracy.map(|_| s.n.min(ACCURACY_SAMPLE)),
            "timings_s": {
                "preprocessing": secs(s.timings.preprocessing),
                "neighbors": secs(s.timings.neighbors),
                "affinities": secs(s.timings.affinities),
                "initialization": secs(s.timings.initialization),
                "optimize": secs(s.timings.optimize),
                "total": secs(s.timings.total),
                "wall": secs(start.elapsed()),
            },
        });
        let mut stdout = std::io::stdout().lock();
        writeln!(stdout, "{summary}")?;
    } else {
        let acc = accuracy.map(|a| format!(", 10-NN label accuracy {a:.4}")).unwrap_or_default();
        eprintln!(
            "embedded {} points ({} -> {} dims) in {:.2} s: KL divergence {:.4}{acc}",
            s.n,
            s.dims_in,
            s.dims_out,
            start.elapsed().as_secs_f64(),
            s.kl_divergence
        );
    }
    Ok(())
}
