//! Reading a page's data back, the inverse of the writer: for tests and tools that check what
//! a page holds.

use std::io::Read;

use serde_json::Value;

use crate::encode::{MAGIC, VERSION};
use crate::page::DATA_OPEN;
use crate::{Column, Frame, ViewerError};

/// What a page holds, as decoded from its inline data.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    /// The title.
    pub title: String,
    /// Row-major `n x 2` positions (single precision).
    pub positions: Vec<f32>,
    /// One label per point, if the map has labels.
    pub labels: Option<Vec<String>>,
    /// One id per point, if the map has ids.
    pub ids: Option<Vec<String>>,
    /// The metadata columns in order (numbers in single precision, widened).
    pub columns: Vec<(String, Column)>,
    /// The snapshots.
    pub frames: Vec<Frame>,
}

fn bad(what: impl Into<String>) -> ViewerError {
    ViewerError::Decode(what.into())
}

/// Decodes the data of a page written by [`crate::Map::html`]. Fails for a page without it or
/// with data that is corrupt or of another version.
pub fn decode(html: &str) -> Result<Decoded, ViewerError> {
    let start = html.find(DATA_OPEN).ok_or_else(|| bad("no data element"))? + DATA_OPEN.len();
    let len = html[start..].find('<').ok_or_else(|| bad("the data element is not closed"))?;
    let deflated = unbase64(html[start..start + len].trim())?;
    let mut blob = Vec::new();
    flate2::read::DeflateDecoder::new(&deflated[..])
        .read_to_end(&mut blob)
        .map_err(|e| bad(format!("the data does not inflate: {e}")))?;
    let (manifest, data) = split(&blob)?;
    let m: Value = serde_json::from_slice(manifest).map_err(|e| bad(format!("manifest: {e}")))?;
    if m["format"] != "tsne-viewer" || m["version"] != VERSION {
        return Err(bad(format!("format {} version {}", m["format"], m["version"])));
    }
    let labels = match &m["labels"] {
        Value::Null => None,
        l => Some(classes(l, data)?),
    };
    let ids = match &m["ids"] {
        Value::Null => None,
        ids => Some(strings(ids)?),
    };
    Ok(Decoded {
        title: m["title"].as_str().ok_or_else(|| bad("no title"))?.to_string(),
        positions: f32s(&m["positions"], data)?,
        labels,
        ids,
        columns: array(&m["columns"])?.iter().map(|c| column(c, data)).collect::<Result<_, _>>()?,
        frames: array(&m["frames"])?.iter().map(|f| frame(f, data)).collect::<Result<_, _>>()?,
    })
}

/// The manifest's bytes and the data section of `blob`.
fn split(blob: &[u8]) -> Result<(&[u8], &[u8]), ViewerError> {
    if blob.len() < 8 || &blob[..4] != MAGIC {
        return Err(bad("no TSNV header"));
    }
    let len = u32::from_le_bytes([blob[4], blob[5], blob[6], blob[7]]) as usize;
    let end = 8usize.checked_add(len).filter(|&e| e <= blob.len()).ok_or_else(|| bad("manifest length"))?;
    let data = end.next_multiple_of(4).min(blob.len());
    Ok((&blob[8..end], &blob[data..]))
}

fn array(v: &Value) -> Result<&Vec<Value>, ViewerError> {
    v.as_array().ok_or_else(|| bad(format!("expected an array, found {v}")))
}

fn strings(v: &Value) -> Result<Vec<String>, ViewerError> {
    array(v)?.iter().map(|s| s.as_str().map(str::to_string).ok_or_else(|| bad("expected text"))).collect()
}

fn column(c: &Value, data: &[u8]) -> Result<(String, Column), ViewerError> {
    let name = c["name"].as_str().ok_or_else(|| bad("a column without name"))?.to_string();
    let column = match c["kind"].as_str() {
        Some("numeric") => Column::Numeric(f32s(&c["values"], data)?.into_iter().map(f64::from).collect()),
        Some("categorical") => Column::Categorical(classes(c, data)?),
        _ => return Err(bad(format!("column `{name}` of unknown kind"))),
    };
    Ok((name, column))
}

fn frame(f: &Value, data: &[u8]) -> Result<Frame, ViewerError> {
    let iteration = f["iteration"].as_u64().ok_or_else(|| bad("a frame without iteration"))? as usize;
    Ok(Frame { iteration, positions: f32s(&f["positions"], data)? })
}

/// The text of a dictionary-encoded column: `classes[codes[i]]`.
fn classes(c: &Value, data: &[u8]) -> Result<Vec<String>, ViewerError> {
    let classes = strings(&c["classes"])?;
    let codes = elements(&c["codes"], data)?;
    codes
        .iter()
        .map(|&k| classes.get(k as usize).cloned().ok_or_else(|| bad("a code past the classes")))
        .collect()
}

fn f32s(d: &Value, data: &[u8]) -> Result<Vec<f32>, ViewerError> {
    if d["type"] != "f32" {
        return Err(bad(format!("expected f32, found {}", d["type"])));
    }
    Ok(elements(d, data)?.into_iter().map(f32::from_bits).collect())
}

/// The elements of the array that `d` describes, un-shuffled, as their bits in a `u32`.
fn elements(d: &Value, data: &[u8]) -> Result<Vec<u32>, ViewerError> {
    let width = match d["type"].as_str() {
        Some("u8") => 1,
        Some("u16") => 2,
        Some("u32" | "f32") => 4,
        _ => return Err(bad(format!("unknown array type {}", d["type"]))),
    };
    let field = |k: &str| d[k].as_u64().map(|v| v as usize).ok_or_else(|| bad(format!("array without {k}")));
    let (offset, length) = (field("offset")?, field("length")?);
    let bytes = offset
        .checked_add(width * length)
        .and_then(|end| data.get(offset..end))
        .ok_or_else(|| bad("an array past the data"))?;
    Ok((0..length)
        .map(|i| (0..width).map(|p| u32::from(bytes[p * length + i]) << (8 * p)).fold(0, |a, b| a | b))
        .collect())
}

/// Decodes standard base64 (padding optional, no whitespace inside).
pub(crate) fn unbase64(text: &str) -> Result<Vec<u8>, ViewerError> {
    let text = text.trim_end_matches('=').as_bytes();
    let value = |c: u8| match c {
        b'A'..=b'Z' => Ok(c - b'A'),
        b'a'..=b'z' => Ok(c - b'a' + 26),
        b'0'..=b'9' => Ok(c - b'0' + 52),
        b'+' => Ok(62),
        b'/' => Ok(63),
        _ => Err(bad(format!("`{}` in the base64 data", c as char))),
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut v = 0u32;
        for (k, &c) in chunk.iter().enumerate() {
            v |= u32::from(value(c)?) << (18 - 6 * k);
        }
        let bytes = v.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Ok(out)
}
