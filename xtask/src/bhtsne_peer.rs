//! The `bhtsne` crate as a peer: run in its own process (for the peak-memory reading) by
//! `cargo xtask peer-bhtsne`, printing one JSON line like the openTSNE script.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::json;

use crate::{read_matrix, write_csv};

/// `DATA OUT THREADS ITERATIONS METHOD` with METHOD `bh` or `fft`.
pub fn run(args: &[String]) -> Result<()> {
    let [data, out, threads, iterations, method] = args else {
        bail!("usage: cargo xtask peer-bhtsne DATA OUT THREADS ITERATIONS bh|fft");
    };
    let x = read_matrix(Path::new(data))?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.parse()?).build()?;
    let rows: Vec<&[f64]> = x.as_slice().chunks(x.cols()).collect();
    let euclid =
        |a: &&[f64], b: &&[f64]| a.iter().zip(b.iter()).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
    let t0 = Instant::now();
    let mut first_epoch = None;
    let (y, kl) = pool.install(|| {
        let mut t: bhtsne::tSNE<f64, &[f64]> = bhtsne::tSNE::new(&rows);
        t.perplexity(30.0).epochs(iterations.parse().expect("checked by the caller"));
        t.epoch_callback(|_, _| {
            first_epoch.get_or_insert_with(Instant::now);
        });
        match method.as_str() {
            "fft" => t.fit_sne(euclid),
            _ => t.barnes_hut(0.5, euclid),
        };
        (t.embedding(), t.kl_divergence())
    });
    let total = t0.elapsed().as_secs_f64();
    let affinities = first_epoch.map_or(total, |t| (t - t0).as_secs_f64());
    write_csv(Path::new(out), &tsne::Matrix::new(x.rows(), 2, y)?)?;
    println!(
        "{}",
        json!({
            "version": "0.7.13",
            "repulsion": method,
            "kl_divergence": kl,
            "peak_rss_mib": tsne::peak_resident_memory().map(|b| b as f64 / 1048576.0),
            "timings_s": {
                "neighbors_and_affinities": affinities,
                "optimize": total - affinities,
                "total": total,
            },
        })
    );
    Ok(())
}
