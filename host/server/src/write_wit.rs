//! `weft wit`: writes the WIT this binary binds into a folder, the layout
//! `wit-bindgen` and `cargo component` read (`engine/` with its
//! `deps/host`), so a plugin outside this repository builds against
//! exactly the contract the server it targets accepts.

use std::path::PathBuf;

use anyhow::Context;
use weft_runtime::wit;

#[derive(clap::Args)]
pub(crate) struct WitArgs {
    /// Folder to write into (created if missing).
    #[arg(default_value = "wit")]
    folder: PathBuf,
    /// Also write the previous minor (0.1) under `0.1/`.
    #[arg(long)]
    previous: bool,
}

/// Writes the files and says what it wrote.
pub(crate) fn run(args: &WitArgs) -> anyhow::Result<()> {
    let mut files: Vec<&wit::WitFile> = wit::CURRENT.iter().collect();
    if args.previous {
        files.extend(wit::PREVIOUS);
    }
    for file in &files {
        let path = args.folder.join(file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        std::fs::write(&path, file.text)
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let versions: Vec<String> = wit::packages()
        .iter()
        .map(|p| format!("{}@{}", p.name, p.version))
        .collect();
    println!(
        "wrote {} WIT files ({}) to {}; build a plugin against {}/engine",
        files.len(),
        versions.join(", "),
        args.folder.display(),
        args.folder.display()
    );
    println!("{}", wit::POLICY);
    Ok(())
}
