//! The query executor: every request that evaluates or walks the buffer (instant and range
//! queries, `format_query`, the series, label, label-value and metadata walks) runs here, on a
//! small pool of dedicated threads, never on the async workers and never on tokio's blocking
//! pool, so `/-/healthy`, `/-/ready` and `/metrics` never wait behind a query.
//!
//! As Prometheus' `--query.max-concurrency` (default 20) there is one thread per slot; a
//! request beyond it waits in the queue until a slot frees or its timeout
//! (`--query.timeout`, or a shorter `timeout` parameter) runs out, then gets Prometheus' 503
//! `timeout` error "query timed out in query queue". The time spent waiting counts against the
//! query's timeout, as in Prometheus. When the client goes away the handler future is dropped;
//! that sets the query's [`CancelFlag`], which the evaluator checks with its deadline, so the
//! work stops within a few thousand evaluation steps and the slot frees. Parsing and
//! `format_query`'s pretty-printing happen inside `promql-parser` and cannot be interrupted;
//! they are bounded by the parse limits instead.
//!
//! The query threads run at a lower scheduling priority (nice +[`QUERY_NICE`] on Linux), so
//! when queries keep both cores busy the async workers (health, metrics, scrapes) and rule
//! evaluation still get the CPU as soon as they wake.

use super::response::{ApiError, ErrorType};
use crate::promql::CancelFlag;
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::panic::AssertUnwindSafe;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{oneshot, OwnedSemaphorePermit, Semaphore};

/// Stack of each query thread: the main thread's 8 MiB, so that a query that `watchfire check
/// rules` evaluates on the main thread gets the same stack in the server.
pub const QUERY_STACK_BYTES: usize = 8 << 20;

/// How much nicer than the rest of the process the query threads are (Linux `setpriority`).
pub const QUERY_NICE: i32 = 10;

/// Prometheus' default `--query.max-concurrency`.
pub const DEFAULT_MAX_CONCURRENCY: usize = 20;

/// How the executor is sized.
#[derive(Debug, Clone)]
pub struct ExecOptions {
    /// Queries running at once (one thread each); the rest wait.
    pub max_concurrency: usize,
    /// Longest a query may wait plus run (`--query.timeout`).
    pub timeout: Duration,
}

impl Default for ExecOptions {
    fn default() -> Self {
        Self {
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            timeout: Duration::from_secs(120),
        }
    }
}

/// What a job gets: its cancel flag and deadline, to hand to the engine or check in a walk.
#[derive(Debug, Clone)]
pub struct QueryTicket {
    /// Set when the client went away.
    pub cancel: CancelFlag,
    /// The request's deadline, queue time included.
    pub deadline: Instant,
}

impl QueryTicket {
    /// Fails when the request was cancelled or ran past its deadline; for walks outside
    /// the evaluator (call it every few hundred items).
    pub fn check(&self, place: &str) -> Result<(), ApiError> {
        if self.cancel.is_cancelled() {
            return Err(ApiError::new(
                ErrorType::Canceled,
                format!("query was canceled in {place}"),
            ));
        }
        if Instant::now() > self.deadline {
            return Err(ApiError::new(
                ErrorType::Timeout,
                format!("query timed out in {place}"),
            ));
        }
        Ok(())
    }
}

type Job = Box<dyn FnOnce() + Send>;

#[derive(Debug, Clone, Default)]
struct ExecMetrics {
    running: Gauge,
    waiting: Gauge,
    max: Gauge,
    canceled: Counter,
    queue_timeouts: Counter,
}

/// Runs queries on the dedicated pool; cheap to clone.
#[derive(Clone)]
pub struct QueryExecutor {
    slots: Arc<Semaphore>,
    jobs: mpsc::SyncSender<Job>,
    timeout: Duration,
    metrics: ExecMetrics,
}

impl std::fmt::Debug for QueryExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryExecutor")
            .field("free_slots", &self.slots.available_permits())
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl QueryExecutor {
    /// Starts `max_concurrency` query threads (at least one). They end when the last clone of
    /// the executor is dropped.
    pub fn new(opts: ExecOptions) -> std::io::Result<Self> {
        let n = opts.max_concurrency.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(n);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..n {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("watchfire-query-{i}"))
                .stack_size(QUERY_STACK_BYTES)
                .spawn(move || {
                    lower_priority();
                    loop {
                        // The lock is held only while waiting for the next job.
                        let job = rx.lock().recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        let metrics = ExecMetrics::default();
        metrics.max.set(n as i64);
        Ok(Self {
            slots: Arc::new(Semaphore::new(n)),
            jobs: tx,
            timeout: opts.timeout,
            metrics,
        })
    }

    /// The configured timeout (`--query.timeout`).
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Registers the executor's metric families.
    pub fn register(&self, registry: &mut Registry) {
        let m = &self.metrics;
        registry.register(
            "watchfire_engine_queries",
            "Queries (API evaluations and walks) running now",
            m.running.clone(),
        );
        registry.register(
            "watchfire_engine_queries_waiting",
            "Queries waiting for a free slot (--query.max-concurrency)",
            m.waiting.clone(),
        );
        registry.register(
            "watchfire_engine_queries_concurrent_max",
            "The most queries that run at once (--query.max-concurrency)",
            m.max.clone(),
        );
        registry.register(
            "watchfire_engine_queries_canceled",
            "Queries stopped because their client went away, waiting or running",
            m.canceled.clone(),
        );
        registry.register(
            "watchfire_engine_queries_queue_timeouts",
            "Queries refused because they waited for a slot until their timeout",
            m.queue_timeouts.clone(),
        );
    }

    /// Runs `job` on a query thread once a slot is free, within `timeout` (queue time
    /// included). Dropping the returned future (the client went away) cancels the job.
    pub async fn run<T, F>(&self, timeout: Duration, job: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&QueryTicket) -> Result<T, ApiError> + Send + 'static,
    {
        let now = Instant::now();
        let deadline = now
            .checked_add(timeout.min(self.timeout))
            .unwrap_or(now + Duration::from_secs(365 * 86_400));
        let mut guard = CancelOnDrop {
            cancel: CancelFlag::new(),
            done: false,
            canceled: self.metrics.canceled.clone(),
        };
        let permit = self.wait_for_slot(deadline).await?;
        let ticket = QueryTicket {
            cancel: guard.cancel.clone(),
            deadline,
        };
        let (tx, rx) = oneshot::channel();
        let running = self.metrics.running.clone();
        let work: Job = Box::new(move || {
            let _permit: OwnedSemaphorePermit = permit;
            running.inc();
            let out = std::panic::catch_unwind(AssertUnwindSafe(|| job(&ticket)));
            running.dec();
            let out = out.unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                tracing::error!(panic = %what, "query panicked");
                Err(ApiError::new(
                    ErrorType::Internal,
                    format!("query failed: {what}"),
                ))
            });
            // The receiver is gone when the client went away; nothing to tell.
            let _ = tx.send(out);
        });
        // Each queued or running job holds one of the `n` slots, so the `n`-deep channel has
        // room; a full or closed channel would be a bug, answered as one.
        self.jobs.try_send(work).map_err(|e| {
            ApiError::new(
                ErrorType::Internal,
                format!("query pool refused a job: {e}"),
            )
        })?;
        let out = rx.await.map_err(|_| {
            ApiError::new(
                ErrorType::Internal,
                "query thread stopped without an answer",
            )
        })?;
        guard.done = true;
        out
    }

    async fn wait_for_slot(&self, deadline: Instant) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        self.metrics.waiting.inc();
        let _waiting = GaugeGuard(&self.metrics.waiting);
        let acquired =
            tokio::time::timeout_at(deadline.into(), self.slots.clone().acquire_owned()).await;
        match acquired {
            Ok(Ok(p)) => Ok(p),
            Ok(Err(_)) => Err(ApiError::new(
                ErrorType::Unavailable,
                "query pool is shutting down",
            )),
            Err(_) => {
                self.metrics.queue_timeouts.inc();
                Err(ApiError::new(
                    ErrorType::Timeout,
                    "query timed out in query queue",
                ))
            }
        }
    }
}

/// Makes the calling thread [`QUERY_NICE`] nicer than the process (a Linux thread has its own
/// nice value); a failure only costs responsiveness under load, so it is logged.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let tid = rustix::thread::gettid();
        let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
        let target = (now + QUERY_NICE).min(19);
        if let Err(e) = rustix::process::setpriority_process(Some(tid), target) {
            tracing::warn!(error = %e, "could not lower the priority of a query thread");
        }
    }
}

/// Decrements a gauge when dropped (the waiting future may be dropped mid-wait).
struct GaugeGuard<'a>(&'a Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Cancels the job when the request's future is dropped before the answer arrived.
struct CancelOnDrop {
    cancel: CancelFlag,
    done: bool,
    canceled: Counter,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.done {
            self.cancel.cancel();
            self.canceled.inc();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn executor(n: usize, timeout: Duration) -> QueryExecutor {
        QueryExecutor::new(ExecOptions {
            max_concurrency: n,
            timeout,
        })
        .unwrap()
    }

    /// Spins until cancelled or past the deadline, as the evaluator does.
    fn spin(t: &QueryTicket) -> Result<u32, ApiError> {
        loop {
            t.check("test")?;
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[tokio::test]
    async fn runs_jobs_off_the_runtime_on_named_nicer_threads() {
        let ex = executor(2, Duration::from_secs(5));
        let (name, nice) = ex
            .run(Duration::from_secs(5), |_| {
                let name = std::thread::current().name().unwrap_or("").to_string();
                let tid = rustix::thread::gettid();
                Ok((
                    name,
                    rustix::process::getpriority_process(Some(tid)).unwrap(),
                ))
            })
            .await
            .unwrap();
        assert!(name.starts_with("watchfire-query-"), "{name}");
        let ours = rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        assert_eq!(nice, (ours + QUERY_NICE).min(19));
    }

    #[tokio::test]
    async fn waits_for_a_slot_then_times_out_in_the_queue() {
        let ex = executor(1, Duration::from_secs(5));
        let busy = tokio::spawn({
            let ex = ex.clone();
            async move { ex.run(Duration::from_millis(600), spin).await }
        });
        while ex.slots.available_permits() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let e = ex
            .run(Duration::from_millis(100), |_| Ok(1))
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorType::Timeout);
        assert_eq!(e.message, "query timed out in query queue");
        assert_eq!(ex.metrics.queue_timeouts.get(), 1);
        // A longer wait gets the slot once the first query timed out.
        assert_eq!(ex.run(Duration::from_secs(3), |_| Ok(2)).await.unwrap(), 2);
        let first = busy.await.unwrap().unwrap_err();
        assert_eq!(first.kind, ErrorType::Timeout);
        assert_eq!(ex.metrics.waiting.get(), 0);
    }

    #[tokio::test]
    async fn dropping_the_request_cancels_the_job_and_frees_the_slot() {
        let ex = executor(1, Duration::from_secs(30));
        let stopped = Arc::new(AtomicUsize::new(0));
        let fut = ex.run(Duration::from_secs(30), {
            let stopped = stopped.clone();
            move |t| {
                let r = spin(t);
                stopped.fetch_add(1, Ordering::SeqCst);
                r
            }
        });
        // Let the job start, then drop the request as hyper does when the client leaves.
        let r = tokio::time::timeout(Duration::from_millis(50), fut).await;
        assert!(r.is_err(), "job should still run");
        let t0 = Instant::now();
        while stopped.load(Ordering::SeqCst) == 0 {
            assert!(t0.elapsed() < Duration::from_secs(5), "job never stopped");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        assert_eq!(ex.metrics.canceled.get(), 1);
        assert_eq!(ex.run(Duration::from_secs(1), |_| Ok(7)).await.unwrap(), 7);
        assert_eq!(ex.metrics.running.get(), 0);
    }

    #[tokio::test]
    async fn a_panicking_job_is_an_internal_error_and_the_pool_survives() {
        let ex = executor(1, Duration::from_secs(5));
        let e = ex
            .run(Duration::from_secs(5), |_| -> Result<(), ApiError> {
                panic!("boom")
            })
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorType::Internal);
        assert!(e.message.contains("boom"), "{}", e.message);
        assert_eq!(ex.run(Duration::from_secs(5), |_| Ok(3)).await.unwrap(), 3);
    }
}
