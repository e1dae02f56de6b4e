//! `accord-agent` processes beside a [`crate::net::Net`]: one per region, each with its
//! own directory holding its configuration, its command scripts, the files those
//! scripts write and its state.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::net::Net;

/// One deploy agent.
pub struct AgentProc {
    /// The region it serves.
    pub region: String,
    /// Its directory: `agent.toml`, scripts, what they write, `state/`, `agent.log`.
    pub dir: PathBuf,
    /// Where it serves `/metrics` and `/health`, when it does.
    pub metrics_listen: Option<String>,
    child: Option<Child>,
}

impl AgentProc {
    /// An agent of `region` of `net` (its key `<region>-agent`), talking to the nodes
    /// `endpoints` (in fail-over order), with `actions` (the `[actions.*]` tables of
    /// its configuration); commands run in `dir`. Not started.
    pub fn new(net: &Net, dir: &Path, region: &str, endpoints: &[usize], actions: &str) -> Self {
        let rpc: Vec<String> = endpoints.iter().map(|&i| net.ws(i)).collect();
        Self::with_rpc(net, dir, region, &rpc, None, actions)
    }

    /// An agent like [`AgentProc::new`] that talks to the endpoints `rpc` (WebSocket
    /// URLs, in fail-over order) and serves its metrics on `metrics_listen` when given.
    pub fn with_rpc(
        net: &Net,
        dir: &Path,
        region: &str,
        rpc: &[String],
        metrics_listen: Option<String>,
        actions: &str,
    ) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        let rpc: Vec<String> = rpc.iter().map(|url| format!("{url:?}")).collect();
        let config = format!(
            "rpc = [{}]\nkey = {:?}\nregion = {region:?}\nchain_spec = {:?}\nstate_dir = \"state\"\n\
             metrics_listen = {:?}\npoll_interval_ms = 200\nbackoff_max_ms = 2000\n{actions}\n",
            rpc.join(", "),
            net.key(&format!("{region}-agent")),
            net.home.join("spec.json"),
            metrics_listen.as_deref().unwrap_or("off"),
        );
        std::fs::write(dir.join("agent.toml"), config).unwrap();
        Self {
            region: region.to_owned(),
            dir: dir.to_owned(),
            metrics_listen,
            child: None,
        }
    }

    /// The value of the counter `accord_agent_events_refused_total{reason}` (0 when the
    /// agent has refused nothing for that reason, or serves no metrics yet).
    pub fn refused(&self, reason: &str) -> u64 {
        let Some(listen) = &self.metrics_listen else {
            panic!("the {} agent serves no metrics", self.region)
        };
        let series = format!("accord_agent_events_refused_total{{reason=\"{reason}\"}}");
        crate::metric(listen, &series) as u64
    }

    /// Writes a shell script into the agent's directory.
    pub fn script(&self, name: &str, body: &str) {
        std::fs::write(self.dir.join(name), format!("set -eu\n{body}\n")).unwrap();
    }

    /// A file of the agent's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// The lines of a file its scripts write (none when it does not exist).
    pub fn lines(&self, name: &str) -> Vec<String> {
        std::fs::read_to_string(self.path(name))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Starts the process, its output appended to `agent.log`.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "the {} agent runs", self.region);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("agent.log"))
            .unwrap();
        let child = Command::new(crate::binary("accord-agent"))
            .arg("--config")
            .arg(self.dir.join("agent.toml"))
            .env("ACCORD_AGENT_LOG_FILTER", "info,accord_agent=debug")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// `kill -9`.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running (it exits on a configuration error).
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }

    /// Waits until the file `name` has `count` lines; panics with the agent's log after
    /// `limit`.
    pub fn wait_lines(&mut self, name: &str, count: usize, limit: Duration) -> Vec<String> {
        let deadline = Instant::now() + limit;
        loop {
            let lines = self.lines(name);
            if lines.len() >= count {
                return lines;
            }
            assert!(
                Instant::now() < deadline && self.running(),
                "the {} agent wrote {} of {count} lines to {name} within {limit:?}:\n{}",
                self.region,
                lines.len(),
                crate::net::tail(&self.log(), 40)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for AgentProc {
    fn drop(&mut self) {
        self.kill();
    }
}
