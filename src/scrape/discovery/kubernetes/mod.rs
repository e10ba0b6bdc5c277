//! `kubernetes_sd_configs`: targets from the Kubernetes API, as Prometheus 3.5's
//! `discovery/kubernetes` finds them.
//!
//! A provider connects with kube-rs (`client.rs`: `api_server` with the entry's credentials,
//! `kubeconfig_file`, or in-cluster), then lists and watches (kube-rs `watcher`, never polling)
//! every kind of object its role needs in each configured namespace, with the entry's label and
//! field selectors: pods (`pod`), services (`service`), endpoints + services + pods
//! (`endpoints`), endpointslices + services + pods (`endpointslice`), nodes (`node`),
//! ingresses (`ingress`), plus nodes for `attach_metadata.node` and namespaces for
//! `attach_metadata.namespace` (Prometheus 3.6). Each watcher feeds its own
//! store; once every store has its first full list, the role's groups are built from the stores
//! (one file per role, with Prometheus' labels, addresses and sources such as
//! `pod/<namespace>/<name>`) at most every [`MIN_PUBLISH_INTERVAL`].
//!
//! A list page or watch event above 64 MiB fails its request (`limit.rs`) rather than growing
//! without bound. A watch that drops is resumed from its last resource version; a failed list
//! or watch is retried with kube-rs' backoff (0.8 s doubling to 30 s, with jitter) while the
//! stores, and so the targets, stay as last seen: a re-list replaces a store only once it is
//! complete. Each failure is logged, counted in `prometheus_sd_kubernetes_failures_total` and
//! shown in `/api/v1/targets` (`discoveryErrors`) until the next good event.
//!
//! Differences from Prometheus: groups are rebuilt from the stores on every change, so a pod's
//! new labels reach the endpoints targets at once (Prometheus waits for the endpoints object or
//! the pod's phase to change); a reload restarts every provider (one re-list each; the targets
//! stay meanwhile), where Prometheus keeps unchanged ones running;
//! `prometheus_sd_kubernetes_events_total` is not kept.

mod client;
mod endpoints;
mod endpointslice;
mod ingress;
mod limit;
mod meta;
mod node;
mod pod;
mod service;

use super::{SdMetrics, SharedState, TargetGroup};
use crate::config::{KubernetesRole, KubernetesSdConfig};
use futures_util::stream::{BoxStream, StreamExt};
use k8s_openapi::api::core::v1::{Endpoints, Namespace, Node, Pod, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::networking::v1::Ingress;
use k8s_openapi::NamespaceResourceScope;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::Api;
use std::collections::BTreeMap;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// An error with its causes, `: `-separated, leaving out a cause whose text is already there
/// (kube-rs' errors often repeat their source in their own text).
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// Shortest time between two rebuilds of the groups (a burst of events is one rebuild).
pub const MIN_PUBLISH_INTERVAL: Duration = Duration::from_millis(200);

/// How long a provider waits before trying again to build a client that failed.
const RECONNECT_DELAY: Duration = Duration::from_secs(10);

/// The objects one watcher has seen, by `namespace/name`.
struct Store<K> {
    objects: BTreeMap<String, K>,
    /// A re-list in progress; it replaces `objects` when complete.
    pending: Option<BTreeMap<String, K>>,
    /// Whether a first full list has been seen.
    synced: bool,
}

impl<K> Default for Store<K> {
    fn default() -> Self {
        Store {
            objects: BTreeMap::new(),
            pending: None,
            synced: false,
        }
    }
}

impl<K: kube::Resource> Store<K> {
    fn apply(&mut self, event: Event<K>) {
        match event {
            Event::Apply(o) => {
                self.objects.insert(meta::key(o.meta()), o);
            }
            Event::Delete(o) => {
                self.objects.remove(&meta::key(o.meta()));
            }
            Event::Init => self.pending = Some(BTreeMap::new()),
            Event::InitApply(o) => {
                self.pending
                    .get_or_insert_with(BTreeMap::new)
                    .insert(meta::key(o.meta()), o);
            }
            Event::InitDone => {
                if let Some(p) = self.pending.take() {
                    self.objects = p;
                }
                self.synced = true;
            }
        }
    }
}

/// Every watcher's store, by kind of object.
#[derive(Default)]
pub(super) struct Stores {
    pods: Vec<Store<Pod>>,
    services: Vec<Store<Service>>,
    endpoints: Vec<Store<Endpoints>>,
    slices: Vec<Store<EndpointSlice>>,
    nodes: Vec<Store<Node>>,
    ingresses: Vec<Store<Ingress>>,
    namespaces: Vec<Store<Namespace>>,
}

fn find<'a, K>(stores: &'a [Store<K>], key: &str) -> Option<&'a K> {
    stores.iter().find_map(|s| s.objects.get(key))
}

fn all<K>(stores: &[Store<K>]) -> impl Iterator<Item = &K> {
    stores.iter().flat_map(|s| s.objects.values())
}

impl Stores {
    /// A pod by namespace and name.
    pub(super) fn pod(&self, ns: &str, name: &str) -> Option<&Pod> {
        find(&self.pods, &format!("{ns}/{name}"))
    }

    /// A service by namespace and name.
    pub(super) fn service(&self, ns: &str, name: &str) -> Option<&Service> {
        find(&self.services, &format!("{ns}/{name}"))
    }

    /// A node by name.
    pub(super) fn node(&self, name: &str) -> Option<&Node> {
        find(&self.nodes, name)
    }

    /// A namespace by name (only when `attach_metadata.namespace` watches them).
    pub(super) fn namespace(&self, name: &str) -> Option<&Namespace> {
        find(&self.namespaces, name)
    }

    fn synced(&self) -> bool {
        fn s<K>(v: &[Store<K>]) -> bool {
            v.iter().all(|s| s.synced)
        }
        s(&self.pods)
            && s(&self.services)
            && s(&self.endpoints)
            && s(&self.slices)
            && s(&self.nodes)
            && s(&self.ingresses)
            && s(&self.namespaces)
    }

    /// The groups of `role` from what the stores hold, ordered by source; `previous` are the
    /// groups last published (a node without an address keeps its group there, as in
    /// Prometheus).
    fn groups(
        &self,
        role: KubernetesRole,
        with_node: bool,
        previous: &[TargetGroup],
    ) -> Vec<TargetGroup> {
        let mut out: Vec<TargetGroup> = match role {
            KubernetesRole::Pod => all(&self.pods)
                .map(|p| pod::build(p, self, with_node))
                .collect(),
            KubernetesRole::Service => all(&self.services)
                .map(|s| service::build(s, self))
                .collect(),
            KubernetesRole::Endpoints => all(&self.endpoints)
                .map(|e| endpoints::build(e, self, with_node))
                .collect(),
            KubernetesRole::EndpointSlice => all(&self.slices)
                .map(|e| endpointslice::build(e, self, with_node))
                .collect(),
            KubernetesRole::Node => all(&self.nodes)
                .filter_map(|n| match node::build(n) {
                    Ok(g) => Some(g),
                    Err(source) => previous.iter().find(|g| g.source == source).cloned(),
                })
                .collect(),
            KubernetesRole::Ingress => all(&self.ingresses)
                .map(|i| ingress::build(i, self))
                .collect(),
        };
        out.sort_by(|a, b| a.source.cmp(&b.source));
        out.dedup_by(|a, b| a.source == b.source);
        out
    }
}

/// A kind of object a provider watches.
trait Kind:
    kube::Resource<DynamicType = ()>
    + Clone
    + serde::de::DeserializeOwned
    + std::fmt::Debug
    + Send
    + Sync
    + 'static
{
    /// The plural name, for messages.
    const WHAT: &'static str;
    /// The stores of this kind.
    fn stores(s: &mut Stores) -> &mut Vec<Store<Self>>;
    /// The API of this kind in `ns` ("" for all namespaces).
    fn api(client: kube::Client, ns: &str) -> Api<Self>;
}

fn namespaced<K>(client: kube::Client, ns: &str) -> Api<K>
where
    K: kube::Resource<DynamicType = (), Scope = NamespaceResourceScope>,
{
    if ns.is_empty() {
        Api::all(client)
    } else {
        Api::namespaced(client, ns)
    }
}

macro_rules! namespaced_kind {
    ($t:ty, $field:ident, $what:literal) => {
        impl Kind for $t {
            const WHAT: &'static str = $what;
            fn stores(s: &mut Stores) -> &mut Vec<Store<Self>> {
                &mut s.$field
            }
            fn api(client: kube::Client, ns: &str) -> Api<Self> {
                namespaced(client, ns)
            }
        }
    };
}

namespaced_kind!(Pod, pods, "pods");
namespaced_kind!(Service, services, "services");
namespaced_kind!(Endpoints, endpoints, "endpoints");
namespaced_kind!(EndpointSlice, slices, "endpointslices");
namespaced_kind!(Ingress, ingresses, "ingresses");

impl Kind for Node {
    const WHAT: &'static str = "nodes";
    fn stores(s: &mut Stores) -> &mut Vec<Store<Self>> {
        &mut s.nodes
    }
    fn api(client: kube::Client, _: &str) -> Api<Self> {
        Api::all(client)
    }
}

impl Kind for Namespace {
    const WHAT: &'static str = "namespaces";
    fn stores(s: &mut Stores) -> &mut Vec<Store<Self>> {
        &mut s.namespaces
    }
    fn api(client: kube::Client, _: &str) -> Api<Self> {
        Api::all(client)
    }
}

/// One watcher's news, applied to the stores; an error says which list or watch failed.
type Update = Box<dyn FnOnce(&mut Stores) -> Result<(), String> + Send>;

/// The watchers of one provider, being set up.
struct Watchers<'a> {
    client: &'a kube::Client,
    url: &'a str,
    config: &'a KubernetesSdConfig,
    stores: Stores,
    streams: Vec<BoxStream<'static, Update>>,
}

impl Watchers<'_> {
    /// Adds a watcher of `K` in `ns` with the selectors configured for `selector_role`.
    fn watch<K: Kind>(&mut self, ns: &str, selector_role: KubernetesRole) {
        let selectors = self.config.selector(selector_role);
        self.watch_with::<K>(ns, selectors);
    }

    /// Adds a watcher of every namespace.
    fn watch_namespaces(&mut self) {
        self.watch_with::<Namespace>("", ("", ""));
    }

    fn watch_with<K: Kind>(&mut self, ns: &str, (label, field): (&str, &str)) {
        let list = K::stores(&mut self.stores);
        let index = list.len();
        list.push(Store::default());
        let mut cfg = watcher::Config::default();
        if !label.is_empty() {
            cfg = cfg.labels(label);
        }
        if !field.is_empty() {
            cfg = cfg.fields(field);
        }
        let what = if ns.is_empty() {
            format!("{}: {}", self.url, K::WHAT)
        } else {
            format!("{}: {} in namespace {ns}", self.url, K::WHAT)
        };
        let stream = watcher(K::api(self.client.clone(), ns), cfg)
            .default_backoff()
            .map(move |r| -> Update {
                let what = what.clone();
                Box::new(move |stores: &mut Stores| match r {
                    Ok(event) => {
                        K::stores(stores)[index].apply(event);
                        Ok(())
                    }
                    Err(e) => Err(format!(
                        "failed to list or watch {what}: {}",
                        error_chain(&e)
                    )),
                })
            })
            .boxed();
        self.streams.push(stream);
    }
}

/// Prometheus' `getNamespaces`: the names, plus the own namespace when asked for; every
/// namespace ("") when neither is given.
fn namespaces(config: &KubernetesSdConfig, own: Option<&str>) -> Vec<String> {
    let names = &config.namespaces.names;
    if names.is_empty() && !config.namespaces.own_namespace {
        return vec![String::new()];
    }
    let mut out = names.clone();
    if let Some(own) = own.filter(|o| config.namespaces.own_namespace && !o.is_empty()) {
        out.push(own.to_owned());
    }
    out
}

/// Where the provider's API server is, for messages before a client exists.
fn describe(config: &KubernetesSdConfig) -> String {
    match (&config.api_server, &config.kubeconfig_file) {
        (Some(url), _) => url.clone(),
        (None, Some(path)) => format!("kubeconfig {}", path.display()),
        (None, None) => "in-cluster".to_owned(),
    }
}

/// Runs a provider until `cancel`: connects (retrying every 10 s), then lists
/// and watches, recording each new set of groups or failure into `state` and calling `changed`
/// when the manager should re-sync.
pub async fn run(
    config: KubernetesSdConfig,
    state: SharedState,
    metrics: SdMetrics,
    cancel: CancellationToken,
    changed: impl Fn(),
) {
    loop {
        let connected = tokio::select! {
            _ = cancel.cancelled() => return,
            c = client::connect(&config) => c,
        };
        match connected {
            Ok(c) => return discover(&config, c, &state, &metrics, &cancel, &changed).await,
            Err(e) => {
                metrics.kubernetes_failures.inc();
                let where_ = describe(&config);
                let msg = "Cannot create Kubernetes discovery client";
                tracing::error!(api_server = %where_, err = %e, "{msg}");
                if super::record(&state, None, Some(format!("kubernetes_sd {where_}: {e}"))) {
                    changed();
                }
            }
        }
        tokio::select! {
            _ = cancel.cancelled() => return,
            _ = tokio::time::sleep(RECONNECT_DELAY) => {}
        }
    }
}

async fn discover(
    config: &KubernetesSdConfig,
    connected: client::Connected,
    state: &SharedState,
    metrics: &SdMetrics,
    cancel: &CancellationToken,
    changed: &impl Fn(),
) {
    use KubernetesRole as R;
    let role = config.role;
    let with_node =
        config.attach_metadata.node && matches!(role, R::Pod | R::Endpoints | R::EndpointSlice);
    let mut w = Watchers {
        client: &connected.client,
        url: &connected.url,
        config,
        stores: Stores::default(),
        streams: Vec::new(),
    };
    if with_node || role == R::Node {
        w.watch::<Node>("", R::Node);
    }
    if config.attach_metadata.namespace && role != R::Node {
        // Prometheus watches every namespace here, without selectors.
        w.watch_namespaces();
    }
    for ns in namespaces(config, connected.own_namespace.as_deref()) {
        match role {
            R::Pod => w.watch::<Pod>(&ns, R::Pod),
            R::Service => w.watch::<Service>(&ns, R::Service),
            R::Endpoints => {
                w.watch::<Endpoints>(&ns, R::Endpoints);
                w.watch::<Service>(&ns, R::Service);
                w.watch::<Pod>(&ns, R::Pod);
            }
            R::EndpointSlice => {
                w.watch::<EndpointSlice>(&ns, R::EndpointSlice);
                w.watch::<Service>(&ns, R::Service);
                w.watch::<Pod>(&ns, R::Pod);
            }
            R::Ingress => w.watch::<Ingress>(&ns, R::Ingress),
            R::Node => {}
        }
    }
    let Watchers {
        mut stores,
        streams,
        ..
    } = w;
    if streams.is_empty() {
        if super::record(state, Some(Vec::new()), None) {
            changed();
        }
        cancel.cancelled().await;
        return;
    }
    let mut merged = futures_util::stream::select_all(streams);
    let mut dirty = false;
    let mut error: Option<String> = None;
    let mut next_publish = Instant::now();
    loop {
        tokio::select! {
            _ = cancel.cancelled() => return,
            update = merged.next() => {
                // Every watcher retries for ever; the streams end only if kube-rs gives up.
                let Some(update) = update else { return };
                match update(&mut stores) {
                    Ok(()) => error = None,
                    Err(e) => {
                        metrics.kubernetes_failures.inc();
                        tracing::error!(err = %e, "Kubernetes discovery list/watch failed");
                        error = Some(e);
                    }
                }
                dirty = true;
            }
            _ = tokio::time::sleep_until(next_publish), if dirty => {
                dirty = false;
                next_publish = Instant::now() + MIN_PUBLISH_INTERVAL;
                let groups = stores.synced().then(|| {
                    let previous = state.lock().groups.clone();
                    stores.groups(role, with_node, &previous)
                });
                if super::record(state, groups, error.clone()) {
                    changed();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pod(name: &str) -> Pod {
        Pod {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some("ns".into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    fn names(s: &Store<Pod>) -> Vec<&str> {
        s.objects.keys().map(String::as_str).collect()
    }

    #[test]
    fn a_relist_replaces_the_store_only_when_complete() {
        let mut s = Store::<Pod>::default();
        s.apply(Event::Init);
        s.apply(Event::InitApply(pod("a")));
        assert!(!s.synced && names(&s).is_empty());
        s.apply(Event::InitDone);
        assert!(s.synced);
        s.apply(Event::Apply(pod("b")));
        assert_eq!(names(&s), ["ns/a", "ns/b"]);
        // A re-list after a failure: the old objects stay until it is complete.
        s.apply(Event::Init);
        s.apply(Event::InitApply(pod("c")));
        assert_eq!(names(&s), ["ns/a", "ns/b"]);
        s.apply(Event::InitDone);
        assert_eq!(names(&s), ["ns/c"]);
        s.apply(Event::Delete(pod("c")));
        assert!(names(&s).is_empty());
    }

    #[test]
    fn namespaces_as_prometheus() {
        let mut c = KubernetesSdConfig {
            api_server: None,
            role: KubernetesRole::Pod,
            kubeconfig_file: None,
            basic_auth: None,
            authorization: None,
            tls_config: Default::default(),
            namespaces: Default::default(),
            selectors: Vec::new(),
            attach_metadata: Default::default(),
        };
        assert_eq!(namespaces(&c, Some("own")), [""]);
        c.namespaces.names = vec!["a".into()];
        assert_eq!(namespaces(&c, Some("own")), ["a"]);
        c.namespaces.own_namespace = true;
        assert_eq!(namespaces(&c, Some("own")), ["a", "own"]);
        c.namespaces.names.clear();
        assert_eq!(namespaces(&c, None), Vec::<String>::new());
    }

    #[test]
    fn a_node_without_address_keeps_its_last_group() {
        use k8s_openapi::api::core::v1::{NodeAddress, NodeStatus};
        let node = |addr: Option<&str>| Node {
            metadata: ObjectMeta {
                name: Some("n1".into()),
                ..Default::default()
            },
            status: Some(NodeStatus {
                addresses: addr.map(|a| {
                    vec![NodeAddress {
                        type_: "InternalIP".into(),
                        address: a.into(),
                    }]
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut stores = Stores::default();
        stores.nodes.push(Store::default());
        stores.nodes[0].apply(Event::Apply(node(Some("10.0.0.1"))));
        let first = stores.groups(KubernetesRole::Node, false, &[]);
        assert_eq!(first[0].targets[0]["__address__"], "10.0.0.1:0");
        stores.nodes[0].apply(Event::Apply(node(None)));
        assert_eq!(stores.groups(KubernetesRole::Node, false, &first), first);
        assert!(stores.groups(KubernetesRole::Node, false, &[]).is_empty());
    }
}
