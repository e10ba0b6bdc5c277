//! `dns_sd_configs`: targets from DNS records (Prometheus' `discovery/dns`).
//!
//! Every `refresh_interval` each name is looked up (all names at once) with a fresh read of
//! `/etc/resolv.conf`, read as Prometheus' DNS library reads it: `nameserver` lines (IP
//! addresses, port 53), `search`/`domain`, `options ndots:n` (0–15). A relative name goes
//! through the search list (as itself first when it has more labels than `ndots`, last
//! otherwise); a name ending in `.` is asked as is. Each candidate is asked of each server in turn
//! (UDP with EDNS, again over TCP when the answer is truncated, 2 s per exchange) until one
//! answers NOERROR or NXDOMAIN; the first candidate answering NOERROR wins (its answer may be
//! empty). Every candidate NXDOMAIN means no targets; a candidate no server answered (timeout,
//! SERVFAIL, REFUSED) makes the lookup fail when no later candidate succeeds.
//!
//! One target group per name (source: the name as written), one target per answer record:
//! SRV gives `<target>:<port>` with `__meta_dns_srv_record_target` (the trailing dot kept) and
//! `__meta_dns_srv_record_port`; MX and NS give `<host>:<port>` with
//! `__meta_dns_mx_record_target`/`__meta_dns_ns_record_target`; A and AAAA give
//! `<address>:<port>` (IPv6 in brackets). Hosts in addresses lose their trailing dots; CNAME
//! records are skipped; every target has `__meta_dns_name`. A lookup that fails keeps the name's
//! last good group, logs why, shows in `/api/v1/targets` and counts in
//! `prometheus_sd_dns_lookup_failures_total` (each lookup in `prometheus_sd_dns_lookups_total`).
//!
//! The wire protocol is hickory's client; the resolv.conf reading and the search-path walk are
//! ours, because a stub resolver (hickory-resolver) hides the per-server answer codes that
//! Prometheus' NXDOMAIN-versus-failure rule needs, and parses resolv.conf more strictly than
//! Prometheus (which ignores lines it does not know).

use super::{Outcome, SdMetrics, SharedState, TargetGroup};
use crate::config::{DnsRecordType, DnsSdConfig};
use hickory_client::client::{Client, ClientHandle};
use hickory_client::proto::op::ResponseCode;
use hickory_client::proto::rr::{DNSClass, Name, RData, Record, RecordType};
use hickory_client::proto::runtime::TokioRuntimeProvider;
use hickory_client::proto::tcp::TcpClientStream;
use hickory_client::proto::udp::UdpClientStream;
use hickory_client::proto::xfer::DnsResponse;
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The resolver configuration read on every refresh.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";

/// Longest one exchange with one server may take (Prometheus' DNS client: 2 s).
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(2);

/// Largest resolv.conf read; a real one is a few hundred bytes.
const MAX_RESOLV_CONF_BYTES: u64 = 64 << 10;

/// Most answer records used per name: a bound on one group's size (a 64 KiB TCP answer holds
/// fewer).
const MAX_RECORDS: usize = 10_000;

/// `/etc/resolv.conf` as Prometheus' DNS library reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` entries, in order.
    pub servers: Vec<String>,
    /// The search list (`search`, or `domain`; the last such line wins).
    pub search: Vec<String>,
    /// `options ndots:n` (default 1).
    pub ndots: usize,
    /// The servers' port (53).
    pub port: u16,
}

impl ResolvConf {
    /// Reads `text`; unknown lines and options are ignored.
    pub fn parse(text: &str) -> ResolvConf {
        let mut conf = ResolvConf {
            servers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            port: 53,
        };
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["nameserver", server, ..] => conf.servers.push((*server).to_owned()),
                ["domain", domain, ..] => conf.search = vec![(*domain).to_owned()],
                ["domain"] => conf.search.clear(),
                ["search", list @ ..] => {
                    conf.search = list.iter().map(|s| (*s).to_owned()).collect();
                }
                ["options", options @ ..] => {
                    for o in options {
                        if let Some(n) = o.strip_prefix("ndots:") {
                            // Go's Atoi: anything unparsable is 0; the value is clamped to 0..=15.
                            conf.ndots = n.parse::<i64>().unwrap_or(0).clamp(0, 15) as usize;
                        }
                    }
                }
                _ => {}
            }
        }
        conf
    }

    /// Reads the file at `path`.
    pub fn read(path: &Path) -> Result<ResolvConf, String> {
        use std::io::Read as _;
        let load = |e: std::io::Error| format!("could not load resolv.conf: {e}");
        let file = std::fs::File::open(path).map_err(load)?;
        let mut bytes = Vec::new();
        file.take(MAX_RESOLV_CONF_BYTES)
            .read_to_end(&mut bytes)
            .map_err(load)?;
        Ok(ResolvConf::parse(&String::from_utf8_lossy(&bytes)))
    }

    /// The names to ask for `name`, in order (Prometheus' DNS library's `NameList`).
    pub fn name_list(&self, name: &str) -> Vec<String> {
        if is_fqdn(name) {
            return vec![name.to_owned()];
        }
        let as_is_first = count_labels(name) > self.ndots;
        let fqdn = format!("{name}.");
        let mut out = Vec::with_capacity(self.search.len() + 1);
        if as_is_first {
            out.push(fqdn.clone());
        }
        for suffix in &self.search {
            let mut candidate = format!("{fqdn}{suffix}");
            if !is_fqdn(&candidate) {
                candidate.push('.');
            }
            out.push(candidate);
        }
        if !as_is_first {
            out.push(fqdn);
        }
        out
    }
}

/// Whether `name` ends in an unescaped dot.
fn is_fqdn(name: &str) -> bool {
    let Some(stem) = name.strip_suffix('.') else {
        return false;
    };
    let backslashes = stem.bytes().rev().take_while(|b| *b == b'\\').count();
    backslashes % 2 == 0
}

/// The number of labels of `name` (the root has none).
fn count_labels(name: &str) -> usize {
    name.split('.').filter(|l| !l.is_empty()).count()
}

/// `host:port` as Go's `net.JoinHostPort` writes it (brackets when the host has a colon).
fn join_host_port(host: &str, port: u64) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

fn record_type(t: DnsRecordType) -> RecordType {
    match t {
        DnsRecordType::Srv => RecordType::SRV,
        DnsRecordType::A => RecordType::A,
        DnsRecordType::Aaaa => RecordType::AAAA,
        DnsRecordType::Mx => RecordType::MX,
        DnsRecordType::Ns => RecordType::NS,
    }
}

/// One exchange with one server: UDP, then TCP when the answer is truncated.
async fn exchange(
    server: SocketAddr,
    name: &Name,
    qtype: RecordType,
) -> Result<DnsResponse, String> {
    let provider = TokioRuntimeProvider::default();
    let udp = UdpClientStream::builder(server, provider.clone())
        .with_timeout(Some(EXCHANGE_TIMEOUT))
        .build();
    let (mut client, background) = Client::connect(udp).await.map_err(|e| e.to_string())?;
    let background = tokio::spawn(background);
    let answer = client.query(name.clone(), DNSClass::IN, qtype).await;
    background.abort();
    let answer = answer.map_err(|e| e.to_string())?;
    if !answer.truncated() {
        return Ok(answer);
    }
    let (stream, handle) = TcpClientStream::new(server, None, Some(EXCHANGE_TIMEOUT), provider);
    let (mut client, background) = Client::with_timeout(stream, handle, EXCHANGE_TIMEOUT, None)
        .await
        .map_err(|e| e.to_string())?;
    client.disable_edns();
    let background = tokio::spawn(background);
    let answer = client.query(name.clone(), DNSClass::IN, qtype).await;
    background.abort();
    let answer = answer.map_err(|e| e.to_string())?;
    if answer.truncated() {
        return Err("got truncated message on TCP (64kiB limit exceeded?)".to_owned());
    }
    Ok(answer)
}

/// Asks each server in turn for `name` until one answers NOERROR or NXDOMAIN.
async fn lookup_from_any_server(
    name: &str,
    qtype: RecordType,
    conf: &ResolvConf,
) -> Result<DnsResponse, String> {
    let parsed = Name::from_ascii(name);
    for server in &conf.servers {
        let result = match (&parsed, server.parse::<IpAddr>()) {
            (Err(e), _) => Err(e.to_string()),
            (_, Err(_)) => Err(format!("nameserver {server:?} is not an IP address")),
            (Ok(n), Ok(ip)) => exchange(SocketAddr::new(ip, conf.port), n, qtype).await,
        };
        match result {
            Ok(answer)
                if matches!(
                    answer.response_code(),
                    ResponseCode::NoError | ResponseCode::NXDomain
                ) =>
            {
                return Ok(answer)
            }
            Ok(answer) => {
                let err = format!("answer {}", answer.response_code());
                tracing::warn!(server = %server, name = %name, err = %err, "DNS resolution failed");
            }
            Err(err) => {
                tracing::warn!(server = %server, name = %name, err = %err, "DNS resolution failed");
            }
        }
    }
    Err(format!(
        "could not resolve {name}: no servers returned a viable answer"
    ))
}

/// The answer records for `name` through the search list of `conf`: `Ok` with no records when
/// every candidate is NXDOMAIN.
pub async fn lookup_with_search_path(
    name: &str,
    qtype: RecordType,
    conf: &ResolvConf,
) -> Result<Vec<Record>, String> {
    let mut all_valid = true;
    for candidate in conf.name_list(name) {
        match lookup_from_any_server(&candidate, qtype, conf).await {
            Err(_) => all_valid = false,
            Ok(answer) if answer.response_code() == ResponseCode::NoError => {
                let mut records = answer.into_message().take_answers();
                records.truncate(MAX_RECORDS);
                return Ok(records);
            }
            Ok(_) => {}
        }
    }
    if all_valid {
        return Ok(Vec::new());
    }
    Err(format!(
        "could not resolve {name:?}: all servers responded with errors to at least one search domain"
    ))
}

/// The target group of one name's answer records.
pub fn group(name: &str, records: &[Record], config: &DnsSdConfig) -> TargetGroup {
    let mut targets = Vec::with_capacity(records.len());
    for record in records {
        let mut labels = BTreeMap::new();
        let address = match record.data() {
            RData::SRV(srv) => {
                let target = srv.target().to_ascii();
                labels.insert("__meta_dns_srv_record_target".to_owned(), target.clone());
                labels.insert(
                    "__meta_dns_srv_record_port".to_owned(),
                    srv.port().to_string(),
                );
                join_host_port(target.trim_end_matches('.'), u64::from(srv.port()))
            }
            RData::MX(mx) => {
                let target = mx.exchange().to_ascii();
                labels.insert("__meta_dns_mx_record_target".to_owned(), target.clone());
                join_host_port(target.trim_end_matches('.'), config.port)
            }
            RData::NS(ns) => {
                let target = ns.0.to_ascii();
                labels.insert("__meta_dns_ns_record_target".to_owned(), target.clone());
                join_host_port(target.trim_end_matches('.'), config.port)
            }
            RData::A(a) => join_host_port(&a.0.to_string(), config.port),
            RData::AAAA(a) => join_host_port(&a.0.to_string(), config.port),
            // CNAME records come with the A/AAAA records they lead to.
            RData::CNAME(_) => continue,
            _ => {
                tracing::warn!(record = %record, "Invalid record");
                continue;
            }
        };
        labels.insert("__address__".to_owned(), address);
        labels.insert("__meta_dns_name".to_owned(), name.to_owned());
        targets.push(labels);
    }
    TargetGroup {
        source: name.to_owned(),
        targets,
        labels: BTreeMap::new(),
    }
}

/// A DNS SD provider: its names' last good groups.
#[derive(Debug)]
pub struct DnsProvider {
    config: DnsSdConfig,
    resolv_conf: PathBuf,
    last: BTreeMap<String, TargetGroup>,
}

impl DnsProvider {
    /// A provider for `config` reading [`RESOLV_CONF`]; `previous` are the groups an earlier
    /// provider with the same configuration had (a name that fails keeps its own).
    pub fn new(config: DnsSdConfig, previous: Vec<TargetGroup>) -> Self {
        Self::with_resolv_conf(config, previous, PathBuf::from(RESOLV_CONF))
    }

    /// As [`DnsProvider::new`], reading the resolver configuration from `path`.
    pub fn with_resolv_conf(
        config: DnsSdConfig,
        previous: Vec<TargetGroup>,
        path: PathBuf,
    ) -> Self {
        let last = previous
            .into_iter()
            .map(|g| (g.source.clone(), g))
            .collect();
        Self {
            config,
            resolv_conf: path,
            last,
        }
    }

    /// Looks every name up once (at the same time): the groups (a failing name keeps its last
    /// good one) and the errors.
    pub async fn refresh(&mut self, metrics: &SdMetrics) -> Outcome {
        let qtype = record_type(self.config.record_type);
        let conf = ResolvConf::read(&self.resolv_conf);
        let lookups = self.config.names.iter().map(|name| {
            let conf = &conf;
            async move {
                let result = match conf {
                    Ok(c) => lookup_with_search_path(name, qtype, c).await,
                    Err(e) => Err(e.clone()),
                };
                metrics.dns_lookups.inc();
                if result.is_err() {
                    metrics.dns_lookup_failures.inc();
                }
                (name, result)
            }
        });
        let results = futures_util::future::join_all(lookups).await;
        let mut next = BTreeMap::new();
        let mut groups = Vec::new();
        let mut errors = Vec::new();
        for (name, result) in results {
            if next.contains_key(name) {
                continue;
            }
            let g = match result {
                Ok(records) => Some(group(name, &records, &self.config)),
                Err(e) => {
                    tracing::error!(err = %e, "Error refreshing DNS targets");
                    errors.push(e);
                    self.last.get(name).cloned()
                }
            };
            if let Some(g) = g {
                next.insert(name.clone(), g.clone());
                groups.push(g);
            }
        }
        self.last = next;
        let error = (!errors.is_empty()).then(|| errors.join("; "));
        (Some(groups), error)
    }
}

/// Runs a provider until `cancel`: looks up at once, then every `refresh_interval`, records each
/// outcome into `state` and calls `changed` when the manager should re-sync.
pub async fn run(
    mut provider: DnsProvider,
    state: SharedState,
    metrics: SdMetrics,
    cancel: CancellationToken,
    changed: impl Fn(),
) {
    let mut tick = tokio::time::interval(provider.config.refresh_interval.0);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tick.tick() => {}
        }
        let outcome = tokio::select! {
            _ = cancel.cancelled() => return,
            o = provider.refresh(&metrics) => o,
        };
        if super::record(&state, outcome.0, outcome.1) {
            changed();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PromDuration;
    use hickory_client::proto::rr::rdata::{A, AAAA, CNAME, MX, NS, SRV, TXT};

    fn conf(text: &str) -> ResolvConf {
        ResolvConf::parse(text)
    }

    #[test]
    fn resolv_conf_as_prometheus_reads_it() {
        let c = conf(
            "# comment\nnameserver 10.0.0.1\nnameserver ::1 extra\nnameserver\nsearch a.example b.example\n\
             options rotate ndots:3 timeout:1\nbogus line\n",
        );
        assert_eq!(c.servers, ["10.0.0.1", "::1"]);
        assert_eq!(c.search, ["a.example", "b.example"]);
        assert_eq!((c.ndots, c.port), (3, 53));
        // `domain` replaces the list, the last line wins; ndots is clamped.
        let c = conf("search a b\ndomain d.example\noptions ndots:99\n");
        assert_eq!(c.search, ["d.example"]);
        assert_eq!(c.ndots, 15);
        let c = conf("domain d\nsearch\noptions ndots:-2 ndots:x\n");
        assert!(c.search.is_empty());
        assert_eq!(c.ndots, 0);
        assert_eq!(conf("").ndots, 1);
    }

    #[test]
    fn search_list_and_ndots() {
        let c = conf("search s1.example s2.example.\n");
        // One label, ndots 1: the search list first.
        assert_eq!(
            c.name_list("web"),
            ["web.s1.example.", "web.s2.example.", "web."]
        );
        // More labels than ndots: as is first.
        assert_eq!(
            c.name_list("_x._tcp.svc"),
            [
                "_x._tcp.svc.",
                "_x._tcp.svc.s1.example.",
                "_x._tcp.svc.s2.example."
            ]
        );
        assert_eq!(c.name_list("abs.example."), ["abs.example."]);
        let c = conf("search s\noptions ndots:0\n");
        assert_eq!(c.name_list("web"), ["web.", "web.s."]);
        assert!(!is_fqdn("a\\."));
        assert!(is_fqdn("a\\\\."));
    }

    fn config(t: DnsRecordType, port: u64) -> DnsSdConfig {
        DnsSdConfig {
            names: vec!["n".into()],
            refresh_interval: PromDuration(Duration::from_secs(30)),
            record_type: t,
            port,
        }
    }

    fn record(rdata: RData) -> Record {
        Record::from_rdata(Name::from_ascii("n.example.").unwrap(), 60, rdata)
    }

    #[test]
    fn records_become_targets_as_prometheus() {
        let host = |s: &str| Name::from_ascii(s).unwrap();
        let records = [
            record(RData::SRV(SRV::new(0, 0, 9100, host("node1.example.")))),
            record(RData::SRV(SRV::new(0, 0, 80, host(".")))),
            record(RData::CNAME(CNAME(host("x.example.")))),
            record(RData::TXT(TXT::new(vec!["t".into()]))),
        ];
        let g = group("_n._tcp.example", &records, &config(DnsRecordType::Srv, 0));
        assert_eq!(g.source, "_n._tcp.example");
        assert_eq!(g.targets.len(), 2);
        let t = &g.targets[0];
        assert_eq!(t["__address__"], "node1.example:9100");
        assert_eq!(t["__meta_dns_srv_record_target"], "node1.example.");
        assert_eq!(t["__meta_dns_srv_record_port"], "9100");
        assert_eq!(t["__meta_dns_name"], "_n._tcp.example");
        assert_eq!(t.len(), 4);
        assert_eq!(g.targets[1]["__address__"], ":80");

        let records = [
            record(RData::A(A::new(10, 0, 0, 1))),
            record(RData::AAAA(AAAA::new(0xfd00, 0, 0, 0, 0, 0, 0, 1))),
        ];
        let g = group("n", &records, &config(DnsRecordType::A, 9100));
        assert_eq!(g.targets[0]["__address__"], "10.0.0.1:9100");
        assert_eq!(g.targets[1]["__address__"], "[fd00::1]:9100");
        assert_eq!(g.targets[0].len(), 2);

        let records = [
            record(RData::MX(MX::new(10, host("mail.example.")))),
            record(RData::NS(NS(host("ns1.example.")))),
        ];
        let g = group("n", &records, &config(DnsRecordType::Mx, 25));
        assert_eq!(g.targets[0]["__address__"], "mail.example:25");
        assert_eq!(g.targets[0]["__meta_dns_mx_record_target"], "mail.example.");
        assert_eq!(g.targets[1]["__address__"], "ns1.example:25");
        assert_eq!(g.targets[1]["__meta_dns_ns_record_target"], "ns1.example.");
    }

    #[tokio::test]
    async fn a_server_that_never_answers_times_out_in_bounded_time() {
        // A UDP socket nobody reads from: every exchange waits its 2 s and gives up; the next
        // server answers (with an error too: nothing listens on its port).
        let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = silent.local_addr().unwrap().port();
        let conf = ResolvConf {
            servers: vec!["127.0.0.1".into(), "not-an-ip".into()],
            search: vec!["example".into()],
            ndots: 1,
            port,
        };
        let started = std::time::Instant::now();
        let err = lookup_with_search_path("a", RecordType::A, &conf)
            .await
            .unwrap_err();
        let took = started.elapsed();
        assert_eq!(
            err,
            "could not resolve \"a\": all servers responded with errors to at least one search domain"
        );
        // Two candidates (a.example., a.) × one silent server × 2 s.
        assert!(
            took >= Duration::from_secs(4) && took < Duration::from_secs(8),
            "{took:?}"
        );
        drop(silent);
    }

    #[tokio::test]
    async fn no_servers_or_no_file_fail_and_keep_the_last_groups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("resolv.conf");
        std::fs::write(&path, "search example\n").unwrap();
        let mut c = config(DnsRecordType::A, 80);
        c.names = vec!["a".into(), "b".into()];
        let previous = vec![TargetGroup {
            source: "a".into(),
            targets: vec![BTreeMap::from([(
                "__address__".into(),
                "1.2.3.4:80".into(),
            )])],
            labels: BTreeMap::new(),
        }];
        let metrics = SdMetrics::default();
        let mut p = DnsProvider::with_resolv_conf(c, previous.clone(), path.clone());
        let (groups, error) = p.refresh(&metrics).await;
        assert_eq!(groups.unwrap(), previous);
        assert_eq!(
            error.unwrap(),
            "could not resolve \"a\": all servers responded with errors to at least one search domain; \
             could not resolve \"b\": all servers responded with errors to at least one search domain"
        );
        assert_eq!(
            (metrics.dns_lookups.get(), metrics.dns_lookup_failures.get()),
            (2, 2)
        );
        std::fs::remove_file(&path).unwrap();
        let (groups, error) = p.refresh(&metrics).await;
        assert_eq!(groups.unwrap(), previous);
        assert!(error.unwrap().starts_with("could not load resolv.conf: "));
    }
}
