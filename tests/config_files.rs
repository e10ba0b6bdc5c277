//! Config files on disk: the shipped example loads, a Prometheus-shaped file fails only on the
//! sections watchfire does not support yet, and each `tests/data/config/bad_*.yml` produces
//! exactly the expected `FILE:LINE:COLUMN: MESSAGE` lines.

use std::path::{Path, PathBuf};
use watchfire::config::{self, ErrorKind, PromDuration, Scheme};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn path(relative: &str) -> PathBuf {
    Path::new(ROOT).join(relative)
}

/// Error lines with the crate root removed, so they read `tests/data/config/x.yml:1:2: ...`.
fn error_lines(relative: &str) -> Vec<String> {
    match config::load(path(relative)) {
        Ok(_) => panic!("{relative} loaded but should fail"),
        Err(errors) => errors
            .lines()
            .iter()
            .map(|l| l.replace(&format!("{ROOT}/"), ""))
            .collect(),
    }
}

#[test]
fn the_example_config_loads() {
    let config = config::load(path("examples/watchfire.yml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.global.scrape_interval, PromDuration::from_secs(5));
    assert_eq!(
        config.global.evaluation_interval,
        PromDuration::from_secs(5)
    );
    // The 10s default timeout is capped at the 5s interval.
    assert_eq!(config.global.scrape_timeout, PromDuration::from_secs(5));
    let jobs: Vec<(&str, Vec<&str>)> = config
        .scrape_configs
        .iter()
        .map(|j| (j.job_name.as_str(), j.targets().map(|(t, _)| t).collect()))
        .collect();
    assert_eq!(
        jobs,
        [
            ("demo", vec!["127.0.0.1:9712"]),
            ("watchfire", vec!["127.0.0.1:9711"]),
            ("node", vec!["127.0.0.1:9100"]),
        ]
    );
    for job in &config.scrape_configs {
        assert_eq!(job.scrape_interval, PromDuration::from_secs(5));
        assert_eq!(job.scrape_timeout, PromDuration::from_secs(5));
        assert_eq!(job.metrics_path, "/metrics");
        assert_eq!(job.scheme, Scheme::Http);
    }
    assert_eq!(config.rule_files, ["../rules/*.yml"]);
    for rule_file in config.rule_file_paths().unwrap() {
        assert!(
            rule_file.starts_with(path("examples/../rules")),
            "{}",
            rule_file.display()
        );
    }
    assert_eq!(config.storage.retention, PromDuration::from_secs(15 * 60));
    let summary = config::check_config(path("examples/watchfire.yml")).unwrap();
    assert_eq!((summary.scrape_configs, summary.targets), (3, 3));
}

#[test]
fn a_config_with_every_key_loads() {
    let config =
        config::load(path("tests/data/config/good_full.yml")).unwrap_or_else(|e| panic!("{e}"));
    let node = config.scrape_config("node").unwrap();
    assert_eq!(node.scrape_interval.to_string(), "1m30s");
    assert_eq!(node.scrape_timeout.to_string(), "20s");
    assert_eq!(node.scheme, Scheme::Https);
    assert_eq!(node.params["collect[]"], ["cpu", "meminfo"]);
    assert_eq!(node.body_size_limit.bytes(), 10 << 20);
    let password = node.basic_auth.as_ref().unwrap().password.as_ref().unwrap();
    assert_eq!(password.secret().expose(), "s3cret-password");
    assert_eq!(
        password.file(),
        Some(path("tests/data/config/secrets/password").as_path())
    );
    assert_eq!(
        node.static_configs[0].labels["__metrics_path__"],
        "/metrics"
    );
    let api = config.scrape_config("api").unwrap();
    let token = api
        .authorization
        .as_ref()
        .unwrap()
        .credentials
        .as_ref()
        .unwrap();
    assert_eq!(token.secret().expose(), "bearer-t0ken");
    let inline = config.scrape_config("inline").unwrap();
    assert_eq!(inline.authorization.as_ref().unwrap().kind, "Token");
    assert!(inline.basic_auth.is_none() && inline.static_configs.is_empty());
    assert_eq!(config.storage.retention.to_string(), "1h");

    // What /api/v1/status/config will serve: no secret, wherever it came from.
    let yaml = config.redacted_yaml();
    for secret in ["s3cret-password", "bearer-t0ken", "inline-t0ken"] {
        assert!(!yaml.contains(secret), "{secret} leaked:\n{yaml}");
        assert!(
            !format!("{config:?}").contains(secret),
            "{secret} leaked in Debug"
        );
    }
    assert!(yaml.contains("credentials: <secret>"), "{yaml}");
    assert!(yaml.contains("password_file: "), "{yaml}");
    // The served view is itself a valid config describing the same jobs.
    let again = config::parse(&yaml, path("tests/data/config/good_full.yml"))
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert_eq!(again.global, config.global);
    assert_eq!(again.storage, config.storage);
    assert_eq!(again.scrape_configs[0], config.scrape_configs[0]);
    assert_eq!(again.scrape_configs[1], config.scrape_configs[1]);
}

#[test]
fn a_prometheus_shaped_config_loads() {
    let config = config::load(path("tests/data/config/prometheus_style.yml"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(config.alerting.alertmanagers[0].targets, ["localhost:9093"]);
}

/// The config Debian's `prometheus` package installs, when present on this machine: every
/// problem must be a section or key watchfire does not support (never a type or value error).
#[test]
fn the_installed_prometheus_config_uses_only_known_keys() {
    let installed = Path::new("/etc/prometheus/prometheus.yml");
    if !installed.exists() {
        println!(
            "skipped: {} is absent (apt-get install prometheus)",
            installed.display()
        );
        return;
    }
    if let Err(errors) = config::load(installed) {
        for error in errors.errors() {
            println!("{error}");
            assert!(
                matches!(
                    error.kind,
                    ErrorKind::NotYetSupported(_) | ErrorKind::UnknownField { .. }
                ),
                "unexpected problem in {}: {error}",
                installed.display()
            );
        }
    }
}

const BAD: &[(&str, &[&str])] = &[
    (
        "bad_unknown_keys.yml",
        &[
            r#"2:3: unknown field "scrape_intervall" in global, did you mean "scrape_interval"?"#,
            r#"4:1: "remote_read" is not supported yet"#,
            r#"8:5: unknown field "static_config" in scrape_configs[0], did you mean "static_configs"?"#,
            r#"12:7: unknown field "user" in scrape_configs[0].basic_auth"#,
        ],
    ),
    (
        "bad_types.yml",
        &[
            "1:9: global: expected a mapping, found a list",
            "4:19: scrape_configs[0].honor_labels: expected a boolean (true or false), found a string",
            "5:19: scrape_configs[0].sample_limit: -5 is out of range (0 to 18446744073709551615)",
            "6:18: scrape_configs[0].label_limit: expected a non-negative integer, found a string",
            "8:15: scrape_configs[0].params.module: expected a list, found a string",
            "10:18: scrape_configs[0].static_configs[0].targets: expected a list, found a string",
            "11:15: scrape_configs[1].job_name: expected a string, found a list",
            "12:13: rule_files: expected a list, found a string",
        ],
    ),
    (
        "bad_durations.yml",
        &[
            r#"2:20: global.scrape_interval: unknown unit "x" in duration "15x""#,
            r#"3:24: global.evaluation_interval: not a valid duration string: "1m1h""#,
            r#"6:22: scrape_configs[0].scrape_interval: not a valid duration string: "90""#,
            r#"7:21: scrape_configs[0].scrape_timeout: unknown unit "." in duration "1.5s""#,
            "9:22: scrape_configs[1].scrape_interval: empty duration string",
            r#"11:14: storage.retention: not a valid duration string: "-15m""#,
        ],
    ),
    (
        "bad_duplicate_jobs.yml",
        &[
            r#"6:15: duplicate job_name "node" (first used at line 2)"#,
            r#"7:15: duplicate job_name "node" (first used at line 2)"#,
        ],
    ),
    (
        "bad_timeout.yml",
        &[
            "3:19: scrape_timeout 30s is greater than scrape_interval 10s in global",
            r#"7:21: scrape_timeout 20s is greater than scrape_interval 15s in job "node""#,
            r#"9:21: scrape_timeout 11s is greater than scrape_interval 10s in job "inherits""#,
        ],
    ),
    (
        "bad_labels.yml",
        &[
            r#"4:5: invalid label name "bad-name" in external_labels"#,
            r#"5:5: invalid label name "0starts_with_digit" in external_labels"#,
            r#"12:11: invalid label name "has space" in labels of job "node""#,
            r#"13:11: invalid label name "instance.name" in labels of job "node""#,
        ],
    ),
    (
        "bad_targets.yml",
        &[
            r#"6:13: invalid target "http://localhost:9100" in job "node": must be host:port without a scheme (set scheme on the job instead)"#,
            r#"7:13: invalid target "localhost:9100/metrics" in job "node": must be host:port without a path (set metrics_path on the job instead)"#,
            r#"9:13: invalid target "localhost:99999" in job "node": port must be a number from 1 to 65535"#,
            r#"10:13: invalid target "::1:9100" in job "node": IPv6 addresses must be in brackets, e.g. [::1]:9100"#,
            r#"11:13: invalid target ":9100" in job "node": missing host; must be host:port"#,
        ],
    ),
    (
        "bad_auth.yml",
        &[
            r#"6:22: basic_auth.password and basic_auth.password_file are both set in job "both_passwords"; set only one"#,
            r#"10:22: cannot read basic_auth.password_file "tests/data/config/secrets/does-not-exist": No such file or directory (os error 2)"#,
            r#"14:25: authorization.credentials and authorization.credentials_file are both set in job "both_credentials"; set only one"#,
            r#"17:13: authorization type cannot be "Basic" in job "basic_type"; use basic_auth instead"#,
            r#"20:13: unknown scheme "ftp" in job "tls" (expected http or https)"#,
            r#"22:18: tls_config.cert_file is set without tls_config.key_file in job "tls""#,
        ],
    ),
    (
        "bad_sizes.yml",
        &[
            r#"3:22: scrape_configs[0].body_size_limit: unknown unit "" in size "1024" (expected B, KB, MB, GB, TB, PB, EB or KiB, MiB, ...)"#,
            r#"5:22: scrape_configs[1].body_size_limit: unknown unit "kB" in size "10kB" (expected B, KB, MB, GB, TB, PB, EB or KiB, MiB, ...)"#,
            r#"7:22: scrape_configs[2].body_size_limit: invalid size "1.2.3MB""#,
        ],
    ),
    (
        "bad_env.yml",
        &[
            r#"4:19: scrape_configs[0].static_configs[0].targets[0]: environment variable "WATCHFIRE_TEST_SURELY_UNSET_HOST" is not set"#,
            r#"7:17: scrape_configs[0].basic_auth.password: unterminated "${" in "${WATCHFIRE_TEST_SURELY_UNSET_PASSWORD""#,
            r#"8:19: scrape_configs[0].metrics_path: invalid environment variable name "" (use $$ for a literal $)"#,
        ],
    ),
    ("bad_syntax.yml", &[r#"7:3: invalid YAML: "-" is only valid inside a block"#]),
    (
        "bad_duplicate_keys.yml",
        &["3:3: invalid YAML: duplicate mapping key `scrape_interval` is not allowed here"],
    ),
];

#[test]
fn each_bad_config_reports_every_problem_at_its_value() {
    for (name, expected) in BAD {
        let relative = format!("tests/data/config/{name}");
        let expected: Vec<String> = expected.iter().map(|e| format!("{relative}:{e}")).collect();
        assert_eq!(error_lines(&relative), expected, "{name}");
        // `watchfire check config` prints the same lines.
        let from_check = config::check_config(path(&relative)).unwrap_err();
        assert_eq!(from_check.len(), expected.len(), "{name}");
    }
}

#[test]
fn every_bad_file_has_expectations() {
    let mut on_disk: Vec<String> = std::fs::read_dir(path("tests/data/config"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("bad_") && n.ends_with(".yml"))
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = BAD.iter().map(|(n, _)| (*n).to_owned()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

#[test]
fn a_missing_file_is_one_error_without_position() {
    let errors = config::load(path("tests/data/config/nope.yml")).unwrap_err();
    assert_eq!(errors.errors().len(), 1);
    assert_eq!(errors.errors()[0].line, 0);
    assert!(
        errors
            .to_string()
            .contains("nope.yml: cannot read config file: "),
        "{errors}"
    );
}

/// Hostile input never panics: every truncation of a full config, and every YAML indicator
/// dropped in at many places, gives a config or errors.
#[test]
fn mangled_configs_never_panic() {
    let text = std::fs::read_to_string(path("tests/data/config/good_full.yml")).unwrap();
    let file = path("tests/data/config/mangled.yml");
    let mut outcomes = (0, 0);
    for cut in (0..text.len()).step_by(20) {
        let mut variants = vec![text[..cut].to_owned()];
        for insert in [
            ":",
            "- ",
            "[",
            "{",
            "'",
            "\"",
            "&a ",
            "*a",
            "!!int ",
            "|",
            "\t",
            "${",
            "\u{1F525}",
        ] {
            variants.push(format!("{}{insert}{}", &text[..cut], &text[cut..]));
        }
        for variant in variants {
            match config::parse(&variant, &file) {
                Ok(_) => outcomes.0 += 1,
                Err(errors) => {
                    assert!(!errors.errors().is_empty());
                    outcomes.1 += 1;
                }
            }
        }
    }
    assert!(outcomes.0 > 0 && outcomes.1 > 0, "{outcomes:?}");
}
