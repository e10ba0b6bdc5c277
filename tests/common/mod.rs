//! Shared helpers for end-to-end tests: free ports, child processes that are
//! killed on drop, waiting for readiness, JSON over HTTP.
#![allow(dead_code)]

pub mod alertmanager;
pub mod dns;
pub mod kube;
pub mod peers;
pub mod target;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

/// The watchfire binary built for this test run.
pub fn watchfire_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_watchfire"))
}

/// An example binary built next to the watchfire binary.
pub fn example_bin(name: &str) -> PathBuf {
    watchfire_bin()
        .parent()
        .expect("bin dir")
        .join("examples")
        .join(name)
}

/// The crate root.
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Starts `watchfire run` on `dir/watchfire.yml`, listening on 127.0.0.1:`port`, with its
/// state directory in `dir/data` (unless `flags` name another) and its log in
/// `dir/<name>.log`; `flags` are appended.
pub fn spawn_watchfire(dir: &Path, port: u16, name: &str, flags: &[&str]) -> Proc {
    let mut wf = Command::new(watchfire_bin());
    wf.args(["run", "--config"])
        .arg(dir.join("watchfire.yml"))
        .args(["--listen", &format!("127.0.0.1:{port}")]);
    if !flags.contains(&"--storage.path") {
        wf.arg("--storage.path").arg(dir.join("data"));
    }
    wf.args(flags);
    Proc::spawn(name, wf, dir)
}

/// Starts the demo exporter on 127.0.0.1:`port` with `flags` (modules, phase times); its log
/// goes to `dir/demo.log`.
pub fn spawn_demo(dir: &Path, port: u16, flags: &[&str]) -> Proc {
    let mut demo = Command::new(example_bin("demo_exporter"));
    demo.args(["--listen", &format!("127.0.0.1:{port}")])
        .args(flags);
    Proc::spawn("demo", demo, dir)
}

/// Writes the bundled `rules/service-thresholds.yml` to `dir/rules.yml` with `for: 2s` and
/// 10 s rate windows, so alerts follow the demo within seconds.
pub fn write_fast_service_rules(dir: &Path) {
    let rules = std::fs::read_to_string(crate_dir().join("rules/service-thresholds.yml"))
        .expect("bundled rules")
        .replace("for: 30s", "for: 2s")
        .replace("[1m]", "[10s]");
    std::fs::write(dir.join("rules.yml"), rules).expect("rules");
}

/// Writes `dir/watchfire.yml` for the demo pipeline: 1 s scrapes of the demo exporter at
/// `demo_port` and 1 s evaluations of `dir/rules.yml`; notifications grouped by alert name and
/// module (`group_wait: 0s`, `group_interval: 1s`, `repeat_interval: 1h`) to one webhook whose
/// `webhook_configs` entry is `webhook` (flow-style YAML). With `only`, alerts of any other
/// name go to a receiver that does nothing.
pub fn write_demo_webhook_config(dir: &Path, demo_port: u16, webhook: &str, only: Option<&str>) {
    let mut config = format!(
        "global: {{scrape_interval: 1s, evaluation_interval: 1s}}
rule_files: [rules.yml]
scrape_configs:
  - job_name: demo
    static_configs: [{{targets: ['127.0.0.1:{demo_port}']}}]
route:
  receiver: hook
  group_by: [alertname, module]
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
"
    );
    if let Some(name) = only {
        config.push_str(&format!(
            "  routes:\n    - receiver: 'null'\n      matchers: ['alertname!=\"{name}\"']\n"
        ));
    }
    config.push_str(&format!(
        "receivers:\n  - name: hook\n    webhook_configs:\n      - {webhook}\n"
    ));
    if only.is_some() {
        config.push_str("  - name: 'null'\n");
    }
    std::fs::write(dir.join("watchfire.yml"), config).expect("config");
}

/// `s` encoded for a URL query component.
pub fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The result vector of an instant query at `base`, panicking on an API error.
pub fn query_vector(base: &str, q: &str) -> Vec<serde_json::Value> {
    let url = format!("{base}/api/v1/query?query={}", urlencode(q));
    let (status, body) = get_json(&url).unwrap_or_else(|| panic!("query {q} failed"));
    assert_eq!(status, 200, "{q}: {body}");
    body["data"]["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// The value of the first element of an instant query's vector, if any.
pub fn query_single(base: &str, q: &str) -> Option<f64> {
    query_vector(base, q).first()?["value"][1]
        .as_str()?
        .parse()
        .ok()
}

/// A child process killed (and reaped) when dropped.
pub struct Proc {
    pub child: Child,
    pub name: String,
}

impl Proc {
    /// Starts `cmd` with stdout/stderr captured to files in `log_dir`.
    pub fn spawn(name: &str, mut cmd: Command, log_dir: &Path) -> Proc {
        let out = std::fs::File::create(log_dir.join(format!("{name}.log"))).expect("log file");
        let err = out.try_clone().expect("clone log file");
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Proc {
            child,
            name: name.to_string(),
        }
    }

    /// Sends SIGTERM and waits up to `limit` for the exit status.
    pub fn terminate(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `f` every 100 ms until it returns `Some` or `limit` passes.
pub fn wait_for<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A blocking HTTP client with a short timeout.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("http client")
}

/// GET `url` and parse the body as JSON, with the status code.
pub fn get_json(url: &str) -> Option<(u16, serde_json::Value)> {
    let resp = http().get(url).send().ok()?;
    let status = resp.status().as_u16();
    let body = resp.json().ok()?;
    Some((status, body))
}

/// GET `url` as text.
pub fn get_text(url: &str) -> Option<(u16, String)> {
    let resp = http().get(url).send().ok()?;
    let status = resp.status().as_u16();
    Some((status, resp.text().ok()?))
}

/// Whether a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program} >/dev/null 2>&1"))
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// Waits until `addr` accepts TCP connections.
pub fn wait_listening(addr: &str, limit: Duration) -> bool {
    wait_for(limit, || std::net::TcpStream::connect(addr).ok()).is_some()
}
