//! `tsne`: embed a data file (or the bundled digits demo), write the embedding, a plot and a
//! JSON summary.

#![forbid(unsafe_code)]

mod input;
mod output;

use tsne_cli::plot;

use std::io::{IsTerminal, Write};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use tsne::backends::affinity::{Multiscale, Uniform};
use tsne::{
    metrics::knn_accuracy_sampled, Embedding, FftParams, HnswParams, Init, Input, LearningRate, Matrix,
    Method, Metric, NeighborMethod, NnDescentParams, Progress, RepulsionMethod, Schedule, StudentT, TSne,
    Transform,
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
    /// Embed the points of a file (.csv, .tsv, .txt, .npy, MNIST IDX optionally .gz; sparse
    /// points as a Matrix Market .mtx), or a precomputed distance matrix, neighbour graph or
    /// affinity matrix.
    Embed {
        /// Input file, one point per row (with --neighbors precomputed: an n x n distance matrix;
        /// a .mtx file holds sparse points, searched exactly, Euclidean or cosine).
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
    /// Place new points into a finished embedding: each point is optimised against the fixed
    /// reference embedding (openTSNE's transform), through the model's own PCA and metric.
    Transform {
        /// The new points, one per row, with the columns the model was fitted on.
        input: PathBuf,
        /// A model saved by `tsne embed --save-model`.
        #[arg(long, required_unless_present = "reference", conflicts_with_all = ["reference", "embedding", "metric"])]
        model: Option<PathBuf>,
        /// Without --model: the points the embedding was made from.
        #[arg(long, requires = "embedding")]
        reference: Option<PathBuf>,
        /// Without --model: their embedding (e.g. the --out of `tsne embed`).
        #[arg(long, requires = "reference")]
        embedding: Option<PathBuf>,
        /// Write the new points' embedding here (.csv, .tsv, .txt or .npy).
        #[arg(long)]
        out: PathBuf,
        /// Perplexity of each new point's affinities to the reference points.
        #[arg(long, default_value_t = 5.0)]
        perplexity: f64,
        /// Gradient steps.
        #[arg(long, default_value_t = 250)]
        iterations: usize,
        /// Without --model: the distance between input points (as for `embed --metric`).
        #[arg(long, value_parser = parse_metric)]
        metric: Option<Metric>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
    },
    /// Continue the optimisation of a saved model (openTSNE's `embedding.optimize`).
    Optimize {
        /// A model saved by `tsne embed --save-model`.
        #[arg(long)]
        model: PathBuf,
        /// Iterations to run.
        #[arg(long, default_value_t = 250)]
        iterations: usize,
        /// Exaggeration factor on P (1 is plain t-SNE; above 1 gives tighter clusters).
        #[arg(long, default_value_t = 1.0)]
        exaggeration: f64,
        /// Momentum.
        #[arg(long, default_value_t = 0.8)]
        momentum: f64,
        /// Learning rate, a number or `auto` (max(N / exaggeration, 50)).
        #[arg(long, default_value = "auto", value_parser = parse_learning_rate)]
        learning_rate: LearningRate,
        /// Points to keep where they are: a file of 0-based indices, one per line.
        #[arg(long)]
        pin: Option<PathBuf>,
        /// Write the positions here (.csv, .tsv, .txt or .npy).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the continued model here (may be the --model file itself).
        #[arg(long)]
        save_model: Option<PathBuf>,
        /// Worker threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Print one JSON summary object on stdout.
        #[arg(long)]
        json: bool,
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
    /// Save the fitted model here (.tsne), for `tsne transform --model` and `tsne optimize`.
    #[arg(long)]
    save_model: Option<PathBuf>,
    /// Write the positions every N iterations, in input order, to --snapshot-dir (and a PNG
    /// frame of each when --plot is given), for animations.
    #[arg(long, value_name = "N", requires = "snapshot_dir")]
    snapshot_every: Option<usize>,
    /// Directory of the snapshots (created if missing): positions_NNNNN.csv, frame_NNNNN.png.
    #[arg(long, value_name = "DIR", requires = "snapshot_every")]
    snapshot_dir: Option<PathBuf>,
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

/// The start: a method or a file of positions.
#[derive(Clone)]
enum InitArg {
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
    /// Exact below 500 points, FFT from 10,000 points in 1-D and 20,000 in 2-D, Barnes-Hut otherwise.
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
    /// Initial embedding: pca, spectral, random, or a file of positions (one row per point).
    #[arg(long, default_value = "pca", value_parser = parse_init)]
    init: InitArg,
    /// Points to keep at their --init positions: a file of 0-based indices, one per line.
    #[arg(long)]
    pin: Option<PathBuf>,
    /// Output dimensions.
    #[arg(long, default_value_t = 2)]
    dims: usize,
    /// Neighbour search.
    #[arg(long, value_enum, default_value_t = NeighborsArg::Auto)]
    neighbors: NeighborsArg,
    /// Distance between input points: euclidean, sqeuclidean, cosine, correlation, manhattan,
    /// chebyshev, minkowski (order 2, or minkowski:P), canberra, braycurtis, hamming, jaccard
    /// (scikit-learn's definitions; those past manhattan are searched exactly).
    #[arg(long, default_value = "euclidean", value_parser = parse_metric)]
    metric: Metric,
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
    /// Most memory a stage may plan to use, e.g. 8G or 500M (default: what the machine has
    /// available); a stage that needs more stops at once, naming what would fit.
    #[arg(long, value_name = "BYTES", value_parser = parse_bytes)]
    max_memory: Option<u64>,
    /// Project the input on its leading D principal components before the neighbour search.
    #[arg(long, value_name = "D")]
    pca: Option<usize>,
    /// Repulsion backend.
    #[arg(long, value_enum, default_value_t = RepulsionArg::Auto)]
    repulsion: RepulsionArg,
    /// Barnes-Hut opening angle (0 is exact; default 0.5); needs --repulsion bh.
    #[arg(long)]
    theta: Option<f64>,
    /// FFT: interpolation nodes per interval (default 4); needs --repulsion fft.
    #[arg(long)]
    interp_points: Option<usize>,
    /// FFT: fewest intervals per dimension (default 50); needs --repulsion fft.
    #[arg(long)]
    min_intervals: Option<usize>,
    /// FFT: intervals per unit length of the embedding (default 1.25); needs --repulsion fft.
    #[arg(long)]
    intervals_per_unit: Option<f64>,
}

/// `8G`, `500M`, `64k` or plain bytes (decimal units: 1G = 10^9 bytes).
fn parse_bytes(s: &str) -> Result<u64, String> {
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
fn parse_metric(s: &str) -> Result<Metric, String> {
    let metric = match s.split_once(':') {
        Some((name, p)) if name.eq_ignore_ascii_case("minkowski") => {
            Metric::Minkowski { p: p.parse().map_err(|_| format!("`{p}` is not a Minkowski order"))? }
        }
        _ => s.parse::<Metric>().map_err(|e| e.to_string())?,
    };
    metric.check().map_err(|e| e.to_string())?;
    Ok(metric)
}

fn parse_learning_rate(s: &str) -> Result<LearningRate, String> {
    if s.eq_ignore_ascii_case("auto") {
        return Ok(LearningRate::Auto);
    }
    s.parse::<f64>().map(LearningRate::Fixed).map_err(|_| format!("`{s}` is neither a number nor `auto`"))
}

/// Stops the process on SIGINT or SIGTERM: the temporary files of outputs in progress are
/// removed (finished outputs are only ever renamed into place, so none is half written) and
/// the exit status is 128 + the signal number (130 for Ctrl-C).
fn exit_on_signals() {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGINT, SIGTERM]) else { return };
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            output::remove_pending();
            eprintln!("error: interrupted");
            std::process::exit(128 + signal);
        }
    });
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    exit_on_signals();
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
            embed(Input::Points(&points), Some(labels), "digits (bundled)", &out, &params)
        }
        Command::Embed { input, knn_indices, knn_distances, affinities, labels, out, params } => {
            // Validate every path before the expensive part.
            check_outputs(&out, &params)?;
            let (data, p, sparse);
            let (input, name) = match (input, knn_indices, knn_distances, affinities) {
                (Some(path), ..) if input::is_matrix_market(&path) => {
                    if matches!(params.neighbors, NeighborsArg::Precomputed) {
                        bail!("a .mtx INPUT holds sparse points; --neighbors precomputed reads a dense n x n distance matrix");
                    }
                    sparse = input::read_sparse_points(&path)?;
                    (Input::SparsePoints(&sparse), path)
                }
                (Some(path), ..) => {
                    // In single precision when that loses nothing (e.g. 8-bit images).
                    let points = input::read_points_compact(&path)?;
                    match (params.neighbors, points) {
                        (NeighborsArg::Precomputed, points) => {
                            data = points.into_f64();
                            (Input::Distances(&data), path)
                        }
                        // Only a saved model needs the points after the fit (for `transform`);
                        // otherwise they are handed over and dropped before P is built.
                        (_, points) if out.save_model.is_some() => {
                            data = points.into_f64();
                            (Input::Points(&data), path)
                        }
                        (_, input::Points::F32(points)) => (Input::OwnedPointsF32(points), path),
                        (_, input::Points::F64(points)) => (Input::OwnedPoints(points), path),
                    }
                }
                (None, Some(idx), Some(dist), _) => {
                    // Handed over: the fit drops the graph once P is built.
                    (Input::OwnedGraph(input::read_knn(&idx, &dist)?), idx)
                }
                (None, None, _, Some(path)) => {
                    p = input::read_affinities(&path)?;
                    (Input::Affinities(&p), path)
                }
                _ => bail!("give an input file, --knn-indices with --knn-distances, or --affinities"),
            };
            let n = input.n();
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
            embed(input, labels, &name.display().to_string(), &out, &params)
        }
        Command::Transform {
            input,
            model,
            reference,
            embedding,
            out,
            perplexity,
            iterations,
            metric,
            threads,
        } => {
            check_output_ext(&out, EMBEDDING_EXTS)?;
            let new_points = input::read_points(&input)?;
            let mut model = match (model, reference, embedding) {
                (Some(path), ..) => Embedding::load(&path)?,
                (None, Some(reference), Some(embedding)) => Embedding::from_reference(
                    input::read_points(&reference)?,
                    input::read_points(&embedding)?,
                    metric.unwrap_or_default(),
                    StudentT::CAUCHY,
                )
                .with_context(|| {
                    format!("{} and {} do not match", reference.display(), embedding.display())
                })?,
                _ => bail!("give --model, or --reference with --embedding"),
            };
            model.set_threads(threads);
            let settings = Transform { perplexity, iterations, ..Transform::default() };
            let placed = model.transform_with(&new_points, &settings)?;
            let mut staged = output::Staged::default();
            staged.stage(&out, |tmp| output::write_embedding(&out, tmp, &placed))?;
            staged.commit()
        }
        Command::Optimize {
            model,
            iterations,
            exaggeration,
            momentum,
            learning_rate,
            pin,
            out,
            save_model,
            threads,
            json,
        } => {
            if let Some(p) = &out {
                check_output_ext(p, EMBEDDING_EXTS)?;
            }
            let start = Instant::now();
            let mut embedding = Embedding::load(&model)?;
            embedding.set_threads(threads);
            if let Some(path) = &pin {
                embedding.pin(&read_indices(path)?)?;
            }
            let schedule =
                Schedule { learning_rate, ..Schedule::constant(iterations, exaggeration, momentum) };
            let bar = progress_bar(iterations);
            let report = embedding.optimize_with(&schedule, |p| {
                show_progress(&bar, p);
                ControlFlow::Continue(())
            })?;
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            let mut staged = output::Staged::default();
            if let Some(path) = &out {
                staged.stage(path, |tmp| output::write_embedding(path, tmp, &embedding.positions()))?;
            }
            if let Some(path) = &save_model {
                staged.stage(path, |tmp| Ok(embedding.save(tmp)?))?;
            }
            staged.commit()?;
            let s = embedding.summary();
            if json {
                let summary = json!({
                    "n": s.n,
                    "iterations": report.iterations,
                    "iterations_total": s.iterations,
                    "kl_divergence": report.kl_divergence,
                    "learning_rate": s.learning_rate,
                    "pinned": s.pinned,
                    "stop": report.stop.name(),
                    "wall_s": start.elapsed().as_secs_f64(),
                });
                writeln!(std::io::stdout().lock(), "{summary}")?;
            } else {
                eprintln!(
                    "optimised {} points for {} more iterations ({} in all): KL divergence {:.4}",
                    s.n, report.iterations, s.iterations, report.kl_divergence
                );
            }
            Ok(())
        }
    }
}

const EMBEDDING_EXTS: &[&str] = &["csv", "tsv", "txt", "npy"];

fn check_output_ext(path: &Path, allowed: &[&str]) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !allowed.contains(&ext.as_str()) {
        bail!("unknown output type of {}: expected one of .{}", path.display(), allowed.join(", ."));
    }
    Ok(())
}

/// The repulsion backend. A backend's settings without that backend are refused rather than
/// ignored (`auto` would otherwise use its defaults silently).
fn repulsion(p: &Params) -> Result<RepulsionMethod> {
    let fft_flag = [
        p.interp_points.map(|_| "--interp-points"),
        p.min_intervals.map(|_| "--min-intervals"),
        p.intervals_per_unit.map(|_| "--intervals-per-unit"),
    ]
    .into_iter()
    .flatten()
    .next();
    if p.theta.is_some() && !matches!(p.repulsion, RepulsionArg::Bh) {
        bail!("--theta sets the Barnes-Hut angle: add --repulsion bh");
    }
    if let (Some(flag), false) = (fft_flag, matches!(p.repulsion, RepulsionArg::Fft)) {
        bail!("{flag} sets the FFT grid: add --repulsion fft");
    }
    let fft = FftParams::default();
    Ok(match p.repulsion {
        RepulsionArg::Auto => RepulsionMethod::Auto,
        RepulsionArg::Exact => RepulsionMethod::Exact,
        RepulsionArg::Bh => RepulsionMethod::BarnesHut { theta: p.theta.unwrap_or(0.5) },
        RepulsionArg::Fft => RepulsionMethod::Fft(FftParams {
            interp_points: p.interp_points.unwrap_or(fft.interp_points),
            min_intervals: p.min_intervals.unwrap_or(fft.min_intervals),
            intervals_per_unit: p.intervals_per_unit.unwrap_or(fft.intervals_per_unit),
        }),
    })
}

/// Checks every output path and option of `embed` before any work is done.
fn check_outputs(out: &OutputArgs, p: &Params) -> Result<()> {
    if let Some(path) = &out.out {
        check_output_ext(path, EMBEDDING_EXTS)?;
    }
    if let Some(path) = &out.plot {
        check_output_ext(path, &["png"])?;
        if p.dims < 2 {
            bail!("--plot needs --dims 2 or more");
        }
    }
    if let Some(path) = &out.save_model {
        check_output_ext(path, &["tsne"])?;
    }
    if out.snapshot_every == Some(0) {
        bail!("--snapshot-every must be at least 1");
    }
    if p.pin.is_some() && !matches!(p.init, InitArg::File(_)) {
        bail!("--pin needs --init FILE: pinned points keep the positions given there");
    }
    Ok(())
}

/// 0-based point indices, one per line.
fn read_indices(path: &Path) -> Result<Vec<usize>> {
    input::read_labels(path)?
        .iter()
        .enumerate()
        .map(|(line, v)| {
            v.parse::<usize>()
                .with_context(|| format!("{}: line {} is not a point index: `{v}`", path.display(), line + 1))
        })
        .collect()
}

fn progress_bar(iterations: usize) -> Option<ProgressBar> {
    std::io::stderr().is_terminal().then(|| {
        let bar = ProgressBar::new(iterations as u64);
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} {msg}")
        {
            bar.set_style(style);
        }
        bar
    })
}

fn show_progress(bar: &Option<ProgressBar>, p: &Progress<'_>) {
    if let Some(bar) = bar {
        bar.set_position(p.iteration as u64);
        if let Some(kl) = p.kl_divergence {
            bar.set_message(format!("KL {kl:.4}"));
        }
    }
}

/// Writes numbered snapshots of the positions (and PNG frames) every `every` iterations.
struct Snapshots<'a> {
    every: usize,
    dir: &'a Path,
    plot: bool,
    labels: Option<&'a [String]>,
    title: String,
    error: Option<anyhow::Error>,
}

impl Snapshots<'_> {
    /// Writes the snapshot of `p`; a failure is kept and stops the run.
    fn take(&mut self, p: &Progress<'_>) -> ControlFlow<()> {
        if p.iteration % self.every != 0 {
            return ControlFlow::Continue(());
        }
        let y = p.positions();
        let written = (|| {
            let csv = self.dir.join(format!("positions_{:05}.csv", p.iteration));
            let mut staged = output::Staged::default();
            staged.stage(&csv, |tmp| output::write_embedding(&csv, tmp, &y))?;
            if self.plot {
                let png = self.dir.join(format!("frame_{:05}.png", p.iteration));
                let title = format!("{} (iteration {})", self.title, p.iteration);
                staged.stage(&png, |tmp| plot::scatter(tmp, &y, self.labels, &title))?;
            }
            staged.commit()
        })();
        match written {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => {
                self.error = Some(e);
                ControlFlow::Break(())
            }
        }
    }
}

fn embed(
    input: Input<'_>,
    labels: Option<Vec<String>>,
    name: &str,
    out: &OutputArgs,
    p: &Params,
) -> Result<()> {
    let start = Instant::now();
    check_outputs(out, p)?;
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
    let init = match &p.init {
        InitArg::Pca => Init::Pca,
        InitArg::Spectral => Init::Spectral,
        InitArg::Random => Init::Random,
        InitArg::File(path) => Init::Given(input::read_points(path)?),
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
        .init(init)
        .metric(p.metric)
        .neighbors(match p.neighbors {
            NeighborsArg::Auto | NeighborsArg::Precomputed => NeighborMethod::Auto,
            NeighborsArg::Exact => NeighborMethod::Exact,
            NeighborsArg::Dense => NeighborMethod::Dense,
            NeighborsArg::Nndescent => NeighborMethod::NnDescent(NnDescentParams::default()),
            NeighborsArg::Hnsw => NeighborMethod::Hnsw(HnswParams {
                m: p.hnsw_m,
                ef_construction: p.ef_construction,
                ef_search: p.ef_search,
                ..HnswParams::default()
            }),
        })
        .repulsion(repulsion(p)?);
    if let Some(t) = p.threads {
        builder = builder.threads(t);
    }
    if let Some(d) = p.pca {
        builder = builder.pca(d);
    }
    if p.check_recall {
        builder = builder.check_recall(1000);
    }
    if let Some(bytes) = p.max_memory {
        builder = builder.max_memory(bytes);
    }
    if let Some(path) = &p.pin {
        builder = builder.pin(read_indices(path)?);
    }
    match p.affinity {
        AffinityArg::Perplexity => {}
        AffinityArg::Multiscale => builder = builder.affinity(Multiscale::new(p.perplexities.clone())?),
        AffinityArg::Uniform => builder = builder.affinity(Uniform::new(p.perplexity as usize)?),
    }
    let tsne = builder.build()?;
    let title = format!("t-SNE of {name}");
    let mut snapshots = match (out.snapshot_every, &out.snapshot_dir) {
        (Some(every), Some(dir)) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
            Some(Snapshots {
                every,
                dir,
                plot: out.plot.is_some() && p.dims >= 2,
                labels: labels.as_deref(),
                title: title.clone(),
                error: None,
            })
        }
        _ => None,
    };
    let bar = progress_bar(p.iterations);
    let fit = tsne.fit_with(input, |prog| {
        show_progress(&bar, prog);
        match &mut snapshots {
            Some(s) => s.take(prog),
            None => ControlFlow::Continue(()),
        }
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = snapshots.and_then(|s| s.error) {
        return Err(e.context("cannot write a snapshot"));
    }
    let y = fit.positions();
    let accuracy = match &labels {
        Some(l) if y.rows() > 10 => Some(knn_accuracy_sampled(&y, l, 10, ACCURACY_SAMPLE)?),
        _ => None,
    };
    let mut staged = output::Staged::default();
    if let Some(path) = &out.out {
        staged.stage(path, |tmp| output::write_embedding(path, tmp, &y))?;
    }
    if let Some(path) = &out.plot {
        staged.stage(path, |tmp| plot::scatter(tmp, &y, labels.as_deref(), &title))?;
    }
    if let Some(path) = &out.save_model {
        staged.stage(path, |tmp| Ok(fit.save(tmp)?))?;
    }
    staged.commit()?;
    let s = fit.summary();
    if out.json {
        let mut summary = s.to_json();
        summary["seed"] = json!(p.seed);
        summary["perplexity"] = json!(p.perplexity);
        summary["metric"] = json!(p.metric.name());
        summary["method"] = json!(format!("{:?}", p.method).to_lowercase());
        summary["knn_accuracy_10"] = json!(accuracy);
        summary["knn_accuracy_points"] = json!(accuracy.map(|_| s.n.min(ACCURACY_SAMPLE)));
        summary["peak_rss_mib"] = json!(tsne::peak_resident_memory().map(|b| b as f64 / 1048576.0));
        summary["timings_s"]["wall"] = json!(start.elapsed().as_secs_f64());
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
