//! Memory and time of the t-SNE stages at scale, from a synthetic precomputed kNN graph:
//!
//! `cargo run --release -p tsne-benches --example scale_graph -- [N] [K] [ITERATIONS]`
//!
//! The graph is exact: N points uniform in the unit square (seeded), their K nearest
//! neighbours found through a grid of cells (a point's neighbours lie in the rings of cells
//! around it until the ring's distance exceeds the K-th candidate's). The graph is handed to
//! `TSne::fit` (perplexity K / 3, a random start, ITERATIONS iterations of early
//! exaggeration, `auto` repulsion), which drops it once P is built. Prints the peak resident
//! memory (`VmHWM`) after each stage, from the fit's summary, and the time per iteration.
//! Defaults: 10,000,000 points, K = 90, 20 iterations.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use tsne::{Init, KnnGraph, TSne};

fn peak_mib() -> f64 {
    tsne::peak_resident_memory().map_or(f64::NAN, |b| b as f64 / 1048576.0)
}

/// The exact `k` nearest neighbours of uniform points in the unit square.
fn grid_knn(points: &[[f64; 2]], k: usize) -> KnnGraph {
    let n = points.len();
    // About k / 2 points per cell: the 3 x 3 block around a point usually holds the answer.
    let side = ((n as f64 / (k as f64 / 2.0)).sqrt().floor() as usize).max(1);
    let h = 1.0 / side as f64;
    let cell_of = |p: &[f64; 2]| {
        let cx = ((p[0] / h) as usize).min(side - 1);
        let cy = ((p[1] / h) as usize).min(side - 1);
        (cx, cy)
    };
    let mut counts = vec![0usize; side * side + 1];
    for p in points {
        let (cx, cy) = cell_of(p);
        counts[cy * side + cx + 1] += 1;
    }
    for c in 0..side * side {
        counts[c + 1] += counts[c];
    }
    let mut next = counts.clone();
    let mut members = vec![0u32; n];
    for (i, p) in points.iter().enumerate() {
        let (cx, cy) = cell_of(p);
        members[next[cy * side + cx]] = i as u32;
        next[cy * side + cx] += 1;
    }
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0.0f64; n * k];
    indices.par_chunks_mut(k).zip(distances.par_chunks_mut(k)).enumerate().for_each_init(
        Vec::new,
        |cand: &mut Vec<(f64, u32)>, (i, (idx, dist))| {
            let p = points[i];
            let (cx, cy) = cell_of(&p);
            let mut r = 1usize;
            loop {
                cand.clear();
                let (x0, x1) = (cx.saturating_sub(r), (cx + r).min(side - 1));
                let (y0, y1) = (cy.saturating_sub(r), (cy + r).min(side - 1));
                for y in y0..=y1 {
                    for &j in &members[counts[y * side + x0]..counts[y * side + x1 + 1]] {
                        if j as usize != i {
                            let q = points[j as usize];
                            let d2 = (p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2);
                            cand.push((d2, j));
                        }
                    }
                }
                // Distance from p to the nearest side of the searched block that has cells beyond it.
                let mut reach = f64::INFINITY;
                if x0 > 0 {
                    reach = reach.min(p[0] - x0 as f64 * h);
                }
                if x1 < side - 1 {
                    reach = reach.min((x1 + 1) as f64 * h - p[0]);
                }
                if y0 > 0 {
                    reach = reach.min(p[1] - y0 as f64 * h);
                }
                if y1 < side - 1 {
                    reach = reach.min((y1 + 1) as f64 * h - p[1]);
                }
                if cand.len() >= k {
                    cand.select_nth_unstable_by(k - 1, tsne_core::neighbor_order);
                    if cand[k - 1].0 <= reach * reach {
                        break;
                    }
                }
                r += 1;
            }
            cand.truncate(k);
            cand.sort_unstable_by(tsne_core::neighbor_order);
            for (t, &(d2, j)) in cand.iter().enumerate() {
                idx[t] = j;
                dist[t] = d2.sqrt();
            }
        },
    );
    KnnGraph::new(n, k, indices, distances).unwrap_or_else(|e| panic!("{e}"))
}

fn main() {
    let args: Vec<usize> =
        std::env::args().skip(1).map(|a| a.parse().unwrap_or_else(|e| panic!("{a}: {e}"))).collect();
    let n = args.first().copied().unwrap_or(10_000_000);
    let k = args.get(1).copied().unwrap_or(90);
    let iterations = args.get(2).copied().unwrap_or(20);
    let mib = |b: Option<u64>| b.map_or(f64::NAN, |b| b as f64 / 1048576.0);
    let row = |name: &str, seconds: f64, peak: f64| {
        println!(
            "{name:<28} {seconds:>8.1} s   peak {peak:>9.1} MiB   {:>7.1} bytes/point",
            peak * 1048576.0 / n as f64
        );
    };
    println!("n {n}, k {k}, {iterations} iterations, {} threads", rayon::current_num_threads());

    let t = Instant::now();
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let points: Vec<[f64; 2]> = (0..n).map(|_| [rng.gen::<f64>(), rng.gen::<f64>()]).collect();
    let graph = grid_knn(&points, k);
    drop(points);
    row("synthetic kNN graph", t.elapsed().as_secs_f64(), peak_mib());

    // The graph is handed over: the fit drops it once P is built.
    let fit = TSne::builder()
        .perplexity(k as f64 / 3.0)
        .init(Init::Random)
        .iterations(iterations)
        .exaggeration_iterations(iterations)
        .kl_every(0)
        .build()
        .and_then(|tsne| tsne.fit(graph))
        .unwrap_or_else(|e| panic!("{e}"));
    let s = fit.summary();
    println!("nnz(P) {} ({:.2} per point)", s.nnz, s.nnz as f64 / n as f64);
    row("affinities", s.timings.affinities.as_secs_f64(), mib(s.peak_memory.affinities));
    row(
        "start and optimisation",
        (s.timings.initialization + s.timings.optimize).as_secs_f64(),
        mib(s.peak_memory.optimize),
    );
    println!(
        "{:.3} s per iteration; KL after {iterations} iterations {:.4}",
        s.timings.optimize.as_secs_f64() / iterations as f64,
        s.kl_divergence
    );
}
