//! Dense row-major matrices: the input points and the embedding.

use crate::{Error, Result};

/// Fails on a buffer whose length is not `rows * cols` or that holds a non-finite value.
fn check_buffer<T: Copy + Into<f64>>(rows: usize, cols: usize, data: &[T]) -> Result<()> {
    if rows.checked_mul(cols) != Some(data.len()) {
        return Err(Error::Shape { rows, cols, len: data.len() });
    }
    if let Some(pos) = data.iter().position(|&v| !v.into().is_finite()) {
        let (row, col) = pos.checked_div(cols).map_or((0, 0), |row| (row, pos % cols));
        return Err(Error::NonFinite { row, col, value: data[pos].into() });
    }
    Ok(())
}

/// A dense, contiguous, row-major `rows x cols` matrix of `f64`.
///
/// Used for input points (one point per row) and for embeddings. Constructors that take user
/// data check the shape and that every value is finite, so code downstream never sees NaN.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f64>,
}

impl Matrix {
    /// Wraps a row-major buffer; fails on a length that is not `rows * cols` or a non-finite value.
    pub fn new(rows: usize, cols: usize, data: Vec<f64>) -> Result<Self> {
        check_buffer(rows, cols, &data)?;
        Ok(Self { rows, cols, data })
    }

    /// Builds a matrix from rows of equal length; fails on ragged or non-finite rows.
    pub fn from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Self> {
        let cols = rows.first().map_or(0, |r| r.as_ref().len());
        let mut data = Vec::with_capacity(rows.len() * cols);
        for (i, r) in rows.iter().enumerate() {
            let r = r.as_ref();
            if r.len() != cols {
                return Err(Error::RaggedRow { row: i, expected: cols, found: r.len() });
            }
            data.extend_from_slice(r);
        }
        Self::new(rows.len(), cols, data)
    }

    /// Wraps a buffer the caller knows to be `rows * cols` finite values.
    pub(crate) fn from_parts(rows: usize, cols: usize, data: Vec<f64>) -> Self {
        debug_assert_eq!(rows * cols, data.len());
        Self { rows, cols, data }
    }

    /// A matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self { rows, cols, data: vec![0.0; rows * cols] }
    }

    /// Number of rows (points).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (dimensions).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i` as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Row `i` as a mutable slice.
    #[inline]
    pub fn row_mut(&mut self, i: usize) -> &mut [f64] {
        &mut self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The rows renumbered: row `a` of the result is row `order[a]` of `self`. Errors unless
    /// `order` is a permutation of `0..rows`.
    pub fn permuted_rows(&self, order: &[u32]) -> Result<Self> {
        crate::sparse::inverse_permutation(order, self.rows)?;
        let mut data = Vec::with_capacity(self.data.len());
        for &i in order {
            data.extend_from_slice(self.row(i as usize));
        }
        Ok(Self { rows: self.rows, cols: self.cols, data })
    }

    /// The whole row-major buffer.
    #[inline]
    pub fn as_slice(&self) -> &[f64] {
        &self.data
    }

    /// The whole row-major buffer, mutable. Callers keep the values finite.
    #[inline]
    pub fn as_mut_slice(&mut self) -> &mut [f64] {
        &mut self.data
    }

    /// Consumes the matrix, returning its row-major buffer.
    pub fn into_vec(self) -> Vec<f64> {
        self.data
    }

    /// The mean of each column (rows summed in order, then divided by their count; zeros for
    /// an empty matrix).
    pub fn column_means(&self) -> Vec<f64> {
        let mut mean = vec![0.0; self.cols];
        if self.rows == 0 {
            return mean;
        }
        for row in self.data.chunks_exact(self.cols) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in &mut mean {
            *m /= self.rows as f64;
        }
        mean
    }

    /// Subtracts the column means so that the matrix is centred at the origin.
    pub fn center(&mut self) {
        if self.rows == 0 {
            return;
        }
        let mean = self.column_means();
        for row in self.data.chunks_exact_mut(self.cols) {
            for (v, m) in row.iter_mut().zip(&mean) {
                *v -= m;
            }
        }
    }

    /// Sample standard deviation of column `col` (denominator `rows - 1`).
    pub fn column_std(&self, col: usize) -> f64 {
        let n = self.rows as f64;
        let mean = (0..self.rows).map(|i| self.row(i)[col]).sum::<f64>() / n;
        let var = (0..self.rows).map(|i| (self.row(i)[col] - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        var.sqrt()
    }
}

/// A dense, contiguous, row-major `rows x cols` matrix of `f32`: points that arrive in single
/// precision (`f32` or 8-bit data) held in half the memory of a [`Matrix`].
///
/// Only the stages that read the points row by row take it (the PCA projection); everything
/// downstream works on the `f64` [`Matrix`] it is projected or widened into, which holds the
/// same values exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixF32 {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl MatrixF32 {
    /// Wraps a row-major buffer; fails on a length that is not `rows * cols` or a non-finite value.
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        check_buffer(rows, cols, &data)?;
        Ok(Self { rows, cols, data })
    }

    /// Number of rows (points).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Number of columns (dimensions).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// Row `i` as a slice.
    #[inline]
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// The whole row-major buffer.
    #[inline]
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// The same values in double precision (exactly: every `f32` is an `f64`).
    pub fn to_f64(&self) -> Matrix {
        Matrix::from_parts(self.rows, self.cols, self.data.iter().map(|&v| f64::from(v)).collect())
    }
}

/// Row-major points in either precision, read row by row and widened to `f64` exactly: what
/// the PCA projection reads, so that `f32` points give the same projection bits as the same
/// values in a [`Matrix`].
pub trait PointRows: Sync {
    /// The stored scalar.
    type Value: Copy + Into<f64> + Send + Sync;
    /// Number of rows (points).
    fn rows(&self) -> usize;
    /// Number of columns (dimensions).
    fn cols(&self) -> usize;
    /// Row `i`.
    fn row(&self, i: usize) -> &[Self::Value];
}

impl PointRows for Matrix {
    type Value = f64;
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    #[inline]
    fn row(&self, i: usize) -> &[f64] {
        Matrix::row(self, i)
    }
}

impl PointRows for MatrixF32 {
    type Value = f32;
    fn rows(&self) -> usize {
        self.rows
    }
    fn cols(&self) -> usize {
        self.cols
    }
    #[inline]
    fn row(&self, i: usize) -> &[f32] {
        MatrixF32::row(self, i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn single_precision_checks_and_widens_exactly() {
        assert!(matches!(MatrixF32::new(2, 2, vec![1.0; 3]), Err(Error::Shape { .. })));
        assert!(matches!(
            MatrixF32::new(2, 2, vec![1.0, 2.0, f32::NAN, 4.0]),
            Err(Error::NonFinite { row: 1, col: 0, .. })
        ));
        let x = MatrixF32::new(2, 2, vec![0.1, -3.5, 1e-30, 255.0]).unwrap();
        let wide = x.to_f64();
        assert_eq!(wide.row(0), &[f64::from(0.1_f32), -3.5]);
        assert_eq!(PointRows::row(&x, 1), &[1e-30_f32, 255.0]);
        assert_eq!((PointRows::rows(&x), PointRows::cols(&x)), (2, 2));
    }
}
