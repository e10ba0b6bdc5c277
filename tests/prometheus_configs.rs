//! Issue 12: Prometheus' own configuration files, read in place from
//! `../shared/conformance/configs/`, through the real binary's `check config --syntax-only`
//! (promtool's flag: the certificate and token files these examples name do not exist there).
//!
//! `conf.good.yml` is Prometheus' file of every valid option. The test pins, by line, what
//! watchfire refuses (each refusal names the key and says why) and that nothing else in the file
//! is refused: every line of [`ACCEPTED`] loads. A main file with `scrape_config_files` is
//! checked with its jobs' files, whose problems carry their own file and line.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn configs_dir() -> PathBuf {
    common::crate_dir().join("../shared/conformance/configs")
}

/// What watchfire refuses in `conf.good.yml`, by line and key path.
const REFUSED: &[(u32, &str)] = &[
    (11, "global.query_log_file"),
    (12, "global.scrape_failure_log_file"),
    (19, "runtime"),
    (33, "remote_write[0].oauth2"),
    (50, "otlp"),
    (53, "remote_read"),
    (79, "scrape_configs[0].scrape_failure_log_file"),
    (95, "scrape_configs[0].http_headers"),
    (180, "scrape_configs[2].consul_sd_configs"),
    (241, "scrape_configs[6].kuma_sd_configs"),
    (246, "scrape_configs[7].marathon_sd_configs"),
    (256, "scrape_configs[8].nomad_sd_configs"),
    (260, "scrape_configs[9].ec2_sd_configs"),
    (276, "scrape_configs[10].lightsail_sd_configs"),
    (283, "scrape_configs[11].azure_sd_configs"),
    (294, "scrape_configs[12].nerve_sd_configs"),
    (324, "scrape_configs[17].triton_sd_configs"),
    (336, "scrape_configs[18].digitalocean_sd_configs"),
    (341, "scrape_configs[19].docker_sd_configs"),
    (345, "scrape_configs[20].dockerswarm_sd_configs"),
    (350, "scrape_configs[21].oci_sd_configs"),
    (363, "scrape_configs[22].openstack_sd_configs"),
    (374, "scrape_configs[23].puppetdb_sd_configs"),
    (386, "scrape_configs[24].scrape_native_histograms"),
    (391, "scrape_configs[24].hetzner_sd_configs"),
    (401, "scrape_configs[25].eureka_sd_configs"),
    (405, "scrape_configs[26].ovhcloud_sd_configs"),
    (420, "scrape_configs[27].scaleway_sd_configs"),
    (431, "scrape_configs[28].linode_sd_configs"),
    (436, "scrape_configs[29].stackit_sd_configs"),
    (444, "scrape_configs[30].uyuni_sd_configs"),
    (450, "scrape_configs[31].ionos_sd_configs"),
    (456, "scrape_configs[32].vultr_sd_configs"),
    (461, "scrape_configs[33].outscale_sd_configs"),
    (476, "storage.tsdb"),
    (484, "tracing"),
];

/// Parts of `conf.good.yml` issue 12 covers, by line: none of them may be refused.
const ACCEPTED: &[(u32, &str)] = &[
    (147, "scrape_configs[1].dns_sd_configs"),
    (215, "scrape_configs[4].kubernetes_sd_configs"),
    (228, "scrape_configs[5].kubernetes_sd_configs"),
    (3, "global.scrape_interval"),
    (4, "global.evaluation_interval"),
    (5, "global.body_size_limit"),
    (6, "global.sample_limit"),
    (7, "global.target_limit"),
    (8, "global.label_limit"),
    (9, "global.label_name_length_limit"),
    (10, "global.label_value_length_limit"),
    (15, "global.external_labels"),
    (22, "rule_files"),
    (70, "scrape_configs[0].honor_labels"),
    (77, "scrape_configs[0].fallback_scrape_protocol"),
    (80, "scrape_configs[0].file_sd_configs"),
    (85, "scrape_configs[0].file_sd_configs[0].refresh_interval"),
    (89, "scrape_configs[0].static_configs"),
    (101, "scrape_configs[0].relabel_configs"),
    (111, "scrape_configs[0].relabel_configs[3].regex (null)"),
    (116, "scrape_configs[0].relabel_configs[4].action keepequal"),
    (119, "scrape_configs[0].relabel_configs[5].action dropequal"),
    (121, "scrape_configs[0].authorization"),
    (122, "scrape_configs[0].authorization.credentials_file"),
    (125, "scrape_configs[0].tls_config.min_version"),
    (129, "scrape_configs[1].basic_auth"),
    (133, "scrape_configs[1].scrape_interval"),
    (134, "scrape_configs[1].scrape_timeout"),
    (135, "scrape_configs[1].scrape_protocols"),
    (137, "scrape_configs[1].body_size_limit"),
    (138, "scrape_configs[1].sample_limit"),
    (139, "scrape_configs[1].target_limit"),
    (140, "scrape_configs[1].label_limit"),
    (141, "scrape_configs[1].label_name_length_limit"),
    (142, "scrape_configs[1].label_value_length_limit"),
    (144, "scrape_configs[1].metrics_path"),
    (145, "scrape_configs[1].scheme"),
    (155, "scrape_configs[1].relabel_configs"),
    (162, "scrape_configs[1].relabel_configs[1].action hashmod"),
    (166, "scrape_configs[1].relabel_configs[3].action labelmap"),
    (173, "scrape_configs[1].metric_relabel_configs"),
    (197, "scrape_configs[2].relabel_configs"),
    (206, "scrape_configs[3].tls_config"),
    (211, "scrape_configs[3].authorization.credentials"),
    (235, "scrape_configs[5].basic_auth"),
    (237, "scrape_configs[5].basic_auth.password_file"),
    (300, "scrape_configs[13].job_name 0123service-xxx"),
    (307, "scrape_configs[14].honor_timestamps"),
    (313, "scrape_configs[15].job_name 測試"),
    (320, "scrape_configs[16].http_sd_configs"),
    (387, "scrape_configs[24].relabel_configs uppercase"),
    (26, "remote_write"),
    (29, "remote_write[0].write_relabel_configs"),
    (42, "remote_write[1].protobuf_message"),
    (44, "remote_write[1].tls_config"),
    (47, "remote_write[1].headers"),
    (466, "alerting"),
    (467, "alerting.alertmanagers"),
    (468, "alerting.alertmanagers[0].scheme"),
    (469, "alerting.alertmanagers[0].static_configs"),
];

/// Runs `watchfire check config --syntax-only` on `file`: its exit success and every
/// `FAILED: FILE:LINE:COLUMN: MESSAGE` as (line, message).
fn check(file: &str) -> (bool, Vec<(u32, String)>) {
    let path = configs_dir().join(file);
    assert!(path.is_file(), "{} is missing", path.display());
    let out = Command::new(common::watchfire_bin())
        .args(["check", "config", "--syntax-only"])
        .arg(&path)
        .output()
        .expect("watchfire runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let prefix = format!("  FAILED: {}:", path.display());
    let mut failures = Vec::new();
    for line in stderr.lines() {
        let rest = line
            .strip_prefix(&prefix)
            .unwrap_or_else(|| panic!("unexpected output line {line:?}"));
        let (line_no, rest) = rest.split_once(':').expect("line number");
        let (_column, message) = rest.split_once(": ").expect("column");
        failures.push((line_no.parse().expect("a line number"), message.to_owned()));
    }
    (out.status.success(), failures)
}

/// The key path a refusal names: `a.b: why` or `"a" is not supported yet`.
fn refused_key(message: &str) -> &str {
    if let Some(rest) = message.strip_prefix('"') {
        return rest.split('"').next().unwrap_or(rest);
    }
    message.split(": ").next().unwrap_or(message)
}

#[test]
fn conf_good_loads_except_the_refused_parts_each_named_by_line() {
    let (ok, failures) = check("conf.good.yml");
    assert!(!ok);
    let got: Vec<(u32, &str)> = failures
        .iter()
        .map(|(line, message)| (*line, refused_key(message)))
        .collect();
    let mut want: Vec<(u32, &str)> = REFUSED.to_vec();
    want.sort();
    assert_eq!(got, want, "{failures:#?}");
    for (line, message) in &failures {
        assert!(
            message.contains("not supported"),
            "line {line}: a refusal says it is not supported: {message}"
        );
        if let Some(mechanism) = refused_key(message).strip_suffix("_sd_configs") {
            let mechanism = mechanism.rsplit('.').next().unwrap_or_default();
            assert!(
                message.ends_with(&format!("{mechanism} service discovery is not supported")),
                "{message}"
            );
        }
    }
    for (line, part) in ACCEPTED {
        assert!(
            !failures.iter().any(|(l, _)| l == line),
            "line {line} ({part}) must load"
        );
    }
}

#[test]
fn the_shipped_prometheus_yml_is_refused_only_for_native_histograms() {
    // Prometheus 3.5's own promtool refuses this key too ("field scrape_native_histograms not
    // found"); watchfire accepts `false` and refuses `true` by name.
    let (ok, failures) = check("prometheus.yml");
    assert!(!ok);
    let got: Vec<(u32, &str)> = failures
        .iter()
        .map(|(line, message)| (*line, refused_key(message)))
        .collect();
    assert_eq!(
        got,
        [(33, "scrape_configs[0].scrape_native_histograms")],
        "{failures:#?}"
    );
    assert!(failures[0]
        .1
        .contains("native histograms are not supported"));
}

#[test]
fn scrape_config_files_are_checked_with_their_own_positions() {
    let dir = tempfile::tempdir().unwrap();
    let jobs = dir.path().join("jobs");
    std::fs::create_dir(&jobs).unwrap();
    std::fs::write(
        jobs.join("a.yml"),
        "scrape_configs:\n- job_name: a\n  static_configs: [{targets: ['h:1', 'h:2']}]\n",
    )
    .unwrap();
    let main = dir.path().join("main.yml");
    std::fs::write(
        &main,
        "scrape_config_files: ['jobs/*.yml']\nscrape_configs:\n- job_name: main\n  \
         static_configs: [{targets: ['h:3']}]\n",
    )
    .unwrap();
    let run = || {
        let out = Command::new(common::watchfire_bin())
            .args(["check", "config"])
            .arg(&main)
            .output()
            .expect("watchfire runs");
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        (out.status.success(), text)
    };
    let (ok, text) = run();
    assert!(ok, "{text}");
    assert!(
        text.contains("SUCCESS: 2 scrape configs, 3 targets, 0 rule files found"),
        "{text}"
    );
    std::fs::write(
        jobs.join("b.yml"),
        "scrape_configs:\n- job_name: main\n- job_name: c\n  sample_limit: -1\n",
    )
    .unwrap();
    let (ok, text) = run();
    assert!(!ok);
    let b = jobs.join("b.yml").display().to_string();
    assert_eq!(
        text.lines().skip(1).collect::<Vec<_>>(),
        [
            format!(
                "  FAILED: {b}:2:13: found multiple scrape configs with job name \"main\", first \
                 found in main config file"
            ),
            format!(
                "  FAILED: {b}:4:17: scrape_configs[1].sample_limit: -1 is out of range (0 to \
                 18446744073709551615)"
            ),
        ],
        "{text}"
    );
}
