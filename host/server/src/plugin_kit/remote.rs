//! `weft plugin install | list | activate | rollback`: the plugin routes of
//! a running server (`/api/v1/plugins…`), with errors that say what to do.

use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::Value;

/// Which server, and the key to reach it with.
#[derive(clap::Args)]
pub(crate) struct Remote {
    /// Server: `host:port` or a URL.
    #[arg(long, env = "WEFT_SERVER", default_value = "127.0.0.1:8080")]
    server: String,
    /// An operator's API key, for a server started with `--api-keys`.
    #[arg(long, env = "WEFT_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
}

/// Arguments of `weft plugin install`.
#[derive(clap::Args)]
pub(crate) struct InstallArgs {
    /// The component (`weft plugin build` wrote it as `<name>.wasm`).
    file: PathBuf,
    /// The name to load it under (default: the file's name).
    #[arg(long)]
    name: Option<String>,
    /// Validate and keep it beside the active version without serving it.
    #[arg(long)]
    inactive: bool,
    #[command(flatten)]
    remote: Remote,
}

/// Arguments of `weft plugin activate`.
#[derive(clap::Args)]
pub(crate) struct ActivateArgs {
    /// The plugin.
    name: String,
    /// The kept version to serve.
    version: String,
    #[command(flatten)]
    remote: Remote,
}

/// Arguments of `weft plugin rollback`.
#[derive(clap::Args)]
pub(crate) struct RollbackArgs {
    /// The plugin.
    name: String,
    #[command(flatten)]
    remote: Remote,
}

impl Remote {
    /// Sends `request` (a path under the server) and answers the JSON body
    /// of a success, or one sentence saying what went wrong.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> anyhow::Result<Value> {
        let (base, _) = crate::run_job::bases(&self.server);
        let mut request = reqwest::Client::new().request(method, format!("{base}{path}"));
        if let Some(key) = &self.api_key {
            request = request.bearer_auth(key);
        }
        if let Some(body) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, "application/wasm")
                .body(body);
        }
        let response = request.send().await.map_err(|error| {
            anyhow::anyhow!(
                "cannot reach a weft server at {} ({error}); start one with `make run`, or pass --server host:port or a URL",
                self.server
            )
        })?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.as_u16() == 401 || status.as_u16() == 403 {
            bail!(
                "the server at {} refused this ({status}): {}; plugins are changed with an operator's key (--api-key or WEFT_API_KEY)",
                self.server,
                body["error"]["message"].as_str().unwrap_or("not allowed")
            );
        }
        if !status.is_success() {
            bail!(
                "{} ({status})",
                body["error"]["message"]
                    .as_str()
                    .unwrap_or("the server refused the request")
            );
        }
        Ok(body)
    }
}

pub(crate) async fn install(args: InstallArgs) -> anyhow::Result<()> {
    let bytes = std::fs::read(&args.file).with_context(|| {
        format!(
            "cannot read {}: build it with `weft plugin build`",
            args.file.display()
        )
    })?;
    let name = match &args.name {
        Some(name) => name.clone(),
        None => args
            .file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .context("the file has no name: pass --name")?,
    };
    let activate = if args.inactive { "&activate=false" } else { "" };
    let info = args
        .remote
        .call(
            reqwest::Method::POST,
            &format!("/api/v1/plugins?name={name}{activate}"),
            Some(bytes),
        )
        .await?;
    println!(
        "{} {name} {} ({}): {} routes",
        if args.inactive {
            "kept (inactive)"
        } else {
            "loaded"
        },
        info["version"].as_str().unwrap_or("?"),
        info["world"].as_str().unwrap_or("?"),
        info["manifest"]["routes"].as_array().map_or(0, Vec::len)
    );
    Ok(())
}

pub(crate) async fn list(remote: Remote) -> anyhow::Result<()> {
    let plugins = remote
        .call(reqwest::Method::GET, "/api/v1/plugins", None)
        .await?;
    for plugin in plugins.as_array().into_iter().flatten() {
        println!(
            "{:<16} {:<10} {}",
            plugin["name"].as_str().unwrap_or("?"),
            plugin["version"].as_str().unwrap_or("?"),
            plugin["world"].as_str().unwrap_or("?")
        );
    }
    Ok(())
}

pub(crate) async fn activate(args: ActivateArgs) -> anyhow::Result<()> {
    let path = format!(
        "/api/v1/plugins/{}/versions/{}/activate",
        args.name, args.version
    );
    args.remote.call(reqwest::Method::POST, &path, None).await?;
    println!("{} {} is serving", args.name, args.version);
    Ok(())
}

pub(crate) async fn rollback(args: RollbackArgs) -> anyhow::Result<()> {
    let path = format!("/api/v1/plugins/{}/rollback", args.name);
    let answer = args.remote.call(reqwest::Method::POST, &path, None).await?;
    println!(
        "{} rolled back; serving {}",
        args.name,
        answer["version"]
            .as_str()
            .or(answer["active"].as_str())
            .unwrap_or("the previous version")
    );
    Ok(())
}
