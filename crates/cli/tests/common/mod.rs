//! Helpers shared by the CLI's end-to-end tests: run the binary, a scratch folder per test,
//! the files left in it, and the three-cluster points several tests embed.

#![allow(dead_code)] // each test binary uses its own subset

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs the `tsne` binary the tests were built with.
pub fn tsne(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tsne")).args(args).output().expect("run tsne")
}

/// An empty folder for `test` (per process), created afresh.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tsne-cli-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The names of the files in `dir`, sorted.
pub fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `n` points in three noisy 2-D clusters 10 apart (point `i` in cluster `i % 3`), as CSV
/// text and as coordinates.
pub fn three_clusters(n: usize) -> (String, Vec<[f64; 2]>) {
    let pts: Vec<[f64; 2]> = (0..n)
        .map(|i| {
            let c = (i % 3) as f64 * 10.0;
            [c + (i as f64 * 0.37).sin(), c + (i as f64 * 0.11).cos()]
        })
        .collect();
    let text = pts.iter().map(|p| format!("{},{}\n", p[0], p[1])).collect();
    (text, pts)
}
