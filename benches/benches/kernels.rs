//! One evaluation of each kernel. Sizes follow the issues; the largest ones run only with
//! `TSNE_BENCH_LARGE=1` so that a plain `cargo bench` stays short.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use std::ops::ControlFlow;
use tsne_affinity::{BruteForce, Hnsw, NnDescent, Perplexity};
use tsne_benches::{embedding_2d, gaussian_mixture};

use tsne_core::{Affinity, CsrMatrix, Matrix, NeighborSearch, Repulsion, StudentT};
use tsne_optim::{GradientDescent, KlGradient, Schedule, State};
use tsne_repulsion::{BarnesHut, Exact, FftInterpolation, FftParams};

fn large() -> bool {
    std::env::var_os("TSNE_BENCH_LARGE").is_some()
}

/// PCA preprocessing to 50 dimensions: fitting the axes and projecting the points.
fn pca(c: &mut Criterion) {
    let mut g = c.benchmark_group("pca_784d_to_50");
    g.sample_size(10);
    let n = if large() { 70_000 } else { 10_000 };
    let (x, _) = gaussian_mixture(n, 784, 10, 7);
    let projection = tsne_init::Projection::fit(&x, 50).unwrap();
    g.bench_function(BenchmarkId::new("fit", n), |b| b.iter(|| tsne_init::Projection::fit(&x, 50).unwrap()));
    g.bench_function(BenchmarkId::new("apply", n), |b| b.iter(|| projection.apply(&x).unwrap()));
}

fn knn(c: &mut Criterion) {
    let mut g = c.benchmark_group("knn_exact_50d_k90");
    g.sample_size(10);
    let sizes: &[usize] = if large() { &[10_000, 70_000] } else { &[10_000] };
    for &n in sizes {
        let (x, _) = gaussian_mixture(n, 50, 10, 1);
        g.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| {
            b.iter(|| BruteForce::default().search(x, 90).unwrap())
        });
    }
}

fn knn_hnsw(c: &mut Criterion) {
    let mut g = c.benchmark_group("knn_hnsw_50d_k90");
    g.sample_size(10);
    let sizes: &[usize] = if large() { &[10_000, 70_000] } else { &[10_000] };
    for &n in sizes {
        let (x, _) = gaussian_mixture(n, 50, 10, 1);
        g.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| {
            b.iter(|| Hnsw::default().search(x, 90).unwrap())
        });
    }
}

fn knn_nndescent(c: &mut Criterion) {
    let mut g = c.benchmark_group("knn_nndescent_50d_k90");
    g.sample_size(10);
    let sizes: &[usize] = if large() { &[10_000, 70_000] } else { &[10_000] };
    for &n in sizes {
        let (x, _) = gaussian_mixture(n, 50, 10, 1);
        g.bench_with_input(BenchmarkId::from_parameter(n), &x, |b, x| {
            b.iter(|| NnDescent::default().search(x, 90).unwrap())
        });
    }
}

fn perplexity(c: &mut Criterion) {
    let mut g = c.benchmark_group("perplexity_30");
    g.sample_size(10);
    let (x, _) = gaussian_mixture(10_000, 50, 10, 2);
    let graph = BruteForce::default().search(&x, 90).unwrap();
    let aff = Perplexity::new(30.0).unwrap();
    g.bench_function("10000", |b| b.iter(|| aff.affinities(&graph).unwrap()));
}

fn repulsion(c: &mut Criterion) {
    let mut g = c.benchmark_group("repulsion_2d");
    g.sample_size(10);
    let sizes: &[usize] =
        if large() { &[10_000, 70_000, 100_000, 250_000, 1_000_000] } else { &[10_000, 100_000] };
    for &n in sizes {
        let y = embedding_2d(n, 3);
        let mut forces = vec![0.0; 2 * n];
        if n <= 10_000 {
            let mut exact = Exact::new();
            g.bench_with_input(BenchmarkId::new("exact", n), &y, |b, y| {
                b.iter(|| exact.repulsion(y, StudentT::CAUCHY, &mut forces).unwrap())
            });
        }
        if n <= 250_000 {
            let mut bh = BarnesHut::new(0.5).unwrap();
            g.bench_with_input(BenchmarkId::new("bh_0.5", n), &y, |b, y| {
                b.iter(|| bh.repulsion(y, StudentT::CAUCHY, &mut forces).unwrap())
            });
        }
        for (name, params) in [("fft", FftParams::default()), ("fft_opentsne_grid", FftParams::OPENTSNE)] {
            let mut fft = FftInterpolation::new(params).unwrap();
            g.bench_with_input(BenchmarkId::new(name, n), &y, |b, y| {
                b.iter(|| fft.repulsion(y, StudentT::CAUCHY, &mut forces).unwrap())
            });
        }
    }
}

/// The attractive forces on P of a 50-D mixture, with the points in input order and in the
/// facade's locality order (`CsrMatrix::locality_order`): the ratio is the gain of renumbering.
fn attractive(c: &mut Criterion) {
    let mut g = c.benchmark_group("attractive_forces_2d");
    g.sample_size(20);
    let sizes: &[usize] = if large() { &[10_000, 70_000] } else { &[10_000] };
    for &n in sizes {
        let (x, _) = gaussian_mixture(n, 50, 10, 4);
        let graph = BruteForce::default().search(&x, 90).unwrap();
        let p: CsrMatrix = Perplexity::new(30.0).unwrap().affinities(&graph).unwrap();
        let y = embedding_2d(n, 5);
        let order = p.locality_order();
        let (p_local, y_local) = (p.permuted(&order).unwrap(), y.permuted_rows(&order).unwrap());
        let mut out = vec![0.0; 2 * n];
        for (name, p, y) in [("input_order", &p, &y), ("locality_order", &p_local, &y_local)] {
            g.bench_with_input(BenchmarkId::new(name, n), &n, |b, _| {
                b.iter(|| tsne_core::gradient::attractive_forces(p, y, StudentT::CAUCHY, &mut out))
            });
        }
    }
}

fn optimiser_step(c: &mut Criterion) {
    let mut g = c.benchmark_group("optimiser_step");
    g.sample_size(10);
    let n = 10_000;
    let (x, _) = gaussian_mixture(n, 50, 10, 4);
    let graph = BruteForce::default().search(&x, 90).unwrap();
    let p: CsrMatrix = Perplexity::new(30.0).unwrap().affinities(&graph).unwrap();
    let y0: Matrix = embedding_2d(n, 5);
    let schedule = Schedule { iterations: 1, exaggeration_iterations: 0, kl_every: 0, ..Schedule::default() };
    let opt = GradientDescent::new(schedule).unwrap();
    let mut bh = BarnesHut::new(0.5).unwrap();
    g.bench_function("bh_10000", |b| {
        b.iter(|| {
            let mut y = y0.clone();
            let mut kl = KlGradient::new(&p, StudentT::CAUCHY, &mut bh, 2).unwrap();
            let mut state = State::new(y.as_slice().len());
            opt.minimize(&mut y, &mut kl, &mut state, None, &mut |_| ControlFlow::Continue(())).unwrap()
        })
    });
}

criterion_group!(
    benches,
    pca,
    knn,
    knn_nndescent,
    knn_hnsw,
    perplexity,
    repulsion,
    attractive,
    optimiser_step
);
criterion_main!(benches);
