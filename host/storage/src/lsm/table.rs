//! Sorted tables: the immutable files an LSM tree flushes and compacts.
//!
//! A table is a [`Segment`] of pages:
//! - data pages (slotted), records in key order:
//!   `varint key_len, key, tag, value` where tag 0 is a value stored inline,
//!   1 a deletion, 2 a value stored in raw overflow pages (`u32 first page,
//!   u32 length`);
//! - index pages (slotted): the first key of each data page and its number;
//! - bloom filter pages (raw);
//! - a footer page (slotted, one record) last, which names the others.
//!
//! All reads go through the buffer pool, so every page is verified.

use std::sync::Arc;

use crate::StorageError;
use crate::buffer_pool::BufferPool;
use crate::lsm::bloom::{self, Bloom};
use crate::page::{
    MAX_RECORD, Page, PageKind, raw_page_count, raw_pages, read_varint, write_varint,
};
use crate::segment::Segment;

/// Values longer than this go to overflow pages.
const INLINE_MAX: usize = 2048;
/// Keys longer than this are refused (a record must fit in a page).
pub const MAX_KEY: usize = 1024;
/// Flush the dirty pages of a table being built every this many pages, so a
/// big compaction writes in long vectored runs rather than by eviction.
const FLUSH_EVERY: u32 = 64;
const FOOTER_MAGIC: &[u8; 4] = b"WFTB";

const TAG_INLINE: u8 = 0;
const TAG_DELETE: u8 = 1;
const TAG_OVERFLOW: u8 = 2;

/// One key's latest state in a table: a value, or a deletion marker.
pub(crate) type Entry = (Vec<u8>, Option<Vec<u8>>);

/// Summary of a table, kept in memory.
#[derive(Clone, Debug)]
pub(crate) struct TableInfo {
    pub(crate) entries: u64,
    pub(crate) min_key: Vec<u8>,
    pub(crate) max_key: Vec<u8>,
    pub(crate) pages: u32,
}

/// An open, immutable table.
#[derive(Debug)]
pub(crate) struct Table {
    /// The table's number in the manifest (its file name).
    pub(crate) file: u64,
    pub(crate) segment: Arc<Segment>,
    pub(crate) info: TableInfo,
    index: Vec<(Vec<u8>, u32)>,
    bloom: Bloom,
}

fn corrupt(segment: &Segment, detail: impl Into<String>) -> StorageError {
    StorageError::Corrupt {
        what: "table",
        path: segment.path().to_owned(),
        detail: detail.into(),
    }
}

fn read_u32(bytes: &[u8], at: &mut usize) -> Option<u32> {
    let value = u32::from_le_bytes(bytes.get(*at..*at + 4)?.try_into().ok()?);
    *at += 4;
    Some(value)
}

fn read_bytes<'a>(bytes: &'a [u8], at: &mut usize) -> Result<&'a [u8], StorageError> {
    let len = read_varint(bytes, at)? as usize;
    let slice = bytes
        .get(*at..*at + len)
        .ok_or_else(|| StorageError::Invalid("truncated field".into()))?;
    *at += len;
    Ok(slice)
}

/// A record's key and the undecoded rest.
fn split_record(record: &[u8]) -> Result<(&[u8], &[u8]), StorageError> {
    let mut at = 0;
    let key = read_bytes(record, &mut at)?;
    Ok((key, &record[at..]))
}

/// Reads `len` bytes spread over raw pages from `first`.
fn read_raw(
    pool: &BufferPool,
    segment: &Arc<Segment>,
    first: u32,
    len: usize,
) -> Result<Vec<u8>, StorageError> {
    let mut out = Vec::with_capacity(len);
    for n in 0..raw_page_count(len) {
        let page = pool.get(segment, first + n)?;
        out.extend_from_slice(page.raw_payload());
    }
    if out.len() != len {
        return Err(corrupt(segment, "overflow value is shorter than recorded"));
    }
    Ok(out)
}

impl Table {
    /// Opens a sealed table: reads its footer, index and bloom filter.
    pub(crate) fn open(
        pool: &BufferPool,
        file: u64,
        segment: Arc<Segment>,
    ) -> Result<Self, StorageError> {
        let pages = segment.page_count();
        if pages == 0 {
            return Err(corrupt(&segment, "empty file"));
        }
        let footer = pool.get(&segment, pages - 1)?;
        let record = footer
            .record(0)
            .ok_or_else(|| corrupt(&segment, "footer has no record"))?;
        let bad = || corrupt(&segment, "footer is malformed");
        if record.get(..4) != Some(&FOOTER_MAGIC[..]) {
            return Err(bad());
        }
        let mut at = 4;
        let index_first = read_u32(record, &mut at).ok_or_else(bad)?;
        let index_pages = read_u32(record, &mut at).ok_or_else(bad)?;
        let bloom_first = read_u32(record, &mut at).ok_or_else(bad)?;
        let bloom_len = read_u32(record, &mut at).ok_or_else(bad)? as usize;
        let entries = read_varint(record, &mut at)?;
        let min_key = read_bytes(record, &mut at)?.to_vec();
        let max_key = read_bytes(record, &mut at)?.to_vec();

        let mut index = Vec::new();
        for n in index_first..index_first + index_pages {
            let page = pool.get(&segment, n)?;
            for record in page.records() {
                let (key, rest) = split_record(record)?;
                let mut at = 0;
                let number = read_u32(rest, &mut at).ok_or_else(bad)?;
                index.push((key.to_vec(), number));
            }
        }
        let bloom = Bloom::from_bytes(read_raw(pool, &segment, bloom_first, bloom_len)?);
        Ok(Self {
            file,
            info: TableInfo {
                entries,
                min_key,
                max_key,
                pages,
            },
            segment,
            index,
            bloom,
        })
    }

    /// Bytes on disk.
    pub(crate) fn bytes(&self) -> u64 {
        u64::from(self.info.pages) * crate::page::PAGE_SIZE as u64
    }

    /// Whether the table's key range meets `[min, max]`.
    pub(crate) fn overlaps(&self, min: &[u8], max: &[u8]) -> bool {
        self.info.min_key.as_slice() <= max && min <= self.info.max_key.as_slice()
    }

    /// The key's state in this table: `None` if absent, `Some(None)` if
    /// deleted here, `Some(Some(value))` if set.
    pub(crate) fn get(
        &self,
        pool: &BufferPool,
        key: &[u8],
    ) -> Result<Option<Option<Vec<u8>>>, StorageError> {
        if key < self.info.min_key.as_slice()
            || key > self.info.max_key.as_slice()
            || !self.bloom.may_contain(key)
        {
            return Ok(None);
        }
        let slot = self
            .index
            .partition_point(|(first, _)| first.as_slice() <= key);
        let Some(&(_, number)) = slot.checked_sub(1).and_then(|i| self.index.get(i)) else {
            return Ok(None);
        };
        let page = pool.get(&self.segment, number)?;
        let records: Vec<&[u8]> = page.records().collect();
        let mut low = 0;
        let mut high = records.len();
        while low < high {
            let mid = (low + high) / 2;
            let (mid_key, rest) = split_record(records[mid])?;
            match mid_key.cmp(key) {
                std::cmp::Ordering::Less => low = mid + 1,
                std::cmp::Ordering::Greater => high = mid,
                std::cmp::Ordering::Equal => return self.decode_value(pool, rest).map(Some),
            }
        }
        Ok(None)
    }

    fn decode_value(
        &self,
        pool: &BufferPool,
        rest: &[u8],
    ) -> Result<Option<Vec<u8>>, StorageError> {
        match rest.first() {
            Some(&TAG_INLINE) => Ok(Some(rest[1..].to_vec())),
            Some(&TAG_DELETE) => Ok(None),
            Some(&TAG_OVERFLOW) => {
                let mut at = 1;
                let bad = || corrupt(&self.segment, "bad overflow reference");
                let first = read_u32(rest, &mut at).ok_or_else(bad)?;
                let len = read_u32(rest, &mut at).ok_or_else(bad)? as usize;
                read_raw(pool, &self.segment, first, len).map(Some)
            }
            _ => Err(corrupt(&self.segment, "unknown record tag")),
        }
    }

    /// Every entry with key ≥ `start`, in key order, one data page at a
    /// time.
    pub(crate) fn iter_from(self: &Arc<Self>, pool: Arc<BufferPool>, start: &[u8]) -> TableIter {
        let first = self
            .index
            .partition_point(|(key, _)| key.as_slice() <= start)
            .saturating_sub(1);
        TableIter {
            table: self.clone(),
            pool,
            next_page: first,
            buffered: std::collections::VecDeque::new(),
            start: start.to_vec(),
        }
    }
}

/// Iterator over a table's entries.
pub(crate) struct TableIter {
    table: Arc<Table>,
    pool: Arc<BufferPool>,
    next_page: usize,
    buffered: std::collections::VecDeque<Entry>,
    start: Vec<u8>,
}

impl TableIter {
    fn fill(&mut self) -> Result<bool, StorageError> {
        let Some(&(_, number)) = self.table.index.get(self.next_page) else {
            return Ok(false);
        };
        self.next_page += 1;
        let page = self.pool.get(&self.table.segment, number)?;
        for record in page.records() {
            let (key, rest) = split_record(record)?;
            if key < self.start.as_slice() {
                continue;
            }
            let value = self.table.decode_value(&self.pool, rest)?;
            self.buffered.push_back((key.to_vec(), value));
        }
        Ok(true)
    }
}

impl Iterator for TableIter {
    type Item = Result<Entry, StorageError>;

    fn next(&mut self) -> Option<Self::Item> {
        while self.buffered.is_empty() {
            match self.fill() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(e) => {
                    // Stop after reporting: the rest of this table is
                    // unreachable through the damaged page's neighbours.
                    self.next_page = usize::MAX;
                    return Some(Err(e));
                }
            }
        }
        self.buffered.pop_front().map(Ok)
    }
}

/// Writes a table from entries given in strictly increasing key order.
pub(crate) struct TableBuilder<'a> {
    pool: &'a BufferPool,
    segment: Arc<Segment>,
    current: Page,
    current_first: Option<Vec<u8>>,
    next_page: u32,
    since_flush: u32,
    index: Vec<(Vec<u8>, u32)>,
    hashes: Vec<u64>,
    min_key: Option<Vec<u8>>,
    max_key: Vec<u8>,
    bytes: u64,
}

impl<'a> TableBuilder<'a> {
    pub(crate) fn new(pool: &'a BufferPool, segment: Arc<Segment>) -> Self {
        Self {
            pool,
            segment,
            current: Page::new(PageKind::Slotted, 0),
            current_first: None,
            next_page: 1,
            since_flush: 0,
            index: Vec::new(),
            hashes: Vec::new(),
            min_key: None,
            max_key: Vec::new(),
            bytes: 0,
        }
    }

    /// Approximate bytes added so far.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Entries added so far.
    pub(crate) fn entries(&self) -> usize {
        self.hashes.len()
    }

    fn put(&mut self, page: Page) -> Result<(), StorageError> {
        self.pool.put_new(&self.segment, page)?;
        self.since_flush += 1;
        if self.since_flush >= FLUSH_EVERY {
            self.pool.flush(&self.segment)?;
            self.since_flush = 0;
        }
        Ok(())
    }

    fn reserve(&mut self, pages: u32) -> u32 {
        let first = self.next_page;
        self.next_page += pages;
        first
    }

    /// Adds the next entry (keys strictly increasing).
    pub(crate) fn add(&mut self, key: &[u8], value: Option<&[u8]>) -> Result<(), StorageError> {
        let mut record =
            Vec::with_capacity(key.len() + 8 + value.map_or(0, <[u8]>::len).min(INLINE_MAX));
        write_varint(&mut record, key.len() as u64);
        record.extend_from_slice(key);
        match value {
            None => record.push(TAG_DELETE),
            Some(v) if v.len() <= INLINE_MAX => {
                record.push(TAG_INLINE);
                record.extend_from_slice(v);
            }
            Some(v) => {
                let first = self.reserve(raw_page_count(v.len()));
                for page in raw_pages(first, v) {
                    self.put(page)?;
                }
                record.push(TAG_OVERFLOW);
                record.extend_from_slice(&first.to_le_bytes());
                record.extend_from_slice(&(v.len() as u32).to_le_bytes());
            }
        }
        debug_assert!(record.len() <= MAX_RECORD);
        if !self.current.fits(record.len()) {
            self.seal_current()?;
        }
        if self.current_first.is_none() {
            self.current_first = Some(key.to_vec());
        }
        self.current.insert(&record);
        self.hashes.push(bloom::hash(key));
        if self.min_key.is_none() {
            self.min_key = Some(key.to_vec());
        }
        self.max_key = key.to_vec();
        self.bytes += (key.len() + value.map_or(0, <[u8]>::len)) as u64;
        Ok(())
    }

    fn seal_current(&mut self) -> Result<(), StorageError> {
        let Some(first) = self.current_first.take() else {
            return Ok(());
        };
        let number = self.current.number();
        let page = std::mem::replace(&mut self.current, Page::new(PageKind::Slotted, 0));
        self.put(page)?;
        self.index.push((first, number));
        let next = self.reserve(1);
        self.current = Page::new(PageKind::Slotted, next);
        Ok(())
    }

    /// Writes index, bloom filter and footer, flushes and seals the file.
    pub(crate) fn finish(mut self) -> Result<Arc<Segment>, StorageError> {
        self.seal_current()?;
        // The page reserved for the next data page stays unused only if the
        // table is empty; reuse its number for the index.
        self.next_page -= 1;
        let index_first = self.next_page;
        let mut page = Page::new(PageKind::Slotted, index_first);
        let mut index_pages = 1;
        let index = std::mem::take(&mut self.index);
        for (key, number) in &index {
            let mut record = Vec::with_capacity(key.len() + 6);
            write_varint(&mut record, key.len() as u64);
            record.extend_from_slice(key);
            record.extend_from_slice(&number.to_le_bytes());
            if !page.fits(record.len()) {
                let next = index_first + index_pages;
                index_pages += 1;
                self.put(std::mem::replace(
                    &mut page,
                    Page::new(PageKind::Slotted, next),
                ))?;
            }
            page.insert(&record);
        }
        self.put(page)?;
        self.next_page = index_first + index_pages;

        let mut bloom = Bloom::with_capacity(self.hashes.len());
        for &hash in &self.hashes {
            bloom.insert_hash(hash);
        }
        let bloom_first = self.reserve(raw_page_count(bloom.bytes().len()));
        for page in raw_pages(bloom_first, bloom.bytes()) {
            self.put(page)?;
        }

        let mut footer = FOOTER_MAGIC.to_vec();
        footer.extend_from_slice(&index_first.to_le_bytes());
        footer.extend_from_slice(&index_pages.to_le_bytes());
        footer.extend_from_slice(&bloom_first.to_le_bytes());
        footer.extend_from_slice(&(bloom.bytes().len() as u32).to_le_bytes());
        write_varint(&mut footer, self.hashes.len() as u64);
        let min_key = self.min_key.take().unwrap_or_default();
        for key in [&min_key, &self.max_key] {
            write_varint(&mut footer, key.len() as u64);
            footer.extend_from_slice(key);
        }
        let footer_number = self.reserve(1);
        let mut page = Page::new(PageKind::Slotted, footer_number);
        page.insert(&footer);
        self.put(page)?;
        self.pool.flush(&self.segment)?;
        self.segment.seal()?;
        Ok(self.segment)
    }
}
