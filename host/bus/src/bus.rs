//! Publishing, retention, subscription and fan-out.
//!
//! One mutex guards the whole log. Publishing is short (stamp, push, a
//! non-blocking `try_send` per matching subscriber), and holding one lock
//! across "replay what is retained" and "register for live events" is what
//! makes resume exactly-once: no event can slip between the two.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use time::OffsetDateTime;
use tokio::sync::mpsc;

use crate::event::{Event, NewEvent};
use crate::pattern::{TopicPattern, validate_topic};
use crate::{BusError, ResumeToken};

/// Retention and queueing limits.
#[derive(Clone, Debug)]
pub struct BusConfig {
    /// Events kept per topic for replay.
    pub retain_per_topic: usize,
    /// Events older than this are dropped from retention.
    pub retain_for: Duration,
    /// Events a subscriber may have queued before it is detached as lagged.
    pub subscriber_queue: usize,
    /// Bytes of retained events in all; past it the oldest go first.
    pub retain_bytes: usize,
    /// Bytes of retained events one tenant may hold; past it that tenant's
    /// oldest go first, so no tenant (or its plugins) crowds out another's.
    pub retain_bytes_per_tenant: usize,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            retain_per_topic: 1024,
            retain_for: Duration::from_secs(3600),
            subscriber_queue: 1024,
            retain_bytes: 512 << 20,
            retain_bytes_per_tenant: 128 << 20,
        }
    }
}

/// Topic patterns one subscription may hold (each is tested, under the
/// publish lock, on every event).
const MAX_PATTERNS: usize = 64;

/// Counters since start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BusStats {
    /// Events published.
    pub published: u64,
    /// Event deliveries into subscriber queues (one event, many deliveries).
    pub delivered: u64,
    /// Subscribers detached because their queue overflowed.
    pub lagged: u64,
    /// Live subscriptions.
    pub subscribers: u64,
    /// Topics with retained events.
    pub topics: u64,
    /// Events held in retention across all topics.
    pub retained: u64,
}

/// Counters of one topic family (the first segment of a topic: `jobs`,
/// `graph`, `storage`, …).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FamilyStats {
    /// Family name.
    pub family: String,
    /// Events published.
    pub published: u64,
    /// Deliveries into subscriber queues.
    pub delivered: u64,
    /// Subscribers detached as lagged while receiving this family.
    pub lagged: u64,
}

/// What a subscription yields.
#[derive(Clone, Debug)]
pub enum Delivery {
    /// The next event, in order.
    Event(Arc<Event>),
    /// The subscriber fell behind and was detached; subscribe again with
    /// this token to receive everything after the last delivered event.
    Lagged(ResumeToken),
}

/// The event bus. Clones share one log.
#[derive(Clone)]
pub struct Bus {
    inner: Arc<Inner>,
}

struct Inner {
    run: u64,
    config: BusConfig,
    state: Mutex<State>,
    published: AtomicU64,
    delivered: AtomicU64,
    lagged: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Offset of the last published event (0 before the first).
    head: u64,
    topics: HashMap<String, TopicLog>,
    subscribers: HashMap<u64, Subscriber>,
    next_subscriber: u64,
    families: HashMap<String, FamilyStats>,
    /// Events and bytes retained, in all; bytes per tenant.
    retained_events: usize,
    retained_bytes: usize,
    tenant_bytes: HashMap<String, usize>,
    /// `(offset, topic)` of retained events in publish order, in all and
    /// per tenant: where the byte budgets find the oldest. Entries of
    /// events already gone (by count or age) are skipped when met.
    order: VecDeque<(u64, String)>,
    tenant_order: HashMap<String, VecDeque<(u64, String)>>,
}

impl State {
    /// Accounts for events that left retention.
    fn forget(&mut self, gone: &[Arc<Event>]) {
        self.retained_events = self.retained_events.saturating_sub(gone.len());
        for event in gone {
            self.retained_bytes = self.retained_bytes.saturating_sub(event.size);
            if let Some(bytes) = self.tenant_bytes.get_mut(&event.tenant) {
                *bytes = bytes.saturating_sub(event.size);
                if *bytes == 0 {
                    self.tenant_bytes.remove(&event.tenant);
                    self.tenant_order.remove(&event.tenant);
                }
            }
        }
    }

    /// Removes the retained event at `offset` on `topic`, if still there.
    fn remove(&mut self, offset: u64, topic: &str) -> Option<Arc<Event>> {
        let log = self.topics.get_mut(topic)?;
        let index = log.events.partition_point(|e| e.token.offset < offset);
        if log.events.get(index)?.token.offset != offset {
            return None;
        }
        log.events.remove(index)
    }

    /// Drops the oldest events until the total and `tenant`'s bytes are
    /// within their budgets.
    fn enforce_budgets(&mut self, tenant: &str, config: &BusConfig) {
        let mut gone = Vec::new();
        while self.tenant_bytes.get(tenant).copied().unwrap_or(0) > config.retain_bytes_per_tenant {
            let Some((offset, topic)) = self
                .tenant_order
                .get_mut(tenant)
                .and_then(VecDeque::pop_front)
            else {
                break;
            };
            if let Some(event) = self.remove(offset, &topic) {
                self.forget(std::slice::from_ref(&event));
                gone.push(event);
            }
        }
        while self.retained_bytes > config.retain_bytes {
            let Some((offset, topic)) = self.order.pop_front() else {
                break;
            };
            if let Some(event) = self.remove(offset, &topic) {
                self.forget(std::slice::from_ref(&event));
                gone.push(event);
            }
        }
        // The indexes only grow by one per publish; trim what is stale so
        // they stay as long as what is retained.
        if self.order.len() > 2 * self.retained_events + 1024 {
            let topics = &self.topics;
            let still = |(offset, topic): &(u64, String)| {
                topics.get(topic).is_some_and(|log| {
                    let i = log.events.partition_point(|e| e.token.offset < *offset);
                    log.events.get(i).is_some_and(|e| e.token.offset == *offset)
                })
            };
            self.order.retain(still);
            for order in self.tenant_order.values_mut() {
                order.retain(still);
            }
        }
        drop(gone);
    }
}

struct TopicLog {
    last_seq: u64,
    events: VecDeque<Arc<Event>>,
}

struct Subscriber {
    patterns: Vec<TopicPattern>,
    tenant: Option<String>,
    tx: mpsc::Sender<Arc<Event>>,
    /// Offset of the last event this subscriber has been given; where it
    /// resumes if it lags.
    last_offset: u64,
    lag: Arc<Mutex<Option<ResumeToken>>>,
}

impl Subscriber {
    fn wants(&self, event: &Event) -> bool {
        self.tenant.as_deref().is_none_or(|t| t == event.tenant)
            && self.patterns.iter().any(|p| p.matches(&event.topic))
    }
}

/// A live subscription. Dropping it unsubscribes.
pub struct Subscription {
    id: u64,
    rx: mpsc::Receiver<Arc<Event>>,
    lag: Arc<Mutex<Option<ResumeToken>>>,
    bus: Arc<Inner>,
}

impl Subscription {
    /// The next delivery, or `None` once the subscription has ended (after
    /// a [`Delivery::Lagged`]).
    pub async fn next(&mut self) -> Option<Delivery> {
        match self.rx.recv().await {
            Some(event) => Some(Delivery::Event(event)),
            // The bus dropped our sender: we lagged (or the bus is gone).
            None => lock(&self.lag).take().map(Delivery::Lagged),
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        lock(&self.bus.state).subscribers.remove(&self.id);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the log half-updated in a
    // way that matters more than stopping the whole host would.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Bus {
    /// A new, empty bus.
    pub fn new(config: BusConfig) -> Self {
        let run = uuid::Uuid::new_v4().as_u64_pair().0;
        Self {
            inner: Arc::new(Inner {
                run,
                config,
                state: Mutex::new(State::default()),
                published: AtomicU64::new(0),
                delivered: AtomicU64::new(0),
                lagged: AtomicU64::new(0),
            }),
        }
    }

    /// The limits this bus runs with.
    pub fn config(&self) -> &BusConfig {
        &self.inner.config
    }

    /// Stamps and publishes an event, returning it as subscribers see it.
    pub fn publish(&self, new: NewEvent) -> Result<Arc<Event>, BusError> {
        validate_topic(&new.topic)?;
        let payload = serde_json::to_vec(&new.data).map_or(0, |v| v.len());
        self.stamp(
            new.topic,
            new.tenant,
            new.source,
            new.kind,
            Arc::new(new.data),
            payload,
        )
    }

    /// Publishes `new` on each of `topics` (its own topic is ignored), the
    /// copies sharing one payload: a job's event and its family's copy
    /// hold the data once. Each copy is still charged the payload's size
    /// against the retention budgets, which errs on the side of evicting.
    pub fn publish_copies(&self, topics: &[&str], new: NewEvent) -> Result<(), BusError> {
        for topic in topics {
            validate_topic(topic)?;
        }
        let payload = serde_json::to_vec(&new.data).map_or(0, |v| v.len());
        let data = Arc::new(new.data);
        for topic in topics {
            self.stamp(
                (*topic).to_owned(),
                new.tenant.clone(),
                new.source.clone(),
                new.kind.clone(),
                data.clone(),
                payload,
            )?;
        }
        Ok(())
    }

    fn stamp(
        &self,
        topic: String,
        tenant: String,
        source: Option<crate::Source>,
        kind: String,
        data: Arc<serde_json::Value>,
        payload: usize,
    ) -> Result<Arc<Event>, BusError> {
        // What the event holds while retained.
        let size = payload + topic.len() + kind.len() + 256;
        let inner = &self.inner;
        let now = OffsetDateTime::now_utc();
        let mut state = lock(&inner.state);
        state.head += 1;
        let offset = state.head;
        let log = state
            .topics
            .entry(topic.clone())
            // A topic whose log was swept away starts again above every seq
            // it could have had before (seq ≤ offset always), so `seq` stays
            // strictly increasing for the topic's whole life.
            .or_insert_with(|| TopicLog {
                last_seq: offset - 1,
                events: VecDeque::new(),
            });
        log.last_seq += 1;
        let event = Arc::new(Event {
            topic,
            seq: log.last_seq,
            token: ResumeToken {
                run: inner.run,
                offset,
            },
            ts: now,
            tenant,
            source,
            kind,
            data,
            encoded: std::sync::OnceLock::new(),
            size,
        });
        log.events.push_back(event.clone());
        let mut gone = Vec::new();
        while log.events.len() > inner.config.retain_per_topic {
            gone.extend(log.events.pop_front());
        }
        evict_older_than(&mut log.events, now - inner.config.retain_for, &mut gone);
        state.forget(&gone);
        drop(gone);
        state.retained_events += 1;
        state.retained_bytes += size;
        *state.tenant_bytes.entry(event.tenant.clone()).or_default() += size;
        state.order.push_back((offset, event.topic.clone()));
        state
            .tenant_order
            .entry(event.tenant.clone())
            .or_default()
            .push_back((offset, event.topic.clone()));
        state.enforce_budgets(&event.tenant, &inner.config);

        let mut detached = Vec::new();
        let mut delivered = 0;
        let mut lagged = 0;
        for (id, sub) in state.subscribers.iter_mut() {
            if !sub.wants(&event) {
                continue;
            }
            match sub.tx.try_send(event.clone()) {
                Ok(()) => {
                    sub.last_offset = offset;
                    delivered += 1;
                }
                Err(mpsc::error::TrySendError::Full(_)) => {
                    *lock(&sub.lag) = Some(ResumeToken {
                        run: inner.run,
                        offset: sub.last_offset,
                    });
                    detached.push(*id);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => detached.push(*id),
            }
        }
        for id in &detached {
            // Dropping the sender ends the subscriber's stream after what it
            // already has queued; it then reads its lag token.
            if let Some(sub) = state.subscribers.remove(id)
                && lock(&sub.lag).is_some()
            {
                inner.lagged.fetch_add(1, Ordering::Relaxed);
                lagged += 1;
            }
        }
        let family = event.topic.split('.').next().unwrap_or_default();
        let counters = match state.families.get_mut(family) {
            Some(counters) => counters,
            None => state
                .families
                .entry(family.to_owned())
                .or_insert_with(|| FamilyStats {
                    family: family.to_owned(),
                    ..FamilyStats::default()
                }),
        };
        counters.published += 1;
        counters.delivered += delivered;
        counters.lagged += lagged;
        drop(state);
        inner.published.fetch_add(1, Ordering::Relaxed);
        inner.delivered.fetch_add(delivered, Ordering::Relaxed);
        Ok(event)
    }

    /// Subscribes to `patterns` for `tenant` (`None`: every tenant). With
    /// `resume_from`, first replays every retained matching event after that
    /// position, then continues live, with nothing missed or repeated.
    pub fn subscribe(
        &self,
        patterns: &[String],
        tenant: Option<&str>,
        resume_from: Option<&str>,
    ) -> Result<Subscription, BusError> {
        if patterns.is_empty() {
            return Err(BusError::NoTopics);
        }
        if patterns.len() > MAX_PATTERNS {
            return Err(BusError::TooManyTopics(MAX_PATTERNS));
        }
        let patterns = patterns
            .iter()
            .map(|p| TopicPattern::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        let resume = resume_from.map(str::parse::<ResumeToken>).transpose()?;
        let inner = &self.inner;
        let capacity = inner.config.subscriber_queue.max(1);
        let (tx, rx) = mpsc::channel(capacity);
        let lag = Arc::new(Mutex::new(None));

        let mut state = lock(&inner.state);
        let mut subscriber = Subscriber {
            patterns,
            tenant: tenant.map(str::to_owned),
            tx,
            last_offset: state.head,
            lag: lag.clone(),
        };
        if let Some(token) = resume {
            let after = self.offset_after(&state, token, resume_from.unwrap_or_default())?;
            let replay = collect_after(
                &state,
                after,
                &subscriber.patterns,
                |e| subscriber.wants(e),
                usize::MAX,
            );
            subscriber.last_offset = after;
            for event in replay {
                let offset = event.token.offset;
                if subscriber.tx.try_send(event).is_err() {
                    // More retained than fits the queue: the client takes
                    // what fits, then resumes again from there.
                    *lock(&lag) = Some(ResumeToken {
                        run: inner.run,
                        offset: subscriber.last_offset,
                    });
                    inner.lagged.fetch_add(1, Ordering::Relaxed);
                    let id = state.next_subscriber;
                    state.next_subscriber += 1;
                    drop(state);
                    return Ok(Subscription {
                        id,
                        rx,
                        lag,
                        bus: inner.clone(),
                    });
                }
                subscriber.last_offset = offset;
            }
            subscriber.last_offset = state.head;
        }
        let id = state.next_subscriber;
        state.next_subscriber += 1;
        state.subscribers.insert(id, subscriber);
        drop(state);
        Ok(Subscription {
            id,
            rx,
            lag,
            bus: inner.clone(),
        })
    }

    /// Retained events matching `patterns` after `after` (or all retained),
    /// oldest first, at most `limit`. For polling clients.
    pub fn replay(
        &self,
        patterns: &[String],
        tenant: Option<&str>,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Arc<Event>>, BusError> {
        let patterns = patterns
            .iter()
            .map(|p| TopicPattern::parse(p))
            .collect::<Result<Vec<_>, _>>()?;
        let token = after.map(str::parse::<ResumeToken>).transpose()?;
        let state = lock(&self.inner.state);
        let from = match token {
            Some(token) => self.offset_after(&state, token, after.unwrap_or_default())?,
            None => 0,
        };
        Ok(collect_after(
            &state,
            from,
            &patterns,
            |e| {
                tenant.is_none_or(|t| t == e.tenant) && patterns.iter().any(|p| p.matches(&e.topic))
            },
            limit,
        ))
    }

    /// Drops events older than the retention age and forgets empty topics.
    /// Publishing trims the topic it touches; this catches quiet topics.
    pub fn sweep(&self) {
        let cutoff = OffsetDateTime::now_utc() - self.inner.config.retain_for;
        let mut state = lock(&self.inner.state);
        let mut gone = Vec::new();
        state.topics.retain(|_, log| {
            evict_older_than(&mut log.events, cutoff, &mut gone);
            !log.events.is_empty()
        });
        state.forget(&gone);
    }

    /// Bytes of events retained now.
    pub fn retained_bytes(&self) -> usize {
        lock(&self.inner.state).retained_bytes
    }

    /// Counters and sizes.
    pub fn stats(&self) -> BusStats {
        let state = lock(&self.inner.state);
        BusStats {
            published: self.inner.published.load(Ordering::Relaxed),
            delivered: self.inner.delivered.load(Ordering::Relaxed),
            lagged: self.inner.lagged.load(Ordering::Relaxed),
            subscribers: state.subscribers.len() as u64,
            topics: state.topics.len() as u64,
            retained: state.topics.values().map(|t| t.events.len() as u64).sum(),
        }
    }

    /// A position before every event of this run: resuming from it replays
    /// everything retained.
    pub fn origin(&self) -> ResumeToken {
        ResumeToken {
            run: self.inner.run,
            offset: 0,
        }
    }

    /// Counters per topic family, by name.
    pub fn family_stats(&self) -> Vec<FamilyStats> {
        let mut list: Vec<FamilyStats> =
            lock(&self.inner.state).families.values().cloned().collect();
        list.sort_by(|a, b| a.family.cmp(&b.family));
        list
    }

    /// The token of the newest event, if any: "now" as a resume position.
    pub fn head(&self) -> ResumeToken {
        ResumeToken {
            run: self.inner.run,
            offset: lock(&self.inner.state).head,
        }
    }

    /// The log offset a token resumes after, checked against this run.
    fn offset_after(&self, state: &State, token: ResumeToken, text: &str) -> Result<u64, BusError> {
        if token.run != self.inner.run {
            // Issued before a restart: everything this run holds is after it.
            return Ok(0);
        }
        if token.offset > state.head {
            return Err(BusError::BadToken(
                text.chars().take(64).collect(),
                "it points past the newest event",
            ));
        }
        Ok(token.offset)
    }
}

fn evict_older_than(
    events: &mut VecDeque<Arc<Event>>,
    cutoff: OffsetDateTime,
    gone: &mut Vec<Arc<Event>>,
) {
    while events.front().is_some_and(|e| e.ts < cutoff) {
        gone.extend(events.pop_front());
    }
}

/// Retained events after `after` that `wanted` accepts, in log order.
/// Retained events after offset `after` on topics `patterns` match. When
/// every pattern names one topic (a job's, a session's), only those logs
/// are read: a subscriber to one job does not walk the whole retention
/// while the publish lock is held.
fn collect_after(
    state: &State,
    after: u64,
    patterns: &[TopicPattern],
    wanted: impl Fn(&Event) -> bool,
    limit: usize,
) -> Vec<Arc<Event>> {
    let literals: Option<Vec<&str>> = patterns.iter().map(TopicPattern::literal).collect();
    let logs: Box<dyn Iterator<Item = &TopicLog>> = match literals {
        Some(mut topics) => {
            topics.sort_unstable();
            topics.dedup();
            Box::new(topics.into_iter().filter_map(|t| state.topics.get(t)))
        }
        None => Box::new(state.topics.values()),
    };
    let mut found: Vec<Arc<Event>> = logs
        .flat_map(|log| {
            // Each ring is in offset order: skip straight to the first
            // event after the position.
            let start = log.events.partition_point(|e| e.token.offset <= after);
            log.events.range(start..)
        })
        .filter(|e| wanted(e))
        .cloned()
        .collect();
    found.sort_unstable_by_key(|e| e.token.offset);
    found.truncate(limit);
    found
}

#[cfg(test)]
#[path = "bus_tests.rs"]
mod tests;
