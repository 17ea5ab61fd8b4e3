//! Values as the executor holds them: typed columns with nulls
//! ([`Column`]), one value at a time ([`Datum`]) where rows are compared,
//! hashed or built one by one, and the JSON and text forms of both. It
//! knows nothing of SQL syntax or of host storage.

use std::cmp::Ordering;
use std::hash::{Hash, Hasher};
use std::rc::Rc;

use weft_sdk::{ColumnChunk, ColumnValues, Value};

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataType {
    /// 64-bit integers.
    Int,
    /// 64-bit floats.
    Float,
    /// Booleans.
    Bool,
    /// Text.
    Text,
    /// Microseconds since the Unix epoch, UTC.
    Timestamp,
    /// Only nulls, type unknown (a `NULL` literal).
    Null,
}

impl DataType {
    /// The name `EXPLAIN` and answers show.
    pub fn name(self) -> &'static str {
        match self {
            Self::Int => "BIGINT",
            Self::Float => "DOUBLE",
            Self::Bool => "BOOLEAN",
            Self::Text => "VARCHAR",
            Self::Timestamp => "TIMESTAMP",
            Self::Null => "NULL",
        }
    }

    /// Whether values of this type are numbers.
    pub fn is_numeric(self) -> bool {
        matches!(self, Self::Int | Self::Float)
    }
}

/// One value.
#[derive(Clone, Debug)]
pub enum Datum {
    /// SQL NULL.
    Null,
    /// An integer.
    Int(i64),
    /// A float.
    Float(f64),
    /// A boolean.
    Bool(bool),
    /// Text.
    Text(Rc<str>),
    /// Microseconds since the Unix epoch.
    Timestamp(i64),
}

impl Datum {
    /// Whether it is NULL.
    pub fn is_null(&self) -> bool {
        matches!(self, Self::Null)
    }

    /// The value as a float, for numbers.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Self::Int(v) => Some(*v as f64),
            Self::Float(v) => Some(*v),
            _ => None,
        }
    }

    /// Its type.
    pub fn data_type(&self) -> DataType {
        match self {
            Self::Null => DataType::Null,
            Self::Int(_) => DataType::Int,
            Self::Float(_) => DataType::Float,
            Self::Bool(_) => DataType::Bool,
            Self::Text(_) => DataType::Text,
            Self::Timestamp(_) => DataType::Timestamp,
        }
    }

    /// The value in an answer: timestamps as RFC 3339 text, non-finite
    /// floats as null (JSON has no NaN).
    pub fn to_json(&self) -> Value {
        match self {
            Self::Null => Value::Null,
            Self::Int(v) => Value::from(*v),
            Self::Float(v) if v.is_finite() => Value::from(*v),
            Self::Float(_) => Value::Null,
            Self::Bool(v) => Value::from(*v),
            Self::Text(v) => Value::from(v.as_ref()),
            Self::Timestamp(v) => Value::from(format_timestamp(*v)),
        }
    }

    /// The value as `EXPLAIN` and messages print it.
    pub fn render(&self) -> String {
        match self {
            Self::Null => "NULL".into(),
            Self::Int(v) => v.to_string(),
            Self::Float(v) => v.to_string(),
            Self::Bool(v) => v.to_string(),
            Self::Text(v) => format!("'{v}'"),
            Self::Timestamp(v) => format!("TIMESTAMP '{}'", format_timestamp(*v)),
        }
    }
}

/// The order SQL sorts by, for two non-null values; numbers compare
/// across integer and float, and values of unrelated types by type.
pub fn compare(a: &Datum, b: &Datum) -> Ordering {
    use Datum as D;
    match (a, b) {
        (D::Int(x), D::Int(y)) | (D::Timestamp(x), D::Timestamp(y)) => x.cmp(y),
        (D::Float(x), D::Float(y)) => x.total_cmp(y),
        (D::Int(x), D::Float(y)) => (*x as f64).total_cmp(y),
        (D::Float(x), D::Int(y)) => x.total_cmp(&(*y as f64)),
        (D::Bool(x), D::Bool(y)) => x.cmp(y),
        (D::Text(x), D::Text(y)) => x.cmp(y),
        (D::Null, D::Null) => Ordering::Equal,
        (D::Null, _) => Ordering::Greater,
        (_, D::Null) => Ordering::Less,
        _ => rank(a).cmp(&rank(b)),
    }
}

fn rank(d: &Datum) -> u8 {
    match d {
        Datum::Bool(_) => 0,
        Datum::Int(_) | Datum::Float(_) => 1,
        Datum::Timestamp(_) => 2,
        Datum::Text(_) => 3,
        Datum::Null => 4,
    }
}

/// Equality for grouping, DISTINCT and join keys: NULLs group together
/// (join probes skip them first), 1 and 1.0 are one key.
impl PartialEq for Datum {
    fn eq(&self, other: &Self) -> bool {
        compare(self, other) == Ordering::Equal && rank(self) == rank(other)
    }
}

impl Eq for Datum {}

impl Hash for Datum {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Self::Null => 0u8.hash(state),
            Self::Bool(v) => v.hash(state),
            Self::Int(v) => hash_number(*v as f64, Some(*v), state),
            Self::Float(v) => hash_number(*v, None, state),
            Self::Text(v) => v.hash(state),
            Self::Timestamp(v) => (2u8, v).hash(state),
        }
    }
}

fn hash_number<H: Hasher>(value: f64, int: Option<i64>, state: &mut H) {
    // An integer-valued float must hash as the integer it equals.
    match int {
        Some(i) => i.hash(state),
        None if value.fract() == 0.0 && value.abs() < 9.0e15 => (value as i64).hash(state),
        None if value == 0.0 => 0i64.hash(state),
        None => value.to_bits().hash(state),
    }
}

/// A typed column; `None` is NULL.
#[derive(Clone, Debug)]
pub enum Column {
    /// Integers.
    Int(Vec<Option<i64>>),
    /// Floats.
    Float(Vec<Option<f64>>),
    /// Booleans.
    Bool(Vec<Option<bool>>),
    /// Text.
    Text(Vec<Option<Rc<str>>>),
    /// Timestamps (microseconds).
    Timestamp(Vec<Option<i64>>),
    /// `len` nulls of no type.
    Null(usize),
}

impl Column {
    /// Rows held.
    pub fn len(&self) -> usize {
        match self {
            Self::Int(v) | Self::Timestamp(v) => v.len(),
            Self::Float(v) => v.len(),
            Self::Bool(v) => v.len(),
            Self::Text(v) => v.len(),
            Self::Null(n) => *n,
        }
    }

    /// Whether it holds no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its type.
    pub fn data_type(&self) -> DataType {
        match self {
            Self::Int(_) => DataType::Int,
            Self::Float(_) => DataType::Float,
            Self::Bool(_) => DataType::Bool,
            Self::Text(_) => DataType::Text,
            Self::Timestamp(_) => DataType::Timestamp,
            Self::Null(_) => DataType::Null,
        }
    }

    /// An empty column of `data_type`.
    pub fn empty(data_type: DataType) -> Self {
        match data_type {
            DataType::Int => Self::Int(Vec::new()),
            DataType::Float => Self::Float(Vec::new()),
            DataType::Bool => Self::Bool(Vec::new()),
            DataType::Text => Self::Text(Vec::new()),
            DataType::Timestamp => Self::Timestamp(Vec::new()),
            DataType::Null => Self::Null(0),
        }
    }

    /// Row `i` (which must exist).
    pub fn get(&self, i: usize) -> Datum {
        match self {
            Self::Int(v) => v[i].map_or(Datum::Null, Datum::Int),
            Self::Float(v) => v[i].map_or(Datum::Null, Datum::Float),
            Self::Bool(v) => v[i].map_or(Datum::Null, Datum::Bool),
            Self::Text(v) => v[i].clone().map_or(Datum::Null, Datum::Text),
            Self::Timestamp(v) => v[i].map_or(Datum::Null, Datum::Timestamp),
            Self::Null(_) => Datum::Null,
        }
    }

    /// Whether row `i` is NULL.
    pub fn is_null(&self, i: usize) -> bool {
        match self {
            Self::Int(v) | Self::Timestamp(v) => v[i].is_none(),
            Self::Float(v) => v[i].is_none(),
            Self::Bool(v) => v[i].is_none(),
            Self::Text(v) => v[i].is_none(),
            Self::Null(_) => true,
        }
    }

    /// The rows at `indices`, in that order.
    pub fn gather(&self, indices: &[usize]) -> Self {
        match self {
            Self::Int(v) => Self::Int(indices.iter().map(|&i| v[i]).collect()),
            Self::Timestamp(v) => Self::Timestamp(indices.iter().map(|&i| v[i]).collect()),
            Self::Float(v) => Self::Float(indices.iter().map(|&i| v[i]).collect()),
            Self::Bool(v) => Self::Bool(indices.iter().map(|&i| v[i]).collect()),
            Self::Text(v) => Self::Text(indices.iter().map(|&i| v[i].clone()).collect()),
            Self::Null(_) => Self::Null(indices.len()),
        }
    }

    /// The rows at `indices`, NULL where an index is `None` (the
    /// unmatched side of an outer join).
    pub fn gather_optional(&self, indices: &[Option<usize>]) -> Self {
        fn pick<T: Clone>(v: &[Option<T>], indices: &[Option<usize>]) -> Vec<Option<T>> {
            indices
                .iter()
                .map(|i| i.and_then(|i| v[i].clone()))
                .collect()
        }
        match self {
            Self::Int(v) => Self::Int(pick(v, indices)),
            Self::Timestamp(v) => Self::Timestamp(pick(v, indices)),
            Self::Float(v) => Self::Float(pick(v, indices)),
            Self::Bool(v) => Self::Bool(pick(v, indices)),
            Self::Text(v) => Self::Text(pick(v, indices)),
            Self::Null(_) => Self::Null(indices.len()),
        }
    }

    /// The rows where `keep` is true.
    pub fn filter(&self, keep: &[bool]) -> Self {
        let indices: Vec<usize> = keep
            .iter()
            .enumerate()
            .filter_map(|(i, &k)| k.then_some(i))
            .collect();
        self.gather(&indices)
    }

    /// Appends `other`'s rows; types must agree (integers widen to floats
    /// and a column of nulls takes the other's type).
    pub fn append(&mut self, other: Column) {
        let merged = match (std::mem::replace(self, Self::Null(0)), other) {
            (Self::Int(mut a), Self::Int(b)) => {
                a.extend(b);
                Self::Int(a)
            }
            (Self::Timestamp(mut a), Self::Timestamp(b)) => {
                a.extend(b);
                Self::Timestamp(a)
            }
            (Self::Float(mut a), Self::Float(b)) => {
                a.extend(b);
                Self::Float(a)
            }
            (Self::Bool(mut a), Self::Bool(b)) => {
                a.extend(b);
                Self::Bool(a)
            }
            (Self::Text(mut a), Self::Text(b)) => {
                a.extend(b);
                Self::Text(a)
            }
            (Self::Null(a), Self::Null(b)) => Self::Null(a + b),
            (a, b) => {
                let mut datums: Vec<Datum> = (0..a.len()).map(|i| a.get(i)).collect();
                datums.extend((0..b.len()).map(|i| b.get(i)));
                Self::from_datums(&datums)
            }
        };
        *self = merged;
    }

    /// A column of `len` copies of `value`.
    pub fn repeat(value: &Datum, len: usize) -> Self {
        match value {
            Datum::Null => Self::Null(len),
            Datum::Int(v) => Self::Int(vec![Some(*v); len]),
            Datum::Float(v) => Self::Float(vec![Some(*v); len]),
            Datum::Bool(v) => Self::Bool(vec![Some(*v); len]),
            Datum::Text(v) => Self::Text(vec![Some(v.clone()); len]),
            Datum::Timestamp(v) => Self::Timestamp(vec![Some(*v); len]),
        }
    }

    /// A column from values, typed by the first non-null one (integers
    /// and floats together make floats; other mixtures become text).
    pub fn from_datums(values: &[Datum]) -> Self {
        let mut kind = DataType::Null;
        for v in values {
            kind = match (kind, v.data_type()) {
                (k, DataType::Null) => k,
                (DataType::Null, t) => t,
                (k, t) if k == t => k,
                (DataType::Int, DataType::Float) | (DataType::Float, DataType::Int) => {
                    DataType::Float
                }
                _ => DataType::Text,
            };
        }
        Self::from_datums_as(values, kind)
    }

    /// A column of `kind` from values (converted where they differ).
    pub fn from_datums_as(values: &[Datum], kind: DataType) -> Self {
        match kind {
            DataType::Null => Self::Null(values.len()),
            DataType::Int => Self::Int(
                values
                    .iter()
                    .map(|v| match v {
                        Datum::Int(x) => Some(*x),
                        _ => None,
                    })
                    .collect(),
            ),
            DataType::Float => Self::Float(values.iter().map(Datum::as_f64).collect()),
            DataType::Bool => Self::Bool(
                values
                    .iter()
                    .map(|v| match v {
                        Datum::Bool(x) => Some(*x),
                        _ => None,
                    })
                    .collect(),
            ),
            DataType::Timestamp => Self::Timestamp(
                values
                    .iter()
                    .map(|v| match v {
                        Datum::Timestamp(x) => Some(*x),
                        _ => None,
                    })
                    .collect(),
            ),
            DataType::Text => Self::Text(
                values
                    .iter()
                    .map(|v| match v {
                        Datum::Null => None,
                        Datum::Text(t) => Some(t.clone()),
                        other => Some(Rc::from(other.render().trim_matches('\''))),
                    })
                    .collect(),
            ),
        }
    }

    /// A host storage chunk as a column (byte strings become hex text).
    pub fn from_chunk(chunk: ColumnChunk) -> Self {
        let valid = |i: usize| chunk.valid.is_empty() || chunk.valid[i];
        match chunk.values {
            ColumnValues::I64(v) => Self::Int(
                v.into_iter()
                    .enumerate()
                    .map(|(i, x)| valid(i).then_some(x))
                    .collect(),
            ),
            ColumnValues::Timestamp(v) => Self::Timestamp(
                v.into_iter()
                    .enumerate()
                    .map(|(i, x)| valid(i).then_some(x))
                    .collect(),
            ),
            ColumnValues::F64(v) => Self::Float(
                v.into_iter()
                    .enumerate()
                    .map(|(i, x)| valid(i).then_some(x))
                    .collect(),
            ),
            ColumnValues::Bool(v) => Self::Bool(
                v.into_iter()
                    .enumerate()
                    .map(|(i, x)| valid(i).then_some(x))
                    .collect(),
            ),
            ColumnValues::Text(v) => Self::Text(
                v.into_iter()
                    .enumerate()
                    .map(|(i, x)| valid(i).then(|| Rc::from(x)))
                    .collect(),
            ),
            ColumnValues::Binary(v) => Self::Text(
                v.into_iter()
                    .enumerate()
                    .map(|(i, x)| valid(i).then(|| Rc::from(hex(&x))))
                    .collect(),
            ),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

/// RFC 3339 in UTC, with the fraction only when there is one
/// (`2024-03-01T12:00:00Z`, `2024-03-01T12:00:00.250000Z`).
pub fn format_timestamp(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rest = micros.rem_euclid(MICROS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let secs = rest / 1_000_000;
    let frac = rest % 1_000_000;
    let base = format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    );
    if frac == 0 {
        format!("{base}Z")
    } else {
        format!("{base}.{frac:06}Z")
    }
}

/// Reads `YYYY-MM-DD`, optionally followed by `T` or a space,
/// `HH:MM[:SS[.ffffff]]` and `Z` or `±HH:MM`, as microseconds.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = match text.find(['T', ' ']) {
        Some(at) => (&text[..at], Some(text[at + 1..].trim())),
        None => (text, None),
    };
    let mut parts = date.splitn(3, '-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut micros = days_from_civil(y, m, d) * MICROS_PER_DAY;
    if let Some(time) = time.filter(|t| !t.is_empty()) {
        let (clock, offset) = split_offset(time)?;
        let mut fields = clock.splitn(3, ':');
        let h: i64 = fields.next()?.parse().ok()?;
        let min: i64 = fields.next()?.parse().ok()?;
        let (s, frac) = match fields.next() {
            Some(sec) => match sec.split_once('.') {
                Some((s, f)) => {
                    let digits: String = f.chars().chain("000000".chars()).take(6).collect();
                    (s.parse::<i64>().ok()?, digits.parse::<i64>().ok()?)
                }
                None => (sec.parse().ok()?, 0),
            },
            None => (0, 0),
        };
        if h > 23 || min > 59 || s > 60 {
            return None;
        }
        micros += ((h * 60 + min) * 60 + s) * 1_000_000 + frac - offset * 60_000_000;
    }
    Some(micros)
}

/// Splits a trailing `Z` or `±HH:MM` off a clock time; the offset in minutes.
fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix(['Z', 'z']) {
        return Some((clock, 0));
    }
    if let Some(at) = time.rfind(['+', '-']) {
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (h, m) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
        return Some((
            clock,
            sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?),
        ));
    }
    Some((time, 0))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]).
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The microseconds of a timestamp split into its calendar fields.
pub fn timestamp_fields(micros: i64) -> (i64, u32, u32, i64, i64, i64) {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rest = micros.rem_euclid(MICROS_PER_DAY) / 1_000_000;
    let (y, m, d) = civil_from_days(days);
    (y, m, d, rest / 3600, rest / 60 % 60, rest % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_text() {
        for text in [
            "1970-01-01T00:00:00Z",
            "2024-02-29T23:59:59Z",
            "1969-12-31T23:59:59.500000Z",
            "2000-03-01T00:00:00.000001Z",
        ] {
            let micros = parse_timestamp(text).expect(text);
            assert_eq!(format_timestamp(micros), text);
        }
        assert_eq!(
            parse_timestamp("2024-01-02"),
            parse_timestamp("2024-01-02 00:00:00")
        );
        assert_eq!(
            parse_timestamp("2024-01-02T01:00:00+01:00"),
            parse_timestamp("2024-01-02T00:00:00Z")
        );
        assert_eq!(parse_timestamp("2024-13-01"), None);
        assert_eq!(parse_timestamp("soon"), None);
    }

    #[test]
    fn integers_and_floats_are_one_key_and_compare_across() {
        use std::collections::HashSet;
        let set: HashSet<Datum> = [Datum::Int(2), Datum::Float(2.0)].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert_eq!(compare(&Datum::Int(1), &Datum::Float(1.5)), Ordering::Less);
        assert_eq!(compare(&Datum::Null, &Datum::Int(1)), Ordering::Greater);
    }

    #[test]
    fn appending_widens_integers_and_fills_null_columns() {
        let mut c = Column::Null(1);
        c.append(Column::Int(vec![Some(3)]));
        assert_eq!(c.data_type(), DataType::Int);
        c.append(Column::Float(vec![Some(0.5)]));
        assert_eq!(c.data_type(), DataType::Float);
        assert_eq!(c.len(), 3);
        assert!(c.is_null(0));
    }
}
