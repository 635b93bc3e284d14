//! Every preset's assembled gradient against finite differences of its cost, the limits that
//! relate the members, and t-SNE through the master equation against `tsne-core`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tsne_core::{gradient, CsrMatrix, Matrix, Repulsion, StudentT};
use tsne_family::{InputKind, Method, Objective};
use tsne_repulsion::Exact;

/// A random dense input of the kind `method` needs, for `n` points.
fn input(method: Method, n: usize, rng: &mut impl Rng) -> Vec<f64> {
    match method.input_kind() {
        InputKind::ConditionalP => {
            let mut p = vec![0.0; n * n];
            for i in 0..n {
                let row: Vec<f64> =
                    (0..n).map(|j| if i == j { 0.0 } else { rng.gen_range(0.05..1.0) }).collect();
                let s: f64 = row.iter().sum();
                for j in 0..n {
                    p[i * n + j] = row[j] / s;
                }
            }
            p
        }
        InputKind::JointP => {
            let mut p = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..i {
                    let v = rng.gen_range(0.05..1.0);
                    p[i * n + j] = v;
                    p[j * n + i] = v;
                }
            }
            let s: f64 = p.iter().sum();
            p.iter_mut().for_each(|v| *v /= s);
            p
        }
        InputKind::Distances => {
            let x: Vec<f64> = (0..n * 4).map(|_| rng.gen_range(-2.0..2.0)).collect();
            let mut r = vec![0.0; n * n];
            for i in 0..n {
                for j in 0..n {
                    r[i * n + j] = (0..4).map(|t| (x[i * 4 + t] - x[j * 4 + t]).powi(2)).sum::<f64>().sqrt();
                }
            }
            r
        }
    }
}

fn preset_strategy() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::asne()),
        Just(Method::ssne()),
        Just(Method::tsne()),
        (0.1f64..2.0).prop_map(Method::hssne),
        (0.0f64..=1.0).prop_map(Method::nerv),
        (0.05f64..0.95).prop_map(Method::jse),
        Just(Method::mds()),
        Just(Method::sstress()),
        Just(Method::sammon()),
    ]
}

fn cost(obj: &mut Objective, y: &Matrix) -> f64 {
    let mut g = vec![0.0; y.as_slice().len()];
    obj.cost_and_gradient(y, 1.0, &mut g).unwrap()
}

proptest! {
    // A fixed seed: every run, CI included, checks the same cases (plus the saved regressions).
    #![proptest_config(ProptestConfig { rng_seed: proptest::test_runner::RngSeed::Fixed(96), ..ProptestConfig::with_cases(96) })]
    #[test]
    fn every_preset_matches_finite_differences(method in preset_strategy(), seed in 0u64..100_000, n in 3usize..10, dims in 1usize..4) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut obj = Objective::new(method, n, input(method, n, &mut rng)).unwrap();
        let y = Matrix::new(n, dims, (0..n * dims).map(|_| rng.gen_range(-1.5..1.5)).collect()).unwrap();
        let mut analytic = vec![0.0; n * dims];
        obj.cost_and_gradient(&y, 1.0, &mut analytic).unwrap();
        let h = 1e-6;
        let numeric: Vec<f64> = (0..n * dims).map(|t| {
            let (mut a, mut b) = (y.clone(), y.clone());
            a.as_mut_slice()[t] += h;
            b.as_mut_slice()[t] -= h;
            (cost(&mut obj, &a) - cost(&mut obj, &b)) / (2.0 * h)
        }).collect();
        let diff = analytic.iter().zip(&numeric).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
        let norm = analytic.iter().map(|a| a * a).sum::<f64>().sqrt();
        prop_assert!(diff <= 1e-5 * norm.max(1e-12), "{:?}: relative error {:e}", method, diff / norm);
    }
}

/// Cost and gradient of `method` on a fixed random problem.
fn evaluate(method: Method, p_method: Method, seed: u64) -> (f64, Vec<f64>) {
    let n = 8;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let p = input(p_method, n, &mut rng);
    // A compact embedding keeps every q_ij within a few orders of p_ij, where the JSE limits
    // converge at the rate of kappa rather than of kappa * max(p / q).
    let y = Matrix::new(n, 2, (0..n * 2).map(|_| rng.gen_range(-0.5..0.5)).collect()).unwrap();
    let mut obj = Objective::new(method, n, p).unwrap();
    let mut g = vec![0.0; n * 2];
    let c = obj.cost_and_gradient(&y, 1.0, &mut g).unwrap();
    (c, g)
}

fn rel(a: &[f64], b: &[f64]) -> f64 {
    let d = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    d / b.iter().map(|x| x * x).sum::<f64>().sqrt()
}

#[test]
fn limits_between_members() {
    for seed in 0..5 {
        let ssne = evaluate(Method::ssne(), Method::ssne(), seed);
        let tsne = evaluate(Method::tsne(), Method::ssne(), seed);
        // HSSNE: alpha = 1 is t-SNE, alpha -> 0 approaches SSNE.
        let h1 = evaluate(Method::hssne(1.0), Method::ssne(), seed);
        assert!(rel(&h1.1, &tsne.1) < 1e-14 && (h1.0 - tsne.0).abs() < 1e-14);
        let h0 = evaluate(Method::hssne(1e-7), Method::ssne(), seed);
        assert!(rel(&h0.1, &ssne.1) < 1e-5, "{}", rel(&h0.1, &ssne.1));
        // NeRV with lambda = 1 is SSNE's KL; lambda = 0 is the reverse KL.
        let n1 = evaluate(Method::nerv(1.0), Method::ssne(), seed);
        assert!(rel(&n1.1, &ssne.1) < 1e-14 && (n1.0 - ssne.0).abs() < 1e-14);
        let reverse = evaluate(Method::nerv(0.0), Method::ssne(), seed);
        // JSE: kappa -> 0 approaches KL(P||Q), kappa -> 1 approaches KL(Q||P).
        let j0 = evaluate(Method::jse(1e-8), Method::ssne(), seed);
        assert!(
            rel(&j0.1, &ssne.1) < 1e-4 && (j0.0 - ssne.0).abs() < 1e-4 * ssne.0,
            "{} {} {}",
            rel(&j0.1, &ssne.1),
            j0.0,
            ssne.0
        );
        let j1 = evaluate(Method::jse(1.0 - 1e-8), Method::ssne(), seed);
        assert!(
            rel(&j1.1, &reverse.1) < 1e-4 && (j1.0 - reverse.0).abs() < 1e-4 * reverse.0,
            "{} {} {}",
            rel(&j1.1, &reverse.1),
            j1.0,
            reverse.0
        );
    }
}

#[test]
fn tsne_preset_equals_the_specialised_gradient() {
    let n = 12;
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let p = input(Method::tsne(), n, &mut rng);
    let y = Matrix::new(n, 2, (0..n * 2).map(|_| rng.gen_range(-3.0..3.0)).collect()).unwrap();
    let mut obj = Objective::new(Method::tsne(), n, p.clone()).unwrap();
    let mut master = vec![0.0; n * 2];
    let kl = obj.cost_and_gradient(&y, 1.0, &mut master).unwrap();
    let csr = CsrMatrix::from_rows(
        (0..n).map(|i| (0..n).filter(|&j| j != i).map(|j| (j as u32, p[i * n + j])).collect()).collect(),
    )
    .unwrap();
    let (mut attr, mut rep) = (vec![0.0; n * 2], vec![0.0; n * 2]);
    gradient::attractive_forces(&csr, &y, StudentT::CAUCHY, &mut attr);
    let z = Exact::new().repulsion(&y, StudentT::CAUCHY, &mut rep).unwrap();
    let core: Vec<f64> = attr.iter().zip(&rep).map(|(a, r)| 4.0 * (a - r / z)).collect();
    // The sparse path stores P in f32 and sums the attraction in f32 lanes: agreement to f32
    // rounding, where a wrong term or sign would be off by far more.
    assert!(rel(&master, &core) < 1e-6, "{}", rel(&master, &core));
    assert!((kl - gradient::kl_divergence(&csr, &y, StudentT::CAUCHY, z)).abs() < 1e-6 * kl);
}

#[test]
fn bad_parameters_are_errors() {
    assert!(Objective::new(Method::jse(1.0), 2, vec![0.0, 0.5, 0.5, 0.0]).is_err());
    assert!(Objective::new(Method::nerv(1.5), 2, vec![0.0, 0.5, 0.5, 0.0]).is_err());
    assert!(Objective::new(Method::hssne(0.0), 2, vec![0.0, 0.5, 0.5, 0.0]).is_err());
    assert!(Objective::new(Method::ssne(), 2, vec![0.0, f64::NAN, 0.5, 0.0]).is_err());
    assert!(Objective::new(Method::ssne(), 3, vec![0.0; 4]).is_err());
}
