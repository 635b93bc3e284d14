//! The k-nearest-neighbour graph.

use crate::{Error, Result};

/// For each of `n` points, its `k` nearest other points and their Euclidean distances.
///
/// Row `i` occupies `indices[i*k..(i+1)*k]` and `distances[i*k..(i+1)*k]`, sorted by increasing
/// distance (ties broken by index). A point is never its own neighbour.
#[derive(Debug, Clone, PartialEq)]
pub struct KnnGraph {
    n: usize,
    k: usize,
    indices: Vec<u32>,
    distances: Vec<f64>,
}

/// The order neighbours are ranked in everywhere: by distance, ties by the smaller index, so
/// that every search gives the same graph whatever order it met the candidates in.
pub fn neighbor_order(a: &(f64, u32), b: &(f64, u32)) -> std::cmp::Ordering {
    a.0.total_cmp(&b.0).then(a.1.cmp(&b.1))
}

/// Checks that `k` neighbours can be found among `n` points (`1 <= k < n`).
pub fn check_neighbor_count(k: usize, n: usize) -> Result<()> {
    if k == 0 {
        return Err(Error::InvalidParameter { name: "k", reason: "at least one neighbour is needed".into() });
    }
    if k >= n {
        return Err(Error::TooManyNeighbors { k, n });
    }
    Ok(())
}

impl KnnGraph {
    /// Builds and validates a graph: index range, no self-loops, finite non-negative distances.
    pub fn new(n: usize, k: usize, indices: Vec<u32>, distances: Vec<f64>) -> Result<Self> {
        let what = "neighbour graph";
        if k == 0 {
            return Err(Error::InvalidGraph {
                what,
                reason: "every point needs at least one neighbour (k = 0)".into(),
            });
        }
        if k >= n {
            return Err(Error::TooManyNeighbors { k, n });
        }
        if n.checked_mul(k) != Some(indices.len()) || indices.len() != distances.len() {
            return Err(Error::InvalidGraph {
                what,
                reason: format!(
                    "expected {} entries for n = {n}, k = {k}, found {} indices and {} distances",
                    n * k,
                    indices.len(),
                    distances.len()
                ),
            });
        }
        for (pos, (&j, &d)) in indices.iter().zip(&distances).enumerate() {
            let i = pos / k;
            if j as usize >= n {
                return Err(Error::InvalidGraph {
                    what,
                    reason: format!("row {i} names point {j}, but there are {n} points"),
                });
            }
            if j as usize == i {
                return Err(Error::InvalidGraph {
                    what,
                    reason: format!("row {i} lists itself as a neighbour"),
                });
            }
            if !d.is_finite() || d < 0.0 {
                return Err(Error::InvalidGraph { what, reason: format!("row {i} has distance {d}") });
            }
        }
        Ok(Self { n, k, indices, distances })
    }

    /// Number of points.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Neighbours per point.
    pub fn k(&self) -> usize {
        self.k
    }

    /// Neighbour indices of point `i`.
    #[inline]
    pub fn neighbors(&self, i: usize) -> &[u32] {
        &self.indices[i * self.k..(i + 1) * self.k]
    }

    /// Distances from point `i` to its neighbours, in the order of [`KnnGraph::neighbors`].
    #[inline]
    pub fn distances(&self, i: usize) -> &[f64] {
        &self.distances[i * self.k..(i + 1) * self.k]
    }

    /// All indices, row-major.
    pub fn indices_flat(&self) -> &[u32] {
        &self.indices
    }

    /// All distances, row-major.
    pub fn distances_flat(&self) -> &[f64] {
        &self.distances
    }

    /// The graph's arrays `(n, k, indices, distances)`, for a consumer that reuses them.
    pub fn into_parts(self) -> (usize, usize, Vec<u32>, Vec<f64>) {
        (self.n, self.k, self.indices, self.distances)
    }
}
