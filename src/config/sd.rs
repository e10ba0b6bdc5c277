//! Service discovery sections of a scrape job: `file_sd_configs` and `http_sd_configs`, with
//! Prometheus' keys, defaults and validation messages (`discovery/file`, `discovery/http`).

use super::decode::{yaml_section, At, Cx};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::http::TlsConfig;
use super::http::{self, Authorization, BasicAuth, RawAuthorization, RawBasicAuth, RawTlsConfig};
use super::secret::resolve_path;
use serde::Serialize;
use std::path::PathBuf;
use std::time::Duration;

yaml_section! {
    /// One `file_sd_configs` entry as written.
    pub(crate) struct RawFileSdConfig {
        files: Vec<At<String>>,
        refresh_interval: PromDuration,
    }
}

yaml_section! {
    /// One `http_sd_configs` entry as written.
    pub(crate) struct RawHttpSdConfig {
        url: String,
        refresh_interval: PromDuration,
        basic_auth: RawBasicAuth,
        authorization: RawAuthorization,
        tls_config: RawTlsConfig,
    }
}

/// `file_sd_configs`: target groups read from JSON or YAML files.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FileSdConfig {
    /// File patterns (a `*` allowed in the last path element), resolved against the config
    /// file's directory.
    pub files: Vec<PathBuf>,
    /// How often the files are re-read even when unchanged (default 5m).
    pub refresh_interval: PromDuration,
}

/// `http_sd_configs`: target groups fetched from an HTTP endpoint.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HttpSdConfig {
    /// The endpoint (http or https).
    pub url: String,
    /// How often it is fetched (default 60s).
    pub refresh_interval: PromDuration,
    /// HTTP basic authentication.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` header credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings for an https URL.
    pub tls_config: TlsConfig,
}

/// Whether `pattern` names files as Prometheus' file SD accepts them: `*` only in the last path
/// element and a `.json`, `.yml` or `.yaml` extension (any case as Prometheus lists).
pub fn is_valid_file_sd_pattern(pattern: &str) -> bool {
    let Some((stem, ext)) = pattern.rsplit_once('.') else {
        return false;
    };
    if !matches!(ext, "json" | "yml" | "yaml" | "JSON" | "YML" | "YAML") {
        return false;
    }
    match stem.split_once('*') {
        None => true,
        // Prometheus' `^[^*]*(\*[^/]*)?\.(json|yml|yaml|JSON|YML|YAML)$`: from the first `*`
        // on, no more directories.
        Some((_, rest)) => !rest.contains('/'),
    }
}

pub(super) fn refresh(
    raw: Option<At<PromDuration>>,
    default: Duration,
    path: String,
    cx: &mut Cx<'_>,
) -> PromDuration {
    match raw {
        None => PromDuration(default),
        Some(At { value, pos }) if value.0.is_zero() => {
            let message = "refresh_interval must be greater than 0".to_owned();
            cx.error(pos, ErrorKind::InvalidValue { path, message });
            PromDuration(default)
        }
        Some(At { value, .. }) => value,
    }
}

pub(crate) fn file_sd(raw: At<RawFileSdConfig>, path: &str, cx: &mut Cx<'_>) -> FileSdConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let patterns = raw.files.map(|f| f.value).unwrap_or_default();
    if patterns.is_empty() {
        let message = "file service discovery config must contain at least one path name".into();
        cx.error(
            pos,
            ErrorKind::InvalidValue {
                path: path.to_owned(),
                message,
            },
        );
    }
    let mut files = Vec::new();
    for (i, p) in patterns.into_iter().enumerate() {
        if is_valid_file_sd_pattern(&p.value) {
            files.push(resolve_path(cx.dir, &p.value));
        } else {
            let message = format!("path name {:?} is not valid for file discovery", p.value);
            let path = format!("{path}.files[{i}]");
            cx.error(p.pos, ErrorKind::InvalidValue { path, message });
        }
    }
    let refresh_interval = refresh(
        raw.refresh_interval,
        Duration::from_secs(300),
        format!("{path}.refresh_interval"),
        cx,
    );
    FileSdConfig {
        files,
        refresh_interval,
    }
}

pub(crate) fn http_sd(
    raw: At<RawHttpSdConfig>,
    path: &str,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> HttpSdConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let url = match raw.url {
        None => {
            let message = "URL is missing".to_owned();
            cx.error(
                pos,
                ErrorKind::InvalidValue {
                    path: path.to_owned(),
                    message,
                },
            );
            String::new()
        }
        Some(At { value, pos }) => {
            let problem = super::http::http_url_problem(&value);
            if let Some(message) = problem {
                let path = format!("{path}.url");
                cx.error(pos, ErrorKind::InvalidValue { path, message });
            }
            value
        }
    };
    let refresh_interval = refresh(
        raw.refresh_interval,
        Duration::from_secs(60),
        format!("{path}.refresh_interval"),
        cx,
    );
    let basic_auth = raw.basic_auth.map(|b| http::basic_auth(b.value, scope, cx));
    let authorization = raw.authorization.map(|a| http::authorization(a, scope, cx));
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
        .map(|t| http::tls_config(t.value, scope, cx))
        .unwrap_or_default();
    HttpSdConfig {
        url,
        refresh_interval,
        basic_auth,
        authorization: authorization.map(|a| a.value),
        tls_config,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_with_env;

    fn errors(text: &str) -> Vec<String> {
        match parse_with_env(text, "/d/c.yml", &|_| None) {
            Ok(_) => Vec::new(),
            Err(e) => e.lines(),
        }
    }

    #[test]
    fn sd_sections_are_read_with_defaults() {
        let text = "scrape_configs:\n- job_name: a\n  file_sd_configs:\n  - files: [t/*.json, /abs/x.yml]\n  \
                    - files: [y.yaml]\n    refresh_interval: 30s\n  http_sd_configs:\n  - url: https://sd.example/targets\n  \
                    - url: http://h:1/x\n    refresh_interval: 5s\n    authorization: {credentials: tok}\n  \
                    keep_dropped_targets: 7\n";
        let cfg = parse_with_env(text, "/d/c.yml", &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let job = &cfg.scrape_configs[0];
        assert_eq!(
            job.file_sd_configs[0].files,
            [PathBuf::from("/d/t/*.json"), PathBuf::from("/abs/x.yml")]
        );
        assert_eq!(job.file_sd_configs[0].refresh_interval.to_string(), "5m");
        assert_eq!(job.file_sd_configs[1].refresh_interval.to_string(), "30s");
        assert_eq!(job.http_sd_configs[0].url, "https://sd.example/targets");
        assert_eq!(job.http_sd_configs[0].refresh_interval.to_string(), "1m");
        assert_eq!(job.http_sd_configs[1].refresh_interval.to_string(), "5s");
        assert_eq!(
            job.http_sd_configs[1].authorization.as_ref().unwrap().kind,
            "Bearer"
        );
        assert_eq!(job.keep_dropped_targets, 7);
    }

    #[test]
    fn sd_errors_name_file_line_and_column() {
        let text = "scrape_configs:\n- job_name: a\n  file_sd_configs:\n  - files: [x.txt]\n  - {}\n  \
                    - files: [a.json]\n    refresh: 1m\n  http_sd_configs:\n  - url: ftp://h/x\n  - {refresh_interval: 0s}\n  \
                    - url: http:///x\n";
        assert_eq!(
            errors(text),
            [
                "/d/c.yml:4:13: scrape_configs[0].file_sd_configs[0].files[0]: path name \"x.txt\" is not valid for file discovery",
                "/d/c.yml:5:5: scrape_configs[0].file_sd_configs[1]: file service discovery config must contain at least one path name",
                "/d/c.yml:7:5: unknown field \"refresh\" in scrape_configs[0].file_sd_configs[2]",
                "/d/c.yml:9:10: scrape_configs[0].http_sd_configs[0].url: URL scheme must be 'http' or 'https'",
                "/d/c.yml:10:5: scrape_configs[0].http_sd_configs[1]: URL is missing",
                "/d/c.yml:10:24: scrape_configs[0].http_sd_configs[1].refresh_interval: refresh_interval must be greater than 0",
                "/d/c.yml:11:10: scrape_configs[0].http_sd_configs[2].url: host is missing in URL",
            ]
        );
    }

    #[test]
    fn file_patterns_as_prometheus() {
        for ok in [
            "a.json",
            "dir/*.yml",
            "/x/y/z-*.yaml",
            "t.JSON",
            "d/pre*post.yml",
            "a**.json",
        ] {
            assert!(is_valid_file_sd_pattern(ok), "{ok}");
        }
        for bad in [
            "a.txt",
            "a",
            "*/x.json",
            "a*/b.json",
            "a.Json",
            "a.json.bak",
        ] {
            assert!(!is_valid_file_sd_pattern(bad), "{bad}");
        }
    }
}
