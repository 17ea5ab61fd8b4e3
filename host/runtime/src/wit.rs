//! The WIT the host supports, as text: what `GET /api/v1/wit` serves and
//! `weft wit` writes, so a plugin author builds against exactly the
//! contract this binary binds (the same files `bindings` compiles).
//!
//! Compatibility policy: `weft:host` and `weft:engine` follow semver as
//! Cargo reads it for 0.x — a patch release (0.2.0 → 0.2.1) only adds
//! functions, each marked `@since`, so a component built against an older
//! patch of the same minor loads unchanged; a new minor (0.1 → 0.2) may
//! break, and the host keeps binding the previous minor beside it.

/// One WIT file, by its path in the layout `weft wit` writes.
#[derive(Clone, Copy, Debug)]
pub struct WitFile {
    /// Path relative to the output folder, e.g. `engine/engine.wit`.
    pub path: &'static str,
    /// The file's text.
    pub text: &'static str,
}

/// A WIT package the host binds.
#[derive(Clone, Copy, Debug)]
pub struct WitPackage {
    /// `weft:host`, `weft:engine` or `weft:udf`.
    pub name: &'static str,
    /// The newest version of it the host binds.
    pub version: &'static str,
    /// Versions whose components load.
    pub accepts: &'static str,
}

const HOST: &str = include_str!("../../../wit/host/host.wit");
const ENGINE: &str = include_str!("../../../wit/engine/engine.wit");
const STREAM: &str = include_str!("../../../wit/engine/stream.wit");
const UDF: &str = include_str!("../../../wit/udf/udf.wit");
const HOST_0_1: &str = include_str!("../../../wit/0.1/host/host.wit");
const ENGINE_0_1: &str = include_str!("../../../wit/0.1/engine/engine.wit");
const STREAM_0_1: &str = include_str!("../../../wit/0.1/engine/stream.wit");

/// The current contract, laid out so `wit-bindgen` and `cargo component`
/// resolve it from `engine/` (its `deps/host` is a copy, not a link).
pub const CURRENT: &[WitFile] = &[
    WitFile {
        path: "host/host.wit",
        text: HOST,
    },
    WitFile {
        path: "engine/engine.wit",
        text: ENGINE,
    },
    WitFile {
        path: "engine/stream.wit",
        text: STREAM,
    },
    WitFile {
        path: "engine/deps/host/host.wit",
        text: HOST,
    },
    WitFile {
        path: "udf/udf.wit",
        text: UDF,
    },
    WitFile {
        path: "udf/deps/host/host.wit",
        text: HOST,
    },
];

/// The previous minor, still bound for components built against it.
pub const PREVIOUS: &[WitFile] = &[
    WitFile {
        path: "0.1/host/host.wit",
        text: HOST_0_1,
    },
    WitFile {
        path: "0.1/engine/engine.wit",
        text: ENGINE_0_1,
    },
    WitFile {
        path: "0.1/engine/stream.wit",
        text: STREAM_0_1,
    },
    WitFile {
        path: "0.1/engine/deps/host/host.wit",
        text: HOST_0_1,
    },
];

/// The policy in one paragraph, for answers and `weft wit`.
pub const POLICY: &str = "weft:host and weft:engine follow semver as Cargo reads it for 0.x: a patch release only adds functions (each marked @since), so a component built against an older patch of the same minor loads unchanged; a new minor may break, and the host keeps binding the previous minor (0.1) beside the current one (0.2).";

/// The packages and the versions the host accepts, read from the files'
/// `package` lines so they cannot drift from what is bound.
pub fn packages() -> Vec<WitPackage> {
    vec![
        WitPackage {
            name: "weft:host",
            version: version_of(HOST),
            accepts: "0.2.0 up to the version above, and 0.1.0",
        },
        WitPackage {
            name: "weft:engine",
            version: version_of(ENGINE),
            accepts: "0.2.0 up to the version above, and 0.1.0",
        },
        WitPackage {
            name: "weft:udf",
            version: version_of(UDF),
            accepts: "0.1.0",
        },
    ]
}

/// The version in a file's `package name@version;` line.
fn version_of(text: &'static str) -> &'static str {
    text.lines()
        .find_map(|l| l.trim().strip_prefix("package "))
        .and_then(|p| p.split_once('@'))
        .map_or("unknown", |(_, v)| v.trim_end_matches(';'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_bound_files() {
        let packages = packages();
        assert!(packages[0].version.starts_with("0.2."), "{packages:?}");
        assert_eq!(packages[1].version, "0.2.0");
        // Each package's file names it; stream.wit belongs to engine's.
        for file in CURRENT.iter().filter(|f| !f.path.ends_with("stream.wit")) {
            assert!(file.text.contains("package weft:"), "{}", file.path);
        }
        assert!(PREVIOUS.iter().all(|f| !f.text.is_empty()));
    }
}
