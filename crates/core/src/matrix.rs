//! Dense row-major matrices: the input points and the embedding.

use crate::{Error, Result};

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
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(Error::Shape { rows, cols, len: data.len() });
        }
        if let Some(pos) = data.iter().position(|v| !v.is_finite()) {
            let (row, col) = pos.checked_div(cols).map_or((0, 0), |row| (row, pos % cols));
            return Err(Error::NonFinite { row, col, value: data[pos] });
        }
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

    /// Subtracts the column means so that the matrix is centred at the origin.
    pub fn center(&mut self) {
        if self.rows == 0 {
            return;
        }
        let mut mean = vec![0.0; self.cols];
        for row in self.data.chunks_exact(self.cols) {
            for (m, v) in mean.iter_mut().zip(row) {
                *m += v;
            }
        }
        for m in &mut mean {
            *m /= self.rows as f64;
        }
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
