//! Scalar functions (UDFs), both sides: a UDF plugin implements
//! [`ScalarPlugin`] and calls [`export_scalar_functions!`](crate::export_scalar_functions)
//! (world `weft:udf/scalar-plugin`); any engine calls the loaded ones
//! through [`Host::functions`](crate::Host::functions), which is how the
//! analytics engine's SQL resolves a name it does not know itself.
//!
//! Functions are vectorized: one [`ColumnChunk`] per argument in (up to
//! 65,536 rows), one chunk of the same length out. Natively,
//! [`NativeFunctions`] stands in for the host's set, for tests.
//!
//! A UDF plugin in full (compiled and run as a doctest):
//!
//! ```
//! use weft_sdk::{ColumnChunk, ColumnKind, ScalarPlugin, Signature, map_f64};
//!
//! pub struct Units;
//!
//! impl ScalarPlugin for Units {
//!     fn version() -> String {
//!         "1.0.0".into()
//!     }
//!
//!     fn functions() -> Vec<Signature> {
//!         vec![Signature::new("fahrenheit", "Celsius to Fahrenheit.", &[ColumnKind::F64], ColumnKind::F64)]
//!     }
//!
//!     fn call(name: &str, args: Vec<ColumnChunk>) -> Result<ColumnChunk, String> {
//!         match name {
//!             "fahrenheit" => map_f64(&args[0], |c| c * 9.0 / 5.0 + 32.0),
//!             other => Err(format!("no function {other}")),
//!         }
//!     }
//! }
//!
//! weft_sdk::export_scalar_functions!(Units);
//!
//! let out = Units::call("fahrenheit", vec![ColumnChunk::f64(vec![100.0])]).unwrap();
//! assert_eq!(out, ColumnChunk::f64(vec![212.0]));
//! ```

use std::fmt;
use std::rc::Rc;

use crate::storage::{ColumnChunk, ColumnKind, ColumnValues};

/// What one function takes and answers.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// The name SQL calls it by: lowercase letters, digits and `_`.
    pub name: String,
    /// One sentence.
    pub description: String,
    /// The type of each argument (at least one).
    pub params: Vec<ColumnKind>,
    /// The type of the answer.
    pub returns: ColumnKind,
}

impl Signature {
    /// A function `name(params…) -> returns`.
    ///
    /// ```
    /// use weft_sdk::{ColumnKind, Signature};
    /// let s = Signature::new("clamp01", "Clamps to [0, 1].", &[ColumnKind::F64], ColumnKind::F64);
    /// assert_eq!(s.params.len(), 1);
    /// ```
    pub fn new(name: &str, description: &str, params: &[ColumnKind], returns: ColumnKind) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            params: params.to_vec(),
            returns,
        }
    }
}

/// A function some loaded UDF plugin offers, as a caller sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct ScalarFunction {
    /// Name, params and result type.
    pub signature: Signature,
    /// The plugin that brings it.
    pub plugin: String,
    /// That plugin's active version.
    pub version: String,
}

/// The scalar functions a caller can reach.
pub trait Functions {
    /// Every function offered.
    fn list(&self) -> Vec<ScalarFunction>;
    /// Calls `name` on `args` (one chunk per param, all one length). The
    /// error is a message for the user: no such function, arguments that
    /// do not fit, or the function failing.
    fn call(&self, name: &str, args: &[ColumnChunk]) -> Result<ColumnChunk, String>;
}

type NativeFn = Rc<dyn Fn(&[ColumnChunk]) -> Result<ColumnChunk, String>>;

/// Functions implemented natively, standing in for the host's set in
/// tests of an engine that calls UDFs.
///
/// ```
/// use weft_sdk::{ColumnChunk, ColumnKind, Functions, NativeFunctions, Signature, map_f64};
/// let fns = NativeFunctions::default().with(
///     Signature::new("double", "Twice.", &[ColumnKind::F64], ColumnKind::F64),
///     |args| map_f64(&args[0], |x| 2.0 * x),
/// );
/// assert_eq!(fns.call("double", &[ColumnChunk::f64(vec![2.0])]), Ok(ColumnChunk::f64(vec![4.0])));
/// assert!(fns.call("triple", &[]).is_err());
/// ```
#[derive(Clone, Default)]
pub struct NativeFunctions {
    functions: Vec<(Signature, NativeFn)>,
}

impl fmt::Debug for NativeFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.functions.iter().map(|(s, _)| &s.name))
            .finish()
    }
}

impl NativeFunctions {
    /// Adds `signature`, computed by `body`.
    pub fn with(
        mut self,
        signature: Signature,
        body: impl Fn(&[ColumnChunk]) -> Result<ColumnChunk, String> + 'static,
    ) -> Self {
        self.functions.push((signature, Rc::new(body)));
        self
    }
}

impl Functions for NativeFunctions {
    fn list(&self) -> Vec<ScalarFunction> {
        self.functions
            .iter()
            .map(|(s, _)| ScalarFunction {
                signature: s.clone(),
                plugin: "native".into(),
                version: "0".into(),
            })
            .collect()
    }

    fn call(&self, name: &str, args: &[ColumnChunk]) -> Result<ColumnChunk, String> {
        let (signature, body) = self
            .functions
            .iter()
            .find(|(s, _)| s.name == name)
            .ok_or_else(|| format!("no function '{name}'"))?;
        if args.len() != signature.params.len() {
            return Err(format!(
                "{name}() takes {} arguments, not {}",
                signature.params.len(),
                args.len()
            ));
        }
        body(args)
    }
}

/// A UDF plugin: the functions it offers and how to compute them.
pub trait ScalarPlugin {
    /// Semver of this build.
    fn version() -> String;
    /// The functions offered.
    fn functions() -> Vec<Signature>;
    /// Computes `name` on `args`; the host has checked them against the
    /// signature (count, types, one length), and checks the answer.
    fn call(name: &str, args: Vec<ColumnChunk>) -> Result<ColumnChunk, String>;
}

/// Applies `f` to every value of a float64 chunk, keeping its nulls.
///
/// ```
/// use weft_sdk::{ColumnChunk, map_f64};
/// let out = map_f64(&ColumnChunk::f64(vec![1.0, 4.0]), f64::sqrt).unwrap();
/// assert_eq!(out, ColumnChunk::f64(vec![1.0, 2.0]));
/// assert!(map_f64(&ColumnChunk::text(vec!["a".into()]), f64::sqrt).is_err());
/// ```
pub fn map_f64(arg: &ColumnChunk, f: impl Fn(f64) -> f64) -> Result<ColumnChunk, String> {
    match &arg.values {
        ColumnValues::F64(values) => Ok(ColumnChunk {
            values: ColumnValues::F64(values.iter().map(|&x| f(x)).collect()),
            valid: arg.valid.clone(),
        }),
        _ => Err("expected a float64 column".into()),
    }
}
