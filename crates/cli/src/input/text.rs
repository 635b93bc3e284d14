//! Delimited text (CSV, TSV, whitespace-separated), from a file or standard input, streamed
//! line by line into the values.

use std::borrow::Cow;
use std::io::BufRead;

use anyhow::{anyhow, bail, Context, Result};

use super::table::{self, Parsed, Plan, Role, Table, TableSpec};

/// The delimiter of a file whose first line is `line`: tab, `,` or `;` when it holds one
/// (in that order), else runs of whitespace (`None`).
pub(super) fn delimiter_of(line: &str) -> Option<char> {
    ['\t', ',', ';'].into_iter().find(|&d| line.contains(d))
}

/// The fields of `line`, trimmed. With a delimiter, a field that starts with `"` runs to the
/// closing `"` and may hold the delimiter; `""` inside it is one `"`.
pub(super) fn split_fields(line: &str, delimiter: Option<char>) -> Vec<Cow<'_, str>> {
    match delimiter {
        None => line.split_whitespace().map(Cow::Borrowed).collect(),
        Some(d) if !line.contains('"') => line.split(d).map(|f| Cow::Borrowed(f.trim())).collect(),
        Some(d) => split_quoted(line, d),
    }
}

/// [`split_fields`] of a line that holds a quote.
fn split_quoted(line: &str, d: char) -> Vec<Cow<'_, str>> {
    let mut out = Vec::new();
    let mut rest = line;
    loop {
        let Some(quoted) = rest.trim_start().strip_prefix('"') else {
            match rest.find(d) {
                Some(at) => {
                    out.push(Cow::Borrowed(rest[..at].trim()));
                    rest = &rest[at + d.len_utf8()..];
                    continue;
                }
                None => {
                    out.push(Cow::Borrowed(rest.trim()));
                    return out;
                }
            }
        };
        let mut field = String::new();
        let mut end = quoted.len();
        let mut chars = quoted.char_indices().peekable();
        while let Some((at, c)) = chars.next() {
            match c {
                '"' if chars.peek().is_some_and(|&(_, n)| n == '"') => {
                    field.push('"');
                    chars.next();
                }
                '"' => {
                    end = at + 1;
                    break;
                }
                c => field.push(c),
            }
        }
        let after = &quoted[end..];
        let cut = after.find(d);
        field.push_str(after[..cut.unwrap_or(after.len())].trim());
        out.push(Cow::Owned(field));
        match cut {
            Some(at) => rest = &after[at + d.len_utf8()..],
            None => return out,
        }
    }
}

/// Whether `field` reads as a number (`inf` and `nan` included: they are refused later).
fn is_number(field: &str) -> bool {
    field.parse::<f64>().is_ok()
}

/// Whether the first line (`first`) is a header, judged with the line after it: some field
/// is not a number where the next line has one, or no field is a number.
pub(super) fn is_header(first: &[Cow<str>], second: Option<&[Cow<str>]>) -> bool {
    if first.iter().all(|f| is_number(f)) {
        return false;
    }
    match second {
        None => true,
        Some(next) => {
            first.iter().all(|f| !is_number(f))
                || first.iter().zip(next).any(|(f, n)| !is_number(f) && is_number(n))
        }
    }
}

/// pandas' column names of an unnamed frame, `0,1,2,...` (three or more).
fn is_numbered_header(first: &[Cow<str>]) -> bool {
    first.len() >= 3 && first.iter().enumerate().all(|(c, f)| *f == c.to_string())
}

/// The lines of a file that hold data: not blank, not `#` comments; trimmed, with their
/// 1-based line numbers.
struct DataLines<'a, R> {
    lines: std::io::Lines<R>,
    no: usize,
    file: &'a str,
}

impl<R: BufRead> DataLines<'_, R> {
    fn next(&mut self) -> Result<Option<(usize, String)>> {
        for line in self.lines.by_ref() {
            self.no += 1;
            let line = line.with_context(|| format!("cannot read {}", self.file))?;
            let t = line.trim();
            if !t.is_empty() && !t.starts_with('#') {
                return Ok(Some((self.no, t.to_string())));
            }
        }
        Ok(None)
    }
}

/// Reads delimited text as a table (see [`TableSpec`]); ids are recognised only when `auto`.
/// The first line is a header when [`is_header`] says so, or when it is pandas' `0,1,2,...`
/// (with a note); a header one field short is R's (`write.table`), its first column the row
/// names. Values are converted as the lines stream in.
pub(super) fn read_table<R: BufRead>(reader: R, file: &str, spec: &TableSpec, auto: bool) -> Result<Table> {
    let mut lines = DataLines { lines: reader.lines(), no: 0, file };
    let Some((first_no, first)) = lines.next()? else { bail!("{file} is empty: no numeric rows") };
    let delimiter = delimiter_of(&first);
    let second = lines.next()?;
    let head = split_fields(&first, delimiter);
    let next = second.as_ref().map(|(no, line)| (*no, split_fields(line, delimiter)));
    let numbered = auto && is_numbered_header(&head);
    let names: Option<Vec<String>> =
        (numbered || is_header(&head, next.as_ref().map(|n| &n.1[..]))).then(|| {
            let mut names: Vec<String> = head.iter().map(|f| f.to_string()).collect();
            if next.as_ref().is_some_and(|(_, n)| n.len() == names.len() + 1) {
                names.insert(0, String::new());
            }
            names
        });
    let ncols = names.as_ref().map_or(head.len(), Vec::len);
    let mut plan = table::plan(file, names.as_deref(), ncols, spec, auto)?;
    if numbered {
        plan.notes
            .push(format!("{file}: the first line (0,1,2,...) is read as column names, not as a point"));
    }
    let mut parsed = Parsed::default();
    if names.is_none() {
        add_row(&mut parsed, &plan, &head, file, first_no)?;
    }
    if let Some((no, fields)) = &next {
        add_row(&mut parsed, &plan, fields, file, *no)?;
    }
    while let Some((no, line)) = lines.next()? {
        add_row(&mut parsed, &plan, &split_fields(&line, delimiter), file, no)?;
    }
    if parsed.rows == 0 {
        bail!("{file} is empty: no numeric rows");
    }
    parsed.finish(file, plan)
}

/// Reads delimited text whose first line is a header as named columns of text, every value
/// as written (trimmed, unquoted): a metadata table. A header one field short is R's, its
/// first column the row names (named ""). Fails for no header, no row, or a ragged row.
pub(super) fn read_columns<R: BufRead>(reader: R, file: &str) -> Result<Vec<(String, Vec<String>)>> {
    let mut lines = DataLines { lines: reader.lines(), no: 0, file };
    let Some((_, first)) = lines.next()? else { bail!("{file} is empty: expected a header and rows") };
    let delimiter = delimiter_of(&first);
    let head = split_fields(&first, delimiter);
    if head.iter().all(|f| is_number(f)) {
        bail!("{file}: the first line holds numbers, not column names: the table needs a header");
    }
    let mut names: Vec<String> = head.iter().map(|f| f.to_string()).collect();
    let mut columns: Vec<Vec<String>> = Vec::new();
    while let Some((no, line)) = lines.next()? {
        let fields = split_fields(&line, delimiter);
        if columns.is_empty() {
            if fields.len() == names.len() + 1 {
                names.insert(0, String::new());
            }
            columns = vec![Vec::new(); names.len()];
        }
        if fields.len() != names.len() {
            bail!("{file}:{no}: row has {} values, expected {} like the header", fields.len(), names.len());
        }
        columns.iter_mut().zip(&fields).for_each(|(c, f)| c.push(f.to_string()));
    }
    if columns.is_empty() {
        bail!("{file} holds a header but no rows");
    }
    Ok(names.into_iter().zip(columns).collect())
}

/// Adds one line's fields to the table, each as its column's role says.
fn add_row(t: &mut Parsed, plan: &Plan, fields: &[Cow<str>], file: &str, no: usize) -> Result<()> {
    if fields.len() != plan.roles.len() {
        bail!(
            "{file}:{no}: row has {} values, expected {} like the first row",
            fields.len(),
            plan.roles.len()
        );
    }
    for (c, (field, role)) in fields.iter().zip(&plan.roles).enumerate() {
        match role {
            Role::Feature => {
                let v = field.parse::<f64>().map_err(|_| not_a_number(plan, c, field, file, no))?;
                if !v.is_finite() {
                    bail!("{file}:{no}: non-finite value {v} in {}", plan.describe(c));
                }
                t.values.push(v);
            }
            Role::Ids => t.ids.push(field.to_string()),
            Role::Labels => t.labels.push(field.to_string()),
            Role::Drop => {}
        }
    }
    t.rows += 1;
    Ok(())
}

/// The error for `field` of column `c`, which is not a number: a missing value, or text.
fn not_a_number(plan: &Plan, c: usize, field: &str, file: &str, no: usize) -> anyhow::Error {
    let (column, flag) = (plan.describe(c), plan.flag_value(c));
    let missing = ["", "NA", "N/A", "n/a", "null", "NULL", "None", "?", "-"];
    if missing.contains(&field) {
        let shown = if field.is_empty() { String::new() } else { format!(" `{field}`") };
        anyhow!("{file}:{no}: missing value{shown} in {column}: fill it in, remove the row, or drop the column (--drop-columns {flag})")
    } else {
        anyhow!(
            "{file}:{no}: {column} holds text (`{field}`), not numbers: use --id-column {flag}, --labels-column {flag} or --drop-columns {flag}"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{f32_values, temp};
    use super::super::{read_points, read_table, read_table_from};
    use super::*;

    fn fields(line: &str) -> Vec<String> {
        split_fields(line, delimiter_of(line)).iter().map(|f| f.to_string()).collect()
    }

    /// Quoted fields may hold the delimiter and doubled quotes; unquoted ones are trimmed.
    #[test]
    fn quoted_fields_split_as_csv_writers_mean() {
        assert_eq!(fields(r#""a, b", 2 ,"say ""hi""",,"x""#), ["a, b", "2", r#"say "hi""#, "", "x"]);
        assert_eq!(fields("1\t\"2\"\t3"), ["1", "2", "3"]);
        assert_eq!(fields("1  2 3"), ["1", "2", "3"]);
    }

    /// Standard input is read by the same reader as files: the generic function gives the
    /// same table from any `Read` as from the file with the same bytes.
    #[test]
    fn any_reader_reads_like_a_file() {
        let text = b"id,x,y\nA,1,2\nB,3,4.5\n";
        let from_reader = read_table_from(&text[..], "standard input", &TableSpec::default()).unwrap();
        let from_file = read_table(&temp("s.csv", text), &TableSpec::default()).unwrap();
        assert_eq!(from_reader.points, from_file.points);
        assert_eq!(from_reader.ids, Some(vec!["A".to_string(), "B".to_string()]));
        assert!(from_reader.notes[0].starts_with("standard input: column `id`"), "{:?}", from_reader.notes);
        let err = read_table_from(&b"1,2\n3,x\n"[..], "standard input", &TableSpec::default()).unwrap_err();
        assert!(err.to_string().starts_with("standard input:2: column 2 holds text"), "{err}");
    }

    /// pandas' `to_csv(index=False)` of an unnamed frame writes `0,1,2,...` as the header:
    /// not a point. Files read as plain arrays (kNN files) keep it.
    #[test]
    fn a_numbered_header_is_not_a_point() {
        let t = read_table_from(&b"0,1,2\n5,6,7\n8,9,10\n"[..], "n.csv", &TableSpec::default()).unwrap();
        assert_eq!(f32_values(&t.points), [5.0, 6.0, 7.0, 8.0, 9.0, 10.0]);
        assert_eq!(t.notes, ["n.csv: the first line (0,1,2,...) is read as column names, not as a point"]);
        let plain = super::read_table(&b"0,1,2\n5,6,7\n"[..], "n.csv", &TableSpec::default(), false).unwrap();
        assert_eq!(f32_values(&plain.points), [0.0, 1.0, 2.0, 5.0, 6.0, 7.0]);
    }

    /// Errors name the line and the column; a missing value is called one.
    #[test]
    fn bad_values_are_named_by_line_and_column() {
        let p = temp("m.csv", b"a,b\n1,2\n3,NA\n");
        let err = read_points(&p).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}:3: missing value `NA` in column `b`: fill it in, remove the row, or drop the column (--drop-columns b)", p.display())
        );
        let p = temp("inf.csv", b"1,2\n3,inf\n");
        assert!(read_points(&p).unwrap_err().to_string().ends_with(":2: non-finite value inf in column 2"));
        let p = temp("ragged.csv", b"1,2,3\n4,5\n");
        assert!(read_points(&p)
            .unwrap_err()
            .to_string()
            .ends_with(":2: row has 2 values, expected 3 like the first row"));
    }
}
