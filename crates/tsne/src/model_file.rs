//! The model file: one versioned, checksummed binary file per [`Embedding`].
//!
//! Layout (all integers and floats little-endian):
//!
//! | bytes | content |
//! |---|---|
//! | 8 | magic `TSNEMODL` |
//! | 4 | format version (`u32`, [`FORMAT_VERSION`]) |
//! | 8 | payload length in bytes (`u64`) |
//! | payload | the sections below |
//! | 4 | CRC-32 (IEEE) of the payload |
//!
//! Payload, in order: `n`, `dims` (`u64`); kernel degrees of freedom (`f64`); positions
//! (`n * dims` `f64`, internal order); the internal order (`n` `u32`); P (flag `u8`, then
//! `nnz` `u64`, `n + 1` offsets `u64`, `nnz` columns `u32`, `nnz` values `f32`); optimiser
//! velocity and gains (`n * dims` `f64` each); pinned flags (`n` `u8`); the repulsion
//! method (tag `u8`: 0 exact, 1 Barnes-Hut + `theta`, 2 FFT + nodes `u64`, intervals `u64`,
//! intervals per unit `f64`, 3 auto or a user backend, restored as auto); the perplexity
//! (`f64`); the fit's seed (`u64`) and neighbour method (tag `u8`: 0 auto or a user search,
//! restored as auto, 1 exact, 2 dense, 3 NN-descent + trees, leaf size, candidates, rounds
//! (`u64`, `u64::MAX` for the default) and `delta` `f64`, 4 HNSW + `m`, `ef_construction`,
//! `ef_search` (the same) and deterministic `u8`); the reference (flag; metric `u8`: 0
//! Euclidean, 1 cosine, 2 Manhattan, 3 squared Euclidean, 4 Chebyshev, 5 Minkowski + `p` `f64`, 6 correlation, 7
//! Canberra, 8 Bray-Curtis, 9 Hamming, 10 Jaccard;
//! points `rows`, `cols` `u64` + values; projection flag, `d`, `k` `u64`, mean, axes); the
//! summary (iterations `u64`, KL, learning rate `f64`, `k`, `dims_in` `u64`, stop `u8` (0 completed, 1 gradient tolerance, 2 callback, 3 KL tolerance),
//! four names as `u32` length + UTF-8, stages, KL history). Every length is checked against
//! the bytes left before anything is allocated, and every value is validated as the
//! in-memory types demand, so a damaged file is an error, never a panic.
//!
//! Earlier versions are read too: version 1 stores P's values as `f64` (rounded to `f32` as P
//! holds them in memory); versions 1 and 2 have no seed or neighbour method (read as seed 0
//! and `NeighborMethod::Auto`, what `add` used for them). A user affinity is not stored: a
//! loaded model's `add` calibrates by the stored perplexity.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use tsne_affinity::{HnswParams, Metric, NnDescentParams};
use tsne_core::{inverse_permutation, CsrMatrix, Error, Matrix, Result, Stage, Stop, StudentT};
use tsne_init::Projection;
use tsne_optim::State;
use tsne_repulsion::FftParams;

use crate::embedding::{Embedding, InputStages, Reference};
use crate::methods::{NeighborMethod, RepulsionMethod};
use crate::summary::Summary;

/// The format version this build writes; it reads this one and every earlier one.
pub const FORMAT_VERSION: u32 = 3;

const MAGIC: &[u8; 8] = b"TSNEMODL";
const HEADER: usize = 8 + 4 + 8;

impl Embedding {
    /// Writes the model to `path` atomically (a temporary file in the same directory, renamed
    /// into place): a reader never sees half a file. A user repulsion backend is not stored;
    /// the loaded model uses `RepulsionMethod::Auto` until [`set_repulsion`](Self::set_repulsion).
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = self.to_bytes();
        let io = |action, e: std::io::Error| Error::Io {
            action,
            path: path.display().to_string(),
            reason: e.to_string(),
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = std::path::PathBuf::from(tmp);
        let written = File::create(&tmp)
            .and_then(|mut f| f.write_all(&bytes).and_then(|()| f.sync_all()))
            .and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("write", e));
        }
        Ok(())
    }

    /// Reads a model written by [`save`](Self::save). A file that is not a model, of another
    /// format version, truncated or corrupted is a typed error.
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let mut bytes = Vec::new();
        File::open(path).and_then(|mut f| f.read_to_end(&mut bytes)).map_err(|e| Error::Io {
            action: "read",
            path: name.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&bytes).map_err(|e| e.error(name))
    }

    /// A model from the bytes of a model file (e.g. kept in memory or sent over a network).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        Self::parse(bytes).map_err(|e| e.error("model bytes".into()))
    }

    /// The bytes of the model file ([`save`](Self::save) writes exactly these).
    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode(FORMAT_VERSION)
    }

    /// The bytes of the model file in format `version` (version 1 stores P values as `f64`).
    fn encode(&self, version: u32) -> Vec<u8> {
        let mut w = Writer(Vec::new());
        w.u64(self.n() as u64);
        w.u64(self.dims() as u64);
        w.f64(self.kernel.dof());
        w.f64s(self.y.as_slice());
        w.u32s(&self.order);
        w.affinities(self.p.as_ref(), version);
        w.f64s(&self.state.update);
        w.f64s(&self.state.gains);
        self.pinned.iter().for_each(|&b| w.u8(b as u8));
        w.repulsion(&self.repulsion);
        w.f64(self.input.perplexity);
        if version >= 3 {
            w.input_stages(&self.input);
        }
        w.reference(self.reference.as_ref());
        w.summary(&self.summary);
        let payload = w.0;
        let mut out = Vec::with_capacity(HEADER + payload.len() + 4);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&version.to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out
    }

    /// A model from the file's bytes.
    fn parse(bytes: &[u8]) -> std::result::Result<Self, Fault> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(Fault::NotAModel);
        }
        if bytes.len() < HEADER {
            return Err(Fault::Corrupt("the header is truncated".into()));
        }
        let version = u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        if !(1..=FORMAT_VERSION).contains(&version) {
            return Err(Fault::Version(version));
        }
        let mut len = [0u8; 8];
        len.copy_from_slice(&bytes[12..20]);
        let len = u64::from_le_bytes(len);
        let rest = (bytes.len() - HEADER) as u64;
        if rest < 4 || len != rest - 4 {
            return Err(Fault::Corrupt(format!(
                "the header announces {len} bytes of content but the file holds {}",
                rest.saturating_sub(4)
            )));
        }
        let (payload, crc) = bytes[HEADER..].split_at(bytes.len() - HEADER - 4);
        if crc32fast::hash(payload).to_le_bytes() != crc {
            return Err(Fault::Corrupt("the checksum does not match the content".into()));
        }
        read_payload(&mut Reader(payload), version)
    }
}

/// Why bytes are not a model.
#[derive(Debug)]
pub(crate) enum Fault {
    NotAModel,
    Version(u32),
    Corrupt(String),
}

impl Fault {
    fn error(self, path: String) -> Error {
        match self {
            Fault::NotAModel => Error::NotAModel { path },
            Fault::Version(found) => Error::ModelVersion { path, found, supported: FORMAT_VERSION },
            Fault::Corrupt(reason) => Error::CorruptModel { path, reason },
        }
    }
}

impl From<Error> for Fault {
    fn from(e: Error) -> Self {
        Fault::Corrupt(e.to_string())
    }
}

type Parsed<T> = std::result::Result<T, Fault>;

fn read_payload(r: &mut Reader<'_>, version: u32) -> Parsed<Embedding> {
    let n = r.len()?;
    let dims = r.len()?;
    if n == 0 || n > u32::MAX as usize || !(1..=16).contains(&dims) {
        return Err(Fault::Corrupt(format!("{n} points in {dims} dimensions")));
    }
    let len = n.checked_mul(dims).ok_or_else(|| Fault::Corrupt("n * dims overflows".into()))?;
    let kernel = StudentT::new(r.f64()?)?;
    let y = Matrix::new(n, dims, r.f64s(len)?)?;
    let order = r.u32s(n)?;
    let row_of = inverse_permutation(&order, n)?;
    let p = read_affinities(r, n, version)?;
    let state = State { update: r.f64s(len)?, gains: r.f64s(len)? };
    if state.update.iter().chain(&state.gains).any(|v| !v.is_finite()) {
        return Err(Fault::Corrupt("non-finite optimiser state".into()));
    }
    let pinned = r.bytes(n)?.iter().map(|&b| b != 0).collect();
    let repulsion = read_repulsion(r, dims)?;
    let perplexity = r.f64()?;
    let input = if version >= 3 {
        read_input_stages(r, perplexity)?
    } else {
        InputStages { perplexity, ..InputStages::default() }
    };
    let reference = read_reference(r, n)?;
    let summary = read_summary(r, n, dims, p.as_ref().map_or(0, CsrMatrix::nnz))?;
    if !r.0.is_empty() {
        return Err(Fault::Corrupt(format!("{} unexpected bytes at the end", r.0.len())));
    }
    Ok(Embedding {
        y,
        order,
        row_of,
        p,
        state,
        pinned,
        kernel,
        repulsion,
        reference,
        input,
        threads: None,
        budget: crate::memory::Budget::default(),
        summary,
    })
}

/// P, when the model keeps it (in `f64` in version 1 files, `f32` since).
fn read_affinities(r: &mut Reader<'_>, n: usize, version: u32) -> Parsed<Option<CsrMatrix>> {
    match r.u8()? {
        0 => Ok(None),
        1 => {
            let nnz = r.len()?;
            let indptr = r.u64s(n + 1)?.into_iter().map(|o| o as usize).collect();
            let indices = r.u32s(nnz)?;
            let values = if version == 1 {
                r.f64s(nnz)?.into_iter().map(|v| v as f32).collect()
            } else {
                r.f32s(nnz)?
            };
            Ok(Some(CsrMatrix::new(n, indptr, indices, values)?))
        }
        t => Err(Fault::Corrupt(format!("unknown affinity flag {t}"))),
    }
}

fn read_repulsion(r: &mut Reader<'_>, dims: usize) -> Parsed<RepulsionMethod> {
    let repulsion = match r.u8()? {
        0 => RepulsionMethod::Exact,
        1 => RepulsionMethod::BarnesHut { theta: r.f64()? },
        2 => RepulsionMethod::Fft(FftParams {
            interp_points: r.len()?,
            min_intervals: r.len()?,
            intervals_per_unit: r.f64()?,
        }),
        3 => RepulsionMethod::Auto,
        t => return Err(Fault::Corrupt(format!("unknown repulsion tag {t}"))),
    };
    repulsion.check(dims)?;
    Ok(repulsion)
}

/// The fit's neighbour method and seed (version 3 on; read after the perplexity).
fn read_input_stages(r: &mut Reader<'_>, perplexity: f64) -> Parsed<InputStages> {
    let seed = r.u64()?;
    let neighbors = match r.u8()? {
        0 => NeighborMethod::Auto,
        1 => NeighborMethod::Exact,
        2 => NeighborMethod::Dense,
        3 => NeighborMethod::NnDescent(NnDescentParams {
            trees: r.optional()?,
            leaf_size: r.optional()?,
            max_candidates: r.optional()?,
            max_rounds: r.optional()?,
            delta: r.f64()?,
            ..NnDescentParams::default()
        }),
        4 => NeighborMethod::Hnsw(HnswParams {
            m: r.optional()?,
            ef_construction: r.optional()?,
            ef_search: r.optional()?,
            deterministic: r.u8()? != 0,
            ..HnswParams::default()
        }),
        t => return Err(Fault::Corrupt(format!("unknown neighbour method tag {t}"))),
    };
    neighbors.check(Metric::Euclidean, seed)?;
    Ok(InputStages { neighbors, perplexity, affinity: None, seed })
}

fn read_metric(r: &mut Reader<'_>) -> Parsed<Metric> {
    let metric = match r.u8()? {
        0 => Metric::Euclidean,
        1 => Metric::Cosine,
        2 => Metric::Manhattan,
        3 => Metric::SqEuclidean,
        4 => Metric::Chebyshev,
        5 => Metric::Minkowski { p: r.f64()? },
        6 => Metric::Correlation,
        7 => Metric::Canberra,
        8 => Metric::BrayCurtis,
        9 => Metric::Hamming,
        10 => Metric::Jaccard,
        t => return Err(Fault::Corrupt(format!("unknown metric tag {t}"))),
    };
    metric.check().map_err(|e| Fault::Corrupt(e.to_string()))?;
    Ok(metric)
}

/// The reference points of `transform`, when the model keeps them.
fn read_reference(r: &mut Reader<'_>, n: usize) -> Parsed<Option<Reference>> {
    match r.u8()? {
        0 => return Ok(None),
        1 => {}
        t => return Err(Fault::Corrupt(format!("unknown reference flag {t}"))),
    }
    let metric = read_metric(r)?;
    let (rows, cols) = (r.len()?, r.len()?);
    if rows != n {
        return Err(Fault::Corrupt(format!("{rows} reference points for {n} positions")));
    }
    let count = rows.checked_mul(cols).ok_or_else(|| Fault::Corrupt("reference size overflows".into()))?;
    let points = Matrix::new(rows, cols, r.f64s(count)?)?;
    let projection = read_projection(r, cols)?;
    Ok(Some(Reference { points, metric, projection }))
}

/// The PCA projection of the reference points (to `cols` columns), when there is one.
fn read_projection(r: &mut Reader<'_>, cols: usize) -> Parsed<Option<Projection>> {
    match r.u8()? {
        0 => Ok(None),
        1 => {
            let (d, k) = (r.len()?, r.len()?);
            if k != cols {
                return Err(Fault::Corrupt(format!("a projection to {k} columns for {cols}-column points")));
            }
            let mean = r.f64s(d)?;
            let count = d.checked_mul(k).ok_or_else(|| Fault::Corrupt("projection size overflows".into()))?;
            Ok(Some(Projection::from_parts(mean, Matrix::new(d, k, r.f64s(count)?)?)?))
        }
        t => Err(Fault::Corrupt(format!("unknown projection flag {t}"))),
    }
}

/// The summary as stored: counts, costs, the stages that ran and the KL history.
fn read_summary(r: &mut Reader<'_>, n: usize, dims: usize, nnz: usize) -> Parsed<Summary> {
    let mut summary = Summary::new(n, 0, dims);
    summary.iterations = r.len()?;
    summary.kl_divergence = r.f64()?;
    summary.learning_rate = r.f64()?;
    summary.k = r.len()?;
    summary.dims_in = r.len()?;
    summary.stop = match r.u8()? {
        0 => Stop::Completed,
        1 => Stop::GradientTolerance,
        2 => Stop::Callback,
        3 => Stop::KlTolerance,
        t => return Err(Fault::Corrupt(format!("unknown stop tag {t}"))),
    };
    let mut names = Vec::with_capacity(4);
    for _ in 0..4 {
        let len = r.u32()? as usize;
        let s =
            std::str::from_utf8(r.bytes(len)?).map_err(|_| Fault::Corrupt("a name is not UTF-8".into()))?;
        names.push(s.to_string());
    }
    let [neighbors, affinity, repulsion, init]: [String; 4] =
        names.try_into().map_err(|_| Fault::Corrupt("names".into()))?;
    (summary.neighbors, summary.affinity, summary.repulsion, summary.init) =
        (neighbors, affinity, repulsion, init);
    let stages = r.len()?;
    r.need(stages, 32)?;
    summary.stages = (0..stages)
        .map(|_| {
            Ok(Stage {
                iterations: r.len()?,
                exaggeration: r.f64()?,
                momentum: r.f64()?,
                learning_rate: r.f64()?,
            })
        })
        .collect::<Parsed<_>>()?;
    let history = r.len()?;
    r.need(history, 16)?;
    summary.kl_history = (0..history).map(|_| Ok((r.len()?, r.f64()?))).collect::<Parsed<_>>()?;
    summary.nnz = nnz;
    summary.pinned = 0;
    Ok(summary)
}

struct Writer(Vec<u8>);

impl Writer {
    /// P, when the model keeps it (read by `read_affinities`).
    fn affinities(&mut self, p: Option<&CsrMatrix>, version: u32) {
        let Some(p) = p else { return self.u8(0) };
        self.u8(1);
        self.u64(p.nnz() as u64);
        p.indptr().iter().for_each(|&o| self.u64(o as u64));
        self.u32s(p.indices());
        if version == 1 {
            p.values().iter().for_each(|&v| self.f64(f64::from(v)));
        } else {
            self.f32s(p.values());
        }
    }

    /// The repulsion method (read by `read_repulsion`).
    fn repulsion(&mut self, repulsion: &RepulsionMethod) {
        match repulsion {
            RepulsionMethod::BarnesHut { theta } => {
                self.u8(1);
                self.f64(*theta);
            }
            RepulsionMethod::Fft(f) => {
                self.u8(2);
                self.u64(f.interp_points as u64);
                self.u64(f.min_intervals as u64);
                self.f64(f.intervals_per_unit);
            }
            RepulsionMethod::Exact => self.u8(0),
            RepulsionMethod::Auto | RepulsionMethod::Custom(_) => self.u8(3),
        }
    }

    /// The fit's seed and neighbour method (read by `read_input_stages`); a user search is
    /// stored as `Auto`, the parameters' metric and seed are the model's.
    fn input_stages(&mut self, input: &InputStages) {
        self.u64(input.seed);
        match &input.neighbors {
            NeighborMethod::Auto | NeighborMethod::Custom(_) => self.u8(0),
            NeighborMethod::Exact => self.u8(1),
            NeighborMethod::Dense => self.u8(2),
            NeighborMethod::NnDescent(p) => {
                self.u8(3);
                [p.trees, p.leaf_size, p.max_candidates, p.max_rounds]
                    .into_iter()
                    .for_each(|v| self.optional(v));
                self.f64(p.delta);
            }
            NeighborMethod::Hnsw(p) => {
                self.u8(4);
                [p.m, p.ef_construction, p.ef_search].into_iter().for_each(|v| self.optional(v));
                self.u8(p.deterministic as u8);
            }
        }
    }

    /// A count or none (`u64::MAX`).
    fn optional(&mut self, v: Option<usize>) {
        self.u64(v.map_or(u64::MAX, |v| v as u64));
    }

    /// The reference points and their projection (read by `read_reference`).
    fn reference(&mut self, reference: Option<&Reference>) {
        let Some(r) = reference else { return self.u8(0) };
        self.u8(1);
        self.u8(metric_tag(r.metric));
        if let Metric::Minkowski { p } = r.metric {
            self.f64(p);
        }
        self.u64(r.points.rows() as u64);
        self.u64(r.points.cols() as u64);
        self.f64s(r.points.as_slice());
        match &r.projection {
            Some(proj) => {
                self.u8(1);
                self.u64(proj.dims_in() as u64);
                self.u64(proj.dims_out() as u64);
                self.f64s(proj.mean());
                self.f64s(proj.axes().as_slice());
            }
            None => self.u8(0),
        }
    }

    /// The summary's stored part (read by `read_summary`).
    fn summary(&mut self, s: &Summary) {
        self.u64(s.iterations as u64);
        self.f64(s.kl_divergence);
        self.f64(s.learning_rate);
        self.u64(s.k as u64);
        self.u64(s.dims_in as u64);
        self.u8(match s.stop {
            Stop::Completed => 0,
            Stop::GradientTolerance => 1,
            Stop::KlTolerance => 3,
            Stop::Callback => 2,
        });
        for name in [&s.neighbors, &s.affinity, &s.repulsion, &s.init] {
            self.u32(name.len() as u32);
            self.0.extend_from_slice(name.as_bytes());
        }
        self.u64(s.stages.len() as u64);
        for st in &s.stages {
            self.u64(st.iterations as u64);
            self.f64(st.exaggeration);
            self.f64(st.momentum);
            self.f64(st.learning_rate);
        }
        self.u64(s.kl_history.len() as u64);
        for &(it, kl) in &s.kl_history {
            self.u64(it as u64);
            self.f64(kl);
        }
    }

    fn u8(&mut self, v: u8) {
        self.0.push(v);
    }
    fn u32(&mut self, v: u32) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64(&mut self, v: f64) {
        self.0.extend_from_slice(&v.to_le_bytes());
    }
    fn f64s(&mut self, v: &[f64]) {
        v.iter().for_each(|&x| self.f64(x));
    }
    fn f32s(&mut self, v: &[f32]) {
        v.iter().for_each(|&x| self.0.extend_from_slice(&x.to_le_bytes()));
    }
    fn u32s(&mut self, v: &[u32]) {
        v.iter().for_each(|&x| self.u32(x));
    }
}

/// Reads from the front of a byte slice; every read checks the bytes left first.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    /// Fails unless `count` items of `size` bytes remain.
    fn need(&self, count: usize, size: usize) -> Parsed<usize> {
        match count.checked_mul(size) {
            Some(bytes) if bytes <= self.0.len() => Ok(bytes),
            _ => Err(Fault::Corrupt(format!(
                "the file ends early: {count} items of {size} bytes announced, {} bytes left",
                self.0.len()
            ))),
        }
    }
    fn bytes(&mut self, count: usize) -> Parsed<&'a [u8]> {
        self.need(count, 1)?;
        let (head, tail) = self.0.split_at(count);
        self.0 = tail;
        Ok(head)
    }
    fn u8(&mut self) -> Parsed<u8> {
        Ok(self.bytes(1)?[0])
    }
    fn u32(&mut self) -> Parsed<u32> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.bytes(4)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self) -> Parsed<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.bytes(8)?);
        Ok(u64::from_le_bytes(b))
    }
    /// A count or size, which must fit in memory's index type.
    /// A count written by `Writer::optional`.
    fn optional(&mut self) -> Parsed<Option<usize>> {
        match self.u64()? {
            u64::MAX => Ok(None),
            v => usize::try_from(v).map(Some).map_err(|_| Fault::Corrupt(format!("count {v} too large"))),
        }
    }

    fn len(&mut self) -> Parsed<usize> {
        let v = self.u64()?;
        usize::try_from(v).map_err(|_| Fault::Corrupt(format!("size {v} is out of range")))
    }
    fn f64(&mut self) -> Parsed<f64> {
        Ok(f64::from_bits(self.u64()?))
    }
    fn f64s(&mut self, count: usize) -> Parsed<Vec<f64>> {
        let bytes = self.bytes(self.need(count, 8)?)?;
        Ok(bytes.chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect())
    }
    fn f32s(&mut self, count: usize) -> Parsed<Vec<f32>> {
        Ok(self.u32s(count)?.into_iter().map(f32::from_bits).collect())
    }
    fn u32s(&mut self, count: usize) -> Parsed<Vec<u32>> {
        let bytes = self.bytes(self.need(count, 4)?)?;
        Ok(bytes.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap_or([0; 4]))).collect())
    }
    fn u64s(&mut self, count: usize) -> Parsed<Vec<u64>> {
        let bytes = self.bytes(self.need(count, 8)?)?;
        Ok(bytes.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8]))).collect())
    }
}

/// The metric's tag in the file (Minkowski's order follows its tag as an `f64`).
fn metric_tag(metric: Metric) -> u8 {
    match metric {
        Metric::Euclidean => 0,
        Metric::Cosine => 1,
        Metric::Manhattan => 2,
        Metric::SqEuclidean => 3,
        Metric::Chebyshev => 4,
        Metric::Minkowski { .. } => 5,
        Metric::Correlation => 6,
        Metric::Canberra => 7,
        Metric::BrayCurtis => 8,
        Metric::Hamming => 9,
        Metric::Jaccard => 10,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn model() -> Embedding {
        let x =
            Matrix::new(40, 3, (0..120).map(|v| ((v * 37 % 101) as f64).sin() + (v % 3) as f64).collect())
                .unwrap();
        crate::TSne::builder()
            .perplexity(5.0)
            .iterations(30)
            .exaggeration_iterations(10)
            .pca(2)
            .build()
            .unwrap()
            .fit(&x)
            .unwrap()
    }

    #[test]
    fn round_trip_is_exact() {
        let m = model();
        let back = Embedding::parse(&m.to_bytes()).unwrap();
        assert_eq!(back.positions(), m.positions());
        assert_eq!(back.p, m.p);
        assert_eq!(back.state, m.state);
        assert_eq!(back.reference, m.reference);
        assert_eq!(back.summary.stages, m.summary.stages);
        assert_eq!(back.summary.kl_history, m.summary.kl_history);
        assert_eq!(back.to_bytes(), m.to_bytes());
    }

    #[test]
    fn the_fit_stages_round_trip() {
        let mut m = model();
        assert_eq!((m.input.seed, &m.input.neighbors), (0, &NeighborMethod::Auto));
        let methods = [
            NeighborMethod::Exact,
            NeighborMethod::Dense,
            NeighborMethod::NnDescent(NnDescentParams {
                trees: Some(3),
                max_rounds: Some(9),
                delta: 0.01,
                ..NnDescentParams::default()
            }),
            NeighborMethod::Hnsw(HnswParams { m: Some(12), deterministic: true, ..HnswParams::default() }),
        ];
        for (seed, neighbors) in methods.into_iter().enumerate() {
            m.input.seed = seed as u64 + 7;
            m.input.neighbors = neighbors;
            let back = Embedding::parse(&m.to_bytes()).unwrap();
            assert_eq!((back.input.seed, &back.input.neighbors), (m.input.seed, &m.input.neighbors));
            assert_eq!(back.input.perplexity, 5.0);
        }
    }

    #[test]
    fn damaged_files_are_typed_errors() {
        let bytes = model().to_bytes();
        // A version 1 file (P values in f64) reads as the same model.
        // Version 1 and 2 files (no seed or neighbour method: seed 0, `Auto`, which this
        // model has) read as the same model.
        for version in [1, 2] {
            assert_eq!(Embedding::parse(&model().encode(version)).unwrap().to_bytes(), bytes);
        }
        assert!(matches!(Embedding::parse(b"x,y\n1,2\n"), Err(Fault::NotAModel)));
        let mut other = bytes.clone();
        other[8] = 9;
        assert!(matches!(Embedding::parse(&other), Err(Fault::Version(9))));
        for cut in [10, HEADER, HEADER + 100, bytes.len() - 1] {
            assert!(matches!(Embedding::parse(&bytes[..cut]), Err(Fault::Corrupt(_))), "cut at {cut}");
        }
        let mut flipped = bytes.clone();
        flipped[HEADER + 40] ^= 0x10;
        assert!(matches!(Embedding::parse(&flipped), Err(Fault::Corrupt(_))));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
        /// Any payload, even with a valid header and checksum, is a model or an error.
        #[test]
        fn arbitrary_payloads_never_panic(payload in proptest::collection::vec(any::<u8>(), 0..400), cut in 0usize..64) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
            bytes.extend_from_slice(&(payload.len() as u64).to_le_bytes());
            bytes.extend_from_slice(&payload);
            bytes.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
            let _ = Embedding::parse(&bytes);
            let _ = Embedding::parse(&bytes[..bytes.len().saturating_sub(cut)]);
        }

        /// A real model with one byte changed anywhere is an error or (for an unused bit) a model.
        #[test]
        fn mutated_models_never_panic(pos in 0usize..4096, bit in 0u8..8) {
            let mut bytes = model().to_bytes();
            let pos = pos % bytes.len();
            bytes[pos] ^= 1 << bit;
            prop_assert!(Embedding::parse(&bytes).is_err());
        }
    }
}
