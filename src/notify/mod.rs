//! Notifications: routing, grouping, inhibition, silences and delivery to receivers.

pub mod alert;
pub mod matchers;
