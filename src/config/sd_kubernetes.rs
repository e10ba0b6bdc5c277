//! `kubernetes_sd_configs` of a scrape job, with Prometheus' keys, defaults and validation
//! messages (`discovery/kubernetes/kubernetes.go`, `SDConfig.UnmarshalYAML`).
//!
//! Where the API server is: `api_server` (with the HTTP client keys `basic_auth`,
//! `authorization` and `tls_config`), `kubeconfig_file`, or, when neither is given, the pod's
//! in-cluster service account. `namespaces` (`names`, `own_namespace`), `selectors` (`role`,
//! `label`, `field`, passed to every list and watch) and `attach_metadata.node` as Prometheus
//! 3.5, plus `attach_metadata.namespace` of Prometheus 3.6. Other HTTP client keys Prometheus
//! accepts here (`oauth2`, `proxy_url`, ...) are refused as unknown fields, by name and line.

use super::decode::{yaml_section, At, Cx};
use super::error::{ErrorKind, Scope};
use super::http::TlsConfig;
use super::http::{self, Authorization, BasicAuth, RawAuthorization, RawBasicAuth, RawTlsConfig};
use super::secret::resolve_path;
use serde::Serialize;
use std::path::PathBuf;

yaml_section! {
    /// One `kubernetes_sd_configs` entry as written.
    pub(crate) struct RawKubernetesSdConfig {
        api_server: String,
        role: String,
        kubeconfig_file: String,
        basic_auth: RawBasicAuth,
        authorization: RawAuthorization,
        tls_config: RawTlsConfig,
        namespaces: RawNamespaces,
        selectors: Vec<At<RawSelector>>,
        attach_metadata: RawAttachMetadata,
    }
}

yaml_section! {
    /// `namespaces` as written.
    pub(crate) struct RawNamespaces {
        own_namespace: bool,
        names: Vec<String>,
    }
}

yaml_section! {
    /// One `selectors` entry as written.
    pub(crate) struct RawSelector {
        role: String,
        label: String,
        field: String,
    }
}

yaml_section! {
    /// `attach_metadata` as written.
    pub(crate) struct RawAttachMetadata {
        node: bool,
        namespace: bool,
    }
}

/// The kind of object a Kubernetes SD config turns into targets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KubernetesRole {
    /// One target per node (its kubelet).
    Node,
    /// One target per pod container port (or container without ports).
    Pod,
    /// One target per service port.
    Service,
    /// One target per `Endpoints` address and port.
    Endpoints,
    /// One target per `EndpointSlice` endpoint address and port.
    EndpointSlice,
    /// One target per ingress rule path.
    Ingress,
}

impl KubernetesRole {
    /// Every role, in Prometheus' order of its error message.
    pub const ALL: [KubernetesRole; 6] = [
        KubernetesRole::Pod,
        KubernetesRole::Service,
        KubernetesRole::Endpoints,
        KubernetesRole::EndpointSlice,
        KubernetesRole::Node,
        KubernetesRole::Ingress,
    ];

    /// The name as written in the config (`endpoints`, `endpointslice`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            KubernetesRole::Node => "node",
            KubernetesRole::Pod => "pod",
            KubernetesRole::Service => "service",
            KubernetesRole::Endpoints => "endpoints",
            KubernetesRole::EndpointSlice => "endpointslice",
            KubernetesRole::Ingress => "ingress",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// The selector roles a config of this role accepts (Prometheus' `allowedSelectors`).
    fn allowed_selectors(self) -> &'static [KubernetesRole] {
        use KubernetesRole::*;
        match self {
            Pod => &[Pod],
            Service => &[Service],
            EndpointSlice => &[Pod, Service, EndpointSlice],
            Endpoints => &[Pod, Service, Endpoints],
            Node => &[Node],
            Ingress => &[Ingress],
        }
    }
}

impl Serialize for KubernetesRole {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// `namespaces`: which namespaces are watched (all when empty and `own_namespace` is false).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NamespaceDiscovery {
    /// Also watch the namespace the process runs in (in-cluster only).
    pub own_namespace: bool,
    /// Namespaces to watch.
    pub names: Vec<String>,
}

/// A `selectors` entry: label and field selectors for one kind of object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KubernetesSelector {
    /// The kind of object the selectors apply to.
    pub role: KubernetesRole,
    /// A label selector, e.g. `app=web,tier!=cache`.
    pub label: String,
    /// A field selector, e.g. `spec.nodeName=n1`.
    pub field: String,
}

/// `attach_metadata`: extra objects whose labels are added to the targets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct AttachMetadata {
    /// Add the node's labels and annotations (roles pod, endpoints, endpointslice).
    pub node: bool,
    /// Add the namespace's labels and annotations (every role but node; Prometheus 3.6).
    pub namespace: bool,
}

/// `kubernetes_sd_configs`: targets from the Kubernetes API, listed and then watched.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KubernetesSdConfig {
    /// The API server URL; none for a kubeconfig file or in-cluster credentials.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_server: Option<String>,
    /// The kind of object turned into targets.
    pub role: KubernetesRole,
    /// A kubeconfig file (its current context), resolved against the config directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kubeconfig_file: Option<PathBuf>,
    /// HTTP basic authentication towards `api_server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// `Authorization` credentials towards `api_server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization: Option<Authorization>,
    /// TLS settings towards `api_server`.
    pub tls_config: TlsConfig,
    /// The namespaces watched.
    pub namespaces: NamespaceDiscovery,
    /// Label and field selectors by kind of object.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub selectors: Vec<KubernetesSelector>,
    /// Extra metadata attached to targets.
    pub attach_metadata: AttachMetadata,
}

impl KubernetesSdConfig {
    /// The label and field selectors for objects of `role` (empty when none is configured).
    pub fn selector(&self, role: KubernetesRole) -> (&str, &str) {
        self.selectors
            .iter()
            .find(|s| s.role == role)
            .map_or(("", ""), |s| (s.label.as_str(), s.field.as_str()))
    }
}

/// Checks a label selector's syntax as Kubernetes' `labels.Parse` does: comma-separated
/// requirements `key`, `!key`, `key=v`, `key==v`, `key!=v`, `key in (a,b)`, `key notin (a,b)`,
/// `key>n`, `key<n`.
pub fn check_label_selector(selector: &str) -> Result<(), String> {
    for req in split_requirements(selector) {
        let req = req.trim();
        if req.is_empty() {
            if selector.trim().is_empty() {
                return Ok(());
            }
            return Err(format!("found ',', expected: identifier in {selector:?}"));
        }
        if let Some(key) = req.strip_prefix('!') {
            check_selector_key(key.trim())?;
            continue;
        }
        let (key, rest) = match req.find(['=', '!', '<', '>', ' ', '(']) {
            Some(i) => req.split_at(i),
            None => (req, ""),
        };
        check_selector_key(key)?;
        let rest = rest.trim_start();
        if rest.is_empty() {
            continue;
        }
        let value_list = |op: &str, rest: &str| -> Result<(), String> {
            let inner = rest
                .trim()
                .strip_prefix('(')
                .and_then(|r| r.strip_suffix(')'))
                .ok_or_else(|| {
                    format!("{op}: expected a parenthesised list of values in {req:?}")
                })?;
            inner
                .split(',')
                .try_for_each(|v| check_selector_value(v.trim()))
        };
        if let Some(r) = rest.strip_prefix("notin") {
            value_list("notin", r)?;
        } else if let Some(r) = rest.strip_prefix("in") {
            value_list("in", r)?;
        } else if let Some(v) = rest
            .strip_prefix("==")
            .or_else(|| rest.strip_prefix("!="))
            .or_else(|| rest.strip_prefix('='))
        {
            check_selector_value(v.trim())?;
        } else if let Some(v) = rest.strip_prefix('>').or_else(|| rest.strip_prefix('<')) {
            let v = v.trim();
            if v.parse::<i64>().is_err() {
                return Err(format!(
                    "for 'Gt', 'Lt' operators, the value must be an integer: {v:?}"
                ));
            }
        } else {
            return Err(format!(
                "found {rest:?}, expected: in, notin, =, ==, !=, gt, lt"
            ));
        }
    }
    Ok(())
}

/// Checks a field selector's syntax as Kubernetes' `fields.ParseSelector` does: comma-separated
/// `key=v`, `key==v` or `key!=v` terms (`\` escapes `,`, `=` and `\` in values).
pub fn check_field_selector(selector: &str) -> Result<(), String> {
    if selector.is_empty() {
        return Ok(());
    }
    let mut term = String::new();
    let mut terms = Vec::new();
    let mut chars = selector.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(n @ ('\\' | ',' | '=')) => {
                    term.push('\\');
                    term.push(n);
                }
                Some(n) => return Err(format!("invalid escape sequence: \\{n}")),
                None => return Err("unterminated escape sequence".to_owned()),
            },
            ',' => terms.push(std::mem::take(&mut term)),
            c => term.push(c),
        }
    }
    terms.push(term);
    for t in terms {
        let unescaped_eq = |s: &str| {
            let b = s.as_bytes();
            (0..b.len()).find(|&i| b[i] == b'=' && (i == 0 || b[i - 1] != b'\\'))
        };
        let key = if let Some(i) = t.find("!=") {
            &t[..i]
        } else if let Some(i) = unescaped_eq(&t) {
            &t[..i]
        } else {
            return Err(format!(
                "invalid selector: '{selector}'; can't understand '{t}'"
            ));
        };
        if key.trim().is_empty() {
            return Err(format!(
                "invalid selector: '{selector}'; can't understand '{t}'"
            ));
        }
    }
    Ok(())
}

fn split_requirements(selector: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in selector.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&selector[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&selector[start..]);
    out
}

/// A qualified name, optionally prefixed by a DNS subdomain and `/` (Kubernetes' label keys).
fn check_selector_key(key: &str) -> Result<(), String> {
    let name = match key.rsplit_once('/') {
        Some((prefix, name)) => {
            let ok = !prefix.is_empty()
                && prefix.len() <= 253
                && prefix.split('.').all(|p| {
                    !p.is_empty()
                        && p.bytes()
                            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                        && !p.starts_with('-')
                        && !p.ends_with('-')
                });
            if !ok {
                return Err(format!(
                    "invalid label key {key:?}: prefix part must be a DNS subdomain"
                ));
            }
            name
        }
        None => key,
    };
    if !is_qualified_value(name) || name.is_empty() {
        return Err(format!(
            "invalid label key {key:?}: name part must consist of alphanumeric characters, \
             '-', '_' or '.', and must start and end with an alphanumeric character"
        ));
    }
    Ok(())
}

fn check_selector_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_qualified_value(value) {
        return Ok(());
    }
    Err(format!(
        "invalid label value: {value:?}: a valid label must be an empty string or consist of \
         alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric \
         character"
    ))
}

fn is_qualified_value(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() <= 63
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
        && b.first().is_none_or(u8::is_ascii_alphanumeric)
        && b.last().is_none_or(u8::is_ascii_alphanumeric)
}

pub(crate) fn kubernetes_sd(
    raw: At<RawKubernetesSdConfig>,
    path: &str,
    scope: &Scope,
    cx: &mut Cx<'_>,
) -> KubernetesSdConfig {
    let pos = raw.pos;
    let raw = raw.value;
    let invalid = |cx: &mut Cx<'_>, at: super::Pos, message: String| {
        let path = path.to_owned();
        cx.error(at, ErrorKind::InvalidValue { path, message });
    };
    let role = match &raw.role {
        None if !raw.has("role") => {
            let message =
                "role missing (one of: pod, service, endpoints, endpointslice, node, ingress)";
            invalid(cx, pos, message.to_owned());
            KubernetesRole::Pod
        }
        None => KubernetesRole::Pod,
        Some(At { value, pos }) => KubernetesRole::parse(value).unwrap_or_else(|| {
            invalid(cx, *pos, format!("unknown Kubernetes SD role {value:?}"));
            KubernetesRole::Pod
        }),
    };
    let basic_auth = raw
        .basic_auth
        .clone()
        .map(|b| http::basic_auth(b.value, scope, cx));
    let authorization = raw
        .authorization
        .clone()
        .map(|a| http::authorization(a, scope, cx));
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
        .clone()
        .map(|t| http::tls_config(t.value, scope, cx))
        .unwrap_or_default();
    let api_server = raw.api_server.as_ref().map(|At { value, pos }| {
        let problem = match url::Url::parse(value) {
            Err(e) => Some(format!("parse {value:?}: {e}")),
            Ok(u) if u.scheme() != "http" && u.scheme() != "https" => {
                Some(format!("unsupported protocol scheme {:?}", u.scheme()))
            }
            Ok(u) if u.host_str().is_none_or(str::is_empty) => {
                Some("host is missing in URL".to_owned())
            }
            Ok(_) => None,
        };
        if let Some(message) = problem {
            let path = format!("{path}.api_server");
            cx.error(*pos, ErrorKind::InvalidValue { path, message });
        }
        value.clone()
    });
    let kubeconfig_file = raw.kubeconfig_file.as_ref().and_then(|At { value, pos }| {
        if value.is_empty() {
            return None;
        }
        let file = resolve_path(cx.dir, value);
        if let Err(source) = std::fs::File::open(&file) {
            let kind = ErrorKind::File {
                field: "kubeconfig_file",
                path: file.clone(),
                source,
            };
            cx.error(*pos, kind);
        }
        Some((file, *pos))
    });
    let custom_http = ["basic_auth", "authorization", "tls_config"]
        .into_iter()
        .find(|k| raw.has(k));
    let namespaces = raw.namespaces.as_ref().map(|n| &n.value);
    let own_namespace = namespaces.and_then(|n| n.own_namespace.clone());
    if let (Some(_), Some((_, kpos))) = (&api_server, &kubeconfig_file) {
        let message = "cannot use 'kubeconfig_file' and 'api_server' simultaneously";
        invalid(cx, *kpos, message.to_owned());
    } else if let (Some((_, kpos)), Some(_)) = (&kubeconfig_file, custom_http) {
        let message =
            "cannot use a custom HTTP client configuration together with 'kubeconfig_file'";
        invalid(cx, *kpos, message.to_owned());
    } else if let (None, Some(key)) = (&api_server, custom_http) {
        let message =
            "to use custom HTTP client configuration please provide the 'api_server' URL explicitly";
        let at = match key {
            "basic_auth" => raw.basic_auth.as_ref().map(|b| b.pos),
            "authorization" => raw.authorization.as_ref().map(|a| a.pos),
            _ => raw.tls_config.as_ref().map(|t| t.pos),
        };
        invalid(cx, at.unwrap_or(pos), message.to_owned());
    } else if let Some(At {
        value: true,
        pos: opos,
    }) = own_namespace
    {
        if api_server.is_some() {
            let message = "cannot use 'api_server' and 'namespaces.own_namespace' simultaneously";
            invalid(cx, opos, message.to_owned());
        } else if kubeconfig_file.is_some() {
            let message =
                "cannot use 'kubeconfig_file' and 'namespaces.own_namespace' simultaneously";
            invalid(cx, opos, message.to_owned());
        }
    }
    let mut selectors: Vec<KubernetesSelector> = Vec::new();
    for (i, s) in raw.selectors.iter().flat_map(|s| &s.value).enumerate() {
        let at = s.pos;
        let s = &s.value;
        let spath = format!("{path}.selectors[{i}]");
        let problem = |cx: &mut Cx<'_>, at, message: String| {
            let path = spath.clone();
            cx.error(at, ErrorKind::InvalidValue { path, message });
        };
        let srole = match &s.role {
            None => {
                problem(cx, at, "selector role missing".to_owned());
                continue;
            }
            Some(At { value, pos }) => match KubernetesRole::parse(value) {
                Some(r) => (r, *pos),
                None => {
                    problem(cx, *pos, format!("unknown Kubernetes SD role {value:?}"));
                    continue;
                }
            },
        };
        if selectors.iter().any(|x| x.role == srole.0) {
            problem(
                cx,
                srole.1,
                format!("duplicated selector role: {}", srole.0.as_str()),
            );
            continue;
        }
        let allowed = role.allowed_selectors();
        if !allowed.contains(&srole.0) {
            let names: Vec<&str> = allowed.iter().map(|r| r.as_str()).collect();
            let message = format!(
                "{} role supports only {} selectors",
                role.as_str(),
                names.join(", ")
            );
            problem(cx, srole.1, message);
            continue;
        }
        let field = s.field.clone().map(|f| (f.value, f.pos));
        let label = s.label.clone().map(|l| (l.value, l.pos));
        if let Some((f, fpos)) = &field {
            if let Err(e) = check_field_selector(f) {
                problem(cx, *fpos, e);
            }
        }
        if let Some((l, lpos)) = &label {
            if let Err(e) = check_label_selector(l) {
                problem(cx, *lpos, e);
            }
        }
        selectors.push(KubernetesSelector {
            role: srole.0,
            label: label.map(|l| l.0).unwrap_or_default(),
            field: field.map(|f| f.0).unwrap_or_default(),
        });
    }
    KubernetesSdConfig {
        api_server,
        role,
        kubeconfig_file: kubeconfig_file.map(|k| k.0),
        basic_auth,
        authorization: authorization.map(|a| a.value),
        tls_config,
        namespaces: NamespaceDiscovery {
            own_namespace: own_namespace.is_some_and(|o| o.value),
            names: namespaces
                .and_then(|n| n.names.clone())
                .map(|n| n.value)
                .unwrap_or_default(),
        },
        selectors,
        attach_metadata: AttachMetadata {
            node: raw
                .attach_metadata
                .as_ref()
                .and_then(|a| a.value.node.as_ref())
                .is_some_and(|n| n.value),
            namespace: raw
                .attach_metadata
                .as_ref()
                .and_then(|a| a.value.namespace.as_ref())
                .is_some_and(|n| n.value),
        },
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

    fn job(sd: &str) -> String {
        format!("scrape_configs:\n- job_name: k\n  kubernetes_sd_configs:\n{sd}")
    }

    #[test]
    fn every_key_is_read() {
        let text = job(
            "  - role: endpoints\n    api_server: https://k8s.example:6443\n    \
             authorization: {credentials: tok}\n    tls_config: {insecure_skip_verify: true}\n    \
             namespaces: {names: [a, b]}\n    selectors:\n    - role: pod\n      label: app=web\n    \
             - role: service\n      field: metadata.name=x\n    attach_metadata: {node: true, namespace: true}\n  \
             - role: node\n",
        );
        let cfg = parse_with_env(&text, "/d/c.yml", &|_| None).unwrap_or_else(|e| panic!("{e}"));
        let k = &cfg.scrape_configs[0].kubernetes_sd_configs;
        assert_eq!(k[0].role, KubernetesRole::Endpoints);
        assert_eq!(k[0].api_server.as_deref(), Some("https://k8s.example:6443"));
        assert_eq!(k[0].authorization.as_ref().unwrap().kind, "Bearer");
        assert!(k[0].tls_config.insecure_skip_verify);
        assert_eq!(k[0].namespaces.names, ["a", "b"]);
        assert_eq!(k[0].selector(KubernetesRole::Pod), ("app=web", ""));
        assert_eq!(
            k[0].selector(KubernetesRole::Service),
            ("", "metadata.name=x")
        );
        assert_eq!(k[0].selector(KubernetesRole::Endpoints), ("", ""));
        assert!(k[0].attach_metadata.node && k[0].attach_metadata.namespace);
        assert!(!k[1].attach_metadata.node && !k[1].attach_metadata.namespace);
        assert_eq!(k[1].role, KubernetesRole::Node);
        assert_eq!(k[1].api_server, None);
        assert_eq!(k[1].namespaces, NamespaceDiscovery::default());
    }

    #[test]
    fn validation_as_prometheus() {
        let cases = [
            (
                "  - api_server: http://a\n",
                "/d/c.yml:4:5: scrape_configs[0].kubernetes_sd_configs[0]: role missing (one of: pod, service, endpoints, endpointslice, node, ingress)",
            ),
            (
                "  - role: nodes\n",
                "/d/c.yml:4:11: scrape_configs[0].kubernetes_sd_configs[0]: unknown Kubernetes SD role \"nodes\"",
            ),
            (
                "  - role: pod\n    api_server: http://a\n    kubeconfig_file: /dev/null\n",
                "/d/c.yml:6:22: scrape_configs[0].kubernetes_sd_configs[0]: cannot use 'kubeconfig_file' and 'api_server' simultaneously",
            ),
            (
                "  - role: pod\n    kubeconfig_file: /dev/null\n    basic_auth: {username: u}\n",
                "/d/c.yml:5:22: scrape_configs[0].kubernetes_sd_configs[0]: cannot use a custom HTTP client configuration together with 'kubeconfig_file'",
            ),
            (
                "  - role: pod\n    authorization: {credentials: x}\n",
                "/d/c.yml:5:20: scrape_configs[0].kubernetes_sd_configs[0]: to use custom HTTP client configuration please provide the 'api_server' URL explicitly",
            ),
            (
                "  - role: pod\n    api_server: http://a\n    namespaces: {own_namespace: true}\n",
                "/d/c.yml:6:33: scrape_configs[0].kubernetes_sd_configs[0]: cannot use 'api_server' and 'namespaces.own_namespace' simultaneously",
            ),
            (
                "  - role: pod\n    selectors: [{role: pod}, {role: pod}]\n",
                "/d/c.yml:5:37: scrape_configs[0].kubernetes_sd_configs[0].selectors[1]: duplicated selector role: pod",
            ),
            (
                "  - role: service\n    selectors: [{role: pod}]\n",
                "/d/c.yml:5:24: scrape_configs[0].kubernetes_sd_configs[0].selectors[0]: service role supports only service selectors",
            ),
            (
                "  - role: endpoints\n    selectors: [{role: node}]\n",
                "/d/c.yml:5:24: scrape_configs[0].kubernetes_sd_configs[0].selectors[0]: endpoints role supports only pod, service, endpoints selectors",
            ),
            (
                "  - role: pod\n    api_server: ftp://a\n",
                "/d/c.yml:5:17: scrape_configs[0].kubernetes_sd_configs[0].api_server: unsupported protocol scheme \"ftp\"",
            ),
            (
                "  - role: pod\n    oauth2: {client_id: x}\n",
                "/d/c.yml:5:5: unknown field \"oauth2\" in scrape_configs[0].kubernetes_sd_configs[0]",
            ),
            (
                "  - role: pod\n    kubeconfig_file: /nonexistent/kc\n",
                "/d/c.yml:5:22: cannot read kubeconfig_file \"/nonexistent/kc\": No such file or directory (os error 2)",
            ),
        ];
        for (sd, want) in cases {
            assert_eq!(errors(&job(sd)), [want], "{sd}");
        }
    }

    #[test]
    fn selectors_are_checked() {
        for ok in [
            "",
            "app",
            "!app",
            "app=web",
            "app==web,tier!=cache",
            "env in (prod, dev)",
            "env notin (a)",
            "example.com/app=x",
            "n>3",
        ] {
            assert_eq!(check_label_selector(ok), Ok(()), "{ok}");
        }
        for bad in ["app=web=x", "-a=b", "a,,b", "env in prod", "n>x", "a b"] {
            assert!(check_label_selector(bad).is_err(), "{bad}");
        }
        for ok in [
            "",
            "spec.nodeName=n1",
            "metadata.name!=x,status.phase==Running",
            "a=b\\,c",
        ] {
            assert_eq!(check_field_selector(ok), Ok(()), "{ok}");
        }
        for bad in ["spec.nodeName", "=x", "a=b\\q"] {
            assert!(check_field_selector(bad).is_err(), "{bad}");
        }
    }
}
