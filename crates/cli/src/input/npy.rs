//! NumPy `.npy` arrays, and `.npz` archives of them, streamed into the values.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};

use super::{Array, Values};

/// The element types of `.npy` bodies that are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dtype {
    F2,
    F4,
    F8,
    I1,
    I2,
    I4,
    I8,
    U1,
    U2,
    U4,
    U8,
    B1,
}

impl Dtype {
    /// The type of a `descr` such as `<f8` or `|u1`; an error says why another is not read.
    fn parse(descr: &str) -> Result<Self, String> {
        let (order, code) = match descr.chars().next() {
            Some(c @ ('<' | '>' | '|' | '=')) => (c, &descr[1..]),
            _ => ('<', descr),
        };
        let dtype = match code {
            "f2" => Self::F2,
            "f4" => Self::F4,
            "f8" => Self::F8,
            "i1" => Self::I1,
            "i2" => Self::I2,
            "i4" => Self::I4,
            "i8" => Self::I8,
            "u1" => Self::U1,
            "u2" => Self::U2,
            "u4" => Self::U4,
            "u8" => Self::U8,
            "b1" => Self::B1,
            _ => {
                return Err(format!(
                    "element type {descr} (f2, f4, f8, i1, i2, i4, i8, u1, u2, u4, u8 and b1 are read)"
                ))
            }
        };
        if order == '>' && dtype.width() > 1 {
            return Err(format!("element type {descr} is big-endian: save it as x.astype('<{code}')"));
        }
        Ok(dtype)
    }

    fn width(self) -> usize {
        match self {
            Self::I1 | Self::U1 | Self::B1 => 1,
            Self::F2 | Self::I2 | Self::U2 => 2,
            Self::F4 | Self::I4 | Self::U4 => 4,
            Self::F8 | Self::I8 | Self::U8 => 8,
        }
    }

    /// The value of one little-endian element (`c` is [`Dtype::width`] bytes).
    #[inline]
    fn decode(self, c: &[u8]) -> f64 {
        fn le<const N: usize>(c: &[u8]) -> [u8; N] {
            let mut b = [0; N];
            b.copy_from_slice(&c[..N]);
            b
        }
        match self {
            Self::F2 => f64::from(f16_to_f32(u16::from_le_bytes(le(c)))),
            Self::F4 => f64::from(f32::from_le_bytes(le(c))),
            Self::F8 => f64::from_le_bytes(le(c)),
            Self::I1 => f64::from(c[0] as i8),
            Self::I2 => f64::from(i16::from_le_bytes(le(c))),
            Self::I4 => f64::from(i32::from_le_bytes(le(c))),
            Self::I8 => i64::from_le_bytes(le(c)) as f64,
            Self::U1 => f64::from(c[0]),
            Self::U2 => f64::from(u16::from_le_bytes(le(c))),
            Self::U4 => f64::from(u32::from_le_bytes(le(c))),
            Self::U8 => u64::from_le_bytes(le(c)) as f64,
            Self::B1 => f64::from(u8::from(c[0] != 0)),
        }
    }
}

/// An IEEE half-precision value, exactly (subnormals included; infinities and NaN stay so).
pub(super) fn f16_to_f32(h: u16) -> f32 {
    let exponent = u32::from(h >> 10) & 0x1f;
    let mantissa = u32::from(h & 0x3ff);
    let magnitude = match exponent {
        0 => mantissa as f32 * f32::from_bits(0x3380_0000), // mantissa * 2^-24
        0x1f if mantissa == 0 => f32::INFINITY,
        0x1f => f32::NAN,
        e => f32::from_bits(((e + 112) << 23) | (mantissa << 13)),
    };
    if h & 0x8000 != 0 {
        -magnitude
    } else {
        magnitude
    }
}

/// Decodes a body of `width`-byte elements as it streams in, so that the bytes and the
/// values are never both in memory. Past `expected` bytes only the count goes on. Returns
/// the values and the number of bytes read.
pub(super) fn stream_values(
    mut reader: impl Read,
    file: &str,
    width: usize,
    expected: Option<usize>,
    decode: impl Fn(&[u8]) -> f64,
) -> Result<(Values, usize)> {
    let mut values = Values::new();
    let mut chunk = vec![0u8; 1 << 16];
    let (mut carry, mut total) = (0usize, 0usize);
    loop {
        let got = reader.read(&mut chunk[carry..]).with_context(|| format!("cannot read {file}"))?;
        if got == 0 {
            break;
        }
        total += got;
        if expected.is_some_and(|e| total > e) {
            carry = 0;
            continue;
        }
        let filled = carry + got;
        let whole = filled / width * width;
        for c in chunk[..whole].chunks_exact(width) {
            values.push(decode(c));
        }
        chunk.copy_within(whole..filled, 0);
        carry = filled - whole;
    }
    Ok((values, total))
}

/// The header of an `.npy` file: its element type, whether it is in Fortran order, and its
/// shape as `(rows, cols)` (a 1-D array is one column).
struct Header {
    dtype: Dtype,
    fortran: bool,
    rows: usize,
    cols: usize,
}

/// Reads the magic, version and header text of an `.npy` stream.
fn read_header_text(reader: &mut impl Read, file: &str) -> Result<String> {
    let bad = |why: &str| anyhow!("{file} is not a readable .npy file: {why}");
    let mut read = |buf: &mut [u8], why: &str| -> Result<()> {
        reader.read_exact(buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => bad(why),
            _ => anyhow::Error::new(e).context(format!("cannot read {file}")),
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
    String::from_utf8(header).map_err(|_| bad("header is not text"))
}

/// Parses the header dictionary (`{'descr': '<f8', 'fortran_order': False, 'shape': (3, 2), }`).
fn parse_header(header: &str, file: &str) -> Result<Header> {
    let bad = |why: &str| anyhow!("{file} is not a readable .npy file: {why}");
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr").ok_or_else(|| bad("no descr"))?;
    let descr = descr.split(',').next().unwrap_or("").trim_matches(|c| c == '\'' || c == ' ');
    let dtype = Dtype::parse(descr).map_err(|why| bad(&why))?;
    let fortran = field("fortran_order").is_some_and(|v| v.starts_with("True"));
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
    Ok(Header { dtype, fortran, rows, cols })
}

/// Reads an `.npy` stream (version 1 to 3, see [`Dtype`]; C or Fortran order; 1-D arrays are
/// one column). The body is converted as it streams in, and nothing is allocated from the
/// announced shape.
pub(super) fn read_npy(mut reader: impl Read, file: &str) -> Result<Array> {
    let header = read_header_text(&mut reader, file)?;
    let Header { dtype, fortran, rows, cols } = parse_header(&header, file)?;
    let width = dtype.width();
    let expected = rows.checked_mul(cols).and_then(|v| v.checked_mul(width));
    let (mut values, total) = stream_values(reader, file, width, expected, |c| dtype.decode(c))?;
    if expected != Some(total) || values.len() * width != total {
        bail!("{file} is not a readable .npy file: {total} data bytes for shape ({rows}, {cols})");
    }
    if fortran {
        values.transpose(rows, cols);
    }
    Ok(Array { rows, cols, values })
}

/// Turns the column-major data of a `rows x cols` matrix into its row-major data, in place:
/// each cycle of the permutation is followed once, with one bit per element to mark them.
pub(super) fn transpose_in_place<T: Copy>(d: &mut [T], rows: usize, cols: usize) {
    if rows <= 1 || cols <= 1 || d.len() != rows * cols {
        return;
    }
    let mut moved = vec![0u64; d.len().div_ceil(64)];
    for start in 0..d.len() {
        if moved[start / 64] >> (start % 64) & 1 == 1 {
            continue;
        }
        let (mut s, mut carry) = (start, d[start]);
        loop {
            // Element (i, j) sits at j * rows + i and belongs at i * cols + j.
            let t = (s % rows) * cols + s / rows;
            std::mem::swap(&mut d[t], &mut carry);
            moved[t / 64] |= 1 << (t % 64);
            s = t;
            if t == start {
                break;
            }
        }
    }
}

/// An `.npz` archive open for reading, with the names of its arrays (`x` for `x.npy`).
struct Npz {
    zip: zip::ZipArchive<BufReader<File>>,
    names: Vec<String>,
}

fn open_npz(path: &Path, file: &str) -> Result<Npz> {
    let f = File::open(path).with_context(|| format!("cannot open {file}"))?;
    let zip = zip::ZipArchive::new(BufReader::new(f))
        .map_err(|e| anyhow!("{file} is not a readable .npz file: {e}"))?;
    let names = (0..zip.len())
        .map(|i| {
            let name = zip.name_for_index(i).and_then(Result::ok).unwrap_or_default();
            name.strip_suffix(".npy").unwrap_or(&name).to_string()
        })
        .collect();
    Ok(Npz { zip, names })
}

impl Npz {
    /// Reads array `i`, streamed out of the archive.
    fn read(&mut self, i: usize, file: &str) -> Result<Array> {
        let name = &self.names[i];
        let entry = self.zip.by_index(i).map_err(|e| anyhow!("{file}: cannot read array `{name}`: {e}"))?;
        read_npy(entry, &format!("{file}:{name}"))
    }

    fn list(&self) -> String {
        self.names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
    }
}

/// Reads one array of an `.npz` file: the one named `array`, or the only one.
pub(super) fn read_npz(path: &Path, file: &str, array: Option<&str>) -> Result<Array> {
    let mut npz = open_npz(path, file)?;
    let i = match (array, npz.names.len()) {
        (Some(a), _) => npz
            .names
            .iter()
            .position(|n| n == a)
            .ok_or_else(|| anyhow!("{file} has no array `{a}`; its arrays are {}", npz.list()))?,
        (None, 0) => bail!("{file} holds no arrays"),
        (None, 1) => 0,
        (None, k) => bail!("{file} holds {k} arrays ({}): choose one with --array NAME", npz.list()),
    };
    npz.read(i, file)
}

/// Reads the labels' array of an `.npz` file: the only one, or the only one named `y`,
/// `labels`, `label` or `target`.
pub(super) fn read_npz_labels(path: &Path, file: &str) -> Result<Array> {
    let mut npz = open_npz(path, file)?;
    let named: Vec<usize> = (0..npz.names.len())
        .filter(|&i| ["y", "labels", "label", "target"].contains(&npz.names[i].as_str()))
        .collect();
    let i = match (npz.names.len(), &named[..]) {
        (1, _) => 0,
        (_, &[i]) => i,
        (k, _) => bail!(
            "{file} holds {k} arrays ({}): labels are read from an .npz of one array, or with one named y, labels, label or target",
            npz.list()
        ),
    };
    npz.read(i, file)
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::testing::{f32_values, npy, npy_order, temp};
    use super::super::{read_labels, read_points_compact, read_table, Points, TableSpec};
    use super::*;
    use std::io::Write;

    /// An `.npz` of the named `.npy` files, deflated or stored.
    pub fn npz(arrays: &[(&str, Vec<u8>)], deflate: bool) -> Vec<u8> {
        let method = if deflate { zip::CompressionMethod::Deflated } else { zip::CompressionMethod::Stored };
        let options = zip::write::SimpleFileOptions::default().compression_method(method);
        let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, bytes) in arrays {
            w.start_file(format!("{name}.npy"), options).unwrap();
            w.write_all(bytes).unwrap();
        }
        w.finish().unwrap().into_inner()
    }

    fn read(descr: &str, body: &[u8]) -> Result<Points> {
        read_points_compact(&temp(
            "t.npy",
            &npy(&format!("({},)", body.len() / Dtype::parse(descr).unwrap().width()), descr, body),
        ))
    }

    /// Every integer type decodes to its exact values, its extremes included, in single
    /// precision (8- and 16-bit integers are exact `f32`s).
    #[test]
    fn each_integer_type_decodes_exactly() {
        assert_eq!(f32_values(&read("|u1", &[0, 1, 127, 255]).unwrap()), [0.0, 1.0, 127.0, 255.0]);
        assert_eq!(
            f32_values(&read("|i1", &[0, 1, 0x7f, 0x80, 0xff]).unwrap()),
            [0.0, 1.0, 127.0, -128.0, -1.0]
        );
        let i2: Vec<u8> = [0i16, -1, 300, i16::MIN, i16::MAX].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(f32_values(&read("<i2", &i2).unwrap()), [0.0, -1.0, 300.0, -32768.0, 32767.0]);
        let u2: Vec<u8> = [0u16, 1, 40000, u16::MAX].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(f32_values(&read("<u2", &u2).unwrap()), [0.0, 1.0, 40000.0, 65535.0]);
        assert_eq!(f32_values(&read("|b1", &[0, 1, 1]).unwrap()), [0.0, 1.0, 1.0]);
        // 32- and 64-bit integers stay single precision only while every value fits.
        let i4: Vec<u8> = [-7i32, 1 << 24].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(f32_values(&read("<i4", &i4).unwrap()), [-7.0, 16777216.0]);
        let u8s: Vec<u8> = [(1u64 << 24) + 1, 3].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert!(matches!(read("<u8", &u8s).unwrap(), Points::F64(x) if x.as_slice() == [16777217.0, 3.0]));
        let i8s: Vec<u8> = [-(1i64 << 40), 5].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(read("<i8", &i8s).unwrap().into_f64().as_slice(), [-(2f64.powi(40)), 5.0]);
        let u4: Vec<u8> = [u32::MAX].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(read("<u4", &u4).unwrap().into_f64().as_slice(), [4294967295.0]);
    }

    /// Half precision decodes exactly: normal values, the largest, the smallest normal and
    /// subnormals, signed zeros; infinities and NaN are refused like elsewhere.
    #[test]
    fn float16_decodes_exactly_and_refuses_non_finite() {
        let cases: [(u16, f32); 9] = [
            (0x3c00, 1.0),
            (0xc000, -2.0),
            (0x3555, 0.333_251_95),
            (0x7bff, 65504.0),
            (0x0400, 6.103_515_6e-5),  // smallest normal, 2^-14
            (0x0001, 5.960_464_5e-8),  // smallest subnormal, 2^-24
            (0x03ff, 6.097_555e-5),    // largest subnormal, 1023 * 2^-24
            (0x8001, -5.960_464_5e-8), // negative subnormal
            (0x8000, -0.0),
        ];
        for (bits, want) in cases {
            assert_eq!(f16_to_f32(bits).to_bits(), want.to_bits(), "{bits:#06x}");
        }
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        let body: Vec<u8> = cases.iter().flat_map(|(b, _)| b.to_le_bytes()).collect();
        let values = f32_values(&read("<f2", &body).unwrap());
        assert_eq!(values.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), cases.map(|c| c.1.to_bits()));
        for bad in [0x7c00u16, 0xfc00, 0x7e00] {
            let err = read("<f2", &[&[0, 0x3c][..], &bad.to_le_bytes()].concat()).unwrap_err();
            assert!(
                format!("{err:#}").contains("non-finite value") && format!("{err:#}").contains("row 1"),
                "{err:#}"
            );
        }
    }

    /// Big-endian and unknown types are refused, saying why; Fortran order is read as the
    /// same matrix as C order.
    #[test]
    fn byte_order_and_memory_order() {
        let err = read_points_compact(&temp("be.npy", &npy("(1,)", ">f8", &[0; 8]))).unwrap_err();
        assert!(
            err.to_string().ends_with("element type >f8 is big-endian: save it as x.astype('<f8')"),
            "{err}"
        );
        let err = read_points_compact(&temp("c.npy", &npy("(1,)", "<c16", &[0; 16]))).unwrap_err();
        assert!(err.to_string().contains("element type <c16 (f2, f4"), "{err}");
        // The 2 x 3 matrix [[1, 2, 3], [4, 5, 6]], stored column by column.
        let f: Vec<u8> = [1.0f32, 4.0, 2.0, 5.0, 3.0, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let p = read_points_compact(&temp("f.npy", &npy_order("(2, 3)", "<f4", true, &f))).unwrap();
        assert!(
            matches!(&p, Points::F32(x) if x.rows() == 2 && x.as_slice() == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        );
        // Larger shapes: every element lands where C order puts it.
        for (rows, cols) in [(7, 3), (3, 7), (64, 65), (1, 5), (5, 1)] {
            let mut d: Vec<usize> = (0..rows * cols).map(|s| (s % rows) * cols + s / rows).collect();
            transpose_in_place(&mut d, rows, cols);
            assert_eq!(d, (0..rows * cols).collect::<Vec<_>>(), "{rows} x {cols}");
        }
    }

    /// An `.npz` with one array is read as that array, stored or deflated; with several, the
    /// named one is read, and without a name the error lists them.
    #[test]
    fn npz_arrays_are_chosen_by_name() {
        let x: Vec<u8> = [1.5f64, 2.0, -3.0, 4.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        let x = npy("(2, 2)", "<f8", &x);
        let y = npy("(2,)", "|u1", &[7, 9]);
        for deflate in [false, true] {
            let one = temp("one.npz", &npz(&[("X", x.clone())], deflate));
            let t = read_table(&one, &TableSpec::default()).unwrap();
            assert_eq!(t.points.into_f64().as_slice(), [1.5, 2.0, -3.0, 4.0]);
            let two = temp("two.npz", &npz(&[("X", x.clone()), ("y", y.clone())], deflate));
            let err = read_table(&two, &TableSpec::default()).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("{} holds 2 arrays (`X`, `y`): choose one with --array NAME", two.display())
            );
            let pick =
                |a: &str| read_table(&two, &TableSpec { array: Some(a.into()), ..TableSpec::default() });
            assert_eq!(pick("y").unwrap().points.into_f64().as_slice(), [7.0, 9.0]);
            assert_eq!(pick("X").unwrap().points.into_f64().as_slice(), [1.5, 2.0, -3.0, 4.0]);
            assert!(pick("z")
                .unwrap_err()
                .to_string()
                .ends_with("has no array `z`; its arrays are `X`, `y`"));
            assert_eq!(read_labels(&two).unwrap(), ["7", "9"]);
        }
        let err = read_table(&temp("bad.npz", b"PK not really"), &TableSpec::default()).unwrap_err();
        assert!(err.to_string().contains("is not a readable .npz file"), "{err}");
    }
}
