//! The connection loop: HTTP/1.1 over plain TCP or the TLS listener, with a bound on open
//! connections and on the time a client may take to send a request.
//!
//! - **Connections** (`--web.max-connections`, default 512, Prometheus' flag and default): each
//!   served connection holds a slot of a semaphore, as in Prometheus' `netutil.LimitListener`.
//!   When a new client arrives and every slot is taken, the connection that has been idle
//!   longest (no request in progress: a keep-alive connection between requests, or one still
//!   sending its headers) is closed to make room, so a flood of idle or slow clients cannot
//!   lock out a health check. When every connection is in the middle of a request, the new
//!   one waits (and those after it in the kernel's backlog) until a request finishes.
//! - **Read timeout** (`--web.read-timeout`, default 5m, Prometheus' flag and default): the
//!   headers of a request must arrive within it (hyper's header read timeout, which also closes
//!   a keep-alive connection idle that long), and then its body within it again; a body that
//!   is too slow fails the request with 408. 0 turns both off.
//!
//! The server speaks HTTP/1.1 only (hyper's `http1` connection builder; the TLS listener offers
//! only `http/1.1` in ALPN), which is why it does not use hyper-util's HTTP/1+2 auto builder.

use axum::body::{Body, Bytes};
use axum::http::{Request, StatusCode};
use axum::Router;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tower_service::Service;

/// How the server bounds its clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServeOptions {
    /// Most connections open at once (at least 1).
    pub max_connections: usize,
    /// Longest time to receive a request's headers, and then its body; also the longest a
    /// keep-alive connection may sit idle. `None`: no limit.
    pub read_timeout: Option<Duration>,
}

impl ServeOptions {
    /// Default of `--web.max-connections` (Prometheus').
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 512;
    /// Default of `--web.read-timeout` (Prometheus').
    pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(5 * 60);
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            max_connections: Self::DEFAULT_MAX_CONNECTIONS as usize,
            read_timeout: Some(Self::DEFAULT_READ_TIMEOUT),
        }
    }
}

/// While every slot is taken and no connection is idle, how often the accept loop looks again
/// for an idle one to close.
const EVICT_RETRY: Duration = Duration::from_millis(100);

/// Serves `app` on the connections `listener` yields until `shutdown` resolves; then stops
/// accepting, lets requests in progress finish (idle connections close at once) and returns
/// when every connection is closed.
pub(super) async fn serve_connections<L: axum::serve::Listener>(
    mut listener: L,
    app: Router,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let conns = Arc::new(Connections::new(options.max_connections.max(1)));
    let stop = CancellationToken::new();
    tokio::pin!(shutdown);
    loop {
        // Accepting before taking a slot keeps at most one connection beyond the limit open,
        // and only a client actually waiting makes an idle connection close.
        let io = tokio::select! {
            (io, _) = listener.accept() => io,
            () = &mut shutdown => break,
        };
        let permit = tokio::select! {
            p = conns.slot() => p,
            () = &mut shutdown => break,
        };
        let conn = conns.register(permit);
        tokio::spawn(serve_one(
            io,
            app.clone(),
            options.read_timeout,
            conn,
            stop.clone(),
        ));
    }
    drop(listener);
    stop.cancel();
    conns.closed().await;
}

/// One connection, until the client leaves, it times out, it is evicted or the server stops.
async fn serve_one<I>(
    io: I,
    app: Router,
    read_timeout: Option<Duration>,
    conn: Registered,
    stop: CancellationToken,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let state = conn.state.clone();
    let epoch = conn.conns.epoch;
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let busy = Busy::start(state.clone(), epoch);
        let timed_out = Arc::new(AtomicBool::new(false));
        let req = match read_timeout {
            Some(limit) => req.map(|b| Body::new(DeadlineBody::new(b, limit, timed_out.clone()))),
            None => req.map(Body::new),
        };
        let mut app = app.clone();
        async move {
            let mut response = app.call(req).await?;
            if timed_out.load(Ordering::Acquire) {
                *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
            }
            // Busy until the whole response is written.
            let response = response.map(|body| {
                Body::new(BusyBody {
                    inner: body,
                    _busy: busy,
                })
            });
            Ok::<_, std::convert::Infallible>(response)
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(read_timeout)
        .keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "HTTP connection ended with an error");
            }
        }
        () = conn.state.evict.cancelled() => {
            tracing::debug!("idle HTTP connection closed to make room (--web.max-connections)");
        }
        () = stop.cancelled() => {
            // An idle connection closes now; one answering a request finishes it first.
            if conn.state.in_flight.load(Ordering::Acquire) > 0 {
                connection.as_mut().graceful_shutdown();
                let _ = connection.await;
            }
        }
    }
    drop(conn);
}

/// The open connections and their slots.
struct Connections {
    slots: Arc<Semaphore>,
    max: u32,
    open: Mutex<HashMap<u64, Arc<ConnState>>>,
    next_id: AtomicU64,
    epoch: Instant,
}

/// What the accept loop knows of one connection.
struct ConnState {
    /// Requests being answered.
    in_flight: AtomicUsize,
    /// Milliseconds since [`Connections::epoch`] when the last request finished (or the
    /// connection was accepted).
    idle_since_ms: AtomicU64,
    /// Cancelled to close the connection.
    evict: CancellationToken,
}

impl Connections {
    fn new(max: usize) -> Self {
        let max = u32::try_from(max)
            .unwrap_or(u32::MAX)
            .min(Semaphore::MAX_PERMITS as u32);
        Connections {
            slots: Arc::new(Semaphore::new(max as usize)),
            max,
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            epoch: Instant::now(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// A free slot; when there is none, closes the longest-idle connection, or waits.
    async fn slot(&self) -> OwnedSemaphorePermit {
        loop {
            if let Ok(permit) = self.slots.clone().try_acquire_owned() {
                return permit;
            }
            self.evict_idlest();
            let wait = self.slots.clone().acquire_owned();
            if let Ok(Ok(permit)) = tokio::time::timeout(EVICT_RETRY, wait).await {
                return permit;
            }
        }
    }

    /// Closes the connection idle for longest, if any is idle and none is being closed already.
    fn evict_idlest(&self) {
        let open = self.open.lock();
        if open.values().any(|c| c.evict.is_cancelled()) {
            return;
        }
        let idlest = open
            .iter()
            .filter(|(_, c)| c.in_flight.load(Ordering::Acquire) == 0)
            .min_by_key(|(id, c)| (c.idle_since_ms.load(Ordering::Acquire), **id));
        if let Some((_, c)) = idlest {
            c.evict.cancel();
        }
    }

    fn register(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Registered {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(ConnState {
            in_flight: AtomicUsize::new(0),
            idle_since_ms: AtomicU64::new(self.now_ms()),
            evict: CancellationToken::new(),
        });
        self.open.lock().insert(id, state.clone());
        Registered {
            conns: self.clone(),
            id,
            state,
            _permit: permit,
        }
    }

    /// Resolves once every connection is closed.
    async fn closed(&self) {
        let _ = self.slots.acquire_many(self.max).await;
    }
}

/// A connection's registration; dropping it frees the slot.
struct Registered {
    conns: Arc<Connections>,
    id: u64,
    state: Arc<ConnState>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.conns.open.lock().remove(&self.id);
    }
}

/// Marks a connection busy while one of its requests is answered.
struct Busy {
    state: Arc<ConnState>,
    epoch: Instant,
}

impl Busy {
    fn start(state: Arc<ConnState>, epoch: Instant) -> Self {
        state.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy { state, epoch }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let now = self.epoch.elapsed().as_millis() as u64;
        self.state.idle_since_ms.store(now, Ordering::Release);
        self.state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection marked busy until it is written (dropped).
struct BusyBody {
    inner: Body,
    _busy: Busy,
}

impl HttpBody for BusyBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails once its deadline passes before it is complete.
struct DeadlineBody {
    inner: Incoming,
    deadline: Pin<Box<tokio::time::Sleep>>,
    limit: Duration,
    timed_out: Arc<AtomicBool>,
}

impl DeadlineBody {
    fn new(inner: Incoming, limit: Duration, timed_out: Arc<AtomicBool>) -> Self {
        DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(limit)),
            limit,
            timed_out,
        }
    }
}

/// The request body did not arrive within `--web.read-timeout`.
#[derive(Debug, thiserror::Error)]
#[error("request body not received within {0:?} (--web.read-timeout)")]
struct BodyTimeout(Duration);

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        if this.deadline.as_mut().poll(cx).is_ready() {
            this.timed_out.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(BodyTimeout(this.limit).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::routing::get;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    async fn start(options: ServeOptions) -> (std::net::SocketAddr, CancellationToken) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/slow",
                get(|| async {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    "slow"
                }),
            )
            .route("/echo", axum::routing::post(|b: Bytes| async move { b }));
        let stop = CancellationToken::new();
        tokio::spawn(serve_connections(
            listener,
            app,
            options,
            stop.clone().cancelled_owned(),
        ));
        (addr, stop)
    }

    async fn request(addr: std::net::SocketAddr, raw: &str) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(raw.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut out)).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    const GET: &str = "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";

    /// Reads until the peer closes; true when it closed within `limit`.
    async fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
        let mut buf = [0u8; 256];
        let read = async {
            loop {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        };
        tokio::time::timeout(limit, read).await.is_ok()
    }

    #[tokio::test]
    async fn idle_connections_make_room_for_new_ones() {
        let (addr, stop) = start(ServeOptions {
            max_connections: 4,
            read_timeout: None,
        })
        .await;
        let mut idle = Vec::new();
        for _ in 0..4 {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HT").await.unwrap();
            idle.push(s);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Every slot is held by a slow client: the next one still gets its answer.
        let answer = request(addr, GET).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        // The oldest idle connection was the one closed.
        assert!(closed_within(&mut idle[0], Duration::from_secs(2)).await);
        stop.cancel();
    }

    #[tokio::test]
    async fn busy_connections_are_not_evicted() {
        let (addr, stop) = start(ServeOptions {
            max_connections: 1,
            read_timeout: None,
        })
        .await;
        let slow = tokio::spawn(request(
            addr,
            "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        // Waits in the backlog until the slow request is answered, then is served.
        let answer = request(addr, GET).await;
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        let slow = slow.await.unwrap();
        assert!(
            slow.starts_with("HTTP/1.1 200") && slow.ends_with("slow"),
            "{slow}"
        );
        stop.cancel();
    }

    #[tokio::test]
    async fn slow_headers_and_idle_keep_alive_time_out() {
        let (addr, stop) = start(ServeOptions {
            max_connections: 8,
            read_timeout: Some(Duration::from_millis(300)),
        })
        .await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        assert!(closed_within(&mut slow, Duration::from_secs(3)).await);

        let mut keep = TcpStream::connect(addr).await.unwrap();
        keep.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut buf = [0u8; 512];
        let n = keep.read(&mut buf).await.unwrap();
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        // Then idle: closed after the read timeout.
        assert!(closed_within(&mut keep, Duration::from_secs(3)).await);
        stop.cancel();
    }

    #[tokio::test]
    async fn a_slow_body_gets_408() {
        let (addr, stop) = start(ServeOptions {
            max_connections: 8,
            read_timeout: Some(Duration::from_millis(300)),
        })
        .await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
            .await
            .unwrap();
        let mut out = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(3), s.read_to_end(&mut out)).await;
        let out = String::from_utf8_lossy(&out);
        assert!(out.starts_with("HTTP/1.1 408"), "{out}");
        stop.cancel();
    }

    #[tokio::test]
    async fn shutdown_waits_for_requests_in_progress() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = Router::new().route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_millis(300)).await;
                "done"
            }),
        );
        let stop = CancellationToken::new();
        let server = tokio::spawn(serve_connections(
            listener,
            app,
            ServeOptions::default(),
            stop.clone().cancelled_owned(),
        ));
        let idle = TcpStream::connect(addr).await.unwrap();
        let slow = tokio::spawn(request(
            addr,
            "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        ));
        tokio::time::sleep(Duration::from_millis(100)).await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(3), server)
            .await
            .expect("server drained")
            .unwrap();
        assert!(slow.await.unwrap().ends_with("done"));
        drop(idle);
    }
}
