//! `weft plugin …`: the plugin author's kit. `new` writes a buildable
//! engine project outside this repository (the SDK and WIT come from this
//! binary), `build` makes its component, `test` runs it in the real
//! runtime in process, and `install`, `list`, `activate` and `rollback`
//! talk to a running server. Nothing here is engine-specific: the template
//! is an example, not a dependency.

mod build;
mod new;
mod remote;
mod test;

use std::path::Path;

use anyhow::Context;

/// What `weft plugin` does.
#[derive(clap::Subcommand)]
pub(crate) enum PluginCommand {
    /// Write a new plugin project: its own Cargo.toml, the SDK and WIT this
    /// binary carries, an engine with a route and an event kind, and a test.
    New(new::NewArgs),
    /// Build a plugin project's component (`<name>.wasm` in its folder),
    /// installing the wasm32-wasip2 target if it is missing.
    Build(build::BuildArgs),
    /// Load a built component into the real runtime, in process: check its
    /// description and manifest, then run the project's samples.json.
    Test(test::TestArgs),
    /// Upload a component to a running server (an operator's key when the
    /// server has keys).
    Install(remote::InstallArgs),
    /// The plugins a server has loaded.
    List(remote::Remote),
    /// Make a kept version of a plugin the one serving.
    Activate(remote::ActivateArgs),
    /// Activate the version that was active before the current one.
    Rollback(remote::RollbackArgs),
}

/// Runs one `weft plugin` command.
pub(crate) fn run(command: PluginCommand, tokio: &tokio::runtime::Runtime) -> anyhow::Result<()> {
    match command {
        PluginCommand::New(args) => new::run(&args),
        PluginCommand::Build(args) => build::run(&args).map(|_| ()),
        PluginCommand::Test(args) => test::run(&args),
        PluginCommand::Install(args) => tokio.block_on(remote::install(args)),
        PluginCommand::List(args) => tokio.block_on(remote::list(args)),
        PluginCommand::Activate(args) => tokio.block_on(remote::activate(args)),
        PluginCommand::Rollback(args) => tokio.block_on(remote::rollback(args)),
    }
}

/// What a plugin project is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lang {
    /// A Cargo package on the SDK.
    Rust,
    /// A componentize-py module (`weft-plugin.json`).
    Python,
}

/// A plugin project's name and language: from `Cargo.toml`, or from
/// `weft-plugin.json` (`{"name", "lang", "module"}`).
pub(crate) fn project(dir: &Path) -> anyhow::Result<(String, Lang)> {
    let described = dir.join("weft-plugin.json");
    if described.exists() {
        let text = std::fs::read_to_string(&described)
            .with_context(|| format!("cannot read {}", described.display()))?;
        let json: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", described.display()))?;
        let name = json["name"]
            .as_str()
            .with_context(|| format!("{} has no \"name\"", described.display()))?;
        anyhow::ensure!(
            json["lang"] == "python",
            "{}: \"lang\" must be \"python\" (a Rust project has a Cargo.toml instead)",
            described.display()
        );
        return Ok((name.to_owned(), Lang::Python));
    }
    Ok((package_name(dir)?, Lang::Rust))
}

/// The `name` of the `[package]` in `dir/Cargo.toml`.
pub(crate) fn package_name(dir: &Path) -> anyhow::Result<String> {
    let manifest = dir.join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest).with_context(|| {
        format!(
            "no Cargo.toml or weft-plugin.json in {}: run this in a folder `weft plugin new` made, or name one",
            dir.display()
        )
    })?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package
            && let Some(value) = line.strip_prefix("name")
            && let Some(value) = value.trim_start().strip_prefix('=')
        {
            return Ok(value.trim().trim_matches('"').to_owned());
        }
    }
    anyhow::bail!("{} has no [package] name", manifest.display())
}

/// Checks a plugin name as the runtime will: lowercase letters, digits,
/// `-` and `_`, at most 64 characters; here also starting with a letter
/// and without `-`, so it is a Rust crate name as is.
pub(crate) fn check_name(name: &str) -> anyhow::Result<()> {
    let ok = name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    anyhow::ensure!(
        ok,
        "'{name}' cannot name a plugin: use lowercase letters, digits and _, starting with a letter (at most 64)"
    );
    anyhow::ensure!(
        !["jobs", "plugins", "storage", "system"].contains(&name),
        "'{name}' is one of the host's topic roots: choose another name"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_crate_and_topic_names() {
        assert!(check_name("greeter_2").is_ok());
        for bad in ["Greeter", "2x", "a-b", "", "jobs", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_package_name_is_read_from_the_package_table() -> anyhow::Result<()> {
        let dir = std::env::temp_dir().join(format!("weft-kit-name-{}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        std::fs::write(
            dir.join("Cargo.toml"),
            "[workspace]\nname = \"no\"\n[package]\nname = \"yes\"\n",
        )?;
        assert_eq!(package_name(&dir)?, "yes");
        std::fs::remove_dir_all(&dir)?;
        Ok(())
    }
}
