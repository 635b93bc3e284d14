//! Points stored by their non-zero coordinates (CSR rows), e.g. TF-IDF or count matrices.

use crate::{Error, Result};

/// `n` points in `d` dimensions held as compressed sparse rows: row `i`'s non-zero
/// coordinates are `values[offsets[i]..offsets[i + 1]]` at columns
/// `columns[offsets[i]..offsets[i + 1]]`, strictly increasing. Memory is O(n + nnz),
/// whatever `d` is. Explicit zeros may be stored; they are coordinates like any other.
#[derive(Debug, Clone, PartialEq)]
pub struct SparsePoints {
    n: usize,
    d: usize,
    offsets: Vec<usize>,
    columns: Vec<u32>,
    values: Vec<f64>,
}

impl SparsePoints {
    /// Checks and wraps CSR arrays: `offsets` of length `n + 1`, non-decreasing from 0 to
    /// `nnz`; each row's columns strictly increasing and below `d`; every value finite.
    pub fn new(n: usize, d: usize, offsets: Vec<usize>, columns: Vec<u32>, values: Vec<f64>) -> Result<Self> {
        let bad = |reason: String| Err(Error::InvalidParameter { name: "points", reason });
        if offsets.len() != n + 1 || offsets[0] != 0 || offsets[n] != columns.len() {
            return bad(format!(
                "{} row offsets for {n} rows (need {}, from 0 to the {} stored entries)",
                offsets.len(),
                n + 1,
                columns.len()
            ));
        }
        if columns.len() != values.len() {
            return bad(format!("{} columns but {} values", columns.len(), values.len()));
        }
        if d == 0 {
            return bad("rows have no columns".into());
        }
        for i in 0..n {
            let (a, b) = (offsets[i], offsets[i + 1]);
            if b < a {
                return bad(format!("row offsets decrease at row {i}"));
            }
            let cols = &columns[a..b];
            if let Some(&c) = cols.iter().find(|&&c| c as usize >= d) {
                return bad(format!("row {i} has column {c}, but there are {d} columns"));
            }
            if cols.windows(2).any(|w| w[0] >= w[1]) {
                return bad(format!("row {i}: columns must be strictly increasing (sorted, no duplicates)"));
            }
            if let Some(t) = values[a..b].iter().position(|v| !v.is_finite()) {
                return bad(format!("non-finite value {} at row {i}, column {}", values[a + t], cols[t]));
            }
        }
        Ok(Self { n, d, offsets, columns, values })
    }

    /// Number of points.
    pub fn rows(&self) -> usize {
        self.n
    }

    /// Number of dimensions.
    pub fn cols(&self) -> usize {
        self.d
    }

    /// Stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Columns and values of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> (&[u32], &[f64]) {
        let r = self.offsets[i]..self.offsets[i + 1];
        (&self.columns[r.clone()], &self.values[r])
    }

    /// The rows scaled to unit Euclidean length (for the cosine distance); a row without a
    /// non-zero value is an error naming it.
    pub fn normalized(&self) -> Result<Self> {
        let mut out = self.clone();
        for i in 0..self.n {
            let r = self.offsets[i]..self.offsets[i + 1];
            let norm = out.values[r.clone()].iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm.is_nan() || norm <= 0.0 {
                return Err(Error::InvalidParameter {
                    name: "metric",
                    reason: format!("row {i} is all zeros, so its cosine distance is undefined"),
                });
            }
            out.values[r].iter_mut().for_each(|v| *v /= norm);
        }
        Ok(out)
    }

    /// `|x_i - x_j|^2` with the same operations, in the same order, as
    /// [`gradient::squared_distance`](crate::gradient::squared_distance) on the dense rows:
    /// columns below `8 floor(d / 8)` go to lane `c mod 8`, the lanes are summed pairwise,
    /// then the remaining columns are added in order. A column where both rows are zero adds
    /// an exact `+0`, so skipping it changes no bit: sparse and dense rows give the same value.
    pub fn squared_distance(&self, i: usize, j: usize) -> f64 {
        let body = (self.d / 8 * 8) as u32;
        let mut acc = [0.0f64; 8];
        let mut sum: Option<f64> = None;
        for (c, diff) in Differences::new(self.row(i), self.row(j)) {
            match &mut sum {
                None if c < body => acc[(c % 8) as usize] += diff * diff,
                None => {
                    let lanes =
                        ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
                    sum = Some(lanes + diff * diff);
                }
                Some(s) => *s += diff * diff,
            }
        }
        sum.unwrap_or_else(|| {
            ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
        })
    }
}

/// `(column, x_c - y_c)` over the columns where either of two sparse rows is stored, in
/// increasing column order (a missing value is `0.0`, so `x - 0.0` and `0.0 - y` are the
/// dense code's differences bit for bit).
struct Differences<'a> {
    a: (&'a [u32], &'a [f64]),
    b: (&'a [u32], &'a [f64]),
    s: usize,
    t: usize,
}

impl<'a> Differences<'a> {
    fn new(a: (&'a [u32], &'a [f64]), b: (&'a [u32], &'a [f64])) -> Self {
        Self { a, b, s: 0, t: 0 }
    }
}

impl Iterator for Differences<'_> {
    type Item = (u32, f64);

    fn next(&mut self) -> Option<(u32, f64)> {
        let (x, y) = (self.a.0.get(self.s).copied(), self.b.0.get(self.t).copied());
        let (c, diff) = match (x, y) {
            (Some(x), Some(y)) if x == y => (x, self.a.1[self.s] - self.b.1[self.t]),
            (Some(x), Some(y)) if x < y => (x, self.a.1[self.s] - 0.0),
            (Some(x), None) => (x, self.a.1[self.s] - 0.0),
            (_, Some(y)) => (y, 0.0 - self.b.1[self.t]),
            (None, None) => return None,
        };
        if x == Some(c) {
            self.s += 1;
        }
        if y == Some(c) {
            self.t += 1;
        }
        Some((c, diff))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gradient::squared_distance;

    /// Dense rows of a sparse matrix.
    fn dense(x: &SparsePoints) -> Vec<Vec<f64>> {
        (0..x.rows())
            .map(|i| {
                let mut row = vec![0.0; x.cols()];
                let (c, v) = x.row(i);
                c.iter().zip(v).for_each(|(&c, &v)| row[c as usize] = v);
                row
            })
            .collect()
    }

    #[test]
    fn distances_are_the_dense_bits() {
        // Widths below, at and past one lane group, with a tail; irregular sparsity.
        for d in [3usize, 8, 13, 40] {
            let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ d as u64;
            let mut next = move || {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state
            };
            let n = 12;
            let (mut offsets, mut columns, mut values) = (vec![0], Vec::new(), Vec::new());
            for _ in 0..n {
                for c in 0..d {
                    if next() % 3 == 0 {
                        columns.push(c as u32);
                        values.push((next() % 2000) as f64 / 7.0 - 140.0);
                    }
                }
                offsets.push(columns.len());
            }
            let x = SparsePoints::new(n, d, offsets, columns, values).unwrap();
            let rows = dense(&x);
            for i in 0..n {
                for j in 0..n {
                    let (a, b) = (x.squared_distance(i, j), squared_distance(&rows[i], &rows[j]));
                    assert_eq!(a.to_bits(), b.to_bits(), "d {d}, rows {i} {j}: {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn malformed_arrays_are_errors() {
        assert!(SparsePoints::new(2, 3, vec![0, 1], vec![0], vec![1.0]).is_err());
        assert!(SparsePoints::new(1, 3, vec![0, 2], vec![1, 1], vec![1.0, 2.0]).is_err());
        assert!(SparsePoints::new(1, 3, vec![0, 1], vec![3], vec![1.0]).is_err());
        assert!(SparsePoints::new(1, 3, vec![0, 1], vec![0], vec![f64::NAN]).is_err());
        assert!(SparsePoints::new(1, 3, vec![0, 1], vec![2], vec![1.0]).is_ok());
    }
}
