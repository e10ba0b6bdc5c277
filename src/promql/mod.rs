//! PromQL over the buffer: a thin parse wrapper around `promql-parser` and our
//! own evaluator with Prometheus 3.x semantics.
//!
//! Layout: `parse` (syntax, error positions), `plan` (our evaluation tree),
//! `engine` (query driver and limits), `eval` (node dispatch, per-step
//! driver, subqueries), `selectors`, `binary`, `aggregations`, `functions/`.
//! The API JSON of values lives in `api/`.
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
pub mod matchers;
mod parse;
mod parse_pos;
mod plan;
mod selectors;
mod types;
mod value;

pub use engine::Engine;
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
