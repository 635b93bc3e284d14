//! The page's data: one binary blob, raw-deflated and base64-encoded.
//!
//! The blob is `TSNV`, the manifest's length (`u32`, little-endian), the manifest (UTF-8
//! JSON), zero bytes up to a multiple of 4, then the arrays, each starting at a multiple of 4
//! from the start of that data section. An array is described in the manifest by
//! `{"offset", "length" (elements), "type" ("f32", "u8", "u16" or "u32")}` and stored
//! byte-shuffled: all first bytes (little-endian) of its elements, then all second bytes, and
//! so on, which deflate compresses far better for floats (the sign and exponent bytes of
//! nearby values repeat). Strings (classes, ids, the title) live in the manifest.

use std::io::Write;

use flate2::write::DeflateEncoder;
use flate2::Compression;
use serde_json::{json, Value};

use crate::{Column, Map};

/// The blob's first four bytes.
pub(crate) const MAGIC: &[u8; 4] = b"TSNV";
/// The version of the blob's layout, in the manifest.
pub(crate) const VERSION: u32 = 1;

/// The arrays of a blob as they are appended.
#[derive(Default)]
struct Arrays {
    bytes: Vec<u8>,
}

impl Arrays {
    /// Appends `elements`, each `width` little-endian bytes, shuffled; returns the descriptor.
    fn push<const W: usize>(
        &mut self,
        kind: &str,
        elements: impl ExactSizeIterator<Item = [u8; W]>,
    ) -> Value {
        let (offset, length) = (self.bytes.len(), elements.len());
        self.bytes.resize(offset + W * length, 0);
        let (data, _) = self.bytes[offset..].split_at_mut(W * length);
        for (i, e) in elements.enumerate() {
            for (plane, b) in e.into_iter().enumerate() {
                data[plane * length + i] = b;
            }
        }
        self.bytes.resize(self.bytes.len().next_multiple_of(4), 0);
        json!({ "offset": offset, "length": length, "type": kind })
    }

    fn f32s(&mut self, values: &[f32]) -> Value {
        self.push("f32", values.iter().map(|v| v.to_le_bytes()))
    }

    /// Class codes in the narrowest type that holds `classes` of them.
    fn codes(&mut self, codes: &[u32], classes: usize) -> Value {
        if classes <= 1 << 8 {
            self.push("u8", codes.iter().map(|&c| [c as u8]))
        } else if classes <= 1 << 16 {
            self.push("u16", codes.iter().map(|&c| (c as u16).to_le_bytes()))
        } else {
            self.push("u32", codes.iter().map(|c| c.to_le_bytes()))
        }
    }

    /// A dictionary-encoded text column: `{"codes", "classes"}`.
    fn classes(&mut self, values: &[String]) -> Value {
        let (classes, codes) = dictionary(values);
        json!({ "codes": self.codes(&codes, classes.len()), "classes": classes })
    }
}

/// The distinct `values` in their natural order (numerically when all are numbers, else by
/// text) and each value's place among them.
pub(crate) fn dictionary(values: &[String]) -> (Vec<String>, Vec<u32>) {
    let mut classes: Vec<&str> = values.iter().map(String::as_str).collect();
    classes.sort_unstable();
    classes.dedup();
    let numbers: Option<Vec<f64>> = classes.iter().map(|c| c.trim().parse::<f64>().ok()).collect();
    if let Some(numbers) = numbers {
        let mut order: Vec<usize> = (0..classes.len()).collect();
        order.sort_by(|&a, &b| numbers[a].total_cmp(&numbers[b]).then(classes[a].cmp(classes[b])));
        classes = order.into_iter().map(|i| classes[i]).collect();
    }
    let index: std::collections::HashMap<&str, u32> =
        classes.iter().enumerate().map(|(i, &c)| (c, i as u32)).collect();
    let codes = values.iter().map(|v| index[v.as_str()]).collect();
    (classes.into_iter().map(str::to_string).collect(), codes)
}

/// The manifest of `map` and the arrays it describes.
fn manifest(map: &Map) -> (Value, Vec<u8>) {
    let mut arrays = Arrays::default();
    let positions = arrays.f32s(&map.positions);
    let labels = map.labels.as_deref().map(|l| arrays.classes(l));
    let columns: Vec<Value> = map
        .columns
        .iter()
        .map(|(name, column)| match column {
            Column::Numeric(values) => {
                let narrow: Vec<f32> = values.iter().map(|&v| v as f32).collect();
                json!({ "name": name, "kind": "numeric", "values": arrays.f32s(&narrow) })
            }
            Column::Categorical(values) => {
                let mut c = arrays.classes(values);
                c["name"] = json!(name);
                c["kind"] = json!("categorical");
                c
            }
        })
        .collect();
    let frames: Vec<Value> = map
        .frames
        .iter()
        .map(|f| json!({ "iteration": f.iteration, "positions": arrays.f32s(&f.positions) }))
        .collect();
    let manifest = json!({
        "format": "tsne-viewer",
        "version": VERSION,
        "n": map.n,
        "title": map.title,
        "positions": positions,
        "labels": labels,
        "ids": map.ids,
        "columns": columns,
        "frames": frames,
    });
    (manifest, arrays.bytes)
}

/// The blob of `map`, deflated (raw deflate, RFC 1951) and base64-encoded.
pub(crate) fn encode(map: &Map) -> String {
    let (manifest, arrays) = manifest(map);
    let text = manifest.to_string();
    let mut blob = Vec::with_capacity(8 + text.len() + 3 + arrays.len());
    blob.extend_from_slice(MAGIC);
    blob.extend_from_slice(&(text.len() as u32).to_le_bytes());
    blob.extend_from_slice(text.as_bytes());
    blob.resize(blob.len().next_multiple_of(4), 0);
    blob.extend_from_slice(&arrays);
    base64(&deflate(&blob))
}

/// Raw deflate of `bytes` at the best compression.
fn deflate(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = DeflateEncoder::new(Vec::with_capacity(bytes.len() / 2), Compression::best());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(bytes);
    encoder.finish().unwrap_or_default()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 (RFC 4648, with `=` padding).
pub(crate) fn base64(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let v = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
        for k in 0..4 {
            out.push(if k <= chunk.len() { BASE64[(v >> (18 - 6 * k) & 63) as usize] } else { b'=' });
        }
    }
    // Only ASCII was pushed.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_vectors() {
        let cases = [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg==")];
        for (plain, coded) in cases {
            assert_eq!(base64(plain.as_bytes()), coded);
            assert_eq!(crate::decode::unbase64(coded).unwrap(), plain.as_bytes());
        }
        assert_eq!(base64(&[0xfb, 0xff, 0xbf]), "+/+/");
    }

    #[test]
    fn classes_are_in_natural_order() {
        let values: Vec<String> = ["10", "9", "x", "9"].iter().map(|s| s.to_string()).collect();
        assert_eq!(dictionary(&values), (vec!["10".into(), "9".into(), "x".into()], vec![0, 1, 2, 1]));
        let numbers: Vec<String> = ["10", "9", "-1", "9"].iter().map(|s| s.to_string()).collect();
        assert_eq!(dictionary(&numbers), (vec!["-1".into(), "9".into(), "10".into()], vec![2, 1, 0, 1]));
    }
}
