//! What the consensus actor takes from gossip, without I/O: repeats of a message are
//! dropped (and forwarded again at most every [`REFORWARD`]), and messages of later
//! rounds or of the next height count against a per-height cap, so neither the engine
//! nor the consensus log of a height grows with what one peer floods it with.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use accord_types::{Hash, Height, Round};
use tracing::warn;

use crate::p2p::Verdict;

/// How often the same consensus message is forwarded again.
pub const REFORWARD: Duration = Duration::from_secs(2);
/// Consensus messages remembered per height (to drop repeats).
pub const MAX_SEEN: usize = 65_536;
/// Consensus messages of later rounds or of the next height logged per height, at most.
pub const MAX_FAR_MESSAGES: usize = 10_000;

/// The gossip admission state of one height.
#[derive(Debug, Default)]
pub struct Admission {
    /// Messages seen at this height, by the hash of their bytes after the stamp, with
    /// when they were last forwarded.
    seen: BTreeMap<Hash, Instant>,
    /// Messages of later rounds or the next height admitted at this height.
    far: usize,
}

impl Admission {
    /// Forgets everything: a new height starts.
    pub fn reset(&mut self) {
        self.seen.clear();
        self.far = 0;
    }

    /// `Some(verdict)` for a consensus message seen at this height already (`data` is
    /// the stamped message; its bytes after the 8-byte stamp are compared): ignored, or
    /// accepted for forwarding once every [`REFORWARD`] so that rebroadcasts reach
    /// peers that missed the first copy. `None` for a new message, now remembered.
    pub fn recently_seen(&mut self, data: &[u8], now: Instant) -> Option<Verdict> {
        let body = data.get(8..)?;
        let key = Hash::from_bytes(*blake3::hash(body).as_bytes());
        match self.seen.get_mut(&key) {
            Some(at) if now.duration_since(*at) < REFORWARD => Some(Verdict::Ignore),
            Some(at) => {
                *at = now;
                Some(Verdict::Accept)
            }
            None => {
                if self.seen.len() >= MAX_SEEN {
                    self.seen.clear();
                }
                self.seen.insert(key, now);
                None
            }
        }
    }

    /// Whether a message of `height` and `round` may be logged while the node decides
    /// `next` in `round_now`: messages of the current round or the next always may;
    /// those of later rounds (or of the next height), which only a validator far ahead
    /// or a Byzantine one sends, count against [`MAX_FAR_MESSAGES`] per height.
    pub fn admit(&mut self, next: Height, round_now: Round, height: Height, round: Round) -> bool {
        let near = height == next && round.0 <= round_now.0.saturating_add(1);
        if near {
            return true;
        }
        if self.far >= MAX_FAR_MESSAGES {
            if self.far == MAX_FAR_MESSAGES {
                warn!(
                    height = next.0,
                    "{MAX_FAR_MESSAGES} consensus messages of later rounds or the next height at this height; ignoring more until it is decided"
                );
                self.far += 1;
            }
            return false;
        }
        self.far += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stamped(stamp: u64, body: &[u8]) -> Vec<u8> {
        let mut data = stamp.to_le_bytes().to_vec();
        data.extend_from_slice(body);
        data
    }

    #[test]
    fn a_repeat_behind_another_stamp_is_ignored_then_forwarded_again_after_reforward() {
        let mut admission = Admission::default();
        let start = Instant::now();
        assert_eq!(admission.recently_seen(&stamped(1, b"vote"), start), None);
        assert_eq!(
            admission.recently_seen(&stamped(2, b"vote"), start + Duration::from_millis(10)),
            Some(Verdict::Ignore)
        );
        let later = start + REFORWARD + Duration::from_millis(1);
        assert_eq!(
            admission.recently_seen(&stamped(3, b"vote"), later),
            Some(Verdict::Accept)
        );
        // The clock restarted at the re-forward.
        assert_eq!(
            admission.recently_seen(&stamped(4, b"vote"), later + Duration::from_millis(1)),
            Some(Verdict::Ignore)
        );
        assert_eq!(admission.recently_seen(&stamped(1, b"other"), later), None);
    }

    #[test]
    fn a_message_shorter_than_its_stamp_is_never_remembered() {
        let mut admission = Admission::default();
        assert_eq!(admission.recently_seen(b"short", Instant::now()), None);
        assert_eq!(admission.recently_seen(b"short", Instant::now()), None);
    }

    #[test]
    fn a_new_height_forgets_what_was_seen() {
        let mut admission = Admission::default();
        let now = Instant::now();
        assert_eq!(admission.recently_seen(&stamped(1, b"vote"), now), None);
        admission.reset();
        assert_eq!(admission.recently_seen(&stamped(2, b"vote"), now), None);
    }

    #[test]
    fn the_seen_set_is_bounded() {
        let mut admission = Admission::default();
        let now = Instant::now();
        for i in 0..MAX_SEEN as u64 + 10 {
            admission.recently_seen(&stamped(0, &i.to_le_bytes()), now);
            assert!(admission.seen.len() <= MAX_SEEN);
        }
    }

    #[test]
    fn near_messages_are_always_admitted_far_ones_up_to_the_cap_per_height() {
        let mut admission = Admission::default();
        let next = Height(5);
        let round_now = Round(2);
        for _ in 0..3 * MAX_FAR_MESSAGES {
            assert!(admission.admit(next, round_now, next, Round(0)));
            assert!(admission.admit(next, round_now, next, Round(3)));
        }
        for _ in 0..MAX_FAR_MESSAGES / 2 {
            assert!(admission.admit(next, round_now, next, Round(4)));
            assert!(admission.admit(next, round_now, Height(6), Round(0)));
        }
        assert!(!admission.admit(next, round_now, next, Round(9)));
        assert!(!admission.admit(next, round_now, Height(6), Round(0)));
        // Near messages still pass once the cap is reached.
        assert!(admission.admit(next, round_now, next, Round(3)));
        admission.reset();
        assert!(admission.admit(next, round_now, next, Round(9)));
    }
}
