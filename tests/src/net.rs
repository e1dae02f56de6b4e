//! A local network of real `accord run` processes for the multi-process tests.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use accord_node::client::{send, Client, TxAction};
use accord_node::localnet::{prepare, LocalNode, Shape};
use accord_rpc::{ChainApiClient, GovApiClient};

use crate::ports::{claim_ports, PortBlock, PORTS_PER_KIND};

/// One validator process.
pub struct NodeProc {
    /// Where it lives and listens.
    pub node: LocalNode,
    child: Option<Child>,
}

/// A running local network.
pub struct Net {
    ports: PortBlock,
    _dir: tempfile::TempDir,
    /// The network's home (spec, keys, one directory per node).
    pub home: PathBuf,
    /// The validators, in the spec's order.
    pub nodes: Vec<NodeProc>,
}

impl Net {
    /// Writes a network of `validators` in `regions`; starts nothing.
    pub fn new(validators: usize, regions: usize) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("net");
        let ports = claim_ports();
        assert!(
            validators <= PORTS_PER_KIND,
            "a block of ports holds 10 nodes"
        );
        let (base_port, rpc_port) = ports.node(0);
        let shape = Shape {
            validators,
            regions,
            base_port,
            rpc_port,
            preset: Default::default(),
            commit_ms: None,
        };
        let nodes = prepare(&home, shape, false)
            .unwrap()
            .into_iter()
            .map(|node| NodeProc { node, child: None })
            .collect();
        Self {
            ports,
            _dir: dir,
            home,
            nodes,
        }
    }

    /// The p2p and RPC ports of node `index` in this network's block of ports (for a
    /// node added later).
    pub fn ports_for(&self, index: usize) -> (u16, u16) {
        self.ports.node(index)
    }

    /// A port of this network's block that no node of index below `nodes` uses: the
    /// `k`-th from the end of the block (for a process beside the network).
    pub fn spare_port(&self, k: usize) -> u16 {
        assert!(
            self.nodes.len() + k < PORTS_PER_KIND,
            "no spare port {k} beside {} nodes",
            self.nodes.len()
        );
        self.ports.node(PORTS_PER_KIND - 1 - k).1
    }

    /// Adds a node (not started); returns its index.
    pub fn add(&mut self, node: LocalNode) -> usize {
        self.nodes.push(NodeProc { node, child: None });
        self.nodes.len() - 1
    }

    /// Edits the chain spec before any node starts: the network's copy and each node's.
    pub fn edit_spec(&self, edit: impl FnOnce(&mut serde_json::Value)) {
        assert!(
            self.nodes.iter().all(|n| n.child.is_none()),
            "the spec is edited before the nodes start"
        );
        let path = self.home.join("spec.json");
        let mut spec: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        edit(&mut spec);
        let text = serde_json::to_string_pretty(&spec).unwrap();
        std::fs::write(&path, &text).unwrap();
        for node in &self.nodes {
            std::fs::write(node.node.home.join("spec.json"), &text).unwrap();
        }
    }

    /// A key file of the network (accounts: `author`, `eu-voter-1`, …).
    pub fn key(&self, name: &str) -> PathBuf {
        self.home.join("keys").join(format!("{name}.key"))
    }

    /// Submits the draft file `draft` through node 0, signed with the network's key
    /// `author`, and waits for its block; returns the new proposal's id (the highest node
    /// 0 lists) and the height of its submission.
    pub async fn submit(
        &self,
        author: &str,
        draft: impl Into<PathBuf>,
    ) -> (accord_types::ProposalId, accord_types::Height) {
        let propose = TxAction::Propose {
            draft: draft.into(),
        };
        let included = send(&self.nodes[0].node.rpc, &self.key(author), &propose, true)
            .await
            .unwrap();
        assert!(included, "the proposal was not included");
        let page = self
            .client(0)
            .api()
            .list_proposals(None, None, Some(1000))
            .await
            .unwrap();
        let newest = page
            .proposals
            .iter()
            .max_by_key(|p| p.id)
            .expect("node 0 lists no proposal after a submission");
        (newest.id, newest.submitted_at)
    }

    /// Submits the draft file `draft` through node 0 with the real command line
    /// (`accord tx propose --wait`, which fills in a payload digest the draft leaves
    /// out), signed with the network's key `author`; returns the height it was finalized
    /// at, as the command printed it.
    pub fn propose_with_cli(&self, author: &str, draft: impl AsRef<std::path::Path>) -> u64 {
        let out = crate::accord()
            .args(["tx", "propose", "--draft"])
            .arg(draft.as_ref())
            .arg("--key")
            .arg(self.key(author))
            .args(["--rpc", &self.nodes[0].node.rpc, "--wait"])
            .output()
            .unwrap();
        let printed = crate::stdout(&out);
        assert!(out.status.success(), "{printed}{}", crate::stderr(&out));
        assert!(printed.contains("\"result\":\"success\""), "{printed}");
        printed
            .split("finalized at height ")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .and_then(|h| h.trim().parse().ok())
            .unwrap_or_else(|| panic!("no height in {printed}"))
    }

    /// Starts node `i`.
    pub fn start(&mut self, i: usize) {
        self.start_with(i, &[]);
    }

    /// Starts node `i` with extra environment variables.
    pub fn start_with(&mut self, i: usize, env: &[(&str, &str)]) {
        let proc = &mut self.nodes[i];
        assert!(proc.child.is_none(), "{} already runs", proc.node.name);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(proc.node.home.join("node.log"))
            .unwrap();
        let child = Command::new(crate::binary("accord"))
            .args(["run", "--home"])
            .arg(&proc.node.home)
            .env("ACCORD_LOG_FILTER", "info,accord_node=debug")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        proc.child = Some(child);
    }

    /// Starts every node.
    pub fn start_all(&mut self) {
        for i in 0..self.nodes.len() {
            self.start(i);
        }
    }

    /// Whether node `i`'s process is running (it has not exited by itself).
    pub fn running(&mut self, i: usize) -> bool {
        self.nodes[i]
            .child
            .as_mut()
            .is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }

    /// A series of node `i`'s `/metrics` (0 when absent).
    pub fn metric(&self, i: usize, series: &str) -> f64 {
        crate::metric(self.nodes[i].node.rpc.trim_start_matches("http://"), series)
    }

    /// `kill -9` of node `i`.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// Waits for node `i` to exit by itself; returns its exit status, or panics with its
    /// log after `limit`.
    pub fn wait_exit(&mut self, i: usize, limit: Duration) -> std::process::ExitStatus {
        let mut child = self.nodes[i].child.take().expect("node runs");
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "{} still runs after {limit:?}; log tail:\n{}",
                    self.nodes[i].node.name,
                    tail(&self.log(i), 40)
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Node `i`'s consensus log file.
    pub fn wal(&self, i: usize) -> PathBuf {
        self.nodes[i].node.home.join("data").join("consensus.wal")
    }

    /// SIGTERM to node `i`, then waits for it to exit; returns its exit status.
    pub fn stop(&mut self, i: usize) -> std::process::ExitStatus {
        let mut child = self.nodes[i].child.take().expect("node runs");
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                child.kill().unwrap();
                panic!(
                    "{} did not stop within 20 s of SIGTERM",
                    self.nodes[i].node.name
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Node `i`'s p2p TCP port, from its configuration.
    pub fn p2p_port(&self, i: usize) -> u16 {
        let path = self.nodes[i].node.home.join("config.toml");
        let text = std::fs::read_to_string(&path).unwrap();
        let config = accord_node::config::Config::parse(&text, &path).unwrap();
        config
            .p2p
            .listen
            .rsplit('/')
            .next()
            .unwrap()
            .parse()
            .unwrap()
    }

    /// Node `i`'s WebSocket RPC URL.
    pub fn ws(&self, i: usize) -> String {
        self.nodes[i].node.rpc.replacen("http://", "ws://", 1)
    }

    /// An RPC client of node `i`.
    pub fn client(&self, i: usize) -> Client {
        Client::new(&self.nodes[i].node.rpc).unwrap()
    }

    /// Node `i`'s log so far.
    pub fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.nodes[i].node.home.join("node.log")).unwrap_or_default()
    }

    /// Checks node `i`'s whole log: readable, really the node's (it started its p2p
    /// task), and free of signs of double signing — an equivocation seen by it, or a
    /// message its own signer guard withheld because it conflicted with one signed
    /// before — and of panics.
    pub fn assert_no_double_signing(&self, i: usize) {
        let path = self.nodes[i].node.home.join("node.log");
        let log = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("node {i}'s log {}: {e}", path.display()));
        assert!(
            log.contains("p2p task started"),
            "node {i}'s log is not a node's log:\n{}",
            tail(&log, 20)
        );
        for sign in ["equivocation", "signed message withheld", "panicked"] {
            assert!(
                !log.contains(sign),
                "node {i} logged {sign:?}:\n{}",
                tail(&log, 40)
            );
        }
    }

    /// Node `i`'s committed height, if it answers.
    pub async fn height(&self, i: usize) -> Option<u64> {
        let status = self.client(i).status().await.ok()?;
        Some(status.height.0)
    }

    /// Waits until node `i` reports at least `height`; panics with its log after `limit`.
    pub async fn wait_height(&self, i: usize, height: u64, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            if self.height(i).await.is_some_and(|h| h >= height) {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "{} did not reach height {height} within {limit:?} (at {:?}); log tail:\n{}",
                    self.nodes[i].node.name,
                    self.height(i).await,
                    tail(&self.log(i), 40)
                );
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The block at `height` from node `i`: (hash, state root).
    pub async fn block(&self, i: usize, height: u64) -> (String, String) {
        let answer = self
            .client(i)
            .api()
            .block(accord_types::Height(height).into())
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("node {i} has no block at height {height}"));
        (
            answer.hash.to_string(),
            answer.block.header.state_root.to_string(),
        )
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for proc in &mut self.nodes {
            if let Some(mut child) = proc.child.take() {
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// The last `lines` lines of a text.
pub fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
