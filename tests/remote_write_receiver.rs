//! The remote-write receiver against the real sender: a Prometheus 3.5 in agent mode scrapes
//! itself and remote-writes to watchfire twice, once as Remote Write 1.0 and once as 2.0
//! (`protobuf_message: io.prometheus.write.v2.Request`), each marked by `write_relabel_configs`;
//! watchfire's PromQL sees both, and a rule alerts on the written data. Hostile bodies get
//! Prometheus' codes and the process keeps serving.

mod common;

use common::{free_port, spawn_watchfire, wait_for, wait_listening, Proc};
use std::process::Command;
use std::time::Duration;

fn post(url: &str, content_type: &str, encoding: Option<&str>, body: Vec<u8>) -> (u16, String) {
    let mut req = common::http()
        .post(url)
        .header("Content-Type", content_type)
        .body(body);
    if let Some(e) = encoding {
        req = req.header("Content-Encoding", e);
    }
    let resp = req.send().unwrap();
    (resp.status().as_u16(), resp.text().unwrap())
}

/// The status line's code for a write that declares `len` body bytes and sends none of them.
fn declared_length_status(port: u16, len: usize) -> u16 {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST /api/v1/write HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Content-Type: application/x-protobuf\r\nContent-Encoding: snappy\r\n\
         Content-Length: {len}\r\n\r\n"
    )
    .unwrap();
    let mut head = [0u8; 12];
    conn.read_exact(&mut head).unwrap();
    let line = String::from_utf8_lossy(&head);
    line["HTTP/1.1 ".len()..].trim().parse().unwrap()
}

#[test]
fn prometheus_agent_writes_into_watchfire() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("watchfire.yml"),
        "global: {evaluation_interval: 1s}\nrule_files: [rules.yml]\n",
    )
    .unwrap();
    std::fs::write(
        d.join("rules.yml"),
        "groups:\n  - name: g\n    rules:\n      - alert: AgentUp\n        expr: up{job=\"agent\",rw=\"2\"} == 1\n",
    )
    .unwrap();
    let port = free_port();
    let _wf = spawn_watchfire(
        d,
        port,
        "watchfire",
        &["--web.enable-remote-write-receiver"],
    );
    assert!(wait_listening(
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(30)
    ));
    let base = format!("http://127.0.0.1:{port}");
    let write = format!("{base}/api/v1/write");

    // Hostile and malformed bodies first: Prometheus' codes, nothing taken, still serving.
    let v1 = "application/x-protobuf";
    assert_eq!(post(&write, v1, Some("snappy"), b"garbage".to_vec()).0, 400);
    assert_eq!(
        post(&write, "application/json", None, b"{}".to_vec()).0,
        415
    );
    assert_eq!(post(&write, v1, Some("gzip"), vec![]).0, 415);
    let (code, text) = post(&write, "application/x-protobuf;proto=x.Y", None, vec![]);
    assert_eq!(
        (
            code,
            text.contains("unknown remote write protobuf message x.Y")
        ),
        (415, true)
    );
    let claims_1gib = vec![0x80, 0x80, 0x80, 0x80, 0x04];
    let (code, text) = post(&write, v1, Some("snappy"), claims_1gib);
    assert_eq!(
        (code, text.contains("over the limit")),
        (400, true),
        "{text}"
    );
    // A body declared over the 32 MiB limit is refused from its Content-Length, before it is
    // read (a client still sending it may see the connection closed instead of the answer).
    assert_eq!(declared_length_status(port, 33 << 20), 413);
    // An empty request is a valid, empty write.
    assert_eq!(post(&write, v1, Some("snappy"), vec![0]).0, 204);
    assert_eq!(
        common::get_text(&format!("{base}/-/healthy")).unwrap().0,
        200
    );

    let Some(prometheus) = common::peers::peer("prometheus") else {
        return;
    };
    let prom_port = free_port();
    let marked = |rw: &str, extra: &str| {
        format!(
            "  - url: {write}\n    {extra}queue_config: {{batch_send_deadline: 1s}}\n    \
             write_relabel_configs:\n      - target_label: rw\n        replacement: '{rw}'\n"
        )
    };
    std::fs::write(
        d.join("agent.yml"),
        format!(
            "global: {{scrape_interval: 1s}}\nscrape_configs:\n  - job_name: agent\n    \
             static_configs: [{{targets: ['127.0.0.1:{prom_port}']}}]\nremote_write:\n{}{}",
            marked("1", ""),
            marked(
                "2",
                "protobuf_message: io.prometheus.write.v2.Request\n    "
            )
        ),
    )
    .unwrap();
    let mut cmd = Command::new(prometheus);
    cmd.arg("--agent")
        .arg(format!("--config.file={}", d.join("agent.yml").display()))
        .arg(format!(
            "--storage.agent.path={}",
            d.join("agent-data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let _agent = Proc::spawn("prometheus-agent", cmd, d);

    for rw in ["1", "2"] {
        let q = format!("count(prometheus_build_info{{job=\"agent\",rw=\"{rw}\"}})");
        let got = wait_for(Duration::from_secs(60), || common::query_single(&base, &q));
        assert_eq!(got, Some(1.0), "no series written with Remote Write {rw}.0");
    }
    // Both versions carry the same samples: the agent's `up` is 1 in each.
    let up = common::query_vector(&base, "up{job=\"agent\"}");
    assert_eq!(up.len(), 2, "{up:?}");
    // The rule sees the written data and alerts.
    let firing = wait_for(Duration::from_secs(30), || {
        let (_, v) = common::get_json(&format!("{base}/api/v1/alerts")).unwrap();
        let alerts = v["data"]["alerts"].as_array()?.clone();
        alerts
            .iter()
            .any(|a| a["labels"]["alertname"] == "AgentUp" && a["state"] == "firing")
            .then_some(())
    });
    assert!(firing.is_some(), "AgentUp did not fire");
    // The receiver counts what it took.
    let (_, metrics) = common::get_text(&format!("{base}/metrics")).unwrap();
    assert!(metrics.contains("watchfire_remote_write_requests_total{protobuf_message=\"io.prometheus.write.v2.Request\",code=\"204\"}"), "{metrics}");
    let log = std::fs::read_to_string(d.join("prometheus-agent.log")).unwrap();
    assert!(!log.contains("non-recoverable error"), "{log}");
}
