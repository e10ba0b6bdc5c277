//! Semantic checks that need more than one value's type: label names, target addresses, unique
//! job names, timeouts against intervals. Each problem is reported at the offending value and
//! checking goes on, so one run lists everything to fix.

use super::decode::{At, Cx, Entries};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::node::Pos;
use std::collections::{BTreeMap, HashMap};

/// True for a label name Prometheus' classic rules accept: `[a-zA-Z_][a-zA-Z0-9_]*`.
///
/// Prometheus 3 also accepts any UTF-8 name when its validation scheme is `utf8`; watchfire keeps
/// the classic rule, which every exporter and PromQL selector without quoting can use.
pub fn is_valid_label_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b) if b == b'_' || b.is_ascii_alphabetic())
        && bytes.all(|b| b == b'_' || b.is_ascii_alphanumeric())
}

/// Checks label names and returns the labels as a map; `place` names the labels in messages,
/// e.g. `external_labels` or `labels of job "node"`.
pub(crate) fn labels(
    entries: Entries<String>,
    place: &str,
    cx: &mut Cx<'_>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, value) in entries.0 {
        if is_valid_label_name(&name.value) {
            out.insert(name.value, value.value);
        } else {
            let kind = ErrorKind::InvalidLabelName {
                name: name.value,
                place: place.to_owned(),
            };
            cx.error(name.pos, kind);
        }
    }
    out
}

/// Checks that `target` is `host:port`: no scheme, no path, a port from 1 to 65535, IPv6
/// addresses in brackets. Returns why not.
pub fn check_target(target: &str) -> Result<(), &'static str> {
    if target.contains("://") {
        return Err("must be host:port without a scheme (set scheme on the job instead)");
    }
    if target.contains('/') {
        return Err("must be host:port without a path (set metrics_path on the job instead)");
    }
    if target
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "?#@".contains(c))
    {
        return Err("must be host:port");
    }
    let (host, port) = if let Some(rest) = target.strip_prefix('[') {
        let Some((host, port)) = rest.split_once("]:") else {
            return Err("must be [ipv6-address]:port");
        };
        if host.is_empty() || host.contains(['[', ']']) {
            return Err("must be [ipv6-address]:port");
        }
        (host, port)
    } else {
        let Some((host, port)) = target.rsplit_once(':') else {
            return Err("missing port; must be host:port");
        };
        if host.contains(':') {
            return Err("IPv6 addresses must be in brackets, e.g. [::1]:9100");
        }
        if host.contains(['[', ']']) {
            return Err("must be host:port");
        }
        (host, port)
    };
    if host.is_empty() {
        return Err("missing host; must be host:port");
    }
    let valid_port = !port.is_empty()
        && port.bytes().all(|b| b.is_ascii_digit())
        && matches!(port.parse::<u32>(), Ok(1..=65535));
    if !valid_port {
        return Err("port must be a number from 1 to 65535");
    }
    Ok(())
}

/// Checks a scrape target: `host:port` as [`check_target`], or a bare host without a port,
/// which Prometheus 3 accepts (it adds no default port; the scrape uses the scheme's).
pub fn check_scrape_target(target: &str) -> Result<(), &'static str> {
    let bare_host = !target.is_empty() && !target.contains(':') && !target.starts_with('[');
    if bare_host && !target.contains('/') {
        return check_target(&format!("{target}:1"));
    }
    check_target(target)
}

/// Reports every scrape target that is neither `host:port` nor a bare host; returns the valid
/// ones.
pub(crate) fn targets(targets: Vec<At<String>>, scope: &Scope, cx: &mut Cx<'_>) -> Vec<String> {
    let mut out = Vec::with_capacity(targets.len());
    for target in targets {
        match check_scrape_target(&target.value) {
            Ok(()) => out.push(target.value),
            Err(reason) => {
                let kind = ErrorKind::InvalidTarget {
                    target: target.value,
                    scope: scope.clone(),
                    reason,
                };
                cx.error(target.pos, kind);
            }
        }
    }
    out
}

/// Reports each `job_name` used before, at its second (third, ...) use.
pub(crate) fn unique_job_names<'a>(
    names: impl IntoIterator<Item = &'a At<String>>,
    cx: &mut Cx<'_>,
) {
    let mut first: HashMap<&str, Pos> = HashMap::new();
    for name in names {
        if let Some(earlier) = first.get(name.value.as_str()) {
            let kind = ErrorKind::DuplicateJob {
                name: name.value.clone(),
                first_line: earlier.line,
            };
            cx.error(name.pos, kind);
        } else {
            first.insert(&name.value, name.pos);
        }
    }
}

/// Resolves a scrape interval and timeout as Prometheus does: an unset or zero interval takes
/// `default_interval`; an explicit timeout above the interval is an error (reported at the
/// timeout); an unset or zero timeout takes `default_timeout`, capped at the interval.
pub(crate) fn interval_and_timeout(
    interval: Option<At<PromDuration>>,
    timeout: Option<At<PromDuration>>,
    defaults: (PromDuration, PromDuration),
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> (PromDuration, PromDuration) {
    let (default_interval, default_timeout) = defaults;
    let interval = interval
        .map(|i| i.value)
        .filter(|i| !i.is_zero())
        .unwrap_or(default_interval);
    let timeout = match timeout.filter(|t| !t.value.is_zero()) {
        Some(t) if t.value > interval => {
            let kind = ErrorKind::TimeoutExceedsInterval {
                timeout: t.value.to_string(),
                interval: interval.to_string(),
                scope: scope.clone(),
            };
            cx.error(t.pos, kind);
            interval
        }
        Some(t) => t.value,
        None => default_timeout.min(interval),
    };
    (interval, timeout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn at<T>(value: T, line: u32) -> At<T> {
        At {
            value,
            pos: Pos { line, column: 7 },
        }
    }

    #[test]
    fn label_names() {
        for ok in ["a", "_", "__name__", "job", "A1_b2", "__param_target"] {
            assert!(is_valid_label_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é", "a b", "a:b"] {
            assert!(!is_valid_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn targets_must_be_host_port() {
        for ok in [
            "localhost:9100",
            "127.0.0.1:9712",
            "[::1]:80",
            "a.b-c.example:65535",
            "5:5",
        ] {
            assert_eq!(check_target(ok), Ok(()), "{ok}");
        }
        let cases = [
            ("http://a:1", "scheme"),
            ("a:1/metrics", "path"),
            ("a", "missing port"),
            (":80", "missing host"),
            ("a:", "port must be"),
            ("a:0", "port must be"),
            ("a:65536", "port must be"),
            ("a:+1", "port must be"),
            ("a:b", "port must be"),
            ("::1:80", "brackets"),
            ("[::1]", "[ipv6-address]:port"),
            ("[]:80", "[ipv6-address]:port"),
            ("a b:1", "host:port"),
            ("user@a:1", "host:port"),
            ("", "missing port"),
        ];
        for (bad, reason) in cases {
            let err = check_target(bad).unwrap_err();
            assert!(err.contains(reason), "{bad}: {err}");
        }
        // Scrape targets may omit the port, as in Prometheus 3.
        assert_eq!(check_scrape_target("localhost"), Ok(()));
        assert_eq!(check_scrape_target("a.example"), Ok(()));
        for bad in ["", "a b", "a/b", "http://a", "user@a", ":1"] {
            assert!(check_scrape_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reports_invalid_labels_and_targets() {
        let mut cx = Cx::new(Path::new("c.yml"), Path::new("."), "", &no_env);
        let entries = Entries(vec![
            (at("ok".into(), 1), at("v".into(), 1)),
            (at("a-b".into(), 2), at("v".into(), 2)),
        ]);
        let got = labels(entries, "external_labels", &mut cx);
        assert_eq!(got.len(), 1);
        let scope = Scope::Job("node".into());
        let kept = targets(
            vec![at("a:1".into(), 3), at("http://b:2".into(), 4)],
            &scope,
            &mut cx,
        );
        assert_eq!(kept, ["a:1"]);
        let errors: Vec<String> = cx.into_errors().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                r#"c.yml:2:7: invalid label name "a-b" in external_labels"#,
                r#"c.yml:4:7: invalid target "http://b:2" in job "node": must be host:port without a scheme (set scheme on the job instead)"#,
            ]
        );
    }

    #[test]
    fn duplicate_job_names_point_at_repeats() {
        let mut cx = Cx::new(Path::new("c.yml"), Path::new("."), "", &no_env);
        let names = [
            at("a".to_owned(), 2),
            at("b".to_owned(), 5),
            at("a".to_owned(), 9),
            at("a".to_owned(), 12),
        ];
        unique_job_names(&names, &mut cx);
        let errors: Vec<String> = cx.into_errors().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [
                r#"c.yml:9:7: duplicate job_name "a" (first used at line 2)"#,
                r#"c.yml:12:7: duplicate job_name "a" (first used at line 2)"#,
            ]
        );
    }

    #[test]
    fn timeouts_follow_prometheus_defaults() {
        let mut cx = Cx::new(Path::new("c.yml"), Path::new("."), "", &no_env);
        let s = PromDuration::from_secs;
        let scope = Scope::Job("node".into());
        let defaults = (s(60), s(10));
        // Both unset: the defaults.
        assert_eq!(
            interval_and_timeout(None, None, defaults, &scope, &mut cx),
            (s(60), s(10))
        );
        // A short interval caps the default timeout.
        assert_eq!(
            interval_and_timeout(Some(at(s(5), 1)), None, defaults, &scope, &mut cx),
            (s(5), s(5))
        );
        // Zero means unset.
        assert_eq!(
            interval_and_timeout(
                Some(at(s(0), 1)),
                Some(at(s(0), 1)),
                defaults,
                &scope,
                &mut cx
            ),
            (s(60), s(10))
        );
        assert_eq!(
            interval_and_timeout(
                Some(at(s(15), 1)),
                Some(at(s(15), 1)),
                defaults,
                &scope,
                &mut cx
            ),
            (s(15), s(15))
        );
        assert!(cx.into_errors().is_empty());

        let mut cx = Cx::new(Path::new("c.yml"), Path::new("."), "", &no_env);
        let got = interval_and_timeout(
            Some(at(s(15), 11)),
            Some(at(s(20), 12)),
            defaults,
            &scope,
            &mut cx,
        );
        assert_eq!(got, (s(15), s(15)));
        let errors: Vec<String> = cx.into_errors().iter().map(ToString::to_string).collect();
        assert_eq!(
            errors,
            [r#"c.yml:12:7: scrape_timeout 20s is greater than scrape_interval 15s in job "node""#]
        );
    }
}
