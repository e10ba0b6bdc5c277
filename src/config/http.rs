//! HTTP client settings of a scrape job: `basic_auth`, `authorization`, `tls_config`.

use super::decode::{yaml_section, At, Cx, Entries};
use super::error::{ErrorKind, Scope};
use super::secret::{load_secret, resolve_path, serialize_secret, SecretFields, SecretSource};
use super::web::TlsVersion;
use serde::ser::{SerializeMap, Serializer};
use serde::Serialize;
use std::path::PathBuf;

yaml_section! {
    /// `basic_auth` as written.
    pub(crate) struct RawBasicAuth {
        username: String,
        password: String,
        password_file: String,
    }
}

yaml_section! {
    /// `authorization` as written.
    pub(crate) struct RawAuthorization {
        kind as "type": String,
        credentials: String,
        credentials_file: String,
    }
}

yaml_section! {
    /// `tls_config` as written.
    pub(crate) struct RawTlsConfig {
        ca_file: String,
        cert_file: String,
        key_file: String,
        server_name: String,
        insecure_skip_verify: bool,
        min_version: String,
        max_version: String,
    }
}

/// HTTP basic authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BasicAuth {
    /// The user name.
    pub username: String,
    /// The password, inline or read from `password_file` at load time.
    pub password: Option<SecretSource>,
}

impl Serialize for BasicAuth {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("username", &self.username)?;
        serialize_secret(
            &mut map,
            ("password", "password_file"),
            self.password.as_ref(),
        )?;
        map.end()
    }
}

/// Credentials sent as `Authorization: <type> <credentials>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    /// The scheme word, `Bearer` by default.
    pub kind: String,
    /// The credentials, inline or read from `credentials_file` at load time.
    pub credentials: Option<SecretSource>,
}

impl Serialize for Authorization {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("type", &self.kind)?;
        serialize_secret(
            &mut map,
            ("credentials", "credentials_file"),
            self.credentials.as_ref(),
        )?;
        map.end()
    }
}

/// TLS settings. Files are resolved against the config directory and checked to be readable at
/// load time; the scrape client reads them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TlsConfig {
    /// CA certificates to verify the server with (PEM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
    /// Client certificate (PEM); set together with `key_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cert_file: Option<PathBuf>,
    /// Client key (PEM); set together with `cert_file`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
    /// Server name to verify, instead of the target's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// Do not verify the server certificate.
    pub insecure_skip_verify: bool,
    /// Lowest TLS version offered (default TLS 1.2; `TLS10` and `TLS11` are accepted and mean
    /// TLS 1.2, the lowest this client speaks).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_version"
    )]
    pub min_version: Option<TlsVersion>,
    /// Highest TLS version offered (default TLS 1.3).
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "serialize_version"
    )]
    pub max_version: Option<TlsVersion>,
}

fn serialize_version<S: Serializer>(v: &Option<TlsVersion>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(TlsVersion::Tls12) => s.serialize_str("TLS12"),
        Some(TlsVersion::Tls13) => s.serialize_str("TLS13"),
        None => s.serialize_none(),
    }
}

/// A client `min_version`/`max_version` as Prometheus spells it (`TLS10` ... `TLS13`).
fn tls_version(
    raw: Option<At<String>>,
    field: &str,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> Option<TlsVersion> {
    let At { value, pos } = raw?;
    let path = format!("tls_config.{field} of {scope}");
    let message = match (value.as_str(), field) {
        ("TLS12", _) | ("TLS10" | "TLS11", "min_version") => return Some(TlsVersion::Tls12),
        ("TLS13", _) => return Some(TlsVersion::Tls13),
        ("TLS10" | "TLS11", _) => {
            format!("{value} is not supported (watchfire speaks TLS 1.2 and 1.3)")
        }
        _ => format!("unknown TLS version: {value}"),
    };
    cx.error(pos, ErrorKind::InvalidValue { path, message });
    None
}

pub(crate) fn basic_auth(raw: RawBasicAuth, scope: &Scope, cx: &mut Cx<'_>) -> BasicAuth {
    const FIELDS: SecretFields = SecretFields {
        inline: "basic_auth.password",
        file: "basic_auth.password_file",
    };
    let password = load_secret(raw.password, raw.password_file, &FIELDS, scope, cx);
    BasicAuth {
        username: raw.username.map(|u| u.value).unwrap_or_default(),
        password,
    }
}

pub(crate) fn authorization(
    raw: At<RawAuthorization>,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> At<Authorization> {
    const FIELDS: SecretFields = SecretFields {
        inline: "authorization.credentials",
        file: "authorization.credentials_file",
    };
    let pos = raw.pos;
    let raw = raw.value;
    let mut kind = "Bearer".to_owned();
    if let Some(At { value, pos }) = raw.kind {
        let trimmed = value.trim();
        if trimmed.eq_ignore_ascii_case("basic") {
            let error = ErrorKind::BasicAuthorizationType {
                kind: value.clone(),
                scope: scope.clone(),
            };
            cx.error(pos, error);
        } else if !trimmed.is_empty() {
            kind = trimmed.to_owned();
        }
    }
    let credentials = load_secret(raw.credentials, raw.credentials_file, &FIELDS, scope, cx);
    At {
        value: Authorization { kind, credentials },
        pos,
    }
}

pub(crate) fn tls_config(raw: RawTlsConfig, scope: &Scope, cx: &mut Cx<'_>) -> TlsConfig {
    let file = |field: Option<At<String>>, name: &'static str, cx: &mut Cx<'_>| {
        let field = field?;
        let path = resolve_path(cx.dir, &field.value);
        if cx.syntax_only {
            return Some(path);
        }
        match std::fs::File::open(&path) {
            Ok(_) => Some(path),
            Err(source) => {
                cx.error(
                    field.pos,
                    ErrorKind::File {
                        field: name,
                        path,
                        source,
                    },
                );
                None
            }
        }
    };
    let cert_pos = raw.cert_file.as_ref().map(|c| c.pos);
    let key_pos = raw.key_file.as_ref().map(|k| k.pos);
    let config = TlsConfig {
        ca_file: file(raw.ca_file, "tls_config.ca_file", cx),
        cert_file: file(raw.cert_file, "tls_config.cert_file", cx),
        key_file: file(raw.key_file, "tls_config.key_file", cx),
        server_name: raw.server_name.map(|s| s.value),
        insecure_skip_verify: raw.insecure_skip_verify.is_some_and(|i| i.value),
        min_version: tls_version(raw.min_version, "min_version", scope, cx),
        max_version: tls_version(raw.max_version, "max_version", scope, cx),
    };
    match (cert_pos, key_pos) {
        (Some(pos), None) => {
            let kind = ErrorKind::Requires {
                present: "tls_config.cert_file",
                missing: "tls_config.key_file",
                scope: scope.clone(),
            };
            cx.error(pos, kind);
        }
        (None, Some(pos)) => {
            let kind = ErrorKind::Requires {
                present: "tls_config.key_file",
                missing: "tls_config.cert_file",
                scope: scope.clone(),
            };
            cx.error(pos, kind);
        }
        _ => {}
    }
    config
}

/// Why `value` cannot be an `http(s)://host…` URL, if it cannot, in Prometheus' words
/// (`http_sd_configs`, `remote_write` and `datasources` URLs).
pub(super) fn http_url_problem(value: &str) -> Option<String> {
    // Go's parser keeps an empty host that the url crate refuses or skips over.
    let no_host = value
        .split_once("://")
        .is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with(['/', '?', '#']));
    match url::Url::parse(value) {
        _ if no_host => Some("host is missing in URL".to_owned()),
        Err(e) => Some(format!("parse {value:?}: {e}")),
        Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
            Some("URL scheme must be 'http' or 'https'".to_owned())
        }
        Ok(u) if u.host_str().is_none_or(str::is_empty) => {
            Some("host is missing in URL".to_owned())
        }
        Ok(_) => None,
    }
}

/// Adds `basic_auth` (preferred, as the config validation allows only one) or an
/// `Authorization: <type> <credentials>` header to an outgoing request.
pub fn authorize(
    req: reqwest::RequestBuilder,
    basic: Option<&BasicAuth>,
    authorization: Option<&Authorization>,
) -> reqwest::RequestBuilder {
    if let Some(b) = basic {
        let password = b.password.as_ref().map(|p| p.secret().expose().to_owned());
        return req.basic_auth(&b.username, password);
    }
    if let Some(a) = authorization {
        let credentials = a.credentials.as_ref().map_or("", |c| c.secret().expose());
        return req.header(
            reqwest::header::AUTHORIZATION,
            format!("{} {credentials}", a.kind),
        );
    }
    req
}

/// Extra request headers (`headers:` of `remote_write` and `datasources`): names must be HTTP
/// tokens and not in `reserved` (compared case-insensitively; Prometheus refuses the headers
/// its protocols set), values valid header values.
pub(super) fn resolve_headers(
    raw: Option<At<Entries<String>>>,
    scope: &Scope,
    reserved: &[&str],
    cx: &mut Cx<'_>,
) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    for (name, value) in raw.map(|h| h.value.0).unwrap_or_default() {
        let valid = reqwest::header::HeaderName::from_bytes(name.value.as_bytes()).is_ok();
        if !valid {
            let text = format!("{scope}: invalid header name {:?}", name.value);
            super::notify::problem(cx, name.pos, text);
        } else if reserved.contains(&name.value.to_ascii_lowercase().as_str()) {
            let text = format!(
                "{scope}: {} is a reserved header. It must not be changed",
                name.value
            );
            super::notify::problem(cx, name.pos, text);
        } else if reqwest::header::HeaderValue::from_str(&value.value).is_err() {
            let text = format!("{scope}: invalid value of header {:?}", name.value);
            super::notify::problem(cx, value.pos, text);
        } else {
            out.insert(name.value, value.value);
        }
    }
    out
}

/// Serializes extra headers with every value redacted (they often carry tokens).
pub(super) fn serialize_redacted_headers<S: Serializer>(
    h: &std::collections::BTreeMap<String, String>,
    s: S,
) -> Result<S::Ok, S::Error> {
    let mut map = s.serialize_map(Some(h.len()))?;
    for k in h.keys() {
        map.serialize_entry(k, super::REDACTED)?;
    }
    map.end()
}

#[cfg(test)]
mod tests {
    use crate::config::{parse_with_env, Config};
    use std::path::Path;

    fn env(_: &str) -> Option<String> {
        None
    }

    fn load(text: &str) -> Config {
        parse_with_env(text, "c.yml", &env).unwrap_or_else(|e| panic!("{e}"))
    }

    fn errors(text: &str) -> Vec<String> {
        let dir = Path::new("/nonexistent-config-dir");
        match parse_with_env(text, dir.join("c.yml"), &env) {
            Ok(_) => Vec::new(),
            Err(e) => e
                .lines()
                .into_iter()
                .map(|l| l.replace(&dir.display().to_string(), "DIR"))
                .collect(),
        }
    }

    #[test]
    fn basic_auth_and_authorization() {
        let config = load(
            "scrape_configs:\n- job_name: a\n  basic_auth: {username: u, password: pa55word}\n\
             - job_name: b\n  authorization: {type: Token, credentials: t0ken}\n",
        );
        let basic = config.scrape_configs[0].basic_auth.as_ref().unwrap();
        assert_eq!(basic.username, "u");
        assert_eq!(
            basic.password.as_ref().unwrap().secret().expose(),
            "pa55word"
        );
        let auth = config.scrape_configs[1].authorization.as_ref().unwrap();
        assert_eq!(auth.kind, "Token");
        let debug = format!("{config:?}");
        assert!(
            !debug.contains("pa55word") && !debug.contains("t0ken"),
            "{debug}"
        );
        assert!(debug.contains("<secret>"));
    }

    #[test]
    fn auth_and_tls_problems_are_all_reported() {
        let text = "scrape_configs:\n- job_name: a\n  basic_auth: {username: u, password: p, password_file: f}\n  \
            authorization: {type: basic}\n  tls_config: {cert_file: c.pem}\n- job_name: b\n  \
            scheme: ftp\n  tls_config: {key_file: k.pem, ca_file: ca.pem}\n  \
            authorization: {credentials_file: missing}\n";
        assert_eq!(
            errors(text),
            [
                r#"DIR/c.yml:3:57: basic_auth.password and basic_auth.password_file are both set in job "a"; set only one"#,
                r#"DIR/c.yml:4:18: basic_auth and authorization are both set in job "a"; set only one"#,
                r#"DIR/c.yml:4:25: authorization type cannot be "basic" in job "a"; use basic_auth instead"#,
                r#"DIR/c.yml:5:27: cannot read tls_config.cert_file "DIR/c.pem": No such file or directory (os error 2)"#,
                r#"DIR/c.yml:5:27: tls_config.cert_file is set without tls_config.key_file in job "a""#,
                r#"DIR/c.yml:7:11: unknown scheme "ftp" in job "b" (expected http or https)"#,
                r#"DIR/c.yml:8:26: cannot read tls_config.key_file "DIR/k.pem": No such file or directory (os error 2)"#,
                r#"DIR/c.yml:8:26: tls_config.key_file is set without tls_config.cert_file in job "b""#,
                r#"DIR/c.yml:8:42: cannot read tls_config.ca_file "DIR/ca.pem": No such file or directory (os error 2)"#,
                r#"DIR/c.yml:9:37: cannot read authorization.credentials_file "DIR/missing": No such file or directory (os error 2)"#,
            ]
        );
    }
}
