//! The agent against a real JSON-RPC server over an in-memory chain executed by the
//! real runtime: proposals approved and executed end to end, rollbacks, dry runs, a
//! restart in the middle of a command, and a node that forges what it streams.

mod canary;
mod execution;
mod refusal;
mod restart;
mod signals;

use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use accord_agent::metrics::Metrics;
use accord_agent::{Agent, Config, Overrides};
use accord_rpc::backend::TxPool;
use accord_rpc::memory::MemoryNode;
use accord_rpc::types::{EventFilter, EventView};
use accord_rpc::{ChainApiClient, GovApiClient};
use accord_runtime::records::ProposalState;
use accord_runtime::test_utils;
use accord_types::governance::{ExecutionReport, ProposalBody, ProposalStatus, VoteChoice};
use accord_types::{Event, Height, Payload, ProposalId, PublicKey};
use jsonrpsee::server::ServerHandle;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use serde_json::json;
use tempfile::TempDir;

/// How long a test waits for the chain to reach a state before it fails.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// A server over a fresh in-memory chain, a block producer that commits whatever
/// reaches the pool, and a directory with the agent's key, the chain spec and scripts.
pub struct Fixture {
    /// The chain.
    pub node: Arc<MemoryNode>,
    /// Where the server listens.
    pub addr: SocketAddr,
    /// The agent's directory (its config's base).
    pub dir: TempDir,
    _server: ServerHandle,
    producer: tokio::task::JoinHandle<()>,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        self.producer.abort();
    }
}

/// The test chain's spec: its chain id and validator set (what the agent trusts).
fn spec_json() -> String {
    let genesis = test_utils::genesis();
    let template = accord_chain_spec::preset("dev")
        .unwrap()
        .spec
        .to_json_pretty();
    let mut spec: serde_json::Value = serde_json::from_str(&template).unwrap();
    spec["chain_id"] = json!(genesis.chain_id.as_str());
    spec["regions"] = json!(test_utils::REGIONS);
    spec["validators"] = json!(genesis
        .validators
        .iter()
        .enumerate()
        .map(|(i, v)| json!({
            "name": v.name,
            "region": v.region.as_str(),
            "consensus_key": v.consensus_key.to_string(),
            "p2p_key": v.p2p_key.to_string(),
            "listen_addr": format!("/ip4/127.0.0.1/tcp/{}", 30300 + i),
            "power": v.power,
        }))
        .collect::<Vec<_>>());
    spec["accounts"] = json!(genesis
        .accounts
        .iter()
        .enumerate()
        .map(|(i, (key, roles))| json!({
            "name": format!("account-{i}"),
            "key": key.to_string(),
            "roles": roles,
        }))
        .collect::<Vec<_>>());
    spec.to_string()
}

fn write_private(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

impl Fixture {
    /// A fresh chain, server and agent directory.
    pub async fn new() -> Self {
        // The chain's id is the one its spec gives (the name bound to the genesis).
        let spec = spec_json();
        let mut genesis = test_utils::genesis();
        genesis.chain_id = accord_chain_spec::ChainSpec::from_json(&spec)
            .unwrap()
            .chain_id()
            .clone();
        let node = MemoryNode::with_genesis(&genesis, 256);
        let (server, addr) = accord_rpc::start(
            "127.0.0.1:0".parse().unwrap(),
            node.backend(),
            accord_rpc::Options {
                rate_limit_exempt: vec![[127, 0, 0, 1].into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spec.json"), spec).unwrap();
        write_private(
            &dir.path().join("agent.key"),
            &accord_agent::keyfile::encode(&test_utils::key("eu-agent")),
        );
        // Commits what agents submit, like a chain that makes a block when there is work.
        let producer_node = node.clone();
        let producer = tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let n = producer_node.clone();
                let _ = tokio::task::spawn_blocking(move || {
                    if TxPool::size(&*n).0 > 0 {
                        n.commit(&[]);
                    }
                })
                .await;
            }
        });
        Self {
            node,
            addr,
            dir,
            _server: server,
            producer,
        }
    }

    /// The server's WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// A client of the server.
    pub async fn client(&self) -> WsClient {
        WsClientBuilder::default().build(self.url()).await.unwrap()
    }

    /// A path in the agent's directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A script in the agent's directory.
    pub fn script(&self, name: &str, body: &str) {
        std::fs::write(self.path(name), format!("#!/bin/sh\n{body}\n")).unwrap();
    }

    /// The agent's configuration: `rpc` endpoints, then `extra` TOML (actions, settings).
    pub fn config(&self, rpc: &[String], extra: &str) -> Config {
        let rpc = rpc
            .iter()
            .map(|u| format!("{u:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        let text = format!(
            r#"
            rpc = [{rpc}]
            key = "agent.key"
            region = "eu"
            chain_spec = "spec.json"
            state_dir = "state"
            metrics_listen = "off"
            poll_interval_ms = 50
            backoff_initial_ms = 50
            backoff_max_ms = 500
            tx_timeout_secs = 30
            request_timeout_secs = 10
            {extra}
            "#
        );
        Config::parse(&text, self.dir.path(), &Overrides::default()).unwrap()
    }

    /// Submits `body` for `regions`, has every voter of those regions vote yes, and
    /// commits blocks until voting has closed. Returns the proposal's id.
    pub fn approve(&self, body: ProposalBody, regions: &[&str]) -> ProposalId {
        let (id, voting_ends) = self.submit(body, regions);
        self.vote_yes(id, regions, voting_ends);
        id
    }

    /// Submits `body` for `regions`; returns the proposal's id and the last height of
    /// its voting.
    pub fn submit(&self, body: ProposalBody, regions: &[&str]) -> (ProposalId, Height) {
        let draft = test_utils::draft(regions, body);
        let submit = self.node.tx(
            "author",
            Payload::SubmitProposal {
                draft: Box::new(draft),
            },
        );
        let committed = self.node.commit(&[submit]);
        committed
            .receipts
            .iter()
            .flat_map(|r| r.events.iter())
            .find_map(|e| match e {
                Event::ProposalSubmitted {
                    proposal,
                    voting_ends,
                    ..
                } => Some((*proposal, *voting_ends)),
                _ => None,
            })
            .expect("the proposal was accepted")
    }

    /// Has every voter of `regions` vote yes for `id`, and commits blocks until voting
    /// has closed.
    pub fn vote_yes(&self, id: ProposalId, regions: &[&str], voting_ends: Height) {
        let votes: Vec<_> = regions
            .iter()
            .flat_map(|r| {
                (1..=test_utils::VOTERS_PER_REGION).map(move |n| format!("{r}-voter-{n}"))
            })
            .map(|voter| {
                let region = test_utils::region(voter.split('-').next().unwrap());
                self.node.tx(
                    &voter,
                    Payload::Vote {
                        proposal: id,
                        region,
                        choice: VoteChoice::Yes,
                    },
                )
            })
            .collect();
        let mut height = self.node.commit(&votes).block.header.height;
        while height < voting_ends {
            height = self.node.commit(&[]).block.header.height;
        }
    }

    /// Polls the proposal until `done` holds; fails the test after [`DEADLINE`].
    pub async fn wait_for(
        &self,
        id: ProposalId,
        what: &str,
        done: impl Fn(&ProposalState) -> bool,
    ) -> ProposalState {
        let client = self.client().await;
        let deadline = Instant::now() + DEADLINE;
        loop {
            let state = client.proposal(id).await.unwrap().unwrap().state;
            if done(&state) {
                return state;
            }
            assert!(
                Instant::now() < deadline,
                "proposal #{} did not reach {what}; it is {:?}: {}",
                id.0,
                state.status,
                state.reason
            );
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Waits for a final status.
    pub async fn wait_status(&self, id: ProposalId, status: ProposalStatus) -> ProposalState {
        self.wait_for(id, &format!("{status:?}"), |s| s.status == status)
            .await
    }

    /// Every event of `types` about proposal `id`.
    pub async fn events(&self, id: ProposalId, types: &[&str]) -> Vec<EventView> {
        let client = self.client().await;
        let filter = EventFilter {
            types: Some(types.iter().map(|t| (*t).to_owned()).collect()),
            proposals: Some(vec![id]),
            ..EventFilter::default()
        };
        client
            .events(Some(filter), None, Some(1000))
            .await
            .unwrap()
            .events
    }

    /// Every execution report `agent` put on chain.
    pub async fn reports(&self, agent: PublicKey) -> Vec<ExecutionReport> {
        let client = self.client().await;
        let head = client.status().await.unwrap().height.0;
        let mut out = Vec::new();
        let mut from = 1;
        while from <= head {
            let to = (from + 99).min(head);
            for view in client.block_range(Height(from), Height(to)).await.unwrap() {
                for tx in view.block.transactions {
                    if let (true, Payload::ReportExecution { report }) =
                        (tx.signer == agent, tx.payload)
                    {
                        out.push(*report);
                    }
                }
            }
            from = to + 1;
        }
        out
    }
}

/// An agent running in a task.
pub struct Running {
    /// The agent's metrics.
    pub metrics: Arc<Metrics>,
    /// Its account.
    pub key: PublicKey,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<accord_agent::Result<()>>,
}

impl Running {
    /// Starts an agent with `config`.
    pub async fn start(config: Config) -> Self {
        let agent = Agent::new(config).await.unwrap();
        let metrics = agent.metrics();
        let key = agent.public_key();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(agent.run(async {
            let _ = stopped.await;
        }));
        Self {
            metrics,
            key,
            stop: Some(stop),
            task,
        }
    }

    /// Stops the agent between events and returns how it ended.
    pub async fn stop(mut self) -> accord_agent::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(DEADLINE, &mut self.task)
            .await
            .expect("the agent stops")
            .expect("the agent task does not panic")
    }
}
