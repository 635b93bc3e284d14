//! Quality measures of an embedding.

use rayon::prelude::*;
use tsne_affinity::{BruteForce, Metric};
use tsne_core::{gradient::squared_distance, Error, Matrix, NeighborSearch, Result};

/// Fraction of points whose label equals the majority label of their `k` nearest neighbours in
/// `embedding` (ties go to the smallest label). The standard kNN-classifier score of t-SNE
/// papers, computed leave-one-out over every point.
pub fn knn_accuracy<L: Ord + Clone>(embedding: &Matrix, labels: &[L], k: usize) -> Result<f64> {
    let n = embedding.rows();
    if labels.len() != n {
        return Err(Error::DimensionMismatch { what: "labels", expected: n, found: labels.len() });
    }
    let graph = BruteForce::default().search(embedding, k)?;
    let correct = (0..n).filter(|&i| majority_agrees(graph.neighbors(i), labels, i)).count();
    Ok(correct as f64 / n as f64)
}

/// [`knn_accuracy`] over `sample` query points evenly strided over the data (each against all
/// points), O(sample * n); equal to [`knn_accuracy`] when `sample >= n`. For embeddings too
/// large for the all-pairs search.
pub fn knn_accuracy_sampled<L: Ord + Clone + Sync>(
    embedding: &Matrix,
    labels: &[L],
    k: usize,
    sample: usize,
) -> Result<f64> {
    let n = embedding.rows();
    if sample >= n {
        return knn_accuracy(embedding, labels, k);
    }
    if labels.len() != n {
        return Err(Error::DimensionMismatch { what: "labels", expected: n, found: labels.len() });
    }
    if k == 0 || k >= n {
        return Err(Error::TooManyNeighbors { k, n });
    }
    let m = sample.max(1);
    let correct = (0..m)
        .into_par_iter()
        .map_init(
            || (Vec::with_capacity(n), vec![0u32; k], vec![0.0; k]),
            |(all, idx, dist), t| {
                let i = t * n / m;
                all.clear();
                all.extend(
                    (0..n)
                        .filter(|&j| j != i)
                        .map(|j| (squared_distance(embedding.row(i), embedding.row(j)), j as u32)),
                );
                tsne_affinity::nearest(all, idx, dist);
                usize::from(majority_agrees(idx, labels, i))
            },
        )
        .sum::<usize>();
    Ok(correct as f64 / m as f64)
}

/// Whether the majority label among `neighbors` (ties to the smallest) is point `i`'s label.
fn majority_agrees<L: Ord>(neighbors: &[u32], labels: &[L], i: usize) -> bool {
    let mut votes: Vec<&L> = neighbors.iter().map(|&j| &labels[j as usize]).collect();
    votes.sort();
    let mut best: (usize, Option<&L>) = (0, None);
    let mut t = 0;
    while t < votes.len() {
        let run = votes[t..].iter().take_while(|&&v| v == votes[t]).count();
        if run > best.0 {
            best = (run, Some(votes[t]));
        }
        t += run;
    }
    best.1 == Some(&labels[i])
}

/// Trustworthiness `T(k)` (Venna & Kaski 2001): how many of each point's `k` nearest
/// neighbours in the embedding are also near in the input,
///
/// `T(k) = 1 - 2 / (n k (2n - 3k - 1)) sum_i sum_{j in U_i} (r(i, j) - k)`,
///
/// where `U_i` are the embedding neighbours of `i` that are not among its `k` input neighbours
/// and `r(i, j)` is the rank of `j` by input distance from `i` (1 for the nearest; ties by
/// index). 1 is perfect. O(n^2 log n): use a subsample for large `n`.
pub fn trustworthiness(input: &Matrix, embedding: &Matrix, k: usize) -> Result<f64> {
    let n = input.rows();
    if embedding.rows() != n {
        return Err(Error::DimensionMismatch {
            what: "embedding rows",
            expected: n,
            found: embedding.rows(),
        });
    }
    if k == 0 || 2 * n <= 3 * k + 1 {
        return Err(Error::InvalidParameter {
            name: "k",
            reason: format!("trustworthiness needs 0 < k < (2n - 1) / 3, got k = {k} for n = {n}"),
        });
    }
    let graph = BruteForce::default().search(embedding, k)?;
    let penalty: u64 = (0..n)
        .into_par_iter()
        .map_init(
            || (Vec::with_capacity(n), vec![0u32; n]),
            |(order, rank), i| {
                order.clear();
                order.extend(
                    (0..n)
                        .filter(|&j| j != i)
                        .map(|j| (squared_distance(input.row(i), input.row(j)), j as u32)),
                );
                order.sort_unstable_by(|a: &(f64, u32), b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
                for (r, &(_, j)) in order.iter().enumerate() {
                    rank[j as usize] = r as u32 + 1;
                }
                graph
                    .neighbors(i)
                    .iter()
                    .map(|&j| (rank[j as usize] as u64).saturating_sub(k as u64))
                    .sum::<u64>()
            },
        )
        .sum();
    let (n, k) = (n as f64, k as f64);
    Ok(1.0 - 2.0 / (n * k * (2.0 * n - 3.0 * k - 1.0)) * penalty as f64)
}

/// Recall@k of `graph` against exact neighbours, on `sample` points evenly strided over the
/// data: the fraction of their true `k` nearest neighbours (ties by index) that the graph
/// lists, under `metric`. O(sample * n * d).
pub fn neighbor_recall(
    points: &Matrix,
    graph: &tsne_core::KnnGraph,
    sample: usize,
    metric: Metric,
) -> Result<f64> {
    let (n, k) = (graph.n(), graph.k());
    if points.rows() != n {
        return Err(Error::DimensionMismatch { what: "graph points", expected: points.rows(), found: n });
    }
    let m = sample.clamp(1, n);
    let hits: usize = (0..m)
        .into_par_iter()
        .map(|t| {
            let i = t * n / m;
            let mut all: Vec<(f64, u32)> = (0..n)
                .filter(|&j| j != i)
                .map(|j| (metric.distance(points.row(i), points.row(j)), j as u32))
                .collect();
            let order = |a: &(f64, u32), b: &(f64, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
            all.select_nth_unstable_by(k - 1, order);
            all[..k].iter().filter(|(_, j)| graph.neighbors(i).contains(j)).count()
        })
        .sum();
    Ok(hits as f64 / (m * k) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_accuracy_equals_the_full_one_on_its_queries() {
        let x = Matrix::new(8, 1, vec![0.0, 1.0, 2.0, 3.0, 10.0, 11.0, 12.0, 20.0]).unwrap();
        let labels = ['a', 'a', 'b', 'a', 'b', 'b', 'b', 'a'];
        let full = knn_accuracy(&x, &labels, 3).unwrap();
        assert_eq!(knn_accuracy_sampled(&x, &labels, 3, 8).unwrap(), full);
        // Queries 0, 2, 4, 6: 0 -> {1,2,3} a,b,a: a (right); 2 -> {1,3,0} a,a,a: a (wrong);
        // 4 -> {5,6,3} b,b,a: b (right); 6 -> {5,4,3} b,b,a: b (right).
        assert_eq!(knn_accuracy_sampled(&x, &labels, 3, 4).unwrap(), 0.75);
    }

    #[test]
    fn knn_accuracy_by_hand() {
        // On a line: 0 1 2 | 10 11 | 20. Labels a a b | b b | a.
        let x = Matrix::new(6, 1, vec![0.0, 1.0, 2.0, 10.0, 11.0, 20.0]).unwrap();
        let labels = ['a', 'a', 'b', 'b', 'b', 'a'];
        // k = 1: 0->1 (a ok), 1->0 (a ok), 2->1 (a, wrong), 10->11 (ok), 11->10 (ok), 20->11 (b, wrong).
        assert_eq!(knn_accuracy(&x, &labels, 1).unwrap(), 4.0 / 6.0);
        // k = 2: 0->{1,2}: a,b tie -> a ok; 1->{0,2}: tie -> a ok; 2->{1,0}: a,a wrong;
        // 10->{11,2}: b ok; 11->{10,2}: b ok; 20->{11,10}: b wrong.
        assert_eq!(knn_accuracy(&x, &labels, 2).unwrap(), 4.0 / 6.0);
    }

    #[test]
    fn trustworthiness_by_hand() {
        let x = Matrix::new(5, 1, vec![0.0, 1.0, 2.0, 3.0, 4.0]).unwrap();
        assert_eq!(trustworthiness(&x, &x, 1).unwrap(), 1.0);
        // Points 1 and 2 swap places. Embedding neighbours (ties by index) and their input
        // ranks: 0->2 (rank 2), 1->2 (2), 2->0 (3), 3->1 (3), 4->3 (1): penalty 1+1+2+2 = 6,
        // T = 1 - 2 / (5 * 1 * 6) * 6 = 0.6.
        let y = Matrix::new(5, 1, vec![0.0, 2.0, 1.0, 3.0, 4.0]).unwrap();
        assert!((trustworthiness(&x, &y, 1).unwrap() - 0.6).abs() < 1e-15);
    }
}
