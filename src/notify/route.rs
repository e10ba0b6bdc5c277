//! The routing tree with inheritance applied: which routes (and so receivers and groups) an
//! alert goes to.
//!
//! Semantics are Alertmanager's `dispatch/route.go`: a child inherits every option it does not
//! set, except `mute_time_intervals` and `active_time_intervals`, which apply to the route that
//! names them only; matching is depth-first, left to right; the first matching child stops the search
//! unless it has `continue: true`; a node matches itself when no child matches. Each node has a
//! key (`{}` for the root, `{}/{team="db"}` for a child) that group keys start with.
//!
//! watchfire's one departure: when no route on the path sets `group_wait`, alerts with
//! `severity="critical"` get `group_wait: 0s` instead of 30s.
//!
//! **Invariant:** no I/O, no clock.

use crate::config::{
    GroupBy, RouteConfig, DEFAULT_GROUP_INTERVAL, DEFAULT_GROUP_WAIT, DEFAULT_REPEAT_INTERVAL,
};
use crate::model::matcher_text::{matchers_string, matches_all};
use crate::model::{Labels, Matcher};
use std::time::Duration;

/// The receiver used when the config has no `route`: it logs every notification.
pub const DEFAULT_RECEIVER: &str = "log";

/// A route with every option resolved.
#[derive(Clone, Debug)]
pub struct Route {
    /// The receiver of alerts this route takes.
    pub receiver: String,
    /// Matchers an alert must satisfy.
    pub matchers: Vec<Matcher>,
    /// How alerts are grouped.
    pub group_by: GroupBy,
    /// Explicit `group_wait` on this route or an ancestor; `None` applies the fast default.
    pub group_wait: Option<Duration>,
    /// Delay between notifications about changes in a group.
    pub group_interval: Duration,
    /// Delay before repeating an unchanged notification.
    pub repeat_interval: Duration,
    /// Keep matching siblings after this one matched.
    pub continue_matching: bool,
    /// Children, in order.
    pub routes: Vec<Route>,
    /// `{}` for the root, `parent-key/{matchers}` below.
    pub key: String,
    /// Index of the route in depth-first order (unique per tree).
    pub index: usize,
    /// Time intervals during which the route's groups send nothing (not inherited).
    pub mute_time_intervals: Vec<String>,
    /// Time intervals outside which the route's groups send nothing (not inherited).
    pub active_time_intervals: Vec<String>,
}

impl Route {
    /// Builds the tree from the config; `None` gives a single route to [`DEFAULT_RECEIVER`]
    /// that groups by `alertname`.
    pub fn from_config(config: Option<&RouteConfig>) -> Route {
        let mut counter = 0;
        match config {
            Some(root) => build(root, None, &mut counter),
            None => Route {
                receiver: DEFAULT_RECEIVER.to_owned(),
                matchers: Vec::new(),
                group_by: GroupBy::Labels(vec!["alertname".to_owned()]),
                group_wait: None,
                group_interval: DEFAULT_GROUP_INTERVAL.as_duration(),
                repeat_interval: DEFAULT_REPEAT_INTERVAL.as_duration(),
                continue_matching: false,
                routes: Vec::new(),
                key: "{}".to_owned(),
                index: 0,
                mute_time_intervals: Vec::new(),
                active_time_intervals: Vec::new(),
            },
        }
    }

    /// The routes that take an alert with `labels`, in tree order.
    pub fn match_labels(&self, labels: &Labels) -> Vec<&Route> {
        if !matches_all(&self.matchers, labels) {
            return Vec::new();
        }
        let mut all = Vec::new();
        for child in &self.routes {
            let matched = child.match_labels(labels);
            let stop = !matched.is_empty() && !child.continue_matching;
            all.extend(matched);
            if stop {
                break;
            }
        }
        if all.is_empty() {
            all.push(self);
        }
        all
    }

    /// The labels of `labels` this route groups by.
    pub fn group_labels(&self, labels: &Labels) -> Labels {
        match &self.group_by {
            GroupBy::All => labels.clone(),
            GroupBy::Labels(names) => labels.keep(names),
        }
    }

    /// The group wait for a new group whose first alert has `severity`.
    pub fn group_wait_for(&self, severity: Option<&str>) -> Duration {
        match self.group_wait {
            Some(wait) => wait,
            None if severity == Some("critical") => Duration::ZERO,
            None => DEFAULT_GROUP_WAIT.as_duration(),
        }
    }

    /// Every route of the tree, depth first.
    pub fn walk(&self) -> Vec<&Route> {
        let mut out = vec![self];
        for child in &self.routes {
            out.extend(child.walk());
        }
        out
    }
}

fn build(config: &RouteConfig, parent: Option<&Route>, counter: &mut usize) -> Route {
    let index = *counter;
    *counter += 1;
    let inherit = |own: Option<crate::config::PromDuration>, from: Option<Duration>, default| {
        own.map(|d| d.as_duration()).or(from).unwrap_or(default)
    };
    let matchers = config.matchers.0.clone();
    let key = match parent {
        Some(p) => format!("{}/{}", p.key, matchers_string(&matchers)),
        None => matchers_string(&matchers),
    };
    let mut route = Route {
        receiver: config
            .receiver
            .clone()
            .or_else(|| parent.map(|p| p.receiver.clone()))
            .unwrap_or_else(|| DEFAULT_RECEIVER.to_owned()),
        matchers,
        group_by: config
            .group_by
            .clone()
            .or_else(|| parent.map(|p| p.group_by.clone()))
            .unwrap_or(GroupBy::Labels(Vec::new())),
        group_wait: config
            .group_wait
            .map(|d| d.as_duration())
            .or(parent.and_then(|p| p.group_wait)),
        group_interval: inherit(
            config.group_interval,
            parent.map(|p| p.group_interval),
            DEFAULT_GROUP_INTERVAL.as_duration(),
        ),
        repeat_interval: inherit(
            config.repeat_interval,
            parent.map(|p| p.repeat_interval),
            DEFAULT_REPEAT_INTERVAL.as_duration(),
        ),
        continue_matching: config.continue_matching,
        routes: Vec::new(),
        key,
        index,
        mute_time_intervals: config.mute_time_intervals.clone(),
        active_time_intervals: config.active_time_intervals.clone(),
    };
    route.routes = config
        .routes
        .iter()
        .map(|child| build(child, Some(&route), counter))
        .collect();
    route
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn tree(yaml: &str) -> Route {
        let config = crate::config::parse_with_env(yaml, Path::new("t.yml"), &|_| None).unwrap();
        Route::from_config(config.route.as_ref())
    }

    const TREE: &str = r#"
route:
  receiver: default
  group_by: [alertname]
  group_interval: 1m
  routes:
    - matchers: [team="db"]
      receiver: db
      continue: true
      routes:
        - matchers: [severity="critical"]
          receiver: db-pager
          group_wait: 5s
    - matchers: [team=~"db|web"]
      receiver: web
      group_by: [...]
    - matchers: [team="web"]
      receiver: never
receivers: [{name: default}, {name: db}, {name: db-pager}, {name: web}, {name: never}]
"#;

    fn receivers(route: &Route, pairs: &[(&str, &str)]) -> Vec<String> {
        let labels = Labels::from_pairs(pairs.iter().copied());
        route
            .match_labels(&labels)
            .iter()
            .map(|r| r.receiver.clone())
            .collect()
    }

    #[test]
    fn matches_depth_first_with_continue() {
        let root = tree(TREE);
        assert_eq!(receivers(&root, &[("team", "db")]), ["db", "web"]);
        assert_eq!(
            receivers(&root, &[("team", "db"), ("severity", "critical")]),
            ["db-pager", "web"]
        );
        assert_eq!(receivers(&root, &[("team", "web")]), ["web"]);
        assert_eq!(receivers(&root, &[("team", "ops")]), ["default"]);
    }

    #[test]
    fn inherits_options_and_builds_keys() {
        let root = tree(TREE);
        let all = root.walk();
        let pager = all.iter().find(|r| r.receiver == "db-pager").unwrap();
        assert_eq!(pager.key, r#"{}/{team="db"}/{severity="critical"}"#);
        assert_eq!(pager.group_interval, Duration::from_secs(60));
        assert_eq!(pager.repeat_interval, Duration::from_secs(4 * 3600));
        assert_eq!(pager.group_wait, Some(Duration::from_secs(5)));
        assert_eq!(pager.group_by, GroupBy::Labels(vec!["alertname".into()]));
        let web = all.iter().find(|r| r.receiver == "web").unwrap();
        assert_eq!(web.group_by, GroupBy::All);
        let idx: Vec<usize> = all.iter().map(|r| r.index).collect();
        assert_eq!(idx, [0, 1, 2, 3, 4]);
    }

    #[test]
    fn time_intervals_are_not_inherited() {
        let root = tree(
            "route:\n  receiver: r\n  routes:\n  - matchers: [a=b]\n    \
             mute_time_intervals: [m]\n    active_time_intervals: [x]\n    routes:\n    \
             - matchers: [c=d]\nreceivers: [{name: r}]\n\
             time_intervals: [{name: m}, {name: x}]\n",
        );
        let parent = &root.routes[0];
        assert_eq!(parent.mute_time_intervals, ["m"]);
        assert_eq!(parent.active_time_intervals, ["x"]);
        assert!(parent.routes[0].mute_time_intervals.is_empty());
        assert!(parent.routes[0].active_time_intervals.is_empty());
        assert!(root.mute_time_intervals.is_empty());
    }

    #[test]
    fn fast_default_group_wait_for_critical() {
        let root = tree(TREE);
        assert_eq!(root.group_wait_for(Some("critical")), Duration::ZERO);
        assert_eq!(
            root.group_wait_for(Some("warning")),
            Duration::from_secs(30)
        );
        let pager = &root.routes[0].routes[0];
        assert_eq!(
            pager.group_wait_for(Some("critical")),
            Duration::from_secs(5)
        );
    }

    #[test]
    fn default_route_logs() {
        let root = Route::from_config(None);
        assert_eq!(root.receiver, DEFAULT_RECEIVER);
        let labels = Labels::from_pairs([("alertname", "A"), ("x", "y")]);
        assert_eq!(
            root.group_labels(&labels),
            Labels::from_pairs([("alertname", "A")])
        );
    }
}
