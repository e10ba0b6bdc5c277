//! The delivery journal: the latest attempts to deliver each alert's notifications — sent,
//! failed and retried, given up — for the UI's "why did it fire" page. In memory only and
//! bounded twice: [`ATTEMPTS_PER_ALERT`] entries per alert (oldest dropped first) and
//! [`ALERTS_TRACKED`] alerts (the alert seen first is forgotten first). The dead-letter list
//! holds given-up notifications durably; this journal is what a person reads to see that a
//! notification went out, when, and through which integration.

use super::alert::AlertStatus;
use super::notification::Notification;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Most attempts kept per alert.
pub const ATTEMPTS_PER_ALERT: usize = 20;

/// Most alerts with a journal at once.
pub const ALERTS_TRACKED: usize = 5_000;

/// What one attempt came to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The receiver accepted it.
    Sent,
    /// It failed and will be tried again.
    Retrying,
    /// It failed and was given up (see the dead-letter list).
    GivenUp,
}

impl Outcome {
    /// `sent`, `retrying` or `given up`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Sent => "sent",
            Outcome::Retrying => "retrying",
            Outcome::GivenUp => "given up",
        }
    }
}

/// One attempt to deliver a notification that carried the alert.
#[derive(Clone, Debug)]
pub struct DeliveryAttempt {
    /// When the attempt ended.
    pub at: DateTime<Utc>,
    /// The receiver.
    pub receiver: Arc<str>,
    /// The integration kind (`webhook`, `slack`, …).
    pub integration: Arc<str>,
    /// 1 for the first attempt of this notification.
    pub attempt: u32,
    /// The alert's status in that notification.
    pub status: AlertStatus,
    /// What came of it.
    pub outcome: Outcome,
    /// The error, when it failed.
    pub error: String,
}

#[derive(Debug, Default)]
struct Inner {
    by_alert: HashMap<u64, VecDeque<DeliveryAttempt>>,
    /// Fingerprints in the order they were first journaled (the eviction order).
    order: VecDeque<u64>,
}

/// The bounded per-alert journal of delivery attempts.
#[derive(Debug, Default)]
pub struct DeliveryJournal {
    inner: Mutex<Inner>,
}

impl DeliveryJournal {
    /// Journals one attempt at `notification` for each alert it carries.
    pub fn record(
        &self,
        notification: &Notification,
        integration: &Arc<str>,
        attempt: u32,
        outcome: Outcome,
        error: &str,
    ) {
        let at = Utc::now();
        let receiver: Arc<str> = Arc::from(notification.receiver.as_str());
        let mut inner = self.inner.lock();
        for alert in &notification.alerts {
            let entry = DeliveryAttempt {
                at,
                receiver: receiver.clone(),
                integration: integration.clone(),
                attempt,
                status: alert.status,
                outcome,
                error: error.to_owned(),
            };
            inner.push(alert.fingerprint, entry);
        }
    }

    /// The attempts journaled for the alert with `fingerprint`, oldest first.
    pub fn for_alert(&self, fingerprint: u64) -> Vec<DeliveryAttempt> {
        self.inner
            .lock()
            .by_alert
            .get(&fingerprint)
            .map(|d| d.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Alerts with a journal.
    pub fn alerts(&self) -> usize {
        self.inner.lock().by_alert.len()
    }
}

impl Inner {
    fn push(&mut self, fingerprint: u64, entry: DeliveryAttempt) {
        let attempts = match self.by_alert.get_mut(&fingerprint) {
            Some(a) => a,
            None => {
                while self.by_alert.len() >= ALERTS_TRACKED {
                    match self.order.pop_front() {
                        Some(old) => {
                            self.by_alert.remove(&old);
                        }
                        None => break,
                    }
                }
                self.order.push_back(fingerprint);
                self.by_alert.entry(fingerprint).or_default()
            }
        };
        if attempts.len() >= ATTEMPTS_PER_ALERT {
            attempts.pop_front();
        }
        attempts.push_back(entry);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::notify::alert::NotifyAlert;
    use crate::notify::notification::NotificationReason;

    fn notification(fingerprints: &[u64]) -> Notification {
        let alerts = fingerprints
            .iter()
            .map(|&f| {
                let mut a = NotifyAlert::firing(
                    Labels::from_pairs([("alertname", format!("A{f}"))]),
                    Utc::now(),
                );
                a.fingerprint = f;
                a
            })
            .collect();
        Notification::new(
            "team",
            "{}:{}",
            Labels::default(),
            NotificationReason::FirstNotification,
            alerts,
            "",
            Utc::now(),
        )
    }

    #[test]
    fn keeps_each_alerts_attempts_in_order() {
        let j = DeliveryJournal::default();
        let kind: Arc<str> = Arc::from("webhook");
        let n = notification(&[1, 2]);
        j.record(&n, &kind, 1, Outcome::Retrying, "500 Internal Server Error");
        j.record(&n, &kind, 2, Outcome::Sent, "");
        let a = j.for_alert(1);
        assert_eq!(
            a.iter().map(|x| (x.attempt, x.outcome)).collect::<Vec<_>>(),
            [(1, Outcome::Retrying), (2, Outcome::Sent)]
        );
        assert_eq!(&*a[0].receiver, "team");
        assert_eq!(a[0].error, "500 Internal Server Error");
        assert_eq!(j.for_alert(2).len(), 2);
        assert!(j.for_alert(3).is_empty());
    }

    #[test]
    fn is_bounded_per_alert_and_in_alerts() {
        let j = DeliveryJournal::default();
        let kind: Arc<str> = Arc::from("webhook");
        let one = notification(&[7]);
        for i in 0..(ATTEMPTS_PER_ALERT as u32 + 5) {
            j.record(&one, &kind, i + 1, Outcome::Sent, "");
        }
        let a = j.for_alert(7);
        assert_eq!(a.len(), ATTEMPTS_PER_ALERT);
        assert_eq!(a[0].attempt, 6, "the oldest attempts go first");
        for f in 0..(ALERTS_TRACKED as u64 + 10) {
            j.record(&notification(&[1_000 + f]), &kind, 1, Outcome::Sent, "");
        }
        assert_eq!(j.alerts(), ALERTS_TRACKED);
        assert!(
            j.for_alert(7).is_empty(),
            "the alert seen first is forgotten first"
        );
        assert_eq!(j.for_alert(1_000 + ALERTS_TRACKED as u64 + 9).len(), 1);
    }
}
