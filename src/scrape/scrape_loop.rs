//! One target's scrape loop: wait for the target's slot in the interval,
//! fetch, parse into a batch, commit the batch, write staleness markers and
//! the synthetic `up`/`scrape_*` series, report health.

use super::cache::SeriesCache;
use super::client::{fetch, release_large, FetchError};
use super::ingest::{ingest, IngestError, Metadata};
use super::landed::{LandedSender, ScrapeLanded};
use super::metrics::{FailureLabels, JobLabels, RejectedLabels, ScrapeMetrics, TargetLabels};
use super::series_limit::Refusals;
use super::target::{Health, TargetSpec, TargetStatus};
use crate::model::{LabelsBuilder, STALE_NAN};
use crate::store::{SeriesRef, Store};
use parking_lot::RwLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// Bodies from this size on are parsed with [`tokio::task::block_in_place`]
/// (about 2,000 samples: well under a millisecond of parsing below it).
const BLOCK_IN_PLACE_BYTES: usize = 128 << 10;

/// Whether the current runtime can move tasks off a blocked worker (tests
/// run on the current-thread runtime, which cannot).
fn multi_threaded() -> bool {
    tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread)
}

/// How often a target that keeps hitting a series limit is logged.
const REFUSAL_LOG_EVERY: Duration = Duration::from_secs(600);

/// Why one scrape failed.
#[derive(Debug, thiserror::Error)]
pub enum ScrapeError {
    /// The HTTP fetch failed.
    #[error(transparent)]
    Fetch(#[from] FetchError),
    /// The scrape took longer than its timeout.
    #[error("context deadline exceeded: scrape took longer than {0:?}")]
    Timeout(Duration),
    /// The body did not parse or broke a limit.
    #[error(transparent)]
    Ingest(#[from] IngestError),
    /// Not scraped: the job is over its `target_limit`.
    #[error("{0}")]
    TargetLimit(Arc<str>),
}

impl ScrapeError {
    /// Samples the body held and samples metric relabeling kept, as
    /// `scrape_samples_scraped` and `scrape_samples_post_metric_relabeling`
    /// report on a failure: known only when the sample limit failed it.
    fn samples_scraped(&self) -> (usize, usize) {
        match self {
            ScrapeError::Ingest(IngestError::SampleLimit { scraped, kept, .. }) => {
                (*scraped, *kept)
            }
            _ => (0, 0),
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ScrapeError::Fetch(FetchError::Http(_)) => "http",
            ScrapeError::Fetch(FetchError::Status(_)) => "status",
            ScrapeError::Fetch(FetchError::BodyTooLarge(_)) => "body_size_limit",
            ScrapeError::Timeout(_) => "timeout",
            ScrapeError::TargetLimit(_) => "target_limit",
            ScrapeError::Ingest(e) => e.reason(),
        }
    }
}

/// The synthetic series Prometheus writes for every scrape.
struct ReportSeries {
    up: SeriesRef,
    duration: SeriesRef,
    samples_scraped: SeriesRef,
    samples_post_relabel: SeriesRef,
    series_added: SeriesRef,
}

impl ReportSeries {
    fn new(store: &Store, spec: &TargetSpec) -> Self {
        let make = |name: &str| {
            let mut b = LabelsBuilder::new(&spec.labels);
            b.set("__name__", name);
            store.get_or_create(b.labels()).0
        };
        Self {
            up: make("up"),
            duration: make("scrape_duration_seconds"),
            samples_scraped: make("scrape_samples_scraped"),
            samples_post_relabel: make("scrape_samples_post_metric_relabeling"),
            series_added: make("scrape_series_added"),
        }
    }

    fn all(&self) -> [&SeriesRef; 5] {
        [
            &self.up,
            &self.duration,
            &self.samples_scraped,
            &self.samples_post_relabel,
            &self.series_added,
        ]
    }
}

/// The state one target's task owns.
pub struct ScrapeLoop {
    spec: TargetSpec,
    client: reqwest::Client,
    store: Arc<Store>,
    metrics: ScrapeMetrics,
    status: Arc<RwLock<TargetStatus>>,
    /// Metadata as last published for the API.
    shared_metadata: Arc<RwLock<Metadata>>,
    /// The loop's own copy, updated while parsing without any lock.
    metadata: Metadata,
    cache: SeriesCache,
    body: Vec<u8>,
    batch: Vec<(SeriesRef, i64, f64)>,
    stale: Vec<SeriesRef>,
    /// Series created by a scrape that then failed (see [`SeriesCache::drain`]).
    unborn: Vec<SeriesRef>,
    report: ReportSeries,
    landed: Option<(LandedSender, Arc<str>, Arc<str>)>,
    /// When refused series were last logged (at most once per
    /// [`REFUSAL_LOG_EVERY`], not per scrape or per series).
    refusal_logged: Option<Instant>,
}

fn unix_ms(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl ScrapeLoop {
    /// A loop for `spec`, reporting into `status` and `metadata`.
    pub fn new(
        spec: TargetSpec,
        client: reqwest::Client,
        store: Arc<Store>,
        metrics: ScrapeMetrics,
        status: Arc<RwLock<TargetStatus>>,
        metadata: Arc<RwLock<Metadata>>,
    ) -> Self {
        let report = ReportSeries::new(&store, &spec);
        let cache = SeriesCache::with_series_limit(spec.limits.series_limit);
        Self {
            spec,
            client,
            store,
            metrics,
            status,
            shared_metadata: metadata,
            metadata: Metadata::default(),
            cache,
            body: Vec::new(),
            batch: Vec::new(),
            stale: Vec::new(),
            unborn: Vec::new(),
            report,
            landed: None,
            refusal_logged: None,
        }
    }

    /// Announces each completed scrape on `landed` (after its samples are in
    /// the buffer).
    pub fn announce_to(mut self, landed: LandedSender) -> Self {
        let job: Arc<str> = Arc::from(self.spec.labels.get("job").unwrap_or(&self.spec.job));
        let instance: Arc<str> = Arc::from(self.spec.instance());
        self.landed = Some((landed, job, instance));
        self
    }

    /// Scrapes until `cancel` fires; then, if `end_markers` is set, writes
    /// staleness markers for all of the target's series, as Prometheus does
    /// when a target goes away (but not when the process shuts down).
    pub async fn run(mut self, cancel: CancellationToken, end_markers: Arc<AtomicBool>) {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(self.spec.offset()) => {}
        }
        let mut ticker = tokio::time::interval(self.spec.interval);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = ticker.tick() => {}
            }
            let scrape = self.scrape_once();
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = scrape => {}
            }
        }
        if !end_markers.load(Ordering::Acquire) {
            return;
        }
        let now = unix_ms(SystemTime::now());
        self.forget_all();
        self.write_stale(now);
        for s in self.report.all() {
            let _ = self.store.append(s, now, STALE_NAN);
        }
    }

    /// One scrape, start to finish.
    pub async fn scrape_once(&mut self) {
        let started_at = SystemTime::now();
        let started = Instant::now();
        let ts = unix_ms(started_at);
        let target = TargetLabels {
            job: self.spec.job.clone(),
            instance: self.spec.instance().to_string(),
        };
        self.metrics.scrapes.get_or_create(&target).inc();

        let result = self.fetch_and_ingest(ts).await;
        let elapsed = started.elapsed();
        self.metrics
            .duration
            .get_or_create(&JobLabels {
                job: self.spec.job.clone(),
            })
            .observe(elapsed.as_secs_f64());

        let (scraped, post_relabel, added, error, refused) = match result {
            Ok((scraped, post_relabel, added, refused)) => {
                self.commit(&target);
                self.cache.sweep_unseen(&mut self.stale);
                self.report_refusals(&refused);
                (scraped, post_relabel, added, None, refused.message())
            }
            Err(e) => {
                self.batch.clear();
                release_large(&mut self.body);
                self.forget_all();
                self.metrics
                    .failures
                    .get_or_create(&FailureLabels {
                        job: target.job.clone(),
                        instance: target.instance.clone(),
                        reason: e.reason().to_string(),
                    })
                    .inc();
                tracing::warn!(job = %self.spec.job, target = %self.spec.url, error = %e, "scrape failed");
                let (scraped, kept) = e.samples_scraped();
                (scraped, kept, 0, Some(e.to_string()), None)
            }
        };
        self.write_stale(ts);
        let up = if error.is_none() { 1.0 } else { 0.0 };
        let report = [
            (&self.report.up, up),
            (&self.report.duration, elapsed.as_secs_f64()),
            (&self.report.samples_scraped, scraped as f64),
            (&self.report.samples_post_relabel, post_relabel as f64),
            (&self.report.series_added, added as f64),
        ];
        for (series, v) in report {
            let _ = self.store.append(series, ts, v);
        }
        self.metrics.up.get_or_create(&target).set(up as i64);
        let mut st = self.status.write();
        st.health = if error.is_none() {
            Health::Up
        } else {
            Health::Down
        };
        // A scrape a series limit cut short is still up (its samples were
        // kept), but says why series are missing.
        st.last_error = error.or(refused).unwrap_or_default();
        st.last_scrape = Some(started_at);
        st.last_duration = elapsed;
        st.last_samples = scraped;
        drop(st);
        if let Some((tx, job, instance)) = &self.landed {
            // No subscriber (no on_scrape group) is fine.
            let _ = tx.send(ScrapeLanded {
                job: job.clone(),
                instance: instance.clone(),
                at_ms: ts,
                up: up == 1.0,
            });
        }
    }

    /// Fetches and ingests one scrape: (samples scraped, samples kept by
    /// metric relabeling, series added, refusals).
    async fn fetch_and_ingest(
        &mut self,
        ts: i64,
    ) -> Result<(usize, usize, usize, Refusals), ScrapeError> {
        if let Some(e) = &self.spec.forced_error {
            return Err(ScrapeError::TargetLimit(e.clone()));
        }
        self.cache.begin_round();
        let fetched = tokio::time::timeout(
            self.spec.timeout,
            fetch(&self.client, &self.spec, &mut self.body),
        )
        .await
        .map_err(|_| ScrapeError::Timeout(self.spec.timeout))??;
        let body = &self.body;
        let (spec, store) = (&self.spec, &self.store);
        let (cache, batch, metadata) = (&mut self.cache, &mut self.batch, &mut self.metadata);
        let mut run = || {
            ingest(
                body,
                &fetched.content_type,
                ts,
                spec,
                store,
                cache,
                batch,
                metadata,
            )
        };
        let outcome = if body.len() >= BLOCK_IN_PLACE_BYTES && multi_threaded() {
            // A large body keeps a core busy (longer still when its series
            // are new): hand this worker's other tasks (health checks,
            // other targets) to another worker meanwhile.
            tokio::task::block_in_place(run)?
        } else {
            run()?
        };
        if outcome.metadata_changed {
            *self.shared_metadata.write() = self.metadata.clone();
        }
        Ok((
            outcome.samples,
            outcome.post_relabel,
            outcome.series_added,
            outcome.refused,
        ))
    }

    /// Counts refused series and logs them (at most every
    /// [`REFUSAL_LOG_EVERY`] per target).
    fn report_refusals(&mut self, refused: &Refusals) {
        for (n, limit) in [
            (refused.by_target, "series_limit"),
            (refused.by_buffer, "max_series"),
        ] {
            if n > 0 {
                self.metrics
                    .series_rejected
                    .get_or_create(&RejectedLabels {
                        limit: limit.to_string(),
                    })
                    .inc_by(n as u64);
            }
        }
        if refused.total() == 0
            || self
                .refusal_logged
                .is_some_and(|t| t.elapsed() < REFUSAL_LOG_EVERY)
        {
            return;
        }
        self.refusal_logged = Some(Instant::now());
        tracing::warn!(
            job = %self.spec.job,
            target = %self.spec.url,
            error = refused.message().unwrap_or_default(),
            "new series refused; logged at most every 10 minutes per target, every refusal shows \
             in the target's lastError and watchfire_buffer_series_rejected_total"
        );
    }

    /// Appends the batch to the buffer.
    fn commit(&mut self, target: &TargetLabels) {
        let mut appended = 0u64;
        let mut rejected = 0u64;
        for (series, t, v) in self.batch.drain(..) {
            match self.store.append(&series, t, v) {
                Ok(()) => appended += 1,
                Err(_) => rejected += 1,
            }
        }
        self.metrics
            .samples_appended
            .get_or_create(target)
            .inc_by(appended);
        if rejected > 0 {
            self.metrics
                .samples_rejected
                .get_or_create(target)
                .inc_by(rejected);
        }
    }

    /// Empties the cache; series the last (failed or cancelled) scrape
    /// created are removed again unless something else wrote to them, so a
    /// rejected scrape leaves no empty series behind in the API.
    fn forget_all(&mut self) {
        self.cache.drain(&mut self.stale, &mut self.unborn);
        self.store.remove_if_empty(&self.unborn);
        self.unborn.clear();
    }

    fn write_stale(&mut self, ts: i64) {
        for s in self.stale.drain(..) {
            let _ = self.store.append(&s, ts, STALE_NAN);
        }
    }
}
