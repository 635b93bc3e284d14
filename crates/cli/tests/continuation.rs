//! Continuation through files on the benchmark suite's 70,000-point stand-in (the 50-D
//! image-like mixture of `cargo xtask bench`): `tsne embed --save-model` then `tsne optimize`
//! at its defaults ends where a fit of the same total length ends, and late exaggeration 1.5
//! keeps the neighbourhoods and the map's size. The digits' version of these checks is
//! `continuations_at_their_defaults_keep_a_finished_map` in the library's tests.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly on purpose

mod common;

use std::path::Path;

use common::{scratch, tsne};
use tsne::{metrics::knn_accuracy, Matrix};

/// Writes `x` as a little-endian `f8` `.npy` file.
fn write_npy(path: &Path, x: &Matrix) {
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}", x.rows(), x.cols());
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    x.as_slice().iter().for_each(|v| bytes.extend_from_slice(&v.to_le_bytes()));
    std::fs::write(path, bytes).unwrap();
}

/// Reads an `n x 2` `f8` `.npy` file written by the CLI.
fn read_npy(path: &Path, n: usize) -> Matrix {
    let bytes = std::fs::read(path).unwrap();
    let header = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let body = &bytes[10 + header..];
    assert_eq!(body.len(), n * 2 * 8, "{}", path.display());
    let values = body.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
    Matrix::new(n, 2, values).unwrap()
}

/// Runs the CLI and returns the KL divergence of its `--json` summary.
fn kl_of(args: &[&str]) -> f64 {
    let out = tsne(&[args, &["--json", "--progress", "none"]].concat());
    assert!(out.status.success(), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    summary["kl_divergence"].as_f64().unwrap()
}

/// The larger of the map's extents along its two axes.
fn width(y: &Matrix) -> f64 {
    (0..2)
        .map(|c| {
            let v = (0..y.rows()).map(|i| y.row(i)[c]);
            v.clone().fold(f64::NEG_INFINITY, f64::max) - v.fold(f64::INFINITY, f64::min)
        })
        .fold(0.0, f64::max)
}

/// About 100 s on 2 cores in release, twice that in the test profile: run by hand with
/// `cargo test --release -p tsne-cli --test continuation -- --ignored`.
#[test]
#[ignore = "70,000 points, four runs: cargo test --release -p tsne-cli --test continuation -- --ignored"]
fn continuing_the_stand_in_keeps_the_map() {
    let (x, labels) = tsne_benches::image_like(70_000, 50, 42);
    let n = x.rows();
    let dir = scratch("continuation");
    let path = |name: &str| dir.join(name).to_string_lossy().into_owned();
    write_npy(Path::new(&path("x.npy")), &x);
    let (points, model) = (path("x.npy"), path("m.tsne"));
    let fit_kl = kl_of(&["embed", &points, "--save-model", &model, "--out", &path("fit.npy")]);
    let long_kl = kl_of(&["embed", &points, "--iterations", "1250", "--out", &path("long.npy")]);
    let continued_kl = kl_of(&["optimize", "--model", &model, "--out", &path("continued.npy")]);
    let tight_kl =
        kl_of(&["optimize", "--model", &model, "--exaggeration", "1.5", "--out", &path("tight.npy")]);
    let map = |name: &str| read_npy(Path::new(&path(name)), n);
    let (fit, long, continued, tight) =
        (map("fit.npy"), map("long.npy"), map("continued.npy"), map("tight.npy"));
    let accuracy = |y: &Matrix| knn_accuracy(y, &labels, 10).unwrap();
    let base = accuracy(&fit);

    // The defaults continue the fit's run: the KL of the longer fit (here to the bit).
    assert!(continued_kl <= 1.01 * long_kl, "continued KL {continued_kl} vs {long_kl} (fit {fit_kl})");
    assert!(accuracy(&continued) >= accuracy(&long) - 0.01);
    assert!(accuracy(&continued) >= base - 0.01);
    // Exaggeration raises the KL by design, keeps the neighbourhoods, and holds the map's
    // size: where the plain continuation grows it (15% across here), it stays within 0.5%.
    assert!(tight_kl > continued_kl);
    assert!(accuracy(&tight) >= base - 0.01, "exaggeration 1.5: {} vs {base}", accuracy(&tight));
    let (w_fit, w_continued, w_tight) = (width(&fit), width(&continued), width(&tight));
    assert!(
        w_continued > 1.1 * w_fit,
        "a plain continuation should still be growing the map: {w_continued} vs {w_fit}"
    );
    assert!(w_tight <= 1.005 * w_fit, "exaggeration 1.5 widened the map: {w_tight} vs {w_fit}");
    eprintln!(
        "KL: fit {fit_kl:.4}, 1250-iteration fit {long_kl:.4}, continued {continued_kl:.4}, exaggerated {tight_kl:.4}; \
         10-NN accuracy: fit {base:.4}, continued {:.4}, exaggerated {:.4}; width: fit {w_fit:.2}, \
         continued {w_continued:.2}, exaggerated {w_tight:.2}",
        accuracy(&continued),
        accuracy(&tight)
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
