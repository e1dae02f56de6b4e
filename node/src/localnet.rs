//! `accord localnet`: a local validator network on loopback, one `accord run` process
//! per validator.
//!
//! ```text
//! HOME/
//!   localnet.json       the network's shape (validators, regions, ports)
//!   spec.json           the chain spec
//!   keys/               every preset key (validators' and accounts')
//!   nodes/<name>/       each validator's home (see `init`), with node.log
//! ```
//!
//! Running it again on the same home restarts the same network with its data; `--fresh`
//! starts over. Ctrl-C (SIGINT) or SIGTERM stops every node gracefully. A node that
//! exits on its own (a crash, a kill) is reported with its exit code or signal, and the
//! others keep running, so the chain can be watched going on without it; localnet
//! returns by itself once every node has exited.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use accord_chain_spec::{localnet, ChainSpec};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::init::{init, private_dir, InitOptions, KeySource};

/// The shape of a local network, recorded in its home.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shape {
    /// Validators.
    pub validators: usize,
    /// Regions.
    pub regions: usize,
    /// First p2p port.
    pub base_port: u16,
    /// First RPC port.
    pub rpc_port: u16,
    /// Which accounts and governance parameters the spec has.
    #[serde(default)]
    pub preset: NetPreset,
    /// The commit pause after an empty block (the spec's `consensus.timeouts.commit_ms`),
    /// when not the preset's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_ms: Option<u64>,
}

/// The kind of local network: its accounts and governance parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum NetPreset {
    /// Two voters per region and the presets' voting periods ([`localnet`]).
    #[default]
    Localnet,
    /// 500 voters per region and voting periods of ten million blocks, for load tests
    /// ([`accord_chain_spec::bench`]).
    Bench,
}

/// Prints a line on standard output if anyone still reads it: the network keeps running
/// (and is stopped gracefully) whether or not its output is read.
fn say(line: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout(), "{line}");
}

/// `spec` with its commit pause set to `commit_ms`, validated again.
fn with_commit_pause(spec: &ChainSpec, commit_ms: u64) -> Result<ChainSpec> {
    let mut json: serde_json::Value = serde_json::from_str(&spec.to_json_pretty())?;
    json["consensus"]["timeouts"]["commit_ms"] = commit_ms.into();
    ChainSpec::from_json(&json.to_string()).context("the spec with --commit-ms is not valid")
}

/// One validator of the network.
#[derive(Debug, Clone)]
pub struct LocalNode {
    /// Its name.
    pub name: String,
    /// Its region.
    pub region: String,
    /// Its home directory.
    pub home: PathBuf,
    /// Its RPC URL.
    pub rpc: String,
}

/// Writes the network's spec, keys and node homes into `home` (or checks the ones
/// there), and returns its nodes.
pub fn prepare(home: &Path, shape: Shape, fresh: bool) -> Result<Vec<LocalNode>> {
    let marker = home.join("localnet.json");
    if fresh && home.exists() {
        if !marker.exists() {
            bail!(
                "{} exists and is not a local network's home; refusing to delete it",
                home.display()
            );
        }
        fs::remove_dir_all(home).with_context(|| format!("cannot remove {}", home.display()))?;
    }
    let mut net = match shape.preset {
        NetPreset::Localnet => localnet(shape.validators, shape.regions, shape.base_port)?,
        NetPreset::Bench => {
            accord_chain_spec::bench(shape.validators, shape.regions, shape.base_port)?
        }
    };
    if let Some(commit_ms) = shape.commit_ms {
        net.spec = with_commit_pause(&net.spec, commit_ms)?;
    }
    if marker.exists() {
        let text = fs::read_to_string(&marker)
            .with_context(|| format!("cannot read {}", marker.display()))?;
        let existing: Shape = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a localnet description", marker.display()))?;
        if existing != shape {
            bail!(
                "{} holds a {:?} network of {} validators in {} regions (ports {}/{}); pass the same options, or --fresh to start over",
                home.display(),
                existing.preset,
                existing.validators,
                existing.regions,
                existing.base_port,
                existing.rpc_port
            );
        }
    } else {
        if home.exists() && fs::read_dir(home)?.next().is_some() {
            bail!(
                "{} is not empty and holds no local network; choose another --home",
                home.display()
            );
        }
        private_dir(home)?;
        let spec_path = home.join("spec.json");
        let mut json = net.spec.to_json_pretty();
        json.push('\n');
        fs::write(&spec_path, json)
            .with_context(|| format!("cannot write {}", spec_path.display()))?;
        let keys = home.join("keys");
        crate::keyfile::write_all(&keys, &net.keys)?;
        for (i, v) in net.spec.validators().iter().enumerate() {
            let rpc_port = rpc_port(shape, i)?;
            init(&InitOptions {
                spec: spec_path.clone(),
                validator: v.name.clone(),
                home: home.join("nodes").join(&v.name),
                keys: KeySource::Directory(keys.clone()),
                rpc_listen: ([127, 0, 0, 1], rpc_port).into(),
                p2p_listen: None,
                join: None,
                // The developer's own tools (loadgen, rpcbench, the tests) on this
                // host; the limits stay on for every other address.
                rate_limit_exempt: vec![
                    std::net::Ipv4Addr::LOCALHOST.into(),
                    std::net::Ipv6Addr::LOCALHOST.into(),
                ],
            })?;
        }
        fs::write(&marker, serde_json::to_string_pretty(&shape)?)
            .with_context(|| format!("cannot write {}", marker.display()))?;
    }
    net.spec
        .validators()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            Ok(LocalNode {
                name: v.name.clone(),
                region: v.region.as_str().to_owned(),
                home: home.join("nodes").join(&v.name),
                rpc: format!("http://127.0.0.1:{}", rpc_port(shape, i)?),
            })
        })
        .collect()
}

fn rpc_port(shape: Shape, index: usize) -> Result<u16> {
    u16::try_from(index)
        .ok()
        .and_then(|i| shape.rpc_port.checked_add(i))
        .with_context(|| format!("RPC port {} + {index} is out of range", shape.rpc_port))
}

/// A node process started by [`run`].
struct NodeChild {
    node: LocalNode,
    child: Child,
    /// How it ended, once it has.
    exited: Option<ExitStatus>,
}

/// Starts every node as a child process and waits for Ctrl-C or SIGTERM, then stops
/// them all. A node that exits meanwhile is reported and the others keep running; once
/// every node has exited, returns an error.
pub fn run(home: &Path, shape: Shape, fresh: bool) -> Result<()> {
    let nodes = prepare(home, shape, fresh)?;
    let exe = std::env::current_exe().context("cannot find the accord executable")?;
    let mut children: Vec<NodeChild> = Vec::new();
    for node in &nodes {
        let log_path = node.home.join("node.log");
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("cannot open {}", log_path.display()))?;
        let child = Command::new(&exe)
            .arg("run")
            .arg("--home")
            .arg(&node.home)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("cannot start {}", node.name))?;
        children.push(NodeChild {
            node: node.clone(),
            child,
            exited: None,
        });
    }
    say(format_args!(
        "local network: {} validators in {} regions, home {}",
        shape.validators,
        shape.regions,
        home.display()
    ));
    for node in &nodes {
        say(format_args!(
            "  {:<8} {:<4} rpc {}  log {}",
            node.name,
            node.region,
            node.rpc,
            node.home.join("node.log").display()
        ));
    }
    say("press Ctrl-C to stop every node");

    let stop = signal_flag()?;
    let stopping = || stop.load(std::sync::atomic::Ordering::SeqCst);
    while !stopping() {
        let exits = reap(&mut children);
        if !exits.is_empty() {
            // Ctrl-C in a terminal reaches the nodes too: an exit right after it is a stop.
            std::thread::sleep(Duration::from_millis(500));
            if stopping() {
                break;
            }
            for (name, status) in exits {
                eprintln!("{name} exited ({status}); see its node.log");
            }
            if children.iter().all(|c| c.exited.is_some()) {
                bail!("every node has exited");
            }
            let running: Vec<&str> = children
                .iter()
                .filter(|c| c.exited.is_none())
                .map(|c| c.node.name.as_str())
                .collect();
            eprintln!("still running: {}", running.join(", "));
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_all(&mut children);
    say("stopped");
    Ok(())
}

/// Records the nodes that have exited since the last call; answers their names and
/// statuses.
fn reap(children: &mut [NodeChild]) -> Vec<(String, ExitStatus)> {
    let mut exits = Vec::new();
    for c in children.iter_mut().filter(|c| c.exited.is_none()) {
        if let Ok(Some(status)) = c.child.try_wait() {
            c.exited = Some(status);
            exits.push((c.node.name.clone(), status));
        }
    }
    exits
}

/// Asks every node still running to stop (SIGTERM), then kills those still running
/// after 15 s.
fn stop_all(children: &mut [NodeChild]) {
    // A node already reaped is not signalled: its process id may belong to another
    // process by now.
    for c in children.iter().filter(|c| c.exited.is_none()) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(c.child.id().to_string())
            .status();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    for c in children.iter_mut().filter(|c| c.exited.is_none()) {
        loop {
            match c.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    eprintln!("{} did not stop in time; killing it", c.node.name);
                    let _ = c.child.kill();
                    let _ = c.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
}

/// A flag raised by SIGINT or SIGTERM.
fn signal_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let raised = std::sync::Arc::clone(&flag);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the signal listener")?;
    std::thread::spawn(move || {
        runtime.block_on(async {
            use tokio::signal::unix::{signal, SignalKind};
            if let (Ok(mut int), Ok(mut term)) = (
                signal(SignalKind::interrupt()),
                signal(SignalKind::terminate()),
            ) {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            } else {
                let _ = tokio::signal::ctrl_c().await;
            }
            raised.store(true, std::sync::atomic::Ordering::SeqCst);
        });
    });
    Ok(flag)
}
