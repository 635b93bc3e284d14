//! Initial embeddings.
//!
//! The main design choice: every initialiser returns a small embedding (standard deviation of
//! the first coordinate `1e-4` by default) so that early exaggeration starts from a compact
//! configuration, and every random choice flows from one `u64` seed through ChaCha8, whose
//! stream is fixed across platforms and `rand` releases.
//!
//! ```
//! use tsne_core::{InitInput, Initializer, Matrix};
//! use tsne_init::Pca;
//!
//! let x = Matrix::new(4, 2, vec![0.0, 0.0, 1.0, 0.1, 2.0, -0.1, 3.0, 0.0])?;
//! let y = Pca::default().initialize(&InitInput::points(&x), 1, 0)?;
//! assert!((y.column_std(0) - 1e-4).abs() < 1e-12);
//! # Ok::<(), tsne_core::Error>(())
//! ```

// Loops over the few coordinates of a point index several arrays at once; ranges read
// clearer there than zipped iterators.
#![allow(clippy::needless_range_loop)]
// `!(x > 0.0)` is written on purpose: it also rejects NaN.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

use nalgebra::{DMatrix, SymmetricEigen};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use rayon::prelude::*;
mod spectral;

pub use spectral::Spectral;
use tsne_core::{Error, InitInput, Initializer, Matrix, PointRows, Result};

/// The standard deviation t-SNE implementations start from.
pub const DEFAULT_STD: f64 = 1e-4;

fn check_std(std: f64) -> Result<f64> {
    if std.is_finite() && std > 0.0 {
        Ok(std)
    } else {
        Err(Error::InvalidParameter {
            name: "init_std",
            reason: format!("must be finite and positive, got {std}"),
        })
    }
}

/// Independent `N(0, std^2)` coordinates.
#[derive(Debug, Clone, Copy)]
pub struct Random {
    std: f64,
}

impl Random {
    /// Coordinates with standard deviation `std`.
    pub fn new(std: f64) -> Result<Self> {
        Ok(Self { std: check_std(std)? })
    }
}

impl Default for Random {
    fn default() -> Self {
        Self { std: DEFAULT_STD }
    }
}

impl Initializer for Random {
    fn initialize(&self, input: &InitInput<'_>, dims: usize, seed: u64) -> Result<Matrix> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let normal = Normal::new(0.0, self.std)
            .map_err(|e| Error::InvalidParameter { name: "init_std", reason: e.to_string() })?;
        let data = (0..input.n * dims).map(|_| normal.sample(&mut rng)).collect();
        Matrix::new(input.n, dims, data)
    }

    fn name(&self) -> &str {
        "random"
    }
}

/// Projection on the leading principal components, rescaled so that the first coordinate has
/// standard deviation `std` (Kobak & Berens 2019).
///
/// The covariance is accumulated over fixed blocks of rows and summed in block order, so the
/// result does not depend on the thread count. Each component's sign is fixed so that its
/// largest-magnitude loading is positive.
#[derive(Debug, Clone, Copy)]
pub struct Pca {
    std: f64,
}

impl Pca {
    /// PCA initialisation with first-coordinate standard deviation `std`.
    pub fn new(std: f64) -> Result<Self> {
        Ok(Self { std: check_std(std)? })
    }
}

impl Default for Pca {
    fn default() -> Self {
        Self { std: DEFAULT_STD }
    }
}

/// Columns per tile of the covariance product.
const COV_TILE: usize = 128;

/// Rows per block of the projection.
const PROJECT_ROWS: usize = 256;

/// Fewest rows per part of the covariance sum.
const PART_ROWS: usize = 1024;
/// Parts of the covariance sum (each holds a `d x d` partial): a fixed partition of the rows,
/// so the order of the sums does not depend on the thread count.
const MAX_PARTS: usize = 8;

/// Rows per block of a part's covariance product (the centred copy of a block is all a part
/// holds besides its partial sum).
const COV_BLOCK_ROWS: usize = 1024;

/// The `dims` leading principal axes of `points` as columns of a `d x dims` matrix, and the
/// column means.
pub fn principal_axes<P: PointRows + ?Sized>(points: &P, dims: usize) -> Result<(DMatrix<f64>, Vec<f64>)> {
    let (n, d) = (points.rows(), points.cols());
    if dims > d {
        return Err(Error::InvalidParameter {
            name: "dims",
            reason: format!("PCA cannot give {dims} components from {d}-dimensional data"),
        });
    }
    let mut mean = vec![0.0; d];
    for i in 0..n {
        for (m, &v) in mean.iter_mut().zip(points.row(i)) {
            *m += v.into();
        }
    }
    mean.iter_mut().for_each(|m| *m /= n as f64);
    let axes = if n < d { gram_axes(points, &mean, dims) } else { covariance_axes(points, &mean, dims) };
    Ok((axes, mean))
}

/// Rows `rows` of `points`, centred, appended to `x` in double precision.
fn centred_rows<P: PointRows + ?Sized>(
    points: &P,
    rows: std::ops::Range<usize>,
    mean: &[f64],
    x: &mut Vec<f64>,
) {
    for i in rows {
        x.extend(points.row(i).iter().zip(mean).map(|(&v, m)| v.into() - m));
    }
}

/// The leading eigenvectors of the `d x d` covariance `X^T X` of the centred rows.
fn covariance_axes<P: PointRows + ?Sized>(points: &P, mean: &[f64], dims: usize) -> DMatrix<f64> {
    let (n, d) = (points.rows(), points.cols());
    // X^T X of the centred data, summed over a fixed partition of the rows, each part block by
    // block of rows with a cache-blocked matrix product.
    let parts = n.div_ceil(PART_ROWS.max(n.div_ceil(MAX_PARTS)));
    let rows_per_part = n.div_ceil(parts.max(1));
    let partials: Vec<Vec<f64>> = (0..parts)
        .into_par_iter()
        .map(|b| {
            let part = b * rows_per_part..((b + 1) * rows_per_part).min(n);
            let mut c = vec![0.0; d * d];
            let mut x = Vec::with_capacity(COV_BLOCK_ROWS.min(part.len()) * d);
            for start in part.clone().step_by(COV_BLOCK_ROWS) {
                let rows = start..(start + COV_BLOCK_ROWS).min(part.end);
                x.clear();
                centred_rows(points, rows.clone(), mean, &mut x);
                let beta = if start == part.start { 0.0 } else { 1.0 };
                // Only the tiles on and above the diagonal: the covariance is symmetric, so
                // this halves the work; the lower triangle is mirrored below.
                for t0 in (0..d).step_by(COV_TILE) {
                    let t1 = (t0 + COV_TILE).min(d);
                    for u0 in (t0..d).step_by(COV_TILE) {
                        let u1 = (u0 + COV_TILE).min(d);
                        // SAFETY: x is rows.len() x d row-major; the product reads its columns
                        // t0..t1 transposed (t1 - t0 x rows) and u0..u1 (rows x u1 - u0) and
                        // adds to the block (t0..t1, u0..u1) of c, d x d row-major, as the
                        // strides describe.
                        unsafe {
                            matrixmultiply::dgemm(
                                t1 - t0,
                                rows.len(),
                                u1 - u0,
                                1.0,
                                x.as_ptr().add(t0),
                                1,
                                d as isize,
                                x.as_ptr().add(u0),
                                d as isize,
                                1,
                                beta,
                                c.as_mut_ptr().add(t0 * d + u0),
                                d as isize,
                                1,
                            );
                        }
                    }
                }
            }
            c
        })
        .collect();
    let mut cov = DMatrix::<f64>::zeros(d, d);
    for c in &partials {
        for a in 0..d {
            for b in 0..d {
                cov[(a, b)] += c[a * d + b];
            }
        }
    }
    // The lower triangle mirrors the upper one (exactly, as the symmetric eigensolver wants).
    for a in 0..d {
        for b in 0..a {
            cov[(a, b)] = cov[(b, a)];
        }
    }
    let eig = SymmetricEigen::new(cov);
    let mut order: Vec<usize> = (0..d).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]).then(a.cmp(&b)));
    let mut axes = DMatrix::<f64>::zeros(d, dims);
    for (c, &src) in order.iter().take(dims).enumerate() {
        let v = eig.eigenvectors.column(src);
        let pivot = v.iter().copied().fold(0.0_f64, |m, x| if x.abs() > m.abs() { x } else { m });
        let sign = if pivot < 0.0 { -1.0 } else { 1.0 };
        for r in 0..d {
            axes[(r, c)] = sign * v[r];
        }
    }
    axes
}

/// The same axes from the `n x n` Gram matrix `X X^T` when there are fewer rows than columns
/// (wide data): with `X X^T u = lambda u`, `v = X^T u / sqrt(lambda)` is a unit eigenvector of
/// `X^T X` with the same eigenvalue. O(n^2 d) instead of O(n d^2); axes beyond the rank of the
/// data are zero.
fn gram_axes<P: PointRows + ?Sized>(points: &P, mean: &[f64], dims: usize) -> DMatrix<f64> {
    let (n, d) = (points.rows(), points.cols());
    let mut x = Vec::with_capacity(n * d);
    centred_rows(points, 0..n, mean, &mut x);
    let mut g = vec![0.0; n * n];
    // SAFETY: x is n x d row-major and g is n x n row-major, as described by the strides; the
    // product reads x (n x d) and x^T (d x n).
    unsafe {
        matrixmultiply::dgemm(
            n,
            d,
            n,
            1.0,
            x.as_ptr(),
            d as isize,
            1,
            x.as_ptr(),
            1,
            d as isize,
            0.0,
            g.as_mut_ptr(),
            n as isize,
            1,
        );
    }
    let mut gram = DMatrix::<f64>::zeros(n, n);
    for a in 0..n {
        for b in 0..n {
            // Exact symmetry for the symmetric eigensolver.
            gram[(a, b)] = 0.5 * (g[a * n + b] + g[b * n + a]);
        }
    }
    let eig = SymmetricEigen::new(gram);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| eig.eigenvalues[b].total_cmp(&eig.eigenvalues[a]).then(a.cmp(&b)));
    let largest = eig.eigenvalues.iter().fold(0.0_f64, |m, &v| m.max(v));
    let mut axes = DMatrix::<f64>::zeros(d, dims);
    for (c, &src) in order.iter().take(dims).enumerate() {
        let lambda = eig.eigenvalues[src];
        // Directions of (numerically) zero variance carry nothing: leave them zero.
        if !(lambda > 1e-12 * largest) {
            continue;
        }
        let u = eig.eigenvectors.column(src);
        let mut v = vec![0.0; d];
        for (i, &ui) in u.iter().enumerate() {
            for (vr, xr) in v.iter_mut().zip(&x[i * d..(i + 1) * d]) {
                *vr += ui * xr;
            }
        }
        let norm = v.iter().map(|a| a * a).sum::<f64>().sqrt();
        let pivot = v.iter().copied().fold(0.0_f64, |m, a| if a.abs() > m.abs() { a } else { m });
        let scale = if pivot < 0.0 { -1.0 / norm } else { 1.0 / norm };
        for r in 0..d {
            axes[(r, c)] = scale * v[r];
        }
    }
    axes
}

/// The centred data projected on its `dims` leading principal components (`n x dims`).
pub fn project<P: PointRows + ?Sized>(points: &P, dims: usize) -> Result<Matrix> {
    Projection::fit(points, dims)?.apply(points)
}

/// A fitted PCA projection: `x -> (x - mean) A` with the leading principal axes as the
/// columns of `A` (`d x dims`). Kept so that points added later go through the same map.
#[derive(Debug, Clone, PartialEq)]
pub struct Projection {
    mean: Vec<f64>,
    /// `d x dims`, row-major.
    axes: Matrix,
}

impl Projection {
    /// The projection of `points` on their `dims` leading principal axes.
    pub fn fit<P: PointRows + ?Sized>(points: &P, dims: usize) -> Result<Self> {
        let (axes, mean) = principal_axes(points, dims)?;
        let d = points.cols();
        let mut flat = vec![0.0; d * dims];
        for r in 0..d {
            for c in 0..dims {
                flat[r * dims + c] = axes[(r, c)];
            }
        }
        Ok(Self { mean, axes: Matrix::new(d, dims, flat)? })
    }

    /// A projection from its parts: `mean` (length `d`) and `axes` (`d x dims`).
    pub fn from_parts(mean: Vec<f64>, axes: Matrix) -> Result<Self> {
        if mean.len() != axes.rows() {
            return Err(Error::DimensionMismatch {
                what: "PCA mean vs axes rows",
                expected: axes.rows(),
                found: mean.len(),
            });
        }
        if let Some(c) = mean.iter().position(|v| !v.is_finite()) {
            return Err(Error::NonFinite { row: 0, col: c, value: mean[c] });
        }
        Ok(Self { mean, axes })
    }

    /// The column means subtracted first.
    pub fn mean(&self) -> &[f64] {
        &self.mean
    }

    /// The principal axes as columns (`d x dims`).
    pub fn axes(&self) -> &Matrix {
        &self.axes
    }

    /// Input dimension `d`.
    pub fn dims_in(&self) -> usize {
        self.axes.rows()
    }

    /// Output dimension.
    pub fn dims_out(&self) -> usize {
        self.axes.cols()
    }

    /// `points` (`n x d`) projected (`n x dims`); each row depends only on itself (the same
    /// bits whichever rows are projected with it).
    pub fn apply<P: PointRows + ?Sized>(&self, points: &P) -> Result<Matrix> {
        let (n, d, dims) = (points.rows(), self.dims_in(), self.dims_out());
        if points.cols() != d {
            return Err(Error::DimensionMismatch {
                what: "columns of points to project",
                expected: d,
                found: points.cols(),
            });
        }
        let mut data = vec![0.0; n * dims];
        // Blocks of rows, each centred and multiplied by the axes in one cache-blocked product.
        data.par_chunks_mut((PROJECT_ROWS * dims).max(1)).enumerate().for_each_init(
            || Vec::with_capacity(PROJECT_ROWS * d),
            |x: &mut Vec<f64>, (b, out)| {
                let rows = out.len() / dims.max(1);
                x.clear();
                centred_rows(points, b * PROJECT_ROWS..b * PROJECT_ROWS + rows, &self.mean, x);
                // SAFETY: x is rows x d row-major, the axes d x dims row-major and out
                // rows x dims row-major, as the strides describe.
                unsafe {
                    matrixmultiply::dgemm(
                        rows,
                        d,
                        dims,
                        1.0,
                        x.as_ptr(),
                        d as isize,
                        1,
                        self.axes.as_slice().as_ptr(),
                        dims as isize,
                        1,
                        0.0,
                        out.as_mut_ptr(),
                        dims as isize,
                        1,
                    );
                }
            },
        );
        Matrix::new(n, dims, data)
    }
}

impl Initializer for Pca {
    fn initialize(&self, input: &InitInput<'_>, dims: usize, _seed: u64) -> Result<Matrix> {
        let points = input.require_points("PCA initialisation")?;
        if points.cols() < dims {
            return Err(Error::InvalidParameter {
                name: "init",
                reason: format!(
                    "the PCA start of a {dims}-D map needs at least {dims} input columns, the input has {}: \
                     use `Init::Spectral` or `Init::Random`",
                    points.cols()
                ),
            });
        }
        let mut y = project(points, dims)?;
        rescale(&mut y, self.std)?;
        Ok(y)
    }

    fn name(&self) -> &str {
        "pca"
    }
}

/// Scales `y` so that its first column has standard deviation `std`.
fn rescale(y: &mut Matrix, std: f64) -> Result<()> {
    let s = y.column_std(0);
    if !(s > 0.0) {
        return Err(Error::IdenticalPoints { n: y.rows() });
    }
    let scale = std / s;
    y.as_mut_slice().iter_mut().for_each(|v| *v *= scale);
    Ok(())
}

/// A user-supplied starting embedding.
#[derive(Debug, Clone)]
pub struct Given {
    embedding: Matrix,
}

impl Given {
    /// Starts from `embedding` as is.
    pub fn new(embedding: Matrix) -> Self {
        Self { embedding }
    }
}

impl Initializer for Given {
    fn initialize(&self, input: &InitInput<'_>, dims: usize, _seed: u64) -> Result<Matrix> {
        if self.embedding.rows() != input.n {
            return Err(Error::DimensionMismatch {
                what: "initial embedding rows",
                expected: input.n,
                found: self.embedding.rows(),
            });
        }
        if self.embedding.cols() != dims {
            return Err(Error::DimensionMismatch {
                what: "initial embedding columns",
                expected: dims,
                found: self.embedding.cols(),
            });
        }
        Ok(self.embedding.clone())
    }

    fn name(&self) -> &str {
        "given"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_data_takes_the_gram_route_to_the_same_axes() {
        // 30 points in 100 dimensions with a clear spectrum: the covariance and Gram routes
        // agree to rounding, signs included.
        let (n, d) = (30, 100);
        let data: Vec<f64> = (0..n * d)
            .map(|t| {
                let (i, j) = (t / d, t % d);
                let f = i as f64;
                3.0 * (f * 0.7).sin() * ((j % 7) as f64)
                    + 1.5 * (f * 1.3).cos() * ((j % 3) as f64 - 1.0)
                    + 0.1 * ((t * 37 % 101) as f64 / 101.0)
            })
            .collect();
        let x = Matrix::new(n, d, data).unwrap();
        let mut mean = vec![0.0; d];
        for i in 0..n {
            for (m, v) in mean.iter_mut().zip(x.row(i)) {
                *m += v / n as f64;
            }
        }
        let a = covariance_axes(&x, &mean, 3);
        let b = gram_axes(&x, &mean, 3);
        let diff = (&a - &b).abs().max();
        assert!(diff < 1e-8, "axes differ by {diff}");
        // A 60 x 5000 matrix projects through the Gram route (a 60 x 60 eigenproblem).
        let wide =
            Matrix::new(60, 5000, (0..300_000usize).map(|t| ((t * 7919 % 10007) as f64).sin()).collect())
                .unwrap();
        let y = project(&wide, 2).unwrap();
        assert_eq!((y.rows(), y.cols()), (60, 2));
        assert!(y.column_std(0) > 0.0);
    }

    #[test]
    fn pca_recovers_the_dominant_direction() {
        // Points along (3, 4)/5 with a little noise orthogonal to it.
        let rows: Vec<Vec<f64>> = (0..50)
            .map(|i| {
                let t = i as f64 - 25.0;
                let e = if i % 2 == 0 { 0.01 } else { -0.01 };
                vec![0.6 * t - 0.8 * e, 0.8 * t + 0.6 * e]
            })
            .collect();
        let x = Matrix::from_rows(&rows).unwrap();
        let (axes, _) = principal_axes(&x, 1).unwrap();
        // The noise correlates slightly with t, tilting the axis from (0.6, 0.8) to the leading
        // eigenvector of the centred X^T X (value from an independent eigensolver).
        assert!(
            (axes[(0, 0)] - 0.600_019_207_5).abs() < 1e-9 && (axes[(1, 0)] - 0.799_985_594).abs() < 1e-9,
            "{axes}"
        );
        let y = Pca::default().initialize(&InitInput::points(&x), 2, 0).unwrap();
        assert!((y.column_std(0) - DEFAULT_STD).abs() < 1e-15);
        assert!(y.column_std(1) < 1e-3 * DEFAULT_STD);
    }

    #[test]
    fn random_is_seeded() {
        let x = Matrix::zeros(100, 3);
        let a = Random::default().initialize(&InitInput::points(&x), 2, 7).unwrap();
        let b = Random::default().initialize(&InitInput::points(&x), 2, 7).unwrap();
        let c = Random::default().initialize(&InitInput::points(&x), 2, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!((a.column_std(0) - DEFAULT_STD).abs() < 0.3 * DEFAULT_STD);
    }

    #[test]
    fn given_checks_shape() {
        let x = Matrix::zeros(3, 5);
        let g = Given::new(Matrix::zeros(3, 2));
        assert!(g.initialize(&InitInput::points(&x), 2, 0).is_ok());
        assert!(matches!(g.initialize(&InitInput::points(&x), 3, 0), Err(Error::DimensionMismatch { .. })));
    }
}
