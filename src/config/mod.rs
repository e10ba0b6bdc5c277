//! The configuration file: YAML in Prometheus' vocabulary, loaded and validated in one pass.
//!
//! ```yaml
//! global:            # scrape_interval 1m, scrape_timeout 10s, evaluation_interval 1m, external_labels,
//!                    # scrape_protocols and the jobs' default limits
//! scrape_configs:    # jobs: job_name, static_configs, scheme, basic_auth, tls_config, limits, ...
//! scrape_config_files: # globs of files holding more `scrape_configs` (see `scrape_files`)
//! rule_files:        # globs, relative to this file's directory
//! storage:           # watchfire's buffer: retention (15m), max_series (2,000,000)
//! datasources:       # query endpoints rule groups may evaluate on (see `datasource`)
//! ha:                # HA pair: replica name, etcd lease, silences and notification log (see `ha`)
//! remote_write:      # where every appended sample is sent (see `remote_write`)
//! alerting:          # alertmanagers to forward alerts to (Prometheus)
//! route:             # notification routing tree (Alertmanager)
//! receivers:         # webhook, slack, email, log integrations (Alertmanager + delivery)
//! inhibit_rules:     # source/target matchers, equal (Alertmanager)
//! templates:         # notification template files (globs)
//! time_intervals:    # named times routes mute or activate on (Alertmanager; also mute_time_intervals)
//! ```
//!
//! [`load`] reads a file and returns a [`Config`] with every default applied, or
//! [`ConfigErrors`] listing *all* problems, each as `FILE:LINE:COLUMN: MESSAGE` at the offending
//! value: unknown keys, wrong types, bad durations and sizes, duplicate job names, timeouts above
//! intervals, invalid label names and targets, conflicting or unreadable secrets, unset
//! `${VAR}`s. A YAML syntax error stops parsing, so it comes alone.
//!
//! How it works: `node` reads the document with serde-saphyr into a tree whose nodes carry
//! their line and column; `decode` walks it into raw sections (`yaml_section!` structs of
//! `Option<At<T>>`), reporting type problems; `global` and `scrape` apply defaults and the
//! semantic checks of `validate`; `secret` reads `*_file` secrets; `env` expands `${VAR}` in
//! every string value.
//!
//! Prometheus keys watchfire does not implement (other SD mechanisms, `remote_read`,
//! native-histogram options, ...) are refused by name (`decode::UNSUPPORTED_KEYS`), never
//! ignored. `check_config_with(.., syntax_only)` skips reading the files a config names, as
//! promtool's `--syntax-only`.
//!
//! Adding a section is a field in `RawConfig`, a field in [`Config`] and its resolve call in
//! [`parse_with_env`]. The notification sections live in `notify` and `receivers`.
//!
//! **Invariant:** loading never panics on input, and a config is returned only when the file has
//! no problem at all.

mod datasource;
mod decode;
mod duration;
mod env;
mod error;
mod files;
mod global;
mod ha;
mod http;
mod node;
mod notify;
mod receiver_chat;
mod receiver_incident;
mod receiver_types;
mod receivers;
mod relabel;
mod remote_write;
mod scrape;
mod scrape_files;
mod scrape_protocol;
mod sd;
mod sd_dns;
mod sd_kubernetes;
mod secret;
mod size;
mod time_intervals;
mod validate;
mod web;

pub use datasource::{DatasourceConfig, DEFAULT_DATASOURCE_TIMEOUT};
pub use duration::{DurationError, PromDuration};
pub use env::{expand as expand_env, EnvError};
pub use error::{ConfigError, ConfigErrors, ErrorKind, Scope};
pub use files::load_files;
pub use global::{GlobalConfig, StorageConfig};
pub use ha::{EtcdConfig, HaConfig, REPLICA_LABEL};
pub use http::{authorize, Authorization, BasicAuth, TlsConfig};
pub(crate) use node::{with_yaml_stack, yaml_options};
pub use node::{Pos, MAX_YAML_DEPTH};
pub use notify::{
    AlertingConfig, AlertmanagerConfig, GroupBy, InhibitRule, MatcherList, RouteConfig,
    DEFAULT_GROUP_INTERVAL, DEFAULT_GROUP_WAIT, DEFAULT_REPEAT_INTERVAL,
};
pub use receiver_chat::{
    DiscordConfig, MsTeamsConfig, MsTeamsV2Config, TelegramConfig, TelegramGlobals,
};
pub use receiver_incident::{
    IncidentGlobals, OpsgenieConfig, OpsgenieResponder, PagerdutyConfig, PagerdutyImage,
    PagerdutyLink, PushoverConfig, WebexConfig,
};
pub use receivers::{
    DeliveryConfig, EmailConfig, HttpClientConfig, LogConfig, ReceiverConfig, SlackConfig,
    SlackField, WebhookConfig,
};
pub use remote_write::{MetadataConfig, ProtobufMessage, QueueConfig, RemoteWriteConfig};
pub use scrape::{Scheme, ScrapeConfig, StaticConfig};
pub use scrape_protocol::ScrapeProtocol;
pub use sd::{is_valid_file_sd_pattern, FileSdConfig, HttpSdConfig};
pub use sd_dns::{DnsRecordType, DnsSdConfig};
pub use sd_kubernetes::{
    AttachMetadata, KubernetesRole, KubernetesSdConfig, KubernetesSelector, NamespaceDiscovery,
};
pub use secret::{Secret, SecretSource, REDACTED};
pub use size::{ByteSize, SizeError};
pub use time_intervals::{
    InclusiveRange, Location, TimeInterval, TimeIntervalConfig, TimeRange, WeekdayRange,
};
pub use validate::{check_target, is_valid_label_name};
pub use web::{load_web, parse_web_with_env, ClientAuth, TlsServerConfig, TlsVersion, WebConfig};

use decode::{yaml_section, At, Cx, Decode};
use files::FileRole;
use global::{RawGlobal, RawStorage};
use scrape::RawScrapeConfig;
use serde::Serialize;
use std::fmt;
use std::path::{Path, PathBuf};

yaml_section! {
    /// The whole file as written; one line per top-level section.
    struct RawConfig {
        global: RawGlobal,
        rule_files: Vec<At<String>>,
        scrape_config_files: Vec<At<String>>,
        scrape_configs: Vec<At<RawScrapeConfig>>,
        storage: RawStorage,
        datasources: Vec<At<datasource::RawDatasource>>,
        ha: ha::RawHa,
        remote_write: Vec<At<remote_write::RawRemoteWrite>>,
        alerting: notify::RawAlerting,
        route: notify::RawRoute,
        receivers: Vec<At<receivers::RawReceiver>>,
        inhibit_rules: Vec<At<notify::RawInhibitRule>>,
        templates: Vec<At<String>>,
        time_intervals: Vec<At<time_intervals::RawNamedInterval>>,
        mute_time_intervals: Vec<At<time_intervals::RawNamedInterval>>,
    }
}

/// A loaded, valid configuration with every default applied.
///
/// `Serialize` gives the view served by `/api/v1/status/config`: secrets print as `<secret>`
/// (see [`Config::redacted_yaml`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Config {
    /// Defaults for jobs and rule evaluation.
    pub global: GlobalConfig,
    /// Rule file globs as written (after `${VAR}` expansion); see [`Config::rule_file_paths`].
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rule_files: Vec<String>,
    /// `scrape_config_files` globs as written, relative ones against this file's directory.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scrape_config_files: Vec<String>,
    /// Scrape jobs with unique names: this file's in order, then those of
    /// `scrape_config_files` (pattern order, each pattern's files sorted, each file in order).
    pub scrape_configs: Vec<ScrapeConfig>,
    /// The in-memory buffer.
    pub storage: StorageConfig,
    /// Query endpoints rule groups may evaluate on (`datasource:` in a group).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub datasources: Vec<DatasourceConfig>,
    /// The HA pair on etcd (`ha`), if this replica is one of two.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ha: Option<HaConfig>,
    /// Endpoints every appended sample is sent to (Prometheus' `remote_write`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub remote_write: Vec<RemoteWriteConfig>,
    /// Alertmanagers to forward alerts to.
    pub alerting: AlertingConfig,
    /// The notification routing tree; `None` sends everything to a log receiver.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub route: Option<RouteConfig>,
    /// Notification receivers, with unique names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub receivers: Vec<ReceiverConfig>,
    /// Inhibition rules.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub inhibit_rules: Vec<InhibitRule>,
    /// Notification template file globs.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub templates: Vec<String>,
    /// Named time intervals routes mute or activate on (Alertmanager's `time_intervals`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub time_intervals: Vec<TimeIntervalConfig>,
    /// The same from the older `mute_time_intervals` section (one name space with the above).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mute_time_intervals: Vec<TimeIntervalConfig>,
    /// The file this was loaded from.
    #[serde(skip)]
    pub path: PathBuf,
}

impl Default for Config {
    /// The configuration of an empty file.
    fn default() -> Self {
        Config {
            global: GlobalConfig::default(),
            rule_files: Vec::new(),
            scrape_config_files: Vec::new(),
            scrape_configs: Vec::new(),
            storage: StorageConfig::default(),
            datasources: Vec::new(),
            ha: None,
            remote_write: Vec::new(),
            alerting: AlertingConfig::default(),
            route: None,
            receivers: Vec::new(),
            inhibit_rules: Vec::new(),
            templates: Vec::new(),
            time_intervals: Vec::new(),
            mute_time_intervals: Vec::new(),
            path: PathBuf::new(),
        }
    }
}

/// A `rule_files` pattern that could not be expanded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuleFilesError {
    /// Not a valid glob pattern (cannot happen for a loaded config, whose patterns are checked).
    #[error("invalid rule_files pattern {pattern:?}: {message}")]
    Pattern {
        /// The pattern, resolved against the config directory.
        pattern: String,
        /// Why.
        message: String,
    },
    /// A directory on the way could not be read.
    #[error("cannot read {path:?} for rule_files: {source}")]
    Io {
        /// The path that failed.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

impl Config {
    /// The directory relative paths in the file are resolved against.
    pub fn dir(&self) -> PathBuf {
        config_dir(&self.path)
    }

    /// The scrape job named `job_name`.
    pub fn scrape_config(&self, job_name: &str) -> Option<&ScrapeConfig> {
        self.scrape_configs.iter().find(|c| c.job_name == job_name)
    }

    /// The rule files matched now by the `rule_files` globs, relative ones against the config
    /// file's directory: in pattern order, each pattern's matches sorted, without repeats.
    /// A pattern matching nothing adds nothing, as in Prometheus.
    pub fn rule_file_paths(&self) -> Result<Vec<PathBuf>, RuleFilesError> {
        let dir = self.dir();
        let mut out: Vec<PathBuf> = Vec::new();
        for pattern in &self.rule_files {
            let full = glob_in_dir(&dir, pattern);
            let matches = glob::glob(&full).map_err(|e| RuleFilesError::Pattern {
                pattern: full.clone(),
                message: e.msg.to_owned(),
            })?;
            for entry in matches {
                let path = entry.map_err(|e| RuleFilesError::Io {
                    path: e.path().to_path_buf(),
                    source: e.into(),
                })?;
                if path.is_file() && !out.contains(&path) {
                    out.push(path);
                }
            }
        }
        Ok(out)
    }

    /// The configuration as YAML with every default filled in and secrets shown as
    /// `<secret>` (files named by `*_file` fields are shown by path), for
    /// `/api/v1/status/config`.
    pub fn redacted_yaml(&self) -> String {
        serde_saphyr::to_string(self).unwrap_or_else(|e| format!("# cannot render config: {e}\n"))
    }
}

/// The directory of a config file; `.` for a bare file name.
fn config_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// A glob for `pattern` relative to `dir`, with `dir` escaped so its own characters are literal.
fn glob_in_dir(dir: &Path, pattern: &str) -> String {
    if Path::new(pattern).is_absolute() {
        pattern.to_owned()
    } else {
        let dir = glob::Pattern::escape(&dir.to_string_lossy());
        format!("{}/{pattern}", dir.trim_end_matches('/'))
    }
}

/// Reads and validates the config file at `path`, expanding `${VAR}` from the environment.
pub fn load(path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
    let path = path.as_ref();
    parse(&read_file(path)?, path)
}

/// The text of a configuration file; a read error names the file.
pub(crate) fn read_file(path: &Path) -> Result<String, ConfigErrors> {
    std::fs::read_to_string(path).map_err(|e| {
        ConfigErrors(vec![ConfigError {
            file: path.to_path_buf(),
            line: 0,
            column: 0,
            kind: ErrorKind::Read(e),
        }])
    })
}

/// Parses `text` (as read from `path`) as one YAML document and hands it to `resolve`, which
/// decodes and validates it, reporting problems into the context. Every problem is returned,
/// each with its file, line and column; `resolve`'s result only when there were none.
pub(crate) fn resolve_document<T>(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    resolve: impl FnOnce(&node::Node, &mut Cx<'_>) -> T,
) -> Result<T, ConfigErrors> {
    resolve_document_with(text, path, env, false, resolve)
}

/// [`resolve_document`], with `syntax_only` (files named by the config are not read).
fn resolve_document_with<T>(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    syntax_only: bool,
    resolve: impl FnOnce(&node::Node, &mut Cx<'_>) -> T,
) -> Result<T, ConfigErrors> {
    let dir = config_dir(path);
    let mut cx = Cx::new(path, &dir, text, env);
    cx.syntax_only = syntax_only;
    let doc = match node::parse_document(text) {
        Ok(doc) => doc,
        Err((pos, kind)) => {
            cx.error(pos, kind);
            return Err(ConfigErrors(cx.into_errors()));
        }
    };
    let out = resolve(&doc, &mut cx);
    let errors = cx.into_errors();
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(ConfigErrors(errors))
    }
}

/// Validates config text as if read from `path` (used for error messages and to resolve
/// relative paths), expanding `${VAR}` from the environment.
pub fn parse(text: &str, path: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
    parse_with_env(text, path, &env::process_env)
}

/// [`parse`] with `${VAR}` looked up by `env` instead of the process environment.
pub fn parse_with_env(
    text: &str,
    path: impl AsRef<Path>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Config, ConfigErrors> {
    parse_document(text, path.as_ref(), env, FileRole::Combined, false)
}

/// Decodes and validates one file holding the sections `role` allows; with `syntax_only`, files
/// the config names (secrets, certificates) are not read.
fn parse_document(
    text: &str,
    path: &Path,
    env: &dyn Fn(&str) -> Option<String>,
    role: FileRole,
    syntax_only: bool,
) -> Result<Config, ConfigErrors> {
    resolve_document_with(text, path, env, syntax_only, |doc, cx| {
        let raw = RawConfig::decode(doc, cx).unwrap_or_default();
        files::check_sections(&raw, role, cx);
        let global = global::resolve_global(raw.global, cx);
        let rule_files = rule_files(raw.rule_files, cx);
        let raw_jobs = raw.scrape_configs.map(|s| s.value).unwrap_or_default();
        validate::unique_job_names(
            raw_jobs.iter().filter_map(|j| j.value.job_name.as_ref()),
            cx,
        );
        let mut scrape_configs: Vec<ScrapeConfig> = raw_jobs
            .into_iter()
            .enumerate()
            .map(|(i, job)| scrape::resolve(job, i, &global, cx))
            .collect();
        let scrape_config_files = scrape_files::patterns(raw.scrape_config_files, cx);
        scrape_files::load(&scrape_config_files, &global, &mut scrape_configs, cx);
        let storage = global::resolve_storage(raw.storage, cx);
        let datasources = datasource::resolve(raw.datasources, cx);
        let ha = ha::resolve(raw.ha, cx);
        let remote_write = remote_write::resolve(raw.remote_write, cx);
        let notify = notify::resolve(
            notify::RawNotify {
                route: raw.route,
                receivers: raw.receivers,
                inhibit_rules: raw.inhibit_rules,
                templates: raw.templates,
                alerting: raw.alerting,
                mute_time_intervals: raw.mute_time_intervals,
                time_intervals: raw.time_intervals,
            },
            cx,
        );
        let mut receivers = notify.receivers;
        receiver_chat::apply_globals(&mut receivers, &global, cx);
        receiver_incident::apply_globals(&mut receivers, &global.incident, cx);
        Config {
            global,
            rule_files,
            scrape_config_files,
            scrape_configs,
            storage,
            datasources,
            ha,
            remote_write,
            alerting: notify.alerting,
            route: notify.route,
            receivers,
            inhibit_rules: notify.inhibit_rules,
            templates: notify.templates,
            time_intervals: notify.time_intervals,
            mute_time_intervals: notify.mute_time_intervals,
            path: path.to_path_buf(),
        }
    })
}

/// Checks each `rule_files` glob pattern.
fn rule_files(raw: Option<At<Vec<At<String>>>>, cx: &mut Cx<'_>) -> Vec<String> {
    let mut out = Vec::new();
    for pattern in raw.map(|r| r.value).unwrap_or_default() {
        let full = glob_in_dir(cx.dir, &pattern.value);
        match glob::Pattern::new(&full) {
            Ok(_) => out.push(pattern.value),
            Err(e) => {
                let kind = ErrorKind::Glob {
                    pattern: pattern.value,
                    message: e.msg.to_owned(),
                };
                cx.error(pattern.pos, kind);
            }
        }
    }
    out
}

/// What `watchfire check config` reports for a valid file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// Number of scrape jobs.
    pub scrape_configs: usize,
    /// Number of static targets over all jobs.
    pub targets: usize,
    /// Rule files matched by `rule_files`.
    pub rule_files: Vec<PathBuf>,
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = |n: usize| if n == 1 { "" } else { "s" };
        write!(
            f,
            "{} scrape config{}, {} target{}, {} rule file{} found",
            self.scrape_configs,
            plural(self.scrape_configs),
            self.targets,
            plural(self.targets),
            self.rule_files.len(),
            plural(self.rule_files.len()),
        )
    }
}

/// Loads `path` for `watchfire check config`: a summary, or every problem as one
/// `FILE:LINE:COLUMN: MESSAGE` line (the CLI prints them and exits 1).
pub fn check_config(path: impl AsRef<Path>) -> Result<Summary, Vec<String>> {
    check_config_with(path.as_ref(), None, CheckOptions::default())
}

/// Options of `watchfire check config`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CheckOptions {
    /// Check the syntax only: files the config names (`*_file` secrets, certificates) are not
    /// read, as promtool's `--syntax-only`. `scrape_config_files` are still read.
    pub syntax_only: bool,
}

/// [`check_config`] for a Prometheus file and, when given, a separate Alertmanager file (see
/// [`load_files`]), with options.
pub fn check_config_with(
    path: &Path,
    alertmanager: Option<&Path>,
    options: CheckOptions,
) -> Result<Summary, Vec<String>> {
    let config =
        files::load_files_with(path, alertmanager, options.syntax_only).map_err(|e| e.lines())?;
    let rule_files = config
        .rule_file_paths()
        .map_err(|e| vec![format!("{}: {e}", path.display())])?;
    Ok(Summary {
        scrape_configs: config.scrape_configs.len(),
        targets: config
            .scrape_configs
            .iter()
            .map(|c| c.targets().count())
            .sum(),
        rule_files,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PW" => Some("pa55word".to_owned()),
            "INTERVAL" => Some("15s".to_owned()),
            _ => None,
        }
    }

    fn errors(text: &str) -> Vec<String> {
        parse_with_env(text, "c.yml", &env)
            .map(|_| ())
            .unwrap_err()
            .lines()
    }

    #[test]
    fn an_empty_file_is_the_default_config() {
        for text in [
            "",
            "# nothing\n",
            "global:\nscrape_configs:\nrule_files:\nstorage:\n",
        ] {
            let config = parse_with_env(text, "c.yml", &env).unwrap();
            assert_eq!(
                config,
                Config {
                    path: "c.yml".into(),
                    ..Config::default()
                }
            );
        }
        let config = Config::default();
        assert_eq!(config.global.scrape_interval.to_string(), "1m");
        assert_eq!(config.global.scrape_timeout.to_string(), "10s");
        assert_eq!(config.global.evaluation_interval.to_string(), "1m");
        assert_eq!(config.storage.retention.to_string(), "15m");
    }

    #[test]
    fn global_and_storage_are_read() {
        let config = parse_with_env(
            "global:\n  scrape_interval: ${INTERVAL}\n  evaluation_interval: 30s\n  \
             external_labels: {region: eu, monitor: x}\nstorage: {retention: 1h, max_series: 5000}\n",
            "c.yml",
            &env,
        )
        .unwrap();
        assert_eq!(config.global.scrape_interval, PromDuration::from_secs(15));
        assert_eq!(config.global.scrape_timeout, PromDuration::from_secs(10));
        assert_eq!(
            config.global.evaluation_interval,
            PromDuration::from_secs(30)
        );
        assert_eq!(config.global.external_labels["region"], "eu");
        assert_eq!(config.storage.retention, PromDuration::from_secs(3600));
        assert_eq!(config.storage.max_series, 5000);
        let defaults = parse_with_env("storage: {}\n", "c.yml", &env).unwrap();
        assert_eq!(defaults.storage.max_series, 2_000_000);
        let e = parse_with_env("storage: {max_series: -1}\n", "c.yml", &env).unwrap_err();
        assert!(e.lines()[0].contains("storage.max_series"), "{e}");
    }

    #[test]
    fn all_problems_are_collected_in_file_order() {
        let text = "global:\n  scrape_interval: 10s\n  scrape_timeout: 20s\n  \
                    external_labels: {ok: x, bad-name: y}\nalerting: {}\nremote_read: []\n\
                    scrape_configs:\n- job_name: a\n  scrape_interval: 1m1h\n- job_name: a\n\
                    storage: {retention: 0s}\nrule_files: ['[']\n";
        assert_eq!(
            errors(text),
            [
                "c.yml:3:19: scrape_timeout 20s is greater than scrape_interval 10s in global",
                r#"c.yml:4:28: invalid label name "bad-name" in external_labels"#,
                r#"c.yml:6:1: "remote_read" is not supported yet"#,
                r#"c.yml:9:20: scrape_configs[0].scrape_interval: not a valid duration string: "1m1h""#,
                r#"c.yml:10:13: duplicate job_name "a" (first used at line 8)"#,
                "c.yml:11:22: storage.retention: must be greater than 0s",
                r#"c.yml:12:14: invalid rule_files pattern "[": invalid range pattern"#,
            ]
        );
    }

    #[test]
    fn reserved_sections_are_refused_for_now() {
        for key in decode::RESERVED_TOP_LEVEL {
            let got = errors(&format!("{key}: {{}}\n"));
            assert_eq!(got, [format!("c.yml:1:1: {key:?} is not supported yet")]);
        }
    }

    #[test]
    fn syntax_errors_come_alone_with_a_position() {
        let got = errors("global:\n  scrape_interval: [5s\nbogus: 1\n");
        assert_eq!(got.len(), 1);
        assert!(got[0].starts_with("c.yml:3:6: invalid YAML: "), "{got:?}");
        let got = errors("- just\n- a list\n");
        assert_eq!(
            got,
            ["c.yml:1:1: the top level: expected a mapping, found a list"]
        );
    }

    #[test]
    fn unset_variables_are_named() {
        let got = errors(
            "scrape_configs:\n- job_name: a\n  static_configs: [{targets: ['${HOST}:9100']}]\n",
        );
        assert_eq!(
            got,
            [
                r#"c.yml:3:31: scrape_configs[0].static_configs[0].targets[0]: environment variable "HOST" is not set"#
            ]
        );
    }

    #[test]
    fn redacted_yaml_hides_secrets() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token"), "t0ken").unwrap();
        let text =
            "scrape_configs:\n- job_name: a\n  basic_auth: {username: u, password: '${PW}'}\n  \
                    static_configs: [{targets: ['h:1'], labels: {x: y}}]\n- job_name: b\n  \
                    authorization: {credentials_file: token}\n";
        let config = parse_with_env(text, dir.path().join("c.yml"), &env).unwrap();
        let yaml = config.redacted_yaml();
        assert!(
            !yaml.contains("pa55word") && !yaml.contains("t0ken"),
            "{yaml}"
        );
        assert!(yaml.contains("password: <secret>"), "{yaml}");
        assert!(yaml.contains("credentials_file: "), "{yaml}");
        assert!(
            yaml.contains("scrape_interval: 1m") && yaml.contains("retention: 15m"),
            "{yaml}"
        );
        assert!(!format!("{config:?}").contains("pa55word"));
        // The redacted view is itself a valid config (secrets aside), field names unchanged.
        let doc = node::parse_document(&yaml).unwrap();
        assert!(matches!(doc.value, node::Value::Map(_)));
    }

    #[test]
    fn rule_file_globs_resolve_against_the_config_dir() {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        for name in ["b.yml", "a.yml", "c.txt"] {
            std::fs::write(rules.join(name), "groups: []\n").unwrap();
        }
        let abs = rules.join("c.txt");
        let text = format!(
            "rule_files: ['rules/*.yml', 'rules/a.yml', '{}', 'none/*.yml']\n",
            abs.display()
        );
        let config = parse_with_env(&text, dir.path().join("c.yml"), &env).unwrap();
        let paths = config.rule_file_paths().unwrap();
        assert_eq!(paths, [rules.join("a.yml"), rules.join("b.yml"), abs]);
    }

    #[test]
    fn glob_dir_is_escaped() {
        assert_eq!(
            glob_in_dir(Path::new("/etc/w[1]"), "*.yml"),
            "/etc/w[[]1[]]/*.yml"
        );
        assert_eq!(glob_in_dir(Path::new("/x"), "/abs/*.yml"), "/abs/*.yml");
        assert_eq!(config_dir(Path::new("c.yml")), PathBuf::from("."));
        assert_eq!(config_dir(Path::new("a/c.yml")), PathBuf::from("a"));
    }

    #[test]
    fn check_config_summarises_or_lists_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good.yml");
        std::fs::write(
            &good,
            "scrape_configs:\n- job_name: a\n  static_configs: [{targets: ['h:1', 'h:2']}]\n",
        )
        .unwrap();
        let summary = check_config(&good).unwrap();
        assert_eq!(
            summary,
            Summary {
                scrape_configs: 1,
                targets: 2,
                rule_files: vec![]
            }
        );
        assert_eq!(
            summary.to_string(),
            "1 scrape config, 2 targets, 0 rule files found"
        );
        let bad = dir.path().join("bad.yml");
        std::fs::write(&bad, "global: {scrape_interval: 5x}\nfoo: 1\n").unwrap();
        let lines = check_config(&bad).unwrap_err();
        assert_eq!(lines.len(), 2);
        assert!(
            lines[0].ends_with(
                "bad.yml:1:27: global.scrape_interval: unknown unit \"x\" in duration \"5x\""
            ),
            "{lines:?}"
        );
        let missing = check_config(dir.path().join("missing.yml")).unwrap_err();
        assert!(
            missing[0].contains("missing.yml: cannot read config file"),
            "{missing:?}"
        );
    }
}
