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

/// A stand-in for real image data: 100 clusters of unequal size and spread, grouped into 10
/// classes (the labels), in a 50-D latent space; with `dims > 50` the latent points are mapped
/// linearly into `dims` dimensions with a little noise and quantised to 8-bit intensities
/// (integers 0 to 255, like pixels), so a PCA to 50 recovers them (as for images). Its embedding is about as wide as that of real image data of the same size,
/// unlike [`gaussian_mixture`]'s ten equal clusters.
pub fn image_like(n: usize, dims: usize, seed: u64) -> (Matrix, Vec<u32>) {
    const LATENT: usize = 50;
    const CLASSES: usize = 10;
    const CLUSTERS: usize = 100;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let normal = |rng: &mut ChaCha8Rng| (0..3).map(|_| rng.gen_range(-1.0..1.0)).sum::<f64>() / 1.5;
    let classes: Vec<f64> = (0..CLASSES * LATENT).map(|_| rng.gen_range(-6.0..6.0)).collect();
    let mut centres = vec![0.0; CLUSTERS * LATENT];
    for c in 0..CLUSTERS {
        for k in 0..LATENT {
            centres[c * LATENT + k] = classes[(c % CLASSES) * LATENT + k] + 2.0 * normal(&mut rng);
        }
    }
    let spread: Vec<f64> = (0..CLUSTERS).map(|_| rng.gen_range(0.6..1.6)).collect();
    // Cluster sizes fall off like a power law: the largest is about ten times the smallest.
    let weight: Vec<f64> = (0..CLUSTERS).map(|c| 1.0 / (1.0 + (c * 37 % CLUSTERS) as f64 / 11.0)).collect();
    let total: f64 = weight.iter().sum();
    let map: Vec<f64> = (0..LATENT * dims).map(|_| normal(&mut rng) / (LATENT as f64).sqrt()).collect();
    let mut data = Vec::with_capacity(n * dims);
    let mut labels = Vec::with_capacity(n);
    let mut latent = [0.0; LATENT];
    for _ in 0..n {
        let mut u = rng.gen_range(0.0..total);
        let c = weight.iter().position(|&w| {
            u -= w;
            u < 0.0
        });
        let c = c.unwrap_or(CLUSTERS - 1);
        labels.push((c % CLASSES) as u32);
        for (k, v) in latent.iter_mut().enumerate() {
            *v = centres[c * LATENT + k] + spread[c] * normal(&mut rng);
        }
        if dims <= LATENT {
            data.extend_from_slice(&latent[..dims]);
        } else {
            for j in 0..dims {
                let x: f64 = (0..LATENT).map(|k| latent[k] * map[k * dims + j]).sum();
                // A standard deviation of about 29 levels around 128; almost no value clips.
                data.push((128.0 + 12.0 * (x + 0.3 * normal(&mut rng))).round().clamp(0.0, 255.0));
            }
        }
    }
    (Matrix::new(n, dims, data).expect("finite by construction"), labels)
}
