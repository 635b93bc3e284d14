//! Precomputed inputs: a distance matrix, a neighbour graph and joint affinities give the same
//! embedding as the points they were computed from, and the metrics reach their neighbours.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use tsne::backends::affinity::{BruteForce, Perplexity};
use tsne::backends::core::{Affinity, NeighborSearch};
use tsne::{metrics::knn_accuracy, Init, Input, Matrix, Metric, TSne, TSneBuilder};

fn subset(rows: usize) -> (Matrix, Vec<u8>) {
    let (x, labels) = common::digits();
    let m = Matrix::new(rows, x.cols(), x.as_slice()[..rows * x.cols()].to_vec()).unwrap();
    (m, labels[..rows].to_vec())
}

fn builder() -> TSneBuilder {
    TSne::builder().seed(4).iterations(300).perplexity(10.0)
}

#[test]
fn distances_graph_and_affinities_give_the_points_embedding() {
    let (x, labels) = subset(500);
    let n = x.rows();
    let from_points = builder().init(Init::Spectral).build().unwrap().fit(&x).unwrap();
    assert_eq!(from_points.summary().init, "spectral");

    let d = Matrix::new(
        n,
        n,
        (0..n * n).map(|t| Metric::Euclidean.distance(x.row(t / n), x.row(t % n))).collect(),
    )
    .unwrap();
    // The default PCA start needs coordinates; without them it falls back to spectral.
    let from_distances = builder().build().unwrap().fit(Input::Distances(&d)).unwrap();
    assert_eq!(from_distances.summary().init, "spectral");
    assert_eq!(from_distances.summary().neighbors, "precomputed");

    let graph = BruteForce::default().search(&x, 30).unwrap();
    let from_graph = builder().build().unwrap().fit(&graph).unwrap();

    let p = Perplexity::new(10.0).unwrap().affinities(&graph).unwrap();
    let from_p = builder().build().unwrap().fit(&p).unwrap();

    for (name, fit) in [("distances", &from_distances), ("graph", &from_graph), ("affinities", &from_p)] {
        let diff = fit
            .positions()
            .as_slice()
            .iter()
            .zip(from_points.positions().as_slice())
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        assert!(diff < 1e-9, "{name}: differs from the points' embedding by {diff}");
    }
    let acc = knn_accuracy(&from_points.positions(), &labels, 10).unwrap();
    assert!(acc > 0.9, "10-NN accuracy {acc}");
}

#[test]
fn an_initialiser_that_needs_points_is_refused_on_a_graph() {
    // A user initialiser that needs points fails with a typed error on a graph input.
    let (x, _) = subset(200);
    let graph = BruteForce::default().search(&x, 30).unwrap();
    let err =
        builder().initializer(tsne::backends::init::Pca::default()).build().unwrap().fit(&graph).unwrap_err();
    assert!(matches!(err, tsne::Error::Unsupported { .. }), "{err}");
}

#[test]
fn cosine_and_manhattan_metrics_embed_the_digits() {
    let (x, labels) = subset(800);
    for metric in [Metric::Cosine, Metric::Manhattan] {
        let fit = builder().metric(metric).build().unwrap().fit(&x).unwrap();
        let acc = knn_accuracy(&fit.positions(), &labels, 10).unwrap();
        assert!(acc > 0.9, "{metric:?}: 10-NN accuracy {acc}");
    }
}

/// The digits stored sparsely (about half of their values are zero) embed to the bits of the
/// same values stored densely, under both metrics of the sparse search, and what the sparse
/// input cannot do is an error.
#[test]
fn sparse_points_give_the_dense_embedding_bit_for_bit() {
    use tsne::{NeighborMethod, SparsePoints};
    let (x, _) = subset(400);
    let (mut offsets, mut columns, mut values) = (vec![0], Vec::new(), Vec::new());
    for i in 0..x.rows() {
        for (c, &v) in x.row(i).iter().enumerate() {
            if v != 0.0 {
                columns.push(c as u32);
                values.push(v);
            }
        }
        offsets.push(columns.len());
    }
    assert!(values.len() < x.rows() * x.cols() * 3 / 4, "the digits are not sparse enough to test");
    let sparse = SparsePoints::new(x.rows(), x.cols(), offsets, columns, values).unwrap();
    for metric in [Metric::Euclidean, Metric::Cosine] {
        for init in [Init::Random, Init::Spectral] {
            let tsne = builder().metric(metric).init(init.clone()).build().unwrap();
            let dense = tsne.fit(&x).unwrap();
            let from_sparse = tsne.fit(&sparse).unwrap();
            assert_eq!(from_sparse.positions(), dense.positions(), "{metric:?} {init:?}");
            assert_eq!(from_sparse.summary().dims_in, 64);
        }
    }
    // The PCA start has no dense coordinates to read: it falls back to the spectral one.
    let default = builder().build().unwrap().fit(&sparse).unwrap();
    assert_eq!(default.summary().init, "spectral");
    assert!(builder().pca(10).build().unwrap().fit(&sparse).is_err());
    assert!(builder().metric(Metric::Manhattan).build().unwrap().fit(&sparse).is_err());
    let nnd = builder().neighbors(NeighborMethod::NnDescent(Default::default())).build().unwrap();
    assert!(nnd.fit(&sparse).is_err());
}

/// New points given by their distances to the reference points are placed where the same
/// points are placed by coordinates (openTSNE's `transform` after a precomputed fit), with
/// the same affinities; a distance row of the wrong length or a negative distance is an error.
#[test]
fn new_points_by_their_distances_land_where_their_coordinates_put_them() {
    use tsne::Transform;
    let (x, _) = subset(560);
    let rows = |r: std::ops::Range<usize>| {
        Matrix::from_rows(&r.map(|i| x.row(i).to_vec()).collect::<Vec<_>>()).unwrap()
    };
    let (train, test) = (rows(0..500), rows(500..560));
    let cross = |a: &Matrix, b: &Matrix| {
        let (m, n) = (a.rows(), b.rows());
        Matrix::new(
            m,
            n,
            (0..m * n).map(|t| Metric::Euclidean.distance(a.row(t / n), b.row(t % n))).collect(),
        )
        .unwrap()
    };
    let tsne = builder().init(Init::Spectral).build().unwrap();
    let by_points = tsne.fit(&train).unwrap();
    let by_distances = tsne.fit(Input::Distances(&cross(&train, &train))).unwrap();
    let settings = Transform::default();
    let d_test = cross(&test, &train);
    let a = by_points.prepare_partial(&test, &settings).unwrap();
    let b = by_distances.prepare_partial_from_distances(&d_test, &settings).unwrap();
    assert_eq!(a.affinities(), b.affinities());
    let placed = by_distances.transform_distances(&d_test, &settings).unwrap();
    let want = by_points.transform(&test).unwrap();
    let diff = placed.as_slice().iter().zip(want.as_slice()).map(|(p, q)| (p - q).abs()).fold(0.0, f64::max);
    assert!(diff < 1e-6, "placed {diff} away from the points' placement");
    assert!(by_distances.transform_distances(&cross(&test, &test), &settings).is_err());
    let mut negative = d_test.clone();
    negative.row_mut(3)[7] = -1.0;
    assert!(by_distances.transform_distances(&negative, &settings).is_err());
}

/// A non-symmetric P is refused unless asked for; asked for, a symmetric P gives the joint
/// path's bits, a conditional P embeds its classes, and other inputs are an error.
#[test]
fn asymmetric_affinities_only_when_asked_for() {
    use tsne::CsrMatrix;
    let (x, labels) = subset(400);
    let graph = BruteForce::default().search(&x, 30).unwrap();
    // Conditional P: each row calibrated alone (rows sum to one), not symmetrised.
    let joint = Perplexity::new(10.0).unwrap().affinities(&graph).unwrap();
    let conditional = CsrMatrix::from_rows(
        (0..graph.n())
            .map(|i| {
                let (idx, d) = (graph.neighbors(i), graph.distances(i));
                let w: Vec<f64> = d.iter().map(|&e| (-(e * e - d[0] * d[0]) / 50.0).exp()).collect();
                let s: f64 = w.iter().sum();
                idx.iter().zip(w).map(|(&j, w)| (j, w / s)).collect()
            })
            .collect(),
    )
    .unwrap();
    assert!(!conditional.is_symmetric(1e-6));
    let refused = builder().init(Init::Spectral).build().unwrap().fit(Input::Affinities(&conditional));
    assert!(refused.is_err());
    let lenient = || builder().init(Init::Spectral).asymmetric_affinities(true).build().unwrap();
    let given = lenient().fit(Input::Affinities(&conditional)).unwrap();
    let acc = knn_accuracy(&given.positions(), &labels, 10).unwrap();
    assert!(acc > 0.9, "conditional P: 10-NN accuracy {acc}");
    let symmetrised = builder().init(Init::Spectral).build().unwrap();
    let sym = symmetrised.fit(Input::Affinities(&conditional.symmetrize())).unwrap();
    assert_ne!(given.positions(), sym.positions(), "the rows were symmetrised anyway");
    let strict = builder().init(Init::Spectral).build().unwrap().fit(Input::Affinities(&joint)).unwrap();
    let loose = lenient().fit(Input::Affinities(&joint)).unwrap();
    assert_eq!(strict.positions(), loose.positions());
    assert!(lenient().fit(&x).is_err());
}
