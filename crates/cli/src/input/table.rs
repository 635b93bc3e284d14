//! Tables: which columns are points, row ids and labels, chosen or recognised, and the
//! notes that say what was recognised.

use anyhow::{bail, Context, Result};
use tsne::{Matrix, MatrixF32};

use super::{Array, Points, Values};

/// Which columns of a table are read, and as what. A column is named by its header name; a
/// name that no header field matches and that is a whole number `k` is column `k`, counted
/// from 1 (the way to name columns of a file without header, of an array, or whose header
/// field is empty or repeated).
///
/// Without `id_column`, a column of row ids is recognised and set aside, with a note: the
/// leading columns of pandas' index (header field empty, `Unnamed: 0`) or its Parquet column
/// (`__index_level_0__`, anywhere), a column named like an identifier (`id`, `index`, `name`,
/// `key`, `uuid`, `*_id`, ...), or else a first numeric column that counts the rows (0 to
/// n-1 or 1 to n, at least 3 rows, at least one other column). Only the first is the ids;
/// another such column is dropped, also with a note. Columns listed in `columns` are
/// embedded whatever their name, and with `columns` no column is taken for counting rows.
/// Nothing is recognised in arrays (`.npy`, `.npz`, IDX). Any other column that is not
/// numbers is an error naming it and the flags that give it a role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableSpec {
    /// The column of row ids (not embedded).
    pub id_column: Option<String>,
    /// The column of labels (not embedded).
    pub labels_column: Option<String>,
    /// Only these columns are embedded (in the file's order).
    pub columns: Option<Vec<String>>,
    /// These columns are not embedded.
    pub drop_columns: Vec<String>,
    /// The array of an `.npz` file that holds the points (needed when it holds several).
    pub array: Option<String>,
}

/// A table as read: the points (one per row) and what was set aside.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// The embedded columns, row by row.
    pub points: Points,
    /// One id per point, from the id column, when there is one.
    pub ids: Option<Vec<String>>,
    /// One label per point, from `labels_column`.
    pub labels: Option<Vec<String>>,
    /// One-line notices of what was recognised, for standard error.
    pub notes: Vec<String>,
}

/// How a column is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Role {
    Feature,
    Ids,
    Labels,
    Drop,
}

/// The role of each column of a table, and the notes about them.
pub(super) struct Plan {
    pub roles: Vec<Role>,
    names: Option<Vec<String>>,
    /// Whether column 1 is set aside at the end if it counts the rows.
    check_counter: bool,
    pub notes: Vec<String>,
}

/// Header names of pandas' index: `df.to_csv()` leaves the field empty (or `Unnamed: 0` once
/// read back and saved again); `df.to_parquet()` names it `__index_level_0__` (and puts it
/// last). Only leading columns so named are taken for the index, bar `__index_level_*`.
pub(super) fn is_index_name(name: &str) -> bool {
    name.is_empty() || name.starts_with("Unnamed: ") || name.starts_with("__index_level_")
}

/// Header names of identifier columns: `id`, `ID`, `index`, `name`, `key`, `uuid`,
/// `sample_id`, `cell.id`, `sampleId`, ...
pub(super) fn is_id_name(name: &str) -> bool {
    const NAMES: [&str; 12] = [
        "id",
        "index",
        "idx",
        "name",
        "names",
        "key",
        "uid",
        "uuid",
        "rowid",
        "row_id",
        "rownames",
        "row.names",
    ];
    let lower = name.to_ascii_lowercase();
    let camel = (name.ends_with("Id") || name.ends_with("ID"))
        && name[..name.len() - 2].chars().last().is_some_and(|c| c.is_ascii_lowercase());
    NAMES.contains(&lower.as_str())
        || [" id", "_id", ".id", "-id"].iter().any(|s| lower.ends_with(s))
        || camel
}

/// Header names of columns that usually hold labels.
fn is_label_name(name: &str) -> bool {
    const NAMES: [&str; 11] = [
        "label",
        "labels",
        "class",
        "target",
        "species",
        "cluster",
        "category",
        "cell_type",
        "celltype",
        "y_true",
        "digit",
    ];
    NAMES.contains(&name.to_ascii_lowercase().as_str())
}

/// Decides the role of each of the `ncols` columns of `file` (header `names`, if any) from
/// `spec`, recognising id columns (see [`TableSpec`]) when `auto`. Fails for a column that is
/// not there, a column given two roles, or no column left to embed.
pub(super) fn plan(
    file: &str,
    names: Option<&[String]>,
    ncols: usize,
    spec: &TableSpec,
    auto: bool,
) -> Result<Plan> {
    let resolve = |token: &String| resolve(file, names, ncols, token.trim());
    let mut roles = vec![Role::Feature; ncols];
    let mut given = vec![false; ncols];
    if let Some(list) = &spec.columns {
        roles.fill(Role::Drop);
        for c in list.iter().map(resolve) {
            let c = c?;
            (roles[c], given[c]) = (Role::Feature, true);
        }
    }
    for (t, c) in spec.drop_columns.iter().map(|t| (t, resolve(t))) {
        let c = c?;
        if given[c] && roles[c] == Role::Feature {
            bail!("{file}: column `{t}` is both in --columns and in --drop-columns");
        }
        (roles[c], given[c]) = (Role::Drop, true);
    }
    let chosen =
        [(&spec.id_column, Role::Ids, "--id-column"), (&spec.labels_column, Role::Labels, "--labels-column")];
    for (token, role, flag) in chosen {
        let Some(t) = token else { continue };
        let c = resolve(t)?;
        if given[c] {
            bail!("{file}: column `{t}` of {flag} is also in --columns, --drop-columns or the other of --id-column and --labels-column");
        }
        (roles[c], given[c]) = (role, true);
    }
    let mut plan =
        Plan { roles, names: names.map(<[String]>::to_vec), check_counter: false, notes: Vec::new() };
    if auto {
        plan.recognise_ids(file, &given, spec.id_column.is_some());
    }
    if auto && spec.columns.is_none() && spec.labels_column.is_none() {
        plan.note_label_columns(file);
    }
    plan.check_counter = auto
        && spec.columns.is_none()
        && !plan.roles.contains(&Role::Ids)
        && plan.roles.first() == Some(&Role::Feature)
        && !given[0]
        && plan.features() >= 2;
    if ncols > 0 && plan.features() == 0 {
        bail!("{file}: no column is left to embed");
    }
    Ok(plan)
}

/// The 0-based column that `token` names (see [`TableSpec`]).
fn resolve(file: &str, names: Option<&[String]>, ncols: usize, token: &str) -> Result<usize> {
    if let Some(names) = names {
        let hits: Vec<usize> = (0..ncols).filter(|&c| names[c] == token).collect();
        match hits[..] {
            [c] => return Ok(c),
            [] => {}
            _ => bail!(
                "{file}: {} columns are named `{token}`: give the number of one (1 to {ncols})",
                hits.len()
            ),
        }
    }
    match (token.parse::<usize>(), names) {
        (Ok(k), _) if (1..=ncols).contains(&k) => Ok(k - 1),
        (_, Some(names)) => bail!("{file} has no column `{token}`; its columns are {}", list_names(names)),
        (_, None) => {
            bail!("{file} has no column `{token}`: its columns are numbered 1 to {ncols} (no header)")
        }
    }
}

/// `a`, `b`, `c`, or the first 20 of them and the count.
fn list_names(names: &[String]) -> String {
    let shown: Vec<String> = names
        .iter()
        .take(20)
        .enumerate()
        .map(|(c, n)| if n.is_empty() { format!("{} (unnamed)", c + 1) } else { format!("`{n}`") })
        .collect();
    let more = if names.len() > 20 { format!(", ... ({} in all)", names.len()) } else { String::new() };
    format!("{}{more}", shown.join(", "))
}

impl Plan {
    /// The number of embedded columns.
    pub fn features(&self) -> usize {
        self.roles.iter().filter(|&&r| r == Role::Feature).count()
    }

    /// Column `c` in a message: "column `x`", or "column 3" without a usable name.
    pub fn describe(&self, c: usize) -> String {
        match self.names.as_ref().map(|n| n[c].as_str()) {
            Some("") => format!("column {} (unnamed)", c + 1),
            Some(name) => format!("column `{name}`"),
            None => format!("column {}", c + 1),
        }
    }

    /// How a flag names column `c`: its header name, or its number when the name cannot be
    /// given (no header, empty, repeated, or holding a comma); quoted when it holds a space.
    pub fn flag_value(&self, c: usize) -> String {
        let Some(names) = &self.names else { return (c + 1).to_string() };
        let name = &names[c];
        if name.is_empty() || name.contains(',') || names.iter().filter(|n| *n == name).count() > 1 {
            (c + 1).to_string()
        } else if name.contains(|ch: char| ch.is_whitespace() || ch == '\'') {
            format!("\"{name}\"")
        } else {
            name.clone()
        }
    }

    /// Sets aside pandas' index columns and identifier-named columns (see [`TableSpec`]) that
    /// no flag named: the first as the ids unless `ids_given`, the others dropped. Under
    /// `--columns` (every other column dropped already) only the ids are taken, without note
    /// of the rest.
    fn recognise_ids(&mut self, file: &str, given: &[bool], ids_given: bool) {
        let Some(names) = self.names.clone() else { return };
        let leading = names.iter().take_while(|n| is_index_name(n)).count();
        let mut have_ids = ids_given;
        for (c, name) in names.iter().enumerate() {
            let index = c < leading || name.starts_with("__index_level_");
            if given[c] || !index && !is_id_name(name) || have_ids && self.roles[c] == Role::Drop {
                continue;
            }
            let what = if index { "pandas' index" } else { "an identifier" };
            let column = self.describe(c);
            let embed = "to embed it, list it with the other columns in --columns";
            if have_ids {
                self.roles[c] = Role::Drop;
                self.notes.push(format!("{file}: {column} looks like {what}: not embedded ({embed})"));
            } else {
                let note = match self.roles[c] {
                    Role::Feature => {
                        format!("{file}: {column} read as row ids ({what}), not embedded ({embed})")
                    }
                    _ => format!("{file}: {column} read as row ids ({what})"),
                };
                self.roles[c] = Role::Ids;
                have_ids = true;
                self.notes.push(note);
            }
        }
    }

    /// Notes every embedded column named like labels (`label`, `class`, `target`, ...).
    fn note_label_columns(&mut self, file: &str) {
        for c in 0..self.roles.len() {
            let named = self.names.as_ref().is_some_and(|n| is_label_name(&n[c]));
            if self.roles[c] == Role::Feature && named {
                let (column, flag) = (self.describe(c), self.flag_value(c));
                self.notes.push(format!(
                    "{file}: {column} is embedded; if it holds labels, use --labels-column {flag}"
                ));
            }
        }
    }
}

/// A table's columns as read, before the points are made: the embedded values row by row,
/// and the text of the id and label columns.
#[derive(Default)]
pub(super) struct Parsed {
    pub rows: usize,
    pub values: Values,
    pub ids: Vec<String>,
    pub labels: Vec<String>,
}

impl Default for Values {
    fn default() -> Self {
        Values::new()
    }
}

impl Parsed {
    /// The table: sets aside a first column that counts the rows when `plan` says to look for
    /// one, and checks the values (finite, some rows and columns).
    pub fn finish(mut self, file: &str, mut plan: Plan) -> Result<Table> {
        let mut cols = plan.features();
        let mut ids = plan.roles.contains(&Role::Ids).then_some(self.ids);
        if plan.check_counter && self.rows >= 3 {
            if let Some(start) = counts_rows(&self.values, cols, self.rows) {
                ids = Some(self.values.column_text(0, cols));
                let mut keep = vec![true; cols];
                keep[0] = false;
                self.values.retain_columns(&keep);
                cols -= 1;
                plan.notes.push(format!(
                    "{file}: {} counts the rows ({start} to {}): read as row ids, not embedded (to embed it, list it with the other columns in --columns)",
                    plan.describe(0),
                    start + self.rows - 1
                ));
            }
        }
        let labels = plan.roles.contains(&Role::Labels).then_some(self.labels);
        if self.rows == 0 || cols == 0 {
            bail!("{file} holds no data");
        }
        let invalid = || format!("invalid data in {file}");
        let points = match self.values {
            Values::F32(mut d) => {
                d.shrink_to_fit();
                Points::F32(MatrixF32::new(self.rows, cols, d).with_context(invalid)?)
            }
            Values::F64(mut d) => {
                d.shrink_to_fit();
                Points::F64(Matrix::new(self.rows, cols, d).with_context(invalid)?)
            }
        };
        Ok(Table { points, ids, labels, notes: plan.notes })
    }
}

/// Whether column 0 of a row-major `rows x cols` matrix holds 0, 1, 2, ... or 1, 2, 3, ...:
/// the first value.
fn counts_rows(values: &Values, cols: usize, rows: usize) -> Option<usize> {
    let start = match values.get(0) {
        0.0 => 0,
        1.0 => 1,
        _ => return None,
    };
    (0..rows).all(|r| values.get(r * cols) == (r + start) as f64).then_some(start)
}

/// A table of an array (`.npy`, `.npz`, IDX): columns are named by number, and nothing is
/// recognised, only chosen by `spec`.
pub(super) fn from_array(file: &str, array: Array, spec: &TableSpec) -> Result<Table> {
    let plan = plan(file, None, array.cols, spec, false)?;
    let column = |role: Role| {
        plan.roles.iter().position(|&r| r == role).map(|c| array.values.column_text(c, array.cols))
    };
    let (ids, labels) = (column(Role::Ids).unwrap_or_default(), column(Role::Labels).unwrap_or_default());
    let keep: Vec<bool> = plan.roles.iter().map(|&r| r == Role::Feature).collect();
    let mut values = array.values;
    values.retain_columns(&keep);
    Parsed { rows: array.rows, values, ids, labels }.finish(file, plan)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{f32_values, npy, temp};
    use super::super::{read_table, read_table_from};
    use super::*;

    fn spec() -> TableSpec {
        TableSpec::default()
    }

    fn strings(v: &[&str]) -> Option<Vec<String>> {
        Some(v.iter().map(|s| s.to_string()).collect())
    }

    fn read(text: &str, spec: &TableSpec) -> Result<Table> {
        read_table_from(text.as_bytes(), "t.csv", spec)
    }

    /// `df.to_csv()` writes the index as a first column with an empty header field: it is
    /// the ids, and the points are those of the same file without it (`index=False`).
    #[test]
    fn a_pandas_index_column_is_the_ids_not_a_feature() {
        let plain = read("a,b\n1.5,2\n3,4\n5,6.25\n", &spec()).unwrap();
        for text in [",a,b\n0,1.5,2\n1,3,4\n2,5,6.25\n", "Unnamed: 0,a,b\nx,1.5,2\ny,3,4\nz,5,6.25\n"] {
            let t = read(text, &spec()).unwrap();
            assert_eq!(t.points, plain.points, "{text}");
            assert_eq!(t.notes.len(), 1, "{:?}", t.notes);
            assert!(t.notes[0].contains("read as row ids (pandas' index)"), "{:?}", t.notes);
        }
        assert_eq!(read(",a,b\n0,1.5,2\n1,3,4\n2,5,6.25\n", &spec()).unwrap().ids, strings(&["0", "1", "2"]));
        assert_eq!(plain.ids, None);
        assert!(plain.notes.is_empty());
        // R's write.table: the row-name column has no header field at all.
        let r = read("a,b\nr1,1.5,2\nr2,3,4\nr3,5,6.25\n", &spec()).unwrap();
        assert_eq!((r.points, r.ids), (plain.points, strings(&["r1", "r2", "r3"])));
    }

    /// A first column of 0..n-1 or 1..n is the ids (header or not), with a note saying how to
    /// embed it anyway; listed in `columns`, it is embedded.
    #[test]
    fn a_first_column_counting_the_rows_is_the_ids() {
        for (text, first) in [("0,5,6\n1,7,8\n2,9,9\n", "0"), ("n,x,y\n1,5,6\n2,7,8\n3,9,9\n", "1")] {
            let t = read(text, &spec()).unwrap();
            assert_eq!(f32_values(&t.points), [5.0, 6.0, 7.0, 8.0, 9.0, 9.0], "{text}");
            assert_eq!(t.ids.as_ref().unwrap()[0], first);
            assert!(
                t.notes[0].contains("counts the rows") && t.notes[0].contains("--columns"),
                "{:?}",
                t.notes
            );
        }
        let all = TableSpec { columns: Some(vec!["1".into(), "2".into(), "3".into()]), ..spec() };
        let t = read("0,5,6\n1,7,8\n2,9,9\n", &all).unwrap();
        assert_eq!((f32_values(&t.points).len(), t.ids, t.notes.len()), (9, None, 0));
        // Not counting (a gap), or the only column: embedded.
        for text in ["0,5\n1,7\n3,9\n", "0\n1\n2\n"] {
            let t = read(text, &spec()).unwrap();
            assert_eq!((t.ids, t.notes.len()), (None, 0), "{text}");
        }
    }

    /// A text column nobody chose is an error naming it and the three ways out; chosen as the
    /// ids, it is returned as the ids.
    #[test]
    fn a_text_column_must_be_given_a_role() {
        let text = "gene,x,y\nTP53,1,2\nBRCA1,3,4\nEGFR,5,6\n";
        let err = read(text, &spec()).unwrap_err().to_string();
        assert_eq!(
            err,
            "t.csv:2: column `gene` holds text (`TP53`), not numbers: use --id-column gene, --labels-column gene or --drop-columns gene"
        );
        let t = read(text, &TableSpec { id_column: Some("gene".into()), ..spec() }).unwrap();
        assert_eq!(t.ids, strings(&["TP53", "BRCA1", "EGFR"]));
        assert_eq!(f32_values(&t.points), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // Without header, the column is named by number.
        let err = read("TP53,1,2\nBRCA1,3,4\n", &spec()).unwrap_err().to_string();
        assert!(err.contains("column 1 holds text") && err.contains("--id-column 1,"), "{err}");
        let t = read("TP53,1,2\nBRCA1,3,4\n", &TableSpec { id_column: Some("1".into()), ..spec() }).unwrap();
        assert_eq!(t.ids, strings(&["TP53", "BRCA1"]));
        // A text column named like an identifier is the ids without asking.
        let t = read("name,x\na,1\nb,2\n", &spec()).unwrap();
        assert_eq!(t.ids, strings(&["a", "b"]));
        assert!(t.notes[0].contains("column `name` read as row ids (an identifier)"), "{:?}", t.notes);
    }

    /// The labels column leaves the features and comes back as the labels, quoted text
    /// included; a numeric column named like labels is embedded with a note.
    #[test]
    fn the_labels_column_is_removed_and_returned() {
        let text = "x,species,y\n1,setosa,2\n3,\"vir, ginica\",4\n5,setosa,6\n";
        let t = read(text, &TableSpec { labels_column: Some("species".into()), ..spec() }).unwrap();
        assert_eq!(t.labels, strings(&["setosa", "vir, ginica", "setosa"]));
        assert_eq!(f32_values(&t.points), [1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!((t.ids, t.notes.len()), (None, 0));
        let t = read("x,target\n1,0\n2,1\n4,1\n", &spec()).unwrap();
        assert_eq!(f32_values(&t.points), [1.0, 0.0, 2.0, 1.0, 4.0, 1.0]);
        assert_eq!(
            t.notes,
            ["t.csv: column `target` is embedded; if it holds labels, use --labels-column target"]
        );
    }

    /// `columns` keeps exactly the listed columns, `drop_columns` removes exactly the listed
    /// ones; an unknown name is an error listing the columns there are.
    #[test]
    fn columns_and_drop_columns_select_exactly() {
        let text = "a,b,c,d\n1,2,3,4\n5,6,7,8\n";
        let keep = TableSpec { columns: Some(vec!["d".into(), "b".into()]), ..spec() };
        assert_eq!(f32_values(&read(text, &keep).unwrap().points), [2.0, 4.0, 6.0, 8.0]);
        let drop = TableSpec { drop_columns: vec!["a".into(), "3".into()], ..spec() };
        assert_eq!(f32_values(&read(text, &drop).unwrap().points), [2.0, 4.0, 6.0, 8.0]);
        let wrong = TableSpec { drop_columns: vec!["e".into()], ..spec() };
        assert_eq!(
            read(text, &wrong).unwrap_err().to_string(),
            "t.csv has no column `e`; its columns are `a`, `b`, `c`, `d`"
        );
        let both = TableSpec { columns: Some(vec!["a".into()]), drop_columns: vec!["a".into()], ..spec() };
        assert!(read(text, &both).is_err());
        let none = TableSpec { drop_columns: vec!["a".into(), "b".into(), "c".into(), "d".into()], ..spec() };
        assert_eq!(read(text, &none).unwrap_err().to_string(), "t.csv: no column is left to embed");
        // The index of a pandas file is still the ids under --columns.
        let t = read(",a,b\n0,1,2\n1,3,4\n2,5,6\n", &TableSpec { columns: Some(vec!["a".into()]), ..spec() })
            .unwrap();
        assert_eq!((f32_values(&t.points), t.ids), (vec![1.0, 3.0, 5.0], strings(&["0", "1", "2"])));
        assert_eq!(t.notes, ["t.csv: column 1 (unnamed) read as row ids (pandas' index)"]);
        let headless = TableSpec { columns: Some(vec!["x".into()]), ..spec() };
        let err = read("1,2\n3,4\n", &headless).unwrap_err().to_string();
        assert_eq!(err, "t.csv has no column `x`: its columns are numbered 1 to 2 (no header)");
    }

    /// An array's columns are chosen by number; nothing is recognised in an array.
    #[test]
    fn array_columns_are_chosen_by_number() {
        let body: Vec<u8> = [0.0f32, 10.0, 20.0, 1.0, 11.0, 21.0, 2.0, 12.0, 22.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let p = temp("a.npy", &npy("(3, 3)", "<f4", &body));
        let t = read_table(&p, &spec()).unwrap();
        assert_eq!((f32_values(&t.points).len(), t.ids), (9, None));
        let s = TableSpec { id_column: Some("1".into()), labels_column: Some("3".into()), ..spec() };
        let t = read_table(&p, &s).unwrap();
        assert_eq!(f32_values(&t.points), [10.0, 11.0, 12.0]);
        assert_eq!((t.ids, t.labels), (strings(&["0", "1", "2"]), strings(&["20", "21", "22"])));
    }
}
