//! `dns_sd_configs`: targets from DNS records, with Prometheus' keys, defaults and validation
//! messages (`discovery/dns`): `names` (at least one), `type` (`SRV` by default; `A`, `AAAA`,
//! `MX`, `NS`, any case), `port` (required for every type but `SRV`, whose records carry their
//! own), `refresh_interval` (30s).

use super::decode::{yaml_section, At, Cx};
use super::duration::PromDuration;
use super::error::ErrorKind;
use serde::{Serialize, Serializer};
use std::fmt;
use std::time::Duration;

yaml_section! {
    /// One `dns_sd_configs` entry as written.
    pub(crate) struct RawDnsSdConfig {
        names: Vec<At<String>>,
        refresh_interval: PromDuration,
        type_ as "type": String,
        port: u64,
    }
}

/// The record type a `dns_sd_configs` entry asks for.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DnsRecordType {
    /// Service records: each gives a host and a port (the default).
    #[default]
    Srv,
    /// IPv4 addresses.
    A,
    /// IPv6 addresses.
    Aaaa,
    /// Mail exchangers: each gives a host.
    Mx,
    /// Name servers: each gives a host.
    Ns,
}

impl DnsRecordType {
    /// The type as Prometheus writes it (`SRV`, `A`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            DnsRecordType::Srv => "SRV",
            DnsRecordType::A => "A",
            DnsRecordType::Aaaa => "AAAA",
            DnsRecordType::Mx => "MX",
            DnsRecordType::Ns => "NS",
        }
    }
}

impl fmt::Display for DnsRecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for DnsRecordType {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `dns_sd_configs`: targets from the DNS records of some names, looked up through the servers
/// and search list of `/etc/resolv.conf`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct DnsSdConfig {
    /// The names to look up (relative names go through the search list).
    pub names: Vec<String>,
    /// How often they are looked up (default 30s).
    pub refresh_interval: PromDuration,
    /// The record type (default SRV).
    #[serde(rename = "type")]
    pub record_type: DnsRecordType,
    /// The port of every target for A, AAAA, MX and NS records (unused for SRV).
    pub port: u64,
}

/// Resolves one entry, reporting problems as Prometheus words them.
pub(crate) fn dns_sd(raw: At<RawDnsSdConfig>, path: &str, cx: &mut Cx<'_>) -> DnsSdConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let invalid = |cx: &mut Cx<'_>, pos, path: String, message: String| {
        cx.error(pos, ErrorKind::InvalidValue { path, message });
    };
    // A `names` value that failed to decode was reported already.
    let failed = raw.names.is_none() && raw.has("names");
    let port_present = raw.has("port");
    let names: Vec<String> = raw
        .names
        .map(|n| n.value.into_iter().map(|n| n.value).collect())
        .unwrap_or_default();
    if names.is_empty() && !failed {
        let message = "DNS-SD config must contain at least one SRV record name".to_owned();
        invalid(cx, pos, path.to_owned(), message);
    }
    let port = raw.port.as_ref().map_or(0, |p| p.value);
    let record_type = match raw.type_ {
        None => DnsRecordType::Srv,
        Some(At { value, pos }) => {
            let t = match value.to_ascii_uppercase().as_str() {
                "SRV" => Some(DnsRecordType::Srv),
                "A" => Some(DnsRecordType::A),
                "AAAA" => Some(DnsRecordType::Aaaa),
                "MX" => Some(DnsRecordType::Mx),
                "NS" => Some(DnsRecordType::Ns),
                _ => None,
            };
            match t {
                Some(t) => t,
                None => {
                    let message = format!("invalid DNS-SD records type {value}");
                    invalid(cx, pos, format!("{path}.type"), message);
                    DnsRecordType::Srv
                }
            }
        }
    };
    let port_failed = raw.port.is_none() && port_present;
    if record_type != DnsRecordType::Srv && port == 0 && !port_failed {
        let message =
            "a port is required in DNS-SD configs for all record types except SRV".to_owned();
        match &raw.port {
            Some(p) => invalid(cx, p.pos, format!("{path}.port"), message),
            None => invalid(cx, pos, path.to_owned(), message),
        }
    }
    let refresh_interval = super::sd::refresh(
        raw.refresh_interval,
        Duration::from_secs(30),
        format!("{path}.refresh_interval"),
        cx,
    );
    DnsSdConfig {
        names,
        refresh_interval,
        record_type,
        port,
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
    fn defaults_and_every_type() {
        let text = "scrape_configs:\n- job_name: a\n  dns_sd_configs:\n  - names: [_x._tcp.example.org]\n  \
                    - {names: [a.example, b], type: a, port: 9100, refresh_interval: 5s}\n  \
                    - {names: [c], type: AAAA, port: 1}\n  - {names: [d], type: Mx, port: 25}\n  \
                    - {names: [e.], type: NS, port: 53}\n";
        let cfg = parse_with_env(text, "/d/c.yml", &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let sd = &cfg.scrape_configs[0].dns_sd_configs;
        assert_eq!(sd[0].names, ["_x._tcp.example.org"]);
        assert_eq!(sd[0].record_type, DnsRecordType::Srv);
        assert_eq!(sd[0].port, 0);
        assert_eq!(sd[0].refresh_interval.to_string(), "30s");
        assert_eq!(
            (sd[1].record_type, sd[1].port, sd[1].names.len()),
            (DnsRecordType::A, 9100, 2)
        );
        assert_eq!(sd[1].refresh_interval.to_string(), "5s");
        let types: Vec<_> = sd.iter().map(|s| s.record_type.as_str()).collect();
        assert_eq!(types, ["SRV", "A", "AAAA", "MX", "NS"]);
    }

    #[test]
    fn errors_as_prometheus_words_them() {
        let text = "scrape_configs:\n- job_name: a\n  dns_sd_configs:\n  - {names: []}\n  \
                    - {names: [x], type: TXT}\n  - {names: [x], type: A}\n  - {names: [x], type: MX, port: 0}\n  \
                    - {names: [x], refresh_interval: 0s}\n  - {names: [x], prot: 1}\n";
        assert_eq!(
            errors(text),
            [
                "/d/c.yml:4:5: scrape_configs[0].dns_sd_configs[0]: DNS-SD config must contain at least one SRV record name",
                "/d/c.yml:5:24: scrape_configs[0].dns_sd_configs[1].type: invalid DNS-SD records type TXT",
                "/d/c.yml:6:5: scrape_configs[0].dns_sd_configs[2]: a port is required in DNS-SD configs for all record types except SRV",
                "/d/c.yml:7:34: scrape_configs[0].dns_sd_configs[3].port: a port is required in DNS-SD configs for all record types except SRV",
                "/d/c.yml:8:36: scrape_configs[0].dns_sd_configs[4].refresh_interval: refresh_interval must be greater than 0",
                "/d/c.yml:9:18: unknown field \"prot\" in scrape_configs[0].dns_sd_configs[5], did you mean \"port\"?",
            ]
        );
    }
}
