//! Role `ingress`: one target per rule and path, address the rule's host, scheme `https` when a
//! TLS entry's host (or `*.` wildcard) matches it; source `ingress/<namespace>/<name>`.

use super::meta::{self, set, LabelSet, PREFIX};
use super::{Stores, TargetGroup};
use k8s_openapi::api::networking::v1::Ingress;

/// Prometheus' `matchesHostnamePattern`.
fn matches_hostname_pattern(pattern: &str, host: &str) -> bool {
    if pattern == host {
        return true;
    }
    let pattern: Vec<&str> = pattern.split('.').collect();
    let host: Vec<&str> = host.split('.').collect();
    if pattern[0] != "*" || pattern.len() != host.len() {
        return false;
    }
    pattern[1..] == host[1..]
}

/// The group of one ingress (Prometheus' `buildIngress`).
pub(super) fn build(ingress: &Ingress, stores: &Stores) -> TargetGroup {
    let ns = meta::namespace(&ingress.metadata);
    let mut labels = LabelSet::new();
    set(&mut labels, meta::NAMESPACE, ns);
    let spec = ingress.spec.as_ref();
    if let Some(class) = spec.and_then(|s| s.ingress_class_name.as_ref()) {
        set(
            &mut labels,
            format!("{PREFIX}ingress_class_name"),
            class.clone(),
        );
    }
    meta::add_object_meta(&mut labels, &ingress.metadata, "ingress");
    meta::add_namespace_labels(&mut labels, stores, ns);
    let mut tg = TargetGroup {
        source: format!("ingress/{ns}/{}", meta::name(&ingress.metadata)),
        targets: Vec::new(),
        labels,
    };
    let tls_hosts: Vec<&str> = spec
        .and_then(|s| s.tls.as_ref())
        .into_iter()
        .flatten()
        .flat_map(|t| t.hosts.iter().flatten())
        .map(String::as_str)
        .collect();
    for rule in spec.and_then(|s| s.rules.as_ref()).into_iter().flatten() {
        let host = rule.host.as_deref().unwrap_or("");
        let scheme = if tls_hosts.iter().any(|p| matches_hostname_pattern(p, host)) {
            "https"
        } else {
            "http"
        };
        let paths: Vec<String> = match &rule.http {
            None => vec!["/".to_owned()],
            Some(h) => h
                .paths
                .iter()
                .map(|p| match p.path.as_deref() {
                    None | Some("") => "/".to_owned(),
                    Some(p) => p.to_owned(),
                })
                .collect(),
        };
        for path in paths {
            let mut t = LabelSet::new();
            set(&mut t, "__address__", host);
            set(&mut t, format!("{PREFIX}ingress_scheme"), scheme);
            set(&mut t, format!("{PREFIX}ingress_host"), host);
            set(&mut t, format!("{PREFIX}ingress_path"), path);
            tg.targets.push(t);
        }
    }
    tg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_patterns() {
        assert!(matches_hostname_pattern("a.example.com", "a.example.com"));
        assert!(matches_hostname_pattern("*.example.com", "a.example.com"));
        assert!(!matches_hostname_pattern(
            "*.example.com",
            "a.b.example.com"
        ));
        assert!(!matches_hostname_pattern("a.example.com", "b.example.com"));
        assert!(!matches_hostname_pattern("", "x"));
    }
}
