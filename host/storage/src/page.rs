//! The page: the unit of I/O, caching and checksumming.
//!
//! Every page is [`PAGE_SIZE`] bytes and starts with a 32-byte header:
//!
//! | bytes  | field                                            |
//! |--------|--------------------------------------------------|
//! | 0..4   | CRC-32 of bytes 4..PAGE_SIZE                     |
//! | 4..6   | magic `WF`                                       |
//! | 6      | kind (slotted, raw)                              |
//! | 8..12  | page number (catches pages written to the wrong place) |
//! | 12..14 | slot count (slotted pages)                       |
//! | 14..16 | end of the slot directory                        |
//! | 16..18 | start of the record area                         |
//! | 20..24 | payload length (raw pages)                       |
//!
//! A *slotted* page holds variable-length records: the slot directory
//! (offset, length; 4 bytes each) grows up from the header and records
//! grow down from the end, so slot ids stay stable while records move
//! during [`Page::compact`]. A *raw* page carries up to [`RAW_CAPACITY`]
//! bytes of a larger object (an overflow value, a column chunk) spread over
//! consecutive pages.
//!
//! This module only formats bytes: it does no I/O and emits no events.

use crate::StorageError;

/// Bytes per page.
pub const PAGE_SIZE: usize = 8192;
const HEADER: usize = 32;
const SLOT: usize = 4;
const MAGIC: [u8; 2] = *b"WF";
/// Payload bytes of a raw page.
pub const RAW_CAPACITY: usize = PAGE_SIZE - HEADER;
/// The largest record a slotted page can hold.
pub const MAX_RECORD: usize = PAGE_SIZE - HEADER - SLOT;

/// What a page holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageKind {
    /// Variable-length records behind a slot directory.
    Slotted = 1,
    /// A slice of a larger byte string.
    Raw = 2,
}

/// One page in memory.
#[derive(Clone)]
pub struct Page {
    bytes: Box<[u8]>,
}

impl std::fmt::Debug for Page {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Page")
            .field("number", &self.number())
            .field("kind", &self.kind())
            .field("slots", &self.slot_count())
            .finish()
    }
}

fn read_u16(bytes: &[u8], at: usize) -> usize {
    u16::from_le_bytes([bytes[at], bytes[at + 1]]) as usize
}

fn write_u16(bytes: &mut [u8], at: usize, value: usize) {
    bytes[at..at + 2].copy_from_slice(&(value as u16).to_le_bytes());
}

impl Page {
    /// An empty page of `kind` that will live at `number`.
    pub fn new(kind: PageKind, number: u32) -> Self {
        let mut bytes = vec![0u8; PAGE_SIZE].into_boxed_slice();
        bytes[4..6].copy_from_slice(&MAGIC);
        bytes[6] = kind as u8;
        bytes[8..12].copy_from_slice(&number.to_le_bytes());
        write_u16(&mut bytes, 14, HEADER);
        write_u16(&mut bytes, 16, PAGE_SIZE);
        Self { bytes }
    }

    /// A raw page carrying `data` (at most [`RAW_CAPACITY`] bytes).
    pub fn raw(number: u32, data: &[u8]) -> Self {
        debug_assert!(data.len() <= RAW_CAPACITY);
        let mut page = Self::new(PageKind::Raw, number);
        page.bytes[20..24].copy_from_slice(&(data.len() as u32).to_le_bytes());
        page.bytes[HEADER..HEADER + data.len()].copy_from_slice(data);
        page
    }

    /// Checks a page read from disk: checksum, magic, kind, number and
    /// layout. `Err(true)` means the checksum failed (damaged bytes),
    /// `Err(false)` a well-checksummed page that is not the one expected.
    pub fn verify(bytes: &[u8], expected_number: u32) -> Result<Self, bool> {
        if bytes.len() != PAGE_SIZE {
            return Err(false);
        }
        let stored = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if crc32fast::hash(&bytes[4..]) != stored {
            return Err(true);
        }
        let page = Self {
            bytes: bytes.to_vec().into_boxed_slice(),
        };
        let layout_ok = page.bytes[4..6] == MAGIC
            && page.kind().is_some()
            && page.number() == expected_number
            && page.slots_end() <= page.records_start()
            && page.records_start() <= PAGE_SIZE
            && (page.kind() != Some(PageKind::Raw) || page.raw_len() <= RAW_CAPACITY);
        if layout_ok { Ok(page) } else { Err(false) }
    }

    /// Writes the checksum; call before the page goes to disk.
    pub fn seal(&mut self) {
        let checksum = crc32fast::hash(&self.bytes[4..]);
        self.bytes[0..4].copy_from_slice(&checksum.to_le_bytes());
    }

    /// The page's bytes, as written to disk.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The page number stamped in the header.
    pub fn number(&self) -> u32 {
        u32::from_le_bytes([self.bytes[8], self.bytes[9], self.bytes[10], self.bytes[11]])
    }

    /// The page kind, if the header names a known one.
    pub fn kind(&self) -> Option<PageKind> {
        match self.bytes[6] {
            1 => Some(PageKind::Slotted),
            2 => Some(PageKind::Raw),
            _ => None,
        }
    }

    /// Payload of a raw page.
    pub fn raw_payload(&self) -> &[u8] {
        &self.bytes[HEADER..HEADER + self.raw_len()]
    }

    fn raw_len(&self) -> usize {
        u32::from_le_bytes([
            self.bytes[20],
            self.bytes[21],
            self.bytes[22],
            self.bytes[23],
        ]) as usize
    }

    /// Number of slots, live or deleted.
    pub fn slot_count(&self) -> usize {
        read_u16(&self.bytes, 12)
    }

    fn slots_end(&self) -> usize {
        read_u16(&self.bytes, 14)
    }

    fn records_start(&self) -> usize {
        read_u16(&self.bytes, 16)
    }

    /// Contiguous free bytes between the slot directory and the records.
    pub fn free_space(&self) -> usize {
        self.records_start() - self.slots_end()
    }

    /// Whether a record of `len` bytes fits without compaction.
    pub fn fits(&self, len: usize) -> bool {
        self.free_space() >= len + SLOT
    }

    /// Appends a record, returning its slot id, or `None` if it does not
    /// fit (compact or split first).
    pub fn insert(&mut self, record: &[u8]) -> Option<usize> {
        if !self.fits(record.len()) {
            return None;
        }
        let start = self.records_start() - record.len();
        self.bytes[start..start + record.len()].copy_from_slice(record);
        let slot = self.slot_count();
        let at = HEADER + slot * SLOT;
        write_u16(&mut self.bytes, at, start);
        write_u16(&mut self.bytes, at + 2, record.len());
        write_u16(&mut self.bytes, 12, slot + 1);
        write_u16(&mut self.bytes, 14, at + SLOT);
        write_u16(&mut self.bytes, 16, start);
        Some(slot)
    }

    /// The record in `slot`, if the slot exists and is live. Bounds are
    /// checked so a lying header yields `None`, not a panic.
    pub fn record(&self, slot: usize) -> Option<&[u8]> {
        if slot >= self.slot_count() {
            return None;
        }
        let at = HEADER + slot * SLOT;
        let (offset, len) = (read_u16(&self.bytes, at), read_u16(&self.bytes, at + 2));
        if offset == 0 {
            return None;
        }
        self.bytes.get(offset..offset + len)
    }

    /// Live records in slot order.
    pub fn records(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.slot_count()).filter_map(|slot| self.record(slot))
    }

    /// Marks `slot` deleted; its bytes are reclaimed by [`Page::compact`].
    pub fn delete(&mut self, slot: usize) -> bool {
        if self.record(slot).is_none() {
            return false;
        }
        write_u16(&mut self.bytes, HEADER + slot * SLOT, 0);
        true
    }

    /// Moves live records together at the end of the page, keeping slot
    /// ids; returns the bytes reclaimed.
    pub fn compact(&mut self) -> usize {
        let before = self.free_space();
        let live: Vec<(usize, Vec<u8>)> = (0..self.slot_count())
            .filter_map(|slot| self.record(slot).map(|r| (slot, r.to_vec())))
            .collect();
        let mut start = PAGE_SIZE;
        for (slot, record) in &live {
            start -= record.len();
            self.bytes[start..start + record.len()].copy_from_slice(record);
            write_u16(&mut self.bytes, HEADER + slot * SLOT, start);
        }
        write_u16(&mut self.bytes, 16, start);
        self.free_space() - before
    }

    /// Moves the upper half of the live records (in slot order) to a new
    /// page numbered `number`, for a page that has overflowed.
    pub fn split(&mut self, number: u32) -> Page {
        let live: Vec<Vec<u8>> = self.records().map(<[u8]>::to_vec).collect();
        let keep = live.len().div_ceil(2);
        let mut right = Page::new(PageKind::Slotted, number);
        let mut left = Page::new(PageKind::Slotted, self.number());
        for (i, record) in live.iter().enumerate() {
            let target = if i < keep { &mut left } else { &mut right };
            target.insert(record);
        }
        *self = left;
        right
    }

    /// Moves every live record of `other` into this page if they all fit
    /// (after compaction); returns whether it did.
    pub fn merge(&mut self, other: &Page) -> bool {
        let needed: usize = other.records().map(|r| r.len() + SLOT).sum();
        if self.free_space() < needed {
            self.compact();
        }
        if self.free_space() < needed {
            return false;
        }
        for record in other.records() {
            self.insert(record);
        }
        true
    }
}

/// Splits `data` into raw pages numbered from `first`.
pub fn raw_pages(first: u32, data: &[u8]) -> Vec<Page> {
    if data.is_empty() {
        return vec![Page::raw(first, &[])];
    }
    data.chunks(RAW_CAPACITY)
        .enumerate()
        .map(|(i, chunk)| Page::raw(first + i as u32, chunk))
        .collect()
}

/// Number of raw pages `len` bytes need.
pub fn raw_page_count(len: usize) -> u32 {
    len.div_ceil(RAW_CAPACITY).max(1) as u32
}

/// Reads a variable-length unsigned integer (LEB128).
pub(crate) fn read_varint(bytes: &[u8], at: &mut usize) -> Result<u64, StorageError> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let byte = *bytes
            .get(*at)
            .ok_or_else(|| StorageError::Invalid("truncated varint".into()))?;
        *at += 1;
        if shift >= 64 {
            return Err(StorageError::Invalid("varint too long".into()));
        }
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
        shift += 7;
    }
}

/// Appends a variable-length unsigned integer (LEB128).
pub(crate) fn write_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_seal_and_verify() {
        let mut page = Page::new(PageKind::Slotted, 7);
        let a = page.insert(b"alpha").expect("fits");
        let b = page.insert(b"beta").expect("fits");
        page.seal();
        let read = Page::verify(page.bytes(), 7).expect("intact");
        assert_eq!(read.record(a), Some(&b"alpha"[..]));
        assert_eq!(read.record(b), Some(&b"beta"[..]));
        assert!(Page::verify(page.bytes(), 8).is_err(), "wrong page number");
    }

    #[test]
    fn a_flipped_byte_fails_the_checksum() {
        let mut page = Page::new(PageKind::Slotted, 0);
        page.insert(b"payload").expect("fits");
        page.seal();
        let mut bytes = page.bytes().to_vec();
        bytes[PAGE_SIZE - 3] ^= 0x40;
        assert_eq!(Page::verify(&bytes, 0).err(), Some(true));
    }

    #[test]
    fn delete_then_compact_reclaims_space_and_keeps_slot_ids() {
        let mut page = Page::new(PageKind::Slotted, 0);
        let record = vec![1u8; 1100];
        let slots: Vec<usize> = (0..7)
            .map(|_| page.insert(&record).expect("fits"))
            .collect();
        assert!(page.insert(&record).is_none(), "page is full");
        page.delete(slots[2]);
        page.delete(slots[4]);
        assert!(page.insert(&record).is_none(), "space not reclaimed yet");
        assert_eq!(page.compact(), 2200);
        assert_eq!(page.record(slots[5]), Some(&record[..]));
        assert!(page.record(slots[2]).is_none());
        assert!(page.insert(&record).is_some());
    }

    #[test]
    fn split_then_merge_round_trips() {
        let mut page = Page::new(PageKind::Slotted, 1);
        let records: Vec<Vec<u8>> = (0..20u8).map(|i| vec![i; 300]).collect();
        for r in &records {
            page.insert(r).expect("fits");
        }
        let right = page.split(2);
        assert_eq!(page.records().count(), 10);
        assert_eq!(right.records().count(), 10);
        assert_eq!(right.number(), 2);
        assert!(page.merge(&right));
        let all: Vec<&[u8]> = page.records().collect();
        assert_eq!(all.len(), 20);
        assert_eq!(all[19], &records[19][..]);
    }

    #[test]
    fn raw_pages_carry_large_values() {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i % 251) as u8).collect();
        let pages = raw_pages(5, &data);
        assert_eq!(pages.len() as u32, raw_page_count(data.len()));
        let back: Vec<u8> = pages
            .iter()
            .flat_map(|p| p.raw_payload().to_vec())
            .collect();
        assert_eq!(back, data);
    }

    #[test]
    fn varints_round_trip() {
        let mut out = Vec::new();
        for v in [0, 1, 127, 128, 300, u64::MAX] {
            write_varint(&mut out, v);
        }
        let mut at = 0;
        for v in [0, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(read_varint(&out, &mut at).expect("valid"), v);
        }
        assert!(read_varint(&[0x80], &mut 0).is_err());
    }
}
