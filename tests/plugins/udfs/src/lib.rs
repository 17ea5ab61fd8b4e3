//! A UDF plugin for the tests and the bench: vectorized scalar functions
//! that the analytics engine's SQL calls by name once this is loaded.
//! `fahrenheit` and `root` have built-in twins (an expression, `sqrt`) so
//! the bench can price a call; `slug` is text in, text out. The three
//! `bad_*` functions break the contract on purpose: the host must fail the
//! query that calls them and nothing else.

use weft_sdk::{ColumnChunk, ColumnKind, ColumnValues, ScalarPlugin, Signature, map_f64};

/// The plugin.
pub struct Udfs;

impl ScalarPlugin for Udfs {
    fn version() -> String {
        env!("CARGO_PKG_VERSION").into()
    }

    fn functions() -> Vec<Signature> {
        let f64_to_f64 = |name: &str, description: &str| {
            Signature::new(name, description, &[ColumnKind::F64], ColumnKind::F64)
        };
        vec![
            f64_to_f64(
                "fahrenheit",
                "Degrees Celsius to Fahrenheit: c * 9 / 5 + 32.",
            ),
            f64_to_f64(
                "root",
                "The square root (NaN below zero), as built-in sqrt.",
            ),
            Signature::new(
                "slug",
                "Lowercase ASCII letters and digits, other runs as one '-'.",
                &[ColumnKind::Text],
                ColumnKind::Text,
            ),
            f64_to_f64("bad_length", "Answers one value too few."),
            f64_to_f64("bad_type", "Answers text though it declares float64."),
            f64_to_f64("bad_panic", "Panics."),
        ]
    }

    fn call(name: &str, args: Vec<ColumnChunk>) -> Result<ColumnChunk, String> {
        let first = args.first().ok_or("no argument")?;
        match name {
            "fahrenheit" => map_f64(first, |c| c * 9.0 / 5.0 + 32.0),
            "root" => map_f64(first, f64::sqrt),
            "slug" => match &first.values {
                ColumnValues::Text(values) => Ok(ColumnChunk {
                    values: ColumnValues::Text(values.iter().map(|v| slug(v)).collect()),
                    valid: first.valid.clone(),
                }),
                _ => Err("slug takes text".into()),
            },
            "bad_length" => {
                let mut out = map_f64(first, |x| x)?;
                if let ColumnValues::F64(v) = &mut out.values {
                    v.pop();
                }
                out.valid.clear();
                Ok(out)
            }
            "bad_type" => Ok(ColumnChunk::text(vec![String::new(); first.values.len()])),
            "bad_panic" => panic!("bad_panic was called"),
            other => Err(format!("no function '{other}'")),
        }
    }
}

weft_sdk::export_scalar_functions!(Udfs);

/// `"Hello, World!"` → `"hello-world"`.
fn slug(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_and_degrees() {
        assert_eq!(slug("Hello, World!"), "hello-world");
        assert_eq!(slug("  --a  b--"), "a-b");
        let out = Udfs::call("fahrenheit", vec![ColumnChunk::f64(vec![0.0, 100.0])]);
        assert_eq!(out, Ok(ColumnChunk::f64(vec![32.0, 212.0])));
    }
}
