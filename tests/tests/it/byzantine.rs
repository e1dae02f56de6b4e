//! One Byzantine validator among four: the honest three keep finalizing whatever it
//! sends, keep running, and relay none of what they refuse.

/// Multi-process (nextest group `multi-process`).
mod slow {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    use accord_rpc::types::{BlockView, EventFilter};
    use accord_rpc::{ChainApiClient, GovApiClient};
    use accord_runtime::test_utils::{documentation, draft};
    use accord_tests::byzantine::{Byzantine, SyncLie};
    use accord_tests::net::{tail, Net};
    use accord_types::block::Header;
    use accord_types::consensus::VoteType;
    use accord_types::governance::ProposalDraft;
    use accord_types::receipt::Event;
    use accord_types::{
        Block, CommitCertificate, Hash, Height, Keypair, Nonce, Payload, Round, Timestamp,
        Transaction,
    };

    const LIMIT: Duration = Duration::from_secs(120);
    /// The Byzantine validator's index.
    const BYZANTINE: usize = 3;
    /// The series counting consensus gossip a node refused (and did not relay).
    const REJECTED: &str =
        "accord_p2p_gossip_messages_total{topic=\"consensus\",verdict=\"rejected\"}";

    /// Four validators in two regions; all but the Byzantine one started and past
    /// their first blocks.
    async fn honest_three() -> Net {
        let mut net = Net::new(4, 2);
        for i in 0..BYZANTINE {
            net.start(i);
        }
        for i in 0..BYZANTINE {
            net.wait_height(i, 2, LIMIT).await;
        }
        net
    }

    /// Waits until every honest node has finalized `more` blocks past where node 0 is
    /// now, and checks each still runs.
    async fn advances(net: &mut Net, more: u64) {
        let from = net.height(0).await.unwrap_or(0);
        for i in 0..BYZANTINE {
            net.wait_height(i, from + more, LIMIT).await;
        }
        for i in 0..BYZANTINE {
            assert!(
                net.running(i),
                "node {i} exited:\n{}",
                tail(&net.log(i), 40)
            );
        }
    }

    fn now() -> Timestamp {
        Timestamp(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64,
        )
    }

    /// A block for `height` on `parent` by `proposer`, holding `txs`; its roots are
    /// whatever: honest nodes must refuse it before they execute it, or after.
    fn block(byz: &Byzantine, height: u64, parent: Hash, txs: Vec<Transaction>) -> Block {
        Block {
            header: Header {
                chain_id: byz.chain_id.clone(),
                height: Height(height),
                parent_hash: parent,
                timestamp: now(),
                proposer: byz.key.public(),
                transactions_root: accord_types::block::transactions_root(&txs),
                evidence_root: Hash::ZERO,
                state_root: Hash::ZERO,
                receipts_root: Hash::ZERO,
                validator_set_hash: Hash::ZERO,
                last_commit_hash: Hash::ZERO,
            },
            transactions: txs,
            evidence: Vec::new(),
            last_commit: None,
        }
    }

    /// Signed transactions of about 2 KiB each, at least `bytes` of them in all.
    fn filler(byz: &Byzantine, bytes: u64) -> Vec<Transaction> {
        let signer = Keypair::from_seed(&[7; 32]);
        let mut txs = Vec::new();
        let mut total = 0u64;
        while total < bytes {
            let mut proposal: ProposalDraft = draft(&["eu"], documentation("ops/filler.md"));
            proposal.description = "x".repeat(2000);
            let tx = Transaction::sign(
                &signer,
                byz.chain_id.clone(),
                Nonce(txs.len() as u64),
                Payload::SubmitProposal {
                    draft: Box::new(proposal),
                },
            );
            total += accord_types::codec::encode(&tx).len() as u64;
            txs.push(tx);
        }
        txs
    }

    /// The sum of a series over the honest nodes.
    fn honest_sum(net: &Net, series: &str) -> f64 {
        (0..BYZANTINE).map(|i| net.metric(i, series)).sum()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn proposals_over_the_limits_or_out_of_turn_are_refused_and_the_others_keep_finalizing() {
        let mut net = honest_three().await;
        let (spec, _) = accord_node::init::read_spec(&net.home.join("spec.json")).unwrap();
        let max_block = spec.consensus().max_block_bytes;
        let validators = spec.validator_set().unwrap();
        let mut byz = Byzantine::join(&net, BYZANTINE, 32 << 20);
        byz.wait_for_mesh(BYZANTINE).await;
        let rejected_before = honest_sum(&net, REJECTED);

        // A block just over the chain's limit (it fits the gossip cap, which leaves room
        // for a proposal around the largest block), proposed for the height being
        // decided, in each of the next heights.
        let big = filler(&byz, max_block + 16 * 1024);
        // Small blocks for every round of the current height: most are out of turn.
        let small_txs = filler(&byz, 64 * 1024);
        let me = byz.key.public();
        // Its own turn at `height`: the round whose proposer it is (round 0 passes over
        // it, absent).
        let turn = |height: u64| {
            (1..=200u32)
                .find(|r| {
                    accord_consensus::proposer::scheduled(&validators, height + u64::from(*r))
                        == Some(&me)
                })
                .unwrap()
        };
        let sample = block(&byz, 1, Hash::ZERO, big.clone());
        assert!(accord_types::codec::encode(&sample).len() as u64 > max_block);
        let started = Instant::now();
        let mut sent = 0;
        while started.elapsed() < Duration::from_secs(5) {
            let status = net.client(0).status().await.unwrap();
            let next = status.height.0 + 1;
            // For the height being decided and the three after it, each in its own
            // turn: a block this size takes a while to cross the network and be
            // decoded, and the heights go on meanwhile; whichever height a node is at
            // when one arrives, it judges the proposals of that height and the next.
            for height in next..next + 4 {
                let oversized = block(&byz, height, status.hash, big.clone());
                byz.send(&byz.proposal(Round(turn(height)), oversized))
                    .await
                    .unwrap();
            }
            for round in 0..8 {
                let small = block(&byz, next, status.hash, small_txs.clone());
                byz.send(&byz.proposal(Round(round), small)).await.unwrap();
            }
            sent += 12;
            tokio::time::sleep(Duration::from_millis(300)).await;
        }

        advances(&mut net, 5).await;
        let rejected = honest_sum(&net, REJECTED) - rejected_before;
        assert!(
            rejected >= 3.0,
            "the honest nodes refused {rejected} of {sent} proposals (each node gets the oversized ones directly)"
        );
        for i in 0..BYZANTINE {
            let log = net.log(i);
            assert!(
                log.contains("proposed block over the chain's limits"),
                "node {i} did not refuse the oversized block:\n{}",
                tail(&log, 40)
            );
            assert!(!log.contains("panicked"), "{}", tail(&log, 40));
        }
    }

    /// An empty block on `parent` by `byz`, `later` ms after the latest of now and just
    /// past the parent's time. On a quiet chain (an empty parent, no timers) an empty
    /// block leaves the state as it was, so the parent's roots are its own: the block
    /// is valid, and one with another `later` is another valid block.
    fn empty_child(
        byz: &Byzantine,
        parent: &BlockView,
        certificate: &CommitCertificate,
        later: u64,
    ) -> Block {
        let header = &parent.block.header;
        Block {
            header: Header {
                chain_id: byz.chain_id.clone(),
                height: Height(header.height.0 + 1),
                parent_hash: parent.hash,
                timestamp: Timestamp(now().0.max(header.timestamp.0 + 1) + later),
                proposer: byz.key.public(),
                transactions_root: accord_types::block::transactions_root(&[]),
                evidence_root: accord_types::block::evidence_root(&[]),
                state_root: header.state_root,
                receipts_root: header.receipts_root,
                validator_set_hash: header.validator_set_hash,
                last_commit_hash: certificate.hash(),
            },
            transactions: Vec::new(),
            evidence: Vec::new(),
            last_commit: Some(certificate.clone()),
        }
    }

    /// A proposer that shows one side of the network one block and the other side
    /// another, and prevotes each on its side: the honest nodes still decide one block
    /// at that height, all the same, its double prevote is caught and recorded on
    /// chain as evidence against it, and the heights go on.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_proposer_that_shows_each_side_its_own_block_is_caught_and_one_block_is_decided() {
        let mut net = honest_three().await;
        let (spec, _) = accord_node::init::read_spec(&net.home.join("spec.json")).unwrap();
        let validators = spec.validator_set().unwrap();
        // Two peers with its keys: one connected to node 0 alone, one to nodes 1 and 2.
        let mut left = Byzantine::join_toward(&net, BYZANTINE, 1 << 20, Some(&[0]));
        let mut right = Byzantine::join_toward(&net, BYZANTINE, 1 << 20, Some(&[1, 2]));
        left.wait_for_mesh(1).await;
        right.wait_for_mesh(2).await;
        let me = left.key.public();
        let api = net.client(0);
        // It signs the others' certificates for a few heights first, so that it is no
        // longer passed over as absent and round 0 of its heights is its own.
        right.echo_precommits(true);
        let from = net.height(0).await.unwrap();
        net.wait_height(
            0,
            from + 2 * accord_consensus::proposer::ABSENCE_WINDOW,
            LIMIT,
        )
        .await;

        // Heights whose round 0 is its turn, caught as soon as their parent is
        // committed (the others wait for its proposal until their propose timeout).
        let deadline = Instant::now() + LIMIT;
        let mut attempts = Vec::new();
        let decided = loop {
            assert!(
                Instant::now() < deadline && attempts.len() < 5,
                "no equivocation of its was decided; attempts (height, A, B, decided): {attempts:?}\n{}",
                tail(&net.log(1), 80)
            );
            let status = api.status().await.unwrap();
            let height = status.height.0 + 1;
            if accord_consensus::proposer::scheduled(&validators, height) != Some(&me) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            let parent = api
                .api()
                .block(status.height.into())
                .await
                .unwrap()
                .unwrap();
            let certificate = api.api().certificate(status.height.into()).await.unwrap();
            let (Some(certificate), true) = (
                certificate,
                parent.block.transactions.is_empty() && parent.block.evidence.is_empty(),
            ) else {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            };
            let a = empty_child(&left, &parent, &certificate, 0);
            let b = empty_child(&right, &parent, &certificate, 1);
            let (ha, hb) = (a.hash(), b.hash());
            assert_ne!(ha, hb);
            // Node 0 hears A and a prevote for it; nodes 1 and 2 hear B, a prevote and
            // a precommit for it. Whatever each relays, node 0 meets both prevotes.
            left.send(&left.proposal(Round(0), a)).await.unwrap();
            left.send(&left.vote(Height(height), Round(0), VoteType::Prevote, Some(ha)))
                .await
                .unwrap();
            right.send(&right.proposal(Round(0), b)).await.unwrap();
            for vote_type in [VoteType::Prevote, VoteType::Precommit] {
                right
                    .send(&right.vote(Height(height), Round(0), vote_type, Some(hb)))
                    .await
                    .unwrap();
            }
            for i in 0..BYZANTINE {
                net.wait_height(i, height, LIMIT).await;
            }
            // One block at that height, the same everywhere.
            let block = net.block(0, height).await;
            for i in 1..BYZANTINE {
                assert_eq!(
                    net.block(i, height).await,
                    block,
                    "node {i} at height {height}"
                );
            }
            let hash: Hash = block.0.parse().unwrap();
            attempts.push((height, ha, hb, hash));
            if hash == ha || hash == hb {
                break hash;
            }
        };

        // Its two prevotes for one round are evidence, which a later block records.
        let filter = EventFilter {
            types: Some(vec!["evidence_recorded".into()]),
            ..EventFilter::default()
        };
        let deadline = Instant::now() + LIMIT;
        loop {
            let page = api
                .api()
                .events(Some(filter.clone()), None, None)
                .await
                .unwrap();
            let recorded = page.events.iter().any(|e| {
                matches!(&e.event, Event::EvidenceRecorded { validator, .. } if *validator == me)
            });
            if recorded {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "its double prevote was never recorded (decided {decided}):\n{}",
                tail(&net.log(0), 40)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        advances(&mut net, 3).await;
        assert!(
            (0..BYZANTINE).any(|i| net
                .log(i)
                .contains("a proposer signed two different proposals")),
            "no node noticed the two proposals"
        );
        for i in 0..BYZANTINE {
            assert!(
                !net.log(i).contains("panicked"),
                "{}",
                tail(&net.log(i), 40)
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn heights_claimed_and_never_delivered_neither_exhaust_nor_stall_the_others() {
        let mut net = honest_three().await;
        let byz = Byzantine::join(&net, BYZANTINE, 8 << 20);
        byz.wait_for_mesh(BYZANTINE).await;

        // A height of u64::MAX: planning a catch-up to it must not take the node's memory.
        byz.lie_in_sync(SyncLie::HugeHeight);
        advances(&mut net, 10).await;

        // Two blocks ahead, again and again, and never an answer: the node asks once,
        // gives up after its timeout, and stops believing the peer.
        byz.lie_in_sync(SyncLie::Silent { ahead: 2 });
        advances(&mut net, 30).await;
        for i in 0..BYZANTINE {
            let log = net.log(i);
            assert!(
                log.contains("did not deliver blocks it claimed"),
                "node {i} never caught the lie:\n{}",
                tail(&log, 40)
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn blocks_under_forged_certificates_are_refused_and_their_sender_passed_over() {
        let mut net = honest_three().await;
        let byz = Byzantine::join(&net, BYZANTINE, 8 << 20);
        byz.wait_for_mesh(BYZANTINE).await;
        byz.lie_in_sync(SyncLie::Forged);
        advances(&mut net, 15).await;
        for i in 0..BYZANTINE {
            let log = net.log(i);
            assert!(
                log.contains("synced block's certificate does not verify"),
                "node {i} never checked the forged certificate:\n{}",
                tail(&log, 40)
            );
            assert!(
                log.contains("sent blocks that do not check"),
                "node {i} did not pass over the forger:\n{}",
                tail(&log, 40)
            );
            assert!(!log.contains("panicked"), "{}", tail(&log, 40));
        }
        // The forged blocks are nowhere in the chain: every node has the same blocks.
        let height = net.height(0).await.unwrap();
        for i in 1..BYZANTINE {
            net.wait_height(i, height, LIMIT).await;
        }
        for h in [1, height / 2, height] {
            let block = net.block(0, h).await;
            for i in 1..BYZANTINE {
                assert_eq!(net.block(i, h).await, block, "node {i} at height {h}");
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn repeated_and_far_ahead_votes_are_neither_forwarded_nor_logged() {
        // Two honest validators and the Byzantine one: no quorum, so height 1 stays the
        // one being decided and every message below stays current.
        let mut net = Net::new(4, 2);
        net.start(0);
        net.start(1);
        let mut byz = Byzantine::join(&net, BYZANTINE, 8 << 20);
        byz.wait_for_mesh(2).await;
        let accepted = "accord_p2p_gossip_messages_total{topic=\"consensus\",verdict=\"accepted\"}";
        let ignored = "accord_p2p_gossip_messages_total{topic=\"consensus\",verdict=\"ignored\"}";
        let honest = |net: &Net, series: &str| net.metric(0, series) + net.metric(1, series);
        let (accepted_before, ignored_before) = (honest(&net, accepted), honest(&net, ignored));

        // One real vote, replayed behind 200 fresh stamps; 100 votes for heights far
        // ahead.
        let vote = byz.vote(Height(1), Round(0), VoteType::Prevote, None);
        for _ in 0..200 {
            byz.send(&vote).await.unwrap();
        }
        for round in 0..100 {
            let far = byz.vote(Height(1_000), Round(round), VoteType::Prevote, None);
            byz.send(&far).await.unwrap();
        }
        // Both nodes judged all 300 (their counters reach it), each message once.
        let deadline = Instant::now() + LIMIT;
        while honest(&net, ignored) - ignored_before < 2.0 * 290.0 {
            assert!(
                Instant::now() < deadline,
                "ignored {} and accepted {} of 2 x 300",
                honest(&net, ignored) - ignored_before,
                honest(&net, accepted) - accepted_before
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let forwarded = honest(&net, accepted) - accepted_before;
        assert!(
            forwarded < 60.0,
            "{forwarded} consensus messages accepted for forwarding (the replays and far heights must not be)"
        );
        for i in 0..2 {
            assert!(net.running(i), "{}", tail(&net.log(i), 30));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_flood_of_votes_for_far_rounds_is_logged_only_up_to_a_cap() {
        // Two honest validators and the Byzantine one: height 1 stays undecided.
        let mut net = Net::new(4, 2);
        net.start(0);
        net.start(1);
        let mut byz = Byzantine::join(&net, BYZANTINE, 8 << 20);
        byz.wait_for_mesh(2).await;
        let ignored = "accord_p2p_gossip_messages_total{topic=\"consensus\",verdict=\"ignored\"}";
        let honest = |net: &Net| net.metric(0, ignored) + net.metric(1, ignored);
        let before = honest(&net);

        // 10,300 distinct votes, each for another far round of height 1: each node logs
        // 10,000 of them at most and ignores the rest. Sent 500 at a time, each batch
        // once the nodes have judged the one before: a node whose gossip queue is full
        // sheds what comes on top (on a loaded machine it would), and the cap is what
        // this test is about.
        let accepted = "accord_p2p_gossip_messages_total{topic=\"consensus\",verdict=\"accepted\"}";
        let judged = |net: &Net| honest(net) + net.metric(0, accepted) + net.metric(1, accepted);
        let judged_before = judged(&net);
        let deadline = Instant::now() + LIMIT;
        for (sent, round) in (100..10_400u32).enumerate() {
            let vote = byz.vote(Height(1), Round(round), VoteType::Prevote, None);
            byz.send(&vote).await.unwrap();
            if (sent + 1) % 500 == 0 {
                let want = 2.0 * f64::from(u32::try_from(sent + 1 - 500).unwrap());
                while judged(&net) - judged_before < want {
                    assert!(
                        Instant::now() < deadline,
                        "the nodes judged {} of the first {} votes of the flood",
                        judged(&net) - judged_before,
                        sent + 1 - 500
                    );
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
        while honest(&net) - before < 2.0 * 250.0 {
            assert!(
                Instant::now() < deadline,
                "the nodes ignored {} of the flood; node 0's log ends:\n{}",
                honest(&net) - before,
                tail(&net.log(0), 20)
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for i in 0..2 {
            let log = net.log(i);
            assert!(
                log.contains(
                    "consensus messages of later rounds or the next height at this height"
                ),
                "node {i}:\n{}",
                tail(&log, 20)
            );
            assert!(net.running(i));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn connections_that_never_finish_their_handshake_are_capped() {
        let mut net = honest_three().await;
        let port = net.p2p_port(0);
        // 100 connections that never say a word: the node keeps at most its pending
        // cap of them (32) and closes the others at once; it keeps finalizing.
        let mut silent = Vec::new();
        for _ in 0..100 {
            silent.push(
                tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .unwrap(),
            );
        }
        let closed = futures::future::join_all(silent.iter_mut().map(|stream| async move {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 64];
            // Closed by the node within 2 s (the handshake timeout is 10 s).
            matches!(
                tokio::time::timeout(Duration::from_secs(2), stream.read(&mut buf)).await,
                Ok(Ok(0) | Err(_))
            )
        }))
        .await
        .into_iter()
        .filter(|closed| *closed)
        .count();
        assert!(
            closed >= 100 - 32,
            "the node closed {closed} of 100 silent connections at once"
        );
        advances(&mut net, 3).await;
        drop(silent);
    }
}
