//! Role `node`: one target per node, `<address>:<kubelet port>` with `instance` set to the node
//! name; the address is the first of InternalIP, InternalDNS, ExternalIP, ExternalDNS,
//! LegacyHostIP, Hostname; source `node/<name>`.

use super::meta::{self, join_host_port, sanitize, set, LabelSet, PREFIX};
use super::TargetGroup;
use k8s_openapi::api::core::v1::Node;
use std::collections::BTreeMap;

/// The group of one node (Prometheus' `buildNode`); `Err(source)` when the node has no address
/// (Prometheus then sends nothing, so the node's last group stays).
pub(super) fn build(node: &Node) -> Result<TargetGroup, String> {
    let name = meta::name(&node.metadata);
    let mut labels = LabelSet::new();
    set(
        &mut labels,
        format!("{PREFIX}node_provider_id"),
        node.spec
            .as_ref()
            .and_then(|s| s.provider_id.clone())
            .unwrap_or_default(),
    );
    meta::add_object_meta(&mut labels, &node.metadata, "node");
    let status = node.status.as_ref();
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in status
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
    {
        by_type.entry(&a.type_).or_default().push(&a.address);
    }
    let order = [
        "InternalIP",
        "InternalDNS",
        "ExternalIP",
        "ExternalDNS",
        "LegacyHostIP",
        "Hostname",
    ];
    let Some(addr) = order.iter().find_map(|t| by_type.get(t).map(|a| a[0])) else {
        tracing::warn!(node = %name, "No node address found: host address unknown");
        return Err(format!("node/{name}"));
    };
    let port = status
        .and_then(|s| s.daemon_endpoints.as_ref())
        .and_then(|d| d.kubelet_endpoint.as_ref())
        .map_or(0, |k| k.port);
    let mut t = LabelSet::new();
    set(
        &mut t,
        "__address__",
        join_host_port(addr, &port.to_string()),
    );
    set(&mut t, "instance", name);
    for (ty, a) in &by_type {
        set(
            &mut t,
            sanitize(&format!("{PREFIX}node_address_{ty}")),
            a[0],
        );
    }
    Ok(TargetGroup {
        source: format!("node/{name}"),
        targets: vec![t],
        labels,
    })
}
