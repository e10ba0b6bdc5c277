//! The HA pair on etcd: both replicas scrape, evaluate and group alike; only the holder of
//! the leader key sends notifications, and what was sent and the silences are shared through
//! etcd so that a takeover neither re-sends nor forgets.
//!
//! - **Election** (`etcd.rs`): each replica keeps an etcd lease of `lease_ttl` alive and
//!   tries, every tick (`lease_ttl`/3, at most 1 s), to create `<prefix>/leader` bound to its
//!   lease in a transaction (create revision 0). The holder's token is the key's revision:
//!   the **fencing token**. A leader stops sending `lease_ttl`/4 (at least 500 ms) before
//!   its lease could expire when no keep-alive has succeeded ([`role`]); etcd deletes the
//!   key when the lease expires and the standby creates it on its next tick, so it takes
//!   over within `lease_ttl` plus a tick, and then flushes every group at once.
//! - **Claiming** ([`Ha::claim`]): at each group flush the dispatcher hands its
//!   notifications here before queueing them. The leader writes each one's log entry
//!   (`nflog.rs`: group key, receiver, firing and resolved alert hashes, time) in a
//!   transaction that compares the leader key's revision with its token and the entry's
//!   revision with the one it knows: a deposed leader cannot write, and what it cannot write
//!   it does not send. A standby sends nothing and puts the group's log back to the shared
//!   entry, so its next flush decides against what the leader sent.
//! - **Sharing** (`etcd.rs`): each replica reads `<prefix>/nflog/` and `<prefix>/silences/`
//!   and watches them; log entries go into the dispatcher's groups, silences into
//!   [`Silences`] (newest `updated_at` wins). Silences made through either replica's API are
//!   written there.
//! - **Fail open**: when etcd cannot be reached for longer than `lease_ttl` (two election
//!   rounds in a row failed, the last one started more than `lease_ttl` after the last
//!   success), both replicas send, as Alertmanager peers do when gossip fails, and each
//!   raises `WatchfireHALeaseLost` (posted into its own notifier as an API client would,
//!   re-posted every 30 s, resolved when etcd answers again). An answer that the lease
//!   expired is not an outage: the replica asks for a new lease and stays a standby.
//!
//! Metrics: `watchfire_ha_leader` (1 while this replica may send as leader),
//! `watchfire_ha_fail_open` (1 while failing open), `watchfire_ha_lease_errors_total`
//! (failed etcd requests). Delivery across a takeover is at most once per transition: the
//! entry is written before the notification is queued; a leader killed between the two
//! sends it from its own durable queue when it restarts.

mod etcd;
pub mod nflog;

use super::api_alerts::PostedAlert;
use super::dispatch::{LogUpdate, Outgoing};
use super::handle::NotifierHandle;
use super::silence::Silences;
use crate::config::HaConfig;
use crate::model::Labels;
use chrono::Utc;
use nflog::{EntryId, Mirror};
use parking_lot::Mutex;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The self-alert raised while failing open.
pub const LEASE_LOST_ALERT: &str = "WatchfireHALeaseLost";

/// A notification that could not be claimed (etcd error, a log entry changed meanwhile) is
/// tried again this soon.
pub const RETRY_CLAIM: Duration = Duration::from_secs(1);

/// How long before its lease could expire a leader stops sending.
pub fn margin(ttl: Duration) -> Duration {
    (ttl / 4).max(Duration::from_millis(500))
}

/// How often the election runs (keep-alive, campaign).
pub fn tick(ttl: Duration) -> Duration {
    (ttl / 3).min(Duration::from_secs(1))
}

/// What this replica may do with notifications now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Holds the leader key with this fencing token: sends, writing the shared log.
    Leader {
        /// The leader key's revision.
        fencing: i64,
    },
    /// Another replica leads (or no one yet): sends nothing.
    Standby,
    /// etcd unreachable for longer than the lease TTL: sends, without the shared log.
    FailOpen,
}

/// The election's view of the lease.
#[derive(Clone, Debug, Default)]
pub struct LeaseView {
    /// The fencing token while this replica holds the leader key.
    pub fencing: Option<i64>,
    /// When the request of the last successful keep-alive (or grant) was sent: the lease
    /// lives at least `lease_ttl` from then.
    pub renewed_at: Option<Instant>,
    /// Whether etcd has been unreachable for longer than the TTL.
    pub fail_open: bool,
    /// The leader's name as last read.
    pub leader: Option<String>,
}

/// The role `view` gives at `now`: a leader only while `now` is a margin before the lease
/// could have expired.
pub fn role(view: &LeaseView, now: Instant, ttl: Duration) -> Role {
    if view.fail_open {
        return Role::FailOpen;
    }
    match (view.fencing, view.renewed_at) {
        (Some(fencing), Some(at)) if now < at + ttl.saturating_sub(margin(ttl)) => {
            Role::Leader { fencing }
        }
        _ => Role::Standby,
    }
}

/// Whether a failed etcd attempt that started at `started` means failing open: it started
/// more than `ttl` after the last success. (An attempt that was under way while the process
/// was stopped started earlier and does not count: a replica resumed after SIGSTOP first
/// asks etcd again.)
pub fn fails_open(last_ok: Instant, started: Instant, ttl: Duration) -> bool {
    started.saturating_duration_since(last_ok) > ttl
}

/// The HA metrics.
#[derive(Clone, Default)]
pub struct HaMetrics {
    /// `watchfire_ha_leader`.
    pub leader: Gauge,
    /// `watchfire_ha_fail_open`.
    pub fail_open: Gauge,
    /// `watchfire_ha_lease_errors_total`.
    pub lease_errors: Counter,
}

struct Shared {
    config: HaConfig,
    ttl: Duration,
    timeout: Duration,
    view: Mutex<LeaseView>,
    client: Mutex<Option<etcd_client::Client>>,
    mirror: Mutex<Mirror>,
    /// The highest revision mirrored (the dispatcher applies entries past the one it saw).
    nflog: watch::Sender<i64>,
    /// Bumped each time this replica becomes the leader.
    takeovers: watch::Sender<u64>,
    silences: Arc<Silences>,
    retention: chrono::Duration,
    metrics: HaMetrics,
}

/// A running HA membership; cheap to clone.
#[derive(Clone)]
pub struct Ha {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Ha {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ha")
            .field("replica", &self.shared.config.replica)
            .finish()
    }
}

/// What a claim decided.
#[derive(Debug, Default)]
pub struct Claimed {
    /// Notifications to queue.
    pub send: Vec<Outgoing>,
    /// Log entries to put back in the dispatcher's groups (notifications not sent).
    pub updates: Vec<LogUpdate>,
}

/// What the dispatcher listens to.
pub struct HaEvents {
    /// The shared log's highest mirrored revision.
    pub nflog: watch::Receiver<i64>,
    /// Takeovers.
    pub takeovers: watch::Receiver<u64>,
}

impl Ha {
    /// Starts the election and the sharing of `silences` and the log; they stop with
    /// `cancel` (the leader then gives its lease back, so the standby takes over at once).
    pub fn start(
        config: HaConfig,
        silences: Arc<Silences>,
        retention: chrono::Duration,
        cancel: CancellationToken,
    ) -> (Ha, Vec<JoinHandle<()>>) {
        let ttl = config.etcd.lease_ttl.as_duration();
        let timeout = config.etcd.dial_timeout.as_duration().min(ttl / 2);
        let shared = Arc::new(Shared {
            config,
            ttl,
            timeout,
            view: Mutex::default(),
            client: Mutex::default(),
            mirror: Mutex::default(),
            nflog: watch::Sender::new(0),
            takeovers: watch::Sender::new(0),
            silences,
            retention,
            metrics: HaMetrics::default(),
        });
        let tasks = vec![
            tokio::spawn(etcd::run_election(shared.clone(), cancel.clone())),
            tokio::spawn(etcd::run_sync(shared.clone(), cancel)),
        ];
        (Ha { shared }, tasks)
    }

    /// Registers the HA metrics.
    pub fn register_metrics(&self, registry: &mut Registry) {
        let m = &self.shared.metrics;
        registry.register(
            "watchfire_ha_leader",
            "1 while this HA replica holds the etcd leader lease and sends notifications",
            m.leader.clone(),
        );
        registry.register(
            "watchfire_ha_fail_open",
            "1 while etcd has been unreachable for longer than the lease TTL and this replica sends without the lease",
            m.fail_open.clone(),
        );
        registry.register(
            "watchfire_ha_lease_errors",
            "Failed etcd requests of the HA election and sharing",
            m.lease_errors.clone(),
        );
    }

    /// The settings it runs with.
    pub fn config(&self) -> &HaConfig {
        &self.shared.config
    }

    /// This replica's name.
    pub fn replica(&self) -> &str {
        &self.shared.config.replica
    }

    /// The role now.
    pub fn role(&self) -> Role {
        role(&self.shared.view.lock(), Instant::now(), self.shared.ttl)
    }

    /// The leader's name as last read from etcd, if any.
    pub fn leader(&self) -> Option<String> {
        self.shared.view.lock().leader.clone()
    }

    /// The dispatcher's subscriptions.
    pub fn events(&self) -> HaEvents {
        HaEvents {
            nflog: self.shared.nflog.subscribe(),
            takeovers: self.shared.takeovers.subscribe(),
        }
    }

    /// The shared log's entries changed after revision `after`, as group log updates, and
    /// the highest revision among them (or `after`).
    pub fn log_updates_since(&self, after: i64) -> (Vec<LogUpdate>, i64) {
        let changed = self.shared.mirror.lock().since(after);
        let highest = changed.last().map_or(after, |(_, m)| m.revision);
        let updates = changed
            .into_iter()
            .map(|(id, m)| LogUpdate {
                receiver: id.receiver,
                group_key: id.group_key,
                integration: id.integration,
                state: Some(m.state),
                severity: m.severity,
                retry_after: None,
            })
            .collect();
        (updates, highest)
    }

    /// Decides which of a flush's notifications this replica sends (see the module docs).
    pub async fn claim(&self, outs: Vec<Outgoing>) -> Claimed {
        let mut claimed = Claimed::default();
        let fencing = match self.role() {
            Role::FailOpen => {
                claimed.send = outs;
                return claimed;
            }
            Role::Standby => {
                claimed.updates = outs.iter().map(|o| self.revert(o, None)).collect();
                return claimed;
            }
            Role::Leader { fencing } => fencing,
        };
        let client = self.shared.client.lock().clone();
        let Some(mut client) = client else {
            claimed.updates = outs
                .iter()
                .map(|o| self.revert(o, Some(RETRY_CLAIM)))
                .collect();
            return claimed;
        };
        let mut lost = false;
        let mut unreachable = false;
        for out in outs {
            let Some(logged) = out.logged.clone() else {
                claimed.send.push(out);
                continue;
            };
            // One request that etcd did not answer is enough for this round: the rest are
            // tried again soon rather than each waiting for its timeout.
            if unreachable {
                claimed.updates.push(self.revert(&out, Some(RETRY_CLAIM)));
                continue;
            }
            // Earlier writes of this round took time: the lease must still be good.
            if lost || self.role() != (Role::Leader { fencing }) {
                lost = true;
                claimed.updates.push(self.revert(&out, None));
                continue;
            }
            let severity: nflog::Severities = out
                .notification
                .alerts
                .iter()
                .filter(|a| logged.firing.contains_key(&a.fingerprint))
                .filter_map(|a| Some((a.fingerprint, a.severity.clone()?)))
                .collect();
            let entry = (logged, severity);
            match etcd::write_entry(&self.shared, &mut client, &entry_id(&out), entry, fencing)
                .await
            {
                etcd::Written::Yes => claimed.send.push(out),
                etcd::Written::NotLeader => {
                    lost = true;
                    claimed.updates.push(self.revert(&out, None));
                }
                etcd::Written::Stale => {
                    claimed.updates.push(self.revert(&out, Some(RETRY_CLAIM)));
                }
                etcd::Written::Failed => {
                    unreachable = true;
                    claimed.updates.push(self.revert(&out, Some(RETRY_CLAIM)));
                }
            }
        }
        claimed
    }

    /// The update putting `out`'s group log back to the shared entry.
    fn revert(&self, out: &Outgoing, retry_after: Option<Duration>) -> LogUpdate {
        let id = entry_id(out);
        let (state, severity) = match self.shared.mirror.lock().get(&id) {
            Some(m) => (Some(m.state.clone()), m.severity.clone()),
            None => (None, BTreeMap::new()),
        };
        LogUpdate {
            receiver: id.receiver,
            group_key: id.group_key,
            integration: id.integration,
            state,
            severity,
            retry_after,
        }
    }

    /// Raises `WatchfireHALeaseLost` through `notifier` (as an API client would post it)
    /// while this replica fails open, re-posting it before it would time out, and resolves
    /// it when etcd answers again.
    pub async fn run_self_alert(self, notifier: Arc<NotifierHandle>, cancel: CancellationToken) {
        const REPOST: Duration = Duration::from_secs(30);
        let mut since: Option<chrono::DateTime<Utc>> = None;
        let mut posted = Instant::now();
        let mut every = tokio::time::interval(Duration::from_millis(500));
        loop {
            tokio::select! {
                _ = every.tick() => {}
                _ = cancel.cancelled() => return,
            }
            let open = self.shared.view.lock().fail_open;
            let now = Utc::now();
            let alert = |starts_at, ends_at| PostedAlert {
                labels: Labels::from_pairs([
                    ("alertname", LEASE_LOST_ALERT),
                    ("severity", "critical"),
                ]),
                annotations: BTreeMap::from([(
                    "summary".to_owned(),
                    format!(
                        "HA replica {} cannot reach etcd: notifications fail open (both \
                         replicas send)",
                        self.replica()
                    ),
                )]),
                starts_at,
                ends_at,
                timeout: false,
                generator_url: String::new(),
            };
            match (open, since) {
                (true, None) => {
                    since = Some(now);
                    posted = Instant::now();
                    tracing::warn!(alert = LEASE_LOST_ALERT, "etcd unreachable: failing open");
                    let _ = notifier.post(vec![alert(now, now + REPOST * 4)]).await;
                }
                (true, Some(start)) if posted.elapsed() >= REPOST => {
                    posted = Instant::now();
                    let _ = notifier.post(vec![alert(start, now + REPOST * 4)]).await;
                }
                (false, Some(start)) => {
                    since = None;
                    tracing::info!(alert = LEASE_LOST_ALERT, "etcd reachable again");
                    let _ = notifier.post(vec![alert(start, now)]).await;
                }
                _ => {}
            }
        }
    }
}

fn entry_id(out: &Outgoing) -> EntryId {
    EntryId {
        receiver: out.receiver.clone(),
        group_key: out.notification.group_key.clone(),
        integration: out.integration,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leader_stops_a_margin_before_its_lease_could_expire() {
        let ttl = Duration::from_secs(3);
        let t0 = Instant::now();
        let mut view = LeaseView {
            fencing: Some(17),
            renewed_at: Some(t0),
            ..LeaseView::default()
        };
        assert_eq!(margin(ttl), Duration::from_millis(750));
        assert_eq!(role(&view, t0, ttl), Role::Leader { fencing: 17 });
        let last = t0 + Duration::from_millis(2249);
        assert_eq!(role(&view, last, ttl), Role::Leader { fencing: 17 });
        assert_eq!(
            role(&view, t0 + Duration::from_millis(2250), ttl),
            Role::Standby
        );
        // Resumed long after (SIGSTOP): standby until the election has asked etcd again.
        assert_eq!(
            role(&view, t0 + Duration::from_secs(60), ttl),
            Role::Standby
        );
        view.fencing = None;
        assert_eq!(role(&view, t0, ttl), Role::Standby);
        view.fail_open = true;
        assert_eq!(role(&view, t0, ttl), Role::FailOpen);
        assert_eq!(margin(Duration::from_secs(1)), Duration::from_millis(500));
        assert_eq!(tick(Duration::from_secs(3)), Duration::from_secs(1));
        assert_eq!(
            tick(Duration::from_secs(2)),
            Duration::from_nanos(666_666_666)
        );
    }

    #[test]
    fn only_an_attempt_started_past_the_ttl_fails_open() {
        let ttl = Duration::from_secs(3);
        let ok = Instant::now();
        assert!(!fails_open(ok, ok + Duration::from_secs(2), ttl));
        assert!(!fails_open(ok, ok + ttl, ttl));
        assert!(fails_open(ok, ok + Duration::from_millis(3001), ttl));
        // An attempt that began before the last success (overlapping) never does.
        assert!(!fails_open(ok + Duration::from_secs(10), ok, ttl));
    }
}
