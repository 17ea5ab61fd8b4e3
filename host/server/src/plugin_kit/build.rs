//! `weft plugin build [DIR]`: a Rust project is `cargo build --release
//! --target wasm32-wasip2` (the target installed first if rustup lacks
//! it), a Python one `componentize-py … componentize` against its `wit/`;
//! either way the component lands in `DIR/<name>.wasm`.

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
    let (name, lang) = super::project(&args.dir)?;
    if lang == super::Lang::Python {
        return python(&args.dir, &name);
    }
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

/// componentize-py version the template is written for.
const COMPONENTIZE_PY: &str = "0.25.1";

/// `componentize-py -d wit/engine -w plugin componentize <module>`, run
/// through the Python that has it (`WEFT_PYTHON`, else `python3`), so it
/// need not be on PATH.
fn python(dir: &Path, name: &str) -> anyhow::Result<PathBuf> {
    let described: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("weft-plugin.json"))?)?;
    let module = described["module"].as_str().unwrap_or("app");
    let interpreter = std::env::var_os("WEFT_PYTHON").unwrap_or_else(|| "python3".into());
    let out = dir.join(format!("{name}.wasm"));
    let status = Command::new(&interpreter)
        .args([
            "-c",
            "import sys\nfrom componentize_py import script\nsys.argv[0] = 'componentize-py'\nsys.exit(script())",
            "-d",
            "wit/engine",
            "-w",
            "plugin",
            "componentize",
            module,
            "-o",
        ])
        .arg(format!("{name}.wasm"))
        .current_dir(dir)
        .status()
        .with_context(|| format!("cannot run {}", Path::new(&interpreter).display()))?;
    anyhow::ensure!(
        status.success(),
        "componentize-py failed ({status}); if it is missing: python3 -m pip install componentize-py=={COMPONENTIZE_PY}"
    );
    let bytes = std::fs::metadata(&out)
        .with_context(|| format!("componentize-py wrote no {}", out.display()))?
        .len();
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
