//! Email against a real SMTP server (aiosmtpd from Debian's python3-aiosmtpd): headers, both
//! MIME parts, AUTH, and delivery after the server comes up late (retries keep the
//! Message-ID).

mod common;
mod notify_support;

use common::{free_port, Proc};
use notify_support::{firing, load_config};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use watchfire::notify::NotifierBuilder;

const PYTHON: &str = "/usr/bin/python3";

fn aiosmtpd_available() -> bool {
    Command::new(PYTHON)
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success())
}

fn start_smtp(port: u16, out: &Path, creds: Option<&str>, logs: &Path) -> Proc {
    let script = common::crate_dir().join("tests/notify_support/smtp_server.py");
    let mut cmd = Command::new(PYTHON);
    cmd.arg(script).arg(port.to_string()).arg(out);
    if let Some(c) = creds {
        cmd.arg(c);
    }
    let proc = Proc::spawn(&format!("smtp-{port}"), cmd, logs);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "smtp server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    proc
}

async fn wait_for_mail(dir: &Path, n: usize) -> Vec<(String, serde_json::Value)> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        if files.len() >= n {
            files.sort();
            return files
                .iter()
                .map(|p| {
                    let raw = std::fs::read_to_string(p).unwrap();
                    let env = std::fs::read_to_string(p.with_extension("json")).unwrap();
                    (raw, serde_json::from_str(&env).unwrap())
                })
                .collect();
        }
        assert!(
            Instant::now() < deadline,
            "{} of {n} emails arrived",
            files.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn config(port: u16, extra: &str) -> String {
    format!(
        r#"
route: {{receiver: mail, group_by: [alertname], group_wait: 0s, group_interval: 1s}}
receivers:
  - name: mail
    email_configs:
      - to: 'oncall@example.org, boss@example.org'
        from: 'watchfire@example.org'
        smarthost: 127.0.0.1:{port}
        require_tls: false
        send_resolved: true
        headers: {{X-Team: ops}}
        timeout: 2s
        min_backoff: 200ms
        max_backoff: 500ms
{extra}"#
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_has_headers_and_both_parts() {
    if !aiosmtpd_available() {
        println!("skipped: {PYTHON} cannot import aiosmtpd (apt-get install python3-aiosmtpd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    std::fs::create_dir(&mail_dir).unwrap();
    let port = free_port();
    let _smtp = start_smtp(port, &mail_dir, None, dir.path());
    let cfg = load_config(dir.path(), &config(port, ""));
    let notifier = NotifierBuilder::new(&cfg)
        .external_url("http://wf.example:9711")
        .start()
        .unwrap();
    let alert = firing(&[
        ("alertname", "DiskFull"),
        ("instance", "db1:9100"),
        ("severity", "critical"),
    ]);
    notifier.send(alert.clone()).await;
    let mails = wait_for_mail(&mail_dir, 1).await;
    let (raw, envelope) = &mails[0];
    assert_eq!(envelope["mail_from"], "watchfire@example.org");
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["oncall@example.org", "boss@example.org"])
    );
    for want in [
        "From: watchfire@example.org",
        "To: oncall@example.org, boss@example.org",
        "Subject: [FIRING:1] DiskFull (db1:9100 critical)",
        "X-Team: ops",
        "Content-Type: multipart/alternative",
        "Content-Type: text/plain; charset=utf-8",
        "Content-Type: text/html; charset=utf-8",
        "DiskFull (firing)",
        "DiskFull is bad",
        "background:#d00000",
    ] {
        assert!(raw.contains(want), "missing {want:?} in\n{raw}");
    }

    notifier.send(notify_support::resolved(&alert)).await;
    let mails = wait_for_mail(&mail_dir, 2).await;
    let raw = &mails[1].0;
    assert!(
        raw.contains("Subject: [RESOLVED] DiskFull (db1:9100 critical)"),
        "{raw}"
    );
    assert!(raw.contains("#2eb886"), "resolved is green: {raw}");
    notifier.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_logs_in_and_survives_a_late_server() {
    if !aiosmtpd_available() {
        println!("skipped: {PYTHON} cannot import aiosmtpd (apt-get install python3-aiosmtpd)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mail_dir = dir.path().join("mail");
    std::fs::create_dir(&mail_dir).unwrap();
    std::fs::write(dir.path().join("pw"), "hunter2\n").unwrap();
    let port = free_port();
    let extra = "        auth_username: alice\n        auth_password_file: pw\n";
    let cfg = load_config(dir.path(), &config(port, extra));
    let notifier = NotifierBuilder::new(&cfg).start().unwrap();
    notifier
        .send(firing(&[("alertname", "Late"), ("severity", "warning")]))
        .await;
    // The server is down for the first attempts.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(std::fs::read_dir(&mail_dir).unwrap().next().is_none());
    let _smtp = start_smtp(port, &mail_dir, Some("alice:hunter2"), dir.path());
    let mails = wait_for_mail(&mail_dir, 1).await;
    assert_eq!(mails[0].1["login"], "alice");
    assert!(
        mails[0].0.contains("Subject: [FIRING:1] Late (warning)"),
        "{}",
        mails[0].0
    );
    assert!(
        mails[0].0.contains("background:#ff9900"),
        "warning is orange"
    );
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(wait_for_mail(&mail_dir, 1).await.len(), 1, "delivered once");
    notifier.shutdown().await;
}
