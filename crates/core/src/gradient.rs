//! The attractive half of the t-SNE gradient and the KL divergence, from sparse P.
//!
//! With `q_ij = w_ij / Z` the KL gradient is (van der Maaten 2014, eq. 4, generalised to the
//! [`StudentT`] kernel)
//!
//! `dC/dy_i = 4 [ sum_j p_ij u_ij (y_i - y_j)  -  (1/Z) sum_j w_ij u_ij (y_i - y_j) ]`
//!
//! The first sum (attraction) runs over the non-zeros of P and is computed here; the second
//! (repulsion) and `Z` come from a [`Repulsion`](crate::Repulsion) backend.

use rayon::prelude::*;

use crate::{CsrMatrix, Matrix, StudentT};

/// Squared Euclidean distance between two equal-length slices.
#[inline]
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

/// `y_i - y_j` (first `D` coordinates of `yj`) and its squared norm.
#[inline(always)]
pub fn offset<const D: usize>(yi: &[f64; D], yj: &[f64]) -> ([f64; D], f64) {
    let yj = &yj[..D];
    let mut diff = [0.0; D];
    let mut d2 = 0.0;
    for k in 0..D {
        diff[k] = yi[k] - yj[k];
        d2 += diff[k] * diff[k];
    }
    (diff, d2)
}

/// Adds one pair's repulsion: `z += w` and `acc += w u (y_i - y_j)`, see [`StudentT`].
#[inline(always)]
pub fn add_repulsion<const D: usize>(
    kernel: StudentT,
    diff: &[f64; D],
    d2: f64,
    acc: &mut [f64; D],
    z: &mut f64,
) {
    let (w, u) = kernel.weights(d2);
    *z += w;
    let s = w * u;
    for k in 0..D {
        acc[k] += s * diff[k];
    }
}

/// Writes `out_i = sum_j p_ij u_ij (y_i - y_j)` (row-major, `n * dims`), parallel over rows.
///
/// Each row is summed in the fixed order of P's columns, so the result does not depend on the
/// number of threads.
pub fn attractive_forces(p: &CsrMatrix, y: &Matrix, kernel: StudentT, out: &mut [f64]) {
    debug_assert_eq!(out.len(), y.rows() * y.cols());
    match y.cols() {
        1 => attractive::<1>(p, y, kernel, out),
        2 => attractive::<2>(p, y, kernel, out),
        3 => attractive::<3>(p, y, kernel, out),
        _ => attractive_dyn(p, y, kernel, out),
    }
}

/// [`attractive_forces`] with the dimension known at compile time, so the inner loops unroll.
fn attractive<const D: usize>(p: &CsrMatrix, y: &Matrix, kernel: StudentT, out: &mut [f64]) {
    let pts: &[[f64; D]] = as_points(y.as_slice());
    out.par_chunks_mut(D).enumerate().for_each(|(i, f)| {
        let yi = pts[i];
        let (cols, vals) = p.row(i);
        let mut acc = [0.0; D];
        for (&j, &pij) in cols.iter().zip(vals) {
            let (diff, d2) = offset(&yi, &pts[j as usize]);
            let (_, u) = kernel.weights(d2);
            let s = pij * u;
            for k in 0..D {
                acc[k] += s * diff[k];
            }
        }
        f.copy_from_slice(&acc);
    });
}

fn attractive_dyn(p: &CsrMatrix, y: &Matrix, kernel: StudentT, out: &mut [f64]) {
    let d = y.cols();
    out.par_chunks_mut(d).enumerate().for_each(|(i, f)| {
        f.fill(0.0);
        let yi = y.row(i);
        let (cols, vals) = p.row(i);
        for (&j, &pij) in cols.iter().zip(vals) {
            let yj = y.row(j as usize);
            let (_, u) = kernel.weights(squared_distance(yi, yj));
            let s = pij * u;
            for k in 0..d {
                f[k] += s * (yi[k] - yj[k]);
            }
        }
    });
}

/// Views a row-major buffer with `D` columns as an array of points.
///
/// Panics when the length is not a multiple of `D`.
pub fn as_points<const D: usize>(data: &[f64]) -> &[[f64; D]] {
    assert_eq!(data.len() % D, 0);
    // SAFETY: [f64; D] has the size and alignment of D consecutive f64 values, and the
    // length is a multiple of D.
    unsafe { std::slice::from_raw_parts(data.as_ptr().cast(), data.len() / D) }
}

/// `KL(P || Q) = sum_ij p_ij log(p_ij / q_ij)` with `q_ij = w_ij / z`, over the non-zeros of P.
///
/// Exact whenever `z` is the exact normalisation `sum_{k != l} w_kl`; with an approximate `z`
/// (Barnes-Hut, FFT) it carries that approximation. P must sum to one.
pub fn kl_divergence(p: &CsrMatrix, y: &Matrix, kernel: StudentT, z: f64) -> f64 {
    let log_z = z.ln();
    let per_row: Vec<f64> = (0..p.n())
        .into_par_iter()
        .map(|i| {
            let yi = y.row(i);
            let (cols, vals) = p.row(i);
            let mut s = 0.0;
            for (&j, &pij) in cols.iter().zip(vals) {
                if pij > 0.0 {
                    let w = kernel.weight(squared_distance(yi, y.row(j as usize)));
                    s += pij * (pij.ln() - w.ln() + log_z);
                }
            }
            s
        })
        .collect();
    per_row.iter().sum()
}

/// Combines the two halves into the gradient divided by four, `g_i = e * attr_i - rep_i / z`,
/// where `e` is the exaggeration applied to P.
pub fn combine_gradient(attr: &[f64], rep: &[f64], z: f64, exaggeration: f64, out: &mut [f64]) {
    let inv_z = 1.0 / z;
    for ((g, a), r) in out.iter_mut().zip(attr).zip(rep) {
        *g = exaggeration * a - r * inv_z;
    }
}
