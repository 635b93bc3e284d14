//! Every approximate backend against the exact oracle, with one test body.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tsne_core::{Matrix, Repulsion, StudentT};
use tsne_repulsion::{BarnesHut, Exact, FftInterpolation, FftParams};

/// Uniform points in a cube of side `density * n^(1/dims)` (so that `density` is the typical
/// spacing of neighbours, as in a t-SNE embedding: about 3 for the digits data), or ten tight
/// clusters inside that cube.
fn embedding(seed: u64, n: usize, dims: usize, density: f64, clustered: bool) -> Matrix {
    let spread = density * (n as f64).powf(1.0 / dims as f64);
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f64> = (0..10 * dims).map(|_| rng.gen_range(-0.5..0.5) * spread).collect();
    let data = (0..n)
        .flat_map(|i| {
            let c = i % 10;
            (0..dims)
                .map(|k| {
                    if clustered {
                        centres[c * dims + k] + rng.gen_range(-1.0..1.0) * 0.03 * spread
                    } else {
                        rng.gen_range(-0.5..0.5) * spread
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect();
    Matrix::new(n, dims, data).unwrap()
}

/// (relative force error, relative Z error) of `backend` against the exact backend.
fn errors(backend: &mut dyn Repulsion, y: &Matrix, kernel: StudentT) -> (f64, f64) {
    let len = y.as_slice().len();
    let (mut exact, mut approx) = (vec![0.0; len], vec![0.0; len]);
    let z_exact = Exact::new().repulsion(y, kernel, &mut exact).unwrap();
    let z = backend.repulsion(y, kernel, &mut approx).unwrap();
    let diff = exact.iter().zip(&approx).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    let norm = exact.iter().map(|a| a * a).sum::<f64>().sqrt();
    (diff / norm, ((z - z_exact) / z_exact).abs())
}

fn kernel_strategy() -> impl Strategy<Value = StudentT> {
    prop_oneof![3 => Just(StudentT::CAUCHY), 1 => (0.3f64..3.0).prop_map(|a| StudentT::new(a).unwrap())]
}

proptest! {
    // A fixed seed: every run, CI included, checks the same cases (plus the saved regressions).
    #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(32), ..ProptestConfig::with_cases(32) })]

    #[test]
    fn barnes_hut_theta_zero_is_exact(seed in 0u64..10_000, n in 2usize..400, dims in 1usize..4, density in 0.001f64..5.0, clustered: bool, kernel in kernel_strategy()) {
        let y = embedding(seed, n, dims, density, clustered);
        let (f, z) = errors(&mut BarnesHut::new(0.0).unwrap(), &y, kernel);
        prop_assert!(f < 1e-9 && z < 1e-9, "force {f:e}, Z {z:e}");
    }

    #[test]
    fn barnes_hut_default_theta_is_accurate(seed in 0u64..10_000, n in 200usize..1500, dims in 1usize..4, density in 0.1f64..4.0, clustered: bool, kernel in kernel_strategy()) {
        let y = embedding(seed, n, dims, density, clustered);
        let (f, z) = errors(&mut BarnesHut::new(0.5).unwrap(), &y, kernel);
        // The bar is 0.05 and 1%; the quadrupole cell terms keep us well inside it.
        prop_assert!(f < 0.01 && z < 0.002, "force {f:e}, Z {z:e}");
    }

    /// The repulsion of a fixed embedding on outside points (`ReferenceTree`) against the
    /// direct sums, for 20 new points drawn like the embedding (as placed points are): exact
    /// per point at theta = 0, and within the placement bound (5% force, 1% Z, over all the
    /// points, as the tests above) at 0.5.
    #[test]
    fn reference_tree_matches_direct_sums(seed in 0u64..10_000, n in 2usize..800, dims in 1usize..4, density in 0.1f64..4.0, clustered: bool, kernel in kernel_strategy()) {
        let y = embedding(seed, n, dims, density, clustered);
        let m = 20;
        let queries = embedding(seed + 1, m, dims, density * (n as f64 / m as f64).powf(1.0 / dims as f64), clustered);
        let (mut want, mut z_want) = (vec![0.0; m * dims], vec![0.0; m]);
        for q in 0..m {
            let x = queries.row(q);
            for j in 0..n {
                let r = y.row(j);
                let (w, u) = kernel.weights(x.iter().zip(r).map(|(a, b)| (a - b) * (a - b)).sum());
                z_want[q] += w;
                for c in 0..dims {
                    want[q * dims + c] += w * u * (x[c] - r[c]);
                }
            }
        }
        for theta in [0.0, 0.5] {
            let tree = BarnesHut::new(theta).unwrap().reference_tree(&y).unwrap();
            let (mut forces, mut z) = (vec![0.0; m * dims], vec![0.0; m]);
            tree.repulsion(&queries, kernel, &mut forces, &mut z).unwrap();
            let diff = want.iter().zip(&forces).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            let norm = want.iter().map(|a| a * a).sum::<f64>().sqrt();
            let (z_got, z_sum): (f64, f64) = (z.iter().sum(), z_want.iter().sum());
            if theta == 0.0 {
                for q in 0..m {
                    prop_assert!((z[q] - z_want[q]).abs() <= 1e-9 * z_want[q]);
                }
                prop_assert!(diff <= 1e-9 * norm, "exact: force error {diff:e} of {norm:e}");
            } else {
                prop_assert!(diff <= 0.05 * norm, "theta 0.5: force error {}", diff / norm);
                prop_assert!((z_got - z_sum).abs() <= 0.01 * z_sum, "theta 0.5: Z {z_got} vs {z_sum}");
            }
        }
    }

    #[test]
    fn fft_default_is_accurate(seed in 0u64..10_000, n in 200usize..1500, dims in 1usize..3, density in 0.1f64..4.0, clustered: bool, kernel in kernel_strategy()) {
        let y = embedding(seed, n, dims, density, clustered);
        let (f, z) = errors(&mut FftInterpolation::new(FftParams::default()).unwrap(), &y, kernel);
        prop_assert!(f < 1e-2 && z < 5e-3, "force {f:e}, Z {z:e}");
    }
}

#[test]
fn fft_error_falls_with_more_interpolation_points() {
    for dims in [1, 2] {
        for clustered in [false, true] {
            let y = embedding(11, 1000, dims, 2.0, clustered);
            let errs: Vec<f64> = [2, 3, 5]
                .iter()
                .map(|&p| {
                    let params = FftParams { interp_points: p, ..FftParams::default() };
                    errors(&mut FftInterpolation::new(params).unwrap(), &y, StudentT::CAUCHY).0
                })
                .collect();
            assert!(errs[0] > errs[1] && errs[1] > errs[2], "dims {dims}, clustered {clustered}: {errs:?}");
        }
    }
}

#[test]
fn backends_reject_unsupported_dimensions() {
    let y = Matrix::zeros(10, 3);
    let mut f = vec![0.0; 30];
    assert!(FftInterpolation::new(FftParams::default())
        .unwrap()
        .repulsion(&y, StudentT::CAUCHY, &mut f)
        .is_err());
    let y4 = Matrix::zeros(10, 4);
    let mut f4 = vec![0.0; 40];
    assert!(BarnesHut::new(0.5).unwrap().repulsion(&y4, StudentT::CAUCHY, &mut f4).is_err());
}

#[test]
fn coincident_points_stay_finite() {
    let mut data = vec![3.0; 2 * 300];
    data[0] = 3.5;
    let y = Matrix::new(300, 2, data).unwrap();
    for backend in [
        &mut BarnesHut::new(0.5).unwrap() as &mut dyn Repulsion,
        &mut FftInterpolation::new(FftParams::default()).unwrap(),
    ] {
        let mut f = vec![0.0; 600];
        let z = backend.repulsion(&y, StudentT::CAUCHY, &mut f).unwrap();
        assert!(z.is_finite() && f.iter().all(|v| v.is_finite()));
        let (fe, ze) = errors(backend, &y, StudentT::CAUCHY);
        assert!(fe < 1e-2 && ze < 1e-2, "{} {fe} {ze}", backend.name());
    }
}

/// Every backend gives bit-identical forces and Z with one thread and with several.
#[test]
fn results_do_not_depend_on_the_thread_count() {
    let y = embedding(5, 3000, 2, 1.0, true);
    let run = |threads: usize, backend: &mut dyn Repulsion| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let mut f = vec![0.0; 6000];
        let z = pool.install(|| backend.repulsion(&y, StudentT::CAUCHY, &mut f).unwrap());
        (z.to_bits(), f.iter().map(|v| v.to_bits()).collect::<Vec<_>>())
    };
    let makers: [fn() -> Box<dyn Repulsion>; 3] = [
        || Box::new(Exact::new()),
        || Box::new(BarnesHut::new(0.5).unwrap()),
        || Box::new(FftInterpolation::new(FftParams::default()).unwrap()),
    ];
    for make in makers {
        let one = run(1, make().as_mut());
        let three = run(3, make().as_mut());
        assert!(one == three, "{} differs between 1 and 3 threads", make().name());
    }
}

/// A far outlier would stretch the 2-D grid beyond `MAX_NODES_2D` nodes per dimension: that
/// is a typed error naming Barnes-Hut, not an unbounded allocation; Barnes-Hut handles it.
#[test]
fn a_far_outlier_is_an_error_not_an_unbounded_grid() {
    let mut y = embedding(9, 3000, 2, 0.5, true);
    y.row_mut(0).copy_from_slice(&[5.0e4, -5.0e4]);
    let mut f = vec![0.0; 6000];
    let err = FftInterpolation::new(FftParams::default()).unwrap().repulsion(&y, StudentT::CAUCHY, &mut f);
    assert!(matches!(err, Err(tsne_core::Error::Unsupported { .. })), "{err:?}");
    let (fe, ze) = errors(&mut BarnesHut::new(0.5).unwrap(), &y, StudentT::CAUCHY);
    assert!(fe < 1e-2 && ze < 1e-2, "Barnes-Hut: {fe} {ze}");
    // Just inside the limit the FFT still runs and is accurate.
    y.row_mut(0).copy_from_slice(&[300.0, -50.0]);
    let (fe, ze) = errors(&mut FftInterpolation::new(FftParams::default()).unwrap(), &y, StudentT::CAUCHY);
    assert!(fe < 1e-2 && ze < 5e-3, "FFT: {fe} {ze}");
}

/// Under a memory limit, an FFT grid that would exceed it is a typed error before anything
/// is allocated; within it the same evaluation runs.
#[test]
fn an_fft_grid_over_the_memory_limit_is_an_error_before_allocating() {
    let mut y = embedding(9, 3000, 2, 0.5, true);
    y.row_mut(0).copy_from_slice(&[300.0, -50.0]);
    let mut f = vec![0.0; 6000];
    let err = FftInterpolation::new(FftParams::default())
        .unwrap()
        .with_memory_limit(10_000_000, "allowed by the test")
        .repulsion(&y, StudentT::CAUCHY, &mut f);
    match err {
        Err(tsne_core::Error::MemoryLimit { stage: "FFT grid", needed, allowed: 10_000_000, .. }) => {
            assert!(needed > 10_000_000)
        }
        other => panic!("{other:?}"),
    }
    let ok = FftInterpolation::new(FftParams::default())
        .unwrap()
        .with_memory_limit(u64::MAX, "unbounded")
        .repulsion(&y, StudentT::CAUCHY, &mut f);
    assert!(ok.is_ok_and(|z| z > 0.0));
}
