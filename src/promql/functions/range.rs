//! The driver of functions over range vectors (`rate(x[5m])`,
//! `avg_over_time(x[5m:1m])`, ...): one pass per series, sliding the window
//! over samples read once.

use crate::model::{Labels, Sample};

use super::super::eval::{drop_metric_labels, dup_labelset, has_duplicates, Evaluator};
use super::super::incremental::{self, Func};
use super::super::plan::{Ext, Node};
use super::super::selectors::{for_each_range_series, RangeArg, Windows};
use super::super::types::{Series, Val};
use super::super::EvalError;
use super::{over_time, rate};

/// What a range function sees at one step.
#[derive(Clone, Copy)]
pub(crate) struct Window<'w> {
    /// Samples in the window, oldest first (never empty).
    pub samples: &'w [Sample],
    /// The step's evaluation time.
    pub ts: i64,
    /// Window end (`ts - offset`, or `@` time - offset).
    pub end: i64,
    /// Window length in ms.
    pub range: i64,
    /// Values of the scalar arguments at this step, in argument order.
    pub params: [f64; 2],
    /// `anchored`/`smoothed`: `samples` then reach back (and forward) by
    /// the lookback delta.
    pub ext: Ext,
}

/// The per-window functions.
pub(crate) type WindowFn = fn(&Window<'_>, &mut WindowAnnos) -> Option<f64>;

/// Annotations a window function may raise.
#[derive(Default)]
pub(crate) struct WindowAnnos {
    /// An invalid quantile was seen (value).
    pub bad_quantile: Option<f64>,
    /// Error raised by the function (stops evaluation).
    pub error: Option<String>,
    /// Scratch space reused across windows (quantiles).
    pub scratch: Vec<f64>,
}

fn lookup(name: &str) -> Option<WindowFn> {
    Some(match name {
        "rate" => rate::rate,
        "increase" => rate::increase,
        "delta" => rate::delta,
        "irate" => rate::irate,
        "idelta" => rate::idelta,
        "deriv" => rate::deriv,
        "predict_linear" => rate::predict_linear,
        "resets" => rate::resets,
        "changes" => rate::changes,
        "double_exponential_smoothing" | "holt_winters" => rate::double_exponential_smoothing,
        "avg_over_time" => over_time::avg,
        "sum_over_time" => over_time::sum,
        "count_over_time" => over_time::count,
        "min_over_time" => over_time::min,
        "max_over_time" => over_time::max,
        "last_over_time" => over_time::last,
        "first_over_time" => over_time::first,
        "present_over_time" | "absent_over_time" => over_time::present,
        "stddev_over_time" => over_time::stddev,
        "stdvar_over_time" => over_time::stdvar,
        "quantile_over_time" => over_time::quantile,
        "mad_over_time" => over_time::mad,
        "ts_of_last_over_time" => over_time::ts_of_last,
        "ts_of_first_over_time" => over_time::ts_of_first,
        "ts_of_max_over_time" => over_time::ts_of_max,
        "ts_of_min_over_time" => over_time::ts_of_min,
        _ => return None,
    })
}

/// Labels for `absent()`/`absent_over_time()`: the equality matchers of the
/// selector (a name matched twice is left out).
pub(crate) fn absent_labels(node: &Node) -> Labels {
    let sel = match node {
        Node::Vector(s) | Node::Matrix { sel: s, .. } => s,
        _ => return Labels::empty(),
    };
    let mut b = crate::model::LabelsBuilder::new(&Labels::empty());
    let mut has: Vec<&str> = Vec::new();
    for m in &sel.matchers {
        if m.name == "__name__" {
            continue;
        }
        if matches!(m.op, crate::model::MatchOp::Equal(_)) && !has.contains(&m.name.as_str()) {
            b.set(&m.name, m.value());
            has.push(&m.name);
        } else {
            b.del(&m.name);
        }
    }
    b.labels()
}

/// Evaluates `name(args)` where `args[pos]` is a range argument.
pub(crate) fn eval(
    ev: &Evaluator<'_>,
    name: &str,
    args: &[Node],
    pos: usize,
) -> Result<Val, EvalError> {
    let Some(f) = lookup(name) else {
        return Err(EvalError::BadData(format!(
            "function {name} does not take a range vector here"
        )));
    };
    let arg =
        RangeArg::of(&args[pos]).ok_or_else(|| EvalError::BadData("expected range".into()))?;
    match arg.ext {
        Ext::Anchored if !matches!(name, "changes" | "delta" | "increase" | "rate" | "resets") => {
            return Err(EvalError::Execution(format!(
                "anchored modifier can only be used with: changes, delta, increase, rate, resets - not with {name}"
            )));
        }
        Ext::Smoothed if !matches!(name, "delta" | "increase" | "rate") => {
            return Err(EvalError::Execution(format!(
                "smoothed modifier can only be used with: delta, increase, rate - not with {name}"
            )));
        }
        _ => {}
    }
    // Scalar arguments, one value per step.
    let steps = ev.steps();
    let mut params: Vec<Vec<f64>> = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i == pos {
            continue;
        }
        let m = ev.eval(a)?.into_matrix();
        let mut v = vec![f64::NAN; steps];
        if let Some(s) = m.first() {
            for p in &s.points {
                v[((p.t - ev.start) / ev.interval) as usize] = p.v;
            }
        }
        params.push(v);
    }
    let keep_name = matches!(name, "last_over_time" | "first_over_time");
    let counter_check = matches!(name, "rate" | "increase");
    let absent = name == "absent_over_time";
    let before = ev.ctx.samples();
    let mut out: Vec<Series> = Vec::new();
    let mut annos = WindowAnnos::default();
    let mut not_counter: Vec<String> = Vec::new();
    let mut produced = 0usize;
    // Dropping names can only make series collide when they had different names.
    let mut first_name: Option<Option<String>> = None;
    let mut names_differ = false;
    let mut emit = |labels: &Labels, in_drop: bool, points: Vec<Sample>| {
        if points.is_empty() {
            return Ok(());
        }
        if counter_check {
            if let Some(n) = labels.metric_name() {
                let counter_like = ["_total", "_sum", "_count", "_bucket"]
                    .iter()
                    .any(|suffix| n.ends_with(suffix));
                if !counter_like && !not_counter.iter().any(|x| x == n) {
                    not_counter.push(n.to_string());
                }
            }
        }
        produced += points.len();
        ev.ctx.add_samples(points.len())?;
        let drop = !keep_name || in_drop;
        match &first_name {
            None => first_name = Some(labels.metric_name().map(str::to_string)),
            Some(n) => names_differ |= n.as_deref() != labels.metric_name(),
        }
        let labels = if drop && !ev.delayed_names {
            drop_metric_labels(labels)
        } else {
            labels.clone()
        };
        out.push(Series {
            labels,
            points,
            drop_name: drop,
        });
        Ok(())
    };
    if let Some(read) = incremental::eligible(ev, &arg, Func::of(name), params.len()) {
        incremental::for_each(ev, read, f, |labels, v| {
            let points = v.map(|v| vec![Sample { t: ev.start, v }]);
            emit(labels, false, points.unwrap_or_default())
        })?;
    } else {
        for_each_range_series(ev, &arg, |labels, in_drop, samples| {
            let mut points = Vec::new();
            for (step, ts, w) in Windows::new(ev, &arg, samples) {
                if w.is_empty() {
                    continue;
                }
                let window = Window {
                    samples: w,
                    ts,
                    end: arg.at.unwrap_or(ts).saturating_sub(arg.offset),
                    range: arg.range,
                    params: [
                        params.first().map_or(f64::NAN, |p| p[step]),
                        params.get(1).map_or(f64::NAN, |p| p[step]),
                    ],
                    ext: arg.ext,
                };
                if let Some(v) = f(&window, &mut annos) {
                    points.push(Sample { t: ts, v });
                }
                if let Some(e) = annos.error.take() {
                    return Err(EvalError::Execution(e));
                }
            }
            emit(labels, in_drop, points)
        })?;
    }
    ev.ctx.set_samples(before + produced);
    for n in not_counter {
        ev.ctx.info(format!(
            "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: \"{n}\""
        ));
    }
    if let Some(q) = annos.bad_quantile {
        ev.ctx.warn(format!(
            "quantile value should be between 0 and 1, got {}",
            crate::gostd::float::format_v(q)
        ));
    }
    if absent {
        return Ok(Val::Matrix(absent_over_time(ev, &args[pos], &out)));
    }
    if !ev.delayed_names && names_differ && has_duplicates(&out) {
        return Err(dup_labelset());
    }
    Ok(Val::Matrix(out))
}

fn absent_over_time(ev: &Evaluator<'_>, arg: &Node, found: &[Series]) -> Vec<Series> {
    let steps = ev.steps();
    let mut seen = vec![false; steps];
    for s in found {
        for p in &s.points {
            seen[((p.t - ev.start) / ev.interval) as usize] = true;
        }
    }
    if seen.iter().all(|x| *x) {
        return Vec::new();
    }
    let points: Vec<Sample> = ev
        .times()
        .zip(seen)
        .filter(|(_, s)| !s)
        .map(|(t, _)| Sample { t, v: 1.0 })
        .collect();
    let node = match arg {
        Node::Matrix { .. } => arg,
        _ => &Node::Number(0.0),
    };
    vec![Series {
        labels: absent_labels(node),
        points,
        drop_name: true,
    }]
}
