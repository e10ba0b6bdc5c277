//! Embedding watchfire with an integration of your own.
//!
//! The program builds a whole engine ([`watchfire::Engine`]) from a configuration whose route
//! sends alerts to a receiver `pager` that has no built-in integrations, and plugs its own
//! [`Integration`] into that receiver. watchfire evaluates the rule, routes, groups, queues and
//! retries (a retryable error is tried again with backoff; the idempotency key stays the same
//! across attempts); the program stops the engine once the page went out.
//!
//! Run: `cargo run --example custom_receiver`

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use watchfire::notify::{
    async_trait, FailureReason, Integration, IntegrationOptions, Notification, NotifyError,
};
use watchfire::{Engine, Settings};

/// A pretend pager: fails the first attempt (as a flaky API would), then prints the page.
struct Pager {
    attempts: Arc<AtomicU32>,
    paged: Arc<Notify>,
}

#[async_trait]
impl Integration for Pager {
    fn name(&self) -> &str {
        "pager"
    }

    async fn notify(&self, n: &Notification) -> Result<(), NotifyError> {
        if self.attempts.fetch_add(1, Ordering::SeqCst) == 0 {
            return Err(NotifyError::retryable(
                FailureReason::Http5xx,
                "pager API returned 503",
            ));
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
        self.paged.notify_one();
        Ok(())
    }
}

const CONFIG: &str = r#"
global:
  evaluation_interval: 1s
rule_files: [rules.yml]
route:
  receiver: pager
  group_by: [alertname]
  group_wait: 0s
receivers:
  - name: pager
"#;

const RULES: &str = r#"
groups:
  - name: example
    rules:
      - alert: DiskFull
        expr: vector(1)
        labels:
          severity: critical
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    std::fs::write(dir.path().join("watchfire.yml"), CONFIG)?;
    std::fs::write(dir.path().join("rules.yml"), RULES)?;

    let mut settings = Settings::default();
    settings.config_file = dir.path().join("watchfire.yml");
    settings.storage_path = dir.path().join("data");
    settings.listen = "127.0.0.1:0".parse()?;

    let attempts = Arc::new(AtomicU32::new(0));
    let paged = Arc::new(Notify::new());
    let mut options = IntegrationOptions::default();
    options.delivery.min_backoff = watchfire::config::PromDuration::from_millis(200);
    let pager = Pager {
        attempts: attempts.clone(),
        paged: paged.clone(),
    };
    let engine = Engine::builder(settings)
        .integration_with("pager", pager, options)
        .build()?;
    println!("watchfire listening on http://{}", engine.local_addr());

    // Stop once the page went out, or after 30 s.
    let shutdown = async move {
        let _ = tokio::time::timeout(Duration::from_secs(30), paged.notified()).await;
    };
    engine.run(shutdown).await?;
    println!("attempts: {}", attempts.load(Ordering::SeqCst));
    Ok(())
}
