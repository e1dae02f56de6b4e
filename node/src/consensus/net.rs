//! What the consensus task takes from the network and answers it: gossiped consensus
//! messages (checked before they are logged or forwarded) and peers' sync requests.

use super::*;

impl Task {
    pub(super) async fn on_net(&mut self, event: NetEvent) -> Result<()> {
        match event {
            NetEvent::Gossip {
                topic: Topic::Consensus,
                from,
                id,
                data,
                ..
            } => {
                let verdict = match ConsensusWire::decode_stamped(&data) {
                    // The same message again behind another stamp (a rebroadcast, or a
                    // replay by anyone who saw it): the engine has it; forwarded at
                    // most once per REFORWARD so rebroadcasts still travel.
                    Ok(message) => match self.admission.recently_seen(&data, Instant::now()) {
                        Some(verdict) => verdict,
                        None => self.on_consensus(message).await?,
                    },
                    Err(error) => {
                        debug!(%from, %error, "undecodable consensus message");
                        Verdict::Reject
                    }
                };
                self.metrics.gossip("consensus", verdict_label(verdict));
                self.p2p.report(id, from, verdict);
            }
            NetEvent::Gossip {
                topic: Topic::Transactions,
                from,
                id,
                data,
                ..
            } => {
                // Far behind its peers, the node cannot judge transactions (see
                // `status::FAR_BEHIND`); a full queue means admission is behind. Either
                // way the message is not forwarded, and its relayer did nothing wrong.
                if self.lag.far_behind().is_some()
                    || self
                        .transactions
                        .try_send(GossipedTx { from, id, data })
                        .is_err()
                {
                    self.metrics
                        .gossip("transactions", verdict_label(Verdict::Ignore));
                    self.p2p.report(id, from, Verdict::Ignore);
                }
            }
            NetEvent::SyncRequest { request, reply, .. } => self.serve(request, reply),
            NetEvent::PeerUp(_) | NetEvent::PeerDown(_) => {
                let peers = self.p2p.peers().await.len();
                self.status.write().peers = peers;
            }
        }
        Ok(())
    }

    /// Whether a message of `height` and `round` may still be logged (see
    /// [`Admission::admit`]).
    fn admit_far(&mut self, height: Height, round: Round) -> bool {
        let round_now = self.engine.state().map_or(Round(0), |s| s.round);
        let next = self.parent.height.saturating_add(1);
        self.admission.admit(next, round_now, height, round)
    }

    /// Whether `key` may sign consensus messages of `height`: a validator of the set
    /// deciding the next height. Later heights are judged by the same set (a change
    /// takes effect two heights after it is decided, so a message from a validator
    /// that is about to join waits in its sender's retries, never in this node).
    fn may_sign(&self, key: &PublicKey) -> bool {
        self.validators.get(key).is_some()
    }

    /// The verdict on a signed message before its content is read: refused when its
    /// signature fails or its signer is no validator; ignored outside the heights taken
    /// or past the cap on far rounds; `None` to read on.
    fn screen(
        &mut self,
        verified: bool,
        signer: &PublicKey,
        height: Height,
        round: Round,
    ) -> Option<Verdict> {
        if !verified || !self.may_sign(signer) {
            return Some(Verdict::Reject);
        }
        let next = self.parent.height.saturating_add(1);
        // A validator past the height this node decides, which it has not decided:
        // block sync polls soon rather than at its tick (a node that fell behind
        // otherwise keeps missing the live height's messages).
        if height > next && self.decided.is_none() || height > next.saturating_add(HEIGHTS_AHEAD) {
            self.behind.notify_one();
        }
        if height < next || height > next.saturating_add(HEIGHTS_AHEAD) {
            return Some(Verdict::Ignore);
        }
        if !self.admit_far(height, round) {
            return Some(Verdict::Ignore);
        }
        None
    }

    async fn on_consensus(&mut self, message: ConsensusWire) -> Result<Verdict> {
        let next = self.parent.height.saturating_add(1);
        match message {
            ConsensusWire::Proposal { proposal, block } => {
                let verified = proposal.verify(&self.chain_id).is_ok();
                let (signer, height, round) = (proposal.proposer, proposal.height, proposal.round);
                if let Some(verdict) = self.screen(verified, &signer, height, round) {
                    return Ok(verdict);
                }
                let current = proposal.height == next && self.engine.height() == Some(next);
                if current && self.engine.proposer(proposal.round) != Some(proposal.proposer) {
                    debug!(proposer = %proposal.proposer, round = proposal.round.0, "proposal out of turn");
                    return Ok(Verdict::Reject);
                }
                if let Some(block) = block {
                    if block.hash() != proposal.block_hash
                        || block.header.proposer != proposal.proposer
                            && proposal.valid_round.is_none()
                    {
                        return Ok(Verdict::Reject);
                    }
                    if let Err(error) = chain::BlockLimits::of(&self.params).check(&block, None) {
                        warn!(proposer = %proposal.proposer, %error, "proposed block over the chain's limits");
                        return Ok(Verdict::Reject);
                    }
                    if current {
                        let round_now = self.engine.state().map_or(Round(0), |s| s.round);
                        let record = WalEntry::Block(block.clone()).encode();
                        if self.candidates.offer(block, proposal.round, round_now) == Offer::Kept {
                            self.recorder.append(record).await?;
                        }
                    } else if proposal.height == next.saturating_add(1) {
                        // Logged when its height starts.
                        let _ = self.candidates.offer_next(block, proposal.round);
                    }
                }
                self.queue.push_back(Input::Proposal {
                    proposal,
                    check: SignatureCheck::Verified,
                });
                self.revalidate_awaited().await?;
                Ok(Verdict::Accept)
            }
            ConsensusWire::Vote(vote) => {
                let verified = vote.verify(&self.chain_id).is_ok();
                if let Some(verdict) =
                    self.screen(verified, &vote.validator, vote.height, vote.round)
                {
                    return Ok(verdict);
                }
                self.queue.push_back(Input::Vote {
                    vote,
                    check: SignatureCheck::Verified,
                });
                Ok(Verdict::Accept)
            }
            ConsensusWire::Evidence(evidence) => {
                if evidence.verify(&self.chain_id, &self.validators).is_err() {
                    return Ok(Verdict::Ignore);
                }
                self.add_evidence(evidence);
                Ok(Verdict::Accept)
            }
        }
    }

    /// Answers a peer's sync request: the head at once, blocks from the database on a
    /// blocking thread, at most [`MAX_SERVING`] requests at a time (more are told the
    /// node is busy, and ask another peer).
    fn serve(&self, request: SyncRequest, reply: crate::p2p::ReplyHandle) {
        match request {
            SyncRequest::Status => reply.send(SyncResponse::Status {
                height: self.parent.height,
                hash: self.parent.hash,
            }),
            SyncRequest::BlockByHash(hash) if self.candidates.block(&hash).is_some() => {
                reply.send(SyncResponse::Block(self.candidates.block(&hash).cloned()));
            }
            request => {
                let Ok(permit) = Arc::clone(&self.serving).try_acquire_owned() else {
                    reply.send(SyncResponse::Error("busy: too many sync requests".into()));
                    return;
                };
                let storage = Arc::clone(&self.storage);
                let head = self.parent.height;
                let budget = self.sync_budget;
                tokio::task::spawn_blocking(move || {
                    let response = crate::sync::server::answer(&storage, head, budget, &request)
                        .unwrap_or_else(|error| SyncResponse::Error(error.to_string()));
                    reply.send(response);
                    drop(permit);
                });
            }
        }
    }
}
