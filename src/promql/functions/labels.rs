//! `label_replace` and `label_join`: rewrite labels of whole series.

use crate::model::LabelsBuilder;

use super::super::eval::{merge_same_labels, Evaluator};
use super::super::plan::Node;
use super::super::types::Val;
use super::super::EvalError;

fn string_arg(args: &[Node], i: usize) -> Result<&str, EvalError> {
    match args.get(i) {
        Some(Node::Str(s)) => Ok(s),
        _ => Err(EvalError::BadData(format!(
            "expected a string as argument {}",
            i + 1
        ))),
    }
}

/// Expands `$1`, `${name}` references as Go's `Regexp.ExpandString`.
fn expand(template: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::new();
    caps.expand(template, &mut out);
    out
}

/// `label_replace(v, dst, replacement, src, regex)`.
pub(crate) fn label_replace(ev: &Evaluator<'_>, args: &[Node]) -> Result<Val, EvalError> {
    let dst = string_arg(args, 1)?;
    let repl = string_arg(args, 2)?;
    let src = string_arg(args, 3)?;
    let pattern = string_arg(args, 4)?;
    let re = crate::model::anchored_regex(pattern).map_err(|_| {
        EvalError::Execution(format!(
            "invalid regular expression in label_replace(): {pattern}"
        ))
    })?;
    if dst.is_empty() {
        return Err(EvalError::Execution(format!(
            "invalid destination label name in label_replace(): {dst}"
        )));
    }
    let mut m = ev.eval(&args[0])?.into_matrix();
    for s in &mut m {
        let value = s.labels.get(src).unwrap_or("");
        if let Some(caps) = re.captures(value) {
            let res = expand(repl, &caps);
            let mut b = LabelsBuilder::new(&s.labels);
            b.set(dst, &res);
            s.labels = b.labels();
            if dst == "__name__" {
                s.drop_name = false;
            }
        }
    }
    Ok(Val::Matrix(merge_same_labels(m)?))
}

/// `label_join(v, dst, separator, src...)`.
pub(crate) fn label_join(ev: &Evaluator<'_>, args: &[Node]) -> Result<Val, EvalError> {
    let dst = string_arg(args, 1)?;
    let sep = string_arg(args, 2)?;
    let mut srcs = Vec::new();
    for i in 3..args.len() {
        let s = string_arg(args, i)?;
        if s.is_empty() {
            return Err(EvalError::Execution(format!(
                "invalid source label name in label_join(): {s}"
            )));
        }
        srcs.push(s);
    }
    if dst.is_empty() {
        return Err(EvalError::Execution(format!(
            "invalid destination label name in label_join(): {dst}"
        )));
    }
    let mut m = ev.eval(&args[0])?.into_matrix();
    for s in &mut m {
        let joined = srcs
            .iter()
            .map(|n| s.labels.get(n).unwrap_or(""))
            .collect::<Vec<_>>()
            .join(sep);
        let mut b = LabelsBuilder::new(&s.labels);
        b.set(dst, &joined);
        s.labels = b.labels();
        if dst == "__name__" {
            s.drop_name = false;
        }
    }
    Ok(Val::Matrix(merge_same_labels(m)?))
}
