//! The FFT repulsion's accuracy and time for several grid settings, on an embedding read from
//! a CSV file (`x,y` per line, e.g. a `tsne embed --out` result), against the exact sums:
//!
//! `cargo run --release -p tsne-benches --example fft_grid -- EMBEDDING.csv [P:PER_UNIT ...]`
//!
//! Prints, per setting, the relative force error (2-norm over all points), the relative Z
//! error, the grid nodes per dimension and the median time of one evaluation.

use std::time::Instant;
use tsne_core::{Matrix, Repulsion, StudentT};
use tsne_repulsion::{Exact, FftInterpolation, FftParams};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_else(|| panic!("usage: fft_grid EMBEDDING.csv [P:PER_UNIT ...]"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let data: Vec<f64> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .flat_map(|l| l.split(',').map(|v| v.trim().parse::<f64>().unwrap_or_else(|e| panic!("{v}: {e}"))))
        .collect();
    let y = Matrix::new(data.len() / 2, 2, data).unwrap_or_else(|e| panic!("{e}"));
    let settings: Vec<(usize, f64)> = {
        let given: Vec<(usize, f64)> = args
            .map(|a| {
                let (p, u) = a.split_once(':').unwrap_or_else(|| panic!("{a}: want P:PER_UNIT"));
                (p.parse().unwrap_or_else(|e| panic!("{e}")), u.parse().unwrap_or_else(|e| panic!("{e}")))
            })
            .collect();
        if given.is_empty() {
            vec![(4, 1.25), (3, 1.25), (3, 1.0), (4, 1.0), (5, 0.8), (2, 2.0)]
        } else {
            given
        }
    };
    let n = y.rows();
    let mut exact = vec![0.0; 2 * n];
    let t = Instant::now();
    let z_exact = Exact::new().repulsion(&y, StudentT::CAUCHY, &mut exact).unwrap_or_else(|e| panic!("{e}"));
    println!("n {n}, exact {:.2} s, Z {z_exact:.6e}", t.elapsed().as_secs_f64());
    let norm = exact.iter().map(|a| a * a).sum::<f64>().sqrt();
    println!("p  per_unit  force_err   z_err       ms");
    for (p, per_unit) in settings {
        let params = FftParams { interp_points: p, intervals_per_unit: per_unit, ..FftParams::default() };
        let mut fft = FftInterpolation::new(params).unwrap_or_else(|e| panic!("{e}"));
        let mut f = vec![0.0; 2 * n];
        let z = fft.repulsion(&y, StudentT::CAUCHY, &mut f).unwrap_or_else(|e| panic!("{e}"));
        let mut times: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                fft.repulsion(&y, StudentT::CAUCHY, &mut f).unwrap_or_else(|e| panic!("{e}"));
                t.elapsed().as_secs_f64() * 1e3
            })
            .collect();
        times.sort_by(f64::total_cmp);
        let diff = exact.iter().zip(&f).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        println!(
            "{p}  {per_unit:<8}  {:<10.3e}  {:<10.3e}  {:.2}",
            diff / norm,
            ((z - z_exact) / z_exact).abs(),
            times[3]
        );
    }
}
