//! `relabel_configs` and `metric_relabel_configs` entries: decoded with YAML's null rules as
//! Prometheus applies them, compiled into [`crate::model::relabel::RelabelConfig`], and every
//! rule Prometheus' `relabel.Config.Validate` refuses reported at the offending field.
//!
//! Prometheus starts each entry from its defaults (`separator: ;`, `regex: (.*)`,
//! `replacement: $1`, `action: replace`); a key written with a null value (`regex:`) sets the
//! zero value instead (an empty separator, replacement or action, and the regex `""`), exactly
//! as its YAML decoder does.
//!
//! The rule fields are taken verbatim: unlike the rest of the file, `${VAR}` is not expanded
//! here, because `$1` and `${1}` are the regex groups (Prometheus expands no variable there).

use super::decode::{yaml_section, At, Cx, Decode};
use super::error::ErrorKind;
use super::node::{Node, Pos, Value};
use crate::model::relabel::{RelabelConfig, RelabelError, RelabelSpec};
use serde::ser::{SerializeMap, Serializer};

yaml_section! {
    /// One relabel rule as written.
    pub(crate) struct RawRelabelFields {
        source_labels: Vec<Verbatim>,
        separator: Verbatim,
        regex: Verbatim,
        modulus: u64,
        target_label: Verbatim,
        replacement: Verbatim,
        action: Verbatim,
    }
}

/// A scalar as written, without `${VAR}` expansion.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Verbatim(String);

impl Decode for Verbatim {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        if let Value::Str(text) = &node.value {
            return Some(Verbatim(text.clone()));
        }
        let text = cx.raw_text(node);
        if text.is_none() {
            cx.wrong_type(node, "a string");
        }
        text.map(Verbatim)
    }
}

/// A relabel rule as written, with the keys that were written as null.
#[derive(Clone, Debug, Default)]
pub(crate) struct RawRelabelConfig {
    fields: RawRelabelFields,
    nulls: Vec<String>,
}

impl Decode for RawRelabelConfig {
    fn decode(node: &Node, cx: &mut Cx<'_>) -> Option<Self> {
        let fields = RawRelabelFields::decode(node, cx)?;
        let nulls = match &node.value {
            Value::Map(entries) => entries
                .iter()
                .filter(|(_, v)| matches!(v.value, Value::Null))
                .filter_map(|(k, _)| match &k.value {
                    Value::Str(s) => Some(s.clone()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        Some(Self { fields, nulls })
    }
}

/// Compiles every rule of a `relabel_configs`-style list, reporting each refused one at its
/// field; `path` names the list, e.g. `scrape_configs[0].metric_relabel_configs`.
pub(crate) fn relabel_configs(
    raw: Option<At<Vec<At<RawRelabelConfig>>>>,
    path: &str,
    cx: &mut Cx<'_>,
) -> Vec<RelabelConfig> {
    let list = raw.map(|l| l.value).unwrap_or_default();
    let mut out = Vec::with_capacity(list.len());
    for (i, entry) in list.into_iter().enumerate() {
        // `action: ''` as written goes through Prometheus' action parser ("unknown relabel
        // action"); only a null action reaches its "cannot be empty" check.
        let written_empty = entry
            .value
            .fields
            .action
            .as_ref()
            .is_some_and(|a| a.value.0.is_empty());
        let (spec, positions) = spec_of(entry.value, entry.pos);
        let compiled = if written_empty {
            Err(RelabelError::UnknownAction(String::new()))
        } else {
            RelabelConfig::new(spec)
        };
        match compiled {
            Ok(rule) => out.push(rule),
            Err(source) => {
                let pos = positions.of(&source);
                let kind = ErrorKind::Relabel {
                    path: format!("{path}[{i}]"),
                    source,
                };
                cx.error(pos, kind);
            }
        }
    }
    out
}

/// Where each field of one rule is, to point an error at it.
struct Positions {
    entry: Pos,
    source_labels: Option<Pos>,
    regex: Option<Pos>,
    modulus: Option<Pos>,
    target_label: Option<Pos>,
    replacement: Option<Pos>,
    action: Option<Pos>,
}

impl Positions {
    fn of(&self, e: &RelabelError) -> Pos {
        let field = match e {
            RelabelError::EmptyAction | RelabelError::UnknownAction(_) => self.action,
            RelabelError::SourceLabel(_) => self.source_labels,
            RelabelError::Regex(_) => self.regex,
            RelabelError::ZeroModulus => self.modulus,
            RelabelError::InvalidTargetLabel(..) => self.target_label,
            RelabelError::ReplacementNotAllowed(_) | RelabelError::InvalidReplacement(..) => {
                self.replacement
            }
            _ => None,
        };
        field.unwrap_or(self.entry)
    }
}

fn spec_of(raw: RawRelabelConfig, entry: Pos) -> (RelabelSpec, Positions) {
    let f = raw.fields;
    let null = |key: &str| raw.nulls.iter().any(|k| k == key);
    let positions = Positions {
        entry,
        source_labels: f.source_labels.as_ref().map(|a| a.pos),
        regex: f.regex.as_ref().map(|a| a.pos),
        modulus: f.modulus.as_ref().map(|a| a.pos),
        target_label: f.target_label.as_ref().map(|a| a.pos),
        replacement: f.replacement.as_ref().map(|a| a.pos),
        action: f.action.as_ref().map(|a| a.pos),
    };
    let defaults = RelabelSpec::default();
    let text = |field: Option<At<Verbatim>>, key: &str, default: String| match field {
        Some(v) => v.value.0,
        None if null(key) => String::new(),
        None => default,
    };
    let regex = match f.regex {
        Some(r) => Some(r.value.0),
        None if null("regex") => Some(String::new()),
        None => None,
    };
    let spec = RelabelSpec {
        source_labels: f
            .source_labels
            .map(|s| s.value.into_iter().map(|v| v.0).collect()),
        separator: text(f.separator, "separator", defaults.separator),
        regex,
        modulus: f.modulus.map_or(0, |m| m.value),
        target_label: f.target_label.map(|t| t.value.0).unwrap_or_default(),
        replacement: text(f.replacement, "replacement", defaults.replacement),
        action: text(f.action, "action", defaults.action),
    };
    (spec, positions)
}

/// Serializes rules as Prometheus prints them in `/api/v1/status/config`.
pub(crate) fn serialize_rules<S: Serializer>(
    rules: &[RelabelConfig],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(rules.iter().map(RuleView))
}

struct RuleView<'a>(&'a RelabelConfig);

impl serde::Serialize for RuleView<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let spec = self.0.spec();
        let mut map = serializer.serialize_map(None)?;
        if let Some(source) = &spec.source_labels {
            map.serialize_entry("source_labels", source)?;
        }
        map.serialize_entry("separator", &spec.separator)?;
        map.serialize_entry("regex", self.0.regex().as_str())?;
        if spec.modulus != 0 {
            map.serialize_entry("modulus", &spec.modulus)?;
        }
        if !spec.target_label.is_empty() {
            map.serialize_entry("target_label", &spec.target_label)?;
        }
        map.serialize_entry("replacement", &spec.replacement)?;
        map.serialize_entry("action", self.0.action().as_str())?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_with_env, Config};
    use crate::model::relabel::{process, Action};
    use crate::model::Labels;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn load(text: &str) -> Config {
        parse_with_env(text, "c.yml", &no_env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(text: &str) -> Vec<String> {
        match parse_with_env(text, "c.yml", &no_env) {
            Ok(_) => Vec::new(),
            Err(e) => e.lines(),
        }
    }

    const HEAD: &str = "scrape_configs:\n- job_name: a\n";

    #[test]
    fn both_lists_are_read_with_defaults() {
        let config = load(&format!(
            "{HEAD}  relabel_configs:\n  - source_labels: [__address__]\n    \
             target_label: instance\n  - action: LabelDrop\n    regex: __meta_.*\n  \
             metric_relabel_configs:\n  - source_labels: [__name__, job]\n    separator: ','\n    \
             regex: 'go_(.*),a'\n    target_label: short\n    replacement: 'g_$1'\n  \
             - {{action: hashmod, source_labels: [instance], target_label: shard, modulus: 4}}\n"
        ));
        let job = &config.scrape_configs[0];
        assert_eq!(job.relabel_configs.len(), 2);
        let first = job.relabel_configs[0].spec();
        assert_eq!(
            (first.separator.as_str(), first.regex.as_deref()),
            (";", None)
        );
        assert_eq!(first.replacement, "$1");
        assert_eq!(job.relabel_configs[0].action(), Action::Replace);
        assert_eq!(job.relabel_configs[1].action(), Action::LabelDrop);
        assert_eq!(job.metric_relabel_configs[1].spec().modulus, 4);
        let out = process(
            Labels::from_pairs([("__name__", "go_goroutines"), ("job", "a")]),
            &job.metric_relabel_configs[..1],
        )
        .unwrap();
        assert_eq!(out.get("short"), Some("g_goroutines"));
    }

    #[test]
    fn null_keys_take_go_zero_values() {
        let config = load(&format!(
            "{HEAD}  metric_relabel_configs:\n  - source_labels: [a, b]\n    separator:\n    \
             target_label: ab\n  - source_labels: [a]\n    regex:\n    action: drop\n"
        ));
        let rules = &config.scrape_configs[0].metric_relabel_configs;
        let out = process(Labels::from_pairs([("a", "1"), ("b", "2")]), &rules[..1]).unwrap();
        assert_eq!(out.get("ab"), Some("12"));
        // `regex:` (null) is the empty regex: it drops only series without `a`.
        assert!(process(Labels::from_pairs([("a", "1")]), &rules[1..]).is_some());
        assert!(process(Labels::from_pairs([("b", "1")]), &rules[1..]).is_none());
        assert_eq!(
            errors(&format!("{HEAD}  relabel_configs:\n  - action:\n")),
            ["c.yml:4:5: scrape_configs[0].relabel_configs[0]: relabel action cannot be empty"]
        );
        assert_eq!(
            errors(&format!("{HEAD}  relabel_configs:\n  - action: ''\n")),
            [r#"c.yml:4:13: scrape_configs[0].relabel_configs[0]: unknown relabel action """#]
        );
    }

    #[test]
    fn validation_errors_point_at_the_field() {
        let text = format!(
            "{HEAD}  relabel_configs:\n  - source_labels: [a]\n    regex: '(unclosed'\n    \
             target_label: x\n  - action: replace\n  - action: hashmod\n    target_label: t\n  \
             - action: renamelabel\n  metric_relabel_configs:\n  - action: lowercase\n    \
             target_label: x\n    replacement: y\n  - action: keepequal\n    target_label: x\n    \
             separator: ','\n  - action: labelkeep\n    source_labels: [a]\n  \
             - action: labelmap\n    replacement: ''\n  - source_labels: ['']\n    target_label: x\n  \
             - bogus: 1\n    target_label: x\n"
        );
        let got = errors(&text);
        let want = [
            "c.yml:5:12: scrape_configs[0].relabel_configs[0]: error parsing regexp: ",
            "c.yml:7:5: scrape_configs[0].relabel_configs[1]: relabel configuration for replace action requires 'target_label' value",
            "c.yml:8:5: scrape_configs[0].relabel_configs[2]: relabel configuration for hashmod requires non-zero modulus",
            "c.yml:10:13: scrape_configs[0].relabel_configs[3]: unknown relabel action \"renamelabel\"",
            "c.yml:14:18: scrape_configs[0].metric_relabel_configs[0]: 'replacement' can not be set for lowercase action",
            "c.yml:15:5: scrape_configs[0].metric_relabel_configs[1]: keepequal action requires only 'source_labels' and `target_label`, and no other fields",
            "c.yml:18:5: scrape_configs[0].metric_relabel_configs[2]: labelkeep action requires only 'regex', and no other fields",
            "c.yml:21:18: scrape_configs[0].metric_relabel_configs[3]: \"\" is invalid 'replacement' for labelmap action",
            "c.yml:22:20: scrape_configs[0].metric_relabel_configs[4]: \"\" is not a valid label name",
            "c.yml:24:5: unknown field \"bogus\" in scrape_configs[0].metric_relabel_configs[5]",
        ];
        assert_eq!(got.len(), want.len(), "{got:#?}");
        for (g, w) in got.iter().zip(want) {
            assert!(g.starts_with(w), "got {g:?}, want {w:?}");
        }
    }

    #[test]
    fn dollar_templates_are_not_environment_variables() {
        let config = load(&format!(
            "{HEAD}  metric_relabel_configs:\n  - source_labels: [a]\n    regex: '(.)(.*)'\n    \
             target_label: '${{1}}_x'\n    replacement: '$2-${{1}}$$'\n"
        ));
        let rules = &config.scrape_configs[0].metric_relabel_configs;
        assert_eq!(rules[0].spec().replacement, "$2-${1}$$");
        let out = process(Labels::from_pairs([("a", "kab")]), rules).unwrap();
        assert_eq!(out.get("k_x"), Some("ab-k$"));
    }

    #[test]
    fn rules_print_in_the_config_view() {
        let config = load(&format!(
            "{HEAD}  metric_relabel_configs:\n  - {{source_labels: [a], regex: 'x.*', action: drop}}\n"
        ));
        let yaml = config.redacted_yaml();
        assert!(yaml.contains("metric_relabel_configs:"), "{yaml}");
        assert!(yaml.contains("regex: x.*"), "{yaml}");
        assert!(yaml.contains("action: drop"), "{yaml}");
    }
}
