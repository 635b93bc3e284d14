//! Placing held-out digits into the embedding of the others.

mod common;

use tsne::{Matrix, TSne, Transform};

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

#[test]
fn held_out_digits_land_among_their_own_class() {
    let (x, labels) = common::digits();
    let (train, test): (Vec<usize>, Vec<usize>) = (0..x.rows()).partition(|i| i % 6 != 0);
    let rows = |idx: &[usize]| {
        Matrix::from_rows(&idx.iter().map(|&i| x.row(i).to_vec()).collect::<Vec<_>>()).unwrap()
    };
    let (x_train, x_test) = (rows(&train), rows(&test));
    let train_labels: Vec<u8> = train.iter().map(|&i| labels[i]).collect();
    let test_labels: Vec<u8> = test.iter().map(|&i| labels[i]).collect();
    let fit = TSne::builder().seed(3).build().unwrap().fit(&x_train).unwrap();

    let placed = Transform::default().place(&x_train, &fit.embedding, &x_test).unwrap();
    let predicted = classify(&fit.embedding, &train_labels, &placed, 10);
    let accuracy =
        predicted.iter().zip(&test_labels).filter(|(a, b)| a == b).count() as f64 / test.len() as f64;
    // The same classifier on the median starting points, and in the input space: the
    // optimisation must keep (or improve) the start and come close to the input-space bound.
    let start =
        Transform { iterations: 0, ..Transform::default() }.place(&x_train, &fit.embedding, &x_test).unwrap();
    let start_predicted = classify(&fit.embedding, &train_labels, &start, 10);
    let start_accuracy =
        start_predicted.iter().zip(&test_labels).filter(|(a, b)| a == b).count() as f64 / test.len() as f64;
    eprintln!("held-out 10-NN accuracy: placed {accuracy:.4}, median start {start_accuracy:.4}");
    assert!(accuracy >= 0.95, "placed: {accuracy}");
    assert!(accuracy >= start_accuracy - 0.01, "placed {accuracy} vs start {start_accuracy}");

    // Points are placed independently: placing a subset gives the same positions, and the
    // result does not depend on the thread count.
    let subset = rows(&test[..20]);
    let alone = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap()
        .install(|| Transform::default().place(&x_train, &fit.embedding, &subset).unwrap());
    for i in 0..20 {
        assert_eq!(alone.row(i), placed.row(i));
    }
}
