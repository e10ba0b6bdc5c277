//! Embedding watchfire's notifier with an integration of your own.
//!
//! The config routes alerts to a receiver `pager` that has no built-in integrations; the
//! program plugs its own [`Integration`] into it. watchfire does the routing, grouping,
//! queueing and retries (a retryable error is tried again with backoff; the idempotency key
//! stays the same across attempts).
//!
//! Run: `cargo run --example custom_receiver`

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use watchfire::model::Labels;
use watchfire::notify::{
    async_trait, Integration, IntegrationOptions, Notification, NotifierBuilder, NotifyAlert,
    NotifyError,
};

/// A pretend pager: fails the first attempt (as a flaky API would), then prints the page.
struct Pager {
    attempts: AtomicU32,
}

#[async_trait]
impl Integration for Pager {
    fn name(&self) -> &str {
        "pager"
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if self.attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(NotifyError::retryable("http_5xx", "pager API returned 503"));
        }
        for alert in &n.alerts {
            println!(
                "PAGE [{}] {} severity={} key={} ({})",
                n.status(),
                alert.name(),
                alert.severity.as_deref().unwrap_or("-"),
                n.idempotency_key,
                n.reason,
            );
        }
        Ok(())
    }
}

const CONFIG: &str = r#"
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: pager
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = watchfire::config::parse(CONFIG, "example.yml")?;
    let pager = Arc::new(Pager {
        attempts: AtomicU32::new(0),
    });
    let mut options = IntegrationOptions::default();
    options.delivery.min_backoff = watchfire::config::PromDuration::from_millis(200);
    let notifier = NotifierBuilder::new(&config)
        .external_url("http://localhost:9711")
        .integration("pager", pager.clone(), options)
        .start()?;

    let labels = Labels::from_pairs([("alertname", "DiskFull"), ("severity", "critical")]);
    notifier
        .send(NotifyAlert::firing(labels, chrono::Utc::now()))
        .await;

    tokio::time::sleep(Duration::from_secs(2)).await;
    println!("attempts: {}", pager.attempts.load(Ordering::SeqCst));
    notifier.shutdown().await;
    Ok(())
}
