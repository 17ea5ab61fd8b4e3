//! A bloom filter with a hash that is stable on disk (FNV-1a, split into
//! two halves for double hashing), ~1% false positives at 10 bits a key.
//! Written by hand because the filter is persisted: its hash must never
//! change with a dependency's version.

/// Bits per key; with [`HASHES`] probes gives ~0.8% false positives.
const BITS_PER_KEY: usize = 10;
const HASHES: u32 = 7;

/// The filter's hash of a key.
pub(crate) fn hash(key: &[u8]) -> u64 {
    let mut hash = 0xcbf2_9ce4_8422_2325u64;
    for &byte in key {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Finalise (splitmix64) so that both halves are well mixed.
    hash ^= hash >> 30;
    hash = hash.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash ^= hash >> 27;
    hash = hash.wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// A filter over a fixed set of keys.
#[derive(Clone, Debug)]
pub(crate) struct Bloom {
    bits: Vec<u8>,
}

impl Bloom {
    /// An empty filter sized for `keys` keys.
    pub(crate) fn with_capacity(keys: usize) -> Self {
        let bytes = (keys.max(1) * BITS_PER_KEY).div_ceil(8);
        Self {
            bits: vec![0; bytes],
        }
    }

    /// A filter read back from its bytes.
    pub(crate) fn from_bytes(bits: Vec<u8>) -> Self {
        Self { bits }
    }

    /// The bytes to persist.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.bits
    }

    fn probes(&self, hash: u64) -> impl Iterator<Item = usize> {
        let (a, b) = (hash as u32, (hash >> 32) as u32 | 1);
        let bits = (self.bits.len() * 8).max(1) as u64;
        (0..HASHES).map(move |i| (u64::from(a.wrapping_add(i.wrapping_mul(b))) % bits) as usize)
    }

    /// Adds a key.
    #[cfg(test)]
    pub(crate) fn insert(&mut self, key: &[u8]) {
        self.insert_hash(hash(key));
    }

    /// Adds a key by its [`hash`].
    pub(crate) fn insert_hash(&mut self, hash: u64) {
        let probes: Vec<usize> = self.probes(hash).collect();
        for bit in probes {
            self.bits[bit / 8] |= 1 << (bit % 8);
        }
    }

    /// False: the key is certainly absent. True: it may be present.
    pub(crate) fn may_contain(&self, key: &[u8]) -> bool {
        if self.bits.is_empty() {
            return true;
        }
        self.probes(hash(key))
            .all(|bit| self.bits[bit / 8] & (1 << (bit % 8)) != 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let mut bloom = Bloom::with_capacity(10_000);
        for i in 0..10_000u32 {
            bloom.insert(format!("key-{i}").as_bytes());
        }
        assert!((0..10_000u32).all(|i| bloom.may_contain(format!("key-{i}").as_bytes())));
        let false_positives = (0..10_000u32)
            .filter(|i| bloom.may_contain(format!("other-{i}").as_bytes()))
            .count();
        assert!(
            false_positives < 200,
            "{false_positives} false positives in 10,000"
        );
    }
}
