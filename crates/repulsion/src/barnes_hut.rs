//! Barnes-Hut repulsion (van der Maaten 2014, section 4.2): a 2^d-ary space-partitioning tree
//! (binary tree in 1-D, quadtree in 2-D, octree in 3-D) from one generic implementation.

use rayon::prelude::*;
use tsne_core::{Error, Matrix, Repulsion, Result, StudentT};

use tsne_core::gradient::{add_repulsion, as_points, offset};

/// Depth at which a cell becomes a leaf whatever it holds. Coincident points end in one leaf
/// and interact exactly (their force is zero, their weight one), so the build always ends.
const MAX_DEPTH: usize = 48;

/// Points a leaf may hold before it is split.
const LEAF_SIZE: usize = 4;

/// One cell of the tree. Its points are `order[start..end]`, its children
/// `nodes[first_child..first_child + n_children]` (empty cells are not stored). `second` is
/// the second central moment `sum_j (y_j - com)(y_j - com)^T` of its points.
#[derive(Debug, Clone, Copy, Default)]
struct Node {
    com: [f64; 3],
    second: [[f64; 3]; 3],
    width: f64,
    count: f64,
    start: u32,
    end: u32,
    first_child: u32,
    n_children: u32,
}

/// Barnes-Hut approximation of the repulsive forces and Z in O(n log n).
///
/// A cell is summarised by its centre of mass and second moment (see `cell_interaction`) when `width / distance < theta`, where `width` is
/// the side length of the (cubic) cell and `distance` runs from the point to the cell's centre
/// of mass; a cell that contains the point itself is always opened. `theta = 0` is exact.
/// The tree is rebuilt on every call into buffers kept between calls, and each point's sum runs
/// in tree order, so results do not depend on the thread count.
#[derive(Debug, Clone)]
pub struct BarnesHut {
    theta: f64,
    nodes: Vec<Node>,
    order: Vec<u32>,
    scratch: Vec<u32>,
    sorted: Vec<f64>,
    sorted_forces: Vec<f64>,
    z_rows: Vec<f64>,
}

impl BarnesHut {
    /// A backend with opening angle `theta` (finite, non-negative; 0.5 is the usual choice).
    pub fn new(theta: f64) -> Result<Self> {
        if !(theta.is_finite() && theta >= 0.0) {
            return Err(Error::InvalidParameter {
                name: "theta",
                reason: format!("must be finite and non-negative, got {theta}"),
            });
        }
        Ok(Self {
            theta,
            nodes: Vec::new(),
            order: Vec::new(),
            scratch: Vec::new(),
            sorted: Vec::new(),
            sorted_forces: Vec::new(),
            z_rows: Vec::new(),
        })
    }

    /// The opening angle.
    pub fn theta(&self) -> f64 {
        self.theta
    }

    fn run<const D: usize>(&mut self, y: &Matrix, kernel: StudentT, forces: &mut [f64]) -> f64 {
        let pts: &[[f64; D]] = as_points(y.as_slice());
        self.build::<D>(pts);
        let n = pts.len();
        self.sorted.clear();
        self.sorted.extend(self.order.iter().flat_map(|&i| pts[i as usize]));
        self.sorted_forces.resize(n * D, 0.0);
        self.z_rows.resize(n, 0.0);
        let sorted: &[[f64; D]] = as_points(&self.sorted);
        let nodes = &self.nodes;
        let theta2 = self.theta * self.theta;
        self.sorted_forces.par_chunks_mut(D).zip(self.z_rows.par_iter_mut()).enumerate().for_each(
            |(t, (f, z_out))| {
                let (acc, z) = traverse::<D>(nodes, sorted, &sorted[t], Some(t), theta2, kernel);
                f.copy_from_slice(&acc);
                *z_out = z;
            },
        );
        for (t, &i) in self.order.iter().enumerate() {
            forces[i as usize * D..(i as usize + 1) * D]
                .copy_from_slice(&self.sorted_forces[t * D..(t + 1) * D]);
        }
        self.z_rows.iter().sum()
    }

    /// Rebuilds the tree over `pts`, reusing the node and index buffers.
    fn build<const D: usize>(&mut self, pts: &[[f64; D]]) {
        let n = pts.len();
        self.order.clear();
        self.order.extend(0..n as u32);
        self.scratch.resize(n, 0);
        self.nodes.clear();
        let (mut lo, mut hi) = ([f64::INFINITY; D], [f64::NEG_INFINITY; D]);
        for p in pts {
            for k in 0..D {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let mut center = [0.0; D];
        let mut half: f64 = 0.0;
        for k in 0..D {
            center[k] = 0.5 * (lo[k] + hi[k]);
            half = half.max(0.5 * (hi[k] - lo[k]));
        }
        // A little slack keeps the extreme points strictly inside.
        half = half * (1.0 + 1e-9) + f64::MIN_POSITIVE;
        self.nodes.push(Node::default());
        self.build_node::<D>(pts, 0, 0, n, center, half, 0);
    }

    #[allow(clippy::too_many_arguments)]
    fn build_node<const D: usize>(
        &mut self,
        pts: &[[f64; D]],
        id: usize,
        start: usize,
        end: usize,
        center: [f64; D],
        half: f64,
        depth: usize,
    ) {
        let count = (end - start) as f64;
        self.nodes[id] =
            Node { width: 2.0 * half, count, start: start as u32, end: end as u32, ..Node::default() };
        if end - start <= LEAF_SIZE || depth >= MAX_DEPTH {
            // Moments straight from the points.
            let mut com = [0.0; 3];
            for &i in &self.order[start..end] {
                for k in 0..D {
                    com[k] += pts[i as usize][k] / count;
                }
            }
            let mut second = [[0.0; 3]; 3];
            for &i in &self.order[start..end] {
                let p = pts[i as usize];
                for k in 0..D {
                    for l in 0..D {
                        second[k][l] += (p[k] - com[k]) * (p[l] - com[l]);
                    }
                }
            }
            self.nodes[id].com = com;
            self.nodes[id].second = second;
            return;
        }
        // Stable counting sort of the cell's points into its 2^D orthants.
        let orthant =
            |p: &[f64; D]| (0..D).fold(0usize, |code, k| code | (((p[k] >= center[k]) as usize) << k));
        let mut bounds = [0usize; 9];
        for &i in &self.order[start..end] {
            bounds[orthant(&pts[i as usize]) + 1] += 1;
        }
        for c in 0..(1 << D) {
            bounds[c + 1] += bounds[c];
        }
        let mut next = bounds;
        for &i in &self.order[start..end] {
            let c = orthant(&pts[i as usize]);
            self.scratch[start + next[c]] = i;
            next[c] += 1;
        }
        self.order[start..end].copy_from_slice(&self.scratch[start..end]);
        let first = self.nodes.len();
        let mut children = [0usize; 8];
        let mut n_children = 0;
        for c in 0..1 << D {
            if bounds[c + 1] > bounds[c] {
                children[n_children] = c;
                n_children += 1;
            }
        }
        self.nodes[id].first_child = first as u32;
        self.nodes[id].n_children = n_children as u32;
        self.nodes.resize(first + n_children, Node::default());
        for (slot, &c) in children[..n_children].iter().enumerate() {
            let mut child_center = center;
            for k in 0..D {
                child_center[k] += if c >> k & 1 == 1 { 0.5 * half } else { -0.5 * half };
            }
            self.build_node::<D>(
                pts,
                first + slot,
                start + bounds[c],
                start + bounds[c + 1],
                child_center,
                0.5 * half,
                depth + 1,
            );
        }
        // Moments from the children (parallel-axis theorem): exact, and O(1) per child.
        let kids = &self.nodes[first..first + n_children];
        let mut com = [0.0; 3];
        for kid in kids {
            for k in 0..D {
                com[k] += kid.count / count * kid.com[k];
            }
        }
        let mut second = [[0.0; 3]; 3];
        for kid in kids {
            for k in 0..D {
                for l in 0..D {
                    second[k][l] +=
                        kid.second[k][l] + kid.count * (kid.com[k] - com[k]) * (kid.com[l] - com[l]);
                }
            }
        }
        self.nodes[id].com = com;
        self.nodes[id].second = second;
    }
}

/// The force on `yi` and its kernel sum over the points of the tree (`sorted` in tree order),
/// skipping the point at tree position `own` (the query itself, when it is in the tree).
/// Depth-first with a fixed stack on the call stack: each pop adds at most 2^D - 1 live
/// entries per level, so 8 (MAX_DEPTH + 1) always suffices and the traversal never allocates.
#[inline]
fn traverse<const D: usize>(
    nodes: &[Node],
    sorted: &[[f64; D]],
    yi: &[f64; D],
    own: Option<usize>,
    theta2: f64,
    kernel: StudentT,
) -> ([f64; D], f64) {
    let mut acc = [0.0; D];
    let mut z = 0.0;
    let mut stack = [0u32; 8 * (MAX_DEPTH + 1)];
    let mut top = 1;
    while top > 0 {
        top -= 1;
        let id = stack[top];
        let node = &nodes[id as usize];
        let contains_own = own.is_some_and(|t| (node.start as usize..node.end as usize).contains(&t));
        if !contains_own {
            let (diff, d2) = offset(yi, &node.com);
            if node.width * node.width < theta2 * d2 {
                let c = cell_interaction::<D>(kernel, &diff, d2, node);
                z += c.z;
                for k in 0..D {
                    acc[k] += c.force[k];
                }
                continue;
            }
        }
        if node.n_children == 0 {
            for (s, yj) in sorted[node.start as usize..node.end as usize].iter().enumerate() {
                if own == Some(s + node.start as usize) {
                    continue;
                }
                let (diff, d2) = offset(yi, yj);
                add_repulsion(kernel, &diff, d2, &mut acc, &mut z);
            }
        } else {
            // Pushed in reverse so children are visited in index order.
            for c in (node.first_child..node.first_child + node.n_children).rev() {
                stack[top] = c;
                top += 1;
            }
        }
    }
    (acc, z)
}

/// A Barnes-Hut tree over a fixed embedding, built once, for the repulsion that embedding
/// exerts on other points (placing new points into it, [`ReferenceTree::repulsion`]).
#[derive(Debug, Clone)]
pub struct ReferenceTree {
    tree: BarnesHut,
    dims: usize,
}

impl BarnesHut {
    /// The tree of `reference` (1-, 2- or 3-D) with this backend's opening angle.
    pub fn reference_tree(&self, reference: &Matrix) -> Result<ReferenceTree> {
        let mut tree = BarnesHut::new(self.theta)?;
        match reference.cols() {
            1 => tree.build::<1>(as_points(reference.as_slice())),
            2 => tree.build::<2>(as_points(reference.as_slice())),
            3 => tree.build::<3>(as_points(reference.as_slice())),
            d => return Err(unsupported(d)),
        }
        let order = std::mem::take(&mut tree.order);
        tree.sorted.clear();
        let dims = reference.cols();
        tree.sorted.extend(order.iter().flat_map(|&i| reference.row(i as usize).iter().copied()));
        tree.order = order;
        Ok(ReferenceTree { tree, dims })
    }
}

impl ReferenceTree {
    /// For each row `q_i` of `queries` (points not in the reference): writes
    /// `forces_i = sum_j w(q_i, r_j) u(q_i, r_j) (q_i - r_j)` and `z_i = sum_j w(q_i, r_j)` over
    /// the reference points `r_j`, with the same cell approximation as the embedding's own
    /// repulsion. Deterministic for any thread count.
    pub fn repulsion(
        &self,
        queries: &Matrix,
        kernel: StudentT,
        forces: &mut [f64],
        z: &mut [f64],
    ) -> Result<()> {
        if queries.cols() != self.dims {
            return Err(Error::DimensionMismatch {
                what: "points placed into the embedding",
                expected: self.dims,
                found: queries.cols(),
            });
        }
        let m = queries.rows();
        assert!(
            forces.len() == m * self.dims && z.len() == m,
            "buffers of {} forces and {} sums for {m} points in {} dimensions",
            forces.len(),
            z.len(),
            self.dims
        );
        match self.dims {
            1 => self.run::<1>(queries, kernel, forces, z),
            2 => self.run::<2>(queries, kernel, forces, z),
            _ => self.run::<3>(queries, kernel, forces, z),
        }
        Ok(())
    }

    fn run<const D: usize>(&self, queries: &Matrix, kernel: StudentT, forces: &mut [f64], z: &mut [f64]) {
        let sorted: &[[f64; D]] = as_points(&self.tree.sorted);
        let queries: &[[f64; D]] = as_points(queries.as_slice());
        let theta2 = self.tree.theta * self.tree.theta;
        forces.par_chunks_mut(D).zip(z.par_iter_mut()).zip(queries.par_iter()).for_each(|((f, z), q)| {
            let (acc, sum) = traverse::<D>(&self.tree.nodes, sorted, q, None, theta2, kernel);
            f.copy_from_slice(&acc);
            *z = sum;
        });
    }
}

fn unsupported(d: usize) -> Error {
    Error::Unsupported {
        backend: "Barnes-Hut".into(),
        what: format!("{d}-dimensional embeddings (1, 2 or 3 only)"),
    }
}

/// The contribution of a whole cell to Z and to the force on a point at offset `diff` from its
/// centre of mass (`d2 = |diff|^2`), to second order in the spread of the cell's points.
///
/// With `w(r^2)` the kernel and `g = w u` the force factor, a Taylor expansion of
/// `sum_j w(|diff - e_j|^2)` and `sum_j g(|diff - e_j|^2) (diff - e_j)` around `e_j = 0`, where
/// `e_j` are the points' offsets from the centre of mass (`sum_j e_j = 0`, `M = sum_j e_j e_j^T`),
/// gives (primes are derivatives in `r^2`)
///
/// `Z_cell = n w + 2 w'' diff^T M diff + w' tr M`,
/// `F_cell = n g diff + 2 g'' (diff^T M diff) diff + g' (tr M diff + 2 M diff)`,
///
/// where for `w = (1 + r^2/a)^-a`: `w' = -w u`, `w'' = (a+1)/a w u^2`, `g' = -(a+1)/a w u^2`,
/// `g'' = (a+1)(a+2)/a^2 w u^3`. The monopole term alone (classic Barnes-Hut) underestimates
/// Z systematically because the kernel is convex far from the cell; the quadrupole term removes
/// that leading error for the cost of a few multiplications.
struct CellTerms<const D: usize> {
    z: f64,
    force: [f64; D],
}

#[inline]
fn cell_interaction<const D: usize>(kernel: StudentT, diff: &[f64; D], d2: f64, node: &Node) -> CellTerms<D> {
    let (w, u) = kernel.weights(d2);
    let a = kernel.dof();
    let r = (a + 1.0) / a;
    let g = w * u;
    let w1 = -g;
    let w2 = r * g * u;
    let g1 = -w2;
    let g2 = r * (a + 2.0) / a * g * u * u;
    let mut m_diff = [0.0; D];
    let mut quad = 0.0;
    let mut trace = 0.0;
    for k in 0..D {
        trace += node.second[k][k];
        for l in 0..D {
            m_diff[k] += node.second[k][l] * diff[l];
        }
        quad += diff[k] * m_diff[k];
    }
    let z = node.count * w + 2.0 * w2 * quad + w1 * trace;
    let radial = node.count * g + 2.0 * g2 * quad + g1 * trace;
    let mut force = [0.0; D];
    for k in 0..D {
        force[k] = radial * diff[k] + 2.0 * g1 * m_diff[k];
    }
    CellTerms { z, force }
}

impl Repulsion for BarnesHut {
    fn repulsion(&mut self, y: &Matrix, kernel: StudentT, forces: &mut [f64]) -> Result<f64> {
        Ok(match y.cols() {
            1 => self.run::<1>(y, kernel, forces),
            2 => self.run::<2>(y, kernel, forces),
            3 => self.run::<3>(y, kernel, forces),
            d => return Err(unsupported(d)),
        })
    }

    fn is_exact(&self) -> bool {
        self.theta == 0.0
    }

    fn name(&self) -> &str {
        "bh"
    }
}
