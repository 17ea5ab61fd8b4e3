//! K-way merge of sorted entry streams where, for equal keys, the stream
//! listed first (the newest) wins.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::table::Entry;
use crate::StorageError;

type Source = Box<dyn Iterator<Item = Result<Entry, StorageError>> + Send>;

/// Merges `sources`, newest first; yields each key once.
pub(crate) struct Merge {
    sources: Vec<Source>,
    heap: BinaryHeap<Reverse<(Vec<u8>, usize)>>,
    heads: Vec<Option<Option<Vec<u8>>>>,
    failed: Option<StorageError>,
}

impl Merge {
    pub(crate) fn new(sources: Vec<Source>) -> Self {
        let mut merge = Self {
            heads: vec![None; sources.len()],
            sources,
            heap: BinaryHeap::new(),
            failed: None,
        };
        for i in 0..merge.sources.len() {
            merge.advance(i);
        }
        merge
    }

    fn advance(&mut self, i: usize) {
        match self.sources[i].next() {
            Some(Ok((key, value))) => {
                self.heads[i] = Some(value);
                self.heap.push(Reverse((key, i)));
            }
            Some(Err(e)) => self.failed = Some(e),
            None => self.heads[i] = None,
        }
    }
}

impl Iterator for Merge {
    type Item = Result<Entry, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        let Reverse((key, i)) = self.heap.pop()?;
        let value = self.heads[i].take().flatten();
        self.advance(i);
        // Older versions of the same key: skip them.
        while let Some(Reverse((next, _))) = self.heap.peek() {
            if *next != key {
                break;
            }
            let Some(Reverse((_, j))) = self.heap.pop() else {
                break;
            };
            self.heads[j] = None;
            self.advance(j);
        }
        if let Some(e) = self.failed.take() {
            return Some(Err(e));
        }
        Some(Ok((key, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(entries: &[(&str, Option<&str>)]) -> Source {
        let owned: Vec<Result<Entry, StorageError>> = entries
            .iter()
            .map(|(k, v)| Ok((k.as_bytes().to_vec(), v.map(|v| v.as_bytes().to_vec()))))
            .collect();
        Box::new(owned.into_iter())
    }

    #[test]
    fn newest_source_wins_and_keys_come_once_in_order() {
        let newest = source(&[("b", None), ("d", Some("new"))]);
        let oldest = source(&[("a", Some("1")), ("b", Some("2")), ("d", Some("old"))]);
        let merged: Vec<Entry> = Merge::new(vec![newest, oldest])
            .collect::<Result<_, _>>()
            .expect("no errors");
        assert_eq!(
            merged,
            vec![
                (b"a".to_vec(), Some(b"1".to_vec())),
                (b"b".to_vec(), None),
                (b"d".to_vec(), Some(b"new".to_vec())),
            ]
        );
    }
}
