//! End to end on the web security settings: HTTPS with certificates made by `openssl` at test
//! time, basic auth with bcrypt hashes, the admin bearer token, request size limits, and the
//! served configuration with every secret redacted.

mod common;

use common::*;
use reqwest::blocking::Client;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// Every secret value in [`CONFIG`] (and the files it names); none may be served or logged.
const SECRETS: &[&str] = &[
    "S3CRET-scrape-pw",
    "S3CRET-scrape-token",
    "S3CRET-scrape-pwfile",
    "S3CRET-am-pw",
    "S3CRET-am-token",
    "S3CRET-webhook-url",
    "S3CRET-webhook-header",
    "S3CRET-wh-pw",
    "S3CRET-wh-bearer",
    "S3CRET-wh-cred",
    "S3CRET-signing",
    "S3CRET-slack-url",
    "S3CRET-slack-bearer",
    "S3CRET-smtp-pw",
];

const CONFIG: &str = r#"
scrape_configs:
- job_name: a
  basic_auth: {username: u, password: S3CRET-scrape-pw}
  static_configs: [{targets: ['127.0.0.1:1']}]
- job_name: b
  authorization: {credentials: S3CRET-scrape-token}
  static_configs: [{targets: ['127.0.0.1:1']}]
- job_name: c
  basic_auth: {username: u, password_file: pwfile}
  static_configs: [{targets: ['127.0.0.1:1']}]
alerting:
  alertmanagers:
  - static_configs: [{targets: ['127.0.0.1:1']}]
    basic_auth: {username: u, password: S3CRET-am-pw}
  - static_configs: [{targets: ['127.0.0.1:1']}]
    authorization: {credentials: S3CRET-am-token}
route: {receiver: r}
receivers:
- name: r
  webhook_configs:
  - url: http://127.0.0.1:1/S3CRET-webhook-url
    headers: {X-Api-Key: S3CRET-webhook-header}
    http_config: {basic_auth: {username: u, password: S3CRET-wh-pw}}
    signing_secret_file: signing
  - url: http://127.0.0.1:1/x
    http_config: {bearer_token: S3CRET-wh-bearer}
  - url: http://127.0.0.1:1/y
    http_config: {authorization: {credentials: S3CRET-wh-cred}}
  slack_configs:
  - api_url: http://127.0.0.1:1/S3CRET-slack-url
    http_config: {authorization: {credentials: S3CRET-slack-bearer}}
  email_configs:
  - to: a@example.org
    from: b@example.org
    smarthost: 127.0.0.1:1
    auth_username: u
    auth_password: S3CRET-smtp-pw
"#;

const ADMIN_TOKEN: &str = "adm1n-t0ken";

/// Runs `openssl` with `args` in `dir`; panics with its output on failure.
fn openssl(dir: &Path, args: &[&str]) {
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

/// A CA (`ca.pem`), a server certificate for 127.0.0.1 (`server.pem`, `server.key`) and a
/// client certificate (`client.pem`, `client.key`), all signed by the CA.
fn make_certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    std::fs::write(
        dir.join("ca.ext"),
        "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("client.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n",
    )
    .unwrap();
    let mut ca = vec!["req"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.csr",
        "-subj",
        "/CN=watchfire test CA",
    ]);
    openssl(dir, &ca);
    openssl(
        dir,
        &[
            "x509", "-req", "-in", "ca.csr", "-signkey", "ca.key", "-out", "ca.pem", "-days", "2",
            "-extfile", "ca.ext",
        ],
    );
    for (name, cn) in [("server", "/CN=127.0.0.1"), ("client", "/CN=scraper")] {
        let mut req = vec!["req"];
        req.extend(ec);
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let pem = format!("{name}.pem");
        let ext = format!("{name}.ext");
        req.extend(["-keyout", &key, "-out", &csr, "-subj", cn]);
        openssl(dir, &req);
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

/// Starts watchfire with `web_config` (and the admin token file); returns the process and port.
fn start(dir: &Path, web_config: &str) -> (Proc, u16) {
    std::fs::write(dir.join("watchfire.yml"), CONFIG).unwrap();
    std::fs::write(dir.join("pwfile"), "S3CRET-scrape-pwfile\n").unwrap();
    std::fs::write(dir.join("signing"), "S3CRET-signing\n").unwrap();
    std::fs::write(dir.join("web.yml"), web_config).unwrap();
    std::fs::write(dir.join("admin-token"), format!("{ADMIN_TOKEN}\n")).unwrap();
    let port = free_port();
    let mut wf = Command::new(watchfire_bin());
    wf.arg("run")
        .arg("--config")
        .arg(dir.join("watchfire.yml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--web.config.file")
        .arg(dir.join("web.yml"))
        .arg("--web.admin-token-file")
        .arg(dir.join("admin-token"))
        .arg("--storage.path")
        .arg(dir.join("data"));
    let proc = Proc::spawn("watchfire", wf, dir);
    assert!(
        wait_listening(&format!("127.0.0.1:{port}"), Duration::from_secs(20)),
        "watchfire did not listen: {}",
        std::fs::read_to_string(dir.join("watchfire.log")).unwrap_or_default()
    );
    (proc, port)
}

/// An HTTPS client trusting the test CA, optionally presenting the client certificate.
fn https_client(dir: &Path, with_client_cert: bool) -> Client {
    let ca = std::fs::read(dir.join("ca.pem")).unwrap();
    let mut b = Client::builder()
        .use_rustls_tls()
        .timeout(Duration::from_secs(10))
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap());
    if with_client_cert {
        let mut pem = std::fs::read(dir.join("client.pem")).unwrap();
        pem.extend(std::fs::read(dir.join("client.key")).unwrap());
        b = b.identity(reqwest::Identity::from_pem(&pem).unwrap());
    }
    b.build().unwrap()
}

fn have_openssl() -> bool {
    if have("openssl") {
        return true;
    }
    eprintln!("skipping: the openssl command is needed to make test certificates");
    false
}

#[test]
fn https_basic_auth_admin_token_limits_and_redacted_config() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let hash = bcrypt::hash("pa55", 4).unwrap();
    let web = format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n\
         http_server_config:\n  headers: {{X-Frame-Options: deny}}\n\
         basic_auth_users:\n  alice: '{hash}'\n"
    );
    let (_wf, port) = start(dir.path(), &web);
    let base = format!("https://127.0.0.1:{port}");
    let c = https_client(dir.path(), false);

    // HTTPS answers; plain HTTP on the same port does not.
    let ready = wait_for(Duration::from_secs(20), || {
        c.get(format!("{base}/-/ready"))
            .basic_auth("alice", Some("pa55"))
            .send()
            .ok()
            .filter(|r| r.status() == 200)
    });
    assert!(ready.is_some(), "not ready over HTTPS");
    let plain = http()
        .get(format!("http://127.0.0.1:{port}/-/healthy"))
        .send();
    assert!(
        plain.is_err() || plain.unwrap().status() != 200,
        "plain HTTP must not be served"
    );

    // Basic auth on every endpoint: none, wrong password, unknown user → 401; right → 200.
    for path in [
        "/-/healthy",
        "/metrics",
        "/api/v1/status/config",
        "/federate?match[]=up",
        "/api/v1/status/tsdb",
        "/api/v1/parse_query?query=up",
        "/nope",
    ] {
        let r = c.get(format!("{base}{path}")).send().unwrap();
        assert_eq!(r.status(), 401, "{path}");
        assert_eq!(r.headers()["www-authenticate"], "Basic", "{path}");
    }
    for (user, pass) in [("alice", "wrong"), ("bob", "pa55")] {
        let r = c
            .get(format!("{base}/metrics"))
            .basic_auth(user, Some(pass))
            .send()
            .unwrap();
        assert_eq!(r.status(), 401, "{user}:{pass}");
    }
    let r = c
        .get(format!("{base}/metrics"))
        .basic_auth("alice", Some("pa55"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-frame-options"], "deny");

    // State-changing endpoints need the admin token (which is enough on its own).
    let reload = |auth: Option<&str>| {
        let mut req = c.post(format!("{base}/-/reload"));
        req = match auth {
            Some(token) => req.bearer_auth(token),
            None => req.basic_auth("alice", Some("pa55")),
        };
        req.send().unwrap()
    };
    let r = reload(None);
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["www-authenticate"], "Bearer");
    assert_eq!(reload(Some("wrong")).status(), 401);
    let r = reload(Some(ADMIN_TOKEN));
    assert_eq!(r.status(), 200, "{:?}", r.text());
    let silence = c
        .post(format!("{base}/api/v2/silences"))
        .basic_auth("alice", Some("pa55"))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(silence.status(), 401);
    let expire = c
        .delete(format!("{base}/api/v2/silence/x"))
        .basic_auth("alice", Some("pa55"))
        .send()
        .unwrap();
    assert_eq!(expire.status(), 401);
    // POST forms of read-only queries need only basic auth.
    let q = c
        .post(format!("{base}/api/v1/query"))
        .basic_auth("alice", Some("pa55"))
        .form(&[("query", "1+1")])
        .send()
        .unwrap();
    assert_eq!(q.status(), 200);

    // Huge queries are refused, and the server keeps serving. The server answers 413 as soon
    // as it sees the length and closes, so the client may instead see its upload cut short
    // (`huge_requests_get_clear_errors` checks the status codes byte by byte).
    let huge = "1+".repeat(2_500_000) + "1";
    let r = c
        .post(format!("{base}/api/v1/query"))
        .basic_auth("alice", Some("pa55"))
        .form(&[("query", huge.as_str())])
        .send();
    if let Ok(r) = r {
        assert_eq!(r.status(), 413);
    }
    let r = c
        .get(format!("{base}/api/v1/query"))
        .basic_auth("alice", Some("pa55"))
        .query(&[("query", huge.as_str())])
        .send();
    if let Ok(r) = r {
        assert!(r.status().is_client_error(), "{}", r.status());
    }
    let r = c
        .get(format!("{base}/-/healthy"))
        .basic_auth("alice", Some("pa55"))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // The served configuration and flags.
    let body: serde_json::Value = c
        .get(format!("{base}/api/v1/status/config"))
        .basic_auth("alice", Some("pa55"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(body["status"], "success");
    let yaml = body["data"]["yaml"].as_str().unwrap();
    assert!(
        yaml.contains("<secret>") && yaml.contains("job_name: c"),
        "{yaml}"
    );
    for s in SECRETS {
        assert!(!yaml.contains(s), "{s} leaked:\n{yaml}");
    }
    let flags: serde_json::Value = c
        .get(format!("{base}/api/v1/status/flags"))
        .basic_auth("alice", Some("pa55"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(flags["status"], "success");
    assert_eq!(flags["data"]["listen"], format!("127.0.0.1:{port}"));
    assert!(flags["data"]["web.config.file"]
        .as_str()
        .unwrap()
        .ends_with("web.yml"));
    assert_eq!(flags["data"]["query.timeout"], "2m");

    // A reload re-reads the web config; a broken one is refused and the running one stays.
    let status = |user: &str, pass: &str| {
        c.get(format!("{base}/-/healthy"))
            .basic_auth(user, Some(pass))
            .send()
            .unwrap()
            .status()
    };
    let new_hash = bcrypt::hash("n3w", 4).unwrap();
    std::fs::write(
        dir.path().join("web.yml"),
        web.replace(&format!("alice: '{hash}'"), &format!("carol: '{new_hash}'")),
    )
    .unwrap();
    assert_eq!(reload(Some(ADMIN_TOKEN)).status(), 200);
    assert_eq!(status("alice", "pa55"), 401);
    assert_eq!(status("carol", "n3w"), 200);
    std::fs::write(
        dir.path().join("web.yml"),
        "basic_auth_users: {dave: plain}\n",
    )
    .unwrap();
    let r = reload(Some(ADMIN_TOKEN));
    assert_eq!(r.status(), 500);
    let text = r.text().unwrap();
    assert!(
        text.contains("web.yml:1:26") && text.contains("not a bcrypt hash"),
        "{text}"
    );
    assert_eq!(status("carol", "n3w"), 200);

    let log = std::fs::read_to_string(dir.path().join("watchfire.log")).unwrap();
    for s in SECRETS.iter().chain([&ADMIN_TOKEN]) {
        assert!(!log.contains(s), "{s} logged");
    }
}

/// Sends `head` and then `body` over plain TCP (ignoring write errors: the server may answer
/// and close before reading everything) and returns the status line.
fn raw_status(port: u16, head: &str, body: &[u8]) -> String {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s
        .write_all(head.as_bytes())
        .and_then(|()| s.write_all(body));
    let mut buf = vec![0u8; 256];
    let n = s.read(&mut buf).unwrap_or(0);
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    text.lines().next().unwrap_or("").to_owned()
}

#[test]
fn huge_requests_get_clear_errors_and_gets_stay_open() {
    let dir = tempfile::tempdir().unwrap();
    let (_wf, port) = start(dir.path(), "");
    let base = format!("http://127.0.0.1:{port}");
    let ok = wait_for(Duration::from_secs(20), || {
        get_text(&format!("{base}/-/ready")).filter(|(code, _)| *code == 200)
    });
    assert!(ok.is_some(), "not ready");

    let huge = format!("query={}1", "1%2B".repeat(1_250_000));
    let post = format!(
        "POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n",
        huge.len()
    );
    assert_eq!(
        raw_status(port, &post, huge.as_bytes()),
        "HTTP/1.1 413 Payload Too Large"
    );
    let chunked = "POST /api/v1/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n";
    let body = format!("{:x}\r\n{huge}\r\n0\r\n\r\n", huge.len());
    assert_eq!(
        raw_status(port, chunked, body.as_bytes()),
        "HTTP/1.1 413 Payload Too Large"
    );
    let get = format!("GET /api/v1/query?{huge} HTTP/1.1\r\nHost: x\r\n\r\n");
    let line = raw_status(port, &get, b"");
    assert!(line.starts_with("HTTP/1.1 4"), "{line}");
    let header = format!("GET /-/healthy HTTP/1.1\r\nHost: x\r\nX-Big: {huge}\r\n\r\n");
    let line = raw_status(port, &header, b"");
    assert_eq!(line, "HTTP/1.1 431 Request Header Fields Too Large");
    let (code, _) = get_text(&format!("{base}/-/healthy")).unwrap();
    assert_eq!(code, 200);

    // Without basic auth users GETs are open; writes need the admin token.
    let (code, _) = get_json(&format!("{base}/api/v1/status/config")).unwrap();
    assert_eq!(code, 200);
    let client = http();
    let r = client.post(format!("{base}/-/reload")).send().unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .post(format!("{base}/-/reload"))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .post(format!("{base}/api/v2/silences"))
        .json(&serde_json::json!({}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
}

#[test]
fn client_certificates_are_verified_when_required() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let web = "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  \
               client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: ca.pem\n  \
               min_version: TLS13\n";
    let (_wf, port) = start(dir.path(), web);
    let url = format!("https://127.0.0.1:{port}/-/healthy");
    let with = https_client(dir.path(), true);
    let ok = wait_for(Duration::from_secs(20), || {
        with.get(&url).send().ok().filter(|r| r.status() == 200)
    });
    assert!(ok.is_some(), "client with a certificate refused");
    let without = https_client(dir.path(), false);
    assert!(
        without.get(&url).send().is_err(),
        "a client without certificate must be refused"
    );
    // GETs stay open without basic auth users; writes still need the token.
    assert_eq!(
        with.post(format!("https://127.0.0.1:{port}/-/reload"))
            .send()
            .unwrap()
            .status(),
        401
    );
}

#[test]
fn check_web_config_parses_certificates_and_reports_positions() {
    if !have_openssl() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_certificates(dir.path());
    let good = dir.path().join("good.yml");
    std::fs::write(
        &good,
        "tls_server_config: {cert_file: server.pem, key_file: server.key}\n",
    )
    .unwrap();
    let out = Command::new(watchfire_bin())
        .args(["check", "web-config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).ends_with("good.yml SUCCESS\n"));
    // A key that is not PEM, and a user whose password is not a bcrypt hash.
    let bad = dir.path().join("bad.yml");
    std::fs::write(
        &bad,
        "tls_server_config: {cert_file: server.pem, key_file: server.pem}\n",
    )
    .unwrap();
    let out = Command::new(watchfire_bin())
        .args(["check", "web-config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yml FAILED") && err.contains("tls_server_config.key_file"),
        "{err}"
    );
    std::fs::write(&bad, "basic_auth_users:\n  u: secretpassword\n").unwrap();
    let out = Command::new(watchfire_bin())
        .args(["check", "web-config"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yml:2:6: basic_auth_users: the password of user \"u\""),
        "{err}"
    );
    assert!(!err.contains("secretpassword"), "{err}");
}
