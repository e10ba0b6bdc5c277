//! PromQL over the buffer: a thin parse wrapper around `promql-parser` and our
//! own evaluator.
//!
//! **Invariant:** evaluation takes the evaluation time as a parameter and
//! reads the buffer only; no clock, no I/O.
//!
//! (Interface placeholder: the evaluator lands with issue 3.)

mod value;

pub use value::{InstantSample, RangeSeries, Value};

use crate::store::Store;
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

/// A parse error with the byte position the parser reported, when known.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ParseError {
    /// What is wrong, with position when known.
    pub message: String,
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

/// Parses a PromQL expression.
pub fn parse(query: &str) -> Result<promql_parser::parser::Expr, ParseError> {
    promql_parser::parser::parse(query).map_err(|message| ParseError { message })
}

/// The evaluator.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
}

impl Engine {
    /// An engine with these limits.
    pub fn new(opts: EngineOptions) -> Self {
        Self { opts }
    }

    /// The engine's limits.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `expr` at `t_ms`.
    pub fn instant_query(
        &self,
        _store: &Store,
        _expr: &promql_parser::parser::Expr,
        _t_ms: i64,
    ) -> Result<QueryResult, EvalError> {
        Err(EvalError::Execution("evaluator not built yet".into()))
    }

    /// Evaluates `expr` at every step from `start_ms` to `end_ms`; the value is a matrix.
    pub fn range_query(
        &self,
        _store: &Store,
        _expr: &promql_parser::parser::Expr,
        _start_ms: i64,
        _end_ms: i64,
        _step_ms: i64,
    ) -> Result<QueryResult, EvalError> {
        Err(EvalError::Execution("evaluator not built yet".into()))
    }
}
