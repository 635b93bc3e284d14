//! Spectral initialisation from the affinity graph (a diffusion map).

use nalgebra::{DMatrix, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};
use rayon::prelude::*;
use tsne_core::{CsrMatrix, Error, InitInput, Initializer, Matrix, Result};

use crate::{check_std, rescale, DEFAULT_STD};

/// The leading non-trivial generalised eigenvectors of `P v = lambda D v` (`D` the degrees of
/// P), each multiplied by its eigenvalue, rescaled so that the first coordinate has standard
/// deviation `std`. This is the diffusion-map start of openTSNE's `initialization="spectral"`
/// and the right start when the input has no coordinates.
///
/// Solved as the symmetric problem `S u = lambda u`, `S = D^-1/2 P D^-1/2`, `v = D^-1/2 u`, by
/// block power iteration on `(S + I) / 2` with the trivial eigenvector `sqrt(D)` deflated and
/// a Rayleigh-Ritz step at the end. Dot products are summed over fixed blocks in order, so the
/// result does not depend on the thread count. Needs the sparse joint P (the t-SNE path).
#[derive(Debug, Clone, Copy)]
pub struct Spectral {
    std: f64,
    max_iterations: usize,
    tolerance: f64,
}

impl Spectral {
    /// Spectral initialisation with first-coordinate standard deviation `std`.
    pub fn new(std: f64) -> Result<Self> {
        Ok(Self { std: check_std(std)?, ..Self::default() })
    }
}

impl Default for Spectral {
    /// Standard deviation `1e-4`, at most 300 power iterations, stopping when no Ritz value
    /// moves by more than `1e-8`.
    fn default() -> Self {
        Self { std: DEFAULT_STD, max_iterations: 300, tolerance: 1e-8 }
    }
}

/// Rows per block of the ordered dot-product sums.
const BLOCK: usize = 4096;

fn dot(a: &[f64], b: &[f64]) -> f64 {
    let parts: Vec<f64> = a
        .par_chunks(BLOCK)
        .zip(b.par_chunks(BLOCK))
        .map(|(x, y)| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>())
        .collect();
    parts.iter().sum()
}

/// `out = (S x + x) / 2` with `S = D^-1/2 P D^-1/2`.
fn shifted_product(p: &CsrMatrix, inv_sqrt: &[f64], x: &[f64], out: &mut [f64]) {
    out.par_iter_mut().enumerate().for_each(|(i, o)| {
        let (cols, vals) = p.row(i);
        let s: f64 =
            cols.iter().zip(vals).map(|(&j, &v)| f64::from(v) * inv_sqrt[j as usize] * x[j as usize]).sum();
        *o = 0.5 * (inv_sqrt[i] * s + x[i]);
    });
}

/// Makes `q` orthonormal to `basis` and to itself column by column (modified Gram-Schmidt,
/// twice for stability); a column that vanishes is an error of the caller's rank.
fn orthonormalize(columns: &mut [Vec<f64>], trivial: &[f64]) -> Result<()> {
    for c in 0..columns.len() {
        for _ in 0..2 {
            let t = dot(&columns[c], trivial);
            columns[c].par_iter_mut().zip(trivial).for_each(|(v, u)| *v -= t * u);
            for b in 0..c {
                let (done, rest) = columns.split_at_mut(c);
                let t = dot(&rest[0], &done[b]);
                rest[0].par_iter_mut().zip(&done[b]).for_each(|(v, u)| *v -= t * u);
            }
        }
        let norm = dot(&columns[c], &columns[c]).sqrt();
        if !(norm > 1e-300) {
            return Err(Error::Degenerate {
                procedure: "spectral initialisation",
                reason:
                    "the affinity graph has too few independent directions; use PCA or random initialisation"
                        .into(),
            });
        }
        columns[c].par_iter_mut().for_each(|v| *v /= norm);
    }
    Ok(())
}

impl Initializer for Spectral {
    fn initialize(&self, input: &InitInput<'_>, dims: usize, seed: u64) -> Result<Matrix> {
        let p = input.require_affinities("spectral initialisation")?;
        let n = p.n();
        if n != input.n {
            return Err(Error::DimensionMismatch {
                what: "affinity matrix size",
                expected: input.n,
                found: n,
            });
        }
        if n < dims + 2 {
            return Err(Error::TooFewPoints { n, min: dims + 2 });
        }
        let degree: Vec<f64> = (0..n).map(|i| p.row(i).1.iter().map(|&v| f64::from(v)).sum()).collect();
        let inv_sqrt: Vec<f64> = degree.iter().map(|&d| if d > 0.0 { 1.0 / d.sqrt() } else { 0.0 }).collect();
        let mut trivial: Vec<f64> = degree.iter().map(|d| d.sqrt()).collect();
        let norm = dot(&trivial, &trivial).sqrt();
        if !(norm > 0.0) {
            return Err(Error::InvalidGraph { what: "affinity matrix", reason: "it has no entries".into() });
        }
        trivial.iter_mut().for_each(|v| *v /= norm);

        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut q: Vec<Vec<f64>> =
            (0..dims).map(|_| (0..n).map(|_| StandardNormal.sample(&mut rng)).collect()).collect();
        orthonormalize(&mut q, &trivial)?;
        let mut z = vec![vec![0.0; n]; dims];
        let mut ritz = vec![f64::INFINITY; dims];
        for _ in 0..self.max_iterations {
            let mut moved = 0.0f64;
            for c in 0..dims {
                shifted_product(p, &inv_sqrt, &q[c], &mut z[c]);
                let r = dot(&q[c], &z[c]);
                moved = moved.max((r - ritz[c]).abs());
                ritz[c] = r;
            }
            std::mem::swap(&mut q, &mut z);
            orthonormalize(&mut q, &trivial)?;
            if moved < self.tolerance {
                break;
            }
        }

        // Rayleigh-Ritz: order the block's directions by eigenvalue of S.
        for c in 0..dims {
            shifted_product(p, &inv_sqrt, &q[c], &mut z[c]);
        }
        let b = DMatrix::from_fn(dims, dims, |r, c| dot(&q[r], &z[c]));
        let b = (&b + b.transpose()) * 0.5;
        let eig = SymmetricEigen::new(b);
        let mut order: Vec<usize> = (0..dims).collect();
        order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]));
        let mut y = Matrix::zeros(n, dims);
        for (out_col, &e) in order.iter().enumerate() {
            // Eigenvalue of S from that of (S + I) / 2.
            let lambda = 2.0 * eig.eigenvalues[e] - 1.0;
            let mut v: Vec<f64> = (0..n)
                .map(|i| {
                    inv_sqrt[i] * lambda * (0..dims).map(|c| q[c][i] * eig.eigenvectors[(c, e)]).sum::<f64>()
                })
                .collect();
            let largest = v.iter().copied().fold(0.0f64, |m, x| if x.abs() > m.abs() { x } else { m });
            if largest < 0.0 {
                v.iter_mut().for_each(|x| *x = -*x);
            }
            for i in 0..n {
                y.row_mut(i)[out_col] = v[i];
            }
        }
        rescale(&mut y, self.std)?;
        Ok(y)
    }

    fn name(&self) -> &str {
        "spectral"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Joint affinities of a ring of `n` points, each tied to its two neighbours on each side.
    fn ring(n: usize) -> CsrMatrix {
        let rows = (0..n)
            .map(|i| {
                let mut r: Vec<(u32, f64)> = [n - 2, n - 1, 1, 2]
                    .iter()
                    .map(|&o| (((i + o) % n) as u32, if o == 1 || o == n - 1 { 2.0 } else { 1.0 }))
                    .collect();
                r.sort_by_key(|e| e.0);
                r
            })
            .collect();
        let mut p = CsrMatrix::from_rows(rows).unwrap();
        let s = p.sum();
        p.scale(1.0 / s);
        p
    }

    #[test]
    fn ring_unrolls_to_a_circle() {
        // The two leading non-trivial eigenvectors of a ring are cos and sin of the angle, so
        // every point lands at the same radius and in ring order.
        let n = 30;
        let p = ring(n);
        let input = InitInput { n, points: None, affinities: Some(&p) };
        let y = Spectral::default().initialize(&input, 2, 3).unwrap();
        let radius: Vec<f64> = (0..n).map(|i| y.row(i)[0].hypot(y.row(i)[1])).collect();
        let mean = radius.iter().sum::<f64>() / n as f64;
        assert!(radius.iter().all(|r| (r / mean - 1.0).abs() < 1e-3), "{radius:?}");
        let angle = |i: usize| y.row(i)[1].atan2(y.row(i)[0]);
        let step = |i: usize| {
            let d = angle((i + 1) % n) - angle(i);
            (d + std::f64::consts::PI).rem_euclid(2.0 * std::f64::consts::PI) - std::f64::consts::PI
        };
        let first = step(0);
        assert!((first.abs() - 2.0 * std::f64::consts::PI / n as f64).abs() < 1e-3);
        assert!((0..n).all(|i| (step(i) - first).abs() < 1e-3));
        assert!((y.column_std(0) - DEFAULT_STD).abs() < 1e-15);
    }

    #[test]
    fn seeded_and_needs_affinities() {
        let p = ring(40);
        let input = InitInput { n: 40, points: None, affinities: Some(&p) };
        let a = Spectral::default().initialize(&input, 2, 1).unwrap();
        let b = Spectral::default().initialize(&input, 2, 1).unwrap();
        assert_eq!(a, b);
        let x = Matrix::zeros(40, 3);
        assert!(matches!(
            Spectral::default().initialize(&InitInput::points(&x), 2, 1),
            Err(Error::Unsupported { .. })
        ));
    }
}
