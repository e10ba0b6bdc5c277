//! Domain types shared by every pipeline stage: label sets, matchers, samples, and Prometheus'
//! relabel engine (`relabel`).
//!
//! **Invariant:** this module does no I/O and knows no wire format.

mod labels;
mod matcher;
pub mod matcher_text;
pub mod relabel;
mod sample;

pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME};
pub use matcher::{anchored_regex, MatchOp, Matcher, MatcherError};
pub use sample::{is_stale_nan, Sample, STALE_NAN};
