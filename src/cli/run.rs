//! `watchfire run`: the engine until SIGINT/SIGTERM, reloading on SIGHUP.

use super::RunArgs;
use std::process::ExitCode;
use tokio::signal::unix::{signal, SignalKind};
use watchfire::telemetry::init_logging;
use watchfire::{Engine, EngineError};

/// Runs the server until a termination signal.
pub fn run(args: RunArgs) -> ExitCode {
    if let Err(e) = init_logging(&args.log_level, args.log_format) {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: starting runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "watchfire stopped");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: RunArgs) -> Result<(), EngineError> {
    let engine = Engine::builder(args.settings()).build()?;
    let io = |what| move |source| EngineError::Io { what, source };
    let mut term = signal(SignalKind::terminate()).map_err(io("installing the SIGTERM handler"))?;
    let mut hup = signal(SignalKind::hangup()).map_err(io("installing the SIGHUP handler"))?;
    let reload = engine.reload_handle();
    // SIGHUP reloads; the outcome is logged and counted by the engine.
    let reloader = tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let _ = reload.reload().await;
        }
    });
    let shutdown = async move {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    let outcome = engine.run(shutdown).await;
    reloader.abort();
    outcome
}
