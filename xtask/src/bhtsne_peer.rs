//! The `bhtsne` crate as a peer: run in its own process (for the peak-memory reading) by
//! `cargo xtask peer-bhtsne`, printing one JSON line like the openTSNE script.

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::json;

use crate::{read_matrix, write_csv};

/// `DATA OUT THREADS ITERATIONS METHOD DIMS` with METHOD `bh` or `fft` (2-D only).
pub fn run(args: &[String]) -> Result<()> {
    let [data, out, threads, iterations, method, dims] = args else {
        bail!("usage: cargo xtask peer-bhtsne DATA OUT THREADS ITERATIONS bh|fft DIMS");
    };
    let dims: usize = dims.parse()?;
    if !(2..=3).contains(&dims) || (dims == 3 && method == "fft") {
        bail!("the bhtsne peer embeds in 2-D (bh, fft) or 3-D (bh)");
    }
    let x = read_matrix(Path::new(data))?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads.parse()?).build()?;
    let rows: Vec<&[f64]> = x.as_slice().chunks(x.cols()).collect();
    let iterations: usize = iterations.parse()?;
    let t0 = Instant::now();
    let mut first_epoch = None;
    let euclid =
        |a: &&[f64], b: &&[f64]| a.iter().zip(b.iter()).map(|(p, q)| (p - q) * (p - q)).sum::<f64>().sqrt();
    // The crate's dimension is a const generic with per-dimension trait bounds (its FFT is
    // 2-D only), hence one block per dimension.
    macro_rules! fit {
        ($d:literal, $($method:tt)+) => {{
            let mut t: bhtsne::tSNE<f64, &[f64], $d> = bhtsne::tSNE::new(&rows);
            t.perplexity(30.0).epochs(iterations);
            t.epoch_callback(|_, _| {
                first_epoch.get_or_insert_with(Instant::now);
            });
            t.$($method)+;
            (t.embedding(), t.kl_divergence())
        }};
    }
    let (y, kl) = pool.install(|| match (dims, method.as_str()) {
        (2, "fft") => fit!(2, fit_sne(euclid)),
        (2, _) => fit!(2, barnes_hut(0.5, euclid)),
        _ => fit!(3, barnes_hut(0.5, euclid)),
    });
    let total = t0.elapsed().as_secs_f64();
    let affinities = first_epoch.map_or(total, |t| (t - t0).as_secs_f64());
    write_csv(Path::new(out), &tsne::Matrix::new(x.rows(), dims, y)?)?;
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
