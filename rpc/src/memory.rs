//! An in-memory backend over the real runtime, for tests of the server: blocks are
//! executed by `accord_runtime` on a `MemStore`, certified by the test validators'
//! signatures and announced like the node announces them.
//!
//! Test fixtures panic with a message on failure: a broken fixture is a broken test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::sync::Arc;

use accord_runtime::test_utils::{self, TestChain};
use accord_runtime::Query;
use accord_state::{MemStore, StateStore};
use accord_types::{
    Block, CommitCertificate, Event, EventCursor, Hash, Header, Height, Keypair, Payload,
    PublicKey, Receipt, Round, Transaction, ValidatorSet,
};
use parking_lot::Mutex;
use tokio::sync::broadcast;

use crate::backend::{
    Backend, BackendError, BackendResult, ChainReader, Commits, Committed, NodeInfo, Refusal,
    StateAt, StateReader, TxPool,
};
use crate::types::{NodeStatus, PeerInfo, TransactionStatus};

struct Stored {
    block: Block,
    certificate: CommitCertificate,
    receipts: Vec<Receipt>,
}

struct Inner {
    chain: TestChain,
    genesis_hash: Hash,
    blocks: Vec<Stored>,
    pool: Vec<Transaction>,
    /// The delivery metrics, counted as each block is sealed.
    delivery: accord_runtime::delivery::MemDelivery,
}

/// A chain in memory behind the API's traits.
pub struct MemoryNode {
    inner: Mutex<Inner>,
    validators: ValidatorSet,
    keys: Vec<Keypair>,
    commits: broadcast::Sender<Committed>,
}

impl MemoryNode {
    /// A chain at the runtime's test genesis, announcing commits into a channel of
    /// `capacity` blocks.
    pub fn new(capacity: usize) -> Arc<Self> {
        Self::with_genesis(&test_utils::genesis(), capacity)
    }

    /// A chain at `genesis` (the runtime's test genesis, changed as a test needs: a
    /// chain id taken from a chain spec, say); its validators' keys are the test keys
    /// named after them.
    pub fn with_genesis(genesis: &accord_runtime::Genesis, capacity: usize) -> Arc<Self> {
        let validators = ValidatorSet::new(
            genesis
                .validators
                .iter()
                .map(|v| v.to_validator())
                .collect(),
            genesis.rule,
        )
        .unwrap();
        let keys = genesis
            .validators
            .iter()
            .map(|v| test_utils::key(&format!("validator/{}", v.name)))
            .collect();
        let (commits, _) = broadcast::channel(capacity);
        Arc::new(Self {
            inner: Mutex::new(Inner {
                chain: TestChain::from_genesis(genesis),
                genesis_hash: Hash::digest(accord_types::Domain::GENESIS, b"memory"),
                blocks: Vec::new(),
                pool: Vec::new(),
                delivery: Default::default(),
            }),
            validators,
            keys,
            commits,
        })
    }

    /// The backend over this node.
    pub fn backend(self: &Arc<Self>) -> Backend {
        Backend {
            chain: self.clone(),
            state: self.clone(),
            pool: self.clone(),
            node: self.clone(),
            commits: self.clone(),
        }
    }

    /// The validator set of every height.
    pub fn validators(&self) -> &ValidatorSet {
        &self.validators
    }

    /// The chain id.
    pub fn chain_id(&self) -> accord_types::ChainId {
        self.inner.lock().chain.chain_id.clone()
    }

    /// Signs a payload as a named test account (`author`, `eu-voter-1`, …).
    pub fn tx(&self, signer: &str, payload: Payload) -> Transaction {
        self.inner.lock().chain.tx(signer, payload)
    }

    /// Executes, certifies, stores and announces a block of `txs` plus the pool.
    pub fn commit(&self, txs: &[Transaction]) -> Committed {
        let mut inner = self.inner.lock();
        let mut all: Vec<Transaction> = std::mem::take(&mut inner.pool);
        all.extend_from_slice(txs);
        let ctx = inner.chain.context();
        let outcome = inner.chain.block_with(&ctx, &all);
        self.seal(
            inner,
            ctx.timestamp,
            all,
            outcome.state_root,
            outcome.receipts,
        )
    }

    /// Commits a block with no transactions whose end-of-block receipt carries `events`
    /// (the state does not change): a cheap way to fill the event log in tests.
    pub fn commit_events(&self, events: Vec<Event>) -> Committed {
        let mut inner = self.inner.lock();
        let receipts = vec![Receipt {
            source: accord_types::ReceiptSource::EndOfBlock,
            outcome: accord_types::Outcome::Success,
            events,
        }];
        let timestamp = inner.chain.timestamp;
        inner.chain.timestamp = accord_types::Timestamp(timestamp.0 + 1_000);
        inner.chain.height = inner.chain.height.saturating_next();
        let root = inner.chain.root;
        self.seal(inner, timestamp, Vec::new(), root, receipts)
    }

    /// Builds the next block's header over what it holds, certifies, stores and
    /// announces it.
    fn seal(
        &self,
        mut inner: parking_lot::MutexGuard<'_, Inner>,
        timestamp: accord_types::Timestamp,
        transactions: Vec<Transaction>,
        state_root: Hash,
        receipts: Vec<Receipt>,
    ) -> Committed {
        let height = Height(inner.blocks.len() as u64 + 1);
        let parent_hash = inner
            .blocks
            .last()
            .map_or(inner.genesis_hash, |b| b.block.hash());
        let last_commit = inner.blocks.last().map(|b| b.certificate.clone());
        let chain_id = inner.chain.chain_id.clone();
        let header = Header {
            chain_id: chain_id.clone(),
            height,
            parent_hash,
            timestamp,
            proposer: self.keys[0].public(),
            transactions_root: accord_types::block::transactions_root(&transactions),
            evidence_root: accord_types::block::evidence_root(&[]),
            state_root,
            receipts_root: accord_types::receipt::receipts_root(&receipts),
            validator_set_hash: self.validators.hash(),
            last_commit_hash: last_commit
                .as_ref()
                .map_or(Hash::ZERO, CommitCertificate::hash),
        };
        let block = Block {
            header,
            transactions,
            evidence: Vec::new(),
            last_commit,
        };
        let certificate = self.certify(&chain_id, height, block.hash());
        let committed = Committed {
            block: Arc::new(block.clone()),
            certificate: certificate.clone(),
            receipts: Arc::new(receipts.clone()),
        };
        inner
            .delivery
            .apply(height, timestamp, &block.transactions, &receipts)
            .unwrap();
        inner.blocks.push(Stored {
            block,
            certificate,
            receipts,
        });
        drop(inner);
        let _ = self.commits.send(committed.clone());
        committed
    }

    fn certify(
        &self,
        chain_id: &accord_types::ChainId,
        height: Height,
        hash: Hash,
    ) -> CommitCertificate {
        test_utils::certify(&self.keys, chain_id, height, hash)
    }

    fn stored<T>(&self, height: Height, f: impl FnOnce(&Stored) -> T) -> Option<T> {
        let inner = self.inner.lock();
        let index = usize::try_from(height.0).ok()?.checked_sub(1)?;
        inner.blocks.get(index).map(f)
    }
}

impl ChainReader for MemoryNode {
    fn head(&self) -> BackendResult<(Height, Hash)> {
        let inner = self.inner.lock();
        Ok(inner
            .blocks
            .last()
            .map_or((Height(0), inner.genesis_hash), |b| {
                (b.block.header.height, b.block.hash())
            }))
    }

    fn header(&self, height: Height) -> BackendResult<Option<Header>> {
        Ok(self.stored(height, |s| s.block.header.clone()))
    }

    fn block(&self, height: Height) -> BackendResult<Option<Block>> {
        Ok(self.stored(height, |s| s.block.clone()))
    }

    fn block_height(&self, hash: &Hash) -> BackendResult<Option<Height>> {
        let inner = self.inner.lock();
        Ok(inner
            .blocks
            .iter()
            .find(|b| &b.block.hash() == hash)
            .map(|b| b.block.header.height))
    }

    fn certificate(&self, height: Height) -> BackendResult<Option<CommitCertificate>> {
        Ok(self.stored(height, |s| s.certificate.clone()))
    }

    fn receipts(&self, height: Height) -> BackendResult<Vec<Receipt>> {
        Ok(self
            .stored(height, |s| s.receipts.clone())
            .unwrap_or_default())
    }

    fn receipt(&self, height: Height, index: u32) -> BackendResult<Option<Receipt>> {
        Ok(self
            .stored(height, |s| s.receipts.get(index as usize).cloned())
            .flatten())
    }

    fn transaction_location(&self, hash: &Hash) -> BackendResult<Option<(Height, u32)>> {
        let inner = self.inner.lock();
        for stored in &inner.blocks {
            if let Some(i) = stored
                .block
                .transactions
                .iter()
                .position(|t| &t.hash() == hash)
            {
                return Ok(Some((stored.block.header.height, i as u32)));
            }
        }
        Ok(None)
    }

    fn events_after(
        &self,
        after: Option<EventCursor>,
        limit: usize,
    ) -> BackendResult<Vec<(EventCursor, Event)>> {
        let inner = self.inner.lock();
        let mut out = Vec::new();
        for stored in &inner.blocks {
            for (r, receipt) in stored.receipts.iter().enumerate() {
                for (e, event) in receipt.events.iter().enumerate() {
                    let cursor = EventCursor {
                        height: stored.block.header.height,
                        receipt: r as u32,
                        event: e as u32,
                    };
                    if after.is_some_and(|a| cursor <= a) {
                        continue;
                    }
                    if out.len() >= limit {
                        return Ok(out);
                    }
                    out.push((cursor, event.clone()));
                }
            }
        }
        Ok(out)
    }

    fn validator_set(&self, height: Height) -> BackendResult<Option<ValidatorSet>> {
        let (head, _) = self.head()?;
        Ok((height.0 >= 1 && height <= head.saturating_add(1)).then(|| self.validators.clone()))
    }

    fn delivery_days(
        &self,
        from: u32,
        to: u32,
    ) -> BackendResult<(Height, Vec<accord_runtime::delivery::DayEntry>)> {
        let inner = self.inner.lock();
        let days = inner.delivery.days(from, to).map_err(BackendError::new)?;
        Ok((Height(inner.blocks.len() as u64), days))
    }
}

impl StateReader for MemoryNode {
    fn state(&self) -> BackendResult<StateAt<'_>> {
        let inner = self.inner.lock();
        let mut copy = MemStore::new();
        let mut batch = accord_state::WriteBatch::new();
        for (k, v) in inner.chain.store.iter() {
            batch.put(k.to_vec(), v.to_vec());
        }
        copy.write(&batch).map_err(BackendError::new)?;
        Ok(StateAt {
            height: inner.chain.height,
            store: Box::new(copy),
        })
    }
}

impl TxPool for MemoryNode {
    fn submit(&self, bytes: Vec<u8>) -> Result<Hash, Refusal> {
        let tx = Transaction::decode(&bytes).map_err(|e| Refusal {
            code: Some("invalid_payload".into()),
            message: e.to_string(),
        })?;
        let hash = tx.hash();
        let mut inner = self.inner.lock();
        let ctx = accord_runtime::CheckContext {
            chain_id: inner.chain.chain_id.clone(),
            height: inner.chain.height.saturating_add(1),
            timestamp: inner.chain.timestamp,
        };
        if let Err(error) = accord_runtime::check_transaction(&inner.chain.store, &ctx, &tx) {
            let code = match &error {
                accord_runtime::CheckError::Refused(refusal) => serde_json::to_value(refusal.code)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned)),
                accord_runtime::CheckError::State(_) => None,
            };
            return Err(Refusal {
                code,
                message: error.to_string(),
            });
        }
        inner.pool.push(tx);
        Ok(hash)
    }

    fn status(&self, hash: &Hash) -> TransactionStatus {
        if self.inner.lock().pool.iter().any(|t| &t.hash() == hash) {
            TransactionStatus::Pending
        } else {
            TransactionStatus::Unknown
        }
    }

    fn pending_nonce(&self, state: &dyn StateStore, account: &PublicKey) -> BackendResult<u64> {
        let nonce = Query::new(state)
            .account(account)
            .map_err(BackendError::new)?
            .nonce;
        let pending = self
            .inner
            .lock()
            .pool
            .iter()
            .filter(|t| &t.signer == account)
            .count() as u64;
        Ok(nonce + pending)
    }

    fn size(&self) -> (usize, usize) {
        let inner = self.inner.lock();
        (
            inner.pool.len(),
            inner
                .pool
                .iter()
                .map(|t| accord_types::codec::encode(t).len())
                .sum(),
        )
    }
}

impl NodeInfo for MemoryNode {
    fn status(&self) -> NodeStatus {
        let inner = self.inner.lock();
        let (height, hash, timestamp) = inner.blocks.last().map_or(
            (Height(0), inner.genesis_hash, accord_types::Timestamp(0)),
            |b| {
                (
                    b.block.header.height,
                    b.block.hash(),
                    b.block.header.timestamp,
                )
            },
        );
        NodeStatus {
            chain_id: inner.chain.chain_id.clone(),
            genesis_hash: inner.genesis_hash,
            height,
            hash,
            timestamp,
            syncing: false,
            peers: 3,
            round: Round(0),
            validator: self.keys[0].public(),
            halted: false,
        }
    }

    fn peers(&self) -> Vec<PeerInfo> {
        Vec::new()
    }

    fn highest_peer_height(&self) -> Option<Height> {
        None
    }
}

impl Commits for MemoryNode {
    fn subscribe(&self) -> broadcast::Receiver<Committed> {
        self.commits.subscribe()
    }
}

/// Ids of proposals by title, for tests.
pub type Titles = BTreeMap<String, accord_types::ProposalId>;

/// One HTTP/1.1 request over a fresh connection, for tests of the REST routes:
/// the status and the body (de-chunked).
pub async fn http_request(
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let answer = http_exchange(None, addr, method, path, body).await?;
    Ok((answer.status, answer.body))
}

/// What an HTTP request was answered with.
#[derive(Debug, Clone)]
pub struct HttpAnswer {
    /// The status code.
    pub status: u16,
    /// The status line and headers.
    pub head: String,
    /// The body, de-chunked.
    pub body: String,
}

impl HttpAnswer {
    /// A header's value (the first of that name), case-insensitively.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }
}

/// One HTTP/1.1 request over a fresh connection from `source` (an address of this
/// host, such as another loopback address; any when `None`) to `addr`.
pub async fn http_exchange(
    source: Option<std::net::IpAddr>,
    addr: &str,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> std::io::Result<HttpAnswer> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut stream = match source {
        None => tokio::net::TcpStream::connect(addr).await?,
        Some(ip) => {
            let target: std::net::SocketAddr = addr
                .parse()
                .map_err(|_| invalid("the address is not ip:port"))?;
            let socket = if ip.is_ipv4() {
                tokio::net::TcpSocket::new_v4()?
            } else {
                tokio::net::TcpSocket::new_v6()?
            };
            socket.bind((ip, 0).into())?;
            socket.connect(target).await?
        }
    };
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| invalid("no header end"))?;
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid("no status"))?;
    let head = head.to_owned();
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let body = body.to_owned();
        return Ok(HttpAnswer { status, head, body });
    }
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    Ok(HttpAnswer {
        status,
        head,
        body: out,
    })
}
