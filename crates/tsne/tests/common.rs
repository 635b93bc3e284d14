//! Shared fixtures for the integration tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose
#![allow(dead_code)]

use tsne::Matrix;

/// The digits data (1797 x 64) and labels shipped in `data/`.
pub fn digits() -> (Matrix, Vec<u8>) {
    let text = include_str!("../../../data/digits.csv");
    let rows: Vec<Vec<f64>> =
        text.lines().map(|l| l.split(',').map(|v| v.trim().parse().unwrap()).collect()).collect();
    let labels =
        include_str!("../../../data/digits_labels.csv").lines().map(|l| l.trim().parse().unwrap()).collect();
    (Matrix::from_rows(&rows).unwrap(), labels)
}
