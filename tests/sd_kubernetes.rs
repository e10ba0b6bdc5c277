//! End to end (issue 12): `kubernetes_sd_configs` against the one Kubernetes API stand-in
//! (`tests/common/kube.rs`: a local HTTP server answering list and watch requests with objects
//! shaped as the API server returns them). watchfire reaches it through the same kube-rs client
//! code path as a real cluster: `api_server` pointing at it, a kubeconfig file naming it, or the
//! in-cluster service account (HTTPS, in a private mount namespace).
//!
//! Every role's targets and labels in `/api/v1/targets`; watch events (ADDED, MODIFIED,
//! DELETED) change the targets; selectors reach the list and watch requests; a failing API
//! server keeps the last targets, says why in `discoveryErrors` and
//! `prometheus_sd_kubernetes_failures_total`, and discovery recovers; Prometheus' own example
//! `prometheus-kubernetes.yml` passes `watchfire check config` and discovers targets, also
//! in-cluster; and the real Prometheus 3.5 on the same stand-in shows the same targets.

mod common;

use common::kube::Cluster;
use common::peers;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

fn pod(name: &str, ip: &str, labels: Value) -> Value {
    json!({
        "kind": "Pod",
        "metadata": {
            "name": name, "namespace": "default", "labels": labels,
            "annotations": {"prometheus.io/scrape": "true"},
            "uid": format!("uid-{name}"),
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7d4f8", "uid": "rs-1", "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": {
            "nodeName": "node-1",
            "containers": [
                {"name": "app", "image": "example/app:1.2", "ports": [
                    {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                    {"name": "admin", "containerPort": 9090, "protocol": "TCP"},
                ]},
                {"name": "sidecar", "image": "example/sidecar:3"},
            ],
            "initContainers": [{"name": "init", "image": "example/init:1", "ports": [{"containerPort": 7000, "protocol": "UDP"}]}],
        },
        "status": {
            "phase": "Running", "hostIP": "192.168.1.10", "podIP": ip,
            "podIPs": [{"ip": ip}],
            "conditions": [
                {"type": "Initialized", "status": "True"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T10:00:05Z"},
            ],
            "containerStatuses": [
                {"name": "app", "ready": true, "restartCount": 0, "image": "example/app:1.2", "imageID": "sha256:aa", "containerID": format!("containerd://{name}-app")},
                {"name": "sidecar", "ready": true, "restartCount": 0, "image": "example/sidecar:3", "imageID": "sha256:bb", "containerID": format!("containerd://{name}-sidecar")},
            ],
            "initContainerStatuses": [
                {"name": "init", "ready": true, "restartCount": 0, "image": "example/init:1", "imageID": "sha256:cc", "containerID": format!("containerd://{name}-init")},
            ],
        },
    })
}

fn cluster_objects() -> Vec<Value> {
    vec![
        json!({
            "kind": "Namespace",
            "metadata": {"name": "default", "labels": {"kubernetes.io/metadata.name": "default", "team": "shop"}, "annotations": {"owner": "ops@example.com"}},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        }),
        json!({
            "kind": "Node",
            "metadata": {"name": "node-1", "labels": {"kubernetes.io/hostname": "node-1", "topology.kubernetes.io/zone": "z1"}, "annotations": {"node.alpha.kubernetes.io/ttl": "0"}},
            "spec": {"providerID": "kind://docker/kind/node-1", "podCIDR": "10.244.0.0/24"},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "192.168.1.10"}, {"type": "Hostname", "address": "node-1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            },
        }),
        pod(
            "web-1",
            "10.244.0.5",
            json!({"app": "web", "pod-template-hash": "7d4f8"}),
        ),
        pod("pending-1", "", json!({"app": "web"})),
        json!({
            "kind": "Service",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "app.kubernetes.io/part-of": "shop"}},
            "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"], "selector": {"app": "web"},
                     "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}]},
            "status": {"loadBalancer": {}},
        }),
        json!({
            "kind": "Service",
            "metadata": {"name": "ext", "namespace": "default"},
            "spec": {"type": "ExternalName", "externalName": "db.example.com", "ports": [{"port": 5432, "protocol": "TCP"}]},
        }),
        json!({
            "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
            "subsets": [{
                "addresses": [{"ip": "10.244.0.5", "nodeName": "node-1", "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "uid-web-1"}}],
                "notReadyAddresses": [{"ip": "10.244.0.9", "hostname": "old-0"}],
                "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
            }],
        }),
        json!({
            "kind": "EndpointSlice",
            "metadata": {"name": "web-abcde", "namespace": "default", "labels": {"kubernetes.io/service-name": "web", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
            "addressType": "IPv4",
            "endpoints": [{
                "addresses": ["10.244.0.5"],
                "conditions": {"ready": true, "serving": true, "terminating": false},
                "nodeName": "node-1", "zone": "z1",
                "targetRef": {"kind": "Pod", "namespace": "default", "name": "web-1", "uid": "uid-web-1"},
            }],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP", "appProtocol": "http"}],
        }),
        json!({
            "kind": "Ingress",
            "metadata": {"name": "shop", "namespace": "default", "labels": {"app": "web"}},
            "spec": {
                "ingressClassName": "nginx",
                "tls": [{"hosts": ["*.example.com"], "secretName": "tls"}],
                "rules": [
                    {"host": "shop.example.com", "http": {"paths": [
                        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                        {"path": "/api", "pathType": "Prefix", "backend": {"service": {"name": "web", "port": {"number": 80}}}},
                    ]}},
                    {"host": "plain.test"},
                ],
            },
        }),
    ]
}

fn labels_of(v: &Value) -> BTreeMap<String, String> {
    v.as_object()
        .expect("labels object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect()
}

/// The discovered labels of each active target of `pool`, sorted by `__address__`.
fn discovered(base: &str, pool: &str) -> Vec<BTreeMap<String, String>> {
    let Some((200, body)) = get_json(&format!("{base}/api/v1/targets?scrapePool={pool}")) else {
        return Vec::new();
    };
    let mut out: Vec<_> = body["data"]["activeTargets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| labels_of(&t["discoveredLabels"]))
        .collect();
    out.sort_by(|a, b| a.get("__address__").cmp(&b.get("__address__")));
    out
}

fn addresses(targets: &[BTreeMap<String, String>]) -> Vec<String> {
    targets.iter().map(|t| t["__address__"].clone()).collect()
}

fn wait_addresses(base: &str, pool: &str, want: &[&str]) -> Vec<BTreeMap<String, String>> {
    let got = wait_for(Duration::from_secs(20), || {
        let t = discovered(base, pool);
        (addresses(&t) == want).then_some(t)
    });
    got.unwrap_or_else(|| {
        let errors = get_json(&format!("{base}/api/v1/targets"))
            .map(|(_, b)| b["data"]["discoveryErrors"].to_string());
        panic!(
            "pool {pool}: wanted {want:?}, have {:?}; discoveryErrors: {errors:?}",
            addresses(&discovered(base, pool))
        )
    })
}

/// The jobs of every role; `prometheus_3_6` adds a job with `attach_metadata.namespace`, which
/// Prometheus 3.5 does not know.
fn config(url: &str, prometheus_3_6: bool) -> String {
    let sd = |role: &str, extra: &str| {
        format!("  kubernetes_sd_configs:\n  - role: {role}\n    api_server: {url}\n{extra}")
    };
    [
        "global: {scrape_interval: 1m, scrape_timeout: 1s}\nscrape_configs:".to_owned(),
        format!("- job_name: pod\n{}", sd("pod", "    attach_metadata: {node: true}\n")),
        format!("- job_name: service\n{}", sd("service", "")),
        format!("- job_name: endpoints\n{}", sd("endpoints", "    namespaces: {names: [default]}\n")),
        format!("- job_name: endpointslice\n{}", sd("endpointslice", "    attach_metadata: {node: true}\n")),
        format!("- job_name: node\n{}", sd("node", "")),
        format!(
            "- job_name: ingress\n  relabel_configs: [{{source_labels: [__meta_kubernetes_ingress_path], target_label: path}}]\n{}",
            sd("ingress", "")
        ),
        format!(
            "- job_name: selected\n{}",
            sd("pod", "    selectors: [{role: pod, label: 'app=web,track!=canary', field: 'spec.nodeName=node-1'}]\n")
        ),
        format!(
            "- job_name: credentials\n{}",
            sd("node", "    authorization: {credentials: sd-token}\n")
        ),
        if prometheus_3_6 {
            format!(
                "- job_name: nsmeta\n{}",
                sd("service", "    attach_metadata: {namespace: true}\n")
            )
        } else {
            String::new()
        },
    ]
    .join("\n")
        + "\n"
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// What every active target has from the job.
fn job_labels(job: &str) -> Vec<(String, String)> {
    [
        ("job", job),
        ("__scheme__", "http"),
        ("__metrics_path__", "/metrics"),
        ("__scrape_interval__", "1m"),
        ("__scrape_timeout__", "1s"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

#[test]
fn every_role_discovers_with_prometheus_labels_and_follows_watches() {
    let cluster = Cluster::start();
    for o in cluster_objects() {
        cluster.apply(o);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("watchfire.yml"), config(&cluster.url, true)).unwrap();
    let port = free_port();
    let mut wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");

    // kubeconfig_file: its current context's cluster and user.
    let kubeconfig = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: test\n\
         clusters:\n- name: stand-in\n  cluster: {{server: '{}'}}\n\
         users:\n- name: sd\n  user: {{token: kc-token}}\n\
         contexts:\n- name: test\n  context: {{cluster: stand-in, user: sd, namespace: other}}\n",
        cluster.url
    );
    std::fs::write(dir.path().join("kubeconfig"), kubeconfig).unwrap();
    let with_kubeconfig = format!(
        "{}- job_name: kubeconfig\n  kubernetes_sd_configs:\n  - role: node\n    kubeconfig_file: kubeconfig\n",
        config(&cluster.url, true)
    );
    std::fs::write(dir.path().join("watchfire.yml"), with_kubeconfig).unwrap();
    // A reload adds the job; the unchanged providers keep running.
    let reloaded = wait_for(Duration::from_secs(20), || {
        let r = http().post(format!("{base}/-/reload")).send().ok()?;
        r.status().is_success().then_some(())
    });
    assert!(reloaded.is_some(), "reload");
    wait_addresses(&base, "kubeconfig", &["192.168.1.10:10250"]);
    wait_addresses(&base, "credentials", &["192.168.1.10:10250"]);
    let auth = cluster.authorizations();
    assert!(auth.iter().any(|a| a == "Bearer kc-token"), "{auth:?}");
    assert!(auth.iter().any(|a| a == "Bearer sd-token"), "{auth:?}");

    // Role pod: one target per container port, one per container without ports; the pod
    // without an IP gives none. The exact label set of one target, as Prometheus 3.5 builds it.
    let pods = wait_addresses(
        &base,
        "pod",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
        ],
    );
    let pod_common = [
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_ip", "10.244.0.5"),
        ("__meta_kubernetes_pod_ready", "true"),
        ("__meta_kubernetes_pod_phase", "Running"),
        ("__meta_kubernetes_pod_node_name", "node-1"),
        ("__meta_kubernetes_pod_host_ip", "192.168.1.10"),
        ("__meta_kubernetes_pod_uid", "uid-web-1"),
        ("__meta_kubernetes_pod_label_app", "web"),
        ("__meta_kubernetes_pod_labelpresent_app", "true"),
        ("__meta_kubernetes_pod_label_pod_template_hash", "7d4f8"),
        (
            "__meta_kubernetes_pod_labelpresent_pod_template_hash",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotation_prometheus_io_scrape",
            "true",
        ),
        (
            "__meta_kubernetes_pod_annotationpresent_prometheus_io_scrape",
            "true",
        ),
        ("__meta_kubernetes_pod_controller_kind", "ReplicaSet"),
        ("__meta_kubernetes_pod_controller_name", "web-7d4f8"),
    ];
    let node_meta = [
        ("__meta_kubernetes_node_name", "node-1"),
        (
            "__meta_kubernetes_node_label_kubernetes_io_hostname",
            "node-1",
        ),
        (
            "__meta_kubernetes_node_labelpresent_kubernetes_io_hostname",
            "true",
        ),
        (
            "__meta_kubernetes_node_label_topology_kubernetes_io_zone",
            "z1",
        ),
        (
            "__meta_kubernetes_node_labelpresent_topology_kubernetes_io_zone",
            "true",
        ),
        (
            "__meta_kubernetes_node_annotation_node_alpha_kubernetes_io_ttl",
            "0",
        ),
        (
            "__meta_kubernetes_node_annotationpresent_node_alpha_kubernetes_io_ttl",
            "true",
        ),
    ];
    let mut want = map(&pod_common);
    want.extend(map(&node_meta));
    want.extend(job_labels("pod"));
    want.extend(map(&[
        ("__address__", "10.244.0.5:8080"),
        ("__meta_kubernetes_pod_container_name", "app"),
        (
            "__meta_kubernetes_pod_container_id",
            "containerd://web-1-app",
        ),
        ("__meta_kubernetes_pod_container_image", "example/app:1.2"),
        ("__meta_kubernetes_pod_container_init", "false"),
        ("__meta_kubernetes_pod_container_port_name", "http"),
        ("__meta_kubernetes_pod_container_port_number", "8080"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]));
    assert_eq!(pods[2], want);
    assert_eq!(pods[0]["__meta_kubernetes_pod_container_name"], "sidecar");
    assert!(!pods[0].contains_key("__meta_kubernetes_pod_container_port_number"));
    assert_eq!(pods[1]["__meta_kubernetes_pod_container_init"], "true");
    assert_eq!(
        pods[1]["__meta_kubernetes_pod_container_port_protocol"],
        "UDP"
    );
    // An empty port name is an absent label, as in Prometheus.
    assert!(!pods[1].contains_key("__meta_kubernetes_pod_container_port_name"));

    // Role service.
    let svcs = wait_addresses(
        &base,
        "service",
        &["ext.default.svc:5432", "web.default.svc:80"],
    );
    let mut want = map(&[
        ("__address__", "web.default.svc:80"),
        ("__meta_kubernetes_namespace", "default"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_service_label_app", "web"),
        ("__meta_kubernetes_service_labelpresent_app", "true"),
        (
            "__meta_kubernetes_service_label_app_kubernetes_io_part_of",
            "shop",
        ),
        (
            "__meta_kubernetes_service_labelpresent_app_kubernetes_io_part_of",
            "true",
        ),
        ("__meta_kubernetes_service_port_name", "http"),
        ("__meta_kubernetes_service_port_number", "80"),
        ("__meta_kubernetes_service_port_protocol", "TCP"),
        ("__meta_kubernetes_service_type", "ClusterIP"),
        ("__meta_kubernetes_service_cluster_ip", "10.96.0.20"),
    ]);
    want.extend(job_labels("service"));
    assert_eq!(svcs[1], want);
    assert_eq!(
        svcs[0]["__meta_kubernetes_service_external_name"],
        "db.example.com"
    );
    assert!(!svcs[0].contains_key("__meta_kubernetes_service_cluster_ip"));
    // attach_metadata.namespace (Prometheus 3.6): the namespace's labels and annotations.
    let with_ns = wait_addresses(
        &base,
        "nsmeta",
        &["ext.default.svc:5432", "web.default.svc:80"],
    );
    let mut want = svcs[1].clone();
    want.insert("job".into(), "nsmeta".into());
    want.extend(map(&[
        (
            "__meta_kubernetes_namespace_label_kubernetes_io_metadata_name",
            "default",
        ),
        (
            "__meta_kubernetes_namespace_labelpresent_kubernetes_io_metadata_name",
            "true",
        ),
        ("__meta_kubernetes_namespace_label_team", "shop"),
        ("__meta_kubernetes_namespace_labelpresent_team", "true"),
        (
            "__meta_kubernetes_namespace_annotation_owner",
            "ops@example.com",
        ),
        (
            "__meta_kubernetes_namespace_annotationpresent_owner",
            "true",
        ),
    ]));
    assert_eq!(with_ns[1], want);

    // Role endpoints: the pod-backed address with the pod's and the service's labels, the
    // not-ready address, and the pod's container ports no endpoint port covers.
    let eps = wait_addresses(
        &base,
        "endpoints",
        &[
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
            "10.244.0.9:8080",
        ],
    );
    let mut want = map(&pod_common);
    want.extend(job_labels("endpoints"));
    want.extend(map(&[
        ("__address__", "10.244.0.5:8080"),
        ("__meta_kubernetes_endpoints_name", "web"),
        ("__meta_kubernetes_endpoints_label_app", "web"),
        ("__meta_kubernetes_endpoints_labelpresent_app", "true"),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_service_label_app", "web"),
        ("__meta_kubernetes_service_labelpresent_app", "true"),
        (
            "__meta_kubernetes_service_label_app_kubernetes_io_part_of",
            "shop",
        ),
        (
            "__meta_kubernetes_service_labelpresent_app_kubernetes_io_part_of",
            "true",
        ),
        ("__meta_kubernetes_endpoint_port_name", "http"),
        ("__meta_kubernetes_endpoint_port_protocol", "TCP"),
        ("__meta_kubernetes_endpoint_ready", "true"),
        ("__meta_kubernetes_endpoint_address_target_kind", "Pod"),
        ("__meta_kubernetes_endpoint_address_target_name", "web-1"),
        ("__meta_kubernetes_endpoint_node_name", "node-1"),
        ("__meta_kubernetes_pod_container_name", "app"),
        ("__meta_kubernetes_pod_container_image", "example/app:1.2"),
        ("__meta_kubernetes_pod_container_init", "false"),
        ("__meta_kubernetes_pod_container_port_name", "http"),
        ("__meta_kubernetes_pod_container_port_number", "8080"),
        ("__meta_kubernetes_pod_container_port_protocol", "TCP"),
    ]));
    assert_eq!(eps[1], want);
    assert_eq!(eps[3]["__meta_kubernetes_endpoint_ready"], "false");
    assert_eq!(eps[3]["__meta_kubernetes_endpoint_hostname"], "old-0");
    assert!(!eps[3].contains_key("__meta_kubernetes_pod_name"));
    assert_eq!(eps[2]["__meta_kubernetes_pod_container_port_name"], "admin");
    assert!(!eps[2].contains_key("__meta_kubernetes_endpoint_port_name"));

    // Role endpointslice.
    let slices = wait_addresses(
        &base,
        "endpointslice",
        &["10.244.0.5:7000", "10.244.0.5:8080", "10.244.0.5:9090"],
    );
    for (k, v) in [
        ("__meta_kubernetes_endpointslice_name", "web-abcde"),
        ("__meta_kubernetes_endpointslice_address_type", "IPv4"),
        (
            "__meta_kubernetes_endpointslice_label_kubernetes_io_service_name",
            "web",
        ),
        ("__meta_kubernetes_endpointslice_port", "8080"),
        ("__meta_kubernetes_endpointslice_port_name", "http"),
        ("__meta_kubernetes_endpointslice_port_protocol", "TCP"),
        ("__meta_kubernetes_endpointslice_port_app_protocol", "http"),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_ready",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_serving",
            "true",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_conditions_terminating",
            "false",
        ),
        (
            "__meta_kubernetes_endpointslice_endpoint_node_name",
            "node-1",
        ),
        ("__meta_kubernetes_endpointslice_endpoint_zone", "z1"),
        ("__meta_kubernetes_endpointslice_address_target_kind", "Pod"),
        (
            "__meta_kubernetes_endpointslice_address_target_name",
            "web-1",
        ),
        ("__meta_kubernetes_service_name", "web"),
        ("__meta_kubernetes_pod_name", "web-1"),
        ("__meta_kubernetes_pod_container_name", "app"),
    ] {
        assert_eq!(
            slices[1].get(k).map(String::as_str),
            Some(v),
            "{k} in {:#?}",
            slices[1]
        );
    }

    // Role node: the kubelet port, instance = node name, one label per address type.
    let nodes = wait_addresses(&base, "node", &["192.168.1.10:10250"]);
    let mut want = map(&node_meta);
    want.extend(job_labels("node"));
    want.extend(map(&[
        ("__address__", "192.168.1.10:10250"),
        ("instance", "node-1"),
        (
            "__meta_kubernetes_node_provider_id",
            "kind://docker/kind/node-1",
        ),
        ("__meta_kubernetes_node_address_InternalIP", "192.168.1.10"),
        ("__meta_kubernetes_node_address_Hostname", "node-1"),
    ]));
    assert_eq!(nodes[0], want);

    // Role ingress: https where a TLS host pattern matches, "/" for a rule without paths.
    let ing = wait_addresses(
        &base,
        "ingress",
        &["plain.test", "shop.example.com", "shop.example.com"],
    );
    let paths: Vec<(&str, &str, &str)> = ing
        .iter()
        .map(|t| {
            (
                t["__meta_kubernetes_ingress_host"].as_str(),
                t["__meta_kubernetes_ingress_scheme"].as_str(),
                t["__meta_kubernetes_ingress_path"].as_str(),
            )
        })
        .collect();
    let mut paths = paths;
    paths.sort();
    assert_eq!(
        paths,
        [
            ("plain.test", "http", "/"),
            ("shop.example.com", "https", "/"),
            ("shop.example.com", "https", "/api")
        ]
    );
    assert_eq!(ing[0]["__meta_kubernetes_ingress_class_name"], "nginx");
    assert_eq!(ing[0]["__meta_kubernetes_ingress_name"], "shop");

    // Selectors reach both the list and the watch requests, and the stand-in honours them.
    let selected = wait_addresses(
        &base,
        "selected",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
        ],
    );
    assert_eq!(selected.len(), 4);
    let requests = cluster.requests();
    let with_selector: Vec<&String> = requests
        .iter()
        .filter(|r| r.contains("labelSelector=app%3Dweb%2Ctrack%21%3Dcanary"))
        .collect();
    assert!(
        with_selector.iter().any(|r| !r.contains("watch=")),
        "no list with the selector: {requests:#?}"
    );
    assert!(
        with_selector
            .iter()
            .any(|r| r.contains("watch=") && r.contains("fieldSelector=spec.nodeName%3Dnode-1")),
        "no watch with the selectors: {requests:#?}"
    );
    // Namespaced watches for `namespaces.names`.
    assert!(requests
        .iter()
        .any(|r| r.starts_with("/api/v1/namespaces/default/endpoints")));

    // ADDED: a new pod; a canary the selector excludes.
    let mut p2 = pod("web-2", "10.244.0.6", json!({"app": "web"}));
    p2["spec"]["initContainers"] = json!([]);
    p2["spec"]["containers"] = json!([{"name": "app", "image": "example/app:1.3", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]);
    cluster.apply(p2.clone());
    let mut canary = p2.clone();
    canary["metadata"]["name"] = json!("web-3");
    canary["metadata"]["labels"] = json!({"app": "web", "track": "canary"});
    canary["status"]["podIP"] = json!("10.244.0.7");
    cluster.apply(canary);
    wait_addresses(
        &base,
        "pod",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
            "10.244.0.6:8080",
            "10.244.0.7:8080",
        ],
    );
    wait_addresses(
        &base,
        "selected",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
            "10.244.0.6:8080",
        ],
    );
    // MODIFIED: a label change and a new port.
    p2["metadata"]["labels"] = json!({"app": "web", "version": "v2"});
    p2["spec"]["containers"][0]["ports"] = json!([{"containerPort": 8081, "protocol": "TCP"}]);
    cluster.apply(p2);
    let after = wait_addresses(
        &base,
        "pod",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
            "10.244.0.6:8081",
            "10.244.0.7:8080",
        ],
    );
    assert_eq!(after[4]["__meta_kubernetes_pod_label_version"], "v2");
    // DELETED.
    cluster.delete("Pod", "default", "web-3");
    cluster.delete("Service", "default", "ext");
    wait_addresses(
        &base,
        "pod",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
            "10.244.0.6:8081",
        ],
    );
    wait_addresses(&base, "service", &["web.default.svc:80"]);

    // A cut watch resumes from its resource version; the change made meanwhile arrives.
    cluster.cut_watches();
    cluster.delete("Pod", "default", "web-2");
    wait_addresses(
        &base,
        "pod",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
        ],
    );

    // A failing API server: the targets stay, the pool says why, the failures are counted.
    cluster.set_failing(true);
    let why = wait_for(Duration::from_secs(20), || {
        let (_, body) = get_json(&format!("{base}/api/v1/targets"))?;
        let e = body["data"]["discoveryErrors"]["pod"].clone();
        (!e.is_null()).then_some(e)
    })
    .expect("discoveryErrors for pool pod");
    assert!(why.to_string().contains(&cluster.url), "{why}");
    assert!(why.to_string().contains("failed to list or watch"), "{why}");
    assert_eq!(addresses(&discovered(&base, "pod")).len(), 4);
    assert_eq!(
        addresses(&discovered(&base, "node")),
        ["192.168.1.10:10250"]
    );
    let (_, metrics) = get_text(&format!("{base}/metrics")).expect("metrics");
    let failures: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("prometheus_sd_kubernetes_failures_total "))
        .and_then(|v| v.trim().parse().ok())
        .expect("prometheus_sd_kubernetes_failures_total");
    assert!(failures >= 1.0, "{failures}");
    // Changes while failing are seen once it recovers (a re-list).
    cluster.delete("Pod", "default", "web-1");
    let mut p4 = pod("web-4", "10.244.0.8", json!({"app": "web"}));
    p4["spec"]["initContainers"] = json!([]);
    p4["spec"]["containers"] = json!([{"name": "app", "image": "example/app:1.4", "ports": [{"containerPort": 8080, "protocol": "TCP"}]}]);
    cluster.apply(p4);
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(addresses(&discovered(&base, "pod")).len(), 4);
    cluster.set_failing(false);
    wait_addresses(&base, "pod", &["10.244.0.8:8080"]);
    let cleared = wait_for(Duration::from_secs(20), || {
        let (_, body) = get_json(&format!("{base}/api/v1/targets"))?;
        body["data"]["discoveryErrors"]["pod"]
            .is_null()
            .then_some(())
    });
    assert!(cleared.is_some(), "discoveryErrors stays after recovery");
    wf.terminate(Duration::from_secs(10));
}

/// Prometheus' example file, with its service-account directory moved to `sa`.
///
/// `global.keep_dropped_targets` is taken out while this branch lacks it: the scrape options of
/// issue 12 (part 4) bring it; at merge this `replace` goes.
fn example_config(sa: &std::path::Path) -> String {
    let text = std::fs::read_to_string(
        crate_dir().join("../shared/conformance/configs/prometheus-kubernetes.yml"),
    )
    .expect("prometheus-kubernetes.yml");
    text.replace("  keep_dropped_targets: 100\n", "").replace(
        "/var/run/secrets/kubernetes.io/serviceaccount/",
        &format!("{}/", sa.display()),
    )
}

#[test]
fn prometheus_example_config_loads_and_discovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let sa = dir.path().join("sa");
    std::fs::create_dir(&sa).unwrap();
    std::fs::write(sa.join("ca.crt"), "").unwrap();
    std::fs::write(sa.join("token"), "t0ken\n").unwrap();
    let text = example_config(&sa);
    let check = dir.path().join("check.yml");
    std::fs::write(&check, &text).unwrap();
    let out = Command::new(watchfire_bin())
        .args(["check", "config"])
        .arg(&check)
        .output()
        .expect("run watchfire check config");
    assert!(
        out.status.success(),
        "check config: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The same file discovering from the stand-in: `api_server` added to each entry (in-cluster
    // credentials need the pod's service account, which a test process does not have).
    let cluster = Cluster::start();
    for o in cluster_objects() {
        cluster.apply(o);
    }
    // The apiserver's own endpoints, which the first job keeps.
    cluster.apply(json!({
        "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"component": "apiserver", "provider": "kubernetes"}},
        "spec": {"type": "ClusterIP", "clusterIP": "10.96.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": 6443}]},
    }));
    cluster.apply(json!({
        "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default", "labels": {"endpointslice.kubernetes.io/skip-mirror": "true"}},
        "subsets": [{"addresses": [{"ip": "192.168.1.10"}], "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}],
    }));
    let mut lines = Vec::new();
    for line in text.lines() {
        lines.push(line.to_owned());
        if let Some(indent) = line
            .strip_suffix("- role: endpoints")
            .or_else(|| line.strip_suffix("- role: node"))
            .or_else(|| line.strip_suffix("- role: service"))
            .or_else(|| line.strip_suffix("- role: ingress"))
            .or_else(|| line.strip_suffix("- role: pod"))
        {
            lines.push(format!("{indent}  api_server: {}", cluster.url));
        }
    }
    let run_config = lines
        .join("\n")
        .replace("global:\n", "global:\n  scrape_interval: 1m\n");
    assert_eq!(run_config.matches("api_server").count(), 7, "{run_config}");
    std::fs::write(dir.path().join("watchfire.yml"), run_config).unwrap();
    let port = free_port();
    let mut wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    let apiservers = wait_addresses(&base, "kubernetes-apiservers", &["192.168.1.10:6443"]);
    assert_eq!(
        apiservers[0]["__meta_kubernetes_service_name"],
        "kubernetes"
    );
    wait_addresses(&base, "kubernetes-nodes", &["192.168.1.10:10250"]);
    wait_addresses(&base, "kubernetes-cadvisor", &["192.168.1.10:10250"]);
    wait_addresses(
        &base,
        "kubernetes-services",
        &[
            "ext.default.svc:5432",
            "kubernetes.default.svc:443",
            "web.default.svc:80",
        ],
    );
    wait_addresses(
        &base,
        "kubernetes-ingresses",
        &["plain.test", "shop.example.com", "shop.example.com"],
    );
    wait_addresses(
        &base,
        "kubernetes-pods",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
        ],
    );
    // Relabeling ran on them: the node's labels mapped, the blackbox pattern's parameters set.
    let (_, body) = get_json(&format!(
        "{base}/api/v1/targets?scrapePool=kubernetes-ingresses"
    ))
    .unwrap();
    let urls: Vec<String> = body["data"]["activeTargets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["scrapeUrl"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        urls.contains(&"http://blackbox-exporter.example.com:9115/probe?module=http_2xx&target=https%3A%2F%2Fshop.example.com%2Fapi".to_owned()),
        "{urls:?}"
    );
    let (_, body) = get_json(&format!(
        "{base}/api/v1/targets?scrapePool=kubernetes-nodes"
    ))
    .unwrap();
    assert_eq!(
        body["data"]["activeTargets"][0]["labels"]["topology_kubernetes_io_zone"],
        "z1"
    );
    wf.terminate(Duration::from_secs(10));
}

/// Per pool, every active target's `labels`, `discoveredLabels` and `scrapeUrl`, and every
/// dropped target's `discoveredLabels`, as sorted JSON texts.
fn summary(base: &str) -> Option<BTreeMap<String, Vec<String>>> {
    let (status, body) = get_json(&format!("{base}/api/v1/targets"))?;
    if status != 200 {
        return None;
    }
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for t in body["data"]["activeTargets"].as_array()? {
        let pool = t["scrapePool"].as_str()?.to_owned();
        let text = json!([t["labels"], t["discoveredLabels"], t["scrapeUrl"]]).to_string();
        out.entry(pool).or_default().push(text);
    }
    for t in body["data"]["droppedTargets"].as_array()? {
        let pool = format!("dropped {}", t["scrapePool"].as_str()?);
        out.entry(pool)
            .or_default()
            .push(t["discoveredLabels"].to_string());
    }
    for v in out.values_mut() {
        v.sort();
    }
    Some(out)
}

fn compare(wf: &str, prom: &str, what: &str, diagnose: &dyn Fn() -> String) {
    let agreed = wait_for(Duration::from_secs(40), || {
        let (a, b) = (summary(wf)?, summary(prom)?);
        (a == b && a.len() >= 7).then_some(())
    });
    if agreed.is_some() {
        return;
    }
    let (a, b) = (
        summary(wf).unwrap_or_default(),
        summary(prom).unwrap_or_default(),
    );
    let mut report = String::new();
    for pool in a
        .keys()
        .chain(b.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (x, y) = (
            a.get(pool).cloned().unwrap_or_default(),
            b.get(pool).cloned().unwrap_or_default(),
        );
        for t in x.iter().filter(|t| !y.contains(t)) {
            report.push_str(&format!("{pool}: only in watchfire: {t}\n"));
        }
        for t in y.iter().filter(|t| !x.contains(t)) {
            report.push_str(&format!("{pool}: only in prometheus: {t}\n"));
        }
    }
    panic!("{what}: /api/v1/targets differ\n{report}\n{}", diagnose());
}

/// The differential proof of the labels: the real Prometheus 3.5 and watchfire load the same
/// configuration, discover from the same stand-in, and must show the same targets, before and
/// after watch events.
#[test]
fn labels_match_prometheus() {
    let Some(prom_bin) = peers::peer("prometheus") else {
        return;
    };
    let cluster = Cluster::start();
    for o in cluster_objects() {
        cluster.apply(o);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config_path = dir.path().join("watchfire.yml");
    std::fs::write(&config_path, config(&cluster.url, false)).unwrap();
    let wf_port = free_port();
    let mut wf = spawn_watchfire(dir.path(), wf_port, "watchfire", &[]);
    let prom_port = free_port();
    let mut cmd = Command::new(&prom_bin);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let mut prom = Proc::spawn("prometheus", cmd, dir.path());
    let wf_base = format!("http://127.0.0.1:{wf_port}");
    let prom_base = format!("http://127.0.0.1:{prom_port}");
    assert!(
        wait_listening(&format!("127.0.0.1:{prom_port}"), Duration::from_secs(30)),
        "prometheus did not start; see {}/prometheus.log",
        dir.path().display()
    );
    let diagnose = || {
        let log = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
        let tail: Vec<&str> = log.lines().rev().take(30).collect();
        format!(
            "requests: {:#?}\nprometheus.log (last lines, newest first):\n{}",
            cluster.requests(),
            tail.join("\n")
        )
    };
    compare(&wf_base, &prom_base, "initial", &diagnose);
    let mut p2 = pod("web-2", "fd00::6", json!({"app": "web", "a.b/c-d": "x"}));
    p2["status"]["conditions"] = json!([]);
    // Without the port-less sidecar: Prometheus lists `http://fd00::6/metrics` for it, an URL
    // watchfire's scrape client cannot parse, so watchfire leaves that target out.
    p2["spec"]["containers"] = json!([p2["spec"]["containers"][0].clone()]);
    p2["metadata"]["ownerReferences"] = json!([]);
    cluster.apply(p2);
    cluster.delete("Service", "default", "ext");
    cluster.apply(json!({
        "kind": "Service",
        "metadata": {"name": "lb", "namespace": "default", "annotations": {"x/y": "z"}},
        "spec": {"type": "LoadBalancer", "clusterIP": "10.96.0.30", "loadBalancerIP": "1.2.3.4", "ports": [{"name": "a", "port": 1, "protocol": "UDP"}, {"port": 2, "protocol": "TCP"}]},
    }));
    // Both have seen the events before they are compared.
    for base in [&wf_base, &prom_base] {
        let seen = wait_for(Duration::from_secs(30), || {
            let text = format!("{:?}", summary(base)?);
            (text.contains("[fd00::6]:8080")
                && text.contains("lb.default.svc:2")
                && !text.contains("ext.default.svc"))
            .then_some(())
        });
        assert!(seen.is_some(), "{base} did not see the watch events");
    }
    compare(&wf_base, &prom_base, "after watch events", &diagnose);
    prom.terminate(Duration::from_secs(10));
    wf.terminate(Duration::from_secs(10));
}

/// Runs `openssl` with `args` in `dir`; panics with its output on failure.
fn openssl(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// In-cluster credentials, the way Prometheus' example file uses them (no `api_server`, no
/// `kubeconfig_file`): watchfire runs in a private mount namespace where
/// `/var/run/secrets/kubernetes.io/serviceaccount/` holds a token, the CA of the stand-in's
/// certificate and a namespace, with `KUBERNETES_SERVICE_HOST`/`_PORT` naming the stand-in
/// (HTTPS). Needs root and `unshare`, as CI has; skipped with a message otherwise, failing
/// under CI.
#[test]
fn in_cluster_service_account_runs_the_example_unchanged() {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root || !have("unshare") || !have("openssl") {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs as root with unshare and openssl"
        );
        eprintln!("skipped: needs root, unshare and openssl");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(
        d.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(
        d.join("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.csr",
        "-subj",
        "/CN=stand-in CA",
    ]);
    openssl(d, &ca);
    openssl(
        d,
        &[
            "x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-out", "ca.pem", "-days", "2",
            "-extfile", "ca.ext",
        ],
    );
    let mut req = vec!["req"];
    req.extend(ec);
    req.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(d, &req);
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
    let cluster = Cluster::start_tls(&d.join("server.pem"), &d.join("server.key"));
    for o in cluster_objects() {
        cluster.apply(o);
    }
    let sa = d.join("sa");
    std::fs::create_dir(&sa).unwrap();
    std::fs::copy(d.join("ca.pem"), sa.join("ca.crt")).unwrap();
    std::fs::write(sa.join("token"), "sa-token").unwrap();
    std::fs::write(sa.join("namespace"), "default").unwrap();
    // Prometheus' example, unchanged but for `global.keep_dropped_targets` (see
    // `example_config`).
    let text = std::fs::read_to_string(
        crate_dir().join("../shared/conformance/configs/prometheus-kubernetes.yml"),
    )
    .unwrap()
    .replace("  keep_dropped_targets: 100\n", "");
    // Plus a job watching only the pod's own namespace (read from the service account).
    let text = format!(
        "{text}\n  - job_name: own\n    kubernetes_sd_configs:\n      - role: pod\n        \
         namespaces: {{own_namespace: true}}\n"
    );
    std::fs::write(d.join("watchfire.yml"), text).unwrap();
    let port = free_port();
    let host_port = cluster.url.rsplit_once(':').unwrap().1.to_owned();
    let script = format!(
        "mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount && \
         mount --bind '{sa}' /run/secrets/kubernetes.io/serviceaccount && \
         exec '{bin}' run --config '{cfg}' --listen 127.0.0.1:{port} --storage.path '{data}'",
        sa = sa.display(),
        bin = watchfire_bin().display(),
        cfg = d.join("watchfire.yml").display(),
        data = d.join("data").display(),
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "sh", "-c", &script])
        .env("KUBERNETES_SERVICE_HOST", "127.0.0.1")
        .env("KUBERNETES_SERVICE_PORT", &host_port);
    let mut wf = Proc::spawn("watchfire", cmd, d);
    let base = format!("http://127.0.0.1:{port}");
    wait_addresses(
        &base,
        "kubernetes-pods",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
        ],
    );
    wait_addresses(&base, "kubernetes-nodes", &["192.168.1.10:10250"]);
    wait_addresses(
        &base,
        "own",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
        ],
    );
    let requests = cluster.requests();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("/api/v1/namespaces/default/pods?")),
        "{requests:#?}"
    );
    let auth = cluster.authorizations();
    assert!(auth.iter().all(|a| a == "Bearer sa-token"), "{auth:?}");
    assert!(!auth.is_empty());
    wf.terminate(Duration::from_secs(10));
}

/// A hostile or broken API server sending one object above 64 MiB: the request fails with a
/// clear error, the targets stay as they were, and discovery recovers once the object is gone.
#[test]
fn an_oversized_object_is_refused_and_the_targets_stay() {
    let cluster = Cluster::start();
    for o in cluster_objects() {
        cluster.apply(o);
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let config = format!(
        "scrape_configs:\n- job_name: pod\n  kubernetes_sd_configs:\n  - role: pod\n    api_server: {}\n",
        cluster.url
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).unwrap();
    let port = free_port();
    let mut wf = spawn_watchfire(dir.path(), port, "watchfire", &[]);
    let base = format!("http://127.0.0.1:{port}");
    let four = [
        "10.244.0.5",
        "10.244.0.5:7000",
        "10.244.0.5:8080",
        "10.244.0.5:9090",
    ];
    wait_addresses(&base, "pod", &four);
    let mut huge = pod("huge", "10.244.0.99", json!({"app": "web"}));
    huge["metadata"]["annotations"]["blob"] = json!("x".repeat(65 << 20));
    cluster.apply(huge);
    let why = wait_for(Duration::from_secs(30), || {
        let (_, body) = get_json(&format!("{base}/api/v1/targets"))?;
        let e = body["data"]["discoveryErrors"]["pod"].to_string();
        e.contains("exceeds 67108864 bytes").then_some(e)
    });
    assert!(why.is_some(), "no error for the oversized object");
    assert_eq!(addresses(&discovered(&base, "pod")), four);
    // The watch history still holds the object, as an API server's does until compaction; after
    // it the watch gets `410 Expired` and lists again.
    cluster.delete("Pod", "default", "huge");
    cluster.compact();
    let mut p2 = pod("web-2", "10.244.0.6", json!({"app": "web"}));
    p2["spec"]["initContainers"] = json!([]);
    p2["spec"]["containers"] =
        json!([{"name": "app", "image": "a", "ports": [{"containerPort": 8080}]}]);
    cluster.apply(p2);
    wait_addresses(
        &base,
        "pod",
        &[
            "10.244.0.5",
            "10.244.0.5:7000",
            "10.244.0.5:8080",
            "10.244.0.5:9090",
            "10.244.0.6:8080",
        ],
    );
    wf.terminate(Duration::from_secs(10));
}
