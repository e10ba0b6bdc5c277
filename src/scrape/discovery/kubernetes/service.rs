//! Role `service`: one target per service port, `<name>.<namespace>.svc:<port>`; source
//! `svc/<namespace>/<name>`.

use super::meta::{self, join_host_port, set, LabelSet, PREFIX};
use super::{Stores, TargetGroup};
use k8s_openapi::api::core::v1::Service;

/// Prometheus' `serviceLabels`: the namespace and the service's metadata.
pub(super) fn labels(svc: &Service) -> LabelSet {
    let mut ls = LabelSet::new();
    set(&mut ls, meta::NAMESPACE, meta::namespace(&svc.metadata));
    meta::add_object_meta(&mut ls, &svc.metadata, "service");
    ls
}

/// The group of one service (Prometheus' `buildService`).
pub(super) fn build(svc: &Service, stores: &Stores) -> TargetGroup {
    let name = meta::name(&svc.metadata);
    let ns = meta::namespace(&svc.metadata);
    let mut tg = TargetGroup {
        source: format!("svc/{ns}/{name}"),
        targets: Vec::new(),
        labels: labels(svc),
    };
    meta::add_namespace_labels(&mut tg.labels, stores, ns);
    let spec = svc.spec.as_ref();
    let kind = spec.and_then(|s| s.type_.clone()).unwrap_or_default();
    for port in spec.and_then(|s| s.ports.as_ref()).into_iter().flatten() {
        let number = port.port.to_string();
        let mut t = LabelSet::new();
        set(
            &mut t,
            "__address__",
            join_host_port(&format!("{name}.{ns}.svc"), &number),
        );
        set(
            &mut t,
            format!("{PREFIX}service_port_name"),
            port.name.clone().unwrap_or_default(),
        );
        set(&mut t, format!("{PREFIX}service_port_number"), number);
        set(
            &mut t,
            format!("{PREFIX}service_port_protocol"),
            port.protocol.clone().unwrap_or_default(),
        );
        set(&mut t, format!("{PREFIX}service_type"), kind.clone());
        let text = |v: Option<&String>| v.cloned().unwrap_or_default();
        if kind == "ExternalName" {
            set(
                &mut t,
                format!("{PREFIX}service_external_name"),
                text(spec.and_then(|s| s.external_name.as_ref())),
            );
        } else {
            set(
                &mut t,
                format!("{PREFIX}service_cluster_ip"),
                text(spec.and_then(|s| s.cluster_ip.as_ref())),
            );
        }
        if kind == "LoadBalancer" {
            set(
                &mut t,
                format!("{PREFIX}service_loadbalancer_ip"),
                text(spec.and_then(|s| s.load_balancer_ip.as_ref())),
            );
        }
        tg.targets.push(t);
    }
    tg
}
