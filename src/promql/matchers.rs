//! `promql-parser` matchers to the crate's [`Matcher`]s: the one place that
//! conversion happens (the evaluator, the series API and rule files use it).

use crate::model::{Matcher, MatcherError, METRIC_NAME};
use promql_parser::label::{MatchOp as PMatchOp, Matcher as PMatcher};
use promql_parser::parser::VectorSelector;

/// One parsed matcher as ours (regexes anchored and cached).
pub fn to_matcher(m: &PMatcher) -> Result<Matcher, MatcherError> {
    Ok(match &m.op {
        PMatchOp::Equal => Matcher::equal(&m.name, &m.value),
        PMatchOp::NotEqual => Matcher::not_equal(&m.name, &m.value),
        PMatchOp::Re(_) => Matcher::regex(&m.name, &m.value)?,
        PMatchOp::NotRe(_) => Matcher::not_regex(&m.name, &m.value)?,
    })
}

/// The matcher sets of a selector: the first is its plain matchers, then one
/// per `or` alternative; the metric name, when written outside the braces,
/// becomes a `__name__` matcher in every set. Never empty.
pub fn selector_matchers(vs: &VectorSelector) -> Result<Vec<Vec<Matcher>>, MatcherError> {
    let convert = |ms: &[PMatcher]| -> Result<Vec<Matcher>, MatcherError> {
        let mut out = ms.iter().map(to_matcher).collect::<Result<Vec<_>, _>>()?;
        if let Some(name) = &vs.name {
            if !out.iter().any(|m| m.name == METRIC_NAME) {
                out.insert(0, Matcher::equal(METRIC_NAME, name.as_str()));
            }
        }
        Ok(out)
    };
    let mut sets = vec![convert(&vs.matchers.matchers)?];
    for alt in &vs.matchers.or_matchers {
        sets.push(convert(alt)?);
    }
    Ok(sets)
}
