//! The accuracy and time of the approximate repulsions on an embedding read from a CSV file
//! (one point per line, 1 to 3 comma-separated coordinates, e.g. a `tsne embed --out` result),
//! against the exact sums:
//!
//! `cargo run --release -p tsne-benches --example repulsion_accuracy -- EMBEDDING.csv [SETTING ...]`
//!
//! A setting is `P:PER_UNIT` (FFT interpolation with P nodes per interval and PER_UNIT
//! intervals per unit length) or `bh:THETA` (Barnes-Hut). Prints, per setting, the relative
//! force error (2-norm over all points), the relative Z error and the median time of one
//! evaluation.

use std::time::Instant;
use tsne_core::{Matrix, Repulsion, StudentT};
use tsne_repulsion::{BarnesHut, Exact, FftInterpolation, FftParams};

fn main() {
    let usage = "usage: repulsion_accuracy EMBEDDING.csv [P:PER_UNIT | bh:THETA ...]";
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| panic!("{usage}"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let data: Vec<f64> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| l.split(',').map(|v| v.trim().parse::<f64>().unwrap_or_else(|e| panic!("{v}: {e}"))))
        .collect();
    let dims = text.lines().next().map_or(1, |l| l.split(',').count());
    let y = Matrix::new(data.len() / dims, dims, data).unwrap_or_else(|e| panic!("{e}"));
    let mut settings: Vec<String> = args.collect();
    if settings.is_empty() {
        settings =
            ["4:1.25", "3:1.25", "3:1.0", "4:1.0", "5:0.8", "2:2.0", "bh:0.5"].map(String::from).to_vec();
    }
    let n = y.rows();
    let mut exact = vec![0.0; dims * n];
    let t = Instant::now();
    let z_exact = Exact::new().repulsion(&y, StudentT::CAUCHY, &mut exact).unwrap_or_else(|e| panic!("{e}"));
    println!("n {n}, exact {:.2} s, Z {z_exact:.6e}", t.elapsed().as_secs_f64());
    let norm = exact.iter().map(|a| a * a).sum::<f64>().sqrt();
    println!("setting   force_err   z_err       ms");
    for setting in settings {
        let (a, b) = setting.split_once(':').unwrap_or_else(|| panic!("{setting}: {usage}"));
        let parse = |v: &str| v.parse::<f64>().unwrap_or_else(|e| panic!("{setting}: {e}"));
        let mut backend: Box<dyn Repulsion> = if a == "bh" {
            Box::new(BarnesHut::new(parse(b)).unwrap_or_else(|e| panic!("{e}")))
        } else {
            let params = FftParams {
                interp_points: parse(a) as usize,
                intervals_per_unit: parse(b),
                ..FftParams::default()
            };
            Box::new(FftInterpolation::new(params).unwrap_or_else(|e| panic!("{e}")))
        };
        let mut f = vec![0.0; dims * n];
        let z = backend.repulsion(&y, StudentT::CAUCHY, &mut f).unwrap_or_else(|e| panic!("{e}"));
        let mut times: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                backend.repulsion(&y, StudentT::CAUCHY, &mut f).unwrap_or_else(|e| panic!("{e}"));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let diff = exact.iter().zip(&f).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        println!(
            "{setting:<9} {:<10.3e}  {:<10.3e}  {:.2}",
            diff / norm,
            ((z - z_exact) / z_exact).abs(),
            times[3]
        );
    }
}
