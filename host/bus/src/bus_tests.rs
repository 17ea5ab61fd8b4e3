use std::time::Duration;

use super::*;
use crate::NewEvent;

fn event(topic: &str, n: i64) -> NewEvent {
    NewEvent {
        topic: topic.to_owned(),
        tenant: "default".to_owned(),
        source: None,
        kind: "test".to_owned(),
        data: serde_json::json!({ "n": n }),
    }
}

fn small_bus(queue: usize, retain: usize) -> Bus {
    Bus::new(BusConfig {
        retain_per_topic: retain,
        retain_for: Duration::from_secs(60),
        subscriber_queue: queue,
        ..BusConfig::default()
    })
}

async fn next_event(sub: &mut Subscription) -> Arc<Event> {
    match tokio::time::timeout(Duration::from_secs(1), sub.next()).await {
        Ok(Some(Delivery::Event(e))) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

fn numbers(events: &[Arc<Event>]) -> Vec<i64> {
    events
        .iter()
        .map(|e| e.data["n"].as_i64().unwrap_or(-1))
        .collect()
}

#[test]
fn seq_is_per_topic_and_strictly_increasing() {
    let bus = small_bus(16, 16);
    let a1 = bus.publish(event("a", 1)).expect("publish");
    let b1 = bus.publish(event("b", 1)).expect("publish");
    let a2 = bus.publish(event("a", 2)).expect("publish");
    assert_eq!((a1.seq, a2.seq), (1, 2));
    assert!(b1.seq > 0);
    assert!(a1.token.offset < b1.token.offset && b1.token.offset < a2.token.offset);
}

#[test]
fn a_swept_topic_keeps_increasing_seq() {
    let bus = Bus::new(BusConfig {
        retain_per_topic: 4,
        retain_for: Duration::ZERO,
        subscriber_queue: 4,
        ..BusConfig::default()
    });
    let first = bus.publish(event("t", 1)).expect("publish");
    bus.publish(event("other", 1)).expect("publish");
    bus.sweep();
    assert_eq!(bus.stats().topics, 0);
    let again = bus.publish(event("t", 2)).expect("publish");
    assert!(
        again.seq > first.seq,
        "{} must exceed {}",
        again.seq,
        first.seq
    );
}

#[test]
fn invalid_topics_and_tokens_are_refused() {
    let bus = small_bus(4, 4);
    assert!(bus.publish(event("jobs.*", 1)).is_err());
    assert!(matches!(
        bus.subscribe(&[], None, None),
        Err(BusError::NoTopics)
    ));
    assert!(bus.subscribe(&["a..b".into()], None, None).is_err());
    assert!(matches!(
        bus.subscribe(&["a".into()], None, Some("nonsense")),
        Err(BusError::BadToken(..))
    ));
    let future = ResumeToken {
        run: bus.inner.run,
        offset: 99,
    };
    assert!(
        bus.subscribe(&["a".into()], None, Some(&future.to_string()))
            .is_err()
    );
}

#[tokio::test]
async fn subscribers_get_matching_events_in_order() {
    let bus = small_bus(64, 64);
    let mut jobs = bus
        .subscribe(&["jobs.*".into()], None, None)
        .expect("subscribe");
    let mut graph = bus
        .subscribe(&["graph.>".into()], None, None)
        .expect("subscribe");
    for n in 0..5 {
        bus.publish(event("jobs.1", n)).expect("publish");
        bus.publish(event("graph.algorithms", n)).expect("publish");
    }
    let mut seen = Vec::new();
    for _ in 0..5 {
        seen.push(next_event(&mut jobs).await);
    }
    assert_eq!(numbers(&seen), vec![0, 1, 2, 3, 4]);
    assert!(seen.iter().all(|e| e.topic == "jobs.1"));
    assert_eq!(next_event(&mut graph).await.topic, "graph.algorithms");
}

#[tokio::test]
async fn tenants_only_see_their_own_events() {
    let bus = small_bus(8, 8);
    let mut acme = bus
        .subscribe(&[">".into()], Some("acme"), None)
        .expect("subscribe");
    let mut other = event("jobs.1", 1);
    other.tenant = "globex".into();
    bus.publish(other).expect("publish");
    let mut mine = event("jobs.1", 2);
    mine.tenant = "acme".into();
    bus.publish(mine).expect("publish");
    assert_eq!(next_event(&mut acme).await.data["n"], 2);
}

#[tokio::test]
async fn resume_replays_everything_after_the_token_exactly_once() {
    let bus = small_bus(64, 64);
    let mut first = bus
        .subscribe(&["jobs.7".into()], None, None)
        .expect("subscribe");
    for n in 0..10 {
        bus.publish(event("jobs.7", n)).expect("publish");
    }
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next_event(&mut first).await);
    }
    let token = seen[3].token.to_string();
    drop(first);

    let mut resumed = bus
        .subscribe(&["jobs.7".into()], None, Some(&token))
        .expect("resume");
    bus.publish(event("jobs.7", 10)).expect("publish");
    let mut rest = Vec::new();
    for _ in 0..7 {
        rest.push(next_event(&mut resumed).await);
    }
    assert_eq!(numbers(&rest), vec![4, 5, 6, 7, 8, 9, 10]);
    let seqs: Vec<u64> = rest.iter().map(|e| e.seq).collect();
    assert!(seqs.windows(2).all(|w| w[1] == w[0] + 1));
    assert!(
        tokio::time::timeout(Duration::from_millis(50), resumed.next())
            .await
            .is_err(),
        "nothing beyond the published events"
    );
}

#[tokio::test]
async fn a_token_from_another_run_replays_all_retained() {
    let old = small_bus(8, 8);
    let stale = old
        .publish(event("t", 1))
        .expect("publish")
        .token
        .to_string();
    let bus = small_bus(8, 8);
    bus.publish(event("t", 2)).expect("publish");
    let mut sub = bus
        .subscribe(&["t".into()], None, Some(&stale))
        .expect("resume");
    assert_eq!(next_event(&mut sub).await.data["n"], 2);
}

#[tokio::test]
async fn a_full_queue_detaches_only_that_subscriber_with_a_resume_point() {
    let bus = small_bus(4, 100);
    let mut slow = bus.subscribe(&["t".into()], None, None).expect("subscribe");
    let mut fast = bus.subscribe(&["t".into()], None, None).expect("subscribe");
    let mut fast_seen = Vec::new();
    for n in 0..10 {
        bus.publish(event("t", n)).expect("publish");
        fast_seen.push(next_event(&mut fast).await);
    }
    assert_eq!(numbers(&fast_seen), (0..10).collect::<Vec<_>>());

    let mut slow_seen = Vec::new();
    let token = loop {
        match slow.next().await {
            Some(Delivery::Event(e)) => slow_seen.push(e),
            Some(Delivery::Lagged(token)) => break token,
            None => panic!("ended without a lag notice"),
        }
    };
    assert_eq!(numbers(&slow_seen), vec![0, 1, 2, 3]);
    assert!(slow.next().await.is_none());
    assert_eq!(bus.stats().lagged, 1);
    let family = &bus.family_stats()[0];
    assert_eq!(
        (family.family.as_str(), family.published, family.lagged),
        ("t", 10, 1)
    );
    assert_eq!(family.delivered, 10 + 4, "fast got all ten, slow four");

    let mut resumed = bus
        .subscribe(&["t".into()], None, Some(&token.to_string()))
        .expect("resume");
    let mut rest = Vec::new();
    for _ in 0..4 {
        rest.push(next_event(&mut resumed).await);
    }
    assert_eq!(numbers(&rest), vec![4, 5, 6, 7]);
}

#[tokio::test]
async fn dropping_a_subscription_unsubscribes() {
    let bus = small_bus(4, 4);
    let sub = bus.subscribe(&["t".into()], None, None).expect("subscribe");
    assert_eq!(bus.stats().subscribers, 1);
    drop(sub);
    assert_eq!(bus.stats().subscribers, 0);
}

#[test]
fn retention_is_bounded_per_topic() {
    let bus = small_bus(4, 3);
    for n in 0..10 {
        bus.publish(event("t", n)).expect("publish");
    }
    let kept = bus.replay(&["t".into()], None, None, 100).expect("replay");
    assert_eq!(numbers(&kept), vec![7, 8, 9]);
}

#[test]
fn retention_is_bounded_by_bytes_in_all_and_per_tenant() {
    let bus = Bus::new(BusConfig {
        retain_bytes: 4 << 20,
        retain_bytes_per_tenant: 1 << 20,
        ..BusConfig::default()
    });
    let pad = "x".repeat(100 << 10);
    let publish = |tenant: &str, topic: &str, i: u64| {
        bus.publish(NewEvent {
            topic: topic.to_owned(),
            tenant: tenant.to_owned(),
            source: None,
            kind: "k".into(),
            data: serde_json::json!({"i": i, "pad": pad}),
        })
        .expect("publish")
    };
    // A flood from one tenant over many topics keeps at most its budget…
    for i in 0..200 {
        publish("flood", &format!("flood.t{}", i % 50), i);
    }
    assert!(bus.retained_bytes() <= 1 << 20, "{}", bus.retained_bytes());
    // …and does not push out another tenant's events.
    let kept = publish("quiet", "quiet.a", 0);
    for i in 0..200 {
        publish("flood", &format!("flood.t{}", i % 50), i);
    }
    let quiet = bus
        .replay(&["quiet.a".to_owned()], Some("quiet"), None, 10)
        .expect("replay");
    assert_eq!(quiet.len(), 1, "the quiet tenant's event is still retained");
    assert_eq!(quiet[0].token, kept.token);
    // The newest of the flood is always kept.
    assert!(bus.retained_bytes() <= (1 << 20) + (100 << 10) + 1024);
}

#[test]
fn a_subscription_takes_a_bounded_number_of_patterns() {
    let bus = small_bus(4, 4);
    let many: Vec<String> = (0..2000).map(|i| format!("t.{i}")).collect();
    assert!(matches!(
        bus.subscribe(&many, None, None),
        Err(BusError::TooManyTopics(64))
    ));
    assert!(bus.subscribe(&many[..64], None, None).is_ok());
}

#[test]
fn copies_of_one_event_share_their_payload() {
    let bus = small_bus(16, 16);
    bus.publish_copies(&["jobs.j1", "graph.algorithms"], event("ignored", 7))
        .expect("publish");
    let job = bus
        .replay(&["jobs.j1".to_owned()], None, None, 10)
        .expect("replay");
    let family = bus
        .replay(&["graph.algorithms".to_owned()], None, None, 10)
        .expect("replay");
    assert_eq!((numbers(&job), numbers(&family)), (vec![7], vec![7]));
    assert!(Arc::ptr_eq(&job[0].data, &family[0].data), "one payload");
    assert!(
        bus.publish_copies(&["ok", "bad topic"], event("x", 1))
            .is_err()
    );
}

#[test]
fn replaying_one_topic_among_many_finds_exactly_its_events() {
    let bus = small_bus(16, 16);
    for i in 0..500 {
        bus.publish(event(&format!("jobs.j{i}"), i))
            .expect("publish");
    }
    let origin = bus.origin().to_string();
    let twice = ["jobs.j7".to_owned(), "jobs.j7".to_owned()];
    let found = bus.replay(&twice, None, Some(&origin), 10).expect("replay");
    assert_eq!(numbers(&found), vec![7], "once, though named twice");
}
