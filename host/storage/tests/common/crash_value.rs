//! The value the crash writer stores for a key, shared by the writer
//! (`src/bin/weft-crash-writer.rs`) and the test that checks it
//! (`tests/crash.rs`): long enough that some values go to overflow pages.

/// The value for `key`.
pub(crate) fn value_for(key: &str) -> Vec<u8> {
    let seed = key
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    let len = if seed % 17 == 0 {
        3000
    } else {
        40 + (seed % 60) as usize
    };
    (0..len)
        .map(|i| b'a' + ((seed as usize + i) % 26) as u8)
        .collect()
}
