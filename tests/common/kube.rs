//! THE one stand-in for a Kubernetes API server (none can be installed here): an HTTP server
//! answering the list and watch requests of `kubernetes_sd_configs` exactly as the API server's
//! REST interface does for them — `GET /api/v1/pods`, `/api/v1/namespaces/<ns>/pods`, services,
//! endpoints, nodes, `/apis/discovery.k8s.io/v1/.../endpointslices` and
//! `/apis/networking.k8s.io/v1/.../ingresses`: a list is a `<Kind>List` with
//! `metadata.resourceVersion` and items without `kind`/`apiVersion`; `?watch=1` (or `true`)
//! streams newline-delimited `{"type": "ADDED"|"MODIFIED"|"DELETED", "object": {...}}` events
//! after the requested `resourceVersion`, or, for a streaming list (`sendInitialEvents=true`, as
//! client-go sends it), every object as ADDED and then the `k8s.io/initial-events-end` BOOKMARK;
//! `labelSelector` (`k=v`, `k!=v`, `k`, comma-separated)
//! and `fieldSelector` (`metadata.name=`, `metadata.namespace=`, `spec.nodeName=`) filter both.
//! The programs under test reach it through their real client code (watchfire's kube-rs
//! client, Prometheus' client-go) with `api_server` pointing at it; nothing in them knows it is
//! a stand-in.
//!
//! A test changes the cluster with [`Cluster::apply`] / [`Cluster::delete`] (watchers see the
//! events), makes every request fail with 500 and cuts open watches with
//! [`Cluster::set_failing`], forgets history with [`Cluster::compact`] (older watches get
//! `410 Expired`), and reads the query strings seen with [`Cluster::requests`].
#![allow(dead_code)]

use super::target::serve_router_at;
use axum::body::Body;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use futures_util::stream::{self, StreamExt};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, watch};

/// One kind of object the stand-in serves: its URL prefix, plural and kind.
struct Resource {
    group_prefix: &'static str,
    plural: &'static str,
    kind: &'static str,
    api_version: &'static str,
    namespaced: bool,
}

const RESOURCES: [Resource; 7] = [
    Resource {
        group_prefix: "/api/v1",
        plural: "pods",
        kind: "Pod",
        api_version: "v1",
        namespaced: true,
    },
    Resource {
        group_prefix: "/api/v1",
        plural: "services",
        kind: "Service",
        api_version: "v1",
        namespaced: true,
    },
    Resource {
        group_prefix: "/api/v1",
        plural: "endpoints",
        kind: "Endpoints",
        api_version: "v1",
        namespaced: true,
    },
    Resource {
        group_prefix: "/api/v1",
        plural: "nodes",
        kind: "Node",
        api_version: "v1",
        namespaced: false,
    },
    Resource {
        group_prefix: "/api/v1",
        plural: "namespaces",
        kind: "Namespace",
        api_version: "v1",
        namespaced: false,
    },
    Resource {
        group_prefix: "/apis/discovery.k8s.io/v1",
        plural: "endpointslices",
        kind: "EndpointSlice",
        api_version: "discovery.k8s.io/v1",
        namespaced: true,
    },
    Resource {
        group_prefix: "/apis/networking.k8s.io/v1",
        plural: "ingresses",
        kind: "Ingress",
        api_version: "networking.k8s.io/v1",
        namespaced: true,
    },
];

fn resource_of_kind(kind: &str) -> &'static Resource {
    RESOURCES
        .iter()
        .find(|r| r.kind == kind)
        .unwrap_or_else(|| panic!("the stand-in serves no kind {kind}"))
}

/// A change, as a watch sends it.
#[derive(Clone, Debug)]
struct Change {
    rv: u64,
    plural: &'static str,
    kind: &'static str,
    object: Value,
}

#[derive(Default)]
struct State {
    rv: u64,
    /// (plural, namespace, name) → object (with kind and apiVersion).
    objects: BTreeMap<(String, String, String), Value>,
    log: Vec<Change>,
    failing: bool,
    /// Watches from before this resource version get `410 Expired`.
    compacted: u64,
    requests: Vec<String>,
    authorizations: Vec<String>,
}

/// A handle on the stand-in's cluster.
#[derive(Clone)]
pub struct Cluster {
    state: Arc<Mutex<State>>,
    changes: broadcast::Sender<Change>,
    cut: Arc<watch::Sender<u64>>,
    /// `http://127.0.0.1:<port>`.
    pub url: String,
}

impl Cluster {
    /// Starts the stand-in with no objects, over plain HTTP.
    pub fn start() -> Cluster {
        Self::start_with(|app| format!("http://{}", serve_router_at(|_| app)))
    }

    /// Starts the stand-in over HTTPS with the PEM certificate chain `cert` and key `key` (as
    /// an in-cluster client expects it).
    pub fn start_tls(cert: &std::path::Path, key: &std::path::Path) -> Cluster {
        use rustls_pki_types::pem::PemObject;
        let certs = rustls_pki_types::CertificateDer::pem_file_iter(cert)
            .expect("cert file")
            .collect::<Result<Vec<_>, _>>()
            .expect("certs");
        let key = rustls_pki_types::PrivateKeyDer::from_pem_file(key).expect("key");
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("protocols")
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .expect("server config");
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
        Self::start_with(move |app| {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            listener.set_nonblocking(true).expect("nonblocking");
            let addr = listener.local_addr().expect("addr").to_string();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                    while let Ok((conn, _)) = listener.accept().await {
                        let (acceptor, app) = (acceptor.clone(), app.clone());
                        tokio::spawn(async move {
                            let Ok(tls) = acceptor.accept(conn).await else {
                                return;
                            };
                            let service = hyper::service::service_fn(
                                move |req: axum::http::Request<hyper::body::Incoming>| {
                                    use tower_service::Service;
                                    let mut app = app.clone();
                                    async move { app.call(req).await }
                                },
                            );
                            let io = hyper_util::rt::TokioIo::new(tls);
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await;
                        });
                    }
                });
            });
            format!("https://{addr}")
        })
    }

    fn start_with(serve: impl FnOnce(axum::Router) -> String) -> Cluster {
        let state = Arc::new(Mutex::new(State::default()));
        let (changes, _) = broadcast::channel(4096);
        let (cut, _) = watch::channel(0u64);
        let cut = Arc::new(cut);
        let (s, c, k) = (state.clone(), changes.clone(), cut.clone());
        let app = axum::Router::new().fallback(move |uri: Uri, headers: axum::http::HeaderMap| {
            let (s, c, k) = (s.clone(), c.clone(), k.clone());
            if let Some(a) = headers.get("authorization") {
                let a = String::from_utf8_lossy(a.as_bytes()).into_owned();
                s.lock().unwrap().authorizations.push(a);
            }
            async move { handle(uri, s, c, k).await }
        });
        let url = serve(app);
        Cluster {
            state,
            changes,
            cut,
            url,
        }
    }

    /// Creates or replaces `object` (it names its `kind`, `metadata.namespace` and
    /// `metadata.name`); watchers get ADDED or MODIFIED.
    pub fn apply(&self, mut object: Value) {
        let kind = object["kind"].as_str().expect("object kind").to_owned();
        let r = resource_of_kind(&kind);
        object["apiVersion"] = json!(r.api_version);
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let name = object["metadata"]["name"]
            .as_str()
            .expect("object name")
            .to_owned();
        let mut st = self.state.lock().unwrap();
        st.rv += 1;
        let rv = st.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        if object["metadata"]["uid"].is_null() {
            object["metadata"]["uid"] = json!(format!("00000000-0000-4000-8000-{rv:012}"));
        }
        if object["metadata"]["creationTimestamp"].is_null() {
            object["metadata"]["creationTimestamp"] = json!("2026-12-01T10:00:00Z");
        }
        let key = (r.plural.to_owned(), ns, name);
        let existed = st.objects.insert(key, object.clone()).is_some();
        let kind = if existed { "MODIFIED" } else { "ADDED" };
        let change = Change {
            rv,
            plural: r.plural,
            kind,
            object,
        };
        st.log.push(change.clone());
        let _ = self.changes.send(change);
    }

    /// Deletes the object of `kind` named `ns`/`name`; watchers get DELETED.
    pub fn delete(&self, kind: &str, ns: &str, name: &str) {
        let r = resource_of_kind(kind);
        let mut st = self.state.lock().unwrap();
        let key = (r.plural.to_owned(), ns.to_owned(), name.to_owned());
        let Some(mut object) = st.objects.remove(&key) else {
            panic!("no {kind} {ns}/{name} to delete");
        };
        st.rv += 1;
        let rv = st.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        let change = Change {
            rv,
            plural: r.plural,
            kind: "DELETED",
            object,
        };
        st.log.push(change.clone());
        let _ = self.changes.send(change);
    }

    /// Forgets the history of changes, as the API server's compaction does: a watch from an
    /// older resource version gets an ERROR event `410 Expired` and must list again.
    pub fn compact(&self) {
        let mut st = self.state.lock().unwrap();
        st.compacted = st.rv;
        st.log.clear();
        drop(st);
        self.cut_watches();
    }

    /// While `failing`, every request gets 500 and open watches are cut.
    pub fn set_failing(&self, failing: bool) {
        self.state.lock().unwrap().failing = failing;
        if failing {
            self.cut_watches();
        }
    }

    /// Ends every open watch (as an API server restart or a load balancer timeout does).
    pub fn cut_watches(&self) {
        self.cut.send_modify(|g| *g += 1);
    }

    /// The `Authorization` headers of the requests so far.
    pub fn authorizations(&self) -> Vec<String> {
        self.state.lock().unwrap().authorizations.clone()
    }

    /// The path and query of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().requests.clone()
    }
}

/// `(resource, namespace)` for a request path; namespace "" for all namespaces.
fn route(path: &str) -> Option<(&'static Resource, String)> {
    for r in &RESOURCES {
        let Some(rest) = path.strip_prefix(r.group_prefix) else {
            continue;
        };
        if rest == format!("/{}", r.plural) {
            return Some((r, String::new()));
        }
        if r.namespaced {
            let parts: Vec<&str> = rest.trim_start_matches('/').split('/').collect();
            if parts.len() == 3 && parts[0] == "namespaces" && parts[2] == r.plural {
                return Some((r, parts[1].to_owned()));
            }
        }
    }
    None
}

fn label_matches(object: &Value, selector: &str) -> bool {
    let labels = &object["metadata"]["labels"];
    selector.split(',').filter(|s| !s.is_empty()).all(|req| {
        if let Some((k, v)) = req.split_once("!=") {
            labels[k].as_str() != Some(v)
        } else if let Some((k, v)) = req.split_once('=') {
            labels[k.trim_end_matches('=')].as_str() == Some(v.trim_start_matches('='))
        } else if let Some(k) = req.strip_prefix('!') {
            labels[k].is_null()
        } else {
            !labels[req].is_null()
        }
    })
}

fn field_matches(object: &Value, selector: &str) -> bool {
    selector.split(',').filter(|s| !s.is_empty()).all(|req| {
        let (k, v, eq) = match req.split_once("!=") {
            Some((k, v)) => (k, v, false),
            None => match req.split_once('=') {
                Some((k, v)) => (k, v.trim_start_matches('='), true),
                None => return false,
            },
        };
        let got = match k {
            "metadata.name" => &object["metadata"]["name"],
            "metadata.namespace" => &object["metadata"]["namespace"],
            "spec.nodeName" => &object["spec"]["nodeName"],
            _ => return false,
        };
        (got.as_str().unwrap_or("") == v) == eq
    })
}

fn status(code: u16, reason: &str, message: &str) -> Response {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code,
    });
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        code,
        [("Content-Type", "application/json")],
        body.to_string(),
    )
        .into_response()
}

async fn handle(
    uri: Uri,
    state: Arc<Mutex<State>>,
    changes: broadcast::Sender<Change>,
    cut: Arc<watch::Sender<u64>>,
) -> Response {
    let path = uri.path().to_owned();
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    {
        let mut st = state.lock().unwrap();
        st.requests.push(uri.to_string());
        if st.failing {
            return status(500, "InternalError", "the stand-in is failing on purpose");
        }
    }
    let Some((r, ns)) = route(&path) else {
        return status(
            404,
            "NotFound",
            &format!("the server could not find the requested resource ({path})"),
        );
    };
    let labels = query.get("labelSelector").cloned().unwrap_or_default();
    let fields = query.get("fieldSelector").cloned().unwrap_or_default();
    let wanted = move |plural: &str, o: &Value| {
        plural == r.plural
            && (ns.is_empty() || o["metadata"]["namespace"].as_str() == Some(ns.as_str()))
            && label_matches(o, &labels)
            && field_matches(o, &fields)
    };
    let watching = matches!(query.get("watch").map(String::as_str), Some("1" | "true"));
    if !watching {
        let st = state.lock().unwrap();
        let items: Vec<Value> = st
            .objects
            .iter()
            .filter(|((plural, _, _), o)| wanted(plural, o))
            .map(|(_, o)| {
                let mut o = o.clone();
                let m = o.as_object_mut().unwrap();
                m.remove("kind");
                m.remove("apiVersion");
                o
            })
            .collect();
        let body = json!({
            "kind": format!("{}List", r.kind),
            "apiVersion": r.api_version,
            "metadata": {"resourceVersion": st.rv.to_string()},
            "items": items,
        });
        return ([("Content-Type", "application/json")], body.to_string()).into_response();
    }
    let since: u64 = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // Subscribe before reading the backlog so no change falls between the two.
    let rx = changes.subscribe();
    let line = |kind: &str, object: &Value| {
        let mut s = json!({"type": kind, "object": object}).to_string();
        s.push('\n');
        Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(s))
    };
    let (first, last_backlog) = {
        let st = state.lock().unwrap();
        if query.get("sendInitialEvents").map(String::as_str) == Some("true") {
            // A streaming list (client-go's WatchList): every object as ADDED, then a bookmark
            // marking the end of the initial events, as the API server sends them.
            let mut first: Vec<_> = st
                .objects
                .iter()
                .filter(|((plural, _, _), o)| wanted(plural, o))
                .map(|(_, o)| line("ADDED", o))
                .collect();
            let bookmark = json!({
                "kind": r.kind, "apiVersion": r.api_version,
                "metadata": {
                    "resourceVersion": st.rv.to_string(),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            });
            first.push(line("BOOKMARK", &bookmark));
            (first, st.rv)
        } else if since < st.compacted {
            let expired = json!({
                "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": format!("too old resource version: {since} ({})", st.compacted),
                "reason": "Expired", "code": 410,
            });
            let body = Body::from(json!({"type": "ERROR", "object": expired}).to_string() + "\n");
            return ([("Content-Type", "application/json")], body).into_response();
        } else {
            let backlog: Vec<&Change> = st.log.iter().filter(|c| c.rv > since).collect();
            let last = backlog.last().map_or(since, |c| c.rv);
            let first = backlog
                .into_iter()
                .filter(|c| wanted(c.plural, &c.object))
                .map(|c| line(c.kind, &c.object))
                .collect();
            (first, last)
        }
    };
    let mut cut_rx = cut.subscribe();
    cut_rx.mark_unchanged();
    let live = stream::unfold((rx, cut_rx), move |(mut rx, mut cut_rx)| {
        let wanted = wanted.clone();
        async move {
            loop {
                tokio::select! {
                    _ = cut_rx.changed() => return None,
                    c = rx.recv() => match c {
                        Ok(c) if c.rv > last_backlog && wanted(c.plural, &c.object) => {
                            return Some((line(c.kind, &c.object), (rx, cut_rx)));
                        }
                        Ok(_) => continue,
                        Err(broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(_) => return None,
                    },
                }
            }
        }
    });
    let body = Body::from_stream(stream::iter(first).chain(live));
    ([("Content-Type", "application/json")], body).into_response()
}
