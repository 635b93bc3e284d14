//! Labels, one per point, from their own file.

use std::borrow::Cow;
use std::io::{BufRead, BufReader};
use std::path::Path;

use anyhow::{bail, Context, Result};

use super::text::{is_header, split_fields};
use super::{idx, name_of, npy, open, table, Array, Format};

/// Reads labels: one per line of a text file (a two-column file whose first column is a row
/// index, as pandas' `Series.to_csv()` writes, gives its second column), a 1-D `.npy` or IDX
/// array, an `.npz` holding one array (or one named `y`, `labels`, `label` or `target`), or a
/// one-column Parquet file. A text file of several columns is an error that says where labels
/// can come from instead.
pub fn read_labels(path: &Path) -> Result<Vec<String>> {
    let file = name_of(path);
    match Format::of(path)? {
        Format::Idx => numbers(idx::read_idx(open(path)?, &file)?, &file),
        Format::Npy => numbers(npy::read_npy(open(path)?, &file)?, &file),
        Format::Npz => numbers(npy::read_npz_labels(path, &file)?, &file),
        Format::Parquet => parquet_labels(path, &file),
        Format::Text => text_labels(BufReader::new(open(path)?), &file),
    }
}

/// Reads the labels of `n` points (see [`read_labels`]). A text file with one line more than
/// there are points loses its first line when that is a header: a name such as `label`, `y`
/// or `class`, or text above numbers. Any other count is an error with a hint.
pub fn read_labels_for(path: &Path, n: usize) -> Result<Vec<String>> {
    let mut labels = read_labels(path)?;
    let text = Format::of(path)? == Format::Text;
    if labels.len() == n + 1 && text && is_label_header(&labels) {
        labels.remove(0);
    }
    if labels.len() == n {
        return Ok(labels);
    }
    let hint = if labels.len() == n + 1 && text {
        format!("is the first line (`{}`) a header? Remove it", labels[0])
    } else {
        "give one label per point, in the order of the points".to_string()
    };
    bail!("{} has {} labels for {n} points: {hint}", name_of(path), labels.len())
}

/// Whether the first of `labels` is a header: a usual name of a labels column, or text
/// above numbers only.
fn is_label_header(labels: &[String]) -> bool {
    const NAMES: [&str; 22] = [
        "label",
        "labels",
        "y",
        "class",
        "classes",
        "target",
        "targets",
        "cluster",
        "clusters",
        "category",
        "categories",
        "group",
        "type",
        "species",
        "digit",
        "cell_type",
        "celltype",
        "annotation",
        "name",
        "tag",
        "true_label",
        "y_true",
    ];
    let number = |s: &str| s.parse::<f64>().is_ok();
    let (first, rest) = (&labels[0], &labels[1..]);
    NAMES.contains(&first.to_ascii_lowercase().as_str())
        || !number(first) && !rest.is_empty() && rest.iter().all(|l| number(l))
}

/// Labels from an array: its values, which must be one column.
fn numbers(a: Array, file: &str) -> Result<Vec<String>> {
    if a.cols != 1 {
        bail!("{file} holds a {} x {} array: labels need one value per point (a 1-D array)", a.rows, a.cols);
    }
    Ok(a.values.column_text(0, 1))
}

/// Labels of a text file: every non-blank line, trimmed (and unquoted); from a two-column
/// file, the second column when the first is a row index.
fn text_labels(reader: impl BufRead, file: &str) -> Result<Vec<String>> {
    let mut lines = Vec::new();
    for line in reader.lines() {
        let line = line.with_context(|| format!("cannot read {file}"))?;
        let t = line.trim();
        if !t.is_empty() {
            lines.push(t.to_string());
        }
    }
    let Some(d) = lines.first().and_then(|l| [',', '\t', ';'].into_iter().find(|&d| l.contains(d))) else {
        return Ok(lines);
    };
    let rows: Vec<Vec<Cow<str>>> = lines.iter().map(|l| split_fields(l, Some(d))).collect();
    let k = rows[0].len();
    if rows.iter().any(|r| r.len() != k) {
        return Ok(lines); // labels that hold the delimiter, here and there
    }
    if k == 1 {
        return Ok(rows.into_iter().map(|mut r| r.swap_remove(0).into_owned()).collect());
    }
    let header = is_header(&rows[0], rows.get(1).map(|r| &r[..]));
    let body = &rows[usize::from(header)..];
    let index_named = header && (table::is_index_name(&rows[0][0]) || table::is_id_name(&rows[0][0]));
    let counts = |start: usize| body.iter().enumerate().all(|(i, r)| r[0] == (i + start).to_string());
    if k == 2 && !body.is_empty() && (index_named || counts(0) || counts(1)) {
        return Ok(body.iter().map(|r| r[1].to_string()).collect());
    }
    bail!(
        "{file} has {k} columns: give labels one per line, or take them from a column of the points table with --labels-column NAME"
    )
}

#[cfg(feature = "parquet")]
fn parquet_labels(path: &Path, file: &str) -> Result<Vec<String>> {
    super::parquet::read_labels(path, file)
}

#[cfg(not(feature = "parquet"))]
fn parquet_labels(_: &Path, file: &str) -> Result<Vec<String>> {
    bail!("{file}: this build of tsne reads no Parquet (built without the `parquet` feature): save the labels as text")
}

#[cfg(test)]
mod tests {
    use super::super::testing::temp;
    use super::*;

    /// A header line above the labels is dropped when the file has one line more than there
    /// are points; an unrecognised extra line gets the hint instead.
    #[test]
    fn a_header_line_is_dropped_when_one_line_too_many() {
        let p = temp("y.txt", b"label\n3\n1\n4\n");
        assert_eq!(read_labels_for(&p, 3).unwrap(), ["3", "1", "4"]);
        // As read on their own, the lines are all labels.
        assert_eq!(read_labels(&p).unwrap().len(), 4);
        let p = temp("species.txt", b"species\nsetosa\nvirginica\n");
        assert_eq!(read_labels_for(&p, 2).unwrap(), ["setosa", "virginica"]);
        let p = temp("kind.txt", b"kind\n5\n6\n");
        assert_eq!(read_labels_for(&p, 2).unwrap(), ["5", "6"]);
        let p = temp("flower.txt", b"flower\nsetosa\nvirginica\n");
        let err = read_labels_for(&p, 2).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "{} has 3 labels for 2 points: is the first line (`flower`) a header? Remove it",
                p.display()
            )
        );
        let err = read_labels_for(&p, 5).unwrap_err().to_string();
        assert!(
            err.ends_with("has 3 labels for 5 points: give one label per point, in the order of the points")
        );
        // The right count is kept as it is, a first line named `label` included.
        assert_eq!(read_labels_for(&temp("l.txt", b"label\nx\n"), 2).unwrap(), ["label", "x"]);
    }

    /// Several columns: pandas' `Series.to_csv()` (index, then the labels) gives the labels;
    /// any other table is an error pointing to --labels-column.
    #[test]
    fn labels_from_csv_tables() {
        let p = temp("s.csv", b",label\n0,cat\n1,dog\n2,cat\n");
        assert_eq!(read_labels_for(&p, 3).unwrap(), ["cat", "dog", "cat"]);
        let p = temp("s2.csv", b"0,cat\n1,dog\n");
        assert_eq!(read_labels(&p).unwrap(), ["cat", "dog"]);
        let p = temp("t.csv", b"x,y,label\n1,2,a\n3,4,b\n");
        let err = read_labels(&p).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{} has 3 columns: give labels one per line, or take them from a column of the points table with --labels-column NAME", p.display())
        );
        let p = temp("q.csv", b"\"a, b\"\nc\n");
        assert_eq!(read_labels(&p).unwrap(), ["a, b", "c"]);
        // Labels with commas in some lines only stay whole lines.
        let p = temp("names.txt", b"Doe, J\nSmith\n");
        assert_eq!(read_labels(&p).unwrap(), ["Doe, J", "Smith"]);
    }

    /// A 2-D array is not labels.
    #[test]
    fn labels_from_arrays_are_one_column() {
        let p = temp("y.npy", &super::super::testing::npy("(2, 2)", "|u1", &[1, 2, 3, 4]));
        assert!(read_labels(&p)
            .unwrap_err()
            .to_string()
            .ends_with("holds a 2 x 2 array: labels need one value per point (a 1-D array)"));
        let p = temp("y1.npy", &super::super::testing::npy("(3,)", "|u1", &[1, 2, 3]));
        assert_eq!(read_labels(&p).unwrap(), ["1", "2", "3"]);
    }
}
