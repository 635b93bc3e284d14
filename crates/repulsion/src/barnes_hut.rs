//! Barnes-Hut repulsion (van der Maaten 2014, section 4.2): a 2^d-ary space-partitioning tree
//! (binary tree in 1-D, quadtree in 2-D, octree in 3-D) from one generic implementation.

use rayon::prelude::*;
use tsne_core::{Error, Matrix, Repulsion, Result, StudentT};

use tsne_core::gradient::{as_points, offset};

/// Depth at which a cell becomes a leaf whatever it holds. Coincident points end in one leaf
/// and interact exactly (their force is zero, their weight one), so the build always ends.
const MAX_DEPTH: usize = 48;

/// Points a leaf may hold before it is split.
const LEAF_SIZE: usize = 4;

/// Most points of a group: the points of one cell that share one traversal and one list of
/// interactions (Barnes 1990, "A modified tree code: don't laugh; it runs"). A multiple of 8,
/// the points being evaluated in lanes of four (`f64`) or eight (`f32`).
const GROUP: usize = 128;

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
/// A cell is summarised by its centre of mass and second moment (a quadrupole expansion) when
/// `width / distance < theta`, where `width` is the side length of the (cubic) cell and
/// `distance` runs from the point to the cell's centre of mass; a cell that contains the point
/// itself is always opened. Points are taken in groups of up to 128 whose test uses the
/// distance to the group's bounding box, at least as strict as the point's own. `theta = 0` is
/// exact. The tree is rebuilt on every call into buffers kept between calls, and each point's
/// sum runs in a fixed order, so results do not depend on the thread count.
#[derive(Debug, Clone)]
pub struct BarnesHut {
    theta: f64,
    nodes: Vec<Node>,
    order: Vec<u32>,
    scratch: Vec<u32>,
    sorted: Vec<f64>,
    sorted_forces: Vec<f64>,
    z_rows: Vec<f64>,
    /// The groups of the embedding's own repulsion: maximal cells of at most `GROUP` points
    /// (or leaves), in tree order, so that their point ranges tile `0..n`.
    groups: Vec<u32>,
    /// Cells with at least this many points build their children in parallel.
    parallel_cell: usize,
}

impl BarnesHut {
    /// Most embedding dimensions of the tree (a binary tree, a quadtree or an octree).
    pub const MAX_DIMS: usize = 3;

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
            groups: Vec::new(),
            parallel_cell: PARALLEL_CELL,
        })
    }

    /// The opening angle.
    pub fn theta(&self) -> f64 {
        self.theta
    }

    fn run<const D: usize>(&mut self, y: &Matrix, kernel: StudentT, forces: &mut [f64]) -> f64 {
        let pts: &[[f64; D]] = as_points(y.as_slice());
        self.build::<D>(pts);
        self.find_groups();
        let n = pts.len();
        self.sorted.clear();
        self.sorted.extend(self.order.iter().flat_map(|&i| pts[i as usize]));
        self.sorted_forces.resize(n * D, 0.0);
        self.z_rows.resize(n, 0.0);
        let tree = Tree::<D> {
            nodes: &self.nodes,
            sorted: as_points(&self.sorted),
            theta2: self.theta * self.theta,
        };
        let grain = self.groups.len().div_ceil(16 * rayon::current_num_threads()).max(1);
        let (forces_sorted, z_rows) = (&mut self.sorted_forces, &mut self.z_rows);
        if kernel.is_cauchy() && self.theta > 0.0 {
            let kernel = Expansion::<_, f32>::new(kernel, |d2: f32| {
                let u = 1.0 / (1.0 + d2);
                (u, u)
            });
            tree.groups(&self.groups, 0, grain, &kernel, forces_sorted, z_rows);
        } else if kernel.is_cauchy() {
            let kernel = Expansion::<_, f64>::new(kernel, |d2: f64| {
                let u = 1.0 / (1.0 + d2);
                (u, u)
            });
            tree.groups(&self.groups, 0, grain, &kernel, forces_sorted, z_rows);
        } else {
            let kernel = Expansion::<_, f64>::new(kernel, |d2: f64| kernel.weights(d2));
            tree.groups(&self.groups, 0, grain, &kernel, forces_sorted, z_rows);
        }
        for (t, &i) in self.order.iter().enumerate() {
            forces[i as usize * D..(i as usize + 1) * D]
                .copy_from_slice(&self.sorted_forces[t * D..(t + 1) * D]);
        }
        self.z_rows.iter().sum()
    }

    /// Splits the tree into groups: maximal cells of at most `GROUP` points, and leaves
    /// (a leaf of coincident points at `MAX_DEPTH` may hold more).
    fn find_groups(&mut self) {
        self.groups.clear();
        // The sort's scratch is free once the tree is built; it serves as the stack.
        let stack = &mut self.scratch;
        stack.clear();
        stack.push(0);
        while let Some(id) = stack.pop() {
            let node = &self.nodes[id as usize];
            if node.n_children == 0 || node.count as usize <= GROUP {
                self.groups.push(id);
            } else {
                stack.extend((node.first_child..node.first_child + node.n_children).rev());
            }
        }
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
        let cell = Cell { center, half, depth: 0, start: 0 };
        build_cell::<D>(
            pts,
            &mut self.nodes,
            0,
            &mut self.order,
            &mut self.scratch,
            cell,
            self.parallel_cell,
        );
    }
}

/// Cells with at least this many points build their children's subtrees in parallel.
const PARALLEL_CELL: usize = 4096;

/// Where a cell lies: its centre, half-width, depth, and the tree position of its first point.
#[derive(Clone, Copy)]
struct Cell<const D: usize> {
    center: [f64; D],
    half: f64,
    depth: usize,
    start: usize,
}

impl<const D: usize> Cell<D> {
    /// The child in orthant `c` (bit `k` set: the upper half along axis `k`), whose points
    /// start `offset` positions after this cell's.
    fn child(&self, c: usize, offset: usize) -> Self {
        let mut center = self.center;
        for k in 0..D {
            center[k] += if c >> k & 1 == 1 { 0.5 * self.half } else { -0.5 * self.half };
        }
        Self { center, half: 0.5 * self.half, depth: self.depth + 1, start: self.start + offset }
    }
}

/// Builds the cell `nodes[id]` over the points `order` (reordered here; `scratch` is as long)
/// and its subtree. The children of a cell are consecutive nodes. A cell of at least
/// `parallel_cell` points builds each child's subtree in its own vector in parallel and
/// appends them with their indices shifted: the same tree, so every sum over it is the same
/// for any thread count.
fn build_cell<const D: usize>(
    pts: &[[f64; D]],
    nodes: &mut Vec<Node>,
    id: usize,
    order: &mut [u32],
    scratch: &mut [u32],
    cell: Cell<D>,
    parallel_cell: usize,
) {
    let len = order.len();
    nodes[id] = Node {
        width: 2.0 * cell.half,
        count: len as f64,
        start: cell.start as u32,
        end: (cell.start + len) as u32,
        ..Node::default()
    };
    if len <= LEAF_SIZE || cell.depth >= MAX_DEPTH {
        (nodes[id].com, nodes[id].second) = leaf_moments(pts, order);
        return;
    }
    let bounds = sort_into_orthants(pts, order, scratch, &cell.center);
    let first = nodes.len();
    let mut children = [0usize; 8];
    let mut n_children = 0;
    for c in 0..1 << D {
        if bounds[c + 1] > bounds[c] {
            children[n_children] = c;
            n_children += 1;
        }
    }
    let children = &children[..n_children];
    nodes[id].first_child = first as u32;
    nodes[id].n_children = n_children as u32;
    nodes.resize(first + n_children, Node::default());
    let build = Children { pts, cell, bounds, first, parallel_cell };
    if len >= parallel_cell {
        build.in_parallel(nodes, children, order, scratch);
    } else {
        build.in_turn(nodes, children, order, scratch);
    }
    (nodes[id].com, nodes[id].second) =
        moments_of_children::<D>(&nodes[first..first + n_children], len as f64);
}

/// The centre of mass and second moments of the points `order`, straight from the points.
fn leaf_moments<const D: usize>(pts: &[[f64; D]], order: &[u32]) -> ([f64; 3], [[f64; 3]; 3]) {
    let count = order.len() as f64;
    let mut com = [0.0; 3];
    for &i in order {
        for k in 0..D {
            com[k] += pts[i as usize][k] / count;
        }
    }
    let mut second = [[0.0; 3]; 3];
    for &i in order {
        let p = pts[i as usize];
        for k in 0..D {
            for l in 0..D {
                second[k][l] += (p[k] - com[k]) * (p[l] - com[l]);
            }
        }
    }
    (com, second)
}

/// Sorts the points `order` (stably, by counting, through `scratch`) into the `2^D` orthants
/// around `center`; orthant `c` is `order[bounds[c]..bounds[c + 1]]`.
fn sort_into_orthants<const D: usize>(
    pts: &[[f64; D]],
    order: &mut [u32],
    scratch: &mut [u32],
    center: &[f64; D],
) -> [usize; 9] {
    let orthant = |p: &[f64; D]| (0..D).fold(0usize, |code, k| code | (((p[k] >= center[k]) as usize) << k));
    let mut bounds = [0usize; 9];
    for &i in order.iter() {
        bounds[orthant(&pts[i as usize]) + 1] += 1;
    }
    for c in 0..(1 << D) {
        bounds[c + 1] += bounds[c];
    }
    let mut next = bounds;
    for &i in order.iter() {
        let c = orthant(&pts[i as usize]);
        scratch[next[c]] = i;
        next[c] += 1;
    }
    order.copy_from_slice(scratch);
    bounds
}

/// A cell's moments from its children's (parallel-axis theorem): exact, and O(1) per child.
fn moments_of_children<const D: usize>(kids: &[Node], count: f64) -> ([f64; 3], [[f64; 3]; 3]) {
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
                second[k][l] += kid.second[k][l] + kid.count * (kid.com[k] - com[k]) * (kid.com[l] - com[l]);
            }
        }
    }
    (com, second)
}

/// The subtrees of a cell's children: orthant `c` holds `order[bounds[c]..bounds[c + 1]]`,
/// and the children's nodes start at `nodes[first]`.
struct Children<'a, const D: usize> {
    pts: &'a [[f64; D]],
    cell: Cell<D>,
    bounds: [usize; 9],
    first: usize,
    parallel_cell: usize,
}

impl<const D: usize> Children<'_, D> {
    /// Each child's subtree built in place, one after the other.
    fn in_turn(&self, nodes: &mut Vec<Node>, children: &[usize], order: &mut [u32], scratch: &mut [u32]) {
        for (slot, &c) in children.iter().enumerate() {
            let range = self.bounds[c]..self.bounds[c + 1];
            build_cell::<D>(
                self.pts,
                nodes,
                self.first + slot,
                &mut order[range.clone()],
                &mut scratch[range.clone()],
                self.cell.child(c, range.start),
                self.parallel_cell,
            );
        }
    }

    /// Each child's subtree in its own vector (its root first), built in parallel, then
    /// appended with its indices shifted.
    fn in_parallel(&self, nodes: &mut Vec<Node>, children: &[usize], order: &mut [u32], scratch: &mut [u32]) {
        let mut parts = Vec::with_capacity(children.len());
        let (mut rest_o, mut rest_s) = (order, scratch);
        for &c in children {
            let size = self.bounds[c + 1] - self.bounds[c];
            let (o, ro) = std::mem::take(&mut rest_o).split_at_mut(size);
            let (s, rs) = std::mem::take(&mut rest_s).split_at_mut(size);
            (rest_o, rest_s) = (ro, rs);
            parts.push((c, o, s, Vec::new()));
        }
        parts.par_iter_mut().for_each(|(c, o, s, sub)| {
            sub.push(Node::default());
            let child = self.cell.child(*c, self.bounds[*c]);
            build_cell::<D>(self.pts, sub, 0, o, s, child, self.parallel_cell);
        });
        for (slot, (_, _, _, sub)) in parts.into_iter().enumerate() {
            // Local index i > 0 lands at base + i - 1; the local root at first + slot.
            let base = nodes.len() as u32;
            let shift = |node: &mut Node| {
                if node.n_children > 0 {
                    node.first_child = base + node.first_child - 1;
                }
            };
            let mut root = sub[0];
            shift(&mut root);
            nodes[self.first + slot] = root;
            nodes.extend(sub[1..].iter().map(|&node| {
                let mut node = node;
                shift(&mut node);
                node
            }));
        }
    }
}

/// The tree of one evaluation: its cells, the points in tree order, and `theta^2`.
struct Tree<'a, const D: usize> {
    nodes: &'a [Node],
    sorted: &'a [[f64; D]],
    theta2: f64,
}

/// The interaction lists of one group: accepted cells (node ids) and points taken one by one
/// (tree positions). Reused from group to group.
#[derive(Default)]
struct Interactions {
    cells: Vec<u32>,
    points: Vec<u32>,
}

impl<const D: usize> Tree<'_, D> {
    /// Forces and kernel sums of the points of `groups` (consecutive groups, whose points start
    /// at tree position `base`), split in halves over the thread pool down to `grain` groups.
    fn groups<K, T>(
        &self,
        groups: &[u32],
        base: usize,
        grain: usize,
        kernel: &Expansion<K, T>,
        forces: &mut [f64],
        z: &mut [f64],
    ) where
        K: Fn(T) -> (T, T) + Sync,
        T: Lane,
    {
        if groups.len() <= grain {
            let mut lists = Interactions::default();
            for &g in groups {
                let node = &self.nodes[g as usize];
                let (s, e) = (node.start as usize - base, node.end as usize - base);
                self.group(node, kernel, &mut lists, &mut forces[s * D..e * D], &mut z[s..e]);
            }
            return;
        }
        let mid = groups.len() / 2;
        let split = self.nodes[groups[mid] as usize].start as usize;
        let (fa, fb) = forces.split_at_mut((split - base) * D);
        let (za, zb) = z.split_at_mut(split - base);
        rayon::join(
            || self.groups(&groups[..mid], base, grain, kernel, fa, za),
            || self.groups(&groups[mid..], split, grain, kernel, fb, zb),
        );
    }

    /// One group: its interaction lists (see [`Self::interactions`]), then every point of
    /// the group against them. The group's own points are in the point list; each point's own
    /// term (`w(0) = 1`, no force) is taken off its sum.
    fn group<K, T>(
        &self,
        group: &Node,
        kernel: &Expansion<K, T>,
        lists: &mut Interactions,
        forces: &mut [f64],
        z: &mut [f64],
    ) where
        K: Fn(T) -> (T, T),
        T: Lane,
    {
        self.interactions(group, lists);
        let own = &self.sorted[group.start as usize..group.end as usize];
        let origin = if T::CENTRED { own[0] } else { [0.0; D] };
        for (c, chunk) in own.chunks(GROUP).enumerate() {
            let (acc, sums) = self.evaluate_dispatch(chunk, origin, lists, kernel);
            for (t, zt) in z[c * GROUP..][..chunk.len()].iter_mut().enumerate() {
                for k in 0..D {
                    forces[(c * GROUP + t) * D + k] = acc[k][t];
                }
                *zt = sums[t] - 1.0;
            }
        }
    }

    /// The lists of one group from one traversal, with the opening test taken from the
    /// group's bounding box: a cell is summarised when `width < theta d_min`, `d_min` the
    /// distance from its centre of mass to the box, so it passes the per-point test of every
    /// point in the group; cells that contain group points are opened down to their leaves.
    fn interactions(&self, group: &Node, lists: &mut Interactions) {
        let (gs, ge) = (group.start as usize, group.end as usize);
        let own = &self.sorted[gs..ge];
        let (mut lo, mut hi) = (own[0], own[0]);
        for p in own {
            for k in 0..D {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        lists.cells.clear();
        lists.points.clear();
        // Depth-first: each pop adds at most 2^D - 1 live entries per level.
        let mut stack = [0u32; 8 * (MAX_DEPTH + 1)];
        let mut top = 1;
        while top > 0 {
            top -= 1;
            let id = stack[top];
            let node = &self.nodes[id as usize];
            let overlaps = (node.start as usize) < ge && gs < node.end as usize;
            if !overlaps {
                let mut d2 = 0.0;
                for k in 0..D {
                    let c = node.com[k];
                    let d = (lo[k] - c).max(c - hi[k]).max(0.0);
                    d2 += d * d;
                }
                if node.width * node.width < self.theta2 * d2 {
                    lists.cells.push(id);
                    continue;
                }
            }
            if node.n_children == 0 {
                lists.points.extend(node.start..node.end);
            } else {
                // Pushed in reverse so children are visited in index order.
                for c in (node.first_child..node.first_child + node.n_children).rev() {
                    stack[top] = c;
                    top += 1;
                }
            }
        }
    }

    /// [`Self::evaluate`], compiled for AVX2 when the CPU has it: the same IEEE operations
    /// per lane in the same order (no fused multiply-adds), so the same bits on any CPU.
    #[allow(clippy::type_complexity)]
    #[allow(unsafe_code)]
    fn evaluate_dispatch<K, T>(
        &self,
        chunk: &[[f64; D]],
        origin: [f64; D],
        lists: &Interactions,
        kernel: &Expansion<K, T>,
    ) -> ([[f64; GROUP]; D], [f64; GROUP])
    where
        K: Fn(T) -> (T, T),
        T: Lane,
    {
        #[cfg(target_arch = "x86_64")]
        if tsne_core::simd::avx2() {
            // SAFETY: the CPU supports AVX2, the only requirement of `evaluate_avx2`.
            return unsafe { self.evaluate_avx2(chunk, origin, lists, kernel) };
        }
        self.evaluate(chunk, origin, lists, kernel)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(clippy::type_complexity)]
    fn evaluate_avx2<K, T>(
        &self,
        chunk: &[[f64; D]],
        origin: [f64; D],
        lists: &Interactions,
        kernel: &Expansion<K, T>,
    ) -> ([[f64; GROUP]; D], [f64; GROUP])
    where
        K: Fn(T) -> (T, T),
        T: Lane,
    {
        self.evaluate(chunk, origin, lists, kernel)
    }

    /// Sums over the lists for up to `GROUP` points, one lane per point (lanes past the
    /// points repeat the last one and are discarded), in the precision `T`, with coordinates
    /// taken relative to `origin`. Each lane adds its terms in list order.
    #[inline(always)]
    #[allow(clippy::type_complexity)]
    fn evaluate<K, T>(
        &self,
        chunk: &[[f64; D]],
        origin: [f64; D],
        lists: &Interactions,
        kernel: &Expansion<K, T>,
    ) -> ([[f64; GROUP]; D], [f64; GROUP])
    where
        K: Fn(T) -> (T, T),
        T: Lane,
    {
        let lanes = chunk.len().next_multiple_of(T::WIDTH).min(GROUP);
        let zero = T::of(0.0);
        let mut y = [[zero; GROUP]; D];
        for t in 0..GROUP {
            let p = chunk[t.min(chunk.len() - 1)];
            for k in 0..D {
                y[k][t] = T::of(p[k] - origin[k]);
            }
        }
        let mut acc = [[zero; GROUP]; D];
        let mut sums = [zero; GROUP];
        for &c in &lists.cells {
            let node = &self.nodes[c as usize];
            let com: [T; D] = std::array::from_fn(|k| T::of(node.com[k] - origin[k]));
            let second: [[T; D]; D] =
                std::array::from_fn(|k| std::array::from_fn(|l| T::of(node.second[k][l])));
            let count = T::of(node.count);
            for t in 0..lanes {
                let mut diff = [zero; D];
                let mut d2 = zero;
                for k in 0..D {
                    diff[k] = y[k][t] - com[k];
                    d2 += diff[k] * diff[k];
                }
                let (zc, f) = kernel.cell(&diff, d2, count, &second);
                sums[t] += zc;
                for k in 0..D {
                    acc[k][t] += f[k];
                }
            }
        }
        for &j in &lists.points {
            let p = self.sorted[j as usize];
            let yj: [T; D] = std::array::from_fn(|k| T::of(p[k] - origin[k]));
            for t in 0..lanes {
                let mut diff = [zero; D];
                let mut d2 = zero;
                for k in 0..D {
                    diff[k] = y[k][t] - yj[k];
                    d2 += diff[k] * diff[k];
                }
                let (w, s) = kernel.pair(d2);
                sums[t] += w;
                for k in 0..D {
                    acc[k][t] += s * diff[k];
                }
            }
        }
        (acc.map(|a| a.map(T::wide)), sums.map(T::wide))
    }
}

/// The scalar of the group evaluation. `f64` in general; `f32` for the Cauchy kernel at
/// `theta > 0`, with coordinates taken relative to a point of the group (`CENTRED`), where
/// the rounding of an offset is about 1e-7 of the group's distance to the cell and each lane's
/// sum of a few hundred terms stays within about 1e-5, against the expansion's own 1e-4 to
/// 1e-3 (theta = 0, which promises the exact sums, stays in `f64`).
trait Lane:
    Copy
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + std::ops::Neg<Output = Self>
    + std::ops::AddAssign
    + Send
    + Sync
{
    /// Lanes of one 256-bit register.
    const WIDTH: usize;
    /// Whether coordinates are taken relative to the group.
    const CENTRED: bool;
    fn of(v: f64) -> Self;
    fn wide(self) -> f64;
}

impl Lane for f64 {
    const WIDTH: usize = 4;
    const CENTRED: bool = false;
    #[inline(always)]
    fn of(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn wide(self) -> f64 {
        self
    }
}

impl Lane for f32 {
    const WIDTH: usize = 8;
    const CENTRED: bool = true;
    #[inline(always)]
    fn of(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn wide(self) -> f64 {
        f64::from(self)
    }
}

/// The force on `yi` and its kernel sum over the points of the tree (`sorted` in tree order),
/// with the opening test taken at `yi` itself: the repulsion of a fixed tree on points outside
/// it. Depth-first with a fixed stack on the call stack: each pop adds at most 2^D - 1 live
/// entries per level, so 8 (MAX_DEPTH + 1) always suffices and the traversal never allocates.
#[inline]
fn traverse<const D: usize, K: Fn(f64) -> (f64, f64)>(
    tree: &Tree<'_, D>,
    yi: &[f64; D],
    kernel: &Expansion<K, f64>,
) -> ([f64; D], f64) {
    let mut acc = [0.0; D];
    let mut z = 0.0;
    let mut stack = [0u32; 8 * (MAX_DEPTH + 1)];
    let mut top = 1;
    while top > 0 {
        top -= 1;
        let id = stack[top];
        let node = &tree.nodes[id as usize];
        let (diff, d2) = offset(yi, &node.com);
        if node.width * node.width < tree.theta2 * d2 {
            let second: [[f64; D]; D] = std::array::from_fn(|k| std::array::from_fn(|l| node.second[k][l]));
            let (zc, f) = kernel.cell(&diff, d2, node.count, &second);
            z += zc;
            for k in 0..D {
                acc[k] += f[k];
            }
            continue;
        }
        if node.n_children == 0 {
            for yj in &tree.sorted[node.start as usize..node.end as usize] {
                let (diff, d2) = offset(yi, yj);
                let (w, s) = kernel.pair(d2);
                z += w;
                for k in 0..D {
                    acc[k] += s * diff[k];
                }
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
        let tree = Tree {
            nodes: &self.tree.nodes,
            sorted: as_points(&self.tree.sorted),
            theta2: self.tree.theta * self.tree.theta,
        };
        let queries: &[[f64; D]] = as_points(queries.as_slice());
        let kernel = Expansion::new(kernel, |d2: f64| kernel.weights(d2));
        forces.par_chunks_mut(D).zip(z.par_iter_mut()).zip(queries.par_iter()).for_each(|((f, z), q)| {
            let (acc, sum) = traverse::<D, _>(&tree, q, &kernel);
            f.copy_from_slice(&acc);
            *z = sum;
        });
    }
}

fn unsupported(d: usize) -> Error {
    Error::Unsupported {
        backend: "Barnes-Hut".into(),
        what: format!(
            "{d}-dimensional embeddings (1 to {}; use `RepulsionMethod::Exact`)",
            BarnesHut::MAX_DIMS
        ),
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
struct Expansion<K, T> {
    /// `d^2 -> (w, u)`, the kernel (a closure so that the Cauchy case is compiled on its own).
    weights: K,
    /// `(a + 1) / a` and `(a + 1)(a + 2) / a^2`.
    r1: T,
    r2: T,
}

impl<K: Fn(T) -> (T, T), T: Lane> Expansion<K, T> {
    /// The expansion of `kernel`, evaluated through `weights` (which must agree with it).
    fn new(kernel: StudentT, weights: K) -> Self {
        let a = kernel.dof();
        let r1 = (a + 1.0) / a;
        Self { weights, r1: T::of(r1), r2: T::of(r1 * (a + 2.0) / a) }
    }

    /// A whole cell's `(Z_cell, F_cell)` at offset `diff` from its centre of mass, for a
    /// cell of `count` points with second moment `second`.
    #[inline(always)]
    fn cell<const D: usize>(&self, diff: &[T; D], d2: T, count: T, second: &[[T; D]; D]) -> (T, [T; D]) {
        let (w, u) = (self.weights)(d2);
        let g = w * u;
        let w1 = -g;
        let w2 = self.r1 * g * u;
        let g1 = -w2;
        let g2 = self.r2 * g * u * u;
        let zero = T::of(0.0);
        let two = T::of(2.0);
        let mut m_diff = [zero; D];
        let mut quad = zero;
        let mut trace = zero;
        for k in 0..D {
            trace += second[k][k];
            for l in 0..D {
                m_diff[k] += second[k][l] * diff[l];
            }
            quad += diff[k] * m_diff[k];
        }
        let z = count * w + two * w2 * quad + w1 * trace;
        let radial = count * g + two * g2 * quad + g1 * trace;
        let mut force = [zero; D];
        for k in 0..D {
            force[k] = radial * diff[k] + two * g1 * m_diff[k];
        }
        (z, force)
    }

    /// One point's `(w, w u)` at squared distance `d2`.
    #[inline(always)]
    fn pair(&self, d2: T) -> (T, T) {
        let (w, u) = (self.weights)(d2);
        (w, w * u)
    }
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

    fn supports(&self, dims: usize) -> bool {
        (1..=Self::MAX_DIMS).contains(&dims)
    }

    fn name(&self) -> &str {
        "bh"
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A clustered layout (five clusters 20 units apart) and its tree, groups and sorted points.
    fn clustered<const D: usize>() -> (BarnesHut, Vec<f64>) {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let n = 3000;
        let data: Vec<f64> = (0..n * D).map(|i| (i % 5) as f64 * 20.0 + rng.gen_range(-3.0..3.0)).collect();
        let pts: &[[f64; D]] = as_points(&data);
        let mut bh = BarnesHut::new(0.5).unwrap();
        bh.build::<D>(pts);
        bh.find_groups();
        bh.sorted = bh.order.iter().flat_map(|&i| pts[i as usize]).collect();
        (bh, data)
    }

    /// Per chunk: forces and sums of the portable build, and of the AVX2 build where it runs.
    type Evaluations<const D: usize> = Vec<(Vec<[f64; D]>, Vec<f64>, Option<(Vec<[f64; D]>, Vec<f64>)>)>;

    /// Every group's evaluation in both builds (portable and AVX2).
    fn both_builds<const D: usize, K: Fn(T) -> (T, T), T: Lane>(
        bh: &BarnesHut,
        expansion: &Expansion<K, T>,
    ) -> Evaluations<D> {
        let tree = Tree::<D> { nodes: &bh.nodes, sorted: as_points(&bh.sorted), theta2: 0.25 };
        let mut lists = Interactions::default();
        let mut out = Vec::new();
        for &g in &bh.groups {
            let node = &bh.nodes[g as usize];
            tree.interactions(node, &mut lists);
            let own = &tree.sorted[node.start as usize..node.end as usize];
            let origin = if T::CENTRED { own[0] } else { [0.0; D] };
            for chunk in own.chunks(GROUP) {
                let unpack = |(acc, sums): ([[f64; GROUP]; D], [f64; GROUP])| {
                    let f: Vec<[f64; D]> =
                        (0..chunk.len()).map(|t| std::array::from_fn(|k| acc[k][t])).collect();
                    (f, sums[..chunk.len()].to_vec())
                };
                let plain = unpack(tree.evaluate(chunk, origin, &lists, expansion));
                #[cfg(target_arch = "x86_64")]
                let wide = tsne_core::simd::avx2().then(|| {
                    // SAFETY: the CPU has AVX2.
                    #[allow(unsafe_code)]
                    unpack(unsafe { tree.evaluate_avx2(chunk, origin, &lists, expansion) })
                });
                #[cfg(not(target_arch = "x86_64"))]
                let wide = None;
                out.push((plain.0, plain.1, wide));
            }
        }
        out
    }

    /// A tree whose large cells build their children in parallel is the serial tree: the same
    /// forces and Z to the bit (2-D and 3-D, every cell above 64 points in parallel).
    #[test]
    fn parallel_build_gives_the_serial_result() {
        fn check<const D: usize>() {
            let (_, data) = clustered::<D>();
            let y = Matrix::new(data.len() / D, D, data).unwrap();
            let run = |parallel_cell: usize| {
                let mut bh = BarnesHut::new(0.5).unwrap();
                bh.parallel_cell = parallel_cell;
                let mut f = vec![0.0; y.as_slice().len()];
                let z = bh.repulsion(&y, StudentT::CAUCHY, &mut f).unwrap();
                (z.to_bits(), f.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), bh.nodes.len())
            };
            let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
            assert!(run(usize::MAX) == pool.install(|| run(64)), "{D}-D");
        }
        check::<2>();
        check::<3>();
    }

    /// The AVX2 build of the group evaluation gives the bits of the portable one, in `f64`
    /// (Cauchy and heavy-tailed kernels) and `f32` lanes, in 2-D and 3-D.
    #[test]
    fn avx2_evaluation_is_bit_identical() {
        fn check<const D: usize>() {
            let (bh, _) = clustered::<D>();
            let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
            let same = |runs: Evaluations<D>| {
                for (f, z, wide) in runs {
                    if let Some((wf, wz)) = wide {
                        assert_eq!(bits(f.as_flattened()), bits(wf.as_flattened()));
                        assert_eq!(bits(&z), bits(&wz));
                    }
                }
            };
            for kernel in [StudentT::CAUCHY, StudentT::new(0.6).unwrap()] {
                same(both_builds::<D, _, f64>(&bh, &Expansion::new(kernel, |d2: f64| kernel.weights(d2))));
            }
            let cauchy = |d2: f32| {
                let u = 1.0 / (1.0 + d2);
                (u, u)
            };
            same(both_builds::<D, _, f32>(&bh, &Expansion::new(StudentT::CAUCHY, cauchy)));
        }
        check::<2>();
        check::<3>();
    }

    /// The `f32` lanes agree with the `f64` lanes: forces to about 1e-6 overall and 1e-5 for
    /// the worst point (one whose repulsion nearly cancels), sums to 1e-6; far below the
    /// expansion's own error (1e-4 to 1e-3 at theta 0.5).
    #[test]
    fn single_precision_lanes_match_double() {
        fn check<const D: usize>() {
            let (bh, _) = clustered::<D>();
            let kernel = StudentT::CAUCHY;
            let double = both_builds::<D, _, f64>(&bh, &Expansion::new(kernel, |d2: f64| kernel.weights(d2)));
            let single = both_builds::<D, _, f32>(
                &bh,
                &Expansion::new(kernel, |d2: f32| {
                    let u = 1.0 / (1.0 + d2);
                    (u, u)
                }),
            );
            let (mut worst, mut total, mut norm) = ([0.0f64; 2], 0.0, 0.0);
            for ((fd, zd, _), (fs, zs, _)) in double.iter().zip(&single) {
                for (a, b) in fd.iter().zip(fs) {
                    let size = a.iter().map(|v| v * v).sum::<f64>();
                    let err = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>();
                    worst[0] = worst[0].max((err / size).sqrt());
                    (total, norm) = (total + err, norm + size);
                }
                for (a, b) in zd.iter().zip(zs) {
                    worst[1] = worst[1].max((a - b).abs() / a);
                }
            }
            let overall = (total / norm).sqrt();
            assert!(
                overall < 2e-6 && worst[0] < 1e-4 && worst[1] < 1e-5,
                "{D}-D: force {overall:e} overall, {:e} at worst; Z {:e} at worst",
                worst[0],
                worst[1]
            );
        }
        check::<2>();
        check::<3>();
    }
}
