//! `accord-agent`: the deploy agent's command line.

use std::path::PathBuf;

use accord_agent::{metrics, Agent, Config, Overrides};
use anyhow::{Context, Result};
use clap::Parser;

/// The accord deploy agent: runs approved changes of its region and reports signed receipts.
#[derive(Debug, Parser)]
#[command(name = "accord-agent", version)]
struct Cli {
    /// The configuration file (agent.toml).
    #[arg(long, value_name = "FILE", env = "ACCORD_AGENT_CONFIG")]
    config: Option<PathBuf>,
    #[command(flatten)]
    overrides: Overrides,
    /// Log format.
    #[arg(
        long,
        value_enum,
        default_value = "text",
        env = "ACCORD_AGENT_LOG_FORMAT"
    )]
    log_format: LogFormat,
    /// A tracing filter: `info`, `info,accord::agent::trust=debug`.
    #[arg(long, default_value = "info", env = "ACCORD_AGENT_LOG_FILTER")]
    log_filter: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

fn init_logs(format: LogFormat, filter: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("--log-filter {filter:?} is not a tracing filter"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => builder.json().init(),
    }
    Ok(())
}

/// Waits for SIGINT or SIGTERM.
async fn interrupted() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let term = async {
        match term.as_mut() {
            Some(term) => {
                term.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
}

/// Watches for signals in a task of its own (the agent looks at its shutdown future only
/// between events): the first SIGINT or SIGTERM resolves the returned future, a second
/// one of either ends the process at once (exit status 130), leaving a running command
/// to the journal's next start.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    let (first, stop) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        interrupted().await;
        tracing::info!(target: "accord::agent", "stopping after the event being handled (a second signal stops at once)");
        let _ = first.send(());
        interrupted().await;
        tracing::warn!(target: "accord::agent", "second signal: stopping at once");
        std::process::exit(130);
    });
    async move {
        let _ = stop.await;
    }
}

fn main() -> std::process::ExitCode {
    match run(&Cli::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: &Cli) -> Result<()> {
    init_logs(cli.log_format, &cli.log_filter)?;
    let config = Config::load(cli.config.as_deref(), &cli.overrides)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let agent = Agent::new(config.clone()).await?;
        tracing::info!(
            target: "accord::agent",
            key = %agent.public_key(),
            region = %config.region,
            endpoints = ?config.rpc,
            dry_run = config.dry_run,
            "starting"
        );
        if let Some(listen) = config.metrics_listen {
            let (addr, _task) = metrics::serve(listen, agent.metrics())
                .await
                .with_context(|| format!("cannot serve metrics on {listen}"))?;
            tracing::info!(target: "accord::agent", %addr, "serving /metrics and /health");
        }
        agent.run(shutdown_signal()).await?;
        Ok(())
    })
}
