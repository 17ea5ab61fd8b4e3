//! The author's guide, run: the commands between the `kit-commands`
//! markers of `docs/plugins.md`, in order, in an empty folder, with the
//! real `weft` binary on PATH and a real server to install into; then the
//! new engine's declared route answers over REST.

use std::process::Command;

use anyhow::Context;
use serde_json::json;
use weft_tests::{Server, repo_root, weft_binary};

/// The shell block between the guide's `marker` comments.
fn guide_commands(marker: &str) -> anyhow::Result<String> {
    let guide = std::fs::read_to_string(repo_root().join("docs/plugins.md"))?;
    let start = guide
        .find(&format!("<!-- {marker} -->"))
        .context("start marker")?;
    let end = guide
        .find(&format!("<!-- /{marker} -->"))
        .context("end marker")?;
    let block = &guide[start..end];
    let body = block
        .split_once("```sh\n")
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(body, _)| body)
        .context("a sh block between the markers")?;
    Ok(body
        .lines()
        .map(|l| l.split_once(" #").map_or(l, |(command, _)| command).trim())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n"))
}

/// Runs `commands` with bash in a fresh folder, the real `weft` first on
/// PATH and `WEFT_SERVER` pointing at `server`; answers stdout, failing
/// with both streams when a command fails.
async fn run_guide(
    server: &Server,
    commands: String,
    env: Vec<(&'static str, std::path::PathBuf)>,
) -> anyhow::Result<String> {
    let folder = tempfile::tempdir()?;
    let bin = weft_binary();
    let bin_dir = bin.parent().context("the binary's folder")?.to_owned();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let address = server.address.clone();
    let cwd = folder.path().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        Command::new("bash")
            .args(["-euo", "pipefail", "-c", &commands])
            .current_dir(&cwd)
            .env("PATH", path)
            .env("WEFT_SERVER", address)
            .env("WEFT_LOG", "warn")
            .envs(env)
            .output()
    })
    .await??;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    anyhow::ensure!(output.status.success(), "{stdout}\n{stderr}");
    Ok(stdout)
}

#[tokio::test]
async fn the_authors_guide_ends_with_the_new_engine_answering() -> anyhow::Result<()> {
    let commands = guide_commands("kit-commands")?;
    assert!(
        commands.starts_with("weft plugin new greeter"),
        "{commands}"
    );
    let server = Server::start(&[])?;
    // Shared between runs, so only the first builds the SDK's dependencies.
    let target = repo_root().join("target/plugin-kit");
    let stdout = run_guide(&server, commands, vec![("CARGO_TARGET_DIR", target)]).await?;
    assert!(stdout.contains("built "), "{stdout}");
    assert!(stdout.contains("1 cases passed"), "{stdout}");
    assert!(stdout.contains("loaded greeter 0.1.0"), "{stdout}");
    assert!(
        stdout.lines().any(|l| l.starts_with("greeter ")),
        "listed: {stdout}"
    );

    let (status, answer) = server
        .post("/api/v1/greeter/greet", &json!({"name": "you"}))
        .await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"greeting": "hello, you", "times": 1}));
    // The declared event kind reached the server's schemas.
    let (_, plugin) = server.get("/api/v1/plugins/greeter").await?;
    assert_eq!(
        plugin["manifest"]["events"][0]["name"], "greeted",
        "{plugin}"
    );
    // Bad params are refused by the declared schema before the plugin runs.
    let (status, refused) = server
        .post("/api/v1/greeter/greet", &json!({"name": ""}))
        .await?;
    assert!((400..500).contains(&status), "{status} {refused}");
    Ok(())
}

/// The guide's Python commands: componentize-py builds the template against
/// the WIT the binary carries, and the component (CPython inside) loads
/// in-process and into the server, and answers on its declared route.
#[tokio::test]
async fn the_python_template_builds_loads_and_answers() -> anyhow::Result<()> {
    let commands = guide_commands("kit-commands-python")?;
    assert!(commands.contains("--lang python"), "{commands}");
    // One compile cache for the CLI and the server: the 18 MB component
    // compiles once.
    let cache = repo_root().join("target/plugin-kit-cache");
    let cache_arg = cache.display().to_string();
    let server = Server::start(&["--cache-dir", &cache_arg])?;
    let stdout = run_guide(&server, commands, vec![("WEFT_CACHE_DIR", cache)]).await?;
    assert!(stdout.contains("1 cases passed"), "{stdout}");
    assert!(stdout.contains("loaded pygreeter 0.1.0"), "{stdout}");

    let (status, answer) = server
        .post(
            "/api/v1/pygreeter/greet",
            &json!({"name": "py", "times": 2}),
        )
        .await?;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer, json!({"greeting": "hello, py", "times": 2}));
    let (status, refused) = server
        .post("/api/v1/pygreeter/greet", &json!({"times": 2}))
        .await?;
    assert!((400..500).contains(&status), "{status} {refused}");
    Ok(())
}

/// `weft plugin new` refuses names no plugin can have, and folders in use.
#[test]
fn new_refuses_bad_names_and_busy_folders() -> anyhow::Result<()> {
    let folder = tempfile::tempdir()?;
    let run = |name: &str| {
        Command::new(weft_binary())
            .args(["plugin", "new", name, "--dir"])
            .arg(folder.path())
            .output()
    };
    let bad = run("Bad-Name")?;
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("lowercase letters"));
    assert!(run("fine")?.status.success());
    let again = run("fine")?;
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
    Ok(())
}
