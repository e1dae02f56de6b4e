//! Start-up: the consensus log of the height being decided is replayed, or the height
//! started afresh (abstaining where a lost log may hide a lock).

use super::*;

/// The height to abstain at when the consensus log of `next` is gone: `next` if the
/// guard shows a precommit there (the lock it may imply is forgotten; prevotes alone
/// lock nothing, and the guard already refuses a second message for their round).
fn abstain_after_lost_log(last: Option<&LastSigned>, next: Height) -> Option<Height> {
    let last = last?;
    (last.height == next && last.signed.iter().any(|m| m.step == Step::Precommit)).then_some(next)
}

impl Task {
    /// Replays the consensus log of the current height, or starts the height afresh.
    pub(super) async fn recover(&mut self, records: Vec<Vec<u8>>) -> Result<()> {
        let next = self.parent.height.saturating_add(1);
        let mut entries = Vec::with_capacity(records.len());
        for (index, record) in records.iter().enumerate() {
            let entry = WalEntry::decode(record).with_context(|| {
                format!("consensus log record {index} does not decode; the log is corrupt")
            })?;
            entries.push(entry);
        }
        let current = matches!(
            entries.first(),
            Some(WalEntry::Input(Input::StartHeight { height, .. })) if *height == next
        );
        if !current {
            if !entries.is_empty() {
                info!(
                    records = entries.len(),
                    "consensus log is of an earlier height; starting height {} afresh", next.0
                );
            }
            self.abstain = abstain_after_lost_log(self.last_signed.as_ref(), next);
            if self.abstain.is_some() {
                warn!(
                    height = next.0,
                    "this validator precommitted at this height but its consensus log does not say what; it signs nothing more until the height is decided"
                );
            }
            return self.start_height().await;
        }
        info!(
            records = entries.len(),
            height = next.0,
            "replaying the consensus log"
        );
        self.replaying = true;
        for entry in entries {
            match entry {
                WalEntry::Block(block) => self.candidates.restore(block),
                WalEntry::Input(input) => self.process(input).await?,
            }
        }
        self.replaying = false;
        // Requests the log did not answer (the node stopped before it could).
        if let Some((height, round)) = self.pending_value.take() {
            self.propose(height, round).await?;
        }
        for hash in std::mem::take(&mut self.pending_validation) {
            self.validate(hash).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signer::SignedMessage;

    fn signed(height: u64, steps: &[Step]) -> LastSigned {
        LastSigned {
            height: Height(height),
            signed: steps
                .iter()
                .map(|step| SignedMessage {
                    round: Round(0),
                    step: *step,
                    message_hash: Hash::ZERO,
                })
                .collect(),
        }
    }

    #[test]
    fn a_validator_that_precommitted_at_a_height_whose_log_is_lost_abstains_there() {
        let next = Height(7);
        assert_eq!(abstain_after_lost_log(None, next), None);
        let prevoted = signed(7, &[Step::Proposal, Step::Prevote]);
        assert_eq!(abstain_after_lost_log(Some(&prevoted), next), None);
        let precommitted = signed(7, &[Step::Prevote, Step::Precommit]);
        assert_eq!(
            abstain_after_lost_log(Some(&precommitted), next),
            Some(next)
        );
        // A precommit of an earlier height locks nothing now.
        let earlier = signed(6, &[Step::Precommit]);
        assert_eq!(abstain_after_lost_log(Some(&earlier), next), None);
    }
}
