//! The query driver: lowers a parsed expression into a plan, runs it as a
//! one-step (instant) or multi-step (range) evaluation under the query's
//! time and memory limits, and converts the result to a public [`Value`].

use crate::model::Sample;
use crate::store::Store;
use std::time::Instant;

use super::eval::{drop_metric_labels, dup_labelset, has_duplicates, merge_same_labels, Evaluator};
use super::plan::{lower, preprocess, Kind, PlanTimes};
use super::types::{Matrix, QueryCtx, Val};
use super::{EngineOptions, EvalError, Expr, InstantSample, QueryResult, RangeSeries, Value};

/// The evaluator.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
    delayed_name_removal: bool,
    subquery_step_ms: Option<i64>,
}

impl Engine {
    /// An engine with these limits.
    pub fn new(opts: EngineOptions) -> Self {
        Self {
            opts,
            delayed_name_removal: false,
            subquery_step_ms: None,
        }
    }

    /// Enables Prometheus' delayed `__name__` removal (the
    /// `promql-delayed-name-removal` feature flag; off by default as upstream).
    pub fn with_delayed_name_removal(mut self, on: bool) -> Self {
        self.delayed_name_removal = on;
        self
    }

    /// Sets the resolution of subqueries written without a step
    /// (Prometheus uses the global evaluation interval; default 1m).
    pub fn with_default_subquery_step(mut self, step_ms: i64) -> Self {
        self.subquery_step_ms = Some(step_ms.max(1));
        self
    }

    /// The engine's limits.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    fn ctx(&self) -> QueryCtx {
        QueryCtx::new(
            Instant::now() + self.opts.timeout,
            "expression evaluation".into(),
            self.opts.max_samples,
        )
    }

    fn evaluator<'a>(
        &self,
        store: &'a Store,
        ctx: &'a QueryCtx,
        start: i64,
        end: i64,
        interval: i64,
    ) -> Evaluator<'a> {
        Evaluator {
            store,
            ctx,
            start,
            end,
            interval,
            lookback: self.opts.lookback_delta_ms.max(1),
            delayed_names: self.delayed_name_removal,
            subquery_step: self.subquery_step_ms.unwrap_or(60_000),
        }
    }

    fn times(&self, start: i64, end: i64, step: i64) -> PlanTimes {
        PlanTimes {
            start,
            end,
            step,
            default_subquery_step: self.subquery_step_ms.unwrap_or(60_000),
        }
    }

    /// Evaluates `expr` at `t_ms`.
    pub fn instant_query(
        &self,
        store: &Store,
        expr: &Expr,
        t_ms: i64,
    ) -> Result<QueryResult, EvalError> {
        let plan = preprocess(lower(expr, &self.times(t_ms, t_ms, 0))?);
        let kind = plan.kind();
        let ctx = self.ctx();
        let ev = self.evaluator(store, &ctx, t_ms, t_ms, 1);
        let val = ev.eval(&plan)?;
        let value = match val {
            Val::String(s) => Value::String { t: t_ms, v: s },
            Val::Matrix(m) => {
                let m = self.cleanup(m, kind)?;
                match kind {
                    Kind::Scalar => Value::Scalar {
                        t: t_ms,
                        v: m.first()
                            .and_then(|s| s.points.first())
                            .map_or(f64::NAN, |p| p.v),
                    },
                    Kind::Vector => Value::Vector(
                        m.into_iter()
                            .filter_map(|s| {
                                s.points.first().map(|p| InstantSample {
                                    labels: s.labels,
                                    t: t_ms,
                                    v: p.v,
                                })
                            })
                            .collect(),
                    ),
                    _ => Value::Matrix(to_range_series(m)),
                }
            }
        };
        Ok(result(value, &ctx))
    }

    /// Evaluates `expr` at every step from `start_ms` to `end_ms`; the value is a matrix.
    pub fn range_query(
        &self,
        store: &Store,
        expr: &Expr,
        start_ms: i64,
        end_ms: i64,
        step_ms: i64,
    ) -> Result<QueryResult, EvalError> {
        if step_ms <= 0 {
            return Err(EvalError::BadData(
                "zero or negative query resolution step widths are not accepted. Try a positive integer".into(),
            ));
        }
        if end_ms < start_ms {
            return Err(EvalError::BadData(
                "end timestamp must not be before start time".into(),
            ));
        }
        let plan = preprocess(lower(expr, &self.times(start_ms, end_ms, step_ms))?);
        let kind = plan.kind();
        if kind != Kind::Scalar && kind != Kind::Vector {
            let name = if kind == Kind::Matrix {
                "range vector"
            } else {
                "string"
            };
            return Err(EvalError::BadData(format!(
                "invalid expression type \"{name}\" for range query, must be Scalar or instant Vector"
            )));
        }
        let ctx = self.ctx();
        let ev = self.evaluator(store, &ctx, start_ms, end_ms, step_ms);
        let m = ev.eval(&plan)?.into_matrix();
        let m = self.cleanup(m, Kind::Matrix)?;
        Ok(result(Value::Matrix(to_range_series(m)), &ctx))
    }

    /// Drops names marked for delayed removal and checks for collisions.
    fn cleanup(&self, mut m: Matrix, kind: Kind) -> Result<Matrix, EvalError> {
        if !self.delayed_name_removal {
            return Ok(m);
        }
        for s in &mut m {
            if s.drop_name {
                s.labels = drop_metric_labels(&s.labels);
            }
        }
        if kind == Kind::Vector {
            if has_duplicates(&m) {
                return Err(dup_labelset());
            }
            return Ok(m);
        }
        merge_same_labels(m)
    }
}

fn to_range_series(mut m: Matrix) -> Vec<RangeSeries> {
    m.sort_by(|a, b| a.labels.cmp(&b.labels));
    m.into_iter()
        .map(|s| RangeSeries {
            labels: s.labels,
            samples: s
                .points
                .into_iter()
                .map(|p| Sample { t: p.t, v: p.v })
                .collect(),
        })
        .collect()
}

fn result(value: Value, ctx: &QueryCtx) -> QueryResult {
    let annos = ctx.annos.borrow();
    QueryResult {
        value,
        warnings: annos.warnings.clone(),
        infos: annos.infos.clone(),
    }
}
