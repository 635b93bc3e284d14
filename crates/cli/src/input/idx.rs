//! MNIST IDX files: magic `0 0 type ndim`, big-endian `u32` dimensions, big-endian data.

use std::io::Read;

use anyhow::{anyhow, Result};

use super::npy::stream_values;
use super::Array;

/// Reads an IDX stream. The first dimension is the point count; the others are flattened
/// into features. The body is converted as it streams in; the size the dimensions announce
/// is checked against the bytes there are, and nothing is allocated from it.
pub(super) fn read_idx(mut reader: impl Read, file: &str) -> Result<Array> {
    let bad = |why: String| anyhow!("{file} is not a readable IDX file: {why}");
    let mut read = |buf: &mut [u8], why: &str| -> Result<()> {
        reader.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad(why.to_string()),
            _ => anyhow::Error::new(e).context(format!("cannot read {file}")),
        })
    };
    let mut magic = [0u8; 4];
    read(&mut magic, "bad magic number")?;
    if magic[0] != 0 || magic[1] != 0 {
        return Err(bad("bad magic number".into()));
    }
    let (ty, ndim) = (magic[2], magic[3] as usize);
    if ndim == 0 {
        return Err(bad("truncated header".into()));
    }
    let mut raw = vec![0u8; 4 * ndim];
    read(&mut raw, "truncated header")?;
    let dims: Vec<usize> =
        raw.chunks_exact(4).map(|d| u32::from_be_bytes([d[0], d[1], d[2], d[3]]) as usize).collect();
    let width = match ty {
        0x08 | 0x09 => 1,
        0x0B => 2,
        0x0C | 0x0D => 4,
        0x0E => 8,
        t => return Err(bad(format!("unknown element type 0x{t:02x}"))),
    };
    let rows = dims[0];
    let cols = dims[1..].iter().try_fold(1usize, |p, &d| p.checked_mul(d));
    let expected = cols.and_then(|c| rows.checked_mul(c)).and_then(|v| v.checked_mul(width));
    let decode = |c: &[u8]| match ty {
        0x08 => f64::from(c[0]),
        0x09 => f64::from(c[0] as i8),
        0x0B => f64::from(i16::from_be_bytes([c[0], c[1]])),
        0x0C => f64::from(i32::from_be_bytes([c[0], c[1], c[2], c[3]])),
        0x0D => f64::from(f32::from_be_bytes([c[0], c[1], c[2], c[3]])),
        _ => f64::from_be_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]),
    };
    let (values, total) = stream_values(reader, file, width, expected, decode)?;
    match cols {
        Some(cols) if expected == Some(total) => Ok(Array { rows, cols, values }),
        _ => Err(bad(format!("{total} data bytes for dimensions {dims:?}"))),
    }
}
