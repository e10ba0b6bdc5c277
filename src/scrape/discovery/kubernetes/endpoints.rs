//! Role `endpoints`: one target per address and port of each subset (ready and not ready), with
//! the service's labels on the group and, for an address backed by a known pod, the pod's labels
//! and the matching container port; then one target per container port of those pods that no
//! endpoint port covers. Source `endpoints/<namespace>/<name>`.

use super::meta::{self, add_node_labels, join_host_port, pod_labels, set, LabelSet, PREFIX};
use super::{service, Stores, TargetGroup};
use k8s_openapi::api::core::v1::{EndpointAddress, EndpointPort, Endpoints, Pod};

/// Pods seen behind the addresses (`namespace`, `name`), in first-seen order, with the
/// endpoint ports they serve.
pub(super) type SeenPods = Vec<(String, String, Vec<Option<i32>>)>;

/// Records `pod` as serving `port`.
pub(super) fn see(seen: &mut SeenPods, pod: &Pod, port: Option<i32>) {
    let ns = meta::namespace(&pod.metadata);
    let name = meta::name(&pod.metadata);
    match seen.iter_mut().find(|(n, p, _)| n == ns && p == name) {
        Some((_, _, ports)) => ports.push(port),
        None => seen.push((ns.to_owned(), name.to_owned(), vec![port])),
    }
}

/// Targets for the container ports of seen pods that no endpoint port serves.
pub(super) fn uncovered_ports(seen: &SeenPods, stores: &Stores, out: &mut Vec<LabelSet>) {
    for (ns, name, ports) in seen {
        let Some(pod) = stores.pod(ns, name) else {
            continue;
        };
        let Some(ip) = pod.status.as_ref().and_then(|s| s.pod_ip.as_deref()) else {
            continue;
        };
        if ip.is_empty() {
            continue;
        }
        for (c, is_init) in meta::containers(pod) {
            for cport in c.ports.iter().flatten() {
                if ports.contains(&Some(cport.container_port)) {
                    continue;
                }
                let port = (cport.container_port as u32).to_string();
                let mut t = LabelSet::new();
                set(&mut t, "__address__", join_host_port(ip, &port));
                set(
                    &mut t,
                    format!("{PREFIX}pod_container_name"),
                    c.name.clone(),
                );
                set(
                    &mut t,
                    format!("{PREFIX}pod_container_image"),
                    c.image.clone().unwrap_or_default(),
                );
                set(
                    &mut t,
                    format!("{PREFIX}pod_container_port_name"),
                    cport.name.clone().unwrap_or_default(),
                );
                set(&mut t, format!("{PREFIX}pod_container_port_number"), port);
                set(
                    &mut t,
                    format!("{PREFIX}pod_container_port_protocol"),
                    cport.protocol.clone().unwrap_or_default(),
                );
                set(
                    &mut t,
                    format!("{PREFIX}pod_container_init"),
                    is_init.to_string(),
                );
                t.extend(pod_labels(pod));
                out.push(t);
            }
        }
    }
}

/// Sets the container labels of the container port `port` of `pod`, if one has it;
/// `protocol` is the value of `..._port_protocol` (Prometheus takes the endpoint port's for
/// the endpoints role and the container port's for endpointslice).
pub(super) fn matching_container(
    t: &mut LabelSet,
    pod: &Pod,
    port: i32,
    protocol: impl Fn(&k8s_openapi::api::core::v1::ContainerPort) -> String,
) {
    for (c, is_init) in meta::containers(pod) {
        if let Some(cport) = c.ports.iter().flatten().find(|p| p.container_port == port) {
            set(t, format!("{PREFIX}pod_container_name"), c.name.clone());
            set(
                t,
                format!("{PREFIX}pod_container_image"),
                c.image.clone().unwrap_or_default(),
            );
            set(
                t,
                format!("{PREFIX}pod_container_port_name"),
                cport.name.clone().unwrap_or_default(),
            );
            set(
                t,
                format!("{PREFIX}pod_container_port_number"),
                (port as u32).to_string(),
            );
            set(
                t,
                format!("{PREFIX}pod_container_port_protocol"),
                protocol(cport),
            );
            set(
                t,
                format!("{PREFIX}pod_container_init"),
                is_init.to_string(),
            );
        }
    }
}

/// The group of one Endpoints object (Prometheus' `buildEndpoints`).
pub(super) fn build(eps: &Endpoints, stores: &Stores, with_node: bool) -> TargetGroup {
    let ns = meta::namespace(&eps.metadata);
    let name = meta::name(&eps.metadata);
    let mut labels = LabelSet::new();
    set(&mut labels, meta::NAMESPACE, ns);
    if let Some(svc) = stores.service(ns, name) {
        labels.extend(service::labels(svc));
    }
    meta::add_object_meta(&mut labels, &eps.metadata, "endpoints");
    meta::add_namespace_labels(&mut labels, stores, ns);
    let mut tg = TargetGroup {
        source: format!("endpoints/{ns}/{name}"),
        targets: Vec::new(),
        labels,
    };
    let mut seen = SeenPods::new();
    let mut add =
        |addr: &EndpointAddress, port: &EndpointPort, ready: &str, seen: &mut SeenPods| {
            let number = (port.port as u32).to_string();
            let mut t = LabelSet::new();
            set(&mut t, "__address__", join_host_port(&addr.ip, &number));
            set(
                &mut t,
                format!("{PREFIX}endpoint_port_name"),
                port.name.clone().unwrap_or_default(),
            );
            set(
                &mut t,
                format!("{PREFIX}endpoint_port_protocol"),
                port.protocol.clone().unwrap_or_default(),
            );
            set(&mut t, format!("{PREFIX}endpoint_ready"), ready);
            if let Some(r) = &addr.target_ref {
                set(
                    &mut t,
                    format!("{PREFIX}endpoint_address_target_kind"),
                    r.kind.clone().unwrap_or_default(),
                );
                set(
                    &mut t,
                    format!("{PREFIX}endpoint_address_target_name"),
                    r.name.clone().unwrap_or_default(),
                );
            }
            if let Some(n) = &addr.node_name {
                set(&mut t, format!("{PREFIX}endpoint_node_name"), n.clone());
            }
            if let Some(h) = addr.hostname.as_ref().filter(|h| !h.is_empty()) {
                set(&mut t, format!("{PREFIX}endpoint_hostname"), h.clone());
            }
            if with_node {
                let target_node = addr
                    .target_ref
                    .as_ref()
                    .filter(|r| r.kind.as_deref() == Some("Node"))
                    .map(|r| r.name.as_deref().unwrap_or(""));
                add_node_labels(&mut t, stores, addr.node_name.as_deref().or(target_node));
            }
            let pod = addr
                .target_ref
                .as_ref()
                .filter(|r| r.kind.as_deref() == Some("Pod"))
                .and_then(|r| {
                    stores.pod(
                        r.namespace.as_deref().unwrap_or(""),
                        r.name.as_deref().unwrap_or(""),
                    )
                });
            let Some(pod) = pod else {
                tg.targets.push(t);
                return;
            };
            t.extend(pod_labels(pod));
            let protocol = port.protocol.clone().unwrap_or_default();
            matching_container(&mut t, pod, port.port, |_| protocol.clone());
            see(seen, pod, Some(port.port));
            tg.targets.push(t);
        };
    for ss in eps.subsets.iter().flatten() {
        for port in ss.ports.iter().flatten() {
            for addr in ss.addresses.iter().flatten() {
                add(addr, port, "true", &mut seen);
            }
            for addr in ss.not_ready_addresses.iter().flatten() {
                add(addr, port, "false", &mut seen);
            }
        }
    }
    match eps
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("endpoints.kubernetes.io/over-capacity"))
        .map(String::as_str)
    {
        Some("truncated") => tracing::warn!(
            endpoint = %name,
            "Number of endpoints in one Endpoints object exceeds 1000 and has been truncated, \
             please use \"role: endpointslice\" instead"
        ),
        Some("warning") => tracing::warn!(
            endpoint = %name,
            "Number of endpoints in one Endpoints object exceeds 1000, please use \
             \"role: endpointslice\" instead"
        ),
        _ => {}
    }
    uncovered_ports(&seen, stores, &mut tg.targets);
    tg
}
