//! `cargo xtask knn`: time and recall of each neighbour search on the 50-D mixtures, at
//! t-SNE's `k = 90` (perplexity 30).

use std::path::Path;
use std::time::Instant;

use anyhow::{bail, Result};
use serde_json::{json, Value};
use tsne::backends::affinity::{BruteForce, Hnsw, NnDescent, NnDescentParams};
use tsne::backends::core::NeighborSearch;
use tsne::metrics::neighbor_recall;
use tsne::{HnswParams, Metric};

/// Neighbours per point, as for perplexity 30.
const K: usize = 90;
/// Queries on which recall is checked against brute force.
const RECALL_SAMPLE: usize = 1000;

/// Searches every size with each of `methods` (`nndescent`, `exact`, `hnsw`); exact and HNSW
/// only up to `slow_max_n` points.
pub fn run(sizes: &[usize], methods: &[String], threads: usize, slow_max_n: usize, out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)?;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let mut rows = Vec::new();
    for &n in sizes {
        let (x, _) = tsne_benches::gaussian_mixture(n, 50, 10, 42);
        let mut searches: Vec<(&str, Box<dyn NeighborSearch>)> = Vec::new();
        for m in methods {
            match m.as_str() {
                "nndescent" => {
                    searches.push(("nndescent", Box::new(NnDescent::new(NnDescentParams::default())?)))
                }
                "exact" if n <= slow_max_n => searches.push(("exact", Box::new(BruteForce::default()))),
                "hnsw" if n <= slow_max_n => {
                    searches.push(("hnsw", Box::new(Hnsw::new(HnswParams::default())?)))
                }
                "exact" | "hnsw" => {
                    println!("n = {n:>8}  {m:<10} skipped: n above --exact-max-n {slow_max_n}")
                }
                other => bail!("unknown search {other}: nndescent, exact or hnsw"),
            }
        }
        for (name, search) in searches {
            let t = Instant::now();
            let graph = pool.install(|| search.search(&x, K))?;
            let seconds = t.elapsed().as_secs_f64();
            let recall = pool.install(|| neighbor_recall(&x, &graph, RECALL_SAMPLE, Metric::Euclidean))?;
            println!("n = {n:>8}  {name:<10} {seconds:>9.2} s  recall {recall:.4}");
            rows.push(json!({ "n": n, "method": name, "seconds": seconds, "recall": recall }));
        }
    }
    let report: Value =
        json!({ "k": K, "dims": 50, "threads": threads, "recall_sample": RECALL_SAMPLE, "rows": rows });
    std::fs::write(out.join("knn.json"), serde_json::to_string_pretty(&report)?)?;
    Ok(())
}
