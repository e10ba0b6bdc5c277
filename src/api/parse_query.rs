//! `/api/v1/parse_query` and `/api/v1/query_exemplars`, as Prometheus 3 serves them.
//!
//! `parse_query` answers the expression's syntax tree in the JSON shape the Prometheus 3 UI's
//! tree view reads (Prometheus' `translateAST`): every node has a `type`; selectors list their
//! matchers as Prometheus keeps them (written ones first, then `__name__` when the name stands
//! before the braces), durations and `@` times are milliseconds, numbers are Go's shortest
//! plain decimal (`'f'`, -1), and a binary expression between two vectors carries its
//! `matching` (`card`, `labels`, `on`, `include`), `null` otherwise.
//!
//! `query_exemplars` checks `start`, `end` and `query` in Prometheus' order and with its
//! messages; watchfire keeps no exemplars, so a query with selectors answers an empty list,
//! one without any selector `204 No Content`, as Prometheus does.

use super::extract::Form;
use super::params::{MAX_TIME_MS, MIN_TIME_MS};
use super::response::{ApiError, ApiOk};
use super::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use promql_parser::label::{MatchOp, Matcher};
use promql_parser::parser::token::TokenType;
use promql_parser::parser::value::ValueType;
use promql_parser::parser::{
    AtModifier, Expr, LabelModifier, Offset, VectorMatchCardinality, VectorSelector,
};
use serde_json::{json, Value};
use std::time::{Duration, SystemTime};

/// `GET|POST /api/v1/parse_query`. Parsing, the walk, the answer's serialization and the
/// tree's drop all recurse as deep as the expression nests, so they run on a query thread
/// with the parser's deep-stack budget, never on an async worker.
pub async fn parse_query(State(s): State<AppState>, Form(p): Form) -> Result<Response, ApiError> {
    let query = p.get("query").unwrap_or("").to_string();
    on_query_thread(&s, move || {
        let expr = crate::promql::parse(&query)
            .map_err(|e| ApiError::bad_data(format!("invalid parameter \"query\": {e}")))?;
        Ok(ApiOk::new(translate(&expr)).into_response())
    })
    .await
}

/// `GET|POST /api/v1/query_exemplars`.
pub async fn query_exemplars(
    State(s): State<AppState>,
    Form(p): Form,
) -> Result<Response, ApiError> {
    let time = |key: &str, default: i64| {
        p.time_ms(key, default).map_err(|_| {
            let v = p.get(key).unwrap_or("");
            ApiError::bad_data(format!(
                "invalid parameter \"{key}\": invalid time value for '{key}': \
                 cannot parse \"{v}\" to a valid timestamp"
            ))
        })
    };
    let start = time("start", MIN_TIME_MS)?;
    let end = time("end", MAX_TIME_MS)?;
    if end < start {
        return Err(ApiError::bad_data(
            "end timestamp must not be before start timestamp",
        ));
    }
    let query = p.get("query").unwrap_or("").to_string();
    on_query_thread(&s, move || {
        let expr = crate::promql::parse(&query).map_err(|e| ApiError::bad_data(e.to_string()))?;
        if !has_selector(&expr) {
            return Ok(StatusCode::NO_CONTENT.into_response());
        }
        Ok(ApiOk::new(json!([])).into_response())
    })
    .await
}

/// Runs `job` on the query executor within the parser's deep-stack budget.
async fn on_query_thread(
    s: &AppState,
    job: impl FnOnce() -> Result<Response, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    s.queries
        .run(s.queries.timeout(), move |_| {
            crate::promql::limits::deep(job)
        })
        .await
}

/// Whether `e` selects series anywhere. The depth is bounded by the parser's nesting limit
/// (`promql/limits.rs`); each level runs within the evaluator's stack budget.
fn has_selector(e: &Expr) -> bool {
    crate::promql::limits::guarded(|| has_selector_here(e))
}

fn has_selector_here(e: &Expr) -> bool {
    match e {
        Expr::VectorSelector(_) | Expr::MatrixSelector(_) => true,
        Expr::Aggregate(a) => has_selector(&a.expr) || a.param.as_deref().is_some_and(has_selector),
        Expr::Unary(u) => has_selector(&u.expr),
        Expr::Binary(b) => has_selector(&b.lhs) || has_selector(&b.rhs),
        Expr::Paren(p) => has_selector(&p.expr),
        Expr::Subquery(s) => has_selector(&s.expr),
        Expr::Call(c) => c.args.args.iter().any(|a| has_selector(a)),
        Expr::NumberLiteral(_) | Expr::StringLiteral(_) | Expr::Extension(_) => false,
    }
}

/// The tree as Prometheus' `translateAST` writes it (depth bounded as for [`has_selector`]).
pub fn translate(e: &Expr) -> Value {
    crate::promql::limits::guarded(|| translate_here(e))
}

fn translate_here(e: &Expr) -> Value {
    match e {
        Expr::Aggregate(a) => {
            let (grouping, without) = match &a.modifier {
                Some(LabelModifier::Include(l)) => (l.labels.clone(), false),
                Some(LabelModifier::Exclude(l)) => (l.labels.clone(), true),
                None => (Vec::new(), false),
            };
            json!({
                "type": "aggregation",
                "op": op_text(&a.op),
                "expr": translate(&a.expr),
                "param": a.param.as_deref().map_or(Value::Null, translate),
                "grouping": grouping,
                "without": without,
            })
        }
        Expr::Binary(b) => {
            let both_vectors =
                b.lhs.value_type() == ValueType::Vector && b.rhs.value_type() == ValueType::Vector;
            let matching = if both_vectors {
                let m = b.modifier.as_ref();
                let card = m.map(|m| &m.card);
                let (card_text, include) = match card {
                    Some(VectorMatchCardinality::ManyToOne(l)) => ("many-to-one", l.labels.clone()),
                    Some(VectorMatchCardinality::OneToMany(l)) => ("one-to-many", l.labels.clone()),
                    Some(VectorMatchCardinality::ManyToMany) => ("many-to-many", Vec::new()),
                    _ if b.op.is_set_operator() => ("many-to-many", Vec::new()),
                    _ => ("one-to-one", Vec::new()),
                };
                let (labels, on) = match m.and_then(|m| m.matching.as_ref()) {
                    Some(LabelModifier::Include(l)) => (l.labels.clone(), true),
                    Some(LabelModifier::Exclude(l)) => (l.labels.clone(), false),
                    None => (Vec::new(), false),
                };
                json!({"card": card_text, "labels": labels, "on": on, "include": include})
            } else {
                Value::Null
            };
            json!({
                "type": "binaryExpr",
                "op": op_text(&b.op),
                "lhs": translate(&b.lhs),
                "rhs": translate(&b.rhs),
                "matching": matching,
                "bool": b.modifier.as_ref().is_some_and(|m| m.return_bool),
            })
        }
        Expr::Call(c) => {
            let arg_types: Vec<String> = c.func.arg_types.iter().map(|t| t.to_string()).collect();
            let args: Vec<Value> = c.args.args.iter().map(|a| translate(a)).collect();
            json!({
                "type": "call",
                "func": {
                    "name": c.func.name,
                    "argTypes": arg_types,
                    "variadic": c.func.variadic,
                    "returnType": c.func.return_type.to_string(),
                },
                "args": args,
            })
        }
        Expr::MatrixSelector(m) => {
            let mut v = selector(&m.vs, "matrixSelector");
            v["range"] = json!(millis(&m.range));
            v
        }
        Expr::VectorSelector(vs) => selector(vs, "vectorSelector"),
        Expr::Subquery(s) => json!({
            "type": "subquery",
            "expr": translate(&s.expr),
            "range": millis(&s.range),
            "offset": offset_ms(s.offset.as_ref()),
            "step": s.step.as_ref().map_or(0, millis),
            "timestamp": timestamp(s.at.as_ref()),
            "startOrEnd": start_or_end(s.at.as_ref()),
        }),
        Expr::NumberLiteral(n) => json!({"type": "numberLiteral", "val": number_text(n.val)}),
        Expr::Paren(p) => json!({"type": "parenExpr", "expr": translate(&p.expr)}),
        Expr::StringLiteral(s) => json!({"type": "stringLiteral", "val": s.val}),
        Expr::Unary(u) => json!({"type": "unaryExpr", "op": "-", "expr": translate(&u.expr)}),
        // The crate's extension nodes never come out of its parser.
        Expr::Extension(_) => Value::Null,
    }
}

/// An operator as Prometheus prints it (`sum`, `+`, `>`, `and`).
fn op_text(op: &TokenType) -> String {
    op.to_string()
}

fn millis(d: &Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

fn offset_ms(o: Option<&Offset>) -> i64 {
    match o {
        Some(Offset::Pos(d)) => millis(d),
        Some(Offset::Neg(d)) => -millis(d),
        None => 0,
    }
}

/// `@ <time>` in milliseconds, or null.
fn timestamp(at: Option<&AtModifier>) -> Value {
    let Some(AtModifier::At(t)) = at else {
        return Value::Null;
    };
    let ms = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => millis(&d),
        Err(e) => -millis(&e.duration()),
    };
    json!(ms)
}

fn start_or_end(at: Option<&AtModifier>) -> Value {
    match at {
        Some(AtModifier::Start) => json!("start"),
        Some(AtModifier::End) => json!("end"),
        _ => Value::Null,
    }
}

/// A selector node; `__anchored__`/`__smoothed__` markers (`promql/extended.rs`) are left out.
fn selector(vs: &VectorSelector, kind: &str) -> Value {
    let written: Vec<&Matcher> = vs
        .matchers
        .matchers
        .iter()
        .filter(|m| {
            m.name != crate::promql::extended::ANCHORED
                && m.name != crate::promql::extended::SMOOTHED
        })
        .collect();
    let mut matchers: Vec<Value> = written.iter().map(|m| matcher(m)).collect();
    let name_in_braces = written.iter().any(|m| m.name == "__name__");
    let name = match &vs.name {
        Some(n) if !name_in_braces => {
            matchers.push(json!({"name": "__name__", "type": "=", "value": n}));
            n.clone()
        }
        _ => String::new(),
    };
    json!({
        "type": kind,
        "name": name,
        "offset": offset_ms(vs.offset.as_ref()),
        "matchers": matchers,
        "timestamp": timestamp(vs.at.as_ref()),
        "startOrEnd": start_or_end(vs.at.as_ref()),
    })
}

fn matcher(m: &Matcher) -> Value {
    let op = match &m.op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Re(_) => "=~",
        MatchOp::NotRe(_) => "!~",
    };
    json!({"name": m.name, "type": op, "value": m.value})
}

/// Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest plain decimal, `+Inf`, `NaN`.
fn number_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v == f64::INFINITY {
        "+Inf".into()
    } else if v == f64::NEG_INFINITY {
        "-Inf".into()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(q: &str) -> Value {
        translate(&crate::promql::parse(q).unwrap())
    }

    #[test]
    fn selectors_list_matchers_as_prometheus_keeps_them() {
        let got = tree(r#"http_requests_total{code=~"5.."}[5m] offset 1m"#);
        let want = json!({
            "type": "matrixSelector", "name": "http_requests_total", "offset": 60000,
            "range": 300000, "timestamp": null, "startOrEnd": null,
            "matchers": [
                {"name": "code", "type": "=~", "value": "5.."},
                {"name": "__name__", "type": "=", "value": "http_requests_total"}
            ]
        });
        assert_eq!(got, want);
        let got = tree(r#"{__name__="a",b!~"c"} @ 100"#);
        assert_eq!(got["name"], "");
        assert_eq!(got["timestamp"], 100000);
        assert_eq!(got["matchers"].as_array().unwrap().len(), 2);
        assert_eq!(tree("a @ start()")["startOrEnd"], "start");
        assert_eq!(tree("a offset -5m")["offset"], -300000);
    }

    #[test]
    fn binary_matching_only_between_vectors() {
        assert_eq!(tree("sum(a) / 3")["matching"], Value::Null);
        assert_eq!(
            tree("a and b")["matching"],
            json!({"card": "many-to-many", "labels": [], "on": false, "include": []})
        );
        assert_eq!(
            tree("a + on(x) group_left(y) b")["matching"],
            json!({"card": "many-to-one", "labels": ["x"], "on": true, "include": ["y"]})
        );
        assert_eq!(tree("a > bool on() c")["bool"], true);
        assert_eq!(
            tree("a == ignoring(b) c")["matching"]["labels"],
            json!(["b"])
        );
    }

    #[test]
    fn numbers_calls_and_subqueries() {
        assert_eq!(tree("1.5e-7")["val"], "0.00000015");
        assert_eq!(
            tree("123456789012345678901234")["val"],
            "123456789012345690000000"
        );
        assert_eq!(tree("Inf")["val"], "+Inf");
        assert_eq!(tree("0x10")["val"], "16");
        let call = tree("round(a)");
        assert_eq!(
            call["func"],
            json!({"name": "round", "argTypes": ["vector", "scalar"], "variadic": 1,
                   "returnType": "vector"})
        );
        let sub = tree("foo[5m:] @ 100");
        assert_eq!(sub["type"], "subquery");
        assert_eq!(sub["step"], 0);
        assert_eq!(sub["timestamp"], 100000);
        let agg = tree(r#"count_values("x", a)"#);
        assert_eq!(agg["param"], json!({"type": "stringLiteral", "val": "x"}));
        assert_eq!(tree("sum without() (a)")["without"], true);
        assert_eq!(tree("-a")["type"], "unaryExpr");
        assert_eq!(tree("(a)")["type"], "parenExpr");
    }

    #[test]
    fn exemplar_queries_need_a_selector_for_content() {
        assert!(has_selector(
            &crate::promql::parse("rate(x[5m]) > 1").unwrap()
        ));
        assert!(!has_selector(&crate::promql::parse("1 + time()").unwrap()));
    }
}

#[cfg(test)]
mod deep_tests {
    /// What the handler does on a query thread (8 MiB): a tree at the nesting limit is
    /// parsed, walked, serialized and dropped within the deep-stack budget.
    #[test]
    fn deep_tree_on_a_query_thread() {
        let q = format!("{}up{}", "sum(".repeat(500), ")".repeat(500));
        let h = std::thread::Builder::new()
            .stack_size(8 << 20)
            .spawn(move || {
                crate::promql::limits::deep(|| {
                    let e = crate::promql::parse(&q).unwrap();
                    let v = super::translate(&e);
                    let b = serde_json::to_vec(&v).unwrap();
                    drop(v);
                    drop(e);
                    b.len()
                })
            })
            .unwrap();
        assert!(h.join().unwrap() > 0);
    }
}
