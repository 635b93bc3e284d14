//! Affinities with more than 2^31 entries: the rows whose entries lie past offset 2^31 get the
//! attractive forces they get when they are the only rows (offsets near zero).
//! It holds about 17.5 GB, so it runs only when asked: `cargo test --release -p tsne-core
//! --test wide_offsets -- --ignored`.

#![allow(clippy::unwrap_used)] // tests fail loudly on purpose

use rayon::prelude::*;
use tsne_core::{gradient, CsrMatrix, Matrix, StudentT};

/// Entries per row and rows: 70,000 x 30,700 = 2.149e9 entries, past 2^31 = 2.147e9.
const N: usize = 70_000;
const PER_ROW: usize = 30_700;

/// Row `i`'s columns: the first `PER_ROW` indices other than `i`, spread over `0..N` by a
/// stride coprime with `N` and sorted; values from a hash of `(i, t)`.
fn row(i: usize, cols: &mut [u32], vals: &mut [f32]) {
    let mut t = 0;
    let mut j = 0;
    while t < cols.len() {
        if j != i {
            cols[t] = j as u32;
            t += 1;
        }
        j += 2;
        if j >= N {
            j = 1;
        }
    }
    cols.sort_unstable();
    for (t, v) in vals.iter_mut().enumerate() {
        let h =
            ((i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ t as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        *v = ((h >> 40) as f32 + 1.0) * 1e-15;
    }
}

/// The rows `first..N` of the matrix, all others empty.
fn rows_from(first: usize) -> CsrMatrix {
    let indptr: Vec<usize> = (0..=N).map(|i| i.saturating_sub(first) * PER_ROW).collect();
    let nnz = indptr[N];
    let mut indices = vec![0u32; nnz];
    let mut values = vec![0f32; nnz];
    indices.par_chunks_mut(PER_ROW).zip(values.par_chunks_mut(PER_ROW)).enumerate().for_each(
        |(r, (c, v))| {
            row(first + r, c, v);
        },
    );
    CsrMatrix::new(N, indptr, indices, values).unwrap()
}

#[test]
#[ignore = "holds about 17.5 GB; run with --ignored on a machine with 20 GB free"]
fn rows_past_offset_two_to_the_31_get_their_own_forces() {
    let y = Matrix::new(N, 2, (0..2 * N).map(|t| ((t * 7919) % 1000) as f64 * 0.05).collect()).unwrap();
    let full = rows_from(0);
    assert!(full.nnz() > 1 << 31);
    let first = (1usize << 31).div_ceil(PER_ROW); // the first row that starts past 2^31
    assert!(full.indptr()[first] >= 1 << 31 && first < N);
    let mut forces = vec![0.0; 2 * N];
    gradient::attractive_forces(&full, &y, StudentT::CAUCHY, &mut forces);
    drop(full);
    let tail = rows_from(first);
    let mut tail_forces = vec![0.0; 2 * N];
    gradient::attractive_forces(&tail, &y, StudentT::CAUCHY, &mut tail_forces);
    assert_eq!(forces[2 * first..], tail_forces[2 * first..]);
    assert!(forces[2 * first..].iter().any(|&f| f != 0.0));
}
