//! A discovered target's labels → the target scraped, as Prometheus' `scrape/target.go`
//! (`PopulateDiscoveredLabels`, `PopulateLabels`, `Target.URL`) builds it.
//!
//! The discovered labels are the target's own (`__address__`, `__meta_*`, ...), then its group's
//! labels where the target has none of that name, then the job's defaults where still unset:
//! `job`, `__scrape_interval__`, `__scrape_timeout__`, `__metrics_path__`, `__scheme__` and one
//! `__param_<name>` per `params` entry (its first value). Target relabeling runs on those. A
//! target is then checked: `__address__` present and without `/` (Prometheus 3 adds no default
//! port), interval and timeout valid, non-zero, timeout not above the interval. `__meta_*` labels
//! are removed and `instance` defaults to `__address__`. The labels the scraped series carry are
//! the rest without any `__` label; the URL is built from `__scheme__`, `__address__`,
//! `__metrics_path__`, the job's `params` with `__param_<name>` replacing the first value.

use crate::config::{PromDuration, ScrapeConfig};
use crate::model::{Labels, LabelsBuilder};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

/// A target that will be scraped.
#[derive(Debug, Clone, PartialEq)]
pub struct ActiveTarget {
    /// The labels before relabeling (`discoveredLabels` in the API).
    pub discovered: Labels,
    /// The labels every series of the target carries: no `__` label.
    pub labels: Labels,
    /// The URL scraped.
    pub url: String,
    /// `__scrape_interval__`.
    pub interval: Duration,
    /// `__scrape_timeout__`.
    pub timeout: Duration,
    /// `__scrape_interval__` and `__scrape_timeout__` as written (the API shows them so).
    pub interval_text: (String, String),
}

/// What became of one discovered target.
#[derive(Debug, Clone, PartialEq)]
pub enum Populated {
    /// Scraped.
    Active(ActiveTarget),
    /// Dropped by relabeling (`error` is `None`) or refused (`error` says why, as Prometheus
    /// logs it).
    Dropped {
        /// The labels before relabeling.
        discovered: Labels,
        /// Why the target is invalid, if it is.
        error: Option<String>,
    },
}

/// The labels of a discovered target before relabeling (Prometheus'
/// `PopulateDiscoveredLabels`): `target`'s labels, `group`'s where the target lacks them, then
/// the job's defaults where still unset.
pub fn discovered_labels(
    job: &ScrapeConfig,
    target: &BTreeMap<String, String>,
    group: &BTreeMap<String, String>,
) -> Labels {
    let mut b = LabelsBuilder::new(&Labels::empty());
    for (name, value) in group {
        b.set(name, value);
    }
    for (name, value) in target {
        b.set(name, value);
    }
    let defaults = [
        ("job", job.job_name.clone()),
        ("__scrape_interval__", job.scrape_interval.to_string()),
        ("__scrape_timeout__", job.scrape_timeout.to_string()),
        ("__metrics_path__", job.metrics_path.clone()),
        ("__scheme__", job.scheme.as_str().to_owned()),
    ];
    for (name, value) in defaults {
        if b.get(name).is_none() {
            b.set(name, &value);
        }
    }
    for (name, values) in &job.params {
        let label = format!("__param_{name}");
        if let Some(first) = values.first() {
            if b.get(&label).is_none() {
                b.set(&label, first);
            }
        }
    }
    b.labels()
}

/// Builds the target for one discovered label set (Prometheus' `PopulateLabels`).
pub fn populate_labels(
    job: &ScrapeConfig,
    target: &BTreeMap<String, String>,
    group: &BTreeMap<String, String>,
) -> Populated {
    let discovered = discovered_labels(job, target, group);
    // Target relabeling: `relabel_configs` applied to the discovered labels, `None` dropping
    // the target (Prometheus' `relabel.ProcessBuilder` at this point of `PopulateLabels`).
    let relabeled = crate::model::relabel::process(discovered.clone(), &job.relabel_configs);
    let Some(relabeled) = relabeled else {
        return Populated::Dropped {
            discovered,
            error: None,
        };
    };
    match check(job, &relabeled) {
        Ok(active) => Populated::Active(ActiveTarget {
            discovered,
            ..active
        }),
        Err(error) => Populated::Dropped {
            discovered,
            error: Some(error),
        },
    }
}

fn parse_duration(text: &str, what: &str) -> Result<Duration, String> {
    let d = PromDuration::parse(text)
        .map_err(|_| format!("error parsing {what}: not a valid duration string: {text:?}"))?;
    if d.0.is_zero() {
        return Err(format!("{what} cannot be 0"));
    }
    Ok(d.0)
}

/// Checks relabeled labels and builds the target (its `discovered` left empty).
fn check(job: &ScrapeConfig, labels: &Labels) -> Result<ActiveTarget, String> {
    let address = labels.get("__address__").ok_or("no address")?;
    if address.contains('/') {
        return Err(format!("{address:?} is not a valid hostname"));
    }
    let interval_text = labels.get("__scrape_interval__").unwrap_or("");
    let interval = parse_duration(interval_text, "scrape interval")?;
    let timeout_text = labels.get("__scrape_timeout__").unwrap_or("");
    let timeout = parse_duration(timeout_text, "scrape timeout")?;
    if timeout > interval {
        return Err(format!(
            "scrape timeout cannot be greater than scrape interval ({timeout_text:?} > {interval_text:?})"
        ));
    }
    let url = target_url(job, labels);
    url::Url::parse(&url).map_err(|e| format!("invalid scrape URL {url:?}: {e}"))?;
    let mut public = LabelsBuilder::new(&Labels::empty());
    for l in labels.iter().filter(|l| !l.name.starts_with("__")) {
        public.set_shared(l.name.clone(), l.value.clone());
    }
    if public.get("instance").is_none() {
        public.set("instance", address);
    }
    Ok(ActiveTarget {
        discovered: Labels::empty(),
        labels: public.labels(),
        url,
        interval,
        timeout,
        interval_text: (interval_text.to_owned(), timeout_text.to_owned()),
    })
}

/// The URL of a target with labels `labels` (Prometheus' `Target.URL` as Go prints it).
pub fn target_url(job: &ScrapeConfig, labels: &Labels) -> String {
    let mut params: BTreeMap<&str, Vec<&str>> = job
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.iter().map(String::as_str).collect()))
        .collect();
    for l in labels.iter() {
        if let Some(name) = l.name.strip_prefix("__param_") {
            let values = params.entry(name).or_default();
            match values.first_mut() {
                Some(first) => *first = &l.value,
                None => values.push(&l.value),
            }
        }
    }
    let scheme = labels.get("__scheme__").unwrap_or("");
    let address = labels.get("__address__").unwrap_or("");
    let path = labels.get("__metrics_path__").unwrap_or("");
    let mut out = format!("{scheme}://{address}");
    if !path.is_empty() && !path.starts_with('/') {
        out.push('/');
    }
    escape_into(&mut out, path, PATH_SAFE, false);
    let mut first = true;
    for (name, values) in &params {
        for value in values {
            out.push(if first { '?' } else { '&' });
            first = false;
            escape_into(&mut out, name, b"", true);
            out.push('=');
            escape_into(&mut out, value, b"", true);
        }
    }
    out
}

/// Bytes Go's `url.PathEscape`-style path encoding leaves alone besides `[A-Za-z0-9-_.~]`.
const PATH_SAFE: &[u8] = b"$&+,/:;=@";

/// Percent-encodes `text` as Go's `net/url` does: letters, digits and `-_.~` stay, as do
/// `extra`; a space becomes `+` in a query.
fn escape_into(out: &mut String, text: &str, extra: &[u8], query: bool) {
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) || extra.contains(&b) {
            out.push(char::from(b));
        } else if query && b == b' ' {
            out.push('+');
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_with_env;

    fn job(extra: &str) -> ScrapeConfig {
        let text = format!(
            "scrape_configs:\n- job_name: node\n  scrape_interval: 30s\n  scrape_timeout: 10s\n{extra}"
        );
        let cfg = parse_with_env(&text, "c.yml", &|_| None).unwrap_or_else(|e| panic!("{e}"));
        cfg.scrape_configs[0].clone()
    }

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn active(p: Populated) -> ActiveTarget {
        match p {
            Populated::Active(a) => a,
            Populated::Dropped { error, .. } => panic!("dropped: {error:?}"),
        }
    }

    fn error(p: Populated) -> String {
        match p {
            Populated::Dropped { error: Some(e), .. } => e,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn defaults_from_the_job() {
        let j = job("  params: {module: [http_2xx, x]}\n");
        let t = active(populate_labels(
            &j,
            &map(&[("__address__", "h:9100")]),
            &map(&[]),
        ));
        assert_eq!(
            t.discovered,
            Labels::from_pairs([
                ("__address__", "h:9100"),
                ("__metrics_path__", "/metrics"),
                ("__param_module", "http_2xx"),
                ("__scheme__", "http"),
                ("__scrape_interval__", "30s"),
                ("__scrape_timeout__", "10s"),
                ("job", "node"),
            ])
        );
        assert_eq!(
            t.labels,
            Labels::from_pairs([("instance", "h:9100"), ("job", "node")])
        );
        assert_eq!(t.url, "http://h:9100/metrics?module=http_2xx&module=x");
        assert_eq!(
            (t.interval, t.timeout),
            (Duration::from_secs(30), Duration::from_secs(10))
        );
    }

    #[test]
    fn target_labels_override_group_and_job() {
        let j = job("  scheme: https\n  params: {a: ['1']}\n");
        let target = map(&[
            ("__address__", "h"),
            ("__metrics_path__", "metrics/7"),
            ("__scheme__", "http"),
            ("__param_a", "x y"),
            ("__param_target", "http://e.com/?q=1"),
            ("__scrape_interval__", "1m"),
            ("__scrape_timeout__", "1m"),
            ("__meta_x", "m"),
            ("__tmp_y", "t"),
            ("job", "from-target"),
            ("env", "t"),
        ]);
        let group = map(&[("env", "g"), ("dc", "g"), ("instance", "named")]);
        let t = active(populate_labels(&j, &target, &group));
        // Prometheus 3: no default port is added to `__address__` or `instance`.
        assert_eq!(
            t.url,
            "http://h/metrics/7?a=x+y&target=http%3A%2F%2Fe.com%2F%3Fq%3D1"
        );
        assert_eq!(
            t.labels,
            Labels::from_pairs([
                ("dc", "g"),
                ("env", "t"),
                ("instance", "named"),
                ("job", "from-target")
            ])
        );
        assert_eq!(t.discovered.get("__meta_x"), Some("m"));
        assert_eq!(t.discovered.get("env"), Some("t"));
        assert_eq!(
            (t.interval, t.timeout),
            (Duration::from_secs(60), Duration::from_secs(60))
        );
    }

    #[test]
    fn path_escaped_as_go() {
        let j = job("");
        let t = active(populate_labels(
            &j,
            &map(&[("__address__", "[::1]:1"), ("__metrics_path__", "/a b/c?d")]),
            &map(&[]),
        ));
        assert_eq!(t.url, "http://[::1]:1/a%20b/c%3Fd");
    }

    #[test]
    fn invalid_targets_are_refused_as_prometheus_says() {
        let j = job("");
        let cases: [(&[(&str, &str)], &str); 7] = [
            (&[], "no address"),
            (&[("__address__", "")], "no address"),
            (&[("__address__", "h/x")], "\"h/x\" is not a valid hostname"),
            (
                &[("__address__", "h"), ("__scrape_interval__", "soon")],
                "error parsing scrape interval: not a valid duration string: \"soon\"",
            ),
            (
                &[("__address__", "h"), ("__scrape_interval__", "0s")],
                "scrape interval cannot be 0",
            ),
            (
                &[("__address__", "h"), ("__scrape_timeout__", "0s")],
                "scrape timeout cannot be 0",
            ),
            (
                &[("__address__", "h"), ("__scrape_timeout__", "31s")],
                "scrape timeout cannot be greater than scrape interval (\"31s\" > \"30s\")",
            ),
        ];
        for (labels, want) in cases {
            assert_eq!(error(populate_labels(&j, &map(labels), &map(&[]))), want);
        }
    }
}
