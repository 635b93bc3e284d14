//! Matrix Market coordinate files (`scipy.io.mmwrite`): joint affinities, and sparse points.

use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{bail, Context, Result};
use tsne::{CsrMatrix, SparsePoints};

use super::open;

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
