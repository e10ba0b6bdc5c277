//! `evaluation: on_scrape`: the targets a group reads from, so the group can
//! evaluate right after one of their scrapes lands instead of waiting for
//! its next interval slot.
//!
//! A group's dependencies are found from the data, not guessed from names:
//! every series selector in the group's expressions is run against the
//! buffer and the `job`/`instance` labels of the matching series name the
//! targets. Series that carry a `job` but no `instance` (recording-rule
//! output aggregated over instances) make the whole job a dependency. The
//! set is refreshed periodically, and sooner while it is still empty.

use super::group::Group;
use crate::model::Matcher;
use crate::scrape::ScrapeLanded;
use crate::store::Store;
use promql_parser::parser::Expr;
use promql_parser::util::{walk_expr, ExprVisitor};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a dependency set is trusted before it is computed again.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How soon an empty dependency set (series not scraped yet) is retried.
pub const REFRESH_EMPTY_EVERY: Duration = Duration::from_secs(2);
/// The shortest time between two evaluations of an `on_scrape` group: many
/// targets landing close together cost one evaluation, not one each.
pub const MIN_GAP: Duration = Duration::from_secs(1);

/// The targets one group reads from.
#[derive(Debug)]
pub struct Dependencies {
    selectors: Vec<Vec<Matcher>>,
    targets: HashSet<(Arc<str>, Arc<str>)>,
    jobs: HashSet<Arc<str>>,
    refreshed: Option<Instant>,
    /// Targets whose scrapes had landed before the last refresh: their
    /// series were in the buffer when the set was computed.
    seen: HashSet<(Arc<str>, Arc<str>)>,
}

struct SelectorCollector<'a>(&'a mut Vec<Vec<Matcher>>);

impl ExprVisitor for SelectorCollector<'_> {
    type Error = std::convert::Infallible;

    fn pre_visit(&mut self, e: &Expr) -> Result<bool, Self::Error> {
        let vs = match e {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(ms) => &ms.vs,
            _ => return Ok(true),
        };
        if let Ok(sets) = crate::promql::matchers::selector_matchers(vs) {
            self.0.extend(sets);
        }
        Ok(true)
    }
}

impl Dependencies {
    /// The selectors of every rule in `group`; no targets known yet.
    pub fn of(group: &Group) -> Self {
        let mut selectors = Vec::new();
        for r in &group.spec().rules {
            let _ = walk_expr(&mut SelectorCollector(&mut selectors), &r.expr);
        }
        Self {
            selectors,
            targets: HashSet::new(),
            jobs: HashSet::new(),
            refreshed: None,
            seen: HashSet::new(),
        }
    }

    /// Whether the set should be computed again before judging `landed` at
    /// `now`: periodically, and whenever a target lands for the first time
    /// (its series were not in the buffer at the last refresh).
    pub fn needs_refresh(&self, landed: &ScrapeLanded, now: Instant) -> bool {
        self.is_due(now)
            || !self
                .seen
                .contains(&(landed.job.clone(), landed.instance.clone()))
    }

    /// Remembers that `landed`'s target has been scraped (call after any refresh).
    pub fn note(&mut self, landed: &ScrapeLanded) {
        self.seen
            .insert((landed.job.clone(), landed.instance.clone()));
    }

    /// Whether the set should be computed again at `now`.
    pub fn is_due(&self, now: Instant) -> bool {
        let every = if self.targets.is_empty() && self.jobs.is_empty() {
            REFRESH_EMPTY_EVERY
        } else {
            REFRESH_EVERY
        };
        self.refreshed
            .is_none_or(|t| now.duration_since(t) >= every)
    }

    /// Computes the targets from the series the selectors match in `store`.
    pub fn refresh(&mut self, store: &Store, now: Instant) {
        let series: Vec<_> = self
            .selectors
            .iter()
            .flat_map(|m| store.select(m))
            .collect();
        let mut targets: HashSet<(&str, &str)> = HashSet::new();
        let mut jobs: HashSet<&str> = HashSet::new();
        for s in &series {
            let l = s.labels();
            let Some(job) = l.get("job") else { continue };
            match l.get("instance") {
                Some(i) => targets.insert((job, i)),
                None => jobs.insert(job),
            };
        }
        self.targets = targets
            .into_iter()
            .map(|(j, i)| (Arc::from(j), Arc::from(i)))
            .collect();
        self.jobs = jobs.into_iter().map(Arc::from).collect();
        self.refreshed = Some(now);
    }

    /// Whether a scrape of this target feeds the group.
    pub fn contains(&self, landed: &ScrapeLanded) -> bool {
        self.jobs.contains(&landed.job)
            || self
                .targets
                .contains(&(landed.job.clone(), landed.instance.clone()))
    }

    /// Number of targets and whole jobs the group depends on.
    pub fn len(&self) -> usize {
        self.targets.len() + self.jobs.len()
    }

    /// Whether no dependency is known.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Labels;
    use crate::rules::file::{parse_rule_file, LoadOptions};
    use crate::store::StoreOptions;

    fn group(yaml: &str) -> Group {
        let f = parse_rule_file("t.yml", yaml, LoadOptions::default()).unwrap();
        Group::new(f.groups.into_iter().next().unwrap(), 60_000)
    }

    fn landed(job: &str, instance: &str) -> ScrapeLanded {
        ScrapeLanded {
            job: Arc::from(job),
            instance: Arc::from(instance),
            at_ms: 0,
            up: true,
        }
    }

    #[test]
    fn targets_come_from_the_series_the_selectors_match() {
        let g = group(
            "groups:\n- name: g\n  evaluation: on_scrape\n  rules:\n  - alert: A\n    expr: sum by (module) (rate(req_total{code=~\"5..\"}[5m])) / on() group_left job:up:sum > 0\n",
        );
        let store = Store::new(StoreOptions::default());
        for (name, job, inst, code) in [
            ("req_total", "api", Some("a:1"), "500"),
            ("req_total", "api", Some("a:2"), "200"),
            ("req_total", "web", Some("w:1"), "503"),
            ("other", "db", Some("d:1"), "500"),
            ("job:up:sum", "batch", None, ""),
        ] {
            let mut pairs = vec![("__name__", name), ("job", job), ("code", code)];
            if let Some(i) = inst {
                pairs.push(("instance", i));
            }
            let (s, _) = store.get_or_create(Labels::from_pairs(pairs));
            store.append(&s, 1_000, 1.0).unwrap();
        }
        let mut d = Dependencies::of(&g);
        let now = Instant::now();
        assert!(d.is_due(now));
        d.refresh(&store, now);
        assert_eq!(d.len(), 3);
        assert!(d.contains(&landed("api", "a:1")));
        assert!(
            !d.contains(&landed("api", "a:2")),
            "code 200 is not selected"
        );
        assert!(d.contains(&landed("web", "w:1")));
        assert!(!d.contains(&landed("db", "d:1")));
        assert!(d.contains(&landed("batch", "anything")), "a whole job");
        assert!(!d.is_due(now + Duration::from_secs(5)));
        assert!(d.is_due(now + REFRESH_EVERY));
    }

    #[test]
    fn a_target_landing_for_the_first_time_triggers_a_refresh() {
        let g = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: temp > 1\n");
        let store = Store::new(StoreOptions::default());
        let mut d = Dependencies::of(&g);
        let now = Instant::now();
        let first = landed("x", "1");
        assert!(d.needs_refresh(&first, now));
        d.refresh(&store, now);
        d.note(&first);
        assert!(!d.needs_refresh(&first, now), "known target, fresh set");
        assert!(d.needs_refresh(&landed("y", "1"), now), "new target");
    }

    #[test]
    fn an_empty_set_is_retried_soon() {
        let g = group("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n");
        let store = Store::new(StoreOptions::default());
        let mut d = Dependencies::of(&g);
        let now = Instant::now();
        d.refresh(&store, now);
        assert!(d.is_empty());
        assert!(d.is_due(now + REFRESH_EMPTY_EVERY));
    }
}
