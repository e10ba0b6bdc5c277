//! Template parsing and expansion for alert labels and annotations, through
//! the crate's Go-compatible [`crate::template`] engine: parsed once at load
//! (errors refuse the file), expanded per alert with `$labels`, `$value`,
//! `$externalLabels`, `$externalURL`, `$threshold` and `$severity`.

use super::group::RuleQuerier;
use crate::model::Labels;
use crate::promql::Value;
use crate::template::{Data, QuerySample, RuleData, Template};

/// What a template sees, besides the query callback.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TemplateData<'a> {
    /// The result series' labels (metric name included).
    pub labels: &'a Labels,
    /// The global external labels.
    pub external_labels: &'a Labels,
    /// The external URL.
    pub external_url: &'a str,
    /// The sample value.
    pub value: f64,
    /// Threshold rules: the level the value is compared with.
    pub threshold: Option<f64>,
    /// Threshold rules: `warning` or `critical`.
    pub severity: Option<&'a str>,
    /// Evaluation time, ms (`now`, and the time of `query`).
    pub ts: i64,
}

/// The template name Prometheus gives alert rule templates.
pub(crate) fn template_name(rule: &str) -> String {
    format!("__alert_{rule}")
}

/// Parses a label or annotation template of alerting rule `rule`.
pub(crate) fn parse(rule: &str, text: &str) -> Result<Template, String> {
    Template::parse(&template_name(rule), text).map_err(|e| e.to_string())
}

/// Expands a template; an expansion error becomes Prometheus'
/// `<error expanding template: …>` text.
pub(crate) fn expand(t: &Template, d: &TemplateData<'_>, querier: &dyn RuleQuerier) -> String {
    let rule_data = RuleData {
        labels: d.labels.clone(),
        external_labels: d.external_labels.clone(),
        external_url: d.external_url.to_string(),
        value: d.value,
        threshold: d.threshold,
        severity: d.severity.map(str::to_string),
    };
    let ts = d.ts;
    let query = move |q: &str| -> Result<Vec<QuerySample>, String> {
        let expr = crate::promql::parse(q).map_err(|e| e.message)?;
        match querier
            .query_text(q, &expr, ts)
            .map_err(|e| e.to_string())?
        {
            Value::Vector(v) => Ok(v
                .into_iter()
                .map(|s| QuerySample {
                    labels: s.labels,
                    value: s.v,
                })
                .collect()),
            Value::Scalar { v, .. } => Ok(vec![QuerySample {
                labels: Labels::empty(),
                value: v,
            }]),
            _ => Err("rule result is not a vector or scalar".to_string()),
        }
    };
    let data = Data::rule(&rule_data).with_time_ms(ts).with_query(&query);
    t.execute(&data)
        .unwrap_or_else(|e| format!("<error expanding template: {e}>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use promql_parser::parser::Expr;

    struct NoQuery;
    impl RuleQuerier for NoQuery {
        fn query(&self, _: &Expr, _: i64) -> Result<Value, crate::promql::EvalError> {
            Ok(Value::Scalar { t: 0, v: 7.0 })
        }
    }

    #[test]
    fn parse_rejects_undefined_variables() {
        assert!(parse("A", "Instance {{ $labels.instance }} down").is_ok());
        let e = parse("InstanceDown", "Instance {{ $label.foo }} down").unwrap_err();
        assert!(e.starts_with("template: __alert_InstanceDown:1:"), "{e}");
        assert!(e.contains("undefined variable \"$label\""), "{e}");
    }

    #[test]
    fn expands_rule_variables_and_queries() {
        let l = Labels::from_pairs([("instance", "a:1"), ("job", "j")]);
        let e = Labels::from_pairs([("dc", "eu")]);
        let d = TemplateData {
            labels: &l,
            external_labels: &e,
            external_url: "http://x",
            value: 42.5,
            threshold: Some(5.0),
            severity: Some("critical"),
            ts: 0,
        };
        let t = parse(
            "A",
            "{{ $labels.instance }} {{ $value }} {{ $externalLabels.dc }} {{ $severity | toUpper }} {{ $threshold }} {{ query \"1\" | first | value }}",
        )
        .unwrap();
        assert_eq!(expand(&t, &d, &NoQuery), "a:1 42.5 eu CRITICAL 5 7");
        let bad = parse("A", "{{ index $labels 1 2 }}").unwrap();
        assert!(expand(&bad, &d, &NoQuery).starts_with("<error expanding template: "));
    }
}
