//! The analytic gradient of `tsne-core` against central finite differences of the exact KL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use tsne::backends::core::gradient::{attractive_forces, kl_divergence};
use tsne::backends::core::Repulsion;
use tsne::backends::repulsion::Exact;
use tsne::{CsrMatrix, Matrix, StudentT};

/// A random dense symmetric P with unit sum and empty diagonal.
fn random_p(n: usize, rng: &mut impl Rng) -> CsrMatrix {
    let mut w = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..i {
            let v: f64 = rng.gen_range(0.01..1.0);
            w[i * n + j] = v;
            w[j * n + i] = v;
        }
    }
    let total: f64 = w.iter().sum();
    let rows = (0..n)
        .map(|i| (0..n).filter(|&j| j != i).map(|j| (j as u32, w[i * n + j] / total)).collect())
        .collect();
    CsrMatrix::from_rows(rows).unwrap()
}

fn kl(p: &CsrMatrix, y: &Matrix, kernel: StudentT) -> f64 {
    let mut scratch = vec![0.0; y.as_slice().len()];
    let z = Exact::new().repulsion(y, kernel, &mut scratch).unwrap();
    kl_divergence(p, y, kernel, z)
}

proptest! {
    // A fixed seed: every run, CI included, checks the same cases (plus the saved regressions).
    #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(64), ..ProptestConfig::with_cases(64) })]
    #[test]
    fn gradient_matches_finite_differences(seed in 0u64..1_000_000, n in 3usize..14, dims in 1usize..4, dof in prop_oneof![Just(1.0), 0.3f64..5.0], scale in 0.1f64..5.0) {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let kernel = StudentT::new(dof).unwrap();
        let p = random_p(n, &mut rng);
        let y = Matrix::new(n, dims, (0..n * dims).map(|_| rng.gen_range(-scale..scale)).collect()).unwrap();
        let len = n * dims;
        let (mut attr, mut rep) = (vec![0.0; len], vec![0.0; len]);
        attractive_forces(&p, &y, kernel, &mut attr);
        let z = Exact::new().repulsion(&y, kernel, &mut rep).unwrap();
        let analytic: Vec<f64> = attr.iter().zip(&rep).map(|(a, r)| 4.0 * (a - r / z)).collect();
        let h = 1e-5 * scale;
        let numeric: Vec<f64> = (0..len).map(|t| {
            let mut plus = y.clone();
            plus.as_mut_slice()[t] += h;
            let mut minus = y.clone();
            minus.as_mut_slice()[t] -= h;
            (kl(&p, &plus, kernel) - kl(&p, &minus, kernel)) / (2.0 * h)
        }).collect();
        let diff = analytic.iter().zip(&numeric).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        let norm = analytic.iter().map(|a| a * a).sum::<f64>().sqrt();
        prop_assert!(diff <= 1e-5 * norm, "relative error {} (norm {})", diff / norm, norm);
    }
}
