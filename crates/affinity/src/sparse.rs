//! Exact neighbours of sparse points ([`SparsePoints`]), in O(n + nnz) memory per thread.

use rayon::prelude::*;
use tsne_core::{check_neighbor_count, neighbor_order, Error, KnnGraph, Result, SparsePoints};

use crate::Metric;

/// The exact `k` nearest neighbours of every sparse point under `metric` (Euclidean, or
/// cosine as Euclidean on rows scaled to unit length), the same graph, bit for bit, as
/// [`BruteForce`](crate::BruteForce) on the same values stored densely.
///
/// Per query `i`, the dot products with every other row come from the columns' inverted
/// lists (work proportional to the non-zeros that share a column with row `i`), and every
/// squared distance is screened as `|x_i|^2 + |x_j|^2 - 2 x_i . x_j` with the rigorous `f64`
/// rounding bound `e = 2 (m + 8) eps (|x_i| + |x_j|)^2` (`m` the most non-zeros of a row):
/// only candidates whose lower bound is at most the k-th smallest upper bound are re-ranked
/// with [`SparsePoints::squared_distance`], which repeats the dense code's operations.
/// Other metrics have no such screen and are refused.
pub fn sparse_neighbors(points: &SparsePoints, k: usize, metric: Metric) -> Result<KnnGraph> {
    check_neighbor_count(k, points.rows())?;
    match metric {
        Metric::Euclidean => euclidean(points, k),
        Metric::Cosine => Metric::cosine_from_euclidean(euclidean(&points.normalized()?, k)?),
        other => Err(Error::Unsupported {
            backend: "the sparse neighbour search".into(),
            what: format!("the {} metric (use Euclidean or cosine, or dense points)", other.name()),
        }),
    }
}

/// Row `j` and value of every stored entry, by column.
struct Columns {
    offsets: Vec<usize>,
    rows: Vec<u32>,
    values: Vec<f64>,
}

impl Columns {
    fn of(points: &SparsePoints) -> Self {
        let mut offsets = vec![0usize; points.cols() + 1];
        for i in 0..points.rows() {
            points.row(i).0.iter().for_each(|&c| offsets[c as usize + 1] += 1);
        }
        for c in 0..points.cols() {
            offsets[c + 1] += offsets[c];
        }
        let mut next = offsets.clone();
        let (mut rows, mut values) = (vec![0u32; points.nnz()], vec![0.0; points.nnz()]);
        for i in 0..points.rows() {
            let (cols, vals) = points.row(i);
            for (&c, &v) in cols.iter().zip(vals) {
                let at = &mut next[c as usize];
                rows[*at] = i as u32;
                values[*at] = v;
                *at += 1;
            }
        }
        Self { offsets, rows, values }
    }
}

/// A query's dot products with every row, the screened `(lower, upper, j)` bounds and the
/// exactly ranked survivors.
type Scratch = (Vec<f64>, Vec<(f64, f64, u32)>, Vec<(f64, u32)>);

fn euclidean(points: &SparsePoints, k: usize) -> Result<KnnGraph> {
    let n = points.rows();
    let columns = Columns::of(points);
    let squared: Vec<f64> = (0..n).map(|i| points.row(i).1.iter().map(|v| v * v).sum()).collect();
    let length: Vec<f64> = squared.iter().map(|v| v.sqrt()).collect();
    let widest = (0..n).map(|i| points.row(i).0.len()).max().unwrap_or(0);
    let bound_factor = 2.0 * (widest as f64 + 8.0) * f64::EPSILON;
    let mut indices = vec![0u32; n * k];
    let mut distances = vec![0.0; n * k];
    indices.par_chunks_mut(k).zip(distances.par_chunks_mut(k)).enumerate().for_each_init(
        || (vec![0.0f64; n], Vec::with_capacity(n), Vec::new()),
        |(dot, bounds, exact): &mut Scratch, (i, (idx, dist))| {
            let (cols, vals) = points.row(i);
            for (&c, &v) in cols.iter().zip(vals) {
                let r = columns.offsets[c as usize]..columns.offsets[c as usize + 1];
                for (&j, &w) in columns.rows[r.clone()].iter().zip(&columns.values[r]) {
                    dot[j as usize] += v * w;
                }
            }
            bounds.clear();
            bounds.extend((0..n).filter(|&j| j != i).map(|j| {
                let s = squared[i] + squared[j] - 2.0 * dot[j];
                let reach = length[i] + length[j];
                let e = bound_factor * reach * reach + f64::MIN_POSITIVE;
                (s - e, s + e, j as u32)
            }));
            dot.fill(0.0);
            let (_, kth, _) = bounds.select_nth_unstable_by(k - 1, |a, b| a.1.total_cmp(&b.1));
            let cutoff = kth.1;
            exact.clear();
            exact.extend(
                bounds
                    .iter()
                    .filter(|b| b.0 <= cutoff)
                    .map(|&(_, _, j)| (points.squared_distance(i, j as usize), j)),
            );
            exact.sort_unstable_by(neighbor_order);
            for (t, &(d2, j)) in exact.iter().take(k).enumerate() {
                idx[t] = j;
                dist[t] = d2.sqrt();
            }
        },
    );
    KnnGraph::new(n, k, indices, distances)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BruteForce;
    use tsne_core::{Matrix, NeighborSearch};

    /// A sparse matrix (about one entry in four, with duplicated rows and an empty one) and
    /// the same values dense.
    fn data(n: usize, d: usize) -> (SparsePoints, Matrix) {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let (mut offsets, mut columns, mut values, mut dense) = (vec![0], Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let copy_of = (i % 7 == 6).then(|| i - 1);
            let mut row = vec![0.0; d];
            for c in 0..d {
                let v = match copy_of {
                    Some(r) => dense[r * d + c],
                    None if i != 3 && next() % 4 == 0 => (next() % 1000) as f64 / 13.0,
                    None => 0.0,
                };
                if v != 0.0 {
                    columns.push(c as u32);
                    values.push(v);
                }
                row[c] = v;
            }
            dense.extend(row);
            offsets.push(columns.len());
        }
        (SparsePoints::new(n, d, offsets, columns, values).unwrap(), Matrix::new(n, d, dense).unwrap())
    }

    #[test]
    fn sparse_graph_is_the_dense_exact_graph_bit_for_bit() {
        for d in [5usize, 37, 300] {
            let (sparse, dense) = data(120, d);
            let k = 9;
            let a = sparse_neighbors(&sparse, k, Metric::Euclidean).unwrap();
            let b = BruteForce::new(Metric::Euclidean).search(&dense, k).unwrap();
            assert_eq!(a.indices_flat(), b.indices_flat(), "d {d}");
            let bits = |g: &KnnGraph| g.distances_flat().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&a), bits(&b), "d {d}");
        }
    }

    #[test]
    fn cosine_matches_the_dense_search_and_manhattan_is_refused() {
        // The empty row has no direction: take rows that all have one.
        let (sparse, dense) = data(120, 37);
        let keep: Vec<usize> = (0..120).filter(|&i| !sparse.row(i).0.is_empty()).collect();
        let rows: Vec<Vec<f64>> = keep.iter().map(|&i| dense.row(i).to_vec()).collect();
        let dense = Matrix::from_rows(&rows).unwrap();
        let (mut offsets, mut columns, mut values) = (vec![0], Vec::new(), Vec::new());
        for &i in &keep {
            let (c, v) = sparse.row(i);
            columns.extend_from_slice(c);
            values.extend_from_slice(v);
            offsets.push(columns.len());
        }
        let sparse = SparsePoints::new(keep.len(), 37, offsets, columns, values).unwrap();
        let a = sparse_neighbors(&sparse, 6, Metric::Cosine).unwrap();
        let b = BruteForce::new(Metric::Cosine).search(&dense, 6).unwrap();
        assert_eq!(a, b);
        assert!(sparse_neighbors(&sparse, 6, Metric::Manhattan).is_err());
        assert!(sparse_neighbors(&sparse, keep.len(), Metric::Euclidean).is_err());
    }
}
