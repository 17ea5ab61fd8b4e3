//! Jobs: submit, queue for a worker, run in a fresh sandboxed instance,
//! record, cancel, wait.
//!
//! Every state change is published as a `job_state` event on `jobs.<id>`
//! and the op's family topic, and appended to the job log in the data
//! directory, so a job's record outlives the process. Jobs run on tokio's
//! blocking pool, at most `workers` at once; the gateway never waits on a
//! plugin.

use std::collections::{HashMap, VecDeque};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use anyhow::Context;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::{Semaphore, watch};
use weft_bus::{Bus, NewEvent, Source};
use weft_storage::RecordLog;

use crate::job::{Job, JobError, JobProgress, JobState};
use crate::plugin::{Invocation, LoadedPlugin};
use crate::{Runtime, RuntimeError};

/// Which jobs [`Jobs::list`] answers.
#[derive(Clone, Copy, Debug, Default)]
pub struct ListFilter<'a> {
    /// Only jobs in this state.
    pub state: Option<JobState>,
    /// Only this engine's.
    pub engine: Option<&'a str>,
    /// Only this tenant's.
    pub tenant: Option<&'a str>,
    /// Only jobs older than this one (a page's cursor).
    pub before: Option<&'a str>,
    /// Include each job's result.
    pub with_results: bool,
}

/// How jobs are run and kept.
#[derive(Clone, Debug)]
pub struct JobsConfig {
    /// Jobs running at once.
    pub workers: usize,
    /// Finished jobs kept in memory for `GET /jobs/{id}`.
    pub retained_jobs: usize,
    /// Jobs one tenant may have queued (not yet running); past it submits
    /// are refused, so one tenant cannot bury the others' jobs.
    pub max_queued_per_tenant: usize,
    /// Jobs one tenant may have running at once: below `workers`, a tenant
    /// with a thousand queued jobs leaves workers for the others, whose
    /// jobs start as soon as one is free instead of behind the queue.
    pub max_running_per_tenant: usize,
}

impl Default for JobsConfig {
    fn default() -> Self {
        Self {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            retained_jobs: 10_000,
            max_queued_per_tenant: 1000,
            max_running_per_tenant: usize::MAX,
        }
    }
}

/// A request to run `op` on `engine`.
#[derive(Clone, Debug)]
pub struct SubmitRequest {
    /// Plugin name.
    pub engine: String,
    /// Operation.
    pub op: String,
    /// Params, checked against the op's schema.
    pub params: serde_json::Value,
    /// Tenant the job runs for.
    pub tenant: String,
    /// A version of the engine to run on instead of the active one.
    pub version: Option<String>,
}

/// The job manager. Clones share state.
#[derive(Clone)]
pub struct Jobs {
    inner: Arc<Inner>,
}

struct Inner {
    runtime: Runtime,
    bus: Bus,
    log: Mutex<RecordLog>,
    table: RwLock<Table>,
    workers: Arc<Semaphore>,
    /// Each tenant's share of the workers (`max_running_per_tenant`).
    tenant_slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    config: JobsConfig,
    /// Set once shutdown stops waiting: cancellations then say so.
    shutting_down: AtomicBool,
}

#[derive(Default)]
struct Table {
    by_id: HashMap<String, Arc<Entry>>,
    /// Ids oldest first, for listing and eviction.
    order: VecDeque<String>,
}

struct Entry {
    job: Mutex<Job>,
    cancel: Arc<AtomicBool>,
    finished: watch::Sender<bool>,
}

impl Entry {
    fn new(job: Job) -> Arc<Self> {
        let finished = job.state.is_final();
        Arc::new(Self {
            job: Mutex::new(job),
            cancel: Arc::new(AtomicBool::new(false)),
            finished: watch::channel(finished).0,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Job> {
        self.job.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Jobs {
    /// Opens the job log in `data_dir` and restores recorded jobs. Jobs
    /// that were queued or running when the server stopped are marked
    /// failed: their instance died with the process.
    pub fn open(
        runtime: Runtime,
        bus: Bus,
        data_dir: &Path,
        config: JobsConfig,
    ) -> anyhow::Result<Self> {
        let (mut log, records, _damaged) = RecordLog::open::<Job>(&data_dir.join("jobs.log"))
            .context("cannot open the job log")?;
        let record_count = records.len();
        let mut latest: HashMap<String, Job> = HashMap::new();
        let mut order = Vec::new();
        for job in records {
            if !latest.contains_key(&job.job_id) {
                order.push(job.job_id.clone());
            }
            latest.insert(job.job_id.clone(), job);
        }
        let mut table = Table::default();
        for id in order {
            let Some(mut job) = latest.remove(&id) else {
                continue;
            };
            if !job.state.is_final() {
                job.state = JobState::Failed;
                job.error = Some(JobError::new(
                    "server_restarted",
                    "the server stopped while this job was queued or running; submit it again",
                ));
                job.finished_at = Some(OffsetDateTime::now_utc());
                log.append(&job).context("cannot update the job log")?;
            }
            table.order.push_back(id.clone());
            table.by_id.insert(id, Entry::new(job));
        }
        let jobs = Self {
            inner: Arc::new(Inner {
                runtime,
                bus,
                log: Mutex::new(log),
                table: RwLock::new(table),
                workers: Arc::new(Semaphore::new(config.workers.max(1))),
                tenant_slots: Mutex::default(),
                config,
                shutting_down: AtomicBool::new(false),
            }),
        };
        jobs.evict();
        // Each job is recorded at least twice (queued, finished); once the
        // log holds far more records than jobs we keep, rewrite it.
        if record_count > 4 * jobs.inner.config.retained_jobs.max(1) {
            let kept: Vec<Job> = {
                let table = jobs.read_table();
                table
                    .order
                    .iter()
                    .filter_map(|id| table.by_id.get(id))
                    .map(|e| e.lock().clone())
                    .collect()
            };
            let mut log = jobs.inner.log.lock().unwrap_or_else(|p| p.into_inner());
            log.rewrite(&kept).context("cannot compact the job log")?;
            tracing::info!(
                records = record_count,
                kept = kept.len(),
                "compacted the job log"
            );
        }
        Ok(jobs)
    }

    /// Validates and queues a job; returns it in state `queued`. Must be
    /// called inside a tokio runtime.
    pub fn submit(&self, request: SubmitRequest) -> Result<Job, RuntimeError> {
        let plugin = match &request.version {
            Some(version) => self
                .inner
                .runtime
                .plugin_version(&request.engine, version)?,
            None => self.inner.runtime.plugin(&request.engine)?,
        };
        plugin.check_request(&request.op, &request.params)?;
        let limit = self.inner.config.max_queued_per_tenant;
        let queued = self.queued_of(&request.tenant);
        if queued >= limit {
            return Err(RuntimeError::TooMany(format!(
                "tenant '{}' has {queued} jobs queued, the most it may (--max-queued-per-tenant); wait for some to start, or cancel some",
                request.tenant
            )));
        }
        let job_id = uuid::Uuid::now_v7().to_string();
        let job = Job {
            topic: format!("jobs.{job_id}"),
            job_id: job_id.clone(),
            engine: request.engine,
            op: request.op,
            engine_version: plugin.info().version.clone(),
            tenant: request.tenant,
            state: JobState::Queued,
            progress: JobProgress::default(),
            result: None,
            error: None,
            created_at: OffsetDateTime::now_utc(),
            started_at: None,
            finished_at: None,
        };
        let entry = Entry::new(job.clone());
        {
            let mut table = self.write_table();
            table.order.push_back(job_id.clone());
            table.by_id.insert(job_id, entry.clone());
        }
        self.evict();
        self.inner.publish_state(&plugin, &job);
        tokio::spawn(run(self.inner.clone(), entry, plugin, request.params));
        Ok(job)
    }

    /// Jobs of `tenant` waiting for a worker.
    fn queued_of(&self, tenant: &str) -> usize {
        let table = self.read_table();
        table
            .order
            .iter()
            .rev()
            .filter_map(|id| table.by_id.get(id))
            .filter(|entry| {
                let job = entry.lock();
                job.state == JobState::Queued && job.tenant == tenant
            })
            .count()
    }

    /// The job `id`.
    pub fn get(&self, id: &str) -> Result<Job, RuntimeError> {
        Ok(self.entry(id)?.lock().clone())
    }

    /// Jobs newest first, optionally only in `state`, of `engine` or of
    /// `tenant`, and only those older than job `before` (the previous
    /// page's last). Results are left out unless `with_results`: a list of
    /// a thousand jobs should not carry a thousand results.
    pub fn list(&self, filter: &ListFilter<'_>, limit: usize) -> Vec<Job> {
        let table = self.read_table();
        let mut ids = table.order.iter().rev().peekable();
        if let Some(before) = filter.before {
            // Ids are time-ordered; skip to the one after the cursor.
            while ids.next_if(|id| id.as_str() != before).is_some() {}
            ids.next();
        }
        ids.filter_map(|id| table.by_id.get(id))
            .filter_map(|entry| {
                let job = entry.lock();
                let keep = filter.state.is_none_or(|s| job.state == s)
                    && filter.engine.is_none_or(|e| job.engine == e)
                    && filter.tenant.is_none_or(|t| job.tenant == t);
                keep.then(|| {
                    if filter.with_results {
                        job.clone()
                    } else {
                        job.without_result()
                    }
                })
            })
            .take(limit)
            .collect()
    }

    /// Number of jobs in each state.
    pub fn counts(&self) -> HashMap<JobState, usize> {
        let mut counts = HashMap::new();
        for entry in self.read_table().by_id.values() {
            *counts.entry(entry.lock().state).or_default() += 1;
        }
        counts
    }

    /// Cancels job `id`. A queued job is cancelled at once; a running one
    /// is interrupted within one epoch tick.
    pub fn cancel(&self, id: &str) -> Result<Job, RuntimeError> {
        let entry = self.entry(id)?;
        let state = entry.lock().state;
        if state.is_final() {
            return Err(RuntimeError::Conflict(format!(
                "job {id} already {}",
                state.as_str()
            )));
        }
        entry.cancel.store(true, Ordering::Relaxed);
        if state == JobState::Queued {
            // Bind the name first: a guard taken in the `if let` scrutinee
            // would live through the block, and `finish` locks the entry
            // again (that deadlocked cancelling a queued job).
            let engine = entry.lock().engine.clone();
            if let Ok(plugin) = self.inner.runtime.plugin(&engine) {
                self.inner.finish(
                    &entry,
                    &plugin,
                    Err(JobError::new("cancelled", "the job was cancelled")),
                );
            } else {
                self.inner.finish_without_plugin(
                    &entry,
                    JobError::new("cancelled", "the job was cancelled"),
                );
            }
        }
        Ok(entry.lock().clone())
    }

    /// Lets queued and running jobs finish for up to `grace`, then cancels
    /// the rest, recorded as cancelled by shutdown (their `started_at`
    /// kept), and waits briefly for them to stop. Logs what it waits for.
    pub async fn shutdown(&self, grace: Duration) {
        let pending = || -> Vec<Arc<Entry>> {
            self.read_table()
                .by_id
                .values()
                .filter(|e| !e.lock().state.is_final())
                .cloned()
                .collect()
        };
        let waiting = pending();
        if waiting.is_empty() {
            return;
        }
        let ids: Vec<String> = waiting.iter().map(|e| e.lock().job_id.clone()).collect();
        tracing::info!(jobs = ?ids, ?grace, "shutdown: waiting for unfinished jobs");
        let all_finished = async {
            for entry in &waiting {
                let mut finished = entry.finished.subscribe();
                let _ = finished.wait_for(|done| *done).await;
            }
        };
        if tokio::time::timeout(grace, all_finished).await.is_ok() {
            return;
        }
        self.inner.shutting_down.store(true, Ordering::Relaxed);
        let left = pending();
        let ids: Vec<String> = left.iter().map(|e| e.lock().job_id.clone()).collect();
        tracing::warn!(jobs = ?ids, "shutdown: cancelling jobs still unfinished after the grace period (--shutdown-grace-secs)");
        for id in &ids {
            let _ = self.cancel(id);
        }
        let stopped = async {
            for entry in &left {
                let mut finished = entry.finished.subscribe();
                let _ = finished.wait_for(|done| *done).await;
            }
        };
        if tokio::time::timeout(Duration::from_secs(5), stopped)
            .await
            .is_err()
        {
            tracing::warn!("shutdown: some cancelled jobs did not stop within 5 s");
        }
    }

    /// Waits until job `id` is final or `timeout` passes; returns it as it
    /// is then.
    pub async fn wait(&self, id: &str, timeout: Duration) -> Result<Job, RuntimeError> {
        let entry = self.entry(id)?;
        let mut finished = entry.finished.subscribe();
        let _ = tokio::time::timeout(timeout, finished.wait_for(|done| *done)).await;
        Ok(entry.lock().clone())
    }

    fn entry(&self, id: &str) -> Result<Arc<Entry>, RuntimeError> {
        self.read_table().by_id.get(id).cloned().ok_or_else(|| {
            RuntimeError::NotFound(format!("job '{id}' does not exist (or has been forgotten)"))
        })
    }

    /// Forgets the oldest finished jobs beyond the retention count.
    fn evict(&self) {
        let mut table = self.write_table();
        let mut excess = table
            .order
            .len()
            .saturating_sub(self.inner.config.retained_jobs);
        if excess == 0 {
            // The common case on every submit: nothing to scan.
            return;
        }
        let mut kept = VecDeque::with_capacity(table.order.len());
        while let Some(id) = table.order.pop_front() {
            let finished = table
                .by_id
                .get(&id)
                .is_some_and(|e| e.lock().state.is_final());
            if excess > 0 && finished {
                table.by_id.remove(&id);
                excess -= 1;
            } else {
                kept.push_back(id);
            }
            if excess == 0 {
                kept.extend(table.order.drain(..));
            }
        }
        table.order = kept;
    }

    fn read_table(&self) -> std::sync::RwLockReadGuard<'_, Table> {
        self.inner.table.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_table(&self) -> std::sync::RwLockWriteGuard<'_, Table> {
        self.inner.table.write().unwrap_or_else(|p| p.into_inner())
    }
}

async fn run(
    inner: Arc<Inner>,
    entry: Arc<Entry>,
    plugin: Arc<LoadedPlugin>,
    params: serde_json::Value,
) {
    let queued = entry.lock().clone();
    let persist = {
        let inner = inner.clone();
        tokio::task::spawn_blocking(move || inner.persist(&queued))
    };
    let _ = persist.await;
    // The tenant's share first, then a worker: a job waiting for its
    // tenant's share holds no worker another tenant could use.
    let tenant = entry.lock().tenant.clone();
    let Ok(_share) = inner.tenant_slots(&tenant).acquire_owned().await else {
        return;
    };
    let Ok(_permit) = inner.workers.clone().acquire_owned().await else {
        return;
    };
    let (job_id, op, tenant) = {
        let mut job = entry.lock();
        if job.state != JobState::Queued {
            return; // cancelled while waiting
        }
        job.state = JobState::Running;
        job.started_at = Some(OffsetDateTime::now_utc());
        inner.publish_state(&plugin, &job);
        (job.job_id.clone(), job.op.clone(), job.tenant.clone())
    };
    let progress_entry = entry.clone();
    let invocation = Invocation {
        tenant,
        job_id: Some(job_id),
        cancel: entry.cancel.clone(),
        on_progress: Some(Arc::new(move |progress: &JobProgress| {
            progress_entry.lock().progress = progress.clone();
        })),
    };
    let runner = plugin.clone();
    let outcome = tokio::task::spawn_blocking(move || runner.invoke(&op, &params, invocation))
        .await
        .unwrap_or_else(|e| {
            Err(JobError::new(
                "plugin_error",
                format!("the job's worker failed: {e}"),
            ))
        });
    let inner2 = inner.clone();
    let _ = tokio::task::spawn_blocking(move || inner2.finish(&entry, &plugin, outcome)).await;
}

impl Inner {
    fn tenant_slots(&self, tenant: &str) -> Arc<Semaphore> {
        let share = self
            .config
            .max_running_per_tenant
            .clamp(1, Semaphore::MAX_PERMITS);
        let mut slots = self.tenant_slots.lock().unwrap_or_else(|p| p.into_inner());
        // Tenants with nothing waiting or running are forgotten, so the
        // map holds only the active ones.
        slots.retain(|_, s| Arc::strong_count(s) > 1 || s.available_permits() < share);
        slots
            .entry(tenant.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(share)))
            .clone()
    }

    fn persist(&self, job: &Job) {
        let mut log = self.log.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(error) = log.append(job) {
            tracing::error!(job = %job.job_id, %error, "cannot record job");
        }
    }

    fn finish(
        &self,
        entry: &Entry,
        plugin: &LoadedPlugin,
        outcome: Result<serde_json::Value, JobError>,
    ) {
        let job = {
            let mut job = entry.lock();
            if job.state.is_final() {
                return;
            }
            match outcome {
                Ok(result) => {
                    job.state = JobState::Succeeded;
                    job.result = Some(result);
                }
                Err(mut error) => {
                    job.state = if error.code == "cancelled" {
                        if self.shutting_down.load(Ordering::Relaxed) {
                            error.message = "cancelled by server shutdown: it was still running when the grace period (--shutdown-grace-secs) ended; submit it again".into();
                        }
                        JobState::Cancelled
                    } else {
                        JobState::Failed
                    };
                    job.error = Some(error);
                }
            }
            job.finished_at = Some(OffsetDateTime::now_utc());
            job.clone()
        };
        self.persist(&job);
        self.publish_state(plugin, &job);
        entry.finished.send_replace(true);
    }

    /// Finishes a queued job whose plugin has been unloaded meanwhile.
    fn finish_without_plugin(&self, entry: &Entry, error: JobError) {
        let job = {
            let mut job = entry.lock();
            job.state = JobState::Cancelled;
            job.error = Some(error);
            job.finished_at = Some(OffsetDateTime::now_utc());
            job.clone()
        };
        self.persist(&job);
        entry.finished.send_replace(true);
    }

    /// Publishes a `job_state` event on the job topic and the family topic.
    fn publish_state(&self, plugin: &LoadedPlugin, job: &Job) {
        let family = plugin
            .operation(&job.op)
            .map(|o| o.topic.clone())
            .unwrap_or_else(|| format!("{}.jobs", job.engine));
        let mut data = json!({
            "job_id": job.job_id,
            "engine": job.engine,
            "op": job.op,
            "state": job.state,
        });
        if let Some(error) = &job.error {
            data["error"] = json!(error);
        }
        for topic in [job.topic.clone(), family] {
            let event = NewEvent {
                topic,
                tenant: job.tenant.clone(),
                source: Some(Source {
                    plugin: job.engine.clone(),
                    version: job.engine_version.clone(),
                    job: Some(job.job_id.clone()),
                }),
                kind: "job_state".to_owned(),
                data: data.clone(),
            };
            if let Err(error) = self.bus.publish(event) {
                tracing::warn!(%error, "job state event dropped");
            }
        }
    }
}
