//! Placing held-out digits into the embedding of the others.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use tsne::{Matrix, MatrixF32, TSne, Transform};

/// Majority label among the `k` nearest reference points of each placed point (ties: the
/// smallest label).
fn classify(reference: &Matrix, labels: &[u8], placed: &Matrix, k: usize) -> Vec<u8> {
    (0..placed.rows())
        .map(|i| {
            let mut d: Vec<(f64, usize)> = (0..reference.rows())
                .map(|j| {
                    let d2 = placed.row(i).iter().zip(reference.row(j)).map(|(a, b)| (a - b) * (a - b)).sum();
                    (d2, j)
                })
                .collect();
            d.sort_by(|a, b| a.0.total_cmp(&b.0));
            let mut votes = [0usize; 10];
            d[..k].iter().for_each(|&(_, j)| votes[labels[j] as usize] += 1);
            (0..10).max_by_key(|&c| (votes[c], std::cmp::Reverse(c))).unwrap() as u8
        })
        .collect()
}

fn accuracy(predicted: &[u8], truth: &[u8]) -> f64 {
    predicted.iter().zip(truth).filter(|(a, b)| a == b).count() as f64 / truth.len() as f64
}

/// Rows to fit (five sixths) and rows to place (every sixth).
fn split(n: usize) -> (Vec<usize>, Vec<usize>) {
    (0..n).partition(|i| i % 6 != 0)
}

/// The digits split by [`split`]: points to fit, points to place, and their labels.
fn held_out_split() -> (Matrix, Matrix, Vec<u8>, Vec<u8>) {
    let (x, labels) = common::digits();
    let (train, test) = split(x.rows());
    let rows = |idx: &[usize]| {
        Matrix::from_rows(&idx.iter().map(|&i| x.row(i).to_vec()).collect::<Vec<_>>()).unwrap()
    };
    let pick = |idx: &[usize]| idx.iter().map(|&i| labels[i]).collect::<Vec<u8>>();
    (rows(&train), rows(&test), pick(&train), pick(&test))
}

#[test]
fn held_out_digits_land_among_their_own_class() {
    let (x, labels) = common::digits();
    let (train, test) = split(x.rows());
    let rows = |idx: &[usize]| {
        Matrix::from_rows(&idx.iter().map(|&i| x.row(i).to_vec()).collect::<Vec<_>>()).unwrap()
    };
    let (x_train, x_test) = (rows(&train), rows(&test));
    let train_labels: Vec<u8> = train.iter().map(|&i| labels[i]).collect();
    let test_labels: Vec<u8> = test.iter().map(|&i| labels[i]).collect();
    // With and without the model's own PCA: new points arrive in the raw 64 columns.
    for pca in [None, Some(20)] {
        let mut builder = TSne::builder().seed(3);
        if let Some(d) = pca {
            builder = builder.pca(d);
        }
        let model = builder.build().unwrap().fit(&x_train).unwrap();
        let reference = model.positions();

        let placed = model.transform(&x_test).unwrap();
        let acc = accuracy(&classify(&reference, &train_labels, &placed, 10), &test_labels);
        // The same classifier on the median starting points: the optimisation must keep (or
        // improve) the start.
        let start =
            model.transform_with(&x_test, &Transform { iterations: 0, ..Transform::default() }).unwrap();
        let start_acc = accuracy(&classify(&reference, &train_labels, &start, 10), &test_labels);
        eprintln!("pca {pca:?}: held-out 10-NN accuracy: placed {acc:.4}, median start {start_acc:.4}");
        assert!(acc >= 0.9, "pca {pca:?}: placed {acc}");
        assert!(acc >= start_acc - 0.01, "pca {pca:?}: placed {acc} vs start {start_acc}");
        assert_ne!(placed, start, "the optimisation moved nothing");
        // prepare_partial + optimize in two pieces is the same computation.
        let mut partial = model.prepare_partial(&x_test, &Transform::default()).unwrap();
        assert_eq!(partial.positions(), &start);
        partial.optimize(&model, &Transform { iterations: 100, ..Transform::default() }.schedule()).unwrap();
        partial.optimize(&model, &Transform { iterations: 150, ..Transform::default() }.schedule()).unwrap();
        assert_eq!(partial.positions(), &placed);
        // The reference does not move.
        assert_eq!(model.positions(), reference);

        // Points are placed independently: one at a time equals the batch, bit for bit, and
        // the result does not depend on the thread count.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        for i in 0..10 {
            let one = rows(&test[i..i + 1]);
            let alone = pool.install(|| model.transform(&one).unwrap());
            assert_eq!(alone.row(0), placed.row(i), "pca {pca:?}: point {i}");
        }
    }
}

#[test]
fn transform_checks_its_input() {
    let (x, _) = common::digits();
    let x = Matrix::new(200, 64, x.as_slice()[..200 * 64].to_vec()).unwrap();
    let model =
        TSne::builder().iterations(20).exaggeration_iterations(10).pca(10).build().unwrap().fit(&x).unwrap();
    let wrong = Matrix::new(1, 10, vec![0.0; 10]).unwrap();
    assert!(matches!(
        model.transform(&wrong),
        Err(tsne::Error::DimensionMismatch { expected: 64, found: 10, .. })
    ));
    let bad = Transform { perplexity: 300.0, ..Transform::default() };
    assert!(matches!(
        model.transform_with(&Matrix::new(1, 64, vec![0.0; 64]).unwrap(), &bad),
        Err(tsne::Error::PerplexityTooLarge { .. })
    ));
    // A model fitted without coordinates cannot place points.
    let p = tsne::backends::affinity::Perplexity::new(5.0).unwrap();
    let graph = tsne::backends::core::NeighborSearch::search(
        &tsne::backends::affinity::BruteForce::default(),
        &x,
        15,
    )
    .unwrap();
    let p = tsne::backends::core::Affinity::affinities(&p, &graph).unwrap();
    let from_p = TSne::builder().perplexity(5.0).iterations(20).build().unwrap().fit(&p).unwrap();
    assert!(matches!(from_p.transform(&x), Err(tsne::Error::Unsupported { .. })));
}

/// Points handed over to the fit (`fit(matrix)`) give the embedding of borrowed points, bit for
/// bit (with and without PCA, and with an initialisation that reads P, which runs after P), as
/// do the same values in single precision (lent: with the same reference points for
/// `transform`), and a model without reference points, which refuses to place new ones.
#[test]
fn handed_over_points_embed_alike_and_leave_no_reference() {
    let (x, _) = common::digits();
    let x = Matrix::new(300, 64, x.as_slice()[..300 * 64].to_vec()).unwrap();
    let quick = || TSne::builder().iterations(60).exaggeration_iterations(20).perplexity(10.0);
    for builder in [quick(), quick().pca(12), quick().init(tsne::Init::Spectral)] {
        let tsne = builder.build().unwrap();
        let borrowed = tsne.fit(&x).unwrap();
        let owned = tsne.fit(x.clone()).unwrap();
        assert_eq!(borrowed.positions().as_slice(), owned.positions().as_slice());
        assert_eq!(borrowed.summary().kl_divergence.to_bits(), owned.summary().kl_divergence.to_bits());
        assert!(borrowed.transform(&x).is_ok());
        assert!(matches!(owned.transform(&x), Err(tsne::Error::Unsupported { .. })));
        // The digits are small integers: in single precision they are the same values.
        // Borrowed, the model keeps the (projected or widened) reference points.
        let single = MatrixF32::new(300, 64, x.as_slice().iter().map(|&v| v as f32).collect()).unwrap();
        let lent = tsne.fit(&single).unwrap();
        assert_eq!(borrowed.positions().as_slice(), lent.positions().as_slice());
        assert_eq!(borrowed.transform(&x).unwrap(), lent.transform(&x).unwrap());
        let single = tsne.fit(single).unwrap();
        assert_eq!(borrowed.positions().as_slice(), single.positions().as_slice());
        assert_eq!(single.summary().dims_in, 64);
        assert!(matches!(single.transform(&x), Err(tsne::Error::Unsupported { .. })));
    }
}

/// Every start of new points (openTSNE's `initialization` of `prepare_partial`): the weighted
/// mean and the median put held-out digits among their own class; the random start is tiny
/// noise that depends on its seed only; and a model given reference points with
/// `with_reference` after a fit from P places points like the model fitted on the points.
#[test]
fn placement_starts_and_reference_points_given_after_the_fit() {
    use tsne::{Input, Metric, PlacementStart};
    let (x_train, x_test, train_labels, test_labels) = held_out_split();
    let tsne = TSne::builder().seed(5).iterations(300).build().unwrap();
    let model = tsne.fit(&x_train).unwrap();
    let reference = model.positions();
    let start = |start| Transform { iterations: 0, start, ..Transform::default() };
    for s in [PlacementStart::Median, PlacementStart::WeightedMean] {
        let y = model.transform_with(&x_test, &start(s)).unwrap();
        let acc = accuracy(&classify(&reference, &train_labels, &y, 10), &test_labels);
        assert!(acc >= 0.9, "{s:?}: {acc}");
    }
    let noise = model.transform_with(&x_test, &start(PlacementStart::Random { seed: 9 })).unwrap();
    assert!(noise.as_slice().iter().all(|v| v.abs() < 1e-3) && noise.as_slice().iter().any(|&v| v != 0.0));
    assert_eq!(noise, model.transform_with(&x_test, &start(PlacementStart::Random { seed: 9 })).unwrap());
    assert_ne!(noise, model.transform_with(&x_test, &start(PlacementStart::Random { seed: 10 })).unwrap());

    // P computed alone, then a fit from it with the same start, given its points afterwards.
    let p = tsne.affinity_matrix(&x_train).unwrap();
    let init = tsne::Init::Given(reference.clone());
    let from_p = TSne::builder().seed(5).iterations(0).init(init).build().unwrap();
    let rebuilt = from_p.fit(Input::Affinities(&p)).unwrap();
    assert!(rebuilt.transform(&x_test).is_err(), "no reference points yet");
    let rebuilt = rebuilt.with_reference(x_train.clone(), Metric::Euclidean).unwrap();
    assert_eq!(rebuilt.positions(), reference);
    assert_eq!(rebuilt.transform(&x_test).unwrap(), model.transform(&x_test).unwrap());
    assert!(rebuilt.clone().with_reference(x_test.clone(), Metric::Euclidean).is_err());
}

/// New points repelled through the reference's FFT grid land where the exact repulsion (a
/// tree at theta 0) puts them, and the grid's boundary keeps a point started far outside on
/// the disc the grid covers.
#[test]
fn grid_placement_follows_the_exact_one_and_stays_on_the_grid() {
    use tsne::{FftParams, GridBoundary, PlacementRepulsion, Schedule};
    let (x_train, x_test, train_labels, test_labels) = held_out_split();
    let model = TSne::builder().seed(5).build().unwrap().fit(&x_train).unwrap();
    let exact = Transform { repulsion: PlacementRepulsion::BarnesHut { theta: 0.0 }, ..Transform::default() };
    let grid = |boundary| Transform {
        repulsion: PlacementRepulsion::Fft { grid: FftParams::default(), padding: 0.25, boundary },
        ..Transform::default()
    };
    let by_exact = model.transform_with(&x_test, &exact).unwrap();
    let by_grid = model.transform_with(&x_test, &grid(GridBoundary::Stop)).unwrap();
    let by_tree = model.transform(&x_test).unwrap();
    // Median distance from the exact placement: the grid's approximation against the
    // default tree's (theta 0.5).
    let off = |placed: &Matrix| {
        let mut d: Vec<f64> = (0..by_exact.rows())
            .map(|i| {
                by_exact.row(i).iter().zip(placed.row(i)).map(|(a, b)| (a - b) * (a - b)).sum::<f64>().sqrt()
            })
            .collect();
        d.sort_by(f64::total_cmp);
        d[d.len() / 2]
    };
    let (grid_off, tree_off) = (off(&by_grid), off(&by_tree));
    eprintln!("median distance from the exact placement: grid {grid_off:.5}, tree {tree_off:.5}");
    assert!(grid_off <= 2.0 * tree_off + 1e-3, "grid {grid_off} vs tree {tree_off}");
    let reference = model.positions();
    let acc = accuracy(&classify(&reference, &train_labels, &by_grid, 10), &test_labels);
    assert!(acc >= 0.9, "grid placement accuracy {acc}");

    // A point started far outside the grid is brought onto its disc and stays there.
    for boundary in [GridBoundary::Stop, GridBoundary::OpenTsne] {
        let mut partial = model.prepare_partial(&x_test, &grid(boundary)).unwrap();
        let mut start = partial.positions().clone();
        start.as_mut_slice()[0] = 1e3;
        partial.set_positions(start).unwrap();
        let schedule = Schedule { iterations: 3, ..grid(boundary).schedule() };
        partial.optimize(&model, &schedule).unwrap();
        let (lo, hi) = (0..reference.rows()).fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), i| {
            (
                l.min(reference.row(i)[0].min(reference.row(i)[1])),
                h.max(reference.row(i)[0].max(reference.row(i)[1])),
            )
        });
        let p = partial.positions().row(0);
        assert!(
            p.iter().all(|v| v.is_finite() && *v > lo - 0.5 * (hi - lo) && *v < hi + 0.5 * (hi - lo)),
            "{p:?}"
        );
        let (gains, update) = partial.optimizer_state().unwrap();
        match boundary {
            // The clipped point stopped; the others move on.
            GridBoundary::Stop => assert!(update.row(0).iter().all(|&u| u == 0.0)),
            // openTSNE 1.0.4 zeroes the gains of the points that stayed inside instead.
            GridBoundary::OpenTsne => {
                assert!((1..gains.rows()).all(|i| gains.row(i).iter().all(|&g| g == 0.0)))
            }
        }
    }
}
