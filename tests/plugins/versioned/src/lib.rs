//! A small engine for the plugin-version tests: `which` answers the
//! version that ran it, `slow` emits a `tick` naming its version every
//! `every_ms` for `ticks` ticks, so a test can switch versions while it
//! runs. `versioned2` builds the same `engine.rs` at another version.

pub mod engine;
