//! PromQL over the buffer: a thin parse wrapper around `promql-parser` and our
//! own evaluator with Prometheus 3.x semantics.
//!
//! Layout: `limits` (query length, tree depth and `@` bounds checked on the
//! text before parsing; the stack budget of recursive walks), `parse`
//! (syntax, error positions), `plan` (our evaluation tree),
//! `engine` (query driver and limits), `eval` (node dispatch, per-step
//! driver, subqueries), `selectors` (every read of the buffer), `memo` (selections shared
//! by the queries of one rule-group evaluation), `binary`, `aggregations`, `functions/`.
//! The API JSON of values lives in `api/`.
//!
//! Bounded recursion: a query longer than [`MAX_QUERY_BYTES`] or whose tree
//! would be deeper than [`MAX_DEPTH`] is refused by `parse` with "expression
//! nested too deeply (limit N)", before any recursive walk. Within the limits,
//! the walks that recurse (the crate's parser and pretty printer, our `lower`,
//! `mark` and `eval`) have a known stack budget: ours check the stack left at
//! every level and continue on a new heap-allocated segment (`stacker`) when
//! less than 256 KiB is left; the crate's run on a guaranteed 16 MiB. Dropping a
//! tree at the limit needs under 1 MiB even in a debug build (the unit tests in
//! `limits` run every step of a query at the limit on a 1 MiB thread).
//!
//! Limits: every query runs under a deadline (`timeout`), a cap on samples held at once
//! (`max_samples`) and a byte budget (`max_bytes`, default 512 MiB: samples at 16 bytes each
//! plus twice the label text the query creates, e.g. by `label_replace`/`label_join`, since a
//! new value is built and then copied; checked before the text is built), and stops at the next check once its [`CancelFlag`] is set.
//!
//! **Invariant:** evaluation takes the evaluation time as a parameter and
//! reads the buffer only; no clock (except the query deadline), no I/O.

mod aggregations;
mod binary;
mod duration_expr;
mod engine;
mod eval;
pub(crate) mod extended;
mod functions;
mod incremental;
pub(crate) mod limits;
pub mod matchers;
mod memo;
mod parse;
mod parse_pos;
mod plan;
mod selectors;
mod types;
mod value;

pub use engine::Engine;
pub use incremental::{Stats as WindowStats, WindowCache};
pub use limits::{MAX_DEPTH, MAX_QUERY_BYTES};
pub use memo::SelectionMemo;
pub use parse::{format_query, parse, ParseError};
pub use plan::AT_UNSAFE as TIME_DEPENDENT_FUNCTIONS;
pub use promql_parser::parser::Expr;
pub use value::{InstantSample, RangeSeries, Value};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Evaluation limits and defaults.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (default 5m).
    pub lookback_delta_ms: i64,
    /// Wall-clock budget of one query.
    pub timeout: Duration,
    /// Most samples one query may hold in memory at once.
    pub max_samples: usize,
    /// Most bytes one query may use: samples held (16 bytes each) plus label text it creates.
    pub max_bytes: usize,
}

/// The default of [`EngineOptions::max_bytes`]: 512 MiB, so that 20 concurrent queries
/// (Prometheus' default `--query.max-concurrency`) stay within 10 GiB.
pub const DEFAULT_MAX_BYTES: usize = 512 << 20;

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 5 * 60 * 1000,
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
            max_bytes: DEFAULT_MAX_BYTES,
        }
    }
}

/// Why a query failed, mapped to Prometheus' API error types by `api/`.
#[derive(Debug, Clone, thiserror::Error)]
pub enum EvalError {
    /// The query does not parse or is semantically invalid (`bad_data`).
    #[error("{0}")]
    BadData(String),
    /// Evaluation failed (`execution`).
    #[error("{0}")]
    Execution(String),
    /// The query ran past its timeout (`timeout`).
    #[error("query timed out in {0}")]
    Timeout(String),
    /// The query would hold more samples than allowed (`execution`).
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(String),
    /// The query would use more bytes than allowed (`execution`).
    #[error("query processing would use more than {limit} bytes of memory in {place} (limit set by --query.max-bytes)")]
    TooManyBytes {
        /// Where evaluation stopped.
        place: String,
        /// The budget in bytes.
        limit: usize,
    },
    /// The caller cancelled the query (`canceled`).
    #[error("query was canceled in {0}")]
    Canceled(String),
}

/// Stops a running query: the caller sets it (e.g. when the client went away), the evaluator
/// notices at its next deadline check and fails with [`EvalError::Canceled`].
#[derive(Debug, Clone, Default)]
pub struct CancelFlag(Arc<AtomicBool>);

impl CancelFlag {
    /// A flag not set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks every query holding this flag to stop.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`cancel`](Self::cancel) was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A query's answer, with Prometheus' annotations.
#[derive(Debug, Clone)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Annotations of level warning.
    pub warnings: Vec<String>,
    /// Annotations of level info.
    pub infos: Vec<String>,
}
