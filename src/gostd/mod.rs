//! Text exactly as Go's standard library writes it, for output that must be
//! byte-for-byte what Prometheus and Alertmanager produce: floats
//! (`strconv.FormatFloat` and `fmt`'s `%v`), `encoding/json` strings and
//! times, `strconv.Quote` and `time.Duration`. The one home for these: the
//! API, the evaluator, the rule unit tests, the templates and the receivers
//! all use it.
//!
//! **Invariant:** pure functions, no I/O; depends on nothing else in the crate.

pub mod float;
pub mod json;
pub mod text;
pub mod yaml;
