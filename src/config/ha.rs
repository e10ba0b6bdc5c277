//! `ha:` — two watchfire replicas that scrape and evaluate alike while only the holder of an
//! etcd lease sends notifications (`notify::ha`). A Prometheus-side section (it sits in
//! `--config.file` when the two files are split).
//!
//! ```yaml
//! ha:
//!   replica: a                       # required; this replica's name (unique in the pair)
//!   etcd:
//!     endpoints: [127.0.0.1:2379]    # required; host:port or http://host:port
//!     lease_ttl: 10s                 # leader lease (default 10s, at least 2s)
//!     prefix: /watchfire             # keys: <prefix>/leader, /silences/, /nflog/
//!     dial_timeout: 5s               # per connection attempt and request (default 5s)
//!     basic_auth: {username: u, password_file: pw}   # etcd user authentication
//! ```
//!
//! Not supported yet: TLS to etcd (`tls_config` and `https://` endpoints are refused by name).
//!
//! Changing `ha` takes a restart: a reload keeps the running replica's election.

use super::decode::{yaml_section, At, Cx};
use super::duration::PromDuration;
use super::error::{ErrorKind, Scope};
use super::http::{self, BasicAuth, RawBasicAuth};
use super::node::Pos;
use serde::Serialize;

/// `lease_ttl` when unset.
pub const DEFAULT_LEASE_TTL: PromDuration = PromDuration::from_secs(10);
/// `dial_timeout` when unset.
pub const DEFAULT_DIAL_TIMEOUT: PromDuration = PromDuration::from_secs(5);
/// `prefix` when unset.
pub const DEFAULT_PREFIX: &str = "/watchfire";
/// The shortest `lease_ttl`: etcd grants whole seconds, and the leader steps down a margin
/// before its lease could expire.
pub const MIN_LEASE_TTL: PromDuration = PromDuration::from_secs(2);

yaml_section! {
    /// `ha` as written.
    pub(crate) struct RawHa {
        replica: String,
        etcd: RawEtcd,
    }
}

yaml_section! {
    /// `ha.etcd` as written.
    pub(crate) struct RawEtcd {
        endpoints: Vec<At<String>>,
        lease_ttl: PromDuration,
        prefix: String,
        dial_timeout: PromDuration,
        basic_auth: RawBasicAuth,
    }
}

/// The HA pair's settings.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HaConfig {
    /// This replica's name (written as the leader key's value; never sent in alerts).
    pub replica: String,
    /// Where the lease, silences and notification log live.
    pub etcd: EtcdConfig,
}

/// The etcd cluster of an HA pair.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EtcdConfig {
    /// `http://host:port` URLs (a bare `host:port` gets `http://`).
    pub endpoints: Vec<String>,
    /// The leader lease's time to live (whole seconds).
    pub lease_ttl: PromDuration,
    /// Key prefix, without a trailing `/`.
    pub prefix: String,
    /// Connection and request timeout.
    pub dial_timeout: PromDuration,
    /// etcd user and password.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
}

/// Resolves `ha`: a replica name that is a valid label value and not empty, at least one
/// endpoint, a TTL of whole seconds of at least [`MIN_LEASE_TTL`], a prefix starting with `/`.
pub(crate) fn resolve(raw: Option<At<RawHa>>, cx: &mut Cx<'_>) -> Option<HaConfig> {
    let At { value: raw, pos } = raw?;
    let invalid = |cx: &mut Cx<'_>, pos: Pos, path: &str, message: String| {
        let path = path.to_owned();
        cx.error(pos, ErrorKind::InvalidValue { path, message });
    };
    let replica = match raw.replica {
        Some(r) if !r.value.trim().is_empty() => {
            if r.value.contains('/') || r.value.chars().any(char::is_control) {
                let message = "must not contain '/' or control characters".to_owned();
                invalid(cx, r.pos, "ha.replica", message);
            }
            r.value
        }
        Some(r) => {
            let path = "ha.replica".to_owned();
            cx.error(r.pos, ErrorKind::Missing { path });
            String::new()
        }
        None => {
            let path = "ha.replica".to_owned();
            cx.error(pos, ErrorKind::Missing { path });
            String::new()
        }
    };
    let Some(At {
        value: etcd,
        pos: etcd_pos,
    }) = raw.etcd
    else {
        let path = "ha.etcd".to_owned();
        cx.error(pos, ErrorKind::Missing { path });
        return None;
    };
    let mut endpoints = Vec::new();
    match etcd.endpoints {
        Some(list) if !list.value.is_empty() => {
            for e in list.value {
                match endpoint_url(&e.value) {
                    Ok(url) => endpoints.push(url),
                    Err(message) => invalid(cx, e.pos, "ha.etcd.endpoints", message),
                }
            }
        }
        Some(list) => {
            let path = "ha.etcd.endpoints".to_owned();
            cx.error(list.pos, ErrorKind::Missing { path });
        }
        None => {
            let path = "ha.etcd.endpoints".to_owned();
            cx.error(etcd_pos, ErrorKind::Missing { path });
        }
    }
    let lease_ttl = match etcd.lease_ttl {
        None => DEFAULT_LEASE_TTL,
        Some(At { value, pos }) => {
            let d = value.as_duration();
            if d < MIN_LEASE_TTL.as_duration() {
                let message = format!("must be at least {MIN_LEASE_TTL}");
                invalid(cx, pos, "ha.etcd.lease_ttl", message);
            } else if d.subsec_nanos() != 0 {
                let message = "must be whole seconds (etcd leases are)".to_owned();
                invalid(cx, pos, "ha.etcd.lease_ttl", message);
            }
            value
        }
    };
    let prefix = match etcd.prefix {
        None => DEFAULT_PREFIX.to_owned(),
        Some(At { value, pos }) => {
            let trimmed = value.trim_end_matches('/');
            if !value.starts_with('/') || trimmed.is_empty() {
                let message = "must start with '/' and name more than the root".to_owned();
                invalid(cx, pos, "ha.etcd.prefix", message);
            }
            trimmed.to_owned()
        }
    };
    let dial_timeout = match etcd.dial_timeout {
        None => DEFAULT_DIAL_TIMEOUT,
        Some(At { value, pos }) if value.is_zero() => {
            let message = "must be greater than 0s".to_owned();
            invalid(cx, pos, "ha.etcd.dial_timeout", message);
            DEFAULT_DIAL_TIMEOUT
        }
        Some(t) => t.value,
    };
    let scope = Scope::Section("ha.etcd".to_owned());
    let basic_auth = etcd
        .basic_auth
        .map(|b| http::basic_auth(b.value, &scope, cx));
    Some(HaConfig {
        replica,
        etcd: EtcdConfig {
            endpoints,
            lease_ttl,
            prefix,
            dial_timeout,
            basic_auth,
        },
    })
}

/// The label dropped from outgoing alerts of an HA pair (the external label that tells the
/// replicas apart, as Cortex' and Mimir's HA tracker names it).
pub const REPLICA_LABEL: &str = "replica";

/// `http://host:port` for an endpoint written with or without `http://`.
fn endpoint_url(value: &str) -> Result<String, String> {
    let with_scheme = if value.contains("://") {
        value.to_owned()
    } else {
        format!("http://{value}")
    };
    let url = url::Url::parse(&with_scheme).map_err(|e| format!("parse {value:?}: {e}"))?;
    if url.scheme() == "https" {
        return Err(format!(
            "{value:?}: https endpoints are not supported (etcd TLS is not implemented)"
        ));
    }
    if url.scheme() != "http" {
        return Err(format!("{value:?}: URL scheme must be 'http'"));
    }
    if url.host_str().is_none_or(str::is_empty) || url.port_or_known_default().is_none() {
        return Err(format!("{value:?}: host is missing"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(format!("{value:?}: must be host:port without a path"));
    }
    Ok(with_scheme.trim_end_matches('/').to_owned())
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
            Err(e) => e.errors().iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn defaults_and_values() {
        let cfg = parse_with_env(
            "ha:\n  replica: a\n  etcd:\n    endpoints: [127.0.0.1:2379, 'http://h:1/']\n",
            "c.yml",
            &env,
        )
        .unwrap();
        let ha = cfg.ha.unwrap();
        assert_eq!(ha.replica, "a");
        assert_eq!(
            ha.etcd.endpoints,
            ["http://127.0.0.1:2379".to_owned(), "http://h:1".to_owned()]
        );
        assert_eq!(ha.etcd.lease_ttl, PromDuration::from_secs(10));
        assert_eq!(ha.etcd.prefix, "/watchfire");
        assert_eq!(ha.etcd.dial_timeout, PromDuration::from_secs(5));
        assert!(ha.etcd.basic_auth.is_none());
        let cfg = parse_with_env(
            "ha:\n  replica: b\n  etcd:\n    endpoints: [e:2379]\n    lease_ttl: 3s\n    \
             prefix: /x/y/\n    dial_timeout: 1s\n    basic_auth: {username: u, password: p}\n",
            "c.yml",
            &env,
        )
        .unwrap();
        let ha = cfg.ha.unwrap();
        assert_eq!(ha.etcd.lease_ttl, PromDuration::from_secs(3));
        assert_eq!(ha.etcd.prefix, "/x/y");
        assert_eq!(ha.etcd.dial_timeout, PromDuration::from_secs(1));
        assert_eq!(ha.etcd.basic_auth.unwrap().username, "u");
        assert!(parse_with_env("global: {}\n", "c.yml", &env)
            .unwrap()
            .ha
            .is_none());
    }

    #[test]
    fn problems_have_positions() {
        assert_eq!(
            errors("ha:\n  etcd: {endpoints: []}\n"),
            [
                "c.yml:2:3: ha.replica is required",
                "c.yml:2:21: ha.etcd.endpoints is required",
            ]
        );
        assert_eq!(
            errors("ha: {replica: a}\n"),
            ["c.yml:1:5: ha.etcd is required"]
        );
        assert_eq!(
            errors(
                "ha:\n  replica: a/b\n  etcd:\n    endpoints: ['https://e:1', 'http://e:1/p']\n    \
                 lease_ttl: 1500ms\n    prefix: nope\n    dial_timeout: 0s\n    tls: x\n    \
                 tls_config: {ca_file: ca.pem}\n"
            ),
            [
                "c.yml:2:12: ha.replica: must not contain '/' or control characters",
                "c.yml:4:17: ha.etcd.endpoints: \"https://e:1\": https endpoints are not \
                 supported (etcd TLS is not implemented)",
                "c.yml:4:32: ha.etcd.endpoints: \"http://e:1/p\": must be host:port without a \
                 path",
                "c.yml:5:16: ha.etcd.lease_ttl: must be at least 2s",
                "c.yml:6:13: ha.etcd.prefix: must start with '/' and name more than the root",
                "c.yml:7:19: ha.etcd.dial_timeout: must be greater than 0s",
                "c.yml:8:5: unknown field \"tls\" in ha.etcd",
                "c.yml:9:5: ha.etcd.tls_config: TLS to etcd is not supported yet (use http:// \
                 endpoints)",
            ]
        );
        assert_eq!(
            errors("ha:\n  replica: a\n  etcd: {endpoints: [e:1], lease_ttl: 2500ms}\n"),
            ["c.yml:3:39: ha.etcd.lease_ttl: must be whole seconds (etcd leases are)"]
        );
    }
}
