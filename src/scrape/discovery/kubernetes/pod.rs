//! Role `pod`: one target per container port (`<pod ip>:<port>`), or per container without
//! ports (`<pod ip>`); source `pod/<namespace>/<name>`; pods without an IP yield an empty group.

use super::meta::{self, add_node_labels, join_host_port, pod_labels, set, LabelSet, PREFIX};
use super::{Stores, TargetGroup};
use k8s_openapi::api::core::v1::Pod;

/// The group of one pod (Prometheus' `buildPod`).
pub(super) fn build(pod: &Pod, stores: &Stores, with_node: bool) -> TargetGroup {
    let mut tg = TargetGroup {
        source: format!("pod/{}", meta::key(&pod.metadata)),
        ..Default::default()
    };
    let status = pod.status.as_ref();
    let ip = status.and_then(|s| s.pod_ip.as_deref()).unwrap_or("");
    if ip.is_empty() {
        return tg;
    }
    tg.labels = pod_labels(pod);
    set(
        &mut tg.labels,
        meta::NAMESPACE,
        meta::namespace(&pod.metadata),
    );
    if with_node {
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        // Go passes a pointer to the (possibly empty) node name.
        add_node_labels(&mut tg.labels, stores, Some(node.unwrap_or("")));
    }
    meta::add_namespace_labels(&mut tg.labels, stores, meta::namespace(&pod.metadata));
    for (c, is_init) in meta::containers(pod) {
        let statuses = if is_init {
            status.and_then(|s| s.init_container_statuses.as_ref())
        } else {
            status.and_then(|s| s.container_statuses.as_ref())
        };
        let id = statuses
            .into_iter()
            .flatten()
            .find(|s| s.name == c.name)
            .and_then(|s| s.container_id.clone())
            .unwrap_or_default();
        let mut base = LabelSet::new();
        set(
            &mut base,
            format!("{PREFIX}pod_container_name"),
            c.name.clone(),
        );
        set(&mut base, format!("{PREFIX}pod_container_id"), id);
        set(
            &mut base,
            format!("{PREFIX}pod_container_image"),
            c.image.clone().unwrap_or_default(),
        );
        set(
            &mut base,
            format!("{PREFIX}pod_container_init"),
            is_init.to_string(),
        );
        let ports = c.ports.as_deref().unwrap_or_default();
        if ports.is_empty() {
            let mut t = base;
            set(&mut t, "__address__", ip);
            tg.targets.push(t);
            continue;
        }
        for p in ports {
            let port = (p.container_port as u32).to_string();
            let mut t = base.clone();
            set(&mut t, "__address__", join_host_port(ip, &port));
            set(&mut t, format!("{PREFIX}pod_container_port_number"), port);
            set(
                &mut t,
                format!("{PREFIX}pod_container_port_name"),
                p.name.clone().unwrap_or_default(),
            );
            set(
                &mut t,
                format!("{PREFIX}pod_container_port_protocol"),
                p.protocol.clone().unwrap_or_default(),
            );
            tg.targets.push(t);
        }
    }
    tg
}
