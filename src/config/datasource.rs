//! `datasources:` — Prometheus-API query endpoints (Prometheus, VictoriaMetrics, Thanos,
//! Mimir) that rule groups with `datasource: <name>` evaluate on, as vmalert's
//! `-datasource.url`. A Prometheus-side section (it sits in `--config.file` when the two
//! files are split).
//!
//! ```yaml
//! datasources:
//! - name: central          # unique, required; rule groups refer to it
//!   url: http://tsdb:9090  # required; /api/v1/query is appended to its path
//!   basic_auth: {username: u, password_file: pw}   # or authorization: {credentials: ..}
//!   tls_config: {ca_file: ca.pem}
//!   headers: {X-Scope-OrgID: team-a}
//!   query_offset: 30s      # queries run at the group's time minus this (default 0s)
//!   timeout: 30s           # per query (default 30s)
//! ```

use super::decode::{yaml_section, At, Cx, Entries};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::http::{
    self, resolve_headers, serialize_redacted_headers, Authorization, BasicAuth, RawAuthorization,
    RawBasicAuth, RawTlsConfig, TlsConfig,
};
use super::node::Pos;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};

/// `timeout` when unset.
pub const DEFAULT_DATASOURCE_TIMEOUT: PromDuration = PromDuration::from_secs(30);

yaml_section! {
    /// One `datasources` entry as written.
    pub(crate) struct RawDatasource {
        name: String,
        url: String,
        basic_auth: RawBasicAuth,
        authorization: RawAuthorization,
        tls_config: RawTlsConfig,
        headers: Entries<String>,
        query_offset: PromDuration,
        timeout: PromDuration,
    }
}

/// A query endpoint speaking Prometheus' HTTP API.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DatasourceConfig {
    /// The name rule groups refer to.
    pub name: String,
    /// Base URL; `/api/v1/query` is appended to its path.
    pub url: String,
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings.
    pub tls_config: TlsConfig,
    /// Extra request headers (e.g. a tenant id); their values print as `<secret>`.
    #[serde(
        skip_serializing_if = "BTreeMap::is_empty",
        serialize_with = "serialize_redacted_headers"
    )]
    pub headers: BTreeMap<String, String>,
    /// Subtracted from the group's evaluation time.
    pub query_offset: PromDuration,
    /// Per-query timeout.
    pub timeout: PromDuration,
}

/// Resolves the `datasources` list: names unique and non-empty, URLs http(s) with a host,
/// `basic_auth` and `authorization` exclusive, `timeout` above zero.
pub(crate) fn resolve(
    raw: Option<At<Vec<At<RawDatasource>>>>,
    cx: &mut Cx<'_>,
) -> Vec<DatasourceConfig> {
    let mut seen: HashMap<String, Pos> = HashMap::new();
    let mut out = Vec::new();
    for (i, entry) in raw
        .map(|r| r.value)
        .unwrap_or_default()
        .into_iter()
        .enumerate()
    {
        let pos = entry.pos;
        let raw = entry.value;
        let path = format!("datasources[{i}]");
        let name = match raw.name {
            Some(n) if !n.value.is_empty() => {
                if let Some(first) = seen.get(&n.value) {
                    let message = format!(
                        "duplicate datasource name {:?} (first used at line {})",
                        n.value, first.line
                    );
                    let path = format!("{path}.name");
                    cx.error(n.pos, ErrorKind::InvalidValue { path, message });
                } else {
                    seen.insert(n.value.clone(), n.pos);
                }
                n.value
            }
            Some(n) => {
                let path = format!("{path}.name");
                cx.error(n.pos, ErrorKind::Missing { path });
                String::new()
            }
            None => {
                let path = format!("{path}.name");
                cx.error(pos, ErrorKind::Missing { path });
                String::new()
            }
        };
        let scope = Scope::Section(format!("datasource {name:?}"));
        let url = match raw.url {
            None => {
                let path = format!("{path}.url");
                cx.error(pos, ErrorKind::Missing { path });
                String::new()
            }
            Some(At { value, pos }) => {
                if let Some(message) = url_problem(&value) {
                    let path = format!("{path}.url");
                    cx.error(pos, ErrorKind::InvalidValue { path, message });
                }
                value
            }
        };
        let basic_auth = raw
            .basic_auth
            .map(|b| http::basic_auth(b.value, &scope, cx));
        let authorization = raw
            .authorization
            .map(|a| http::authorization(a, &scope, cx));
        if let (Some(_), Some(auth)) = (&basic_auth, &authorization) {
            let kind = ErrorKind::Conflict {
                first: "basic_auth",
                second: "authorization",
                scope: scope.clone(),
            };
            cx.error(auth.pos, kind);
        }
        let tls_config = raw
            .tls_config
            .map(|t| http::tls_config(t.value, &scope, cx))
            .unwrap_or_default();
        let headers = resolve_headers(raw.headers, &scope, &[], cx);
        let timeout = match raw.timeout {
            None => DEFAULT_DATASOURCE_TIMEOUT,
            Some(At { value, pos }) if value == PromDuration::ZERO => {
                let path = format!("{path}.timeout");
                let message = "must be greater than 0s".to_owned();
                cx.error(pos, ErrorKind::InvalidValue { path, message });
                DEFAULT_DATASOURCE_TIMEOUT
            }
            Some(t) => t.value,
        };
        out.push(DatasourceConfig {
            name,
            url,
            basic_auth,
            authorization: authorization.map(|a| a.value),
            tls_config,
            headers,
            query_offset: raw.query_offset.map_or(PromDuration::ZERO, |q| q.value),
            timeout,
        });
    }
    out
}

/// Why `url` cannot be a datasource URL, if it cannot: an `http(s)://host` URL, without a
/// query or a fragment (the API paths are appended to it).
fn url_problem(value: &str) -> Option<String> {
    http::http_url_problem(value).or_else(|| {
        url::Url::parse(value)
            .ok()
            .filter(|u| u.query().is_some() || u.fragment().is_some())
            .map(|_| "URL must not have a query or a fragment".to_owned())
    })
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_with_env, PromDuration};

    fn env(_: &str) -> Option<String> {
        None
    }

    fn errors(text: &str) -> Vec<String> {
        match parse_with_env(text, "c.yml", &env) {
            Ok(_) => Vec::new(),
            Err(e) => e.lines(),
        }
    }

    #[test]
    fn datasources_are_read_with_defaults() {
        let c = parse_with_env(
            "datasources:\n- name: a\n  url: http://127.0.0.1:9090\n\
             - name: b\n  url: https://vm:8428/select/0/prometheus\n  query_offset: 30s\n  \
             timeout: 5s\n  headers: {X-Scope-OrgID: tenant-xyz}\n  authorization: {credentials: s3cret}\n",
            "c.yml",
            &env,
        )
        .unwrap();
        assert_eq!(c.datasources.len(), 2);
        let a = &c.datasources[0];
        assert_eq!(
            (a.name.as_str(), a.url.as_str()),
            ("a", "http://127.0.0.1:9090")
        );
        assert_eq!(a.query_offset, PromDuration::ZERO);
        assert_eq!(a.timeout, PromDuration::from_secs(30));
        let b = &c.datasources[1];
        assert_eq!(b.query_offset, PromDuration::from_secs(30));
        assert_eq!(b.timeout, PromDuration::from_secs(5));
        assert_eq!(b.headers["X-Scope-OrgID"], "tenant-xyz");
        assert_eq!(b.authorization.as_ref().unwrap().kind, "Bearer");
        let shown = c.redacted_yaml();
        assert!(
            !shown.contains("s3cret") && !shown.contains("tenant-xyz"),
            "{shown}"
        );
    }

    #[test]
    fn every_datasource_problem_has_its_position() {
        let text = "datasources:\n- name: a\n  url: ftp://x\n- name: a\n  url: http://x\n\
                    - url: 'http://'\n  timeout: 0s\n- name: c\n  url: http://c\n  \
                    headers: {'bad name': v}\n  basic_auth: {username: u}\n  \
                    authorization: {credentials: t}\n  extra: 1\n";
        assert_eq!(
            errors(text),
            [
                "c.yml:3:8: datasources[0].url: URL scheme must be 'http' or 'https'",
                "c.yml:4:9: datasources[1].name: duplicate datasource name \"a\" (first used at line 2)",
                "c.yml:6:3: datasources[2].name is required",
                "c.yml:6:8: datasources[2].url: host is missing in URL",
                "c.yml:7:12: datasources[2].timeout: must be greater than 0s",
                "c.yml:10:13: datasource \"c\": invalid header name \"bad name\"",
                "c.yml:12:18: basic_auth and authorization are both set in datasource \"c\"; set only one",
                "c.yml:13:3: unknown field \"extra\" in datasources[3]",
            ]
        );
    }

    #[test]
    fn datasources_belong_in_the_prometheus_file() {
        let dir = std::env::temp_dir().join(format!("wf-ds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let prom = dir.join("prometheus.yml");
        let am = dir.join("alertmanager.yml");
        std::fs::write(&prom, "datasources:\n- {name: a, url: 'http://a'}\n").unwrap();
        std::fs::write(&am, "route: {receiver: r}\nreceivers:\n- name: r\n").unwrap();
        let c = crate::config::load_files(&prom, Some(&am)).unwrap();
        assert_eq!(c.datasources[0].name, "a");
        std::fs::write(
            &am,
            "route: {receiver: r}\nreceivers:\n- name: r\ndatasources: []\n",
        )
        .unwrap();
        let e = crate::config::load_files(&prom, Some(&am))
            .unwrap_err()
            .lines();
        assert!(
            e.iter()
                .any(|l| l.contains(":4:14: datasources: belongs in the Prometheus")),
            "{e:?}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
