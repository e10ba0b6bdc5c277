//! PromQL functions. `eval_call` dispatches: functions over a range
//! argument go through the window driver in `range`, label functions work
//! on whole series, the rest run per step on instant vectors.

mod histogram;
mod info;
mod labels;
mod math;
mod misc;
mod over_time;
pub(crate) mod quantile;
pub(crate) mod range;
pub(crate) mod rate;
mod time;

use super::eval::{drop_metric_labels, merge_same_labels, Evaluator};
use super::plan::Node;
use super::selectors::{self, RangeArg};
use super::types::Val;
use super::EvalError;

/// Evaluates a function call.
pub(crate) fn eval_call(ev: &Evaluator<'_>, name: &str, args: &[Node]) -> Result<Val, EvalError> {
    if name == "timestamp" {
        if let Some(Node::Vector(sel)) = args.first() {
            let mut m = selectors::instant_vector(ev, sel, true)?;
            for s in &mut m {
                if !ev.delayed_names {
                    s.labels = drop_metric_labels(&s.labels);
                }
                s.drop_name = true;
            }
            if !ev.delayed_names {
                m = merge_same_labels(m)?;
            }
            return Ok(Val::Matrix(m));
        }
    }
    match name {
        "label_replace" => return labels::label_replace(ev, args),
        "label_join" => return labels::label_join(ev, args),
        "info" => return info::info(ev, args),
        _ => {}
    }
    if let Some(pos) = args.iter().position(|a| RangeArg::of(a).is_some()) {
        return range::eval(ev, name, args, pos);
    }
    if matches!(
        name,
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc"
    ) && !ev.instant()
    {
        ev.ctx.warn(
            "sort is ineffective for range queries since results are always ordered by labels"
                .into(),
        );
    }
    if let Some(f) = math::lookup(name) {
        return math::eval(ev, f, args);
    }
    if let Some(f) = time::lookup(name) {
        return time::eval(ev, f, args);
    }
    match name {
        "histogram_quantile" | "histogram_fraction" | "histogram_quantiles" => {
            histogram::eval(ev, name, args)
        }
        "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
        | "histogram_stdvar" => histogram::native_only(ev, args),
        _ => misc::eval(ev, name, args),
    }
}
