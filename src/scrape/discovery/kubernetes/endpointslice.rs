//! Role `endpointslice` (`discovery.k8s.io/v1`): one target per endpoint, port and address, with
//! the service's labels on the group (found by the `kubernetes.io/service-name` label) and pod
//! labels as the endpoints role. Source `endpointslice/<namespace>/<name>`.

use super::endpoints::{matching_container, see, uncovered_ports, SeenPods};
use super::meta::{
    self, add_node_labels, join_host_port, pod_labels, sanitize, set, LabelSet, PREFIX,
};
use super::{service, Stores, TargetGroup};
use k8s_openapi::api::discovery::v1::{Endpoint, EndpointPort, EndpointSlice};

/// The group of one EndpointSlice (Prometheus' `buildEndpointSlice`).
pub(super) fn build(eps: &EndpointSlice, stores: &Stores, with_node: bool) -> TargetGroup {
    let ns = meta::namespace(&eps.metadata);
    let mut labels = LabelSet::new();
    set(&mut labels, meta::NAMESPACE, ns);
    set(
        &mut labels,
        format!("{PREFIX}endpointslice_address_type"),
        eps.address_type.clone(),
    );
    meta::add_object_meta(&mut labels, &eps.metadata, "endpointslice");
    let service_name = eps
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get("kubernetes.io/service-name"));
    if let Some(svc) = service_name.and_then(|n| stores.service(ns, n)) {
        labels.extend(service::labels(svc));
    }
    meta::add_namespace_labels(&mut labels, stores, ns);
    let mut tg = TargetGroup {
        source: format!("endpointslice/{ns}/{}", meta::name(&eps.metadata)),
        targets: Vec::new(),
        labels,
    };
    let mut seen = SeenPods::new();
    let mut add = |addr: &str, ep: &Endpoint, port: &EndpointPort, seen: &mut SeenPods| {
        let mut t = LabelSet::new();
        let address = match port.port {
            Some(p) => join_host_port(addr, &(p as u32).to_string()),
            None => addr.to_owned(),
        };
        set(&mut t, "__address__", address);
        if let Some(n) = &port.name {
            set(
                &mut t,
                format!("{PREFIX}endpointslice_port_name"),
                n.clone(),
            );
        }
        if let Some(p) = &port.protocol {
            set(
                &mut t,
                format!("{PREFIX}endpointslice_port_protocol"),
                p.clone(),
            );
        }
        if let Some(p) = port.port {
            set(
                &mut t,
                format!("{PREFIX}endpointslice_port"),
                (p as u32).to_string(),
            );
        }
        if let Some(a) = &port.app_protocol {
            set(
                &mut t,
                format!("{PREFIX}endpointslice_port_app_protocol"),
                a.clone(),
            );
        }
        let conditions = ep.conditions.as_ref();
        let conditions = [
            ("ready", conditions.and_then(|c| c.ready)),
            ("serving", conditions.and_then(|c| c.serving)),
            ("terminating", conditions.and_then(|c| c.terminating)),
        ];
        for (name, value) in conditions {
            if let Some(v) = value {
                let label = format!("{PREFIX}endpointslice_endpoint_conditions_{name}");
                set(&mut t, label, v.to_string());
            }
        }
        if let Some(h) = &ep.hostname {
            set(
                &mut t,
                format!("{PREFIX}endpointslice_endpoint_hostname"),
                h.clone(),
            );
        }
        if let Some(r) = &ep.target_ref {
            set(
                &mut t,
                format!("{PREFIX}endpointslice_address_target_kind"),
                r.kind.clone().unwrap_or_default(),
            );
            set(
                &mut t,
                format!("{PREFIX}endpointslice_address_target_name"),
                r.name.clone().unwrap_or_default(),
            );
        }
        if let Some(n) = &ep.node_name {
            set(
                &mut t,
                format!("{PREFIX}endpointslice_endpoint_node_name"),
                n.clone(),
            );
        }
        if let Some(z) = &ep.zone {
            set(
                &mut t,
                format!("{PREFIX}endpointslice_endpoint_zone"),
                z.clone(),
            );
        }
        for (k, v) in ep.deprecated_topology.iter().flatten() {
            let ln = sanitize(k);
            set(
                &mut t,
                format!("{PREFIX}endpointslice_endpoint_topology_{ln}"),
                v.clone(),
            );
            set(
                &mut t,
                format!("{PREFIX}endpointslice_endpoint_topology_present_{ln}"),
                "true",
            );
        }
        if with_node {
            let node = match &ep.target_ref {
                Some(r) if r.kind.as_deref() == Some("Node") => {
                    Some(r.name.as_deref().unwrap_or(""))
                }
                _ => ep.node_name.as_deref(),
            };
            add_node_labels(&mut t, stores, node);
        }
        let pod = ep
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
        if let Some(p) = port.port {
            matching_container(&mut t, pod, p, |c| c.protocol.clone().unwrap_or_default());
        }
        see(seen, pod, port.port);
        tg.targets.push(t);
    };
    for ep in &eps.endpoints {
        for port in eps.ports.iter().flatten() {
            for addr in &ep.addresses {
                add(addr, ep, port, &mut seen);
            }
        }
    }
    uncovered_ports(&seen, stores, &mut tg.targets);
    tg
}
