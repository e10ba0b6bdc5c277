//! Notifications: routing, grouping, inhibition, silences and delivery to receivers.

pub mod alert;
pub mod gojson;
pub mod group;
pub mod inhibit;
pub mod integration;
pub mod integrations;
pub mod matchers;
pub mod metrics;
pub mod notification;
pub mod queue;
pub mod retry;
pub mod route;
pub mod silence;
pub mod text;

pub use integration::{async_trait, ErrorClass, Integration, NotifyError};
pub use notification::{Notification, NotificationReason};
