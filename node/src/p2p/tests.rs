//! Tests over real loopback sockets. Every wait is bounded by [`WAIT`] and fails the
//! test when it runs out; no test passes by sleeping.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::time::Duration;

use accord_types::{codec, Block, ChainId, CommitCertificate, Hash, Height, Keypair, PublicKey};
use futures::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, StreamExt};
use libp2p::request_response::{self, ProtocolSupport};
use libp2p::swarm::SwarmEvent;
use libp2p::{noise, tcp, yamux, Multiaddr, StreamProtocol};
use tokio::sync::mpsc;
use tokio::time::timeout;

use super::*;

/// The longest any single wait may take.
const WAIT: Duration = Duration::from_secs(10);

fn chain() -> ChainId {
    ChainId::new("p2p-test").unwrap()
}

fn keypair(label: &str) -> Keypair {
    Keypair::derive_insecure(&format!("accord/p2p-test/{label}"))
}

fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

struct Node {
    key: PublicKey,
    handle: P2pHandle,
    events: mpsc::Receiver<NetEvent>,
    addr: Multiaddr,
}

fn config(key: &Keypair, allowed: &[&Keypair], bootstrap: &[&Node]) -> P2pConfig {
    let mut config = P2pConfig::new(key.clone(), loopback(), chain());
    config.allowed = allowed.iter().map(|k| k.public()).collect();
    config.bootstrap = bootstrap.iter().map(|n| (n.key, n.addr.clone())).collect();
    config
}

async fn start(config: P2pConfig) -> Node {
    let key = config.keypair.public();
    let (handle, events) = spawn(config).unwrap();
    let addrs = timeout(WAIT, handle.listen_addrs()).await.unwrap();
    let addr = addrs.first().cloned().expect("the node listens");
    Node {
        key,
        handle,
        events,
        addr,
    }
}

/// Polls `check` until it holds; fails the test after [`WAIT`].
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let waited = timeout(WAIT, async {
        while !check().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting for {what}");
}

async fn wait_for_mesh(node: &Node, topic: Topic, peers: &[&Node]) {
    let want: BTreeSet<PublicKey> = peers.iter().map(|n| n.key).collect();
    let want = &want;
    eventually("the gossip mesh", || async move {
        let mesh: BTreeSet<PublicKey> = node.handle.mesh_peers(topic).await.into_iter().collect();
        want.is_subset(&mesh)
    })
    .await;
}

struct Gossip {
    topic: Topic,
    from: PublicKey,
    id: MsgId,
    data: Vec<u8>,
}

/// The node's next gossip message, skipping peer events; fails after [`WAIT`].
async fn next_gossip(node: &mut Node) -> Gossip {
    let event = timeout(WAIT, async {
        loop {
            match node.events.recv().await {
                Some(NetEvent::Gossip {
                    topic,
                    from,
                    id,
                    data,
                }) => {
                    return Gossip {
                        topic,
                        from,
                        id,
                        data,
                    }
                }
                Some(NetEvent::SyncRequest { .. }) => panic!("unexpected sync request"),
                Some(NetEvent::PeerUp(_) | NetEvent::PeerDown(_)) => {}
                None => panic!("event channel closed"),
            }
        }
    })
    .await;
    event.expect("timed out waiting for gossip")
}

/// Waits for a peer event about `peer`, skipping everything else.
async fn wait_peer_event(node: &mut Node, up: bool, peer: PublicKey) {
    let found = timeout(WAIT, async {
        loop {
            match node.events.recv().await {
                Some(NetEvent::PeerUp(key)) if up && key == peer => return,
                Some(NetEvent::PeerDown(key)) if !up && key == peer => return,
                Some(_) => {}
                None => panic!("event channel closed"),
            }
        }
    })
    .await;
    assert!(
        found.is_ok(),
        "timed out waiting for peer {} of {peer}",
        if up { "up" } else { "down" }
    );
}

/// Every event already queued for `node`, without waiting.
/// Asserts that `node` reports its bootstrap peer `peer` connected.
async fn assert_bootstrap_connected(node: &Node, peer: PublicKey) {
    let status = node.handle.bootstrap_status().await;
    assert!(
        status.iter().any(|s| s.key == peer && s.connected),
        "bootstrap peer {peer} is not connected: {status:?}"
    );
}

fn drain(node: &mut Node) -> Vec<NetEvent> {
    let mut events = Vec::new();
    while let Ok(event) = node.events.try_recv() {
        events.push(event);
    }
    events
}

#[tokio::test]
async fn three_nodes_deliver_each_message_once_on_both_topics() {
    let keys = [keypair("a"), keypair("b"), keypair("c")];
    let all: Vec<&Keypair> = keys.iter().collect();
    let a = start(config(&keys[0], &all, &[])).await;
    let b = start(config(&keys[1], &all, &[&a])).await;
    let c = start(config(&keys[2], &all, &[&a, &b])).await;
    let mut nodes = [a, b, c];
    for topic in Topic::ALL {
        for (i, node) in nodes.iter().enumerate() {
            let others: Vec<&Node> = nodes
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, n)| n)
                .collect();
            wait_for_mesh(node, topic, &others).await;
        }
    }

    let mut expected = Vec::new();
    for (i, node) in nodes.iter().enumerate() {
        for topic in Topic::ALL {
            let data = format!("message of node {i} on {topic:?}").into_bytes();
            let id = node.handle.publish(topic, data.clone()).await.unwrap();
            assert_eq!(id, MsgId::of(&data));
            expected.push((topic, node.key, data));
        }
    }

    for (i, node) in nodes.iter_mut().enumerate() {
        let mut want: BTreeSet<(Topic, Vec<u8>)> = expected
            .iter()
            .filter(|(_, source, _)| *source != node.key)
            .map(|(topic, _, data)| (*topic, data.clone()))
            .collect();
        while !want.is_empty() {
            let g = next_gossip(node).await;
            assert_ne!(g.from, node.key);
            assert_eq!(g.id, MsgId::of(&g.data));
            assert!(
                want.remove(&(g.topic, g.data.clone())),
                "node {i} received an unexpected or repeated message {:?}",
                String::from_utf8_lossy(&g.data)
            );
            node.handle.report(g.id, g.from, Verdict::Accept);
        }
    }

    // A second round after the first was accepted and forwarded everywhere: the
    // first thing each node receives must be this round, never a repeat of the first.
    for (i, node) in nodes.iter().enumerate() {
        let data = format!("fence of node {i}").into_bytes();
        node.handle.publish(Topic::Consensus, data).await.unwrap();
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        let mut fences = BTreeSet::new();
        while fences.len() < 2 {
            let g = next_gossip(node).await;
            let text = String::from_utf8(g.data.clone()).unwrap();
            assert!(
                text.starts_with("fence of node"),
                "node {i} received {text:?} a second time"
            );
            assert!(fences.insert(text), "node {i} received a fence twice");
            node.handle.report(g.id, g.from, Verdict::Accept);
        }
    }
    for node in &nodes {
        node.handle.shutdown().await;
    }
}

#[tokio::test]
async fn a_rejected_message_is_not_forwarded() {
    let keys = [keypair("line-a"), keypair("line-b"), keypair("line-c")];
    let all: Vec<&Keypair> = keys.iter().collect();
    // A line: a ── b ── c; a and c are not connected.
    let mut b = start(config(&keys[1], &all, &[])).await;
    let a = start(config(&keys[0], &all, &[&b])).await;
    let mut c = start(config(&keys[2], &all, &[&b])).await;
    let topic = Topic::Transactions;
    wait_for_mesh(&b, topic, &[&a, &c]).await;
    wait_for_mesh(&a, topic, &[&b]).await;
    wait_for_mesh(&c, topic, &[&b]).await;
    assert!(!a.handle.peers().await.contains(&c.key));

    let bad = b"an invalid transaction".to_vec();
    a.handle.publish(topic, bad.clone()).await.unwrap();
    let g = next_gossip(&mut b).await;
    assert_eq!((g.data.as_slice(), g.from), (bad.as_slice(), a.key));
    b.handle.report(g.id, g.from, Verdict::Reject);

    let good = b"a valid transaction".to_vec();
    a.handle.publish(topic, good.clone()).await.unwrap();
    let g = next_gossip(&mut b).await;
    assert_eq!(g.data, good);
    b.handle.report(g.id, g.from, Verdict::Accept);

    // b forwards over one ordered stream per peer: had the rejected message been
    // forwarded, it would have reached c first.
    let g = next_gossip(&mut c).await;
    assert_eq!(g.data, good, "c received the rejected message");
    assert_eq!((g.from, g.topic), (b.key, topic));
    c.handle.report(g.id, g.from, Verdict::Accept);
    assert!(!drain(&mut c)
        .iter()
        .any(|e| matches!(e, NetEvent::Gossip { data, .. } if *data == bad)));
    for node in [&a, &b, &c] {
        node.handle.shutdown().await;
    }
}

#[tokio::test]
async fn a_peer_outside_the_allow_list_cannot_connect() {
    let (ka, kb, kd) = (keypair("allow-a"), keypair("allow-b"), keypair("allow-d"));
    let mut a = start(config(&ka, &[&ka, &kb], &[])).await;
    let mut b = start(config(&kb, &[&ka, &kb], &[&a])).await;
    // d allows a and dials it, but a does not allow d.
    let mut d = start(config(&kd, &[&ka], &[&a])).await;
    wait_for_mesh(&a, Topic::Consensus, &[&b]).await;

    let (d_handle, a_key) = (&d.handle, a.key);
    eventually("d's dials of a to fail twice", || async move {
        d_handle
            .bootstrap_status()
            .await
            .iter()
            .any(|s| s.key == a_key && s.failures >= 2)
    })
    .await;
    assert_eq!(a.handle.peers().await, vec![b.key]);
    assert!(!drain(&mut a)
        .iter()
        .any(|e| matches!(e, NetEvent::PeerUp(k) if *k == d.key)));
    // a will not reach d either.
    assert_eq!(
        a.handle.request(d.key, SyncRequest::Status).await,
        Err(P2pError::UnknownPeer { peer: d.key })
    );

    let data = b"for allowed peers only".to_vec();
    a.handle
        .publish(Topic::Consensus, data.clone())
        .await
        .unwrap();
    assert_eq!(next_gossip(&mut b).await.data, data);
    assert!(!drain(&mut d)
        .iter()
        .any(|e| matches!(e, NetEvent::Gossip { .. })));
    for node in [&a, &b, &d] {
        node.handle.shutdown().await;
    }
}

#[tokio::test]
async fn the_allow_list_follows_the_validator_set() {
    let (ka, kb, kc) = (keypair("set-a"), keypair("set-b"), keypair("set-c"));
    let a = start(config(&ka, &[&ka, &kb], &[])).await;
    let b = start(config(&kb, &[&ka, &kb], &[&a])).await;
    // c allows a and keeps dialing it; a refuses c until c joins the validator set.
    let c = start(config(&kc, &[&ka, &kc], &[&a])).await;
    let (a_handle, b_key, c_key) = (&a.handle, b.key, c.key);
    eventually("a to be connected to b", || async move {
        a_handle.peers().await == vec![b_key]
    })
    .await;
    let c_handle = &c.handle;
    eventually("c's dials of a to fail", || async move {
        c_handle
            .bootstrap_status()
            .await
            .iter()
            .any(|s| s.failures >= 1)
    })
    .await;
    assert!(!a.handle.peers().await.contains(&c.key));

    // c joins: a allows it and dials it at the address given.
    a.handle
        .set_validators(vec![(b.key, b.addr.clone()), (c.key, c.addr.clone())])
        .await
        .unwrap();
    eventually("a to be connected to c", || async move {
        a_handle.peers().await.contains(&c_key)
    })
    .await;
    assert!(a
        .handle
        .bootstrap_status()
        .await
        .iter()
        .any(|s| s.key == c.key && s.addr == c.addr));

    // c leaves: a drops the connection and refuses c's redials.
    a.handle
        .set_validators(vec![(b.key, b.addr.clone())])
        .await
        .unwrap();
    eventually("a to drop c", || async move {
        a_handle.peers().await == vec![b_key]
    })
    .await;
    let failures = |status: Vec<BootstrapStatus>| status.iter().map(|s| s.failures).sum::<u32>();
    let before = failures(c.handle.bootstrap_status().await);
    eventually("c's redials of a to be refused", || async move {
        failures(c_handle.bootstrap_status().await) > before
    })
    .await;
    assert_eq!(a.handle.peers().await, vec![b.key]);
    assert!(!a
        .handle
        .bootstrap_status()
        .await
        .iter()
        .any(|s| s.key == c.key));
    // b, allowed from the start without being dialed, stays allowed.
    assert!(b.handle.peers().await.contains(&a.key));
    for node in [&a, &b, &c] {
        node.handle.shutdown().await;
    }
}

#[tokio::test]
async fn publishing_without_subscribers_says_so() {
    let k = keypair("alone");
    let node = start(config(&k, &[&k], &[])).await;
    let result = node
        .handle
        .publish(Topic::Transactions, b"tx".to_vec())
        .await;
    assert!(matches!(result, Err(P2pError::NoPeers { topic }) if topic.contains("p2p-test/tx/2")));
    let too_big = vec![0; DEFAULT_MAX_MESSAGE_BYTES + 1];
    assert!(matches!(
        node.handle.publish(Topic::Consensus, too_big).await,
        Err(P2pError::MessageTooLarge { .. })
    ));
    node.handle.shutdown().await;
    assert_eq!(
        node.handle
            .publish(Topic::Consensus, b"late".to_vec())
            .await,
        Err(P2pError::Stopped)
    );
}

/// The chain a responder serves: blocks 1..=10.
const TIP: u64 = 10;

fn certified(height: u64) -> (Block, CommitCertificate) {
    let block = sync::tests::block(height);
    let certificate = CommitCertificate {
        height: Height(height),
        round: accord_types::Round(0),
        block_hash: block.hash(),
        signatures: vec![],
    };
    (block, certificate)
}

/// A block hash the responder leaves unanswered, dropping the reply handle.
const UNANSWERED: Hash = Hash::from_bytes([0xdd; 32]);

/// Answers sync requests from the chain of [`TIP`] blocks until the events end.
fn serve(mut events: mpsc::Receiver<NetEvent>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            let NetEvent::SyncRequest { request, reply, .. } = event else {
                continue;
            };
            if request == SyncRequest::BlockByHash(UNANSWERED) {
                drop(reply);
                continue;
            }
            let response = match request {
                SyncRequest::Status => SyncResponse::Status {
                    height: Height(TIP),
                    hash: certified(TIP).0.hash(),
                },
                SyncRequest::Blocks { from, .. } if from.get() > TIP => {
                    SyncResponse::error(format!("no blocks above height {TIP}"))
                }
                SyncRequest::Blocks { from, to } => {
                    SyncResponse::Blocks((from.get()..=to.get().min(TIP)).map(certified).collect())
                }
                SyncRequest::BlockByHash(hash) => SyncResponse::Block(
                    (1..=TIP).map(|h| certified(h).0).find(|b| b.hash() == hash),
                ),
            };
            reply.send(response);
        }
    })
}

fn blocks(from: u64, to: u64) -> SyncRequest {
    SyncRequest::Blocks {
        from: Height(from),
        to: Height(to),
    }
}

#[tokio::test]
async fn sync_requests_are_answered_and_bad_answers_are_errors() {
    let (ka, kb, kc) = (keypair("sync-a"), keypair("sync-b"), keypair("sync-c"));
    let all = [&ka, &kb, &kc];
    let b = start(config(&kb, &all, &[])).await;
    let a = start(config(&ka, &all, &[&b])).await;
    // c accepts and sends responses of at most MIN_RESPONSE_BYTES.
    let mut small = config(&kc, &all, &[&b]);
    small.max_response_bytes = MIN_RESPONSE_BYTES;
    let c = start(small).await;
    let (a_handle, b_handle, c_handle) = (a.handle.clone(), b.handle.clone(), c.handle.clone());
    let (b_key, c_key) = (b.key, c.key);
    serve(b.events);
    serve(c.events);
    let request = |handle: &P2pHandle, peer, request| {
        let handle = handle.clone();
        async move {
            timeout(WAIT, handle.request(peer, request))
                .await
                .expect("the request timed out")
        }
    };

    assert_eq!(
        request(&a_handle, b_key, SyncRequest::Status).await,
        Ok(SyncResponse::Status {
            height: Height(TIP),
            hash: certified(TIP).0.hash()
        })
    );
    assert_eq!(
        request(&a_handle, b_key, blocks(3, 5)).await,
        Ok(SyncResponse::Blocks(vec![
            certified(3),
            certified(4),
            certified(5)
        ]))
    );
    assert_eq!(
        request(&a_handle, b_key, blocks(9, 20)).await,
        Ok(SyncResponse::Blocks(vec![certified(9), certified(10)]))
    );
    let wanted = certified(7).0;
    assert_eq!(
        request(&a_handle, b_key, SyncRequest::BlockByHash(wanted.hash())).await,
        Ok(SyncResponse::Block(Some(wanted)))
    );
    assert_eq!(
        request(&a_handle, b_key, SyncRequest::BlockByHash(Hash::ZERO)).await,
        Ok(SyncResponse::Block(None))
    );
    assert!(matches!(
        request(&a_handle, b_key, blocks(11, 12)).await,
        Err(P2pError::Refused { peer, reason }) if peer == b_key && reason.contains("no blocks above")
    ));
    assert!(matches!(
        request(&a_handle, b_key, SyncRequest::BlockByHash(UNANSWERED)).await,
        Err(P2pError::Refused { reason, .. }) if reason.contains("without answering")
    ));
    assert!(matches!(
        request(&a_handle, b_key, blocks(5, 4)).await,
        Err(P2pError::InvalidRequest { .. })
    ));
    assert!(matches!(
        request(&a_handle, b_key, blocks(1, MAX_BLOCKS_PER_REQUEST + 1)).await,
        Err(P2pError::InvalidRequest { .. })
    ));
    let stranger = keypair("stranger").public();
    assert_eq!(
        request(&a_handle, stranger, SyncRequest::Status).await,
        Err(P2pError::UnknownPeer { peer: stranger })
    );

    // Ten blocks are larger than c's cap: c cannot read them ...
    assert!(matches!(
        request(&c_handle, b_key, blocks(1, 10)).await,
        Err(P2pError::BadResponse { peer, reason }) if peer == b_key && reason.contains("exceeds the limit")
    ));
    // ... and does not send them, answering with an error that names its limit.
    assert!(matches!(
        request(&b_handle, c_key, blocks(1, 10)).await,
        Err(P2pError::Refused { peer, reason }) if peer == c_key && reason.contains("fewer blocks")
    ));
    // Small answers still pass both ways.
    assert!(matches!(
        request(&c_handle, b_key, SyncRequest::Status).await,
        Ok(SyncResponse::Status { .. })
    ));
    assert!(matches!(
        request(&b_handle, c_key, blocks(1, 1)).await,
        Ok(SyncResponse::Blocks(blocks)) if blocks.len() == 1
    ));
    for handle in [&a_handle, &b_handle, &c_handle] {
        handle.shutdown().await;
    }
}

/// A codec that moves raw bytes, for a peer that speaks the sync protocol badly.
#[derive(Debug, Clone, Default)]
struct RawCodec;

impl request_response::Codec for RawCodec {
    type Protocol = StreamProtocol;
    type Request = Vec<u8>;
    type Response = Vec<u8>;

    async fn read_request<T>(&mut self, _: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let mut bytes = Vec::new();
        io.take(1 << 20).read_to_end(&mut bytes).await?;
        Ok(bytes)
    }

    async fn read_response<T>(&mut self, p: &StreamProtocol, io: &mut T) -> io::Result<Vec<u8>>
    where
        T: AsyncRead + Unpin + Send,
    {
        let bytes = self.read_request(p, io).await?;
        if bytes.is_empty() {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "no answer"));
        }
        Ok(bytes)
    }

    async fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        bytes: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        io.write_all(&bytes).await
    }

    async fn write_response<T>(
        &mut self,
        p: &StreamProtocol,
        io: &mut T,
        bytes: Vec<u8>,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.write_request(p, io, bytes).await
    }
}

/// What the misbehaving peer saw of its own garbage request: an answer or a failure.
type RawOutcome = Result<Vec<u8>, String>;

/// Starts a peer with identity `key` that answers the i-th sync request with
/// `answers[i]` and, once connected to `target`, sends it `request` as a sync request.
async fn start_raw_peer(
    key: &Keypair,
    answers: Vec<Vec<u8>>,
    target: PublicKey,
    request: Vec<u8>,
) -> (Multiaddr, mpsc::Receiver<RawOutcome>) {
    let mut secret = key.secret_bytes();
    let identity = identity::Keypair::ed25519_from_bytes(&mut secret).unwrap();
    let protocol = StreamProtocol::try_from_owned(format!("/accord/{}/sync/1", chain())).unwrap();
    let behaviour = request_response::Behaviour::<RawCodec>::new(
        [(protocol, ProtocolSupport::Full)],
        request_response::Config::default(),
    );
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(identity)
        .with_tokio()
        .with_tcp(
            tcp::Config::default(),
            noise::Config::new,
            yamux::Config::default,
        )
        .unwrap()
        .with_behaviour(|_| behaviour)
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build();
    swarm.listen_on(loopback()).unwrap();
    let addr = timeout(WAIT, async {
        loop {
            if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                return address;
            }
        }
    })
    .await
    .unwrap();
    let target = peer_id_of(&target).unwrap();
    let (outcomes, outcomes_rx) = mpsc::channel(8);
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        let mut sent = false;
        loop {
            match swarm.select_next_some().await {
                SwarmEvent::ConnectionEstablished { peer_id, .. } if peer_id == target && !sent => {
                    sent = true;
                    swarm.behaviour_mut().send_request(&target, request.clone());
                }
                SwarmEvent::Behaviour(request_response::Event::Message { message, .. }) => {
                    match message {
                        request_response::Message::Request { channel, .. } => {
                            let answer = answers.next().unwrap_or_default();
                            let _ = swarm.behaviour_mut().send_response(channel, answer);
                        }
                        request_response::Message::Response { response, .. } => {
                            let _ = outcomes.send(Ok(response)).await;
                        }
                    }
                }
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure {
                    error, ..
                }) => {
                    let _ = outcomes.send(Err(error.to_string())).await;
                }
                _ => {}
            }
        }
    });
    (addr, outcomes_rx)
}

#[tokio::test]
async fn malformed_sync_traffic_is_an_error_not_a_panic() {
    let (ka, ke) = (keypair("raw-a"), keypair("raw-evil"));
    let mut trailing = codec::encode(&SyncResponse::Status {
        height: Height(1),
        hash: Hash::ZERO,
    });
    trailing.push(0);
    let answers = vec![
        vec![0xff, 0x00, 0x01],                    // no such variant
        trailing,                                  // a valid answer plus a byte
        vec![],                                    // nothing at all
        codec::encode(&SyncResponse::Block(None)), // well-formed, but not a status
    ];
    let (evil_addr, mut outcomes) = start_raw_peer(&ke, answers, ka.public(), vec![0xee; 16]).await;
    let mut a_config = config(&ka, &[&ka, &ke], &[]);
    a_config.bootstrap = vec![(ke.public(), evil_addr)];
    let mut a = start(a_config).await;

    for expected in [
        "sync response",
        "sync response",
        "sync response",
        "does not answer",
    ] {
        let result = timeout(WAIT, a.handle.request(ke.public(), SyncRequest::Status))
            .await
            .expect("the request timed out");
        assert!(
            matches!(&result, Err(P2pError::BadResponse { reason, .. }) if reason.contains(expected)),
            "expected a bad response mentioning {expected:?}, got {result:?}"
        );
    }

    // The garbage request the peer sent is refused without reaching the node.
    let outcome = timeout(WAIT, outcomes.recv()).await.unwrap().unwrap();
    assert!(
        outcome.is_err(),
        "a garbage request was answered: {outcome:?}"
    );
    assert!(!drain(&mut a)
        .iter()
        .any(|e| matches!(e, NetEvent::SyncRequest { .. })));
    // The node is still healthy.
    assert_eq!(a.handle.peers().await, vec![ke.public()]);
    a.handle.shutdown().await;
}

#[tokio::test]
async fn a_restarted_peer_is_redialed_and_gossip_resumes() {
    let (ka, kb) = (keypair("restart-a"), keypair("restart-b"));
    let mut b = start(config(&kb, &[&ka, &kb], &[])).await;
    let mut a = start(config(&ka, &[&ka, &kb], &[&b])).await;
    wait_for_mesh(&a, Topic::Consensus, &[&b]).await;
    a.handle
        .publish(Topic::Consensus, b"before".to_vec())
        .await
        .unwrap();
    assert_eq!(next_gossip(&mut b).await.data, b"before");

    let addr = b.addr.clone();
    b.handle.shutdown().await;
    wait_peer_event(&mut a, false, kb.public()).await;
    let (a_handle, b_key) = (&a.handle, kb.public());
    eventually("a re-dial of the stopped peer to fail", || async move {
        a_handle
            .bootstrap_status()
            .await
            .iter()
            .any(|s| s.key == b_key && !s.connected && s.failures >= 2)
    })
    .await;

    // The same key on the same address, dialing nobody: only a's re-dial can reconnect.
    let mut restarted = config(&kb, &[&ka, &kb], &[]);
    restarted.listen = addr;
    let mut b = start(restarted).await;
    wait_peer_event(&mut a, true, kb.public()).await;
    wait_for_mesh(&a, Topic::Consensus, &[&b]).await;
    wait_for_mesh(&b, Topic::Consensus, &[&a]).await;
    a.handle
        .publish(Topic::Consensus, b"after".to_vec())
        .await
        .unwrap();
    assert_eq!(next_gossip(&mut b).await.data, b"after");
    b.handle
        .publish(Topic::Transactions, b"from the restarted peer".to_vec())
        .await
        .unwrap();
    let g = next_gossip(&mut a).await;
    assert_eq!(
        (g.data.as_slice(), g.from),
        (&b"from the restarted peer"[..], kb.public())
    );
    assert_bootstrap_connected(&a, kb.public()).await;
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[test]
fn peer_ids_round_trip_through_public_keys() {
    let key = keypair("id").public();
    let peer = peer_id_of(&key).unwrap();
    assert_eq!(public_key_of(&peer), Some(key));
    // The first encoding that is not a curve point.
    let bad = (0u8..=255)
        .map(|y| {
            let mut bytes = [0u8; 32];
            bytes[0] = y;
            PublicKey::from_bytes(bytes)
        })
        .find(|key| !key.is_valid_point())
        .unwrap();
    assert_eq!(peer_id_of(&bad), Err(P2pError::InvalidKey { key: bad }));
}

#[test]
fn spawn_outside_a_runtime_is_an_error() {
    let k = keypair("no-runtime");
    assert!(matches!(
        spawn(config(&k, &[&k], &[])),
        Err(P2pError::Setup { .. })
    ));
}

#[tokio::test]
async fn an_unusable_listen_address_is_an_error() {
    let k = keypair("bad-listen");
    let mut c = config(&k, &[&k], &[]);
    c.listen = "/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap();
    assert!(matches!(spawn(c), Err(P2pError::Listen { .. })));
}

#[tokio::test]
async fn a_bootstrap_peer_named_by_dns_is_dialed() {
    let (ka, kb) = (keypair("dns-a"), keypair("dns-b"));
    let b = start(config(&kb, &[&ka, &kb], &[])).await;
    let port = b
        .addr
        .iter()
        .find_map(|p| match p {
            libp2p::multiaddr::Protocol::Tcp(port) => Some(port),
            _ => None,
        })
        .expect("a TCP listen address");
    // As a chain spec names a validator in a container network or a cluster.
    let named: Multiaddr = format!("/dns4/localhost/tcp/{port}").parse().unwrap();
    let mut c = config(&ka, &[&ka, &kb], &[]);
    c.bootstrap = vec![(kb.public(), named)];
    let mut a = start(c).await;
    wait_peer_event(&mut a, true, kb.public()).await;
    assert_bootstrap_connected(&a, kb.public()).await;
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}
