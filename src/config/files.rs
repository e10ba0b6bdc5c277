//! One configuration from two files, as Prometheus and Alertmanager keep them: the Prometheus
//! file (`--config.file`: `global` scrape and evaluation defaults, `rule_files`,
//! `scrape_configs`, `alerting`, watchfire's `storage`) and the Alertmanager file
//! (`--alertmanager.config.file`: `global.resolve_timeout`, `route`, `receivers`,
//! `inhibit_rules`, `templates`, `time_intervals`, `mute_time_intervals`). Each file is read and checked on its own, so every error
//! names its own file and line; a section in the wrong file is an error at its line rather
//! than a silent override. Without an Alertmanager file, one combined file holds everything.

use super::decode::Cx;
use super::error::ErrorKind;
use super::{glob_in_dir, parse_document, read_file, Config, ConfigErrors, RawConfig};
use std::path::Path;

/// Which sections a file may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum FileRole {
    /// Everything: watchfire's own single-file layout.
    Combined,
    /// Prometheus' sections only.
    Prometheus,
    /// Alertmanager's sections only.
    Alertmanager,
}

impl FileRole {
    fn name(self) -> &'static str {
        match self {
            FileRole::Combined => "combined",
            FileRole::Prometheus => "Prometheus (--config.file)",
            FileRole::Alertmanager => "Alertmanager (--alertmanager.config.file)",
        }
    }
}

/// Keys of `global` that are Alertmanager's.
const ALERTMANAGER_GLOBAL_KEYS: &[&str] = &[
    "resolve_timeout",
    "telegram_api_url",
    "telegram_bot_token",
    "telegram_bot_token_file",
    "pagerduty_url",
    "opsgenie_api_url",
    "opsgenie_api_key",
    "opsgenie_api_key_file",
    "webex_api_url",
];

/// Reports each section of `raw` that does not belong in a file of `role`.
pub(crate) fn check_sections(raw: &RawConfig, role: FileRole, cx: &mut Cx<'_>) {
    let other = match role {
        FileRole::Combined => return,
        FileRole::Prometheus => FileRole::Alertmanager,
        FileRole::Alertmanager => FileRole::Prometheus,
    };
    let mut misplaced = Vec::new();
    let am_sections = [
        ("route", raw.route.as_ref().map(|r| r.pos)),
        ("receivers", raw.receivers.as_ref().map(|r| r.pos)),
        ("inhibit_rules", raw.inhibit_rules.as_ref().map(|r| r.pos)),
        ("templates", raw.templates.as_ref().map(|r| r.pos)),
        ("time_intervals", raw.time_intervals.as_ref().map(|r| r.pos)),
        (
            "mute_time_intervals",
            raw.mute_time_intervals.as_ref().map(|r| r.pos),
        ),
    ];
    let prom_sections = [
        ("rule_files", raw.rule_files.as_ref().map(|r| r.pos)),
        (
            "scrape_config_files",
            raw.scrape_config_files.as_ref().map(|r| r.pos),
        ),
        ("scrape_configs", raw.scrape_configs.as_ref().map(|r| r.pos)),
        ("storage", raw.storage.as_ref().map(|r| r.pos)),
        ("datasources", raw.datasources.as_ref().map(|r| r.pos)),
        ("ha", raw.ha.as_ref().map(|r| r.pos)),
        ("remote_write", raw.remote_write.as_ref().map(|r| r.pos)),
        ("alerting", raw.alerting.as_ref().map(|r| r.pos)),
    ];
    let sections: &[(&str, Option<super::node::Pos>)] = if role == FileRole::Prometheus {
        &am_sections
    } else {
        &prom_sections
    };
    misplaced.extend(
        sections
            .iter()
            .filter_map(|(key, pos)| pos.map(|p| (key.to_string(), p))),
    );
    if let Some(global) = &raw.global {
        for key in &global.value.present {
            let alertmanager_key = ALERTMANAGER_GLOBAL_KEYS.contains(key);
            if alertmanager_key == (role == FileRole::Prometheus) {
                misplaced.push((format!("global.{key}"), global.pos));
            }
        }
    }
    for (key, pos) in misplaced {
        cx.error(
            pos,
            ErrorKind::InvalidValue {
                path: key,
                message: format!("belongs in the {} configuration file", other.name()),
            },
        );
    }
}

/// The configuration from a Prometheus file and, when given, a separate Alertmanager file
/// (both read and checked; the errors of both are returned together).
pub fn load_files(prometheus: &Path, alertmanager: Option<&Path>) -> Result<Config, ConfigErrors> {
    load_files_with(prometheus, alertmanager, false)
}

/// [`load_files`]; with `syntax_only`, files the configuration names are not read.
pub(crate) fn load_files_with(
    prometheus: &Path,
    alertmanager: Option<&Path>,
    syntax_only: bool,
) -> Result<Config, ConfigErrors> {
    let env = &super::env::process_env;
    let parse = |path: &Path, role| {
        read_file(path).and_then(|text| parse_document(&text, path, env, role, syntax_only))
    };
    let Some(am_path) = alertmanager else {
        return parse(prometheus, FileRole::Combined);
    };
    match (
        parse(prometheus, FileRole::Prometheus),
        parse(am_path, FileRole::Alertmanager),
    ) {
        (Ok(prom), Ok(am)) => Ok(merge(prom, am)),
        (Err(mut a), Err(b)) => {
            a.0.extend(b.0);
            Err(a)
        }
        (Err(e), _) | (_, Err(e)) => Err(e),
    }
}

/// `prom` with the notification part of `am`; template globs made absolute against the
/// Alertmanager file's directory (secret files were resolved against it already).
fn merge(mut prom: Config, am: Config) -> Config {
    let am_dir = am.dir();
    prom.global.resolve_timeout = am.global.resolve_timeout;
    prom.global.telegram = am.global.telegram;
    prom.global.incident = am.global.incident;
    prom.route = am.route;
    prom.receivers = am.receivers;
    prom.inhibit_rules = am.inhibit_rules;
    prom.time_intervals = am.time_intervals;
    prom.mute_time_intervals = am.mute_time_intervals;
    prom.templates = am
        .templates
        .iter()
        .map(|t| glob_in_dir(&am_dir, t))
        .collect();
    prom
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const PROM: &str = "global:\n  scrape_interval: 15s\n  external_labels: {dc: eu1}\n\
                        scrape_configs:\n  - job_name: node\n    static_configs: [{targets: ['h:9100']}]\n";
    const AM: &str = "global:\n  resolve_timeout: 1m\nroute:\n  receiver: team\n\
                      receivers:\n  - name: team\n    webhook_configs: [{url: 'http://hook.example/'}]\n\
                      templates: ['tmpl/*.tmpl']\n\
                      time_intervals: [{name: nights, time_intervals: [{times: [{start_time: '00:00', end_time: '06:00'}]}]}]\n\
                      mute_time_intervals: [{name: old}]\n";

    #[test]
    fn the_two_files_make_one_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let am_dir = dir.path().join("am");
        std::fs::create_dir(&am_dir).unwrap();
        let prom = write(dir.path(), "prometheus.yml", PROM);
        let am = write(&am_dir, "alertmanager.yml", AM);
        let c = load_files(&prom, Some(&am)).unwrap();
        assert_eq!(c.scrape_configs[0].job_name, "node");
        assert_eq!(c.global.scrape_interval.to_string(), "15s");
        assert_eq!(c.global.resolve_timeout.to_string(), "1m");
        assert_eq!(c.route.as_ref().unwrap().receiver.as_deref(), Some("team"));
        assert_eq!(c.receivers.len(), 1);
        assert_eq!(c.time_intervals[0].name, "nights");
        assert_eq!(c.mute_time_intervals[0].name, "old");
        // Template globs are relative to the Alertmanager file, as Alertmanager reads them.
        assert_eq!(
            c.templates,
            vec![format!("{}/tmpl/*.tmpl", am_dir.display())]
        );
        assert_eq!(c.path, prom);
    }

    #[test]
    fn telegram_globals_belong_to_the_alertmanager_file() {
        let dir = tempfile::tempdir().unwrap();
        let prom = write(dir.path(), "p.yml", "global:\n  scrape_interval: 15s\n");
        let am = write(
            dir.path(),
            "a.yml",
            "global:\n  telegram_api_url: 'http://tg'\n  telegram_bot_token: t\n\
             route: {receiver: r}\nreceivers:\n- name: r\n  telegram_configs: [{chat_id: 1}]\n",
        );
        let c = load_files(&prom, Some(&am)).unwrap();
        assert_eq!(c.receivers[0].telegram_configs[0].api_url, "http://tg");
        assert_eq!(c.global.telegram.api_url, "http://tg");
        let prom = write(dir.path(), "p2.yml", "global:\n  telegram_bot_token: t\n");
        let e = load_files(&prom, Some(&am)).unwrap_err().to_string();
        assert!(
            e.contains("global.telegram_bot_token: belongs in the Alertmanager"),
            "{e}"
        );
    }

    #[test]
    fn integration_globals_belong_to_the_alertmanager_file() {
        let dir = tempfile::tempdir().unwrap();
        let prom = write(dir.path(), "p3.yml", "global:\n  scrape_interval: 15s\n");
        let am = write(
            dir.path(),
            "a3.yml",
            "global:\n  pagerduty_url: 'http://pd.example/v2'\n  opsgenie_api_key: k\n\
             route: {receiver: r}\nreceivers:\n- name: r\n  pagerduty_configs: [{routing_key: x}]\n  \
             opsgenie_configs: [{}]\n",
        );
        let c = load_files(&prom, Some(&am)).unwrap();
        assert_eq!(
            c.receivers[0].pagerduty_configs[0].url,
            "http://pd.example/v2"
        );
        assert!(c.receivers[0].opsgenie_configs[0].api_key.is_some());
        let wrong = write(
            dir.path(),
            "p4.yml",
            "global:\n  webex_api_url: 'http://w'\n",
        );
        let lines = load_files(&wrong, Some(&am)).unwrap_err().lines();
        assert!(
            lines[0].contains("p4.yml:2:3: global.webex_api_url: belongs in the Alertmanager"),
            "{lines:?}"
        );
    }

    #[test]
    fn a_section_in_the_wrong_file_is_an_error_at_its_line() {
        let dir = tempfile::tempdir().unwrap();
        let prom = write(
            dir.path(),
            "prometheus.yml",
            &format!("{PROM}templates:\n  - x.tmpl\ntime_intervals: []\n"),
        );
        let am = write(
            dir.path(),
            "alertmanager.yml",
            &format!("{AM}scrape_configs: []\nrule_files: ['a.yml']\n"),
        );
        let lines = load_files(&prom, Some(&am)).unwrap_err().lines();
        let p = prom.display();
        let a = am.display();
        assert_eq!(
            lines,
            vec![
                format!("{p}:8:3: templates: belongs in the Alertmanager (--alertmanager.config.file) configuration file"),
                format!("{p}:9:17: time_intervals: belongs in the Alertmanager (--alertmanager.config.file) configuration file"),
                format!("{a}:11:17: scrape_configs: belongs in the Prometheus (--config.file) configuration file"),
                format!("{a}:12:13: rule_files: belongs in the Prometheus (--config.file) configuration file"),
            ]
        );
        let prom = write(dir.path(), "p2.yml", "global:\n  resolve_timeout: 5m\n");
        let am = write(
            dir.path(),
            "a2.yml",
            "global:\n  scrape_interval: 5s\nroute: {receiver: r}\nreceivers: [{name: r}]\n",
        );
        let lines = load_files(&prom, Some(&am)).unwrap_err().lines();
        assert!(
            lines[0].contains("p2.yml:2:3: global.resolve_timeout: belongs in the Alertmanager"),
            "{lines:?}"
        );
        assert!(
            lines[1].contains("a2.yml:2:3: global.scrape_interval: belongs in the Prometheus"),
            "{lines:?}"
        );
    }

    #[test]
    fn errors_of_both_files_are_reported_and_one_file_still_works_alone() {
        let dir = tempfile::tempdir().unwrap();
        let prom = write(
            dir.path(),
            "prometheus.yml",
            "scrape_configs: [{job_name: 1x, bogus: 1}]\n",
        );
        let am = write(
            dir.path(),
            "alertmanager.yml",
            "route: {receiver: nobody}\n",
        );
        let lines = load_files(&prom, Some(&am)).unwrap_err().lines();
        assert!(
            lines.iter().any(|l| l.contains("prometheus.yml")),
            "{lines:?}"
        );
        assert!(
            lines.iter().any(|l| l.contains("alertmanager.yml")),
            "{lines:?}"
        );
        let missing = load_files(&prom, Some(&dir.path().join("absent.yml"))).unwrap_err();
        assert!(missing.lines().iter().any(|l| l.contains("absent.yml")));
        let combined = write(
            dir.path(),
            "all.yml",
            &format!("{PROM}route:\n  receiver: team\nreceivers: [{{name: team}}]\n"),
        );
        assert!(load_files(&combined, None).is_ok());
    }
}
