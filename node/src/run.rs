//! `accord run`: opens (or creates) the node's database, checks that its parts agree,
//! and runs the network, the RPC server and the consensus task until SIGINT or
//! SIGTERM. Shutdown lets the consensus task finish what it is doing (a block being committed
//! is committed), then stops the RPC server and the network.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use accord_chain_spec::ChainSpec;
use accord_chain_spec::KeyPurpose;
use accord_runtime::Genesis;
use anyhow::{bail, Context, Result};
use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tracing::{info, warn};

use crate::config::{Config, LogFormat, Overrides};
use crate::consensus::{self, ConsensusParts};
use crate::executor::{self, Executor, ExecutorParts};
use crate::init::{expect_key, private_dir, read_spec};
use crate::keyfile;
use crate::mempool::gossip::{Admitter, GossipAdmission, TxGossip};
use crate::mempool::DroppedLog;
use crate::mempool::{CheckContext, Journal, Mempool};
use crate::metrics::{Metrics, Sources};
use crate::p2p::{self, P2pConfig};
use crate::rpc::{self, NodeBackend};
use crate::signer::SignerGuard;
use crate::status::{Lag, NodeStatus};
use crate::storage::Storage;
use crate::wal::Wal;
use tokio::sync::broadcast;

/// Sets up logging as configured. Safe to call once per process.
pub fn init_logging(format: LogFormat, filter: &str) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .with_context(|| format!("invalid log filter {filter:?}"))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colours only on a terminal: a log redirected to a file or a collector stays
        // plain text that tools can search.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    result.map_err(|e| anyhow::anyhow!("cannot set up logging: {e}"))
}

/// The files of a node's data directory.
#[derive(Debug, Clone)]
pub struct DataPaths {
    /// The RocksDB database.
    pub db: PathBuf,
    /// The consensus log.
    pub wal: PathBuf,
    /// The signer guard's record.
    pub signer: PathBuf,
    /// The mempool's journal.
    pub mempool: PathBuf,
}

impl DataPaths {
    /// The paths under `data_dir`.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            db: data_dir.join("db"),
            wal: data_dir.join("consensus.wal"),
            signer: data_dir.join("signer-state.json"),
            mempool: data_dir.join("mempool.journal"),
        }
    }
}

/// Opens the database, writing the genesis state into a new one, and checks that it
/// belongs to this chain and that its head, certificates and state agree.
pub fn open_storage(path: &Path, spec: &ChainSpec) -> Result<Storage> {
    let storage = Storage::open(path)?;
    if storage.head()?.is_none() {
        let genesis = Genesis::from_spec(spec);
        let commit = genesis
            .build(&storage.state_store())
            .context("cannot build the genesis state")?;
        storage.init_genesis(
            spec.chain_id(),
            spec.genesis_hash(),
            &commit.batch,
            commit.root,
        )?;
        info!(genesis = %spec.genesis_hash(), "initialised the database with the genesis state");
    }
    storage.check_chain(spec.chain_id(), spec.genesis_hash())?;
    let head = storage.check_consistency()?;
    info!(height = head.height.0, hash = %head.hash, "database consistent");
    Ok(storage)
}

/// Runs the node in `home` until a shutdown signal.
pub fn run(home: &Path, overrides: &Overrides) -> Result<()> {
    let config = Config::load(home, overrides)?;
    init_logging(config.log.format, &config.log.filter)?;
    crate::fault::check()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name("accord")
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(run_async(config))
}

/// Raises the soft limit on open descriptors to the hard one: sockets (peers, RPC
/// clients), RocksDB's files and the logs all draw on it, and running out of them
/// must not be what stops a validator.
fn raise_descriptor_limit() {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    match getrlimit(Resource::RLIMIT_NOFILE) {
        Ok((soft, hard)) if soft < hard => match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
            Ok(()) => info!(from = soft, to = hard, "raised the open-descriptor limit"),
            Err(error) => warn!(limit = soft, %error, "could not raise the open-descriptor limit"),
        },
        Ok((soft, _)) if soft < MIN_DESCRIPTORS => warn!(
            limit = soft,
            "the open-descriptor limit is low for a validator; raise it (`ulimit -n`, or LimitNOFILE= in its service) to at least {MIN_DESCRIPTORS}"
        ),
        Ok(_) => {}
        Err(error) => warn!(%error, "could not read the open-descriptor limit"),
    }
}

/// Descriptors below which a validator is warned about its limit.
const MIN_DESCRIPTORS: u64 = 4096;

async fn run_async(config: Config) -> Result<()> {
    raise_descriptor_limit();
    let (spec, _) = read_spec(&config.chain_spec)?;
    let consensus_key = keyfile::read(&config.keys.consensus)?;
    let p2p_key = keyfile::read(&config.keys.p2p)?;
    let region = match (spec.validator(&config.validator), config.joined_by_governance) {
        (Some(me), false) => {
            let (consensus_file, p2p_file) = (&config.keys.consensus, &config.keys.p2p);
            expect_key(&consensus_key, &me.consensus_key, consensus_file, "consensus", &me.name)?;
            expect_key(&p2p_key, &me.p2p_key, p2p_file, "p2p", &me.name)?;
            for (purpose, key) in [
                (KeyPurpose::Consensus, &me.consensus_key),
                (KeyPurpose::P2p, &me.p2p_key),
            ] {
                if let Some(preset) = accord_chain_spec::public_preset(purpose, &me.name, key) {
                    warn!(
                        validator = %me.name,
                        preset,
                        "the {purpose} key is the {preset} preset's, derived from a public label: anyone can sign with it. Use it on a local network only; a real network's validators generate their keys (`accord key generate`)"
                    );
                }
            }
            Some(me.region.as_str().to_owned())
        }
        (Some(_), true) => bail!(
            "configuration sets joined_by_governance, but validator {:?} is in the chain spec {}; remove the setting",
            config.validator,
            config.chain_spec.display()
        ),
        (None, false) => bail!(
            "configuration names validator {:?}, which is not in the chain spec {}; a validator added by a validator-set change on chain sets `joined_by_governance = true` (see `accord init --join`)",
            config.validator,
            config.chain_spec.display()
        ),
        (None, true) => {
            info!(
                validator = %config.validator,
                consensus_key = %consensus_key.public(),
                "not in the chain spec: following the chain, voting once a validator-set change on chain holds this consensus key"
            );
            None
        }
    };
    private_dir(&config.data_dir)?;
    let paths = DataPaths::new(&config.data_dir);
    // Opening the database (its consistency check may replay stored blocks), reading
    // the consensus log and the signer record are blocking work: off the workers.
    let (storage, (wal, recovered), signer) = {
        let (paths, spec) = (paths.clone(), spec.clone());
        tokio::task::spawn_blocking(move || -> Result<_> {
            let storage = open_storage(&paths.db, &spec)?;
            let wal = Wal::open(&paths.wal)?;
            let signer = SignerGuard::open(&paths.signer)?;
            Ok((storage, wal, signer))
        })
        .await
        .context("the start-up task panicked")??
    };
    let storage = Arc::new(storage);
    // The database's lock is held: the socket of an earlier run can be replaced.
    let _admin = crate::admin::spawn(&config.data_dir, Arc::clone(&storage))?;
    if recovered.torn_bytes > 0 {
        warn!(
            bytes = recovered.torn_bytes,
            "dropped a torn record at the end of the consensus log"
        );
    }

    let listen = config
        .p2p
        .listen
        .parse()
        .with_context(|| format!("p2p.listen {:?} is not a multiaddr", config.p2p.listen))?;
    let mut p2p_config = P2pConfig::from_chain_spec(&spec, p2p_key, listen)?;
    p2p_config.max_connections = config.p2p.max_connections;
    // A proposal travels with its block: the gossip cap must hold the largest block.
    let block_cap = usize::try_from(spec.consensus().max_block_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    p2p_config.max_message_bytes = config.p2p.max_message_bytes.max(block_cap);
    p2p_config.max_response_bytes = p2p_config
        .max_response_bytes
        .max(block_cap.saturating_mul(2));
    let sync_response_bytes = p2p_config.max_response_bytes;
    let gossip_bytes = p2p_config.max_message_bytes;
    let (p2p, net_events) = p2p::spawn(p2p_config)?;
    let tx_gossip = TxGossip::spawn(p2p.clone(), gossip_bytes);
    let lag = Lag::default();

    let mut pool = Mempool::new(config.mempool.clone()).context("configuration [mempool]")?;
    let head = storage.head()?.context("the database has no head")?;
    let timestamp = match storage.header(head.height)? {
        Some(header) => header.timestamp,
        None => spec.genesis_time(),
    };
    // What the pool held when the node stopped is admitted again (what was committed
    // or went stale meanwhile is refused and forgotten), and the journal rewritten.
    let (journal, saved) = Journal::open(&paths.mempool)
        .with_context(|| format!("mempool journal {}", paths.mempool.display()))?;
    if !saved.is_empty() {
        let ctx = CheckContext {
            chain_id: spec.chain_id().clone(),
            height: head.height.saturating_add(1),
            timestamp,
        };
        // Signature batches and state checks: off the runtime's workers.
        let read = saved.len();
        let store = storage.state_store();
        let (back, restored) = tokio::task::spawn_blocking(move || {
            let restored = pool
                .add_raw(&store, &ctx, &saved)
                .iter()
                .filter(|r| r.is_ok())
                .count();
            (pool, restored)
        })
        .await
        .context("restoring the mempool")?;
        pool = back;
        info!(restored, read, "mempool restored from its journal");
    }
    journal.rewrite(pool.encoded());
    let mempool = Arc::new(Mutex::new(pool));
    let status = Arc::new(RwLock::new(NodeStatus {
        chain_id: spec.chain_id().clone(),
        genesis_hash: spec.genesis_hash(),
        height: head.height,
        hash: head.hash,
        timestamp,
        syncing: false,
        peers: 0,
        round: accord_types::Round(0),
        validator: consensus_key.public(),
        halted: false,
    }));
    let dropped = Arc::new(RwLock::new(DroppedLog::default()));
    let peers = Arc::new(RwLock::new(Vec::new()));
    let (commits, _) = broadcast::channel(rpc::COMMIT_CHANNEL);
    let metrics = Arc::new(Metrics::new());
    // The head, every proposal in the state and the header of its last status change:
    // reads of the database, on the blocking pool.
    {
        let (metrics, storage) = (Arc::clone(&metrics), Arc::clone(&storage));
        tokio::task::spawn_blocking(move || metrics.load(&storage))
            .await
            .context("the metrics' start-up task panicked")?
            .context("cannot read the database for the metrics")?;
    }
    metrics.set_sources(Sources {
        status: Arc::clone(&status),
        peers: Arc::clone(&peers),
        mempool: Arc::clone(&mempool),
        storage: Arc::clone(&storage),
    });
    Arc::clone(&metrics).follow(commits.subscribe(), Arc::clone(&storage));
    let (rpc_handle, rpc_addr) = rpc::start(
        config.rpc.listen,
        NodeBackend {
            chain_id: spec.chain_id().clone(),
            storage: Arc::clone(&storage),
            mempool: Arc::clone(&mempool),
            gossip: tx_gossip.clone(),
            lag: lag.clone(),
            status: Arc::clone(&status),
            peers: Arc::clone(&peers),
            dropped: Arc::clone(&dropped),
            commits: commits.clone(),
            journal: journal.clone(),
        },
        accord_rpc::Options {
            limits: accord_rpc::Limits {
                max_request_bytes: config.rpc.max_request_bytes,
                max_connections: config.rpc.max_connections,
                max_batch_len: config.rpc.max_batch_len,
                max_subscriptions_per_connection: config.rpc.max_subscriptions_per_connection,
                requests_per_second_per_ip: config.rpc.requests_per_second_per_ip,
                request_burst_per_ip: config.rpc.request_burst_per_ip,
                max_connections_per_ip: config.rpc.max_connections_per_ip,
                ..accord_rpc::Limits::default()
            },
            observer: Some(metrics.clone()),
            metrics: Some(metrics.clone()),
            cors_origins: config.rpc.cors_origins.clone(),
            rate_limit_exempt: config.rpc.rate_limit_exempt.clone(),
        },
    )
    .await?;
    info!(
        validator = %config.validator,
        region = region.as_deref().unwrap_or("(set on chain)"),
        rpc = %format!("http://{rpc_addr}"),
        p2p = %config.p2p.listen,
        "node started"
    );

    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        info!("shutting down");
        let _ = stop.send(true);
    });
    let (executor, tip, executor_thread) = Executor::spawn(ExecutorParts {
        chain_id: spec.chain_id().clone(),
        params: spec.consensus().clone(),
        storage: Arc::clone(&storage),
        mempool: Arc::clone(&mempool),
        journal: journal.clone(),
        dropped,
        commits,
        metrics: Arc::clone(&metrics),
        status: Arc::clone(&status),
        regossip: executor::regossip(tx_gossip),
    })
    .await?;
    let transactions = GossipAdmission {
        admitter: Admitter {
            chain_id: spec.chain_id().clone(),
            storage: Arc::clone(&storage),
            mempool,
            journal,
            status: Arc::clone(&status),
        },
        p2p: p2p.clone(),
        metrics: Arc::clone(&metrics),
    }
    .spawn();
    let parts = ConsensusParts {
        chain_id: spec.chain_id().clone(),
        params: spec.consensus().clone(),
        keypair: consensus_key,
        storage,
        executor: (executor, tip),
        transactions,
        lag,
        wal,
        recovered: recovered.records,
        signer,
        p2p: p2p.clone(),
        net_events,
        status,
        peers,
        metrics,
        shutdown,
        sync_response_bytes,
    };
    let result = consensus::run(parts).await;
    // The consensus actor held the last handle: the executor finishes what it was
    // doing and stops.
    let joined = tokio::task::spawn_blocking(move || executor_thread.join()).await;
    let _ = rpc_handle.stop();
    p2p.shutdown().await;
    rpc_handle.stopped().await;
    result?;
    joined.context("joining the executor thread")?
}

async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) {
        (Ok(mut int), Ok(mut term)) => {
            tokio::select! {
                _ = int.recv() => {}
                _ = term.recv() => {}
            }
        }
        _ => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
