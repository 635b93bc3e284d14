//! `tsne`: embed a data file (or the bundled digits demo), write the embedding, a plot and a
//! JSON summary. One module per subcommand; this file only parses and dispatches.

#![forbid(unsafe_code)]

mod embed;
mod input;
mod messages;
mod optimize;
mod output;
mod params;
mod progress;
mod recording;
mod snapshots;
mod transform;
mod view;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{CommandFactory, Parser, Subcommand};
use tsne::Matrix;

/// The digits data (UCI optdigits test set as shipped by scikit-learn), 1797 x 64.
static DIGITS: &str = include_str!("../../../data/digits.csv");
static DIGITS_LABELS: &str = include_str!("../../../data/digits_labels.csv");

#[derive(Parser)]
#[command(name = "tsne", version, about = "t-SNE embeddings from the command line")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Embed the bundled digits data (1797 handwritten digits, 64 features).
    Demo {
        #[command(flatten)]
        out: embed::OutputArgs,
        #[command(flatten)]
        params: params::Params,
    },
    /// Embed the points of a file (.csv, .tsv, .txt, .npy, MNIST IDX optionally .gz; sparse
    /// points as a Matrix Market .mtx), or a precomputed distance matrix, neighbour graph or
    /// affinity matrix.
    Embed(embed::EmbedArgs),
    /// Place new points into a finished embedding: each point is optimised against the fixed
    /// reference embedding (openTSNE's transform), through the model's own PCA and metric.
    Transform(transform::TransformArgs),
    /// Continue the optimisation of a saved model (openTSNE's `embedding.optimize`).
    Optimize(optimize::OptimizeArgs),
    /// Write the interactive map of a 2-D embedding from any tool: one self-contained HTML
    /// page (pan, zoom, hover, colour by labels or metadata, search, select, replay frames).
    View(view::ViewArgs),
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
            eprintln!("error: {}", messages::cli_spelling(&format!("{e:#}"), &Cli::command()));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Demo { out, params } => {
            let (points, labels) = digits()?;
            embed::demo(&out, &params, &points, labels)
        }
        Command::Embed(args) => embed::run(args),
        Command::Transform(args) => transform::run(args),
        Command::Optimize(args) => optimize::run(args),
        Command::View(args) => view::run(args),
    }
}

/// The bundled digits and their labels.
fn digits() -> Result<(Matrix, Vec<String>)> {
    let rows: Vec<Vec<f64>> = DIGITS
        .lines()
        .map(|l| l.split(',').map(|v| v.trim().parse::<f64>()).collect::<Result<_, _>>())
        .collect::<Result<_, _>>()
        .context("bundled digits data is corrupt")?;
    let labels = DIGITS_LABELS.lines().map(|l| l.trim().to_string()).collect();
    Ok((Matrix::from_rows(&rows)?, labels))
}
