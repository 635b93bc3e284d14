//! Readers for the input formats: CSV/TSV text, `.npy`, MNIST IDX (optionally gzipped).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use tsne::{CsrMatrix, KnnGraph, Matrix, MatrixF32, SparsePoints};

/// The formats the CLI reads, chosen by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text; the delimiter is `,`, tab, or runs of whitespace.
    Text,
    /// NumPy `.npy`, little-endian `f4` or `f8`, C order, 2-D.
    Npy,
    /// MNIST IDX, any element type, optionally gzip-compressed.
    Idx,
}

impl Format {
    /// Picks the format from the file name, or fails naming the accepted ones.
    pub fn of(path: &Path) -> Result<Self> {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
        let plain = name.strip_suffix(".gz").unwrap_or(&name);
        if plain.ends_with(".csv") || plain.ends_with(".tsv") || plain.ends_with(".txt") {
            Ok(Self::Text)
        } else if plain.ends_with(".npy") {
            Ok(Self::Npy)
        } else if plain.contains("idx") && plain.contains("ubyte") || plain.ends_with(".idx") {
            Ok(Self::Idx)
        } else {
            bail!(
                "unknown file type of {}: expected .csv, .tsv, .txt, .npy or an IDX file (*-idx*-ubyte[.gz])",
                path.display()
            )
        }
    }
}

fn open(path: &Path) -> Result<Box<dyn Read>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    Ok(if gz {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

/// Points as read: in single precision when every value is exactly an `f32` (8- and 16-bit
/// data, `f4` arrays, text written from them), in half the memory; otherwise in `f64`.
#[derive(Debug, Clone, PartialEq)]
pub enum Points {
    F32(MatrixF32),
    F64(Matrix),
}

impl Points {
    /// The same values in double precision.
    pub fn into_f64(self) -> Matrix {
        match self {
            Points::F32(x) => x.to_f64(),
            Points::F64(x) => x,
        }
    }
}

/// Values collected in `f32` for as long as every one of them is exactly an `f32`, then in
/// `f64` (the ones so far widened once): no value is ever rounded.
enum Values {
    F32(Vec<f32>),
    F64(Vec<f64>),
}

impl Values {
    fn new() -> Self {
        Values::F32(Vec::new())
    }

    #[inline]
    fn push(&mut self, v: f64) {
        match self {
            Values::F32(d) if v as f32 as f64 == v || v.is_nan() => d.push(v as f32),
            Values::F32(d) => {
                let mut wide: Vec<f64> = Vec::with_capacity(d.capacity().max(d.len() + 1));
                wide.extend(d.iter().map(|&x| f64::from(x)));
                wide.push(v);
                *self = Values::F64(wide);
            }
            Values::F64(d) => d.push(v),
        }
    }

    fn into_f64(self) -> Vec<f64> {
        match self {
            Values::F32(d) => d.into_iter().map(f64::from).collect(),
            Values::F64(d) => d,
        }
    }

    fn len(&self) -> usize {
        match self {
            Values::F32(d) => d.len(),
            Values::F64(d) => d.len(),
        }
    }
}

/// Reads a points matrix, one point per row, in single precision when that loses nothing.
pub fn read_points_compact(path: &Path) -> Result<Points> {
    let format = Format::of(path)?;
    let (rows, cols, data) = match format {
        Format::Text => read_text(path)?,
        Format::Npy => read_npy(path)?,
        Format::Idx => read_idx(path)?,
    };
    if rows == 0 || cols == 0 {
        bail!("{} holds no data", path.display());
    }
    let invalid = || format!("invalid data in {}", path.display());
    Ok(match data {
        Values::F32(mut d) => {
            d.shrink_to_fit();
            Points::F32(MatrixF32::new(rows, cols, d).with_context(invalid)?)
        }
        Values::F64(mut d) => {
            d.shrink_to_fit();
            Points::F64(Matrix::new(rows, cols, d).with_context(invalid)?)
        }
    })
}

/// Reads a points matrix, one point per row, in double precision.
pub fn read_points(path: &Path) -> Result<Matrix> {
    Ok(read_points_compact(path)?.into_f64())
}

/// Reads a precomputed kNN graph from two `n x k` arrays (text or `.npy`): 0-based neighbour
/// indices and their distances. Rows are sorted by distance here. When every row starts with
/// the point itself at distance 0 (what most ANN libraries return), that column is dropped.
pub fn read_knn(indices: &Path, distances: &Path) -> Result<KnnGraph> {
    let idx = read_points(indices)?;
    let dist = read_points(distances)?;
    let (n, mut k) = (idx.rows(), idx.cols());
    if (dist.rows(), dist.cols()) != (n, k) {
        bail!(
            "{} is {n} x {k} but {} is {} x {}: the neighbour arrays must have the same shape",
            indices.display(),
            distances.display(),
            dist.rows(),
            dist.cols()
        );
    }
    for (t, &v) in idx.as_slice().iter().enumerate() {
        if v.fract() != 0.0 || v < 0.0 || v >= n as f64 {
            bail!("{}: row {} holds {v}, not a point index in 0..{n}", indices.display(), t / k);
        }
    }
    let self_first = (0..n).all(|i| idx.row(i)[0] as usize == i && dist.row(i)[0] == 0.0);
    let skip = usize::from(self_first);
    k -= skip;
    let mut ind = Vec::with_capacity(n * k);
    let mut dis = Vec::with_capacity(n * k);
    let mut row: Vec<(f64, u32)> = Vec::with_capacity(k);
    for i in 0..n {
        row.clear();
        row.extend(dist.row(i)[skip..].iter().zip(&idx.row(i)[skip..]).map(|(&d, &j)| (d, j as u32)));
        row.sort_by(tsne::backends::core::neighbor_order);
        let mut ids: Vec<u32> = row.iter().map(|e| e.1).collect();
        ids.sort_unstable();
        if let Some(w) = ids.windows(2).find(|w| w[0] == w[1]) {
            bail!("{}: row {i} lists point {} twice", indices.display(), w[0]);
        }
        ind.extend(row.iter().map(|e| e.1));
        dis.extend(row.iter().map(|e| e.0));
    }
    KnnGraph::new(n, k, ind, dis).with_context(|| format!("invalid neighbour graph in {}", indices.display()))
}

/// A Matrix Market coordinate file: its shape and 0-based `(i, j, value)` entries, the
/// mirrored triangle of a `symmetric` file included.
struct Coordinates {
    rows: usize,
    cols: usize,
    entries: Vec<(usize, u32, f64)>,
}

/// Reads a Matrix Market coordinate file (`scipy.io.mmwrite`): a
/// `%%MatrixMarket matrix coordinate real|integer|pattern general|symmetric` header, `%`
/// comments, the line `rows cols entries`, then one `i j value` line per entry with 1-based
/// indices. `symmetric` files list one triangle and are mirrored.
fn read_coordinates(path: &Path) -> Result<Coordinates> {
    let bad = |line: usize, why: &str| anyhow::anyhow!("{}:{line}: {why}", path.display());
    let reader = BufReader::new(open(path)?);
    let mut lines = reader.lines().enumerate();
    let (_, header) = lines.next().ok_or_else(|| bad(1, "empty file"))?;
    let header = header.with_context(|| format!("cannot read {}", path.display()))?.to_ascii_lowercase();
    let words: Vec<&str> = header.split_whitespace().collect();
    if words.len() != 5 || words[0] != "%%matrixmarket" || words[1] != "matrix" || words[2] != "coordinate" {
        return Err(bad(1, "expected a `%%MatrixMarket matrix coordinate ...` header"));
    }
    let pattern = match words[3] {
        "real" | "integer" => false,
        "pattern" => true,
        other => return Err(bad(1, &format!("field `{other}` (real, integer or pattern)"))),
    };
    let symmetric = match words[4] {
        "general" => false,
        "symmetric" => true,
        other => return Err(bad(1, &format!("symmetry `{other}` (general or symmetric)"))),
    };
    let mut size: Option<(usize, usize, usize)> = None;
    let mut entries = Vec::new();
    let mut seen = 0;
    for (no, line) in lines {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('%') {
            continue;
        }
        let f: Vec<&str> = line.split_whitespace().collect();
        let Some((rows, cols, _)) = size else {
            let nums: Vec<usize> = f
                .iter()
                .map(|v| v.parse())
                .collect::<Result<_, _>>()
                .map_err(|_| bad(no + 1, "bad size line"))?;
            if nums.len() != 3 || (symmetric && nums[0] != nums[1]) {
                return Err(bad(no + 1, "the size line must be `rows cols entries` (square when symmetric)"));
            }
            size = Some((nums[0], nums[1], nums[2]));
            continue;
        };
        let want = if pattern { 2 } else { 3 };
        if f.len() != want {
            return Err(bad(no + 1, &format!("expected {want} fields")));
        }
        let index = |s: &str, n: usize| -> Result<usize> {
            match s.parse::<usize>() {
                Ok(v) if (1..=n).contains(&v) => Ok(v - 1),
                _ => Err(bad(no + 1, &format!("index `{s}` is not in 1..={n}"))),
            }
        };
        let (i, j) = (index(f[0], rows)?, index(f[1], cols)?);
        let v = if pattern {
            1.0
        } else {
            f[2].parse::<f64>().map_err(|_| bad(no + 1, &format!("value `{}` is not a number", f[2])))?
        };
        entries.push((i, j as u32, v));
        if symmetric && i != j {
            entries.push((j, i as u32, v));
        }
        seen += 1;
    }
    let (rows, cols, promised) = size.ok_or_else(|| bad(1, "no size line"))?;
    if seen != promised {
        bail!("{}: the size line promises {promised} entries, the file has {seen}", path.display());
    }
    Ok(Coordinates { rows, cols, entries })
}

/// Reads joint affinities from a square Matrix Market coordinate file (see
/// [`read_coordinates`]); duplicates are summed.
pub fn read_affinities(path: &Path) -> Result<CsrMatrix> {
    let m = read_coordinates(path)?;
    if m.rows != m.cols {
        bail!("{}: affinities must be a square matrix, not {} x {}", path.display(), m.rows, m.cols);
    }
    // Every point needs an affinity: a valid file lists at least n / 2 entries.
    if m.rows > 2 * m.entries.len() {
        bail!(
            "{}: {} points but only {} entries: some points would have no affinities",
            path.display(),
            m.rows,
            m.entries.len()
        );
    }
    let mut rows: Vec<Vec<(u32, f64)>> = vec![Vec::new(); m.rows];
    m.entries.into_iter().for_each(|(i, j, v)| rows[i].push((j, v)));
    CsrMatrix::from_rows(rows).with_context(|| format!("invalid affinities in {}", path.display()))
}

/// Whether `path` names a Matrix Market file (`.mtx`, optionally gzipped): sparse points.
pub fn is_matrix_market(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
    name.strip_suffix(".gz").unwrap_or(&name).ends_with(".mtx")
}

/// Reads points, one per row, from a Matrix Market coordinate file (e.g. a TF-IDF or counts
/// matrix from `scipy.io.mmwrite`), kept sparse; duplicate entries are summed.
pub fn read_sparse_points(path: &Path) -> Result<SparsePoints> {
    let m = read_coordinates(path)?;
    // Points are numbered in 32 bits, and the row offsets must fit in memory.
    let offsets_bytes = (m.rows as u64 + 1).saturating_mul(8);
    if m.rows > u32::MAX as usize || tsne::available_memory().is_some_and(|a| offsets_bytes > a) {
        bail!("{}: {} rows are more than this machine can index", path.display(), m.rows);
    }
    let mut entries = m.entries;
    entries.sort_unstable_by_key(|&(i, j, _)| (i, j));
    let (mut offsets, mut columns, mut values) = (Vec::with_capacity(m.rows + 1), Vec::new(), Vec::new());
    let mut last = None;
    for (i, j, v) in entries {
        // Rows up to i start here (empty rows between are zero points).
        while offsets.len() <= i {
            offsets.push(columns.len());
        }
        if last == Some((i, j)) {
            if let Some(sum) = values.last_mut() {
                *sum += v;
            }
            continue;
        }
        columns.push(j);
        values.push(v);
        last = Some((i, j));
    }
    while offsets.len() <= m.rows {
        offsets.push(columns.len());
    }
    SparsePoints::new(m.rows, m.cols, offsets, columns, values)
        .with_context(|| format!("invalid points in {}", path.display()))
}

/// Reads labels: one per line of a text file, or an IDX vector.
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    match Format::of(path)? {
        Format::Idx => {
            let (_, _, data) = read_idx(path)?;
            Ok(data.into_f64().iter().map(|v| format!("{v}")).collect())
        }
        Format::Npy => {
            let (_, _, data) = read_npy(path)?;
            Ok(data.into_f64().iter().map(|v| format!("{v}")).collect())
        }
        Format::Text => {
            let mut out = Vec::new();
            for line in BufReader::new(open(path)?).lines() {
                let line = line.with_context(|| format!("cannot read {}", path.display()))?;
                let t = line.trim();
                if !t.is_empty() {
                    out.push(t.to_string());
                }
            }
            Ok(out)
        }
    }
}

fn split_fields(line: &str, delimiter: Option<char>) -> Vec<&str> {
    match delimiter {
        Some(d) => line.split(d).map(str::trim).collect(),
        None => line.split_whitespace().collect(),
    }
}

/// Delimited text. The first line is a header when any of its fields is not a number.
fn read_text(path: &Path) -> Result<(usize, usize, Values)> {
    let reader = BufReader::new(open(path)?);
    let mut delimiter = None;
    let mut cols = 0;
    let mut rows = 0;
    let mut data = Values::new();
    let mut first = true;
    for (lineno, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("cannot read {}", path.display()))?;
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        if first {
            delimiter = if t.contains('\t') {
                Some('\t')
            } else if t.contains(',') {
                Some(',')
            } else if t.contains(';') {
                Some(';')
            } else {
                None
            };
        }
        let fields = split_fields(t, delimiter);
        let parsed: Result<Vec<f64>, _> = fields.iter().map(|f| f.parse::<f64>()).collect();
        match parsed {
            Err(_) if first => {
                first = false;
                continue; // header
            }
            Err(_) => {
                let bad = fields.iter().find(|f| f.parse::<f64>().is_err()).unwrap();
                bail!("{}:{}: `{bad}` is not a number", path.display(), lineno + 1)
            }
            Ok(values) => {
                if rows == 0 {
                    cols = values.len();
                } else if values.len() != cols {
                    bail!(
                        "{}:{}: row has {} values, expected {} like the first row",
                        path.display(),
                        lineno + 1,
                        values.len(),
                        cols
                    );
                }
                if let Some(c) = values.iter().position(|v| !v.is_finite()) {
                    bail!(
                        "{}:{}: non-finite value {} in column {}",
                        path.display(),
                        lineno + 1,
                        values[c],
                        c + 1
                    );
                }
                for v in values {
                    data.push(v);
                }
                rows += 1;
            }
        }
        first = false;
    }
    if rows == 0 {
        bail!("{} is empty: no numeric rows", path.display());
    }
    Ok((rows, cols, data))
}

fn read_all(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open(path)?.read_to_end(&mut bytes).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(bytes)
}

/// NumPy `.npy` version 1–3, little-endian `f4`/`f8`/`i4`/`i8`/`u4`/`u8`, C order; 1-D arrays
/// are one column. The body is converted as it streams in, so the file's bytes and the values
/// are never both in memory, and nothing is allocated from the announced shape.
fn read_npy(path: &Path) -> Result<(usize, usize, Values)> {
    let mut reader = open(path)?;
    let bad = |why: &str| anyhow::anyhow!("{} is not a readable .npy file: {why}", path.display());
    let mut read = |buf: &mut [u8], why: &str| -> Result<()> {
        reader.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad(why),
            _ => anyhow::Error::new(e).context(format!("cannot read {}", path.display())),
        })
    };
    let mut pre = [0u8; 10];
    read(&mut pre, "missing the \\x93NUMPY magic")?;
    if &pre[..6] != b"\x93NUMPY" {
        return Err(bad("missing the \\x93NUMPY magic"));
    }
    let hlen = match pre[6] {
        1 => u16::from_le_bytes([pre[8], pre[9]]) as usize,
        2 | 3 => {
            let mut rest = [0u8; 2];
            read(&mut rest, "truncated header")?;
            u32::from_le_bytes([pre[8], pre[9], rest[0], rest[1]]) as usize
        }
        v => return Err(bad(&format!("unsupported version {v}"))),
    };
    // Headers are a few hundred bytes; a larger announced length is a corrupt file, not a
    // reason to allocate.
    if hlen > 1 << 20 {
        return Err(bad("truncated header"));
    }
    let mut header = vec![0u8; hlen];
    read(&mut header, "truncated header")?;
    let header = std::str::from_utf8(&header).map_err(|_| bad("header is not text"))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr").ok_or_else(|| bad("no descr"))?;
    let dtype = descr.split(',').next().unwrap_or("").trim_matches(|c| c == '\'' || c == ' ');
    let (kind, width) = match dtype.trim_start_matches(['<', '|']) {
        "f8" => ('f', 8),
        "f4" => ('f', 4),
        "i8" => ('i', 8),
        "i4" => ('i', 4),
        "u8" => ('u', 8),
        "u4" => ('u', 4),
        _ => {
            return Err(bad(&format!(
                "element type {dtype} (little-endian f4, f8, i4, i8, u4 and u8 are read)"
            )))
        }
    };
    if field("fortran_order").is_some_and(|v| v.starts_with("True")) {
        return Err(bad("Fortran order (save it with np.ascontiguousarray)"));
    }
    let shape_text = field("shape").ok_or_else(|| bad("no shape"))?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| bad("malformed shape"))?;
    let dims: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| bad("malformed shape"))?;
    let (rows, cols) = match dims[..] {
        [n] => (n, 1),
        [n, d] => (n, d),
        _ => return Err(bad(&format!("{}-dimensional array; expected 1 or 2 dimensions", dims.len()))),
    };
    let expected = rows.checked_mul(cols).and_then(|v| v.checked_mul(width));
    let mut values = Values::new();
    let mut chunk = vec![0u8; 1 << 16];
    let (mut carry, mut total) = (0usize, 0usize);
    loop {
        let got =
            reader.read(&mut chunk[carry..]).with_context(|| format!("cannot read {}", path.display()))?;
        if got == 0 {
            break;
        }
        total += got;
        // Past the announced size only the count goes on, for the error below.
        if expected.is_some_and(|e| total > e) {
            carry = 0;
            continue;
        }
        let filled = carry + got;
        let whole = filled / width * width;
        for c in chunk[..whole].chunks_exact(width) {
            values.push(match (kind, width) {
                ('f', 8) => f64::from_le_bytes(c.try_into().unwrap()),
                ('f', _) => f32::from_le_bytes(c.try_into().unwrap()) as f64,
                ('i', 8) => i64::from_le_bytes(c.try_into().unwrap()) as f64,
                ('i', _) => i32::from_le_bytes(c.try_into().unwrap()) as f64,
                (_, 8) => u64::from_le_bytes(c.try_into().unwrap()) as f64,
                _ => u32::from_le_bytes(c.try_into().unwrap()) as f64,
            });
        }
        chunk.copy_within(whole..filled, 0);
        carry = filled - whole;
    }
    if expected != Some(total) || values.len() * width != total {
        return Err(bad(&format!("{total} data bytes for shape ({rows}, {cols})")));
    }
    Ok((rows, cols, values))
}

/// MNIST IDX: magic `0 0 type ndim`, big-endian `u32` dimensions, big-endian data. The first
/// dimension is the point count; the others are flattened into features.
fn read_idx(path: &Path) -> Result<(usize, usize, Values)> {
    let bytes = read_all(path)?;
    let bad = |why: String| anyhow::anyhow!("{} is not a readable IDX file: {why}", path.display());
    if bytes.len() < 4 || bytes[0] != 0 || bytes[1] != 0 {
        return Err(bad("bad magic number".into()));
    }
    let (ty, ndim) = (bytes[2], bytes[3] as usize);
    if ndim == 0 || bytes.len() < 4 + 4 * ndim {
        return Err(bad("truncated header".into()));
    }
    let dims: Vec<usize> = (0..ndim)
        .map(|d| u32::from_be_bytes(bytes[4 + 4 * d..8 + 4 * d].try_into().unwrap()) as usize)
        .collect();
    let rows = dims[0];
    let cols = dims[1..].iter().try_fold(1usize, |p, &d| p.checked_mul(d));
    let body = &bytes[4 + 4 * ndim..];
    let width = match ty {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        t => return Err(bad(format!("unknown element type 0x{t:02x}"))),
    };
    // The announced size is checked against the bytes present before anything is allocated.
    let cols = match cols {
        Some(c) if rows.checked_mul(c).and_then(|v| v.checked_mul(width)) == Some(body.len()) => c,
        _ => return Err(bad(format!("{} data bytes for dimensions {dims:?}", body.len()))),
    };
    let mut data = Values::new();
    for c in body.chunks_exact(width) {
        data.push(match ty {
            0x08 => c[0] as f64,
            0x09 => c[0] as i8 as f64,
            0x0B => i16::from_be_bytes([c[0], c[1]]) as f64,
            0x0C => i32::from_be_bytes(c.try_into().unwrap()) as f64,
            0x0D => f32::from_be_bytes(c.try_into().unwrap()) as f64,
            _ => f64::from_be_bytes(c.try_into().unwrap()),
        });
    }
    Ok((rows, cols, data))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every reader on the bytes of `name` (its extension chooses the format).
    fn read_all_ways(name: &str, bytes: &[u8]) {
        let p = temp(name, bytes);
        let _ = read_points(&p);
        let _ = read_labels(&p);
        let _ = read_affinities(&p);
        let _ = read_sparse_points(&p);
        let _ = read_knn(&p, &p);
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
    }

    fn npy(shape: &str, descr: &str, body: &[u8]) -> Vec<u8> {
        let header = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}\n");
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(body);
        b
    }

    #[test]
    fn f4_and_f8_npy_give_the_same_points() {
        let values = [1.5f32, -2.25, 3.0, 0.125, 1e-3, 4096.0];
        let f4: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let f8: Vec<u8> = values.iter().flat_map(|&v| f64::from(v).to_le_bytes()).collect();
        let a = read_points(&temp("a4.npy", &npy("(3, 2)", "<f4", &f4))).unwrap();
        let b = read_points(&temp("a8.npy", &npy("(3, 2)", "<f8", &f8))).unwrap();
        assert_eq!(a, b);
        assert_eq!((a.rows(), a.cols()), (3, 2));
        // NaN in an .npy is named by row and column.
        let nan: Vec<u8> = [1.0f32, f32::NAN].iter().flat_map(|v| v.to_le_bytes()).collect();
        let err = read_points(&temp("nan.npy", &npy("(1, 2)", "<f4", &nan))).unwrap_err();
        assert!(format!("{err:#}").contains("row 0, column 1"), "{err:#}");
    }

    #[test]
    fn huge_announced_sizes_are_errors_before_any_allocation() {
        let p = temp("huge.npy", &npy("(1000000000000, 1000000000000)", "<f8", &[0; 16]));
        assert!(read_points(&p).unwrap_err().to_string().contains("data bytes"));
        let p = temp("huge2.npy", &npy("(18446744073709551615, 3)", "<f4", &[]));
        assert!(read_points(&p).is_err());
        let mut idx = vec![0, 0, 0x08, 3];
        for d in [u32::MAX, u32::MAX, u32::MAX] {
            idx.extend(d.to_be_bytes());
        }
        let p = temp("huge-idx3-ubyte", &idx);
        assert!(read_points(&p).unwrap_err().to_string().contains("data bytes"));
        let p = temp(
            "huge.mtx",
            b"%%MatrixMarket matrix coordinate real symmetric\n1000000000000 1000000000000 1\n1 2 0.5\n",
        );
        assert!(read_affinities(&p).unwrap_err().to_string().contains("no affinities"));
        assert!(read_sparse_points(&p).unwrap_err().to_string().contains("more than"));
    }

    #[test]
    fn sparse_points_read_as_their_dense_values() {
        // Row 1 is empty, row 2 has a duplicate entry (summed), columns out of order.
        let p = temp(
            "points.mtx",
            b"%%MatrixMarket matrix coordinate real general\n% a comment\n4 3 5\n1 3 2.5\n3 2 1\n1 1 -1\n3 2 0.5\n4 3 7\n",
        );
        let x = read_sparse_points(&p).unwrap();
        let dense: Vec<Vec<f64>> = (0..4)
            .map(|i| {
                let mut row = vec![0.0; 3];
                let (c, v) = x.row(i);
                c.iter().zip(v).for_each(|(&c, &v)| row[c as usize] = v);
                row
            })
            .collect();
        assert_eq!(dense, vec![vec![-1.0, 0.0, 2.5], vec![0.0; 3], vec![0.0, 1.5, 0.0], vec![0.0, 0.0, 7.0]]);
        let p = temp("bad.mtx", b"%%MatrixMarket matrix coordinate real general\n2 3 1\n3 1 1\n");
        assert!(format!("{:#}", read_sparse_points(&p).unwrap_err()).contains("not in 1..=2"));
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

        /// Random bytes under every name the readers know: an error or data, never a panic.
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), which in 0usize..5) {
            let name = ["r.csv", "r.tsv", "r.npy", "r-idx3-ubyte", "r.mtx"][which];
            read_all_ways(name, &bytes);
        }

        /// Valid files with bytes flipped, cut or inserted: an error or data, never a panic.
        #[test]
        fn mutated_files_never_panic(pos in 0usize..200, byte in any::<u8>(), cut in 0usize..40, which in 0usize..5) {
            let mut valid: Vec<u8> = match which {
                0 => b"a,b,c\n1,2,3\n4.5,-6,7e3\n8,9,10\n".to_vec(),
                1 => npy("(2, 3)", "<f8", &[0; 48]),
                2 => npy("(4,)", "<i4", &[1; 16]),
                3 => {
                    let mut b = vec![0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 2];
                    b.extend([0x3f, 0x80, 0, 0].repeat(4));
                    b
                }
                _ => b"%%MatrixMarket matrix coordinate real symmetric\n% c\n3 3 2\n2 1 0.5\n3 2 0.25\n".to_vec(),
            };
            let name = ["m.csv", "m.npy", "m1.npy", "m-idx2-ubyte", "m.mtx"][which];
            let at = pos % valid.len();
            valid[at] ^= byte;
            let keep = valid.len().saturating_sub(cut);
            valid.truncate(keep.max(1));
            read_all_ways(name, &valid);
        }
    }

    /// Writes `bytes` to a file named `name` in a directory of its own: tests run in parallel
    /// and several write files of the same name.
    fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir()
            .join(format!("tsne-cli-input-{}", std::process::id()))
            .join(call.to_string());
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    /// Points stay in single precision exactly when no value needs more; the first value that
    /// does widens the ones before it, and nothing is rounded either way.
    #[test]
    fn points_are_single_precision_only_when_nothing_is_lost() {
        let ints = read_points_compact(&temp("ints.csv", b"0,255\n17,3\n")).unwrap();
        assert!(matches!(&ints, Points::F32(x) if x.as_slice() == [0.0, 255.0, 17.0, 3.0]));
        let halves = read_points_compact(&temp("halves.csv", b"0.5,1\n2,0.1\n")).unwrap();
        assert!(matches!(&halves, Points::F64(x) if x.as_slice() == [0.5, 1.0, 2.0, 0.1]));
        // A long .npy body, streamed in chunks: 20,000 f8 values, one of them not an f32 at
        // the end, and the same values that are all f32 in f4.
        let mut values: Vec<f64> = (0..20_000).map(|i| f64::from(i as f32 * 0.37)).collect();
        let f4: Vec<u8> = values.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect();
        let narrow = read_points_compact(&temp("long4.npy", &npy("(10000, 2)", "<f4", &f4))).unwrap();
        assert!(matches!(&narrow, Points::F32(_)));
        assert_eq!(narrow.into_f64().as_slice(), values.as_slice());
        values[19_999] = 0.1;
        let f8: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        let wide = read_points_compact(&temp("long8.npy", &npy("(10000, 2)", "<f8", &f8))).unwrap();
        assert!(matches!(&wide, Points::F64(x) if x.as_slice() == values.as_slice()));
        // A body one byte short or long is refused.
        for body in [&f8[..f8.len() - 1], &[&f8[..], &[0u8][..]].concat()[..]] {
            let err = read_points_compact(&temp("odd8.npy", &npy("(10000, 2)", "<f8", body))).unwrap_err();
            assert!(err.to_string().contains("data bytes"), "{err:#}");
        }
    }

    #[test]
    fn text_with_header_and_tabs() {
        let p = temp("a.tsv", b"x\ty\n1\t2\n3\t4.5\n");
        let m = read_points(&p).unwrap();
        assert_eq!((m.rows(), m.cols()), (2, 2));
        assert_eq!(m.as_slice(), &[1.0, 2.0, 3.0, 4.5]);
    }

    #[test]
    fn npy_round_trip_through_writer() {
        let m = Matrix::new(3, 2, vec![1.0, -2.0, 3.5, 4.0, 5.0, 6.25]).unwrap();
        let mut bytes = Vec::new();
        crate::output::write_npy(&mut bytes, &m).unwrap();
        assert_eq!(bytes.len() % 64, 48); // the header pads to 64 bytes; 3 x 2 f8 follow
        let p = temp("m.npy", &bytes);
        assert_eq!(read_points(&p).unwrap(), m);
    }

    #[test]
    fn idx_gz_images() {
        use std::io::Write;
        let mut raw = vec![0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 1];
        raw.extend([1u8, 2, 250, 4]);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&raw).unwrap();
        let p = temp("t10k-images-idx3-ubyte.gz", &enc.finish().unwrap());
        let m = read_points(&p).unwrap();
        assert_eq!((m.rows(), m.cols()), (2, 2));
        assert_eq!(m.as_slice(), &[1.0, 2.0, 250.0, 4.0]);
    }
}
