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
//!
//! While it runs, it prints who signs the last certificates in each region
//! ([`signing`]), so a stopped validator shows as absent while the chain goes on.
//!
//! `accord localnet restart NAME` starts a node again under the running localnet: it
//! leaves a request file in `HOME/requests/`, which the running localnet (whose process
//! id is in `HOME/localnet.pid`) carries out within a fraction of a second — stopping
//! the node first if it runs — and removes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_chain_spec::{localnet, ChainSpec};
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::init::{init, private_dir, InitOptions, KeySource};

pub mod signing;

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
    let marker = home.join(MARKER);
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
        let existing = read_shape(home)?;
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

/// The network's shape, in its home.
pub const MARKER: &str = "localnet.json";

/// The shape of the network whose home is `home`, from its [`MARKER`].
pub fn read_shape(home: &Path) -> Result<Shape> {
    let marker = home.join(MARKER);
    let text =
        fs::read_to_string(&marker).with_context(|| format!("cannot read {}", marker.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{} is not a localnet description", marker.display()))
}

/// The running localnet's process id, in its home.
const PID_FILE: &str = "localnet.pid";
/// Where `accord localnet restart` leaves its requests, in the home.
const REQUESTS_DIR: &str = "requests";
/// The prefix of a restart request's file name; the node's name follows.
const RESTART: &str = "restart-";
/// How long `accord localnet restart` waits for the running localnet to take its request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Asks the localnet running on `home` to start node `name` again (stopping it first if
/// it runs); returns once it has been started.
pub fn restart(home: &Path, name: &str) -> Result<LocalNode> {
    if !home.join(MARKER).exists() {
        bail!("{} holds no local network (no {MARKER})", home.display());
    }
    let nodes = prepare(home, read_shape(home)?, false)?;
    let Some(node) = nodes.iter().find(|n| n.name == name).cloned() else {
        let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
        bail!(
            "{name} is not a node of this network; its nodes are {}",
            names.join(", ")
        );
    };
    let running = fs::read_to_string(home.join(PID_FILE))
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        .is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
    if !running {
        bail!(
            "no `accord localnet` runs on {}: start it with `accord localnet --home {}` (it starts every node)",
            home.display(),
            home.display()
        );
    }
    let requests = home.join(REQUESTS_DIR);
    fs::create_dir_all(&requests)
        .with_context(|| format!("cannot create {}", requests.display()))?;
    let request = requests.join(format!("{RESTART}{name}"));
    fs::write(&request, b"").with_context(|| format!("cannot write {}", request.display()))?;
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    while request.exists() {
        if Instant::now() >= deadline {
            let _ = fs::remove_file(&request);
            bail!(
                "the localnet running on {} did not take the request within {} s",
                home.display(),
                REQUEST_TIMEOUT.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(node)
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
/// every node has exited, returns an error. Every `signing_every`, prints who signs in
/// each region ([`signing`]).
pub fn run(home: &Path, shape: Shape, fresh: bool, signing_every: Option<Duration>) -> Result<()> {
    let nodes = prepare(home, shape, fresh)?;
    let exe = std::env::current_exe().context("cannot find the accord executable")?;
    let pid_file = home.join(PID_FILE);
    fs::write(&pid_file, format!("{}\n", std::process::id()))
        .with_context(|| format!("cannot write {}", pid_file.display()))?;
    let _pid_file = RemovedOnDrop(pid_file);
    // Requests left by a localnet that ended before taking them are not this one's.
    let _ = fs::remove_dir_all(home.join(REQUESTS_DIR));
    let mut children: Vec<NodeChild> = Vec::new();
    for node in &nodes {
        children.push(NodeChild {
            node: node.clone(),
            child: spawn(&exe, node)?,
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
    if let Some(first) = nodes.first() {
        say(format_args!(
            "explorer: {}/explorer (any node's RPC URL serves it)",
            first.rpc
        ));
    }
    say("press Ctrl-C to stop every node");

    let stop = signal_flag()?;
    let reporter_stop = Arc::new(AtomicBool::new(false));
    let _reporter = match signing_every {
        Some(every) => Some(
            signing::spawn(
                nodes.iter().map(|n| n.rpc.clone()).collect(),
                every,
                reporter_stop.clone(),
                |line| say(line),
            )
            .context("cannot start the signing report")?,
        ),
        None => None,
    };
    let _stop_reporter = SetOnDrop(reporter_stop);
    let stopping = || stop.load(Ordering::SeqCst);
    while !stopping() {
        let exits = reap(&mut children);
        if !exits.is_empty() {
            // Ctrl-C in a terminal reaches the nodes too: an exit right after it is a stop.
            std::thread::sleep(Duration::from_millis(500));
            if stopping() {
                break;
            }
            for (name, status) in exits {
                eprintln!(
                    "{name} exited ({status}); see its node.log; start it again with: accord localnet restart {name} --home {}",
                    home.display()
                );
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
        serve_requests(home, &exe, &mut children);
        std::thread::sleep(Duration::from_millis(200));
    }
    stop_all(&mut children);
    say("stopped");
    Ok(())
}

/// A flag set when this goes out of scope, however the function holding it returns.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// A file removed when this goes out of scope, however the function holding it returns.
struct RemovedOnDrop(PathBuf);

impl Drop for RemovedOnDrop {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

/// Starts `accord run` for `node`, its output appended to its node.log.
fn spawn(exe: &Path, node: &LocalNode) -> Result<Child> {
    let log_path = node.home.join("node.log");
    let log = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    Command::new(exe)
        .arg("run")
        .arg("--home")
        .arg(&node.home)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", node.name))
}

/// Carries out the restart requests waiting in the home's requests directory, and
/// removes them (a request for a name that is not a node is dropped with a warning).
fn serve_requests(home: &Path, exe: &Path, children: &mut [NodeChild]) {
    let Ok(entries) = fs::read_dir(home.join(REQUESTS_DIR)) else {
        return;
    };
    for entry in entries.flatten().take(children.len().saturating_add(8)) {
        let file_name = entry.file_name();
        let name = file_name.to_string_lossy();
        match name
            .strip_prefix(RESTART)
            .and_then(|node| children.iter_mut().find(|c| c.node.name == node))
        {
            Some(c) => {
                if c.exited.is_none() {
                    stop(c);
                }
                match spawn(exe, &c.node) {
                    Ok(child) => {
                        c.child = child;
                        c.exited = None;
                        say(format_args!("{} started again", c.node.name));
                    }
                    Err(error) => eprintln!("{error:#}"),
                }
            }
            None => eprintln!("ignored request {name}: not a restart of a node of this network"),
        }
        let _ = fs::remove_file(entry.path());
    }
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

/// Asks one running node to stop (SIGTERM) and waits up to 15 s before killing it.
fn stop(c: &mut NodeChild) {
    terminate(c);
    wait_or_kill(c, Instant::now() + STOP_TIMEOUT);
}

/// Asks every node still running to stop (SIGTERM), then kills those still running
/// after 15 s.
fn stop_all(children: &mut [NodeChild]) {
    // A node already reaped is not signalled: its process id may belong to another
    // process by now.
    for c in children.iter().filter(|c| c.exited.is_none()) {
        terminate(c);
    }
    let deadline = Instant::now() + STOP_TIMEOUT;
    for c in children.iter_mut().filter(|c| c.exited.is_none()) {
        wait_or_kill(c, deadline);
    }
}

/// How long a node is given to stop after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(15);

/// Sends a running node SIGTERM.
fn terminate(c: &NodeChild) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(c.child.id().to_string())
        .status();
}

/// Waits for a node to exit, killing it at `deadline`; records how it ended.
fn wait_or_kill(c: &mut NodeChild, deadline: Instant) {
    loop {
        match c.child.try_wait() {
            Ok(Some(status)) => {
                c.exited = Some(status);
                return;
            }
            Err(_) => return,
            Ok(None) if Instant::now() >= deadline => {
                eprintln!("{} did not stop in time; killing it", c.node.name);
                let _ = c.child.kill();
                c.exited = c.child.wait().ok();
                return;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// A flag raised by SIGINT or SIGTERM.
fn signal_flag() -> Result<Arc<AtomicBool>> {
    let flag = Arc::new(AtomicBool::new(false));
    let raised = Arc::clone(&flag);
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
            raised.store(true, Ordering::SeqCst);
        });
    });
    Ok(flag)
}
