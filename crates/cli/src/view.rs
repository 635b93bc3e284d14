//! `tsne view`: the interactive HTML page of a 2-D embedding from any tool, with its labels,
//! ids, metadata columns and optimisation snapshots. Also the page `embed --html` writes.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use tsne::Matrix;
use tsne_viewer::{Column, Frame, Map};

use crate::input::{self, TableSpec};
use crate::output::{self, check_output};

/// The extensions of a page.
pub const HTML_EXTS: &[&str] = &["html", "htm"];

/// Values a metadata table uses for a missing number.
const MISSING: [&str; 8] = ["", "NA", "N/A", "nan", "NaN", "null", "NULL", "None"];

#[derive(Args)]
pub struct ViewArgs {
    /// The embedding: a table of 2 columns (.csv, .tsv, .txt, .npy, .npz or .parquet), one
    /// point per row; a header, pandas' index or an id column are handled as `embed` does.
    embedding: PathBuf,
    /// Labels, one per line (or an IDX label file): colour the map and are searched.
    #[arg(long, conflicts_with = "labels_column")]
    labels: Option<PathBuf>,
    /// The column of labels, in --meta or in the EMBEDDING table.
    #[arg(long, value_name = "COLUMN")]
    labels_column: Option<String>,
    /// A table with a header (CSV, TSV or Parquet), one row per point: its columns are shown on
    /// hover and offered to colour by (numbers get a colour bar, anything else a legend).
    #[arg(long, value_name = "TABLE")]
    meta: Option<PathBuf>,
    /// The column of row ids, in --meta or in the EMBEDDING table: shown on hover, searched,
    /// downloaded (default: an id column of EMBEDDING, else the row numbers from 0).
    #[arg(long, value_name = "COLUMN")]
    id_column: Option<String>,
    /// Draw these two columns of EMBEDDING (comma-separated names or numbers from 1).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    columns: Option<Vec<String>>,
    /// Do not draw these columns of EMBEDDING (comma-separated names or numbers from 1).
    #[arg(long, value_name = "A,B,..", value_delimiter = ',')]
    drop_columns: Vec<String>,
    /// Title of the page (default: the embedding file's name without its extension).
    #[arg(long)]
    title: Option<String>,
    /// A folder of snapshots, `positions_NNNNN.csv` as `embed --snapshot-every` writes them:
    /// a slider and a play button replay them.
    #[arg(long, value_name = "DIR")]
    frames: Option<PathBuf>,
    /// Write the page here (.html).
    #[arg(long, value_name = "FILE.html")]
    html: PathBuf,
}

/// `tsne view`.
pub fn run(args: ViewArgs) -> Result<()> {
    check_output(&args.html, HTML_EXTS)?;
    input::Format::of(&args.embedding)?;
    for path in args.meta.iter().chain(&args.labels) {
        input::Format::of(path)?;
    }
    if let Some(dir) = &args.frames {
        if !dir.is_dir() {
            bail!("--frames {}: not a folder of positions_NNNNN.csv files", dir.display());
        }
    }
    let mut meta = match &args.meta {
        Some(path) => input::read_columns(path)?,
        None => Vec::new(),
    };
    let from_meta = |name: &Option<String>| name.clone().filter(|n| meta.iter().any(|(m, _)| m == n));
    let (meta_labels, meta_ids) = (from_meta(&args.labels_column), from_meta(&args.id_column));
    let spec = TableSpec {
        id_column: args.id_column.clone().filter(|_| meta_ids.is_none()),
        labels_column: args.labels_column.clone().filter(|_| meta_labels.is_none()),
        columns: args.columns.clone(),
        drop_columns: args.drop_columns.clone(),
        array: None,
    };
    let table = input::read_table(&args.embedding, &spec)?;
    for note in &table.notes {
        eprintln!("note: {note}");
    }
    let y = table.points.into_f64();
    let name = args.embedding.display();
    if y.cols() != 2 {
        bail!(
            "{name} has {} columns to draw: tsne view draws 2-D maps; choose two with --columns, or give the others a role (--labels-column, --id-column, --drop-columns)",
            y.cols()
        );
    }
    let n = y.rows();
    let mut take = |column: &Option<String>| column.as_ref().map(|c| take_column(&mut meta, c));
    let (labels_in_meta, ids_in_meta) = (take(&meta_labels), take(&meta_ids));
    let labels = match &args.labels {
        Some(path) => Some(input::read_labels_for(path, n)?),
        None => labels_in_meta.or(table.labels),
    };
    let ids = ids_in_meta.or(table.ids);
    let title = args.title.clone().unwrap_or_else(|| stem(&args.embedding));
    let frames = match &args.frames {
        Some(dir) => read_frames(dir, n, |_| true)?,
        None => Vec::new(),
    };
    let meta_name = args.meta.as_ref().map(|p| p.display().to_string()).unwrap_or_default();
    let map = page(&y, &title, labels, ids, frames)?;
    let map = with_meta(map, meta, &meta_name)?;
    let mut staged = output::Staged::default();
    staged.stage(&args.html, |tmp| write_page(&map, tmp))?;
    staged.commit()?;
    eprintln!("wrote {} ({n} points)", args.html.display());
    Ok(())
}

/// Removes the column `name` from `meta` and returns its values.
fn take_column(meta: &mut Vec<(String, Vec<String>)>, name: &str) -> Vec<String> {
    match meta.iter().position(|(m, _)| m == name) {
        Some(at) => meta.remove(at).1,
        None => Vec::new(),
    }
}

/// The map of the 2-D `y` with its title, labels, ids and snapshots; the errors of the
/// viewer in the CLI's words.
pub fn page(
    y: &Matrix,
    title: &str,
    labels: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    frames: Vec<Frame>,
) -> Result<Map> {
    let mut map = Map::new(y.as_slice(), y.cols())?.with_title(title);
    if let Some(labels) = labels {
        map = map.with_labels(labels)?;
    }
    if let Some(ids) = ids {
        map = map.with_ids(ids)?;
    }
    if !frames.is_empty() {
        map = map.with_frames(frames)?;
    }
    Ok(map)
}

/// Writes the page of `map` to `tmp` (a staged output).
pub fn write_page(map: &Map, tmp: &Path) -> Result<()> {
    std::fs::write(tmp, map.html())?;
    Ok(())
}

/// Adds the columns of the metadata table `file` to `map`: pandas' index is left out; a
/// column whose values are all numbers (or missing) is numeric, any other categorical.
fn with_meta(mut map: Map, meta: Vec<(String, Vec<String>)>, file: &str) -> Result<Map> {
    for (name, values) in meta {
        if values.len() != map.n() {
            bail!(
                "--meta {file} has {} rows but the embedding has {}: one row per point",
                values.len(),
                map.n()
            );
        }
        if input::is_index_name(&name) {
            eprintln!("note: {file}: column `{name}` looks like pandas' index: not shown");
            continue;
        }
        let column = match numbers(&values) {
            Some(v) => Column::Numeric(v),
            None => Column::Categorical(values),
        };
        map = map.with_column(name, column).with_context(|| format!("--meta {file}"))?;
    }
    Ok(map)
}

/// The values as numbers (missing ones NaN) when every one is a finite number or missing and
/// one at least is a number.
fn numbers(values: &[String]) -> Option<Vec<f64>> {
    let mut any = false;
    let parsed = values
        .iter()
        .map(|v| match v.parse::<f64>() {
            Ok(x) if x.is_finite() => {
                any = true;
                Some(x)
            }
            Ok(x) if x.is_nan() => Some(f64::NAN),
            _ if MISSING.contains(&v.as_str()) => Some(f64::NAN),
            _ => None,
        })
        .collect::<Option<Vec<f64>>>()?;
    any.then_some(parsed)
}

/// The snapshots in `dir` (`positions_NNNNN.csv`, by iteration), each of `n` points in 2-D:
/// those whose iteration `keep` accepts.
pub fn read_frames(dir: &Path, n: usize, keep: impl Fn(usize) -> bool) -> Result<Vec<Frame>> {
    let entries = std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut found: Vec<(usize, PathBuf)> = Vec::new();
    for entry in entries {
        let path = entry.with_context(|| format!("cannot read {}", dir.display()))?.path();
        let name = path.file_name().and_then(|s| s.to_str()).unwrap_or("");
        let iteration = name.strip_prefix("positions_").and_then(|s| s.strip_suffix(".csv"));
        if let Some(k) = iteration.and_then(|k| k.parse::<usize>().ok()) {
            if keep(k) {
                found.push((k, path));
            }
        }
    }
    if found.is_empty() {
        bail!(
            "{} holds no positions_NNNNN.csv snapshots (tsne embed --snapshot-every writes them)",
            dir.display()
        );
    }
    found.sort();
    found
        .into_iter()
        .map(|(iteration, path)| {
            let y = input::read_points(&path)?;
            if (y.rows(), y.cols()) != (n, 2) {
                bail!(
                    "{} is {} x {}: a snapshot of this map has {n} rows of 2",
                    path.display(),
                    y.rows(),
                    y.cols()
                );
            }
            Ok(Frame { iteration, positions: y.as_slice().iter().map(|&v| v as f32).collect() })
        })
        .collect()
}

/// The file name without its extension (nor `.gz`).
fn stem(path: &Path) -> String {
    let name =
        path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let plain = name.strip_suffix(".gz").unwrap_or(&name);
    plain.rsplit_once('.').map_or(plain, |(stem, _)| stem).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_allow_missing_values_but_not_text() {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let got = numbers(&v(&["1", "NA", "2.5", ""])).unwrap();
        assert_eq!((got[0], got[2]), (1.0, 2.5));
        assert!(got[1].is_nan() && got[3].is_nan());
        assert!(numbers(&v(&["1", "x"])).is_none());
        assert!(numbers(&v(&["NA", ""])).is_none(), "no number at all is not a numeric column");
        assert!(numbers(&v(&["1", "inf"])).is_none());
    }
}
