//! The query driver: lowers a parsed expression into a plan, runs it as a
//! one-step (instant) or multi-step (range) evaluation under the query's
//! time and memory limits, and converts the result to a public [`Value`].

use crate::model::Sample;
use crate::store::Store;
use std::time::Instant;

use super::eval::{drop_metric_labels, dup_labelset, has_duplicates, merge_same_labels, Evaluator};
use super::incremental::WindowCache;
use super::memo::SelectionMemo;

/// What the queries of a rule group share: selections within one evaluation, range-function
/// windows across evaluations.
#[derive(Clone, Copy, Default)]
struct Sharing<'a> {
    memo: Option<&'a SelectionMemo>,
    windows: Option<&'a WindowCache>,
}
use super::plan::{lower, preprocess, Kind, PlanTimes};
use super::types::{Limits, Matrix, QueryCtx, Val};
use super::{
    CancelFlag, EngineOptions, EvalError, Expr, InstantSample, QueryResult, RangeSeries, Value,
};

/// The evaluator.
#[derive(Debug, Clone, Default)]
pub struct Engine {
    opts: EngineOptions,
    delayed_name_removal: bool,
    subquery_step_ms: Option<i64>,
    cancel: CancelFlag,
    deadline: Option<Instant>,
}

impl Engine {
    /// An engine with these limits.
    pub fn new(opts: EngineOptions) -> Self {
        Self {
            opts,
            delayed_name_removal: false,
            subquery_step_ms: None,
            cancel: CancelFlag::new(),
            deadline: None,
        }
    }

    /// Queries of this engine stop (with [`EvalError::Canceled`]) once `flag` is set.
    pub fn with_cancel(mut self, flag: CancelFlag) -> Self {
        self.cancel = flag;
        self
    }

    /// Queries of this engine also stop at `deadline` (e.g. the request's, when it waited
    /// for a slot), whichever of it and the timeout comes first.
    pub fn with_deadline(mut self, deadline: Instant) -> Self {
        self.deadline = Some(deadline);
        self
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
        let by_timeout = Instant::now()
            .checked_add(self.opts.timeout)
            .unwrap_or_else(|| Instant::now() + std::time::Duration::from_secs(365 * 86_400));
        QueryCtx::new(Limits {
            deadline: self.deadline.map_or(by_timeout, |d| d.min(by_timeout)),
            max_samples: self.opts.max_samples,
            max_bytes: self.opts.max_bytes,
            cancel: self.cancel.clone(),
        })
    }

    fn evaluator<'a>(
        &self,
        store: &'a Store,
        ctx: &'a QueryCtx,
        start: i64,
        end: i64,
        interval: i64,
        sharing: Sharing<'a>,
    ) -> Evaluator<'a> {
        Evaluator {
            store,
            ctx,
            start,
            end,
            interval,
            lookback: self.opts.lookback_delta_ms.max(1),
            delayed_names: self.delayed_name_removal,
            memo: sharing.memo,
            windows: sharing.windows,
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
        self.instant(store, expr, t_ms, Sharing::default())
    }

    /// Evaluates `expr` at `t_ms` as [`instant_query`](Self::instant_query) does, reading
    /// selections through `memo` (shared with the other queries given the same memo); the
    /// result is the same. Meant for the queries of one rule-group evaluation.
    pub fn instant_query_shared(
        &self,
        store: &Store,
        expr: &Expr,
        t_ms: i64,
        memo: &SelectionMemo,
    ) -> Result<QueryResult, EvalError> {
        self.instant(
            store,
            expr,
            t_ms,
            Sharing {
                memo: Some(memo),
                windows: None,
            },
        )
    }

    /// Evaluates `expr` at `t_ms` as [`instant_query_shared`](Self::instant_query_shared)
    /// does, also carrying range-function state over in `windows` from the evaluations
    /// before (the same rule group's); the result is the same.
    pub fn instant_query_carried(
        &self,
        store: &Store,
        expr: &Expr,
        t_ms: i64,
        memo: &SelectionMemo,
        windows: &WindowCache,
    ) -> Result<QueryResult, EvalError> {
        self.instant(
            store,
            expr,
            t_ms,
            Sharing {
                memo: Some(memo),
                windows: Some(windows),
            },
        )
    }

    /// A memo sized to this engine's sample and byte limits, for
    /// [`instant_query_shared`](Self::instant_query_shared), keeping every selection read.
    pub fn selection_memo(&self) -> SelectionMemo {
        SelectionMemo::new(self.opts.max_samples, self.opts.max_bytes)
    }

    /// A memo sized to this engine's limits for running `queries` (a rule group's) at
    /// `t_ms`, keeping only what they read more than once ([`SelectionMemo::for_queries`]).
    pub fn selection_memo_for<'e>(
        &self,
        t_ms: i64,
        queries: impl IntoIterator<Item = &'e Expr>,
    ) -> SelectionMemo {
        SelectionMemo::for_queries(
            self.opts.max_samples,
            self.opts.max_bytes,
            self.opts.lookback_delta_ms.max(1),
            t_ms,
            queries,
        )
    }

    fn instant(
        &self,
        store: &Store,
        expr: &Expr,
        t_ms: i64,
        sharing: Sharing<'_>,
    ) -> Result<QueryResult, EvalError> {
        let plan = preprocess(lower(expr, &self.times(t_ms, t_ms, 0))?);
        let kind = plan.kind();
        let ctx = self.ctx();
        let ev = self.evaluator(store, &ctx, t_ms, t_ms, 1, sharing);
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
        let ev = self.evaluator(store, &ctx, start_ms, end_ms, step_ms, Sharing::default());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Labels, STALE_NAN};
    use crate::store::StoreOptions;
    use std::time::Duration;

    fn store() -> Store {
        let s = Store::new(StoreOptions { retention_ms: None });
        for (job, step) in [("a", 1.0), ("b", 2.0)] {
            let (r, _) = s.get_or_create(Labels::from_pairs([
                ("__name__", "http_requests_total"),
                ("job", job),
            ]));
            for i in 0..=10 {
                s.append(&r, i * 60_000, i as f64 * step * 60.0).unwrap();
            }
        }
        let (r, _) = s.get_or_create(Labels::from_pairs([("__name__", "gauge")]));
        s.append(&r, 0, 1.0).unwrap();
        s.append(&r, 60_000, STALE_NAN).unwrap();
        s
    }

    fn q(e: &Engine, s: &Store, query: &str, t: i64) -> Value {
        e.instant_query(s, &super::super::parse(query).unwrap(), t)
            .unwrap()
            .value
    }

    #[test]
    fn instant_rate_and_sum() {
        let s = store();
        let e = Engine::default();
        match q(&e, &s, "sum(rate(http_requests_total[5m]))", 600_000) {
            Value::Vector(v) => {
                assert_eq!(v.len(), 1);
                assert!((v[0].v - 3.0).abs() < 1e-9, "{}", v[0].v);
                assert!(v[0].labels.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn staleness_marker_hides_series() {
        let s = store();
        let e = Engine::default();
        assert!(matches!(q(&e, &s, "gauge", 30_000), Value::Vector(v) if v.len() == 1));
        assert!(matches!(q(&e, &s, "gauge", 90_000), Value::Vector(v) if v.is_empty()));
    }

    #[test]
    fn scalar_and_string_results() {
        let s = store();
        let e = Engine::default();
        assert_eq!(q(&e, &s, "1 + 2 * 3", 0), Value::Scalar { t: 0, v: 7.0 });
        assert_eq!(
            q(&e, &s, "\"hi\"", 5),
            Value::String {
                t: 5,
                v: "hi".into()
            }
        );
    }

    #[test]
    fn range_query_steps_and_sorting() {
        let s = store();
        let e = Engine::default();
        let expr = super::super::parse("http_requests_total").unwrap();
        let r = e.range_query(&s, &expr, 0, 120_000, 60_000).unwrap();
        match r.value {
            Value::Matrix(m) => {
                assert_eq!(m.len(), 2);
                assert!(m[0].labels < m[1].labels);
                assert_eq!(m[1].samples.len(), 3);
                assert_eq!(m[1].samples[2].v, 240.0);
            }
            other => panic!("{other:?}"),
        }
        let bad = super::super::parse("http_requests_total[5m]").unwrap();
        assert!(matches!(
            e.range_query(&s, &bad, 0, 60_000, 60_000),
            Err(EvalError::BadData(_))
        ));
    }

    #[test]
    fn sample_limit_and_timeout() {
        let s = store();
        let e = Engine::new(EngineOptions {
            max_samples: 3,
            ..EngineOptions::default()
        });
        let expr = super::super::parse("http_requests_total[10m]").unwrap();
        assert!(matches!(
            e.instant_query(&s, &expr, 600_000),
            Err(EvalError::TooManySamples(_))
        ));
        let e = Engine::new(EngineOptions {
            timeout: Duration::ZERO,
            ..EngineOptions::default()
        });
        std::thread::sleep(Duration::from_millis(2));
        assert!(matches!(
            e.instant_query(&s, &expr, 600_000),
            Err(EvalError::Timeout(_))
        ));
    }

    /// A label that doubles at every level: 2^levels times the seed.
    fn label_bomb(levels: usize) -> String {
        let mut q = r#"label_replace(vector(1), "x", "0123456789abcdef", "", "")"#.to_string();
        for _ in 0..levels {
            q = format!(r#"label_replace({q}, "x", "$1$1", "x", "(.*)")"#);
        }
        q
    }

    #[test]
    fn byte_budget_refuses_a_label_before_building_it() {
        let s = store();
        let e = Engine::new(EngineOptions {
            max_bytes: 1 << 20,
            ..EngineOptions::default()
        });
        // 16 B · 2^13 = 128 KiB fits: the values created add up to 256 KiB, counted twice.
        let ok = e.instant_query(&s, &super::super::parse(&label_bomb(13)).unwrap(), 0);
        match ok.unwrap().value {
            Value::Vector(v) => assert_eq!(v[0].labels.get("x").map(str::len), Some(16 << 13)),
            other => panic!("{other:?}"),
        }
        // One more level would take them past 1 MiB: refused, whatever wraps it.
        for q in [label_bomb(14), format!("count({})", label_bomb(30))] {
            let err = e
                .instant_query(&s, &super::super::parse(&q).unwrap(), 0)
                .unwrap_err();
            assert!(matches!(err, EvalError::TooManyBytes { limit, .. } if limit == 1 << 20));
            assert_eq!(
                err.to_string(),
                "query processing would use more than 1048576 bytes of memory in label_replace \
                 (limit set by --query.max-bytes)"
            );
        }
        let join = r#"label_join(label_replace(vector(1), "a", "aaaaaaaa", "", ""), "b", "-", "a", "a", "a")"#;
        let small = Engine::new(EngineOptions {
            max_bytes: 40,
            ..EngineOptions::default()
        });
        let err = small
            .instant_query(&s, &super::super::parse(join).unwrap(), 0)
            .unwrap_err();
        assert!(err.to_string().contains("in label_join"), "{err}");
    }

    #[test]
    fn byte_budget_counts_samples() {
        let s = store();
        // 11 samples of each of two series in 10m: 22 · 16 B = 352 B.
        let expr = super::super::parse("http_requests_total[10m]").unwrap();
        let tight = Engine::new(EngineOptions {
            max_bytes: 300,
            ..EngineOptions::default()
        });
        assert!(matches!(
            tight.instant_query(&s, &expr, 600_000),
            Err(EvalError::TooManyBytes { .. })
        ));
        let enough = Engine::new(EngineOptions {
            max_bytes: 400,
            ..EngineOptions::default()
        });
        assert!(enough.instant_query(&s, &expr, 600_000).is_ok());
    }

    #[test]
    fn cancel_flag_and_deadline_stop_evaluation() {
        let s = store();
        let flag = CancelFlag::new();
        let e = Engine::default().with_cancel(flag.clone());
        let expr = super::super::parse("sum(rate(http_requests_total[5m]))").unwrap();
        assert!(e.instant_query(&s, &expr, 600_000).is_ok());
        flag.cancel();
        let err = e.instant_query(&s, &expr, 600_000).unwrap_err();
        assert!(matches!(err, EvalError::Canceled(_)));
        assert_eq!(
            err.to_string(),
            "query was canceled in expression evaluation"
        );
        let past = Engine::default().with_deadline(Instant::now());
        std::thread::sleep(Duration::from_millis(2));
        assert!(matches!(
            past.instant_query(&s, &expr, 600_000),
            Err(EvalError::Timeout(_))
        ));
        // A huge timeout does not overflow the deadline.
        let long = Engine::new(EngineOptions {
            timeout: Duration::MAX,
            ..EngineOptions::default()
        });
        assert!(long.instant_query(&s, &expr, 600_000).is_ok());
    }

    #[test]
    fn name_dropping_modes() {
        let s = store();
        let immediate = Engine::default();
        let delayed = Engine::default().with_delayed_name_removal(true);
        // Without delayed removal, both series lose their name and collide
        // only if their other labels are equal; here `job` keeps them apart.
        for e in [&immediate, &delayed] {
            match q(e, &s, "-http_requests_total", 600_000) {
                Value::Vector(v) => assert!(v.iter().all(|x| x.labels.metric_name().is_none())),
                other => panic!("{other:?}"),
            }
        }
        let r = delayed.instant_query(
            &s,
            &super::super::parse(
                "label_replace(-http_requests_total, \"__name__\", \"x\", \"\", \"\")",
            )
            .unwrap(),
            600_000,
        );
        match r.unwrap().value {
            Value::Vector(v) => assert!(v.iter().all(|x| x.labels.metric_name() == Some("x"))),
            other => panic!("{other:?}"),
        }
    }
}
