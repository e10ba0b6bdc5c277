//! `/alerts`: pending and firing alerts (rule alerts, and alerts posted to `/api/v2/alerts`)
//! grouped as the routing tree groups them (one group per matched route and group labels),
//! the labels every alert of a group shares shown once, values in the rule's unit, a filter in
//! Alertmanager's matcher syntax kept in the query string (`?filter=`), silenced and inhibited
//! badges linking to the silence and the inhibiting alert, and a Silence button per alert and
//! per group. The list refreshes itself every 10 s with htmx (it re-reads the same URL).

use super::format::{self, Unit};
use super::{html, nav, param, query_pairs, urlenc, NavItem, UiState};
use crate::model::matcher_text::{matches_all, parse_matchers};
use crate::model::{Labels, LabelsBuilder, Matcher};
use crate::notify::api_alerts::ListedAlert;
use crate::notify::route::Route;
use crate::notify::AlertState as Routing;
use crate::rules::{AlertState, HeldAlert, Manager};
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// One alert row.
#[derive(Debug, Clone)]
pub struct AlertRow {
    /// Fingerprint, 16 hex digits (as `/api/v2/alerts`).
    pub fp: String,
    /// `alertname`.
    pub name: String,
    /// `pending` or `firing`.
    pub state: &'static str,
    /// The `severity` label.
    pub severity: String,
    /// The value, formatted; empty for posted alerts.
    pub value: String,
    /// The threshold crossed, formatted; empty when none.
    pub threshold: String,
    /// How long it has been active.
    pub since: String,
    /// When it became active.
    pub since_time: String,
    /// Labels not shared by the whole group (without `alertname`).
    pub labels: Vec<(String, String)>,
    /// Ids of the silences muting it.
    pub silenced_by: Vec<String>,
    /// Fingerprints of the alerts inhibiting it.
    pub inhibited_by: Vec<String>,
    /// `/silences/new?...` prefilled for this alert.
    pub silence_href: String,
}

/// One aggregation group.
#[derive(Debug, Clone)]
pub struct GroupView {
    /// The route's receiver.
    pub receiver: String,
    /// The labels the route groups by.
    pub group_labels: Vec<(String, String)>,
    /// Other labels every alert of the group has.
    pub shared: Vec<(String, String)>,
    /// The alerts.
    pub alerts: Vec<AlertRow>,
    /// `/silences/new?...` for the whole group.
    pub silence_href: String,
    /// Firing alerts in the group.
    pub firing: usize,
    /// Pending alerts in the group.
    pub pending: usize,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    nav: Vec<NavItem>,
    filter: String,
    error: String,
    groups: Vec<GroupView>,
    alerts: usize,
    refresh_url: String,
}

/// An active alert before grouping.
pub struct Active {
    /// Labels as notified (public labels plus external labels).
    pub labels: Labels,
    /// Its fingerprint.
    pub fp: u64,
    /// Pending or firing.
    pub state: &'static str,
    /// Value, formatted.
    pub value: String,
    /// Threshold, formatted.
    pub threshold: String,
    /// Active since, ms.
    pub active_at: i64,
}

/// Each rule's unit, by (group key, rule name).
pub fn rule_units(rules: &Manager) -> HashMap<(Arc<str>, String), Unit> {
    let mut out = HashMap::new();
    for g in rules.groups() {
        g.with_state(|s| {
            for r in &s.rules {
                out.insert(
                    (g.key().clone(), r.spec.name.clone()),
                    Unit::guess(&r.spec.expr_text),
                );
            }
        });
    }
    out
}

/// The labels an alert is routed with: its public labels, then external labels it lacks.
pub fn routed_labels(public: &Labels, external: &Labels) -> Labels {
    if external.is_empty() {
        return public.clone();
    }
    let mut b = LabelsBuilder::new(public);
    for l in external.iter() {
        if public.get(&l.name).is_none() {
            b.set(&l.name, &l.value);
        }
    }
    b.labels()
}

/// The pending and firing rule alerts, and the posted alerts, as [`Active`].
pub fn active_alerts(
    held: &[HeldAlert],
    posted: &[ListedAlert],
    units: &HashMap<(Arc<str>, String), Unit>,
    external: &Labels,
) -> Vec<Active> {
    let mut out = Vec::with_capacity(held.len());
    for h in held {
        let a = &h.alert;
        let state = match a.state {
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
            AlertState::Inactive => continue,
        };
        let unit = units
            .get(&(h.group.clone(), h.rule.to_string()))
            .copied()
            .unwrap_or(Unit::Plain);
        out.push(Active {
            labels: routed_labels(&a.public_labels(), external),
            fp: a.labels.fingerprint(),
            state,
            value: unit.format(a.value),
            threshold: a.threshold.map(|t| unit.format(t)).unwrap_or_default(),
            active_at: a.active_at,
        });
    }
    for p in posted.iter().filter(|p| p.ends_at.is_some()) {
        out.push(Active {
            labels: p.alert.labels.clone(),
            fp: p.alert.fingerprint,
            state: "firing",
            value: String::new(),
            threshold: String::new(),
            active_at: p.alert.starts_at.timestamp_millis(),
        });
    }
    out
}

/// Groups `alerts` matching `filter` as `route` groups them; `routing` tells an alert's
/// silences and inhibitions.
pub fn group_alerts(
    alerts: &[Active],
    route: &Route,
    routing: &dyn Fn(&Labels) -> Routing,
    filter: &[Matcher],
    now_ms: i64,
) -> Vec<GroupView> {
    // (receiver, group labels text) → (group labels, alert rows with full labels)
    type Rows = Vec<(AlertRow, Vec<(String, String)>)>;
    let mut groups: BTreeMap<(String, String, usize), (Labels, Rows)> = BTreeMap::new();
    for a in alerts {
        if !matches_all(filter, &a.labels) {
            continue;
        }
        let state = routing(&a.labels);
        // `alertname` and `severity` have columns of their own.
        let mut all = format::pairs(&a.labels);
        all.retain(|(n, _)| n != "alertname" && n != "severity");
        let name = a.labels.get("alertname").unwrap_or("").to_owned();
        let row = AlertRow {
            fp: format!("{:016x}", a.fp),
            name,
            state: a.state,
            severity: a.labels.get("severity").unwrap_or("").to_owned(),
            value: a.value.clone(),
            threshold: a.threshold.clone(),
            since: format::ago(a.active_at, now_ms),
            since_time: format::time_ms(a.active_at),
            labels: Vec::new(),
            silenced_by: state.silenced_by.clone(),
            inhibited_by: state
                .inhibited_by
                .iter()
                .map(|fp| format!("{fp:016x}"))
                .collect(),
            silence_href: format!(
                "/silences/new?alert={:016x}&matchers={}",
                a.fp,
                urlenc(&format::silence_matchers(&a.labels))
            ),
        };
        let routes = route.match_labels(&a.labels);
        let last = routes.len().saturating_sub(1);
        let mut entry = Some((row, all));
        for (i, r) in routes.into_iter().enumerate() {
            let gl = r.group_labels(&a.labels);
            let key = (r.receiver.clone(), gl.to_string(), r.index);
            // The last route takes the row; earlier ones (`continue: true`) get copies.
            let item = if i == last {
                entry.take()
            } else {
                entry.clone()
            };
            if let Some(item) = item {
                groups
                    .entry(key)
                    .or_insert_with(|| (gl, Vec::new()))
                    .1
                    .push(item);
            }
        }
    }
    let mut out = Vec::with_capacity(groups.len());
    for ((receiver, _, _), (gl, mut rows)) in groups {
        let group_pairs = format::pairs(&gl);
        let mut shared: Vec<(String, String)> = rows[0].1.clone();
        for (_, labels) in &rows[1..] {
            shared.retain(|p| labels.contains(p));
        }
        shared.retain(|p| !group_pairs.contains(p));
        // Firing before pending, critical before warning, then by name and labels.
        let rank = |r: &AlertRow| {
            (
                std::cmp::Reverse(r.state == "firing"),
                std::cmp::Reverse(severity_rank(&r.severity)),
            )
        };
        rows.sort_by(|a, b| (rank(&a.0), &a.0.name, &a.1).cmp(&(rank(&b.0), &b.0.name, &b.1)));
        let mut silence_on = if group_pairs.is_empty() {
            shared.clone()
        } else {
            group_pairs.clone()
        };
        silence_on.retain(|(n, _)| n != "severity");
        let firing = rows.iter().filter(|r| r.0.state == "firing").count();
        let alerts: Vec<AlertRow> = rows
            .into_iter()
            .map(|(mut row, labels)| {
                row.labels = labels
                    .into_iter()
                    .filter(|p| !shared.contains(p) && !group_pairs.contains(p))
                    .collect();
                row
            })
            .collect();
        out.push(GroupView {
            receiver,
            silence_href: format!(
                "/silences/new?matchers={}",
                urlenc(&format::matchers_text(&silence_on))
            ),
            group_labels: group_pairs,
            shared,
            pending: alerts.len() - firing,
            firing,
            alerts,
        });
    }
    out
}

/// Severities most urgent first: `critical`/`page` above `error`, `warning`, `info`, others.
fn severity_rank(s: &str) -> u8 {
    match s {
        "critical" | "page" => 4,
        "error" => 3,
        "warning" => 2,
        "info" => 1,
        _ => 0,
    }
}

/// `GET /alerts[?filter=<matchers>]`.
pub async fn page(State(s): State<UiState>, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let filter_text = param(&pairs, "filter").unwrap_or("").trim().to_owned();
    let (filter, error) = if filter_text.is_empty() {
        (Vec::new(), String::new())
    } else {
        match parse_matchers(&filter_text) {
            Ok(m) => (m, String::new()),
            Err(e) => (Vec::new(), format!("invalid filter: {e}")),
        }
    };
    let now = chrono::Utc::now();
    let held = s.app.rules.alerts_snapshot();
    let posted = s.notifier.alerts().list(now);
    let units = rule_units(&s.app.rules);
    let external = s.app.rules.settings().external_labels;
    let mut active = active_alerts(&held, &posted, &units, &external);
    // Bounded page: at most MAX_ALERT_ROWS alerts (firing ones first), the rest counted.
    active.retain(|a| matches_all(&filter, &a.labels));
    let hidden = active.len().saturating_sub(MAX_ALERT_ROWS);
    if hidden > 0 {
        active.sort_by_key(|a| a.state != "firing");
        active.truncate(MAX_ALERT_ROWS);
    }
    let now_ms = now.timestamp_millis();
    let groups = if error.is_empty() {
        s.notifier
            .with_current(|n| {
                group_alerts(
                    &active,
                    n.route(),
                    &|l| n.alert_state(l, now),
                    &filter,
                    now_ms,
                )
            })
            .await
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    let status = if error.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    let error = if hidden > 0 && error.is_empty() {
        format!("{hidden} more alerts are not shown (at most {MAX_ALERT_ROWS} per page): narrow the filter")
    } else {
        error
    };
    html(status, render(groups, filter_text, error))
}

/// Most alerts one `/alerts` page lists.
pub const MAX_ALERT_ROWS: usize = 10_000;

/// The page for `groups`.
pub fn render(groups: Vec<GroupView>, filter: String, error: String) -> askama::Result<String> {
    let alerts = groups.iter().map(|g| g.alerts.len()).sum();
    let refresh_url = if filter.is_empty() {
        "/alerts".to_owned()
    } else {
        format!("/alerts?filter={}", urlenc(&filter))
    };
    AlertsPage {
        nav: nav("/alerts"),
        filter,
        error,
        groups,
        alerts,
        refresh_url,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routing(silenced: bool) -> impl Fn(&Labels) -> Routing {
        move |l: &Labels| Routing {
            receivers: vec!["team".into()],
            silenced_by: if silenced && l.get("instance") == Some("b") {
                vec!["sil-1".into()]
            } else {
                Vec::new()
            },
            inhibited_by: if l.get("instance") == Some("c") {
                vec![0xabc]
            } else {
                Vec::new()
            },
        }
    }

    pub(crate) fn scenario() -> Vec<Active> {
        ["a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, inst)| {
                let labels = Labels::from_pairs([
                    ("alertname", "HighLatency"),
                    ("instance", inst),
                    ("job", "api"),
                    ("severity", if i == 0 { "critical" } else { "warning" }),
                ]);
                Active {
                    fp: labels.fingerprint(),
                    labels,
                    state: if i == 2 { "pending" } else { "firing" },
                    value: Unit::Seconds.format(0.5 + i as f64),
                    threshold: Unit::Seconds.format(0.3),
                    active_at: 1_000_000,
                }
            })
            .collect()
    }

    fn route() -> Route {
        // One route to `log`, grouping by `alertname`.
        Route::from_config(None)
    }

    #[test]
    fn groups_share_labels_and_link_silences() {
        let groups = group_alerts(&scenario(), &route(), &routing(true), &[], 1_060_000);
        assert_eq!(groups.len(), 1);
        let g = &groups[0];
        assert_eq!(g.alerts.len(), 3);
        assert_eq!((g.firing, g.pending), (2, 1));
        // Firing first, critical first.
        assert_eq!(g.alerts[0].severity, "critical");
        assert_eq!(g.alerts[2].state, "pending");
        assert!(
            g.shared.contains(&("job".into(), "api".into())),
            "{:?}",
            g.shared
        );
        // Shared labels are not repeated per alert.
        assert!(g
            .alerts
            .iter()
            .all(|a| !a.labels.iter().any(|(n, _)| n == "job")));
        let html = render(groups, String::new(), String::new()).unwrap();
        assert!(html.contains("HighLatency"));
        assert!(
            html.contains("href=\"/silences#sil-1\""),
            "silence badge links"
        );
        assert!(
            html.contains("href=\"/alerts/0000000000000abc\""),
            "inhibitor link"
        );
        assert!(
            html.contains("/silences/new?alert="),
            "per-alert silence button"
        );
        assert!(
            html.contains("/silences/new?matchers="),
            "per-group silence button"
        );
        assert!(html.contains("500ms"), "values in the rule's unit");
        assert!(html.contains("hx-trigger=\"every 10s\""));
        assert!(!html.contains("<script>alert"));
    }

    #[test]
    fn filter_uses_matchers_and_escapes() {
        let f = parse_matchers("instance=~\"a|b\"").unwrap();
        let groups = group_alerts(&scenario(), &route(), &routing(false), &f, 0);
        assert_eq!(groups[0].alerts.len(), 2);
        let html = render(
            groups,
            "x=\"<script>alert(1)</script>\"".into(),
            String::new(),
        )
        .unwrap();
        assert!(!html.contains("<script>alert(1)"));
        assert!(html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"));
    }
}
