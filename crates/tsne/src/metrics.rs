//! Quality measures of an embedding.

use rayon::prelude::*;
use tsne_affinity::{BruteForce, Metric};
use tsne_core::{gradient::squared_distance, neighbor_order, Error, Matrix, NeighborSearch, Result};

/// Fraction of points whose label equals the majority label of their `k` nearest neighbours in
/// `embedding` (ties go to the smallest label). The standard kNN-classifier score of t-SNE
/// papers, computed leave-one-out over every point. Exact neighbours by a sweep along the first coordinate.
pub fn knn_accuracy<L: Ord + Clone + Sync>(embedding: &Matrix, labels: &[L], k: usize) -> Result<f64> {
    knn_accuracy_sampled(embedding, labels, k, embedding.rows())
}

/// [`knn_accuracy`] over `sample` query points evenly strided over the data (each against all
/// points); equal to [`knn_accuracy`] when `sample >= n`.
pub fn knn_accuracy_sampled<L: Ord + Clone + Sync>(
    embedding: &Matrix,
    labels: &[L],
    k: usize,
    sample: usize,
) -> Result<f64> {
    let n = embedding.rows();
    if labels.len() != n {
        return Err(Error::DimensionMismatch { what: "labels", expected: n, found: labels.len() });
    }
    if k == 0 || k >= n {
        return Err(Error::TooManyNeighbors { k, n });
    }
    let m = sample.clamp(1, n);
    let sweep = Sweep::new(embedding);
    let correct = (0..m)
        .into_par_iter()
        .map_init(
            || (Vec::with_capacity(k + 1), Vec::with_capacity(k)),
            |(best, idx): &mut (Vec<(f64, u32)>, Vec<u32>), t| {
                let i = t * n / m;
                sweep.nearest(i, k, best);
                idx.clear();
                idx.extend(best.iter().map(|&(_, j)| j));
                usize::from(majority_agrees(idx, labels, i))
            },
        )
        .sum::<usize>();
    Ok(correct as f64 / m as f64)
}

/// Exact nearest neighbours among the rows of a low-dimensional embedding by a sweep along the
/// first coordinate: rows sorted by it, a query scans outward from its own position, nearer
/// gap first, and stops once the gap in that coordinate alone exceeds its `k`-th best
/// distance. Exact in any dimension (ties by index); about O(sqrt(n)) candidates per query for
/// a 2-D embedding instead of n.
struct Sweep<'a> {
    y: &'a Matrix,
    /// Rows by increasing first coordinate (ties by index).
    order: Vec<u32>,
    /// The first coordinate, in that order.
    key: Vec<f64>,
    /// Each row's place in `order`.
    place: Vec<u32>,
}

impl<'a> Sweep<'a> {
    fn new(y: &'a Matrix) -> Self {
        let n = y.rows();
        let first = |i: u32| y.row(i as usize)[0];
        let mut order: Vec<u32> = (0..n as u32).collect();
        order.sort_unstable_by(|&a, &b| first(a).total_cmp(&first(b)).then(a.cmp(&b)));
        let key = order.iter().map(|&i| first(i)).collect();
        let mut place = vec![0u32; n];
        for (p, &i) in order.iter().enumerate() {
            place[i as usize] = p as u32;
        }
        Self { y, order, key, place }
    }

    /// The `k` nearest other rows of row `i` as (squared distance, row), sorted, into `best`.
    fn nearest(&self, i: usize, k: usize, best: &mut Vec<(f64, u32)>) {
        let before = |a: (f64, u32), b: (f64, u32)| a.0 < b.0 || (a.0 == b.0 && a.1 < b.1);
        best.clear();
        let p = self.place[i] as usize;
        let (x0, xi) = (self.key[p], self.y.row(i));
        // Unvisited places: `..left` and `right..`.
        let (mut left, mut right) = (p, p + 1);
        loop {
            let gap_left = (left > 0).then(|| x0 - self.key[left - 1]);
            let gap_right = (right < self.key.len()).then(|| self.key[right] - x0);
            let (go_left, gap) = match (gap_left, gap_right) {
                (None, None) => break,
                (Some(a), Some(b)) if a <= b => (true, a),
                (Some(a), None) => (true, a),
                (_, Some(b)) => (false, b),
            };
            if best.len() == k && gap * gap > best[k - 1].0 {
                break;
            }
            let q = if go_left {
                left -= 1;
                left
            } else {
                right += 1;
                right - 1
            };
            let j = self.order[q];
            let cand = (squared_distance(xi, self.y.row(j as usize)), j);
            if best.len() < k || before(cand, best[k - 1]) {
                if best.len() == k {
                    best.pop();
                }
                let at = best.partition_point(|&b| before(b, cand));
                best.insert(at, cand);
            }
        }
    }
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
                order.sort_unstable_by(neighbor_order);
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
            let order = neighbor_order;
            all.select_nth_unstable_by(k - 1, order);
            all[..k].iter().filter(|(_, j)| graph.neighbors(i).contains(j)).count()
        })
        .sum();
    Ok(hits as f64 / (m * k) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sweep equals brute force, ties included: points on a coarse integer grid (many
    /// equal distances and equal first coordinates), in 1, 2 and 3 dimensions.
    #[test]
    fn sweep_equals_brute_force_with_ties() {
        for dims in 1..=3 {
            let n = 600;
            let x = Matrix::new(n, dims, (0..n * dims).map(|v| ((v * 7919) % 13) as f64).collect()).unwrap();
            let sweep = Sweep::new(&x);
            let mut best = Vec::new();
            for i in 0..n {
                sweep.nearest(i, 10, &mut best);
                let mut all: Vec<(f64, u32)> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| (squared_distance(x.row(i), x.row(j)), j as u32))
                    .collect();
                all.sort_by(neighbor_order);
                assert_eq!(best, all[..10], "dims {dims}, row {i}");
            }
        }
    }

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
