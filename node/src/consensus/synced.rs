//! Blocks from block sync, taken through the engine as `Input::Commit`.

use super::*;

impl Task {
    /// Takes blocks block sync fetched, in order, through the engine as a node that
    /// missed the votes would: each certificate is verified against the validator set
    /// of its height, handed to the engine as [`Input::Commit`] (logged like any
    /// input), the block checked and executed when the engine asks, and committed as
    /// soon as the engine decides it (no commit pause: the certificate is complete).
    /// A certificate or block that does not check ends the batch, and the client hears
    /// that its source lied.
    pub(super) async fn on_synced(&mut self, synced: Synced) -> Result<()> {
        self.catching_up = true;
        let applied = self.apply_synced(synced.blocks).await;
        self.catching_up = false;
        self.certified = None;
        let applied = applied?;
        let _ = synced.reply.send(applied);
        if applied.blocks > 0 {
            debug!(
                applied = applied.blocks,
                height = self.parent.height.0,
                "synced blocks committed"
            );
        }
        // A request to propose that came while catching up, if it is still current.
        if let Some((height, round)) = self.pending_value.take() {
            if height == self.parent.height.saturating_add(1) {
                self.propose(height, round).await?;
            }
        }
        Ok(())
    }

    async fn apply_synced(&mut self, blocks: Vec<(Block, CommitCertificate)>) -> Result<Applied> {
        let mut applied = Applied {
            blocks: 0,
            refused: false,
        };
        for (block, certificate) in blocks {
            let height = block.header.height;
            let next = self.parent.height.saturating_add(1);
            if height < next {
                // Consensus got there first.
                continue;
            }
            if height > next {
                break;
            }
            let hash = block.hash();
            if let Err(error) =
                certificate.verify_commit(&self.chain_id, &self.validators, height, &hash)
            {
                warn!(height = height.0, %error, "synced block's certificate does not verify");
                applied.refused = true;
                break;
            }
            let record = WalEntry::Block(block.clone()).encode();
            match self.candidates.fetched(block.clone()) {
                Offer::Kept => self.recorder.append(record).await?,
                Offer::Known => {}
                // A quorum vouches for this one: it is kept whatever else is held.
                Offer::Full | Offer::FarRound => {
                    self.recorder.append(record).await?;
                    self.candidates.restore(block);
                }
                Offer::OtherHeight => break,
            }
            self.certified = Some(hash);
            self.feed(Input::Commit {
                certificate,
                check: SignatureCheck::Verified,
            })
            .await?;
            while let Some(input) = self.queue.pop_front() {
                self.feed(input).await?;
            }
            if self.decided.as_ref().is_some_and(|d| d.height == height) {
                self.commit().await?;
            }
            if self.parent.height != height {
                warn!(height = height.0, block = %hash, "synced block does not check");
                applied.refused = true;
                break;
            }
            applied.blocks += 1;
        }
        Ok(applied)
    }
}
