//! The `weft` binary: reads configuration, wires bus, runtime, jobs and
//! gateway together, and serves. No logic of its own lives here.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::sync::Arc;

use weft_bus::{Bus, BusConfig};
use weft_runtime::{Jobs, JobsConfig, Runtime, SandboxConfig};
use weft_storage::events::{EventSink, Family};
use weft_storage::lsm::LsmOptions;
use weft_storage::{Store, StoreOptions};

mod plugin_kit;
mod run_job;
mod serve;
mod watch;
mod write_wit;

#[derive(Parser)]
#[command(
    name = "weft",
    version,
    about = "Weft: a plugin-host runtime for data engines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the server.
    Serve(Box<ServeArgs>),
    /// Submit a job to a running server, show its progress, print its result.
    Run(run_job::RunArgs),
    /// Write the WIT this binary binds into a folder, for building plugins.
    Wit(write_wit::WitArgs),
    /// Write, build, test and install plugins (the author's kit).
    #[command(subcommand)]
    Plugin(plugin_kit::PluginCommand),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "WEFT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where jobs, the component cache and (later) storage live.
    #[arg(long, env = "WEFT_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Where compiled components are cached (default: under the data
    /// directory). Servers may share one.
    #[arg(long, env = "WEFT_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// Directory of `<engine>.wasm` plugins loaded at start.
    #[arg(long, env = "WEFT_PLUGINS", default_value = "target/plugins")]
    plugins: PathBuf,
    /// Watch this directory and load each `<name>.wasm` that appears or
    /// changes (the earlier version is kept; see `/api/v1/plugins/{name}/versions`).
    #[arg(long, env = "WEFT_PLUGINS_WATCH")]
    plugins_watch: Option<PathBuf>,
    /// Wall-clock limit of one job, in seconds.
    #[arg(long, env = "WEFT_JOB_TIMEOUT_SECS", default_value_t = 300)]
    job_timeout_secs: u64,
    /// Linear memory one plugin instance may use, in MiB.
    #[arg(long, env = "WEFT_MAX_MEMORY_MIB", default_value_t = 512)]
    max_memory_mib: usize,
    /// Jobs running at once (default: number of cores).
    #[arg(long, env = "WEFT_WORKERS")]
    workers: Option<usize>,
    /// Jobs one tenant may have waiting for a worker; more answer 429.
    #[arg(long, env = "WEFT_MAX_QUEUED_PER_TENANT", default_value_t = 1000)]
    max_queued_per_tenant: usize,
    /// Jobs one tenant may have running at once (default: every worker on
    /// an open server, all but one with --api-keys, so a tenant's flood
    /// leaves a worker for the others).
    #[arg(long, env = "WEFT_MAX_RUNNING_PER_TENANT")]
    max_running_per_tenant: Option<usize>,
    /// Events kept per topic for replay.
    #[arg(long, env = "WEFT_RETAIN_EVENTS", default_value_t = 1024)]
    retain_events: usize,
    /// MiB of events kept for replay in all (oldest dropped first).
    #[arg(long, env = "WEFT_RETAIN_MIB", default_value_t = 512)]
    retain_mib: usize,
    /// MiB of events kept for replay per tenant (its oldest dropped first).
    #[arg(long, env = "WEFT_RETAIN_MIB_PER_TENANT", default_value_t = 128)]
    retain_mib_per_tenant: usize,
    /// How long events are kept for replay, in seconds.
    #[arg(long, env = "WEFT_RETAIN_SECS", default_value_t = 3600)]
    retain_secs: u64,
    /// Seconds between the server's WebSocket pings.
    #[arg(long, env = "WEFT_WS_PING_SECS", default_value_t = 30)]
    ws_ping_secs: u64,
    /// Seconds of client silence (not even a pong) before a WebSocket is closed.
    #[arg(long, env = "WEFT_WS_IDLE_SECS", default_value_t = 90)]
    ws_idle_secs: u64,
    /// Kernel send buffer per connection, in KiB (bounds what a stalled client holds).
    #[arg(long, env = "WEFT_SOCKET_SEND_BUFFER_KIB", default_value_t = 256)]
    socket_send_buffer_kib: usize,
    /// Seconds a client has to send a request's headers before its
    /// connection is closed (slow clients hold a connection each).
    #[arg(long, env = "WEFT_HEADER_READ_SECS", default_value_t = 10)]
    header_read_secs: u64,
    /// Seconds shutdown (SIGTERM, Ctrl-C) waits for open connections and
    /// unfinished jobs; jobs still running then are cancelled.
    #[arg(long, env = "WEFT_SHUTDOWN_GRACE_SECS", default_value_t = 10)]
    shutdown_grace_secs: u64,
    /// Largest request body read whole, in MiB: a job's JSON (with inline
    /// edges or rows), a collection value (itself at most 16 MiB).
    /// Streamed uploads (datasets, engines' byte routes) are bounded
    /// separately.
    #[arg(long, env = "WEFT_MAX_REQUEST_MIB", default_value_t = 64)]
    max_request_mib: usize,
    /// Connections one client address may hold at once; more are closed
    /// as they arrive.
    #[arg(long, env = "WEFT_MAX_CONNECTIONS_PER_IP", default_value_t = 512)]
    max_connections_per_ip: usize,
    /// API keys, one `<tenant> <key> [operator]` per line. Without it the
    /// server is open: one tenant, every caller an operator.
    #[arg(long, env = "WEFT_API_KEYS")]
    api_keys: Option<PathBuf>,
    /// Seconds a streaming session without clients is kept before it is closed.
    #[arg(long, env = "WEFT_SESSION_IDLE_SECS", default_value_t = 300)]
    session_idle_secs: u64,
    /// Requests queued per streaming session before clients get `backpressure`.
    #[arg(long, env = "WEFT_SESSION_QUEUE", default_value_t = 256)]
    session_queue: usize,
    /// Streaming sessions one tenant may hold (default: all of them on an
    /// open server, half with --api-keys).
    #[arg(long, env = "WEFT_MAX_SESSIONS_PER_TENANT")]
    max_sessions_per_tenant: Option<usize>,
    /// Streaming sessions alive at once (each holds a sandboxed instance).
    #[arg(long, env = "WEFT_MAX_SESSIONS", default_value_t = 32)]
    max_sessions: usize,
    /// Seconds a dataset upload may go without sending a byte before it is
    /// ended with 408 (a stalled upload must not hold a loader).
    #[arg(long, env = "WEFT_UPLOAD_IDLE_SECS", default_value_t = 30)]
    upload_idle_secs: u64,
    /// Dataset uploads in progress at once; more answer 503 until one ends.
    #[arg(long, env = "WEFT_MAX_UPLOADS", default_value_t = 16)]
    max_uploads: usize,
    /// Seconds between snapshots of a busy streaming session into storage
    /// (sessions are also snapshotted at shutdown); 0: only at shutdown.
    #[arg(long, env = "WEFT_SESSION_SNAPSHOT_SECS", default_value_t = 60)]
    session_snapshot_secs: u64,
    /// Seconds between a streaming session's stats broadcasts.
    #[arg(long, env = "WEFT_SESSION_STATS_SECS", default_value_t = 5)]
    session_stats_secs: u64,
    /// Buffer pool size of host storage, MiB.
    #[arg(long, env = "WEFT_BUFFER_POOL_MIB", default_value_t = 64)]
    buffer_pool_mib: usize,
    /// When the storage write-ahead log is synced: `always` (before a write
    /// is acknowledged, with group commit), `never`, or an interval `<n>ms`.
    #[arg(long, env = "WEFT_FSYNC", default_value = "always")]
    fsync: String,
    /// Seconds a storage segment may go unread before it is compressed to
    /// the cold tier (0: never); changeable at PUT /api/v1/storage/tier-policy.
    #[arg(long, env = "WEFT_COLD_AFTER_SECS", default_value_t = 600)]
    cold_after_secs: u64,
}

/// Runs the command; an error is printed as one plain message (its
/// causes after colons), never with a backtrace: they are for bugs, and
/// `RUST_BACKTRACE` is often set for other reasons.
fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let cli = Cli::parse();
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match cli.command {
        Command::Serve(args) => tokio.block_on(serve(*args)),
        Command::Run(args) => tokio.block_on(run_job::run(args)),
        Command::Wit(args) => write_wit::run(&args),
        Command::Plugin(command) => plugin_kit::run(command, &tokio),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
    let bus = Bus::new(BusConfig {
        retain_per_topic: args.retain_events,
        retain_for: Duration::from_secs(args.retain_secs),
        retain_bytes: args.retain_mib.max(1) << 20,
        retain_bytes_per_tenant: args.retain_mib_per_tenant.max(1) << 20,
        ..BusConfig::default()
    });
    let sandbox = SandboxConfig {
        max_memory_bytes: args.max_memory_mib << 20,
        job_timeout: Duration::from_secs(args.job_timeout_secs),
        ..SandboxConfig::default()
    };
    let runtime = match &args.cache_dir {
        Some(dir) => Runtime::with_cache(dir, sandbox, bus.clone())?,
        None => Runtime::new(&args.data_dir, sandbox, bus.clone())?,
    };
    let store = open_store(&args, &bus)?;
    runtime.attach_storage(store.clone());
    // Before any plugin loads, so none can take a host route.
    runtime.reserve_host_surface(weft_gateway::host_surface());
    if args.plugins.is_dir() {
        let plugins = args.plugins.clone();
        let loader = runtime.clone();
        let outcomes = tokio::task::spawn_blocking(move || loader.load_dir(&plugins)).await??;
        for (path, outcome) in outcomes {
            if let Err(error) = outcome {
                tracing::error!(path = %path.display(), %error, "plugin not loaded");
            }
        }
    } else {
        tracing::warn!(
            dir = %args.plugins.display(),
            "plugin directory not found; run `make plugins` or load plugins with POST /api/v1/plugins"
        );
    }
    if let Some(dir) = &args.plugins_watch {
        if !dir.is_dir() {
            anyhow::bail!(
                "--plugins-watch {} is not a directory; create it, or point it at the folder your plugin build writes to",
                dir.display()
            );
        }
        let same = dir.canonicalize().ok() == args.plugins.canonicalize().ok();
        watch::spawn(runtime.clone(), dir.clone(), same)
            .context("cannot start watching plugins")?;
    }
    let mut jobs_config = JobsConfig {
        max_queued_per_tenant: args.max_queued_per_tenant.max(1),
        ..JobsConfig::default()
    };
    if let Some(workers) = args.workers {
        jobs_config.workers = workers;
    }
    // With tenants, one of them may not take every worker; an open server
    // has one tenant, which may.
    jobs_config.max_running_per_tenant = match (args.max_running_per_tenant, &args.api_keys) {
        (Some(share), _) => share.max(1),
        (None, Some(_)) => jobs_config.workers.saturating_sub(1).max(1),
        (None, None) => jobs_config.workers,
    };
    let jobs = Jobs::open(runtime.clone(), bus.clone(), &args.data_dir, jobs_config)?;
    let jobs_for_shutdown = jobs.clone();

    let sweeper = bus.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(10));
        loop {
            every.tick().await;
            sweeper.sweep();
        }
    });

    let api_keys = match &args.api_keys {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading --api-keys {}", path.display()))?;
            let keys = weft_gateway::ApiKeys::parse(&text)
                .with_context(|| format!("in --api-keys {}", path.display()))?;
            Some(Arc::new(keys))
        }
        None => {
            tracing::info!(
                "no --api-keys: open server, every caller is tenant 'default' with operator rights"
            );
            None
        }
    };
    let sessions = weft_runtime::Sessions::new(
        weft_runtime::SessionsConfig {
            idle_timeout: Duration::from_secs(args.session_idle_secs),
            queue: args.session_queue.max(1),
            max_sessions: args.max_sessions,
            max_sessions_per_tenant: match (args.max_sessions_per_tenant, &args.api_keys) {
                (Some(share), _) => share.max(1),
                (None, Some(_)) => (args.max_sessions / 2).max(1),
                (None, None) => args.max_sessions,
            },
            call_timeout: Duration::from_secs(args.job_timeout_secs.clamp(1, 60)),
            stats_interval: Duration::from_secs(args.session_stats_secs.max(1)),
            snapshot_interval: Duration::from_secs(args.session_snapshot_secs),
        },
        runtime.clone(),
    );
    let app = weft_gateway::router(weft_gateway::AppState {
        api_keys,
        runtime: runtime.clone(),
        jobs,
        bus: bus.clone(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        default_tenant: "default".to_owned(),
        connections: weft_gateway::Connections::default(),
        websocket: weft_gateway::WebSocketConfig {
            ping_interval: Duration::from_secs(args.ws_ping_secs.max(1)),
            idle_timeout: Duration::from_secs(args.ws_idle_secs.max(1)),
        },
        sessions: sessions.clone(),
        store,
        max_request_bytes: args.max_request_mib.max(1) << 20,
        uploads: weft_gateway::Uploads::new(
            args.max_uploads.max(1),
            Duration::from_secs(args.upload_idle_secs.max(1)),
        ),
    });
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {}; is another server running there? (--listen)",
                args.listen
            )
        })?;
    let address = listener.local_addr()?;
    tracing::info!(%address, plugins = runtime.plugins().len(), "weft is serving");
    // A parseable line for scripts and tests that start us on port 0.
    println!("weft listening on http://{address}");
    // A fixed send buffer per connection bounds what a client that stops
    // reading can hold in the kernel (autotuning would let each grow to
    // 4 MiB): past it, the connection's queues fill and it is told it lagged.
    let limits = serve::Limits {
        header_read: Duration::from_secs(args.header_read_secs.max(1)),
        per_ip: args.max_connections_per_ip.max(1),
        send_buffer: args.socket_send_buffer_kib.max(16) * 1024,
        shutdown_grace: Duration::from_secs(args.shutdown_grace_secs),
    };
    serve::serve(listener, app, limits, shutdown_signal()).await;
    // Jobs get the same grace, then are cancelled (and recorded so), rather
    // than holding the process until their deadline.
    jobs_for_shutdown
        .shutdown(Duration::from_secs(args.shutdown_grace_secs))
        .await;
    // Sessions are snapshotted into storage so that they resume after the
    // restart; each takes one plugin call.
    tokio::task::spawn_blocking(move || sessions.shutdown(Duration::from_secs(10)))
        .await
        .context("session shutdown failed")?;
    Ok(())
}

/// Storage events go to the bus under the default tenant (collections are
/// per tenant; their events will be too once requests carry a tenant).
struct BusSink(Bus);

impl EventSink for BusSink {
    fn emit(&self, family: Family, kind: &'static str, data: serde_json::Value) {
        let event = weft_bus::NewEvent {
            topic: family.topic().to_owned(),
            tenant: "default".to_owned(),
            source: None,
            kind: kind.to_owned(),
            data,
        };
        if let Err(error) = self.0.publish(event) {
            tracing::warn!(%error, "storage event not published");
        }
    }
}

/// Opens host storage under `<data-dir>/storage` and publishes its figures
/// every 100 ms (only when they changed, so an idle server is silent).
fn open_store(args: &ServeArgs, bus: &Bus) -> anyhow::Result<Arc<Store>> {
    let options = StoreOptions {
        pool_bytes: args.buffer_pool_mib << 20,
        lsm: LsmOptions {
            sync: args
                .fsync
                .parse()
                .map_err(|e: String| anyhow::anyhow!(e))
                .context("--fsync")?,
            ..LsmOptions::default()
        },
        cold_after_secs: args.cold_after_secs,
    };
    let root = args.data_dir.join("storage");
    let store = Store::open(&root, options, Some(Arc::new(BusSink(bus.clone()))))
        .with_context(|| format!("cannot open storage in {}", root.display()))?;
    let store = Arc::new(store);
    let ticker = store.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_millis(100));
        let mut ticks = 0u64;
        loop {
            every.tick().await;
            ticks += 1;
            let store = ticker.clone();
            let tiers = ticks.is_multiple_of(10);
            // The tier policy runs every 10 s.
            let policy = ticks.is_multiple_of(100);
            let _ = tokio::task::spawn_blocking(move || {
                store.emit_stats(tiers);
                if policy && let Err(error) = store.apply_tier_policy() {
                    tracing::warn!(%error, "tier migration failed");
                }
            })
            .await;
        }
    });
    Ok(store)
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}
