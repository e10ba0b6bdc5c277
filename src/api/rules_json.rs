//! JSON for the rule endpoints, in Prometheus' shapes: the `data` member of
//! `GET /api/v1/rules` and `GET /api/v1/alerts`, plus our
//! `GET /api/v1/alerts/history`. Threshold rules add a `thresholds` object
//! to the rule and a `threshold` number to each alert; history entries of
//! resolves carry `resolveReason` (`recovered` or `data_missing`).

use crate::model::{Labels, Matcher};
use crate::rules::alert::{Alert, AlertState, AlertTransition};
use crate::rules::file::{EvaluationMode, RuleKind, RuleSpec};
use crate::rules::group::{Group, RuleState};
use crate::rules::history::{public_labels, HistoryQuery};
use crate::rules::selector::{matches_all, parse_selector};
use crate::rules::threshold::{Levels, Thresholds};
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// A bad request parameter, worded as Prometheus' `invalid parameter` errors.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("invalid parameter {param:?}: {message}")]
pub struct ParamError {
    /// The parameter.
    pub param: String,
    /// What is wrong.
    pub message: String,
}

fn perr(param: &str, message: impl Into<String>) -> ParamError {
    ParamError {
        param: param.to_string(),
        message: message.into(),
    }
}

/// Filters of `GET /api/v1/rules`.
#[derive(Debug, Clone, Default)]
pub struct RulesFilter {
    /// `type=alert` → Some(Alerting), `type=record` → Some(Recording).
    pub kind: Option<RuleKind>,
    /// `rule_name[]`.
    pub rule_names: Vec<String>,
    /// `rule_group[]`.
    pub rule_groups: Vec<String>,
    /// `file[]`.
    pub files: Vec<String>,
    /// `match[]`: rules whose labels match any set.
    pub matcher_sets: Vec<Vec<Matcher>>,
    /// `exclude_alerts=true`.
    pub exclude_alerts: bool,
    /// `group_limit`.
    pub group_limit: Option<usize>,
    /// `group_next_token`.
    pub group_next_token: Option<String>,
}

fn all<'a>(params: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    params
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

fn first<'a>(params: &'a [(String, String)], key: &str) -> Option<&'a str> {
    all(params, key)
        .into_iter()
        .next()
        .filter(|v| !v.is_empty())
}

/// Parses `match[]` selectors into matcher sets.
pub fn parse_match_params(values: &[&str]) -> Result<Vec<Vec<Matcher>>, ParamError> {
    values
        .iter()
        .map(|s| parse_selector(s).map_err(|e| perr("match[]", e)))
        .collect()
}

impl RulesFilter {
    /// Reads the filters from request parameters (query and form, in order).
    pub fn from_params(params: &[(String, String)]) -> Result<Self, ParamError> {
        let kind = match first(params, "type").map(str::to_lowercase).as_deref() {
            None => None,
            Some("alert") => Some(RuleKind::Alerting),
            Some("record") => Some(RuleKind::Recording),
            Some(other) => return Err(perr("type", format!("not supported value {other:?}"))),
        };
        let exclude_alerts = match first(params, "exclude_alerts").map(str::to_lowercase).as_deref() {
            None => false,
            Some("true" | "1" | "t") => true,
            Some("false" | "0" | "f") => false,
            Some(other) => {
                return Err(perr(
                    "exclude_alerts",
                    format!("error converting exclude_alerts: strconv.ParseBool: parsing {other:?}: invalid syntax"),
                ))
            }
        };
        let group_next_token = first(params, "group_next_token").map(str::to_string);
        let group_limit = match first(params, "group_limit") {
            None => None,
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Some(n as usize),
                Ok(_) => {
                    return Err(perr(
                        "group_limit",
                        "group_limit needs to be greater than 0",
                    ))
                }
                Err(e) => {
                    return Err(perr(
                        "group_limit",
                        format!("group_limit needs to be a valid number: {e}"),
                    ))
                }
            },
        };
        if group_next_token.is_some() && group_limit.is_none() {
            return Err(perr(
                "group_next_token",
                "group_limit needs to be present in order to paginate over the groups",
            ));
        }
        let owned = |k: &str| all(params, k).into_iter().map(str::to_string).collect();
        Ok(Self {
            kind,
            rule_names: owned("rule_name[]"),
            rule_groups: owned("rule_group[]"),
            files: owned("file[]"),
            matcher_sets: parse_match_params(&all(params, "match[]"))?,
            exclude_alerts,
            group_limit,
            group_next_token,
        })
    }
}

fn labels_obj(l: &Labels) -> Value {
    let mut m = Map::new();
    for x in l.iter() {
        m.insert(x.name.to_string(), Value::String(x.value.to_string()));
    }
    Value::Object(m)
}

fn pairs_obj(p: &[(String, String)]) -> Value {
    let mut m = Map::new();
    for (k, v) in p {
        m.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(m)
}

fn levels_obj(m: &mut Map<String, Value>, l: &Levels) {
    for (k, v) in [
        ("warning", l.warning),
        ("critical", l.critical),
        ("clear", l.clear),
    ] {
        if let Some(v) = v {
            m.insert(k.into(), json!(v));
        }
    }
}

/// The `thresholds` object of a rule.
pub fn thresholds_json(t: &Thresholds) -> Value {
    let mut m = Map::new();
    m.insert("direction".into(), json!(t.direction.as_str()));
    levels_obj(&mut m, &t.levels);
    let overrides: Vec<Value> = t
        .overrides
        .iter()
        .map(|o| {
            let mut om = Map::new();
            om.insert("matchers".into(), json!(o.matcher_texts));
            levels_obj(&mut om, &o.levels);
            Value::Object(om)
        })
        .collect();
    if !overrides.is_empty() {
        m.insert("overrides".into(), Value::Array(overrides));
    }
    Value::Object(m)
}

/// One alert as in `/api/v1/alerts`.
pub fn alert_json(a: &Alert) -> Value {
    let mut m = Map::new();
    m.insert("labels".into(), labels_obj(&a.public_labels()));
    m.insert("annotations".into(), pairs_obj(&a.annotations));
    m.insert("state".into(), json!(a.state.as_str()));
    m.insert(
        "activeAt".into(),
        json!(crate::gostd::json::time_ms_text(Some(a.active_at))),
    );
    if let Some(k) = a.keep_firing_since {
        m.insert(
            "keepFiringSince".into(),
            json!(crate::gostd::json::time_ms_text(Some(k))),
        );
    }
    m.insert(
        "value".into(),
        json!(crate::gostd::float::format_e_shortest(a.value)),
    );
    if let Some(t) = a.threshold {
        m.insert("threshold".into(), json!(t));
    }
    Value::Object(m)
}

/// Pending and firing alerts of a rule, sorted by labels.
fn active_alerts(r: &RuleState) -> Vec<&Alert> {
    let mut v: Vec<&Alert> = r
        .alerts
        .iter()
        .filter(|a| a.state != AlertState::Inactive)
        .collect();
    v.sort_by(|a, b| a.labels.cmp(&b.labels));
    v
}

fn rule_json(r: &RuleState, exclude_alerts: bool) -> Value {
    let spec: &RuleSpec = &r.spec;
    let mut m = Map::new();
    if spec.kind == RuleKind::Alerting {
        m.insert("state".into(), json!(r.state_str()));
    }
    m.insert("name".into(), json!(spec.name));
    m.insert("query".into(), json!(spec.expr.to_string()));
    if spec.kind == RuleKind::Alerting {
        m.insert("duration".into(), json!(spec.for_ms as f64 / 1000.0));
        m.insert(
            "keepFiringFor".into(),
            json!(spec.keep_firing_for_ms as f64 / 1000.0),
        );
    }
    m.insert("labels".into(), pairs_obj(&spec.labels));
    if spec.kind == RuleKind::Alerting {
        m.insert("annotations".into(), pairs_obj(&spec.annotations));
        let alerts = if exclude_alerts {
            Value::Null
        } else {
            Value::Array(active_alerts(r).into_iter().map(alert_json).collect())
        };
        m.insert("alerts".into(), alerts);
        if let Some(t) = &spec.thresholds {
            m.insert("thresholds".into(), thresholds_json(t));
        }
    }
    m.insert("health".into(), json!(r.health.as_str()));
    if let Some(e) = &r.last_error {
        m.insert("lastError".into(), json!(e));
    }
    m.insert(
        "evaluationTime".into(),
        json!(r.eval_duration.as_secs_f64()),
    );
    m.insert(
        "lastEvaluation".into(),
        json!(crate::gostd::json::time_ms_text(r.last_eval_ms)),
    );
    let typ = match spec.kind {
        RuleKind::Alerting => "alerting",
        RuleKind::Recording => "recording",
    };
    m.insert("type".into(), json!(typ));
    Value::Object(m)
}

/// The pagination token of a group.
fn group_token(g: &Group) -> String {
    format!(
        "{:016x}",
        Labels::from_pairs([("key", &**g.key())]).fingerprint()
    )
}

fn rule_labels(spec: &RuleSpec) -> Labels {
    Labels::from_pairs(spec.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The `data` of `GET /api/v1/rules` (`groups` sorted by file and name, as
/// [`super::manager::Manager::groups`] returns them).
pub fn rules_json(groups: &[Arc<Group>], f: &RulesFilter) -> Result<Value, ParamError> {
    let mut out = Vec::new();
    let mut next_token = None;
    let mut found_token = false;
    for g in groups {
        if let (Some(_), Some(tok)) = (f.group_limit, &f.group_next_token) {
            if !found_token {
                if *tok != group_token(g) {
                    continue;
                }
                found_token = true;
            }
        }
        if !f.rule_groups.is_empty() && !f.rule_groups.iter().any(|n| n == g.name()) {
            continue;
        }
        if !f.files.is_empty() && !f.files.iter().any(|n| n == g.file()) {
            continue;
        }
        let st = g.snapshot();
        let rules: Vec<Value> = st
            .rules
            .iter()
            .filter(|r| f.kind.is_none_or(|k| k == r.spec.kind))
            .filter(|r| f.rule_names.is_empty() || f.rule_names.contains(&r.spec.name))
            .filter(|r| {
                f.matcher_sets.is_empty()
                    || f.matcher_sets
                        .iter()
                        .any(|set| matches_all(set, &rule_labels(&r.spec)))
            })
            .map(|r| rule_json(r, f.exclude_alerts))
            .collect();
        if rules.is_empty() {
            continue;
        }
        if f.group_limit.is_some_and(|l| out.len() == l) {
            next_token = Some(group_token(g));
            break;
        }
        let mut group = json!({
            "name": g.name(),
            "file": g.file(),
            "rules": rules,
            "interval": g.interval_ms() as f64 / 1000.0,
            "limit": g.spec().limit,
            "evaluationTime": st.eval_duration.as_secs_f64(),
            "lastEvaluation": crate::gostd::json::time_ms_text(st.last_eval_ms),
        });
        // Our extension, only where it differs from Prometheus' behaviour.
        if g.spec().evaluation == EvaluationMode::OnScrape {
            group["evaluation"] = json!(EvaluationMode::OnScrape.as_str());
        }
        if let Some((name, _)) = &g.spec().datasource {
            group["datasource"] = json!(name);
        }
        out.push(group);
    }
    if let (Some(_), Some(tok)) = (f.group_limit, &f.group_next_token) {
        if !found_token {
            return Err(perr(
                "group_next_token",
                format!("invalid group_next_token '{tok}'. were rule groups changed?"),
            ));
        }
    }
    let mut data = Map::new();
    data.insert("groups".into(), Value::Array(out));
    if let Some(t) = next_token {
        data.insert("groupNextToken".into(), json!(t));
    }
    Ok(Value::Object(data))
}

/// The `data` of `GET /api/v1/alerts`: active alerts of every alerting
/// rule; per group, rules by state (firing first) then name.
pub fn alerts_json(groups: &[Arc<Group>]) -> Value {
    let mut alerts = Vec::new();
    for g in groups {
        let st = g.snapshot();
        let mut rules: Vec<&RuleState> = st
            .rules
            .iter()
            .filter(|r| r.spec.kind == RuleKind::Alerting)
            .collect();
        rules.sort_by(|a, b| {
            let (sa, sb) = (a.alerts.max_state(), b.alerts.max_state());
            sb.cmp(&sa).then_with(|| a.spec.name.cmp(&b.spec.name))
        });
        for r in rules {
            alerts.extend(active_alerts(r).into_iter().map(alert_json));
        }
    }
    json!({ "alerts": alerts })
}

/// Reads `GET /api/v1/alerts/history` parameters: `alertname`, `match[]`,
/// `start`, `end` (Unix seconds or RFC 3339), `limit`.
pub fn history_query_from_params(params: &[(String, String)]) -> Result<HistoryQuery, ParamError> {
    let time = |key: &str| -> Result<Option<i64>, ParamError> {
        match first(params, key) {
            None => Ok(None),
            Some(v) => super::parse_time_ms(v)
                .map(Some)
                .ok_or_else(|| perr(key, format!("cannot parse {v:?} to a valid timestamp"))),
        }
    };
    let limit = match first(params, "limit") {
        None => None,
        Some(v) => Some(
            v.parse::<usize>()
                .map_err(|_| perr("limit", "limit must be a number"))?,
        ),
    };
    Ok(HistoryQuery {
        alertname: first(params, "alertname").map(str::to_string),
        matcher_sets: parse_match_params(&all(params, "match[]"))?,
        start_ms: time("start")?,
        end_ms: time("end")?,
        limit,
    })
}

/// The `data` of `GET /api/v1/alerts/history`.
pub fn history_json(transitions: &[AlertTransition]) -> Value {
    let items: Vec<Value> = transitions
        .iter()
        .map(|t| {
            let mut m = Map::new();
            m.insert("alertname".into(), json!(&*t.rule));
            m.insert("group".into(), json!(&*t.group));
            m.insert("labels".into(), labels_obj(&public_labels(t)));
            m.insert(
                "fingerprint".into(),
                json!(format!("{:016x}", t.fingerprint)),
            );
            m.insert("from".into(), json!(t.from.as_str()));
            m.insert("to".into(), json!(t.to.as_str()));
            m.insert("state".into(), json!(t.state.as_str()));
            if let Some(s) = t.severity {
                m.insert("severity".into(), json!(s.as_str()));
            }
            m.insert(
                "value".into(),
                json!(crate::gostd::float::format_e_shortest(t.value)),
            );
            if let Some(x) = t.threshold {
                m.insert("threshold".into(), json!(x));
            }
            m.insert("annotations".into(), pairs_obj(&t.annotations));
            if let Some(r) = t.resolve_reason {
                m.insert("resolveReason".into(), json!(r.as_str()));
            }
            m.insert(
                "activeAt".into(),
                json!(crate::gostd::json::time_ms_text(Some(t.active_at))),
            );
            m.insert(
                "at".into(),
                json!(crate::gostd::json::time_ms_text(Some(t.at))),
            );
            Value::Object(m)
        })
        .collect();
    json!({ "transitions": items })
}

#[cfg(test)]
mod tests;
