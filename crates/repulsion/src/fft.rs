//! FFT-accelerated interpolation repulsion (Linderman et al. 2019, "Fast interpolation-based
//! t-SNE", algorithm 1), in 1-D and 2-D.
//!
//! The potentials `phi_c(y_i) = sum_j K(y_i, y_j) q_jc` are approximated by Lagrange
//! interpolation on an equispaced grid: charges are spread from the points to `p` nodes per
//! interval and dimension, the kernel is applied between all pairs of nodes as a convolution
//! (circulant embedding, FFT), and potentials are interpolated back to the points.
//!
//! Four potentials give the gradient and Z for any degrees of freedom `a` of [`StudentT`]:
//! with `K1 = w u = (1 + d^2/a)^-(a+1)` and `K2 = w = (1 + d^2/a)^-a`,
//! `rep_i = y_i phi[K1, 1] - phi[K1, y]` and `Z = sum_i phi[K2, 1](y_i) - n` (the self term
//! `w(0) = 1` removed). Using `K2` for Z, rather than expanding `(1 + d^2) K1` with the charge
//! `|y|^2`, avoids cancellation when the embedding is far from the origin.

use std::sync::Arc;

use rayon::prelude::*;
use rustfft::num_complex::Complex;
use rustfft::{Fft, FftPlanner};
use tsne_core::{Error, Matrix, Repulsion, Result, StudentT};

use tsne_core::gradient::as_points;

mod reference;
pub use reference::ReferenceGrid;

type C = Complex<f64>;

/// Grid settings of [`FftInterpolation`].
///
/// The defaults (`p = 4`, 1.25 intervals per unit) are finer than openTSNE's (`p = 3`, one
/// interval per unit): on the digits embedding openTSNE's grid gives a 3.6% relative force
/// error, ours 0.4%, for about 2.5 times the grid work. `FftParams::OPENTSNE` restores theirs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FftParams {
    /// Lagrange nodes per interval and dimension (`p`, default 4).
    pub interp_points: usize,
    /// Fewest intervals per dimension (default 50).
    pub min_intervals: usize,
    /// Intervals per unit length of the embedding (default 1.25; doubled in 1-D, where the grid
    /// is cheap), divided by `sqrt(dof)` for kernels with `dof < 1`.
    pub intervals_per_unit: f64,
}

impl Default for FftParams {
    fn default() -> Self {
        Self { interp_points: 4, min_intervals: 50, intervals_per_unit: 1.25 }
    }
}

impl FftParams {
    /// openTSNE's settings: three nodes per interval, one interval per unit length.
    pub const OPENTSNE: Self = Self { interp_points: 3, min_intervals: 50, intervals_per_unit: 1.0 };

    /// Checks the domains.
    pub fn check(&self) -> Result<()> {
        let bad = |name, reason: String| Err(Error::InvalidParameter { name, reason });
        if !(1..=8).contains(&self.interp_points) {
            return bad("interp_points", format!("must be between 1 and 8, got {}", self.interp_points));
        }
        if !(1..=4096).contains(&self.min_intervals) {
            return bad("min_intervals", format!("must be between 1 and 4096, got {}", self.min_intervals));
        }
        if !(self.intervals_per_unit.is_finite() && self.intervals_per_unit > 0.0) {
            return bad(
                "intervals_per_unit",
                format!("must be finite and positive, got {}", self.intervals_per_unit),
            );
        }
        Ok(())
    }
}

/// Scalar of the grids and their transforms: `f32` in 2-D, `f64` in 1-D.
///
/// In 2-D single precision halves the memory traffic and doubles the SIMD width of the
/// transforms; its rounding (about 1e-7 of the largest potential, times the cancellation in
/// `(y_i - c) phi[K1, 1] - phi[K1, y - c]`, about the embedding's half-width over the typical
/// spacing) stays far below the interpolation error that the grid settings bound (1e-3 to
/// 1e-2). A 1-D embedding of n points is about n spacings wide, so that cancellation is too
/// large for single precision there; 1-D grids are small and stay in double precision. The
/// kernel spectra are always computed in double precision before they are rounded.
pub trait GridScalar: rustfft::FftNum + rustfft::num_traits::NumAssign {
    /// A double-precision value rounded to this precision.
    fn narrow(v: f64) -> Self;
    /// This value in double precision.
    fn widen(self) -> f64;
}

impl GridScalar for f32 {
    fn narrow(v: f64) -> Self {
        v as f32
    }
    fn widen(self) -> f64 {
        f64::from(self)
    }
}

impl GridScalar for f64 {
    fn narrow(v: f64) -> Self {
        v
    }
    fn widen(self) -> f64 {
        self
    }
}

/// Most interpolation nodes per dimension of a 2-D grid: the grids are then at most about
/// 1 GB ([`grid_bytes`]; a 100,000-point embedding, about 110 units wide, needs 560 nodes). A
/// wider embedding (at the default density, one more than about 820 units across, e.g. with a
/// far outlier) is an [`Error::Unsupported`](tsne_core::Error::Unsupported) rather than an
/// unbounded allocation.
pub const MAX_NODES_2D: usize = 4096;

/// Columns (and their mirror columns) per task of the 2-D column pass, and rows per task of
/// the row passes: 8 single-precision complex values are one 64-byte cache line.
const BLOCK: usize = 8;

/// The FFT interpolation backend. The grids, spectra and FFT plans persist between calls (only
/// the kernel spectra's working rows are allocated, when the grid or box width changes); the
/// grid size is rounded up to a 7-smooth number so that plans are reused and FFTs are fast.
///
/// The 2-D convolution never holds the `2m x 2m` circulant grid: rows are transformed in an
/// `m x 2m` grid (the other `m` rows are zero), then each block of columns is gathered with its
/// mirror columns, transformed, multiplied by the kernel spectrum, transformed back and
/// written back in place (each task owns its columns), so the transposes and the spectrum
/// product cost no pass over memory of their own and the two `m x 2m` grids are the only
/// ones. The kernel is real and even in each coordinate, so its spectrum is too: one quadrant,
/// `(m + 1)^2` values, is stored.
///
/// Every sum runs in a fixed order (charges are spread box by box with points in index order),
/// so results do not depend on the thread count.
pub struct FftInterpolation {
    params: FftParams,
    points: PointBuffers,
    line: Grids<f64>,
    plane: Grids<f32>,
    /// Most bytes the grids may take, and where that bound comes from.
    memory_limit: Option<(u64, &'static str)>,
}

/// Per-point buffers of an evaluation.
#[derive(Default)]
struct PointBuffers {
    // Per point: box index per dimension and Lagrange weights (p per dimension).
    boxes: Vec<u32>,
    weights: Vec<f64>,
    // Points grouped by the box index of their last dimension (stable counting sort).
    order: Vec<u32>,
    group_start: Vec<u32>,
    cursor: Vec<u32>,
    // Lagrange nodes in [0, 1] and the denominators of their basis polynomials.
    nodes: Vec<f64>,
    denominators: Vec<f64>,
    z_rows: Vec<f64>,
}

/// A transform length with its forward and inverse plans.
type Plans<T> = (usize, Arc<dyn Fft<T>>, Arc<dyn Fft<T>>);

/// The grids, spectra and plans of one precision.
struct Grids<T: GridScalar> {
    planner: FftPlanner<T>,
    plans: Option<Plans<T>>,
    // (transform length, box width, dof) of the kernel spectra in `k1`, `kp`, `km`.
    kernel_key: Option<(usize, u64, u64)>,
    // The charge grids `a` and `b` (2-D: m rows of length l; 1-D: l values). The 2-D column
    // pass writes each column's result back in place. After the convolution their first m
    // columns hold the potentials at the nodes.
    rows_a: Vec<Complex<T>>,
    rows_b: Vec<Complex<T>>,
    // Quadrant of the kernel spectra, scaled for the inverse transform: `K1^`,
    // `(K1^ + K2^) / 2` and `(K1^ - K2^) / 2` (2-D: column `kx` at `kx * (m + 1)`).
    k1: Vec<T>,
    kp: Vec<T>,
    km: Vec<T>,
    scratch: Vec<Complex<T>>,
}

impl<T: GridScalar> Default for Grids<T> {
    fn default() -> Self {
        Self {
            planner: FftPlanner::new(),
            plans: None,
            kernel_key: None,
            rows_a: Vec::new(),
            rows_b: Vec::new(),
            k1: Vec::new(),
            kp: Vec::new(),
            km: Vec::new(),
            scratch: Vec::new(),
        }
    }
}

/// Sets `v` to `len` elements (new ones `fill`) with a capacity that follows the length. The
/// grids follow the embedding's width, which swings widely during early exaggeration (on a
/// 250,000-point mixture between 40 and 160 units): a grid sized for a wide moment is freed
/// once the width halves, and a growing grid is allocated at its size, not doubled. The old
/// buffer is freed before the new one is allocated; callers overwrite the contents.
fn resize_exact<T: Clone>(v: &mut Vec<T>, len: usize, fill: T) {
    if len > v.capacity() || len < v.capacity() / 2 {
        *v = Vec::new();
        v.reserve_exact(len);
    }
    v.resize(len, fill);
}

/// Bytes of the grids and spectra for `m` interpolation nodes per dimension in `dims`
/// dimensions (the transform length is `2m`).
pub fn grid_bytes(m: usize, dims: usize) -> u64 {
    let m = m as u64;
    if dims == 1 {
        2 * (2 * m) * 16 + 3 * (m + 1) * 8
    } else {
        let (cg, g) = (8, 4);
        // Two grids of m x 2m, three spectrum quadrants, and the double-precision rows of the
        // kernel transform while the spectra are built.
        2 * (2 * m * m) * cg + 3 * (m + 1) * (m + 1) * g + (m + 1) * (m + 1) * 16
    }
}

impl std::fmt::Debug for FftInterpolation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FftInterpolation").field("params", &self.params).finish_non_exhaustive()
    }
}

impl FftInterpolation {
    /// Most embedding dimensions of the grid.
    pub const MAX_DIMS: usize = 2;

    /// A backend with the given grid settings.
    pub fn new(params: FftParams) -> Result<Self> {
        params.check()?;
        Ok(Self {
            params,
            points: PointBuffers::with_nodes(params.interp_points),
            line: Grids::default(),
            plane: Grids::default(),
            memory_limit: None,
        })
    }

    /// Refuses an evaluation whose grids would take more than `bytes` (`bound` names where
    /// the limit comes from in the error) with [`Error::MemoryLimit`], before allocating.
    pub fn with_memory_limit(mut self, bytes: u64, bound: &'static str) -> Self {
        self.memory_limit = Some((bytes, bound));
        self
    }

    /// The grid settings.
    pub fn params(&self) -> &FftParams {
        &self.params
    }
    /// One evaluation with `D` dimensions and `P` interpolation nodes per interval; both are
    /// compile-time constants so the small per-point loops unroll. The stages: lay the grid
    /// over the points, weigh each point on its box's nodes, group the points by the box of
    /// their last dimension, spread the charges, convolve, interpolate the potentials back.
    fn run<T: GridScalar, const D: usize, const P: usize>(
        params: &FftParams,
        memory_limit: Option<(u64, &'static str)>,
        pb: &mut PointBuffers,
        grids: &mut Grids<T>,
        y: &Matrix,
        kernel: StudentT,
        forces: &mut [f64],
    ) -> Result<f64> {
        let pts: &[[f64; D]] = as_points(y.as_slice());
        let layout = Layout::of::<D, P>(pts, params, memory_limit, kernel)?;
        pb.weigh::<D, P>(pts, &layout);
        pb.group_by_last_box::<D>(layout.n_boxes);
        grids.spread::<D, P>(pb, pts, &layout);
        grids.convolve::<D>(kernel, &layout);
        Ok(pb.interpolate::<T, D, P>(grids, pts, &layout, 1.0, forces))
    }
}

/// The grid of one evaluation: `n_boxes` boxes of `box_width` per dimension from `lo`,
/// `m = n_boxes P` nodes per dimension, transforms of length `l = 2 m`.
struct Layout {
    lo: f64,
    box_width: f64,
    n_boxes: usize,
    m: usize,
    l: usize,
    /// Charges and potentials use coordinates relative to the grid's centre, where they are
    /// smallest: `rep_i = (y_i - c) phi[K1, 1] - phi[K1, y - c]` is the same force with less
    /// cancellation in single precision.
    centre: f64,
}

impl Layout {
    /// Intervals per unit length: the kernel varies on the length scale sqrt(dof), so heavier
    /// tails (dof < 1) need a proportionally finer grid for the same accuracy; a 1-D grid costs
    /// O(m log m), so it gets twice the density (sparse 1-D layouts need it to hold the 1%
    /// force error).
    fn per_unit<const D: usize>(params: &FftParams, kernel: StudentT) -> f64 {
        let density = if D == 1 { 2.0 } else { 1.0 };
        density * params.intervals_per_unit / kernel.dof().min(1.0).sqrt()
    }

    /// The grid over the bounding box of `pts`: a square (cube) of boxes whose width comes
    /// from the ladder `2^(k/16)`, so that the kernel spectra, which depend only on the width,
    /// the grid size and the kernel, are reused while the embedding grows slowly. Refuses a
    /// grid past `MAX_NODES_2D` or the memory limit.
    fn of<const D: usize, const P: usize>(
        pts: &[[f64; D]],
        params: &FftParams,
        memory_limit: Option<(u64, &'static str)>,
        kernel: StudentT,
    ) -> Result<Self> {
        let p = P;
        let (lo, hi) =
            pts.iter().flatten().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &v| (l.min(v), h.max(v)));
        let range = (hi - lo).max(1e-12 * (1.0 + lo.abs()));
        let wanted =
            ((range * Self::per_unit::<D>(params, kernel)).ceil() as usize).max(params.min_intervals);
        // A far outlier would make the 2-D grid, and its memory, grow as range^2; coarser boxes
        // would make the interpolation meaningless, so the evaluation stops with an error.
        if D == 2 && wanted * p > MAX_NODES_2D {
            return Err(Error::Unsupported {
                backend: "FFT interpolation".into(),
                what: format!(
                    "an embedding {range:.0} units wide: it needs {} grid nodes per dimension, more \
                     than {MAX_NODES_2D} (an outlier?); use Barnes-Hut",
                    wanted * p
                ),
            });
        }
        let n_boxes = next_smooth(wanted);
        let box_width = (((range / n_boxes as f64).log2() * 16.0).ceil() / 16.0).exp2();
        let m = n_boxes * p; // nodes per dimension
        let l = 2 * m; // circulant size per dimension
        if let Some((allowed, bound)) = memory_limit {
            let needed = grid_bytes(m, D);
            if needed > allowed {
                return Err(Error::MemoryLimit {
                    stage: "FFT grid",
                    needed,
                    allowed,
                    bound,
                    hint: "use `RepulsionMethod::BarnesHut`".into(),
                });
            }
        }
        let centre = lo + 0.5 * n_boxes as f64 * box_width;
        Ok(Self { lo, box_width, n_boxes, m, l, centre })
    }
}

impl PointBuffers {
    /// Empty buffers for `p` Lagrange nodes per interval, at the interval's `(a + 1/2) / p`.
    fn with_nodes(p: usize) -> Self {
        let nodes: Vec<f64> = (0..p).map(|a| (a as f64 + 0.5) / p as f64).collect();
        let denominators =
            (0..p).map(|a| (0..p).filter(|&b| b != a).map(|b| nodes[a] - nodes[b]).product()).collect();
        Self { nodes, denominators, ..Self::default() }
    }

    /// The box and the Lagrange weights on its `P` nodes of every point, per dimension.
    fn weigh<const D: usize, const P: usize>(&mut self, pts: &[[f64; D]], layout: &Layout) {
        let (n, p) = (pts.len(), P);
        let (lo, box_width, n_boxes) = (layout.lo, layout.box_width, layout.n_boxes);
        self.boxes.resize(n * D, 0);
        self.weights.resize(n * D * p, 0.0);
        let (nodes, denominators) = (&self.nodes, &self.denominators);
        self.boxes.par_chunks_mut(D).zip(self.weights.par_chunks_mut(D * p)).zip(pts.par_iter()).for_each(
            |((bx, w), yi)| {
                for k in 0..D {
                    let s = (yi[k] - lo) / box_width;
                    let b = (s as usize).min(n_boxes - 1);
                    bx[k] = b as u32;
                    let r = s - b as f64;
                    for a in 0..P {
                        let mut num = 1.0;
                        for c in 0..P {
                            if c != a {
                                num *= r - nodes[c];
                            }
                        }
                        w[k * P + a] = num / denominators[a];
                    }
                }
            },
        );
    }

    /// Points grouped by the box of their last dimension (a stable counting sort into
    /// `order` with `group_start`); each group owns disjoint grid rows.
    fn group_by_last_box<const D: usize>(&mut self, n_boxes: usize) {
        let n = self.boxes.len() / D;
        self.group_start.clear();
        self.group_start.resize(n_boxes + 1, 0);
        for i in 0..n {
            self.group_start[self.boxes[i * D + D - 1] as usize + 1] += 1;
        }
        for g in 0..n_boxes {
            self.group_start[g + 1] += self.group_start[g];
        }
        self.order.resize(n, 0);
        self.cursor.clear();
        self.cursor.extend_from_slice(&self.group_start);
        for i in 0..n {
            let g = self.boxes[i * D + D - 1] as usize;
            self.order[self.cursor[g] as usize] = i as u32;
            self.cursor[g] += 1;
        }
    }

    /// The potentials interpolated back to the points: the forces into `forces`, each point's
    /// share of Z into `z_rows` (less `self_weight`, the kernel's `w(0) = 1` when the points
    /// are the charges' own), and their sum, which is returned.
    fn interpolate<T: GridScalar, const D: usize, const P: usize>(
        &mut self,
        grids: &Grids<T>,
        pts: &[[f64; D]],
        layout: &Layout,
        self_weight: f64,
        forces: &mut [f64],
    ) -> f64 {
        let (n, p, l, centre) = (pts.len(), P, layout.l, layout.centre);
        self.z_rows.resize(n, 0.0);
        let (boxes, weights, ga, gb) = (&self.boxes, &self.weights, &grids.rows_a, &grids.rows_b);
        forces.par_chunks_mut(D).zip(self.z_rows.par_iter_mut()).enumerate().for_each(|(i, (f, z))| {
            let w = &weights[i * D * p..(i + 1) * D * p];
            let x0 = boxes[i * D] as usize * P;
            let (mut pa, mut pb) = (C::new(0.0, 0.0), C::new(0.0, 0.0));
            if D == 1 {
                for a in 0..P {
                    pa += widen::<T>(ga[x0 + a]) * w[a];
                    pb += widen::<T>(gb[x0 + a]) * w[a];
                }
            } else {
                let y0 = boxes[i * D + 1] as usize * P;
                for r in 0..P {
                    let at = (y0 + r) * l + x0;
                    let (ra, rb) = (&ga[at..][..P], &gb[at..][..P]);
                    for a in 0..P {
                        let s = w[P + r] * w[a];
                        pa += widen::<T>(ra[a]) * s;
                        pb += widen::<T>(rb[a]) * s;
                    }
                }
            }
            let yi = pts[i];
            // pa = (phi[K1, 1], phi[K1, y_1]); pb = (phi[K1, y_2], phi[K2, 1]).
            f[0] = (yi[0] - centre) * pa.re - pa.im;
            if D == 2 {
                f[1] = (yi[1] - centre) * pa.re - pb.re;
            }
            *z = pb.im - self_weight;
        });
        self.z_rows.iter().sum()
    }
}

impl<T: GridScalar> Grids<T> {
    /// Spreads the charges on the row grids: `a = 1 + i y_1`, `b = y_2 + i 1` in 2-D;
    /// `a = 1 + i y`, `b = 0 + i 1` in 1-D (coordinates relative to the centre). Each group of
    /// points first clears its own rows' first `m` columns; the row transform clears the rest.
    fn spread<const D: usize, const P: usize>(
        &mut self,
        pb: &PointBuffers,
        pts: &[[f64; D]],
        layout: &Layout,
    ) {
        let (p, m, l, n_boxes, centre) = (P, layout.m, layout.l, layout.n_boxes, layout.centre);
        let zero = Complex::<T>::new(T::zero(), T::zero());
        let len = if D == 1 { l } else { m * l };
        resize_exact(&mut self.rows_a, len, zero);
        resize_exact(&mut self.rows_b, len, zero);
        // Group g owns nodes g p..(g + 1) p of the last dimension: p values in 1-D, p rows in 2-D.
        let row_block = if D == 1 { P } else { P * l };
        let (boxes, weights, order, starts) = (&pb.boxes, &pb.weights, &pb.order, &pb.group_start);
        self.rows_a[..n_boxes * row_block]
            .par_chunks_mut(row_block)
            .zip(self.rows_b[..n_boxes * row_block].par_chunks_mut(row_block))
            .enumerate()
            .for_each(|(g, (ga, gb))| {
                for r in 0..row_block.div_ceil(l) {
                    let row = r * l..(r * l + m).min(ga.len());
                    ga[row.clone()].fill(zero);
                    gb[row].fill(zero);
                }
                for &i in &order[starts[g] as usize..starts[g + 1] as usize] {
                    let i = i as usize;
                    let yi = pts[i];
                    let w = &weights[i * D * p..(i + 1) * D * p];
                    let (qa, qb) = if D == 2 {
                        (C::new(1.0, yi[0] - centre), C::new(yi[1] - centre, 1.0))
                    } else {
                        (C::new(1.0, yi[0] - centre), C::new(0.0, 1.0))
                    };
                    if D == 1 {
                        for a in 0..P {
                            ga[a] += narrow::<T>(qa * w[a]);
                            gb[a] += narrow::<T>(qb * w[a]);
                        }
                    } else {
                        let x0 = boxes[i * D] as usize * P;
                        for r in 0..P {
                            let (ra, rb) = (&mut ga[r * l + x0..][..P], &mut gb[r * l + x0..][..P]);
                            for a in 0..P {
                                let s = w[P + r] * w[a];
                                ra[a] += narrow::<T>(qa * s);
                                rb[a] += narrow::<T>(qb * s);
                            }
                        }
                    }
                }
            });
    }

    /// Convolves the charge grids with the kernel, tabulating its spectra when the grid or the
    /// box width changed.
    fn convolve<const D: usize>(&mut self, kernel: StudentT, layout: &Layout) {
        let (l, m) = (layout.l, layout.m);
        let p = m / layout.n_boxes;
        self.ensure_plans(l);
        let key = (l, layout.box_width.to_bits(), kernel.dof().to_bits());
        if self.kernel_key != Some(key) {
            self.kernel_spectra::<D>(kernel, layout.box_width / p as f64, m);
            self.kernel_key = Some(key);
        }
        if D == 1 {
            self.convolve_1d(m);
        } else {
            self.convolve_2d(m);
        }
    }
}

impl<T: GridScalar> Grids<T> {
    /// Tabulates `K1 + i K2` on the circulant grid with node spacing `h` (`m` nodes per
    /// dimension, transform length `2m`) and stores a quadrant of the two kernels' spectra,
    /// scaled for the inverse transform, as `k1`, `kp = (k1 + k2) / 2`, `km = (k1 - k2) / 2`.
    ///
    /// Both kernels are real and even in each coordinate, so the spectrum of `K1 + i K2` has
    /// `K1^` as its real part and `K2^` as its imaginary part, rows and columns `l - k` equal
    /// rows and columns `k`, and a 2-D transform needs only `m + 1` row and `m + 1` column
    /// transforms. Computed in double precision.
    fn kernel_spectra<const D: usize>(&mut self, kernel: StudentT, h: f64, m: usize) {
        let l = 2 * m;
        let q = m + 1;
        let cells = l.pow(D as u32);
        let scale = 1.0 / cells as f64;
        let dist = |t: usize| -> Option<f64> {
            match t.cmp(&m) {
                std::cmp::Ordering::Less => Some(t as f64 * h),
                std::cmp::Ordering::Equal => None,
                std::cmp::Ordering::Greater => Some((l - t) as f64 * h),
            }
        };
        let value = |dx: Option<f64>, dy: Option<f64>| match (dx, dy) {
            (Some(dx), Some(dy)) => {
                let (w, u) = kernel.weights(dx * dx + dy * dy);
                C::new(w * u, w)
            }
            _ => C::new(0.0, 0.0),
        };
        let fft = FftPlanner::<f64>::new().plan_fft_forward(l);
        let len = q.pow(D as u32);
        resize_exact(&mut self.k1, len, T::zero());
        resize_exact(&mut self.kp, len, T::zero());
        resize_exact(&mut self.km, len, T::zero());
        let store = |s: C, k1: &mut T, kp: &mut T, km: &mut T| {
            let (a, b) = (s.re * scale, s.im * scale);
            *k1 = T::narrow(a);
            *kp = T::narrow(0.5 * (a + b));
            *km = T::narrow(0.5 * (a - b));
        };
        if D == 1 {
            let mut scratch = vec![C::new(0.0, 0.0); fft.get_inplace_scratch_len()];
            let mut row: Vec<C> = (0..l).map(|t| value(dist(t), Some(0.0))).collect();
            fft.process_with_scratch(&mut row, &mut scratch);
            for k in 0..q {
                store(row[k], &mut self.k1[k], &mut self.kp[k], &mut self.km[k]);
            }
            return;
        }
        // Row transforms of rows 0..=m (the rest mirror them), keeping columns 0..=m.
        let mut half = vec![C::new(0.0, 0.0); q * q];
        half.par_chunks_mut(q).enumerate().for_each_init(
            || (vec![C::new(0.0, 0.0); l], vec![C::new(0.0, 0.0); fft.get_inplace_scratch_len()]),
            |(row, s), (r, out)| {
                for (t, v) in row.iter_mut().enumerate() {
                    *v = value(dist(t), dist(r));
                }
                fft.process_with_scratch(row, s);
                out.copy_from_slice(&row[..q]);
            },
        );
        // Column transforms of columns 0..=m, keeping rows 0..=m.
        let half = &half;
        self.k1
            .par_chunks_mut(q)
            .zip(self.kp.par_chunks_mut(q))
            .zip(self.km.par_chunks_mut(q))
            .enumerate()
            .for_each_init(
                || (vec![C::new(0.0, 0.0); l], vec![C::new(0.0, 0.0); fft.get_inplace_scratch_len()]),
                |(col, s), (kx, ((k1, kp), km))| {
                    for (r, v) in col.iter_mut().enumerate() {
                        *v = half[r.min(l - r) * q + kx];
                    }
                    fft.process_with_scratch(col, s);
                    for ky in 0..q {
                        store(col[ky], &mut k1[ky], &mut kp[ky], &mut km[ky]);
                    }
                },
            );
    }

    fn ensure_plans(&mut self, l: usize) {
        if self.plans.as_ref().map(|(len, _, _)| *len) != Some(l) {
            let fwd = self.planner.plan_fft_forward(l);
            let inv = self.planner.plan_fft_inverse(l);
            self.plans = Some((l, fwd, inv));
        }
    }

    fn plans(&self) -> (Arc<dyn Fft<T>>, Arc<dyn Fft<T>>) {
        match &self.plans {
            Some((_, fwd, inv)) => (fwd.clone(), inv.clone()),
            None => unreachable!("ensure_plans runs before every convolution"),
        }
    }

    /// 1-D: transform both zero-padded grids, multiply (the `b` grid's real and imaginary
    /// parts by different kernels, through the pair of frequencies `k`, `-k`), transform back.
    fn convolve_1d(&mut self, m: usize) {
        let l = 2 * m;
        let (fwd, inv) = self.plans();
        let len = fwd.get_inplace_scratch_len().max(1);
        self.scratch.resize(len, Complex::<T>::new(T::zero(), T::zero()));
        for g in [&mut self.rows_a, &mut self.rows_b] {
            g[m..].fill(Complex::<T>::new(T::zero(), T::zero()));
            fwd.process_with_scratch(g, &mut self.scratch);
        }
        for k in 0..l {
            self.rows_a[k] = self.rows_a[k] * self.k1[k.min(l - k)];
        }
        for k in 0..=m {
            let kk = (l - k) % l;
            let (s, t) = (self.rows_b[k], self.rows_b[kk]);
            let (kp, km) = (self.kp[k], self.km[k]);
            self.rows_b[k] = s * kp + t.conj() * km;
            self.rows_b[kk] = t * kp + s.conj() * km;
        }
        for g in [&mut self.rows_a, &mut self.rows_b] {
            inv.process_with_scratch(g, &mut self.scratch);
        }
    }

    /// 2-D: row transforms of the `m` charge rows; then, per block of columns and their mirror
    /// columns, gather (zero-padded to `l`), transform, multiply, transform back and keep the
    /// first `m` rows; then inverse row transforms, whose first `m` columns are the
    /// potentials. Every row and column is transformed alone, in the same way whichever task
    /// runs it, so the thread count does not change any value.
    fn convolve_2d(&mut self, m: usize) {
        let l = 2 * m;
        let (fwd, inv) = self.plans();
        let fft_scratch = fwd.get_inplace_scratch_len().max(inv.get_inplace_scratch_len()).max(1);
        let work_len = 4 * BLOCK * l;
        let per_task = work_len + fft_scratch;
        let tasks = (rayon::current_num_threads() * 2).clamp(1, m);
        self.scratch.resize(tasks * per_task, Complex::<T>::new(T::zero(), T::zero()));
        let zero = Complex::<T>::new(T::zero(), T::zero());
        let rows_per_task = m.div_ceil(tasks);

        // Forward row transforms (columns m..l are the zero padding).
        self.rows_a
            .par_chunks_mut(rows_per_task * l)
            .zip(self.rows_b.par_chunks_mut(rows_per_task * l))
            .zip(self.scratch.par_chunks_mut(per_task))
            .for_each(|((ra, rb), s)| {
                for grid in [ra, rb] {
                    for row in grid.chunks_mut(l) {
                        row[m..].fill(zero);
                    }
                    fwd.process_with_scratch(grid, &mut s[work_len..]);
                }
            });

        // Column pass, in place: the pairs (c, l - c), c in 1..m, in blocks of BLOCK pairs,
        // then columns 0 and m, each its own mirror. Each task reads and writes only its own
        // columns.
        let pairs = m - 1;
        let pairs_per_task = pairs.div_ceil(tasks).div_ceil(BLOCK).max(1) * BLOCK;
        let spectra = Spectra { k1: &self.k1, kp: &self.kp, km: &self.km, q: m + 1 };
        let grids = Columns::new(&mut self.rows_a, &mut self.rows_b);
        let plans = (&fwd, &inv);
        self.scratch.par_chunks_mut(per_task).enumerate().for_each(|(t, s)| {
            let end = (1 + (t + 1) * pairs_per_task).min(m);
            let mut c0 = 1 + t * pairs_per_task;
            while c0 < end {
                let width = BLOCK.min(end - c0);
                // Slots 0..width: columns c0 + j; slots width..2 width: their mirrors.
                let cols: [usize; 2 * BLOCK] = std::array::from_fn(|j| match j {
                    j if j < width => c0 + j,
                    j if j < 2 * width => l - (c0 + j - width),
                    _ => 0,
                });
                column_block(&grids, &cols[..2 * width], true, m, &spectra, s, plans);
                c0 += width;
            }
        });
        column_block(&grids, &[0, m], false, m, &spectra, &mut self.scratch[..per_task], plans);

        // Inverse row transforms of rows 0..m.
        self.rows_a
            .par_chunks_mut(rows_per_task * l)
            .zip(self.rows_b.par_chunks_mut(rows_per_task * l))
            .zip(self.scratch.par_chunks_mut(per_task))
            .for_each(|((oa, ob), s)| {
                let fs = &mut s[work_len..];
                inv.process_with_scratch(oa, fs);
                inv.process_with_scratch(ob, fs);
            });
    }
}

/// The two row-major `m x 2m` grids, shared by the tasks of the column pass, each of which
/// reads and writes a set of columns no other task touches.
struct Columns<'g, T> {
    a: *mut Complex<T>,
    b: *mut Complex<T>,
    len: usize,
    _grids: std::marker::PhantomData<&'g mut [Complex<T>]>,
}

// SAFETY: the grids are borrowed mutably for `'g`, and the column pass gives each task its
// own columns, so no element is accessed by two threads.
#[allow(unsafe_code)]
unsafe impl<T: Send> Sync for Columns<'_, T> {}

#[allow(unsafe_code)]
impl<'g, T: Copy> Columns<'g, T> {
    fn new(a: &'g mut [Complex<T>], b: &'g mut [Complex<T>]) -> Self {
        assert_eq!(a.len(), b.len());
        Self { a: a.as_mut_ptr(), b: b.as_mut_ptr(), len: a.len(), _grids: std::marker::PhantomData }
    }

    /// The values of both grids at `at` (row-major position).
    #[inline(always)]
    fn get(&self, at: usize) -> (Complex<T>, Complex<T>) {
        assert!(at < self.len);
        // SAFETY: in bounds; only the task that owns this position's column accesses it.
        unsafe { (*self.a.add(at), *self.b.add(at)) }
    }

    /// Writes both grids at `at`.
    #[inline(always)]
    fn set(&self, at: usize, va: Complex<T>, vb: Complex<T>) {
        assert!(at < self.len);
        // SAFETY: as in `get`.
        unsafe {
            *self.a.add(at) = va;
            *self.b.add(at) = vb;
        }
    }
}

/// A quadrant of the kernel spectra (see [`FftInterpolation::kernel_spectra`]).
struct Spectra<'a, T> {
    k1: &'a [T],
    kp: &'a [T],
    km: &'a [T],
    q: usize,
}

/// Gathers columns `cols` of both row-transformed grids (rows `0..m`, zero-padded to `l`),
/// transforms them, multiplies by the kernel spectra, transforms back and writes the first
/// `m` values of each column back in place.
///
/// With `pairs`, the second half of `cols` holds the mirrors `l - c` of the first half;
/// otherwise every column is its own mirror (columns 0 and `m`). The `b` grid's spectrum at
/// `(r, c)` needs `conj(B(-r, -c))`: its real part is convolved with `K1`, its imaginary part
/// with `K2`, as `kp B + km conj(B(-r, -c))`.
fn column_block<T: GridScalar>(
    grids: &Columns<'_, T>,
    cols: &[usize],
    pairs: bool,
    m: usize,
    spectra: &Spectra<'_, T>,
    scratch: &mut [Complex<T>],
    (fwd, inv): (&Arc<dyn Fft<T>>, &Arc<dyn Fft<T>>),
) {
    let l = 2 * m;
    let k = cols.len();
    let (work, fs) = scratch.split_at_mut(4 * BLOCK * l);
    let (wa, wb) = work.split_at_mut(2 * BLOCK * l);
    let (wa, wb) = (&mut wa[..k * l], &mut wb[..k * l]);
    for r in 0..m {
        for (j, &c) in cols.iter().enumerate() {
            (wa[j * l + r], wb[j * l + r]) = grids.get(r * l + c);
        }
    }
    for j in 0..k {
        wa[j * l + m..(j + 1) * l].fill(Complex::<T>::new(T::zero(), T::zero()));
        wb[j * l + m..(j + 1) * l].fill(Complex::<T>::new(T::zero(), T::zero()));
    }
    fwd.process_with_scratch(wa, fs);
    fwd.process_with_scratch(wb, fs);
    let q = spectra.q;
    for (j, &c) in cols.iter().enumerate() {
        let k1 = &spectra.k1[c.min(l - c) * q..][..q];
        for (r, v) in wa[j * l..][..l].iter_mut().enumerate() {
            *v *= k1[r.min(l - r)];
        }
    }
    let half = if pairs { k / 2 } else { k };
    for j in 0..half {
        let c = cols[j];
        let kp = &spectra.kp[c.min(l - c) * q..][..q];
        let km = &spectra.km[c.min(l - c) * q..][..q];
        // Own column at slot j, mirror column at slot `mj` (itself without pairs).
        let mj = if pairs { half + j } else { j };
        for r in 0..=m {
            let rm = (l - r) % l;
            let (own_r, own_rm) = (wb[j * l + r], wb[j * l + rm]);
            let (mir_r, mir_rm) = (wb[mj * l + r], wb[mj * l + rm]);
            let (p, n) = (kp[r], km[r]);
            wb[j * l + r] = own_r * p + mir_rm.conj() * n;
            wb[j * l + rm] = own_rm * p + mir_r.conj() * n;
            wb[mj * l + r] = mir_r * p + own_rm.conj() * n;
            wb[mj * l + rm] = mir_rm * p + own_r.conj() * n;
        }
    }
    inv.process_with_scratch(wa, fs);
    inv.process_with_scratch(wb, fs);
    for r in 0..m {
        for (j, &c) in cols.iter().enumerate() {
            grids.set(r * l + c, wa[j * l + r], wb[j * l + r]);
        }
    }
}

/// A double-precision value rounded to the grid's precision.
#[inline]
fn narrow<T: GridScalar>(v: C) -> Complex<T> {
    Complex::new(T::narrow(v.re), T::narrow(v.im))
}

/// A grid value in double precision.
#[inline]
fn widen<T: GridScalar>(v: Complex<T>) -> C {
    C::new(v.re.widen(), v.im.widen())
}

/// The smallest number `>= n` with no prime factor above 7.
pub fn next_smooth(n: usize) -> usize {
    (n.max(1)..)
        .find(|&c| {
            let mut v = c;
            for f in [2, 3, 5, 7] {
                while v % f == 0 {
                    v /= f;
                }
            }
            v == 1
        })
        // Powers of two are 7-smooth, so the search always ends by the next one.
        .unwrap_or_else(|| n.next_power_of_two())
}

impl Repulsion for FftInterpolation {
    fn repulsion(&mut self, y: &Matrix, kernel: StudentT, forces: &mut [f64]) -> Result<f64> {
        let (params, limit, pb) = (&self.params, self.memory_limit, &mut self.points);
        macro_rules! dispatch {
            ($d:literal, $grids:expr) => {
                match params.interp_points {
                    1 => Self::run::<_, $d, 1>(params, limit, pb, $grids, y, kernel, forces),
                    2 => Self::run::<_, $d, 2>(params, limit, pb, $grids, y, kernel, forces),
                    3 => Self::run::<_, $d, 3>(params, limit, pb, $grids, y, kernel, forces),
                    4 => Self::run::<_, $d, 4>(params, limit, pb, $grids, y, kernel, forces),
                    5 => Self::run::<_, $d, 5>(params, limit, pb, $grids, y, kernel, forces),
                    6 => Self::run::<_, $d, 6>(params, limit, pb, $grids, y, kernel, forces),
                    7 => Self::run::<_, $d, 7>(params, limit, pb, $grids, y, kernel, forces),
                    _ => Self::run::<_, $d, 8>(params, limit, pb, $grids, y, kernel, forces),
                }
            };
        }
        match y.cols() {
            1 => dispatch!(1, &mut self.line),
            2 => dispatch!(2, &mut self.plane),
            d => Err(Error::Unsupported {
                backend: "FFT interpolation".into(),
                what: format!(
                    "{d}-dimensional embeddings (1 to {}; use `RepulsionMethod::BarnesHut` for 3)",
                    Self::MAX_DIMS
                ),
            }),
        }
    }

    fn supports(&self, dims: usize) -> bool {
        (1..=Self::MAX_DIMS).contains(&dims)
    }

    fn name(&self) -> &str {
        "fft"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smooth_sizes() {
        assert_eq!(next_smooth(50), 50);
        assert_eq!(next_smooth(51), 54);
        assert_eq!(next_smooth(121), 125);
        assert_eq!(next_smooth(1), 1);
    }
}
