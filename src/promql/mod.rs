//! PromQL over the buffer: a thin parse wrapper around `promql-parser` and our
//! own evaluator with Prometheus 3.x semantics.
//!
//! Layout: `limits` (query length, tree depth and `@` bounds checked on the
//! text before parsing; the stack budget of recursive walks), `parse`
//! (syntax, error positions), `plan` (our evaluation tree),
//! `engine` (query driver and limits), `eval` (node dispatch, per-step
//! driver, subqueries), `selectors`, `binary`, `aggregations`, `functions/`.
//! The API JSON of values lives in `api/`.
//!
//! Bounded recursion: a query longer than [`MAX_QUERY_BYTES`] or whose tree
//! would be deeper than [`MAX_DEPTH`] is refused by [`parse`] with "expression
//! nested too deeply (limit N)", before any recursive walk. Within the limits,
//! the walks that recurse (the crate's parser and pretty printer, our `lower`,
//! `mark` and `eval`) have a known stack budget: ours check the stack left at
//! every level and continue on a new heap-allocated segment (`stacker`) when
//! less than 256 KiB is left; the crate's run on a guaranteed 16 MiB. Dropping a
//! tree at the limit needs under 1 MiB even in a debug build (the unit tests in
//! `limits` run every step of a query at the limit on a 1 MiB thread).
//!
//! **Invariant:** evaluation takes the evaluation time as a parameter and
//! reads the buffer only; no clock (except the query deadline), no I/O.

mod aggregations;
mod binary;
mod duration_expr;
mod engine;
mod eval;
mod extended;
mod functions;
mod limits;
pub mod matchers;
mod parse;
mod parse_pos;
mod plan;
mod selectors;
mod types;
mod value;

pub use engine::Engine;
pub use limits::{MAX_DEPTH, MAX_QUERY_BYTES};
pub use parse::{format_query, parse, ParseError};
pub use plan::AT_UNSAFE as TIME_DEPENDENT_FUNCTIONS;
pub use promql_parser::parser::Expr;
pub use value::{InstantSample, RangeSeries, Value};

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
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            lookback_delta_ms: 5 * 60 * 1000,
            timeout: Duration::from_secs(120),
            max_samples: 50_000_000,
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
