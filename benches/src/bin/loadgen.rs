//! `loadgen`: loads a running accord network with proposals and votes and reports
//! finalized transactions per second and submit-to-finality latency.
//!
//! ```sh
//! accord localnet --home /tmp/net &
//! loadgen --home /tmp/net --duration 60 --warmup 10            # closed loop
//! accord localnet --home /tmp/bench --preset bench &
//! loadgen --home /tmp/bench --rate 1000 --duration 30          # open loop
//! ```

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use accord_benches::loadgen::{self, Config, Target};
use accord_benches::openloop::{self, OpenConfig};
use anyhow::{bail, Result};
use clap::Parser;

/// Loads a running accord network and measures finalized tx/s and latency.
///
/// Closed loop (the default): the `author` account submits documentation proposals in
/// every region that has voters; the voters vote yes on each. Each account keeps at
/// most --in-flight transactions unconfirmed. Blocks are read from the first node.
///
/// Open loop (--rate): votes of every voter account on a pool of proposals opened
/// first, pre-signed and sent on a fixed schedule; latency from each transaction's
/// scheduled time; finality from every node's finalized-block subscription. Best on
/// an `accord localnet --preset bench` network (1,000 voters).
#[derive(Debug, Parser)]
#[command(name = "loadgen", version)]
struct Args {
    /// Home of an `accord localnet`: its nodes' RPC URLs and keys are read from it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["rpc", "keys"])]
    home: Option<PathBuf>,
    /// A node's RPC URL (repeat for several); without --home.
    #[arg(long, value_name = "URL")]
    rpc: Vec<String>,
    /// Directory with author.key and <region>-voter-<n>.key; without --home.
    #[arg(long, value_name = "DIR")]
    keys: Option<PathBuf>,
    /// Length of the measured window, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    duration: u64,
    /// Load before the window, in seconds, not measured.
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    warmup: u64,
    /// Most unconfirmed transactions per account (1 to 64, the mempool's per-account cap).
    #[arg(long, value_name = "N", default_value_t = 48)]
    in_flight: usize,
    /// After the window: longest wait for the last votes and finalizations, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    drain: u64,
    /// After the drain, wait up to SECS for every proposal to leave voting, and report
    /// the decisions.
    #[arg(long, value_name = "SECS")]
    await_decisions: Option<u64>,
    /// Open loop: transactions per second, on a fixed schedule.
    #[arg(long, value_name = "TX_PER_S")]
    rate: Option<f64>,
    /// Open loop: proposals opened first, which the votes go to.
    #[arg(long, value_name = "N", default_value_t = 8, requires = "rate")]
    proposals: usize,
    /// Open loop: batches of submissions in flight per node, at most.
    #[arg(long, value_name = "N", default_value_t = 4, requires = "rate")]
    connections: usize,
    /// Open loop: a node that receives no submissions, by validator name (`us-2`) or
    /// RPC URL (repeat for several). Its blocks are still followed while it runs: for a
    /// node that is to be stopped during the run.
    #[arg(long, value_name = "NAME|URL", requires = "rate")]
    exclude_node: Vec<String>,
    /// Open loop: also report the window in two parts, before and after SECS into it
    /// (repeat for more parts).
    #[arg(
        long,
        value_name = "SECS",
        requires = "rate",
        conflicts_with = "interval"
    )]
    split_at: Vec<u64>,
    /// Open loop: also report the window in parts of SECS each (a soak's minutes).
    #[arg(long, value_name = "SECS", requires = "rate")]
    interval: Option<u64>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

fn target(args: &Args) -> Result<Target> {
    match (&args.home, &args.keys) {
        (Some(home), _) => Target::from_home(home),
        (None, Some(keys)) if !args.rpc.is_empty() => Ok(Target {
            rpc: args.rpc.clone(),
            keys: keys.clone(),
        }),
        _ => bail!("say where the network is: --home DIR, or --rpc URL (repeated) and --keys DIR"),
    }
}

async fn run(args: Args) -> Result<()> {
    if let Some(rate) = args.rate {
        if args.duration == 0 {
            bail!("--duration must be at least 1 s");
        }
        let mut config = OpenConfig::new(target(&args)?, rate);
        config.home = args.home.clone();
        config.duration = Duration::from_secs(args.duration);
        config.warmup = Duration::from_secs(args.warmup);
        config.drain = Duration::from_secs(args.drain);
        config.proposals = args.proposals;
        config.connections = args.connections;
        config.exclude = args.exclude_node.clone();
        config.splits = match args.interval {
            Some(0) => bail!("--interval must be at least 1 s"),
            Some(every) => openloop::every(config.duration, Duration::from_secs(every)),
            None => args
                .split_at
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
        };
        if let Some(at) = args
            .split_at
            .iter()
            .find(|s| **s == 0 || **s >= args.duration)
        {
            bail!(
                "--split-at {at} is not inside the {} s window",
                args.duration
            );
        }
        let report = openloop::run(&config).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{report}");
        }
        return Ok(());
    }
    let mut config = Config::new(target(&args)?);
    config.duration = Duration::from_secs(args.duration);
    config.warmup = Duration::from_secs(args.warmup);
    config.in_flight = args.in_flight;
    config.drain = Duration::from_secs(args.drain);
    config.await_decisions = args.await_decisions.map(Duration::from_secs);
    if args.duration == 0 {
        bail!("--duration must be at least 1 s");
    }
    let report = loadgen::run(&config).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
