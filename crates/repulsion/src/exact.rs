//! The exact O(n^2) repulsion: the oracle every approximation is tested against.

use rayon::prelude::*;
use tsne_core::gradient::{add_repulsion, as_points, offset};
use tsne_core::{Matrix, Repulsion, Result, StudentT};

/// Sums the repulsion over all pairs: O(n^2 d) per call, parallel over points.
///
/// Each point's sum runs over `j` in index order and `Z` adds the per-point sums in index
/// order, so the result is bit-identical for any thread count.
#[derive(Debug, Default, Clone)]
pub struct Exact {
    row_sums: Vec<f64>,
}

impl Exact {
    /// A new exact backend.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Repulsion for Exact {
    fn repulsion(&mut self, y: &Matrix, kernel: StudentT, forces: &mut [f64]) -> Result<f64> {
        self.row_sums.resize(y.rows(), 0.0);
        match y.cols() {
            1 => rows::<1>(y, kernel, forces, &mut self.row_sums),
            2 => rows::<2>(y, kernel, forces, &mut self.row_sums),
            3 => rows::<3>(y, kernel, forces, &mut self.row_sums),
            _ => rows_dyn(y, kernel, forces, &mut self.row_sums),
        }
        Ok(self.row_sums.iter().sum())
    }

    fn is_exact(&self) -> bool {
        true
    }

    fn name(&self) -> &str {
        "exact"
    }
}

fn rows<const D: usize>(y: &Matrix, kernel: StudentT, forces: &mut [f64], z_rows: &mut [f64]) {
    let pts: &[[f64; D]] = as_points(y.as_slice());
    forces.par_chunks_mut(D).zip(z_rows.par_iter_mut()).enumerate().for_each(|(i, (f, zi))| {
        let yi = pts[i];
        let mut acc = [0.0; D];
        let mut z = 0.0;
        for (j, yj) in pts.iter().enumerate() {
            if j == i {
                continue;
            }
            let (diff, d2) = offset(&yi, yj);
            add_repulsion(kernel, &diff, d2, &mut acc, &mut z);
        }
        f.copy_from_slice(&acc);
        *zi = z;
    });
}

fn rows_dyn(y: &Matrix, kernel: StudentT, forces: &mut [f64], z_rows: &mut [f64]) {
    let d = y.cols();
    forces.par_chunks_mut(d).zip(z_rows.par_iter_mut()).enumerate().for_each(|(i, (f, zi))| {
        f.fill(0.0);
        let yi = y.row(i);
        let mut z = 0.0;
        for j in (0..y.rows()).filter(|&j| j != i) {
            let yj = y.row(j);
            let d2 = tsne_core::gradient::squared_distance(yi, yj);
            let (w, u) = kernel.weights(d2);
            z += w;
            for k in 0..d {
                f[k] += w * u * (yi[k] - yj[k]);
            }
        }
        *zi = z;
    });
}
