//! Labels shared by the roles: an object's name, labels and annotations, a pod's labels (used by
//! the pod, endpoints and endpointslice roles), a node's labels (`attach_metadata.node`), and
//! Prometheus' `SanitizeLabelName` and Go's `net.JoinHostPort`.

use super::Stores;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;

/// A label set of a target or group.
pub(super) type LabelSet = BTreeMap<String, String>;

/// Every meta label starts so.
pub(super) const PREFIX: &str = "__meta_kubernetes_";

/// `__meta_kubernetes_namespace`.
pub(super) const NAMESPACE: &str = "__meta_kubernetes_namespace";

/// Prometheus' `strutil.SanitizeLabelName`: every character outside `[a-zA-Z0-9_]` becomes `_`.
pub(super) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Go's `net.JoinHostPort`: brackets around a host holding a `:`.
pub(super) fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// Sets `name` to `value` (an owned copy).
pub(super) fn set(ls: &mut LabelSet, name: impl Into<String>, value: impl Into<String>) {
    ls.insert(name.into(), value.into());
}

/// Prometheus' `addObjectMetaLabels`: `<role>_name`, and per label and annotation its value and
/// a `...present_` label, names sanitised.
pub(super) fn add_object_meta(ls: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    set(
        ls,
        format!("{PREFIX}{role}_name"),
        meta.name.clone().unwrap_or_default(),
    );
    add_labels_and_annotations(ls, meta, role);
}

/// Prometheus 3.6's `addNamespaceLabels` (`attach_metadata.namespace`): the labels and
/// annotations of namespace `ns` when it is watched and known.
pub(super) fn add_namespace_labels(ls: &mut LabelSet, stores: &Stores, ns: &str) {
    if let Some(n) = stores.namespace(ns) {
        add_labels_and_annotations(ls, &n.metadata, "namespace");
    }
}

fn add_labels_and_annotations(ls: &mut LabelSet, meta: &ObjectMeta, role: &str) {
    for (k, v) in meta.labels.iter().flatten() {
        let ln = sanitize(k);
        set(ls, format!("{PREFIX}{role}_label_{ln}"), v.clone());
        set(ls, format!("{PREFIX}{role}_labelpresent_{ln}"), "true");
    }
    for (k, v) in meta.annotations.iter().flatten() {
        let ln = sanitize(k);
        set(ls, format!("{PREFIX}{role}_annotation_{ln}"), v.clone());
        set(ls, format!("{PREFIX}{role}_annotationpresent_{ln}"), "true");
    }
}

/// `namespace/name` of an object (just `name` for cluster objects such as nodes).
pub(super) fn key(meta: &ObjectMeta) -> String {
    let name = meta.name.as_deref().unwrap_or("");
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_owned(),
    }
}

/// The namespace of an object ("" when none).
pub(super) fn namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or("")
}

/// The name of an object ("" when none).
pub(super) fn name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or("")
}

/// Prometheus' `podReady`: the `Ready` condition's status, lowercased; `unknown` without one.
fn pod_ready(pod: &Pod) -> String {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .and_then(|c| c.iter().find(|c| c.type_ == "Ready"))
        .map_or_else(|| "unknown".to_owned(), |c| c.status.to_lowercase())
}

/// Prometheus' `podLabels`: ip, ready, phase, node name, host ip, uid, the pod's metadata and its
/// controller.
pub(super) fn pod_labels(pod: &Pod) -> LabelSet {
    let status = pod.status.as_ref();
    let spec = pod.spec.as_ref();
    let text = |v: Option<&String>| v.cloned().unwrap_or_default();
    let mut ls = LabelSet::new();
    set(
        &mut ls,
        format!("{PREFIX}pod_ip"),
        text(status.and_then(|s| s.pod_ip.as_ref())),
    );
    set(&mut ls, format!("{PREFIX}pod_ready"), pod_ready(pod));
    set(
        &mut ls,
        format!("{PREFIX}pod_phase"),
        text(status.and_then(|s| s.phase.as_ref())),
    );
    set(
        &mut ls,
        format!("{PREFIX}pod_node_name"),
        text(spec.and_then(|s| s.node_name.as_ref())),
    );
    set(
        &mut ls,
        format!("{PREFIX}pod_host_ip"),
        text(status.and_then(|s| s.host_ip.as_ref())),
    );
    set(
        &mut ls,
        format!("{PREFIX}pod_uid"),
        text(pod.metadata.uid.as_ref()),
    );
    add_object_meta(&mut ls, &pod.metadata, "pod");
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|r| r.controller == Some(true));
    if let Some(c) = controller {
        if !c.kind.is_empty() {
            set(
                &mut ls,
                format!("{PREFIX}pod_controller_kind"),
                c.kind.clone(),
            );
        }
        if !c.name.is_empty() {
            set(
                &mut ls,
                format!("{PREFIX}pod_controller_name"),
                c.name.clone(),
            );
        }
    }
    ls
}

/// A pod's containers then its init containers, each with whether it is an init container.
pub(super) fn containers(
    pod: &Pod,
) -> impl Iterator<Item = (&k8s_openapi::api::core::v1::Container, bool)> {
    let spec = pod.spec.as_ref();
    let main = spec
        .into_iter()
        .flat_map(|s| s.containers.iter().map(|c| (c, false)));
    let init = spec
        .and_then(|s| s.init_containers.as_ref())
        .into_iter()
        .flatten()
        .map(|c| (c, true));
    main.chain(init)
}

/// Prometheus' `addNodeLabels`: the node's name, labels and annotations when it is known.
pub(super) fn add_node_labels(ls: &mut LabelSet, stores: &Stores, node: Option<&str>) {
    let Some(node) = node.and_then(|n| stores.node(n)) else {
        return;
    };
    add_object_meta(ls, &node.metadata, "node");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sanitised_as_prometheus() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize("a-b_c9"), "a_b_c9");
        assert_eq!(sanitize("é"), "_");
        assert_eq!(join_host_port("10.0.0.1", "80"), "10.0.0.1:80");
        assert_eq!(join_host_port("fd00::1", "80"), "[fd00::1]:80");
    }
}
