//! Access control in front of every endpoint: HTTP basic auth for the users of the web config
//! file (exporter-toolkit's semantics), and a bearer token for the endpoints that change state.
//!
//! - With `basic_auth_users`, every request needs `Authorization: Basic` with a listed user and
//!   the password of its bcrypt hash; otherwise 401 with `WWW-Authenticate: Basic`. An unknown
//!   user is checked against a fixed dummy hash so timing does not reveal which users exist.
//!   bcrypt runs on the blocking pool, one verification at a time (it is CPU-bound by design),
//!   and outcomes are cached for [`CACHE_TTL`] under a SHA-256 of (user, hash, password), so
//!   scrapes of `/metrics` every few seconds cost one bcrypt per [`CACHE_TTL`].
//! - With `--web.admin-token-file`, requests that change state (every method but GET, HEAD and
//!   OPTIONS, except the POST forms of read-only query endpoints) need
//!   `Authorization: Bearer TOKEN`; otherwise 401 with `WWW-Authenticate: Bearer`. As the
//!   `Authorization` header cannot carry both, the admin token alone is enough on those
//!   endpoints when basic auth is on too.
//!
//! The settings sit behind a lock and are swapped whole by [`Security::replace`] (reload).

use crate::config::{Secret, WebConfig};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use parking_lot::{Mutex, RwLock};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

/// How long a bcrypt outcome is reused for the same user, hash and password.
pub const CACHE_TTL: Duration = Duration::from_secs(300);

/// Most cached outcomes; when full, expired entries and then a tenth of the rest are dropped.
const CACHE_SIZE: usize = 100;

/// A bcrypt hash of a random password, checked for unknown users (cost 10, like hashes made
/// by `htpasswd -B`), so answering an unknown user takes as long as a known one.
static DUMMY_HASH: LazyLock<String> = LazyLock::new(|| {
    let password: [u8; 16] = rand::random();
    bcrypt::hash(password, 10).unwrap_or_default()
});

/// POST endpoints that only read (Prometheus accepts their parameters as a form body).
const READ_ONLY_POSTS: &[&str] = &[
    "/api/v1/query",
    "/api/v1/query_range",
    "/api/v1/format_query",
    "/api/v1/parse_query",
    "/api/v1/series",
    "/api/v1/labels",
    "/api/v1/query_exemplars",
];

/// Path prefixes of the web UI's write forms (silence create/expire). A browser form cannot
/// send `Authorization: Bearer`, so these pass the same checks as reads (basic auth) and the UI
/// handler checks the admin token from a form field with [`AdminCheck`] (and CSRF itself).
const UI_FORM_PREFIXES: &[&str] = &["/silences/"];

/// Put into every request by the access-control middleware: the admin token in force, for handlers that take it
/// from somewhere other than the `Authorization` header (the web UI's forms).
#[derive(Clone, Default)]
pub struct AdminCheck(Option<Secret>);

impl AdminCheck {
    /// A check against `token` (`None`: writes are open).
    pub fn new(token: Option<Secret>) -> Self {
        AdminCheck(token)
    }

    /// Whether an admin token is set (the UI then asks for it).
    pub fn required(&self) -> bool {
        self.0.is_some()
    }

    /// Whether `given` may change state: always when no token is set, else when it matches
    /// (compared in constant time).
    pub fn allows(&self, given: &str) -> bool {
        self.0.is_none() || token_matches(given, self.0.as_ref())
    }
}

/// What the access checks need, as loaded.
#[derive(Clone, Debug, Default)]
pub struct SecuritySettings {
    /// User → bcrypt hash; empty means no basic auth.
    pub users: BTreeMap<String, Secret>,
    /// Bearer token for state-changing endpoints; `None` leaves them open.
    pub admin_token: Option<Secret>,
    /// Headers added to every response.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl SecuritySettings {
    /// The settings of a web config and an optional admin token.
    pub fn new(web: &WebConfig, admin_token: Option<Secret>) -> Self {
        let headers = web
            .headers
            .iter()
            .filter_map(|(k, v)| {
                Some((
                    HeaderName::from_bytes(k.as_bytes()).ok()?,
                    HeaderValue::from_str(v).ok()?,
                ))
            })
            .collect();
        SecuritySettings {
            users: web.basic_auth_users.clone(),
            admin_token,
            headers,
        }
    }
}

/// Shared access-control state: the current settings, the bcrypt cache and gate.
#[derive(Clone)]
pub struct Security {
    settings: Arc<RwLock<Arc<SecuritySettings>>>,
    cache: Arc<BcryptCache>,
    gate: Arc<tokio::sync::Semaphore>,
}

impl Default for Security {
    /// Everything open.
    fn default() -> Self {
        Security::new(SecuritySettings::default())
    }
}

impl Security {
    /// Access control with `settings`.
    pub fn new(settings: SecuritySettings) -> Self {
        Security {
            settings: Arc::new(RwLock::new(Arc::new(settings))),
            cache: Arc::default(),
            gate: Arc::new(tokio::sync::Semaphore::new(1)),
        }
    }

    /// Swaps in new settings (reload); requests already past the checks are not affected.
    pub fn replace(&self, settings: SecuritySettings) {
        *self.settings.write() = Arc::new(settings);
    }

    fn current(&self) -> Arc<SecuritySettings> {
        self.settings.read().clone()
    }

    /// Whether `user`/`password` match, through the cache.
    async fn check_basic(&self, users: &BTreeMap<String, Secret>, user: &str, pass: &str) -> bool {
        let known = users.get(user).map(|h| h.expose().to_owned());
        let key = cache_key(user, known.as_deref().unwrap_or(""), pass);
        let ok = match self.cache.get(&key, Instant::now()) {
            Some(ok) => ok,
            None => {
                let Ok(_permit) = self.gate.acquire().await else {
                    return false;
                };
                let pass = pass.to_owned();
                let verified = tokio::task::spawn_blocking(move || {
                    let hash = known.as_deref().unwrap_or(DUMMY_HASH.as_str());
                    bcrypt::verify(pass, hash).unwrap_or(false)
                })
                .await
                .unwrap_or(false);
                self.cache.set(key, verified, Instant::now());
                verified
            }
        };
        ok && users.contains_key(user)
    }
}

/// The middleware: basic auth, admin token, extra headers.
pub async fn guard(State(security): State<Security>, mut req: Request, next: Next) -> Response {
    let settings = security.current();
    let ui_form = *req.method() == Method::POST
        && UI_FORM_PREFIXES
            .iter()
            .any(|p| req.uri().path().starts_with(p));
    let admin =
        settings.admin_token.is_some() && !ui_form && changes_state(req.method(), req.uri().path());
    req.extensions_mut()
        .insert(AdminCheck(settings.admin_token.clone()));
    let mut response = if admin {
        match bearer(req.headers()) {
            Some(token) if token_matches(token, settings.admin_token.as_ref()) => {
                next.run(req).await
            }
            _ => unauthorized("Bearer"),
        }
    } else if settings.users.is_empty() {
        next.run(req).await
    } else {
        match basic(req.headers()) {
            Some((user, pass)) if security.check_basic(&settings.users, &user, &pass).await => {
                next.run(req).await
            }
            _ => unauthorized("Basic"),
        }
    };
    for (name, value) in &settings.headers {
        response.headers_mut().insert(name.clone(), value.clone());
    }
    response
}

/// Whether a request changes state (and so needs the admin token).
pub fn changes_state(method: &Method, path: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    !(*method == Method::POST && READ_ONLY_POSTS.contains(&path.trim_end_matches('/')))
}

fn unauthorized(scheme: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(header::WWW_AUTHENTICATE, scheme)],
        "Unauthorized\n",
    )
        .into_response()
}

/// The user and password of an `Authorization: Basic` header.
fn basic(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, pass) = text.split_once(':')?;
    Some((user.to_owned(), pass.to_owned()))
}

/// The token of an `Authorization: Bearer` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// Compares digests so the time taken does not depend on how much of the token matches.
fn token_matches(given: &str, expected: Option<&Secret>) -> bool {
    let Some(expected) = expected else {
        return false;
    };
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(expected.expose().as_bytes());
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// The cache key: a digest, so plaintext passwords are not kept in memory.
fn cache_key(user: &str, hash: &str, pass: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in [user, hash, pass] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    h.finalize().into()
}

/// Recent bcrypt outcomes, bounded, each valid for [`CACHE_TTL`].
#[derive(Default)]
struct BcryptCache {
    entries: Mutex<HashMap<[u8; 32], (bool, Instant)>>,
}

impl BcryptCache {
    fn get(&self, key: &[u8; 32], now: Instant) -> Option<bool> {
        let entries = self.entries.lock();
        let (ok, at) = entries.get(key)?;
        (now.saturating_duration_since(*at) < CACHE_TTL).then_some(*ok)
    }

    fn set(&self, key: [u8; 32], ok: bool, now: Instant) {
        let mut entries = self.entries.lock();
        if entries.len() >= CACHE_SIZE {
            entries.retain(|_, (_, at)| now.saturating_duration_since(*at) < CACHE_TTL);
        }
        if entries.len() >= CACHE_SIZE {
            // HashMap iteration order is randomly seeded: this drops arbitrary entries.
            let drop: Vec<[u8; 32]> = entries.keys().take(CACHE_SIZE / 10).copied().collect();
            for k in drop {
                entries.remove(&k);
            }
        }
        entries.insert(key, (ok, now));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dummy_hash_is_a_valid_bcrypt_hash() {
        assert!(!bcrypt::verify("", &DUMMY_HASH).unwrap());
        assert_eq!(
            <bcrypt::HashParts as std::str::FromStr>::from_str(&DUMMY_HASH)
                .unwrap()
                .get_cost(),
            10
        );
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let cache = BcryptCache::default();
        let t0 = Instant::now();
        let k = cache_key("u", "h", "p");
        assert_eq!(cache.get(&k, t0), None);
        cache.set(k, true, t0);
        assert_eq!(cache.get(&k, t0 + Duration::from_secs(1)), Some(true));
        assert_eq!(cache.get(&k, t0 + CACHE_TTL), None);
        for i in 0..(3 * CACHE_SIZE) {
            cache.set(cache_key("u", "h", &i.to_string()), false, t0);
        }
        assert!(cache.len() <= CACHE_SIZE, "{}", cache.len());
        // When full, expired entries go first.
        let cache = BcryptCache::default();
        for i in 0..CACHE_SIZE {
            cache.set(cache_key("u", "h", &i.to_string()), false, t0);
        }
        assert_eq!(cache.len(), CACHE_SIZE);
        let later = t0 + CACHE_TTL + Duration::from_secs(1);
        cache.set(k, true, later);
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn cache_keys_separate_fields() {
        assert_ne!(cache_key("ab", "c", "d"), cache_key("a", "bc", "d"));
        assert_ne!(cache_key("u", "h", "p1"), cache_key("u", "h", "p2"));
    }

    #[tokio::test]
    async fn basic_auth_verifies_once_per_ttl() {
        let hash = bcrypt::hash("pw", 4).unwrap();
        let users = BTreeMap::from([("alice".to_owned(), Secret::new(hash))]);
        let sec = Security::new(SecuritySettings {
            users: users.clone(),
            ..Default::default()
        });
        assert!(sec.check_basic(&users, "alice", "pw").await);
        assert_eq!(sec.cache.len(), 1);
        assert!(sec.check_basic(&users, "alice", "pw").await);
        assert_eq!(sec.cache.len(), 1);
        assert!(!sec.check_basic(&users, "alice", "wrong").await);
        assert!(!sec.check_basic(&users, "mallory", "pw").await);
        assert!(!sec.check_basic(&users, "mallory", "").await);
    }

    #[test]
    fn headers_are_parsed() {
        let mut h = HeaderMap::new();
        let creds = base64::engine::general_purpose::STANDARD.encode("al:ice:pw");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {creds}").parse().unwrap(),
        );
        assert_eq!(basic(&h), Some(("al".to_owned(), "ice:pw".to_owned())));
        assert_eq!(bearer(&h), None);
        h.insert(header::AUTHORIZATION, "bearer  t0k ".parse().unwrap());
        assert_eq!(bearer(&h), Some("t0k"));
        assert_eq!(basic(&h), None);
        h.insert(header::AUTHORIZATION, "Basic !!!".parse().unwrap());
        assert_eq!(basic(&h), None);
    }

    #[test]
    fn tokens_compare_exactly() {
        let t = Secret::new("s3cret");
        assert!(token_matches("s3cret", Some(&t)));
        assert!(!token_matches("s3cre", Some(&t)));
        assert!(!token_matches("s3cret", None));
    }

    #[test]
    fn state_changing_requests() {
        assert!(changes_state(&Method::POST, "/-/reload"));
        assert!(changes_state(&Method::PUT, "/-/reload"));
        assert!(changes_state(&Method::POST, "/api/v2/silences"));
        assert!(changes_state(&Method::DELETE, "/api/v2/silence/abc"));
        assert!(changes_state(&Method::POST, "/api/v1/admin/tsdb/snapshot"));
        assert!(!changes_state(&Method::POST, "/api/v1/query"));
        assert!(!changes_state(&Method::POST, "/api/v1/series/"));
        assert!(!changes_state(&Method::GET, "/-/reload"));
        assert!(!changes_state(&Method::HEAD, "/-/healthy"));
    }

    #[tokio::test]
    async fn ui_forms_pass_to_their_handler_with_the_admin_check() {
        use axum::body::Body;
        use axum::routing::post;
        use tower_service::Service as _;
        // The handler answers 200 only when the form's token passes the check it was given.
        let app = axum::Router::new()
            .route(
                "/silences/new",
                post(
                    |axum::Extension(check): axum::Extension<AdminCheck>, body: String| async move {
                        if check.allows(body.trim()) {
                            StatusCode::OK
                        } else {
                            StatusCode::UNAUTHORIZED
                        }
                    },
                ),
            )
            .route("/api/v2/silences", post(|| async { StatusCode::OK }))
            .layer(axum::middleware::from_fn_with_state(
                Security::new(SecuritySettings {
                    admin_token: Some(Secret::new("s3cret")),
                    ..SecuritySettings::default()
                }),
                guard,
            ));
        let call = |path: &str, body: &'static str| {
            let req = Request::post(path).body(Body::from(body)).unwrap();
            let mut app = app.clone();
            async move { app.call(req).await.unwrap().status() }
        };
        assert_eq!(call("/silences/new", "s3cret").await, StatusCode::OK);
        assert_eq!(
            call("/silences/new", "wrong").await,
            StatusCode::UNAUTHORIZED
        );
        // The API keeps needing the bearer header.
        assert_eq!(
            call("/api/v2/silences", "s3cret").await,
            StatusCode::UNAUTHORIZED
        );
    }
}
