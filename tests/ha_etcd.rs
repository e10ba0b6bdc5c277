//! Issue 16 item 4: the HA pair on a real etcd (Debian's `etcd-server`), and the
//! Alertmanager-cluster variant on a real Alertmanager 0.33 pair.
//!
//! One scenario per test, in order, on one etcd and two replicas (starting processes is most
//! of the time): exactly one notification per transition; a silence made on the standby mutes
//! on the leader; SIGSTOP of the leader past the TTL, then SIGCONT, never duplicates; after
//! kill -9 of the lease holder the survivor delivers the next transition once (the takeover
//! time is printed); with etcd stopped both replicas send and raise `WatchfireHALeaseLost`.
//!
//! Outside CI a missing `etcd` skips with a message; under CI it fails.

mod common;

use axum::routing::post;
use axum::Json;
use common::target::{Behaviour, TestTarget};
use common::{free_port, get_json, get_text, http, spawn_watchfire, wait_for, Proc};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The webhook's received notifications: (group label `case` or alertname, status, body).
type Received = Arc<Mutex<Vec<(String, String, Value)>>>;

fn webhook() -> (String, Received) {
    let got: Received = Arc::default();
    let store = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |Json(body): Json<Value>| {
            let store = store.clone();
            async move {
                let group = body["groupLabels"]["case"]
                    .as_str()
                    .or(body["commonLabels"]["alertname"].as_str())
                    .unwrap_or("")
                    .to_owned();
                let status = body["status"].as_str().unwrap_or("").to_owned();
                store.lock().unwrap().push((group, status, body));
                "ok"
            }
        }),
    );
    let addr = common::target::serve_router(app);
    (format!("http://{addr}/hook"), got)
}

fn count(got: &Received, group: &str, status: &str) -> usize {
    got.lock()
        .unwrap()
        .iter()
        .filter(|(g, s, _)| g == group && s == status)
        .count()
}

/// Waits for at least one `status` notification of `group`, then `settle` more, and returns
/// how many arrived.
fn settled_count(got: &Received, group: &str, status: &str, settle: Duration) -> usize {
    wait_for(Duration::from_secs(30), || {
        (count(got, group, status) > 0).then_some(())
    })
    .unwrap_or_else(|| panic!("no {status} notification for {group}: {:?}", summary(got)));
    std::thread::sleep(settle);
    count(got, group, status)
}

fn summary(got: &Received) -> Vec<(String, String)> {
    got.lock()
        .unwrap()
        .iter()
        .map(|(g, s, _)| (g.clone(), s.clone()))
        .collect()
}

/// etcd on two free ports, its data in `dir/etcd`; `None` (skip) when etcd is absent outside
/// CI.
fn start_etcd(dir: &Path) -> Option<(Proc, String)> {
    if !common::have("etcd") {
        assert!(
            std::env::var_os("CI").is_none(),
            "etcd is absent in CI: .ci/run should install etcd-server"
        );
        eprintln!("skipped: etcd is not installed (apt-get install etcd-server)");
        return None;
    }
    let (client, peer) = (free_port(), free_port());
    let client_url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut cmd = Command::new("etcd");
    cmd.arg("--data-dir")
        .arg(dir.join("etcd"))
        .args(["--name", "n"])
        .args(["--listen-client-urls", &client_url])
        .args(["--advertise-client-urls", &client_url])
        .args(["--listen-peer-urls", &peer_url])
        .args(["--initial-advertise-peer-urls", &peer_url])
        .args(["--initial-cluster", &format!("n={peer_url}")]);
    let proc = Proc::spawn("etcd", cmd, dir);
    let healthy = wait_for(Duration::from_secs(20), || {
        get_text(&format!("{client_url}/health")).filter(|(s, b)| *s == 200 && b.contains("true"))
    });
    assert!(healthy.is_some(), "etcd did not become healthy");
    Some((proc, format!("127.0.0.1:{client}")))
}

const RULES: &str = "groups:\n- name: ha\n  interval: 1s\n  rules:\n  - alert: HaTest\n    \
                     expr: ha_value > 0\n    labels: {severity: warning}\n";

fn write_replica(dir: &Path, name: &str, target: &str, etcd: &str, hook: &str) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("rules.yml"), RULES).unwrap();
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n  external_labels: \
         {{replica: {name}, dc: x}}\n\
         scrape_configs:\n- job_name: t\n  static_configs: [{{targets: ['{target}']}}]\n\
         rule_files: [rules.yml]\n\
         ha:\n  replica: {name}\n  etcd: {{endpoints: ['{etcd}'], lease_ttl: 3s, prefix: /wf-test, \
         dial_timeout: 1s}}\n\
         route:\n  receiver: hook\n  group_by: [case, alertname]\n  group_wait: 0s\n  \
         group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n- name: hook\n  webhook_configs: [{{url: '{hook}', send_resolved: true}}]\n"
    );
    std::fs::write(dir.join("watchfire.yml"), config).unwrap();
}

fn metric(base: &str, name: &str) -> Option<f64> {
    let (_, text) = get_text(&format!("{base}/metrics"))?;
    text.lines()
        .find(|l| l.split([' ', '{']).next() == Some(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

struct Replica {
    name: &'static str,
    dir: PathBuf,
    port: u16,
    proc: Option<Proc>,
}

impl Replica {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn start(&mut self) {
        let proc = spawn_watchfire(&self.dir, self.port, self.name, &[]);
        self.proc = Some(proc);
        let base = self.base();
        wait_for(Duration::from_secs(30), || {
            get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
        })
        .unwrap_or_else(|| panic!("replica {} not ready", self.name));
    }

    fn is_leader(&self) -> bool {
        metric(&self.base(), "watchfire_ha_leader") == Some(1.0)
    }

    fn signal(&self, sig: &str) {
        let pid = self.proc.as_ref().expect("running").child.id().to_string();
        assert!(Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
            .success());
    }
}

fn leader_index(replicas: &[Replica]) -> Option<usize> {
    let leaders: Vec<usize> = (0..replicas.len())
        .filter(|&i| replicas[i].proc.is_some() && replicas[i].is_leader())
        .collect();
    (leaders.len() == 1).then(|| leaders[0])
}

fn serve(target: &TestTarget, values: &[(&str, u8)]) {
    let body: String = values
        .iter()
        .map(|(case, v)| format!("ha_value{{case=\"{case}\"}} {v}\n"))
        .collect();
    target.set(Behaviour::Text(body));
}

#[test]
fn an_etcd_pair_sends_each_transition_once_and_fails_open() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((mut etcd, etcd_addr)) = start_etcd(tmp.path()) else {
        return;
    };
    let (hook, got) = webhook();
    let target = TestTarget::start(Behaviour::Text(String::new()));
    serve(&target, &[("one", 1)]);
    let mut replicas = [
        Replica {
            name: "a",
            dir: tmp.path().join("a"),
            port: free_port(),
            proc: None,
        },
        Replica {
            name: "b",
            dir: tmp.path().join("b"),
            port: free_port(),
            proc: None,
        },
    ];
    for r in &mut replicas {
        write_replica(&r.dir, r.name, &target.addr, &etcd_addr, &hook);
        r.start();
    }
    let settle = Duration::from_secs(4);

    // 1. Exactly one notification per transition, without the `replica` label.
    let leader =
        wait_for(Duration::from_secs(15), || leader_index(&replicas)).expect("one replica leads");
    assert_eq!(
        settled_count(&got, "one", "firing", settle),
        1,
        "{:?}",
        summary(&got)
    );
    {
        let all = got.lock().unwrap();
        let labels = &all[0].2["alerts"][0]["labels"];
        assert_eq!(labels["dc"], "x", "{labels}");
        assert!(
            labels.get("replica").is_none(),
            "replica label sent: {labels}"
        );
    }
    serve(&target, &[("one", 0)]);
    assert_eq!(
        settled_count(&got, "one", "resolved", settle),
        1,
        "{:?}",
        summary(&got)
    );
    assert_eq!(count(&got, "one", "firing"), 1);

    // The pair as Alertmanager's status shows a cluster.
    let (_, status) = get_json(&format!("{}/api/v2/status", replicas[leader].base())).unwrap();
    let cluster = &status["cluster"];
    assert_eq!(cluster["name"], replicas[leader].name, "{cluster}");
    assert_eq!(cluster["status"], "ready", "{cluster}");

    // 2. A silence made on the standby mutes on the leader.
    let standby = 1 - leader;
    let (_, status) = get_json(&format!("{}/api/v2/status", replicas[standby].base())).unwrap();
    let peers = status["cluster"]["peers"].as_array().unwrap().len();
    assert_eq!(peers, 2, "{status}");
    let now = chrono::Utc::now();
    let silence = serde_json::json!({
        "matchers": [{"name": "case", "value": "two", "isRegex": false, "isEqual": true}],
        "startsAt": now.to_rfc3339(),
        "endsAt": (now + chrono::Duration::hours(1)).to_rfc3339(),
        "createdBy": "test", "comment": "made on the standby",
    });
    let resp = http()
        .post(format!("{}/api/v2/silences", replicas[standby].base()))
        .json(&silence)
        .send()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200, "{}", resp.text().unwrap());
    let leader_base = replicas[leader].base();
    wait_for(Duration::from_secs(10), || {
        let (_, list) = get_json(&format!("{leader_base}/api/v2/silences"))?;
        (list.as_array()?.len() == 1).then_some(())
    })
    .expect("the silence reaches the leader");
    serve(&target, &[("two", 1), ("three", 1)]);
    assert_eq!(
        settled_count(&got, "three", "firing", settle),
        1,
        "{:?}",
        summary(&got)
    );
    assert_eq!(
        count(&got, "two", "firing"),
        0,
        "silenced on the leader: {:?}",
        summary(&got)
    );

    // 3. SIGSTOP of the leader past the TTL: the standby takes over; SIGCONT never duplicates.
    replicas[leader].signal("-STOP");
    let stopped_at = Instant::now();
    wait_for(Duration::from_secs(15), || {
        replicas[standby].is_leader().then_some(())
    })
    .expect("the standby takes over from a stopped leader");
    eprintln!("takeover after SIGSTOP: {:?}", stopped_at.elapsed());
    serve(&target, &[("two", 1), ("three", 0)]);
    let resolved = wait_for(Duration::from_secs(30), || {
        (count(&got, "three", "resolved") > 0).then_some(())
    });
    std::thread::sleep(Duration::from_secs(4).saturating_sub(stopped_at.elapsed()));
    replicas[leader].signal("-CONT");
    assert!(resolved.is_some(), "{:?}", summary(&got));
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(count(&got, "three", "resolved"), 1, "{:?}", summary(&got));
    assert_eq!(count(&got, "three", "firing"), 1, "{:?}", summary(&got));
    serve(&target, &[("two", 1), ("four", 1)]);
    assert_eq!(
        settled_count(&got, "four", "firing", settle),
        1,
        "{:?}",
        summary(&got)
    );
    let leader = leader_index(&replicas).expect("one leader after SIGCONT");

    // 4. kill -9 of the lease holder: the survivor takes over and delivers the next
    //    transition once.
    let survivor = 1 - leader;
    let killed_at = Instant::now();
    replicas[leader]
        .proc
        .take()
        .expect("running")
        .child
        .kill()
        .unwrap();
    wait_for(Duration::from_secs(15), || {
        replicas[survivor].is_leader().then_some(())
    })
    .expect("the survivor takes over");
    let takeover = killed_at.elapsed();
    eprintln!("takeover after kill -9 (lease_ttl 3s): {takeover:?}");
    assert!(takeover < Duration::from_secs(8), "{takeover:?}");
    serve(&target, &[("two", 1), ("four", 1), ("five", 1)]);
    assert_eq!(
        settled_count(&got, "five", "firing", settle),
        1,
        "{:?}",
        summary(&got)
    );
    assert_eq!(count(&got, "four", "firing"), 1, "{:?}", summary(&got));

    // 5. etcd stopped: both replicas send (fail open) and raise the self-alert.
    replicas[leader].start();
    std::thread::sleep(Duration::from_secs(3));
    let errors_before: f64 = replicas
        .iter()
        .map(|r| metric(&r.base(), "watchfire_ha_lease_errors_total").unwrap_or(0.0))
        .sum();
    etcd.child.kill().unwrap();
    let _ = etcd.child.wait();
    let failed_at = Instant::now();
    wait_for(Duration::from_secs(20), || {
        replicas
            .iter()
            .all(|r| metric(&r.base(), "watchfire_ha_fail_open") == Some(1.0))
            .then_some(())
    })
    .expect("both replicas fail open");
    eprintln!("fail open after etcd stopped: {:?}", failed_at.elapsed());
    for r in &replicas {
        assert_eq!(metric(&r.base(), "watchfire_ha_leader"), Some(0.0));
    }
    let errors_after: f64 = replicas
        .iter()
        .map(|r| metric(&r.base(), "watchfire_ha_lease_errors_total").unwrap_or(0.0))
        .sum();
    assert!(
        errors_after > errors_before,
        "{errors_before} → {errors_after}"
    );
    wait_for(Duration::from_secs(20), || {
        (count(&got, "WatchfireHALeaseLost", "firing") >= 2).then_some(())
    })
    .unwrap_or_else(|| panic!("both replicas raise the self-alert: {:?}", summary(&got)));
    serve(&target, &[("two", 1), ("four", 1), ("five", 1), ("six", 1)]);
    let both = wait_for(Duration::from_secs(30), || {
        (count(&got, "six", "firing") >= 2).then_some(())
    });
    assert!(both.is_some(), "both replicas send: {:?}", summary(&got));
}

/// The Alertmanager-cluster variant: two replicas without `ha`, each forwarding to both
/// members of a real Alertmanager cluster, whose gossip deduplicates: one notification.
#[test]
fn two_replicas_behind_an_alertmanager_cluster_notify_once() {
    let tmp = tempfile::tempdir().unwrap();
    if common::peers::peer("prometheus-alertmanager").is_none() {
        return;
    }
    let (hook, got) = webhook();
    let am_config = tmp.path().join("am.yml");
    std::fs::write(
        &am_config,
        format!(
            "route:\n  receiver: hook\n  group_by: [alertname]\n  group_wait: 1s\n  \
             group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n- name: hook\n  webhook_configs: [{{url: '{hook}', send_resolved: true}}]\n"
        ),
    )
    .unwrap();
    let (p1, p2) = (free_port(), free_port());
    let cluster = |own: u16, other: u16| {
        vec![
            format!("--cluster.listen-address=127.0.0.1:{own}"),
            format!("--cluster.peer=127.0.0.1:{other}"),
            "--cluster.peer-timeout=3s".to_owned(),
            "--cluster.settle-timeout=2s".to_owned(),
            "--cluster.gossip-interval=50ms".to_owned(),
        ]
    };
    let mut ams = Vec::new();
    for (i, (own, other)) in [(p1, p2), (p2, p1)].into_iter().enumerate() {
        let dir = tmp.path().join(format!("am{i}"));
        std::fs::create_dir_all(&dir).unwrap();
        let flags = cluster(own, other);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let (proc, base) =
            common::alertmanager::start(&dir, &am_config, &flags).expect("peer checked above");
        ams.push((proc, base));
    }
    let am0 = ams[0].1.clone();
    wait_for(Duration::from_secs(20), || {
        let (_, status) = get_json(&format!("{am0}/api/v2/status"))?;
        (status["cluster"]["peers"].as_array()?.len() == 2).then_some(())
    })
    .expect("the Alertmanagers form a cluster");
    let targets: Vec<String> = ams
        .iter()
        .map(|(_, b)| format!("'{}'", b.trim_start_matches("http://")))
        .collect();
    let target = TestTarget::start(Behaviour::Text("ha_value{case=\"am\"} 1\n".into()));
    let mut replicas = Vec::new();
    for name in ["a", "b"] {
        let dir = tmp.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("rules.yml"), RULES).unwrap();
        std::fs::write(
            dir.join("watchfire.yml"),
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 scrape_configs:\n- job_name: t\n  static_configs: [{{targets: ['{}']}}]\n\
                 rule_files: [rules.yml]\n\
                 alerting:\n  alertmanagers:\n  - static_configs: [{{targets: [{}]}}]\n",
                target.addr,
                targets.join(", ")
            ),
        )
        .unwrap();
        let port = free_port();
        let proc = spawn_watchfire(&dir, port, name, &[]);
        replicas.push(proc);
    }
    assert_eq!(
        settled_count(&got, "HaTest", "firing", Duration::from_secs(8)),
        1,
        "{:?}",
        summary(&got)
    );
    // Both members received the alert (from both replicas): without the cluster's
    // deduplication each would have notified.
    for (_, base) in &ams {
        let (_, alerts) = get_json(&format!("{base}/api/v2/alerts")).expect("alerts");
        let names: Vec<&str> = alerts
            .as_array()
            .expect("a list")
            .iter()
            .filter_map(|a| a["labels"]["alertname"].as_str())
            .collect();
        assert_eq!(names, ["HaTest"], "{base}");
    }
    drop(replicas);
}

/// The fencing itself, through the library on a real etcd: the leader's log entries reach the
/// standby, the standby sends nothing, and a leader whose key was replaced behind its back
/// cannot write its entry and sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposed_leader_cannot_write_the_log_and_sends_nothing() {
    use std::collections::{BTreeMap, BTreeSet};
    use watchfire::config::{EtcdConfig, HaConfig, PromDuration};
    use watchfire::model::Labels;
    use watchfire::notify::dispatch::Outgoing;
    use watchfire::notify::group::NotifiedState;
    use watchfire::notify::ha::nflog::EntryId;
    use watchfire::notify::ha::{Ha, Role};
    use watchfire::notify::{Notification, NotificationReason, NotifyAlert, Silences};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_owned();
    // The helpers block (a blocking HTTP client): off the runtime's workers.
    let started = tokio::task::spawn_blocking(move || start_etcd(&dir));
    let Some((_etcd, addr)) = started.await.unwrap() else {
        return;
    };
    let endpoint = format!("http://{addr}");
    let config = |name: &str| HaConfig {
        replica: name.to_owned(),
        etcd: EtcdConfig {
            endpoints: vec![endpoint.clone()],
            lease_ttl: PromDuration::from_secs(3),
            prefix: "/fence".to_owned(),
            dial_timeout: PromDuration::from_secs(1),
            basic_auth: None,
        },
    };
    let outgoing = |group: &str| {
        let now = chrono::Utc::now();
        let alert = NotifyAlert::firing(Labels::from_pairs([("alertname", group)]), now);
        let logged = NotifiedState {
            firing: BTreeMap::from([(alert.fingerprint, alert.seq)]),
            resolved: BTreeSet::new(),
            at: now,
        };
        Outgoing {
            receiver: "hook".to_owned(),
            integration: 0,
            notification: Notification::new(
                "hook",
                group,
                Labels::from_pairs([("alertname", group)]),
                NotificationReason::FirstNotification,
                vec![alert],
                "",
                now,
            ),
            logged: Some(logged),
        }
    };
    async fn until(what: &str, mut f: impl FnMut() -> bool) {
        for _ in 0..100 {
            if f() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("timed out waiting until {what}");
    }
    let cancel = tokio_util::sync::CancellationToken::new();
    let retention = chrono::Duration::hours(120);
    let (a, _) = Ha::start(config("a"), Arc::default(), retention, cancel.clone());
    until("a leads", || matches!(a.role(), Role::Leader { .. })).await;
    let silences = Arc::new(Silences::new());
    let (b, _) = Ha::start(config("b"), silences, retention, cancel.clone());
    until("b sees a lead", || b.leader().as_deref() == Some("a")).await;
    assert_eq!(b.role(), Role::Standby);

    let first = outgoing("g1");
    let claimed = a.claim(vec![first.clone()]).await;
    assert_eq!(claimed.send.len(), 1, "{:?}", claimed.updates);
    until("the entry reaches b", || {
        let (updates, _) = b.log_updates_since(0);
        updates.iter().any(|u| u.group_key == "g1")
    })
    .await;
    let claimed = b.claim(vec![first.clone()]).await;
    assert!(claimed.send.is_empty(), "a standby sends nothing");
    assert_eq!(claimed.updates.len(), 1);
    assert_eq!(
        claimed.updates[0].state, first.logged,
        "its log goes back to a's entry"
    );

    // Depose a behind its back: the leader key now has another revision.
    let mut etcd = etcd_client::Client::connect([endpoint.as_str()], None)
        .await
        .unwrap();
    etcd.delete("/fence/leader", None).await.unwrap();
    etcd.put("/fence/leader", "intruder", None).await.unwrap();
    let claimed = a.claim(vec![outgoing("g2")]).await;
    assert!(claimed.send.is_empty(), "a deposed leader sends nothing");
    let key = EntryId {
        receiver: "hook".to_owned(),
        group_key: "g2".to_owned(),
        integration: 0,
    }
    .key("/fence");
    let written = etcd.get(key, None).await.unwrap();
    assert!(written.kvs().is_empty(), "nor writes its log entry");
    until("a steps down", || a.role() == Role::Standby).await;
    cancel.cancel();
}
