//! The web configuration file (`--web.config.file`), in the format of Prometheus'
//! exporter-toolkit:
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: server.crt          # with key_file: serve HTTPS
//!   key_file: server.key
//!   client_auth_type: RequireAndVerifyClientCert   # default NoClientCert
//!   client_ca_file: ca.crt
//!   min_version: TLS12             # TLS12 (default) or TLS13
//!   max_version: TLS13
//! http_server_config:
//!   http2: true                    # accepted; watchfire serves HTTP/1.1 only
//!   headers: {X-Frame-Options: deny}
//! basic_auth_users:                # user: bcrypt hash; every endpoint asks for them
//!   admin: $2y$10$...
//! ```
//!
//! Relative paths resolve against the file's directory; the files must be readable at load time
//! (their PEM content is parsed by the server, `api::tls`). As in exporter-toolkit, TLS is on
//! only when `cert_file` or `key_file` is set. Differences, because watchfire serves with rustls:
//! TLS 1.0/1.1 are refused, `RequestClientCert` and `RequireAnyClientCert` (which accept
//! unverified client certificates) are refused, and the verifying client auth types need
//! `client_ca_file` (Go would fall back to the system roots). Strings get the same `${VAR}`
//! expansion as the main config file (`$2y$...` hashes are not affected; `$$` is a literal `$`).
//!
//! **Invariant:** bcrypt hashes are [`Secret`]s and never print.

use super::decode::{yaml_section, At, Cx, Decode, Entries};
use super::error::{ConfigErrors, ErrorKind};
use super::secret::{resolve_path, Secret};
use super::{env, node, read_file, resolve_document};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

yaml_section! {
    /// The web config file as written.
    struct RawWebConfig {
        tls_server_config: RawTlsServer,
        http_server_config: RawHttpServer,
        basic_auth_users: Entries<String>,
    }
}

yaml_section! {
    /// `tls_server_config` as written.
    struct RawTlsServer {
        cert_file: String,
        key_file: String,
        client_auth_type: String,
        client_ca_file: String,
        min_version: String,
        max_version: String,
    }
}

yaml_section! {
    /// `http_server_config` as written.
    struct RawHttpServer {
        http2: bool,
        headers: Entries<String>,
    }
}

/// A loaded, valid web configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebConfig {
    /// HTTPS settings; `None` serves plain HTTP.
    pub tls: Option<TlsServerConfig>,
    /// exporter-toolkit's switch for HTTP/2 (default true); accepted for compatibility, but
    /// watchfire serves HTTP/1.1 only.
    pub http2: bool,
    /// Extra response headers (only the security headers exporter-toolkit allows).
    pub headers: BTreeMap<String, String>,
    /// User name → bcrypt hash; when not empty every request needs HTTP basic auth.
    pub basic_auth_users: BTreeMap<String, Secret>,
    /// The file this was loaded from.
    pub path: PathBuf,
}

impl Default for WebConfig {
    /// No TLS, no users: what watchfire serves without `--web.config.file`.
    fn default() -> Self {
        WebConfig {
            tls: None,
            http2: true,
            headers: BTreeMap::new(),
            basic_auth_users: BTreeMap::new(),
            path: PathBuf::new(),
        }
    }
}

/// `tls_server_config`, resolved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsServerConfig {
    /// The server certificate chain (PEM).
    pub cert_file: PathBuf,
    /// The server private key (PEM).
    pub key_file: PathBuf,
    /// Whether and how clients present certificates.
    pub client_auth: ClientAuth,
    /// CA certificates client certificates are verified with (PEM).
    pub client_ca_file: Option<PathBuf>,
    /// Lowest TLS version accepted.
    pub min_version: TlsVersion,
    /// Highest TLS version accepted.
    pub max_version: TlsVersion,
}

/// `client_auth_type`, named as Go's `tls.ClientAuthType`; the two that accept unverified
/// certificates are refused at load time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// No client certificate is asked for (default).
    NoClientCert,
    /// A client certificate is optional but verified against `client_ca_file` when given.
    VerifyClientCertIfGiven,
    /// A client certificate verified against `client_ca_file` is required.
    RequireAndVerifyClientCert,
}

/// A TLS protocol version (`TLS12`, `TLS13`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

/// Response headers exporter-toolkit lets users set, with their allowed values (empty: any).
const ALLOWED_HEADERS: &[(&str, &[&str])] = &[
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Reads and validates the web config file at `path`, expanding `${VAR}` from the environment.
pub fn load_web(path: impl AsRef<Path>) -> Result<WebConfig, ConfigErrors> {
    let path = path.as_ref();
    parse_web_with_env(&read_file(path)?, path, &env::process_env)
}

/// Validates web config text as if read from `path`, looking `${VAR}` up with `env`.
pub fn parse_web_with_env(
    text: &str,
    path: impl AsRef<Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<WebConfig, ConfigErrors> {
    let path = path.as_ref();
    resolve_document(text, path, env, |doc, cx| {
        let raw = RawWebConfig::decode(doc, cx).unwrap_or_default();
        let tls = raw.tls_server_config.and_then(|t| tls(t, cx));
        let (http2, headers) = match raw.http_server_config {
            Some(h) => http_server(h.value, cx),
            None => (true, BTreeMap::new()),
        };
        let basic_auth_users = users(raw.basic_auth_users, cx);
        WebConfig {
            tls,
            http2,
            headers,
            basic_auth_users,
            path: path.to_path_buf(),
        }
    })
}

/// Resolves `tls_server_config`; `None` when neither certificate nor key is set (plain HTTP).
fn tls(raw: At<RawTlsServer>, cx: &mut Cx<'_>) -> Option<TlsServerConfig> {
    let section = raw.pos;
    let raw = raw.value;
    if raw.cert_file.is_none() && raw.key_file.is_none() {
        if raw.client_ca_file.is_some() || raw.client_auth_type.is_some() {
            bad(
                cx,
                section,
                "tls_server_config",
                "cert_file and key_file are required",
            );
        }
        return None;
    }
    let cert_file = readable(raw.cert_file, "tls_server_config.cert_file", section, cx);
    let key_file = readable(raw.key_file, "tls_server_config.key_file", section, cx);
    let client_ca_file = match &raw.client_ca_file {
        Some(f) => readable(
            Some(f.clone()),
            "tls_server_config.client_ca_file",
            section,
            cx,
        ),
        None => None,
    };
    let client_auth = match &raw.client_auth_type {
        None => Some(ClientAuth::NoClientCert),
        Some(At { value, pos }) => match value.as_str() {
            "" | "NoClientCert" => Some(ClientAuth::NoClientCert),
            "VerifyClientCertIfGiven" => Some(ClientAuth::VerifyClientCertIfGiven),
            "RequireAndVerifyClientCert" => Some(ClientAuth::RequireAndVerifyClientCert),
            "RequestClientCert" | "RequireAnyClientCert" => {
                let msg = format!(
                    "{value:?} accepts unverified client certificates and is not supported; \
                     use VerifyClientCertIfGiven or RequireAndVerifyClientCert"
                );
                bad(cx, *pos, "tls_server_config.client_auth_type", msg);
                None
            }
            other => {
                bad(
                    cx,
                    *pos,
                    "tls_server_config.client_auth_type",
                    format!("invalid client auth type {other:?}"),
                );
                None
            }
        },
    };
    match (client_auth, &raw.client_ca_file) {
        (Some(ClientAuth::NoClientCert), Some(ca)) => bad(
            cx,
            ca.pos,
            "tls_server_config.client_ca_file",
            "set but client_auth_type is NoClientCert",
        ),
        (Some(ClientAuth::NoClientCert), None) | (None, _) | (Some(_), Some(_)) => {}
        (Some(_), None) => bad(
            cx,
            raw.client_auth_type.as_ref().map_or(section, |a| a.pos),
            "tls_server_config.client_auth_type",
            "verifying client certificates needs client_ca_file",
        ),
    }
    let min_version = version(
        raw.min_version.as_ref(),
        "min_version",
        TlsVersion::Tls12,
        cx,
    );
    let max_version = version(
        raw.max_version.as_ref(),
        "max_version",
        TlsVersion::Tls13,
        cx,
    );
    if let (Some(min), Some(max)) = (min_version, max_version) {
        if min > max {
            let pos = raw.min_version.as_ref().map_or(section, |v| v.pos);
            bad(
                cx,
                pos,
                "tls_server_config.min_version",
                "above max_version",
            );
        }
    }
    Some(TlsServerConfig {
        cert_file: cert_file?,
        key_file: key_file?,
        client_auth: client_auth?,
        client_ca_file,
        min_version: min_version?,
        max_version: max_version?,
    })
}

/// Records an invalid value of the field at `path`.
fn bad(cx: &mut Cx<'_>, pos: node::Pos, path: &str, message: impl ToString) {
    let kind = ErrorKind::InvalidValue {
        path: path.to_owned(),
        message: message.to_string(),
    };
    cx.error(pos, kind);
}

/// A required file field, resolved against the config directory and checked to be readable.
fn readable(
    field: Option<At<String>>,
    name: &'static str,
    section: node::Pos,
    cx: &mut Cx<'_>,
) -> Option<PathBuf> {
    let Some(field) = field.filter(|f| !f.value.is_empty()) else {
        cx.error(
            section,
            ErrorKind::Missing {
                path: name.to_owned(),
            },
        );
        return None;
    };
    let path = resolve_path(cx.dir, &field.value);
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
}

/// A TLS version as exporter-toolkit spells it; `default` when absent.
fn version(
    raw: Option<&At<String>>,
    field: &str,
    default: TlsVersion,
    cx: &mut Cx<'_>,
) -> Option<TlsVersion> {
    let Some(At { value, pos }) = raw else {
        return Some(default);
    };
    match value.as_str() {
        "TLS12" => Some(TlsVersion::Tls12),
        "TLS13" => Some(TlsVersion::Tls13),
        "TLS10" | "TLS11" => {
            let msg = format!("{value} is not supported (use TLS12 or TLS13)");
            bad(cx, *pos, &format!("tls_server_config.{field}"), msg);
            None
        }
        other => {
            bad(
                cx,
                *pos,
                &format!("tls_server_config.{field}"),
                format!("unknown TLS version {other:?}"),
            );
            None
        }
    }
}

/// Resolves `http_server_config`: `http2` and the allowed security headers.
fn http_server(raw: RawHttpServer, cx: &mut Cx<'_>) -> (bool, BTreeMap<String, String>) {
    let http2 = raw.http2.is_none_or(|h| h.value);
    let mut headers = BTreeMap::new();
    for (name, value) in raw.headers.map(|h| h.value.0).unwrap_or_default() {
        let Some((_, allowed)) = ALLOWED_HEADERS.iter().find(|(h, _)| *h == name.value) else {
            let msg = format!("header {:?} can not be configured", name.value);
            bad(cx, name.pos, "http_server_config.headers", msg);
            continue;
        };
        if !allowed.is_empty() && !allowed.contains(&value.value.as_str()) {
            let msg = format!(
                "invalid value {:?} for {} (expected one of {allowed:?})",
                value.value, name.value
            );
            bad(cx, value.pos, "http_server_config.headers", msg);
            continue;
        }
        headers.insert(name.value, value.value);
    }
    (http2, headers)
}

/// Resolves `basic_auth_users`, checking each value is a bcrypt hash.
fn users(raw: Option<At<Entries<String>>>, cx: &mut Cx<'_>) -> BTreeMap<String, Secret> {
    let mut out = BTreeMap::new();
    for (user, hash) in raw.map(|r| r.value.0).unwrap_or_default() {
        if bcrypt::HashParts::from_str(&hash.value).is_err() {
            // The hash itself is a secret: name the user, never the value.
            let msg = format!("the password of user {:?} is not a bcrypt hash", user.value);
            bad(cx, hash.pos, "basic_auth_users", msg);
            continue;
        }
        out.insert(user.value, Secret::new(hash.value));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    /// A bcrypt hash of "secret" with cost 4 (fast in tests).
    fn hash() -> String {
        bcrypt::hash("secret", 4).unwrap()
    }

    fn errors(dir: &Path, text: &str) -> Vec<String> {
        parse_web_with_env(text, dir.join("web.yml"), &no_env)
            .map(|_| ())
            .unwrap_err()
            .lines()
            .into_iter()
            .map(|l| l.replace(&dir.display().to_string(), "D"))
            .collect()
    }

    #[test]
    fn empty_file_is_plain_http_without_users() {
        let c = parse_web_with_env("", "web.yml", &no_env).unwrap();
        assert_eq!(
            c,
            WebConfig {
                path: "web.yml".into(),
                ..WebConfig::default()
            }
        );
        let c = parse_web_with_env("tls_server_config: {}\n", "web.yml", &no_env).unwrap();
        assert!(c.tls.is_none());
    }

    #[test]
    fn reads_tls_users_and_headers() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["c.pem", "k.pem", "ca.pem"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let text = format!(
            "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n  \
             client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  \
             min_version: TLS13\nhttp_server_config:\n  http2: false\n  \
             headers: {{X-Frame-Options: deny}}\nbasic_auth_users:\n  alice: '{}'\n",
            hash()
        );
        let c = parse_web_with_env(&text, dir.path().join("web.yml"), &no_env).unwrap();
        let tls = c.tls.unwrap();
        assert_eq!(tls.cert_file, dir.path().join("c.pem"));
        assert_eq!(tls.key_file, dir.path().join("k.pem"));
        assert_eq!(tls.client_ca_file, Some(dir.path().join("ca.pem")));
        assert_eq!(tls.client_auth, ClientAuth::RequireAndVerifyClientCert);
        assert_eq!(
            (tls.min_version, tls.max_version),
            (TlsVersion::Tls13, TlsVersion::Tls13)
        );
        assert!(!c.http2);
        assert_eq!(c.headers["X-Frame-Options"], "deny");
        assert!(bcrypt::verify("secret", c.basic_auth_users["alice"].expose()).unwrap());
        assert!(!format!("{:?}", c.basic_auth_users).contains("$2"));
    }

    #[test]
    fn reports_every_problem_with_its_position() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("c.pem"), "x").unwrap();
        let text = "tls_server_config:\n  cert_file: c.pem\n  client_auth_type: Sometimes\n  \
                    min_version: TLS11\n  max_version: TLS14\n  cipher: x\n\
                    basic_auth_users:\n  bob: plaintext\nhttp_server_config:\n  \
                    headers: {Server: x, X-Frame-Options: allow}\n";
        assert_eq!(
            errors(dir.path(), text),
            [
                "D/web.yml:2:3: tls_server_config.key_file is required",
                r#"D/web.yml:3:21: tls_server_config.client_auth_type: invalid client auth type "Sometimes""#,
                "D/web.yml:4:16: tls_server_config.min_version: TLS11 is not supported (use TLS12 or TLS13)",
                r#"D/web.yml:5:16: tls_server_config.max_version: unknown TLS version "TLS14""#,
                r#"D/web.yml:6:3: unknown field "cipher" in tls_server_config"#,
                r#"D/web.yml:8:8: basic_auth_users: the password of user "bob" is not a bcrypt hash"#,
                r#"D/web.yml:10:13: http_server_config.headers: header "Server" can not be configured"#,
                r#"D/web.yml:10:41: http_server_config.headers: invalid value "allow" for X-Frame-Options (expected one of ["deny", "sameorigin"])"#,
            ]
        );
    }

    #[test]
    fn client_auth_needs_a_ca_and_a_ca_needs_client_auth() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["c.pem", "k.pem", "ca.pem"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let base = "tls_server_config:\n  cert_file: c.pem\n  key_file: k.pem\n";
        let got = errors(dir.path(), &format!("{base}  client_ca_file: ca.pem\n"));
        assert_eq!(got.len(), 1);
        assert!(
            got[0].contains("client_ca_file: set but client_auth_type is NoClientCert"),
            "{got:?}"
        );
        let got = errors(
            dir.path(),
            &format!("{base}  client_auth_type: VerifyClientCertIfGiven\n"),
        );
        assert!(got[0].contains("needs client_ca_file"), "{got:?}");
        let got = errors(
            dir.path(),
            &format!("{base}  client_auth_type: RequireAnyClientCert\n"),
        );
        assert!(got[0].contains("not supported"), "{got:?}");
        let got = errors(
            dir.path(),
            &format!("{base}  min_version: TLS13\n  max_version: TLS12\n"),
        );
        assert!(got[0].contains("min_version: above max_version"), "{got:?}");
        let got = errors(
            dir.path(),
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: k.pem\n",
        );
        assert!(
            got[0].starts_with("D/web.yml:2:14: cannot read tls_server_config.cert_file"),
            "{got:?}"
        );
    }

    #[test]
    fn syntax_and_read_errors_name_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let got = errors(dir.path(), "basic_auth_users: [\n");
        assert!(got[0].starts_with("D/web.yml:"), "{got:?}");
        let missing = load_web(dir.path().join("nope.yml")).unwrap_err().lines();
        assert!(
            missing[0].contains("nope.yml: cannot read config file"),
            "{missing:?}"
        );
    }
}
