//! Queue and worker behaviour with a scripted integration and paused time.

use super::*;
use crate::config::PromDuration;
use crate::model::Labels;
use crate::notify::alert::NotifyAlert;
use crate::notify::integration::async_trait;
use crate::notify::notification::NotificationReason;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Fails with the scripted errors in order, then succeeds; records what it was given.
struct Scripted {
    script: Mutex<VecDeque<Option<NotifyError>>>,
    hang: bool,
    seen: Mutex<Vec<(tokio::time::Instant, String)>>,
    calls: AtomicUsize,
}

impl Scripted {
    fn new(script: Vec<Option<NotifyError>>) -> Arc<Scripted> {
        Arc::new(Scripted {
            script: Mutex::new(script.into()),
            hang: false,
            seen: Mutex::new(Vec::new()),
            calls: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Integration for Scripted {
    fn name(&self) -> &str {
        "scripted"
    }
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.seen
            .lock()
            .push((tokio::time::Instant::now(), n.idempotency_key.clone()));
        if self.hang {
            std::future::pending::<()>().await;
        }
        match self.script.lock().pop_front().flatten() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

fn delivery(max_attempts: u64) -> DeliveryConfig {
    DeliveryConfig {
        timeout: PromDuration::from_secs(1),
        max_attempts,
        max_age: PromDuration::from_secs(3600),
        min_backoff: PromDuration::from_millis(100),
        max_backoff: PromDuration::from_secs(1),
    }
}

fn note(name: &str) -> Notification {
    let a = NotifyAlert::firing(Labels::from_pairs([("alertname", name)]), Utc::now());
    Notification::new(
        "r",
        "{}:{}",
        Labels::empty(),
        NotificationReason::FirstNotification,
        vec![a],
        "",
        Utc::now(),
    )
}

struct Setup {
    queues: QueueMap,
    dead: Arc<DeadLetters>,
    metrics: NotifyMetrics,
    cancel: CancellationToken,
}

fn setup(specs: Vec<QueueSpec>) -> Setup {
    setup_with(specs, None)
}

fn setup_with(specs: Vec<QueueSpec>, store: Option<Arc<NotifyStore>>) -> Setup {
    let metrics = NotifyMetrics::default();
    let dead = Arc::new(DeadLetters::default());
    let all = Arc::new(OnceLock::new());
    let mut queues: QueueMap = HashMap::new();
    let cancel = CancellationToken::new();
    for spec in specs {
        let name = spec.receiver.clone();
        let entry = queues.entry(name).or_default();
        let q = DeliveryQueue::new(
            spec,
            entry.len(),
            metrics.clone(),
            dead.clone(),
            all.clone(),
            store.clone(),
        );
        tokio::spawn(q.clone().run(cancel.clone()));
        entry.push(q);
    }
    let _ = all.set(fallback_map(&queues));
    Setup {
        queues,
        dead,
        metrics,
        cancel,
    }
}

fn spec(
    receiver: &str,
    i: Arc<dyn Integration>,
    max_attempts: u64,
    fallback: Option<&str>,
) -> QueueSpec {
    QueueSpec {
        receiver: receiver.into(),
        integration: i,
        delivery: delivery(max_attempts),
        fallback: fallback.map(str::to_owned),
    }
}

async fn settle() {
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn retries_with_backoff_and_the_same_key() {
    let i = Scripted::new(vec![
        Some(NotifyError::retryable(FailureReason::Connect, "refused")),
        Some(NotifyError::from_status(500, "", None)),
        Some(NotifyError::from_status(
            429,
            "",
            Some(Duration::from_secs(3)),
        )),
    ]);
    let s = setup(vec![spec("r", i.clone(), 10, None)]);
    s.queues["r"][0].push(note("A"));
    settle().await;
    let seen = i.seen.lock().clone();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|(_, k)| *k == seen[0].1));
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1].0 - w[0].0).collect();
    assert!(gaps[0] >= Duration::from_millis(50) && gaps[0] <= Duration::from_millis(100));
    assert!(gaps[1] >= Duration::from_millis(100) && gaps[1] <= Duration::from_millis(200));
    assert!(
        gaps[2] >= Duration::from_secs(3),
        "Retry-After honoured: {gaps:?}"
    );
    assert!(s.dead.list().is_empty());
    let labels = IntegrationLabels {
        receiver: "r".into(),
        integration: "scripted".into(),
    };
    assert_eq!(s.metrics.retries.get_or_create(&labels).get(), 3);
    assert_eq!(s.metrics.notifications.get_or_create(&labels).get(), 1);
    s.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn gives_up_to_dead_letters_and_fallback() {
    let failing = Scripted::new(vec![
        Some(NotifyError::retryable(FailureReason::Connect, "refused")),
        Some(NotifyError::retryable(FailureReason::Connect, "refused")),
    ]);
    let fallback = Scripted::new(vec![]);
    let s = setup(vec![
        spec("main", failing.clone(), 2, Some("backup")),
        spec("backup", fallback.clone(), 2, Some("main")),
    ]);
    let n = note("A");
    s.queues["main"][0].push(n.clone());
    settle().await;
    assert_eq!(failing.calls.load(Ordering::SeqCst), 2);
    assert_eq!(fallback.seen.lock()[0].1, n.idempotency_key);
    let dead = s.dead.list();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].fallback.as_deref(), Some("backup"));
    assert_eq!(dead[0].attempts, 2);
    let json = s.dead.to_json();
    assert_eq!(json[0]["reason"], "connect");
    assert_eq!(json[0]["idempotencyKey"], n.idempotency_key.as_str());

    // Permanent errors are not retried.
    failing
        .script
        .lock()
        .push_back(Some(NotifyError::from_status(400, "bad", None)));
    s.queues["main"][0].push(note("B"));
    settle().await;
    assert_eq!(failing.calls.load(Ordering::SeqCst), 3);
    assert_eq!(s.dead.list().len(), 2);
    s.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_hanging_integration_does_not_delay_another() {
    let mut hanging = Scripted::new(vec![]);
    Arc::get_mut(&mut hanging).unwrap().hang = true;
    let healthy = Scripted::new(vec![]);
    let s = setup(vec![
        spec("slow", hanging.clone(), 3, None),
        spec("fast", healthy.clone(), 3, None),
    ]);
    let start = tokio::time::Instant::now();
    s.queues["slow"][0].push(note("A"));
    s.queues["fast"][0].push(note("A"));
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(healthy.seen.lock().len(), 1);
    assert!(healthy.seen.lock()[0].0 - start < Duration::from_millis(10));
    settle().await;
    assert_eq!(
        hanging.calls.load(Ordering::SeqCst),
        3,
        "timed out and retried"
    );
    assert_eq!(s.dead.list()[0].reason, "timeout");
    s.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn a_full_queue_drops_the_oldest() {
    let mut hanging = Scripted::new(vec![]);
    Arc::get_mut(&mut hanging).unwrap().hang = true;
    let s = setup(vec![spec("r", hanging, 1, None)]);
    let q = &s.queues["r"][0];
    let first = note("first");
    q.push(first);
    tokio::time::sleep(Duration::from_millis(1)).await;
    for i in 0..=QUEUE_CAPACITY {
        q.push(note(&format!("n{i}")));
    }
    assert_eq!(q.len(), QUEUE_CAPACITY);
    let dead = s.dead.list();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].reason, "queue_full");
    assert_eq!(dead[0].notification.alerts[0].name(), "n0");
    s.cancel.cancel();
}

/// Fails every attempt until `until`, then succeeds; records deliveries.
struct DownUntil {
    until: tokio::time::Instant,
    delivered: Mutex<Vec<String>>,
    attempts: AtomicUsize,
}

#[async_trait]
impl Integration for DownUntil {
    fn name(&self) -> &str {
        "down"
    }
    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        self.attempts.fetch_add(1, Ordering::SeqCst);
        if tokio::time::Instant::now() < self.until {
            return Err(NotifyError::retryable(
                FailureReason::Connect,
                "connection refused",
            ));
        }
        self.delivered.lock().push(n.alerts[0].name().to_owned());
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn a_two_minute_outage_loses_nothing_with_default_settings() {
    let start = tokio::time::Instant::now();
    let down = Arc::new(DownUntil {
        until: start + Duration::from_secs(120),
        delivered: Mutex::new(Vec::new()),
        attempts: AtomicUsize::new(0),
    });
    let s = setup(vec![QueueSpec {
        receiver: "r".into(),
        integration: down.clone(),
        delivery: DeliveryConfig::default(),
        fallback: None,
    }]);
    for name in ["first", "second", "third"] {
        s.queues["r"][0].push(note(name));
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(*down.delivered.lock(), ["first", "second", "third"]);
    assert!(s.dead.list().is_empty());
    s.cancel.cancel();
}

#[tokio::test(start_paused = true)]
async fn the_queue_table_holds_what_is_not_yet_delivered() {
    use crate::persist::{StateDb, Table};
    let store = NotifyStore::new(StateDb::memory());
    let db = store.db().clone();
    let mut hanging = Scripted::new(vec![]);
    Arc::get_mut(&mut hanging).unwrap().hang = true;
    let failing = Scripted::new(vec![
        Some(NotifyError::retryable(FailureReason::Connect, "refused")),
        Some(NotifyError::retryable(FailureReason::Connect, "refused")),
    ]);
    let backup = Scripted::new(vec![]);
    let s = setup_with(
        vec![
            spec("stuck", hanging.clone(), 0, None),
            spec("main", failing.clone(), 2, Some("backup")),
            spec("backup", backup.clone(), 2, None),
        ],
        Some(store),
    );
    let n = note("A");
    s.queues["stuck"][0].push(n.clone());
    let (queued, _) = crate::notify::durable::records::load_queued(&db).unwrap();
    assert_eq!(queued.len(), 1, "written before the worker may send it");
    assert_eq!(queued[0].1.notification, n);
    assert_eq!(
        (queued[0].1.receiver.as_str(), queued[0].1.integration),
        ("stuck", 0)
    );

    // Given up: the entry goes, the dead letter and the fallback copy come in one commit;
    // the copy goes once delivered.
    s.queues["main"][0].push(note("B"));
    settle().await;
    assert_eq!(backup.seen.lock().len(), 1);
    let (left, _) = crate::notify::durable::records::load_queued(&db).unwrap();
    assert_eq!(left.len(), 1, "only the stuck one: {left:?}");
    assert_eq!(left[0].1.receiver, "stuck");
    let (dead, _) = crate::notify::durable::records::load_dead(&db).unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].1.fallback.as_deref(), Some("backup"));
    assert_eq!(db.count(Table::DeadLetters).unwrap(), 1);
    s.cancel.cancel();
}
