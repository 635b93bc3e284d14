//! `tsne transform`: place new points into a finished embedding.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::Args;
use tsne::{Embedding, Metric, StudentT, Transform};

use crate::input;
use crate::output::{self, check_output, EMBEDDING_EXTS};
use crate::params::parse_metric;
use crate::progress::ProgressArgs;

#[derive(Args)]
pub struct TransformArgs {
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
    #[command(flatten)]
    progress: ProgressArgs,
}

/// `tsne transform`.
pub fn run(args: TransformArgs) -> Result<()> {
    check_output(&args.out, EMBEDDING_EXTS)?;
    let start = Instant::now();
    let shown = args.progress.reporter(args.iterations, 0);
    shown.begin("reading", None);
    let table = input::read_table(&args.input, &input::TableSpec::default())?;
    for note in &table.notes {
        eprintln!("note: {note}");
    }
    let new_points = table.points.into_f64();
    let mut model = model(&args)?;
    model.set_threads(args.threads);
    shown.end(&format!(", {} new points, {} in the model", new_points.rows(), model.summary().n));
    let settings =
        Transform { perplexity: args.perplexity, iterations: args.iterations, ..Transform::default() };
    shown.begin("placement", None);
    let placed = model.transform_with(&new_points, &settings)?;
    shown.end(&format!(", {} iterations", args.iterations));
    shown.begin("writing", None);
    let mut staged = output::Staged::default();
    staged.stage(&args.out, |tmp| output::write_embedding(&args.out, tmp, &placed))?;
    staged.commit()?;
    shown.end("");
    eprintln!(
        "placed {} points into the embedding of {} in {:.2} s",
        placed.rows(),
        model.summary().n,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The saved model, or one made from the reference points and their embedding.
fn model(args: &TransformArgs) -> Result<Embedding> {
    match (&args.model, &args.reference, &args.embedding) {
        (Some(path), ..) => Ok(Embedding::load(path)?),
        (None, Some(reference), Some(embedding)) => Embedding::from_reference(
            input::read_points(reference)?,
            input::read_points(embedding)?,
            args.metric.unwrap_or_default(),
            StudentT::CAUCHY,
        )
        .with_context(|| format!("{} and {} do not match", reference.display(), embedding.display())),
        _ => bail!("give --model, or --reference with --embedding"),
    }
}
