//! Series selectors and matcher lists written as PromQL (`{a="b", c=~"d.*"}`),
//! converted to the crate's [`Matcher`]s.

use crate::model::{Labels, Matcher};
use promql_parser::parser::Expr;

/// Parses a selector such as `up{job="x"}` or `{a=~"b"}` into matchers; the
/// metric name becomes a `__name__` equality matcher.
pub fn parse_selector(s: &str) -> Result<Vec<Matcher>, String> {
    let expr = crate::promql::parse(s).map_err(|e| e.message)?;
    let Expr::VectorSelector(vs) = expr else {
        return Err(format!("{s:?} is not a series selector"));
    };
    if !vs.matchers.or_matchers.is_empty() {
        return Err(format!("{s:?}: 'or' is not supported in a selector"));
    }
    if vs.offset.is_some() || vs.at.is_some() {
        return Err(format!("{s:?}: offset and @ are not allowed in a selector"));
    }
    let mut sets = crate::promql::matchers::selector_matchers(&vs).map_err(|e| e.to_string())?;
    let out = sets.swap_remove(0);
    Ok(out)
}

/// Parses a list of matchers written without braces (`module=~"batch-.*"`).
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, String> {
    parse_selector(&format!("{{{s}}}"))
}

/// Parses a series description as in `input_series` and `exp_samples`
/// (`metric{a="b"}`): only equality matchers, giving the label set.
pub fn parse_metric(s: &str) -> Result<Labels, String> {
    let trimmed = s.trim();
    if trimmed.is_empty() {
        return Ok(Labels::empty());
    }
    if trimmed == "{}" {
        return Ok(Labels::empty());
    }
    let matchers = parse_selector(trimmed)?;
    let mut pairs = Vec::with_capacity(matchers.len());
    for m in matchers {
        if m.op_str() != "=" {
            return Err(format!(
                "{s:?}: only '=' matchers are allowed in a series description"
            ));
        }
        pairs.push((m.name.clone(), m.value().to_string()));
    }
    Ok(Labels::from_pairs(pairs))
}

/// Whether every matcher matches the label set (missing labels match as empty).
pub fn matches_all(matchers: &[Matcher], labels: &Labels) -> bool {
    matchers
        .iter()
        .all(|m| m.matches(labels.get(&m.name).unwrap_or("")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_selectors_and_matchers() {
        let m = parse_selector(r#"up{job="a", instance=~"x.*"}"#).unwrap();
        assert_eq!(m.len(), 3);
        let l = Labels::from_pairs([("__name__", "up"), ("job", "a"), ("instance", "xy")]);
        assert!(matches_all(&m, &l));
        let m = parse_matchers(r#"module=~"batch-.*""#).unwrap();
        assert!(matches_all(
            &m,
            &Labels::from_pairs([("module", "batch-1")])
        ));
        assert!(!matches_all(&m, &Labels::from_pairs([("module", "web")])));
    }

    #[test]
    fn rejects_non_selectors() {
        assert!(parse_selector("rate(x[5m])").is_err());
        assert!(parse_matchers("a=").is_err());
        assert!(parse_metric(r#"x{a=~"b"}"#).is_err());
    }

    #[test]
    fn parses_metric_descriptions() {
        let l = parse_metric(r#"go_goroutines{job="p", instance="l:9090"}"#).unwrap();
        assert_eq!(l.get("__name__"), Some("go_goroutines"));
        assert_eq!(l.get("job"), Some("p"));
        assert_eq!(parse_metric("").unwrap(), Labels::empty());
        assert_eq!(parse_metric(r#"{job="x"}"#).unwrap().len(), 1);
    }
}
