//! A demo exporter: serves realistic `/metrics` for a few services ("modules")
//! so watchfire has something to alert on out of the box.
//!
//! One module (`checkout` by default) degrades on a schedule: healthy, then its
//! latency and error rate cross the warning levels of the bundled rules, then
//! the critical levels, then it recovers, and the cycle repeats.
//!
//! ```text
//! cargo run --example demo_exporter -- --listen 127.0.0.1:9712
//! ```

use axum::{extract::State, http::header, response::IntoResponse, routing::get, Router};
use clap::Parser;
use rand::Rng;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Latency bucket bounds, Prometheus client defaults.
const BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// HTTP status codes the demo services answer with.
const CODES: [&str; 3] = ["200", "404", "500"];

#[derive(Parser, Debug)]
#[command(about = "watchfire demo exporter")]
struct Args {
    /// Address to serve /metrics on.
    #[arg(long, default_value = "127.0.0.1:9712")]
    listen: String,
    /// Comma-separated module names.
    #[arg(long, default_value = "checkout,search,auth,batch-report")]
    modules: String,
    /// The module that degrades.
    #[arg(long, default_value = "checkout")]
    degrade: String,
    /// Time from start (and from each cycle start) until the warning phase.
    #[arg(long, default_value = "20s", value_parser = humantime::parse_duration)]
    warning_after: Duration,
    /// Time from start until the critical phase.
    #[arg(long, default_value = "80s", value_parser = humantime::parse_duration)]
    critical_after: Duration,
    /// Time from start until the module recovers.
    #[arg(long, default_value = "200s", value_parser = humantime::parse_duration)]
    recover_after: Duration,
    /// Length of one healthy → warning → critical → healthy cycle.
    #[arg(long, default_value = "400s", value_parser = humantime::parse_duration)]
    cycle: Duration,
}

/// How a module behaves at a given moment.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Healthy,
    Warning,
    Critical,
}

impl Phase {
    /// Typical latency in seconds and the share of 5xx answers.
    fn profile(self) -> (f64, f64) {
        match self {
            Phase::Healthy => (0.08, 0.005),
            Phase::Warning => (3.0, 0.07),
            Phase::Critical => (7.0, 0.15),
        }
    }
}

/// Counters of one module, advanced every tick.
#[derive(Debug, Default, Clone)]
struct ModuleState {
    name: String,
    requests: [f64; 3],
    buckets: [u64; 11],
    count: u64,
    sum: f64,
    cpu_seconds: f64,
    rss: f64,
    goroutines: f64,
    phase_name: &'static str,
}

/// A per-module metric: name, type, help, and how to read it.
type Gauge = (
    &'static str,
    &'static str,
    &'static str,
    fn(&ModuleState) -> f64,
);

struct Demo {
    args: Args,
    started: Instant,
    modules: Mutex<Vec<ModuleState>>,
}

impl Demo {
    fn phase_of(&self, module: &str) -> Phase {
        if module != self.args.degrade {
            return Phase::Healthy;
        }
        let cycle = self.args.cycle.as_secs_f64().max(1.0);
        let t = self.started.elapsed().as_secs_f64() % cycle;
        if t >= self.args.recover_after.as_secs_f64() {
            Phase::Healthy
        } else if t >= self.args.critical_after.as_secs_f64() {
            Phase::Critical
        } else if t >= self.args.warning_after.as_secs_f64() {
            Phase::Warning
        } else {
            Phase::Healthy
        }
    }

    /// Simulates one second of traffic for every module.
    fn tick(&self) {
        let mut rng = rand::rng();
        let mut modules = self.modules.lock().expect("demo state lock");
        for (i, m) in modules.iter_mut().enumerate() {
            let phase = self.phase_of(&m.name);
            m.phase_name = match phase {
                Phase::Healthy => "healthy",
                Phase::Warning => "warning",
                Phase::Critical => "critical",
            };
            let (latency, error_share) = phase.profile();
            let rate = 150.0 + 40.0 * i as f64 + rng.random_range(0.0..20.0);
            let n = rate.round() as u64;
            for _ in 0..n {
                let l = latency * rng.random_range(0.5..1.5);
                m.count += 1;
                m.sum += l;
                for (b, bound) in BUCKETS.iter().enumerate() {
                    if l <= *bound {
                        m.buckets[b] += 1;
                    }
                }
                let r: f64 = rng.random();
                let code = if r < error_share {
                    2
                } else if r < error_share + 0.01 {
                    1
                } else {
                    0
                };
                m.requests[code] += 1.0;
            }
            let load = if phase == Phase::Healthy { 0.25 } else { 0.9 };
            m.cpu_seconds += load * rng.random_range(0.9..1.1);
            m.rss = if phase == Phase::Critical {
                1.9e9
            } else {
                4.0e8
            } * rng.random_range(0.98..1.02);
            m.goroutines = if phase == Phase::Healthy {
                120.0
            } else {
                1400.0
            } + rng.random_range(0.0f64..30.0).round();
        }
    }

    fn render(&self) -> String {
        let modules = self.modules.lock().expect("demo state lock").clone();
        let mut out = String::with_capacity(16 * 1024);
        out.push_str("# HELP http_requests_total Requests handled, by module and status code.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for m in &modules {
            for (c, code) in CODES.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "http_requests_total{{module=\"{}\",code=\"{code}\"}} {}",
                    m.name, m.requests[c]
                );
            }
        }
        out.push_str("# HELP http_request_duration_seconds Request latency, by module.\n");
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for m in &modules {
            for (b, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "http_request_duration_seconds_bucket{{module=\"{}\",le=\"{bound}\"}} {}",
                    m.name, m.buckets[b]
                );
            }
            let _ = writeln!(
                out,
                "http_request_duration_seconds_bucket{{module=\"{}\",le=\"+Inf\"}} {}",
                m.name, m.count
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_sum{{module=\"{}\"}} {}",
                m.name, m.sum
            );
            let _ = writeln!(
                out,
                "http_request_duration_seconds_count{{module=\"{}\"}} {}",
                m.name, m.count
            );
        }
        let gauges: [Gauge; 4] = [
            (
                "process_cpu_seconds_total",
                "counter",
                "CPU time used, by module.",
                |m| m.cpu_seconds,
            ),
            (
                "process_resident_memory_bytes",
                "gauge",
                "Resident memory, by module.",
                |m| m.rss,
            ),
            (
                "process_virtual_memory_max_bytes",
                "gauge",
                "Memory limit, by module.",
                |_| 2.0e9,
            ),
            ("go_goroutines", "gauge", "Goroutines, by module.", |m| {
                m.goroutines
            }),
        ];
        for (name, kind, help, get) in gauges {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for m in &modules {
                let _ = writeln!(out, "{name}{{module=\"{}\"}} {}", m.name, get(m));
            }
        }
        out.push_str(
            "# HELP demo_phase The simulated phase of each module (1 for the current one).\n",
        );
        out.push_str("# TYPE demo_phase gauge\n");
        for m in &modules {
            let _ = writeln!(
                out,
                "demo_phase{{module=\"{}\",phase=\"{}\"}} 1",
                m.name, m.phase_name
            );
        }
        out
    }
}

async fn metrics(State(demo): State<Arc<Demo>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        demo.render(),
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let modules = args
        .modules
        .split(',')
        .map(|n| ModuleState {
            name: n.trim().to_string(),
            phase_name: "healthy",
            ..Default::default()
        })
        .collect();
    let listen = args.listen.clone();
    let demo = Arc::new(Demo {
        args,
        started: Instant::now(),
        modules: Mutex::new(modules),
    });
    demo.tick();
    let ticker = demo.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            ticker.tick();
        }
    });
    let app = Router::new()
        .route("/metrics", get(metrics))
        .with_state(demo);
    let listener = tokio::net::TcpListener::bind(&listen).await?;
    eprintln!(
        "demo exporter serving http://{}/metrics",
        listener.local_addr()?
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
