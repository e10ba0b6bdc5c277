//! Differential: the real Prometheus 3.x and watchfire load the SAME `metric_relabel_configs`
//! (every action, Go's `$1_` template rule, RE2 classes) and scrape the same target; the stored
//! series (`/api/v1/series`) and `scrape_samples_post_metric_relabeling` must be identical.
//! Then `promtool check config` and `watchfire check config` must refuse the same broken rules
//! with the same words.
//!
//! Prometheus comes from `../shared/tools/fetch-peers.sh` (`$PEERS_BIN`, else `/opt/peers/usr/bin`,
//! else `PATH`); a Prometheus older than 3.0 (or none) skips with a note outside CI (under
//! `CI`, where `.ci/run` installs it, that fails the test), as the other
//! peer-dependent tests do.

mod common;

use common::target::{Behaviour, TestTarget};
use common::*;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const BODY: &str = "# TYPE http_requests_total counter\n\
http_requests_total{code=\"200\",method=\"GET\",path=\"/api/v1/x\"} 10\n\
http_requests_total{code=\"503\",method=\"Post\",path=\"/\"} 2\n\
go_goroutines 7\n\
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 5\n\
node_cpu_seconds_total{cpu=\"1\",mode=\"user\"} 6\n\
app_info{version=\"1.22.3\",commit=\"abc\",build_user=\"me\"} 1\n\
tmp_port{a=\"x\",b=\"x\"} 1\n\
tmp_port{a=\"x\",b=\"y\"} 1\n\
dup_name{alias=\"dup_name\"} 1\n\
dup_other{alias=\"something\"} 1\n\
weird{v=\"caf\u{e9} 42\"} 1\n\
weird_multi{v=\"line1\\nline2\"} 1\n\
weird_case{v=\"stra\u{df}e \u{39f}\u{394}\u{39f}\u{3a3} \u{130}x\"} 1\n";

const RULES: &str = r#"    metric_relabel_configs:
    - {source_labels: [__name__], regex: 'go_.*', action: drop}
    - {source_labels: [__name__], regex: '(http|node|app|tmp|dup|weird)_?.*', action: keep}
    - {source_labels: [__name__, cpu], separator: '/', modulus: 8, target_label: shard, action: hashmod}
    - {regex: '(method|path)', replacement: 'http_$1', action: labelmap}
    - {regex: '(method|path)', action: labeldrop}
    - {source_labels: [http_method], target_label: http_method, action: lowercase}
    - {source_labels: [mode], target_label: mode, action: uppercase}
    - {source_labels: [version], regex: '(\d+)\.(\d+)\..*', target_label: major, replacement: 'v$1_$2'}
    - {source_labels: [version], regex: '(\d+)\.(\d+)\..*', target_label: minor, replacement: 'v${1}_$2x$$'}
    - {source_labels: [commit], regex: '(.+)', target_label: 'commit_${1}', replacement: 'yes'}
    - {source_labels: [a], target_label: b, action: keepequal}
    - {source_labels: [__name__], target_label: alias, action: dropequal}
    - {source_labels: [v], regex: '(\w+)\s(\d+)', target_label: v_word, replacement: '$1'}
    - {source_labels: [v], regex: '[^\d]*(\d+)', target_label: v_num}
    - {source_labels: [v], regex: 'line1.line2', target_label: v_dotall, replacement: 'yes'}
    - {source_labels: [v], target_label: v_up, action: uppercase}
    - {source_labels: [v], target_label: v_low, action: lowercase}
    - {regex: 'build_user', action: labeldrop}
    - {regex: '__name__|job|instance|code|http_.*|cpu|mode|shard|major|minor|commit_.*|version|a|b|alias|v.*|commit', action: labelkeep}
"#;

/// Series of job `diff` other than `up` and `scrape_*`, as sorted `name=value` lists.
fn series(base: &str) -> Option<BTreeSet<String>> {
    let matcher = urlencode(r#"{job="diff"}"#);
    let (status, body) = get_json(&format!("{base}/api/v1/series?match[]={matcher}"))?;
    if status != 200 {
        return None;
    }
    let set: BTreeSet<String> = body["data"]
        .as_array()?
        .iter()
        .filter_map(|s| {
            let name = s["__name__"].as_str().unwrap_or("");
            if name == "up" || name.starts_with("scrape_") {
                return None;
            }
            let mut pairs: Vec<String> = s
                .as_object()?
                .iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("?")))
                .collect();
            pairs.sort();
            Some(pairs.join(","))
        })
        .collect();
    (!set.is_empty()).then_some(set)
}

fn wait_ready(base: &str, dir: &Path, log: &str) {
    let ready = wait_for(Duration::from_secs(30), || {
        get_text(&format!("{base}/-/ready")).filter(|(s, _)| *s == 200)
    });
    if ready.is_none() {
        let text = std::fs::read_to_string(dir.join(log)).unwrap_or_default();
        panic!("{log}: not ready:\n{text}");
    }
}

#[test]
fn metric_relabeling_matches_prometheus() {
    let Some(prometheus) = common::peers::peer("prometheus") else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let target = TestTarget::start(Behaviour::Text(BODY.to_owned()));
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 800ms\nscrape_configs:\n  \
         - job_name: diff\n    static_configs: [{{targets: ['{}']}}]\n{RULES}",
        target.addr
    );
    let config_path = dir.path().join("watchfire.yml");
    std::fs::write(&config_path, &config).expect("write config");

    let prom_port = free_port();
    let mut cmd = Command::new(prometheus);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let _prom = Proc::spawn("prometheus", cmd, dir.path());
    let wf_port = free_port();
    let _wf = spawn_watchfire(dir.path(), wf_port, "watchfire", &[]);
    let prom = format!("http://127.0.0.1:{prom_port}");
    let wf = format!("http://127.0.0.1:{wf_port}");
    wait_ready(&prom, dir.path(), "prometheus.log");
    wait_ready(&wf, dir.path(), "watchfire.log");

    let want =
        wait_for(Duration::from_secs(20), || series(&prom)).expect("Prometheus stored series");
    let got = wait_for(Duration::from_secs(20), || series(&wf)).expect("watchfire stored series");
    assert_eq!(got, want, "watchfire (left) and Prometheus (right) differ");
    // Spot checks that the rules did something, so equality is not vacuous.
    assert!(
        want.iter().any(|s| s.contains("http_method=get")),
        "{want:#?}"
    );
    assert!(want.iter().any(|s| s.contains("major=v2")), "{want:#?}");
    assert!(!want.iter().any(|s| s.contains("go_goroutines")));
    assert!(want.iter().any(|s| s.contains("v_dotall=yes")), "{want:#?}");

    let post = |base: &str| {
        wait_for(Duration::from_secs(10), || {
            query_single(base, r#"scrape_samples_post_metric_relabeling{job="diff"}"#)
        })
    };
    assert_eq!(post(&wf), post(&prom));
    assert!(post(&wf).is_some());
}

/// Broken rules: promtool's message for each must contain watchfire's (after its
/// `file:line:column: path: ` prefix).
#[test]
fn validation_errors_match_promtool() {
    let Some(promtool) = common::peers::peer("promtool") else {
        return;
    };
    let cases = [
        "{source_labels: [a]}",
        "{action: hashmod, target_label: x}",
        "{action: lowercase, target_label: x, replacement: y}",
        "{action: keepequal, target_label: x, regex: 'a'}",
        "{action: dropequal, target_label: x, separator: ','}",
        "{action: labelkeep, source_labels: [a]}",
        "{action: labeldrop, target_label: a}",
        "{action: labelmap, replacement: ''}",
        "{action: unknownaction}",
        "{action: uppercase}",
        "{action: ''}",
        "{action: null, target_label: x}",
        "{source_labels: [a], regex: '(unclosed', target_label: x}",
        "{source_labels: [''], target_label: x}",
        r"{source_labels: [a], regex: '(a)\1', target_label: x}",
    ];
    let dir = tempfile::tempdir().expect("tempdir");
    for (i, rule) in cases.iter().enumerate() {
        let path = dir.path().join(format!("c{i}.yml"));
        std::fs::write(
            &path,
            format!(
                "scrape_configs:\n  - job_name: a\n    metric_relabel_configs:\n    - {rule}\n"
            ),
        )
        .expect("write");
        let theirs = Command::new(&promtool)
            .args(["check", "config"])
            .arg(&path)
            .output()
            .expect("promtool");
        let theirs = String::from_utf8_lossy(&theirs.stdout).to_string()
            + &String::from_utf8_lossy(&theirs.stderr);
        let ours = Command::new(watchfire_bin())
            .args(["check", "config"])
            .arg(&path)
            .output()
            .expect("watchfire");
        assert!(!ours.status.success(), "{rule}: watchfire accepted it");
        let ours = String::from_utf8_lossy(&ours.stdout).to_string()
            + &String::from_utf8_lossy(&ours.stderr);
        let prefix = "scrape_configs[0].metric_relabel_configs[0]: ";
        let message = ours
            .lines()
            .find_map(|l| l.split_once(prefix).map(|(_, m)| m.to_owned()))
            .unwrap_or_else(|| panic!("{rule}: no relabel error in:\n{ours}"));
        assert!(
            theirs.contains(&message),
            "{rule}: promtool says\n{theirs}\nwatchfire says\n{message}"
        );
    }
}
