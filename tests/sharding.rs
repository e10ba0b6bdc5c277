//! Issue 12: the README's sharding recipe. Two watchfires read one file_sd file of 40 targets
//! (40 in-test HTTP servers, each on its own port) and each keeps its shard with `hashmod` +
//! `keep` on `__address__`, Prometheus' way. The shards are disjoint, cover every target, are
//! both scraped, and equal what the real Prometheus 3.5 keeps with the same relabeling (when
//! present). `--shard=I/N` keeps the same targets as that recipe.

mod common;

use common::{free_port, get_json, peers, query_single, spawn_watchfire, wait_for, Proc};
use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

const TARGETS: usize = 40;
const SHARDS: usize = 2;

/// Starts `n` HTTP targets, each on a port of its own, on one thread; their addresses.
fn start_targets(n: usize) -> Vec<String> {
    let listeners: Vec<std::net::TcpListener> = (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    let addrs = listeners
        .iter()
        .map(|l| l.local_addr().expect("addr").to_string())
        .collect();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let mut tasks = Vec::new();
            for (i, l) in listeners.into_iter().enumerate() {
                l.set_nonblocking(true).expect("nonblocking");
                let l = tokio::net::TcpListener::from_std(l).expect("listener");
                let body = format!("shard_test_metric{{target=\"{i}\"}} {i}\n");
                let app = axum::Router::new()
                    .route("/metrics", axum::routing::get(move || async move { body }));
                tasks.push(tokio::spawn(async move {
                    let _ = axum::serve(l, app).await;
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
        });
    });
    addrs
}

/// The scrape config of shard `shard`: the README recipe.
fn job(name: &str, shard: usize, sd_file: &std::path::Path) -> String {
    job_of(name, shard, SHARDS, sd_file)
}

/// The scrape config of shard `shard` of `shards`.
fn job_of(name: &str, shard: usize, shards: usize, sd_file: &std::path::Path) -> String {
    format!(
        "  - job_name: {name}
    scrape_interval: 1s
    file_sd_configs: [{{files: ['{}']}}]
    relabel_configs:
      - source_labels: [__address__]
        modulus: {shards}
        target_label: __tmp_hash
        action: hashmod
      - source_labels: [__tmp_hash]
        regex: {shard}
        action: keep
",
        sd_file.display()
    )
}

/// A job reading `sd_file` every second without relabeling.
fn plain_job(name: &str, sd_file: &std::path::Path) -> String {
    format!(
        "  - job_name: {name}\n    scrape_interval: 1s\n    file_sd_configs: [{{files: ['{}']}}]\n",
        sd_file.display()
    )
}

/// The `instance` labels of the active targets of pool `pool` at `base`.
fn active(base: &str, pool: &str) -> Option<BTreeSet<String>> {
    let (status, body) = get_json(&format!("{base}/api/v1/targets?scrapePool={pool}"))?;
    if status != 200 {
        return None;
    }
    let data = &body["data"];
    let active: BTreeSet<String> = data["activeTargets"]
        .as_array()?
        .iter()
        .filter_map(|t| t["labels"]["instance"].as_str().map(str::to_owned))
        .collect();
    let dropped = data["droppedTargetCounts"][pool].as_u64().unwrap_or(0) as usize;
    (active.len() + dropped == TARGETS).then_some(active)
}

#[test]
fn two_watchfires_split_one_target_list_as_prometheus_does() {
    let addrs = start_targets(TARGETS);
    let dir = tempfile::tempdir().unwrap();
    let sd_file = dir.path().join("targets.json");
    let group = serde_json::json!([{"targets": addrs, "labels": {"env": "test"}}]);
    std::fs::write(&sd_file, group.to_string()).unwrap();

    let mut procs = Vec::new();
    let mut bases = Vec::new();
    for shard in 0..SHARDS {
        let wdir = dir.path().join(format!("shard{shard}"));
        std::fs::create_dir(&wdir).unwrap();
        let config = format!("scrape_configs:\n{}", job("node", shard, &sd_file));
        std::fs::write(wdir.join("watchfire.yml"), config).unwrap();
        let port = free_port();
        procs.push(spawn_watchfire(&wdir, port, "watchfire", &[]));
        bases.push(format!("http://127.0.0.1:{port}"));
    }
    let shards: Vec<BTreeSet<String>> = bases
        .iter()
        .map(|base| {
            wait_for(Duration::from_secs(20), || active(base, "node"))
                .unwrap_or_else(|| panic!("{base} did not discover the {TARGETS} targets"))
        })
        .collect();
    let all: BTreeSet<String> = addrs.iter().cloned().collect();
    assert!(shards[0].is_disjoint(&shards[1]), "{shards:#?}");
    let union: BTreeSet<String> = shards.iter().flatten().cloned().collect();
    assert_eq!(union, all);
    assert!(shards.iter().all(|s| !s.is_empty()), "{shards:#?}");
    // Each instance scrapes exactly its own shard.
    for (base, shard) in bases.iter().zip(&shards) {
        let want = shard.len() as f64;
        let got = wait_for(Duration::from_secs(20), || {
            query_single(base, "count(up == 1)").filter(|n| *n == want)
        });
        assert_eq!(got, Some(want), "{base}: scraped targets");
        let scraped = query_single(base, "count(shard_test_metric)");
        assert_eq!(scraped, Some(want), "{base}: scraped series");
    }

    // The same relabeling in the real Prometheus 3.5 keeps the same targets in each shard.
    let Some(prom_bin) = peers::peer("prometheus") else {
        return;
    };
    let config_path = dir.path().join("prometheus.yml");
    let config = format!(
        "scrape_configs:\n{}{}",
        job("shard0", 0, &sd_file),
        job("shard1", 1, &sd_file)
    );
    std::fs::write(&config_path, config).unwrap();
    let prom_port = free_port();
    let mut cmd = Command::new(&prom_bin);
    cmd.arg(format!("--config.file={}", config_path.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("prom").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{prom_port}"));
    let _prom = Proc::spawn("prometheus", cmd, dir.path());
    let prom = format!("http://127.0.0.1:{prom_port}");
    for (shard, ours) in shards.iter().enumerate() {
        let pool = format!("shard{shard}");
        let theirs = wait_for(Duration::from_secs(30), || active(&prom, &pool))
            .unwrap_or_else(|| panic!("Prometheus did not discover pool {pool}"));
        assert_eq!(
            &theirs, ours,
            "shard {shard}: Prometheus keeps other targets"
        );
    }
    drop(procs);
}

/// `--shard=I/N` is the written recipe: three watchfires started with `--shard=0/3`, `1/3` and
/// `2/3` on a job without relabeling keep exactly the targets one watchfire keeps with the
/// recipe written out per shard (pools `shard0`..`shard2`), each target in exactly one shard;
/// the flag shows in `/api/v1/status/flags`.
#[test]
fn the_shard_flag_keeps_what_the_written_recipe_keeps() {
    const N: usize = 3;
    let addrs = start_targets(TARGETS);
    let dir = tempfile::tempdir().unwrap();
    let sd_file = dir.path().join("targets.json");
    let group = serde_json::json!([{"targets": addrs, "labels": {"env": "test"}}]);
    std::fs::write(&sd_file, group.to_string()).unwrap();

    let spawn = |name: &str, config: String, flags: &[&str]| {
        let wdir = dir.path().join(name);
        std::fs::create_dir(&wdir).unwrap();
        std::fs::write(wdir.join("watchfire.yml"), config).unwrap();
        let port = free_port();
        let proc = spawn_watchfire(&wdir, port, name, flags);
        (proc, format!("http://127.0.0.1:{port}"))
    };
    let written: String = (0..N)
        .map(|i| job_of(&format!("shard{i}"), i, N, &sd_file))
        .collect();
    let (_recipe, recipe) = spawn("recipe", format!("scrape_configs:\n{written}"), &[]);
    let mut flagged = Vec::new();
    for i in 0..N {
        let flag = format!("--shard={i}/{N}");
        let config = format!("scrape_configs:\n{}", plain_job("node", &sd_file));
        flagged.push(spawn(&format!("flag{i}"), config, &[flag.as_str()]));
    }

    let mut union = BTreeSet::new();
    let mut total = 0;
    for (i, (_, base)) in flagged.iter().enumerate() {
        let ours = wait_for(Duration::from_secs(20), || active(base, "node"))
            .unwrap_or_else(|| panic!("{base} did not discover the {TARGETS} targets"));
        let pool = format!("shard{i}");
        let want = wait_for(Duration::from_secs(20), || active(&recipe, &pool))
            .unwrap_or_else(|| panic!("the recipe instance did not discover pool {pool}"));
        assert_eq!(
            ours, want,
            "--shard={i}/{N} keeps other targets than the recipe"
        );
        total += ours.len();
        union.extend(ours);
        let (_, flags) = get_json(&format!("{base}/api/v1/status/flags")).unwrap();
        assert_eq!(flags["data"]["shard"], format!("{i}/{N}"));
    }
    assert_eq!(total, TARGETS, "each target in exactly one shard");
    assert_eq!(union, addrs.iter().cloned().collect::<BTreeSet<_>>());

    // A shard outside 0..N is refused before anything starts.
    let out = Command::new(common::watchfire_bin())
        .args(["run", "--shard=3/3"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("invalid shard \"3/3\""), "{err}");
}
