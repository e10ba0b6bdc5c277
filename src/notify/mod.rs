//! Notifications: Alertmanager's routing, grouping, inhibition and silences, with delivery
//! guarantees (per-integration queues, retries with backoff, fallback receivers, dead letters,
//! idempotency keys).
//!
//! # Layout
//! - [`alert`]: the input, [`NotifyAlert`] (one alert transition from the rule engine).
//! - [`api_alerts`]: the alerts Alertmanager's API lists, and alerts posted to it.
//! - [`route`], [`group`], [`inhibit`], [`silence`], [`time_interval`], [`dispatch`]: which
//!   receiver hears about which alerts, and when (pure state, time passed in).
//! - [`notification`]: what an integration is told, with its idempotency key.
//! - [`integration`]: the [`Integration`] trait for embedders' own channels;
//!   [`integrations`]: webhook, Slack, email, log, Alertmanager forwarding.
//! - [`text`]: built-in notification texts (the place the template engine plugs in).
//! - [`queue`], [`retry`], [`dead_letters`], [`metrics`]: delivery; [`durable`]: what survives
//!   a restart.
//! - [`ha`]: the HA pair on etcd (only the lease holder sends; silences and the
//!   notification log shared).
//! - [`notifier`]: [`Notifier`], which builds all of the above from a config and runs it;
//!   [`preview`]: the integrations without a running notifier (`render`, `test receivers`).
//!
//! **Invariant:** only this module makes outbound calls to receivers; routing and grouping do
//! no I/O and read no clock.

pub mod alert;
pub mod api_alerts;
pub mod bridge;
pub mod dead_letters;
pub mod dispatch;
pub mod durable;
pub mod group;
pub mod ha;
pub mod handle;
pub mod inhibit;
pub mod integration;
pub mod integrations;
pub mod journal;
pub mod metrics;
pub mod notification;
pub mod notifier;
pub mod preview;
pub mod queue;
pub mod retry;
pub mod route;
pub mod silence;
pub mod templates;
pub mod text;
pub mod time_interval;

pub use alert::{alert_fingerprint, AlertStatus, NotifyAlert, ResolveReason, Transition};
pub use api_alerts::{ApiAlerts, PostError, PostedAlert, MAX_POSTED_ALERTS};
pub use handle::NotifierHandle;
pub use integration::{async_trait, ErrorClass, FailureReason, Integration, NotifyError};
pub use notification::{Notification, NotificationReason};
pub use notifier::{
    AlertState, BuildError, Carried, IntegrationOptions, Notifier, NotifierBuilder,
};
pub use preview::{render, test_receivers, Rendered, TestOutcome};
pub use queue::{DeadLetters, FailedNotification};
pub use silence::{Silence, SilenceError, SilenceLimits, SilenceState, Silences};
