//! Test helpers: a querier that understands vector selectors and number
//! literals only, so rule evaluation can be tested without the evaluator.

use super::group::RuleQuerier;
use crate::model::{is_stale_nan, Sample};
use crate::promql::{InstantSample, Value};
use crate::store::Store;
use promql_parser::parser::Expr;
use std::sync::Arc;

/// Evaluates a selector (5m lookback, stale markers honoured) or a number.
pub(crate) fn select_query(store: &Store, expr: &Expr, t: i64) -> Result<Value, String> {
    match expr {
        Expr::NumberLiteral(n) => Ok(Value::Scalar { t, v: n.val }),
        Expr::VectorSelector(_) => {
            let matchers = super::selector::parse_selector(&expr.to_string())?;
            let mut out = Vec::new();
            for s in store.select(&matchers) {
                let mut buf: Vec<Sample> = Vec::new();
                s.samples_in(t - 300_000, t, &mut buf);
                if let Some(last) = buf.last().filter(|x| !is_stale_nan(x.v)) {
                    out.push(InstantSample {
                        labels: s.labels().without_metric_name(),
                        t,
                        v: last.v,
                    });
                }
            }
            Ok(Value::Vector(out))
        }
        _ => Err(format!("unsupported in test querier: {expr}")),
    }
}

/// [`select_query`] over a shared store.
pub(crate) struct OwnedSelectorQuerier(pub Arc<Store>);

impl RuleQuerier for OwnedSelectorQuerier {
    fn query(&self, expr: &Expr, t: i64) -> Result<Value, crate::promql::EvalError> {
        select_query(&self.0, expr, t).map_err(crate::promql::EvalError::Execution)
    }
}
