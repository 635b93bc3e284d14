//! Apache Parquet tables, read column by column with the `parquet` crate (no Arrow):
//! numeric columns (integers, floats, booleans) are features, text columns ids or labels.

use std::fs::File;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use parquet::basic::{ConvertedType, LogicalType, Type as Physical};
use parquet::column::reader::{ColumnReader, ColumnReaderImpl};
use parquet::data_type::DataType;
use parquet::errors::ParquetError;
use parquet::file::reader::{FileReader, RowGroupReader, SerializedFileReader};
use parquet::schema::types::ColumnDescriptor;

use super::table::{self, Parsed, Plan, Role};
use super::{Table, TableSpec};

/// What a column holds, as far as reading it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    /// Something else, named (`DATE`, `TIMESTAMP`, `lists`, ...).
    Other(String),
}

fn kind(c: &ColumnDescriptor) -> Kind {
    use ConvertedType as C;
    if c.max_rep_level() > 0 {
        return Kind::Other("lists".into());
    }
    let plain = matches!(
        c.logical_type_ref(),
        None | Some(LogicalType::Integer(_) | LogicalType::String | LogicalType::Enum | LogicalType::Json)
    );
    match (c.physical_type(), c.converted_type()) {
        _ if !plain => Kind::Other(logical_name(c.logical_type_ref())),
        (Physical::BOOLEAN | Physical::FLOAT | Physical::DOUBLE, C::NONE) => Kind::Number,
        (Physical::INT32 | Physical::INT64, C::NONE | C::INT_8 | C::INT_16 | C::INT_32 | C::INT_64) => {
            Kind::Number
        }
        (Physical::INT32 | Physical::INT64, C::UINT_8 | C::UINT_16 | C::UINT_32 | C::UINT_64) => Kind::Number,
        (Physical::BYTE_ARRAY, C::NONE | C::UTF8 | C::ENUM | C::JSON) => Kind::Text,
        (p, C::NONE) => Kind::Other(format!("{p:?}")),
        (_, t) => Kind::Other(format!("{t:?}")),
    }
}

/// `DATE`, `TIMESTAMP`, `DECIMAL`, ...: the first word of the logical type.
fn logical_name(logical: Option<&LogicalType>) -> String {
    let debug = format!("{logical:?}");
    let inner = debug.strip_prefix("Some(").unwrap_or(&debug);
    inner.split(|c: char| !c.is_alphanumeric()).next().unwrap_or("").to_uppercase()
}

/// Whether an integer column holds unsigned values (stored in the signed type's bits).
fn unsigned(c: &ColumnDescriptor) -> bool {
    matches!(c.converted_type(), ConvertedType::UINT_32 | ConvertedType::UINT_64)
        || matches!(c.logical_type_ref(), Some(LogicalType::Integer(t)) if !t.is_signed)
}

/// One line for a Parquet error; a codec this build lacks says how to save the file instead.
fn failed(file: &str, e: ParquetError) -> anyhow::Error {
    let text = e.to_string();
    match text.split_once("Disabled feature at compile time: ") {
        Some((_, codec)) => anyhow!(
            "{file} is compressed with {}, which this build does not read: save it with compression='snappy', 'gzip', 'lz4', 'brotli' or 'zstd'",
            codec.trim().to_uppercase()
        ),
        None => anyhow!("{file}: cannot read the Parquet data: {text}"),
    }
}

fn open(path: &Path, file: &str) -> Result<SerializedFileReader<File>> {
    let f = File::open(path).with_context(|| format!("cannot open {file}"))?;
    SerializedFileReader::new(f).map_err(|e| anyhow!("{file} is not a readable Parquet file: {e}"))
}

/// Reads a Parquet file as a table (see [`TableSpec`]): one row group at a time, its
/// embedded columns interleaved into rows, the others never decoded.
/// Ids are recognised only when `auto`.
pub(super) fn read_table(path: &Path, file: &str, spec: &TableSpec, auto: bool) -> Result<Table> {
    let reader = open(path, file)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let names: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
    let plan = table::plan(file, Some(&names), names.len(), spec, auto)?;
    for (c, (role, column)) in plan.roles.iter().zip(schema.columns()).enumerate() {
        let (name, flag) = (plan.describe(c), plan.flag_value(c));
        match (role, kind(column)) {
            (Role::Drop, _) | (Role::Feature, Kind::Number) | (Role::Ids | Role::Labels, Kind::Number | Kind::Text) => {}
            (Role::Feature, Kind::Text) => bail!(
                "{file}: {name} holds text, not numbers: use --id-column {flag}, --labels-column {flag} or --drop-columns {flag}"
            ),
            (_, Kind::Other(what)) => {
                bail!("{file}: {name} holds {what} values, which are not read: drop it (--drop-columns {flag})")
            }
        }
    }
    let mut parsed = Parsed::default();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| failed(file, e))?;
        read_group(&*group, file, &plan, &mut parsed)?;
    }
    parsed.finish(file, plan)
}

/// Adds the rows of one row group to `parsed`.
fn read_group(group: &dyn RowGroupReader, file: &str, plan: &Plan, parsed: &mut Parsed) -> Result<()> {
    let n = usize::try_from(group.metadata().num_rows())
        .map_err(|_| anyhow!("{file}: a row group has a negative size"))?;
    let mut features: Vec<Vec<f64>> = Vec::new();
    for (c, role) in plan.roles.iter().enumerate() {
        match role {
            Role::Feature => {
                let (values, nulls) = numbers(group, c, n, file)?;
                if let Some(r) = nulls {
                    let (name, flag) = (plan.describe(c), plan.flag_value(c));
                    bail!("{file}: {name} has a missing value in row {}: fill it in or drop the column (--drop-columns {flag})", parsed.rows + r);
                }
                features.push(values);
            }
            Role::Ids => parsed.ids.extend(texts(group, c, n, file)?),
            Role::Labels => parsed.labels.extend(texts(group, c, n, file)?),
            Role::Drop => {}
        }
    }
    for r in 0..n {
        features.iter().for_each(|f| parsed.values.push(f[r]));
    }
    parsed.rows += n;
    Ok(())
}

/// The `n` values of one column of a row group, non-null ones first, and the definition
/// levels when the column is nullable.
fn read_column<T: DataType>(
    mut r: ColumnReaderImpl<T>,
    n: usize,
) -> parquet::errors::Result<(Vec<T::T>, Vec<i16>)> {
    let (mut values, mut levels) = (Vec::new(), Vec::new());
    let mut records = 0;
    while records < n {
        let (got, _, _) = r.read_records(n - records, Some(&mut levels), None, &mut values)?;
        if got == 0 {
            break;
        }
        records += got;
    }
    if records != n {
        return Err(ParquetError::General(format!("{records} values for {n} rows")));
    }
    Ok((values, levels))
}

/// A numeric column of a row group as `f64`, and the first row (within the group) that is
/// null, if any.
fn numbers(group: &dyn RowGroupReader, c: usize, n: usize, file: &str) -> Result<(Vec<f64>, Option<usize>)> {
    let descr = group.metadata().column(c).column_descr();
    let (max, unsigned) = (descr.max_def_level(), unsigned(descr));
    let reader = group.get_column_reader(c).map_err(|e| failed(file, e))?;
    let read = |(v, l): (Vec<f64>, Vec<i16>)| (v, l.iter().take(n).position(|&d| d < max));
    let out = match reader {
        ColumnReader::BoolColumnReader(r) => {
            read_column(r, n).map(|(v, l)| (v.into_iter().map(|b| f64::from(u8::from(b))).collect(), l))
        }
        ColumnReader::Int32ColumnReader(r) => read_column(r, n).map(|(v, l)| {
            (v.into_iter().map(|x| if unsigned { f64::from(x as u32) } else { f64::from(x) }).collect(), l)
        }),
        ColumnReader::Int64ColumnReader(r) => read_column(r, n).map(|(v, l)| {
            (v.into_iter().map(|x| if unsigned { x as u64 as f64 } else { x as f64 }).collect(), l)
        }),
        ColumnReader::FloatColumnReader(r) => {
            read_column(r, n).map(|(v, l)| (v.into_iter().map(f64::from).collect(), l))
        }
        ColumnReader::DoubleColumnReader(r) => read_column(r, n),
        _ => bail!("{file}: column {} is not numeric", c + 1),
    };
    Ok(read(out.map_err(|e| failed(file, e))?))
}

/// A column of a row group as text (numbers written out, nulls empty).
fn texts(group: &dyn RowGroupReader, c: usize, n: usize, file: &str) -> Result<Vec<String>> {
    let descr = group.metadata().column(c).column_descr();
    let (max, unsigned) = (descr.max_def_level(), unsigned(descr));
    let reader = group.get_column_reader(c).map_err(|e| failed(file, e))?;
    fn text<T>(out: (Vec<T>, Vec<i16>), f: impl Fn(T) -> String) -> (Vec<String>, Vec<i16>) {
        (out.0.into_iter().map(f).collect(), out.1)
    }
    let out = match reader {
        ColumnReader::ByteArrayColumnReader(r) => {
            read_column(r, n).map(|o| text(o, |b| String::from_utf8_lossy(b.data()).into_owned()))
        }
        ColumnReader::BoolColumnReader(r) => read_column(r, n).map(|o| text(o, |b| b.to_string())),
        ColumnReader::Int32ColumnReader(r) => read_column(r, n)
            .map(|o| text(o, |x| if unsigned { (x as u32).to_string() } else { x.to_string() })),
        ColumnReader::Int64ColumnReader(r) => read_column(r, n)
            .map(|o| text(o, |x| if unsigned { (x as u64).to_string() } else { x.to_string() })),
        ColumnReader::FloatColumnReader(r) => read_column(r, n).map(|o| text(o, |x| x.to_string())),
        ColumnReader::DoubleColumnReader(r) => read_column(r, n).map(|o| text(o, |x| x.to_string())),
        _ => bail!("{file}: column {} holds neither text nor numbers", c + 1),
    };
    let (values, levels) = out.map_err(|e| failed(file, e))?;
    if max == 0 {
        return Ok(values);
    }
    let mut values = values.into_iter();
    Ok(levels
        .iter()
        .take(n)
        .map(|&d| if d == max { values.next().unwrap_or_default() } else { String::new() })
        .collect())
}

/// Reads every column of a Parquet file as text (numbers written out, nulls empty), named by
/// the schema: a metadata table. Fails for a column of another kind (dates, lists, ...).
pub(super) fn read_columns(path: &Path, file: &str) -> Result<Vec<(String, Vec<String>)>> {
    let reader = open(path, file)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let mut columns: Vec<(String, Vec<String>)> = Vec::new();
    for (c, column) in schema.columns().iter().enumerate() {
        let name = column.path().string();
        if let Kind::Other(what) = kind(column) {
            bail!(
                "{file}: column `{name}` holds {what} values, which are not read: save it as text or numbers"
            );
        }
        let mut values = Vec::new();
        for g in 0..reader.num_row_groups() {
            let group = reader.get_row_group(g).map_err(|e| failed(file, e))?;
            let n = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
            values.extend(texts(&*group, c, n, file)?);
        }
        columns.push((name, values));
    }
    Ok(columns)
}

/// Reads labels from a Parquet file: its one column that is not pandas' index or an id.
pub(super) fn read_labels(path: &Path, file: &str) -> Result<Vec<String>> {
    let reader = open(path, file)?;
    let schema = reader.metadata().file_metadata().schema_descr_ptr();
    let names: Vec<String> = schema.columns().iter().map(|c| c.path().string()).collect();
    let wanted: Vec<usize> = match names.len() {
        1 => vec![0],
        _ => (0..names.len())
            .filter(|&c| !table::is_index_name(&names[c]) && !table::is_id_name(&names[c]))
            .collect(),
    };
    let [c] = wanted[..] else {
        bail!(
            "{file} has {} columns: labels are read from a file of one column; take them from a column of the points table with --labels-column NAME",
            names.len()
        )
    };
    if let Kind::Other(what) = kind(&schema.columns()[c]) {
        bail!("{file}: column `{}` holds {what} values, which are not read as labels", names[c]);
    }
    let mut labels = Vec::new();
    for g in 0..reader.num_row_groups() {
        let group = reader.get_row_group(g).map_err(|e| failed(file, e))?;
        let n = usize::try_from(group.metadata().num_rows()).unwrap_or(0);
        labels.extend(texts(&*group, c, n, file)?);
    }
    Ok(labels)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{f32_values, temp};
    use super::super::{read_labels, read_table, Points};
    use super::*;
    use parquet::basic::{BrotliLevel, Compression, GzipLevel, ZstdLevel};
    use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int32Type, Int64Type};
    use parquet::file::properties::WriterProperties;
    use parquet::file::writer::SerializedFileWriter;
    use parquet::schema::parser::parse_message_type;
    use std::sync::Arc;

    /// One column's values for one row group, nulls as `None`.
    enum Col {
        I64(Vec<i64>),
        I32(Vec<i32>),
        F64(Vec<f64>),
        Bool(Vec<bool>),
        Text(Vec<Option<&'static str>>),
    }

    /// Writes a Parquet file of `schema` with the given row groups (each a list of columns
    /// in schema order), snappy-compressed.
    fn write(schema: &str, groups: &[Vec<Col>]) -> Vec<u8> {
        write_compressed(schema, groups, Compression::SNAPPY)
    }

    fn write_compressed(schema: &str, groups: &[Vec<Col>], compression: Compression) -> Vec<u8> {
        let schema = Arc::new(parse_message_type(schema).unwrap());
        let props = Arc::new(WriterProperties::builder().set_compression(compression).build());
        let mut out = Vec::new();
        let mut w = SerializedFileWriter::new(&mut out, schema, props).unwrap();
        for group in groups {
            let mut g = w.next_row_group().unwrap();
            for col in group {
                let mut c = g.next_column().unwrap().unwrap();
                match col {
                    Col::I64(v) => c.typed::<Int64Type>().write_batch(v, None, None),
                    Col::I32(v) => c.typed::<Int32Type>().write_batch(v, None, None),
                    Col::F64(v) => c.typed::<DoubleType>().write_batch(v, None, None),
                    Col::Bool(v) => c.typed::<BoolType>().write_batch(v, None, None),
                    Col::Text(v) => {
                        let present: Vec<ByteArray> =
                            v.iter().flatten().map(|s| ByteArray::from(*s)).collect();
                        let levels: Vec<i16> = v.iter().map(|s| i16::from(s.is_some())).collect();
                        c.typed::<ByteArrayType>().write_batch(&present, Some(&levels), None)
                    }
                }
                .unwrap();
                c.close().unwrap();
            }
            g.close().unwrap();
        }
        w.close().unwrap();
        out
    }

    const SCHEMA: &str = "message m {
        required int64 __index_level_0__;
        required binary name (UTF8);
        required double x;
        required int32 k;
        required boolean flag;
        optional binary species (UTF8);
    }";

    /// Two row groups of the frame pandas' `to_parquet()` writes for a non-default index.
    fn frame() -> Vec<u8> {
        let first = vec![
            Col::I64(vec![10, 11]),
            Col::Text(vec![Some("a"), Some("b")]),
            Col::F64(vec![0.5, 1.5]),
            Col::I32(vec![1, 2]),
            Col::Bool(vec![true, false]),
            Col::Text(vec![Some("s"), None]),
        ];
        let second = vec![
            Col::I64(vec![12]),
            Col::Text(vec![Some("c")]),
            Col::F64(vec![-2.0]),
            Col::I32(vec![3]),
            Col::Bool(vec![true]),
            Col::Text(vec![Some("t")]),
        ];
        write(SCHEMA, &[first, second])
    }

    /// Numeric columns are the points, row by row across row groups; pandas' index is the
    /// ids; a second identifier column is dropped; the labels column gives the labels.
    #[test]
    fn parquet_round_trip_with_numeric_and_text_columns() {
        let p = temp("f.parquet", &frame());
        let spec = TableSpec { labels_column: Some("species".into()), ..TableSpec::default() };
        let t = read_table(&p, &spec).unwrap();
        assert_eq!(f32_values(&t.points), [0.5, 1.0, 1.0, 1.5, 2.0, 0.0, -2.0, 3.0, 1.0]);
        assert!(matches!(&t.points, Points::F32(x) if x.cols() == 3));
        assert_eq!(t.ids.unwrap(), ["10", "11", "12"]);
        assert_eq!(t.labels.unwrap(), ["s", "", "t"]);
        assert_eq!(t.notes.len(), 2, "{:?}", t.notes);
        assert!(t.notes[1].contains("column `name` looks like an identifier: not embedded"), "{:?}", t.notes);
        // Without a role, the text column is an error naming it.
        let err = read_table(&p, &TableSpec::default()).unwrap_err().to_string();
        assert_eq!(
            err,
            format!("{}: column `species` holds text, not numbers: use --id-column species, --labels-column species or --drop-columns species", p.display())
        );
        // Chosen columns only; the names are the ids when asked.
        let spec = TableSpec {
            id_column: Some("name".into()),
            columns: Some(vec!["x".into()]),
            ..TableSpec::default()
        };
        let t = read_table(&p, &spec).unwrap();
        assert_eq!(
            (f32_values(&t.points), t.ids.unwrap()),
            (vec![0.5, 1.5, -2.0], vec!["a".to_string(), "b".into(), "c".into()])
        );
    }

    /// Every codec of the format but LZO reads: pyarrow's and pandas' default (snappy),
    /// polars' (zstd), and the others a writer offers.
    #[test]
    fn parquet_every_codec_reads() {
        let codecs = [
            Compression::UNCOMPRESSED,
            Compression::SNAPPY,
            Compression::GZIP(GzipLevel::default()),
            Compression::LZ4_RAW,
            Compression::BROTLI(BrotliLevel::default()),
            Compression::ZSTD(ZstdLevel::default()),
        ];
        let schema = "message m { required double x; required int32 k; }";
        for codec in codecs {
            let group =
                vec![Col::F64((0..300).map(|i| f64::from(i) * 0.25).collect()), Col::I32((0..300).collect())];
            let p = temp(
                &format!("{codec:?}.parquet").replace(['(', ')', ' '], "_"),
                &write_compressed(schema, &[group], codec),
            );
            let t = read_table(&p, &TableSpec::default()).unwrap_or_else(|e| panic!("{codec:?}: {e}"));
            let values = f32_values(&t.points);
            assert_eq!(values.len(), 600, "{codec:?}");
            assert_eq!((values[2 * 299], values[2 * 299 + 1]), (74.75, 299.0), "{codec:?}");
        }
    }

    /// A null among the features is an error naming the row; a labels file of one column
    /// reads as its values.
    #[test]
    fn parquet_nulls_and_labels() {
        let bytes = write("message m { required double x; }", &[vec![Col::F64(vec![])]]);
        assert!(read_table(&temp("empty.parquet", &bytes), &TableSpec::default())
            .unwrap_err()
            .to_string()
            .contains("holds no data"));
        let schema = "message m { optional binary y (UTF8); }";
        let p = temp("y.parquet", &write(schema, &[vec![Col::Text(vec![Some("cat"), Some("dog")])]]));
        assert_eq!(read_labels(&p).unwrap(), ["cat", "dog"]);
        let schema = "message m { optional int64 x; required int64 y; }";
        let mut out = Vec::new();
        {
            let schema = Arc::new(parse_message_type(schema).unwrap());
            let mut w =
                SerializedFileWriter::new(&mut out, schema, Arc::new(WriterProperties::default())).unwrap();
            let mut g = w.next_row_group().unwrap();
            let mut c = g.next_column().unwrap().unwrap();
            c.typed::<Int64Type>().write_batch(&[1, 2], Some(&[1, 0, 1]), None).unwrap();
            c.close().unwrap();
            let mut c = g.next_column().unwrap().unwrap();
            c.typed::<Int64Type>().write_batch(&[4, 5, 6], None, None).unwrap();
            c.close().unwrap();
            g.close().unwrap();
            w.close().unwrap();
        }
        let p = temp("null.parquet", &out);
        let err = read_table(&p, &TableSpec::default()).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "column `x` has a missing value in row 1: fill it in or drop the column (--drop-columns x)"
            ),
            "{err}"
        );
        let t =
            read_table(&p, &TableSpec { drop_columns: vec!["x".into()], ..TableSpec::default() }).unwrap();
        assert_eq!(f32_values(&t.points), [4.0, 5.0, 6.0]);
    }
}
