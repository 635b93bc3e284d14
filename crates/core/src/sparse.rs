//! Compressed sparse row matrices for the affinities P.

use rayon::prelude::*;

use crate::{Error, Result};

/// A square `n x n` sparse matrix in CSR form with sorted, unique column indices per row.
///
/// Holds conditional affinities `p_{j|i}` (rows sum to one) or joint affinities `p_ij`
/// (symmetric, grand sum one). Memory is O(nnz), never O(n^2) unless the data is dense:
/// 8 bytes an entry (a `u32` column and an `f32` value). Values are computed in `f64` and
/// stored rounded to `f32` (relative error below 6e-8, far under any approximation of the
/// gradient); sums over them are taken in `f64`. Row offsets are `usize`, so the number of
/// entries is not limited to 2^31 or 2^32.
#[derive(Debug, Clone, PartialEq)]
pub struct CsrMatrix {
    n: usize,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    values: Vec<f32>,
}

impl CsrMatrix {
    /// Builds and validates: monotone `indptr`, sorted unique in-range columns, finite
    /// non-negative values, no diagonal entries.
    pub fn new(n: usize, indptr: Vec<usize>, indices: Vec<u32>, values: Vec<f32>) -> Result<Self> {
        let what = "sparse affinity matrix";
        let bad = |reason: String| Err(Error::InvalidGraph { what, reason });
        if indptr.len() != n + 1
            || indptr[0] != 0
            || indptr[n] != indices.len()
            || indices.len() != values.len()
        {
            return bad(format!(
                "inconsistent CSR arrays (n = {n}, indptr {}, indices {}, values {})",
                indptr.len(),
                indices.len(),
                values.len()
            ));
        }
        // Monotone offsets first: with them, every row's range lies inside the arrays.
        if let Some(i) = (0..n).find(|&i| indptr[i] > indptr[i + 1]) {
            return bad(format!("row pointer decreases at row {i}"));
        }
        for i in 0..n {
            let (a, b) = (indptr[i], indptr[i + 1]);
            for t in a..b {
                let j = indices[t] as usize;
                if j >= n {
                    return bad(format!("row {i} names column {j} of {n}"));
                }
                if j == i {
                    return bad(format!("row {i} has a diagonal entry"));
                }
                if t > a && indices[t - 1] >= indices[t] {
                    return bad(format!("row {i} columns are not sorted and unique"));
                }
                let v = values[t];
                if !v.is_finite() || v < 0.0 {
                    return bad(format!("row {i}, column {j} has value {v}"));
                }
            }
        }
        Ok(Self { n, indptr, indices, values })
    }

    /// Assembles from per-row `(column, value)` lists, sorting each row and summing duplicates
    /// (in `f64`, rounded once to `f32`). A stored zero on the diagonal (scipy keeps explicit
    /// zeros) is the same matrix and is dropped; any other diagonal value is an error.
    pub fn from_rows(rows: Vec<Vec<(u32, f64)>>) -> Result<Self> {
        let n = rows.len();
        let mut indptr = Vec::with_capacity(n + 1);
        indptr.push(0);
        let mut indices = Vec::new();
        let mut values = Vec::new();
        for (i, mut row) in rows.into_iter().enumerate() {
            if let Some(&(_, v)) = row.iter().find(|&&(j, v)| j as usize == i && v != 0.0) {
                return Err(Error::InvalidGraph {
                    what: "sparse affinity matrix",
                    reason: format!("diagonal entry ({i}, {i}) is {v}, not 0"),
                });
            }
            row.retain(|&(j, _)| j as usize != i);
            row.sort_by_key(|&(j, _)| j);
            let mut t = 0;
            while t < row.len() {
                let (j, mut v) = row[t];
                t += 1;
                while t < row.len() && row[t].0 == j {
                    v += row[t].1;
                    t += 1;
                }
                indices.push(j);
                values.push(v as f32);
            }
            indptr.push(indices.len());
        }
        Self::new(n, indptr, indices, values)
    }

    /// Side length.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of stored entries.
    pub fn nnz(&self) -> usize {
        self.values.len()
    }

    /// Column indices and values of row `i`.
    #[inline]
    pub fn row(&self, i: usize) -> (&[u32], &[f32]) {
        let r = self.indptr[i]..self.indptr[i + 1];
        (&self.indices[r.clone()], &self.values[r])
    }

    /// Row pointers (length `n + 1`).
    pub fn indptr(&self) -> &[usize] {
        &self.indptr
    }

    /// Column indices of all entries.
    pub fn indices(&self) -> &[u32] {
        &self.indices
    }

    /// Values of all entries.
    pub fn values(&self) -> &[f32] {
        &self.values
    }

    /// Sum of all entries, in `f64`.
    pub fn sum(&self) -> f64 {
        self.values.iter().map(|&v| f64::from(v)).sum()
    }

    /// Entry `(i, j)`, zero when not stored.
    pub fn get(&self, i: usize, j: usize) -> f64 {
        let (cols, vals) = self.row(i);
        cols.binary_search(&(j as u32)).map_or(0.0, |t| f64::from(vals[t]))
    }

    /// The transpose, in O(nnz).
    pub fn transpose(&self) -> Self {
        let mut counts = vec![0usize; self.n + 1];
        for &j in &self.indices {
            counts[j as usize + 1] += 1;
        }
        for i in 0..self.n {
            counts[i + 1] += counts[i];
        }
        let indptr = counts.clone();
        let mut next = counts;
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0.0; self.nnz()];
        // Rows are visited in increasing order, so each transposed row comes out sorted.
        for i in 0..self.n {
            let (cols, vals) = self.row(i);
            for (&j, &v) in cols.iter().zip(vals) {
                let t = next[j as usize];
                indices[t] = i as u32;
                values[t] = v;
                next[j as usize] += 1;
            }
        }
        Self { n: self.n, indptr, indices, values }
    }

    /// Joint affinities from conditional ones: `p_ij = (p_{j|i} + p_{i|j}) / 2N`
    /// (van der Maaten & Hinton 2008, eq. 5 and after), computed sparsely in O(nnz).
    ///
    /// The result is symmetric and sums to one when every row of `self` sums to one.
    ///
    /// Memory: besides `self` and the result, the transpose of one block of rows at a time
    /// (its entries' rows and positions in `self`, 8 bytes an entry; at most an eighth of
    /// `self` once it holds more than 2^22 entries); every block scans the
    /// column indices of `self` once.
    pub fn symmetrize(&self) -> Self {
        // Positions fit in 32 bits below 2^32 entries; wider ones take a word.
        let narrow = self.nnz() <= u32::MAX as usize;
        self.symmetrize_in_blocks(SYMMETRIZE_BLOCK.max(self.nnz().div_ceil(8)), narrow)
    }

    /// [`Self::symmetrize`] with transposed blocks of about `block` entries (a row whose
    /// column holds more is a block of its own), keeping positions in `self` as `u32` when
    /// `narrow`, else as `usize`.
    fn symmetrize_in_blocks(&self, block: usize, narrow: bool) -> Self {
        let n = self.n;
        let mut col_counts = vec![0usize; n];
        for &j in &self.indices {
            col_counts[j as usize] += 1;
        }
        let largest = block.min(self.nnz()).max(col_counts.iter().copied().max().unwrap_or(0));
        let mut transposed = TransposedBlock::new(largest, narrow);
        let mut out = Self { n, indptr: Vec::with_capacity(n + 1), indices: Vec::new(), values: Vec::new() };
        out.indptr.push(0);
        out.indices.reserve(self.nnz() * 2);
        out.values.reserve(self.nnz() * 2);
        let mut a0 = 0;
        while a0 < n {
            // Rows a0..a1 of the transpose: as many as fit in the block (at least one).
            let mut a1 = a0 + 1;
            let mut total = col_counts[a0];
            while a1 < n && total + col_counts[a1] <= block {
                total += col_counts[a1];
                a1 += 1;
            }
            transposed.fill(self, a0..a1, &col_counts);
            self.append_merged_rows(&transposed, 0.5 / n as f64, &mut out);
            a0 = a1;
        }
        out
    }

    /// Appends rows `block.rows` of `(self + self^T) * scale` to `out`: the row lengths
    /// first, then each row merged in parallel into its own slice.
    fn append_merged_rows(&self, block: &TransposedBlock, scale: f64, out: &mut Self) {
        let rows = block.rows.clone();
        let lens: Vec<usize> =
            rows.clone().into_par_iter().map(|i| merged_len(self.row(i).0, block.row(i))).collect();
        let base = out.indices.len();
        for &len in &lens {
            out.indptr.push(out.indptr.last().copied().unwrap_or(0) + len);
        }
        out.indices.resize(out.indptr[rows.end], 0);
        out.values.resize(out.indptr[rows.end], 0.0);
        let mut slices = Vec::with_capacity(rows.len());
        let (mut rest_i, mut rest_v) = (&mut out.indices[base..], &mut out.values[base..]);
        for (i, &len) in rows.zip(&lens) {
            let (ri, ti) = rest_i.split_at_mut(len);
            let (rv, tv) = rest_v.split_at_mut(len);
            slices.push((i, ri, rv));
            (rest_i, rest_v) = (ti, tv);
        }
        slices.into_par_iter().for_each(|(i, out_i, out_v)| self.merge_row(block, i, scale, out_i, out_v));
    }

    /// Row `i` of `(self + self^T) * scale` into `out_i`, `out_v` (sized by [`merged_len`]):
    /// the union of the row's columns and the transposed row's, values added in `f64`.
    fn merge_row(&self, block: &TransposedBlock, i: usize, scale: f64, out_i: &mut [u32], out_v: &mut [f32]) {
        let (ca, va) = self.row(i);
        let cb = block.row(i);
        let t0 = block.indptr[i - block.rows.start];
        let vb = |b: usize| f64::from(self.values[block.source(t0 + b)]);
        let (mut a, mut b) = (0, 0);
        for (oi, ov) in out_i.iter_mut().zip(out_v.iter_mut()) {
            let ja = ca.get(a).copied().unwrap_or(u32::MAX);
            let jb = cb.get(b).copied().unwrap_or(u32::MAX);
            let (j, v) = if ja == jb {
                a += 1;
                b += 1;
                (ja, f64::from(va[a - 1]) + vb(b - 1))
            } else if ja < jb {
                a += 1;
                (ja, f64::from(va[a - 1]))
            } else {
                b += 1;
                (jb, vb(b - 1))
            };
            *oi = j;
            *ov = (v * scale) as f32;
        }
    }

    /// Whether `self` equals its transpose to a relative tolerance.
    pub fn is_symmetric(&self, rel_tol: f64) -> bool {
        let t = self.transpose();
        self.indices == t.indices
            && self.values.iter().zip(&t.values).all(|(&a, &b)| {
                let (a, b) = (f64::from(a), f64::from(b));
                (a - b).abs() <= rel_tol * a.abs().max(b.abs())
            })
    }

    /// A numbering of the points that puts graph neighbours near each other: breadth-first
    /// search over the stored entries, from the lowest unvisited index, neighbours in column
    /// order. Rows and their columns then touch nearby memory (each cluster of the data
    /// becomes a contiguous range), which is what the gradient's gathers need.
    ///
    /// `order[a]` is the old index of the point numbered `a`; pass it to [`Self::permuted`].
    pub fn locality_order(&self) -> Vec<u32> {
        let mut order = Vec::with_capacity(self.n);
        let mut seen = vec![false; self.n];
        for start in 0..self.n {
            if seen[start] {
                continue;
            }
            seen[start] = true;
            let mut head = order.len();
            order.push(start as u32);
            while head < order.len() {
                let i = order[head] as usize;
                head += 1;
                for &j in self.row(i).0 {
                    if !std::mem::replace(&mut seen[j as usize], true) {
                        order.push(j);
                    }
                }
            }
        }
        order
    }

    /// The same matrix with the points renumbered: entry `(a, b)` of the result is entry
    /// `(order[a], order[b])` of `self`. Errors unless `order` is a permutation of `0..n`.
    pub fn permuted(&self, order: &[u32]) -> Result<Self> {
        self.clone().into_permuted(order)
    }

    /// [`Self::permuted`], reusing `self`'s arrays: each row is renumbered and sorted where it
    /// lies, then the rows are gathered into their new order one array at a time, so at most
    /// one array of `nnz` entries is ever copied (12 bytes an entry at the peak instead of 16).
    pub fn into_permuted(mut self, order: &[u32]) -> Result<Self> {
        let inverse = inverse_permutation(order, self.n)?;
        let mut rows = Vec::with_capacity(self.n);
        let (mut rest_i, mut rest_v) = (&mut self.indices[..], &mut self.values[..]);
        for w in self.indptr.windows(2) {
            let (ri, ti) = rest_i.split_at_mut(w[1] - w[0]);
            let (rv, tv) = rest_v.split_at_mut(w[1] - w[0]);
            rows.push((ri, rv));
            (rest_i, rest_v) = (ti, tv);
        }
        rows.into_par_iter().for_each_init(Vec::new, |pairs: &mut Vec<(u32, f32)>, (ri, rv)| {
            pairs.clear();
            pairs.extend(ri.iter().zip(rv.iter()).map(|(&j, &v)| (inverse[j as usize], v)));
            // Columns are distinct within a row, so the unstable sort has one result.
            pairs.sort_unstable_by_key(|&(j, _)| j);
            for ((i, v), &(j, x)) in ri.iter_mut().zip(rv.iter_mut()).zip(pairs.iter()) {
                *i = j;
                *v = x;
            }
        });
        let mut indptr = Vec::with_capacity(self.n + 1);
        indptr.push(0);
        for &i in order {
            let i = i as usize;
            indptr.push(indptr.last().copied().unwrap_or(0) + self.indptr[i + 1] - self.indptr[i]);
        }
        let indices = gather_rows(&self.indptr, &indptr, order, std::mem::take(&mut self.indices));
        let values = gather_rows(&self.indptr, &indptr, order, std::mem::take(&mut self.values));
        Ok(Self { n: self.n, indptr, indices, values })
    }

    /// Multiplies every value by `factor` (in `f64`, rounded to `f32`).
    pub fn scale(&mut self, factor: f64) {
        self.values.iter_mut().for_each(|v| *v = (f64::from(*v) * factor) as f32);
    }
}

/// Entries of the transpose that [`CsrMatrix::symmetrize`] builds at a time, at least (4M
/// entries, 32 MB).
const SYMMETRIZE_BLOCK: usize = 1 << 22;

/// The rows of `data` (laid out by `from`) in a new order: row `a` of the result (laid out by
/// `to`) is row `order[a]`. `data` is freed before returning.
fn gather_rows<T: Copy + Default + Send + Sync>(
    from: &[usize],
    to: &[usize],
    order: &[u32],
    data: Vec<T>,
) -> Vec<T> {
    let mut out = vec![T::default(); data.len()];
    let mut rows = Vec::with_capacity(order.len());
    let mut rest = &mut out[..];
    for (a, w) in to.windows(2).enumerate() {
        let (row, tail) = rest.split_at_mut(w[1] - w[0]);
        rows.push((order[a] as usize, row));
        rest = tail;
    }
    rows.into_par_iter().for_each(|(old, row)| row.copy_from_slice(&data[from[old]..from[old + 1]]));
    out
}

/// Rows `rows` of the transpose of a matrix: for each entry its row in the matrix
/// (`indices`) and its position in the matrix's arrays (`source32` when `narrow`, else
/// `source`), in buffers sized once for the largest block.
struct TransposedBlock {
    rows: std::ops::Range<usize>,
    indptr: Vec<usize>,
    indices: Vec<u32>,
    narrow: bool,
    source32: Vec<u32>,
    source: Vec<usize>,
}

impl TransposedBlock {
    fn new(largest: usize, narrow: bool) -> Self {
        let (source32, source) =
            if narrow { (vec![0u32; largest], Vec::new()) } else { (Vec::new(), vec![0usize; largest]) };
        Self { rows: 0..0, indptr: Vec::new(), indices: vec![0u32; largest], narrow, source32, source }
    }

    /// Transposes rows `rows` of `m` (whose column counts are `col_counts`) in one scan of
    /// its column indices; rows are visited in increasing order, so each transposed row
    /// comes out sorted.
    fn fill(&mut self, m: &CsrMatrix, rows: std::ops::Range<usize>, col_counts: &[usize]) {
        self.indptr.clear();
        self.indptr.push(0);
        for a in rows.clone() {
            self.indptr.push(self.indptr[a - rows.start] + col_counts[a]);
        }
        let mut next = self.indptr.clone();
        for r in 0..m.n {
            for s in m.indptr[r]..m.indptr[r + 1] {
                let j = m.indices[s] as usize;
                if rows.contains(&j) {
                    let t = next[j - rows.start];
                    self.indices[t] = r as u32;
                    if self.narrow {
                        self.source32[t] = s as u32;
                    } else {
                        self.source[t] = s;
                    }
                    next[j - rows.start] += 1;
                }
            }
        }
        self.rows = rows;
    }

    /// Row `i` (in `rows`) of the transpose: the matrix rows holding column `i`.
    fn row(&self, i: usize) -> &[u32] {
        let k = i - self.rows.start;
        &self.indices[self.indptr[k]..self.indptr[k + 1]]
    }

    /// Position in the matrix of transposed entry `t`.
    fn source(&self, t: usize) -> usize {
        if self.narrow {
            self.source32[t] as usize
        } else {
            self.source[t]
        }
    }
}

/// The length of the union of two sorted, duplicate-free column lists.
fn merged_len(a: &[u32], b: &[u32]) -> usize {
    let (mut x, mut y, mut common) = (0, 0, 0);
    while x < a.len() && y < b.len() {
        match a[x].cmp(&b[y]) {
            std::cmp::Ordering::Less => x += 1,
            std::cmp::Ordering::Greater => y += 1,
            std::cmp::Ordering::Equal => {
                common += 1;
                x += 1;
                y += 1;
            }
        }
    }
    a.len() + b.len() - common
}

/// `inverse[order[a]] = a`, or an error unless `order` is a permutation of `0..n`.
pub fn inverse_permutation(order: &[u32], n: usize) -> Result<Vec<u32>> {
    let bad = |reason: String| Err(Error::InvalidParameter { name: "order", reason });
    if order.len() != n {
        return bad(format!("has {} entries for {n} points", order.len()));
    }
    let mut inverse = vec![u32::MAX; n];
    for (a, &i) in order.iter().enumerate() {
        match inverse.get_mut(i as usize) {
            Some(slot) if *slot == u32::MAX => *slot = a as u32,
            Some(_) => return bad(format!("names point {i} twice")),
            None => return bad(format!("names point {i} of {n}")),
        }
    }
    Ok(inverse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetrize_averages_both_directions() {
        // Rows sum to one; (0,1) present in both directions, (1,2) and (2,0) one-way.
        let p =
            CsrMatrix::from_rows(vec![vec![(1, 1.0)], vec![(0, 0.25), (2, 0.75)], vec![(0, 1.0)]]).unwrap();
        let s = p.symmetrize();
        assert!(s.is_symmetric(0.0));
        // Each value is the f64 result rounded once to f32.
        assert_eq!(s.get(0, 1), f64::from(((1.0 + 0.25) / 6.0) as f32));
        assert_eq!(s.get(1, 2), f64::from((0.75 / 6.0) as f32));
        assert_eq!(s.get(2, 0), f64::from((1.0 / 6.0) as f32));
        assert!((s.sum() - 1.0).abs() < 1e-7);
    }

    /// Any block size gives the same result, bit for bit, as one block.
    #[test]
    fn symmetrize_blocks_change_nothing() {
        let p = random_matrix(300, 11);
        let whole = p.symmetrize_in_blocks(usize::MAX, true);
        assert!(whole.is_symmetric(0.0));
        for block in [1, 2, 7, 50, 400] {
            assert_eq!(p.symmetrize_in_blocks(block, true), whole, "block {block}");
            // The word-sized positions used beyond 2^32 entries give the same matrix.
            assert_eq!(p.symmetrize_in_blocks(block, false), whole, "block {block}, wide");
        }
        assert_eq!(p.symmetrize(), whole);
    }

    #[test]
    fn rejects_diagonal_and_unsorted() {
        assert!(CsrMatrix::new(2, vec![0, 1, 1], vec![0], vec![1.0]).is_err());
        // From rows, a stored zero on the diagonal is dropped and any other value refused.
        let rows = |d: f64| vec![vec![(0, d), (1, 0.5)], vec![(0, 0.5)]];
        let without = CsrMatrix::from_rows(vec![vec![(1, 0.5)], vec![(0, 0.5)]]).unwrap();
        assert_eq!(CsrMatrix::from_rows(rows(0.0)).unwrap(), without);
        let err = CsrMatrix::from_rows(rows(0.25)).unwrap_err().to_string();
        assert!(err.contains("diagonal entry (0, 0) is 0.25, not 0"), "{err}");
        assert!(CsrMatrix::new(3, vec![0, 2, 2, 2], vec![2, 1], vec![1.0, 1.0]).is_err());
        assert!(CsrMatrix::new(2, vec![0, 1, 1], vec![1], vec![f32::NAN]).is_err());
    }

    /// A random sparse matrix (a few entries per row, at random columns).
    fn random_matrix(n: usize, seed: u64) -> CsrMatrix {
        let mut state = seed;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        let mut rows = vec![Vec::new(); n];
        for (i, row) in rows.iter_mut().enumerate() {
            for _ in 0..next() % 6 {
                let j = next() % n;
                if j != i {
                    row.push((j as u32, (next() % 100) as f64 + 1.0));
                }
            }
        }
        CsrMatrix::from_rows(rows).unwrap()
    }

    #[test]
    fn permuted_moves_every_entry() {
        let p = random_matrix(60, 7);
        let order: Vec<u32> = (0..60).map(|a| (a * 37 % 60) as u32).collect();
        let q = p.permuted(&order).unwrap();
        assert_eq!(q.nnz(), p.nnz());
        for a in 0..60 {
            for b in 0..60 {
                assert_eq!(q.get(a, b), p.get(order[a] as usize, order[b] as usize));
            }
        }
        // Validated like any other matrix: sorted unique columns, no diagonal.
        let q2 = CsrMatrix::new(60, q.indptr().to_vec(), q.indices().to_vec(), q.values().to_vec()).unwrap();
        assert_eq!(q2, q);
        // The inverse permutation gives the original back.
        let inverse = inverse_permutation(&order, 60).unwrap();
        assert_eq!(q.permuted(&inverse).unwrap(), p);
    }

    #[test]
    fn permuted_rejects_non_permutations() {
        let p = random_matrix(4, 1);
        for bad in [&[0u32, 1, 2][..], &[0, 1, 1, 3], &[0, 1, 2, 4]] {
            assert!(matches!(p.permuted(bad), Err(Error::InvalidParameter { name: "order", .. })));
        }
    }

    /// Two interleaved cliques (even and odd indices) come out as two contiguous ranges.
    #[test]
    fn locality_order_groups_connected_points() {
        let n = 40;
        let rows = (0..n)
            .map(|i| (0..n).filter(|&j| j != i && j % 2 == i % 2).map(|j| (j as u32, 1.0)).collect())
            .collect();
        let p = CsrMatrix::from_rows(rows).unwrap();
        let order = p.locality_order();
        assert!(inverse_permutation(&order, n).is_ok());
        assert!(order[..n / 2].iter().all(|&i| i % 2 == 0));
        assert!(order[n / 2..].iter().all(|&i| i % 2 == 1));
        // Every point of a random matrix appears exactly once.
        let r = random_matrix(300, 3);
        assert!(inverse_permutation(&r.locality_order(), 300).is_ok());
    }
}
