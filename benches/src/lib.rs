//! Seeded synthetic data shared by the criterion benchmarks and the `xtask` suite.

#![forbid(unsafe_code)]

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tsne_core::Matrix;

/// `n` points in `dims` dimensions drawn from `clusters` Gaussian-like clusters (uniform noise
/// of half-width 1 around centres drawn uniformly in `[-5, 5]^dims`); labels are the cluster.
pub fn gaussian_mixture(n: usize, dims: usize, clusters: usize, seed: u64) -> (Matrix, Vec<u32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f64> = (0..clusters * dims).map(|_| rng.gen_range(-5.0..5.0)).collect();
    let mut data = Vec::with_capacity(n * dims);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let c = i % clusters;
        labels.push(c as u32);
        // Sum of three uniforms: bell-shaped, cheap, reproducible.
        data.extend(
            (0..dims)
                .map(|k| centres[c * dims + k] + (0..3).map(|_| rng.gen_range(-1.0..1.0)).sum::<f64>() / 1.5),
        );
    }
    (Matrix::new(n, dims, data).expect("finite by construction"), labels)
}

/// A t-SNE-like 2-D embedding: `n` points in ten round clusters whose extent grows like
/// `sqrt(n)`, the way real embeddings do.
pub fn embedding_2d(n: usize, seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let spread = 0.4 * (n as f64).sqrt();
    let centres: Vec<[f64; 2]> =
        (0..10).map(|_| [rng.gen_range(-0.4..0.4) * spread, rng.gen_range(-0.4..0.4) * spread]).collect();
    let data = (0..n)
        .flat_map(|i| {
            let c = centres[i % 10];
            let r = rng.gen_range(0.0f64..1.0).sqrt() * 0.1 * spread;
            let t: f64 = rng.gen_range(0.0..std::f64::consts::TAU);
            [c[0] + r * t.cos(), c[1] + r * t.sin()]
        })
        .collect();
    Matrix::new(n, 2, data).expect("finite by construction")
}
