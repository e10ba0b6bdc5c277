//! `/status`: build information, the buffer's size, the command-line flags, the routing tree
//! with a tester ("which receivers would these labels reach", `?labels={a="b"}`), delivery
//! health per receiver (queued and dead-lettered notifications) and the loaded configuration
//! with every secret as `<secret>` (the same text as `/api/v1/status/config`).
//!
//! The buffer's series, samples and bytes come from one walk over every series, run on the
//! query executor (off the async workers), together with the head cardinality statistics of
//! `/api/v1/status/tsdb`: the top 10 metric names, label names by values and by bytes, and
//! label pairs by series — what to look at when memory grows.

use super::format;
use super::{html, nav, param, query_pairs, NavItem, UiState};
use crate::api::{Cardinality, HeadSummary};
use crate::model::matcher_text::{matchers_string, parse_matchers};
use crate::model::Labels;
use crate::notify::route::Route;
use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use std::collections::BTreeMap;

/// One node of the routing tree.
#[derive(Debug, Clone)]
pub struct RouteRow {
    /// Depth (0 for the root), as indentation.
    pub indent: String,
    /// Receiver.
    pub receiver: String,
    /// Matchers as text.
    pub matchers: String,
    /// `group_by`.
    pub group_by: String,
    /// `continue`.
    pub continues: bool,
    /// Whether the tested labels reach this route.
    pub matched: bool,
}

/// Delivery state of one receiver.
#[derive(Debug, Clone)]
pub struct ReceiverRow {
    /// Name.
    pub name: String,
    /// Notifications queued now.
    pub queued: usize,
    /// Notifications given up (held in the dead-letter list).
    pub dead: usize,
    /// The newest dead letter's error.
    pub last_error: String,
}

#[derive(Template)]
#[template(path = "status.html")]
struct StatusPage {
    nav: Vec<NavItem>,
    version: String,
    started: String,
    uptime: String,
    series: usize,
    samples: String,
    bytes: String,
    flags: Vec<(String, String)>,
    routes: Vec<RouteRow>,
    test_labels: String,
    test_error: String,
    test_receivers: Vec<String>,
    receivers: Vec<ReceiverRow>,
    config: String,
    /// Head cardinality, as `/api/v1/status/tsdb` reports it.
    head: HeadSummary,
    /// The oldest to the newest visible sample.
    head_span: String,
    /// Why the walk over the buffer failed (the query timeout), if it did.
    head_error: String,
}

/// Entries in each of the head cardinality top lists.
const HEAD_TOP: usize = 10;

/// The tree's rows, depth first, marking the routes in `matched` (by index).
pub fn route_rows(root: &Route, matched: &[usize]) -> Vec<RouteRow> {
    fn walk(r: &Route, depth: usize, matched: &[usize], out: &mut Vec<RouteRow>) {
        out.push(RouteRow {
            indent: "\u{2003}".repeat(depth * 2),
            receiver: r.receiver.clone(),
            matchers: matchers_string(&r.matchers),
            group_by: match &r.group_by {
                crate::config::GroupBy::All => "...".to_owned(),
                crate::config::GroupBy::Labels(l) => l.join(", "),
            },
            continues: r.continue_matching,
            matched: matched.contains(&r.index),
        });
        for c in &r.routes {
            walk(c, depth + 1, matched, out);
        }
    }
    let mut out = Vec::new();
    walk(root, 0, matched, &mut out);
    out
}

/// A label set written as equality matchers (`{a="b", c="d"}`).
pub fn parse_label_set(text: &str) -> Result<Labels, String> {
    let ms = parse_matchers(text).map_err(|e| e.to_string())?;
    let mut pairs = Vec::with_capacity(ms.len());
    for m in &ms {
        if m.op_str() != "=" {
            return Err(format!("{m}: only name=\"value\" pairs describe an alert"));
        }
        pairs.push((m.name.clone(), m.value().to_owned()));
    }
    Ok(Labels::from_pairs(pairs))
}

/// `GET /status[?labels={…}]`.
pub async fn page(State(s): State<UiState>, RawQuery(q): RawQuery) -> Response {
    let pairs = query_pairs(q.as_deref());
    let test_labels = param(&pairs, "labels").unwrap_or("").to_owned();
    let (tested, test_error) = if test_labels.trim().is_empty() {
        (None, String::new())
    } else {
        match parse_label_set(&test_labels) {
            Ok(l) => (Some(l), String::new()),
            Err(e) => (None, format!("invalid labels: {e}")),
        }
    };
    let dead = s.notifier.dead_letters().list();
    let view = s
        .notifier
        .with_current(|n| {
            let matched: Vec<&Route> = tested
                .as_ref()
                .map(|l| n.route().match_labels(l))
                .unwrap_or_default();
            let indexes: Vec<usize> = matched.iter().map(|r| r.index).collect();
            let receivers: Vec<String> = matched.iter().map(|r| r.receiver.clone()).collect();
            let mut rows: BTreeMap<String, ReceiverRow> = BTreeMap::new();
            for r in n.route().walk() {
                rows.entry(r.receiver.clone())
                    .or_insert_with(|| ReceiverRow {
                        name: r.receiver.clone(),
                        queued: 0,
                        dead: 0,
                        last_error: String::new(),
                    });
            }
            for (name, queued) in n.queue_lengths() {
                rows.entry(name.clone())
                    .or_insert_with(|| ReceiverRow {
                        name,
                        queued: 0,
                        dead: 0,
                        last_error: String::new(),
                    })
                    .queued = queued;
            }
            for d in &dead {
                if let Some(r) = rows.get_mut(&d.receiver) {
                    r.dead += 1;
                    r.last_error = d.error.clone();
                }
            }
            (
                route_rows(n.route(), &indexes),
                receivers,
                rows.into_values().collect(),
            )
        })
        .await;
    let (routes, test_receivers, receivers) = view.unwrap_or_default();
    let store = s.app.store.clone();
    let walked = s
        .app
        .queries
        .run(s.app.queries.timeout(), move |t| {
            let head = Cardinality::of_store(&store, t)?.summary(HEAD_TOP);
            Ok((store.stats(), head))
        })
        .await;
    let (stats, head, head_error) = match walked {
        Ok((stats, head)) => (Some(stats), head, String::new()),
        Err(e) => (None, HeadSummary::default(), e.message),
    };
    let started = s.app.status.start_time();
    let now = chrono::Utc::now();
    let page = StatusPage {
        nav: nav("/status"),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started: format::time(started),
        uptime: format::span_ms((now - started).num_milliseconds()),
        series: s.app.store.series_count(),
        samples: stats
            .as_ref()
            .map(|st| st.samples.to_string())
            .unwrap_or_default(),
        bytes: stats
            .map(|st| format::Unit::Bytes.format(st.bytes as f64))
            .unwrap_or_default(),
        flags: s
            .app
            .status
            .flag_values()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        routes,
        test_labels,
        test_error,
        test_receivers,
        receivers,
        config: s.app.status.config_yaml(),
        head_span: match (head.min_time, head.max_time) {
            (Some(lo), Some(hi)) => format!("{} to {}", format::time_ms(lo), format::time_ms(hi)),
            _ => String::new(),
        },
        head,
        head_error,
    };
    html(StatusCode::OK, page.render())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tester_reads_label_sets_only() {
        let l = parse_label_set("{alertname=\"X\", team=\"db\"}").unwrap();
        assert_eq!(l.get("team"), Some("db"));
        assert!(parse_label_set("team=~\"d.*\"").is_err());
    }

    #[test]
    fn renders_tree_and_redacted_config() {
        let root = Route::from_config(None);
        let page = StatusPage {
            nav: nav("/status"),
            version: "0.1.0".into(),
            started: "x".into(),
            uptime: "1m 0s".into(),
            series: 42,
            samples: "2520".into(),
            bytes: "1.5MiB".into(),
            flags: vec![("web.listen-address".into(), ":9090".into())],
            routes: route_rows(&root, &[0]),
            test_labels: "{a=\"b\"}".into(),
            test_error: String::new(),
            test_receivers: vec!["log".into()],
            receivers: vec![ReceiverRow {
                name: "log".into(),
                queued: 1,
                dead: 2,
                last_error: "boom".into(),
            }],
            config: "password: <secret>\n".into(),
            head: HeadSummary {
                series: 42,
                label_pairs: 7,
                chunks: 42,
                min_time: Some(0),
                max_time: Some(60_000),
                series_by_metric: vec![("node_cpu_seconds_total".into(), 40)],
                values_by_label: vec![("cpu".into(), 8)],
                bytes_by_label: vec![("__name__".into(), 1_000)],
                series_by_pair: vec![("job=<node>".into(), 42)],
            },
            head_span: "1970-01-01 00:00:00 to 1970-01-01 00:01:00".into(),
            head_error: String::new(),
        };
        let html = page.render().unwrap();
        assert!(html.contains("42 series, 7 label pairs, 42 chunks"));
        assert!(html
            .contains("<td class=\"mono\">node_cpu_seconds_total</td><td class=\"num\">40</td>"));
        assert!(html.contains("job=&lt;node&gt;") || html.contains("job=&#60;node&#62;"));
        assert!(html.contains("&lt;secret&gt;") || html.contains("&#60;secret&#62;"));
        assert!(html.contains("web.listen-address"));
        assert!(html.contains("class=\"matched\""));
        assert!(html.contains(">42<"));
        assert!(html.contains("2520 samples, about 1.5MiB"));
    }
}
