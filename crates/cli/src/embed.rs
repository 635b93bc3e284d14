//! `tsne embed` (and the demo): read the input, fit, write the outputs, report.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use tsne::{
    metrics::knn_accuracy_sampled, CsrMatrix, Embedding, Input, Matrix, RepulsionMethod, SparsePoints,
    Summary, TSne,
};
use tsne_cli::animate::{self, AnimationOptions, Frame};
use tsne_cli::plot::{self, PlotOptions};

use crate::input::{self, TableSpec};
use crate::output::{self, check_output, EMBEDDING_EXTS};
use crate::params::{InitArg, MethodArg, NeighborsArg, Params, RepulsionArg};
use crate::progress::{ProgressArgs, Reporter};
use crate::recording::Recording;
use crate::snapshots::Snapshots;
use crate::view;

/// Most query points of the 10-NN label accuracy: exact up to this size, an evenly strided
/// sample beyond (the all-pairs search in the embedding is O(n^2)).
const ACCURACY_SAMPLE: usize = 100_000;

/// Most points `--repulsion auto` gives the exact O(n^2) repulsion without being asked (at
/// 2,000 points 1000 iterations take about half a minute; the time grows as n^2).
const EXACT_WITHOUT_ASKING: usize = 2_000;

#[derive(Args)]
pub struct EmbedArgs {
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
    #[arg(long, conflicts_with = "labels_column")]
    labels: Option<PathBuf>,
    #[command(flatten)]
    table: TableArgs,
    #[command(flatten)]
    out: OutputArgs,
    #[command(flatten)]
    params: Params,
}

#[derive(Args)]
pub struct OutputArgs {
    /// Write the embedding here (.csv, .tsv, .txt or .npy).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a scatter plot here: .png or .svg (a 3-D map as its three pairwise panels).
    #[arg(long)]
    plot: Option<PathBuf>,
    /// Write the interactive map here (.html): one self-contained page with the labels, the
    /// ids and, with --snapshot-every or --animate, the frames of the run (2-D maps).
    #[arg(long, value_name = "FILE.html")]
    html: Option<PathBuf>,
    /// Title of the plot (default: the input file's name without its extension).
    #[arg(long)]
    title: Option<String>,
    /// Size of the plot in pixels, WIDTHxHEIGHT (default 1000x900; 2000x760 in 3-D).
    #[arg(long, value_name = "WxH", value_parser = parse_size)]
    plot_size: Option<(u32, u32)>,
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
    /// Write an animated GIF of the optimisation here, from iteration 0 to the end (2-D maps).
    #[arg(long, value_name = "FILE.gif")]
    animate: Option<PathBuf>,
    /// Frames of --animate, densest early where the map changes fastest.
    #[arg(long, value_name = "N", default_value_t = animate::DEFAULT_FRAMES, requires = "animate")]
    animate_frames: usize,
    /// Playing time of --animate in seconds, the last frame's hold aside.
    #[arg(long, value_name = "SECONDS", default_value_t = 8.0, requires = "animate")]
    animate_seconds: f64,
    /// Write each point's id (the INPUT's id column, else its row number from 0) as the first
    /// column of --out, and its label as the last when there are labels (text outputs only).
    #[arg(long, requires = "out")]
    with_ids: bool,
    #[command(flatten)]
    progress: ProgressArgs,
}

impl OutputArgs {
    /// The snapshot writer of `--snapshot-every`, its folder created.
    fn snapshots(&self, plot: &PlotOptions, labels: Option<&[String]>) -> Result<Option<Snapshots>> {
        let (Some(every), Some(dir)) = (self.snapshot_every, &self.snapshot_dir) else { return Ok(None) };
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        Ok(Some(Snapshots {
            every,
            dir: dir.clone(),
            plot: self.plot.is_some().then(|| plot.clone()),
            labels: labels.map(<[String]>::to_vec),
            error: Mutex::new(None),
        }))
    }

    /// The plot's title and size: the flags, or the input's name and the default size.
    fn plot_options(&self, name: &str, dims: usize) -> PlotOptions {
        let title = self.title.clone().unwrap_or_else(|| name.to_string());
        let options = PlotOptions::for_dims(title, dims);
        PlotOptions { size: self.plot_size.unwrap_or(options.size), ..options }
    }
}

impl OutputArgs {
    /// The GIF's settings: the plot's title, `--animate-seconds` shared by `frames` frames.
    fn animation_options(&self, title: &str, frames: usize) -> AnimationOptions {
        let delay = (100.0 * self.animate_seconds / frames.max(1) as f64).round().clamp(2.0, 6000.0) as u16;
        AnimationOptions { title: title.to_string(), frame_delay_cs: delay, ..AnimationOptions::default() }
    }
}

/// `WIDTHxHEIGHT` in pixels, each from 100 to 10,000.
fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a size: use WIDTHxHEIGHT in pixels, e.g. 1600x1200");
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.trim().parse().map_err(|_| bad())?, h.trim().parse().map_err(|_| bad())?);
    if !(100..=10_000).contains(&w) || !(100..=10_000).contains(&h) {
        return Err(format!("`{s}`: width and height must be from 100 to 10000 pixels"));
    }
    Ok((w, h))
}

/// How the columns of a table INPUT are read.
#[derive(Args)]
struct TableArgs {
    /// The column of row ids (by header name, or number from 1): not embedded, written with
    /// --with-ids. A pandas index, a column named like an id or one counting the rows is
    /// recognised without it (with a note).
    #[arg(long, value_name = "COLUMN")]
    id_column: Option<String>,
    /// The column of labels in the INPUT table (instead of --labels).
    #[arg(long, value_name = "COLUMN")]
    labels_column: Option<String>,
    /// Embed only these columns (comma-separated names or numbers from 1).
    #[arg(long, value_name = "A,B,..", value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Do not embed these columns (comma-separated names or numbers from 1).
    #[arg(long, value_name = "A,B,..", value_delimiter = ',')]
    drop_columns: Vec<String>,
    /// The array of an .npz INPUT that holds the points (when it holds several).
    #[arg(long, value_name = "NAME")]
    array: Option<String>,
}

impl TableArgs {
    fn spec(&self) -> TableSpec {
        TableSpec {
            id_column: self.id_column.clone(),
            labels_column: self.labels_column.clone(),
            columns: self.columns.clone(),
            drop_columns: self.drop_columns.clone(),
            array: self.array.clone(),
        }
    }

    /// Whether any flag asks for the table's columns.
    fn chooses_columns(&self) -> bool {
        self.id_column.is_some()
            || self.labels_column.is_some()
            || self.columns.is_some()
            || !self.drop_columns.is_empty()
            || self.array.is_some()
    }
}

/// What the input files held, before the fit borrows or takes it.
enum Source {
    /// Points the fit borrows (a saved model keeps them for `transform`).
    Points(Matrix),
    Distances(Matrix),
    Sparse(SparsePoints),
    Affinities(CsrMatrix),
    /// Handed over: the fit drops them as soon as nothing needs them.
    Owned(Input<'static>),
}

/// `tsne embed`.
pub fn run(args: EmbedArgs) -> Result<()> {
    // Validate every path before the expensive part.
    check_outputs(&args.out, &args.params)?;
    let shown = args.out.progress.reporter(args.params.iterations, args.params.exaggeration_iterations);
    shown.begin("reading", None);
    let (source, name, table) = read_source(&args)?;
    let n = match &source {
        Source::Points(m) | Source::Distances(m) => m.rows(),
        Source::Sparse(s) => Input::SparsePoints(s).n(),
        Source::Affinities(p) => Input::Affinities(p).n(),
        Source::Owned(input) => input.n(),
    };
    let labels = match &args.labels {
        Some(path) => Some(input::read_labels_for(path, n)?),
        None => table.labels,
    };
    shown.end(&format!(", {n} points"));
    let name = title_of(&name);
    let named = Named { labels, ids: table.ids, title: name };
    let run = |input| embed(input, named, &args.out, &args.params, &shown);
    match source {
        Source::Points(m) => run(Input::Points(&m)),
        Source::Distances(m) => run(Input::Distances(&m)),
        Source::Sparse(s) => run(Input::SparsePoints(&s)),
        Source::Affinities(p) => run(Input::Affinities(&p)),
        Source::Owned(input) => run(input),
    }
}

/// The demo: the bundled digits with their labels.
pub fn demo(out: &OutputArgs, params: &Params, points: &Matrix, labels: Vec<String>) -> Result<()> {
    check_outputs(out, params)?;
    let shown = out.progress.reporter(params.iterations, params.exaggeration_iterations);
    let named = Named { labels: Some(labels), ids: None, title: "digits".into() };
    embed(Input::Points(points), named, out, params, &shown)
}

/// The file name without its extension (nor `.gz`), the default title of a plot.
fn title_of(path: &Path) -> String {
    let name =
        path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let plain = name.strip_suffix(".gz").unwrap_or(&name);
    plain.rsplit_once('.').map_or(plain, |(stem, _)| stem).to_string()
}

/// What a table set aside: the ids and labels of its rows.
#[derive(Default)]
struct SetAside {
    ids: Option<Vec<String>>,
    labels: Option<Vec<String>>,
}

/// The points' labels and ids, and the plot's title.
struct Named {
    labels: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    title: String,
}

/// Reads INPUT (a table: its notes go to stderr), the neighbour files or the affinities, and
/// names the file for the title.
fn read_source(args: &EmbedArgs) -> Result<(Source, PathBuf, SetAside)> {
    let neighbors = args.params.neighbors;
    let table_only = || {
        if args.table.chooses_columns() {
            bail!(
                "--id-column, --labels-column, --columns, --drop-columns and --array read a table of points"
            );
        }
        Ok(())
    };
    let mut aside = SetAside::default();
    let (source, path) = match (&args.input, &args.knn_indices, &args.knn_distances, &args.affinities) {
        (Some(path), ..) if input::is_matrix_market(path) => {
            if matches!(neighbors, NeighborsArg::Precomputed) {
                bail!("a .mtx INPUT holds sparse points; --neighbors precomputed reads a dense n x n distance matrix");
            }
            table_only()?;
            (Source::Sparse(input::read_sparse_points(path)?), path.clone())
        }
        (Some(path), ..) if matches!(neighbors, NeighborsArg::Precomputed) => {
            table_only()?;
            (Source::Distances(input::read_points(path)?), path.clone())
        }
        (Some(path), ..) => {
            // In single precision when that loses nothing (e.g. 8-bit images).
            let table = input::read_table(path, &args.table.spec())?;
            for note in &table.notes {
                eprintln!("note: {note}");
            }
            aside = SetAside { ids: table.ids, labels: table.labels };
            let source = match (neighbors, table.points) {
                // Only a saved model needs the points after the fit (for `transform`).
                (_, points) if args.out.save_model.is_some() => Source::Points(points.into_f64()),
                (_, input::Points::F32(points)) => Source::Owned(Input::OwnedPointsF32(points)),
                (_, input::Points::F64(points)) => Source::Owned(Input::OwnedPoints(points)),
            };
            (source, path.clone())
        }
        (None, Some(idx), Some(dist), _) => {
            table_only()?;
            (Source::Owned(Input::OwnedGraph(input::read_knn(idx, dist)?)), idx.clone())
        }
        (None, None, _, Some(path)) => {
            table_only()?;
            (Source::Affinities(input::read_affinities(path)?), path.clone())
        }
        _ => bail!("give an input file, --knn-indices with --knn-distances, or --affinities"),
    };
    Ok((source, path, aside))
}

/// Checks every output path and option of `embed` before any work is done.
fn check_outputs(out: &OutputArgs, p: &Params) -> Result<()> {
    if let Some(path) = &out.out {
        check_output(path, if out.with_ids { &["csv", "tsv", "txt"] } else { EMBEDDING_EXTS })?;
    }
    if let Some(path) = &out.plot {
        check_output(path, &["png", "svg"])?;
        if !(2..=3).contains(&p.dims) {
            bail!("--plot draws 2-D maps, or 3-D ones as three panels, not --dims {}", p.dims);
        }
    }
    if let Some(path) = &out.save_model {
        check_output(path, &["tsne"])?;
    }
    if let Some(path) = &out.html {
        check_output(path, view::HTML_EXTS)?;
        if p.dims != 2 {
            bail!("--html draws 2-D maps, not --dims {}", p.dims);
        }
    }
    if let Some(path) = &out.animate {
        check_output(path, &["gif"])?;
        if p.dims != 2 {
            bail!("--animate draws 2-D maps, not --dims {}", p.dims);
        }
        if out.animate_frames < 2 || !(out.animate_seconds > 0.0 && out.animate_seconds <= 600.0) {
            bail!("--animate needs --animate-frames of at least 2 and --animate-seconds in (0, 600]");
        }
    }
    if let Some(dir) = &out.snapshot_dir {
        output::check_output_folder(dir)?;
    }
    if out.snapshot_every == Some(0) {
        bail!("--snapshot-every must be at least 1");
    }
    if p.pin.is_some() && !matches!(p.init, InitArg::File(_)) {
        bail!("--pin needs --init FILE: pinned points keep the positions given there");
    }
    Ok(())
}

/// Refuses (or, for a few points, names) the exact repulsion that `--repulsion auto` falls
/// back to in more than 3 dimensions, where no fast backend exists.
fn check_cost(p: &Params, n: usize) -> Result<()> {
    let scalable = matches!(p.method, MethodArg::Tsne | MethodArg::Hssne);
    let exact = matches!(RepulsionMethod::Auto.resolve(n, p.dims), RepulsionMethod::Exact);
    if !matches!(p.repulsion, RepulsionArg::Auto)
        || !scalable
        || !exact
        || n < RepulsionMethod::AUTO_EXACT_BELOW
    {
        return Ok(());
    }
    let cost = format!(
        "--dims {} has no fast repulsion (Barnes-Hut goes to 3 dimensions, FFT to 2): the exact one \
         costs n^2 = {:.1e} pairs per iteration",
        p.dims,
        (n as f64).powi(2)
    );
    if n > EXACT_WITHOUT_ASKING {
        bail!(
            "{cost}, {} iterations: add --repulsion exact to run it, or use --dims 3 or fewer",
            p.iterations
        );
    }
    eprintln!("note: {cost}");
    Ok(())
}

/// Fits, writes the outputs and reports.
fn embed(input: Input<'_>, named: Named, out: &OutputArgs, p: &Params, shown: &Arc<Reporter>) -> Result<()> {
    let start = Instant::now();
    check_cost(p, input.n())?;
    let listener = Arc::clone(shown);
    let preprocessing = if p.pca.is_some() { "PCA" } else { "input checks" };
    let mut builder = p.builder()?.on_phase(move |event| listener.phase(event, preprocessing));
    let plot = out.plot_options(&named.title, p.dims);
    let recording = out.animate.as_ref().map(|_| Recording::new(p.iterations, out.animate_frames));
    let snapshots = out.snapshots(&plot, named.labels.as_deref())?.map(Arc::new);
    let (start_frame, start_snapshot) =
        (recording.as_ref().map(Recording::start_listener), snapshots.clone());
    if start_frame.is_some() || start_snapshot.is_some() {
        builder = builder.on_start(move |y| {
            start_frame.iter().for_each(|record| record(y));
            start_snapshot.iter().for_each(|s| s.start(y));
        });
    }
    let tsne = builder.build()?;
    let labels = named.labels.as_deref();
    let (fit, recording) = fit(&tsne, input, shown, recording, snapshots.clone())?;
    let frames = recording.map(Recording::frames).transpose()?;
    let y = fit.positions();
    let accuracy = match labels {
        Some(l) if y.rows() > 10 => {
            shown.begin("10-NN accuracy", None);
            let a = knn_accuracy_sampled(&y, l, 10, ACCURACY_SAMPLE)?;
            shown.end("");
            Some(a)
        }
        _ => None,
    };
    shown.begin("writing", None);
    if let Some(s) = &snapshots {
        s.draw_frames(fit.summary().iterations).context("cannot draw the snapshot frames")?;
    }
    write_outputs(out, &fit, &y, &named, &plot, frames.as_deref())?;
    shown.end("");
    report(out, p, fit.summary(), accuracy, start)
}

/// The fit, with its progress shown, the frames recorded and the snapshots written.
fn fit(
    tsne: &TSne,
    input: Input<'_>,
    shown: &Reporter,
    mut recording: Option<Recording>,
    snapshots: Option<Arc<Snapshots>>,
) -> Result<(Embedding, Option<Recording>)> {
    let fit = tsne.fit_with(input, |prog| {
        shown.iteration(prog);
        if let Some(r) = &mut recording {
            r.take(prog);
        }
        match &snapshots {
            Some(s) => s.take(prog),
            None => ControlFlow::Continue(()),
        }
    })?;
    if let Some(e) = snapshots.and_then(|s| s.take_error()) {
        return Err(e.context("cannot write a snapshot"));
    }
    Ok((fit, recording))
}

/// Writes every output, all or none.
fn write_outputs(
    out: &OutputArgs,
    fit: &Embedding,
    y: &Matrix,
    named: &Named,
    options: &PlotOptions,
    frames: Option<&[Frame]>,
) -> Result<()> {
    let labels = named.labels.as_deref();
    let mut staged = output::Staged::default();
    if let Some(path) = &out.out {
        match out.with_ids {
            true => {
                staged.stage(path, |tmp| output::write_rows(path, tmp, y, named.ids.as_deref(), labels))?
            }
            false => staged.stage(path, |tmp| output::write_embedding(path, tmp, y))?,
        }
    }
    if let Some(path) = &out.plot {
        staged.stage(path, |tmp| plot::scatter(tmp, y, labels, options))?;
    }
    if let Some(path) = &out.save_model {
        staged.stage(path, |tmp| Ok(fit.save(tmp)?))?;
    }
    if let (Some(path), Some(frames)) = (&out.animate, frames) {
        let animation = out.animation_options(&options.title, frames.len());
        staged.stage(path, |tmp| animate::write_gif(tmp, frames, labels, &animation))?;
    }
    if let Some(path) = &out.html {
        let map = html_page(out, y, named, &options.title, frames, fit.summary().iterations)?;
        staged.stage(path, |tmp| view::write_page(&map, tmp))?;
    }
    staged.commit()
}

/// The page of `--html`: the map with its labels and ids, and the run's frames: those of
/// `--animate`, else the snapshots this run wrote (up to its last iteration, so older files
/// in the folder are left out).
fn html_page(
    out: &OutputArgs,
    y: &Matrix,
    named: &Named,
    title: &str,
    frames: Option<&[Frame]>,
    iterations: usize,
) -> Result<tsne_viewer::Map> {
    let frames = match (frames, out.snapshot_every, &out.snapshot_dir) {
        (Some(frames), ..) => frames
            .iter()
            .map(|f| tsne_viewer::Frame { iteration: f.iteration, positions: f.positions.clone() })
            .collect(),
        (None, Some(every), Some(dir)) => {
            view::read_frames(dir, y.rows(), |k| k % every == 0 && k <= iterations)?
        }
        _ => Vec::new(),
    };
    view::page(y, title, named.labels.clone(), named.ids.clone(), frames)
}

/// The JSON summary on stdout, or one line on stderr.
fn report(out: &OutputArgs, p: &Params, s: &Summary, accuracy: Option<f64>, start: Instant) -> Result<()> {
    if out.json {
        let mut summary = s.to_json();
        summary["seed"] = json!(p.seed);
        summary["perplexity"] = json!(p.perplexity);
        summary["metric"] = json!(p.metric.name());
        summary["method"] = json!(p.method.name());
        summary["knn_accuracy_10"] = json!(accuracy);
        summary["knn_accuracy_points"] = json!(accuracy.map(|_| s.n.min(ACCURACY_SAMPLE)));
        summary["peak_rss_mib"] = json!(tsne::peak_resident_memory().map(|b| b as f64 / 1048576.0));
        summary["timings_s"]["wall"] = json!(start.elapsed().as_secs_f64());
        writeln!(std::io::stdout().lock(), "{summary}")?;
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
