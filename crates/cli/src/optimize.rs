//! `tsne optimize`: continue the optimisation of a saved model.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Result;
use clap::Args;
use serde_json::json;
use tsne::{Embedding, LearningRate, Schedule};

use crate::output::{self, check_output, EMBEDDING_EXTS};
use crate::params::{parse_learning_rate, read_indices};
use crate::progress::ProgressArgs;

#[derive(Args)]
pub struct OptimizeArgs {
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
    #[command(flatten)]
    progress: ProgressArgs,
}

/// `tsne optimize`.
pub fn run(args: OptimizeArgs) -> Result<()> {
    if let Some(p) = &args.out {
        check_output(p, EMBEDDING_EXTS)?;
    }
    if let Some(p) = &args.save_model {
        check_output(p, &["tsne"])?;
    }
    let start = Instant::now();
    let mut embedding = Embedding::load(&args.model)?;
    embedding.set_threads(args.threads);
    if let Some(path) = &args.pin {
        embedding.pin(&read_indices(path)?)?;
    }
    let schedule = Schedule {
        learning_rate: args.learning_rate,
        ..Schedule::constant(args.iterations, args.exaggeration, args.momentum)
    };
    let shown = args.progress.reporter(args.iterations, 0);
    shown.begin("optimisation", Some(args.iterations));
    let report = embedding.optimize_with(&schedule, |p| {
        shown.iteration(p);
        std::ops::ControlFlow::Continue(())
    })?;
    shown.end("");
    shown.begin("writing", None);
    write_outputs(&args, &embedding)?;
    shown.end("");
    let s = embedding.summary();
    if args.json {
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

/// The positions and the continued model, all or none.
fn write_outputs(args: &OptimizeArgs, embedding: &Embedding) -> Result<()> {
    let mut staged = output::Staged::default();
    if let Some(path) = &args.out {
        staged.stage(path, |tmp| output::write_embedding(path, tmp, &embedding.positions()))?;
    }
    if let Some(path) = &args.save_model {
        staged.stage(path, |tmp| Ok(embedding.save(tmp)?))?;
    }
    staged.commit()
}
