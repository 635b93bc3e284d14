//! Writers. Every output file is written to a temporary sibling and renamed into place only
//! when all outputs of a run succeeded, so a failed run never leaves a partial file.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};
use tsne::Matrix;

/// Every temporary file not yet renamed or removed, for [`remove_pending`] (a signal handler).
static PENDING: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn pending() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    // A panic while the list was held leaves it usable: it only lists paths.
    PENDING.lock().unwrap_or_else(|e| e.into_inner())
}

/// The temporary files a writer may create for `tmp`: itself, and the sibling a model file is
/// written through before it is renamed to `tmp`.
fn temporaries(tmp: &Path) -> [PathBuf; 2] {
    let mut sibling = tmp.as_os_str().to_owned();
    sibling.push(format!(".tmp{}", std::process::id()));
    [tmp.to_path_buf(), PathBuf::from(sibling)]
}

/// Removes every temporary file of the outputs in progress (called before exiting on a signal).
pub fn remove_pending() {
    for tmp in pending().drain(..) {
        for t in temporaries(&tmp) {
            let _ = fs::remove_file(t);
        }
    }
}

/// Temporary files waiting to be renamed to their final paths.
#[derive(Default)]
pub struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
}

impl Staged {
    /// Writes `path` through `write`, which receives a temporary path with the same extension.
    pub fn stage(&mut self, path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .with_context(|| format!("invalid output path {}", path.display()))?;
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("tmp");
        let tmp = path.with_file_name(format!(".{name}.{}.partial.{ext}", std::process::id()));
        pending().push(tmp.clone());
        self.files.push((tmp.clone(), path.to_path_buf()));
        write(&tmp).with_context(|| format!("cannot write {}", path.display()))
    }

    /// Renames every staged file into place.
    pub fn commit(mut self) -> Result<()> {
        for (tmp, path) in std::mem::take(&mut self.files) {
            let renamed = fs::rename(&tmp, &path);
            pending().retain(|p| p != &tmp);
            renamed.with_context(|| format!("cannot move output into {}", path.display()))?;
        }
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        let mut list = pending();
        for (tmp, _) in &self.files {
            for t in temporaries(tmp) {
                let _ = fs::remove_file(t);
            }
            list.retain(|p| p != tmp);
        }
    }
}

/// The extensions an embedding can be written as.
pub const EMBEDDING_EXTS: &[&str] = &["csv", "tsv", "txt", "npy"];

/// Fails unless `path` ends in one of `allowed` (case-insensitive), naming them.
fn check_output_ext(path: &Path, allowed: &[&str]) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    if !allowed.contains(&ext.as_str()) {
        bail!("unknown output type of {}: expected one of .{}", path.display(), allowed.join(", ."));
    }
    Ok(())
}

/// Fails unless `path` has one of the `allowed` extensions and can be created: its folder
/// exists and takes a new file, and `path` is not a folder. Called before any work is done.
pub fn check_output(path: &Path, allowed: &[&str]) -> Result<()> {
    if path.is_dir() {
        bail!("cannot write {}: it is a folder", path.display());
    }
    check_output_ext(path, allowed)?;
    check_folder(folder_of(path), path)
}

/// Fails unless `dir` is (or can be created as) a folder that takes new files.
pub fn check_output_folder(dir: &Path) -> Result<()> {
    if dir.exists() && !dir.is_dir() {
        bail!("cannot write into {}: it is a file, not a folder", dir.display());
    }
    let mut existing = dir;
    while !existing.exists() {
        existing = folder_of(existing);
    }
    check_folder(existing, dir)
}

/// The folder `path` would be written into.
fn folder_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Fails unless the existing folder `dir` takes a new file, for the output `target`.
fn check_folder(dir: &Path, target: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!("cannot write {}: the folder {} does not exist", target.display(), dir.display());
    }
    let probe = dir.join(format!(".tsne-write-check.{}", std::process::id()));
    match File::create(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!(
            "cannot write {}: the folder {} does not take new files ({e})",
            target.display(),
            dir.display()
        ),
    }
}

/// The embedding formats, by extension of the output path.
pub fn write_embedding(path: &Path, tmp: &Path, y: &Matrix) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let mut w = BufWriter::new(File::create(tmp)?);
    match ext.as_str() {
        "npy" => write_npy(&mut w, y)?,
        "csv" | "tsv" | "txt" => {
            let sep = if ext == "tsv" { '\t' } else { ',' };
            for i in 0..y.rows() {
                let row = y.row(i);
                for (c, v) in row.iter().enumerate() {
                    if c > 0 {
                        write!(w, "{sep}")?;
                    }
                    // Shortest representation that round-trips exactly.
                    write!(w, "{v:?}")?;
                }
                writeln!(w)?;
            }
        }
        _ => anyhow::bail!("unknown output type `.{ext}`: use .csv, .tsv, .txt or .npy"),
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// Writes `y` as text with each row's id first (`ids`, else the row number from 0) and its
/// label last when there are `labels`, under a header: `id,dim1,dim2[,label]`.
pub fn write_rows(
    path: &Path,
    tmp: &Path,
    y: &Matrix,
    ids: Option<&[String]>,
    labels: Option<&[String]>,
) -> Result<()> {
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    let sep = if ext == "tsv" { "\t" } else { "," };
    let mut w = BufWriter::new(File::create(tmp)?);
    let dims: Vec<String> = (1..=y.cols()).map(|c| format!("dim{c}")).collect();
    let label_head = if labels.is_some() { format!("{sep}label") } else { String::new() };
    writeln!(w, "id{sep}{}{label_head}", dims.join(sep))?;
    for i in 0..y.rows() {
        match ids {
            Some(ids) => write!(w, "{}", ids[i])?,
            None => write!(w, "{i}")?,
        }
        for v in y.row(i) {
            write!(w, "{sep}{v:?}")?;
        }
        if let Some(labels) = labels {
            write!(w, "{sep}{}", labels[i])?;
        }
        writeln!(w)?;
    }
    w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(())
}

/// Writes `y` as a version-1 `.npy` array of little-endian `f8`.
pub fn write_npy(w: &mut impl Write, y: &Matrix) -> Result<()> {
    let mut header =
        format!("{{'descr': '<f8', 'fortran_order': False, 'shape': ({}, {}), }}", y.rows(), y.cols());
    // Magic (6) + version (2) + length (2) + header + '\n' is a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    w.write_all(b"\x93NUMPY\x01\x00")?;
    w.write_all(&(header.len() as u16).to_le_bytes())?;
    w.write_all(header.as_bytes())?;
    for v in y.as_slice() {
        w.write_all(&v.to_le_bytes())?;
    }
    Ok(())
}
