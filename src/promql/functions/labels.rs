//! `label_replace` and `label_join`: rewrite labels of whole series.
//!
//! The length of every new label value is worked out first and charged to the query's byte
//! budget, so a value that would not fit is refused before it is built.

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

/// The length [`expand`] would give, without building it: the same interpolation rules
/// (`regex_automata`'s, which `Captures::expand` uses), with captures counted, not copied.
fn expanded_len(template: &str, re: &regex::Regex, caps: &regex::Captures<'_>) -> usize {
    let mut literal = String::new();
    let mut captured = 0usize;
    regex_automata::util::interpolate::string(
        template,
        |i, _| captured = captured.saturating_add(caps.get(i).map_or(0, |m| m.len())),
        |name| re.capture_names().position(|n| n == Some(name)),
        &mut literal,
    );
    literal.len().saturating_add(captured)
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
            let len = expanded_len(repl, &re, &caps);
            ev.ctx.add_label_bytes(len + dst.len(), "label_replace")?;
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
        let values = srcs.iter().map(|n| s.labels.get(n).unwrap_or(""));
        let len = values.map(str::len).sum::<usize>()
            + sep.len().saturating_mul(srcs.len().saturating_sub(1));
        ev.ctx.add_label_bytes(len + dst.len(), "label_join")?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expanded_len_matches_expand() {
        let re = crate::model::anchored_regex("(?P<first>a+)(b*)(?P<n9>c?)").unwrap();
        let caps = re.captures("aaabbc").unwrap();
        for template in [
            "",
            "$1",
            "$1$1",
            "${1}x",
            "$1x",
            "$first",
            "${first}-$2",
            "$$",
            "$$1",
            "$",
            "a$",
            "${",
            "${unclosed",
            "$9",
            "${9}",
            "$n9$n9",
            "$nope",
            "${nope}",
            "$_",
            "$-1",
            "$2$2$2",
            "héllo $1 wörld",
            "$$$1",
            "${0}",
            "$0",
        ] {
            assert_eq!(
                expanded_len(template, &re, &caps),
                expand(template, &caps).len(),
                "{template:?}"
            );
        }
    }
}
