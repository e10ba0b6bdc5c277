//! The etcd side of the HA pair: the election loop, the fenced log write, and the sharing of
//! the log and silences (read everything, then watch; write local silence changes).
//!
//! Every request is bounded by the request timeout (`dial_timeout`, at most half the TTL);
//! failures are counted in `watchfire_ha_lease_errors_total` and retried on the next tick.

use super::nflog::{Entry, EntryId, EntryRecord, MAX_ENTRY_BYTES};
use super::{fails_open, role, tick, Role, Shared};
use crate::notify::silence::Silence;
use crate::persist::silences::SilenceRecord;
use chrono::Utc;
use etcd_client::{
    Client, Compare, CompareOp, ConnectOptions, EventType, GetOptions, PutOptions, Txn, TxnOp,
    TxnOpResponse, WatchOptions,
};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often etcd's copies of purged silences and old log entries are deleted.
const CLEANUP_EVERY: Duration = Duration::from_secs(60);

fn leader_key(s: &Shared) -> String {
    format!("{}/leader", s.config.etcd.prefix)
}

fn nflog_prefix(s: &Shared) -> String {
    format!("{}/nflog/", s.config.etcd.prefix)
}

fn silences_prefix(s: &Shared) -> String {
    format!("{}/silences/", s.config.etcd.prefix)
}

/// `f` within the request timeout; a timeout is an error.
async fn bounded<T>(
    s: &Shared,
    f: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(s.timeout, f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("no answer within {:?}", s.timeout)),
    }
}

/// The client, connecting when there is none yet.
async fn client(s: &Shared) -> Result<Client, String> {
    if let Some(c) = s.client.lock().clone() {
        return Ok(c);
    }
    let e = &s.config.etcd;
    let mut options = ConnectOptions::new()
        .with_timeout(s.timeout)
        .with_connect_timeout(s.timeout)
        .with_keep_alive(tick(s.ttl), s.timeout);
    if let Some(auth) = &e.basic_auth {
        let password = auth
            .password
            .as_ref()
            .map(|p| p.secret().expose().to_owned())
            .unwrap_or_default();
        options = options.with_user(auth.username.clone(), password);
    }
    let c = bounded(s, Client::connect(&e.endpoints, Some(options))).await?;
    *s.client.lock() = Some(c.clone());
    Ok(c)
}

/// One lease this replica keeps alive.
struct Lease {
    id: i64,
    keeper: Option<(etcd_client::LeaseKeeper, etcd_client::LeaseKeepAliveStream)>,
}

/// The election loop (see the module docs of `ha`).
pub(super) async fn run_election(s: Arc<Shared>, cancel: CancellationToken) {
    let mut lease: Option<Lease> = None;
    let mut last_ok = Instant::now();
    let mut every = tokio::time::interval(tick(s.ttl));
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut was_leader = false;
    let mut failures = 0u32;
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = cancel.cancelled() => break,
        }
        let started = Instant::now();
        match campaign(&s, &mut lease, started).await {
            Ok(()) => {
                last_ok = started;
                failures = 0;
                s.view.lock().fail_open = false;
            }
            Err(e) => {
                s.metrics.lease_errors.inc();
                failures += 1;
                // Two failures in a row: the first after a SIGSTOP may be a connection that
                // went stale meanwhile.
                let open = failures >= 2 && fails_open(last_ok, started, s.ttl);
                let mut view = s.view.lock();
                if open && !view.fail_open {
                    tracing::error!(error = %e, "etcd unreachable for longer than the lease TTL; failing open");
                } else if !open {
                    tracing::warn!(error = %e, "HA lease request failed");
                }
                view.fail_open |= open;
            }
        }
        let now_role = role(&s.view.lock(), Instant::now(), s.ttl);
        let leader = matches!(now_role, Role::Leader { .. });
        s.metrics.leader.set(i64::from(leader));
        s.metrics
            .fail_open
            .set(i64::from(now_role == Role::FailOpen));
        if leader && !was_leader {
            tracing::info!(replica = %s.config.replica, "became the HA leader");
            s.takeovers.send_modify(|n| *n += 1);
        } else if !leader && was_leader {
            tracing::warn!(replica = %s.config.replica, "no longer the HA leader");
        }
        was_leader = leader;
    }
    // Hand over at once: the standby need not wait for the lease to expire.
    s.view.lock().fencing = None;
    s.metrics.leader.set(0);
    if let (Some(l), Ok(mut c)) = (lease, client(&s).await) {
        let _ = bounded(&s, c.lease_revoke(l.id)).await;
    }
}

/// One election round: keep the lease alive (or get one), then try to take the leader key.
async fn campaign(s: &Shared, lease: &mut Option<Lease>, started: Instant) -> Result<(), String> {
    let mut c = client(s).await?;
    if lease.is_some() && !keep_alive(s, &mut c, lease).await? {
        // etcd answered that the lease is gone (expired while this process was stopped or
        // cut off): a new one, and the campaign starts over.
        tracing::warn!("the HA lease expired; asking for a new one");
        *lease = None;
    }
    if lease.is_none() {
        let ttl = i64::try_from(s.ttl.as_secs()).unwrap_or(i64::MAX);
        let granted = bounded(s, c.lease_grant(ttl, None)).await?;
        *lease = Some(Lease {
            id: granted.id(),
            keeper: None,
        });
    }
    s.view.lock().renewed_at = Some(started);
    let Some(id) = lease.as_ref().map(|l| l.id) else {
        return Ok(());
    };
    let key = leader_key(s);
    let txn = Txn::new()
        .when([Compare::create_revision(key.clone(), CompareOp::Equal, 0)])
        .and_then([TxnOp::put(
            key.clone(),
            s.config.replica.clone(),
            Some(PutOptions::new().with_lease(id)),
        )])
        .or_else([TxnOp::get(key, None)]);
    let resp = bounded(s, c.txn(txn)).await?;
    let mut view = s.view.lock();
    if resp.succeeded() {
        let revision = resp.header().map_or(0, |h| h.revision());
        view.fencing = Some(revision);
        view.leader = Some(s.config.replica.clone());
        return Ok(());
    }
    let held = resp.op_responses().into_iter().find_map(|r| match r {
        TxnOpResponse::Get(g) => g.kvs().first().cloned(),
        _ => None,
    });
    match held {
        Some(kv) if kv.lease() == id => {
            view.fencing = Some(kv.mod_revision());
            view.leader = Some(s.config.replica.clone());
        }
        Some(kv) => {
            view.fencing = None;
            view.leader = Some(String::from_utf8_lossy(kv.value()).into_owned());
        }
        None => {
            view.fencing = None;
            view.leader = None;
        }
    }
    Ok(())
}

/// Renews the lease: `Ok(false)` when etcd no longer knows it (expired).
async fn keep_alive(s: &Shared, c: &mut Client, lease: &mut Option<Lease>) -> Result<bool, String> {
    let Some(l) = lease.as_mut() else {
        return Ok(false);
    };
    if l.keeper.is_none() {
        l.keeper = Some(bounded(s, c.lease_keep_alive(l.id)).await?);
    }
    let Some((keeper, stream)) = l.keeper.as_mut() else {
        return Ok(false);
    };
    let sent = bounded(s, keeper.keep_alive()).await;
    let answer = match sent {
        Ok(()) => bounded(s, stream.message()).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(Some(r)) => Ok(r.ttl() > 0),
        Ok(None) => {
            l.keeper = None;
            Err("keep-alive stream closed".to_owned())
        }
        Err(e) => {
            l.keeper = None;
            Err(e)
        }
    }
}

/// How a fenced log write went.
pub(super) enum Written {
    /// Written: send.
    Yes,
    /// The leader key is not ours (any more).
    NotLeader,
    /// The entry changed since we read it (now mirrored).
    Stale,
    /// etcd did not answer.
    Failed,
}

/// Writes `state` as `id`'s entry if the leader key still has revision `fencing` and the
/// entry the revision last mirrored.
pub(super) async fn write_entry(
    s: &Shared,
    c: &mut Client,
    id: &EntryId,
    entry: Entry,
    fencing: i64,
) -> Written {
    let key = id.key(&s.config.etcd.prefix);
    let leader = leader_key(s);
    let known = s.mirror.lock().get(id).map_or(0, |m| m.revision);
    let record = EntryRecord::new(id, &entry.0, &entry.1, &s.config.replica, fencing);
    let txn = Txn::new()
        .when([
            Compare::mod_revision(leader.clone(), CompareOp::Equal, fencing),
            Compare::mod_revision(key.clone(), CompareOp::Equal, known),
        ])
        .and_then([TxnOp::put(key.clone(), record.encode(), None)])
        .or_else([TxnOp::get(leader, None), TxnOp::get(key.clone(), None)]);
    let resp = match bounded(s, c.txn(txn)).await {
        Ok(r) => r,
        Err(e) => {
            s.metrics.lease_errors.inc();
            tracing::warn!(error = %e, group = %id.group_key, "notification log not written; not sent yet");
            return Written::Failed;
        }
    };
    if resp.succeeded() {
        let revision = resp.header().map_or(0, |h| h.revision());
        if s.mirror.lock().apply(&key, id.clone(), revision, entry) {
            s.nflog.send_modify(|r| *r = (*r).max(revision));
        }
        return Written::Yes;
    }
    let mut gets = resp.op_responses().into_iter().filter_map(|r| match r {
        TxnOpResponse::Get(g) => Some(g.kvs().first().cloned()),
        _ => None,
    });
    let leader_rev = gets.next().flatten().map_or(0, |kv| kv.mod_revision());
    if leader_rev != fencing {
        let mut view = s.view.lock();
        if view.fencing == Some(fencing) {
            view.fencing = None;
        }
        tracing::warn!(
            group = %id.group_key,
            "leader key changed (fencing token {fencing}, now {leader_rev}): not sending"
        );
        return Written::NotLeader;
    }
    if let Some(kv) = gets.next().flatten() {
        apply_entry(s, &key, kv.value(), kv.mod_revision());
    }
    Written::Stale
}

/// Mirrors one log entry read from etcd.
fn apply_entry(s: &Shared, key: &str, value: &[u8], revision: i64) {
    match EntryRecord::decode(value) {
        Ok((id, state, severity)) => {
            if s.mirror.lock().apply(key, id, revision, (state, severity)) {
                s.nflog.send_modify(|r| *r = (*r).max(revision));
            }
        }
        Err(e) => {
            tracing::warn!(key, error = %e, "unreadable notification log entry in etcd skipped")
        }
    }
}

/// Takes one silence read from etcd.
fn apply_silence(s: &Shared, key: &str, value: &[u8]) {
    if value.len() > MAX_ENTRY_BYTES {
        tracing::warn!(key, "oversized silence in etcd skipped");
        return;
    }
    let silence = serde_json::from_slice::<SilenceRecord>(value)
        .map_err(|e| e.to_string())
        .and_then(Silence::try_from);
    match silence {
        Ok(silence) => {
            if let Err(e) = s.silences.apply_replicated(silence, Utc::now()) {
                tracing::warn!(key, error = %e, "silence from etcd refused");
            }
        }
        Err(e) => tracing::warn!(key, error = %e, "unreadable silence in etcd skipped"),
    }
}

fn apply_kv(s: &Shared, key: &[u8], value: &[u8], revision: i64) {
    let key = String::from_utf8_lossy(key);
    if key.starts_with(&nflog_prefix(s)) {
        apply_entry(s, &key, value, revision);
    } else if key.starts_with(&silences_prefix(s)) {
        apply_silence(s, &key, value);
    }
}

/// Reads the log and the silences, then follows changes; writes local silence changes;
/// deletes etcd's copies past the retention. Starts over after any error.
pub(super) async fn run_sync(s: Arc<Shared>, cancel: CancellationToken) {
    let outbox = s.silences.replicate();
    let mut cleanup = tokio::time::interval(CLEANUP_EVERY);
    loop {
        let result = tokio::select! {
            r = sync_once(&s, &outbox, &mut cleanup) => r,
            _ = cancel.cancelled() => return,
        };
        if let Err(e) = result {
            s.metrics.lease_errors.inc();
            tracing::warn!(error = %e, "HA sharing with etcd interrupted; starting over");
        }
        tokio::select! {
            _ = tokio::time::sleep(tick(s.ttl)) => {}
            _ = cancel.cancelled() => return,
        }
    }
}

async fn sync_once(
    s: &Shared,
    outbox: &crate::notify::silence::SilenceOutbox,
    cleanup: &mut tokio::time::Interval,
) -> Result<(), String> {
    let mut c = client(s).await?;
    let prefix = format!("{}/", s.config.etcd.prefix);
    let all = bounded(
        s,
        c.get(prefix.clone(), Some(GetOptions::new().with_prefix())),
    )
    .await?;
    for kv in all.kvs() {
        apply_kv(s, kv.key(), kv.value(), kv.mod_revision());
    }
    let from = all.header().map_or(0, |h| h.revision()) + 1;
    let options = WatchOptions::new().with_prefix().with_start_revision(from);
    let (_watcher, mut stream) = bounded(s, c.watch(prefix, Some(options))).await?;
    push_silences(s, &mut c, outbox).await?;
    loop {
        tokio::select! {
            message = stream.message() => {
                let Some(resp) = message.map_err(|e| e.to_string())? else {
                    return Err("watch closed".to_owned());
                };
                if resp.canceled() || resp.compact_revision() > 0 {
                    return Err(format!("watch cancelled: {}", resp.cancel_reason()));
                }
                for ev in resp.events() {
                    let Some(kv) = ev.kv() else { continue };
                    match ev.event_type() {
                        EventType::Put => apply_kv(s, kv.key(), kv.value(), kv.mod_revision()),
                        EventType::Delete => {
                            s.mirror.lock().remove_key(&String::from_utf8_lossy(kv.key()));
                        }
                    }
                }
            }
            _ = outbox.changed() => push_silences(s, &mut c, outbox).await?,
            _ = cleanup.tick() => clean(s, &mut c).await?,
        }
    }
}

/// Writes the silences changed through this replica's API.
async fn push_silences(
    s: &Shared,
    c: &mut Client,
    outbox: &crate::notify::silence::SilenceOutbox,
) -> Result<(), String> {
    let ids = outbox.take();
    for (i, id) in ids.iter().enumerate() {
        let Some(silence) = s.silences.get(id) else {
            continue;
        };
        let value = serde_json::to_vec(&SilenceRecord::from(&silence)).unwrap_or_default();
        let key = format!("{}{id}", silences_prefix(s));
        if let Err(e) = bounded(s, c.put(key, value, None)).await {
            outbox.put_back(ids[i..].iter().cloned());
            return Err(format!("silence {id} not written to etcd: {e}"));
        }
    }
    Ok(())
}

/// Deletes etcd's silences past their retention and log entries older than the retention.
async fn clean(s: &Shared, c: &mut Client) -> Result<(), String> {
    let now = Utc::now();
    let all = bounded(
        s,
        c.get(silences_prefix(s), Some(GetOptions::new().with_prefix())),
    )
    .await?;
    for kv in all.kvs() {
        let expired = serde_json::from_slice::<SilenceRecord>(kv.value())
            .ok()
            .and_then(|r| Silence::try_from(r).ok())
            .is_some_and(|silence| silence.ends_at + s.retention <= now);
        if expired {
            bounded(s, c.delete(kv.key().to_vec(), None)).await?;
        }
    }
    let old = s.mirror.lock().older_than(now - s.retention);
    for key in old {
        bounded(s, c.delete(key.clone(), None)).await?;
        s.mirror.lock().remove_key(&key);
    }
    Ok(())
}
