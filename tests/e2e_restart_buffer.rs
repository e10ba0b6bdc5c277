//! End to end: the buffer survives a graceful restart. The demo exporter is
//! scraped for a few intervals, watchfire gets SIGTERM (and writes
//! `buffer.snapshot`), then starts again on the same state directory while
//! the demo keeps running: right after the restart the samples from before
//! are there, so range functions such as `rate()` answer at once. A damaged
//! snapshot is reported in the log and the buffer starts empty.

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

struct Watchfire {
    proc: Proc,
    base: String,
}

fn start_watchfire(dir: &Path, name: &str) -> Watchfire {
    let port = free_port();
    let mut c = Command::new(watchfire_bin());
    c.args(["run", "--config"])
        .arg(dir.join("watchfire.yml"))
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .arg("--storage.path")
        .arg(dir.join("data"));
    let proc = Proc::spawn(name, c, dir);
    let base = format!("http://127.0.0.1:{port}");
    let ready = wait_for(Duration::from_secs(20), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    });
    if ready.is_none() {
        panic!("{name} not ready:\n{}", log(dir, name));
    }
    Watchfire { proc, base }
}

fn log(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("{name}.log"))).unwrap_or_default()
}

const COUNT_UP: &str = r#"count_over_time(up{job="demo"}[5m])"#;
const RATE: &str = r#"sum(rate(http_requests_total{job="demo"}[5m]))"#;

#[test]
fn buffer_survives_a_graceful_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let demo_port = free_port();
    let mut demo = Command::new(example_bin("demo_exporter"));
    demo.args(["--listen", &format!("127.0.0.1:{demo_port}")]);
    let _demo = Proc::spawn("demo", demo, dir.path());
    assert!(wait_listening(
        &format!("127.0.0.1:{demo_port}"),
        Duration::from_secs(10)
    ));
    let config = format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nstorage:\n  retention: 10m\n\
         scrape_configs:\n  - job_name: demo\n    static_configs: [{{targets: ['127.0.0.1:{demo_port}']}}]\n"
    );
    std::fs::write(dir.path().join("watchfire.yml"), config).expect("config");

    let mut first = start_watchfire(dir.path(), "first");
    let before = wait_for(Duration::from_secs(20), || {
        query_single(&first.base, COUNT_UP).filter(|n| *n >= 3.0)
    })
    .unwrap_or_else(|| panic!("three scrapes not seen:\n{}", log(dir.path(), "first")));
    let status = first
        .proc
        .terminate(Duration::from_secs(15))
        .expect("exits after SIGTERM");
    assert!(status.success(), "exit status {status:?}");
    let first_log = log(dir.path(), "first");
    assert!(first_log.contains("buffer snapshot written"), "{first_log}");
    let snapshot = dir.path().join("data/buffer.snapshot");
    assert!(snapshot.exists(), "no snapshot written:\n{first_log}");

    // Right after the restart, before (or regardless of) the first scrape.
    let second = start_watchfire(dir.path(), "second");
    let after = query_single(&second.base, COUNT_UP).unwrap_or(0.0);
    let rate = query_single(&second.base, RATE);
    let second_log = log(dir.path(), "second");
    assert!(
        after >= before,
        "samples lost across the restart: {after} < {before}\n{second_log}"
    );
    assert!(
        rate.is_some_and(|r| r.is_finite() && r >= 0.0),
        "rate() has no value right after the restart: {rate:?}\n{second_log}"
    );
    assert!(
        second_log.contains("buffer restored from snapshot"),
        "{second_log}"
    );
    // No staleness markers were written at shutdown: `up` is visible at once.
    assert_eq!(query_single(&second.base, r#"up{job="demo"}"#), Some(1.0));
    drop(second);

    // A damaged snapshot: a clear error in the log, an empty buffer, no crash.
    let mut bytes = std::fs::read(&snapshot).expect("snapshot");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    std::fs::write(&snapshot, &bytes).expect("damage snapshot");
    let third = start_watchfire(dir.path(), "third");
    let third_log = log(dir.path(), "third");
    assert!(
        third_log.contains("cannot use the buffer snapshot")
            && third_log.contains("buffer.snapshot: corrupt at byte"),
        "{third_log}"
    );
    let n = query_single(&third.base, COUNT_UP).unwrap_or(0.0);
    assert!(n < before, "a damaged snapshot was loaded: {n}");
}
