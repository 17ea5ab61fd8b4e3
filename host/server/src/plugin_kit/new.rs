//! `weft plugin new NAME`: writes a plugin project that builds outside
//! this repository. The SDK's sources and the WIT are the ones compiled
//! into this binary, so the project targets exactly the contract this
//! server accepts; the template is `host/server/templates/rust/`.

use std::path::{Path, PathBuf};

use anyhow::Context;

/// Arguments of `weft plugin new`.
#[derive(clap::Args)]
pub(crate) struct NewArgs {
    /// The engine's name: its folder, crate, topic prefix and routes'
    /// prefix (lowercase letters, digits and _, starting with a letter).
    name: String,
    /// The folder to create it in.
    #[arg(long, default_value = ".")]
    dir: PathBuf,
    /// The template's language: rust (the SDK) or python (componentize-py).
    #[arg(long, default_value = "rust", value_parser = ["rust", "python"])]
    lang: String,
}

/// wit-bindgen as the workspace pins it (a test checks they agree).
const WIT_BINDGEN: &str = "0.63.0";

/// The SDK's sources, by path under its crate folder.
const SDK: &[(&str, &str)] = &[
    (
        "src/lib.rs",
        include_str!("../../../../plugins/sdk/src/lib.rs"),
    ),
    (
        "src/clock.rs",
        include_str!("../../../../plugins/sdk/src/clock.rs"),
    ),
    (
        "src/engine.rs",
        include_str!("../../../../plugins/sdk/src/engine.rs"),
    ),
    (
        "src/host.rs",
        include_str!("../../../../plugins/sdk/src/host.rs"),
    ),
    (
        "src/manifest.rs",
        include_str!("../../../../plugins/sdk/src/manifest.rs"),
    ),
    (
        "src/storage.rs",
        include_str!("../../../../plugins/sdk/src/storage.rs"),
    ),
    (
        "src/stream.rs",
        include_str!("../../../../plugins/sdk/src/stream.rs"),
    ),
    (
        "src/wasm.rs",
        include_str!("../../../../plugins/sdk/src/wasm.rs"),
    ),
    (
        "src/wasm/streaming.rs",
        include_str!("../../../../plugins/sdk/src/wasm/streaming.rs"),
    ),
    (
        "src/functions.rs",
        include_str!("../../../../plugins/sdk/src/functions.rs"),
    ),
    (
        "src/wasm/udf.rs",
        include_str!("../../../../plugins/sdk/src/wasm/udf.rs"),
    ),
];

/// A Python project's files (componentize-py builds them against `wit/`).
const PYTHON: &[(&str, &str)] = &[
    ("app.py", include_str!("../../templates/python/app.py.in")),
    (
        "samples.json",
        include_str!("../../templates/python/samples.json.in"),
    ),
    (
        "README.md",
        include_str!("../../templates/python/README.md.in"),
    ),
    (
        "weft-plugin.json",
        include_str!("../../templates/python/weft-plugin.json.in"),
    ),
    (".gitignore", "*.wasm\n__pycache__/\n"),
];

/// A Rust project's own files, from the template.
const TEMPLATE: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../../templates/rust/Cargo.toml.in"),
    ),
    ("src/lib.rs", include_str!("../../templates/rust/lib.rs.in")),
    (
        "samples.json",
        include_str!("../../templates/rust/samples.json.in"),
    ),
    (
        "README.md",
        include_str!("../../templates/rust/README.md.in"),
    ),
    (".gitignore", "/target\n/Cargo.lock\n*.wasm\n"),
    (
        "weft/sdk/Cargo.toml",
        include_str!("../../templates/rust/sdk-Cargo.toml.in"),
    ),
];

fn fill(text: &str, name: &str) -> String {
    text.replace("{{name}}", name)
        .replace("{{sdk_version}}", env!("CARGO_PKG_VERSION"))
        .replace("{{wit_bindgen}}", WIT_BINDGEN)
}

/// Every file of a new project `name` in `lang`, by path under its folder.
pub(crate) fn files(name: &str, lang: &str) -> Vec<(String, String)> {
    let wit = weft_runtime::wit::CURRENT
        .iter()
        .map(|file| (format!("wit/{}", file.path), file.text.to_owned()));
    if lang == "python" {
        let own = PYTHON
            .iter()
            .map(|(path, text)| ((*path).to_owned(), fill(text, name)));
        return own.chain(wit).collect();
    }
    let template = TEMPLATE
        .iter()
        .map(|(path, text)| ((*path).to_owned(), fill(text, name)));
    let sdk = SDK
        .iter()
        .map(|(path, text)| (format!("weft/sdk/{path}"), (*text).to_owned()));
    template.chain(sdk).chain(wit).collect()
}

pub(crate) fn run(args: &NewArgs) -> anyhow::Result<()> {
    super::check_name(&args.name)?;
    let root = args.dir.join(&args.name);
    if root.exists() && std::fs::read_dir(&root).map(|mut d| d.next().is_some())? {
        anyhow::bail!(
            "{} exists and is not empty: choose another name or --dir",
            root.display()
        );
    }
    let files = files(&args.name, &args.lang);
    for (path, text) in &files {
        write(&root.join(path), text)?;
    }
    println!(
        "wrote {} ({} files, {} engine). Next:\n  cd {}\n  weft plugin build\n  weft plugin test\n  weft plugin install {}.wasm --server 127.0.0.1:8080",
        root.display(),
        files.len(),
        args.lang,
        root.display(),
        args.name
    );
    Ok(())
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A file added to the SDK must be carried into new projects too.
    #[test]
    fn every_sdk_source_is_carried() -> anyhow::Result<()> {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../plugins/sdk");
        let mut found = Vec::new();
        let mut folders = vec![root.join("src")];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let path = entry?.path();
                if path.is_dir() {
                    folders.push(path);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    found.push(path.strip_prefix(&root)?.to_string_lossy().into_owned());
                }
            }
        }
        found.sort();
        let mut carried: Vec<String> = SDK.iter().map(|(p, _)| (*p).to_owned()).collect();
        carried.sort();
        assert_eq!(found, carried);
        Ok(())
    }

    #[test]
    fn the_sdk_manifest_pins_what_the_workspace_does() -> anyhow::Result<()> {
        let workspace = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml"),
        )?;
        assert!(
            workspace.contains(&format!("wit-bindgen = {{ version = \"{WIT_BINDGEN}\"")),
            "update WIT_BINDGEN to the workspace's wit-bindgen"
        );
        let files = files("greeter", "rust");
        let lib = files
            .iter()
            .find(|(p, _)| p == "src/lib.rs")
            .map(|(_, t)| t)
            .context("lib.rs")?;
        assert!(lib.contains("name: \"greeter\".into()"));
        assert!(lib.contains("/api/v1/greeter/greet"));
        assert!(
            files
                .iter()
                .any(|(p, _)| p == "wit/engine/deps/host/host.wit")
        );
        assert!(
            !files.iter().any(|(_, t)| t.contains("{{")),
            "every placeholder filled"
        );
        Ok(())
    }
}
