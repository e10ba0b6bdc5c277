//! Command-line commands, one file each; part of the binary, not the library: each
//! command parses its flags and calls the library (`run` builds a [`watchfire::Engine`]).

mod check;
mod notify;
mod query;
mod run;

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use watchfire::telemetry::LogFormat;

/// watchfire: scrape Prometheus exporters, evaluate alert rules, notify.
#[derive(Debug, Parser)]
#[command(name = "watchfire", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server: scrape, evaluate, notify, serve.
    Run(Box<RunArgs>),
    /// Check configuration or rule files and print every problem.
    #[command(subcommand)]
    Check(CheckCommand),
    /// Query a running instance and print the result as a table.
    Query(QueryArgs),
    /// Run unit tests (promtool's `test rules` format) or test the receivers.
    #[command(subcommand)]
    Test(TestCommand),
    /// Print what each notification integration would send for an alert.
    Render {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// Alert labels, `name=value`, repeatable.
        #[arg(long = "alert", num_args = 1..)]
        alert: Vec<String>,
        /// External URL used in links.
        #[arg(long = "web.external-url", default_value = "http://127.0.0.1:9711")]
        external_url: String,
    },
}

#[derive(Debug, Subcommand)]
enum TestCommand {
    /// Run rule unit-test files; exit 0 when all pass, 1 otherwise.
    Rules {
        /// The test files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Only run test groups whose name matches one of these regexes.
        #[arg(long)]
        run: Vec<String>,
    },
    /// Send a test notification to every configured receiver and report each outcome.
    Receivers {
        /// Configuration file.
        #[arg(long)]
        config: PathBuf,
        /// External URL used in links.
        #[arg(long = "web.external-url", default_value = "http://127.0.0.1:9711")]
        external_url: String,
    },
}

/// Flags of `watchfire run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (`--config.file` as in Prometheus and Alertmanager). It holds
    /// everything, or only Prometheus' sections when `--alertmanager.config.file` is given.
    #[arg(long, alias = "config.file", default_value = "examples/watchfire.yml")]
    config: PathBuf,
    /// Alertmanager's configuration file as it is (`global.resolve_timeout`, `route`,
    /// `receivers`, `inhibit_rules`, `templates`), kept apart from the Prometheus file.
    #[arg(long = "alertmanager.config.file")]
    alertmanager_config: Option<PathBuf>,
    /// Address to serve the API and /metrics on (`--web.listen-address` as in Prometheus and
    /// Alertmanager).
    #[arg(long, alias = "web.listen-address", default_value = "127.0.0.1:9711")]
    listen: SocketAddr,
    /// The URL under which watchfire is reached (links in notifications); default http://LISTEN.
    #[arg(long = "web.external-url")]
    external_url: Option<String>,
    /// Accept Prometheus remote write (1.0 and 2.0) at POST /api/v1/write into the buffer
    /// (Prometheus' flag).
    #[arg(long = "web.enable-remote-write-receiver")]
    enable_remote_write_receiver: bool,
    /// Web configuration file (Prometheus exporter-toolkit format): TLS and basic auth.
    /// Re-read at SIGHUP and /-/reload.
    #[arg(long = "web.config.file")]
    web_config_file: Option<PathBuf>,
    /// File holding a token that POST/PUT/DELETE endpoints (reload, silences) require as
    /// `Authorization: Bearer TOKEN`. Re-read at SIGHUP and /-/reload.
    #[arg(long = "web.admin-token-file")]
    admin_token_file: Option<PathBuf>,
    /// Log level (debug, info, warn, error) or a full filter.
    #[arg(long = "log.level", default_value = "info")]
    log_level: String,
    /// Log line format.
    #[arg(long = "log.format", value_enum, default_value = "logfmt")]
    log_format: LogFormat,
    /// Longest a query may run.
    #[arg(long = "query.timeout", default_value = "2m", value_parser = humantime::parse_duration)]
    query_timeout: std::time::Duration,
    /// Most samples one query may hold in memory.
    #[arg(long = "query.max-samples", default_value_t = 50_000_000)]
    query_max_samples: usize,
    /// Most bytes one query may use: samples held (16 bytes each) plus the label text it
    /// creates (label_replace, label_join, count_values); 0 for no limit.
    #[arg(long = "query.max-bytes", default_value = "512MiB", value_parser = parse_byte_size)]
    query_max_bytes: watchfire::config::ByteSize,
    /// Most queries (and series/label/metadata walks) that run at once, one thread each;
    /// further requests wait for a slot until their timeout.
    #[arg(long = "query.max-concurrency", default_value_t = 20, value_parser = clap::value_parser!(u16).range(1..=1024))]
    query_max_concurrency: u16,
    /// State directory: alert states, history, silences, notification queues.
    /// When it cannot be used watchfire runs with state in memory only (and says so).
    #[arg(long = "storage.path", default_value = "data")]
    storage_path: PathBuf,
    /// Most bytes of unsent remote-write batches kept on disk per `remote_write` queue
    /// (under --storage.path); past it the oldest are dropped, counted and logged.
    #[arg(long = "storage.remote-write.max-bytes", default_value = "512MiB", value_parser = parse_byte_size)]
    remote_write_max_bytes: watchfire::config::ByteSize,
    /// How long alert transitions are kept in the history.
    #[arg(long = "storage.history-retention", default_value = "7d", value_parser = humantime::parse_duration)]
    history_retention: std::time::Duration,
    /// Longest downtime after which saved alert states are still restored.
    #[arg(long = "rules.alert.for-outage-tolerance", default_value = "1h", value_parser = humantime::parse_duration)]
    outage_tolerance: std::time::Duration,
    /// Most silences, expired ones included (Alertmanager's flag); 0: no limit.
    #[arg(long = "silences.max-silences", default_value_t = watchfire::notify::SilenceLimits::DEFAULT_MAX_SILENCES)]
    max_silences: usize,
    /// Largest silence in bytes as stored (Alertmanager's flag); 0: no limit.
    #[arg(long = "silences.max-silence-size-bytes", default_value_t = watchfire::notify::SilenceLimits::DEFAULT_MAX_SILENCE_SIZE_BYTES)]
    max_silence_size_bytes: usize,
    /// How long expired silences are kept before they are purged (Alertmanager's flag).
    #[arg(long = "data.retention", default_value = "120h", value_parser = humantime::parse_duration)]
    data_retention: std::time::Duration,
    /// Most HTTP connections open at once; further ones wait in the kernel's backlog, and
    /// idle ones are closed to make room (Prometheus' flag).
    #[arg(long = "web.max-connections", default_value_t = watchfire::api::ServeOptions::DEFAULT_MAX_CONNECTIONS, value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: u32,
    /// Longest time to read a request's headers, and then its body; idle keep-alive
    /// connections are closed after it too (Prometheus' flag).
    #[arg(long = "web.read-timeout", default_value = "5m", value_parser = humantime::parse_duration)]
    read_timeout: std::time::Duration,
    /// Keep shard I of N of every scrape job's targets (I/N, e.g. 0/3): appends Prometheus'
    /// hashmod recipe on __address__ (modulus N, keep I) to each job's relabel_configs.
    #[arg(long = "shard")]
    shard: Option<watchfire::engine::Shard>,
}

fn parse_byte_size(s: &str) -> Result<watchfire::config::ByteSize, String> {
    watchfire::config::ByteSize::parse(s).map_err(|e| e.to_string())
}

impl RunArgs {
    /// The engine settings these flags describe.
    fn settings(&self) -> watchfire::Settings {
        let mut settings = watchfire::Settings::default();
        settings.config_file = self.config.clone();
        settings.alertmanager_config_file = self.alertmanager_config.clone();
        settings.enable_remote_write_receiver = self.enable_remote_write_receiver;
        settings.listen = self.listen;
        settings.external_url = self.external_url.clone();
        settings.web_config_file = self.web_config_file.clone();
        settings.admin_token_file = self.admin_token_file.clone();
        settings.query_timeout = self.query_timeout;
        settings.query_max_samples = self.query_max_samples;
        settings.storage_path = self.storage_path.clone();
        settings.history_retention = self.history_retention;
        settings.remote_write_max_bytes = self.remote_write_max_bytes;
        settings.outage_tolerance = self.outage_tolerance;
        settings.query_max_bytes = self.query_max_bytes;
        settings.query_max_concurrency = self.query_max_concurrency;
        settings.max_silences = self.max_silences;
        settings.max_silence_size_bytes = self.max_silence_size_bytes;
        settings.data_retention = self.data_retention;
        settings.max_connections = self.max_connections;
        settings.read_timeout = self.read_timeout;
        settings.shard = self.shard;
        settings.extra_flags = [
            ("log.level".to_owned(), self.log_level.clone()),
            (
                "log.format".to_owned(),
                clap::ValueEnum::to_possible_value(&self.log_format)
                    .map(|v| v.get_name().to_owned())
                    .unwrap_or_default(),
            ),
        ]
        .into();
        settings
    }
}

#[derive(Debug, Subcommand)]
enum CheckCommand {
    /// Check a configuration file (exit 0 when valid, 1 otherwise).
    Config {
        /// The file.
        file: PathBuf,
        /// A separate Alertmanager configuration file, checked with it as `run` loads them.
        #[arg(long = "alertmanager.config.file")]
        alertmanager_config: Option<PathBuf>,
        /// Check the syntax only: do not read the files the config names (secrets,
        /// certificates), as promtool's flag.
        #[arg(long)]
        syntax_only: bool,
    },
    /// Check rule files (exit 0 when all are valid, 1 otherwise).
    Rules {
        /// The rule files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Check web configuration files (`--web.config.file`), certificates included.
    WebConfig {
        /// The files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
}

/// Flags of `watchfire query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The PromQL expression.
    expr: String,
    /// Base URL of the watchfire (or Prometheus) instance.
    #[arg(long, default_value = "http://127.0.0.1:9711")]
    url: String,
    /// Evaluation time (Unix seconds or RFC 3339); now when absent.
    #[arg(long)]
    time: Option<String>,
}

/// Parses the command line and runs the command.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run(args) => run::run(*args),
        Command::Check(CheckCommand::Config {
            file,
            alertmanager_config,
            syntax_only,
        }) => check::config(&file, alertmanager_config.as_deref(), syntax_only),
        Command::Check(CheckCommand::Rules { files }) => check::rules(&files),
        Command::Check(CheckCommand::WebConfig { files }) => check::web_config(&files),
        Command::Query(args) => query::query(args),
        Command::Test(TestCommand::Rules { files, run }) => check::test_rules(&files, run),
        Command::Test(TestCommand::Receivers {
            config,
            external_url,
        }) => notify::test_receivers(&config, &external_url),
        Command::Render {
            config,
            alert,
            external_url,
        } => notify::render(&config, &alert, &external_url),
    }
}
