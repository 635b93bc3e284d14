//! The FFT grid of a fixed embedding, for the repulsion it exerts on other points (placing new
//! points into it: openTSNE's `prepare_interpolation_grid` and its `_with_grid` gradients).
//!
//! The reference points do not move, so their charges are spread and convolved once; each
//! evaluation only interpolates the node potentials at the new points: `O(m P^D)` per call for
//! `m` new points, whatever the size of the reference.

use super::{FftInterpolation, FftParams, Grids, Layout, PointBuffers, MAX_NODES_2D};
use tsne_core::gradient::as_points;
use tsne_core::{Error, Matrix, Result, StudentT};

/// Node potentials of a fixed embedding on a square (1-D: an interval) grid centred on the
/// centre of its bounding box, half as wide as its widest dimension times `1 + padding`, so
/// that points placed near its edge still lie on the grid.
pub struct ReferenceGrid {
    dims: usize,
    interp_points: usize,
    kernel: StudentT,
    /// Per dimension, the centre of the reference's bounding box; the grid works in
    /// coordinates relative to it.
    centre: [f64; 2],
    layout: Layout,
    grids: Grids<f64>,
    queries: PointBuffers,
    relative: Vec<f64>,
}

impl std::fmt::Debug for ReferenceGrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceGrid")
            .field("dims", &self.dims)
            .field("boxes", &self.layout.n_boxes)
            .field("half_width", &self.half_width())
            .finish_non_exhaustive()
    }
}

/// Calls `$f::<D, P>` for the runtime dimension and node count.
macro_rules! dispatch {
    ($dims:expr, $p:expr, $f:ident ( $($arg:expr),* )) => {
        match ($dims, $p) {
            (1, 1) => $f::<1, 1>($($arg),*), (1, 2) => $f::<1, 2>($($arg),*),
            (1, 3) => $f::<1, 3>($($arg),*), (1, 4) => $f::<1, 4>($($arg),*),
            (1, 5) => $f::<1, 5>($($arg),*), (1, 6) => $f::<1, 6>($($arg),*),
            (1, 7) => $f::<1, 7>($($arg),*), (1, _) => $f::<1, 8>($($arg),*),
            (_, 1) => $f::<2, 1>($($arg),*), (_, 2) => $f::<2, 2>($($arg),*),
            (_, 3) => $f::<2, 3>($($arg),*), (_, 4) => $f::<2, 4>($($arg),*),
            (_, 5) => $f::<2, 5>($($arg),*), (_, 6) => $f::<2, 6>($($arg),*),
            (_, 7) => $f::<2, 7>($($arg),*), (_, _) => $f::<2, 8>($($arg),*),
        }
    };
}

impl FftInterpolation {
    /// The grid of `reference` (1-D or 2-D, finite) under `kernel`, with this backend's node
    /// count and density and `padding` (a fraction of the half-width, `>= 0`) of empty grid
    /// around it. The boxes are `2 h (1 + padding) / b` wide for the half-width `h` and
    /// `b = max(min_intervals, floor(2 h (1 + padding) x intervals per unit))` boxes.
    pub fn reference_grid(
        &self,
        reference: &Matrix,
        kernel: StudentT,
        padding: f64,
    ) -> Result<ReferenceGrid> {
        let dims = reference.cols();
        if !(1..=Self::MAX_DIMS).contains(&dims) {
            return Err(Error::Unsupported {
                backend: "FFT interpolation".into(),
                what: format!("placing points into a {dims}-dimensional embedding (1 or 2)"),
            });
        }
        if !(padding.is_finite() && padding >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "padding",
                reason: format!("must be finite and non-negative, got {padding}"),
            });
        }
        if reference.rows() == 0 || reference.as_slice().iter().any(|v| !v.is_finite()) {
            return Err(Error::InvalidParameter {
                name: "reference",
                reason: "the reference embedding must have points, all finite".into(),
            });
        }
        let params = self.params;
        let p = params.interp_points;
        dispatch!(dims, p, build(reference, &params, kernel, padding))
    }
}

/// Spreads and convolves the reference's charges once.
fn build<const D: usize, const P: usize>(
    reference: &Matrix,
    params: &FftParams,
    kernel: StudentT,
    padding: f64,
) -> Result<ReferenceGrid> {
    let mut centre = [0.0; 2];
    let mut half: f64 = 0.0;
    for (c, mid) in centre.iter_mut().enumerate().take(D) {
        let column = (0..reference.rows()).map(|i| reference.row(i)[c]);
        let (lo, hi) = column.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(v), h.max(v)));
        *mid = 0.5 * (lo + hi);
        half = half.max(0.5 * (hi - lo));
    }
    let half = (half * (1.0 + padding)).max(1e-12);
    let layout = Layout::centred::<D, P>(half, params, kernel)?;
    let relative = relative_to::<D>(reference, &centre);
    let pts: &[[f64; D]] = as_points(&relative);
    let mut charges = PointBuffers::with_nodes(P);
    charges.weigh::<D, P>(pts, &layout);
    charges.group_by_last_box::<D>(layout.n_boxes);
    let mut grids = Grids::<f64>::default();
    grids.spread::<D, P>(&charges, pts, &layout);
    grids.convolve::<D>(kernel, &layout);
    Ok(ReferenceGrid {
        dims: D,
        interp_points: P,
        kernel,
        centre,
        layout,
        grids,
        queries: PointBuffers::with_nodes(P),
        relative: Vec::new(),
    })
}

/// The rows of `points` relative to `centre`, flat.
fn relative_to<const D: usize>(points: &Matrix, centre: &[f64; 2]) -> Vec<f64> {
    let mut out = Vec::with_capacity(points.rows() * D);
    for i in 0..points.rows() {
        out.extend(points.row(i).iter().zip(centre).map(|(v, c)| v - c));
    }
    out
}

impl Layout {
    /// `[-half, half]^D` (relative to the reference's centre) in `b` boxes, `b` from the
    /// density rule of [`Layout::per_unit`] without rounding the width to a ladder: the grid
    /// is built once, so its size need not favour reuse.
    fn centred<const D: usize, const P: usize>(
        half: f64,
        params: &FftParams,
        kernel: StudentT,
    ) -> Result<Self> {
        let range = 2.0 * half;
        let n_boxes =
            ((range * Self::per_unit::<D>(params, kernel)).floor() as usize).max(params.min_intervals);
        if D == 2 && n_boxes * P > MAX_NODES_2D {
            return Err(Error::Unsupported {
                backend: "FFT interpolation".into(),
                what: format!(
                    "a reference embedding {range:.0} units wide: its grid needs {} nodes per \
                     dimension, more than {MAX_NODES_2D}; use `PlacementRepulsion::BarnesHut`",
                    n_boxes * P
                ),
            });
        }
        let m = n_boxes * P;
        Ok(Self { lo: -half, box_width: range / n_boxes as f64, n_boxes, m, l: 2 * m, centre: 0.0 })
    }
}

impl ReferenceGrid {
    /// Dimensions of the reference embedding.
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// The centre of the grid (of the reference's bounding box), one value per dimension.
    pub fn centre(&self) -> &[f64] {
        &self.centre[..self.dims]
    }

    /// Half the grid's width: points within this distance of the centre in every coordinate
    /// lie on it.
    pub fn half_width(&self) -> f64 {
        -self.layout.lo
    }

    /// Width of one box of the grid.
    pub fn box_width(&self) -> f64 {
        self.layout.box_width
    }

    /// The kernel the potentials were computed with.
    pub fn kernel(&self) -> StudentT {
        self.kernel
    }

    /// For each row `q_i` of `queries` (points not in the reference, on the grid): writes
    /// `forces_i ~ sum_j w(q_i, r_j) u(q_i, r_j) (q_i - r_j)` and `z_i ~ sum_j w(q_i, r_j)`
    /// over the reference points, interpolated from the node potentials. Deterministic for
    /// any thread count.
    pub fn repulsion(&mut self, queries: &Matrix, forces: &mut [f64], z: &mut [f64]) -> Result<()> {
        let (m, dims) = (queries.rows(), self.dims);
        if queries.cols() != dims {
            return Err(Error::DimensionMismatch {
                what: "points placed into the embedding",
                expected: dims,
                found: queries.cols(),
            });
        }
        assert!(
            forces.len() == m * dims && z.len() == m,
            "buffers of {} forces and {} sums for {m} points in {dims} dimensions",
            forces.len(),
            z.len()
        );
        let p = self.interp_points;
        dispatch!(dims, p, interpolate_at(self, queries, forces, z));
        Ok(())
    }
}

/// The potentials at the queries (relative to the grid's centre; no self term).
fn interpolate_at<const D: usize, const P: usize>(
    grid: &mut ReferenceGrid,
    queries: &Matrix,
    forces: &mut [f64],
    z: &mut [f64],
) {
    grid.relative.clear();
    for i in 0..queries.rows() {
        grid.relative.extend(queries.row(i).iter().zip(&grid.centre).map(|(v, c)| v - c));
    }
    let pts: &[[f64; D]] = as_points(&grid.relative);
    grid.queries.weigh::<D, P>(pts, &grid.layout);
    grid.queries.interpolate::<f64, D, P>(&grid.grids, pts, &grid.layout, 0.0, forces);
    z.copy_from_slice(&grid.queries.z_rows);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BarnesHut;

    fn wavy(n: usize, dims: usize, scale: f64, shift: f64) -> Matrix {
        let v = (0..n * dims).map(|t| shift + scale * ((t * 7919 % 1013) as f64 * 0.37).sin()).collect();
        Matrix::new(n, dims, v).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Forces and sums on points off the reference agree with the exact sums (the tree at
    /// theta 0), for both dimensions, a heavy-tailed kernel, and a reference off the origin.
    #[test]
    fn grid_forces_match_exact_sums() {
        for (dims, dof) in [(1, 1.0), (2, 1.0), (2, 0.5)] {
            let kernel = StudentT::new(dof).unwrap_or_else(|e| panic!("{e}"));
            let reference = wavy(3000, dims, 20.0, 7.0);
            let queries = wavy(200, dims, 15.0, 7.5);
            let fft = FftInterpolation::new(FftParams::default()).unwrap_or_else(|e| panic!("{e}"));
            let mut grid = fft.reference_grid(&reference, kernel, 0.25).unwrap_or_else(|e| panic!("{e}"));
            let (mut f, mut z) = (vec![0.0; 200 * dims], vec![0.0; 200]);
            grid.repulsion(&queries, &mut f, &mut z).unwrap_or_else(|e| panic!("{e}"));
            let exact = BarnesHut::new(0.0).and_then(|t| t.reference_tree(&reference));
            let exact = exact.unwrap_or_else(|e| panic!("{e}"));
            let (mut fe, mut ze) = (vec![0.0; 200 * dims], vec![0.0; 200]);
            exact.repulsion(&queries, kernel, &mut fe, &mut ze).unwrap_or_else(|e| panic!("{e}"));
            let scale = fe.iter().map(|v| v.abs()).fold(0.0, f64::max);
            for i in 0..200 {
                assert!((z[i] - ze[i]).abs() < 2e-3 * ze[i], "dims {dims} dof {dof} z {} vs {}", z[i], ze[i]);
                for c in 0..dims {
                    let (a, b) = (f[i * dims + c], fe[i * dims + c]);
                    assert!((a - b).abs() < 1e-2 * scale, "dims {dims} dof {dof} force {a} vs {b}");
                }
            }
        }
    }

    #[test]
    fn the_grid_covers_the_padded_reference() {
        let reference =
            Matrix::new(3, 2, vec![-1.0, 4.0, 3.0, 2.0, 1.0, 0.0]).unwrap_or_else(|e| panic!("{e}"));
        let fft = FftInterpolation::new(FftParams::OPENTSNE).unwrap_or_else(|e| panic!("{e}"));
        let grid = fft.reference_grid(&reference, StudentT::CAUCHY, 0.25).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(grid.centre(), &[1.0, 2.0]);
        assert!((grid.half_width() - 2.5).abs() < 1e-12);
        assert!((grid.box_width() - 5.0 / 50.0).abs() < 1e-12);
        assert!(fft.reference_grid(&reference, StudentT::CAUCHY, -1.0).is_err());
        let wide = Matrix::new(1, 3, vec![0.0; 3]).unwrap_or_else(|e| panic!("{e}"));
        assert!(fft.reference_grid(&wide, StudentT::CAUCHY, 0.0).is_err());
    }
}
