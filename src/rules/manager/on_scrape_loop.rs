//! The scheduling loop of `evaluation: on_scrape` groups (see [`crate::rules::on_scrape`]).

use super::{now_ms, Manager};
use crate::rules::group::Group;
use crate::rules::on_scrape::{self, Dependencies};
use crate::scrape::ScrapeLanded;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

impl Manager {
    /// Runs an `evaluation: on_scrape` group: evaluates (at the current time)
    /// once a scrape of a target it reads from has landed, at most once per
    /// [`on_scrape::MIN_GAP`], and at least once per interval so `for`,
    /// `keep_firing_for` and absent series progress without scrapes.
    pub(super) async fn run_group_on_scrape(
        &self,
        g: Arc<Group>,
        mut landed: broadcast::Receiver<ScrapeLanded>,
        cancel: CancellationToken,
    ) {
        let interval = Duration::from_millis(g.interval_ms() as u64);
        let min_gap = on_scrape::MIN_GAP.min(interval);
        let mut deps = Dependencies::of(&g);
        let mut last_eval: Option<Instant> = None;
        let mut due = false;
        let mut fallback = tokio::time::Instant::now() + interval;
        loop {
            let gap_over = last_eval.map_or_else(tokio::time::Instant::now, |t| {
                tokio::time::Instant::from_std(t + min_gap)
            });
            tokio::select! {
                _ = cancel.cancelled() => return,
                ev = landed.recv() => match ev {
                    Ok(ev) => {
                        let now = Instant::now();
                        if !deps.contains(&ev) && deps.needs_refresh(&ev, now) {
                            let store = self.inner.store.clone();
                            deps = tokio::task::spawn_blocking(move || {
                                deps.refresh(&store, now);
                                deps
                            })
                            .await
                            .unwrap_or_else(|_| Dependencies::of(&g));
                        }
                        deps.note(&ev);
                        due |= deps.contains(&ev);
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => due = true,
                    Err(broadcast::error::RecvError::Closed) => {
                        return self.run_group(g, cancel).await;
                    }
                },
                _ = tokio::time::sleep_until(fallback) => due = true,
                _ = tokio::time::sleep_until(gap_over), if due => {}
            }
            let now = Instant::now();
            if !due || last_eval.is_some_and(|t| now.duration_since(t) < min_gap) {
                continue;
            }
            due = false;
            last_eval = Some(now);
            fallback = tokio::time::Instant::from_std(now) + interval;
            self.inner.metrics.iteration(g.key(), 0);
            let m = self.clone();
            let group = g.clone();
            let ts = now_ms();
            if tokio::task::spawn_blocking(move || m.eval_group(&group, ts))
                .await
                .is_err()
            {
                tracing::error!(group = %g.key(), "rule group evaluation panicked");
            }
        }
    }
}
