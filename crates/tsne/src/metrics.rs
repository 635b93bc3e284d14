//! Quality measures of an embedding.

use tsne_affinity::BruteForce;
use tsne_core::{Error, Matrix, NeighborSearch, Result};

/// Fraction of points whose label equals the majority label of their `k` nearest neighbours in
/// `embedding` (ties go to the smallest label). The standard kNN-classifier score of t-SNE
/// papers, computed leave-one-out.
pub fn knn_accuracy<L: Ord + Clone>(embedding: &Matrix, labels: &[L], k: usize) -> Result<f64> {
    let n = embedding.rows();
    if labels.len() != n {
        return Err(Error::DimensionMismatch { what: "labels", expected: n, found: labels.len() });
    }
    let graph = BruteForce.search(embedding, k)?;
    let mut correct = 0usize;
    let mut votes: Vec<&L> = Vec::with_capacity(k);
    for (i, label) in labels.iter().enumerate() {
        votes.clear();
        votes.extend(graph.neighbors(i).iter().map(|&j| &labels[j as usize]));
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
        if best.1 == Some(label) {
            correct += 1;
        }
    }
    Ok(correct as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
