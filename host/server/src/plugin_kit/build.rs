//! `weft plugin build [DIR]`: `cargo build --release --target
//! wasm32-wasip2` of a plugin project, installing the target first if
//! rustup lacks it, and the component copied to `DIR/<name>.wasm`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

const TARGET: &str = "wasm32-wasip2";

/// Arguments of `weft plugin build`.
#[derive(clap::Args)]
pub(crate) struct BuildArgs {
    /// The project's folder.
    #[arg(default_value = ".")]
    dir: PathBuf,
}

/// Builds and answers where the component is.
pub(crate) fn run(args: &BuildArgs) -> anyhow::Result<PathBuf> {
    let name = super::package_name(&args.dir)?;
    ensure_target();
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "--target", TARGET, "--manifest-path"])
        .arg(args.dir.join("Cargo.toml"))
        .status()
        .with_context(|| {
            format!(
                "cannot run {}: install Rust (https://rustup.rs)",
                Path::new(&cargo).display()
            )
        })?;
    anyhow::ensure!(
        status.success(),
        "cargo build failed ({status}): see its errors above"
    );
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| args.dir.join("target"));
    let built = target_dir
        .join(TARGET)
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    let out = args.dir.join(format!("{name}.wasm"));
    let bytes = std::fs::copy(&built, &out)
        .with_context(|| format!("cannot copy {} to {}", built.display(), out.display()))?;
    println!("built {} ({bytes} bytes)", out.display());
    Ok(out)
}

/// Adds the wasm target when rustup is there and lacks it; without rustup
/// the build says what is missing itself.
fn ensure_target() {
    let Ok(listed) = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
    else {
        return;
    };
    if String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return;
    }
    eprintln!("installing the {TARGET} target (rustup target add {TARGET}) …");
    if let Err(error) = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
    {
        eprintln!("rustup target add {TARGET} failed: {error}");
    }
}
