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
///
/// Summed in eight independent partial sums over blocks of eight coordinates (a short
/// dependency chain the compiler can vectorise), combined as a fixed tree, then the last
/// `len % 8` terms in order; below eight coordinates this is the plain left-to-right sum.
#[inline]
pub fn squared_distance(a: &[f64], b: &[f64]) -> f64 {
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    let mut acc = [0.0; 8];
    for (x, y) in ca.zip(cb) {
        for l in 0..8 {
            let d = x[l] - y[l];
            acc[l] += d * d;
        }
    }
    let mut s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
    for (x, y) in ra.iter().zip(rb) {
        s += (x - y) * (x - y);
    }
    s
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
/// Precision: each difference `y_i - y_j` is taken in `f64` and rounded to `f32`; the kernel
/// `u_ij`, the products and eight partial sums per row are `f32` (P is stored in `f32`), and
/// the partial sums are added in `f64`. The relative error of a row is about `1e-7`, against
/// `1e-3` for the approximate repulsions, at half the memory traffic and twice the vector
/// width of `f64`.
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

/// Independent `f32` partial sums per row in [`attractive`]: one 256-bit vector, so the eight
/// divisions `p / (1 + d^2/a)` of a chunk are one instruction.
const LANES: usize = 8;

/// [`attractive_forces`] with the dimension known at compile time. Each row is summed in
/// [`LANES`] interleaved partial sums combined in `f64` as a fixed tree ([`combine_lanes`]);
/// the same arithmetic is compiled twice, plain and with AVX2 (chosen at run time), and both
/// give the same bits (no fused multiply-adds in either).
fn attractive<const D: usize>(p: &CsrMatrix, y: &Matrix, kernel: StudentT, out: &mut [f64]) {
    let pts: &[[f64; D]] = as_points(y.as_slice());
    // With this, every column of P indexes a point: CsrMatrix keeps its columns below n.
    assert_eq!(pts.len(), p.n(), "attractive forces: P and the embedding differ in size");
    let inv_dof = (1.0 / kernel.dof()) as f32;
    #[cfg(target_arch = "x86_64")]
    let avx2 = crate::simd::avx2();
    out.par_chunks_mut(D).enumerate().for_each(|(i, f)| {
        let (cols, vals) = p.row(i);
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: the CPU supports AVX2 (checked above); P's columns are below its n, which
            // is the number of points (asserted above).
            f.copy_from_slice(&unsafe { attractive_row_avx2(pts, i, cols, vals, inv_dof) });
            return;
        }
        f.copy_from_slice(&attractive_row(pts, i, cols, vals, inv_dof));
    });
}

/// `sum_j p_ij u_ij (y_i - y_j)` over one row, `u = 1 / (1 + d^2 / dof)`, in [`LANES`] lanes
/// (structure of arrays, so that each step is one vector operation).
#[inline(always)]
fn attractive_row<const D: usize>(
    pts: &[[f64; D]],
    i: usize,
    cols: &[u32],
    vals: &[f32],
    inv_dof: f32,
) -> [f64; D] {
    let yi = pts[i];
    let mut acc = [[0.0; LANES]; D];
    let (c8, v8) = (cols.chunks_exact(LANES), vals.chunks_exact(LANES));
    let (cr, vr) = (c8.remainder(), v8.remainder());
    for (c, v) in c8.zip(v8) {
        attractive_chunk(pts, &yi, inv_dof, c, v, &mut acc);
    }
    // Unused lanes of the last chunk have p = 0 and add exact zeros.
    attractive_chunk(pts, &yi, inv_dof, cr, vr, &mut acc);
    combine_lanes(&acc)
}

/// One chunk of at most [`LANES`] entries of a row, added lane by lane to `acc`.
#[inline(always)]
fn attractive_chunk<const D: usize>(
    pts: &[[f64; D]],
    yi: &[f64; D],
    inv_dof: f32,
    c: &[u32],
    v: &[f32],
    acc: &mut [[f32; LANES]; D],
) {
    let mut diff = [[0.0f32; LANES]; D];
    let mut pij = [0.0f32; LANES];
    for (l, (&j, &v)) in c.iter().zip(v).enumerate() {
        let yj = &pts[j as usize];
        for k in 0..D {
            diff[k][l] = (yi[k] - yj[k]) as f32;
        }
        pij[l] = v;
    }
    let mut d2 = [0.0f32; LANES];
    for k in 0..D {
        for l in 0..LANES {
            d2[l] += diff[k][l] * diff[k][l];
        }
    }
    let mut s = [0.0f32; LANES];
    for l in 0..LANES {
        s[l] = pij[l] / (1.0 + d2[l] * inv_dof);
    }
    for k in 0..D {
        for l in 0..LANES {
            acc[k][l] += s[l] * diff[k][l];
        }
    }
}

/// [`attractive_row`] with each chunk in 256-bit registers: the same IEEE operations in the
/// same order per lane (no fused multiply-adds), so the same bits.
///
/// # Safety
///
/// The CPU must support AVX2 (`is_x86_feature_detected!("avx2")`), and every entry of `cols`
/// must be below `pts.len()` (the neighbours are read without bounds checks).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn attractive_row_avx2<const D: usize>(
    pts: &[[f64; D]],
    i: usize,
    cols: &[u32],
    vals: &[f32],
    inv_dof: f32,
) -> [f64; D] {
    use std::arch::x86_64::*;
    let yi = pts[i];
    let (inv, one) = (_mm256_set1_ps(inv_dof), _mm256_set1_ps(1.0));
    let mut acc = [_mm256_setzero_ps(); D];
    let (c8, v8) = (cols.chunks_exact(LANES), vals.chunks_exact(LANES));
    let (cr, vr) = (c8.remainder(), v8.remainder());
    for (c, v) in c8.zip(v8) {
        let mut diff = [_mm256_setzero_ps(); D];
        if D == 2 {
            // Two points per 256-bit f64 vector, `(y_i - y_a, y_i - y_b)` rounded to four
            // f32 `(dx_a, dy_a, dx_b, dy_b)`; then regrouped as the eight dx and the eight dy.
            let yi2 = _mm256_setr_pd(yi[0], yi[1], yi[0], yi[1]);
            let q: [__m128; 4] = std::array::from_fn(|t| {
                // SAFETY: the columns index points (the caller's contract), each of D = 2 values.
                let (a, b) = unsafe {
                    let (a, b) =
                        (pts.get_unchecked(c[2 * t] as usize), pts.get_unchecked(c[2 * t + 1] as usize));
                    (_mm_loadu_pd(a.as_ptr()), _mm_loadu_pd(b.as_ptr()))
                };
                let ab = _mm256_insertf128_pd(_mm256_castpd128_pd256(a), b, 1);
                _mm256_cvtpd_ps(_mm256_sub_pd(yi2, ab))
            });
            // Points (0, 1 | 4, 5) and (2, 3 | 6, 7): the shuffles give lanes 0..8 in order.
            let lo = _mm256_insertf128_ps(_mm256_castps128_ps256(q[0]), q[2], 1);
            let hi = _mm256_insertf128_ps(_mm256_castps128_ps256(q[1]), q[3], 1);
            diff[0] = _mm256_shuffle_ps(lo, hi, 0b10_00_10_00);
            diff[1] = _mm256_shuffle_ps(lo, hi, 0b11_01_11_01);
        } else {
            for k in 0..D {
                let d: [f32; LANES] = std::array::from_fn(|l| (yi[k] - pts[c[l] as usize][k]) as f32);
                // SAFETY: `d` holds LANES values.
                diff[k] = unsafe { _mm256_loadu_ps(d.as_ptr()) };
            }
        }
        let mut d2 = _mm256_setzero_ps();
        for k in 0..D {
            d2 = _mm256_add_ps(d2, _mm256_mul_ps(diff[k], diff[k]));
        }
        // SAFETY: `v` holds LANES values.
        let pij = unsafe { _mm256_loadu_ps(v.as_ptr()) };
        let s = _mm256_div_ps(pij, _mm256_add_ps(one, _mm256_mul_ps(d2, inv)));
        for k in 0..D {
            acc[k] = _mm256_add_ps(acc[k], _mm256_mul_ps(s, diff[k]));
        }
    }
    let mut lanes = [[0.0; LANES]; D];
    for k in 0..D {
        // SAFETY: `lanes[k]` holds LANES values.
        unsafe { _mm256_storeu_ps(lanes[k].as_mut_ptr(), acc[k]) };
    }
    attractive_chunk(pts, &yi, inv_dof, cr, vr, &mut lanes);
    combine_lanes(&lanes)
}

/// The row total from its lanes, in `f64`, always as the tree
/// `((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7))`.
#[inline(always)]
fn combine_lanes<const D: usize>(lanes: &[[f32; LANES]; D]) -> [f64; D] {
    let mut total = [0.0; D];
    for k in 0..D {
        let l = lanes[k].map(f64::from);
        total[k] = ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
    }
    total
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
            let s = f64::from(pij) * u;
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

/// `sum_ij p_ij ln p_ij` over the non-zeros of P: the part of the KL divergence that does not
/// depend on the embedding (compute it once per P for [`kl_divergence_from`]).
pub fn p_log_p(p: &CsrMatrix) -> f64 {
    let per_row: Vec<f64> = (0..p.n())
        .into_par_iter()
        .map(|i| p.row(i).1.iter().map(|&v| f64::from(v)).filter(|&v| v > 0.0).map(|v| v * v.ln()).sum())
        .collect();
    per_row.iter().sum()
}

/// `KL(P || Q) = sum_ij p_ij log(p_ij / q_ij)` with `q_ij = w_ij / z`, over the non-zeros of P.
///
/// Exact whenever `z` is the exact normalisation `sum_{k != l} w_kl`; with an approximate `z`
/// (Barnes-Hut, FFT) it carries that approximation. P must sum to one.
pub fn kl_divergence(p: &CsrMatrix, y: &Matrix, kernel: StudentT, z: f64) -> f64 {
    kl_divergence_from(p, p_log_p(p), y, kernel, z)
}

/// [`kl_divergence`] with `plogp = p_log_p(p)` already known: by `ln q = ln w - ln z`,
/// `KL = plogp + sum_ij p_ij (ln z - ln w_ij)`, one logarithm per entry.
pub fn kl_divergence_from(p: &CsrMatrix, plogp: f64, y: &Matrix, kernel: StudentT, z: f64) -> f64 {
    let log_z = z.ln();
    let per_row: Vec<f64> = (0..p.n())
        .into_par_iter()
        .map(|i| {
            let yi = y.row(i);
            let (cols, vals) = p.row(i);
            let mut s = 0.0;
            for (&j, &pij) in cols.iter().zip(vals) {
                if pij > 0.0 {
                    let log_w = kernel.log_weight(squared_distance(yi, y.row(j as usize)));
                    s += f64::from(pij) * (log_z - log_w);
                }
            }
            s
        })
        .collect();
    plogp + per_row.iter().sum::<f64>()
}

/// Combines the two halves into the gradient divided by four, `g_i = e * attr_i - rep_i / z`,
/// where `e` is the exaggeration applied to P.
pub fn combine_gradient(attr: &[f64], rep: &[f64], z: f64, exaggeration: f64, out: &mut [f64]) {
    let inv_z = 1.0 / z;
    for ((g, a), r) in out.iter_mut().zip(attr).zip(rep) {
        *g = exaggeration * a - r * inv_z;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ring graph with three neighbours each side, values and positions from a fixed LCG.
    fn case(n: usize, d: usize) -> (CsrMatrix, Matrix) {
        let mut state = 12345u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 11) as f64 / (1u64 << 53) as f64
        };
        let rows = (0..n)
            .map(|i| {
                (1..=9).flat_map(|o| [(i + o) % n, (i + n - o) % n]).map(|j| (j as u32, next())).collect()
            })
            .collect();
        let y = Matrix::new(n, d, (0..d * n).map(|_| 10.0 * next() - 5.0).collect()).unwrap();
        (CsrMatrix::from_rows(rows).unwrap(), y)
    }

    /// The lane-split `f32` sum equals a plain `f64` sum over the row to `f32` rounding (relative
    /// to the sum of the terms' magnitudes), for two kernels.
    #[test]
    fn attractive_forces_match_a_plain_sum() {
        let (p, y) = case(50, 2);
        for kernel in [StudentT::CAUCHY, StudentT::new(0.5).unwrap()] {
            let mut out = vec![0.0; 100];
            attractive_forces(&p, &y, kernel, &mut out);
            for i in 0..50 {
                let (cols, vals) = p.row(i);
                for k in 0..2 {
                    let terms: Vec<f64> = cols
                        .iter()
                        .zip(vals)
                        .map(|(&j, &pij)| {
                            let (_, u) = kernel.weights(squared_distance(y.row(i), y.row(j as usize)));
                            f64::from(pij) * u * (y.row(i)[k] - y.row(j as usize)[k])
                        })
                        .collect();
                    let want: f64 = terms.iter().sum();
                    let scale: f64 = terms.iter().map(|t| t.abs()).sum();
                    assert!((out[2 * i + k] - want).abs() <= 1e-6 * scale, "{i} {k}");
                }
            }
        }
    }

    /// The AVX2 build of a row is bit-identical to the plain build, in 1, 2 and 3 dimensions.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_rows_are_bit_identical() {
        fn check<const D: usize>() {
            let (p, y) = case(64, D);
            let pts: &[[f64; D]] = as_points(y.as_slice());
            for i in 0..64 {
                let (cols, vals) = p.row(i);
                // Rows of 18 entries and shorter: two full chunks and remainders of 2, 1 and 7.
                for len in [cols.len(), cols.len() - 1, cols.len() - 3] {
                    let plain = attractive_row(pts, i, &cols[..len], &vals[..len], 0.7);
                    // SAFETY: AVX2 is available (checked by the caller); the columns index the points.
                    let fast = unsafe { attractive_row_avx2(pts, i, &cols[..len], &vals[..len], 0.7) };
                    assert_eq!(plain.map(f64::to_bits), fast.map(f64::to_bits));
                }
            }
        }
        if crate::simd::avx2() {
            check::<1>();
            check::<2>();
            check::<3>();
        }
    }
}
