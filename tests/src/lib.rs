//! Test support: start the real `weft` binary on a free port with its own
//! data directory, and talk to it over real sockets.
//!
//! The binary and plugins come from `make build` / `make test-plugins`
//! (`target/release/weft`, `target/plugins/*.wasm`,
//! `target/test-plugins/*.wasm`); `WEFT_BIN` overrides the binary.

pub mod anomaly;
pub mod schemas;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{Context, bail};
use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Path of the `weft` binary under test.
pub fn weft_binary() -> PathBuf {
    std::env::var_os("WEFT_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target/release/weft"))
}

/// Path of a test plugin built by `make test-plugins`.
pub fn test_plugin(name: &str) -> PathBuf {
    repo_root()
        .join("target/test-plugins")
        .join(format!("{name}.wasm"))
}

/// How many engines `make plugins` built into `target/plugins` (every
/// server the tests start loads them all).
pub fn shipped_plugins() -> usize {
    std::fs::read_dir(repo_root().join("target/plugins"))
        .map(|dir| {
            dir.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "wasm"))
                .count()
        })
        .unwrap_or(0)
}

/// A file under `test_data/`.
pub fn test_data(path: &str) -> PathBuf {
    repo_root().join("test_data").join(path)
}

/// Newest modification time of the source files under `dir` (recursively).
fn newest(dir: &Path) -> Option<std::time::SystemTime> {
    let mut latest = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        // What cargo builds from; a README edit must not count.
        let built_from = path
            .extension()
            .is_some_and(|e| ["rs", "toml", "wit", "json"].contains(&e.to_string_lossy().as_ref()));
        let time = if path.is_dir() {
            newest(&path)
        } else if built_from {
            entry.metadata().and_then(|m| m.modified()).ok()
        } else {
            None
        };
        latest = latest.max(time);
    }
    latest
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Fails when the binary or a plugin is older than the sources it is built
/// from, so the e2e tests never quietly test yesterday's build (`make test`
/// builds first; a bare `cargo test` may not have). Checked once.
fn check_fresh() -> anyhow::Result<()> {
    static CHECKED: std::sync::OnceLock<Result<(), String>> = std::sync::OnceLock::new();
    let outcome = CHECKED.get_or_init(|| {
        let root = repo_root();
        let mut built = vec![(weft_binary(), vec![root.join("host"), root.join("wit")])];
        for dir in ["plugins", "tests/plugins"] {
            for entry in std::fs::read_dir(root.join(dir)).into_iter().flatten().flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                let out = if dir == "plugins" { "target/plugins" } else { "target/test-plugins" };
                let wasm = root.join(out).join(format!("{name}.wasm"));
                if name != "sdk" && wasm.exists() {
                    built.push((wasm, vec![entry.path(), root.join("plugins/sdk"), root.join("wit")]));
                }
            }
        }
        for (artifact, sources) in built {
            let made = modified(&artifact);
            let source = sources.iter().filter_map(|s| newest(s)).max();
            if let (Some(made), Some(source)) = (made, source)
                && source > made
            {
                return Err(format!(
                    "{} is older than its sources: run `make build test-plugins` (or `make test`) first",
                    artifact.display()
                ));
            }
        }
        Ok(())
    });
    outcome.clone().map_err(|e| anyhow::anyhow!(e))
}

/// A running `weft serve`. Killed on drop.
pub struct Server {
    child: Child,
    /// `127.0.0.1:port`.
    pub address: String,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    extra_args: Vec<String>,
    /// HTTP client.
    pub http: reqwest::Client,
}

impl Server {
    /// Starts a server with a fresh data directory and the default plugins.
    pub fn start(extra_args: &[&str]) -> anyhow::Result<Self> {
        let temp = tempfile::tempdir().context("temp data dir")?;
        let data_dir = temp.path().to_owned();
        Self::spawn(
            data_dir,
            Some(temp),
            extra_args.iter().map(|s| (*s).to_owned()).collect(),
        )
    }

    /// Starts a server that caches compiled components in its own data
    /// directory, as a server does by default, rather than in the cache
    /// the test servers share: for tests of the cache itself.
    pub fn start_with_own_cache(extra_args: &[&str]) -> anyhow::Result<Self> {
        let temp = tempfile::tempdir().context("temp data dir")?;
        let data_dir = temp.path().to_owned();
        let mut args: Vec<String> = extra_args.iter().map(|s| (*s).to_owned()).collect();
        args.push("--cache-dir".into());
        args.push(data_dir.join("cache/components").display().to_string());
        Self::spawn(data_dir, Some(temp), args)
    }

    fn spawn(
        data_dir: PathBuf,
        temp: Option<tempfile::TempDir>,
        extra_args: Vec<String>,
    ) -> anyhow::Result<Self> {
        let binary = weft_binary();
        if !binary.exists() {
            bail!(
                "{} is missing: run `make build` first (or set WEFT_BIN)",
                binary.display()
            );
        }
        if std::env::var_os("WEFT_BIN").is_none() {
            check_fresh()?;
        }
        let mut child = Command::new(&binary)
            .arg("serve")
            .args(["--listen", "127.0.0.1:0"])
            .arg("--data-dir")
            .arg(&data_dir)
            .arg("--plugins")
            .arg(repo_root().join("target/plugins"))
            .args(&extra_args)
            .env("WEFT_LOG", "warn")
            // One compile cache for every test server: each would otherwise
            // compile every plugin again (seconds per start).
            .env(
                "WEFT_CACHE_DIR",
                repo_root().join("target/test-component-cache"),
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        let stdout = child.stdout.take().context("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("weft listening on http://") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let address = match rx.recv_timeout(Duration::from_secs(120)) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                bail!("weft did not start listening within 120 s");
            }
        };
        Ok(Self {
            child,
            address,
            data_dir,
            _temp: temp,
            extra_args,
            http: reqwest::Client::new(),
        })
    }

    /// Stops this server and starts another on the same data directory.
    pub fn restart(mut self) -> anyhow::Result<Self> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let temp = self._temp.take();
        let data_dir = self.data_dir.clone();
        let args = std::mem::take(&mut self.extra_args);
        Self::spawn(data_dir, temp, args)
    }

    /// Stops this server as an operator would (SIGTERM, so it shuts down
    /// gracefully) and starts another on the same data directory.
    pub fn restart_gracefully(mut self) -> anyhow::Result<Self> {
        let pid = self.child.id().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .context("kill -TERM")?;
        anyhow::ensure!(status.success(), "kill -TERM {pid} failed");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while self.child.try_wait()?.is_none() {
            anyhow::ensure!(
                std::time::Instant::now() < deadline,
                "the server did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let temp = self._temp.take();
        let data_dir = self.data_dir.clone();
        let args = std::mem::take(&mut self.extra_args);
        Self::spawn(data_dir, temp, args)
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory, from `/proc` (Linux).
    pub fn resident_bytes(&self) -> anyhow::Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .context("no VmRSS in /proc/<pid>/status")?
            .parse()?;
        Ok(kib * 1024)
    }

    /// `http://address/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.address, path)
    }

    /// `ws://address/path`.
    pub fn ws_url(&self, path: &str) -> String {
        format!("ws://{}{}", self.address, path)
    }

    /// GET → (status, JSON body).
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self.http.get(self.url(path)).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.context("JSON body")?))
    }

    /// GET → (status, body text), for answers that are not JSON.
    pub async fn get_raw(&self, path: &str) -> anyhow::Result<(u16, String)> {
        let response = self.http.get(self.url(path)).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.text().await.context("text body")?))
    }

    /// POST JSON → (status, JSON body).
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let response = self.http.post(self.url(path)).json(body).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.context("JSON body")?))
    }

    /// POST raw bytes with a content type → (status, JSON body).
    pub async fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> anyhow::Result<(u16, Value)> {
        let response = self
            .http
            .post(self.url(path))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.context("JSON body")?))
    }

    /// DELETE → (status, JSON body).
    pub async fn delete(&self, path: &str) -> anyhow::Result<(u16, Value)> {
        let response = self.http.delete(self.url(path)).send().await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.context("JSON body")?))
    }

    /// Uploads a component as plugin `name`.
    pub async fn load_plugin(&self, name: &str, wasm: &Path) -> anyhow::Result<(u16, Value)> {
        let bytes = std::fs::read(wasm)
            .with_context(|| format!("{} missing: run `make test-plugins`", wasm.display()))?;
        let response = self
            .http
            .post(self.url(&format!("/api/v1/plugins?name={name}")))
            .header("content-type", "application/wasm")
            .body(bytes)
            .send()
            .await?;
        let status = response.status().as_u16();
        Ok((status, response.json().await.context("JSON body")?))
    }

    /// A `graphql-transport-ws` client of `/graphql/ws`, past its
    /// `connection_ack`.
    pub async fn graphql_ws(&self) -> anyhow::Result<WsClient> {
        let mut ws =
            WsClient::connect(&self.ws_url("/graphql/ws"), Some("graphql-transport-ws")).await?;
        ws.send(&serde_json::json!({"type": "connection_init", "payload": {}}))
            .await?;
        let ack = ws.recv().await?;
        anyhow::ensure!(
            ack["type"] == "connection_ack",
            "expected connection_ack, got {ack}"
        );
        Ok(ws)
    }

    /// Polls job `id` until it has ended (at most two minutes); returns it.
    pub async fn wait_job(&self, id: &str) -> anyhow::Result<Value> {
        for _ in 0..1200 {
            let (_, job) = self.get(&format!("/api/v1/jobs/{id}")).await?;
            if matches!(
                job["state"].as_str(),
                Some("succeeded" | "failed" | "cancelled")
            ) {
                return Ok(job);
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        anyhow::bail!("job {id} did not finish within two minutes")
    }

    /// Submits a job and waits for it to finish; returns the job.
    pub async fn run_job(&self, engine: &str, op: &str, params: Value) -> anyhow::Result<Value> {
        let body = serde_json::json!({ "engine": engine, "op": op, "params": params });
        let (status, job) = self.post("/api/v1/jobs?wait=true", &body).await?;
        // A finished job answers its record, with a status that says how it
        // ended (200, or the failure's 4xx/5xx).
        let finished = job["state"]
            .as_str()
            .is_some_and(|s| matches!(s, "succeeded" | "failed" | "cancelled"));
        if !finished {
            bail!("job did not finish: {status} {job}");
        }
        Ok(job)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A WebSocket client speaking JSON text frames.
pub struct WsClient {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    /// Schema family every received message is checked against.
    schemas: Option<&'static str>,
}

impl WsClient {
    /// Connects, optionally asking for a subprotocol.
    pub async fn connect(url: &str, subprotocol: Option<&str>) -> anyhow::Result<Self> {
        let mut request = url.into_client_request()?;
        if let Some(protocol) = subprotocol {
            request
                .headers_mut()
                .insert("sec-websocket-protocol", protocol.parse()?);
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await?;
        Ok(Self {
            stream,
            schemas: None,
        })
    }

    /// Checks every message received from now on against the schemas of
    /// `family` (see [`schemas::check`]); a mismatch fails the receive.
    pub fn validating(mut self, family: &'static str) -> Self {
        self.schemas = Some(family);
        self
    }

    /// Connects with a tiny TCP receive buffer, so that a client that stops
    /// reading pushes back on the server after a few kilobytes.
    pub async fn connect_with_small_buffer(url: &str) -> anyhow::Result<Self> {
        let request = url.into_client_request()?;
        let host = request.uri().host().context("no host")?;
        let port = request.uri().port_u16().context("no port")?;
        let address: std::net::SocketAddr = format!("{host}:{port}").parse()?;
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.set_recv_buffer_size(4096)?;
        let tcp = socket.connect(address).await?;
        let (stream, _) =
            tokio_tungstenite::client_async(request, tokio_tungstenite::MaybeTlsStream::Plain(tcp))
                .await?;
        Ok(Self {
            stream,
            schemas: None,
        })
    }

    /// Sends one JSON message.
    pub async fn send(&mut self, message: &Value) -> anyhow::Result<()> {
        self.stream
            .send(Message::Text(message.to_string().into()))
            .await?;
        Ok(())
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: &str) -> anyhow::Result<()> {
        self.stream
            .send(Message::Text(text.to_owned().into()))
            .await?;
        Ok(())
    }

    /// The next JSON message, within `timeout`.
    pub async fn recv_within(&mut self, timeout: Duration) -> anyhow::Result<Value> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let frame = tokio::time::timeout_at(deadline, self.stream.next())
                .await
                .context("timed out waiting for a message")?
                .context("connection closed")??;
            match frame {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(text.as_str())?;
                    if let Some(family) = self.schemas {
                        schemas::check(family, &message)?;
                    }
                    return Ok(message);
                }
                Message::Close(frame) => bail!("server closed the connection: {frame:?}"),
                _ => continue,
            }
        }
    }

    /// The next JSON message, within 10 s.
    pub async fn recv(&mut self) -> anyhow::Result<Value> {
        self.recv_within(Duration::from_secs(10)).await
    }

    /// Starts GraphQL subscription `query` as operation `id`, then waits a
    /// moment: the protocol has no subscribe acknowledgement, and events
    /// published before the server attaches it are not replayed.
    pub async fn subscribe_graphql(&mut self, id: &str, query: &str) -> anyhow::Result<()> {
        self.send(&serde_json::json!({"id": id, "type": "subscribe", "payload": {"query": query}}))
            .await?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(())
    }

    /// Reads messages until one satisfies `wanted`, returning everything
    /// read (the match last).
    pub async fn recv_until(
        &mut self,
        wanted: impl Fn(&Value) -> bool,
    ) -> anyhow::Result<Vec<Value>> {
        let mut seen = Vec::new();
        loop {
            let message = self.recv().await?;
            let done = wanted(&message);
            seen.push(message);
            if done {
                return Ok(seen);
            }
        }
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = self.stream.close(None).await;
    }
}
