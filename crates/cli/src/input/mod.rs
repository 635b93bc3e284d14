//! Readers for the input formats: delimited text (CSV/TSV/TXT, or standard input as `-`),
//! NumPy `.npy` and `.npz`, Parquet, MNIST IDX (optionally gzipped), Matrix Market `.mtx`
//! affinities and sparse points, and labels.
//!
//! Tables ([`read_table`]) carry row ids and labels beside the points, and the notices the
//! command prints about columns it recognised; the plain readers ([`read_points_compact`])
//! give the points alone.

mod idx;
mod labels;
mod mtx;
mod npy;
#[cfg(feature = "parquet")]
mod parquet;
mod table;
mod text;

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{bail, Context, Result};
use tsne::{KnnGraph, Matrix, MatrixF32};

pub use labels::read_labels;
#[allow(unused_imports)] // wired to --labels by the command (see `read_table`)
pub use labels::read_labels_for;
pub use mtx::{is_matrix_market, read_affinities, read_sparse_points};
pub use table::{Table, TableSpec};

/// The formats the CLI reads, chosen by file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Delimited text; the delimiter is `,`, tab, `;`, or runs of whitespace. Also standard
    /// input (`-`).
    Text,
    /// NumPy `.npy`: 1- or 2-D, little-endian numbers (see [`read_points_compact`]).
    Npy,
    /// NumPy `.npz`: a zip of `.npy` arrays, stored or deflated.
    Npz,
    /// Apache Parquet: numeric columns are points, text columns ids or labels.
    Parquet,
    /// MNIST IDX, any element type, optionally gzip-compressed.
    Idx,
}

impl Format {
    /// Picks the format from the file name (`-` is standard input, text). Fails for a path
    /// that does not exist or is a directory, and for an unknown name, naming the known ones.
    pub fn of(path: &Path) -> Result<Self> {
        check_path(path)?;
        if is_stdin(path) {
            return Ok(Self::Text);
        }
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("").to_ascii_lowercase();
        let plain = name.strip_suffix(".gz").unwrap_or(&name);
        let whole = |format: Self| {
            if plain.len() == name.len() {
                Ok(format)
            } else {
                bail!(
                    "{} is gzipped: decompress it first (gunzip); .npz and .parquet files are read as they are",
                    path.display()
                )
            }
        };
        if plain.ends_with(".csv") || plain.ends_with(".tsv") || plain.ends_with(".txt") {
            Ok(Self::Text)
        } else if plain.ends_with(".npy") {
            Ok(Self::Npy)
        } else if plain.ends_with(".npz") {
            whole(Self::Npz)
        } else if plain.ends_with(".parquet") || plain.ends_with(".pq") {
            whole(Self::Parquet)
        } else if plain.contains("idx") && plain.contains("ubyte") || plain.ends_with(".idx") {
            Ok(Self::Idx)
        } else {
            bail!(
                "unknown file type of {}: expected .csv, .tsv, .txt, .npy, .npz, .parquet or an IDX file (*-idx*-ubyte[.gz])",
                path.display()
            )
        }
    }
}

/// Whether `path` is `-`, which the readers take as standard input (delimited text).
pub fn is_stdin(path: &Path) -> bool {
    path.as_os_str() == "-"
}

/// How messages name `path`: its path, or "standard input" for `-`.
fn name_of(path: &Path) -> String {
    if is_stdin(path) {
        "standard input".to_string()
    } else {
        path.display().to_string()
    }
}

/// Fails, in one line, for a path that does not exist, cannot be inspected, or is a directory.
fn check_path(path: &Path) -> Result<()> {
    if is_stdin(path) {
        return Ok(());
    }
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => bail!("{} is a directory, not a data file", path.display()),
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            bail!("cannot open {}: No such file or directory", path.display())
        }
        Err(e) => bail!("cannot open {}: {e}", path.display()),
    }
}

/// Opens `path` for reading (standard input for `-`), decompressing a `.gz` file.
fn open(path: &Path) -> Result<Box<dyn Read>> {
    check_path(path)?;
    if is_stdin(path) {
        return Ok(Box::new(BufReader::new(std::io::stdin())));
    }
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let gz = path.extension().is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    Ok(if gz {
        Box::new(flate2::read::GzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    })
}

/// Points as read: in single precision when every value is exactly an `f32` (8- and 16-bit
/// data, `f2`/`f4` arrays, text written from them), in half the memory; otherwise in `f64`.
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

    fn len(&self) -> usize {
        match self {
            Values::F32(d) => d.len(),
            Values::F64(d) => d.len(),
        }
    }

    fn get(&self, i: usize) -> f64 {
        match self {
            Values::F32(d) => f64::from(d[i]),
            Values::F64(d) => d[i],
        }
    }

    /// Keeps, in place, the columns `c` of a row-major `keep.len()`-column matrix whose
    /// `keep[c]` is true.
    fn retain_columns(&mut self, keep: &[bool]) {
        fn retain<T>(d: &mut Vec<T>, keep: &[bool]) {
            let mut at = 0;
            d.retain(|_| {
                let k = keep[at];
                at = if at + 1 == keep.len() { 0 } else { at + 1 };
                k
            });
        }
        if keep.iter().all(|&k| k) || keep.is_empty() {
            return;
        }
        match self {
            Values::F32(d) => retain(d, keep),
            Values::F64(d) => retain(d, keep),
        }
    }

    /// Column `c` of a row-major `cols`-column matrix, as text (`3`, `-0.5`).
    fn column_text(&self, c: usize, cols: usize) -> Vec<String> {
        (c..self.len()).step_by(cols).map(|i| format!("{}", self.get(i))).collect()
    }

    /// Turns a column-major `rows x cols` matrix into the row-major one, in place.
    fn transpose(&mut self, rows: usize, cols: usize) {
        match self {
            Values::F32(d) => npy::transpose_in_place(d, rows, cols),
            Values::F64(d) => npy::transpose_in_place(d, rows, cols),
        }
    }
}

/// A dense array as read: `rows x cols` values, row-major.
struct Array {
    rows: usize,
    cols: usize,
    values: Values,
}

/// Reads a table of points: its numeric columns are the points, one per row; a column of row
/// ids or labels is set aside, chosen by `spec` or recognised (see [`TableSpec`]). `-` reads
/// delimited text from standard input. The returned notes say what was recognised.
pub fn read_table(path: &Path, spec: &TableSpec) -> Result<Table> {
    let name = name_of(path);
    let format = Format::of(path)?;
    if spec.array.is_some() && format != Format::Npz {
        bail!("--array chooses an array of an .npz file; {name} is not one");
    }
    match format {
        Format::Text => text::read_table(BufReader::new(open(path)?), &name, spec, true),
        Format::Parquet => read_parquet(path, &name, spec, true),
        Format::Npy => table::from_array(&name, npy::read_npy(open(path)?, &name)?, spec),
        Format::Npz => table::from_array(&name, npy::read_npz(path, &name, spec.array.as_deref())?, spec),
        Format::Idx => table::from_array(&name, idx::read_idx(open(path)?, &name)?, spec),
    }
}

/// Reads a table (see [`read_table`]) from delimited text in `reader`, e.g. standard input;
/// `name` names the source in messages.
#[cfg(test)]
pub fn read_table_from(reader: impl Read, name: &str, spec: &TableSpec) -> Result<Table> {
    if spec.array.is_some() {
        bail!("--array chooses an array of an .npz file; {name} is text");
    }
    text::read_table(BufReader::new(reader), name, spec, true)
}

#[cfg(feature = "parquet")]
fn read_parquet(path: &Path, name: &str, spec: &TableSpec, auto: bool) -> Result<Table> {
    parquet::read_table(path, name, spec, auto)
}

#[cfg(not(feature = "parquet"))]
fn read_parquet(_: &Path, name: &str, _: &TableSpec, _: bool) -> Result<Table> {
    bail!("{name}: this build of tsne reads no Parquet (built without the `parquet` feature): save the table as CSV")
}

/// Reads a table with a header as named columns of text, every value as written: delimited
/// text (optionally `.gz`) or Parquet (nulls empty). Metadata tables of `tsne view --meta`.
pub fn read_columns(path: &Path) -> Result<Vec<(String, Vec<String>)>> {
    let name = name_of(path);
    match Format::of(path)? {
        Format::Text => text::read_columns(BufReader::new(open(path)?), &name),
        #[cfg(feature = "parquet")]
        Format::Parquet => parquet::read_columns(path, &name),
        _ => bail!("{name}: a table of columns is read from CSV, TSV, text with a header or Parquet"),
    }
}

/// Whether a column of this header name is pandas' index (`df.to_csv()`'s empty name,
/// `Unnamed: 0`, `__index_level_0__`).
pub fn is_index_name(name: &str) -> bool {
    table::is_index_name(name)
}

/// Reads a points matrix, one point per row, in single precision when that loses nothing.
/// Every column is a number, as it is (a text column is an error; nothing is set aside as
/// ids: see [`read_table`] for tables). `.npy` holds `f2`/`f4`/`f8`, `i1`/`i2`/`i4`/`i8`,
/// `u1`/`u2`/`u4`/`u8` or `b1`, little-endian, C or Fortran order, 1-D (one column) or 2-D;
/// an `.npz` must hold one array.
pub fn read_points_compact(path: &Path) -> Result<Points> {
    let name = name_of(path);
    let spec = TableSpec::default();
    let table = match Format::of(path)? {
        Format::Text => text::read_table(BufReader::new(open(path)?), &name, &spec, false)?,
        Format::Parquet => read_parquet(path, &name, &spec, false)?,
        Format::Npy => table::from_array(&name, npy::read_npy(open(path)?, &name)?, &spec)?,
        Format::Npz => table::from_array(&name, npy::read_npz(path, &name, None)?, &spec)?,
        Format::Idx => table::from_array(&name, idx::read_idx(open(path)?, &name)?, &spec)?,
    };
    Ok(table.points)
}

/// Reads a points matrix, one point per row, in double precision (see
/// [`read_points_compact`]).
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

/// Test helpers shared by the submodules' tests.
#[cfg(test)]
mod testing {
    /// Writes `bytes` to a file named `name` in a directory of its own: tests run in parallel
    /// and several write files of the same name.
    pub fn temp(name: &str, bytes: &[u8]) -> std::path::PathBuf {
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

    /// A version-1 `.npy` file of `body` with the given shape text and `descr`.
    pub fn npy(shape: &str, descr: &str, body: &[u8]) -> Vec<u8> {
        npy_order(shape, descr, false, body)
    }

    /// [`npy`] with the `fortran_order` flag given.
    pub fn npy_order(shape: &str, descr: &str, fortran: bool, body: &[u8]) -> Vec<u8> {
        let order = if fortran { "True" } else { "False" };
        let header = format!("{{'descr': '{descr}', 'fortran_order': {order}, 'shape': {shape}, }}\n");
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend_from_slice(&(header.len() as u16).to_le_bytes());
        b.extend_from_slice(header.as_bytes());
        b.extend_from_slice(body);
        b
    }

    /// The values of points read as `f32` (failing the test if they are not).
    pub fn f32_values(points: &super::Points) -> Vec<f32> {
        match points {
            super::Points::F32(x) => x.as_slice().to_vec(),
            super::Points::F64(x) => panic!("expected single precision, got {:?}", x.as_slice()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{npy, temp};
    use super::*;
    use proptest::prelude::*;

    /// Every reader on the bytes of `name` (its extension chooses the format).
    fn read_all_ways(name: &str, bytes: &[u8]) {
        let p = temp(name, bytes);
        let _ = read_points(&p);
        let _ = read_labels(&p);
        let _ = read_labels_for(&p, 3);
        let _ = read_affinities(&p);
        let _ = read_sparse_points(&p);
        let _ = read_knn(&p, &p);
        let _ = std::fs::remove_dir_all(p.parent().unwrap());
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
        fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300), which in 0usize..7) {
            let name = ["r.csv", "r.tsv", "r.npy", "r-idx3-ubyte", "r.mtx", "r.npz", "r.parquet"][which];
            read_all_ways(name, &bytes);
        }

        /// Valid files with bytes flipped, cut or inserted: an error or data, never a panic.
        #[test]
        fn mutated_files_never_panic(pos in 0usize..200, byte in any::<u8>(), cut in 0usize..40, which in 0usize..7) {
            let mut valid: Vec<u8> = match which {
                0 => b"a,b,c\n1,2,3\n4.5,-6,7e3\n8,9,10\n".to_vec(),
                1 => npy("(2, 3)", "<f8", &[0; 48]),
                2 => npy("(4,)", "<i4", &[1; 16]),
                3 => {
                    let mut b = vec![0, 0, 0x0D, 2, 0, 0, 0, 2, 0, 0, 0, 2];
                    b.extend([0x3f, 0x80, 0, 0].repeat(4));
                    b
                }
                4 => b"%%MatrixMarket matrix coordinate real symmetric\n% c\n3 3 2\n2 1 0.5\n3 2 0.25\n".to_vec(),
                5 => b",id,x,y\n0,a,1,2\n1,\"b,c\",3,4\n2,d,5,6\n".to_vec(),
                _ => npy::tests::npz(&[("x", npy("(3,)", "|u1", &[1, 2, 3])), ("y", npy("(2,)", "<f2", &[0, 60, 0, 188]))], true),
            };
            let name = ["m.csv", "m.npy", "m1.npy", "m-idx2-ubyte", "m.mtx", "m2.csv", "m.npz"][which];
            let at = pos % valid.len();
            valid[at] ^= byte;
            let keep = valid.len().saturating_sub(cut);
            valid.truncate(keep.max(1));
            read_all_ways(name, &valid);
        }
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

    /// A directory and a missing path fail with what is wrong, not with "unknown file type",
    /// whatever the name.
    #[test]
    fn directories_and_missing_files_are_named_as_such() {
        let dir = temp("x.csv", b"1,2\n").parent().unwrap().join("folder.csv");
        std::fs::create_dir_all(&dir).unwrap();
        for err in [read_points(&dir).unwrap_err(), read_labels(&dir).unwrap_err()] {
            assert_eq!(err.to_string(), format!("{} is a directory, not a data file", dir.display()));
        }
        let bare = dir.parent().unwrap().join("plain-folder");
        std::fs::create_dir_all(&bare).unwrap();
        let err = read_table(&bare, &TableSpec::default()).unwrap_err();
        assert_eq!(err.to_string(), format!("{} is a directory, not a data file", bare.display()));
        let missing = dir.parent().unwrap().join("nope");
        for err in [read_points(&missing).unwrap_err(), read_affinities(&missing).unwrap_err()] {
            assert_eq!(
                format!("{err:#}"),
                format!("cannot open {}: No such file or directory", missing.display())
            );
        }
    }

    /// A kNN index file keeps its first column even though it counts the rows (the point
    /// itself): that column is the self-match the graph reader removes.
    #[test]
    fn knn_files_are_read_without_guessing_ids() {
        let idx = temp("i.csv", b"0,1\n1,0\n2,1\n");
        let dist = temp("d.csv", b"0,1\n0,1\n0,2\n");
        let g = read_knn(&idx, &dist).unwrap();
        assert_eq!((g.n(), g.k()), (3, 1));
    }
}
