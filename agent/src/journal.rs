//! The agent's durable memory, in `state_dir/journal.json`: the event cursor and one
//! entry per execution, keyed by the request's idempotency key.
//!
//! ```text
//!   (none) ──claim final, ours──► claimed ──before the command starts──► running
//!     │                                                                     │ command done
//!     │ refused / claimed by another / not executing                       ▼
//!     └──────────────────────────────────────► final ◄── reported ◄──── ran(report)
//!                                                 receipt final   submitted
//! ```
//!
//! Every change is written to a temporary file, synced, renamed over the journal and
//! the directory synced (`durable.rs`), on the blocking pool. The cursor moves
//! past an event only once everything the event asked for is final on chain, so after
//! a crash the event is delivered again and its entry says how far it got.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use accord_types::governance::{ExecutionOutcome, ExecutionReport};
use accord_types::{EventCursor, Hash, Height, ProposalId, RegionId, Timestamp};
use serde::{Deserialize, Serialize};

use crate::durable;
use crate::error::{Error, Result};

/// The journal's file name in the state directory.
pub const JOURNAL_FILE: &str = "journal.json";
/// Largest journal read.
const MAX_JOURNAL_BYTES: u64 = 256 * 1024 * 1024;
/// Finished entries kept; older ones are dropped (the chain refuses a repeated claim of
/// a finished execution, so a forgotten entry cannot make anything run twice).
pub const MAX_FINISHED: usize = 4096;
/// The format version written.
const VERSION: u32 = 1;

/// What an entry is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A phase of a change.
    Apply,
    /// A rollback.
    Rollback,
}

/// How far an execution got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum State {
    /// This agent's claim is final on chain; nothing has run.
    Claimed {
        /// Height at which the claim lapses.
        lease_expires: Height,
    },
    /// Written before the first step starts: the command may have run.
    Running {
        /// When it started (the agent's clock).
        started_at: Timestamp,
    },
    /// Every step has run; the report is built.
    Ran {
        /// The report to submit.
        report: Box<ExecutionReport>,
    },
    /// The report was submitted.
    Reported {
        /// The report.
        report: Box<ExecutionReport>,
        /// Its transaction.
        transaction: Hash,
    },
    /// Nothing more to do.
    Final {
        /// The outcome now on chain; `None` when this agent reported nothing (another
        /// agent holds the claim, the request is no longer wanted, nothing is configured).
        outcome: Option<ExecutionOutcome>,
        /// What happened, for operators.
        note: String,
    },
}

impl State {
    /// Whether nothing more is to be done.
    pub fn is_final(&self) -> bool {
        matches!(self, Self::Final { .. })
    }

    /// A short name: `claimed`, `running`, `ran`, `reported`, `final`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Claimed { .. } => "claimed",
            Self::Running { .. } => "running",
            Self::Ran { .. } => "ran",
            Self::Reported { .. } => "reported",
            Self::Final { .. } => "final",
        }
    }
}

/// One execution.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    /// Apply or roll back.
    pub task: Task,
    /// The proposal.
    pub proposal: ProposalId,
    /// The region.
    pub region: RegionId,
    /// The phase.
    pub phase: u16,
    /// The cursor of the request event as first handled.
    pub request: EventCursor,
    /// How far it got.
    pub state: State,
    /// When the state was written (the agent's clock).
    pub updated_at: Timestamp,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Data {
    version: u32,
    cursor: Option<EventCursor>,
    entries: BTreeMap<Hash, Entry>,
}

/// The journal.
pub struct Journal {
    /// `None`: kept in memory only (dry runs).
    path: Option<PathBuf>,
    data: Data,
}

impl Journal {
    /// Opens (or creates) the journal in `dir`. Blocking.
    pub fn open(dir: &Path) -> Result<Self> {
        durable::create_dir_blocking(dir).map_err(|source| Error::Io {
            what: "state directory",
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(JOURNAL_FILE);
        let data = Self::read(&path)?;
        Ok(Self {
            path: Some(path),
            data,
        })
    }

    /// The journal in `dir` as it is, kept in memory: nothing is ever written. Blocking.
    pub fn read_only(dir: &Path) -> Result<Self> {
        let data = Self::read(&dir.join(JOURNAL_FILE))?;
        Ok(Self { path: None, data })
    }

    fn read(path: &Path) -> Result<Data> {
        let bytes =
            durable::read_blocking(path, MAX_JOURNAL_BYTES).map_err(|source| Error::Io {
                what: "journal",
                path: path.to_owned(),
                source,
            })?;
        let Some(bytes) = bytes else {
            return Ok(Data {
                version: VERSION,
                ..Data::default()
            });
        };
        let data: Data = serde_json::from_slice(&bytes).map_err(|e| Error::Corrupt {
            what: "journal",
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if data.version != VERSION {
            return Err(Error::Corrupt {
                what: "journal",
                path: path.to_owned(),
                reason: format!(
                    "format version {}, this agent reads {VERSION}",
                    data.version
                ),
            });
        }
        Ok(data)
    }

    /// Where the journal lives (`None` when kept in memory).
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Every event up to this cursor is handled.
    pub fn cursor(&self) -> Option<EventCursor> {
        self.data.cursor
    }

    /// The entry of an idempotency key.
    pub fn get(&self, key: &Hash) -> Option<&Entry> {
        self.data.entries.get(key)
    }

    /// Entries with something left to do.
    pub fn unfinished(&self) -> impl Iterator<Item = (&Hash, &Entry)> {
        self.data
            .entries
            .iter()
            .filter(|(_, e)| !e.state.is_final())
    }

    /// Every entry.
    pub fn entries(&self) -> impl Iterator<Item = (&Hash, &Entry)> {
        self.data.entries.iter()
    }

    /// Records an entry's new state durably.
    pub async fn put(&mut self, key: Hash, entry: Entry) -> Result<()> {
        self.data.entries.insert(key, entry);
        self.prune();
        self.save().await
    }

    /// Moves the cursor forward (never back) durably.
    pub async fn advance(&mut self, cursor: EventCursor) -> Result<()> {
        if self.data.cursor.is_some_and(|c| c >= cursor) {
            return Ok(());
        }
        self.data.cursor = Some(cursor);
        self.save().await
    }

    /// Forgets an entry durably (nothing when there is none).
    pub async fn remove(&mut self, key: &Hash) -> Result<()> {
        if self.data.entries.remove(key).is_none() {
            return Ok(());
        }
        self.save().await
    }

    fn prune(&mut self) {
        let finished = self
            .data
            .entries
            .values()
            .filter(|e| e.state.is_final())
            .count();
        if finished <= MAX_FINISHED {
            return;
        }
        let mut done: Vec<(EventCursor, Hash)> = self
            .data
            .entries
            .iter()
            .filter(|(_, e)| e.state.is_final())
            .map(|(k, e)| (e.request, *k))
            .collect();
        done.sort();
        for (_, key) in done.into_iter().take(finished - MAX_FINISHED) {
            self.data.entries.remove(&key);
        }
    }

    async fn save(&self) -> Result<()> {
        let Some(path) = &self.path else {
            return Ok(());
        };
        durable::write_json("journal", path, &self.data).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(state: State, height: u64) -> Entry {
        Entry {
            task: Task::Apply,
            proposal: ProposalId(7),
            region: RegionId::new("eu").unwrap(),
            phase: 1,
            request: EventCursor {
                height: Height(height),
                receipt: 0,
                event: 2,
            },
            state,
            updated_at: Timestamp(1),
        }
    }

    fn key(n: u64) -> Hash {
        Hash::digest(accord_types::Domain::IDEMPOTENCY, &n.to_be_bytes())
    }

    #[tokio::test]
    async fn the_journal_survives_a_restart_and_never_moves_the_cursor_back() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let cursor: EventCursor = "12:0:3".parse().unwrap();
        {
            let mut journal = Journal::open(&state).unwrap();
            assert_eq!(journal.cursor(), None);
            journal
                .put(
                    key(1),
                    entry(
                        State::Running {
                            started_at: Timestamp(5),
                        },
                        10,
                    ),
                )
                .await
                .unwrap();
            journal
                .put(
                    key(2),
                    entry(
                        State::Final {
                            outcome: Some(ExecutionOutcome::Succeeded),
                            note: "reported".into(),
                        },
                        11,
                    ),
                )
                .await
                .unwrap();
            journal.advance(cursor).await.unwrap();
            journal.advance("3:0:0".parse().unwrap()).await.unwrap();
            // The process "dies" here: nothing is flushed on drop.
        }
        // A temporary file left by a write interrupted before its rename is ignored.
        std::fs::write(state.join(".journal.json.tmp"), b"{ torn").unwrap();
        let journal = Journal::open(&state).unwrap();
        assert_eq!(journal.cursor(), Some(cursor));
        assert_eq!(
            journal.get(&key(1)).unwrap().state,
            State::Running {
                started_at: Timestamp(5)
            }
        );
        let unfinished: Vec<_> = journal.unfinished().map(|(k, _)| *k).collect();
        assert_eq!(unfinished, vec![key(1)]);
        assert!(journal.get(&key(2)).unwrap().state.is_final());

        // A journal damaged by something else is refused, not silently reset.
        std::fs::write(state.join(JOURNAL_FILE), b"{\"version\":1,").unwrap();
        let error = Journal::open(&state).err().unwrap().to_string();
        assert!(
            error.contains("journal") && error.contains("corrupt"),
            "{error}"
        );
    }

    #[tokio::test]
    async fn old_finished_entries_are_pruned_and_unfinished_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::open(dir.path()).unwrap();
        journal.data.entries.insert(
            key(0),
            entry(
                State::Running {
                    started_at: Timestamp(1),
                },
                0,
            ),
        );
        for n in 1..=(MAX_FINISHED as u64 + 3) {
            let done = State::Final {
                outcome: None,
                note: String::new(),
            };
            journal.data.entries.insert(key(n), entry(done, n));
        }
        journal
            .put(
                key(99_999),
                entry(
                    State::Final {
                        outcome: None,
                        note: String::new(),
                    },
                    99_999,
                ),
            )
            .await
            .unwrap();
        let finished = journal
            .entries()
            .filter(|(_, e)| e.state.is_final())
            .count();
        assert_eq!(finished, MAX_FINISHED);
        assert!(journal.get(&key(0)).is_some(), "unfinished entries stay");
        assert!(
            journal.get(&key(1)).is_none(),
            "the oldest finished entry went"
        );
        assert!(journal.get(&key(99_999)).is_some());
        let reopened = Journal::open(dir.path()).unwrap();
        assert_eq!(reopened.entries().count(), MAX_FINISHED + 1);
    }

    #[tokio::test]
    async fn a_read_only_journal_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::read_only(dir.path()).unwrap();
        journal.advance("1:0:0".parse().unwrap()).await.unwrap();
        assert_eq!(journal.cursor(), Some("1:0:0".parse().unwrap()));
        assert!(!dir.path().join(JOURNAL_FILE).exists());
    }
}
