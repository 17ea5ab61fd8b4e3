//! [`Versioned`]: a catalog wrapper noting the version of every dataset a
//! query opens, before it reads it — what a cached answer or a
//! materialized view is valid for.

use super::{Catalog, Progress};
use crate::AnalyticsError;
use crate::value::Column;

/// A catalog that records the version of each dataset as it is first
/// opened: read before the data, so a dataset replaced mid-query is
/// recorded at its older version and the answer is never served for the
/// newer one.
pub struct Versioned<'c> {
    inner: &'c dyn Catalog,
    seen: std::cell::RefCell<std::collections::BTreeMap<String, u64>>,
}

impl<'c> Versioned<'c> {
    /// Wraps `inner`.
    pub fn new(inner: &'c dyn Catalog) -> Self {
        Self {
            inner,
            seen: Default::default(),
        }
    }

    /// Each dataset opened and its version; `None` if one had no version
    /// (the answer cannot be cached).
    pub fn versions(&self) -> Option<std::collections::BTreeMap<String, u64>> {
        let seen = self.seen.borrow();
        (!seen.values().any(|v| *v == u64::MAX)).then(|| seen.clone())
    }

    fn note(&self, dataset: &str) {
        let key = dataset.to_owned();
        if !self.seen.borrow().contains_key(&key) {
            let version = self.inner.version(dataset).unwrap_or(u64::MAX);
            self.seen.borrow_mut().insert(key, version);
        }
    }
}

impl Catalog for Versioned<'_> {
    fn columns(&self, dataset: &str) -> Result<(Vec<String>, u64), AnalyticsError> {
        self.note(dataset);
        self.inner.columns(dataset)
    }

    fn read(
        &self,
        dataset: &str,
        columns: &[String],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize), AnalyticsError> {
        self.note(dataset);
        self.inner.read(dataset, columns, progress)
    }

    fn read_pruned(
        &self,
        dataset: &str,
        columns: &[String],
        ranges: &[super::zone::Range],
        progress: &mut dyn Progress,
    ) -> Result<(Vec<Column>, usize, u64), AnalyticsError> {
        self.note(dataset);
        self.inner.read_pruned(dataset, columns, ranges, progress)
    }

    fn version(&self, dataset: &str) -> Option<u64> {
        self.inner.version(dataset)
    }

    fn functions(&self) -> Option<std::rc::Rc<dyn weft_sdk::Functions>> {
        self.inner.functions()
    }
}
