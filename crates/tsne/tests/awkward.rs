//! Awkward data users actually have: each case ends in a finite embedding or a typed error,
//! never a panic or a NaN. The README's table "What happens with awkward input" lists these
//! tests by name.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use tsne::backends::affinity::{BruteForce, Perplexity};
use tsne::backends::core::{Affinity, NeighborSearch};
use tsne::{Error, Init, Input, KnnGraph, Matrix, RepulsionMethod, TSne, TSneBuilder};

fn quick() -> TSneBuilder {
    TSne::builder().iterations(300).seed(1)
}

fn finite(y: &Matrix) -> bool {
    y.as_slice().iter().all(|v| v.is_finite())
}

/// `n` points on a noisy curve in 5-D.
fn curve(n: usize) -> Matrix {
    Matrix::new(
        n,
        5,
        (0..n * 5).map(|t| ((t / 5) as f64 * 0.3 + (t % 5) as f64).sin() + 0.01 * (t % 7) as f64).collect(),
    )
    .unwrap()
}

#[test]
fn tiny_inputs_with_the_default_perplexity_are_errors_that_name_the_fix() {
    assert_eq!(quick().build().unwrap().fit(curve(1)).unwrap_err(), Error::TooFewPoints { n: 1, min: 2 });
    for n in [2, 3, 4, 5, 10] {
        match quick().build().unwrap().fit(curve(n)) {
            Err(e @ Error::PerplexityTooLarge { .. }) => assert!(e.to_string().contains("must be below")),
            other => panic!("n = {n}: {other:?}"),
        }
    }
}

#[test]
fn tiny_inputs_with_a_small_perplexity_embed() {
    for (n, perplexity) in [(3, 1.0), (4, 2.0), (5, 2.0), (10, 3.0)] {
        let y = quick().perplexity(perplexity).build().unwrap().fit(curve(n)).unwrap().positions();
        assert!(finite(&y) && y.rows() == n, "n = {n}");
    }
}

#[test]
fn wide_data_takes_the_gram_pca() {
    // 60 points in 5000 dimensions (more columns than rows), two groups.
    let x = Matrix::new(
        60,
        5000,
        (0..300_000usize).map(|t| ((t * 7919 % 10007) as f64).sin() + (t / 5000 % 2) as f64).collect(),
    )
    .unwrap();
    let y = quick().perplexity(10.0).build().unwrap().fit(&x).unwrap().positions();
    assert!(finite(&y));
    let y = quick().perplexity(10.0).pca(20).build().unwrap().fit(&x).unwrap().positions();
    assert!(finite(&y));
}

#[test]
fn identical_rows_and_an_all_zero_matrix_are_errors() {
    let same = Matrix::new(50, 3, [1.0, 2.0, 3.0].repeat(50)).unwrap();
    assert!(matches!(
        quick().perplexity(5.0).build().unwrap().fit(&same),
        Err(Error::IdenticalPoints { .. })
    ));
    let zero = Matrix::zeros(50, 3);
    assert!(matches!(
        quick().perplexity(5.0).build().unwrap().fit(&zero),
        Err(Error::IdenticalPoints { .. })
    ));
}

#[test]
fn a_constant_column_is_harmless() {
    let mut x = curve(200).into_vec();
    x.iter_mut().step_by(5).for_each(|v| *v = 7.0);
    let y =
        quick().perplexity(10.0).build().unwrap().fit(Matrix::new(200, 5, x).unwrap()).unwrap().positions();
    assert!(finite(&y));
}

#[test]
fn ninety_percent_duplicate_rows_embed() {
    let distinct = curve(60);
    let rows: Vec<Vec<f64>> =
        (0..600).map(|i| distinct.row(if i % 10 == 0 { i / 10 } else { 0 }).to_vec()).collect();
    let x = Matrix::from_rows(&rows).unwrap();
    for method in [RepulsionMethod::Exact, RepulsionMethod::barnes_hut(), RepulsionMethod::fft()] {
        let y =
            quick().perplexity(10.0).repulsion(method.clone()).build().unwrap().fit(&x).unwrap().positions();
        assert!(finite(&y), "{method:?}");
    }
}

#[test]
fn a_far_outlier_embeds_with_every_backend() {
    let (digits, _) = common::digits();
    let mut x = Matrix::new(600, 64, digits.as_slice()[..600 * 64].to_vec()).unwrap().into_vec();
    x[..64].iter_mut().for_each(|v| *v += 1e6);
    let x = Matrix::new(600, 64, x).unwrap();
    for method in
        [RepulsionMethod::Auto, RepulsionMethod::Exact, RepulsionMethod::barnes_hut(), RepulsionMethod::fft()]
    {
        let fit = quick().repulsion(method.clone()).build().unwrap().fit(&x).unwrap();
        assert!(finite(&fit.positions()) && fit.summary().kl_divergence.is_finite(), "{method:?}");
    }
}

#[test]
fn extreme_magnitudes_embed_alike() {
    let x = curve(300);
    let base = quick().perplexity(10.0).build().unwrap().fit(&x).unwrap().positions();
    for scale in [1e30, 1e-30] {
        let scaled = Matrix::new(300, 5, x.as_slice().iter().map(|v| v * scale).collect()).unwrap();
        let y = quick().perplexity(10.0).build().unwrap().fit(&scaled).unwrap().positions();
        assert!(finite(&y), "scale {scale}");
        // Affinities depend on distances relative to each other only: the same neighbours.
        let acc = tsne::metrics::trustworthiness(&base, &y, 10).unwrap();
        assert!(acc > 0.95, "scale {scale}: trustworthiness against the unscaled embedding {acc}");
    }
}

#[test]
fn too_many_neighbours_is_an_error() {
    let x = curve(20);
    assert_eq!(BruteForce::default().search(&x, 20).unwrap_err(), Error::TooManyNeighbors { k: 20, n: 20 });
    assert!(matches!(
        KnnGraph::new(3, 3, [1u32, 2, 0].repeat(3), vec![1.0; 9]),
        Err(Error::TooManyNeighbors { .. })
    ));
    assert!(matches!(KnnGraph::new(3, 0, vec![], vec![]), Err(Error::InvalidGraph { .. })));
}

#[test]
fn a_disconnected_graph_embeds_from_the_spectral_start() {
    // Two clusters with no neighbour edge between them.
    let rows: Vec<Vec<f64>> =
        (0..200).map(|i| vec![(i / 100) as f64 * 1e3 + (i % 100) as f64 * 0.01, (i as f64).sin()]).collect();
    let x = Matrix::from_rows(&rows).unwrap();
    let graph = BruteForce::default().search(&x, 15).unwrap();
    let fit = quick().perplexity(5.0).build().unwrap().fit(&graph).unwrap();
    assert!(finite(&fit.positions()));
    // A graph handed over (dropped once P is built) embeds to the same bits as a borrowed one.
    let owned = quick().perplexity(5.0).build().unwrap().fit(graph.clone()).unwrap();
    assert_eq!(owned.positions(), fit.positions());
    assert_eq!(owned.summary().neighbors, "precomputed");
    let p = Perplexity::new(5.0).unwrap().affinities(&graph).unwrap();
    assert!(finite(&quick().build().unwrap().fit(&p).unwrap().positions()));
}

#[test]
fn a_graph_with_too_few_neighbours_for_the_perplexity_is_an_error() {
    let graph = BruteForce::default().search(&curve(100), 5).unwrap();
    assert!(matches!(
        quick().build().unwrap().fit(&graph),
        Err(Error::PerplexityTooLarge { neighbors: 5, .. })
    ));
}

#[test]
fn non_finite_values_are_errors_that_name_row_and_column() {
    let mut x = curve(10).into_vec();
    x[3 * 5 + 2] = f64::NAN;
    assert_eq!(
        Matrix::new(10, 5, x.clone()).unwrap_err().to_string(),
        "non-finite value NaN at row 3, column 2"
    );
    x[3 * 5 + 2] = f64::INFINITY;
    assert!(matches!(Matrix::new(10, 5, x).unwrap_err(), Error::NonFinite { row: 3, col: 2, .. }));
    // Distances and P: a negative or non-finite entry is named by row and column.
    let mut d = vec![0.0; 9];
    d[1] = -1.0;
    d[3] = -1.0;
    let d = Matrix::new(3, 3, d).unwrap();
    let err = quick().perplexity(1.0).build().unwrap().fit(Input::Distances(&d)).unwrap_err();
    assert!(err.to_string().contains("(0, 1)"), "{err}");
    let p = tsne::CsrMatrix::new(2, vec![0, 1, 2], vec![1, 0], vec![f32::NAN, 0.5]);
    assert!(p.unwrap_err().to_string().contains("row 0, column 1"));
}

#[test]
fn a_given_start_of_the_wrong_shape_is_an_error() {
    let x = curve(50);
    let err =
        quick().perplexity(5.0).init(Init::Given(Matrix::zeros(49, 2))).build().unwrap().fit(&x).unwrap_err();
    assert!(matches!(err, Error::DimensionMismatch { expected: 50, found: 49, .. }), "{err}");
    let err =
        quick().perplexity(5.0).init(Init::Given(Matrix::zeros(50, 3))).build().unwrap().fit(&x).unwrap_err();
    assert!(matches!(err, Error::DimensionMismatch { expected: 2, found: 3, .. }), "{err}");
}

#[test]
fn exact_duplicate_pairs_embed_deterministically() {
    let rows: Vec<Vec<f64>> = (0..300).map(|i| curve(150).row(i / 2).to_vec()).collect();
    let x = Matrix::from_rows(&rows).unwrap();
    let a = quick().perplexity(10.0).build().unwrap().fit(&x).unwrap().positions();
    let b = quick().perplexity(10.0).threads(1).build().unwrap().fit(&x).unwrap().positions();
    assert!(finite(&a));
    assert_eq!(a, b);
}

#[test]
fn the_memory_guard_stops_impossible_requests_before_allocating() {
    use std::time::Instant;
    // The dense all-pairs graph of 20,000 points under a 100 MB limit.
    let x = Matrix::new(20_000, 2, (0..40_000).map(|t| (t as f64 * 0.37).sin()).collect()).unwrap();
    let start = Instant::now();
    let err = quick()
        .neighbors(tsne::NeighborMethod::Dense)
        .max_memory(100_000_000)
        .build()
        .unwrap()
        .fit(&x)
        .unwrap_err();
    assert!(start.elapsed().as_secs_f64() < 1.0, "the guard came late");
    let text = err.to_string();
    assert!(matches!(err, Error::MemoryLimit { .. }), "{text}");
    assert!(text.contains("dense all-pairs") && text.contains("`NeighborMethod::Exact`"), "{text}");
    // The dense SNE-family path for 200,000 points needs terabytes: more than any machine here.
    let x = Matrix::new(200_000, 2, (0..400_000).map(|t| (t as f64 * 0.37).sin()).collect()).unwrap();
    let err = quick().method(tsne::Method::ssne()).build().unwrap().fit(&x).unwrap_err();
    assert!(matches!(err, Error::MemoryLimit { stage: "dense SNE-family path", .. }), "{err}");
    assert!(tsne::TSne::builder().max_memory(0).build().is_err());
}

#[test]
fn auto_repulsion_survives_an_embedding_too_wide_for_the_fft_grid() {
    // Enough points for auto to choose FFT, starting with one point 100,000 units away: the FFT
    // grid cannot span that, so auto runs those iterations on Barnes-Hut; explicit FFT says so.
    let n = RepulsionMethod::AUTO_FFT_FROM;
    let x = Matrix::new(
        n,
        3,
        (0..3 * n).map(|t| ((t * 7919 % 10007) as f64 * 0.01).sin() + (t / 3 % 4) as f64).collect(),
    )
    .unwrap();
    let mut start: Vec<f64> = (0..2 * n).map(|t| 1e-4 * ((t * 31 % 97) as f64 - 48.0)).collect();
    start[0] = 1e5;
    let start = Matrix::new(n, 2, start).unwrap();
    let builder = || {
        quick().iterations(20).exaggeration_iterations(10).perplexity(10.0).init(Init::Given(start.clone()))
    };
    let fit = builder().build().unwrap().fit(&x).unwrap();
    assert!(finite(&fit.positions()));
    assert_eq!(fit.summary().repulsion, "fft+bh");
    let err = builder().repulsion(RepulsionMethod::fft()).build().unwrap().fit(&x).unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err}");
}
