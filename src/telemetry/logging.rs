//! Log output: logfmt (the Prometheus default) or JSON lines on stderr.

use tracing_subscriber::{layer::SubscriberExt, util::SubscriberInitExt, EnvFilter};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// `ts=… level=info msg="…" key=value`
    Logfmt,
    /// One JSON object per line.
    Json,
}

/// Installs the global subscriber. `level` is a level name (`debug`, `info`,
/// `warn`, `error`) or a full `RUST_LOG`-style filter. Calling it twice is harmless.
pub fn init_logging(level: &str, format: LogFormat) -> Result<(), String> {
    let filter =
        EnvFilter::try_new(level).map_err(|e| format!("invalid log level {level:?}: {e}"))?;
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Logfmt => registry
            .with(
                tracing_logfmt::builder()
                    .layer()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already initialised (tests, embedding programs): keep the existing subscriber.
    let _ = result;
    Ok(())
}
